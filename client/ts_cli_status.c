/* What staff look at when they wonder whether sync works: status (the last
 * sync, what waits to be sent, whether the agent runs and reaches the
 * district) and conflicts (what the merge rules decided). Both only read what
 * the agent and the store recorded; neither writes. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client/ts_cli_int.h"

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

int ts_cli_status(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] status [--brief]\n\nWhen this station last synced, what waits to be sent,\n"
        "conflicts, and whether the district server is reachable. --brief: one line.\n";
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
    uint64_t last_sync = 0, alive = 0, pending = 0, conflicts = 0, rejected = 0, cursor = 0, connect_ok = 0;
    char connected[8] = "", last_error[600] = "", clock[300] = "", server_db[64] = "", skew[32] = "";
    ts_store_meta_get_u64(x.store, "last_sync_ok_ms", &last_sync);
    ts_store_meta_get_u64(x.store, "agent_alive_ms", &alive);
    ts_store_meta_get_u64(x.store, "pull_cursor", &cursor);
    ts_store_meta_get_u64(x.store, "last_connect_ok_ms", &connect_ok);
    ts_store_meta_get(x.store, "connected", connected, sizeof connected);
    ts_store_meta_get(x.store, "last_error", last_error, sizeof last_error);
    ts_store_meta_get(x.store, "clock_problem", clock, sizeof clock);
    ts_store_meta_get(x.store, "server_db", server_db, sizeof server_db);
    ts_store_meta_get(x.store, "clock_skew_ms", skew, sizeof skew);
    ts_store_pending_count(x.store, &pending);
    ts_store_conflict_count(x.store, true, &conflicts);
    ts_store_rejected_count(x.store, &rejected);
    uint64_t now = ts_wall_ms();
    bool agent_running = alive != 0 && now - alive < 30000;
    bool reachable = agent_running && strcmp(connected, "1") == 0;
    char t_sync[40], t_alive[40];
    ts__format_time(last_sync, t_sync, sizeof t_sync);
    ts__format_time(alive, t_alive, sizeof t_alive);
    if (brief && !cli->json) {
        printf("%-12s last sync %s, %" PRIu64 " pending, %" PRIu64 " conflict(s), %s%s%s\n", x.cfg.code, t_sync, pending,
               conflicts, reachable ? "connected" : agent_running ? "OFFLINE (retrying)" : "agent not running",
               clock[0] ? ", CLOCK PROBLEM" : "", rejected ? ", some changes refused" : "");
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:s,s:s,s:s}", "station", x.cfg.code, "replica",
                              ts_store_replica(x.store)->b, "server", x.cfg.address, "last_sync_ok_ms",
                              (json_int_t)last_sync, "agent_running", agent_running, "server_reachable", reachable,
                              "pending_changes", (json_int_t)pending, "conflicts", (json_int_t)conflicts, "rejected",
                              (json_int_t)rejected, "cursor", (json_int_t)cursor, "last_error", last_error,
                              "clock_problem", clock, "clock_skew_ms", skew);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        printf("Trạm / station     %s\n", x.cfg.code);
        printf("Lần đồng bộ cuối   %s   (last successful sync)\n", t_sync);
        printf("Chờ gửi            %" PRIu64 " change(s) waiting to be sent\n", pending);
        printf("Xung đột           %" PRIu64 " unresolved conflict(s)\n", conflicts);
        if (rejected)
            printf("Bị từ chối         %" PRIu64 " change(s) refused by the district (see the agent log)\n", rejected);
        printf("Máy chủ            %s — %s\n", x.cfg.address,
               reachable       ? "reachable, connected"
               : agent_running ? "not reachable now (the agent keeps retrying)"
                               : "unknown: the agent is not running (tramsync run)");
        if (!agent_running)
            printf("Agent last seen    %s\n", t_alive);
        if (last_error[0])
            printf("Last error         %s\n", last_error);
        if (clock[0])
            printf("Clock problem      %s\n", clock);
    }
    ts_cli__close(&x);
    return 0;
}

int ts_cli_conflicts(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] conflicts [--all]\n\nConflicts found at this station: both values, and\n"
        "which one the merge rules kept. The district resolves them from its console.\n";
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
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
        ts_cli__close(&x);
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        ts_conflict_row *r = &rows[i];
        char when[40];
        ts__format_time(r->detected_at, when, sizeof when);
        if (cli->json) {
            json_t *kept = json_loads(r->winner_json, JSON_DECODE_ANY, NULL);
            json_t *lost = json_loads(r->loser_json, JSON_DECODE_ANY, NULL);
            json_array_append_new(
                arr, json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:s,s:I,s:b}", "id", (json_int_t)r->id, "table", r->table,
                               "id_record", r->record, "field", r->field, "kept", kept ? kept : json_null(), "lost",
                               lost ? lost : json_null(), "rule", r->rule, "detected_at_ms",
                               (json_int_t)r->detected_at, "resolved", r->resolved));
        } else {
            printf("#%" PRId64 " %s/%s field %s (%s)%s\n   kept: %s  (written by %s)\n   lost: %s  (written by %s)\n",
                   r->id, r->table, r->record, r->field, when, r->resolved ? " — resolved" : "", r->winner_json,
                   r->winner_replica, r->loser_json, r->loser_replica);
        }
    }
    if (cli->json)
        ts_cli__print_json(arr);
    else if (n == 0)
        printf("no %sconflicts\n", all ? "" : "unresolved ");
    json_decref(arr);
    ts_conflict_rows_free(rows, n);
    ts_cli__close(&x);
    return 0;
}
