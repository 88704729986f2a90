/* The `tramsync` command line: staff and scripts use it while the agent runs
 * (SQLite's locking makes the two safe together). Every command has --help,
 * --json output for scripts, and documented exit codes. */
#ifndef TS_CLI_H
#define TS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "common/ts_registry.h"
#include "common/ts_store.h"

/* Exit codes (docs/STATION.md). */
enum {
    TS_EXIT_OK = 0,
    TS_EXIT_ERROR = 1,     /* anything else: storage, network, files */
    TS_EXIT_USAGE = 2,     /* bad command line */
    TS_EXIT_NOT_FOUND = 3, /* no such record, table or file */
    TS_EXIT_INVALID = 4,   /* a value or record the schema refuses */
    TS_EXIT_FORBIDDEN = 5  /* not this station's to write */
};

typedef struct ts_cli {
    const char *data_dir;
    const char *config;
    bool json;
    bool en; /* English: --lang en, or an English locale; Vietnamese otherwise */
    char **overrides;
    int noverrides;
} ts_cli;

int ts_cli_init(ts_cli *cli, int argc, char **argv);
int ts_cli_enroll(ts_cli *cli, int argc, char **argv);
int ts_cli_run(ts_cli *cli, int argc, char **argv);
int ts_cli_put(ts_cli *cli, int argc, char **argv);
int ts_cli_delete(ts_cli *cli, int argc, char **argv);
int ts_cli_get(ts_cli *cli, int argc, char **argv);
int ts_cli_list(ts_cli *cli, int argc, char **argv);
int ts_cli_import(ts_cli *cli, int argc, char **argv);
int ts_cli_status(ts_cli *cli, int argc, char **argv);
int ts_cli_conflicts(ts_cli *cli, int argc, char **argv);
int ts_cli_dump(ts_cli *cli, int argc, char **argv);
int ts_cli_tables(ts_cli *cli, int argc, char **argv);
int ts_cli_notices(ts_cli *cli, int argc, char **argv);
int ts_cli_notice(ts_cli *cli, int argc, char **argv);
int ts_cli_attachment(ts_cli *cli, int argc, char **argv);
int ts_cli_ack(ts_cli *cli, int argc, char **argv);
int ts_cli_progress(ts_cli *cli, int argc, char **argv);
int ts_cli_report(ts_cli *cli, int argc, char **argv);
int ts_cli_tasks(ts_cli *cli, int argc, char **argv);
int ts_cli_clock_fix(ts_cli *cli, int argc, char **argv);
int ts_cli_diseases(ts_cli *cli, int argc, char **argv);
int ts_cli_case(ts_cli *cli, int argc, char **argv);
int ts_cli_outbreaks(ts_cli *cli, int argc, char **argv);
int ts_cli_people(ts_cli *cli, int argc, char **argv);
int ts_cli_calendar(ts_cli *cli, int argc, char **argv);
int ts_cli_submit(ts_cli *cli, int argc, char **argv);

/* Staff read Vietnamese first: English only when asked for (--lang en) or
 * when the locale (LC_ALL, LC_MESSAGES, LANG) is English. lang: the
 * --lang value or NULL. 0, or -1 for a language not offered. */
int ts_cli_pick_language(ts_cli *cli, const char *lang);

/* Maps a TS_E* code to an exit code. */
int ts_cli_exit_code(int err);
/* Parses a command-line value for a field into canonical msgpack; en: the
 * complaint in English, else Vietnamese. */
int ts_cli_parse_value(const ts_field_def *f, const char *text, bool en, ts_buf *out, ts_error *err);

#endif
