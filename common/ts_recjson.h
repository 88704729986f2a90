/* Records and values as JSON (jansson), for the admin API, the console and
 * the command lines: record -> JSON object, and typed JSON -> field value. */
#ifndef TS_RECJSON_H
#define TS_RECJSON_H

#include <jansson.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"
#include "common/ts_record.h"
#include "common/ts_registry.h"

/* A value (canonical msgpack) as JSON; bin becomes {"bin": "<hex>"}. */
json_t *ts_recjson_value(const uint8_t *value, size_t len);
/* {"table", "id", "owner", "deleted", "fields": {...}} and, with meta, "vv",
 * "seq" and per-field "written": {field: {"replica", "counter", "hlc"}}. */
json_t *ts_recjson_record(const ts_change *c, bool meta);
/* Converts JSON to a field's value by the field's type (text, numbers,
 * booleans, lists of text, bin from {"bin":"hex"} or base64 is not
 * accepted). JSON null clears. */
int ts_recjson_to_value(const ts_field_def *f, const json_t *j, ts_buf *out, ts_error *err);
/* Text field of a record, copied into out; false when absent or not text. */
bool ts_recjson_text(const ts_version *v, const char *field, char *out, size_t size);
/* An int or bool field; false (out untouched) when absent or of another type. */
bool ts_recjson_int(const ts_version *v, const char *field, int64_t *out);
bool ts_recjson_bool(const ts_version *v, const char *field, bool *out);

/* A JSON object's string member, or "" when it is absent or not a string. */
const char *ts_json_str(const json_t *o, const char *key);

#endif
