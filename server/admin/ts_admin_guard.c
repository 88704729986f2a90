/* Failed logins are throttled by the address they come from and, past a
 * rate, for every address but the trusted ones (this host) - never by
 * account: a lock per account told which names exist (unknown names never
 * locked, known ones answered 423) and let anyone lock `admin` out. Every
 * name, known or not, gets the same answers. The state lives on the loop
 * thread: the check comes before a login is queued, its outcome after. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"

#define TS__GUARD_SLOTS 1024
#define TS__GLOBAL_WINDOW_MS 60000

struct ts_admin__guard_slot {
    char addr[48];
    uint32_t failures;
    uint64_t first_ms; /* of the failures counted */
    uint64_t blocked_until;
    uint64_t last_ms;
};

static bool ts__trusted(const ts_admin *a, const char *host)
{
    const char *list = ts_server_get_config(a->srv)->admin_login_trusted;
    size_t hn = strlen(host);
    for (const char *p = list; *p;) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ", ");
        if (n == hn && n > 0 && strncmp(p, host, n) == 0)
            return true;
        p += n;
    }
    return false;
}

static struct ts_admin__guard_slot *ts__slot(ts_admin *a, const char *host, bool create, uint64_t now)
{
    if (a->guard == NULL) {
        if (!create)
            return NULL;
        a->guard = ts_xcalloc(TS__GUARD_SLOTS, sizeof *a->guard);
    }
    struct ts_admin__guard_slot *oldest = &a->guard[0];
    for (size_t i = 0; i < TS__GUARD_SLOTS; i++) {
        struct ts_admin__guard_slot *s = &a->guard[i];
        if (strcmp(s->addr, host) == 0 && s->addr[0])
            return s;
        if (s->last_ms < oldest->last_ms)
            oldest = s;
    }
    if (!create)
        return NULL;
    /* the address not heard from for longest makes room (a free slot has 0) */
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->addr, sizeof oldest->addr, "%s", host);
    oldest->last_ms = now;
    return oldest;
}

bool ts_admin__login_refused(ts_admin *a, const char *host, uint64_t now, uint64_t *retry_s, const char **why)
{
    if (ts__trusted(a, host))
        return false;
    struct ts_admin__guard_slot *s = ts__slot(a, host, false, now);
    if (s != NULL && s->blocked_until > now) {
        *retry_s = (s->blocked_until - now + 999) / 1000;
        *why = "too many failed logins from this address: try again later";
        return true;
    }
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    if (now - a->guard_window_ms < TS__GLOBAL_WINDOW_MS && a->guard_window_failures >= cfg->admin_login_failures_per_minute) {
        *retry_s = (a->guard_window_ms + TS__GLOBAL_WINDOW_MS - now + 999) / 1000;
        *why = "too many failed logins on this server right now: try again in a minute";
        return true;
    }
    return false;
}

void ts_admin__login_outcome(ts_admin *a, const char *host, bool ok, uint64_t now)
{
    if (ok) {
        struct ts_admin__guard_slot *s = ts__slot(a, host, false, now);
        if (s != NULL)
            memset(s, 0, sizeof *s);
        return;
    }
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    if (now - a->guard_window_ms >= TS__GLOBAL_WINDOW_MS) {
        a->guard_window_ms = now;
        a->guard_window_failures = 0;
    }
    if (++a->guard_window_failures == cfg->admin_login_failures_per_minute)
        ts_log_warn("admin_login_throttled", "scope=all failures=%" PRIu64 " seconds=60",
                    cfg->admin_login_failures_per_minute);
    if (ts__trusted(a, host))
        return;
    struct ts_admin__guard_slot *s = ts__slot(a, host, true, now);
    s->last_ms = now;
    if (s->failures == 0 || now - s->first_ms > cfg->admin_lockout_ms) {
        s->failures = 0;
        s->first_ms = now;
    }
    if (++s->failures >= cfg->admin_lockout_after) {
        s->blocked_until = now + cfg->admin_lockout_ms;
        s->failures = 0;
        ts_log_warn("admin_login_throttled", "scope=address address=%s failures=%" PRIu64 " seconds=%" PRIu64, host,
                    cfg->admin_lockout_after, cfg->admin_lockout_ms / 1000);
    }
}

size_t ts_admin__login_unblock(ts_admin *a, const char *address)
{
    size_t n = 0;
    for (size_t i = 0; a->guard != NULL && i < TS__GUARD_SLOTS; i++) {
        struct ts_admin__guard_slot *s = &a->guard[i];
        if (s->addr[0] && (address == NULL || address[0] == '\0' || strcmp(s->addr, address) == 0)) {
            n += s->blocked_until != 0;
            memset(s, 0, sizeof *s);
        }
    }
    if (address == NULL || address[0] == '\0') {
        a->guard_window_failures = 0;
        a->guard_window_ms = 0;
    }
    return n;
}

/* POST /api/login-blocks/clear {"address": "..."} (all when absent): the
 * loop does it when the job returns (ts_admin__login_unblock). */
void ts_admin__api_login_unblock(ts_admin__job *j, ts_store *st)
{
    const char *address = ts_admin__str(j->body, "address");
    if (strlen(address) >= sizeof j->unblock_address) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "not an address");
        return;
    }
    /* the blocks are lifted (on the loop, after the job) only once the
     * audit entry saying who lifted them is stored */
    if (ts_admin__audit(j, st, "login_unblock", NULL, NULL, "ok", address[0] ? address : "all") < 0) {
        ts_admin__fail_storage(j, "the audit entry");
        return;
    }
    snprintf(j->unblock_address, sizeof j->unblock_address, "%s", address);
    j->unblock = true;
    ts_admin__ok(j, 200, json_pack("{s:s}", "unblocked", address[0] ? address : "all"));
}
