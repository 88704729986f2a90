/* The admin API's core: the listener, routing each request to its resource
 * (server/admin/, one file per resource behind one route table) after the
 * login and role check, the jobs on the store's queue, the timers
 * (escalation, targets, change watch) and the console's events. Handlers run
 * on the store's thread (a DB job) and build JSON; the response and anything
 * the sync side must do (notify stations, send NOTICE frames, console events)
 * happen back on the loop. */
#include "server/ts_admin.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_commune_ack.h"
#include "server/ts_console.h"
#include "server/ts_http.h"
#include "server/ts_notices.h"
#include "server/ts_plan.h"
#include "server/ts_server_api.h"
#include "server/ts_targets.h"


static void ts__admin_free(ts_admin *a)
{
    json_decref(a->flags_items);
    ts_admin__dir_free(a);
    free(a->guard);
    ts_strlist_free(&a->grade_ids);
    free(a);
}

/* ---------------------------------------------------------------- routing */

static void ts__targets_refresh(ts_admin *a);

/* Matches "/api/x/{a}/y" against a path; captures URL-decoded parameters.
 * 1 match, 0 no match. */
static int ts__match(const char *pattern, const char *path, char params[3][TS_KEY_MAX + 1])
{
    int np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t n = se ? (size_t)(se - s) : strlen(s);
            if (n == 0 || np == 3)
                return 0;
            size_t o = 0;
            for (size_t i = 0; i < n && o < TS_KEY_MAX; i++) {
                if (s[i] == '%' && i + 2 < n + 1 && ts_admin__unhex(s[i + 1]) >= 0 && ts_admin__unhex(s[i + 2]) >= 0) {
                    params[np][o++] = (char)(ts_admin__unhex(s[i + 1]) * 16 + ts_admin__unhex(s[i + 2]));
                    i += 2;
                } else {
                    params[np][o++] = s[i];
                }
            }
            params[np][o] = '\0';
            if (memchr(params[np], '\0', o) != NULL && strlen(params[np]) != o)
                return 0;
            np++;
            p = pe + 1;
            s += n;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

static void ts__job_free(ts_admin__job *j)
{
    json_decref(j->body);
    json_decref(j->resp);
    json_decref(j->event_data);
    json_decref(j->render_data);
    free(j->render_dir);
    free(j->live);
    ts_strlist_free(&j->notify);
    ts_strlist_free(&j->scope_stations);
    for (size_t i = 0; i < j->nframes; i++)
        ts_buf_free(&j->frames[i].bytes);
    free(j->frames);
    ts_buf_free(&j->text);
    free(j);
}

static void ts__work(ts_dbjob *base, ts_store *st)
{
    ts_admin__job *j = base->data;
    if (j->route->min_role > 0) {
        if (!ts_admin__authenticate(j, st))
            return;
        if (j->role < j->route->min_role) {
            ts_admin__audit(j, st, "denied", NULL, j->route->pattern, "forbidden", ts_admin__job_role(j));
            ts_log_warn("admin_forbidden", "user=%s role=%s route=%s", j->user, ts_admin__job_role(j), j->route->pattern);
            char msg[160];
            snprintf(msg, sizeof msg, "this needs the %s role; you are %s", ts_admin__role_name(j->route->min_role),
                     ts_admin__job_role(j));
            ts_admin__fail(j, 403, "FORBIDDEN", msg);
            return;
        }
        /* with a cookie, a write must come from our own page (CSRF) */
        if (j->token_from_cookie && j->route->method == HTTP_POST && strcmp(j->requested_with, "tramsync") != 0) {
            ts_admin__fail(j, 403, "FORBIDDEN", "missing X-Requested-With: tramsync");
            return;
        }
        /* accounts limited to communes, and monitors: the routes open to
         * them, about their stations only (server/admin/ts_admin_scope.c) */
        if (!ts_admin__scope_admit(j, st))
            return;
    }
    j->route->fn(j, st);
    ts_admin__scope_filter(j);
}

/* A database job of the admin API ended: if the API is stopping and that was
 * the last thing it waited for, it is freed and its stop completes. */
void ts_admin__job_ended(ts_admin *a)
{
    if (a->stopping && a->jobs == 0 && a->closing_parts == 0 && a->stop_done) {
        void (*done)(void *) = a->stop_done;
        void *arg = a->stop_arg;
        ts__admin_free(a);
        done(arg);
    }
}

/* An event stream of an account whose sessions just ended. */
static void ts__end_stream(ts_http_conn *hc, void *arg)
{
    const char *user = ts_http_conn_data(hc);
    if (user != NULL && strcmp(user, (const char *)arg) == 0)
        ts_http_conn_close(hc);
}

static void ts__done(ts_dbjob *base);

static void ts__render_work(uv_work_t *req)
{
    ts_admin__job *j = req->data;
    j->render(j);
}

static void ts__render_after(uv_work_t *req, int status);

static void ts__render_start(ts_admin *a, ts_admin__job *j)
{
    a->rendering = true;
    j->render_req.data = j;
    uv_queue_work(ts_server_loop(a->srv), &j->render_req, ts__render_work, ts__render_after);
}

static void ts__render_after(uv_work_t *req, int status)
{
    (void)status; /* never cancelled: the stop waits for every job */
    ts_admin__job *j = req->data;
    ts_admin *a = j->adm;
    j->render = NULL;
    a->rendering = false;
    ts_admin__job *next = a->render_head;
    if (next != NULL) {
        a->render_head = next->render_next;
        if (a->render_head == NULL)
            a->render_tail = NULL;
        ts__render_start(a, next);
    }
    ts__done(&j->base);
}

static void ts__done(ts_dbjob *base)
{
    ts_admin__job *j = base->data;
    ts_admin *a = j->adm;
    /* the store's part is over; a document still to build is built off the
     * store's thread, one at a time, and the job stays counted until it is
     * answered */
    if (j->render != NULL && j->status == 0 && j->resp == NULL) {
        if (!a->rendering) {
            ts__render_start(a, j);
        } else {
            j->render_next = NULL;
            if (a->render_tail)
                a->render_tail->render_next = j;
            else
                a->render_head = j;
            a->render_tail = j;
        }
        return;
    }
    a->jobs--;
    if (j->route->fn == ts_admin__api_login && (j->status == 200 || j->status == 401))
        ts_admin__login_outcome(a, j->addr, j->status == 200, ts_wall_ms());
    if (j->role > 0)
        ts_http_conn_authenticated(j->hc);
    if (j->unblock) {
        size_t n = ts_admin__login_unblock(a, j->unblock_address);
        ts_log_info("admin_login_unblocked", "address=%s blocked=%zu by=%s",
                    j->unblock_address[0] ? j->unblock_address : "all", n, j->user);
    }
    if (j->end_streams_of[0])
        ts_http_each_sse(a->http, ts__end_stream, j->end_streams_of);
    if (j->sse && j->status == 200) {
        ts_http_conn_set_data(j->hc, ts_xstrdup(j->user));
        ts_http_sse_start(j->hc);
    } else if (j->text_type && j->status == 200) {
        ts_http_respond(j->hc, 200, j->text_type, j->text.data, j->text.len, j->headers[0] ? j->headers : NULL);
    } else {
        char *body = j->resp ? json_dumps(j->resp, JSON_COMPACT) : NULL;
        ts_http_respond(j->hc, j->status ? j->status : 500, "application/json; charset=utf-8", body,
                        body ? strlen(body) : 0, j->headers[0] ? j->headers : NULL);
        free(body);
    }
    ts_http_conn_unref(j->hc);
    /* what the sync side does with it: notices first, then live changes */
    for (size_t i = 0; i < j->nframes; i++)
        ts_server_send_frame(a->srv, j->frames[i].station, j->frames[i].bytes.data, j->frames[i].bytes.len);
    if (j->notify_all)
        ts_server_notify(a->srv, NULL);
    else
        for (size_t i = 0; i < j->notify.n; i++)
            ts_server_notify(a->srv, j->notify.v[i]);
    if (j->refresh_targets)
        ts__targets_refresh(a);
    if (j->event[0]) {
        char *data = j->event_data ? json_dumps(j->event_data, JSON_COMPACT) : NULL;
        ts_admin_event(a, j->event, data ? data : "{}");
        free(data);
    }
    ts__job_free(j);
    ts_admin__job_ended(a);
}

static void ts__cookie_token(const char *cookie, char *out, size_t size)
{
    const char *p = strstr(cookie, "ts_session=");
    out[0] = '\0';
    if (p == NULL || (p != cookie && p[-1] != ' ' && p[-1] != ';'))
        return;
    p += strlen("ts_session=");
    size_t n = strcspn(p, "; ");
    if (n < size)
        snprintf(out, size, "%.*s", (int)n, p);
}

static void ts__count_sse(ts_http_conn *hc, void *arg)
{
    (void)hc;
    (*(size_t *)arg)++;
}

static void ts__handle(ts_http_conn *hc, ts_http_req *req, void *ctx)
{
    ts_admin *a = ctx;
    bool api = strncmp(req->path, "/api/", 5) == 0 || strcmp(req->path, "/metrics") == 0;
    if (!api) {
        ts_console_serve(hc, req);
        return;
    }
    const ts_admin__route *route = NULL;
    bool path_known = false;
    char params[3][TS_KEY_MAX + 1];
    for (size_t i = 0; i < ts_admin__nroutes; i++) {
        memset(params, 0, sizeof params);
        if (ts__match(ts_admin__routes[i].pattern, req->path, params)) {
            path_known = true;
            if (ts_admin__routes[i].method == req->method) {
                route = &ts_admin__routes[i];
                break;
            }
        }
    }
    if (route == NULL) {
        ts_http_error(hc, path_known ? 405 : 404, path_known ? "METHOD_NOT_ALLOWED" : "NOT_FOUND",
                      path_known ? "method not allowed here" : "no such endpoint");
        return;
    }
    uint64_t retry_s;
    const char *why;
    if (route->fn == ts_admin__api_login && ts_admin__login_refused(a, req->addr, ts_wall_ms(), &retry_s, &why)) {
        ts_log_warn("admin_login_refused", "peer=%s retry_s=%" PRIu64, req->peer, retry_s);
        char retry[48], body[256];
        snprintf(retry, sizeof retry, "Retry-After: %" PRIu64 "\r\n", retry_s);
        snprintf(body, sizeof body, "{\"error\":{\"code\":\"TOO_MANY_ATTEMPTS\",\"message\":\"%s\"}}", why);
        ts_http_respond(hc, 429, "application/json; charset=utf-8", body, strlen(body), retry);
        return;
    }
    json_t *body = NULL;
    if (req->method == HTTP_POST) {
        if (strncasecmp(req->content_type, "application/json", 16) != 0) {
            ts_http_error(hc, 415, "UNSUPPORTED_MEDIA_TYPE", "send JSON (Content-Type: application/json)");
            return;
        }
        json_error_t jerr;
        body = json_loadb((const char *)req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            char msg[200];
            snprintf(msg, sizeof msg, "the body is not a JSON object (%s)", jerr.text);
            ts_http_error(hc, 400, "BAD_JSON", msg);
            return;
        }
    }
    ts_admin__job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    j->hc = hc;
    j->route = route;
    memcpy(j->params, params, sizeof params);
    snprintf(j->query, sizeof j->query, "%s", req->query);
    j->body = body ? body : json_object();
    j->now_ms = ts_wall_ms();
    snprintf(j->peer, sizeof j->peer, "%s", req->peer);
    snprintf(j->addr, sizeof j->addr, "%s", req->addr);
    snprintf(j->requested_with, sizeof j->requested_with, "%s", req->requested_with);
    if (req->cert != NULL) {
        j->cert = *req->cert;
        j->has_cert = true;
    }
    if (strncasecmp(req->authorization, "Bearer ", 7) == 0) {
        snprintf(j->token, sizeof j->token, "%s", req->authorization + 7);
    } else {
        ts__cookie_token(req->cookie, j->token, sizeof j->token);
        j->token_from_cookie = j->token[0] != '\0';
    }
    j->max_body = ts_server_get_config(a->srv)->admin_max_body;
    j->nlive = ts_server_live_stations(a->srv, &j->live);
    ts_server_get_stats(a->srv, &j->stats);
    j->http_requests = ts_http_server_requests(a->http);
    ts_http_each_sse(a->http, ts__count_sse, &j->sse_clients);
    ts_buf_init(&j->text);
    ts_http_conn_ref(hc);
    a->jobs++;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__work, ts__done, j);
}

/* ---------------------------------------------------------------- events */

typedef struct ts__event {
    const char *event;
    const char *data;
} ts__event;

static void ts__send_event(ts_http_conn *hc, void *arg)
{
    ts__event *e = arg;
    ts_http_sse_send(hc, e->event, e->data);
}

void ts_admin_event(ts_admin *a, const char *event, const char *json)
{
    if (a == NULL || a->http == NULL)
        return;
    ts__event e = {event, json};
    ts_http_each_sse(a->http, ts__send_event, &e);
}

/* GET /api/events: the console joins the events above (ts__done starts the
 * stream once the login is checked). */
void ts_admin__api_events(ts_admin__job *j, ts_store *st)
{
    (void)st;
    j->sse = true;
    j->status = 200;
}

/* ---------------------------------------------------------------- escalation timer */

typedef struct ts__esc_job {
    ts_dbjob base;
    ts_admin *adm;
    ts_escalation *items;
    size_t n;
    ts_admin__frame *frames;
    size_t nframes;
    int rc;
    ts_error err;
} ts__esc_job;

static void ts__esc_work(ts_dbjob *base, ts_store *st)
{
    ts__esc_job *j = base->data;
    j->rc = ts_notices_escalate(st, &j->adm->policy, ts_wall_ms(), &j->items, &j->n, &j->err);
    /* what was flagged before a failure is stored: it is re-sent too */
    for (size_t i = 0; i < j->n; i++) {
        if (j->items[i].kind != TS_ESC_NOT_ACKNOWLEDGED)
            continue;
        ts_buf b = TS_BUF_INIT;
        if (ts_notice_frame(st, j->items[i].notice, j->items[i].station, &b, &j->err) == 0) {
            j->frames = ts_xreallocarray(j->frames, j->nframes + 1, sizeof *j->frames);
            snprintf(j->frames[j->nframes].station, sizeof j->frames[j->nframes].station, "%s", j->items[i].station);
            j->frames[j->nframes++].bytes = b;
        } else {
            ts_buf_free(&b);
        }
    }
}

static void ts__esc_done(ts_dbjob *base)
{
    ts__esc_job *j = base->data;
    ts_admin *a = j->adm;
    a->jobs--;
    a->esc_running = false;
    if (j->rc < 0)
        ts_log_error("escalation_failed", "reason=%s", j->err.msg);
    for (size_t i = 0; i < j->nframes; i++) {
        ts_server_send_frame(a->srv, j->frames[i].station, j->frames[i].bytes.data, j->frames[i].bytes.len);
        ts_buf_free(&j->frames[i].bytes);
    }
    if (j->n > 0) {
        ts_server_notify(a->srv, NULL);
        char data[64];
        snprintf(data, sizeof data, "{\"flagged\":%zu}", j->n);
        ts_admin_event(a, "escalation", data);
    }
    free(j->frames);
    free(j->items);
    free(j);
    ts_admin__job_ended(a);
}

static void ts__esc_tick(uv_timer_t *t)
{
    ts_admin *a = t->data;
    if (a->esc_running || a->stopping)
        return;
    a->esc_running = true;
    a->jobs++;
    ts__esc_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__esc_work, ts__esc_done, j);
}

/* ---------------------------------------------------------------- targets refresh
 * One short job per station, one after the other, each a background job of
 * the store queue: it runs when no session's job (nor an admin request)
 * waits, so stations syncing never wait behind a refresh. */

typedef struct ts__tgt_job {
    ts_dbjob base;
    ts_admin *adm;
    ts_strlist stations;
    size_t next;
    size_t recorded; /* stations with data, whose figures were kept */
    char day[16];
} ts__tgt_job;

static void ts__tgt_done(ts_dbjob *base);

static void ts__tgt_list_work(ts_dbjob *base, ts_store *st)
{
    ts__tgt_job *j = base->data;
    json_t *all = json_pack("{s:b}", "all", 1);
    ts_error err;
    ts_notice_resolve(st, all, &j->stations, &err);
    json_decref(all);
    ts_local_day(ts_wall_ms(), j->day, sizeof j->day); /* the district's day */
}

static void ts__tgt_station_work(ts_dbjob *base, ts_store *st)
{
    ts__tgt_job *j = base->data;
    ts_target_figures f;
    ts_error err;
    const char *station = j->stations.v[j->next++];
    /* no data of the station's yet (never synced, or nothing written):
     * zeros over missing data are not the commune's figures, and are not kept */
    if (!ts_targets_has_data(st, station)) {
        ts_log_debug("targets_skipped", "station=%s reason=no_data", station);
        return;
    }
    uint64_t now = ts_wall_ms();
    if (ts_targets_station(st, station, now, &f, &err) < 0 || ts_targets_save(st, station, j->day, now, &f, &err) < 0)
        ts_log_error("targets_failed", "station=%s reason=%s", station, err.msg);
    else
        j->recorded++;
}

static void ts__tgt_done(ts_dbjob *base)
{
    ts__tgt_job *j = base->data;
    ts_admin *a = j->adm;
    a->jobs--;
    if (!a->stopping && j->next < j->stations.n) {
        a->jobs++;
        ts_dbq_submit_background(ts_server_dbq(a->srv), &j->base, ts__tgt_station_work, ts__tgt_done, j);
        return;
    }
    if (!a->stopping) {
        ts_log_info("targets_computed", "stations=%zu day=%s recorded=%zu", j->stations.n, j->day, j->recorded);
        ts_admin_event(a, "targets", "{}");
    }
    a->targets_running = false;
    ts_strlist_free(&j->stations);
    free(j);
    ts_admin__job_ended(a);
}

static void ts__targets_refresh(ts_admin *a)
{
    if (a->targets_running || a->stopping)
        return;
    a->targets_running = true;
    a->jobs++;
    ts__tgt_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    ts_dbq_submit_background(ts_server_dbq(a->srv), &j->base, ts__tgt_list_work, ts__tgt_done, j);
}

static void ts__targets_tick(uv_timer_t *t)
{
    ts__targets_refresh(t->data);
}

/* ---------------------------------------------------------------- change watch
 * Stations' pushes change the district store without an admin request, so
 * the console would not hear of them. While at least one console listens,
 * a short job every two seconds compares the store's last sequence number
 * and its open conflicts with what was seen, and announces a change as the
 * events "record" and "conflict". */

#define TS__WATCH_EVERY_MS 2000

typedef struct ts__watch_job {
    ts_dbjob base;
    ts_admin *adm;
    uint64_t seq;
    uint64_t open;
} ts__watch_job;

static void ts__watch_work(ts_dbjob *base, ts_store *st)
{
    ts__watch_job *j = base->data;
    j->seq = ts_store_last_seq(st);
    ts_store_conflict_count(st, true, &j->open);
}

static void ts__watch_done(ts_dbjob *base)
{
    ts__watch_job *j = base->data;
    ts_admin *a = j->adm;
    a->jobs--;
    a->watch_running = false;
    if (!a->stopping) {
        char data[96];
        if (a->watch_seq != 0 && j->seq != a->watch_seq) {
            snprintf(data, sizeof data, "{\"seq\":%" PRIu64 ",\"source\":\"sync\"}", j->seq);
            ts_admin_event(a, "record", data);
        }
        if (a->watch_seq != 0 && j->open != a->watch_conflicts) {
            snprintf(data, sizeof data, "{\"open\":%" PRIu64 "}", j->open);
            ts_admin_event(a, "conflict", data);
        }
        a->watch_seq = j->seq ? j->seq : 1;
        a->watch_conflicts = j->open;
    }
    free(j);
    ts_admin__job_ended(a);
}

static void ts__watch_tick(uv_timer_t *t)
{
    ts_admin *a = t->data;
    size_t listeners = 0;
    if (a->watch_running || a->stopping || a->http == NULL)
        return;
    ts_http_each_sse(a->http, ts__count_sse, &listeners);
    /* nobody listens: skip the read, but keep the last baseline, so what a
     * station pushes before the next console connects is announced to it at
     * the next tick instead of taken silently as the new baseline */
    if (listeners == 0)
        return;
    a->watch_running = true;
    a->jobs++;
    ts__watch_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__watch_work, ts__watch_done, j);
}

/* ---------------------------------------------------------------- lifecycle */

static void ts__policy(ts_admin *a)
{
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    a->policy.ack_within_ms[0] = cfg->ack_within_thuong_ms;
    a->policy.ack_within_ms[1] = cfg->ack_within_khan_ms;
    a->policy.ack_within_ms[2] = cfg->ack_within_thuong_khan_ms;
    a->policy.ack_within_ms[3] = cfg->ack_within_hoa_toc_ms;
    a->policy.remind_every_ms[0] = cfg->remind_every_thuong_ms;
    a->policy.remind_every_ms[1] = cfg->remind_every_khan_ms;
    a->policy.remind_every_ms[2] = cfg->remind_every_thuong_khan_ms;
    a->policy.remind_every_ms[3] = cfg->remind_every_hoa_toc_ms;
}

static int ts__admin_tls(ts_admin *a, ts_tls_ctx **out, ts_error *err)
{
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    ts_tls_config tc;
    ts_tls_config_init(&tc, true);
    tc.ca_file = cfg->ca;
    tc.cert_file = cfg->cert;
    tc.key_file = cfg->key;
    tc.crl_file = cfg->crl;
    tc.allow_tls12 = true; /* browsers on older district PCs */
    tc.require_peer_cert = false; /* accounts log in with a password */
    return ts_tls_ctx_new(out, &tc, err);
}

static void ts__limits(ts_admin *a, ts_http_limits *l)
{
    const ts_server_config *cfg = ts_server_get_config(a->srv);
    l->max_header = cfg->admin_max_header;
    l->max_body = cfg->admin_max_body;
    l->rate_per_s = cfg->admin_rate;
    l->rate_burst = cfg->admin_rate_burst;
    l->idle_timeout_ms = 120000;
    l->max_connections = 256;
    l->header_timeout_ms = cfg->admin_header_timeout_ms;
    l->body_timeout_ms = cfg->admin_body_timeout_ms;
    l->body_min_rate = cfg->admin_body_min_rate;
    l->max_unauthenticated_per_address = cfg->admin_max_unauthenticated;
}

typedef struct ts__seed_job {
    ts_dbjob base;
    const char *path;
    ts_plan_load_result res;
    int rc;
    ts_error err;
} ts__seed_job;

/* [admin] plan_file, when the district has no plan yet: a plan loaded since
 * (tramsyncctl plan load) is never replaced by the configured file. */
static void ts__seed_work(ts_dbjob *base, ts_store *st)
{
    ts__seed_job *j = base->data;
    ts_plan_info info;
    j->rc = ts_plan_current(st, &info, NULL, &j->err);
    if (j->rc < 0 || info.version)
        return;
    ts_actor who = {TS_ACTOR_LOCAL, "plan_file", NULL, "config"};
    j->rc = ts_plan_load_file(st, &who, j->path, ts_wall_ms(), &j->res, &j->err);
}

typedef struct ts__backfill_job {
    size_t written;
    int rc;
    ts_error err;
} ts__backfill_job;

/* The commune UBNDs' acknowledgements stored before the stations' handling
 * records carried them: written there once (none left, nothing written). */
static void ts__backfill_work(ts_dbjob *base, ts_store *st)
{
    ts__backfill_job *j = base->data;
    j->rc = ts_commune_acks_backfill(st, &j->written, &j->err);
}

int ts_admin_start(ts_admin **out, ts_server *srv, ts_error *err)
{
    *out = NULL;
    const ts_server_config *cfg = ts_server_get_config(srv);
    ts_admin *a = ts_xcalloc(1, sizeof *a);
    a->srv = srv;
    a->started_ms = ts_wall_ms();
    ts__policy(a);
    int rc = ts__admin_tls(a, &a->tls, err);
    if (rc < 0) {
        free(a);
        return rc;
    }
    ts_http_limits lim;
    ts__limits(a, &lim);
    rc = ts_http_server_start(&a->http, ts_server_loop(srv), cfg->admin_listen, a->tls, &lim, ts__handle, a, err);
    if (rc < 0) {
        ts_tls_ctx_unref(a->tls);
        free(a);
        return rc;
    }
    ts_console_set_dir(cfg->console_dir);
    uv_timer_init(ts_server_loop(srv), &a->targets_timer);
    a->targets_timer.data = a;
    /* soon after start, then every targets_every */
    uv_timer_start(&a->targets_timer, ts__targets_tick, 2000, cfg->targets_every_ms);
    uv_timer_init(ts_server_loop(srv), &a->watch_timer);
    a->watch_timer.data = a;
    uv_timer_start(&a->watch_timer, ts__watch_tick, TS__WATCH_EVERY_MS, TS__WATCH_EVERY_MS);
    uv_timer_init(ts_server_loop(srv), &a->esc_timer);
    a->esc_timer.data = a;
    if (cfg->escalate_interval_ms)
        uv_timer_start(&a->esc_timer, ts__esc_tick, cfg->escalate_interval_ms, cfg->escalate_interval_ms);
    ts__seed_job seed;
    memset(&seed, 0, sizeof seed);
    seed.path = cfg->plan_file;
    if (seed.path && seed.path[0]) {
        ts_dbq_run_now(ts_server_dbq(srv), ts__seed_work, &seed);
        if (seed.rc < 0)
            ts_log_error("plan_not_loaded", "file=%s reason=%s", seed.path, seed.err.msg);
        else if (seed.res.version)
            ts_log_info("plan_loaded", "file=%s version=%" PRId64 " targets=%zu tasks=%zu", seed.path,
                        seed.res.version, seed.res.targets, seed.res.tasks);
    }
    ts__backfill_job fill;
    memset(&fill, 0, sizeof fill);
    ts_dbq_run_now(ts_server_dbq(srv), ts__backfill_work, &fill);
    if (fill.rc < 0)
        ts_log_error("commune_acks_not_mirrored", "reason=%s", fill.err.msg);
    else if (fill.written)
        ts_log_info("commune_acks_mirrored", "records=%zu", fill.written);
    ts_admin__epi_start(a);
    ts_admin__cal_start(a);
    ts_log_info("admin_started", "listen=%s port=%d", cfg->admin_listen, ts_http_server_port(a->http));
    *out = a;
    return 0;
}

int ts_admin_reload(ts_admin *a, ts_error *err)
{
    ts_tls_ctx *ctx;
    int rc = ts__admin_tls(a, &ctx, err);
    if (rc < 0)
        return rc;
    ts_http_server_set_tls(a->http, ctx);
    ts_tls_ctx_unref(a->tls);
    a->tls = ctx;
    ts_http_limits lim;
    ts__limits(a, &lim);
    ts_http_server_set_limits(a->http, &lim);
    ts__policy(a);
    ts_console_set_dir(ts_server_get_config(a->srv)->console_dir);
    return 0;
}

int ts_admin_port(ts_admin *a)
{
    return ts_http_server_port(a->http);
}

static void ts__part_closed(ts_admin *a)
{
    if (--a->closing_parts > 0 || a->jobs > 0)
        return;
    void (*done)(void *) = a->stop_done;
    void *arg = a->stop_arg;
    ts__admin_free(a);
    if (done)
        done(arg);
}

static void ts__http_stopped(void *arg)
{
    ts__part_closed(arg);
}

static void ts__timer_closed(uv_handle_t *h)
{
    ts__part_closed(h->data);
}

void ts_admin_stop(ts_admin *a, void (*done)(void *arg), void *arg)
{
    a->stopping = true;
    a->stop_done = done;
    a->stop_arg = arg;
    a->closing_parts = 6;
    ts_tls_ctx_unref(a->tls);
    a->tls = NULL;
    uv_close((uv_handle_t *)&a->epi_timer, ts__timer_closed);
    uv_close((uv_handle_t *)&a->cal_timer, ts__timer_closed);
    uv_close((uv_handle_t *)&a->esc_timer, ts__timer_closed);
    uv_close((uv_handle_t *)&a->watch_timer, ts__timer_closed);
    uv_close((uv_handle_t *)&a->targets_timer, ts__timer_closed);
    ts_http_server_stop(a->http, ts__http_stopped, a);
    a->http = NULL;
}
