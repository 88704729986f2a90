#include "common/ts_xmalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn)) static void ts__oom(size_t size)
{
    fprintf(stderr, "level=fatal event=out_of_memory bytes=%zu\n", size);
    abort();
}

void *ts_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        ts__oom(size);
    return p;
}

void *ts_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        ts__oom(nmemb * size);
    return p;
}

void *ts_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        ts__oom(size);
    return p;
}

void *ts_xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        ts__oom(SIZE_MAX);
    return ts_xrealloc(ptr, nmemb * size);
}

char *ts_xstrdup(const char *s)
{
    return ts_xmemdup(s, strlen(s) + 1);
}

char *ts_xstrndup(const char *s, size_t n)
{
    char *p = ts_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *ts_xmemdup(const void *src, size_t n)
{
    void *p = ts_xmalloc(n);
    if (n)
        memcpy(p, src, n);
    return p;
}

char *ts_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        ts__oom(0);
    char *p = ts_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
