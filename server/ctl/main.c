/* tramsyncctl: district admin and operations. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_version.h"
#include "server/ctl/ts_ctl.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: tramsyncctl [--pki DIR] [--json] COMMAND [ARGS]\n"
                 "\n"
                 "Commands:\n"
                 "  ca ...      the district CA: init, issue-server, issue-station, issue-admin, revoke, crl, list\n"
                 "  backup FILE         an online, consistent copy of the district database\n"
                 "  verify-backup FILE  check a backup (integrity, schema, counts)\n"
                 "  restore FILE        put a backup in place (tramsyncd stopped; --force to replace)\n"
                 "  status      the service and every station at a glance\n"
                 "  notice ...  send, list, show, status ID, redistribute REPORT_ID\n"
                 "  task ...    list, status ID, assign ID, not-applicable ID --reason R\n"
                 "  outbreak .. open REPORT_ID [--stations a,b], list, show ID\n"
                 "  plan ...    load FILE (a provincial plan, docs/PLANS.md), show\n"
                 "  calendar .. duty FILE, remind OCCURRENCE, grid [DUTY]: the calendar (recurring duties)\n"
                 "  export      targets, task progress and reporting completeness for the province (CSV, XLSX)\n"
                 "  report quarterly  the quarter's summary report (PDF, A4, Vietnamese)\n"
                 "  report notice ID  a notice as an official document to print (PDF, A4)\n"
                 "  escalations, conflicts, user add|list, record put TABLE ID field=value...\n"
                 "  (all but ca go through the admin API: `tramsyncctl notice --help`)\n"
                 "\n"
                 "Options:\n"
                 "  --pki DIR   the CA directory (default $TRAMSYNC_PKI or /etc/tramsync/pki)\n"
                 "  --json      machine-readable output\n"
                 "  -V          the version\n");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up is an error to report, not a crash */
    ts_ctl ctl;
    memset(&ctl, 0, sizeof ctl);
    const char *env = getenv("TRAMSYNC_PKI");
    ctl.pki_dir = env && *env ? env : "/etc/tramsync/pki";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--pki") == 0 && i + 1 < argc)
            ctl.pki_dir = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            ctl.json = true;
        else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("tramsyncctl %s\n", TS_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tramsyncctl: unknown option %s\n", argv[i]);
            usage(stderr);
            return TS_CTL_USAGE;
        }
    }
    if (i == argc) {
        usage(stderr);
        return TS_CTL_USAGE;
    }
    if (strcmp(argv[i], "ca") == 0)
        return ts_ctl_ca(&ctl, argc - i, argv + i);
    if (strcmp(argv[i], "backup") == 0 || strcmp(argv[i], "verify-backup") == 0 || strcmp(argv[i], "restore") == 0) {
        int rc = ts_ctl_db(&ctl, argc - i, argv + i);
        if (rc == TS_CTL_USAGE)
            fprintf(stderr, "usage: tramsyncctl backup|verify-backup|restore FILE [--database DB] [--config FILE]"
                            " [--force]\n");
        return rc;
    }
    static const char *const api[] = {"status", "notice", "task",   "outbreak", "escalations", "conflicts",
                                      "user",   "record", "plan",   "export",   "report", "calendar"};
    for (size_t k = 0; k < sizeof api / sizeof *api; k++)
        if (strcmp(argv[i], api[k]) == 0)
            return ts_ctl_api(&ctl, argc - i, argv + i);
    fprintf(stderr, "tramsyncctl: unknown command \"%s\"\n", argv[i]);
    usage(stderr);
    return TS_CTL_USAGE;
}
