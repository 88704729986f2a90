/* tramsyncctl notice: send (with attachments), list, show, status,
 * redistribute a station's report, through the admin API. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/ts_buf.h"
#include "common/ts_notice.h"
#include "common/ts_text.h"
#include "common/ts_xmalloc.h"
#include "server/ctl/ts_ctl_int.h"

#define TS__ATTACH_HARD_MAX (16 * 1024 * 1024)

/* MIME types of the files a district sends with a notice, by extension;
 * anything else goes as application/octet-stream. */
static const char *ts__mime_of(const char *name)
{
    static const char *const types[][2] = {
        {"pdf", "application/pdf"},
        {"doc", "application/msword"},
        {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"xls", "application/vnd.ms-excel"},
        {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {"odt", "application/vnd.oasis.opendocument.text"},
        {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
        {"txt", "text/plain"},
        {"csv", "text/csv"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"png", "image/png"},
        {"zip", "application/zip"},
    };
    const char *dot = strrchr(name, '.');
    if (dot != NULL)
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            if (strcasecmp(dot + 1, types[i][0]) == 0)
                return types[i][1];
    return "application/octet-stream";
}

/* The --attach files as the API takes them ({"name", "mime", "data" in
 * base64}), checked first against the limits the server announces so a
 * large file is refused before it travels. */
static int ts__attachments(ts_ctl_client *c, const ts_ctl_opts *o, json_t **out)
{
    *out = NULL;
    json_t *labels = NULL;
    int rc = ts_ctl__call(c, "GET", "/api/labels", NULL, &labels);
    if (rc != 0)
        return rc;
    const json_t *limits = json_object_get(labels, "limits");
    json_int_t max_files = json_integer_value(json_object_get(limits, "attachments"));
    json_int_t max_bytes = json_integer_value(json_object_get(limits, "attachment_bytes"));
    json_decref(labels);
    if (max_files > 0 && (json_int_t)o->nattach > max_files)
        return ts_ctl__err(TS__L(c, "%zu tệp đính kèm: một văn bản mang tối đa %lld tệp",
                                 "%zu attachments: a notice carries at most %lld"),
                           o->nattach, (long long)max_files);
    json_t *arr = json_array();
    for (size_t i = 0; i < o->nattach; i++) {
        const char *path = o->attach[i];
        FILE *f = fopen(path, "rb");
        struct stat sb;
        if (f == NULL || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
            int e = errno;
            if (f)
                fclose(f);
            json_decref(arr);
            return ts_ctl__err(TS__L(c, "không đọc được %s: %s", "cannot read %s: %s"), path,
                               f ? TS__L(c, "không phải tệp thông thường", "not a regular file") : strerror(e));
        }
        /* a cap of our own when the daemon announces none (an older one) */
        if (max_bytes <= 0)
            max_bytes = TS__ATTACH_HARD_MAX;
        if (sb.st_size > max_bytes) {
            fclose(f);
            json_decref(arr);
            return ts_ctl__err(TS__L(c, "%s: %lld byte, quá giới hạn %lld byte (%lld KiB) cho mỗi tệp đính kèm",
                                     "%s: %lld bytes, more than the limit of %lld bytes (%lld KiB) per attachment"),
                               path,
                           (long long)sb.st_size, (long long)max_bytes, (long long)max_bytes / 1024);
        }
        size_t len = (size_t)sb.st_size;
        uint8_t *data = ts_xmalloc(len ? len : 1);
        size_t got = fread(data, 1, len, f);
        fclose(f);
        if (got != len) {
            free(data);
            json_decref(arr);
            return ts_ctl__err(TS__L(c, "không đọc được %s: tệp bị cắt ngắn", "cannot read %s: short read"), path);
        }
        char *b64 = ts_xmalloc(4 * ((len + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
        free(data);
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        json_t *file = json_pack("{s:s,s:s,s:s}", "name", name, "mime", ts__mime_of(name), "data", b64);
        free(b64);
        if (file == NULL) { /* jansson takes UTF-8 only */
            json_decref(arr);
            return ts_ctl__err(TS__L(c, "%s: tên tệp không phải UTF-8; hãy đổi tên tệp", "%s: the file name is not UTF-8; rename the file"),
                               path);
        }
        json_array_append_new(arr, file);
    }
    *out = arr;
    return 0;
}

int ts_ctl_notice(ts_ctl *ctl, ts_ctl_client *c, int argc, char **argv)
{
    ts_ctl_opts o;
    memset(&o, 0, sizeof o);
    o.allow_attach = argc >= 2 && strcmp(argv[1], "send") == 0;
    ts_ctl_sub sc;
    int prc = ts_ctl__parse_sub(argc, argv, &o, c, &sc);
    if (prc != 0)
        return prc; /* a usage error, or one already explained (too many --attach) */
    /* dates to show (list, show, status): in the district's time zone */
    c->want_tz = !ctl->json && strcmp(sc.name, "send") != 0 && strcmp(sc.name, "redistribute") != 0;
    int rc = ts_ctl__login(c);
    if (rc != 0)
        return rc;
    json_t *res = NULL;
    char path[512];
    if (strcmp(sc.name, "send") == 0) {
        if (!o.subject || !o.urgency || !o.category || (!o.to && !o.stations && !o.communes) || sc.nrest)
            return TS_CTL_USAGE;
        json_t *n = json_pack("{s:s,s:s,s:s}", "subject", o.subject, "urgency", o.urgency, "category", o.category);
        const char *fields[][2] = {{"doc_type", o.doc_type}, {"number", o.number}, {"deadline", o.deadline},
                                   {"responsible", o.responsible}, {"task", o.task}, {"expected_result", o.expected},
                                   {"legal_basis", o.legal_basis}, {"issuer", o.issuer ? o.issuer : "Trung tâm Y tế khu vực"},
                                   {"body", o.body}, {"outbreak_id", o.outbreak}};
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
            if (fields[i][1])
                json_object_set_new(n, fields[i][0], json_string(fields[i][1]));
        if (o.body_file) {
            FILE *f = fopen(o.body_file, "r");
            if (f == NULL) {
                json_decref(n);
                return ts_ctl__err(TS__L(c, "không đọc được %s", "cannot read %s"), o.body_file);
            }
            ts_buf b = TS_BUF_INIT;
            char chunk[4096];
            size_t k;
            while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
                ts_buf_append(&b, chunk, k);
            fclose(f);
            json_object_set_new(n, "body", json_stringn((const char *)b.data, b.len));
            ts_buf_free(&b);
        }
        if (o.cc)
            json_object_set_new(n, "cc_commune_committee", json_true());
        json_t *files = NULL;
        if (o.nattach > 0 && (rc = ts__attachments(c, &o, &files)) != 0) {
            json_decref(n);
            return rc;
        }
        json_t *body = json_pack("{s:o,s:o}", "notice", n, "recipients", ts_ctl__recipients(o.to, o.stations, o.communes));
        if (files != NULL)
            json_object_set_new(body, "attachments", files);
        rc = ts_ctl__call(c, "POST", "/api/notices", body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json) {
            size_t nfiles = json_array_size(json_object_get(res, "attachments"));
            printf(TS__L(ctl, "đã gửi văn bản %s tới %zu trạm", "notice %s sent to %zu station(s)"), ts_ctl__s(res, "id"),
                   json_array_size(json_object_get(res, "recipients")));
            if (nfiles > 0 && !ctl->en)
                printf(" kèm %zu tệp", nfiles);
            else if (nfiles > 0)
                printf(" with %zu attachment%s", nfiles, nfiles > 1 ? "s" : "");
            putchar('\n');
        }
    } else if (strcmp(sc.name, "list") == 0) {
        rc = ts_ctl__call(c, "GET", "/api/notices", NULL, &res);
        if (rc == 0 && !ctl->json) {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(res, "notices"), i, it) {
                const json_t *cnt = json_object_get(it, "counts");
                ts_text_col(stdout, ts_ctl__s(it, "id"), 24);
                fputc(' ', stdout);
                ts_text_col(stdout, ts_ctl__label(ctl, ts_notice_urgencies, 4, ts_ctl__s(it, "urgency")), 28);
                fputc(' ', stdout);
                ts_text_col(stdout, ts_ctl__s(it, "number"), 14);
                printf(TS__L(ctl,
                             " %s\n    %lld đã gửi, %lld đã nhận, %lld đã xác nhận, %lld đang xử lý, %lld hoàn thành, "
                             "%lld quá hạn\n",
                             " %s\n    %lld sent, %lld delivered, %lld acknowledged, %lld in progress, %lld done, "
                             "%lld overdue\n"),
                       ts_ctl__s(it, "subject"), (long long)ts_ctl__i(cnt, "sent"), (long long)ts_ctl__i(cnt, "delivered"),
                       (long long)ts_ctl__i(cnt, "acknowledged"), (long long)ts_ctl__i(cnt, "in_progress"),
                       (long long)ts_ctl__i(cnt, "done"), (long long)ts_ctl__i(cnt, "overdue"));
            }
        }
    } else if ((strcmp(sc.name, "show") == 0 || strcmp(sc.name, "status") == 0) && sc.nrest == 1) {
        snprintf(path, sizeof path, "/api/notices/%s", sc.rest[0]);
        rc = ts_ctl__call(c, "GET", path, NULL, &res);
        if (rc == 0 && !ctl->json) {
            const json_t *f = json_object_get(res, "fields");
            if (strcmp(sc.name, "show") == 0) {
                char issued[32], deadline[32];
                ts_text_date(ts_ctl__s(f, "issue_date"), issued, sizeof issued);
                ts_text_date(json_object_get(f, "deadline") ? ts_ctl__s(f, "deadline") : "-", deadline, sizeof deadline);
                printf(TS__L(ctl, "%s  %s  %s\n  %s\n  %s, %s — %s\n  hạn xử lý %s, người chịu trách nhiệm %s\n%s%s\n",
                             "%s  %s  %s\n  %s\n  %s, %s — %s\n  deadline %s, responsible %s\n%s%s\n"),
                       ts_ctl__s(res, "id"), ts_ctl__s(f, "number"),
                       ts_ctl__label(ctl, ts_notice_urgencies, 4, ts_ctl__s(f, "urgency")), ts_ctl__s(f, "subject"),
                       ts_ctl__s(f, "issuer"), issued, ts_ctl__label(ctl, ts_notice_categories, 12, ts_ctl__s(f, "category")),
                       deadline, json_object_get(f, "responsible") ? ts_ctl__s(f, "responsible") : "-",
                       json_object_get(f, "body") ? "\n" : "", ts_ctl__s(f, "body"));
            }
            size_t k;
            json_t *a;
            json_array_foreach(strcmp(sc.name, "show") == 0 ? json_object_get(res, "attachments") : NULL, k, a) {
                if (k == 0)
                    printf(TS__L(ctl, "tệp đính kèm:\n", "attachments:\n"));
                printf("  %s  ", ts_ctl__s(a, "id"));
                ts_text_col(stdout, ts_ctl__s(a, "name"), 40);
                printf(TS__L(ctl, " %8lld byte   %-28s sha256 %.16s...\n", " %8lld bytes  %-28s sha256 %.16s...\n"),
                       (long long)ts_ctl__i(a, "size"), ts_ctl__s(a, "mime"), ts_ctl__s(a, "sha256"));
            }
            static const size_t cols[] = {16, 30, 22, 28};
            const char *titles[] = {TS__L(ctl, "TRẠM", "STATION"), TS__L(ctl, "TRẠNG THÁI", "STATE"),
                                    TS__L(ctl, "THỜI ĐIỂM", "WHEN"), TS__L(ctl, "NGƯỜI XÁC NHẬN", "WHO"),
                                    TS__L(ctl, "LƯU Ý", "FLAGS")};
            for (size_t t = 0; t < 4; t++) {
                ts_text_col(stdout, titles[t], cols[t]);
                fputc(' ', stdout);
            }
            printf("%s\n", titles[4]);
            size_t i;
            json_t *r;
            json_array_foreach(json_object_get(res, "recipients"), i, r) {
                const char *state = ts_ctl__s(r, "state");
                const char *when = strcmp(state, "done") == 0           ? ts_ctl__s(r, "done_at")
                                   : strcmp(state, "acknowledged") == 0 ? ts_ctl__s(r, "acknowledged_at")
                                   : strcmp(state, "in_progress") == 0  ? ts_ctl__s(r, "progress_at")
                                   : strcmp(state, "delivered") == 0    ? ts_ctl__s(r, "delivered_at")
                                                                        : ts_ctl__s(r, "sent_at");
                ts_text_col(stdout, ts_ctl__s(r, "station"), 16);
                fputc(' ', stdout);
                char when_text[32];
                ts_text_col(stdout, ts_ctl__label(ctl, ts_notice_states, 5, state), 30);
                fputc(' ', stdout);
                ts_text_col(stdout, when[0] ? ts_text_date(when, when_text, sizeof when_text) : "-", 22);
                fputc(' ', stdout);
                ts_text_col(stdout, json_object_get(r, "acknowledged_by") ? ts_ctl__s(r, "acknowledged_by") : "-", 28);
                printf(" %s%s\n", json_is_true(json_object_get(r, "overdue")) ? TS__L(ctl, "QUÁ HẠN ", "OVERDUE ") : "",
                       json_object_get(r, "escalated_at") ? TS__L(ctl, "ĐÃ NHẮC LẠI", "ESCALATED") : "");
            }
        }
    } else if (strcmp(sc.name, "redistribute") == 0 && sc.nrest == 1) {
        json_t *body = json_pack("{s:o}", "recipients", ts_ctl__recipients(o.to, o.stations, o.communes));
        json_t *n = json_object();
        if (o.urgency)
            json_object_set_new(n, "urgency", json_string(o.urgency));
        if (o.subject)
            json_object_set_new(n, "subject", json_string(o.subject));
        if (o.deadline)
            json_object_set_new(n, "deadline", json_string(o.deadline));
        json_object_set_new(body, "notice", n);
        snprintf(path, sizeof path, "/api/reports/%s/redistribute", sc.rest[0]);
        rc = ts_ctl__call(c, "POST", path, body, &res);
        json_decref(body);
        if (rc == 0 && !ctl->json)
            printf(TS__L(ctl, "đã chuyển tiếp báo cáo %s thành văn bản %s tới %zu trạm\n",
                         "report %s passed on as notice %s to %zu station(s)\n"),
                   sc.rest[0], ts_ctl__s(res, "id"),
                   json_array_size(json_object_get(res, "recipients")));
    } else {
        return TS_CTL_USAGE;
    }
    if (rc == 0 && ctl->json)
        ts_ctl__print(res);
    json_decref(res);
    return rc;
}

