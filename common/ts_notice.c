#include "common/ts_notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/ts_registry.h"

const ts_label ts_notice_categories[12] = {
    {"prevention", "Y tế dự phòng, phòng chống dịch bệnh", "Preventive medicine, epidemic control"},
    {"treatment", "Khám bệnh, chữa bệnh và phục hồi chức năng", "Examination, treatment, rehabilitation"},
    {"population", "Dân số và phát triển", "Population and development"},
    {"food_safety", "An toàn thực phẩm", "Food safety"},
    {"pharma", "Quản lý dược, vật tư, trang thiết bị y tế", "Drugs, supplies, medical equipment"},
    {"insurance", "Chính sách bảo hiểm y tế", "Health insurance policy"},
    {"private_practice", "Quản lý hành nghề y, dược ngoài công lập", "Private medical and pharmacy practice"},
    {"supervision", "Kiểm tra, giám sát", "Inspection and supervision"},
    {"training", "Đào tạo, chuyển giao kỹ thuật, nâng cao năng lực", "Training, technology transfer"},
    {"communication", "Truyền thông, phổ biến chính sách pháp luật", "Communication of health policy"},
    {"programs", "Chương trình mục tiêu, dự án y tế", "Target programmes and projects"},
    {"emergency", "Sự kiện y tế công cộng, tình huống phát sinh", "Public health events, urgent situations"},
};

const ts_label ts_notice_urgencies[4] = {
    {"thuong", "Thường", "Routine"},
    {"khan", "Khẩn", "Urgent"},
    {"thuong_khan", "Thượng khẩn", "Very urgent"},
    {"hoa_toc", "Hỏa tốc", "Immediate"},
};

const ts_label ts_notice_doc_types[7] = {
    {"cong_van", "Công văn", "Official letter"},
    {"thong_bao", "Thông báo", "Notice"},
    {"ke_hoach", "Kế hoạch", "Plan"},
    {"cong_dien", "Công điện", "Official dispatch (telegram)"},
    {"giay_moi", "Giấy mời", "Invitation"},
    {"quyet_dinh", "Quyết định", "Decision"},
    {"bao_cao", "Báo cáo", "Report"},
};

const ts_label ts_notice_states[5] = {
    {"sent", "Đã gửi", "Sent"},
    {"delivered", "Đã nhận", "Delivered"},
    {"acknowledged", "Đã xác nhận", "Acknowledged"},
    {"in_progress", "Đang xử lý", "In progress"},
    {"done", "Hoàn thành", "Done"},
};

const ts_label ts_report_kinds[9] = {
    {"case_report", "Báo cáo ca bệnh truyền nhiễm", "Infectious disease case report"},
    {"outbreak_detection", "Báo cáo phát hiện ổ dịch", "Outbreak detection report"},
    {"outbreak_update", "Báo cáo cập nhật ổ dịch", "Outbreak update"},
    {"outbreak_end", "Báo cáo kết thúc ổ dịch", "Outbreak end report"},
    {"incident", "Báo cáo sự cố", "Incident report"},
    {"request_drugs", "Đề nghị cấp thuốc, vật tư", "Request for drugs or supplies"},
    {"request_staff", "Đề nghị hỗ trợ nhân lực", "Request for staff"},
    {"request_supervision", "Đề nghị hỗ trợ chuyên môn, giám sát", "Request for supervision"},
    {"other", "Khác", "Other"},
};

const ts_label *ts_label_find(const ts_label *list, size_t n, const char *code)
{
    for (size_t i = 0; code && i < n; i++)
        if (strcmp(list[i].code, code) == 0)
            return &list[i];
    return NULL;
}

int ts_urgency_rank(const char *code)
{
    const ts_label *l = ts_label_find(ts_notice_urgencies, 4, code);
    return l ? (int)(l - ts_notice_urgencies) : -1;
}

bool ts_urgency_is_urgent(const char *code)
{
    return ts_urgency_rank(code) >= 2;
}

bool ts_urgency_above_routine(const char *code)
{
    /* rank 0 is the first of ts_notice_urgencies, the routine one */
    return ts_urgency_rank(code) > 0;
}

int ts_state_rank(const char *code)
{
    const ts_label *l = ts_label_find(ts_notice_states, 5, code);
    return l ? (int)(l - ts_notice_states) : -1;
}

bool ts_state_transition_ok(const char *from, const char *to, const char *reopen_reason, char *why, size_t why_size)
{
    int f = ts_state_rank(from), t = ts_state_rank(to);
    if (t < 0) {
        snprintf(why, why_size, "\"%s\" is not a state", to ? to : "");
        return false;
    }
    if (f < 0 || t >= f)
        return true;
    if (f == 4 && reopen_reason != NULL && reopen_reason[0] != '\0')
        return true;
    snprintf(why, why_size, "cannot go back from %s to %s%s", from, to,
             f == 4 ? " without a reason (reopen_reason)" : "");
    return false;
}

void ts_time_iso(uint64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool ts_time_parse(const char *s, uint64_t *ms)
{
    size_t n = strlen(s);
    if (!ts_date_valid(s, n < 10 ? n : 10) || (n != 10 && !ts_datetime_valid(s, n)))
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    int64_t offset = 0;
    if (n > 10) {
        tm.tm_hour = atoi(s + 11);
        tm.tm_min = atoi(s + 14);
        tm.tm_sec = atoi(s + 17);
        const char *z = s + 19;
        while (*z == '.' || (*z >= '0' && *z <= '9'))
            z++;
        if (*z == '+' || *z == '-') {
            offset = (int64_t)(atoi(z + 1) * 3600 + atoi(z + 4) * 60);
            if (*z == '+')
                offset = -offset;
        }
    }
    int64_t secs = (int64_t)timegm(&tm) + offset;
    if (secs < 0)
        return false;
    *ms = (uint64_t)secs * 1000;
    return true;
}

/* ---------------------------------------------------------------- the district's days */

bool ts_tz_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || name[0] == '/' || name[0] == ':' || strstr(name, "..") != NULL ||
        strlen(name) > 200)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' ||
              *p == '_' || *p == '-' || *p == '+'))
            return false;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", name);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void ts_district_tz_apply(const char *name)
{
    setenv("TZ", name, 1);
    tzset();
}

void ts_local_day(uint64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d", &tm);
}

void ts_local_day_of(const char *text, char *out, size_t size)
{
    uint64_t ms;
    if (text == NULL || !ts_time_parse(text, &ms))
        snprintf(out, size, "%s", "");
    else if (strlen(text) == 10)
        snprintf(out, size, "%s", text); /* a calendar date: the same day everywhere */
    else
        ts_local_day(ms, out, size);
}

bool ts_local_day_end(const char *date, uint64_t *ms)
{
    if (date == NULL || strlen(date) != 10 || !ts_date_valid(date, 10))
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8) + 1; /* mktime carries into the next month */
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1 || t < 0)
        return false;
    *ms = (uint64_t)t * 1000;
    return true;
}
