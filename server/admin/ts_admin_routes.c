/* The admin API's one route table: every endpoint, the method and path it
 * answers and the role it needs, in one place, so what the API offers and
 * who may use it can be read (and reviewed) at a glance. The core
 * (server/ts_admin.c) matches requests against it. */
#include "server/admin/ts_admin_int.h"

const ts_admin__route ts_admin__routes[] = {
    {HTTP_GET, "/api/health", 0, ts_admin__api_health},
    {HTTP_POST, "/api/login", 0, ts_admin__api_login},
    {HTTP_POST, "/api/logout", 1, ts_admin__api_logout},
    {HTTP_GET, "/api/me", 1, ts_admin__api_me},
    {HTTP_GET, "/api/session", 0, ts_admin__api_session},
    {HTTP_GET, "/api/labels", 1, ts_admin__api_labels},
    {HTTP_GET, "/api/tables", 1, ts_admin__api_tables},
    {HTTP_GET, "/api/overview", 1, ts_admin__api_overview},
    {HTTP_GET, "/api/stations", 1, ts_admin__api_stations},
    {HTTP_GET, "/api/stations/{code}", 1, ts_admin__api_station},
    {HTTP_GET, "/api/records/{table}", 1, ts_admin__api_records},
    {HTTP_GET, "/api/records/{table}/{id}", 1, ts_admin__api_record},
    {HTTP_POST, "/api/records/{table}/{id}", 3, ts_admin__api_record_put},
    {HTTP_GET, "/api/conflicts", 1, ts_admin__api_conflicts},
    {HTTP_GET, "/api/conflicts/{id}", 1, ts_admin__api_conflict},
    {HTTP_POST, "/api/conflicts/{id}/resolve", 2, ts_admin__api_conflict_resolve},
    {HTTP_GET, "/api/notices", 1, ts_admin__api_notices},
    {HTTP_POST, "/api/notices", 2, ts_admin__api_notice_send},
    {HTTP_GET, "/api/notices/{id}", 1, ts_admin__api_notice},
    {HTTP_POST, "/api/notices/{id}/recall", 2, ts_admin__api_notice_recall},
    {HTTP_GET, "/api/notices/{id}/attachments/{attachment}", 1, ts_admin__api_notice_attachment},
    {HTTP_GET, "/api/reports", 1, ts_admin__api_reports},
    {HTTP_POST, "/api/reports/{id}/redistribute", 2, ts_admin__api_report_redistribute},
    {HTTP_POST, "/api/reports/{id}/open", 1, ts_admin__api_report_open},
    {HTTP_GET, "/api/tasks", 1, ts_admin__api_tasks},
    {HTTP_GET, "/api/tasks/{id}", 1, ts_admin__api_task},
    {HTTP_POST, "/api/tasks/{id}/assign", 2, ts_admin__api_task_assign},
    {HTTP_GET, "/api/escalations", 1, ts_admin__api_escalations},
    {HTTP_GET, "/api/epidemic", 1, ts_admin__api_epi_summary},
    {HTTP_GET, "/api/epidemic/alerts", 1, ts_admin__api_epi_alerts},
    {HTTP_POST, "/api/epidemic/alerts/{id}/ack", 2, ts_admin__api_epi_alert_ack},
    {HTTP_GET, "/api/targets", 1, ts_admin__api_targets},
    {HTTP_GET, "/api/targets/history", 1, ts_admin__api_targets_history},
    {HTTP_POST, "/api/targets/refresh", 2, ts_admin__api_targets_refresh},
    {HTTP_GET, "/api/audit", 3, ts_admin__api_audit},
    {HTTP_GET, "/api/users", 3, ts_admin__api_users},
    {HTTP_POST, "/api/users", 3, ts_admin__api_user_set},
    {HTTP_POST, "/api/users/{name}", 3, ts_admin__api_user_set},
    {HTTP_POST, "/api/login-blocks/clear", 3, ts_admin__api_login_unblock},
    {HTTP_GET, "/api/events", 1, ts_admin__api_events},
    {HTTP_GET, "/metrics", 1, ts_admin__api_metrics},
};

const size_t ts_admin__nroutes = sizeof ts_admin__routes / sizeof *ts_admin__routes;
