/* What staff look at when they wonder whether sync works: status (the last
 * sync, what waits to be sent, whether the agent runs and reaches the
 * district) and conflicts (what the merge rules decided). Both only read what
 * the agent and the store recorded; neither writes. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client/ts_agent_report.h"
#include "client/ts_agent_status.h"
#include "client/ts_cli_int.h"
#include "client/ts_station_day.h"
#include "common/ts_text.h"
#include "common/ts_xmalloc.h"

static void ts__format_time(uint64_t ms, char *out, size_t size)
{
    if (ms == 0) {
        snprintf(out, size, "never");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, size, "%d/%m/%Y %H:%M:%S", &tm);
}

/* ---------------------------------------------------------------- status */

static void ts__when(const ts_cli *cli, uint64_t ms, char *out, size_t size)
{
    if (ms == 0 && !cli->en)
        snprintf(out, size, "chưa lần nào");
    else
        ts__format_time(ms, out, size);
}

/* A label in a column of its own width: Vietnamese is UTF-8, so no %-20s. */
static void ts__row(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ts__row(const char *label, const char *fmt, ...)
{
    ts_text_col(stdout, label, 22);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

/* What the agent last said, from its status file; from the database for an
 * agent of a version before the file (it kept these in meta). */
typedef struct ts__agent_said {
    bool from_file;
    uint64_t last_sync, alive, connect_ok, storage_ms, clock_epoch;
    char connected[8], last_error[TS_AGENT_STATUS_VALUE], clock[TS_AGENT_STATUS_VALUE], skew[32];
    char storage[TS_AGENT_STATUS_VALUE];
} ts__agent_said;

static void ts__read_agent(ts_cli__ctx *x, ts__agent_said *o)
{
    memset(o, 0, sizeof *o);
    ts_agent_status *f = ts_xmalloc(sizeof *f);
    if (ts_agent_status_load(f, x->cfg.database) == 0) {
        o->from_file = true;
        o->last_sync = ts_agent_status_get_u64(f, "last_sync_ok_ms");
        o->alive = ts_agent_status_get_u64(f, "agent_alive_ms");
        o->connect_ok = ts_agent_status_get_u64(f, "last_connect_ok_ms");
        o->storage_ms = ts_agent_status_get_u64(f, "storage_problem_ms");
        o->clock_epoch = ts_agent_status_get_u64(f, "clock_problem_epoch");
        snprintf(o->connected, sizeof o->connected, "%s", ts_agent_status_get(f, "connected"));
        snprintf(o->last_error, sizeof o->last_error, "%s", ts_agent_status_get(f, "last_error"));
        snprintf(o->clock, sizeof o->clock, "%s", ts_agent_status_get(f, "clock_problem"));
        snprintf(o->skew, sizeof o->skew, "%s", ts_agent_status_get(f, "clock_skew_ms"));
        snprintf(o->storage, sizeof o->storage, "%s", ts_agent_status_get(f, "storage_problem"));
        /* a complaint about stamps that `clock-fix` has replaced since */
        uint64_t epoch = 0;
        ts_store_meta_get_u64(x->store, "hlc_epoch", &epoch);
        if (o->clock[0] && epoch != o->clock_epoch)
            o->clock[0] = '\0';
    } else {
        ts_store_meta_get_u64(x->store, "last_sync_ok_ms", &o->last_sync);
        ts_store_meta_get_u64(x->store, "agent_alive_ms", &o->alive);
        ts_store_meta_get_u64(x->store, "last_connect_ok_ms", &o->connect_ok);
        ts_store_meta_get(x->store, "connected", o->connected, sizeof o->connected);
        ts_store_meta_get(x->store, "last_error", o->last_error, sizeof o->last_error);
        ts_store_meta_get(x->store, "clock_problem", o->clock, sizeof o->clock);
        ts_store_meta_get(x->store, "clock_skew_ms", o->skew, sizeof o->skew);
    }
    free(f);
}

int ts_cli_status(ts_cli *cli, int argc, char **argv)
{
    static const char help_vi[] =
        "cách dùng: tramsync [-d THƯ_MỤC] [--json] status [--brief]\n\nLần đồng bộ cuối, thay đổi chờ gửi, xung đột, "
        "máy chủ có\nkết nối được không, và lỗi nếu có (kể cả khi ổ đĩa đầy). --brief: một dòng.\n";
    static const char help_en[] =
        "usage: tramsync [-d DIR] [--json] status [--brief]\n\nWhen this station last synced, what waits to be sent,\n"
        "conflicts, whether the district server is reachable, and any failure (a full disk too).\n--brief: one line.\n";
    const char *help = TS__L(cli, help_vi, help_en);
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool brief = argc == 2 && strcmp(argv[1], "--brief") == 0;
    if (argc != 1 && !brief)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    ts__agent_said *ag = ts_xmalloc(sizeof *ag);
    ts__read_agent(&x, ag);
    uint64_t pending = 0, conflicts = 0, rejected = 0, cursor = 0;
    ts_store_meta_get_u64(x.store, "pull_cursor", &cursor);
    int64_t waiting = 0;
    if (ts_agent_report_pending(x.store, x.cfg.code, &waiting) == 0)
        pending = (uint64_t)waiting; /* the agent's own report is not staff's business */
    ts_store_conflict_count(x.store, true, &conflicts);
    ts_store_rejected_count(x.store, &rejected);
    uint64_t now = ts_wall_ms();
    bool agent_running = ag->alive != 0 && now - ag->alive < 30000;
    bool reachable = agent_running && strcmp(ag->connected, "1") == 0;
    /* which zone the station's days are in, and why */
    char tz[128];
    ts_station_tz_source tz_from = ts_station_tz(x.cfg.timezone, x.store, tz, sizeof tz);
    static const char *const tz_codes[] = {"config", "district", "default"};
    char t_sync[40], t_alive[40], t_storage[40];
    ts__when(cli, ag->last_sync, t_sync, sizeof t_sync);
    ts__when(cli, ag->alive, t_alive, sizeof t_alive);
    ts__when(cli, ag->storage_ms, t_storage, sizeof t_storage);
    if (brief && !cli->json) {
        const char *link = reachable       ? TS__L(cli, "đang kết nối", "connected")
                           : agent_running ? TS__L(cli, "MẤT KẾT NỐI (đang thử lại)", "OFFLINE (retrying)")
                                           : TS__L(cli, "agent không chạy", "agent not running");
        printf(TS__L(cli, "%s: đồng bộ cuối %s, %" PRIu64 " chờ gửi, %" PRIu64 " xung đột, %s%s%s%s\n",
                     "%s: last sync %s, %" PRIu64 " pending, %" PRIu64 " conflict(s), %s%s%s%s\n"),
               x.cfg.code, t_sync, pending, conflicts, link,
               ag->storage[0] ? TS__L(cli, ", LỖI GHI DỮ LIỆU (ổ đĩa?)", ", STORAGE FAILING (disk?)") : "",
               ag->clock[0] ? TS__L(cli, ", LỖI ĐỒNG HỒ", ", CLOCK PROBLEM") : "",
               rejected ? TS__L(cli, ", có thay đổi bị từ chối", ", some changes refused") : "");
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:I}", "station", x.cfg.code,
                              "replica", ts_store_replica(x.store)->b, "server", x.cfg.address, "last_sync_ok_ms",
                              (json_int_t)ag->last_sync, "agent_running", agent_running, "server_reachable", reachable,
                              "pending_changes", (json_int_t)pending, "conflicts", (json_int_t)conflicts, "rejected",
                              (json_int_t)rejected, "cursor", (json_int_t)cursor, "last_error", ag->last_error,
                              "clock_problem", ag->clock, "clock_skew_ms", ag->skew, "storage_problem", ag->storage,
                              "storage_problem_since_ms", (json_int_t)(ag->storage[0] ? ag->storage_ms : 0));
        json_object_set_new(o, "timezone", json_string(tz));
        json_object_set_new(o, "timezone_source", json_string(tz_codes[tz_from]));
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        ts__row(TS__L(cli, "Trạm", "Station"), "%s", x.cfg.code);
        ts__row(TS__L(cli, "Đồng bộ lần cuối", "Last sync"), "%s", t_sync);
        ts__row(TS__L(cli, "Chờ gửi", "Waiting to send"), TS__L(cli, "%" PRIu64 " thay đổi", "%" PRIu64 " change(s)"),
                pending);
        ts__row(TS__L(cli, "Xung đột", "Conflicts"),
                TS__L(cli, "%" PRIu64 " chưa giải quyết", "%" PRIu64 " unresolved"), conflicts);
        if (rejected)
            ts__row(TS__L(cli, "Bị từ chối", "Refused"),
                    TS__L(cli, "%" PRIu64 " thay đổi bị trung tâm từ chối (xem nhật ký của agent)",
                          "%" PRIu64 " change(s) refused by the district (see the agent log)"),
                    rejected);
        ts__row(TS__L(cli, "Máy chủ", "Server"), "%s — %s", x.cfg.address,
                reachable       ? TS__L(cli, "đang kết nối", "reachable, connected")
                : agent_running ? TS__L(cli, "chưa kết nối được (agent đang tự thử lại)",
                                        "not reachable now (the agent keeps retrying)")
                                : TS__L(cli, "chưa rõ: agent không chạy (tramsync run)",
                                        "unknown: the agent is not running (tramsync run)"));
        ts__row(TS__L(cli, "Múi giờ", "Time zone"), "%s (%s)", tz,
                tz_from == TS_STATION_TZ_DISTRICT ? TS__L(cli, "của trung tâm", "the district's")
                : tz_from == TS_STATION_TZ_CONFIG ? TS__L(cli, "theo cấu hình của trạm", "this station's configuration")
                                                  : TS__L(cli, "mặc định, trung tâm chưa báo", "default, not yet said by the district"));
        if (!agent_running)
            ts__row(TS__L(cli, "Agent chạy lần cuối", "Agent last seen"), "%s", t_alive);
        if (ag->storage[0])
            ts__row(TS__L(cli, "LỖI GHI DỮ LIỆU", "STORAGE FAILING"),
                    TS__L(cli, "từ %s không ghi được vào cơ sở dữ liệu của trạm (%s). Hãy giải phóng dung lượng ổ "
                               "đĩa; agent tự thử lại, không mất dữ liệu đã lưu.",
                          "since %s the station database cannot be written (%s). Free disk space; the agent retries "
                          "by itself and loses nothing already saved."),
                    t_storage, ag->storage);
        if (ag->last_error[0])
            ts__row(TS__L(cli, "Lỗi gần nhất", "Last error"), "%s", ag->last_error);
        if (ag->clock[0])
            ts__row(TS__L(cli, "Đồng hồ", "Clock problem"), "%s", ag->clock);
    }
    free(ag);
    ts_cli__close(&x);
    return 0;
}

int ts_cli_conflicts(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(
        cli,
        "cách dùng: tramsync [-d THƯ_MỤC] [--json] conflicts [--all]\n\nCác xung đột phát hiện tại trạm: cả hai giá "
        "trị,\nvà giá trị nào được giữ theo quy tắc hợp nhất. Trung tâm giải quyết chúng trên trang quản trị.\n"
        "--all: cả các xung đột đã giải quyết.\n",
        "usage: tramsync [-d DIR] [--json] conflicts [--all]\n\nConflicts found at this station: both values, and\n"
        "which one the merge rules kept. The district resolves them from its console.\n--all includes resolved ones.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool all = argc == 2 && strcmp(argv[1], "--all") == 0;
    if (argc > 2 || (argc == 2 && !all))
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    ts_conflict_row *rows;
    size_t n;
    ts_error err;
    if (ts_store_conflicts(x.store, !all, NULL, 0, 1000, &rows, &n, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đọc được danh sách xung đột", err.msg);
        ts_cli__close(&x);
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        ts_conflict_row *r = &rows[i];
        char when[40];
        ts_text_time_ms(r->detected_at, when, sizeof when);
        if (cli->json) {
            json_t *kept = json_loads(r->winner_json, JSON_DECODE_ANY, NULL);
            json_t *lost = json_loads(r->loser_json, JSON_DECODE_ANY, NULL);
            json_array_append_new(
                arr, json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:s,s:I,s:b}", "id", (json_int_t)r->id, "table", r->table,
                               "id_record", r->record, "field", r->field, "kept", kept ? kept : json_null(), "lost",
                               lost ? lost : json_null(), "rule", r->rule, "detected_at_ms",
                               (json_int_t)r->detected_at, "resolved", r->resolved));
        } else {
            printf(TS__L(cli,
                         "#%" PRId64 " %s/%s trường %s (%s)%s\n   giữ lại:  %s  (do %s ghi)\n   bị thay:  %s  (do %s ghi)\n",
                         "#%" PRId64 " %s/%s field %s (%s)%s\n   kept: %s  (written by %s)\n   lost: %s  (written by %s)\n"),
                   r->id, r->table, r->record, r->field, when,
                   r->resolved ? TS__L(cli, " — đã giải quyết", " — resolved") : "", r->winner_json, r->winner_replica,
                   r->loser_json, r->loser_replica);
        }
    }
    if (cli->json)
        ts_cli__print_json(arr);
    else if (n == 0)
        puts(all ? TS__L(cli, "không có xung đột nào", "no conflicts")
                 : TS__L(cli, "không có xung đột chưa giải quyết", "no unresolved conflicts"));
    json_decref(arr);
    ts_conflict_rows_free(rows, n);
    ts_cli__close(&x);
    return 0;
}
