/* The coordination commands: notices, notice show, attachment save, ack,
 * progress, report and tasks. The rules (which state may follow which, what
 * a report holds, the attachments' checksums) are client/ts_station_notices.c's;
 * this file is only the command line in front of them: the arguments, and the
 * Vietnamese and English labels staff read. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/ts_cli_int.h"
#include "client/ts_station_notices.h"
#include "common/ts_notice.h"
#include "common/ts_text.h"

/* ---------------------------------------------------------------- notices and tasks */

static const char *ts__label_vi_en(const ts_label *list, size_t n, const char *code, char *buf, size_t size)
{
    const ts_label *l = ts_label_find(list, n, code);
    if (l)
        snprintf(buf, size, "%s (%s)", l->vi, l->en);
    else
        snprintf(buf, size, "%s", code ? code : "");
    return buf;
}

static const char *ts__s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

int ts_cli_notices(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] notices [--all]\n\nNotices from the district: "
                               "unread (not yet acknowledged) first, most urgent first.\n"
                               "--all includes the ones already done.\n";
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
    json_t *list;
    ts_error err;
    if (ts_station_notices(x.store, all, &list, &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        ts_cli__print_json(list);
    } else {
        size_t i;
        json_t *it;
        if (json_array_size(list) == 0)
            printf("no notices%s\n", all ? "" : " waiting (--all shows the finished ones)");
        json_array_foreach(list, i, it) {
            const json_t *n = json_object_get(it, "notice"), *h = json_object_get(it, "handling");
            char u[128], st[128];
            printf("%s %-26s %s  %s\n    %s — %s\n", json_is_true(json_object_get(it, "unread")) ? "*" : " ",
                   ts__s(it, "id"), ts__label_vi_en(ts_notice_urgencies, 4, ts__s(n, "urgency"), u, sizeof u),
                   ts__s(n, "number"), ts__s(n, "subject"),
                   ts__label_vi_en(ts_notice_states, 5, ts__s(h, "state"), st, sizeof st));
        }
    }
    json_decref(list);
    ts_cli__close(&x);
    return rc;
}

int ts_cli_notice(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] notice show ID\n";
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "show") != 0)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    json_t *o;
    ts_error err;
    if (ts_station_show(x.store, argv[2], &o, &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        const json_t *n = json_object_get(o, "notice"), *h = json_object_get(o, "handling");
        if (n == NULL)
            n = json_object_get(o, "task");
        char a[160], b[160], c[160], d[160];
        printf("%s  %s\n", ts__s(o, "id"), ts__s(n, "number"));
        printf("  Trích yếu / subject   %s\n", json_object_get(n, "subject") ? ts__s(n, "subject") : ts__s(n, "task"));
        if (json_object_get(n, "urgency"))
            printf("  Độ khẩn / urgency     %s\n", ts__label_vi_en(ts_notice_urgencies, 4, ts__s(n, "urgency"), a, sizeof a));
        if (json_object_get(n, "category"))
            printf("  Lĩnh vực / category   %s\n", ts__label_vi_en(ts_notice_categories, 12, ts__s(n, "category"), b, sizeof b));
        if (json_object_get(n, "doc_type"))
            printf("  Loại / type           %s\n", ts__label_vi_en(ts_notice_doc_types, 7, ts__s(n, "doc_type"), c, sizeof c));
        if (json_object_get(n, "issuer"))
            printf("  Nơi ban hành          %s, %s\n", ts__s(n, "issuer"), ts__s(n, "issue_date"));
        if (json_object_get(n, "responsible"))
            printf("  Người phụ trách       %s\n", ts__s(n, "responsible"));
        if (json_object_get(n, "task") && json_object_get(n, "subject"))
            printf("  Nhiệm vụ / task       %s\n", ts__s(n, "task"));
        if (json_object_get(n, "deadline") || json_object_get(h, "deadline"))
            printf("  Hạn xử lý / deadline  %s\n", json_object_get(h, "deadline") ? ts__s(h, "deadline") : ts__s(n, "deadline"));
        if (json_object_get(n, "expected_result"))
            printf("  Kết quả cần đạt       %s\n", ts__s(n, "expected_result"));
        printf("  Trạng thái / state    %s%s\n", ts__label_vi_en(ts_notice_states, 5, ts__s(h, "state"), d, sizeof d),
               json_is_true(json_object_get(h, "overdue")) ? "  — QUÁ HẠN / OVERDUE" : "");
        if (json_object_get(h, "acknowledged_by"))
            printf("  Xác nhận bởi          %s, %s\n", ts__s(h, "acknowledged_by"), ts__s(h, "acknowledged_at"));
        if (json_object_get(n, "body"))
            printf("\n%s\n", ts__s(n, "body"));
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(o, "attachments"), k, f) {
            if (k == 0)
                printf("\n  Tệp đính kèm / attachments (tramsync attachment save %s N [PATH])\n", ts__s(o, "id"));
            const char *fid = ts__s(f, "id");
            const char *colon = strrchr(fid, ':');
            printf("  %3s  ", colon ? colon + 1 : fid);
            ts_text_col(stdout, ts__s(f, "name"), 40);
            printf(" %8lld bytes  %s%s\n", (long long)json_integer_value(json_object_get(f, "size")), ts__s(f, "mime"),
                   json_is_true(json_object_get(f, "verified")) ? "" : "  — HỎNG / CORRUPT (checksum)");
        }
        json_decref(o);
    }
    ts_cli__close(&x);
    return rc;
}

int ts_cli_attachment(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] attachment save NOTICE N [PATH] [--force]\n\n"
        "Saves attachment N of a notice (its number in `tramsync notice show`, its id,\n"
        "or its file name) to PATH: a file, or a folder to save it under its own name\n"
        "(default: the current folder). Its bytes are checked against the SHA-256 the\n"
        "district recorded first. An existing file is kept unless --force.\n";
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool force = false;
    const char *pos[4];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (argv[i][0] == '-' || npos == 4)
            return ts_cli__usage(help, argc, argv);
        else
            pos[npos++] = argv[i];
    }
    if (npos < 3 || npos > 4 || strcmp(pos[0], "save") != 0)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    char written[4096];
    ts_attachment info;
    ts_error err;
    if (ts_station_attachment_save(x.store, pos[1], pos[2], npos == 4 ? pos[3] : ".", force, written, sizeof written,
                                   &info, &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "id", info.id, "name", info.name, "mime", info.mime, "size",
                              (json_int_t)info.len, "sha256", info.sha256, "path", written);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        printf("saved %s (%zu bytes, SHA-256 checked) to %s\n", info.name, info.len, written);
    }
    ts_cli__close(&x);
    return rc;
}

static int ts__transition_cmd(ts_cli *cli, const char *id, const char *state, const char *by, const char *note,
                              const char *report, const char *reason)
{
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0)
        return rc;
    ts_error err;
    if (ts_station_transition(x.store, id, state, by, note, report, reason, &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *o = json_pack("{s:s,s:s}", "id", id, "state", state);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        char l[160];
        printf("%s: %s\n", id, ts__label_vi_en(ts_notice_states, 5, state, l, sizeof l));
    }
    ts_cli__close(&x);
    return rc;
}

int ts_cli_ack(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] ack ID --by NAME\n\nAcknowledges a notice or task "
                               "in the name of the person responsible.\n";
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 4 || strcmp(argv[2], "--by") != 0)
        return ts_cli__usage(help, argc, argv);
    return ts__transition_cmd(cli, argv[1], "acknowledged", argv[3], NULL, NULL, NULL);
}

int ts_cli_progress(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] progress ID --state in_progress|done [--by NAME]\n"
        "                [--note TEXT] [--report TEXT] [--reason TEXT]\n\n"
        "Reports progress on a notice or task: in_progress with a note, done with a short report.\n"
        "Going back from done needs --reason.\n";
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    const char *state = NULL, *by = NULL, *note = NULL, *report = NULL, *reason = NULL;
    static const struct option opts[] = {{"state", required_argument, NULL, 's'}, {"by", required_argument, NULL, 'b'},
                                         {"note", required_argument, NULL, 'n'},  {"report", required_argument, NULL, 'r'},
                                         {"reason", required_argument, NULL, 'R'}, {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's': state = optarg; break;
        case 'b': by = optarg; break;
        case 'n': note = optarg; break;
        case 'r': report = optarg; break;
        case 'R': reason = optarg; break;
        default: return ts_cli__usage(help, argc, argv);
        }
    }
    if (optind != argc - 1 || state == NULL)
        return ts_cli__usage(help, argc, argv);
    return ts__transition_cmd(cli, argv[optind], state, by, note, report, reason);
}

int ts_cli_report(ts_cli *cli, int argc, char **argv)
{
    static const char help[] =
        "usage: tramsync [-d DIR] [--json] report --kind KIND --subject TEXT [--body TEXT]\n"
        "       [--urgency thuong|khan|thuong_khan|hoa_toc] [--category CODE] [--disease NAME]\n"
        "       [--cases N] [--deaths N] [--onset YYYY-MM-DD] [--location TEXT] [--by NAME]\n\n"
        "Sends a report or request up to the district. KIND: case_report, outbreak_detection,\n"
        "outbreak_update, outbreak_end, incident, request_drugs, request_staff,\n"
        "request_supervision, other.\n";
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    json_t *f = json_object();
    static const struct option opts[] = {
        {"kind", required_argument, NULL, 'k'},     {"subject", required_argument, NULL, 's'},
        {"body", required_argument, NULL, 'b'},     {"urgency", required_argument, NULL, 'u'},
        {"category", required_argument, NULL, 'c'}, {"disease", required_argument, NULL, 'd'},
        {"cases", required_argument, NULL, 'n'},    {"deaths", required_argument, NULL, 'D'},
        {"onset", required_argument, NULL, 'o'},    {"location", required_argument, NULL, 'l'},
        {"by", required_argument, NULL, 'y'},       {NULL, 0, NULL, 0}};
    static const char *const keys[] = {"kind", "subject", "body", "urgency", "category", "disease",
                                       "cases", "deaths", "onset_date", "location", "reported_by"};
    static const char letters[] = "ksbucdnDoly";
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *k = strchr(letters, o);
        if (o == '?' || k == NULL) {
            json_decref(f);
            return ts_cli__usage(help, argc, argv);
        }
        const char *key = keys[k - letters];
        if (o == 'n' || o == 'D')
            json_object_set_new(f, key, json_integer(strtoll(optarg, NULL, 10)));
        else
            json_object_set_new(f, key, json_string(optarg));
    }
    if (optind != argc || !json_object_get(f, "kind") || !json_object_get(f, "subject")) {
        json_decref(f);
        return ts_cli__usage(help, argc, argv);
    }
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0) {
        json_decref(f);
        return rc;
    }
    ts_error err;
    char id[TS_KEY_MAX + 1];
    if (ts_station_report(x.store, f, id, sizeof id, &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        json_t *out = json_pack("{s:s,s:s}", "id", id, "result", "stored");
        ts_cli__print_json(out);
        json_decref(out);
    } else {
        printf("report %s stored; the agent sends it to the district within seconds\n", id);
    }
    json_decref(f);
    ts_cli__close(&x);
    return rc;
}

int ts_cli_tasks(ts_cli *cli, int argc, char **argv)
{
    static const char help[] = "usage: tramsync [-d DIR] [--json] tasks\n\nPlan tasks the district assigned to "
                               "this station.\n";
    if (ts_cli__wants_help(argc, argv) || argc != 1) {
        fputs(help, argc != 1 ? stderr : stdout);
        return argc != 1 ? TS_EXIT_USAGE : 0;
    }
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    json_t *list;
    ts_error err;
    if (ts_station_tasks(x.store, &list, &err) < 0) {
        rc = ts_cli__fail(cli, err.code, "%s", err.msg);
    } else if (cli->json) {
        ts_cli__print_json(list);
        json_decref(list);
    } else {
        size_t i;
        json_t *it;
        if (json_array_size(list) == 0)
            printf("no tasks assigned to this station\n");
        json_array_foreach(list, i, it) {
            const json_t *t = json_object_get(it, "task"), *h = json_object_get(it, "handling");
            char st[128];
            printf("%-8s %s\n    %.160s\n    hạn / deadline: %s\n", ts__s(it, "id"),
                   ts__label_vi_en(ts_notice_states, 5, ts__s(h, "state"), st, sizeof st), ts__s(t, "task"),
                   json_object_get(h, "deadline") ? ts__s(h, "deadline") : ts__s(t, "deadline_text"));
        }
        json_decref(list);
    }
    ts_cli__close(&x);
    return rc;
}
