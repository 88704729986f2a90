/* The commands that read and write records of the replica by hand or by
 * script: put, delete, get, list, dump, tables, and the CSV import. They are
 * one unit because they speak in the terms of the table registry: values
 * parsed by their field's type, records printed the same way as text or as
 * JSON. Sending what they write to the district is the agent's work. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/ts_cli_int.h"
#include "common/ts_mp.h"
#include "common/ts_xmalloc.h"

/* Builds ts_kv fields from "name=value" arguments. */
static int ts__parse_fields(ts_cli *cli, const ts_table_def *t, int n, char **args, ts_kv *kv, ts_buf *vals)
{
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (eq == NULL || eq == args[i])
            return ts_cli__fail(cli, TS_EBAD_VALUE,
                                TS__L(cli, "\"%s\": cần ghi dạng trường=giá_trị", "\"%s\": expected field=value"),
                                args[i]);
        *eq = '\0';
        const ts_field_def *f = ts_table_field(t, args[i]);
        if (f == NULL) {
            int rc = ts_cli__fail(cli, TS_EINVALID_RECORD,
                                  TS__L(cli, "bảng %s không có trường \"%s\"", "table %s has no field \"%s\""), t->name,
                                  args[i]);
            *eq = '=';
            return rc;
        }
        ts_error err;
        ts_buf_init(&vals[i]);
        if (ts_cli_parse_value(f, eq + 1, cli->en, &vals[i], &err) < 0)
            return ts_cli__fail(cli, err.code, "%s", err.msg);
        kv[i].name = args[i];
        kv[i].value = vals[i].data;
        kv[i].len = vals[i].len;
    }
    return 0;
}

static json_t *ts__record_json(const ts_change *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "table", json_string(c->table));
    json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "owner", json_string(c->owner));
    json_object_set_new(o, "deleted", json_boolean(ts_version_deleted(&c->v)));
    json_t *fields = json_object();
    for (uint32_t i = 0; i < c->v.nfields; i++) {
        const ts_field *f = &c->v.fields[i];
        if (strcmp(f->name, TS_FIELD_DELETED) == 0)
            continue;
        ts_buf b = TS_BUF_INIT;
        ts_value_to_json(&b, f->value, f->value_len);
        json_t *v = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY, NULL);
        json_object_set_new(fields, f->name, v ? v : json_null());
        ts_buf_free(&b);
    }
    json_object_set_new(o, "fields", fields);
    json_t *vv = json_object();
    for (uint32_t i = 0; i < c->v.vv.n; i++)
        json_object_set_new(vv, c->v.vv.e[i].rid.b, json_integer((json_int_t)c->v.vv.e[i].counter));
    json_object_set_new(o, "vv", vv);
    return o;
}

/* A record for people: an enum value by its name in the staff's language
 * (the registry's value_labels) with its code, which put takes, after it. */
static void ts__print_record_text(const ts_cli *cli, const ts_registry *reg, const ts_change *c)
{
    const ts_table_def *t = ts_registry_table(reg, c->table);
    printf("%s/%s%s\n", c->table, c->id, ts_version_deleted(&c->v) ? TS__L(cli, "  (đã xóa)", "  (deleted)") : "");
    for (uint32_t i = 0; i < c->v.nfields; i++) {
        const ts_field *f = &c->v.fields[i];
        if (strcmp(f->name, TS_FIELD_DELETED) == 0)
            continue;
        ts_buf b = TS_BUF_INIT;
        ts_value_to_json(&b, f->value, f->value_len);
        const ts_field_def *def = t ? ts_table_field(t, f->name) : NULL;
        json_t *v = def && def->type == TS_FT_ENUM ? json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY, NULL)
                                                   : NULL;
        if (json_is_string(v))
            printf("  %-20s %s (%s)\n", f->name, ts_field_value_label(def, json_string_value(v), cli->en),
                   json_string_value(v));
        else
            printf("  %-20s %.*s\n", f->name, (int)b.len, (const char *)b.data);
        json_decref(v);
        ts_buf_free(&b);
    }
}

/* ---------------------------------------------------------------- records */

static const char ts__put_help_vi[] =
    "cách dùng: tramsync [-d THƯ_MỤC] [--json] put BẢNG MÃ trường=giá_trị...\n"
    "\n"
    "Ghi các trường của một bản ghi (tạo mới nếu chưa có). Giá trị được đọc theo kiểu của\n"
    "trường: số, có/không (true/false), danh sách dạng a,b,c, tệp cho trường nhị phân dạng\n"
    "@đường_dẫn; `trường=` xóa giá trị của một trường không bắt buộc. Agent gửi lên trung tâm\n"
    "trong vài giây.\n";
static const char ts__put_help_en[] =
    "usage: tramsync [-d DIR] [--json] put TABLE ID field=value...\n"
    "\n"
    "Writes fields of one record (creating it when new). Values are parsed by the field's\n"
    "type: numbers, true/false, lists as a,b,c, files for binary fields as @path;\n"
    "`field=` clears an optional field. The agent syncs it within seconds.\n";

int ts_cli_put(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli, ts__put_help_vi, ts__put_help_en);
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc < 4)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0)
        return rc;
    const ts_table_def *t = ts_cli__table(cli, &x, argv[1], &rc);
    int n = argc - 3;
    ts_kv *kv = ts_xcalloc((size_t)n, sizeof *kv);
    ts_buf *vals = ts_xcalloc((size_t)n, sizeof *vals);
    if (t != NULL && (rc = ts__parse_fields(cli, t, n, argv + 3, kv, vals)) == 0) {
        ts_actor me = {TS_ACTOR_LOCAL, getenv("USER") ? getenv("USER") : "station", NULL, "cli"};
        ts_error err;
        int r = ts_store_put(x.store, &me, argv[1], argv[2], NULL, kv, (size_t)n, &err);
        if (r < 0) {
            rc = ts_cli__fail_err(cli, r, "không lưu được bản ghi", err.msg);
        } else if (cli->json) {
            json_t *o = json_pack("{s:s,s:s,s:s}", "table", argv[1], "id", argv[2], "result", "stored");
            ts_cli__print_json(o);
            json_decref(o);
        } else {
            printf(TS__L(cli, "đã lưu %s/%s\n", "stored %s/%s\n"), argv[1], argv[2]);
        }
    }
    for (int i = 0; i < n; i++)
        ts_buf_free(&vals[i]);
    free(vals);
    free(kv);
    ts_cli__close(&x);
    return rc;
}

int ts_cli_delete(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [-d THƯ_MỤC] [--json] delete BẢNG MÃ\n\nXóa một bản ghi (việc "
                             "xóa được đồng bộ như mọi lần ghi).\n",
                             "usage: tramsync [-d DIR] [--json] delete TABLE ID\n\nDeletes a record "
                             "(a tombstone that syncs like any write).\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 3)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0)
        return rc;
    ts_actor me = {TS_ACTOR_LOCAL, getenv("USER") ? getenv("USER") : "station", NULL, "cli"};
    ts_error err;
    int r = ts_store_delete(x.store, &me, argv[1], argv[2], &err);
    if (r < 0)
        rc = ts_cli__fail_err(cli, r, "không xóa được bản ghi", err.msg);
    else if (cli->json)
        printf("{\"table\":\"%s\",\"id\":\"%s\",\"result\":\"deleted\"}\n", argv[1], argv[2]);
    else
        printf(TS__L(cli, "đã xóa %s/%s\n", "deleted %s/%s\n"), argv[1], argv[2]);
    ts_cli__close(&x);
    return rc;
}

int ts_cli_get(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli, "cách dùng: tramsync [-d THƯ_MỤC] [--json] get BẢNG MÃ\n\nXem một bản ghi.\n",
                             "usage: tramsync [-d DIR] [--json] get TABLE ID\n\nShows one record.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 3)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    ts_arena arena;
    ts_arena_init(&arena, 8192);
    ts_change c;
    ts_error err;
    int r = ts_store_get(x.store, argv[1], argv[2], &c, &arena, &err);
    if (r < 0) {
        rc = ts_cli__fail_err(cli, r, "không đọc được bản ghi", err.msg);
    } else {
        if (cli->json) {
            json_t *o = ts__record_json(&c);
            ts_cli__print_json(o);
            json_decref(o);
        } else {
            ts__print_record_text(cli, &x.reg, &c);
        }
        ts_version_free(&c.v);
    }
    ts_arena_free(&arena);
    ts_cli__close(&x);
    return rc;
}

int ts_cli_list(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [-d THƯ_MỤC] [--json] list BẢNG [--limit N] [--after MÃ] [--deleted]\n"
                             "\nLiệt kê bản ghi theo thứ tự mã, mỗi lần N bản ghi (mặc định 100), sau mã --after;\n"
                             "--deleted: cả bản ghi đã xóa.\n",
                             "usage: tramsync [-d DIR] [--json] list TABLE [--limit N] [--after ID] [--deleted]\n"
                             "\nLists records in id order, N at a time (default 100), after --after ID;\n"
                             "--deleted includes deleted records.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    uint32_t limit = 100;
    const char *after = NULL;
    bool deleted = false;
    static const struct option opts[] = {{"limit", required_argument, NULL, 'l'},
                                         {"after", required_argument, NULL, 'a'},
                                         {"deleted", no_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l': limit = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'a': after = optarg; break;
        case 'd': deleted = true; break;
        default: return ts_cli__usage(help, argc, argv);
        }
    }
    if (optind != argc - 1)
        return ts_cli__usage(help, argc, argv);
    const char *table = argv[optind];
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    if (ts_cli__table(cli, &x, table, &rc) == NULL) {
        ts_cli__close(&x);
        return rc;
    }
    ts_change_page page;
    ts_change_page_init(&page);
    ts_error err;
    int r = ts_store_list(x.store, table, after, limit ? limit : 100, deleted, &page, &err);
    if (r < 0) {
        rc = ts_cli__fail_err(cli, r, "không liệt kê được bản ghi", err.msg);
    } else if (cli->json) {
        json_t *arr = json_array();
        for (uint32_t i = 0; i < page.n; i++)
            json_array_append_new(arr, ts__record_json(&page.items[i]));
        json_t *out = json_pack("{s:s,s:o,s:b}", "table", table, "records", arr, "more", page.n == limit);
        ts_cli__print_json(out);
        json_decref(out);
    } else {
        for (uint32_t i = 0; i < page.n; i++)
            ts__print_record_text(cli, &x.reg, &page.items[i]);
        if (page.n == 0)
            printf(TS__L(cli, "(bảng %s chưa có bản ghi nào)\n", "(no records in %s)\n"), table);
        else if (page.n == limit)
            printf(TS__L(cli, "(còn nữa: --after %s)\n", "(more: --after %s)\n"), page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    ts_cli__close(&x);
    return rc;
}

int ts_cli_dump(ts_cli *cli, int argc, char **argv)
{
    const char *help =
        TS__L(cli,
              "cách dùng: tramsync [-d THƯ_MỤC] dump\n\nBản kết xuất chuẩn của bản sao dữ liệu này (mỗi bản ghi "
              "một dòng JSON),\ngiống hệt từng byte giữa các bản sao giữ cùng các phiên bản.\n",
              "usage: tramsync [-d DIR] dump\n\nThe canonical dump of this replica (one JSON line per record),\n"
              "byte-identical between replicas that hold the same versions.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 1)
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, true);
    if (rc != 0)
        return rc;
    ts_error err;
    if (ts_store_dump(x.store, stdout, &err) < 0)
        rc = ts_cli__fail_err(cli, err.code, "không kết xuất được dữ liệu", err.msg);
    ts_cli__close(&x);
    return rc;
}

int ts_cli_tables(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli,
                             "cách dùng: tramsync [--json] tables\n\nCác bảng và trường của danh mục bảng có sẵn "
                             "trong chương trình.\n",
                             "usage: tramsync [--json] tables\n\nThe tables and fields of the built-in registry.\n");
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 1)
        return ts_cli__usage(help, argc, argv);
    ts_registry reg;
    ts_error err;
    if (ts_registry_load_default(&reg, &err) < 0)
        return ts_cli__fail_err(cli, err.code, "không nạp được danh mục bảng", err.msg);
    json_t *arr = json_array();
    for (size_t i = 0; i < reg.ntables; i++) {
        const ts_table_def *t = &reg.tables[i];
        if (cli->json) {
            json_t *fields = json_array();
            for (size_t k = 0; k < t->nfields; k++)
                json_array_append_new(fields, json_pack("{s:s,s:s,s:b}", "name", t->fields[k].name, "type",
                                                        ts_field_type_name(t->fields[k].type), "required",
                                                        t->fields[k].required));
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:o}", "name", t->name, "kind",
                                                 ts_table_kind_name(t->kind), "label_vi", t->label_vi, "label_en",
                                                 t->label_en, "fields", fields));
        } else {
            printf("%-24s %-8s %s\n", t->name, ts_table_kind_name(t->kind), TS__L(cli, t->label_vi, t->label_en));
            for (size_t k = 0; k < t->nfields; k++) {
                const ts_field_def *f = &t->fields[k];
                printf("    %-22s %s%s\n", f->name, ts_field_type_name(f->type),
                       f->required ? TS__L(cli, " (bắt buộc)", " (required)") : "");
                /* an enum's values, each with its name for people */
                for (size_t v = 0; v < f->nvalues; v++)
                    printf("        %-18s %s\n", f->values[v], ts_field_value_label(f, f->values[v], cli->en));
            }
        }
    }
    if (cli->json)
        ts_cli__print_json(arr);
    json_decref(arr);
    ts_registry_free(&reg);
    return 0;
}

/* ---------------------------------------------------------------- import */

/* One CSV record (RFC 4180: quoted fields may hold commas, quotes as "" and
 * line breaks). Returns the number of fields, 0 at the end, -1 when broken. */
static int ts__csv_record(FILE *f, ts_buf *storage, size_t *offsets, int max_fields, long *line)
{
    ts_buf_reset(storage);
    int n = 0, c = fgetc(f);
    if (c == EOF)
        return 0;
    bool quoted = false, field_start = true;
    offsets[n++] = 0;
    for (;; c = fgetc(f)) {
        if (c == EOF) {
            if (quoted)
                return -1;
            break;
        }
        if (field_start && c == '"') {
            quoted = true;
            field_start = false;
            continue;
        }
        field_start = false;
        if (quoted) {
            if (c == '"') {
                int next = fgetc(f);
                if (next == '"') {
                    ts_buf_append(storage, "\"", 1);
                    continue;
                }
                quoted = false;
                if (next == EOF)
                    break;
                c = next;
            } else {
                if (c == '\n')
                    (*line)++;
                char ch = (char)c;
                ts_buf_append(storage, &ch, 1);
                continue;
            }
        }
        if (c == ',') {
            ts_buf_append(storage, "", 1);
            if (n == max_fields)
                return -1;
            offsets[n++] = storage->len;
            field_start = true;
            continue;
        }
        if (c == '\r')
            continue;
        if (c == '\n') {
            (*line)++;
            break;
        }
        char ch = (char)c;
        ts_buf_append(storage, &ch, 1);
    }
    ts_buf_append(storage, "", 1);
    return n;
}

static const char ts__import_help_vi[] =
    "cách dùng: tramsync [-d THƯ_MỤC] [--json] import TỆP.csv --table BẢNG [--id-column TÊN] [--chunk N]\n"
    "\n"
    "Nhập một tệp CSV có dòng đầu là tên các trường (một cột chứa mã bản ghi, cột \"id\"\n"
    "nếu --id-column không nói khác). Mỗi lần ghi N dòng (mặc định 500), mỗi đợt một giao\n"
    "dịch; dòng bị từ chối được báo và bỏ qua, các dòng khác vẫn được lưu. Ô trống giữ nguyên\n"
    "trường đó. Mã thoát 4 khi có dòng bị từ chối.\n";
static const char ts__import_help_en[] =
    "usage: tramsync [-d DIR] [--json] import FILE.csv --table TABLE [--id-column NAME] [--chunk N]\n"
    "\n"
    "Loads a CSV file whose first row names the fields (one column holds the record id,\n"
    "\"id\" unless --id-column says otherwise). Rows are written N at a time (default 500),\n"
    "one transaction per chunk; a refused row is reported and skipped, the rest are kept.\n"
    "Empty cells leave a field unset. Exit code 4 when some rows were refused.\n";

int ts_cli_import(ts_cli *cli, int argc, char **argv)
{
    const char *help = TS__L(cli, ts__import_help_vi, ts__import_help_en);
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    const char *table = NULL, *id_col = "id";
    long chunk = 500;
    static const struct option opts[] = {{"table", required_argument, NULL, 't'},
                                         {"id-column", required_argument, NULL, 'i'},
                                         {"chunk", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 't': table = optarg; break;
        case 'i': id_col = optarg; break;
        case 'c': chunk = strtol(optarg, NULL, 10); break;
        default: return ts_cli__usage(help, argc, argv);
        }
    }
    if (table == NULL || optind != argc - 1 || chunk <= 0)
        return ts_cli__usage(help, argc, argv);
    const char *path = argv[optind];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return ts_cli__fail(cli, TS_ENOT_FOUND, TS__L(cli, "không đọc được %s: %s", "cannot read %s: %s"), path,
                            strerror(errno));
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, false);
    if (rc != 0) {
        fclose(f);
        return rc;
    }
    const ts_table_def *t = ts_cli__table(cli, &x, table, &rc);
    enum { MAXF = 128 };
    ts_buf header = TS_BUF_INIT, row = TS_BUF_INIT;
    size_t hoff[MAXF], roff[MAXF];
    const ts_field_def *defs[MAXF];
    long line = 1, rows = 0, stored = 0, refused = 0;
    int id_index = -1, ncols = 0;
    if (t != NULL) {
        ncols = ts__csv_record(f, &header, hoff, MAXF, &line);
        if (ncols <= 0)
            rc = ts_cli__fail(cli, TS_EBAD_VALUE, TS__L(cli, "%s: thiếu dòng tiêu đề", "%s: no header row"), path);
        for (int i = 0; rc == 0 && i < ncols; i++) {
            const char *name = (const char *)header.data + hoff[i];
            if (strcmp(name, id_col) == 0) {
                id_index = i;
                defs[i] = NULL;
                continue;
            }
            defs[i] = ts_table_field(t, name);
            if (defs[i] == NULL)
                rc = ts_cli__fail(cli, TS_EINVALID_RECORD, TS__L(cli, "%s: cột \"%s\" không phải trường của bảng %s",
                                                                         "%s: column \"%s\" is not a field of %s"),
                                  path, name, table);
        }
        if (rc == 0 && id_index < 0)
            rc = ts_cli__fail(cli, TS_EBAD_VALUE, TS__L(cli, "%s: không có cột \"%s\" chứa mã bản ghi",
                                                          "%s: no \"%s\" column for the record ids"),
                              path, id_col);
    }
    ts_actor me = {TS_ACTOR_LOCAL, getenv("USER") ? getenv("USER") : "station", NULL, "import"};
    ts_kv kv[MAXF];
    ts_buf vals[MAXF];
    for (int i = 0; i < MAXF; i++)
        ts_buf_init(&vals[i]);
    ts_error err;
    bool in_tx = false;
    json_t *problems = json_array();
    while (rc == 0) {
        long at = line;
        int n = ts__csv_record(f, &row, roff, MAXF, &line);
        if (n == 0)
            break;
        if (!in_tx) {
            if (ts_store_begin(x.store, &err) < 0) {
                rc = ts_cli__fail_err(cli, err.code, "không ghi được vào cơ sở dữ liệu", err.msg);
                break;
            }
            in_tx = true;
        }
        rows++;
        const char *problem = NULL;
        char why[400];
        size_t nkv = 0;
        if (n < 0 || n != ncols) {
            snprintf(why, sizeof why, TS__L(cli, "có %d ô, dòng tiêu đề có %d", "has %d cells, the header %d"), n, ncols);
            problem = why;
        }
        for (int i = 0; !problem && i < n; i++) {
            const char *cell = (const char *)row.data + roff[i];
            if (i == id_index || cell[0] == '\0')
                continue;
            ts_buf_reset(&vals[nkv]);
            if (ts_cli_parse_value(defs[i], cell, cli->en, &vals[nkv], &err) < 0) {
                snprintf(why, sizeof why, "%s", err.msg);
                problem = why;
                break;
            }
            kv[nkv].name = defs[i]->name;
            kv[nkv].value = vals[nkv].data;
            kv[nkv].len = vals[nkv].len;
            nkv++;
        }
        const char *id = !problem ? (const char *)row.data + roff[id_index] : "";
        if (!problem && ts_store_put(x.store, &me, table, id, NULL, kv, nkv, &err) < 0) {
            snprintf(why, sizeof why, "%s", err.msg);
            problem = why;
        }
        if (problem) {
            refused++;
            fprintf(stderr,
                    TS__L(cli, "tramsync: %s dòng %ld (mã %s) bị từ chối: %s\n", "tramsync: %s line %ld (id %s): %s\n"),
                    path, at, id[0] ? id : "?", problem);
            json_array_append_new(problems, json_pack("{s:I,s:s,s:s}", "line", (json_int_t)at, "id", id, "reason", problem));
        } else {
            stored++;
        }
        if (rows % chunk == 0) {
            if (ts_store_commit(x.store, &err) < 0) {
                rc = ts_cli__fail_err(cli, err.code, "không ghi được vào cơ sở dữ liệu", err.msg);
                break;
            }
            in_tx = false;
            fprintf(stderr,
                    TS__L(cli, "import: đã đọc %ld dòng, lưu %ld, từ chối %ld\n",
                          "import: %ld rows read, %ld stored, %ld refused\n"),
                    rows, stored, refused);
        }
    }
    if (in_tx) {
        if (rc == 0 && ts_store_commit(x.store, &err) < 0)
            rc = ts_cli__fail_err(cli, err.code, "không ghi được vào cơ sở dữ liệu", err.msg);
        else if (rc != 0)
            ts_store_rollback(x.store);
    }
    if (rc == 0) {
        if (cli->json) {
            json_t *out = json_pack("{s:s,s:I,s:I,s:I,s:O}", "table", table, "rows", (json_int_t)rows, "stored",
                                    (json_int_t)stored, "refused", (json_int_t)refused, "problems", problems);
            ts_cli__print_json(out);
            json_decref(out);
        } else {
            printf(TS__L(cli, "đã nhập %ld/%ld dòng vào bảng %s%s\n", "imported %ld of %ld rows into %s%s\n"), stored, rows,
                   table,
                   refused ? TS__L(cli, " (xem các dòng bị từ chối ở trên)", " (see the refused rows above)") : "");
        }
        if (refused)
            rc = TS_EXIT_INVALID;
    }
    json_decref(problems);
    for (int i = 0; i < MAXF; i++)
        ts_buf_free(&vals[i]);
    ts_buf_free(&header);
    ts_buf_free(&row);
    fclose(f);
    ts_cli__close(&x);
    return rc;
}
