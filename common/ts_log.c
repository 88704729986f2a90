#include "common/ts_log.h"

#include <stdarg.h>
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
        vsnprintf(line + n, sizeof line - (size_t)n, fields, ap);
        va_end(ap);
    }

    if (ts__log_sink != NULL)
        ts__log_sink(level, line, ts__log_sink_ctx);
    else
        fprintf(stderr, "%s\n", line);
}

const char *ts_log_quote(char *buf, size_t size, const char *value)
{
    if (size == 0)
        return buf;
    if (value == NULL)
        value = "";
    int needs = value[0] == '\0';
    for (const unsigned char *p = (const unsigned char *)value; *p && !needs; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            needs = 1;
    if (!needs) {
        snprintf(buf, size, "%s", value);
        return buf;
    }

    size_t o = 0;
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)value; *p && o + 5 < size; p++) {
        if (*p == '"' || *p == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)*p;
        } else if (*p < ' ' || *p == 0x7f) {
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", *p);
        } else {
            buf[o++] = (char)*p;
        }
    }
    if (o + 1 < size)
        buf[o++] = '"';
    buf[o < size ? o : size - 1] = '\0';
    return buf;
}
