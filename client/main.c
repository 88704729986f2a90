/* tramsync: the station agent and its command line. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ts_cli.h"
#include "common/ts_log.h"
#include "common/ts_version.h"
#include "common/ts_xmalloc.h"
#include "proto/tramsync-protocol.h"

typedef struct ts_command {
    const char *name;
    int (*fn)(ts_cli *cli, int argc, char **argv);
    const char *summary_vi, *summary_en;
} ts_command;

static const ts_command commands[] = {
    {"init", ts_cli_init, "tạo cơ sở dữ liệu, khóa và yêu cầu cấp chứng thư của trạm",
     "create this station's database, key and certificate request"},
    {"enroll", ts_cli_enroll, "cài chứng thư do trung tâm cấp", "install the certificate issued by the district"},
    {"run", ts_cli_run, "chạy agent: tự đồng bộ với trung tâm", "run the agent: sync with the district by itself"},
    {"status", ts_cli_status, "lần đồng bộ cuối, thay đổi chờ gửi, xung đột, kết nối máy chủ",
     "last successful sync, pending changes, conflicts, server reachable"},
    {"put", ts_cli_put, "ghi các trường của một bản ghi: put BẢNG MÃ trường=giá_trị...",
     "write fields of a record: put TABLE ID field=value..."},
    {"delete", ts_cli_delete, "xóa một bản ghi: delete BẢNG MÃ", "delete a record: delete TABLE ID"},
    {"get", ts_cli_get, "xem một bản ghi: get BẢNG MÃ", "show a record: get TABLE ID"},
    {"list", ts_cli_list, "liệt kê bản ghi của một bảng: list BẢNG", "list records of a table: list TABLE"},
    {"import", ts_cli_import, "nhập hàng loạt từ tệp CSV: import TỆP.csv --table BẢNG",
     "bulk-load a CSV file: import FILE.csv --table TABLE"},
    {"conflicts", ts_cli_conflicts, "các xung đột phát hiện tại trạm", "conflicts found at this station"},
    {"clock-fix", ts_cli_clock_fix, "sau khi đồng hồ máy chạy nhanh: đóng dấu lại các thay đổi trung tâm từ chối",
     "after the PC's clock ran ahead: re-stamp the changes the district refuses"},
    {"notices", ts_cli_notices, "văn bản từ trung tâm, chưa đọc và khẩn nhất trước",
     "notices from the district, unread and most urgent first"},
    {"notice", ts_cli_notice, "xem một văn bản: notice show MÃ", "one notice: notice show ID"},
    {"attachment", ts_cli_attachment, "lưu tệp đính kèm của văn bản: attachment save VĂN_BẢN N [ĐƯỜNG_DẪN]",
     "save a notice's attachment: attachment save NOTICE N [PATH]"},
    {"ack", ts_cli_ack, "xác nhận văn bản, nhiệm vụ: ack MÃ --by HỌ_TÊN", "acknowledge a notice or task: ack ID --by NAME"},
    {"progress", ts_cli_progress, "báo tiến độ văn bản, nhiệm vụ: progress MÃ --state ...",
     "progress on a notice or task: progress ID --state ..."},
    {"report", ts_cli_report, "gửi báo cáo, đề nghị lên trung tâm", "send a report or request to the district"},
    {"case", ts_cli_case, "ghi một ca bệnh truyền nhiễm (kèm hạn báo cáo)",
     "record a case of an infectious disease (with its reporting deadline)"},
    {"diseases", ts_cli_diseases, "danh mục bệnh truyền nhiễm của trung tâm", "the district's disease catalogue"},
    {"outbreaks", ts_cli_outbreaks, "các ổ dịch liên quan đến trạm và hướng dẫn của trung tâm",
     "outbreaks concerning this station and the district's instructions"},
    {"people", ts_cli_people, "danh bạ đầu mối: nhân sự của trạm, TTYT, UBND xã; thêm, sửa, thôi",
     "focal points: station staff, TTYT, UBND; add, edit, end"},
    {"tasks", ts_cli_tasks, "nhiệm vụ kế hoạch giao cho trạm", "plan tasks assigned to this station"},
    {"calendar", ts_cli_calendar, "lịch công tác: báo cáo định kỳ phải nộp, họp giao ban",
     "calendar: periodic reports due, briefing meetings"},
    {"submit", ts_cli_submit, "nộp báo cáo định kỳ: submit MÃ_KỲ --field TÊN=GIÁ_TRỊ...",
     "send a periodic report: submit ID --field NAME=VALUE..."},
    {"dump", ts_cli_dump, "bản kết xuất chuẩn của bản sao dữ liệu", "canonical dump of the replica"},
    {"tables", ts_cli_tables, "các bảng và trường của chúng", "the tables and their fields"},
    {NULL, NULL, NULL, NULL},
};

static void usage(const ts_cli *cli, FILE *out)
{
    bool en = cli->en;
    fputs(en ? "usage: tramsync [-d DIR] [-c FILE] [--set SEC.KEY=VALUE] [--json] [--lang vi|en] COMMAND [ARGS]\n\n"
               "The tramsync station agent. Commands:\n"
             : "cách dùng: tramsync [-d THƯ_MỤC] [-c TỆP] [--set MỤC.KHÓA=GIÁ_TRỊ] [--json] [--lang vi|en] LỆNH "
               "[THAM_SỐ]\n\nAgent đồng bộ của trạm y tế xã với trung tâm y tế. Các lệnh:\n",
          out);
    for (const ts_command *c = commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, en ? c->summary_en : c->summary_vi);
    fputs(en ? "\nOptions:\n"
               "  -d, --data-dir DIR   the station's directory (default $TRAMSYNC_DIR or /var/lib/tramsync)\n"
               "  -c, --config FILE    configuration file (default DIR/tramsync.conf)\n"
               "      --set SEC.KEY=V  override one setting\n"
               "      --json           machine-readable output\n"
               "      --lang vi|en     language of messages (default: Vietnamese, English in an English locale)\n"
               "  -V, --version        the version\n"
               "`tramsync COMMAND --help` explains each command. Exit codes: 0 ok, 1 error, 2 usage,\n"
               "3 not found, 4 invalid value or record, 5 not allowed.\n"
             : "\nTùy chọn:\n"
               "  -d, --data-dir THƯ_MỤC  thư mục của trạm (mặc định $TRAMSYNC_DIR hoặc /var/lib/tramsync)\n"
               "  -c, --config TỆP        tệp cấu hình (mặc định THƯ_MỤC/tramsync.conf)\n"
               "      --set MỤC.KHÓA=GT   thay một thiết lập\n"
               "      --json              kết quả cho máy đọc (JSON)\n"
               "      --lang vi|en        ngôn ngữ (mặc định tiếng Việt; tiếng Anh khi máy đặt ngôn ngữ tiếng Anh)\n"
               "  -V, --version           phiên bản\n"
               "`tramsync LỆNH --help` giải thích từng lệnh. Mã thoát: 0 thành công, 1 lỗi, 2 sai cách dùng,\n"
               "3 không tìm thấy, 4 giá trị hoặc bản ghi không hợp lệ, 5 không được phép.\n",
          out);
}

int main(int argc, char **argv)
{
    ts_cli cli;
    memset(&cli, 0, sizeof cli);
    const char *env = getenv("TRAMSYNC_DIR");
    cli.data_dir = env && *env ? env : "/var/lib/tramsync";
    cli.overrides = ts_xcalloc((size_t)argc + 1, sizeof *cli.overrides);
    const char *lang = NULL, *bad = NULL;
    bool help = false, version = false;
    int i = 1;
    /* the language is known only once every option is read: complaints wait */
    for (; i < argc && argv[i][0] == '-' && bad == NULL; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-d") == 0 || strcmp(a, "--data-dir") == 0) && i + 1 < argc)
            cli.data_dir = argv[++i];
        else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
            cli.config = argv[++i];
        else if (strcmp(a, "--set") == 0 && i + 1 < argc)
            cli.overrides[cli.noverrides++] = argv[++i];
        else if (strcmp(a, "--json") == 0)
            cli.json = true;
        else if (strcmp(a, "--lang") == 0 && i + 1 < argc)
            lang = argv[++i];
        else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)
            version = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            help = true;
        else
            bad = a;
    }
    if (ts_cli_pick_language(&cli, lang) < 0) {
        fprintf(stderr, "tramsync: --lang: vi (tiếng Việt) hoặc en (English)\n");
        free(cli.overrides);
        return TS_EXIT_USAGE;
    }
    if (version && bad == NULL) {
        printf("tramsync %s (protocol %d-%d)\n", TS_VERSION, TS_PROTO_VERSION_MIN, TS_PROTO_VERSION_MAX);
        free(cli.overrides);
        return 0;
    }
    if (bad != NULL || (!help && i == argc)) {
        if (bad != NULL)
            fprintf(stderr, cli.en ? "tramsync: unknown option %s\n" : "tramsync: không có tùy chọn %s\n", bad);
        usage(&cli, stderr);
        free(cli.overrides);
        return TS_EXIT_USAGE;
    }
    if (help) {
        usage(&cli, stdout);
        free(cli.overrides);
        return 0;
    }
    /* a command's own --json, after its name, counts too */
    for (int k = i + 1; k < argc; k++)
        if (strcmp(argv[k], "--json") == 0) {
            cli.json = true;
            memmove(&argv[k], &argv[k + 1], (size_t)(argc - k - 1) * sizeof *argv);
            argc--;
            k--;
        }
    if (strcmp(argv[i], "run") != 0)
        ts_log_set_level(TS_LOG_WARN); /* commands speak on stdout; logs only for problems */
    for (const ts_command *c = commands; c->name; c++) {
        if (strcmp(c->name, argv[i]) == 0) {
            int rc = c->fn(&cli, argc - i, argv + i);
            free(cli.overrides);
            return rc;
        }
    }
    fprintf(stderr, cli.en ? "tramsync: unknown command \"%s\"\n" : "tramsync: không có lệnh \"%s\"\n", argv[i]);
    usage(&cli, stderr);
    free(cli.overrides);
    return TS_EXIT_USAGE;
}
