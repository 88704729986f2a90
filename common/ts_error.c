#include "common/ts_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ts_err_name(int err)
{
    switch (err) {
#define TS__ERR_NAME(name, num, text) \
    case -(num):                       \
        return #name;
        TS_ERRNO_MAP(TS__ERR_NAME)
#undef TS__ERR_NAME
    default:
        return "UNKNOWN";
    }
}

const char *ts_strerror(int err)
{
    switch (err) {
#define TS__ERR_TEXT(name, num, text) \
    case -(num):                       \
        return text;
        TS_ERRNO_MAP(TS__ERR_TEXT)
#undef TS__ERR_TEXT
    default:
        return "unknown error";
    }
}

int ts_err_from_name(const char *name)
{
#define TS__ERR_FROM(n, num, text) \
    if (strcmp(name, #n) == 0)      \
        return -(num);
    TS_ERRNO_MAP(TS__ERR_FROM)
#undef TS__ERR_FROM
    return 0;
}

int ts_error_set(ts_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void ts_error_clear(ts_error *err)
{
    if (err != NULL) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
