#include "server/ts_console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/ts_buf.h"
#include "common/ts_log.h"

static char ts__dir[1024] = "/usr/share/tramsync/console";

void ts_console_set_dir(const char *dir)
{
    snprintf(ts__dir, sizeof ts__dir, "%s", dir && dir[0] ? dir : "/usr/share/tramsync/console");
}

static const char *ts__mime(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL)
        return "application/octet-stream";
    static const char *const map[][2] = {
        {".html", "text/html; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".json", "application/json; charset=utf-8"},
        {".svg", "image/svg+xml"},               {".png", "image/png"},
        {".ico", "image/x-icon"},                {".woff2", "font/woff2"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(dot, map[i][0]) == 0)
            return map[i][1];
    return "application/octet-stream";
}

void ts_console_serve(ts_http_conn *hc, ts_http_req *req)
{
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        ts_http_error(hc, 405, "METHOD_NOT_ALLOWED", "the console is read with GET");
        return;
    }
    const char *rel = req->path;
    if (strcmp(rel, "/") == 0 || strcmp(rel, "") == 0)
        rel = "/index.html";
    /* only plain names below the console directory */
    for (const char *p = rel; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                  c == '.' || c == '-' || c == '_';
        if (!ok || (c == '.' && p[1] == '.')) {
            ts_http_error(hc, 404, "NOT_FOUND", "no such file");
            return;
        }
    }
    char path[2048];
    snprintf(path, sizeof path, "%s%s", ts__dir, rel);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 8 * 1024 * 1024) {
        ts_http_error(hc, 404, "NOT_FOUND", errno == ENOENT && stat(ts__dir, &st) != 0
                                                ? "the console files are not installed ([admin] console_dir)"
                                                : "no such file");
        return;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        ts_http_error(hc, 404, "NOT_FOUND", "no such file");
        return;
    }
    ts_buf b = TS_BUF_INIT;
    ts_buf_reserve(&b, (size_t)st.st_size);
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ts_buf_append(&b, chunk, n);
    fclose(f);
    /* the console loads nothing from elsewhere: no CDN, no inline scripts */
    static const char headers[] =
        "Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'\r\n";
    ts_http_respond(hc, 200, ts__mime(path), req->method == HTTP_HEAD ? NULL : b.data,
                    req->method == HTTP_HEAD ? 0 : b.len, headers);
    ts_buf_free(&b);
}
