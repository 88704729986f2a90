/* Internals of the command line, shared by its plumbing (client/ts_cli.c:
 * exit codes, failing and usage alike in every command, opening the
 * station, JSON output) and its command families (client/ts_cli_*.c, one
 * file per family, as main.c's table lists them). A family's file needs this
 * header and nothing of the others'. Names shared between files are
 * ts_cli__*; everything else stays static in its file. */
#ifndef TS_CLI_INT_H
#define TS_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "client/ts_agent.h"
#include "client/ts_cli.h"

/* This station, opened for one command. */
typedef struct ts_cli__ctx {
    ts_agent_config cfg;
    ts_registry reg;
    ts_store *store;
} ts_cli__ctx;

/* Text in the language staff asked for (ts_cli.en): Vietnamese first. */
#define TS__L(cli, in_vi, in_en) ((cli)->en ? (in_en) : (in_vi))

/* Prints an error the way scripts and people both can read. */
int ts_cli__fail(const ts_cli *cli, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An error whose text comes from a lower layer, in English: in Vietnamese
 * it follows a sentence saying what failed (what_vi), so that staff who
 * read no English still know what did not happen. */
int ts_cli__fail_err(const ts_cli *cli, int code, const char *what_vi, const char *msg);
int ts_cli__usage(const char *text, int argc, char **argv);
bool ts_cli__wants_help(int argc, char **argv);

int ts_cli__open(ts_cli *cli, ts_cli__ctx *x, bool read_only);
void ts_cli__close(ts_cli__ctx *x);
const ts_table_def *ts_cli__table(ts_cli *cli, ts_cli__ctx *x, const char *name, int *rc);

void ts_cli__print_json(json_t *o);

#endif
