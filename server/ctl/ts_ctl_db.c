/* tramsyncctl backup | verify-backup | restore: the district database on the
 * server itself. A backup is taken online with SQLite's backup API while the
 * daemon keeps serving, and the copy is consistent (one snapshot). A restored database gets a new database id: every station
 * then sees a different district database and sends everything it owns again,
 * so changes made after the backup come back too. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "common/ts_config.h"
#include "common/ts_store.h"
#include "common/ts_vv.h"
#include "common/ts_xmalloc.h"
#include "server/ctl/ts_ctl.h"

/* The language asked for (ts_ctl.en), for the helpers below that have no ctl. */
static struct {
    bool en;
} ts__lang;
#define TS__T(in_vi, in_en) TS__L(&ts__lang, in_vi, in_en)

static int ts__err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ts__err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tramsyncctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return TS_CTL_ERROR;
}

/* The district database: --database, else [server] database (or data_dir)
 * of --config (default /etc/tramsync/tramsyncd.conf), else the package's. */
static char *ts__database(const char *database, const char *config)
{
    if (database)
        return ts_xstrdup(database);
    const char *conf = config ? config : "/etc/tramsync/tramsyncd.conf";
    FILE *f = fopen(conf, "r");
    char db[1024] = "", dir[1024] = "/var/lib/tramsync", section[64] = "", line[2048];
    while (f && fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '[') {
            snprintf(section, sizeof section, "%.*s", (int)strcspn(p + 1, "]"), p + 1);
            continue;
        }
        char *eq = strchr(p, '=');
        if (strcmp(section, "server") != 0 || *p == ';' || *p == '#' || eq == NULL)
            continue;
        char *key_end = eq;
        while (key_end > p && (key_end[-1] == ' ' || key_end[-1] == '\t'))
            key_end--;
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\r\n;")] = '\0';
        for (size_t n = strlen(v); n && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
            v[n - 1] = '\0';
        if ((size_t)(key_end - p) == 8 && strncmp(p, "database", 8) == 0)
            snprintf(db, sizeof db, "%s", v);
        else if ((size_t)(key_end - p) == 8 && strncmp(p, "data_dir", 8) == 0)
            snprintf(dir, sizeof dir, "%s", v);
    }
    if (f)
        fclose(f);
    return db[0] ? ts_xstrdup(db) : ts_xasprintf("%s/district.db", dir);
}

static int ts__backup(ts_ctl *ctl, const char *database, const char *target)
{
    (void)ctl;
    struct stat st;
    if (stat(target, &st) == 0)
        return ts__err(TS__T("%s đã có: hãy chọn tên tệp mới", "%s already exists: give a new file name"), target);
    sqlite3 *src = NULL, *dst = NULL;
    int rc = 0;
    if (sqlite3_open_v2(database, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = ts__err(TS__T("không mở được %s: %s", "cannot open %s: %s"), database,
                     src ? sqlite3_errmsg(src) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(src, 10000);
    char *tmp = ts_xasprintf("%s.partial", target);
    unlink(tmp);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        rc = ts__err(TS__T("không tạo được %s: %s", "cannot create %s: %s"), tmp,
                     dst ? sqlite3_errmsg(dst) : "out of memory");
        free(tmp);
        goto out;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL) {
        rc = ts__err(TS__T("sao lưu: %s", "backup: %s"), sqlite3_errmsg(dst));
        free(tmp);
        goto out;
    }
    /* All pages in one step, under one read transaction: with WAL the daemon
     * keeps writing meanwhile (readers never block writers), and the copy is
     * the one snapshot the transaction saw. Copying in small steps instead
     * would restart at every write and might never end during a push storm. */
    int step;
    while ((step = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || step == SQLITE_LOCKED)
        sqlite3_sleep(50);
    int pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (step != SQLITE_DONE) {
        rc = ts__err(TS__T("sao lưu không thành công: %s", "backup failed: %s"), sqlite3_errstr(step));
        unlink(tmp);
        free(tmp);
        goto out;
    }
    /* a backup is one self-contained file */
    sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    sqlite3_close(dst);
    dst = NULL;
    if (rename(tmp, target) != 0) {
        rc = ts__err(TS__T("không đổi được tên %s thành %s: %s", "cannot rename %s to %s: %s"), tmp, target,
                     strerror(errno));
        free(tmp);
        goto out;
    }
    free(tmp);
    chmod(target, 0600);
    printf(TS__T("đã ghi bản sao lưu của %s vào %s (%d trang); kiểm tra bằng: tramsyncctl verify-backup %s\n",
                 "backup of %s written to %s (%d pages); check it with: tramsyncctl verify-backup %s\n"),
           database, target, pages, target);
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    return rc;
}

static int64_t ts__scalar(sqlite3 *db, const char *sql, int *ok)
{
    sqlite3_stmt *q;
    int64_t v = 0;
    *ok = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW) {
            v = sqlite3_column_int64(q, 0);
            *ok = 1;
        }
        sqlite3_finalize(q);
    }
    return v;
}

static int ts__verify(ts_ctl *ctl, const char *file)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        int rc = ts__err(TS__T("không mở được %s: %s", "cannot open %s: %s"), file, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    int rc = 0, ok;
    sqlite3_stmt *q;
    char integrity[256] = "";
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            snprintf(integrity, sizeof integrity, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    int64_t version = ts__scalar(db, "PRAGMA user_version", &ok);
    char role[32] = "", db_id[64] = "";
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta WHERE key IN ('role', 'db_id')", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(q, 0), *v = (const char *)sqlite3_column_text(q, 1);
            if (strcmp(k, "role") == 0)
                snprintf(role, sizeof role, "%s", v);
            else
                snprintf(db_id, sizeof db_id, "%s", v);
        }
        sqlite3_finalize(q);
    }
    int64_t records = ts__scalar(db, "SELECT count(*) FROM records", &ok);
    int64_t live = ts__scalar(db, "SELECT count(*) FROM records WHERE deleted = 0", &ok);
    int64_t seq = ts__scalar(db, "SELECT max(seq) FROM records", &ok);
    int64_t conflicts = ts__scalar(db, "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL", &ok);
    bool good = strcmp(integrity, "ok") == 0 && strcmp(role, "server") == 0 && version >= 1 &&
                version <= TS_STORE_SCHEMA_VERSION;
    if (ctl->json)
        printf("{\"file\":\"%s\",\"ok\":%s,\"integrity\":\"%s\",\"schema\":%" PRId64 ",\"role\":\"%s\",\"db_id\":\"%s\","
               "\"records\":%" PRId64 ",\"live_records\":%" PRId64 ",\"last_seq\":%" PRId64
               ",\"open_conflicts\":%" PRId64 "}\n",
               file, good ? "true" : "false", integrity, version, role, db_id, records, live, seq, conflicts);
    else if (!ctl->en)
        printf("%s: %s\n  kiểm tra toàn vẹn     %s\n  phiên bản lược đồ     %" PRId64 " (chương trình này: %d)\n"
               "  vai trò               %s\n  mã cơ sở dữ liệu      %s\n  bản ghi               %" PRId64
               " (%" PRId64 " còn hiệu lực), số thứ tự cuối %" PRId64 "\n  xung đột chưa xử lý   %" PRId64 "\n",
               file, good ? "bản sao lưu của huyện dùng được" : "KHÔNG DÙNG ĐƯỢC",
               strcmp(integrity, "ok") == 0 ? "tốt" : integrity, version, TS_STORE_SCHEMA_VERSION,
               strcmp(role, "server") == 0 ? "huyện" : role[0] ? role : "(không có)", db_id, records, live, seq,
               conflicts);
    else
        printf("%s: %s\n  integrity_check  %s\n  schema           %" PRId64 " (this program: %d)\n  role             %s\n"
               "  database id      %s\n  records          %" PRId64 " (%" PRId64 " live), last sequence %" PRId64
               "\n  open conflicts   %" PRId64 "\n",
               file, good ? "a usable district backup" : "NOT USABLE", integrity, version, TS_STORE_SCHEMA_VERSION,
               role[0] ? role : "(none)", db_id, records, live, seq, conflicts);
    if (!good)
        rc = TS_CTL_INVALID;
    sqlite3_close(db);
    return rc;
}

static int ts__restore(ts_ctl *ctl, const char *backup, const char *database, bool force)
{
    int rc = ts__verify(ctl, backup);
    if (rc != 0)
        return ts__err(TS__T("%s không phải bản sao lưu dùng được; không có gì thay đổi",
                             "%s is not a usable backup; nothing was changed"),
                       backup);
    struct stat st;
    if (stat(database, &st) == 0 && !force)
        return ts__err(TS__T("%s đã có: hãy dừng tramsyncd rồi chạy lại với --force để thay thế",
                             "%s exists: stop tramsyncd, then run again with --force to replace it"),
                       database);
    char *tmp = ts_xasprintf("%s.restoring", database);
    sqlite3 *src = NULL, *dst = NULL;
    if (sqlite3_open_v2(backup, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        rc = ts__err(TS__T("không mở được %s hoặc %s", "cannot open %s or %s"), backup, tmp);
        goto out;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    int step = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
    if (b)
        sqlite3_backup_finish(b);
    if (step != SQLITE_DONE) {
        rc = ts__err(TS__T("khôi phục không thành công: %s", "restore failed: %s"), sqlite3_errmsg(dst));
        goto out;
    }
    /* a new identity: stations see a different district database and send
     * everything they own again, so what the backup missed comes back */
    unsigned char rnd[16];
    RAND_bytes(rnd, sizeof rnd);
    char id[33];
    for (int i = 0; i < 16; i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    /* ... and a new replica id for the district's own writes. Each record's
     * version vector numbers the district's writes per record: the restored
     * copy would number its next write of a record changed after the backup
     * with a dot stations already hold for that later write, so they would
     * take it as known and keep the lost value for good (a directory change
     * re-entered after a restore never reached the stations). Writes under a
     * new id are new to everyone. The prefix (the district owner) is kept. */
    char replica[TS_RID_MAX + 1] = "";
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(dst, "SELECT value FROM meta WHERE key = 'replica'", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL)
        snprintf(replica, sizeof replica, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    char *dot = strrchr(replica, '.');
    if (dot == NULL || dot == replica) {
        rc = ts__err(TS__T("bản sao lưu không có mã bản sao huyện hợp lệ (\"%s\")",
                           "the backup has no valid district replica id (\"%s\")"),
                     replica);
        goto out;
    }
    *dot = '\0';
    ts_rid rid;
    ts_rid_generate(&rid, replica);
    static const char *const keys[2] = {"db_id", "replica"};
    const char *values[2] = {id, rid.b};
    for (int i = 0; i < 2; i++) {
        bool done = sqlite3_prepare_v2(dst, "UPDATE meta SET value = ?2 WHERE key = ?1", -1, &q, NULL) == SQLITE_OK;
        if (done) {
            sqlite3_bind_text(q, 1, keys[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, values[i], -1, SQLITE_STATIC);
            done = sqlite3_step(q) == SQLITE_DONE && sqlite3_changes(dst) == 1;
        }
        sqlite3_finalize(q);
        if (!done) {
            rc = ts__err(TS__T("không đặt được %s mới cho cơ sở dữ liệu đã khôi phục: %s",
                               "cannot give the restored database a new %s: %s"),
                         keys[i], sqlite3_errmsg(dst));
            goto out;
        }
    }
    if (sqlite3_exec(dst, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
        rc = ts__err(TS__T("không chuyển được cơ sở dữ liệu đã khôi phục sang chế độ WAL: %s",
                           "cannot put the restored database in WAL mode: %s"),
                     sqlite3_errmsg(dst));
        goto out;
    }
    sqlite3_close(dst);
    dst = NULL;
    char *wal = ts_xasprintf("%s-wal", database), *shm = ts_xasprintf("%s-shm", database);
    unlink(wal);
    unlink(shm);
    free(wal);
    free(shm);
    if (rename(tmp, database) != 0) {
        rc = ts__err(TS__T("không đặt được %s vào chỗ: %s", "cannot move %s into place: %s"), tmp, strerror(errno));
        goto out;
    }
    printf(TS__T("đã khôi phục %s từ %s (mã cơ sở dữ liệu mới %s, bản sao huyện %s). Hãy khởi động tramsyncd: các\n"
                 "trạm sẽ gửi lại mọi thứ của mình, nên các thay đổi sau lần sao lưu sẽ trở về khi trạm kết nối lại.\n",
                 "restored %s from %s (new database id %s, district replica %s). Start tramsyncd: the stations will\n"
                 "send again everything they own, so changes made after the backup return as they reconnect.\n"),
           database, backup, id, rid.b);
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int ts_ctl_db(ts_ctl *ctl, int argc, char **argv)
{
    const char *database = NULL, *config = NULL;
    bool force = false;
    ts__lang.en = ctl->en;
    static const struct option opts[] = {{"database", required_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"force", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': database = optarg; break;
        case 'c': config = optarg; break;
        case 'f': force = true; break;
        default: return TS_CTL_USAGE;
        }
    }
    if (optind != argc - 1)
        return TS_CTL_USAGE;
    const char *file = argv[optind];
    char *db = ts__database(database, config);
    int rc;
    if (strcmp(argv[0], "backup") == 0)
        rc = ts__backup(ctl, db, file);
    else if (strcmp(argv[0], "verify-backup") == 0)
        rc = ts__verify(ctl, file);
    else
        rc = ts__restore(ctl, file, db, force);
    free(db);
    return rc;
}
