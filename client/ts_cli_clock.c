/* After a PC's clock ran ahead: the changes written meanwhile carry stamps
 * the district refuses until real time catches up with them (hours, if the
 * clock was hours ahead). `clock-fix` is the operator's way to send them
 * now: once the clock is right again, it sets this station's stamps back
 * (ts_store_restamp_ahead). It asks for confirmation, since only a person
 * looking at the PC's clock can say it is right now. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client/ts_cli_int.h"
#include "common/ts_hlc.h"

static void ts__duration(const ts_cli *cli, uint64_t ms, char *out, size_t size)
{
    uint64_t min = ms / 60000;
    if (min >= 60)
        snprintf(out, size, TS__L(cli, "%" PRIu64 " giờ %02" PRIu64 " phút", "%" PRIu64 " h %02" PRIu64 " min"), min / 60,
                 min % 60);
    else
        snprintf(out, size, TS__L(cli, "%" PRIu64 " phút", "%" PRIu64 " min"), min);
}

int ts_cli_clock_fix(ts_cli *cli, int argc, char **argv)
{
    static const char help_vi[] =
        "cách dùng: tramsync [-d THƯ_MỤC] [--json] clock-fix [--yes]\n\n"
        "Khi đồng hồ máy này từng chạy nhanh, các thay đổi ghi trong lúc đó mang dấu thời gian ở\n"
        "tương lai và trung tâm từ chối chúng (status: LỖI ĐỒNG HỒ) cho tới khi giờ thực đuổi kịp.\n"
        "Khi ngày giờ của máy đã đúng lại, clock-fix đóng dấu thời gian mới cho các thay đổi đó\n"
        "để chúng được gửi ở lần đồng bộ sau. Không có --yes thì chỉ cho biết sẽ làm gì.\n";
    static const char help_en[] =
        "usage: tramsync [-d DIR] [--json] clock-fix [--yes]\n\n"
        "After this PC's clock ran ahead, the changes written meanwhile are stamped in the\n"
        "future and the district refuses them (status: CLOCK PROBLEM) until real time catches\n"
        "up. Once the PC's date and time are right again, clock-fix gives those changes new\n"
        "stamps so that they go at the next sync. Without --yes it only says what it would do.\n";
    const char *help = TS__L(cli, help_vi, help_en);
    if (ts_cli__wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool yes = argc == 2 && strcmp(argv[1], "--yes") == 0;
    if (argc > 2 || (argc == 2 && !yes))
        return ts_cli__usage(help, argc, argv);
    ts_cli__ctx x;
    int rc = ts_cli__open(cli, &x, !yes);
    if (rc != 0)
        return rc;
    uint64_t ahead = ts_store_clock_ahead_ms(x.store), bound = TS_HLC_DEFAULT_MAX_AHEAD_MS; /* when the district never said */
    ts_store_meta_get_u64(x.store, "district_clock_bound_ms", &bound);
    char dur[48], now_s[40];
    ts__duration(cli, ahead, dur, sizeof dur);
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(now_s, sizeof now_s, "%d/%m/%Y %H:%M", &tm);
    if (ahead <= bound) {
        if (cli->json) {
            json_t *o = json_pack("{s:b,s:I}", "fixed", 0, "ahead_ms", (json_int_t)ahead);
            ts_cli__print_json(o);
            json_decref(o);
        } else {
            fputs(TS__L(cli, "Không có gì cần sửa: các thay đổi của trạm không mang dấu thời gian vượt trước đồng hồ "
                             "của máy này.\n",
                        "Nothing to fix: this station's changes are not stamped ahead of this PC's clock.\n"),
                  stdout);
        }
        ts_cli__close(&x);
        return 0;
    }
    if (!yes) {
        if (cli->json) {
            json_t *o = json_pack("{s:b,s:I}", "fixed", 0, "ahead_ms", (json_int_t)ahead);
            ts_cli__print_json(o);
            json_decref(o);
        } else {
            printf(TS__L(cli,
                         "Các thay đổi của trạm mang dấu thời gian vượt trước đồng hồ máy này tới %s; đồng hồ máy\n"
                         "đang chỉ %s. Nếu ngày giờ đó đúng, hãy chạy `tramsync clock-fix --yes` để đóng dấu\n"
                         "mới cho chúng; chúng sẽ được gửi lên trung tâm ở lần đồng bộ sau. Nếu đồng hồ vẫn sai,\n"
                         "hãy chỉnh đồng hồ trước (xem hướng dẫn cho trạm, \"The clock is wrong\").\n",
                         "Changes of this station are stamped up to %s ahead of this PC's clock, which now reads\n"
                   "%s. If that date and time are right, run `tramsync clock-fix --yes` to give them new\n"
                   "stamps; they then go to the district at the next sync. If the clock is still wrong,\n"
                   "fix it first (see the station guide, \"The clock is wrong\").\n"),
                   dur, now_s);
        }
        ts_cli__close(&x);
        return 0;
    }
    ts_restamp_result r;
    ts_error err;
    if (ts_store_restamp_ahead(x.store, bound, &r, &err) < 0) {
        rc = ts_cli__fail_err(cli, err.code, "không đóng dấu lại được các thay đổi", err.msg);
        ts_cli__close(&x);
        return rc;
    }
    ts_store_meta_set(x.store, "clock_problem", "");
    if (cli->json) {
        json_t *o = json_pack("{s:b,s:I,s:I,s:I}", "fixed", 1, "ahead_ms", (json_int_t)r.ahead_ms, "fields",
                              (json_int_t)r.fields, "records", (json_int_t)r.records);
        ts_cli__print_json(o);
        json_decref(o);
    } else {
        ts__duration(cli, r.ahead_ms, dur, sizeof dur);
        printf(TS__L(cli,
                     "Xong: %" PRIu64 " bản ghi từng mang dấu thời gian vượt trước tới %s đã có dấu mới;\n"
                     "agent sẽ gửi chúng ở lần đồng bộ sau.\n",
                     "Done: %" PRIu64 " record(s) that were stamped up to %s ahead have new stamps;\n"
                     "the agent sends them at its next sync.\n"),
               r.records, dur);
    }
    ts_cli__close(&x);
    return 0;
}
