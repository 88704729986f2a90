#include "tests/support/ts_test.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ts_xmalloc.h"

void ts_rng_seed(ts_rng *r, uint64_t seed)
{
    r->seed = seed;
    r->state = seed ^ 0x9e3779b97f4a7c15ull;
}

uint64_t ts_rng_next(ts_rng *r)
{
    /* splitmix64 */
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t ts_rng_below(ts_rng *r, uint64_t n)
{
    return n ? ts_rng_next(r) % n : 0;
}

bool ts_rng_chance(ts_rng *r, double p)
{
    return (double)(ts_rng_next(r) >> 11) / (double)(1ull << 53) < p;
}

uint64_t ts_test_seed_count(uint64_t default_count)
{
    return getenv("TS_TEST_SEED") ? 1 : default_count;
}

uint64_t ts_test_seed(uint64_t i)
{
    const char *s = getenv("TS_TEST_SEED");
    return s ? strtoull(s, NULL, 10) : 1000 + i;
}

long ts_hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
            continue;
        else
            return -1;
        if (hi < 0) {
            hi = v;
        } else {
            if (n == cap)
                return -1;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? (long)n : -1;
}

void ts_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

char *ts_tmpdir_make(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = ts_xasprintf("%s/tramsync-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpl, strerror(errno));
        abort();
    }
    return tmpl;
}

static void ts__rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char *sub = ts_xasprintf("%s/%s", path, e->d_name);
                ts__rm_rf(sub);
                free(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

void ts_tmpdir_remove(char *path)
{
    if (path == NULL)
        return;
    if (getenv("TS_KEEP_TMP") == NULL)
        ts__rm_rf(path);
    free(path);
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = ts_xmalloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = ts_xrealloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *ts_source_path(const char *rel)
{
    const char *base = getenv("TS_SOURCE_DIR");
    return ts_xasprintf("%s/%s", base && *base ? base : ".", rel);
}
