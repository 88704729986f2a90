/* The provincial plan as data: what a task's deadline phrase (the plan's
 * "Thời gian hoàn thành" column, in Vietnamese) means as a date. */
#ifndef TS_PLAN_H
#define TS_PLAN_H

#include <stdbool.h>

typedef struct ts_plan_deadline {
    char date[11];  /* YYYY-MM-DD, "" when the phrase gives no date */
    bool recurring; /* the task recurs ("thường xuyên", "Từ năm ...") */
    int from_year;  /* a recurring task's first year ("Từ năm 2026"), 0 none */
} ts_plan_deadline;

/* Reads a deadline phrase; false when it says nothing this knows (e.g.
 * "Theo lộ trình quy định của Chính phủ"), with out cleared.
 *  - "Trước ngày 01 tháng 7 năm 2025", "Trước ngày 01/7/2025": the day
 *    before, 2025-06-30 (before the 1st is done by the 30th)
 *  - "Ngày 15 tháng 12 năm 2025", "15/12/2025": that day
 *  - "Quý III năm 2024", "Quý III/2024": the quarter's last day, 2024-09-30
 *  - "Từ năm 2026": recurring from 2026 (no date)
 *  - "Nhiệm vụ thường xuyên": recurring */
bool ts_plan_deadline_parse(const char *text, ts_plan_deadline *out);

#endif
