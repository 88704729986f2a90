#include "common/ts_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>
#include <uv.h>

#include "common/ts_xmalloc.h"

int ts_parse_duration_ms(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || v < 0)
        return TS_EBAD_VALUE;
    while (*end == ' ')
        end++;
    double mul;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else if (strcmp(end, "d") == 0)
        mul = 86400000;
    else
        return TS_EBAD_VALUE;
    *out = (uint64_t)(v * mul + 0.5);
    return 0;
}

int ts_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno != 0 || s[0] == '-')
        return TS_EBAD_VALUE;
    while (*end == ' ')
        end++;
    uint64_t mul;
    if (*end == '\0' || strcmp(end, "B") == 0)
        mul = 1;
    else if (strcasecmp(end, "KiB") == 0 || strcasecmp(end, "K") == 0)
        mul = 1024;
    else if (strcasecmp(end, "MiB") == 0 || strcasecmp(end, "M") == 0)
        mul = 1024 * 1024;
    else if (strcasecmp(end, "GiB") == 0 || strcasecmp(end, "G") == 0)
        mul = 1024ull * 1024 * 1024;
    else
        return TS_EBAD_VALUE;
    if (v > UINT64_MAX / mul)
        return TS_EBAD_VALUE;
    *out = v * mul;
    return 0;
}

int ts_parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0 ||
             strcmp(s, "0") == 0)
        *out = false;
    else
        return TS_EBAD_VALUE;
    return 0;
}

int ts_parse_listen(const char *s, struct sockaddr_storage *out, ts_error *err)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (colon == NULL)
        return ts_error_set(err, TS_EBAD_VALUE, "\"%s\": expected host:port", s);
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host)
        return ts_error_set(err, TS_EBAD_VALUE, "\"%s\": host too long", s);
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return ts_error_set(err, TS_EBAD_VALUE, "\"%s\": bad port", s);
    memset(out, 0, sizeof *out);
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 2 || host[n - 1] != ']')
            return ts_error_set(err, TS_EBAD_VALUE, "\"%s\": bad IPv6 address", s);
        host[n - 1] = '\0';
        if (uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)out) != 0)
            return ts_error_set(err, TS_EBAD_VALUE, "\"%s\": bad IPv6 address", s);
        return 0;
    }
    const char *h = host[0] ? host : "0.0.0.0";
    if (strcmp(h, "localhost") == 0)
        h = "127.0.0.1";
    if (uv_ip4_addr(h, (int)port, (struct sockaddr_in *)out) != 0)
        return ts_error_set(err, TS_EBAD_VALUE, "\"%s\": bad IPv4 address (use an address, not a name)", s);
    return 0;
}

static const ts_cfg_key *ts__find(const ts_cfg_key *keys, const char *section, const char *key)
{
    for (const ts_cfg_key *k = keys; k->key; k++)
        if (strcmp(k->section, section) == 0 && strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

int ts_cfg_set(void *cfg, const ts_cfg_key *keys, const char *section, const char *key, const char *value,
               ts_error *err)
{
    const ts_cfg_key *k = ts__find(keys, section, key);
    if (k == NULL)
        return ts_error_set(err, TS_EBAD_VALUE, "unknown setting [%s] %s", section, key);
    char *field = (char *)cfg + k->offset;
    int rc = 0;
    switch (k->type) {
    case TS_CFG_STR: {
        char **p = (char **)(void *)field;
        free(*p);
        *p = ts_xstrdup(value);
        break;
    }
    case TS_CFG_U64: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (end == value || *end != '\0' || errno || value[0] == '-')
            rc = TS_EBAD_VALUE;
        else
            *(uint64_t *)(void *)field = v;
        break;
    }
    case TS_CFG_BOOL:
        rc = ts_parse_bool(value, (bool *)(void *)field);
        break;
    case TS_CFG_DURATION:
        rc = ts_parse_duration_ms(value, (uint64_t *)(void *)field);
        break;
    case TS_CFG_SIZE:
        rc = ts_parse_size(value, (uint64_t *)(void *)field);
        break;
    }
    if (rc < 0) {
        static const char *const what[] = {"text", "a whole number", "true or false",
                                           "a duration such as 10s or 5m", "a size such as 64KiB or 4MiB"};
        return ts_error_set(err, TS_EBAD_VALUE, "[%s] %s = %s: expected %s", section, key, value, what[k->type]);
    }
    return 0;
}

int ts_cfg_defaults(void *cfg, const ts_cfg_key *keys, ts_error *err)
{
    for (const ts_cfg_key *k = keys; k->key; k++) {
        int rc = ts_cfg_set(cfg, keys, k->section, k->key, k->def, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

typedef struct ts__ini_ctx {
    void *cfg;
    const ts_cfg_key *keys;
    ts_error *err;
    int rc;
} ts__ini_ctx;

static int ts__ini_handler(void *user, const char *section, const char *name, const char *value)
{
    ts__ini_ctx *x = user;
    if (x->rc < 0)
        return 0;
    x->rc = ts_cfg_set(x->cfg, x->keys, section, name, value, x->err);
    return x->rc == 0;
}

int ts_cfg_load(void *cfg, const ts_cfg_key *keys, const char *path, ts_error *err)
{
    ts__ini_ctx x = {cfg, keys, err, 0};
    int line = ini_parse(path, ts__ini_handler, &x);
    if (line == -1)
        return ts_error_set(err, TS_EIO, "cannot open config file %s: %s", path, strerror(errno));
    if (x.rc < 0) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        return ts_error_set(err, TS_EBAD_VALUE, "%s line %d: %s", path, line, msg);
    }
    if (line != 0)
        return ts_error_set(err, TS_EBAD_VALUE, "%s line %d: syntax error", path, line);
    return 0;
}

int ts_cfg_override(void *cfg, const ts_cfg_key *keys, const char *assignment, ts_error *err)
{
    const char *dot = strchr(assignment, '.'), *eq = strchr(assignment, '=');
    if (dot == NULL || eq == NULL || dot > eq)
        return ts_error_set(err, TS_EBAD_VALUE, "\"%s\": expected section.key=value", assignment);
    char section[64], key[64];
    snprintf(section, sizeof section, "%.*s", (int)(dot - assignment), assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    return ts_cfg_set(cfg, keys, section, key, eq + 1, err);
}

void ts_cfg_free(void *cfg, const ts_cfg_key *keys)
{
    for (const ts_cfg_key *k = keys; k->key; k++) {
        if (k->type == TS_CFG_STR) {
            char **p = (char **)(void *)((char *)cfg + k->offset);
            free(*p);
            *p = NULL;
        }
    }
}

/* A setting's description as comment lines: inih reads at most 200 bytes
 * of a line (INI_MAX_LINE) and takes the rest for a line of its own, which
 * is a syntax error, so a long description is wrapped at spaces. */
#define TS__CFG_COMMENT_WIDTH 100

static void ts__write_comment(FILE *out, const char *text)
{
    while (*text) {
        size_t n = strlen(text);
        if (n > TS__CFG_COMMENT_WIDTH) {
            size_t cut = TS__CFG_COMMENT_WIDTH;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            n = cut > 0 ? cut : TS__CFG_COMMENT_WIDTH; /* a word that long is cut (UTF-8 stays whole below) */
            while (n < strlen(text) && ((unsigned char)text[n] & 0xC0) == 0x80)
                n++;
        }
        fprintf(out, "; %.*s\n", (int)n, text);
        text += n;
        while (*text == ' ')
            text++;
    }
}

void ts_cfg_write(FILE *out, const void *cfg, const ts_cfg_key *keys, const char *title)
{
    fprintf(out, "; %s\n; Every setting is shown with its value; lines starting with ';' are comments.\n", title);
    const char *section = "";
    for (const ts_cfg_key *k = keys; k->key; k++) {
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            fprintf(out, "\n[%s]\n", section);
        }
        const char *field = (const char *)cfg + k->offset;
        ts__write_comment(out, k->doc);
        switch (k->type) {
        case TS_CFG_STR: {
            const char *v = *(const char *const *)(const void *)field;
            fprintf(out, "%s = %s\n", k->key, v ? v : "");
            break;
        }
        case TS_CFG_BOOL:
            fprintf(out, "%s = %s\n", k->key, *(const bool *)(const void *)field ? "true" : "false");
            break;
        case TS_CFG_U64:
            fprintf(out, "%s = %llu\n", k->key, (unsigned long long)*(const uint64_t *)(const void *)field);
            break;
        case TS_CFG_DURATION: {
            uint64_t ms = *(const uint64_t *)(const void *)field;
            if (ms % 1000 == 0)
                fprintf(out, "%s = %llus\n", k->key, (unsigned long long)(ms / 1000));
            else
                fprintf(out, "%s = %llums\n", k->key, (unsigned long long)ms);
            break;
        }
        case TS_CFG_SIZE: {
            uint64_t b = *(const uint64_t *)(const void *)field;
            if (b && b % (1024 * 1024) == 0)
                fprintf(out, "%s = %lluMiB\n", k->key, (unsigned long long)(b / (1024 * 1024)));
            else if (b && b % 1024 == 0)
                fprintf(out, "%s = %lluKiB\n", k->key, (unsigned long long)(b / 1024));
            else
                fprintf(out, "%s = %llu\n", k->key, (unsigned long long)b);
            break;
        }
        }
    }
}
