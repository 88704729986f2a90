/* The table registry: which tables exist, their fields and types, who may
 * write them and who may see them. Schemas are data (common/schema/tables.json,
 * documented in docs/TABLES.md), loaded at start, so adding a table needs no
 * protocol or code change. */
#ifndef TS_REGISTRY_H
#define TS_REGISTRY_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/ts_error.h"
#include "common/ts_record.h"

typedef enum ts_field_type {
    TS_FT_TEXT,
    TS_FT_INT,
    TS_FT_REAL,
    TS_FT_BOOL,
    TS_FT_DATE,     /* "YYYY-MM-DD" */
    TS_FT_DATETIME, /* RFC 3339: "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM)" */
    TS_FT_ENUM,     /* one of `values` */
    TS_FT_LIST,     /* array of text, at most `max` items */
    TS_FT_BIN       /* bytes, at most `max` */
} ts_field_type;

typedef struct ts_field_def {
    char *name;
    char *label_vi, *label_en; /* the field's name for people (default: its name) */
    ts_field_type type;
    bool required;
    bool station_writable; /* shared tables: a station may write it */
    bool has_min, has_max;
    double min, max; /* value range (int/real), characters (text), items (list), bytes (bin) */
    char **values;   /* enum values */
    char **value_vi, **value_en; /* each value's name for people (table's value_labels; default: the value) */
    size_t nvalues;
    bool has_pattern;
    regex_t pattern; /* POSIX extended, anchored by the schema author */
    char *pattern_src;
    struct ts_fast_pattern *fast; /* the pattern matched without regexec, when it is simple enough */
    /* "sha256_of": this text field holds the SHA-256 (64 lowercase hex
     * digits) of another field's bytes; ts_table_validate checks it on every
     * write and every applied change */
    const struct ts_field_def *sha256_of;
    char *sha256_of_name;
} ts_field_def;

typedef enum ts_table_kind {
    TS_TABLE_STATION,  /* owned by one station: it writes and reads, the district reads */
    TS_TABLE_DISTRICT, /* written by the district, read by the stations in its audience */
    TS_TABLE_SHARED    /* created by the district; stations in its audience may update some fields */
} ts_table_kind;

typedef struct ts_table_def {
    char *name;
    ts_table_kind kind;
    bool personal; /* personal health data: every admin read is audited */
    char *label_vi;
    char *label_en;
    bool audience_all;             /* district tables seen by every station */
    const ts_field_def *audience;  /* field naming the stations that see a record */
    const ts_field_def *priority;  /* urgency field (notices), if any */
    ts_field_def *fields;
    size_t nfields;
    bool has_checksums; /* some field has sha256_of */
} ts_table_def;

typedef struct ts_registry {
    ts_table_def *tables;
    size_t ntables;
    char *district_owner; /* owner of district and shared records */
    int version;
} ts_registry;

/* The registry compiled into the binaries (from common/schema/tables.json). */
int ts_registry_load_default(ts_registry *reg, ts_error *err);
int ts_registry_load_file(ts_registry *reg, const char *path, ts_error *err);
int ts_registry_load_json(ts_registry *reg, const char *json, size_t len, ts_error *err);
void ts_registry_free(ts_registry *reg);

const ts_table_def *ts_registry_table(const ts_registry *reg, const char *name);
const ts_field_def *ts_table_field(const ts_table_def *t, const char *name);
const char *ts_table_kind_name(ts_table_kind kind);
/* An enum value's name for people, in Vietnamese or English (the table's
 * value_labels); the value itself when it has none or is not one of the
 * field's values. */
const char *ts_field_value_label(const ts_field_def *f, const char *value, bool en);
const char *ts_field_type_name(ts_field_type type);

/* Checks a version against its table: every field known, of its type and
 * within its limits; required fields present (unless the record is deleted);
 * every checksum field (sha256_of) that holds a value is 64 lowercase hex
 * digits equal to the SHA-256 of the bytes of the field it names, which must
 * be present. TS_EINVALID_RECORD with a precise reason. */
int ts_table_validate(const ts_table_def *t, const ts_version *v, ts_error *err);
/* Checks one value (canonical msgpack) against a field definition. */
int ts_field_validate(const ts_field_def *f, const uint8_t *value, size_t len, ts_error *err);

/* Who sees a record: every station, or a list of station codes (the owner
 * for station tables; the audience field's value for the others). */
#define TS_AUDIENCE_MAX 128
typedef struct ts_audience {
    bool all;
    size_t n;
    char code[TS_AUDIENCE_MAX][TS_KEY_MAX + 1];
} ts_audience;

/* TS_EINVALID_RECORD when the audience field is missing or malformed. */
int ts_table_audience(const ts_table_def *t, const char *owner, const ts_version *v, ts_audience *out,
                      ts_error *err);
bool ts_audience_has(const ts_audience *a, const char *station);

/* SHA-256 of len bytes as 64 lowercase hex digits and a NUL; false (out
 * empty) when OpenSSL cannot compute it. */
bool ts_sha256_hex(const void *data, size_t len, char out[65]);

/* Whether field f's pattern is matched by the built-in matcher (a sequence
 * of character classes with counts) on ASCII values, instead of regexec. */
bool ts_pattern_fast(const ts_field_def *f);

bool ts_date_valid(const char *s, size_t n);
bool ts_datetime_valid(const char *s, size_t n);

#endif
