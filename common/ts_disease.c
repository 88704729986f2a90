/* See ts_disease.h. */
#include "common/ts_disease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"

static int64_t ts__int(const ts_version *v, const char *name)
{
    int64_t n = 0;
    ts_recjson_int(v, name, &n);
    return n;
}

int ts_disease_catalog_load(ts_store *st, ts_disease_catalog *out, ts_error *err)
{
    memset(out, 0, sizeof *out);
    ts_change_page page;
    ts_change_page_init(&page);
    char after[TS_KEY_MAX + 2] = "";
    int rc = 0;
    for (;;) {
        if ((rc = ts_store_list(st, "diseases", after[0] ? after : NULL, 500, false, &page, err)) < 0)
            break;
        for (uint32_t i = 0; i < page.n; i++) {
            const ts_version *v = &page.items[i].v;
            out->v = ts_xreallocarray(out->v, out->n + 1, sizeof *out->v);
            ts_disease *d = &out->v[out->n++];
            memset(d, 0, sizeof *d);
            snprintf(d->code, sizeof d->code, "%s", page.items[i].id);
            ts_recjson_text(v, "name_vi", d->name_vi, sizeof d->name_vi);
            ts_recjson_text(v, "name_en", d->name_en, sizeof d->name_en);
            ts_recjson_text(v, "icd10", d->icd10, sizeof d->icd10);
            ts_recjson_text(v, "group", d->group, sizeof d->group);
            ts_recjson_bool(v, "case_by_case", &d->case_by_case);
            d->report_within_hours = ts__int(v, "report_within_hours");
            d->cluster_cases = ts__int(v, "cluster_cases");
            d->cluster_days = ts__int(v, "cluster_days");
            d->end_after_days = ts__int(v, "end_after_days");
        }
        if (page.n < 500)
            break;
        snprintf(after, sizeof after, "%s", page.items[page.n - 1].id);
    }
    ts_change_page_free(&page);
    if (rc < 0)
        ts_disease_catalog_free(out);
    return rc;
}

void ts_disease_catalog_free(ts_disease_catalog *c)
{
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

const ts_disease *ts_disease_find(const ts_disease_catalog *c, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const ts_disease *d = &c->v[i];
        if (strcasecmp(d->code, text) == 0 || strcasecmp(d->name_vi, text) == 0 ||
            (d->name_en[0] && strcasecmp(d->name_en, text) == 0))
            return d;
    }
    return NULL;
}
