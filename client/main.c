/* tramsync: the station agent and its command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ts_cli.h"
#include "common/ts_log.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "proto/tramsync-protocol.h"

typedef struct ts_command {
    const char *name;
    int (*fn)(ts_cli *cli, int argc, char **argv);
    const char *summary;
} ts_command;

static const ts_command commands[] = {
    {"init", ts_cli_init, "create this station's database, key and certificate request"},
    {"enroll", ts_cli_enroll, "install the certificate issued by the district"},
    {"run", ts_cli_run, "run the agent: sync with the district by itself"},
    {"status", ts_cli_status, "last successful sync, pending changes, conflicts, server reachable"},
    {"put", ts_cli_put, "write fields of a record: put TABLE ID field=value..."},
    {"delete", ts_cli_delete, "delete a record: delete TABLE ID"},
    {"get", ts_cli_get, "show a record: get TABLE ID"},
    {"list", ts_cli_list, "list records of a table: list TABLE"},
    {"import", ts_cli_import, "bulk-load a CSV file: import FILE.csv --table TABLE"},
    {"conflicts", ts_cli_conflicts, "conflicts found at this station"},
    {"clock-fix", ts_cli_clock_fix, "after the PC's clock ran ahead: re-stamp the changes the district refuses"},
    {"notices", ts_cli_notices, "notices from the district, unread and most urgent first"},
    {"notice", ts_cli_notice, "one notice: notice show ID"},
    {"attachment", ts_cli_attachment, "save a notice's attachment: attachment save NOTICE N [PATH]"},
    {"ack", ts_cli_ack, "acknowledge a notice or task: ack ID --by NAME"},
    {"progress", ts_cli_progress, "progress on a notice or task: progress ID --state ..."},
    {"report", ts_cli_report, "send a report or request to the district"},
    {"tasks", ts_cli_tasks, "plan tasks assigned to this station"},
    {"dump", ts_cli_dump, "canonical dump of the replica"},
    {"tables", ts_cli_tables, "the tables and their fields"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tramsync [-d DIR] [-c FILE] [--set SEC.KEY=VALUE] [--json] COMMAND [ARGS]\n\n"
                 "The tramsync station agent. Commands:\n");
    for (const ts_command *c = commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nOptions:\n"
                 "  -d, --data-dir DIR   the station's directory (default $TRAMSYNC_DIR or /var/lib/tramsync)\n"
                 "  -c, --config FILE    configuration file (default DIR/tramsync.conf)\n"
                 "      --set SEC.KEY=V  override one setting\n"
                 "      --json           machine-readable output\n"
                 "      --lang vi|en     language of messages (default: Vietnamese, English in an English locale)\n"
                 "  -V, --version        the version\n"
                 "`tramsync COMMAND --help` explains each command. Exit codes: 0 ok, 1 error, 2 usage,\n"
                 "3 not found, 4 invalid value or record, 5 not allowed.\n");
}

int main(int argc, char **argv)
{
    ts_cli cli;
    memset(&cli, 0, sizeof cli);
    const char *env = getenv("TRAMSYNC_DIR");
    cli.data_dir = env && *env ? env : "/var/lib/tramsync";
    cli.overrides = ts_xcalloc((size_t)argc + 1, sizeof *cli.overrides);
    const char *lang = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-d") == 0 || strcmp(a, "--data-dir") == 0) && i + 1 < argc)
            cli.data_dir = argv[++i];
        else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
            cli.config = argv[++i];
        else if (strcmp(a, "--set") == 0 && i + 1 < argc)
            cli.overrides[cli.noverrides++] = argv[++i];
        else if (strcmp(a, "--json") == 0)
            cli.json = true;
        else if (strcmp(a, "--lang") == 0 && i + 1 < argc)
            lang = argv[++i];
        else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("tramsync %s (protocol %d-%d)\n", TS_VERSION, TS_PROTO_VERSION_MIN, TS_PROTO_VERSION_MAX);
            free(cli.overrides);
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(cli.overrides);
            return 0;
        } else {
            fprintf(stderr, "tramsync: unknown option %s\n", a);
            usage(stderr);
            free(cli.overrides);
            return TS_EXIT_USAGE;
        }
    }
    if (ts_cli_pick_language(&cli, lang) < 0) {
        fprintf(stderr, "tramsync: --lang: vi or en\n");
        free(cli.overrides);
        return TS_EXIT_USAGE;
    }
    if (i == argc) {
        usage(stderr);
        free(cli.overrides);
        return TS_EXIT_USAGE;
    }
    /* a command's own --json, after its name, counts too */
    for (int k = i + 1; k < argc; k++)
        if (strcmp(argv[k], "--json") == 0) {
            cli.json = true;
            memmove(&argv[k], &argv[k + 1], (size_t)(argc - k - 1) * sizeof *argv);
            argc--;
            k--;
        }
    if (strcmp(argv[i], "run") != 0)
        ts_log_set_level(TS_LOG_WARN); /* commands speak on stdout; logs only for problems */
    for (const ts_command *c = commands; c->name; c++) {
        if (strcmp(c->name, argv[i]) == 0) {
            int rc = c->fn(&cli, argc - i, argv + i);
            free(cli.overrides);
            return rc;
        }
    }
    fprintf(stderr, "tramsync: unknown command \"%s\"\n", argv[i]);
    usage(stderr);
    free(cli.overrides);
    return TS_EXIT_USAGE;
}
