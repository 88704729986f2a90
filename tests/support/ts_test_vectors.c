/* Reading the test vectors of docs/PROTOCOL.md (see ts_test_vectors.h). */
#include "tests/support/ts_test_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/ts_error.h"
#include "common/ts_xmalloc.h"
#include "proto/ts_msg.h"
#include "tests/support/ts_test.h"

#define HEX_FENCE "```hex vector="
#define JSON_FENCE "```json vector="
#define EXAMPLE_FENCE "```json merge-example="

static int line_of(const char *text, const char *at)
{
    int line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

/* Lowercase hex pairs, one space between, 16 a line but the last. */
static size_t parse_hex(const char *name, int line, const char *start, const char *end, uint8_t **out)
{
    size_t n = 0, cap = 256;
    uint8_t *b = ts_xmalloc(cap);
    for (const char *l = start; l < end;) {
        const char *eol = memchr(l, '\n', (size_t)(end - l));
        if (eol == NULL)
            eol = end;
        size_t pairs = 0;
        for (const char *p = l; p < eol;) {
            bool ok = eol - p >= 2 && strchr("0123456789abcdef", p[0]) != NULL && p[0] != '\0' &&
                      strchr("0123456789abcdef", p[1]) != NULL && p[1] != '\0';
            if (!ok)
                fail_msg("docs/PROTOCOL.md:%d: vector %s: \"%.*s\" is not lowercase hex pairs", line, name,
                         (int)(eol - l), l);
            if (n == cap)
                b = ts_xrealloc(b, cap *= 2);
            unsigned v;
            sscanf(p, "%2x", &v);
            b[n++] = (uint8_t)v;
            pairs++;
            p += 2;
            if (p < eol && (*p != ' ' || p + 1 == eol))
                fail_msg("docs/PROTOCOL.md:%d: vector %s: pairs are separated by one space", line, name);
            if (p < eol)
                p++;
        }
        bool last = eol + 1 >= end;
        if (pairs == 0 || pairs > 16 || (!last && pairs != 16))
            fail_msg("docs/PROTOCOL.md:%d: vector %s: %zu bytes on a line (16 a line, fewer only on the last)", line,
                     name, pairs);
        l = eol + 1;
    }
    *out = b;
    return n;
}

static ts_tv *tv_get(ts_tv_doc *doc, const char *name, size_t len)
{
    for (size_t i = 0; i < doc->n; i++)
        if (strlen(doc->v[i].name) == len && memcmp(doc->v[i].name, name, len) == 0)
            return &doc->v[i];
    if (len == 0 || len >= sizeof doc->v[0].name)
        fail_msg("docs/PROTOCOL.md: vector name \"%.*s\"", (int)len, name);
    doc->v = ts_xreallocarray(doc->v, doc->n + 1, sizeof *doc->v);
    ts_tv *v = &doc->v[doc->n++];
    memset(v, 0, sizeof *v);
    memcpy(v->name, name, len);
    return v;
}

static void add_example(ts_tv_doc *doc, const char *name, const char *eol, const char *close, int line)
{
    size_t len = (size_t)(eol - name);
    if (len == 0 || len >= sizeof doc->ex[0].name)
        fail_msg("docs/PROTOCOL.md:%d: merge example name \"%.*s\"", line, (int)len, name);
    for (size_t i = 0; i < doc->nex; i++)
        if (strlen(doc->ex[i].name) == len && memcmp(doc->ex[i].name, name, len) == 0)
            fail_msg("docs/PROTOCOL.md:%d: a second merge example %.*s", line, (int)len, name);
    doc->ex = ts_xreallocarray(doc->ex, doc->nex + 1, sizeof *doc->ex);
    ts_tv_example *x = &doc->ex[doc->nex++];
    memset(x, 0, sizeof *x);
    memcpy(x->name, name, len);
    x->line = line;
    json_error_t je;
    x->json = json_loadb(eol + 1, (size_t)(close - eol), 0, &je);
    if (x->json == NULL)
        fail_msg("docs/PROTOCOL.md:%d: merge example %s: %s (its line %d)", line, x->name, je.text, je.line);
}

void ts_tv_load(ts_tv_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    char *path = ts_source_path("docs/PROTOCOL.md");
    doc->text = ts_read_file(path, NULL);
    if (doc->text == NULL) {
        fail_msg("cannot read %s", path);
        return;
    }
    free(path);
    for (const char *p = strstr(doc->text, "```"); p != NULL; p = strstr(p, "```")) {
        bool at_line = p == doc->text || p[-1] == '\n';
        bool hex = at_line && strncmp(p, HEX_FENCE, strlen(HEX_FENCE)) == 0;
        bool js = at_line && strncmp(p, JSON_FENCE, strlen(JSON_FENCE)) == 0;
        bool ex = at_line && strncmp(p, EXAMPLE_FENCE, strlen(EXAMPLE_FENCE)) == 0;
        const char *eol = strchr(p, '\n');
        if (eol == NULL)
            break;
        const char *close = strstr(eol, "\n```");
        if (close == NULL) {
            fail_msg("docs/PROTOCOL.md:%d: a code block is not closed", line_of(doc->text, p));
            return;
        }
        if (ex)
            add_example(doc, p + strlen(EXAMPLE_FENCE), eol, close, line_of(doc->text, p));
        if (hex || js) {
            const char *name = p + strlen(hex ? HEX_FENCE : JSON_FENCE);
            ts_tv *v = tv_get(doc, name, (size_t)(eol - name));
            int line = line_of(doc->text, p);
            if (hex) {
                if (v->hex != NULL)
                    fail_msg("docs/PROTOCOL.md:%d: a second hex vector %s", line, v->name);
                v->hex_line = line;
                v->hex_len = parse_hex(v->name, line, eol + 1, close + 1, &v->hex);
            } else {
                if (v->json != NULL)
                    fail_msg("docs/PROTOCOL.md:%d: a second json vector %s", line, v->name);
                v->json_line = line;
                json_error_t je;
                v->json = json_loadb(eol + 1, (size_t)(close - eol), 0, &je);
                if (v->json == NULL)
                    fail_msg("docs/PROTOCOL.md:%d: json vector %s: %s (its line %d)", line, v->name, je.text,
                             je.line);
            }
        }
        /* past the closing fence, which is not an opening one */
        p = strstr(close + 1, "```");
        if (p != NULL)
            p += 3;
    }
}

void ts_tv_free(ts_tv_doc *doc)
{
    for (size_t i = 0; i < doc->n; i++) {
        free(doc->v[i].hex);
        json_decref(doc->v[i].json);
    }
    free(doc->v);
    for (size_t i = 0; i < doc->nex; i++)
        json_decref(doc->ex[i].json);
    free(doc->ex);
    free(doc->text);
    memset(doc, 0, sizeof *doc);
}

const ts_tv *ts_tv_find(const ts_tv_doc *doc, const char *name)
{
    for (size_t i = 0; i < doc->n; i++)
        if (strcmp(doc->v[i].name, name) == 0)
            return &doc->v[i];
    return NULL;
}

static json_t *obj_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR: return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: {
        char *hex = ts_xmalloc(2 * (size_t)o->via.bin.size + 1);
        ts_hex_encode((const uint8_t *)o->via.bin.ptr, o->via.bin.size, hex);
        json_t *j = json_pack("{s:s}", "bin", hex);
        free(hex);
        return j;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(a, obj_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            char key[300];
            snprintf(key, sizeof key, "%.*s", k->type == MSGPACK_OBJECT_STR ? (int)k->via.str.size : 1,
                     k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?");
            json_object_set_new(m, key, obj_json(&o->via.map.ptr[i].val));
        }
        return m;
    }
    default: return NULL;
    }
}

json_t *ts_tv_body_json(const uint8_t *body, size_t len)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    json_t *j = NULL;
    if (msgpack_unpack_next(&up, (const char *)body, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        j = obj_json(&up.data);
    msgpack_unpacked_destroy(&up);
    return j;
}

static void pack_json(msgpack_packer *pk, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL: msgpack_pack_nil(pk); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    case JSON_INTEGER: msgpack_pack_int64(pk, (int64_t)json_integer_value(j)); break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); break;
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(j));
        msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(j));
        size_t i;
        const json_t *x;
        json_array_foreach(j, i, x)
            pack_json(pk, x);
        break;
    }
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(j));
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)j, k, x) {
            msgpack_pack_str(pk, strlen(k));
            msgpack_pack_str_body(pk, k, strlen(k));
            pack_json(pk, x);
        }
        break;
    }
    }
}

void ts_tv_pack_value(const json_t *j, ts_buf *out)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_json(&pk, j);
    ts_buf_append(out, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

ts_msg_type ts_tv_type(const char *name, unsigned *proto)
{
    size_t n = strlen(name);
    *proto = 1;
    if (n > 3 && name[n - 3] == '_' && name[n - 2] == 'V' && (name[n - 1] == '2' || name[n - 1] == '3')) {
        *proto = (unsigned)(name[n - 1] - '0');
        n -= 3;
    }
    return ts_msg_type_parse(name, n);
}

int ts_tv_encode_json(const json_t *j, unsigned proto, ts_buf *frame, char *err, size_t size)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_json(&pk, j);
    ts_msg m;
    ts_error e;
    ts_proto_limits lim;
    ts_proto_limits_default(&lim);
    lim.proto = proto;
    int rc = ts_msg_decode((const uint8_t *)sb.data, sb.size, &lim, &m, &e);
    msgpack_sbuffer_destroy(&sb);
    if (rc < 0) {
        snprintf(err, size, "%s: %s", ts_err_name(rc), e.msg);
        return rc;
    }
    ts_msg_encode(&m, frame);
    ts_msg_free(&m);
    return 0;
}

char *ts_tv_hex_lines(const uint8_t *bytes, size_t len)
{
    char *out = ts_xmalloc(3 * len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        o += (size_t)snprintf(out + o, 4, "%02x%c", bytes[i], i + 1 == len ? '\n' : i % 16 == 15 ? '\n' : ' ');
    out[o] = '\0';
    return out;
}

bool ts_tv_cell(const char *line, int i, char *out, size_t size)
{
    const char *p = line;
    for (int k = 0; k <= i; k++) {
        p = strchr(p, '|');
        if (p == NULL)
            return false;
        p++;
    }
    const char *q = strchr(p, '|');
    const char *nl = strchr(p, '\n');
    if (q == NULL || (nl != NULL && nl < q))
        return false;
    while (p < q && *p == ' ')
        p++;
    while (q > p && q[-1] == ' ')
        q--;
    snprintf(out, size, "%.*s", (int)(q - p), p);
    return true;
}
