#include "common/ts_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ts_notice.h"

/* Length of the UTF-8 sequence at s (1 for a malformed byte), and its code point. */
static size_t ts__char(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0) {
        *cp = c;
        return 1;
    }
    uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = v << 6 | (s[i] & 0x3fu);
    }
    *cp = v;
    return n;
}

static int ts__combining(uint32_t cp)
{
    return (cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x1ab0 && cp <= 0x1aff) || (cp >= 0x1dc0 && cp <= 0x1dff) ||
           (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe20 && cp <= 0xfe2f);
}

size_t ts_text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t cols = 0;
    while (*p) {
        uint32_t cp;
        p += ts__char(p, &cp);
        cols += !ts__combining(cp);
    }
    return cols;
}

size_t ts_text_prefix(const char *s, size_t max_cols)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t cols = 0, end = 0;
    while (p[end]) {
        uint32_t cp;
        size_t n = ts__char(p + end, &cp);
        if (!ts__combining(cp)) {
            if (cols == max_cols)
                break;
            cols++;
        }
        end += n;
    }
    return end;
}

void ts_text_col(FILE *out, const char *s, size_t cols)
{
    if (s == NULL)
        s = "";
    size_t w = ts_text_width(s);
    if (cols == 0 || w == cols) {
        fputs(s, out);
        return;
    }
    if (w < cols) {
        fputs(s, out);
        for (; w < cols; w++)
            fputc(' ', out);
        return;
    }
    size_t keep = ts_text_prefix(s, cols - 1);
    fwrite(s, 1, keep, out);
    fputs("\xe2\x80\xa6", out); /* … */
}

/* ---------------------------------------------------------------- language, dates */

int ts_text_pick_language(const char *lang, bool *en)
{
    if (lang == NULL) {
        static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
        for (size_t i = 0; i < sizeof vars / sizeof *vars && lang == NULL; i++) {
            const char *v = getenv(vars[i]);
            if (v && *v)
                lang = v;
        }
        *en = lang != NULL && strncmp(lang, "en", 2) == 0;
        return 0;
    }
    if (strcmp(lang, "vi") != 0 && strcmp(lang, "en") != 0)
        return -1;
    *en = strcmp(lang, "en") == 0;
    return 0;
}

void ts_text_time_ms(uint64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, size, "%d/%m/%Y %H:%M", &tm);
}

const char *ts_text_date(const char *text, char *out, size_t size)
{
    uint64_t ms;
    if (text == NULL)
        text = "";
    if (strlen(text) == 10 && ts_time_parse(text, &ms))
        /* a calendar date, the same day wherever the reader is */
        snprintf(out, size, "%.2s/%.2s/%.4s", text + 8, text + 5, text);
    else if (ts_time_parse(text, &ms))
        ts_text_time_ms(ms, out, size);
    else
        snprintf(out, size, "%s", text);
    return out;
}
