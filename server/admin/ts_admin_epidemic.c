/* The epidemic channel in the admin API (issue 17): the scan that turns what
 * stations report into alerts, run as soon as records are committed (and
 * every half minute as a backstop), announced to consoles as the event
 * "epidemic"; the alerts, their acknowledgement by a named account; and the
 * weekly figures by commune and disease with each station's reporting
 * clock. Only aggregates: cases stay behind the audited record API. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_registry.h"
#include "common/ts_xmalloc.h"
#include "server/admin/ts_admin_int.h"
#include "server/ts_dbq.h"
#include "server/ts_epidemic.h"

extern const unsigned char ts_diseases_tsv[];
extern const size_t ts_diseases_tsv_len;

#define TS__EPI_EVERY_MS 30000

/* ---------------------------------------------------------------- the scan */

typedef struct ts__epi_job {
    ts_dbjob base;
    ts_admin *adm;
    ts_epi_scan_result res;
    uint64_t open;
    int rc;
    ts_error err;
} ts__epi_job;

static void ts__epi_work(ts_dbjob *base, ts_store *st)
{
    ts__epi_job *j = base->data;
    j->rc = ts_epi_scan(st, ts_wall_ms(), &j->res, &j->err);
    j->open = ts_epi_open_alerts(st);
}

static void ts__epi_run(ts_admin *a);

static void ts__epi_done(ts_dbjob *base)
{
    ts__epi_job *j = base->data;
    ts_admin *a = j->adm;
    a->jobs--;
    a->epi_running = false;
    if (j->rc < 0)
        ts_log_error("epidemic_scan_failed", "reason=%s", j->err.msg);
    else if (j->res.alerts > 0 && !a->stopping) {
        char data[96];
        snprintf(data, sizeof data, "{\"alerts\":%" PRIu64 ",\"open\":%" PRIu64 "}", j->res.alerts, j->open);
        ts_admin_event(a, "epidemic", data);
    }
    free(j);
    if (a->epi_again && !a->stopping) {
        a->epi_again = false;
        ts__epi_run(a);
    }
    ts_admin__job_ended(a);
}

static void ts__epi_run(ts_admin *a)
{
    if (a->stopping)
        return;
    if (a->epi_running) {
        a->epi_again = true; /* what was committed meanwhile may not be in the scan under way */
        return;
    }
    a->epi_running = true;
    a->jobs++;
    ts__epi_job *j = ts_xcalloc(1, sizeof *j);
    j->adm = a;
    ts_dbq_submit(ts_server_dbq(a->srv), &j->base, ts__epi_work, ts__epi_done, j);
}

void ts_admin_store_changed(ts_admin *a)
{
    if (a != NULL)
        ts__epi_run(a);
}

static void ts__epi_tick(uv_timer_t *t)
{
    ts__epi_run(t->data);
}

typedef struct ts__epi_seed {
    uint64_t loaded;
    int rc;
    ts_error err;
} ts__epi_seed;

static void ts__epi_seed_work(ts_dbjob *base, ts_store *st)
{
    ts__epi_seed *s = base->data;
    s->rc = ts_epi_seed(st, (const char *)ts_diseases_tsv, ts_diseases_tsv_len, &s->loaded, &s->err);
}

void ts_admin__epi_start(ts_admin *a)
{
    ts__epi_seed seed;
    memset(&seed, 0, sizeof seed);
    ts_dbq_run_now(ts_server_dbq(a->srv), ts__epi_seed_work, &seed);
    if (seed.rc < 0)
        ts_log_error("diseases_not_loaded", "reason=%s", seed.err.msg);
    else if (seed.loaded)
        ts_log_info("diseases_loaded", "count=%" PRIu64, seed.loaded);
    uv_timer_init(ts_server_loop(a->srv), &a->epi_timer);
    a->epi_timer.data = a;
    uv_timer_start(&a->epi_timer, ts__epi_tick, 0, TS__EPI_EVERY_MS);
}

/* ---------------------------------------------------------------- endpoints */

void ts_admin__api_epi_alerts(ts_admin__job *j, ts_store *st)
{
    static const char *const which[] = {"open", "all", NULL};
    char show[8] = "open";
    uint32_t limit;
    if (!ts_admin__q_enum(j, "show", which, show, sizeof show) || !ts_admin__q_uint(j, "limit", 200, 1000, &limit))
        return;
    json_t *arr;
    ts_error err;
    if (ts_epi_alerts(st, strcmp(show, "open") == 0, limit ? limit : 200, &arr, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_admin__add_station_names(j->adm, st, arr);
    ts_admin__ok(j, 200, json_pack("{s:o,s:I}", "alerts", arr, "open", (json_int_t)ts_epi_open_alerts(st)));
}

void ts_admin__api_epi_alert_ack(ts_admin__job *j, ts_store *st)
{
    char *end = NULL;
    long long id = strtoll(j->params[0], &end, 10);
    if (end == j->params[0] || *end != '\0' || id <= 0) {
        ts_admin__fail(j, 404, "NOT_FOUND", "no such alert");
        return;
    }
    ts_error err;
    bool already = false;
    int rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_epi_alert_ack(st, id, j->user, j->now_ms, &already, &err);
    if (rc == 0 && already) {
        ts_store_rollback(st);
        ts_admin__fail(j, 409, "ALREADY_ACKNOWLEDGED", "this alert was already acknowledged");
        return;
    }
    if (rc == 0 && ts_admin__audit(j, st, "ack_epidemic_alert", "epi_alerts", j->params[0], "ok", NULL) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the acknowledgement could not be stored");
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    uint64_t open = ts_epi_open_alerts(st);
    ts_admin__set_event(j, "epidemic", json_pack("{s:I,s:I}", "acknowledged", (json_int_t)id, "open", (json_int_t)open));
    ts_admin__ok(j, 200, json_pack("{s:I,s:s,s:I}", "id", (json_int_t)id, "acknowledged_by", j->user, "open",
                                   (json_int_t)open));
}

/* One quoted CSV field and its comma (RFC 4180: quotes doubled). */
static void ts__csv_field(ts_buf *b, const char *text)
{
    ts_buf_append_str(b, "\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            ts_buf_append_str(b, "\"\"");
        else
            ts_buf_append(b, p, 1);
    }
    ts_buf_append_str(b, "\",");
}

/* GET /api/epidemic?from=YYYY-MM-DD&to=YYYY-MM-DD (default: the last 8
 * weeks); format=csv for a spreadsheet. */
void ts_admin__api_epi_summary(ts_admin__job *j, ts_store *st)
{
    char from[16] = "", to[16] = "", format[8] = "json";
    static const char *const formats[] = {"json", "csv", NULL};
    ts_admin__q(j, "from", from, sizeof from);
    ts_admin__q(j, "to", to, sizeof to);
    if (!ts_admin__q_enum(j, "format", formats, format, sizeof format))
        return;
    if ((from[0] && !ts_date_valid(from, strlen(from))) || (to[0] && !ts_date_valid(to, strlen(to)))) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "from and to are days: YYYY-MM-DD");
        return;
    }
    if (!to[0])
        ts_local_day(j->now_ms, to, sizeof to);
    if (!from[0])
        ts_epi_day_add(to, -55, from, sizeof from);
    json_t *o;
    ts_error err;
    if (ts_epi_summary(st, from, to, &o, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_admin__add_station_names(j->adm, st, json_object_get(o, "rows"));
    ts_admin__add_station_names(j->adm, st, json_object_get(o, "reporting"));
    if (strcmp(format, "csv") == 0) {
        ts_buf_printf(&j->text, "\xEF\xBB\xBFxa,ma_tram,benh,ma_benh,tuan,so_ca\r\n");
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(o, "rows"), i, r) {
            const char *fields[] = {ts_admin__str(r, "commune"), ts_admin__str(r, "station"),
                                    ts_admin__str(r, "disease_vi"), ts_admin__str(r, "disease"),
                                    ts_admin__str(r, "week")};
            for (size_t k = 0; k < 5; k++)
                ts__csv_field(&j->text, fields[k]);
            ts_buf_printf(&j->text, "%" JSON_INTEGER_FORMAT "\r\n", json_integer_value(json_object_get(r, "cases")));
        }
        json_decref(o);
        j->status = 200;
        j->text_type = "text/csv; charset=utf-8";
        snprintf(j->headers, sizeof j->headers, "Content-Disposition: attachment; filename=\"dich-benh-%s-%s.csv\"\r\n",
                 from, to);
        return;
    }
    ts_admin__ok(j, 200, o);
}

/* ---------------------------------------------------------------- outbreaks */

void ts_admin__api_outbreaks(ts_admin__job *j, ts_store *st)
{
    json_t *arr;
    ts_error err;
    if (ts_outbreak_list(st, &arr, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_admin__ok(j, 200, json_pack("{s:o}", "outbreaks", arr));
}

void ts_admin__api_outbreak(ts_admin__job *j, ts_store *st)
{
    json_t *o;
    ts_error err;
    if (ts_outbreak_show(st, j->params[0], &o, &err) < 0) {
        ts_admin__fail_err(j, &err);
        return;
    }
    ts_admin__add_station_names(j->adm, st, json_object_get(o, "timeline"));
    ts_admin__ok(j, 200, o);
}

/* POST /api/epidemic/outbreaks {"report": id, "stations": [codes]}: the
 * district opens an outbreak from a station's report, with the
 * neighbouring stations it concerns too. */
void ts_admin__api_outbreak_open(ts_admin__job *j, ts_store *st)
{
    const char *report = ts_admin__str(j->body, "report");
    const json_t *also = json_object_get(j->body, "stations");
    if (!report[0] || (also != NULL && !json_is_array(also))) {
        ts_admin__fail(j, 400, "BAD_REQUEST", "body must be {\"report\": id, \"stations\": [codes] (optional)}");
        return;
    }
    ts_strlist codes = {NULL, 0};
    ts_error err;
    int rc = 0;
    if (json_array_size(also) > 0) {
        json_t *spec = json_pack("{s:O}", "stations", also);
        rc = ts_notice_resolve(st, spec, &codes, &err);
        json_decref(spec);
        if (rc < 0) {
            ts_strlist_free(&codes);
            ts_admin__fail_err(j, &err);
            return;
        }
    }
    ts_actor a = ts_admin__actor(j);
    char id[64];
    rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_outbreak_open(st, &a, report, (const char *const *)codes.v, codes.n, id, sizeof id, &err);
    if (rc == 0 && ts_admin__audit(j, st, "open_outbreak", "outbreaks", id, "ok", report) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    if (rc == 0)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_strlist_free(&codes);
        ts_admin__fail_err(j, &err);
        return;
    }
    json_t *o;
    if (ts_outbreak_show(st, id, &o, &err) < 0)
        o = json_pack("{s:s}", "id", id);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(json_object_get(o, "fields"), "stations"), i, s)
        ts_strlist_add(&j->notify, json_string_value(s));
    ts_strlist_free(&codes);
    ts_admin__set_event(j, "epidemic", json_pack("{s:s}", "outbreak", id));
    ts_admin__ok(j, 201, o);
}

/* POST /api/epidemic/outbreaks/{id}/end {"force": bool, "reason": text} */
void ts_admin__api_outbreak_end(ts_admin__job *j, ts_store *st)
{
    bool force = json_is_true(json_object_get(j->body, "force"));
    const char *reason = ts_admin__str(j->body, "reason");
    if (force && !reason[0]) {
        ts_admin__fail(j, 422, "BAD_VALUE", "ending an outbreak early needs a reason");
        return;
    }
    char today[16], can_end[16], notice[64];
    ts_local_day(j->now_ms, today, sizeof today);
    ts_outbreak_refusal refusal = TS_OUTBREAK_OK;
    ts_strlist recipients = {NULL, 0};
    ts_actor a = ts_admin__actor(j);
    ts_error err;
    int rc = ts_store_begin(st, &err);
    if (rc == 0)
        rc = ts_outbreak_end(st, &a, j->params[0], today, force, reason, &refusal, can_end, sizeof can_end, notice,
                             sizeof notice, &recipients, &err);
    if (rc == 0 && refusal == TS_OUTBREAK_OK &&
        ts_admin__audit(j, st, "end_outbreak", "outbreaks", j->params[0], "ok", force ? "early" : NULL) < 0)
        rc = ts_error_set(&err, TS_ESTORAGE, "the audit entry could not be stored");
    if (rc == 0 && refusal == TS_OUTBREAK_OK)
        rc = ts_store_commit(st, &err);
    else
        ts_store_rollback(st);
    if (rc < 0) {
        ts_strlist_free(&recipients);
        ts_admin__fail_err(j, &err);
        return;
    }
    if (refusal == TS_OUTBREAK_ALREADY_ENDED) {
        ts_strlist_free(&recipients);
        ts_admin__fail(j, 409, "ALREADY_ENDED", "this outbreak was already declared over");
        return;
    }
    if (refusal == TS_OUTBREAK_TOO_EARLY) {
        char msg[200];
        snprintf(msg, sizeof msg, "chưa đủ số ngày không có ca mới: có thể công bố kết thúc từ ngày %s", can_end);
        ts_strlist_free(&recipients);
        ts_admin__fail(j, 409, "TOO_EARLY", msg);
        return;
    }
    ts_notice_log_sent(st, notice, recipients.n, &a);
    ts_admin__queue_notice_frames(j, st, notice, &recipients);
    json_t *recips = json_array();
    for (size_t i = 0; i < recipients.n; i++)
        json_array_append_new(recips, json_string(recipients.v[i]));
    ts_admin__set_event(j, "notice", json_pack("{s:s,s:s}", "id", notice, "state", "sent"));
    ts_admin__ok(j, 200, json_pack("{s:s,s:s,s:s,s:o}", "id", j->params[0], "ended_on", today, "notice", notice,
                                   "recipients", recips));
    ts_strlist_free(&recipients);
}
