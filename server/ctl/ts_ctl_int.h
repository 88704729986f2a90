/* tramsyncctl's admin API client, shared by its command files. */
#ifndef TS_CTL_INT_H
#define TS_CTL_INT_H

#include <stdbool.h>

#include <jansson.h>

#include "common/ts_buf.h"
#include "server/ctl/ts_ctl.h"

typedef struct ts_ctl_client {
    char host[256];
    char port[16];
    const char *ca;
    const char *cert;
    const char *key;
    const char *user;
    char token[96];
} ts_ctl_client;

typedef struct ts_ctl_resp {
    int status;
    ts_buf body; /* the answer, then a NUL (counted in len) */
    bool done;
} ts_ctl_resp;

/* One request on a fresh TLS connection; r->body holds the answer and a NUL. */
int ts_ctl__request(ts_ctl_client *c, const char *method, const char *path, const json_t *body, ts_ctl_resp *r);
int ts_ctl__login(ts_ctl_client *c);
/* A request whose answer must be 2xx JSON (errors said on stderr). */
int ts_ctl__call(ts_ctl_client *c, const char *method, const char *path, const json_t *body, json_t **out);
/* The connection options (--server, --ca, --user, --cert, --key). */
int ts_ctl__conn_opts(int argc, char **argv, ts_ctl_client *c, int *first_arg);

/* plan load FILE, plan show (ts_ctl_plan.c) */
int ts_ctl_plan(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);
/* calendar duty FILE, calendar remind OCCURRENCE, calendar grid [DUTY] (ts_ctl_calendar.c) */
int ts_ctl_calendar(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);
/* export ..., report quarterly ... (ts_ctl_plan.c) */
int ts_ctl_export(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv);

#endif
