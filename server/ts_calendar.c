/* The calendar on the district store: see ts_calendar.h. */
#include "server/ts_calendar.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ts_calendar.h"
#include "common/ts_period.h"
#include "common/ts_log.h"
#include "common/ts_notice.h"
#include "common/ts_people.h"
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"

#define TS__PAGE 500

/* ---------------------------------------------------------------- reading */

/* Adds a page's live records to all as {id: fields}; with owners, each
 * fields object gets "_owner". */
static void ts__add_page(const ts_change_page *page, bool owners, json_t *all)
{
    for (uint32_t i = 0; i < page->n; i++) {
        const ts_change *c = &page->items[i];
        if (ts_version_deleted(&c->v))
            continue;
        json_t *r = ts_recjson_record(c, false);
        json_t *f = json_incref(json_object_get(r, "fields"));
        json_decref(r);
        if (owners)
            json_object_set_new(f, "_owner", json_string(c->owner));
        json_object_set_new(all, c->id, f);
    }
}

/* The live records of a table as {id: fields} (see ts__add_page). */
static int ts__load(ts_store *st, const char *table, bool owners, json_t **out, ts_error *err)
{
    json_t *all = json_object();
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 1] = "";
    int rc = 0;
    for (;;) {
        rc = ts_store_list(st, table, after[0] ? after : NULL, TS__PAGE, false, &page, err);
        if (rc < 0)
            break;
        ts__add_page(&page, owners, all);
        if (page.n < TS__PAGE)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

/* Adds to into the live records of a table whose id is in [from, before):
 * a range of the store's key, nothing else read. */
static int ts__load_range(ts_store *st, const char *table, const char *from, const char *before, bool owners,
                          json_t *into, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    char *at = ts_xstrdup(from);
    int rc;
    for (;;) {
        rc = ts_store_list_range(st, table, at, before, TS__PAGE, &page, err);
        if (rc < 0)
            break;
        ts__add_page(&page, owners, into);
        if (page.n < TS__PAGE)
            break;
        free(at);
        at = ts_xasprintf("%s\x01", page.items[page.n - 1].id); /* the next id after it */
    }
    free(at);
    ts_change_page_free(&page);
    return rc;
}

/* A duty's occurrences are "<duty id>:<period key>" and every period key
 * begins with its year (2026-11, 2026-Q4, 2026-H2, 2026, 2026-W49, the
 * one-off's 2026-12-05), so a duty's occurrences of some years are a range
 * of ids. A key of year K is a period that starts between 29 December of
 * K - 1 (an ISO week 1) and 31 December of K, and ends by 3 January of
 * K + 1 (an ISO week 53). Adds to into those of the years y_from to y_to
 * (0: every later year); another duty whose id begins with "<duty id>:"
 * may add some of its own: callers look at duty_id. */
static int ts__load_occ_years(ts_store *st, const char *duty_id, int y_from, int y_to, json_t *into, ts_error *err)
{
    char from[TS_KEY_MAX + 16], before[TS_KEY_MAX + 16];
    snprintf(from, sizeof from, "%s:%04d", duty_id, y_from < 0 ? 0 : y_from);
    if (y_to > 0)
        snprintf(before, sizeof before, "%s:%04d~", duty_id, y_to);
    else
        snprintf(before, sizeof before, "%s;", duty_id); /* ';' follows ':' */
    return ts__load_range(st, "duty_occurrences", from, before, false, into, err);
}

/* The year of a period key ("2026-W49": 2026), or -1. */
static int ts__key_year(const char *key)
{
    for (int i = 0; i < 4; i++)
        if (key[i] < '0' || key[i] > '9')
            return -1;
    return (key[0] - '0') * 1000 + (key[1] - '0') * 100 + (key[2] - '0') * 10 + (key[3] - '0');
}

static int ts__i(const json_t *o, const char *key, int def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static bool ts__listed(const json_t *list, const char *code)
{
    size_t i;
    const json_t *s;
    json_array_foreach(list, i, s) {
        const char *v = json_string_value(s);
        if (v && strcmp(v, code) == 0)
            return true;
    }
    return false;
}

static bool ts__in(const ts_strlist *only, const char *code)
{
    if (only == NULL)
        return true;
    for (size_t i = 0; i < only->n; i++)
        if (strcmp(only->v[i], code) == 0)
            return true;
    return false;
}

/* The directory's active stations, in code order. */
static json_t *ts__all_stations(const json_t *dir)
{
    json_t *codes = json_array();
    const char *code;
    json_t *f;
    json_object_foreach((json_t *)dir, code, f) {
        if (!json_is_false(json_object_get(f, "active")))
            json_array_append_new(codes, json_string(code));
    }
    return codes;
}

static void ts__today(uint64_t now_ms, ts_date *d)
{
    char day[16];
    ts_local_day(now_ms, day, sizeof day);
    if (!ts_date_parse(day, d)) {
        ts_date z = {1970, 1, 1};
        *d = z;
    }
}

/* "YYYY-MM-DDTHH:MM:00+07:00": the local wall time with the district's offset. */
static void ts__local_iso(ts_date d, const char *hhmm, char *out, size_t size)
{
    int hh = 7, mm = 30;
    if (strlen(hhmm) == 5) {
        hh = atoi(hhmm);
        mm = atoi(hhmm + 3);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = d.y - 1900;
    tm.tm_mon = d.m - 1;
    tm.tm_mday = d.d;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    struct tm lt;
    localtime_r(&t, &lt);
    long off = lt.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:00%c%02ld:%02ld", d.y, d.m, d.d, hh, mm, sign, off / 60, off % 60);
}

/* The district's day of a datetime ("" when it is none). */
/* the district's day of a station-written time (submitted_at), never the day
 * the station printed in it */
static void ts__day_of(const char *iso, char *out, size_t size)
{
    ts_local_day_of(iso, out, size);
}

/* ---------------------------------------------------------------- generation */

static json_t *ts__occurrence(const char *duty_id, const json_t *duty, int rec, const ts_period *p,
                              const json_t *stations)
{
    const char *kind = ts_json_str(duty, "kind");
    char start[16], end[16];
    ts_date_fmt(p->start, start, sizeof start);
    ts_date_fmt(p->end, end, sizeof end);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O}", "duty_id", duty_id, "kind", kind, "title",
                          ts_json_str(duty, "title"), "period", p->key, "period_start", start, "period_end", end, "stations",
                          stations);
    if (strcmp(kind, "periodic_report") == 0) {
        char due[16];
        ts_date_fmt(ts_period_due(p, ts__i(duty, "due_days", 0)), due, sizeof due);
        json_object_set_new(o, "due_date", json_string(due));
    } else {
        char at[40];
        ts__local_iso(ts_period_meeting_day(rec, p, ts__i(duty, "weekday", 1), ts__i(duty, "day", 0)),
                      ts_json_str(duty, "time"), at, sizeof at);
        json_object_set_new(o, "meeting_at", json_string(at));
    }
    if (ts_json_str(duty, "place")[0])
        json_object_set_new(o, "place", json_string(ts_json_str(duty, "place")));
    if (ts_json_str(duty, "participants")[0])
        json_object_set_new(o, "participants", json_string(ts_json_str(duty, "participants")));
    return o;
}

static int ts__put_changed(ts_store *st, const ts_actor *who, const char *id, json_t *want, const json_t *have,
                           size_t *written, ts_error *err)
{
    json_t *diff = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v) {
        if (have == NULL || !json_equal(json_object_get(have, k), v))
            json_object_set(diff, k, v);
    }
    int rc = 0;
    if (json_object_size(diff) > 0) {
        rc = ts_record_put_json(st, who, "duty_occurrences", id, diff, err);
        if (rc == 0)
            (*written)++;
    }
    json_decref(diff);
    return rc;
}

int ts_calendar_generate(ts_store *st, uint64_t now_ms, size_t *written, ts_error *err)
{
    *written = 0;
    json_t *duties = NULL, *occ = NULL, *dir = NULL;
    int rc = ts__load(st, "duties", false, &duties, err);
    if (rc == 0)
        rc = ts__load(st, "stations", false, &dir, err);
    if (rc < 0)
        goto cleanup;
    ts_date today;
    ts__today(now_ms, &today);
    json_t *all = ts__all_stations(dir);
    ts_actor who = {TS_ACTOR_LOCAL, "calendar", NULL, "timer"};
    bool outermost = !ts_store_in_tx(st);
    if ((rc = ts_store_begin(st, err)) < 0) {
        json_decref(all);
        goto cleanup;
    }
    const char *duty_id;
    json_t *duty;
    json_object_foreach(duties, duty_id, duty) {
        int rec = ts_recurrence_parse(ts_json_str(duty, "recurrence"));
        if (rec < 0)
            continue;
        ts_period p[4];
        size_t np = 0;
        if (rec == TS_REC_ONCE) {
            ts_date on;
            if (!ts_date_parse(ts_json_str(duty, "on_date"), &on))
                continue;
            ts_period_once(on, &p[np++]);
        } else {
            /* the two before (a report due early in a period is still owed
             * for the one before it), the current and the next */
            ts_period_of(rec, today, &p[2]);
            ts_period_prev(rec, &p[2], &p[1]);
            ts_period_prev(rec, &p[1], &p[0]);
            ts_period_next(rec, &p[2], &p[3]);
            np = 4;
        }
        ts_date from, to;
        bool has_from = ts_date_parse(ts_json_str(duty, "active_from"), &from);
        bool has_to = ts_date_parse(ts_json_str(duty, "active_to"), &to);
        const json_t *listed = json_object_get(duty, "stations");
        const json_t *stations = json_array_size(listed) > 0 ? listed : all;
        if (json_array_size(stations) == 0)
            continue;
        /* what it has of these periods, and of every period not over (an
         * end from today on is a key of last year or later) */
        int y_from = ts__key_year(p[0].key);
        if (y_from < 0 || y_from > today.y - 1)
            y_from = today.y - 1;
        json_decref(occ);
        occ = json_object();
        if ((rc = ts__load_occ_years(st, duty_id, y_from, 0, occ, err)) < 0)
            break;
        json_t *made = json_object();
        for (size_t i = 0; rc == 0 && i < np; i++) {
            if ((has_from && ts_date_cmp(p[i].end, from) < 0) || (has_to && ts_date_cmp(p[i].start, to) > 0))
                continue;
            char id[TS_KEY_MAX + 1];
            snprintf(id, sizeof id, "%s:%s", duty_id, p[i].key);
            json_object_set_new(made, id, json_true());
            /* a period that is over keeps what it was: a duty changed later
             * (other stations, another title) changes what comes */
            if (json_object_get(occ, id) && ts_date_cmp(p[i].end, today) < 0)
                continue;
            json_t *want = ts__occurrence(duty_id, duty, rec, &p[i], stations);
            rc = ts__put_changed(st, &who, id, want, json_object_get(occ, id), written, err);
            json_decref(want);
        }
        /* a period not over that the duty no longer asks for (its
         * recurrence, its day or its active_to changed): nothing is owed */
        const char *oid;
        json_t *o;
        json_object_foreach(occ, oid, o) {
            if (rc < 0)
                break;
            ts_date end;
            if (strcmp(ts_json_str(o, "duty_id"), duty_id) != 0 || json_object_get(made, oid) != NULL ||
                !ts_date_parse(ts_json_str(o, "period_end"), &end) || ts_date_cmp(end, today) < 0)
                continue;
            rc = ts_store_delete(st, &who, "duty_occurrences", oid, err);
            if (rc == 0)
                (*written)++;
        }
        json_decref(made);
        if (rc < 0)
            break;
    }
    json_decref(all);
    if (rc == 0)
        rc = ts_store_commit(st, err);
    else
        ts_store_rollback(st);
    if (rc == 0 && outermost && *written > 0)
        ts_log_info("calendar_generated", "occurrences=%zu", *written);
cleanup:
    json_decref(duties);
    json_decref(occ);
    json_decref(dir);
    return rc;
}

/* ---------------------------------------------------------------- judging reports */

/* What the reminders, the grid and the page read: the duties and the
 * directory whole, and only the occurrences and reports they show (see
 * ts__load_occ_years, ts__world_reports). */
typedef struct ts__world {
    ts_store *st;
    json_t *duties, *occ, *dir;
    json_t *by_key;     /* "<occurrence>\x1f<station>" -> report fields */
    json_t *reports_of; /* the occurrences whose reports are in by_key */
    json_t *reports;    /* when grading: the report records read, id -> fields (else NULL) */
} ts__world;

static void ts__world_free(ts__world *w)
{
    json_decref(w->duties);
    json_decref(w->occ);
    json_decref(w->dir);
    json_decref(w->by_key);
    json_decref(w->reports_of);
    json_decref(w->reports);
}

static int ts__world_load(ts_store *st, ts__world *w, ts_error *err)
{
    memset(w, 0, sizeof *w);
    w->st = st;
    int rc = ts__load(st, "duties", false, &w->duties, err);
    if (rc == 0)
        rc = ts__load(st, "stations", false, &w->dir, err);
    w->occ = json_object();
    w->by_key = json_object();
    w->reports_of = json_object();
    if (rc < 0)
        ts__world_free(w);
    return rc;
}

/* The reports of an occurrence into w->by_key, once: `tramsync submit`
 * writes them as "<occurrence id>:<station>", a range of ids. */
static int ts__world_reports(ts__world *w, const char *occ_id, ts_error *err)
{
    if (json_object_get(w->reports_of, occ_id) != NULL)
        return 0;
    json_t *got = json_object();
    char *from = ts_xasprintf("%s:", occ_id), *before = ts_xasprintf("%s;", occ_id);
    int rc = ts__load_range(w->st, "periodic_reports", from, before, true, got, err);
    free(from);
    free(before);
    const char *id;
    json_t *r;
    json_object_foreach(got, id, r) {
        if (rc < 0 || strcmp(ts_json_str(r, "occurrence_id"), occ_id) != 0)
            continue;
        if (w->reports != NULL)
            json_object_set(w->reports, id, r);
        char key[2 * TS_KEY_MAX + 2];
        snprintf(key, sizeof key, "%s\x1f%s", occ_id, ts_json_str(r, "_owner"));
        const json_t *had = json_object_get(w->by_key, key);
        /* two records for one period: the later submission counts */
        if (had == NULL || strcmp(ts_json_str(had, "submitted_at"), ts_json_str(r, "submitted_at")) < 0)
            json_object_set(w->by_key, key, r);
    }
    json_decref(got);
    if (rc == 0)
        json_object_set_new(w->reports_of, occ_id, json_true());
    return rc;
}

/* The ids of w->occ in order (the store's order, whatever order they were
 * read in); free the array, not the strings. */
static int ts__by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **ts__occ_ids(const ts__world *w, size_t *n)
{
    const char **ids = ts_xcalloc(json_object_size(w->occ) + 1, sizeof *ids);
    *n = 0;
    const char *id;
    json_t *o;
    json_object_foreach(w->occ, id, o)
        ids[(*n)++] = id;
    qsort(ids, *n, sizeof *ids, ts__by_str);
    return ids;
}

/* One live record's fields into into[id] (with "_owner" when owners); absent
 * or deleted: nothing. */
static int ts__load_one(ts_store *st, const char *table, const char *id, bool owners, json_t *into, ts_error *err)
{
    if (id[0] == '\0' || json_object_get(into, id) != NULL)
        return 0;
    ts_arena arena;
    ts_arena_init(&arena, 4096);
    ts_change c;
    int rc = ts_store_get(st, table, id, &c, &arena, err);
    if (rc == 0) {
        if (!ts_version_deleted(&c.v)) {
            json_t *r = ts_recjson_record(&c, false);
            json_t *f = json_incref(json_object_get(r, "fields"));
            json_decref(r);
            if (owners)
                json_object_set_new(f, "_owner", json_string(c.owner));
            json_object_set_new(into, id, f);
        }
        ts_version_free(&c.v);
    } else if (rc == TS_ENOT_FOUND) {
        rc = 0;
    }
    ts_arena_free(&arena);
    return rc;
}

/* The part of the world a few reports need: those reports, their
 * occurrences and duties (for grading; no directory, no by_key). */
static int ts__world_some(ts_store *st, const ts_strlist *ids, ts__world *w, ts_error *err)
{
    memset(w, 0, sizeof *w);
    w->st = st;
    w->duties = json_object();
    w->occ = json_object();
    w->reports = json_object();
    w->dir = json_object();
    w->by_key = json_object();
    w->reports_of = json_object();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ids->n; i++) {
        if ((rc = ts__load_one(st, "periodic_reports", ids->v[i], true, w->reports, err)) < 0)
            break;
        const json_t *r = json_object_get(w->reports, ids->v[i]);
        if (r == NULL)
            continue;
        if ((rc = ts__load_one(st, "duty_occurrences", ts_json_str(r, "occurrence_id"), false, w->occ, err)) < 0)
            break;
        const json_t *o = json_object_get(w->occ, ts_json_str(r, "occurrence_id"));
        if (o != NULL)
            rc = ts__load_one(st, "duties", ts_json_str(o, "duty_id"), false, w->duties, err);
    }
    if (rc < 0)
        ts__world_free(w);
    return rc;
}

/* What the district makes of one report r of occurrence occ: invalid (with
 * *problems, the caller's) when its values do not fit the duty's form, else
 * on_time or late by its submission's local day against the due day. */
static const char *ts__judge(const ts__world *w, const json_t *occ, const json_t *r, json_t **problems)
{
    *problems = NULL;
    const json_t *duty = json_object_get(w->duties, ts_json_str(occ, "duty_id"));
    json_t *form = json_loads(ts_json_str(duty, "form"), 0, NULL);
    json_t *values = json_loads(ts_json_str(r, "values"), JSON_DECODE_ANY, NULL);
    if (form == NULL)
        form = json_array();
    json_t *p = ts_form_problems(form, values);
    json_decref(form);
    json_decref(values);
    if (json_array_size(p) > 0) {
        *problems = p;
        return "invalid";
    }
    json_decref(p);
    char day[16];
    ts__day_of(ts_json_str(r, "submitted_at"), day, sizeof day);
    return day[0] && strcmp(day, ts_json_str(occ, "due_date")) <= 0 ? "on_time" : "late";
}

/* A station's status for an occurrence, with its report and problems. */
static const char *ts__status(const ts__world *w, const char *occ_id, const json_t *occ, const char *station,
                              const char *today, const json_t **report, json_t **problems)
{
    *report = NULL;
    *problems = NULL;
    if (!ts__listed(json_object_get(occ, "stations"), station))
        return "not_owed";
    char key[2 * TS_KEY_MAX + 2];
    snprintf(key, sizeof key, "%s\x1f%s", occ_id, station);
    const json_t *r = json_object_get(w->by_key, key);
    if (r == NULL)
        return strcmp(today, ts_json_str(occ, "due_date")) > 0 ? "missing" : "pending";
    *report = r;
    return ts__judge(w, occ, r, problems);
}

/* ---------------------------------------------------------------- grading */

/* The problems as the text of grade_problems: whole entries only, within
 * the field's 20,000 characters. */
static char *ts__problems_text(json_t *problems)
{
    for (;;) {
        char *text = json_dumps(problems, JSON_COMPACT);
        if (text == NULL || strlen(text) <= 20000 || json_array_size(problems) <= 1) {
            if (text && strlen(text) > 20000) {
                free(text);
                text = ts_xstrdup("[]");
            }
            return text;
        }
        free(text);
        json_array_remove(problems, json_array_size(problems) - 1);
    }
}


/* What the reminders and the grading read (ts_calendar_remind,
 * ts_calendar_run): the occurrences of the periods a report may still be
 * reminded of, sent or sent again (due from a year or so back on: due at
 * most 366 days after its period ends, reminded within 7 days of its due
 * day), of every duty (all_kinds) or of report duties only; with reports,
 * every report of those report occurrences too, each read once (into
 * w->reports and w->by_key). Never every report ever stored. */
static int ts__world_recent(ts_store *st, uint64_t now_ms, bool all_kinds, bool reports, ts__world *w, ts_error *err)
{
    int rc = ts__world_load(st, w, err);
    if (rc < 0)
        return rc;
    if (reports)
        w->reports = json_object();
    ts_date today;
    ts__today(now_ms, &today);
    int y_from = ts_date_add_days(today, -373).y - 1;
    const char *duty_id;
    json_t *d;
    json_object_foreach(w->duties, duty_id, d) {
        if ((all_kinds || strcmp(ts_json_str(d, "kind"), "periodic_report") == 0) &&
            (rc = ts__load_occ_years(st, duty_id, y_from, 0, w->occ, err)) < 0)
            break;
    }
    const char *occ_id;
    json_t *occ;
    json_object_foreach(w->occ, occ_id, occ) {
        if (rc < 0 || !reports)
            break;
        if (strcmp(ts_json_str(occ, "kind"), "periodic_report") == 0)
            rc = ts__world_reports(w, occ_id, err);
    }
    if (rc < 0)
        ts__world_free(w);
    return rc;
}

/* A grade to write: the report, its grade and problems, its period's due day. */
typedef struct ts__to_grade {
    const char *id;
    const json_t *r;
    const char *grade;
    char *text;
    const char *due;
} ts__to_grade;

/* the latest due day first (what the stations look at now), then by id */
static int ts__by_due_desc(const void *a, const void *b)
{
    const ts__to_grade *x = a, *y = b;
    int c = strcmp(y->due, x->due);
    return c ? c : strcmp(x->id, y->id);
}

/* Grades the reports of w->reports (see ts_calendar_grade): at most max
 * written (0: no bound), the latest periods' first; *more: some were left
 * for the next run. */
static int ts__grade(ts__world *w, uint64_t now_ms, size_t max, size_t *written, size_t *invalid, bool *more,
                     ts_strlist *stations, ts_error *err)
{
    *written = 0;
    *invalid = 0;
    *more = false;
    ts_store *st = w->st;
    /* what changed: every report judged, those whose grade differs kept */
    size_t n = 0;
    ts__to_grade *ungraded = ts_xcalloc(json_object_size(w->reports) + 1, sizeof *ungraded);
    const char *id;
    json_t *r;
    json_object_foreach(w->reports, id, r) {
        const json_t *occ = json_object_get(w->occ, ts_json_str(r, "occurrence_id"));
        /* a report of no period this station owes is not graded */
        if (occ == NULL || strcmp(ts_json_str(occ, "kind"), "periodic_report") != 0 ||
            !ts__listed(json_object_get(occ, "stations"), ts_json_str(r, "_owner")))
            continue;
        json_t *problems = NULL;
        const char *grade = ts__judge(w, occ, r, &problems);
        char *text = problems ? ts__problems_text(problems) : NULL;
        json_decref(problems);
        bool same = strcmp(ts_json_str(r, "grade"), grade) == 0 &&
                    strcmp(ts_json_str(r, "grade_problems"), text ? text : "") == 0 &&
                    strcmp(ts_json_str(r, "graded_submission"), ts_json_str(r, "submitted_at")) == 0;
        if (same) {
            free(text);
            continue;
        }
        ts__to_grade t = {id, r, grade, text, ts_json_str(occ, "due_date")};
        ungraded[n++] = t;
    }
    if (max > 0 && n > max) {
        qsort(ungraded, n, sizeof *ungraded, ts__by_due_desc);
        *more = true;
    }
    size_t nw = max > 0 && n > max ? max : n;
    ts_actor who = {TS_ACTOR_LOCAL, "calendar", NULL, "grade"};
    bool outermost = !ts_store_in_tx(st);
    char now[40];
    ts_time_iso(now_ms, now, sizeof now);
    int rc = nw > 0 ? ts_store_begin(st, err) : 0;
    bool began = nw > 0 && rc == 0;
    for (size_t i = 0; rc == 0 && i < nw; i++) {
        const ts__to_grade *t = &ungraded[i];
        json_t *f = json_pack("{s:s,s:s?,s:s,s:s}", "grade", t->grade, "grade_problems", t->text, "graded_submission",
                              ts_json_str(t->r, "submitted_at"), "graded_at", now);
        if (f == NULL) /* not UTF-8: cannot be, the store holds text */
            rc = ts_error_set(err, TS_EINVALID_RECORD, "grade of %s: not a text", t->id);
        else
            rc = ts_record_put_json(st, &who, "periodic_reports", t->id, f, err);
        json_decref(f);
        if (rc == 0) {
            (*written)++;
            *invalid += strcmp(t->grade, "invalid") == 0;
            if (stations && !ts__in(stations, ts_json_str(t->r, "_owner")))
                ts_strlist_add(stations, ts_json_str(t->r, "_owner"));
        }
    }
    for (size_t i = 0; i < n; i++)
        free(ungraded[i].text);
    free(ungraded);
    if (began) {
        if (rc == 0)
            rc = ts_store_commit(st, err);
        else
            ts_store_rollback(st);
    }
    if (rc < 0) { /* nothing written */
        *written = 0;
        *invalid = 0;
    }
    if (rc == 0 && outermost && *written > 0)
        ts_log_info("calendar_graded", "reports=%zu invalid=%zu left=%zu", *written, *invalid, n - nw);
    return rc;
}

int ts_calendar_grade(ts_store *st, const ts_strlist *ids, uint64_t now_ms, size_t *written, size_t *invalid,
                      ts_strlist *stations, ts_error *err)
{
    *written = 0;
    *invalid = 0;
    ts__world w;
    int rc = ids ? ts__world_some(st, ids, &w, err) : ts__world_recent(st, now_ms, false, true, &w, err);
    if (rc < 0)
        return rc;
    bool more;
    rc = ts__grade(&w, now_ms, 0, written, invalid, &more, stations, err);
    ts__world_free(&w);
    return rc;
}

static bool ts__owes(const char *status)
{
    return strcmp(status, "missing") == 0 || strcmp(status, "invalid") == 0 || strcmp(status, "pending") == 0;
}

/* ---------------------------------------------------------------- reminders */

void ts_cal_reminders_free(ts_cal_reminder *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ts_strlist_free(&r[i].stations);
    free(r);
}

void ts_cal_run_free(ts_cal_run *run)
{
    ts_cal_reminders_free(run->reminders, run->nreminders);
    ts_strlist_free(&run->graded_stations);
    memset(run, 0, sizeof *run);
}

static int ts__send(ts_store *st, const ts_actor *who, const char *issuer, const char *occ_id, const json_t *occ,
                    bool late, const ts_strlist *to, ts_cal_reminder *out, ts_error *err)
{
    bool report = strcmp(ts_json_str(occ, "kind"), "periodic_report") == 0;
    char when[48], period[64];
    ts_vn_date(report ? ts_json_str(occ, "due_date") : ts_json_str(occ, "meeting_at"), when, sizeof when);
    ts_period_key_label(ts_json_str(occ, "period"), false, period, sizeof period);
    /* the title is at most 300 characters and the subject may hold 500:
     * whole texts, never cut inside a character (it would not be UTF-8) */
    const char *title = ts_json_str(occ, "title");
    char *subject, *body;
    if (report && late)
        subject = ts_xasprintf("Nhắc nộp báo cáo quá hạn: %s, %s (hạn %s)", title, period, when);
    else if (report)
        subject = ts_xasprintf("Nhắc nộp báo cáo: %s, %s, hạn %s", title, period, when);
    else
        subject = ts_xasprintf("Giấy mời: %s, %s", title, when);
    if (report)
        body = ts_xasprintf("Đề nghị trạm nộp báo cáo \"%s\" kỳ %s: tramsync calendar, rồi tramsync submit %s --field "
                            "tên=giá_trị.",
                            title, period, occ_id);
    else
        body = ts_xasprintf("Thời gian: %s. Địa điểm: %s. Thành phần: %s.", when, ts_json_str(occ, "place"),
                            ts_json_str(occ, "participants"));
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "doc_type", report ? "thong_bao" : "giay_moi", "issuer",
                          issuer && issuer[0] ? issuer : "Trung tâm Y tế khu vực", "subject", subject, "body", body,
                          "category", "supervision", "urgency", late ? "khan" : "thuong");
    free(subject);
    free(body);
    if (f == NULL)
        return ts_error_set(err, TS_EINVALID_RECORD, "reminder of %s: not a text", occ_id);
    uint64_t end;
    if (report && ts_local_day_end(ts_json_str(occ, "due_date"), &end)) {
        char iso[40];
        ts_time_iso(end - 1000, iso, sizeof iso);
        json_object_set_new(f, "deadline", json_string(iso));
    }
    int rc = ts_notice_create(st, who, f, to, out->notice, sizeof out->notice, err);
    json_decref(f);
    if (rc < 0)
        return rc;
    char now_iso[40];
    ts_time_iso(ts_wall_ms(), now_iso, sizeof now_iso);
    json_t *mark = json_pack("{s:s}", late ? "reminded_late_at" : "reminded_before_at", now_iso);
    rc = ts_record_put_json(st, who, "duty_occurrences", occ_id, mark, err);
    json_decref(mark);
    return rc;
}

/* The reminders of ts_calendar_remind on w (its occurrences of every duty
 * read: ts__world_recent). */
static int ts__remind(ts__world *w, const char *issuer, uint64_t now_ms, ts_cal_reminder **out, size_t *n,
                      ts_error *err)
{
    *out = NULL;
    *n = 0;
    ts_store *st = w->st;
    int rc = 0;
    ts_date today;
    ts__today(now_ms, &today);
    char today_s[16];
    ts_date_fmt(today, today_s, sizeof today_s);
    ts_actor who = {TS_ACTOR_LOCAL, "calendar", NULL, "timer"};
    /* what may be reminded today: a report due from 7 days back on, a
     * meeting from today on; of a live duty */
    size_t nids = 0;
    const char **ids = ts__occ_ids(w, &nids);
    for (size_t k = 0; rc == 0 && k < nids; k++) {
        const char *occ_id = ids[k];
        json_t *occ = json_object_get(w->occ, occ_id);
        const json_t *duty = json_object_get(w->duties, ts_json_str(occ, "duty_id"));
        if (duty == NULL)
            continue;
        /* a duty ended (active_to) before this period began asks nothing of it */
        const char *active_to = ts_json_str(duty, "active_to");
        if (active_to[0] && strcmp(ts_json_str(occ, "period_start"), active_to) > 0)
            continue;
        bool report = strcmp(ts_json_str(occ, "kind"), "periodic_report") == 0;
        ts_date due;
        char day[16];
        if (report) {
            if (!ts_date_parse(ts_json_str(occ, "due_date"), &due))
                continue;
        } else {
            uint64_t when;
            /* a meeting that has begun is not announced any more */
            if (!ts_time_parse(ts_json_str(occ, "meeting_at"), &when) || when <= now_ms)
                continue;
            ts__day_of(ts_json_str(occ, "meeting_at"), day, sizeof day);
            if (!ts_date_parse(day, &due))
                continue;
        }
        int before = ts_date_cmp(today, due);
        int remind_days = ts__i(duty, "remind_days", report ? 2 : 1);
        bool late = false;
        if (before <= 0 && ts_date_cmp(ts_date_add_days(due, -remind_days), today) <= 0 &&
            !ts_json_str(occ, "reminded_before_at")[0]) {
            late = false;
        } else if (report && before > 0 && ts_date_cmp(today, ts_date_add_days(due, 7)) <= 0 &&
                   !ts_json_str(occ, "reminded_late_at")[0]) {
            late = true;
        } else {
            continue;
        }
        if (report && (rc = ts__world_reports(w, occ_id, err)) < 0)
            break;
        ts_cal_reminder r;
        memset(&r, 0, sizeof r);
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(occ, "stations"), i, s) {
            const json_t *rep = NULL;
            json_t *problems = NULL;
            const char *status = report ? ts__status(w, occ_id, occ, json_string_value(s), today_s, &rep, &problems)
                                        : "pending";
            json_decref(problems);
            if (!report || ts__owes(status))
                ts_strlist_add(&r.stations, json_string_value(s));
        }
        if (r.stations.n == 0)
            continue;
        if ((rc = ts_store_begin(st, err)) == 0) {
            rc = ts__send(st, &who, issuer, occ_id, occ, late, &r.stations, &r, err);
            if (rc == 0)
                rc = ts_store_commit(st, err);
            else
                ts_store_rollback(st);
        }
        if (rc < 0) {
            /* one occurrence that cannot be reminded (a storage failure is
             * the store's to report) must not stop the reminders of the
             * others, on this run and every run after it */
            ts_log_error("calendar_failed", "occurrence=%s reason=%s", occ_id, err->msg);
            ts_strlist_free(&r.stations);
            if (err->code == TS_ESTORAGE)
                break;
            rc = 0;
            continue;
        }
        ts_notice_log_sent(st, r.notice, r.stations.n, &who);
        ts_log_info("calendar_reminded", "occurrence=%s late=%s stations=%zu notice=%s", occ_id,
                    late ? "true" : "false", r.stations.n, r.notice);
        *out = ts_xreallocarray(*out, *n + 1, sizeof **out);
        (*out)[(*n)++] = r;
    }
    free(ids);
    return rc;
}

int ts_calendar_remind(ts_store *st, const char *issuer, uint64_t now_ms, ts_cal_reminder **out, size_t *n,
                       ts_error *err)
{
    *out = NULL;
    *n = 0;
    ts__world w;
    int rc = ts__world_recent(st, now_ms, true, false, &w, err);
    if (rc < 0)
        return rc;
    rc = ts__remind(&w, issuer, now_ms, out, n, err);
    ts__world_free(&w);
    return rc;
}

int ts_calendar_run(ts_store *st, const char *issuer, uint64_t now_ms, size_t max_grades, ts_cal_run *run,
                    ts_error *err)
{
    memset(run, 0, sizeof *run);
    ts__world w;
    int rc = ts__world_recent(st, now_ms, true, true, &w, err);
    if (rc < 0)
        return rc;
    rc = ts__remind(&w, issuer, now_ms, &run->reminders, &run->nreminders, err);
    /* the reminders' failure is theirs: the reports are graded all the same */
    ts_error gerr;
    int grc = ts__grade(&w, now_ms, max_grades, &run->graded, &run->invalid, &run->more, &run->graded_stations, &gerr);
    if (grc < 0 && rc == 0) {
        rc = grc;
        *err = gerr;
    }
    ts__world_free(&w);
    return rc;
}

int ts_calendar_remind_late(ts_store *st, const ts_actor *who, const char *issuer, const char *occurrence_id,
                            uint64_t now_ms, ts_cal_reminder *out, ts_error *err)
{
    memset(out, 0, sizeof *out);
    ts__world w;
    int rc = ts__world_load(st, &w, err);
    if (rc < 0)
        return rc;
    char *next = ts_xasprintf("%s\x01", occurrence_id); /* that one id */
    rc = ts__load_range(st, "duty_occurrences", occurrence_id, next, false, w.occ, err);
    free(next);
    if (rc == 0 && json_object_get(w.occ, occurrence_id) != NULL)
        rc = ts__world_reports(&w, occurrence_id, err);
    if (rc < 0) {
        ts__world_free(&w);
        return rc;
    }
    const json_t *occ = json_object_get(w.occ, occurrence_id);
    if (occ == NULL) {
        ts__world_free(&w);
        return ts_error_set(err, TS_ENOT_FOUND, "no such occurrence");
    }
    if (strcmp(ts_json_str(occ, "kind"), "periodic_report") != 0) {
        ts__world_free(&w);
        return ts_error_set(err, TS_EBAD_VALUE, "only a periodic report's late stations can be reminded");
    }
    char today[16];
    ts_local_day(now_ms, today, sizeof today);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(occ, "stations"), i, s) {
        const json_t *rep = NULL;
        json_t *problems = NULL;
        const char *status = ts__status(&w, occurrence_id, occ, json_string_value(s), today, &rep, &problems);
        json_decref(problems);
        if (ts__owes(status))
            ts_strlist_add(&out->stations, json_string_value(s));
    }
    if (out->stations.n > 0)
        rc = ts__send(st, who, issuer, occurrence_id, occ, strcmp(today, ts_json_str(occ, "due_date")) > 0, &out->stations,
                      out, err);
    ts__world_free(&w);
    return rc;
}

/* ---------------------------------------------------------------- the grid */

/* by start, then by id (the order they were read in before: the same grid) */
static int ts__by_start(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int c = strcmp(ts_json_str(x, "period_start"), ts_json_str(y, "period_start"));
    return c ? c : strcmp(ts_json_str(x, "_id"), ts_json_str(y, "_id"));
}

/* Reads into w->occ what the grid of a duty may show: its last `periods`
 * occurrences begun by today. Its keys are read a year at a time from next
 * year's back (a key of a later year has not begun); once `periods` begun
 * ones are read from the years from y on, a key of y - 2 or before began
 * before each of them (see ts__load_occ_years), so y - 1 is the last year
 * read. */
static int ts__grid_occ(ts__world *w, const char *duty_id, uint32_t periods, const char *today, ts_error *err)
{
    ts_date t;
    if (!ts_date_parse(today, &t))
        return ts_error_set(err, TS_EBAD_VALUE, "not a day: %s", today);
    /* the duty's first year */
    char from[TS_KEY_MAX + 16], before[TS_KEY_MAX + 16];
    snprintf(from, sizeof from, "%s:0", duty_id);
    snprintf(before, sizeof before, "%s:9~", duty_id);
    ts_change_page page;
    ts_change_page_init(&page);
    int rc = ts_store_list_range(w->st, "duty_occurrences", from, before, 1, &page, err);
    bool any = rc == 0 && page.n == 1;
    int first = any ? ts__key_year(page.items[0].id + strlen(duty_id) + 1) : -1;
    ts_change_page_free(&page);
    if (!any)
        return rc;
    if (first < 0) /* not a key of a year: all of them */
        return ts__load_occ_years(w->st, duty_id, 0, 0, w->occ, err);
    uint32_t begun = 0;
    for (int y = t.y + 1; rc == 0 && y >= first; y--) {
        json_t *got = json_object();
        rc = ts__load_occ_years(w->st, duty_id, y, y, got, err);
        const char *id;
        json_t *o;
        json_object_foreach(got, id, o) {
            if (strcmp(ts_json_str(o, "duty_id"), duty_id) == 0 && strcmp(ts_json_str(o, "period_start"), today) <= 0)
                begun++;
        }
        json_object_update(w->occ, got);
        json_decref(got);
        if (rc == 0 && begun >= periods) {
            if (y - 1 >= first)
                rc = ts__load_occ_years(w->st, duty_id, y - 1, y - 1, w->occ, err);
            break;
        }
    }
    return rc;
}

static json_t *ts__station_row(const ts__world *w, const char *code)
{
    const json_t *d = json_object_get(w->dir, code);
    return json_pack("{s:s,s:s,s:s,s:[]}", "station", code, "name", d ? ts_json_str(d, "name") : code, "commune",
                     d ? ts_json_str(d, "commune") : "", "cells");
}

/* The district's grade written on a report (ts_calendar_grade), beside the
 * grid's live status: what the station was told, and when. state: current
 * (a grade of this very submission saying what the grid says), resubmitted
 * (of an older submission: the station reads "not yet graded" until the
 * next grade), outdated (of this submission, but the grid now says another
 * thing: the form or the due day changed since; the next grading tells the
 * station). NULL when the report was never graded. */
static json_t *ts__graded(const json_t *rep, const char *status, const json_t *problems)
{
    const char *grade = ts_json_str(rep, "grade");
    if (!grade[0])
        return NULL;
    json_t *was = json_loads(ts_json_str(rep, "grade_problems"), 0, NULL);
    if (!json_is_array(was)) {
        json_decref(was);
        was = json_array();
    }
    const char *state = "current";
    if (strcmp(ts_json_str(rep, "graded_submission"), ts_json_str(rep, "submitted_at")) != 0)
        state = "resubmitted";
    else if (strcmp(grade, status) != 0 || (problems != NULL && !json_equal(was, problems)) ||
             (problems == NULL && json_array_size(was) > 0))
        state = "outdated";
    json_t *g = json_pack("{s:s,s:s,s:s,s:s}", "grade", grade, "graded_at", ts_json_str(rep, "graded_at"),
                          "submission", ts_json_str(rep, "graded_submission"), "state", state);
    if (json_array_size(was) > 0)
        json_object_set_new(g, "problems", was);
    else
        json_decref(was);
    return g;
}

static json_t *ts__duty_grid(ts__world *w, const char *duty_id, const json_t *duty, uint32_t periods,
                             const ts_strlist *only, const char *today, int *rc, ts_error *err)
{
    /* its occurrences that have started, the last `periods` */
    size_t cap = json_object_size(w->occ), n = 0;
    json_t **list = ts_xcalloc(cap ? cap : 1, sizeof *list);
    const char *id;
    json_t *o;
    json_object_foreach(w->occ, id, o) {
        if (strcmp(ts_json_str(o, "duty_id"), duty_id) == 0 && strcmp(ts_json_str(o, "period_start"), today) <= 0) {
            json_object_set_new(o, "_id", json_string(id));
            list[n++] = o;
        }
    }
    qsort(list, n, sizeof *list, ts__by_start);
    size_t first = n > periods ? n - periods : 0;
    /* the reports of the periods shown */
    for (size_t k = first; *rc == 0 && k < n; k++)
        *rc = ts__world_reports(w, ts_json_str(list[k], "_id"), err);
    if (*rc < 0) {
        for (size_t k = 0; k < n; k++)
            json_object_del(list[k], "_id");
        free(list);
        return NULL;
    }
    /* the stations: every one owing any shown period */
    json_t *codes = json_object();
    for (size_t k = first; k < n; k++) {
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(list[k], "stations"), i, s) {
            if (ts__in(only, json_string_value(s)))
                json_object_set_new(codes, json_string_value(s), json_true());
        }
    }
    json_t *rows = json_array(), *cols = json_array();
    const char *code;
    json_t *x;
    json_object_foreach(codes, code, x)
        json_array_append_new(rows, ts__station_row(w, code));
    /* jansson keeps insertion order: sort the rows by code */
    size_t nrows = json_array_size(rows);
    for (size_t a = 1; a < nrows; a++)
        for (size_t b = a; b > 0 && strcmp(ts_json_str(json_array_get(rows, b - 1), "station"),
                                           ts_json_str(json_array_get(rows, b), "station")) > 0;
             b--) {
            json_t *t = json_incref(json_array_get(rows, b));
            json_array_set(rows, b, json_array_get(rows, b - 1));
            json_array_set_new(rows, b - 1, t);
        }
    for (size_t k = first; k < n; k++) {
        const json_t *occ = list[k];
        const char *occ_id = ts_json_str(occ, "_id");
        json_int_t counts[7] = {0}; /* on_time late missing pending invalid expected received */
        size_t r;
        json_t *row;
        json_array_foreach(rows, r, row) {
            const json_t *rep = NULL;
            json_t *problems = NULL;
            const char *status = ts__status(w, occ_id, occ, ts_json_str(row, "station"), today, &rep, &problems);
            json_t *cell = json_pack("{s:s,s:s}", "occurrence", occ_id, "status", status);
            if (rep) {
                json_object_set_new(cell, "submitted_at", json_string(ts_json_str(rep, "submitted_at")));
                if (ts_json_str(rep, "submitted_by")[0])
                    json_object_set_new(cell, "submitted_by", json_string(ts_json_str(rep, "submitted_by")));
            }
            json_t *graded = rep ? ts__graded(rep, status, problems) : NULL;
            if (graded)
                json_object_set_new(cell, "graded", graded);
            if (problems)
                json_object_set_new(cell, "problems", problems);
            json_array_append_new(json_object_get(row, "cells"), cell);
            static const char *const names[] = {"on_time", "late", "missing", "pending", "invalid"};
            for (int c = 0; c < 5; c++)
                if (strcmp(status, names[c]) == 0)
                    counts[c]++;
            if (strcmp(status, "not_owed") != 0)
                counts[5]++;
        }
        counts[6] = counts[0] + counts[1];
        json_t *col = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "occurrence", occ_id, "period",
                                ts_json_str(occ, "period"), "period_start", ts_json_str(occ, "period_start"), "period_end",
                                ts_json_str(occ, "period_end"), "due_date", ts_json_str(occ, "due_date"), "expected", counts[5],
                                "received", counts[6], "on_time", counts[0], "late", counts[1], "missing", counts[2],
                                "pending", counts[3], "invalid", counts[4]);
        json_object_set_new(col, "due_passed", json_boolean(strcmp(today, ts_json_str(occ, "due_date")) > 0));
        if (counts[5] > 0) {
            json_object_set_new(col, "reporting_rate", json_integer((counts[6] * 100 + counts[5] / 2) / counts[5]));
            json_object_set_new(col, "timeliness", json_integer((counts[0] * 100 + counts[5] / 2) / counts[5]));
        }
        if (ts_json_str(occ, "reminded_late_at")[0])
            json_object_set_new(col, "reminded_late_at", json_string(ts_json_str(occ, "reminded_late_at")));
        json_array_append_new(cols, col);
    }
    for (size_t k = 0; k < n; k++)
        json_object_del(list[k], "_id");
    free(list);
    json_decref(codes);
    json_t *g = json_pack("{s:s,s:s,s:s,s:o,s:o}", "duty", duty_id, "title", ts_json_str(duty, "title"), "recurrence",
                          ts_json_str(duty, "recurrence"), "periods", cols, "rows", rows);
    json_t *form = json_loads(ts_json_str(duty, "form"), 0, NULL);
    json_object_set_new(g, "form", form ? form : json_array());
    return g;
}

int ts_calendar_grid(ts_store *st, const char *duty_id, uint32_t periods, const ts_strlist *only, uint64_t now_ms,
                     json_t **out, ts_error *err)
{
    ts__world w;
    int rc = ts__world_load(st, &w, err);
    if (rc < 0)
        return rc;
    char today[16];
    ts_local_day(now_ms, today, sizeof today);
    json_t *grids = json_array();
    if (duty_id && duty_id[0]) {
        const json_t *duty = json_object_get(w.duties, duty_id);
        if (duty == NULL || strcmp(ts_json_str(duty, "kind"), "periodic_report") != 0) {
            json_decref(grids);
            ts__world_free(&w);
            return ts_error_set(err, TS_ENOT_FOUND, "no such periodic report");
        }
        if ((rc = ts__grid_occ(&w, duty_id, periods, today, err)) == 0) {
            json_t *g = ts__duty_grid(&w, duty_id, duty, periods, only, today, &rc, err);
            if (g)
                json_array_append_new(grids, g);
        }
    } else {
        const char *id;
        json_t *duty;
        json_object_foreach(w.duties, id, duty) {
            if (strcmp(ts_json_str(duty, "kind"), "periodic_report") != 0)
                continue;
            if ((rc = ts__grid_occ(&w, id, periods, today, err)) < 0)
                break;
            json_t *g = ts__duty_grid(&w, id, duty, periods, only, today, &rc, err);
            if (g == NULL)
                break;
            json_array_append_new(grids, g);
        }
    }
    if (rc < 0) {
        json_decref(grids);
        ts__world_free(&w);
        return rc;
    }
    /* for an account limited to some stations: nothing of a duty none of them owes */
    for (size_t i = json_array_size(grids); only && i-- > 0;)
        if (json_array_size(json_object_get(json_array_get(grids, i), "rows")) == 0)
            json_array_remove(grids, i);
    if (only && duty_id && duty_id[0] && json_array_size(grids) == 0) {
        json_decref(grids);
        ts__world_free(&w);
        return ts_error_set(err, TS_ENOT_FOUND, "no such periodic report");
    }
    *out = json_pack("{s:s,s:o}", "today", today, "duties", grids);
    ts__world_free(&w);
    return 0;
}

/* ---------------------------------------------------------------- the page */

/* by day, then by id (the order they were read in before: the same page) */
static int ts__by_when(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int c = strcmp(ts_json_str(x, "_when"), ts_json_str(y, "_when"));
    return c ? c : strcmp(ts_json_str(x, "id"), ts_json_str(y, "id"));
}

/* Every duty's id, deleted ones too (their occurrences stay). */
static int ts__duty_ids(ts_store *st, ts_strlist *ids, ts_error *err)
{
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 1] = "";
    int rc;
    for (;;) {
        rc = ts_store_list(st, "duties", after[0] ? after : NULL, TS__PAGE, true, &page, err);
        if (rc < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++)
            ts_strlist_add(ids, page.items[i].id);
        if (page.n < TS__PAGE)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    return rc;
}

static json_t *ts__cut(const json_t *list, const ts_strlist *only)
{
    json_t *r = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        if (ts__in(only, json_string_value(s)))
            json_array_append(r, s);
    }
    return r;
}

int ts_calendar_overview(ts_store *st, const ts_strlist *only, uint64_t now_ms, json_t **out, ts_error *err)
{
    ts__world w;
    int rc = ts__world_load(st, &w, err);
    if (rc < 0)
        return rc;
    ts_date today;
    ts__today(now_ms, &today);
    char today_s[16], from[16];
    ts_date_fmt(today, today_s, sizeof today_s);
    ts_date_fmt(ts_date_add_days(today, -45), from, sizeof from);
    /* the occurrences shown: a due day or a meeting from 45 days back on,
     * so a period that ended at most 366 days before (the longest due
     * delay): keys of the year before that one on; of any duty, even one
     * deleted since */
    int y_from = ts_date_add_days(today, -45 - 366).y - 1;
    ts_strlist all_duties = {NULL, 0};
    rc = ts__duty_ids(st, &all_duties, err);
    for (size_t i = 0; rc == 0 && i < all_duties.n; i++)
        rc = ts__load_occ_years(st, all_duties.v[i], y_from, 0, w.occ, err);
    ts_strlist_free(&all_duties);
    if (rc < 0) {
        ts__world_free(&w);
        return rc;
    }
    json_t *duties = json_array();
    const char *id;
    json_t *d;
    json_object_foreach(w.duties, id, d) {
        json_t *c = json_deep_copy(d);
        json_object_set_new(c, "id", json_string(id));
        char label[300];
        if (ts_json_str(d, "responsible_person")[0] &&
            ts_people_resolve(st, ts_json_str(d, "responsible_person"), NULL, 0, label, sizeof label) == 0)
            json_object_set_new(c, "responsible_person_label", json_string(label));
        if (only && json_array_size(json_object_get(c, "stations")) > 0) {
            /* a duty of other stations only is not shown */
            json_t *cut = ts__cut(json_object_get(d, "stations"), only);
            if (json_array_size(cut) == 0) {
                json_decref(cut);
                json_decref(c);
                continue;
            }
            json_object_set_new(c, "stations", cut);
        }
        json_array_append_new(duties, c);
    }
    size_t cap = json_object_size(w.occ), n = 0;
    json_t **list = ts_xcalloc(cap ? cap : 1, sizeof *list);
    json_t *o;
    json_object_foreach(w.occ, id, o) {
        char day[16];
        const char *when = ts_json_str(o, "due_date");
        if (!when[0]) {
            ts__day_of(ts_json_str(o, "meeting_at"), day, sizeof day);
            when = day;
        }
        if (strcmp(when, from) < 0)
            continue;
        json_t *stations = ts__cut(json_object_get(o, "stations"), only);
        if (json_array_size(stations) == 0) {
            json_decref(stations);
            continue;
        }
        json_t *c = json_deep_copy(o);
        json_object_set_new(c, "id", json_string(id));
        json_object_set_new(c, "_when", json_string(when));
        /* a meeting's chair, from its duty */
        const json_t *duty = json_object_get(w.duties, ts_json_str(o, "duty_id"));
        char label[300];
        if (duty && ts_json_str(duty, "responsible_person")[0] &&
            ts_people_resolve(st, ts_json_str(duty, "responsible_person"), NULL, 0, label, sizeof label) == 0)
            json_object_set_new(c, "responsible_person_label", json_string(label));
        json_object_set_new(c, "stations", stations);
        if (strcmp(ts_json_str(o, "kind"), "periodic_report") == 0 && (rc = ts__world_reports(&w, id, err)) < 0) {
            json_decref(c);
            break;
        }
        if (strcmp(ts_json_str(o, "kind"), "periodic_report") == 0) {
            json_int_t received = 0, expected = 0;
            size_t i;
            json_t *s;
            json_array_foreach(stations, i, s) {
                const json_t *rep = NULL;
                json_t *problems = NULL;
                const char *status = ts__status(&w, id, o, json_string_value(s), today_s, &rep, &problems);
                json_decref(problems);
                expected++;
                received += strcmp(status, "on_time") == 0 || strcmp(status, "late") == 0;
            }
            json_object_set_new(c, "expected", json_integer(expected));
            json_object_set_new(c, "received", json_integer(received));
            json_object_set_new(c, "due_passed", json_boolean(strcmp(today_s, when) > 0));
        }
        list[n++] = c;
    }
    if (rc < 0) {
        for (size_t k = 0; k < n; k++)
            json_decref(list[k]);
        free(list);
        json_decref(duties);
        ts__world_free(&w);
        return rc;
    }
    qsort(list, n, sizeof *list, ts__by_when);
    json_t *occs = json_array();
    for (size_t k = 0; k < n; k++) {
        json_object_del(list[k], "_when");
        json_array_append_new(occs, list[k]);
    }
    free(list);
    *out = json_pack("{s:s,s:o,s:o}", "today", today_s, "duties", duties, "occurrences", occs);
    ts__world_free(&w);
    return 0;
}

/* ---------------------------------------------------------------- checking a duty */

bool ts_calendar_duty_ok(const json_t *fields, char *why, size_t why_size)
{
    const char *kind = ts_json_str(fields, "kind");
    int rec = ts_recurrence_parse(ts_json_str(fields, "recurrence"));
    if (strcmp(kind, "periodic_report") == 0) {
        const char *text = ts_json_str(fields, "form");
        json_error_t jerr;
        json_t *form = json_loads(text[0] ? text : "[]", 0, &jerr);
        char fwhy[200];
        bool ok = form != NULL && ts_form_valid(form, fwhy, sizeof fwhy);
        if (form == NULL)
            snprintf(fwhy, sizeof fwhy, "not JSON (%.100s)", jerr.text);
        json_decref(form);
        if (!ok) {
            snprintf(why, why_size, "Mẫu báo cáo không hợp lệ / the form is not valid: %s", fwhy);
            return false;
        }
        if (rec == TS_REC_ONCE && !ts_json_str(fields, "on_date")[0]) {
            snprintf(why, why_size, "Báo cáo một lần cần ngày (on_date) / a one-off report needs on_date");
            return false;
        }
    } else if (strcmp(kind, "meeting") == 0 || strcmp(kind, "review") == 0) {
        if (rec == TS_REC_ONCE && !ts_json_str(fields, "on_date")[0]) {
            snprintf(why, why_size, "Việc một lần cần ngày (on_date) / a one-off duty needs on_date");
            return false;
        }
    }
    return true;
}
