/* See ts_agent_status.h. A slot is "TSST1 <seq> <len> <sum>\n" then <len>
 * bytes of "key=value\n" lines; the sum is FNV-1a over those bytes, enough
 * to tell a slot half written from a whole one. */
#define _GNU_SOURCE
#include "client/ts_agent_status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ts_log.h"
#include "common/ts_xmalloc.h"

#define TS__SLOT 8192
#define TS__HEAD 64
#define TS__FILE (2 * TS__SLOT)

char *ts_agent_status_path(const char *database)
{
    return ts_xasprintf("%s-agent.status", database);
}

static uint32_t ts__sum(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 16777619u;
    }
    return h;
}

static void ts__init(ts_agent_status *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

static int ts__find(const ts_agent_status *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->kv[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* Cleans a value for one line: control bytes become spaces, and a cut never
 * splits a UTF-8 character. */
static void ts__clean(char *out, size_t size, const char *in)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 1 < size; p++)
        out[n++] = (char)(*p < 0x20 || *p == 0x7f ? ' ' : *p);
    /* in[n] continues a character cut short: drop its first bytes too */
    while (n > 0 && ((unsigned char)in[n] & 0xc0) == 0x80)
        n--;
    out[n] = '\0';
}

static void ts__put(ts_agent_status *s, const char *key, const char *value)
{
    int i = ts__find(s, key);
    if (i < 0) {
        if (s->n == TS_AGENT_STATUS_KEYS)
            return;
        i = (int)s->n++;
        snprintf(s->kv[i].key, sizeof s->kv[i].key, "%s", key);
    }
    ts__clean(s->kv[i].value, sizeof s->kv[i].value, value);
}

/* Parses one slot into s when it is whole; its seq, or 0. */
static uint64_t ts__parse_slot(ts_agent_status *s, const char *slot)
{
    char head[TS__HEAD + 1];
    memcpy(head, slot, TS__HEAD);
    head[TS__HEAD] = '\0';
    uint64_t seq;
    size_t len;
    uint32_t sum;
    int used = 0;
    if (sscanf(head, "TSST1 %" SCNu64 " %zu %" SCNx32 "\n%n", &seq, &len, &sum, &used) != 3 || used == 0 ||
        len > TS__SLOT - TS__HEAD || seq == 0)
        return 0;
    const char *body = slot + TS__HEAD;
    if (ts__sum(body, len) != sum)
        return 0;
    s->n = 0;
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (nl == NULL || eq == NULL || eq > nl)
            break;
        char key[40], value[TS_AGENT_STATUS_VALUE];
        snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
        snprintf(value, sizeof value, "%.*s", (int)(nl - eq - 1), eq + 1);
        ts__put(s, key, value);
        p = nl + 1;
    }
    return seq;
}

/* The newer of the two whole slots of the file open as fd. */
static int ts__read(ts_agent_status *s, int fd)
{
    static char buf[TS__FILE];
    ssize_t got = pread(fd, buf, sizeof buf, 0);
    if (got < (ssize_t)TS__FILE)
        return TS_ENOT_FOUND;
    ts_agent_status a, b;
    ts__init(&a);
    ts__init(&b);
    uint64_t sa = ts__parse_slot(&a, buf), sb = ts__parse_slot(&b, buf + TS__SLOT);
    if (sa == 0 && sb == 0)
        return TS_ENOT_FOUND;
    const ts_agent_status *best = sa > sb ? &a : &b;
    s->n = best->n;
    memcpy(s->kv, best->kv, sizeof s->kv);
    s->seq = sa > sb ? sa : sb;
    return 0;
}

int ts_agent_status_load(ts_agent_status *s, const char *database)
{
    ts__init(s);
    char *path = ts_agent_status_path(database);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return TS_ENOT_FOUND;
    int rc = ts__read(s, fd);
    close(fd);
    return rc;
}

int ts_agent_status_open(ts_agent_status *s, const char *database, ts_error *err)
{
    ts__init(s);
    s->path = ts_agent_status_path(database);
    int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return ts_error_set(err, TS_EIO, "cannot open %s: %s", s->path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) == 0 && sb.st_size >= TS__FILE) {
        ts__read(s, fd);
    } else {
        /* every block the file will ever need, now, while there is room */
        int rc = posix_fallocate(fd, 0, TS__FILE);
        if (rc != 0) {
            close(fd);
            return ts_error_set(err, TS_EIO, "cannot make %s: %s", s->path, strerror(rc));
        }
    }
    s->fd = fd;
    return 0;
}

static void ts__write(ts_agent_status *s)
{
    if (s->fd < 0)
        return;
    static char slot[TS__SLOT];
    memset(slot, 0, sizeof slot);
    char *body = slot + TS__HEAD;
    size_t len = 0, room = TS__SLOT - TS__HEAD;
    for (size_t i = 0; i < s->n; i++) {
        int w = snprintf(body + len, room - len, "%s=%s\n", s->kv[i].key, s->kv[i].value);
        if (w < 0 || (size_t)w >= room - len)
            break; /* what does not fit is left out whole */
        len += (size_t)w;
    }
    body[len] = '\0';
    uint64_t seq = s->seq + 1;
    snprintf(slot, TS__HEAD, "TSST1 %" PRIu64 " %zu %08" PRIx32 "\n", seq, len, ts__sum(body, len));
    ssize_t n = pwrite(s->fd, slot, sizeof slot, (off_t)((seq % 2) * TS__SLOT));
    if (n != (ssize_t)sizeof slot) {
        if (!s->write_failed)
            ts_log_warn("status_write_failed", "path=%s error=%s", s->path, n < 0 ? strerror(errno) : "short write");
        s->write_failed = true;
        return;
    }
    s->write_failed = false;
    s->seq = seq;
}

void ts_agent_status_set(ts_agent_status *s, const char *key, const char *value)
{
    int i = ts__find(s, key);
    char clean[TS_AGENT_STATUS_VALUE];
    ts__clean(clean, sizeof clean, value ? value : "");
    if (i >= 0 && strcmp(s->kv[i].value, clean) == 0)
        return;
    ts__put(s, key, clean);
    ts__write(s);
}

void ts_agent_status_set_u64(ts_agent_status *s, const char *key, uint64_t value)
{
    char v[24];
    snprintf(v, sizeof v, "%" PRIu64, value);
    ts_agent_status_set(s, key, v);
}

const char *ts_agent_status_get(const ts_agent_status *s, const char *key)
{
    int i = ts__find(s, key);
    return i < 0 ? "" : s->kv[i].value;
}

uint64_t ts_agent_status_get_u64(const ts_agent_status *s, const char *key)
{
    return strtoull(ts_agent_status_get(s, key), NULL, 10);
}

void ts_agent_status_close(ts_agent_status *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->path);
    s->path = NULL;
}
