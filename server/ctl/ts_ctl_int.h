/* tramsyncctl's admin API client, shared by its command files. */
#ifndef TS_CTL_INT_H
#define TS_CTL_INT_H

#include <stdbool.h>

#include <jansson.h>

#include "common/ts_buf.h"
#include "common/ts_notice.h"
#include "common/ts_registry.h"
#include "server/ctl/ts_ctl.h"

typedef struct ts_ctl_client {
    char host[256];
    char port[16];
    const char *ca;
    const char *cert;
    const char *key;
    const char *user;
    char token[96];
    bool en;      /* English (ts_ctl.en): messages of the connection too */
    bool want_tz; /* dates to show: ts_ctl__login takes the district's time zone (GET /api/labels) */
} ts_ctl_client;

typedef struct ts_ctl_resp {
    int status;
    ts_buf body; /* the answer, then a NUL (counted in len) */
    bool done;
} ts_ctl_resp;

/* The options of the API commands (one parser for all, as getopt_long
 * takes them), and the command's words after them from *first_arg. */
#define TS_CTL_MAX_ATTACH_ARGS 16
typedef struct ts_ctl_opts {
    const char *subject, *urgency, *category, *doc_type, *number, *body, *body_file, *deadline, *responsible, *task,
        *expected, *legal_basis, *issuer, *to, *stations, *communes, *instructions, *role, *full_name, *outbreak,
        *reason;
    bool cc;
    /* --attach, as given: the server enforces its own limit, one more than
     * it lets it say so */
    const char *attach[TS_CTL_MAX_ATTACH_ARGS];
    size_t nattach;
    bool allow_attach; /* set by the caller: notice send only */
} ts_ctl_opts;

/* Parses argv (argv[0] the command's word) into o and c's connection
 * options; 0, TS_CTL_USAGE, or an error already said. */
int ts_ctl__parse(int argc, char **argv, ts_ctl_opts *o, ts_ctl_client *c, int *first_arg);

/* A command with a subcommand (argv[1], "notice list"), its options
 * parsed into o (zeroed or prepared by the caller) and the words after them. */
typedef struct ts_ctl_sub {
    const char *name;
    char **rest;
    int nrest;
} ts_ctl_sub;
int ts_ctl__parse_sub(int argc, char **argv, ts_ctl_opts *o, ts_ctl_client *c, ts_ctl_sub *sub);

/* An error on stderr ("tramsyncctl: ..."); TS_CTL_ERROR. */
int ts_ctl__err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One request on a fresh TLS connection; r->body holds the answer and a NUL. */
int ts_ctl__request(ts_ctl_client *c, const char *method, const char *path, const json_t *body, ts_ctl_resp *r);
int ts_ctl__login(ts_ctl_client *c);
/* A request whose answer must be 2xx JSON (errors said on stderr). */
int ts_ctl__call(ts_ctl_client *c, const char *method, const char *path, const json_t *body, json_t **out);
/* The connection options (--server, --ca, --user, --cert, --key). */
int ts_ctl__conn_opts(int argc, char **argv, ts_ctl_client *c, int *first_arg);

/* --to all | --stations a,b | --communes x,y as the API's recipients. */
json_t *ts_ctl__recipients(const char *to, const char *stations, const char *communes);
/* --json output (indented). */
void ts_ctl__print(json_t *j);
/* A string member, "" when absent. */
const char *ts_ctl__s(const json_t *o, const char *key);
json_int_t ts_ctl__i(const json_t *o, const char *key);

/* Words for people, never a code: a code of the notice vocabulary
 * (ts_notice_urgencies, ...) or an enum value of the table registry
 * (table.field, its value_labels) in the language asked for; the code itself
 * only when it has no label. */
const char *ts_ctl__label(const ts_ctl *ctl, const ts_label *list, size_t n, const char *code);
const char *ts_ctl__value(const ts_ctl *ctl, const char *table, const char *field, const char *code);
/* The table registry built in (labels of tables and fields), loaded once;
 * NULL when it cannot be. */
const ts_registry *ts_ctl__registry(void);
/* The registry ts_ctl__value read, freed (at the end of a command). */
void ts_ctl__labels_free(void);

/* GET path and a line for each item of the answer's array `key` (line
 * NULL: the item as one JSON line); --json: the answer as it is. */
int ts_ctl__list(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv, const char *path, const char *key,
                 void (*line)(const ts_ctl *ctl, const json_t *item));

/* The command families, one file each (ts_ctl_api.c dispatches). */
int ts_ctl_notice(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);
int ts_ctl_task(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);
int ts_ctl_outbreak(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);
int ts_ctl_escalations(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);

/* plan load FILE, plan show (ts_ctl_plan.c) */
int ts_ctl_plan(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);
/* calendar duty FILE, calendar remind OCCURRENCE, calendar grid [DUTY] (ts_ctl_calendar.c) */
int ts_ctl_calendar(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);
/* export ..., report quarterly ... (ts_ctl_plan.c) */
int ts_ctl_export(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);

#endif
