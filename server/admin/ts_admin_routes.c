/* The admin API's one route table: every endpoint, the method and path it
 * answers and the role it needs, in one place, so what the API offers and
 * who may use it can be read (and reviewed) at a glance. The core
 * (server/ts_admin.c) matches requests against it. The last column opens a
 * route to accounts scoped to communes or to monitors (none: closed to them;
 * server/admin/ts_admin_scope.c). */
#include "server/admin/ts_admin_int.h"

/* the last column: who of the accounts scoped to communes or monitors may
 * use the route (FULL: none of them; routes needing no login are open to
 * everyone, the column aside) */
#define FULL TS_ADMIN_OPEN_FULL
#define COMMUNE TS_ADMIN_OPEN_COMMUNE
#define MONITOR TS_ADMIN_OPEN_MONITOR

const ts_admin__route ts_admin__routes[] = {
    {HTTP_GET, "/api/health", 0, ts_admin__api_health, FULL},
    {HTTP_POST, "/api/login", 0, ts_admin__api_login, FULL},
    {HTTP_POST, "/api/logout", 1, ts_admin__api_logout, COMMUNE | MONITOR},
    {HTTP_GET, "/api/me", 1, ts_admin__api_me, COMMUNE | MONITOR},
    {HTTP_GET, "/api/session", 0, ts_admin__api_session, FULL},
    {HTTP_GET, "/api/labels", 1, ts_admin__api_labels, COMMUNE},
    {HTTP_GET, "/api/tables", 1, ts_admin__api_tables, COMMUNE},
    {HTTP_GET, "/api/overview", 1, ts_admin__api_overview, FULL},
    {HTTP_GET, "/api/stations", 1, ts_admin__api_stations, COMMUNE},
    {HTTP_GET, "/api/stations/{code}", 1, ts_admin__api_station, COMMUNE},
    {HTTP_GET, "/api/records/{table}", 1, ts_admin__api_records, FULL},
    {HTTP_GET, "/api/records/{table}/{id}", 1, ts_admin__api_record, FULL},
    {HTTP_POST, "/api/records/{table}/{id}", 3, ts_admin__api_record_put, FULL},
    {HTTP_GET, "/api/conflicts", 1, ts_admin__api_conflicts, FULL},
    {HTTP_GET, "/api/conflicts/{id}", 1, ts_admin__api_conflict, FULL},
    {HTTP_POST, "/api/conflicts/{id}/resolve", 2, ts_admin__api_conflict_resolve, FULL},
    {HTTP_GET, "/api/notices", 1, ts_admin__api_notices, COMMUNE},
    {HTTP_POST, "/api/notices", 2, ts_admin__api_notice_send, FULL},
    {HTTP_GET, "/api/notices/{id}", 1, ts_admin__api_notice, COMMUNE},
    {HTTP_POST, "/api/notices/{id}/recall", 2, ts_admin__api_notice_recall, FULL},
    {HTTP_POST, "/api/notices/{id}/commune-ack", 1, ts_admin__api_notice_commune_ack, COMMUNE},
    {HTTP_GET, "/api/notices/{id}/attachments/{attachment}", 1, ts_admin__api_notice_attachment, COMMUNE},
    {HTTP_GET, "/api/notices/{id}/pdf", 1, ts_admin__api_notice_pdf, COMMUNE},
    {HTTP_GET, "/api/reports", 1, ts_admin__api_reports, FULL},
    {HTTP_POST, "/api/reports/{id}/redistribute", 2, ts_admin__api_report_redistribute, FULL},
    {HTTP_POST, "/api/reports/{id}/open", 1, ts_admin__api_report_open, FULL},
    {HTTP_GET, "/api/tasks", 1, ts_admin__api_tasks, COMMUNE},
    {HTTP_GET, "/api/tasks/{id}", 1, ts_admin__api_task, COMMUNE},
    {HTTP_POST, "/api/tasks/{id}/assign", 2, ts_admin__api_task_assign, FULL},
    {HTTP_POST, "/api/tasks/{id}/not-applicable", 2, ts_admin__api_task_na, FULL},
    {HTTP_GET, "/api/plan", 1, ts_admin__api_plan, COMMUNE},
    {HTTP_POST, "/api/plan", 3, ts_admin__api_plan_load, FULL},
    {HTTP_GET, "/api/plan/versions/{version}", 1, ts_admin__api_plan_version, COMMUNE},
    {HTTP_GET, "/api/calendar", 1, ts_admin__api_calendar, COMMUNE},
    {HTTP_GET, "/api/calendar/grid", 1, ts_admin__api_calendar_grid, COMMUNE},
    {HTTP_POST, "/api/calendar/duties", 2, ts_admin__api_calendar_duty_set, FULL},
    {HTTP_POST, "/api/calendar/occurrences/{id}/remind", 2, ts_admin__api_calendar_remind, FULL},
    {HTTP_GET, "/api/escalations", 1, ts_admin__api_escalations, FULL},
    {HTTP_GET, "/api/epidemic", 1, ts_admin__api_epi_summary, FULL},
    {HTTP_GET, "/api/epidemic/alerts", 1, ts_admin__api_epi_alerts, FULL},
    {HTTP_POST, "/api/epidemic/alerts/{id}/ack", 2, ts_admin__api_epi_alert_ack, FULL},
    {HTTP_GET, "/api/epidemic/outbreaks", 1, ts_admin__api_outbreaks, FULL},
    {HTTP_POST, "/api/epidemic/outbreaks", 2, ts_admin__api_outbreak_open, FULL},
    {HTTP_GET, "/api/epidemic/outbreaks/{id}", 1, ts_admin__api_outbreak, FULL},
    {HTTP_POST, "/api/epidemic/outbreaks/{id}/end", 2, ts_admin__api_outbreak_end, FULL},
    {HTTP_GET, "/api/targets", 1, ts_admin__api_targets, COMMUNE},
    {HTTP_GET, "/api/targets/history", 1, ts_admin__api_targets_history, COMMUNE},
    {HTTP_POST, "/api/targets/refresh", 2, ts_admin__api_targets_refresh, FULL},
    {HTTP_GET, "/api/export", 1, ts_admin__api_export, FULL},
    {HTTP_GET, "/api/report/quarterly", 1, ts_admin__api_report_quarterly, FULL},
    {HTTP_GET, "/api/audit", 3, ts_admin__api_audit, FULL},
    {HTTP_GET, "/api/users", 3, ts_admin__api_users, FULL},
    {HTTP_POST, "/api/users", 3, ts_admin__api_user_set, FULL},
    {HTTP_POST, "/api/users/{name}", 3, ts_admin__api_user_set, FULL},
    {HTTP_POST, "/api/login-blocks/clear", 3, ts_admin__api_login_unblock, FULL},
    {HTTP_GET, "/api/events", 1, ts_admin__api_events, FULL},
    {HTTP_GET, "/metrics", 1, ts_admin__api_metrics, MONITOR},
};

const size_t ts_admin__nroutes = sizeof ts_admin__routes / sizeof *ts_admin__routes;
