/* Notices the district sends, their per-station handling and their
 * attachments. Sending also queues NOTICE frames for the connected
 * recipients (sent by the loop after the job), so they do not wait for the
 * next sync; a download is checked against its SHA-256 again and is never
 * shown in the console's origin. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/ts_hlc.h"
#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"

static void ts__add_frame(ts_admin__job *j, const char *station, ts_buf *bytes)
{
    j->frames = ts_xreallocarray(j->frames, j->nframes + 1, sizeof *j->frames);
    ts_admin__frame *f = &j->frames[j->nframes++];
    snprintf(f->station, sizeof f->station, "%s", station);
    f->bytes = *bytes;
    ts_buf_init(bytes);
}

void ts_admin__queue_notice_frames(ts_admin__job *j, ts_store *st, const char *id, const ts_strlist *stations)
{
    ts_error err;
    for (size_t i = 0; i < stations->n; i++) {
        ts_buf b = TS_BUF_INIT;
        if (ts_notice_frame(st, id, stations->v[i], &b, &err) == 0)
            ts__add_frame(j, stations->v[i], &b);
        ts_buf_free(&b);
        ts_strlist_add(&j->notify, stations->v[i]);
    }
}

static int ts__by_sent_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(ts_admin__str(y, "sent_at"), ts_admin__str(x, "sent_at"));
    return c ? c : strcmp(ts_admin__str(y, "id"), ts_admin__str(x, "id"));
}

static const char *const ts__urgency_codes[] = {"", "thuong", "khan", "thuong_khan", "hoa_toc", NULL};
static const char *const ts__category_codes[] = {"", "prevention", "treatment", "population", "food_safety",
                                                 "pharma", "insurance", "private_practice", "supervision",
                                                 "training", "communication", "programs", "emergency", NULL};

/* GET /api/notices[?q=&urgency=&category=&offset=&limit=]: newest first,
 * each with its recipients' state counts (only for the page shown). */
void ts_admin__api_notices(ts_admin__job *j, ts_store *st)
{
    char urgency[16], category[24], needle[256];
    uint32_t offset, limit;
    if (!ts_admin__q_enum(j, "urgency", ts__urgency_codes, urgency, sizeof urgency) ||
        !ts_admin__q_enum(j, "category", ts__category_codes, category, sizeof category) ||
        !ts_admin__q_uint(j, "offset", 0, UINT32_MAX, &offset) || !ts_admin__q_uint(j, "limit", 50, 500, &limit))
        return;
    if (limit == 0)
        limit = 50;
    ts_admin__q_search(j, needle, sizeof needle);
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    json_t *all = json_array();
    char after[TS_KEY_MAX + 1] = "";
    size_t total = 0;
    for (;;) {
        if (ts_store_list(st, "notices", after, 500, false, &page, &err) < 0) {
            ts_change_page_free(&page);
            json_decref(all);
            ts_admin__fail_err(j, &err);
            return;
        }
        for (uint32_t i = 0; i < page.n; i++) {
            json_t *r = ts_recjson_record(&page.items[i], false);
            json_t *o = json_incref(json_object_get(r, "fields"));
            json_decref(r);
            json_object_set_new(o, "id", json_string(page.items[i].id));
            json_object_del(o, "body");
            /* a commune's account: the notices addressed to it, no other */
            if (!ts_admin__scope_notice(j, o)) {
                json_decref(o);
                continue;
            }
            total++;
            const char *hay[] = {page.items[i].id, ts_admin__str(o, "subject"), ts_admin__str(o, "number"),
                                 ts_admin__str(o, "issuer")};
            if ((!urgency[0] || strcmp(ts_admin__str(o, "urgency"), urgency) == 0) &&
                (!category[0] || strcmp(ts_admin__str(o, "category"), category) == 0) &&
                ts_admin__matches(needle, hay, 4))
                json_array_append(all, o);
            json_decref(o);
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    size_t n = json_array_size(all);
    json_t **items = ts_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(all, i);
    qsort(items, n, sizeof *items, ts__by_sent_desc);
    json_t *arr = ts_admin__slice(items, n, offset, limit);
    free(items);
    json_decref(all);
    size_t k;
    json_t *o;
    json_array_foreach(arr, k, o) {
        json_t *detail;
        if (ts_notice_summary(st, ts_admin__str(o, "id"), &detail, &err) == 0) {
            ts_admin__scope_recipients(j, st, detail);
            json_object_set(o, "counts", json_object_get(detail, "counts"));
            if (json_object_get(detail, "commune_ack"))
                json_object_set(o, "commune_ack", json_object_get(detail, "commune_ack"));
            json_object_set(o, "attachment_count", json_object_get(detail, "attachment_count"));
            json_object_set_new(o, "recipient_count",
                                json_integer((json_int_t)json_array_size(json_object_get(detail, "recipients"))));
            json_decref(detail);
        }
    }
    ts_admin__ok(j, 200, json_pack("{s:o,s:I,s:I,s:I,s:I}", "notices", arr, "total", (json_int_t)total, "matched",
                                   (json_int_t)n, "offset", (json_int_t)offset, "limit", (json_int_t)limit));
}

static const char *const ts__recipient_filters[] = {"all", "sent", "delivered", "acknowledged", "in_progress",
                                                    "done", "overdue", "escalated", "pending", NULL};

static bool ts__recipient_match(const json_t *r, const char *state)
{
    if (strcmp(state, "all") == 0)
        return true;
    if (strcmp(state, "overdue") == 0)
        return json_is_true(json_object_get(r, "overdue")) && ts_state_rank(ts_admin__str(r, "state")) < 4;
    if (strcmp(state, "escalated") == 0)
        return json_object_get(r, "escalated_at") != NULL && ts_state_rank(ts_admin__str(r, "state")) < 2;
    if (strcmp(state, "pending") == 0) /* not acknowledged yet */
        return ts_state_rank(ts_admin__str(r, "state")) < 2;
    return strcmp(ts_admin__str(r, "state"), state) == 0;
}

/* GET /api/notices/{id}[?state=&q=&offset=&limit=]: the notice and its
 * per-station handling; with paging parameters, one page of recipients
 * (counts always cover all of them). */
void ts_admin__api_notice(ts_admin__job *j, ts_store *st)
{
    char state[16], needle[256];
    uint32_t offset, limit;
    bool paged = ts_admin__has_paging(j);
    if (!ts_admin__q_enum(j, "state", ts__recipient_filters, state, sizeof state) ||
        !ts_admin__q_uint(j, "offset", 0, UINT32_MAX, &offset) ||
        !ts_admin__q_uint(j, "limit", paged ? 100 : UINT32_MAX, paged ? 1000 : UINT32_MAX, &limit))
        return;
    if (limit == 0)
        limit = 100;
    ts_admin__q_search(j, needle, sizeof needle);
    json_t *o;
    ts_error err;
    if (ts_notice_show(st, j->params[0], &o, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    if (!ts_admin__scope_notice(j, json_object_get(o, "fields"))) {
        json_decref(o);
        ts_admin__fail(j, 404, "NOT_FOUND", "no such notice");
        return;
    }
    ts_admin__scope_recipients(j, st, o);
    json_t *recips = json_object_get(o, "recipients");
    size_t n = 0, total = json_array_size(recips);
    json_t **items = ts_xcalloc(total ? total : 1, sizeof *items);
    size_t k;
    json_t *r;
    json_array_foreach(recips, k, r) {
        const char *hay[] = {ts_admin__str(r, "station"), ts_admin__str(r, "acknowledged_by")};
        if (ts__recipient_match(r, state) && ts_admin__matches(needle, hay, 2))
            items[n++] = r;
    }
    json_t *page = ts_admin__slice(items, n, offset, limit);
    free(items);
    ts_admin__add_station_names(j->adm, st, page);
    json_array_foreach(page, k, r) {
        uint64_t next = ts_notice_next_reminder(&j->adm->policy, r);
        if (next) {
            char iso[32];
            ts_time_iso(next, iso, sizeof iso);
            json_object_set_new(r, "next_reminder_at", json_string(iso));
        }
    }
    json_object_set_new(o, "recipients", page);
    /* the people named, for the page shown only (a role is looked up per station) */
    ts_admin__people_notice(j, st, o);
    json_object_set_new(o, "recipients_total", json_integer((json_int_t)total));
    json_object_set_new(o, "recipients_matched", json_integer((json_int_t)n));
    json_object_set_new(o, "offset", json_integer(offset));
    ts_admin__ok(j, 200, o);
}

void ts_admin__api_notice_send(ts_admin__job *j, ts_store *st)
{
    const json_t *fields = json_object_get(j->body, "notice");
    const json_t *to = json_object_get(j->body, "recipients");
    const json_t *files = json_object_get(j->body, "attachments");
    if (!json_is_object(fields) || !json_is_object(to)) {
        ts_admin__fail(j, 400, "BAD_REQUEST",
                       "body must be {\"notice\": {...}, \"recipients\": {...}} (and optional \"attachments\": [...])");
        return;
    }
    if (files != NULL && !json_is_array(files) && !json_is_null(files)) {
        ts_admin__fail(j, 422, "BAD_VALUE", "attachments must be a list of {\"name\", \"mime\", \"data\" (base64)}");
        return;
    }
    /* the responsible person: someone of the directory, by id or name,
     * kept by id (issue 18) */
    char person[TS_KEY_MAX + 1];
    const char *who = ts_admin__str(fields, "responsible_person");
    if (who[0]) {
        if (ts_people_resolve(st, who, person, sizeof person, NULL, 0) < 0) {
            ts_admin__fail(j, 422, "BAD_VALUE", "responsible_person: no such person (or several of that name) in the "
                                                "directory (people, station_people)");
            return;
        }
        json_object_set_new((json_t *)fields, "responsible_person", json_string(person));
    }
    ts_strlist stations = {NULL, 0};
    ts_error err;
    char id[64];
    ts_actor a = ts_admin__actor(j);
    json_t *attached = NULL;
    /* the notice and its audit entry in one transaction: a notice nobody
     * can tell who sent is not sent */
    int rc = ts_notice_resolve(st, to, &stations, &err);
    if (rc == 0)
        rc = ts_store_begin(st, &err);
    if (rc == 0 && (rc = ts_notice_create_with(st, &a, fields, files, &stations, id, sizeof id, &err)) == 0) {
        /* what was stored, as the notice's detail lists it */
        if (ts_attachment_list(st, id, false, &attached, &err) < 0)
            attached = json_array();
        char audit[160];
        json_int_t bytes = 0;
        size_t k;
        json_t *f;
        json_array_foreach(attached, k, f)
            bytes += json_integer_value(json_object_get(f, "size"));
        if (json_array_size(attached) > 0)
            snprintf(audit, sizeof audit, "%.40s, %zu attachment%s, %lld bytes", ts_admin__str(fields, "urgency"),
                     json_array_size(attached), json_array_size(attached) > 1 ? "s" : "", (long long)bytes);
        else
            snprintf(audit, sizeof audit, "%.40s", ts_admin__str(fields, "urgency"));
        if (ts_admin__audit(j, st, "send_notice", "notices", id, "ok", audit) < 0)
            rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    }
    /* a COMMIT that fails (a full disk) rolls back by itself */
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        json_decref(attached);
        ts_strlist_free(&stations);
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_notice_log_sent(st, id, stations.n, &a);
    ts_admin__queue_notice_frames(j, st, id, &stations);
    json_t *recips = json_array();
    for (size_t i = 0; i < stations.n; i++)
        json_array_append_new(recips, json_string(stations.v[i]));
    ts_admin__set_event(j, "notice", json_pack("{s:s,s:s}", "id", id, "state", "sent"));
    ts_admin__ok(j, 201, json_pack("{s:s,s:o,s:o}", "id", id, "recipients", recips, "attachments", attached));
    ts_strlist_free(&stations);
}

/* Content-Disposition for a download (RFC 6266): an ASCII fallback name in
 * filename (non-ASCII characters, quotes and backslashes as "_") and the
 * real one in filename* (RFC 8187: UTF-8, percent-encoded). */
static void ts__content_disposition(const char *name, char *out, size_t size)
{
    ts_buf b = TS_BUF_INIT;
    ts_buf_append_str(&b, "Content-Disposition: attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p >= 0x80) {
            if ((*p & 0xc0) != 0x80)
                ts_buf_append(&b, "_", 1); /* one per character, not per byte */
        } else if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            ts_buf_append(&b, "_", 1);
        } else {
            ts_buf_append(&b, p, 1);
        }
    }
    ts_buf_append_str(&b, "\"; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        /* RFC 8187 attr-char */
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            (*p && strchr("!#$&+-.^_`|~", *p) != NULL))
            ts_buf_append(&b, p, 1);
        else
            ts_buf_printf(&b, "%%%02X", *p);
    }
    ts_buf_append_str(&b, "\r\n");
    if (b.len < size)
        snprintf(out, size, "%.*s", (int)b.len, (const char *)b.data);
    else
        snprintf(out, size, "Content-Disposition: attachment\r\n");
    ts_buf_free(&b);
}

/* GET /api/notices/{id}/attachments/{attachment}: the file as it was sent,
 * its bytes checked against their SHA-256 again; always a download
 * (Content-Disposition: attachment, sandboxed), never shown in the console's
 * origin. Audited as a read. */
void ts_admin__api_notice_attachment(ts_admin__job *j, ts_store *st)
{
    ts_attachment f;
    ts_error err;
    if (j->scope != TS_ADMIN_SCOPE_ALL) {
        json_t *n;
        if (ts_notice_summary(st, j->params[0], &n, &err) < 0) {
            ts_admin__fail_err(j, &err);
            return;
        }
        bool mine = ts_admin__scope_notice(j, json_object_get(n, "fields"));
        json_decref(n);
        if (!mine) {
            ts_admin__fail(j, 404, "NOT_FOUND", "no such notice");
            return;
        }
    }
    if (ts_notice_attachment(st, j->params[0], j->params[1], &f, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    char detail[1200];
    snprintf(detail, sizeof detail, "download %s (%zu bytes, sha256 %.16s...)", f.name, f.len, f.sha256);
    if (ts_admin__audit(j, st, "read", "notice_attachments", f.id, "ok", detail) < 0) {
        ts_attachment_free(&f);
        ts_admin__fail_storage(j, "the audit entry of a download");
        return;
    }
    snprintf(j->content_type, sizeof j->content_type, "%s", f.mime);
    j->text_type = j->content_type;
    ts_buf_reset(&j->text);
    ts_buf_append(&j->text, f.data, f.len);
    char disposition[4096];
    ts__content_disposition(f.name, disposition, sizeof disposition);
    /* the digest the district keeps, for the client to check (RFC 9530) */
    unsigned char md[32], b64[48];
    for (int i = 0; i < 32; i++)
        md[i] = (unsigned char)(ts_admin__unhex(f.sha256[2 * i]) << 4 | ts_admin__unhex(f.sha256[2 * i + 1]));
    EVP_EncodeBlock(b64, md, 32);
    snprintf(j->headers, sizeof j->headers,
             "%sContent-Security-Policy: sandbox; default-src 'none'\r\nRepr-Digest: sha-256=:%s:\r\n", disposition,
             (const char *)b64);
    j->status = 200;
    ts_attachment_free(&f);
}

/* POST /api/notices/{id}/recall {"reason"}: the notice is withdrawn (thu
 * hồi): recalled_at, recalled_by and recall_reason on the notice, recalled_at
 * on each recipient's handling record (so no reminder goes any more), all
 * with the audit entry in one transaction; then re-sent to the connected
 * recipients like any change, so their command line shows it recalled. */
void ts_admin__api_notice_recall(ts_admin__job *j, ts_store *st)
{
    const json_t *reason = json_object_get(j->body, "reason");
    const char *why = json_is_string(reason) ? json_string_value(reason) : "";
    while (*why == ' ' || *why == '\t' || *why == '\n')
        why++;
    if (*why == '\0') {
        ts_admin__fail(j, 422, "BAD_VALUE", "reason is required: why the notice is recalled");
        return;
    }
    if (strlen(why) > 2000) {
        ts_admin__fail(j, 422, "BAD_VALUE", "reason is too long (at most 2000 characters)");
        return;
    }
    const char *id = j->params[0];
    json_t *n;
    ts_error err;
    if (ts_notice_show(st, id, &n, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    if (json_object_get(json_object_get(n, "fields"), "recalled_at") != NULL) {
        json_decref(n);
        ts_admin__fail(j, 409, "ALREADY_RECALLED", "this notice was already recalled");
        return;
    }
    char now[32];
    ts_time_iso(ts_wall_ms(), now, sizeof now);
    ts_actor a = ts_admin__actor(j);
    ts_strlist stations = {NULL, 0};
    json_t *f = json_pack("{s:s,s:s,s:s}", "recalled_at", now, "recalled_by", j->user, "recall_reason", why);
    json_t *rf = json_pack("{s:s}", "recalled_at", now);
    int rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_record_put_json(st, &a, "notices", id, f, &err);
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(n, "recipients"), k, r) {
        if (rc < 0)
            break;
        rc = ts_record_put_json(st, &a, "notice_recipients", ts_admin__str(r, "id"), rf, &err);
        ts_strlist_add(&stations, ts_admin__str(r, "station"));
    }
    if (rc == 0 && ts_admin__audit(j, st, "recall_notice", "notices", id, "ok", why) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    json_decref(f);
    json_decref(rf);
    json_decref(n);
    if (rc < 0) {
        ts_strlist_free(&stations);
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_log_info("notice_recalled", "id=%s recipients=%zu by=%s", id, stations.n, j->user);
    ts_admin__queue_notice_frames(j, st, id, &stations);
    ts_admin__set_event(j, "notice", json_pack("{s:s,s:s}", "id", id, "state", "recalled"));
    ts_admin__ok(j, 200, json_pack("{s:s,s:s,s:I}", "id", id, "recalled_at", now, "recipients", (json_int_t)stations.n));
    ts_strlist_free(&stations);
}
