/* The command line's plumbing, the same for every command: the exit codes
 * scripts rely on, one way to fail (a line on stderr, and a JSON error under
 * --json), --help and usage, opening this station's replica as the agent's
 * configuration says, and reading a value by its field's type. Kept in one
 * place so that no command family can answer in a way of its own. */
#include "client/ts_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "client/ts_agent.h"
#include "client/ts_cli_int.h"
#include "client/ts_station_day.h"
#include "common/ts_mp.h"
#include "common/ts_notice.h"
#include "common/ts_text.h"

int ts_cli_exit_code(int err)
{
    switch (err) {
    case 0: return TS_EXIT_OK;
    case TS_ENOT_FOUND:
    case TS_EUNKNOWN_TABLE: return TS_EXIT_NOT_FOUND;
    case TS_EINVALID_RECORD:
    case TS_EBAD_VALUE: return TS_EXIT_INVALID;
    case TS_EFORBIDDEN: return TS_EXIT_FORBIDDEN;
    default: return TS_EXIT_ERROR;
    }
}

int ts_cli_pick_language(ts_cli *cli, const char *lang)
{
    return ts_text_pick_language(lang, &cli->en);
}

int ts_cli__fail(const ts_cli *cli, int code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tramsync: %s\n", msg);
    if (cli->json) {
        json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", ts_err_name(code), "message", msg);
        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
    }
    return ts_cli_exit_code(code);
}

int ts_cli__fail_err(const ts_cli *cli, int code, const char *what_vi, const char *msg)
{
    if (cli->en)
        return ts_cli__fail(cli, code, "%s", msg);
    return ts_cli__fail(cli, code, "%s: %s", what_vi, msg);
}

int ts_cli__usage(const char *text, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs(text, stderr);
    return TS_EXIT_USAGE;
}

bool ts_cli__wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- context */

int ts_cli__open(ts_cli *cli, ts_cli__ctx *x, bool read_only)
{
    memset(x, 0, sizeof *x);
    ts_error err;
    if (ts_agent_config_load(&x->cfg, cli->data_dir, cli->config, cli->overrides, cli->noverrides, &err) < 0)
        return ts_cli__fail_err(cli, err.code, "không đọc được cấu hình của trạm", err.msg);
    if (x->cfg.code[0] == '\0') {
        ts_agent_config_free(&x->cfg);
        return ts_cli__fail(cli, TS_ENOT_FOUND,
                            TS__L(cli, "chưa có trạm nào ở %s: hãy chạy `tramsync init` trước",
                                  "no station here (%s): run `tramsync init` first"),
                            x->cfg.data_dir ? x->cfg.data_dir : cli->data_dir);
    }
    int rc = x->cfg.tables[0] ? ts_registry_load_file(&x->reg, x->cfg.tables, &err)
                              : ts_registry_load_default(&x->reg, &err);
    if (rc < 0) {
        ts_agent_config_free(&x->cfg);
        return ts_cli__fail_err(cli, rc, "không nạp được danh mục bảng", err.msg);
    }
    ts_store_options opt;
    ts_store_options_init(&opt);
    opt.path = x->cfg.database;
    opt.role = TS_ROLE_STATION;
    opt.registry = &x->reg;
    opt.station = x->cfg.code;
    opt.read_only = read_only;
    opt.busy_timeout_ms = 15000; /* the agent may hold the write lock briefly */
    if ((rc = ts_store_open(&x->store, &opt, &err)) < 0) {
        ts_registry_free(&x->reg);
        ts_agent_config_free(&x->cfg);
        return ts_cli__fail_err(cli, rc, "không mở được cơ sở dữ liệu của trạm", err.msg);
    }
    /* every day a command judges is the district's, whatever this PC's zone */
    ts_station_tz_apply(x->cfg.timezone, x->store);
    return 0;
}

void ts_cli__close(ts_cli__ctx *x)
{
    ts_store_close(x->store);
    ts_registry_free(&x->reg);
    ts_agent_config_free(&x->cfg);
}

const ts_table_def *ts_cli__table(ts_cli *cli, ts_cli__ctx *x, const char *name, int *rc)
{
    const ts_table_def *t = ts_registry_table(&x->reg, name);
    if (t == NULL)
        *rc = ts_cli__fail(cli, TS_EUNKNOWN_TABLE,
                           TS__L(cli, "không có bảng \"%s\" (xem `tramsync tables`)",
                                 "unknown table \"%s\" (see `tramsync tables`)"),
                           name);
    return t;
}

/* ---------------------------------------------------------------- values */

int ts_cli_parse_value(const ts_field_def *f, const char *text, bool en, ts_buf *out, ts_error *err)
{
    msgpack_packer pk;
    ts_buf_packer(out, &pk);
    if (text[0] == '\0') {
        msgpack_pack_nil(&pk); /* `field=` clears an optional field */
        return 0;
    }
    char *end;
    switch (f->type) {
    case TS_FT_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (*end != '\0' || errno)
            return ts_error_set(err, TS_EBAD_VALUE,
                                en ? "%s: \"%s\" is not a whole number" : "%s: \"%s\" không phải số nguyên", f->name,
                                text);
        if (v >= 0)
            msgpack_pack_uint64(&pk, (uint64_t)v);
        else
            msgpack_pack_int64(&pk, v);
        return 0;
    }
    case TS_FT_REAL: {
        errno = 0;
        double v = strtod(text, &end);
        if (*end != '\0' || errno)
            return ts_error_set(err, TS_EBAD_VALUE,
                                en ? "%s: \"%s\" is not a number" : "%s: \"%s\" không phải là số", f->name, text);
        msgpack_pack_double(&pk, v);
        return 0;
    }
    case TS_FT_BOOL: {
        static const char *const yes[] = {"true", "yes", "1", "có", "co"};
        static const char *const no[] = {"false", "no", "0", "không", "khong"};
        for (size_t i = 0; i < 5; i++) {
            if (strcasecmp(text, yes[i]) == 0) {
                msgpack_pack_true(&pk);
                return 0;
            }
            if (strcasecmp(text, no[i]) == 0) {
                msgpack_pack_false(&pk);
                return 0;
            }
        }
        return ts_error_set(err, TS_EBAD_VALUE,
                            en ? "%s: \"%s\" is not true or false" : "%s: \"%s\" không phải có/không (true/false)",
                            f->name, text);
    }
    case TS_FT_LIST: {
        size_t count = 1;
        for (const char *p = text; *p; p++)
            count += *p == ',';
        msgpack_pack_array(&pk, count);
        const char *start = text;
        for (;;) {
            const char *comma = strchr(start, ',');
            size_t n = comma ? (size_t)(comma - start) : strlen(start);
            while (n && *start == ' ')
                start++, n--;
            while (n && start[n - 1] == ' ')
                n--;
            ts_mp_pack_strn(&pk, start, n);
            if (!comma)
                break;
            start = comma + 1;
        }
        return 0;
    }
    case TS_FT_BIN: {
        if (text[0] != '@')
            return ts_error_set(err, TS_EBAD_VALUE,
                                en ? "%s: give a file as @path" : "%s: hãy ghi tệp dưới dạng @đường_dẫn", f->name);
        FILE *fp = fopen(text + 1, "rb");
        if (fp == NULL)
            return ts_error_set(err, TS_ENOT_FOUND, en ? "%s: cannot read %s" : "%s: không đọc được %s", f->name,
                                text + 1);
        ts_buf content = TS_BUF_INIT;
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            ts_buf_append(&content, chunk, n);
        fclose(fp);
        msgpack_pack_bin(&pk, content.len);
        msgpack_pack_bin_body(&pk, content.data, content.len);
        ts_buf_free(&content);
        return 0;
    }
    default:
        ts_mp_pack_cstr(&pk, text);
        return 0;
    }
}

void ts_cli__print_json(json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0);
    fputc('\n', stdout);
}
