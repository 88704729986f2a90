/* INI configuration (inih), described by a table of keys so that loading,
 * command-line overrides, `--check-config` and the documented default file
 * all come from one place. Unknown keys are errors: a typo never silently
 * falls back to a default. */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/ts_error.h"

typedef enum ts_cfg_type {
    TS_CFG_STR,      /* char *, owned by the config */
    TS_CFG_U64,      /* uint64_t */
    TS_CFG_BOOL,     /* bool */
    TS_CFG_DURATION, /* uint64_t milliseconds: "250ms", "10s", "5m", "2h", "1d" (bare: seconds) */
    TS_CFG_SIZE      /* uint64_t bytes: "64KiB", "4MiB", "1GiB", "512" */
} ts_cfg_type;

typedef struct ts_cfg_key {
    const char *section;
    const char *key;
    ts_cfg_type type;
    size_t offset;
    const char *def; /* default, as it would be written in the file */
    const char *doc; /* one line for the documented default file */
} ts_cfg_key;

/* Sets every key to its default. */
int ts_cfg_defaults(void *cfg, const ts_cfg_key *keys, ts_error *err);
/* Loads a file over the current values. */
int ts_cfg_load(void *cfg, const ts_cfg_key *keys, const char *path, ts_error *err);
/* One override, "section.key=value". */
int ts_cfg_override(void *cfg, const ts_cfg_key *keys, const char *assignment, ts_error *err);
int ts_cfg_set(void *cfg, const ts_cfg_key *keys, const char *section, const char *key, const char *value,
               ts_error *err);
void ts_cfg_free(void *cfg, const ts_cfg_key *keys);
/* Writes a documented configuration file holding the current values. */
void ts_cfg_write(FILE *out, const void *cfg, const ts_cfg_key *keys, const char *title);

int ts_parse_duration_ms(const char *s, uint64_t *out);
int ts_parse_size(const char *s, uint64_t *out);
int ts_parse_bool(const char *s, bool *out);
/* "host:port", "[v6]:port" or ":port" (all interfaces) into a sockaddr. */
struct sockaddr_storage;
int ts_parse_listen(const char *s, struct sockaddr_storage *out, ts_error *err);

#endif
