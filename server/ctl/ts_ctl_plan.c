/* tramsyncctl plan (load a provincial plan file, show the plan in force) and
 * export / report (what a TTYT sends up to the province: CSV, XLSX, PDF). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/ts_buf.h"
#include "common/ts_text.h"
#include "common/ts_xmalloc.h"
#include "server/ctl/ts_ctl_int.h"

static int ts__fail(const char *what, const char *detail)
{
    fprintf(stderr, "tramsyncctl: %s: %s\n", what, detail);
    return TS_CTL_ERROR;
}

static const char *ts__base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---------------------------------------------------------------- where a field is */

static const char *ts__ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* Past the string that starts at p (a quote). */
static const char *ts__skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < end ? p + 1 : end;
}

/* Past the value that starts at p. */
static const char *ts__skip_value(const char *p, const char *end)
{
    if (p < end && *p == '"')
        return ts__skip_string(p, end);
    int depth = 0;
    while (p < end) {
        if (*p == '"') {
            p = ts__skip_string(p, end);
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']') {
            if (depth == 0)
                return p;
            if (--depth == 0)
                return p + 1;
        } else if (*p == ',' && depth == 0)
            return p;
        p++;
    }
    return end;
}

/* The line of the value a refusal names ("tasks[3].lead", "targets[0]",
 * "version") in the file as written: the daemon saw the plan re-encoded, so
 * only here can the field be said with its line. 0 when not found. */
static int ts__line_of(const char *text, size_t len, const char *path)
{
    const char *p = text, *end = text + len;
    while (*path) {
        p = ts__ws(p, end);
        if (*path == '[') {
            long want = strtol(path + 1, NULL, 10);
            path = strchr(path, ']');
            if (path == NULL || p >= end || *p != '[')
                return 0;
            path++;
            p = ts__ws(p + 1, end);
            for (long i = 0; i < want && p < end; i++) {
                p = ts__ws(ts__skip_value(p, end), end);
                if (p >= end || *p != ',')
                    return 0;
                p = ts__ws(p + 1, end);
            }
        } else {
            if (*path == '.')
                path++;
            size_t klen = strcspn(path, ".[");
            if (p >= end || *p != '{')
                return 0;
            p = ts__ws(p + 1, end);
            bool found = false;
            while (p < end && *p == '"' && !found) {
                const char *k = p + 1, *kend = ts__skip_string(p, end) - 1;
                p = ts__ws(kend + 1, end);
                if (p < end && *p == ':')
                    p = ts__ws(p + 1, end);
                if ((size_t)(kend - k) == klen && strncmp(k, path, klen) == 0) {
                    found = true;
                    break;
                }
                p = ts__ws(ts__skip_value(p, end), end);
                if (p < end && *p == ',')
                    p = ts__ws(p + 1, end);
            }
            if (!found)
                return 0;
            path += klen;
        }
    }
    int line = 1;
    for (const char *c = text; c < p; c++)
        line += *c == '\n';
    return line;
}

/* plan load FILE: the file's syntax is checked here, where its line and
 * column can be said against the file itself; its fields by the daemon. */
static int ts__plan_load(ts_ctl *ctl, ts_ctl_client *c, const char *file)
{
    json_error_t je;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
        fprintf(stderr,
                "tramsyncctl: %s:%d:%d: tệp kế hoạch không phải JSON hợp lệ: %s / the plan file is not valid JSON: %s\n"
                "  không có gì thay đổi / nothing was changed\n",
                file, je.line, je.column, je.text, je.text);
        return TS_CTL_INVALID;
    }
    int rc = ts_ctl__login(c);
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    json_t *body = json_pack("{s:s,s:o}", "file", ts__base(file), "plan", doc);
    ts_ctl_resp r;
    rc = ts_ctl__request(c, "POST", "/api/plan", body, &r);
    json_decref(body);
    if (rc != 0) {
        ts_buf_free(&r.body);
        return rc;
    }
    json_t *res = json_loads((const char *)r.body.data, 0, NULL);
    ts_buf_free(&r.body);
    if (r.status != 200) {
        const char *msg = json_string_value(json_object_get(json_object_get(res, "error"), "message"));
        /* "targets[0].operator: ...": that field's line in the file */
        int line = 0;
        if (msg && strchr(msg, ':')) {
            char path[160];
            snprintf(path, sizeof path, "%.*s", (int)(strchr(msg, ':') - msg), msg);
            char *text = NULL;
            size_t tlen = 0;
            FILE *f = fopen(file, "rb");
            if (f) {
                ts_buf b = TS_BUF_INIT;
                char chunk[8192];
                size_t n;
                while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                    ts_buf_append(&b, chunk, n);
                fclose(f);
                text = (char *)b.data;
                tlen = b.len;
            }
            if (text && strcspn(path, " ") == strlen(path))
                line = ts__line_of(text, tlen, path);
            free(text);
        }
        if (line)
            fprintf(stderr, "tramsyncctl: %s:%d: kế hoạch bị từ chối / plan refused: %s\n", file, line,
                    msg ? msg : "?");
        else
            fprintf(stderr, "tramsyncctl: %s: kế hoạch bị từ chối / plan refused: %s\n", file, msg ? msg : "?");
        fputs("  không có gì thay đổi / nothing was changed\n", stderr);
        json_decref(res);
        return r.status == 409 || r.status == 422 || r.status == 400 ? TS_CTL_INVALID : TS_CTL_ERROR;
    }
    if (ctl->json) {
        json_dumpf(res, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else if (json_is_true(json_object_get(res, "unchanged"))) {
        printf(TS__L(ctl, "Kế hoạch phiên bản %lld đã được nạp, không có gì thay đổi\n",
                     "Plan version %lld is already loaded, nothing changed\n"),
               (long long)json_integer_value(json_object_get(res, "version")));
    } else {
        long long v = json_integer_value(json_object_get(res, "version")),
                  prev = json_integer_value(json_object_get(res, "previous"));
        printf(TS__L(ctl, "Đã nạp kế hoạch phiên bản %lld (%lld chỉ tiêu, %lld nhiệm vụ",
                     "Plan version %lld loaded (%lld targets, %lld tasks"),
               v, (long long)json_integer_value(json_object_get(res, "targets")),
               (long long)json_integer_value(json_object_get(res, "tasks")));
        if (prev)
            printf(TS__L(ctl, "; thay phiên bản %lld, bỏ %lld nhiệm vụ", "; replaces version %lld, %lld tasks dropped"),
                   prev, (long long)json_integer_value(json_object_get(res, "removed")));
        printf(")\n");
    }
    json_decref(res);
    return 0;
}

static int ts__plan_show(ts_ctl *ctl, ts_ctl_client *c)
{
    int rc = ts_ctl__login(c);
    json_t *res = NULL;
    if (rc == 0)
        rc = ts_ctl__call(c, "GET", "/api/plan", NULL, &res);
    if (rc != 0)
        return rc;
    if (ctl->json) {
        json_dumpf(res, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        const json_t *p = json_object_get(res, "plan");
        char date[64];
        if (!json_is_object(p))
            printf(TS__L(ctl, "Chưa nạp kế hoạch nào (tramsyncctl plan load TỆP)\n",
                         "No plan loaded yet (tramsyncctl plan load FILE)\n"));
        else
            printf(TS__L(ctl, "Kế hoạch đang áp dụng (phiên bản %lld):\n  %s\n  Cơ quan ban hành: %s\n  Ngày: %s\n"
                              "  Ghi chú: %s\n",
                         "Plan in force (version %lld):\n  %s\n  Issued by: %s\n  Date: %s\n  Notes: %s\n"),
                   (long long)json_integer_value(json_object_get(p, "version")), ts_ctl__s(p, "name"),
                   ts_ctl__s(p, "issuer"), ts_text_date(ts_ctl__s(p, "date"), date, sizeof date), ts_ctl__s(p, "notes"));
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(res, "history"), i, h) {
            if (i == 0)
                printf(TS__L(ctl, "Các phiên bản đã nạp:\n", "Versions loaded:\n"));
            printf("  %lld  %s  %s (%s)\n", (long long)json_integer_value(json_object_get(h, "version")),
                   ts_text_date(ts_ctl__s(h, "date"), date, sizeof date), ts_ctl__s(h, "issuer"),
                   ts_ctl__s(h, "loaded_by"));
        }
    }
    json_decref(res);
    return 0;
}

int ts_ctl_plan(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv)
{
    int first;
    if (argc < 2 || ts_ctl__conn_opts(argc - 1, argv + 1, c, &first) != 0)
        return TS_CTL_USAGE;
    const char *sub = argv[1];
    char **rest = argv + 1 + first;
    int nrest = argc - 1 - first;
    if (strcmp(sub, "load") == 0 && nrest == 1)
        return ts__plan_load(ctl, c, rest[0]);
    if (strcmp(sub, "show") == 0 && nrest == 0)
        return ts__plan_show(ctl, c);
    return TS_CTL_USAGE;
}

/* ---------------------------------------------------------------- export */

/* a notice id as the daemon makes them (letters, digits, - _ . :), nothing
 * that would change the path */
static bool ts__notice_id_ok(const char *id)
{
    if (!id[0] || strlen(id) > 128)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || strchr("-_.:", *p)))
            return false;
    return true;
}

/* export [--format csv|xlsx] [--part targets|tasks|reporting|periodic] [--quarter YYYY-Qn] --out FILE
 * report quarterly [--quarter YYYY-Qn] --out FILE.pdf
 * report notice ID --out FILE.pdf */
int ts_ctl_export(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv)
{
    (void)ctl;
    bool report = strcmp(argv[0], "report") == 0;
    const char *format = report ? "pdf" : "xlsx", *part = "targets", *quarter = NULL, *out = NULL, *notice = NULL;
    /* the export's own options first, then the connection's */
    char **conn = ts_xcalloc((size_t)argc + 1, sizeof *conn);
    int nconn = 0;
    conn[nconn++] = argv[0];
    int i = 1;
    if (report) {
        if (argc >= 3 && strcmp(argv[1], "notice") == 0 && ts__notice_id_ok(argv[2])) {
            notice = argv[2];
            i = 3;
        } else if (argc >= 2 && strcmp(argv[1], "quarterly") == 0) {
            i = 2;
        } else {
            free(conn);
            return TS_CTL_USAGE;
        }
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a == NULL)
            break;
        if (v && strcmp(a, "--format") == 0 && !report)
            format = v, i++;
        else if (v && strcmp(a, "--part") == 0 && !report)
            part = v, i++;
        else if (v && strcmp(a, "--quarter") == 0)
            quarter = v, i++;
        else if (v && (strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0))
            out = v, i++;
        else
            conn[nconn++] = argv[i];
    }
    int first;
    int rc = ts_ctl__conn_opts(nconn, conn, c, &first);
    free(conn);
    if (rc != 0 || first != nconn || out == NULL)
        return TS_CTL_USAGE;
    if ((rc = ts_ctl__login(c)) != 0)
        return rc;
    char path[256];
    if (notice)
        snprintf(path, sizeof path, "/api/notices/%s/pdf", notice);
    else if (report)
        snprintf(path, sizeof path, "/api/report/quarterly%s%s", quarter ? "?quarter=" : "", quarter ? quarter : "");
    else
        snprintf(path, sizeof path, "/api/export?format=%s&part=%s%s%s", format, part, quarter ? "&quarter=" : "",
                 quarter ? quarter : "");
    ts_ctl_resp r;
    rc = ts_ctl__request(c, "GET", path, NULL, &r);
    if (rc != 0) {
        ts_buf_free(&r.body);
        return rc;
    }
    if (r.status != 200) {
        json_t *j = json_loads((const char *)r.body.data, 0, NULL);
        const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        rc = ts__fail(path, msg ? msg : "?");
        json_decref(j);
        ts_buf_free(&r.body);
        return r.status == 400 ? TS_CTL_INVALID : rc;
    }
    FILE *f = fopen(out, "wb");
    /* the body's last byte is the NUL the client adds */
    size_t n = r.body.len ? r.body.len - 1 : 0;
    bool written = f && fwrite(r.body.data, 1, n, f) == n;
    if (f && fclose(f) != 0)
        written = false;
    if (!written) {
        ts_buf_free(&r.body);
        return ts__fail(out, "không ghi được tệp / cannot write the file");
    }
    ts_buf_free(&r.body);
    printf(TS__L(ctl, "Đã ghi %s (%zu byte)\n", "Written: %s (%zu bytes)\n"), out, n);
    return 0;
}
