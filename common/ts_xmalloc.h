/* Allocation that never returns NULL: running out of memory is fatal (tmux's
 * xmalloc.c). Callers therefore never carry an out-of-memory error path. */
#ifndef TS_XMALLOC_H
#define TS_XMALLOC_H

#include <stddef.h>

void *ts_xmalloc(size_t size);
void *ts_xcalloc(size_t nmemb, size_t size);
void *ts_xrealloc(void *ptr, size_t size);
/* realloc for arrays: fatal on multiplication overflow as well. */
void *ts_xreallocarray(void *ptr, size_t nmemb, size_t size);
char *ts_xstrdup(const char *s);
char *ts_xstrndup(const char *s, size_t n);
void *ts_xmemdup(const void *p, size_t n);
/* printf into a fresh allocation. */
char *ts_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
