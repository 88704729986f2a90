/* tramsyncctl outbreak: open one from a station's outbreak report, list
 * them, show one with its timeline, through the admin API. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/ts_notice.h"
#include "common/ts_text.h"
#include "server/ctl/ts_ctl_int.h"

/* The disease in the language asked for (the catalogue's names). */
static const char *ts__disease(const ts_ctl *ctl, const json_t *o)
{
    const char *name = ts_ctl__s(o, TS__L(ctl, "disease_vi", "disease_en"));
    return name[0] ? name : ts_ctl__s(o, "disease_vi");
}

/* One entry of an outbreak's timeline: when, what, who, about what. */
static void ts__timeline_entry(const ts_ctl *ctl, const json_t *e)
{
    static const ts_label kinds[] = {{"notice", "Văn bản chỉ đạo", "Instructions"},
                                     {"declared_end", "Công bố kết thúc", "End declared"}};
    const char *kind = ts_ctl__s(e, "kind");
    const ts_label *l = ts_label_find(kinds, 2, kind);
    const char *what = l ? TS__L(ctl, l->vi, l->en) : ts_ctl__label(ctl, ts_report_kinds, 9, kind);
    char when[32];
    printf("  ");
    ts_text_col(stdout, ts_text_date(ts_ctl__s(e, "at"), when, sizeof when), 17);
    putchar(' ');
    ts_text_col(stdout, what, 26);
    putchar(' ');
    if (strcmp(kind, "notice") == 0)
        printf(TS__L(ctl, "%s: %s (%lld/%lld trạm đã xác nhận)\n", "%s: %s (%lld of %lld stations acknowledged)\n"),
               ts_ctl__s(e, "notice"), ts_ctl__s(e, "subject"), (long long)ts_ctl__i(e, "acknowledged"),
               (long long)ts_ctl__i(e, "recipients"));
    else if (strcmp(kind, "declared_end") == 0)
        printf("%s%s%s\n", ts_ctl__s(e, "by"), ts_ctl__s(e, "reason")[0] ? ": " : "", ts_ctl__s(e, "reason"));
    else
        printf("%s: %s\n", ts_ctl__s(e, "station_name")[0] ? ts_ctl__s(e, "station_name") : ts_ctl__s(e, "station"),
               ts_ctl__s(e, "subject"));
}

static void ts__show(const ts_ctl *ctl, const json_t *res)
{
    const json_t *f = json_object_get(res, "fields");
    char started[32], last[32], end_from[32];
    ts_text_date(ts_ctl__s(f, "started_on"), started, sizeof started);
    ts_text_date(ts_ctl__s(res, "last_case_on")[0] ? ts_ctl__s(res, "last_case_on") : "-", last, sizeof last);
    ts_text_date(ts_ctl__s(res, "can_end_from")[0] ? ts_ctl__s(res, "can_end_from") : "-", end_from, sizeof end_from);
    printf("%s  %s  %s\n", ts_ctl__s(res, "id"), ts__disease(ctl, res),
           ts_ctl__value(ctl, "outbreaks", "status", ts_ctl__s(f, "status")));
    printf(TS__L(ctl, "  phát hiện %s, %lld ca, %lld tử vong; ca cuối %s, có thể kết thúc từ %s\n",
                 "  started %s, %lld cases, %lld deaths; last case %s, may end from %s\n"),
           started, (long long)ts_ctl__i(f, "cases_total"), (long long)ts_ctl__i(f, "deaths"), last, end_from);
    printf(TS__L(ctl, "  các trạm liên quan:", "  stations concerned:"));
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(f, "stations"), i, s)
        printf("%s %s", i ? "," : "", json_string_value(s));
    putchar('\n');
    const json_t *timeline = json_object_get(res, "timeline");
    printf(TS__L(ctl, "Diễn biến (%zu):\n", "Timeline (%zu):\n"), json_array_size(timeline));
    json_t *e;
    json_array_foreach(timeline, i, e)
        ts__timeline_entry(ctl, e);
}

/* outbreak open REPORT_ID [--stations a,b] | outbreak list | outbreak show ID */
int ts_ctl_outbreak(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv)
{
    ts_ctl_opts o;
    memset(&o, 0, sizeof o);
    ts_ctl_sub sc;
    if (ts_ctl__parse_sub(argc, argv, &o, c, &sc) != 0)
        return TS_CTL_USAGE;
    if (!((strcmp(sc.name, "open") == 0 && sc.nrest == 1) || (strcmp(sc.name, "list") == 0 && sc.nrest == 0) ||
          (strcmp(sc.name, "show") == 0 && sc.nrest == 1)))
        return TS_CTL_USAGE;
    c->want_tz = !ctl->json && strcmp(sc.name, "open") != 0;
    int rc = ts_ctl__login(c);
    if (rc != 0)
        return rc;
    json_t *res = NULL;
    char path[512];
    if (strcmp(sc.name, "open") == 0) {
        json_t *body = json_pack("{s:s}", "report", sc.rest[0]);
        if (o.stations) {
            json_t *r = ts_ctl__recipients(NULL, o.stations, NULL);
            json_object_set(body, "stations", json_object_get(r, "stations"));
            json_decref(r);
        }
        rc = ts_ctl__call(c, "POST", "/api/epidemic/outbreaks", body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json) {
            printf(TS__L(ctl, "đã mở ổ dịch %s (%s), các trạm:", "outbreak %s opened (%s), stations:"),
                   ts_ctl__s(res, "id"), ts__disease(ctl, res));
            size_t i;
            json_t *s;
            json_array_foreach(json_object_get(json_object_get(res, "fields"), "stations"), i, s)
                printf(" %s", json_string_value(s));
            putchar('\n');
        }
    } else if (strcmp(sc.name, "list") == 0) {
        rc = ts_ctl__call(c, "GET", "/api/epidemic/outbreaks", NULL, &res);
        if (rc == 0 && !ctl->json) {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(res, "outbreaks"), i, it) {
                const json_t *f = json_object_get(it, "fields");
                char started[32];
                printf("%s  ", ts_ctl__s(it, "id"));
                ts_text_col(stdout, ts_ctl__value(ctl, "outbreaks", "status", ts_ctl__s(f, "status")), 16);
                printf(TS__L(ctl, " %s  %s, %lld ca, %lld tử vong\n", " %s  %s, %lld cases, %lld deaths\n"),
                       ts_text_date(ts_ctl__s(f, "started_on"), started, sizeof started), ts__disease(ctl, it),
                       (long long)ts_ctl__i(f, "cases_total"), (long long)ts_ctl__i(f, "deaths"));
            }
        }
    } else {
        snprintf(path, sizeof path, "/api/epidemic/outbreaks/%s", sc.rest[0]);
        rc = ts_ctl__call(c, "GET", path, NULL, &res);
        if (rc == 0 && !ctl->json)
            ts__show(ctl, res);
    }
    if (rc == 0 && ctl->json)
        ts_ctl__print(res);
    json_decref(res);
    return rc;
}
