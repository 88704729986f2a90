#include "client/ts_agent_report.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/ts_arena.h"
#include "common/ts_buf.h"
#include "common/ts_log.h"
#include "common/ts_mp.h"
#include "common/ts_notice.h"
#include "common/ts_recjson.h"
#include "common/ts_text.h"
#include "common/ts_version.h"

/* at most 300 columns, cut on a character (the field holds 600) */
static void ts__cut(const char *s, char *out, size_t size)
{
    size_t n = s ? ts_text_prefix(s, 300) : 0; /* at most 4 bytes a character and its marks: well within size */
    if (n >= size)
        n = 0;
    if (n > 0)
        memcpy(out, s, n);
    out[n] = '\0';
}

/* changes waiting to be pushed, this record's own version not counted */
int ts_agent_report_pending(ts_store *st, const char *code, int64_t *out)
{
    uint64_t n = 0, acked = 0;
    if (ts_store_pending_count(st, &n) < 0)
        return -1;
    ts_store_meta_get_u64(st, "push_acked", &acked);
    ts_arena arena;
    ts_arena_init(&arena, 1024);
    ts_change c;
    ts_error err;
    if (ts_store_get(st, TS_AGENT_REPORT_TABLE, code, &c, &arena, &err) == 0) {
        if (c.lseq > acked && n > 0)
            n--;
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    *out = (int64_t)n;
    return 0;
}

/* what the record holds now (the previous run's last report) */
static void ts__load(ts_agent_report *r, ts_store *st, const char *code)
{
    r->loaded = true;
    ts_arena arena;
    ts_arena_init(&arena, 2048);
    ts_change c;
    ts_error err;
    if (ts_store_get(st, TS_AGENT_REPORT_TABLE, code, &c, &arena, &err) == 0) {
        r->have = !ts_version_deleted(&c.v);
        for (uint32_t i = 0; r->have && i < c.v.nfields; i++) {
            const ts_field *f = &c.v.fields[i];
            ts_buf b = TS_BUF_INIT;
            ts_value_to_json(&b, f->value, f->value_len);
            json_t *v = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY, NULL);
            if (strcmp(f->name, "pending_changes") == 0)
                r->pending = json_integer_value(v);
            else if (strcmp(f->name, "last_error") == 0)
                snprintf(r->last_error, sizeof r->last_error, "%s", json_string_value(v) ? json_string_value(v) : "");
            else if (strcmp(f->name, "storage_problem") == 0)
                snprintf(r->storage_problem, sizeof r->storage_problem, "%s",
                         json_string_value(v) ? json_string_value(v) : "");
            else if (strcmp(f->name, "updated_at") == 0 && json_string_value(v) != NULL)
                ts_time_parse(json_string_value(v), &r->written_ms);
            else if (strcmp(f->name, "agent_version") == 0)
                snprintf(r->version, sizeof r->version, "%s", json_string_value(v) ? json_string_value(v) : "");
            json_decref(v);
            ts_buf_free(&b);
        }
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
}

bool ts_agent_report_tick(ts_agent_report *r, ts_store *st, const ts_registry *reg, const char *code,
                          const char *last_error, const char *storage_problem, uint64_t now_ms, uint64_t every_ms)
{
    const ts_table_def *t = ts_registry_table(reg, TS_AGENT_REPORT_TABLE);
    if (every_ms == 0 || t == NULL || code == NULL || code[0] == '\0')
        return false; /* turned off, or a registry without the table */
    if (!r->loaded) {
        ts__load(r, st, code);
        /* at most every `every`, across restarts too: the last run's write counts */
        if (r->written_ms != 0 && r->written_ms <= now_ms)
            r->last_try_ms = r->written_ms;
    }
    if (r->last_try_ms != 0 && now_ms - r->last_try_ms < every_ms)
        return false;
    int64_t pending = 0;
    if (ts_agent_report_pending(st, code, &pending) < 0)
        return false;
    /* the record's text fields hold at most 600 characters: cut on a
     * character, as the record's limit counts characters */
    char err_now[TS_AGENT_REPORT_TEXT], storage_now[TS_AGENT_REPORT_TEXT];
    ts__cut(last_error, err_now, sizeof err_now);
    ts__cut(storage_problem, storage_now, sizeof storage_now);
    if (r->have && pending == r->pending && strcmp(err_now, r->last_error) == 0 &&
        strcmp(storage_now, r->storage_problem) == 0 && strcmp(r->version, TS_VERSION) == 0)
        return false;
    r->last_try_ms = now_ms;
    char when[40];
    ts_time_iso(now_ms, when, sizeof when);
    json_t *vals = json_pack("{s:I,s:s,s:s,s:s,s:s}", "pending_changes", (json_int_t)pending, "last_error", err_now,
                             "storage_problem", storage_now, "agent_version", TS_VERSION, "updated_at", when);
    ts_buf bufs[5];
    ts_kv kv[5];
    size_t n = 0;
    ts_error err = {0};
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(vals, key, v) {
        const ts_field_def *f = ts_table_field(t, key);
        if (f == NULL || n == 5)
            continue;
        ts_buf_init(&bufs[n]);
        if ((rc = ts_recjson_to_value(f, v, &bufs[n], &err)) < 0) {
            ts_buf_free(&bufs[n]);
            break;
        }
        kv[n] = (ts_kv){f->name, bufs[n].data, bufs[n].len};
        n++;
    }
    ts_actor me = {TS_ACTOR_LOCAL, code, NULL, "agent"};
    if (rc == 0)
        rc = ts_store_put(st, &me, TS_AGENT_REPORT_TABLE, code, NULL, kv, n, &err);
    for (size_t i = 0; i < n; i++)
        ts_buf_free(&bufs[i]);
    json_decref(vals);
    if (rc < 0) {
        /* a full disk, most often: said once, tried again later; nothing waits for it */
        if (!r->failing)
            ts_log_warn("status_record_failed", "station=%s reason=%s", code, err.msg);
        r->failing = true;
        return false;
    }
    if (r->failing)
        ts_log_info("status_record_written", "station=%s", code);
    r->failing = false;
    r->have = true;
    r->pending = pending;
    snprintf(r->last_error, sizeof r->last_error, "%s", err_now);
    snprintf(r->storage_problem, sizeof r->storage_problem, "%s", storage_now);
    snprintf(r->version, sizeof r->version, "%s", TS_VERSION);
    ts_log_debug("status_record", "station=%s", code);
    return true;
}
