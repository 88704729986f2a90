/* Internals of the admin API, shared by its core (server/ts_admin.c: the
 * listener, dispatch, jobs, timers) and its resources (server/admin/, one file
 * per resource behind one route table). A resource's file needs this header
 * and nothing else of the others': the job it answers, the helpers every
 * endpoint answers with, and what two resources read alike (the station
 * directory, the stations' state, the flagged handling records). Names shared
 * between files are ts_admin__*; everything else stays static in its file. */
#ifndef TS_ADMIN_INT_H
#define TS_ADMIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "server/ts_admin.h"
#include "server/ts_http.h"
#include "common/ts_people.h"
#include "server/ts_notices.h"
#include "server/ts_server_api.h"

struct ts_admin {
    ts_server *srv;
    uv_timer_t targets_timer;
    bool targets_running;
    ts_http_server *http;
    ts_tls_ctx *tls;
    uv_timer_t esc_timer;
    bool esc_running;
    ts_notice_policy policy;
    unsigned jobs;
    /* documents are built one at a time, so that they never hold more than
     * one thread of libuv's pool, which the store's queue runs on too */
    bool rendering;
    struct ts_admin__job *render_head, *render_tail;
    bool stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
    int closing_parts;
    uint64_t started_ms;
    /* changes from stations, seen by polling the store while consoles watch */
    uv_timer_t watch_timer;
    bool watch_running;
    uint64_t watch_seq;
    uint64_t watch_conflicts;
    /* the station directory, cached by the table's last sequence number
     * (store thread only) */
    bool dir_valid;
    int64_t dir_key;
    struct ts_admin__dir_entry *dir;
    size_t ndir;
    /* handling records needing attention, cached by the tables' last
     * sequence numbers (store thread only) */
    bool flags_valid;
    int64_t flags_key[2];
    json_t *flags_items;
    uint32_t flags_counts[3];
    uint32_t flags_states[2][5]; /* notice_recipients, task_assignments: records by state */
    /* the live records count, cached (store thread only) */
    int64_t records_count;
    uint64_t records_at;
    uint64_t records_seq;
    /* failed logins by address and in all (loop thread only;
     * server/admin/ts_admin_guard.c) */
    struct ts_admin__guard_slot *guard;
    uint64_t guard_window_ms;
    uint64_t guard_window_failures;
    /* the epidemic scan (server/admin/ts_admin_epidemic.c; loop thread) */
    uv_timer_t epi_timer;
    bool epi_running;
    bool epi_again;
    /* the calendar's generation and reminders (server/admin/ts_admin_calendar.c; loop thread) */
    uv_timer_t cal_timer;
    bool cal_running;
    bool grade_running;  /* reports graded after a push (same file) */
    ts_strlist grade_ids; /* the reports pushed meanwhile, graded next */
};

/* ---------------------------------------------------------------- jobs */

typedef struct ts_admin__frame {
    char station[TS_KEY_MAX + 1];
    ts_buf bytes;
} ts_admin__frame;

typedef struct ts_admin__job ts_admin__job;
typedef void (*ts_admin__route_fn)(ts_admin__job *j, ts_store *st);

/* Which accounts beyond the min_role's reach a route. Accounts scoped to
 * communes (a commune UBND's officer, a viewer of chosen communes) and
 * monitors reach only the routes that say so: the default, 0, keeps them
 * out, so a route added later is closed to them until someone decides
 * otherwise (server/admin/ts_admin_scope.c enforces it). */
enum {
    TS_ADMIN_OPEN_FULL = 0,    /* accounts that see the whole district only */
    TS_ADMIN_OPEN_COMMUNE = 1, /* commune-scoped accounts too: answered about their communes only */
    TS_ADMIN_OPEN_MONITOR = 2, /* monitors too: carries nothing of any station's records */
};

/* What an account may see. */
enum {
    TS_ADMIN_SCOPE_ALL = 0,      /* viewer, operator, admin: the district */
    TS_ADMIN_SCOPE_COMMUNES = 1, /* the commune role, a viewer limited to communes */
    TS_ADMIN_SCOPE_MONITOR = 2,  /* health and metrics only */
};

typedef struct ts_admin__route {
    enum http_method method;
    const char *pattern;
    int min_role; /* 0: no login needed */
    ts_admin__route_fn fn;
    int open; /* TS_ADMIN_OPEN_* bits: which scoped accounts may use it */
} ts_admin__route;

struct ts_admin__job {
    ts_dbjob base;
    ts_admin *adm;
    ts_http_conn *hc;
    const ts_admin__route *route;
    char params[3][TS_KEY_MAX + 1];
    char query[1024];
    json_t *body;
    char token[96];
    bool token_from_cookie;
    ts_tls_peer cert;
    bool has_cert;
    char peer[64];
    char addr[48]; /* the peer's address without the port */
    char requested_with[64];
    ts_live_station *live;
    size_t nlive;
    ts_server_stats stats;
    uint64_t http_requests;
    size_t sse_clients;
    uint64_t now_ms;
    /* who */
    int role;
    char user[TS_KEY_MAX + 1];
    char role_name[16];     /* the account's role as stored ("" : ts_admin__role_name(role)) */
    int scope;              /* TS_ADMIN_SCOPE_* */
    char communes[256];     /* a scoped account's communes: codes, comma-separated */
    ts_strlist scope_stations; /* the stations of those communes (scope COMMUNES) */
    /* the answer */
    int status;
    json_t *resp;
    char headers[4608]; /* extra header lines (cookies; an attachment's Content-Disposition) */
    bool sse;
    const char *text_type; /* a non-JSON answer (metrics, attachments) in text */
    char content_type[128];
    ts_buf text;
    uint64_t max_body; /* [admin] max_body when the request came */
    /* what the loop does afterwards */
    bool notify_all;
    ts_strlist notify;
    ts_admin__frame *frames;
    size_t nframes;
    char event[32];
    json_t *event_data;
    bool refresh_targets;
    bool unblock;                /* clear login blocks (of unblock_address, or all) */
    char unblock_address[48];
    char end_streams_of[TS_KEY_MAX + 1]; /* close this account's event streams */
    /* A document built from what the route collected (a PDF, a workbook):
     * render runs on a worker thread after the store is released, without
     * the store, so a quarter's report being typeset holds up no station's
     * push. It answers like a route (j->text, j->status or ts_admin__fail). */
    void (*render)(ts_admin__job *j);
    json_t *render_data;
    char render_arg[32];
    char *render_dir; /* a copy of [server] data_dir: a reload may free the config meanwhile */
    uv_work_t render_req;
    ts_admin__job *render_next; /* waiting for the one render at a time */
};

/* A DB job of the admin's own ended (the stop may be waiting for it). */
void ts_admin__job_ended(ts_admin *a);

/* ---------------------------------------------------------------- login guard
 * (server/admin/ts_admin_guard.c; loop thread) */

/* Whether a login from host (an address, ts_http_req.addr) must be refused
 * now, and when to try again; *why is the message. */
bool ts_admin__login_refused(ts_admin *a, const char *host, uint64_t now, uint64_t *retry_s, const char **why);
void ts_admin__login_outcome(ts_admin *a, const char *host, bool ok, uint64_t now);
/* Lifts the blocks of one address (NULL or "": every block, the global one
 * too); returns how many addresses were blocked. */
size_t ts_admin__login_unblock(ts_admin *a, const char *address);

/* ---------------------------------------------------------------- helpers
 * (server/admin/ts_admin_util.c) */

void ts_admin__fail(ts_admin__job *j, int status, const char *code, const char *message);
/* A store error as its status (404, 422, 403, else 500, which says no more). */
void ts_admin__fail_err(ts_admin__job *j, const ts_error *err);
void ts_admin__ok(ts_admin__job *j, int status, json_t *resp);
ts_actor ts_admin__actor(const ts_admin__job *j);
/* An audit entry in the caller's name: 0, or -1 when it could not be
 * written (the store logged storage_error). A write must then be undone and
 * refused, and personal values not served: nothing happens unaudited. */
int ts_admin__audit(ts_admin__job *j, ts_store *st, const char *action, const char *table, const char *record,
                    const char *outcome, const char *detail);
/* 500 STORAGE for something that could not be stored (a full disk, most
 * often), with admin_internal_error naming `what`; the caller has rolled
 * back whatever it wrote. */
void ts_admin__fail_storage(ts_admin__job *j, const char *what);
/* A file made into j->text as the answer (rc 0: 200, its type, a download
 * named filename), or, when making it failed (rc < 0), err's answer with
 * whatever was made let go. */
void ts_admin__file(ts_admin__job *j, int rc, const ts_error *err, const char *type, const char *filename);
void ts_admin__set_event(ts_admin__job *j, const char *event, json_t *data);
const char *ts_admin__str(const json_t *o, const char *key);
bool ts_admin__q(ts_admin__job *j, const char *name, char *out, size_t size);
bool ts_admin__q_uint(ts_admin__job *j, const char *name, uint32_t def, uint32_t max, uint32_t *out);
bool ts_admin__q_enum(ts_admin__job *j, const char *name, const char *const *allowed, char *out, size_t size);
void ts_admin__fold(const char *s, char *out, size_t size);
bool ts_admin__matches(const char *folded_needle, const char *const *hay, size_t n);
void ts_admin__q_search(ts_admin__job *j, char *out, size_t size);
json_t *ts_admin__slice(json_t *const *items, size_t n, uint32_t offset, uint32_t limit);
bool ts_admin__has_paging(ts_admin__job *j);
/* Live records, counted again only when something changed and, in a large
 * district, at most every few seconds (overview and metrics). */
json_int_t ts_admin__records_count(ts_admin *a, ts_store *st, uint64_t now_ms);
int64_t ts_admin__scalar(ts_store *st, const char *sql);
int ts_admin__unhex(char c);

/* ---------------------------------------------------------------- users and sessions
 * (server/admin/ts_admin_users.c) */

const char *ts_admin__role_name(int rank);
/* Who is asking: an admin certificate, or a session token. */
bool ts_admin__authenticate(ts_admin__job *j, ts_store *st);
void ts_admin__api_login(ts_admin__job *j, ts_store *st);
void ts_admin__api_logout(ts_admin__job *j, ts_store *st);
void ts_admin__api_me(ts_admin__job *j, ts_store *st);
void ts_admin__api_session(ts_admin__job *j, ts_store *st);
void ts_admin__api_users(ts_admin__job *j, ts_store *st);
void ts_admin__api_user_set(ts_admin__job *j, ts_store *st);
void ts_admin__api_login_unblock(ts_admin__job *j, ts_store *st);

/* ---------------------------------------------------------------- scope
 * (server/admin/ts_admin_scope.c): commune and monitor accounts */

/* The role's scope (TS_ADMIN_SCOPE_*), from its name and communes. */
int ts_admin__role_scope(const char *role, const char *communes);
/* The role name to show for the request's account. */
const char *ts_admin__job_role(const ts_admin__job *j);
/* After authentication: the stations a scoped account may see, and whether
 * the route is open to it at all (else 403, audited). */
bool ts_admin__scope_admit(ts_admin__job *j, ts_store *st);
/* Whether the request's account may see what concerns this station. */
bool ts_admin__in_scope(const ts_admin__job *j, const char *station);
/* After the handler, for scoped accounts: every array element naming a
 * station out of scope ("station") leaves the answer - a second line behind
 * each handler's own filtering. */
void ts_admin__scope_filter(ts_admin__job *j);
/* For a scoped account: false when the notice (its fields) is addressed to
 * none of its stations; else its recipients cut to them. */
bool ts_admin__scope_notice(const ts_admin__job *j, json_t *fields);
/* POST /api/notices/{id}/commune-ack: the commune UBND acknowledges a notice
 * copied to it. */
void ts_admin__api_notice_commune_ack(ts_admin__job *j, ts_store *st);
/* A notice's (or task's) handling records cut to the account's stations,
 * with counts over those only. */
void ts_admin__scope_recipients(const ts_admin__job *j, ts_store *st, json_t *o);
/* The commune UBND's acknowledgement of a notice, or JSON null. */
json_t *ts_admin__commune_ack(const ts_admin__job *j, ts_store *st, const char *notice);

/* ---------------------------------------------------------------- people
 * (server/admin/ts_admin_people.c) */

/* The people a notice names, by name and position: its responsible person
 * (responsible_person_label), and per recipient who acknowledged
 * (acknowledged_by_label) and, for a notice addressed to a role, who holds
 * that role at the station now (responsible_label). */
void ts_admin__people_notice(const ts_admin__job *j, ts_store *st, json_t *o);
/* The same for a task's assignments (responsible_person_label,
 * acknowledged_by_label). */
void ts_admin__people_task(const ts_admin__job *j, ts_store *st, json_t *o);

/* ---------------------------------------------------------------- stations
 * (server/admin/ts_admin_stations.c) */

/* The station directory, kept between requests: read again only when the
 * `stations` table changed (its highest sequence number moved). Each entry
 * keeps what search and the pages need, folded for search once. */
typedef struct ts_admin__dir_entry {
    char *code;
    json_t *fields; /* never handed out: pages get copies */
    char *fold;     /* "code name commune commune_code", folded */
} ts_admin__dir_entry;

/* One station as the pages see it, gathered from the directory, what its
 * sessions reported (station_status), its replica and pull cursor, and
 * whether it is connected now. Silent: not connected and not heard of for
 * [admin] silent_after. */
typedef struct ts_admin__st {
    const char *code;
    const ts_admin__dir_entry *dir; /* NULL: not in the directory */
    char replica[TS_RID_MAX + 1];
    char agent[64];
    char peer[64];
    char last_peer[64];
    char serial[48];
    char commune[160];
    int64_t last_seen, last_sync, cursor, skew, cert_not_after, connected_since, replica_seen;
    uint64_t queued;
    bool has_cursor, has_skew, connected, live, clock_problem;
    int status; /* 0 silent, 1 offline, 2 online */
} ts_admin__st;

typedef struct ts_admin__stations {
    ts_admin__st *v;
    size_t n;
    ts_strlist extra; /* codes known only from sessions, replicas or cursors */
} ts_admin__stations;

typedef struct ts_admin__st_counts {
    json_int_t total, online, offline, silent, cert, clock;
} ts_admin__st_counts;

void ts_admin__dir_free(ts_admin *a);
const ts_admin__dir_entry *ts_admin__dir_find(const ts_admin *a, const char *code);
void ts_admin__dir_load(ts_admin *a, ts_store *st);
/* The commune and name of each station on a page of handling records. */
void ts_admin__add_station_names(ts_admin *a, ts_store *st, json_t *arr);
void ts_admin__collect_stations(ts_admin__job *j, ts_store *st, ts_admin__stations *s);
void ts_admin__stations_free(ts_admin__stations *s);
void ts_admin__st_count(const ts_admin__job *j, const ts_admin__stations *s, ts_admin__st_counts *c);
void ts_admin__api_stations(ts_admin__job *j, ts_store *st);
void ts_admin__api_station(ts_admin__job *j, ts_store *st);

/* ---------------------------------------------------------------- escalations, overview
 * (server/admin/ts_admin_overview.c) */

typedef struct ts_admin__flagged {
    json_t *arr;
    const char *table;
    uint32_t urgent_unacked;
    uint32_t overdue;
    uint32_t escalated;
    int table_index;        /* 0 notice_recipients, 1 task_assignments */
    uint32_t by_state[2][5]; /* records by handling state (ts_notice_states order) */
} ts_admin__flagged;

/* What needs attention in notice_recipients and task_assignments (cached). */
void ts_admin__flags(ts_admin *a, ts_store *st, ts_admin__flagged *out);
void ts_admin__api_escalations(ts_admin__job *j, ts_store *st);
void ts_admin__api_overview(ts_admin__job *j, ts_store *st);

/* ---------------------------------------------------------------- epidemics
 * (server/admin/ts_admin_epidemic.c) */

/* Loads the default disease catalogue when the district has none, scans
 * once, and starts the backstop timer. */
void ts_admin__epi_start(ts_admin *a);
void ts_admin__api_epi_alerts(ts_admin__job *j, ts_store *st);
void ts_admin__api_epi_alert_ack(ts_admin__job *j, ts_store *st);
void ts_admin__api_epi_summary(ts_admin__job *j, ts_store *st);
void ts_admin__api_outbreaks(ts_admin__job *j, ts_store *st);
void ts_admin__api_outbreak(ts_admin__job *j, ts_store *st);
void ts_admin__api_outbreak_open(ts_admin__job *j, ts_store *st);
void ts_admin__api_outbreak_end(ts_admin__job *j, ts_store *st);

/* ---------------------------------------------------------------- the calendar
 * (server/admin/ts_admin_calendar.c) */

/* Runs the calendar job now (occurrences, reminders), then at each local
 * midnight and at least every quarter of an hour. */
void ts_admin__cal_start(ts_admin *a);
void ts_admin__api_calendar(ts_admin__job *j, ts_store *st);
void ts_admin__api_calendar_grid(ts_admin__job *j, ts_store *st);
void ts_admin__api_calendar_duty_set(ts_admin__job *j, ts_store *st);
void ts_admin__api_calendar_remind(ts_admin__job *j, ts_store *st);

/* ---------------------------------------------------------------- the other resources */

/* server/admin/ts_admin_labels.c */
void ts_admin__api_labels(ts_admin__job *j, ts_store *st);
void ts_admin__api_tables(ts_admin__job *j, ts_store *st);
/* server/admin/ts_admin_records.c */
void ts_admin__api_records(ts_admin__job *j, ts_store *st);
void ts_admin__api_record(ts_admin__job *j, ts_store *st);
void ts_admin__api_record_put(ts_admin__job *j, ts_store *st);
/* server/admin/ts_admin_conflicts.c */
void ts_admin__api_conflicts(ts_admin__job *j, ts_store *st);
void ts_admin__api_conflict(ts_admin__job *j, ts_store *st);
void ts_admin__api_conflict_resolve(ts_admin__job *j, ts_store *st);
/* server/admin/ts_admin_notices.c */
/* Each station's NOTICE frame and a nudge of its session, for the loop after the job. */
void ts_admin__queue_notice_frames(ts_admin__job *j, ts_store *st, const char *id, const ts_strlist *stations);
void ts_admin__api_notices(ts_admin__job *j, ts_store *st);
void ts_admin__api_notice(ts_admin__job *j, ts_store *st);
void ts_admin__api_notice_send(ts_admin__job *j, ts_store *st);
void ts_admin__api_notice_recall(ts_admin__job *j, ts_store *st);
void ts_admin__api_notice_attachment(ts_admin__job *j, ts_store *st);
void ts_admin__api_notice_pdf(ts_admin__job *j, ts_store *st);
/* server/admin/ts_admin_reports.c */
void ts_admin__api_reports(ts_admin__job *j, ts_store *st);
void ts_admin__api_report_redistribute(ts_admin__job *j, ts_store *st);
void ts_admin__api_report_open(ts_admin__job *j, ts_store *st);
/* Reports above Thường nobody at the district opened yet. */
json_int_t ts_admin__reports_unread(ts_store *st);
/* server/admin/ts_admin_tasks.c */
void ts_admin__api_tasks(ts_admin__job *j, ts_store *st);
void ts_admin__api_task(ts_admin__job *j, ts_store *st);
void ts_admin__api_task_assign(ts_admin__job *j, ts_store *st);
/* server/admin/ts_admin_targets.c */
void ts_admin__api_targets(ts_admin__job *j, ts_store *st);
void ts_admin__api_targets_history(ts_admin__job *j, ts_store *st);
void ts_admin__api_targets_refresh(ts_admin__job *j, ts_store *st);
/* ts_admin_plan.c: the provincial plan as data */
void ts_admin__api_plan(ts_admin__job *j, ts_store *st);
void ts_admin__api_plan_load(ts_admin__job *j, ts_store *st);
void ts_admin__api_plan_version(ts_admin__job *j, ts_store *st);
void ts_admin__api_task_na(ts_admin__job *j, ts_store *st);
/* ts_admin_province.c: up to the province */
void ts_admin__api_export(ts_admin__job *j, ts_store *st);
void ts_admin__api_report_quarterly(ts_admin__job *j, ts_store *st);
/* server/admin/ts_admin_audit.c */
void ts_admin__api_audit(ts_admin__job *j, ts_store *st);
/* server/admin/ts_admin_health.c */
void ts_admin__api_health(ts_admin__job *j, ts_store *st);
void ts_admin__api_metrics(ts_admin__job *j, ts_store *st);
/* server/ts_admin.c */
void ts_admin__api_events(ts_admin__job *j, ts_store *st);

/* ---------------------------------------------------------------- routes
 * (server/admin/ts_admin_routes.c) */

/* Every endpoint: method, path pattern ({name} captures a parameter), the
 * role it needs (0: no login), and its handler. The first whose pattern and
 * method match serves the request. */
extern const ts_admin__route ts_admin__routes[];
extern const size_t ts_admin__nroutes;

#endif
