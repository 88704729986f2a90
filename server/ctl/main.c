/* tramsyncctl: district admin and operations. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ts_text.h"
#include "common/ts_version.h"
#include "server/ctl/ts_ctl.h"

static void usage(FILE *out, bool en)
{
    if (!en) {
        fprintf(out, "cách dùng: tramsyncctl [--pki THƯ_MỤC] [--json] [--lang vi|en] LỆNH [THAM_SỐ]\n"
                     "\n"
                     "Các lệnh:\n"
                     "  ca ...      CA của huyện: init, issue-server, issue-station, issue-admin, revoke, crl, list\n"
                     "  backup TỆP          bản sao trực tuyến, nhất quán của cơ sở dữ liệu huyện\n"
                     "  verify-backup TỆP   kiểm tra một bản sao lưu (toàn vẹn, lược đồ, số bản ghi)\n"
                     "  restore TỆP         đặt bản sao lưu vào chỗ (tramsyncd đã dừng; --force để thay thế)\n"
                     "  status      dịch vụ và từng trạm trong nháy mắt\n"
                     "  notice ...  send, list, show, status MÃ, redistribute MÃ_BÁO_CÁO\n"
                     "  task ...    list, status MÃ, assign MÃ, not-applicable MÃ --reason LÝ_DO\n"
                     "  outbreak .. open MÃ_BÁO_CÁO [--stations a,b], list, show MÃ\n"
                     "  plan ...    load TỆP (kế hoạch của tỉnh, docs/PLANS.md), show\n"
                     "  export      chỉ tiêu, tiến độ nhiệm vụ và mức đầy đủ báo cáo gửi tỉnh (CSV, XLSX)\n"
                     "  report quarterly  báo cáo tổng hợp quý (PDF, A4, tiếng Việt)\n"
                     "  escalations, conflicts, user add|list, record put BẢNG MÃ trường=giá_trị...\n"
                     "  (mọi lệnh trừ ca đi qua API quản trị: `tramsyncctl notice --help`)\n"
                     "\n"
                     "Tùy chọn:\n"
                     "  --pki THƯ_MỤC  thư mục CA (mặc định $TRAMSYNC_PKI hoặc /etc/tramsync/pki)\n"
                     "  --json      kết quả cho máy đọc\n"
                     "  --lang vi|en  ngôn ngữ (mặc định tiếng Việt; tiếng Anh khi LANG/LC_ALL/LC_MESSAGES là en)\n"
                     "  -V          phiên bản\n");
        return;
    }
    fprintf(out, "usage: tramsyncctl [--pki DIR] [--json] [--lang vi|en] COMMAND [ARGS]\n"
                 "\n"
                 "Commands:\n"
                 "  ca ...      the district CA: init, issue-server, issue-station, issue-admin, revoke, crl, list\n"
                 "  backup FILE         an online, consistent copy of the district database\n"
                 "  verify-backup FILE  check a backup (integrity, schema, counts)\n"
                 "  restore FILE        put a backup in place (tramsyncd stopped; --force to replace)\n"
                 "  status      the service and every station at a glance\n"
                 "  notice ...  send, list, show, status ID, redistribute REPORT_ID\n"
                 "  task ...    list, status ID, assign ID, not-applicable ID --reason R\n"
                 "  outbreak .. open REPORT_ID [--stations a,b], list, show ID\n"
                 "  plan ...    load FILE (a provincial plan, docs/PLANS.md), show\n"
                 "  calendar .. duty FILE, remind OCCURRENCE, grid [DUTY]: the calendar (recurring duties)\n"
                 "  export      targets, task progress and reporting completeness for the province (CSV, XLSX)\n"
                 "  report quarterly  the quarter's summary report (PDF, A4, Vietnamese)\n"
                 "  report notice ID  a notice as an official document to print (PDF, A4)\n"
                 "  escalations, conflicts, user add|list, record put TABLE ID field=value...\n"
                 "  (all but ca go through the admin API: `tramsyncctl notice --help`)\n"
                 "\n"
                 "Options:\n"
                 "  --pki DIR   the CA directory (default $TRAMSYNC_PKI or /etc/tramsync/pki)\n"
                 "  --json      machine-readable output\n"
                 "  --lang vi|en  the language (Vietnamese unless LANG/LC_ALL/LC_MESSAGES is English)\n"
                 "  -V          the version\n");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up is an error to report, not a crash */
    ts_ctl ctl;
    memset(&ctl, 0, sizeof ctl);
    const char *env = getenv("TRAMSYNC_PKI");
    ctl.pki_dir = env && *env ? env : "/etc/tramsync/pki";
    /* the language first, so that every message after it is in it */
    const char *lang = NULL;
    for (int k = 1; k < argc && argv[k][0] == '-'; k++)
        if (strcmp(argv[k], "--lang") == 0 && k + 1 < argc)
            lang = argv[++k];
        else if (strcmp(argv[k], "--pki") == 0 && k + 1 < argc)
            k++;
    if (ts_text_pick_language(lang, &ctl.en) < 0) {
        fprintf(stderr, "tramsyncctl: --lang %s: chỉ có vi hoặc en / only vi or en\n", lang);
        return TS_CTL_USAGE;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc)
            i++;
        else if (strcmp(argv[i], "--pki") == 0 && i + 1 < argc)
            ctl.pki_dir = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            ctl.json = true;
        else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("tramsyncctl %s\n", TS_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout, ctl.en);
            return 0;
        } else {
            fprintf(stderr, TS__L(&ctl, "tramsyncctl: không có tùy chọn %s\n", "tramsyncctl: unknown option %s\n"),
                    argv[i]);
            usage(stderr, ctl.en);
            return TS_CTL_USAGE;
        }
    }
    if (i == argc) {
        usage(stderr, ctl.en);
        return TS_CTL_USAGE;
    }
    if (strcmp(argv[i], "ca") == 0)
        return ts_ctl_ca(&ctl, argc - i, argv + i);
    if (strcmp(argv[i], "backup") == 0 || strcmp(argv[i], "verify-backup") == 0 || strcmp(argv[i], "restore") == 0) {
        int rc = ts_ctl_db(&ctl, argc - i, argv + i);
        if (rc == TS_CTL_USAGE)
            fprintf(stderr, TS__L(&ctl,
                                  "cách dùng: tramsyncctl backup|verify-backup|restore TỆP [--database CSDL] "
                                  "[--config TỆP] [--force]\n",
                                  "usage: tramsyncctl backup|verify-backup|restore FILE [--database DB] [--config FILE]"
                                  " [--force]\n"));
        return rc;
    }
    static const char *const api[] = {"status", "notice", "task",   "outbreak", "escalations", "conflicts",
                                      "user",   "record", "plan",   "export",   "report", "calendar"};
    for (size_t k = 0; k < sizeof api / sizeof *api; k++)
        if (strcmp(argv[i], api[k]) == 0)
            return ts_ctl_api(&ctl, argc - i, argv + i);
    fprintf(stderr, TS__L(&ctl, "tramsyncctl: không có lệnh \"%s\"\n", "tramsyncctl: unknown command \"%s\"\n"), argv[i]);
    usage(stderr, ctl.en);
    return TS_CTL_USAGE;
}
