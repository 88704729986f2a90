/* tramsyncctl calendar (issue 18): write a recurring duty from a JSON file,
 * remind the late stations of a report in one step, print the completeness
 * grid. Everything goes through the admin API (docs/ADMIN-API.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_xmalloc.h"
#include "server/ctl/ts_ctl_int.h"

static const char *ts__s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void ts__dump(const json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

/* calendar duty FILE: {"id"?, "fields": {...}} */
static int ts__duty(ts_ctl *ctl, ts_ctl_client *c, const char *file)
{
    json_error_t je;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(doc)) {
        fprintf(stderr, "tramsyncctl: %s:%d:%d: không phải JSON hợp lệ / not valid JSON: %s\n", file, je.line,
                je.column, je.text);
        json_decref(doc);
        return TS_CTL_INVALID;
    }
    json_t *res = NULL;
    int rc = ts_ctl__login(c);
    if (rc == 0)
        rc = ts_ctl__call(c, "POST", "/api/calendar/duties", doc, &res);
    json_decref(doc);
    if (rc != 0)
        return rc;
    if (ctl->json)
        ts__dump(res);
    else
        printf("duty %s: %lld kỳ được tạo hoặc cập nhật / occurrences written\n", ts__s(res, "id"),
               (long long)json_integer_value(json_object_get(res, "occurrences")));
    json_decref(res);
    return 0;
}

static int ts__remind(ts_ctl *ctl, ts_ctl_client *c, const char *occurrence)
{
    char *path = ts_xasprintf("/api/calendar/occurrences/%s/remind", occurrence);
    json_t *body = json_object(), *res = NULL;
    int rc = ts_ctl__login(c);
    if (rc == 0)
        rc = ts_ctl__call(c, "POST", path, body, &res);
    free(path);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (ctl->json) {
        ts__dump(res);
    } else {
        printf("notice %s:", ts__s(res, "notice"));
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(res, "stations"), i, s)
            printf(" %s", json_string_value(s));
        fputc('\n', stdout);
    }
    json_decref(res);
    return 0;
}

static const char *ts__status_vi(const char *s)
{
    static const char *const map[][2] = {{"on_time", "đúng hạn"}, {"late", "muộn"},         {"missing", "CHƯA NỘP"},
                                         {"pending", "chưa đến hạn"}, {"invalid", "SAI MẪU"}, {"not_owed", "-"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(s, map[i][0]) == 0)
            return map[i][1];
    return s;
}

static int ts__grid(ts_ctl *ctl, ts_ctl_client *c, const char *duty)
{
    char *path = ts_xasprintf("/api/calendar/grid%s%s", duty ? "?duty=" : "", duty ? duty : "");
    json_t *res = NULL;
    int rc = ts_ctl__login(c);
    if (rc == 0)
        rc = ts_ctl__call(c, "GET", path, NULL, &res);
    free(path);
    if (rc != 0)
        return rc;
    if (ctl->json) {
        ts__dump(res);
        json_decref(res);
        return 0;
    }
    size_t i, k;
    json_t *d, *p, *r;
    json_array_foreach(json_object_get(res, "duties"), i, d) {
        printf("%s (%s)\n", ts__s(d, "title"), ts__s(d, "duty"));
        json_array_foreach(json_object_get(d, "periods"), k, p) {
            printf("  kỳ %s, hạn %s: %lld/%lld trạm đã nộp, %lld đúng hạn", ts__s(p, "period"), ts__s(p, "due_date"),
                   (long long)json_integer_value(json_object_get(p, "received")),
                   (long long)json_integer_value(json_object_get(p, "expected")),
                   (long long)json_integer_value(json_object_get(p, "on_time")));
            if (json_object_get(p, "reporting_rate"))
                printf(" (%lld %% / %lld %%)", (long long)json_integer_value(json_object_get(p, "reporting_rate")),
                       (long long)json_integer_value(json_object_get(p, "timeliness")));
            fputc('\n', stdout);
            size_t m;
            json_array_foreach(json_object_get(d, "rows"), m, r) {
                const json_t *cell = json_array_get(json_object_get(r, "cells"), k);
                printf("    %-12s %s\n", ts__s(r, "station"), ts__status_vi(ts__s(cell, "status")));
            }
        }
    }
    json_decref(res);
    return 0;
}

int ts_ctl_calendar(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv)
{
    int first;
    if (argc < 2 || ts_ctl__conn_opts(argc - 1, argv + 1, c, &first) != 0)
        return TS_CTL_USAGE;
    const char *sub = argv[1];
    char **rest = argv + 1 + first;
    int nrest = argc - 1 - first;
    if (strcmp(sub, "duty") == 0 && nrest == 1)
        return ts__duty(ctl, c, rest[0]);
    if (strcmp(sub, "remind") == 0 && nrest == 1)
        return ts__remind(ctl, c, rest[0]);
    if (strcmp(sub, "grid") == 0 && nrest <= 1)
        return ts__grid(ctl, c, nrest ? rest[0] : NULL);
    return TS_CTL_USAGE;
}
