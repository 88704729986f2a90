/* tramsyncctl calendar (issue 18): write a recurring duty from a JSON file,
 * remind the late stations of a report in one step, print the completeness
 * grid. Everything goes through the admin API (docs/ADMIN-API.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_calendar.h"
#include "common/ts_period.h"
#include "common/ts_text.h"
#include "common/ts_xmalloc.h"
#include "server/ctl/ts_ctl_int.h"

#define ts__s ts_ctl__s
#define ts__dump ts_ctl__print

/* calendar duty FILE: {"id"?, "fields": {...}} */
static int ts__duty(ts_ctl *ctl, ts_ctl_client *c, const char *file)
{
    json_error_t je;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(doc)) {
        fprintf(stderr, TS__L(ctl, "tramsyncctl: %s:%d:%d: không phải JSON hợp lệ: %s\n",
                              "tramsyncctl: %s:%d:%d: not valid JSON: %s\n"),
                file, je.line, je.column, je.text);
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
        printf(TS__L(ctl, "Việc định kỳ %s: %lld kỳ được tạo hoặc cập nhật\n", "Duty %s: %lld occurrences written\n"),
               ts__s(res, "id"), (long long)json_integer_value(json_object_get(res, "occurrences")));
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
        printf(TS__L(ctl, "Đã gửi văn bản nhắc %s đến:", "Reminder %s sent to:"), ts__s(res, "notice"));
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(res, "stations"), i, s)
            printf(" %s", json_string_value(s));
        fputc('\n', stdout);
    }
    json_decref(res);
    return 0;
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
            char period[64], due[32];
            ts_period_key_label(ts__s(p, "period"), ctl->en, period, sizeof period);
            printf(TS__L(ctl, "  %s, hạn %s: %lld/%lld trạm đã nộp, %lld đúng hạn",
                         "  %s, due %s: %lld/%lld stations reported, %lld on time"),
                   period, ts_text_date(ts__s(p, "due_date"), due, sizeof due),
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
                printf("    ");
                /* the station by its name, as the console shows it */
                ts_text_col(stdout, ts__s(r, "name")[0] ? ts__s(r, "name") : ts__s(r, "station"), 28);
                printf(" %s\n", ts_report_status_label(ts__s(cell, "status"), ctl->en));
            }
        }
    }
    json_decref(res);
    return 0;
}

/* An id as the daemon makes them (letters, digits, - _ . :): nothing that
 * would change the request's path or query. */
static bool ts__id_ok(const char *id)
{
    if (!id[0] || strlen(id) > 200)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || strchr("-_.:", *p)))
            return false;
    return true;
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
    if ((strcmp(sub, "remind") == 0 || strcmp(sub, "grid") == 0) && nrest == 1 && !ts__id_ok(rest[0]))
        return ts_ctl__err(TS__L(ctl, "mã không hợp lệ: %s (chỉ chữ không dấu, số, - _ . :)",
                                 "not an id: %s (letters, digits, - _ . : only)"),
                           rest[0]);
    if (strcmp(sub, "remind") == 0 && nrest == 1)
        return ts__remind(ctl, c, rest[0]);
    if (strcmp(sub, "grid") == 0 && nrest <= 1)
        return ts__grid(ctl, c, nrest ? rest[0] : NULL);
    return TS_CTL_USAGE;
}
