/* Levelled, structured log lines (redis serverLog style), one per event:
 *   ts=2026-11-23T07:13:00.123Z level=warn event=frame_rejected station=binhnguyen ...
 * The set of events and their keys is documented in docs/LOGGING.md; ops grep them. */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stddef.h>

typedef enum ts_log_level {
    TS_LOG_DEBUG = 0,
    TS_LOG_INFO = 1,
    TS_LOG_WARN = 2,
    TS_LOG_ERROR = 3,
    TS_LOG_OFF = 4
} ts_log_level;

/* A sink receives every formatted line (without the trailing newline). The
 * default sink writes to stderr. Tests install their own to assert on lines. */
typedef void (*ts_log_sink)(ts_log_level level, const char *line, void *ctx);

void ts_log_set_level(ts_log_level min_level);
ts_log_level ts_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 when unknown. */
int ts_log_level_parse(const char *name);
const char *ts_log_level_name(ts_log_level level);
void ts_log_set_sink(ts_log_sink sink, void *ctx);

/* `fields` is a printf format producing the remaining space-separated
 * key=value pairs ("station=%s reason=%s"). Every string argument (%s,
 * %.*s) is written as one value, whatever it holds: bare when it is a
 * plain word, otherwise in double quotes with `"`, `\` and control bytes
 * escaped (ts_log_value), so nothing a peer sends can end a value early,
 * add a key or start a line. Never put quotes around %s in a format. */
void ts_log(ts_log_level level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes `value` (n bytes) as a log value into out (size bytes, always
 * terminated): as it is when it holds no space, '=', '"', '\' or control
 * byte and is not empty; otherwise quoted and escaped (\", \\, \n, \r,
 * \t, \xNN). Cut to fit, never in the middle of an escape. Returns the
 * length written. */
size_t ts_log_value(char *out, size_t size, const char *value, size_t n);

#define ts_log_debug(ev, ...) ts_log(TS_LOG_DEBUG, ev, __VA_ARGS__)
#define ts_log_info(ev, ...) ts_log(TS_LOG_INFO, ev, __VA_ARGS__)
#define ts_log_warn(ev, ...) ts_log(TS_LOG_WARN, ev, __VA_ARGS__)
#define ts_log_error(ev, ...) ts_log(TS_LOG_ERROR, ev, __VA_ARGS__)

#endif
