#include "common/ts_log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static ts_log_level ts__log_min = TS_LOG_INFO;
static ts_log_sink ts__log_sink;
static void *ts__log_sink_ctx;

static const char *const ts__level_names[] = {"debug", "info", "warn", "error", "off"};

void ts_log_set_level(ts_log_level min_level)
{
    ts__log_min = min_level;
}

ts_log_level ts_log_get_level(void)
{
    return ts__log_min;
}

int ts_log_level_parse(const char *name)
{
    for (int i = 0; i <= TS_LOG_OFF; i++)
        if (strcmp(name, ts__level_names[i]) == 0)
            return i;
    return -1;
}

const char *ts_log_level_name(ts_log_level level)
{
    return (unsigned)level <= TS_LOG_OFF ? ts__level_names[level] : "unknown";
}

void ts_log_set_sink(ts_log_sink sink, void *ctx)
{
    ts__log_sink = sink;
    ts__log_sink_ctx = ctx;
}

size_t ts_log_value(char *out, size_t size, const char *value, size_t n)
{
    if (size == 0)
        return 0;
    bool quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++) {
        unsigned char c = (unsigned char)value[i];
        quote = c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f;
    }
    size_t o = 0;
    if (!quote) {
        o = n < size - 1 ? n : size - 1;
        memcpy(out, value, o);
        out[o] = '\0';
        return o;
    }
    if (size < 3) {
        out[0] = '\0';
        return 0;
    }
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        char esc[5];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            k = 2;
        } else if (c < ' ' || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            k = 4;
        } else {
            esc[0] = (char)c;
            k = 1;
        }
        if (o + k + 2 > size) /* room for the closing quote and NUL */
            break;
        memcpy(out + o, esc, k);
        o += k;
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

/* snprintf for one conversion: `spec` is "%...X" as it stood in ts_log's
 * format, which the compiler checked against the arguments there (the
 * format attribute), so the non-literal format here is that checked one. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static size_t ts__one(char *out, size_t size, const char *spec, size_t speclen, va_list *ap)
{
    char fmt[32];
    if (speclen >= sizeof fmt)
        return 0;
    memcpy(fmt, spec, speclen);
    fmt[speclen] = '\0';
    char conv = spec[speclen - 1];
    /* the length modifier decides the argument's type */
    const char *len = spec + 1;
    while (strchr("-+ #0123456789.*", *len) != NULL)
        len++;
    int star = 0;
    for (const char *p = spec + 1; p < len; p++)
        star += *p == '*';
    int w1 = star > 0 ? va_arg(*ap, int) : 0, w2 = star > 1 ? va_arg(*ap, int) : 0;
    int n = 0;
#define TS__ONE(type)                                                                    \
    do {                                                                                 \
        type v = va_arg(*ap, type);                                                      \
        n = star == 0   ? snprintf(out, size, fmt, v)                                    \
            : star == 1 ? snprintf(out, size, fmt, w1, v)                                \
                        : snprintf(out, size, fmt, w1, w2, v);                           \
    } while (0)
    if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'E' || conv == 'g' || conv == 'G') {
        if (*len == 'L')
            TS__ONE(long double);
        else
            TS__ONE(double);
    } else if (conv == 'p') {
        TS__ONE(void *);
    } else if (conv == 'c') {
        TS__ONE(int);
    } else if (strncmp(len, "ll", 2) == 0 || *len == 'j') {
        if (conv == 'd' || conv == 'i')
            TS__ONE(long long);
        else
            TS__ONE(unsigned long long);
    } else if (*len == 'l' || *len == 'z' || *len == 't') {
        if (conv == 'd' || conv == 'i')
            TS__ONE(long);
        else
            TS__ONE(unsigned long);
    } else {
        if (conv == 'd' || conv == 'i')
            TS__ONE(int);
        else
            TS__ONE(unsigned int);
    }
#undef TS__ONE
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size ? size - 1 : 0;
}
#pragma GCC diagnostic pop

/* printf, except that every string argument goes through ts_log_value. */
static size_t ts__format(char *out, size_t size, const char *fmt, va_list ap0)
{
    va_list ap;
    va_copy(ap, ap0);
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = fmt; *p && o + 1 < size;) {
        if (*p != '%') {
            out[o++] = *p++;
            out[o] = '\0';
            continue;
        }
        if (p[1] == '%') {
            out[o++] = '%';
            out[o] = '\0';
            p += 2;
            continue;
        }
        const char *q = p + 1;
        while (*q && strchr("-+ #0123456789.*hlLqjzt", *q) != NULL)
            q++;
        if (*q == '\0')
            break;
        size_t speclen = (size_t)(q - p) + 1;
        if (*q == 's') {
            /* only a precision may come with a string: %s, %.Ns, %.*s */
            long prec = -1;
            const char *dot = memchr(p, '.', speclen);
            if (dot != NULL)
                prec = dot[1] == '*' ? va_arg(ap, int) : strtol(dot + 1, NULL, 10);
            const char *v = va_arg(ap, const char *);
            if (v == NULL)
                v = "(null)";
            size_t n = prec < 0 ? strlen(v) : strnlen(v, (size_t)prec);
            o += ts_log_value(out + o, size - o, v, n);
        } else {
            o += ts__one(out + o, size - o, p, speclen, &ap);
        }
        p = q + 1;
    }
    va_end(ap);
    return o;
}

void ts_log(ts_log_level level, const char *event, const char *fields, ...)
{
    if (level < ts__log_min || level >= TS_LOG_OFF)
        return;

    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), ts__level_names[level], event);
    if (n < 0)
        return;
    if (fields != NULL && fields[0] != '\0' && (size_t)n + 1 < sizeof line) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fields);
        ts__format(line + n, sizeof line - (size_t)n, fields, ap);
        va_end(ap);
    }

    if (ts__log_sink != NULL)
        ts__log_sink(level, line, ts__log_sink_ctx);
    else
        fprintf(stderr, "%s\n", line);
}
