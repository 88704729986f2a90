/* What every resource of the admin API answers with: errors that tell a
 * client what it did wrong and nothing of the server's insides, audit entries
 * in the caller's name, query parameters read strictly (a bad one is a 400,
 * never a guess), and search as a Vietnamese health manager types it. Kept in
 * one place so that every endpoint answers alike. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/ts_recjson.h"
#include "common/ts_log.h"
#include "server/admin/ts_admin_int.h"

void ts_admin__fail(ts_admin__job *j, int status, const char *code, const char *message)
{
    json_decref(j->resp);
    j->status = status;
    j->resp = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
}

void ts_admin__fail_err(ts_admin__job *j, const ts_error *err)
{
    int status = 500;
    switch (err->code) {
    case TS_ENOT_FOUND:
    case TS_EUNKNOWN_TABLE: status = 404; break;
    case TS_EINVALID_RECORD:
    case TS_EBAD_VALUE:
    case TS_EWRONG_TYPE: status = 422; break;
    case TS_EFORBIDDEN: status = 403; break;
    default: status = 500; break;
    }
    /* no SQL and no internals leave the server: a 500 says only that */
    ts_admin__fail(j, status, ts_err_name(err->code), status == 500 ? "internal error (see the server log)" : err->msg);
    if (status == 500)
        ts_log_error("admin_internal_error", "route=%s reason=%s", j->route ? j->route->pattern : "-", err->msg);
}

void ts_admin__file(ts_admin__job *j, int rc, const ts_error *err, const char *type, const char *filename)
{
    if (rc < 0) {
        ts_buf_free(&j->text);
        ts_admin__fail_err(j, err);
        return;
    }
    j->status = 200;
    j->text_type = type;
    snprintf(j->headers, sizeof j->headers, "Content-Disposition: attachment; filename=\"%s\"\r\n", filename);
}

void ts_admin__ok(ts_admin__job *j, int status, json_t *resp)
{
    json_decref(j->resp);
    j->status = status;
    j->resp = resp;
}

ts_actor ts_admin__actor(const ts_admin__job *j)
{
    ts_actor a = {TS_ACTOR_ADMIN, j->user, NULL, j->peer};
    return a;
}

int ts_admin__audit(ts_admin__job *j, ts_store *st, const char *action, const char *table, const char *record,
                    const char *outcome, const char *detail)
{
    ts_actor a = ts_admin__actor(j);
    return ts_store_audit(st, &a, action, table, record, outcome, detail) < 0 ? -1 : 0;
}

void ts_admin__fail_storage(ts_admin__job *j, const char *what)
{
    ts_error err;
    ts_error_set(&err, TS_ESTORAGE, "%s could not be stored", what);
    ts_admin__fail_err(j, &err);
}

void ts_admin__set_event(ts_admin__job *j, const char *event, json_t *data)
{
    snprintf(j->event, sizeof j->event, "%s", event);
    json_decref(j->event_data);
    j->event_data = data;
}

/* ---------------------------------------------------------------- helpers */

const char *ts_admin__str(const json_t *o, const char *key)
{
    return ts_json_str(o, key);
}

bool ts_admin__q(ts_admin__job *j, const char *name, char *out, size_t size)
{
    ts_http_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.query, sizeof r.query, "%s", j->query);
    return ts_http_query(&r, name, out, size) && out[0];
}

/* A numeric query parameter for paging: absent gives def; present, it must
 * be a plain decimal number (else 400 and false); capped at max. */
bool ts_admin__q_uint(ts_admin__job *j, const char *name, uint32_t def, uint32_t max, uint32_t *out)
{
    char buf[24];
    *out = def;
    if (!ts_admin__q(j, name, buf, sizeof buf))
        return true;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end != '\0' || buf[0] == '-' || buf[0] == '+' || buf[0] == ' ') {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a whole number", name);
        ts_admin__fail(j, 400, "BAD_REQUEST", msg);
        return false;
    }
    *out = v > max ? max : (uint32_t)v;
    return true;
}

/* A query parameter that must be one of `allowed` (NULL-terminated); absent
 * gives the first. 400 and false on anything else. */
bool ts_admin__q_enum(ts_admin__job *j, const char *name, const char *const *allowed, char *out, size_t size)
{
    if (!ts_admin__q(j, name, out, size)) {
        snprintf(out, size, "%s", allowed[0]);
        return true;
    }
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(out, allowed[i]) == 0)
            return true;
    char msg[300];
    size_t o = (size_t)snprintf(msg, sizeof msg, "%s must be one of:", name);
    for (size_t i = 0; allowed[i] && o < sizeof msg; i++)
        o += (size_t)snprintf(msg + o, sizeof msg - o, " %s", allowed[i]);
    ts_admin__fail(j, 400, "BAD_REQUEST", msg);
    return false;
}

/* Search folding: lower case and without Vietnamese tone and vowel marks
 * ("Bình Xuyên" matches "binh xuyen"), as a health manager types. */
static const char *const ts__fold_groups[][2] = {
    {"a", "àáảãạăằắẳẵặâầấẩẫậÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ"}, {"e", "èéẻẽẹêềếểễệÈÉẺẼẸÊỀẾỂỄỆ"},
    {"i", "ìíỉĩịÌÍỈĨỊ"}, {"o", "òóỏõọôồốổỗộơờớởỡợÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ"},
    {"u", "ùúủũụưừứửữựÙÚỦŨỤƯỪỨỬỮỰ"}, {"y", "ỳýỷỹỵỲÝỶỸỴ"}, {"d", "đĐ"},
};

static size_t ts__utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

void ts_admin__fold(const char *s, char *out, size_t size)
{
    size_t o = 0;
    while (*s && o + 1 < size) {
        unsigned char c = (unsigned char)*s;
        size_t n = ts__utf8_len(c);
        if (n == 1) {
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            s++;
            continue;
        }
        char base = 0;
        for (size_t g = 0; g < sizeof ts__fold_groups / sizeof *ts__fold_groups && !base; g++)
            for (const char *p = ts__fold_groups[g][1]; *p; p += ts__utf8_len((unsigned char)*p))
                if (ts__utf8_len((unsigned char)*p) == n && strncmp(p, s, n) == 0) {
                    base = ts__fold_groups[g][0][0];
                    break;
                }
        if (base) {
            out[o++] = base;
        } else {
            for (size_t k = 0; k < n && s[k] && o + 1 < size; k++)
                out[o++] = s[k];
        }
        for (size_t k = 0; k < n && *s; k++)
            s++;
    }
    out[o] = '\0';
}

/* Whether any of the strings contains the folded needle. */
bool ts_admin__matches(const char *folded_needle, const char *const *hay, size_t n)
{
    if (folded_needle[0] == '\0')
        return true;
    char buf[1024];
    for (size_t i = 0; i < n; i++) {
        if (hay[i] == NULL || hay[i][0] == '\0')
            continue;
        ts_admin__fold(hay[i], buf, sizeof buf);
        if (strstr(buf, folded_needle) != NULL)
            return true;
    }
    return false;
}

/* The search text (?q=), folded; empty when absent. */
void ts_admin__q_search(ts_admin__job *j, char *out, size_t size)
{
    char raw[256];
    if (ts_admin__q(j, "q", raw, sizeof raw))
        ts_admin__fold(raw, out, size);
    else
        out[0] = '\0';
}

/* A page of a JSON array (steals nothing: increfs the slice). */
json_t *ts_admin__slice(json_t *const *items, size_t n, uint32_t offset, uint32_t limit)
{
    json_t *arr = json_array();
    for (size_t i = offset; i < n && i < (size_t)offset + limit; i++)
        json_array_append(arr, items[i]);
    return arr;
}

bool ts_admin__has_paging(ts_admin__job *j)
{
    char buf[8];
    return ts_admin__q(j, "limit", buf, sizeof buf) || ts_admin__q(j, "offset", buf, sizeof buf) ||
           ts_admin__q(j, "q", buf, sizeof buf);
}

int64_t ts_admin__scalar(ts_store *st, const char *sql)
{
    sqlite3_stmt *q;
    int64_t v = 0;
    if (sqlite3_prepare_v2(ts_store_db(st), sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    return v;
}

int ts_admin__unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}
