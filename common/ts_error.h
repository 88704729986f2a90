/* Error codes shared by every layer. Functions return 0 or a negative TS_E*
 * code (libuv style). On the wire an ERROR frame carries the positive value
 * (-TS_E*); docs/PROTOCOL.md lists them, and the numbers never change. */
#ifndef TS_ERROR_H
#define TS_ERROR_H

#include <stddef.h>

#define TS_ERRNO_MAP(XX)                                                              \
    XX(MALFORMED, 1, "malformed msgpack or frame structure")                          \
    XX(FRAME_TOO_LARGE, 2, "frame larger than the negotiated limit")                  \
    XX(TOO_DEEP, 3, "nesting deeper than the limit")                                  \
    XX(TOO_MANY_ELEMENTS, 4, "array or map with more elements than allowed")          \
    XX(STRING_TOO_LONG, 5, "string or binary longer than allowed")                    \
    XX(EXT_NOT_ALLOWED, 6, "msgpack ext types are not allowed")                       \
    XX(TRAILING_BYTES, 7, "bytes left after the message map")                         \
    XX(MISSING_KEY, 8, "a required key is missing")                                   \
    XX(WRONG_TYPE, 9, "a value has the wrong type")                                   \
    XX(UNKNOWN_MESSAGE, 10, "unknown message type")                                   \
    XX(UNSUPPORTED_VERSION, 11, "no protocol version in common")                      \
    XX(UNEXPECTED_MESSAGE, 12, "message not allowed in this session state")           \
    XX(FORBIDDEN, 13, "not allowed for this station")                                 \
    XX(UNKNOWN_TABLE, 14, "unknown table")                                            \
    XX(INVALID_RECORD, 15, "record does not match its table schema")                  \
    XX(CLOCK_AHEAD, 16, "timestamp too far in the future")                            \
    XX(REKEY_REQUIRED, 17, "replica must take a new id")                              \
    XX(RATE_LIMITED, 18, "too many requests")                                         \
    XX(SHUTTING_DOWN, 19, "server is shutting down")                                  \
    XX(INTERNAL, 20, "internal error")                                                \
    XX(BAD_VALUE, 21, "value out of range or badly formed")                           \
    XX(TIMEOUT, 22, "timed out")                                                      \
    XX(BUSY, 23, "too many connections")                                              \
    XX(INVALID_UTF8, 24, "string is not valid UTF-8")                                 \
    XX(DUPLICATE_KEY, 25, "a map holds the same key twice")                           \
    XX(INCONSISTENT, 26, "versions contradict each other (same dot, different write)") \
    XX(STORAGE, 27, "storage failure")                                                \
    XX(NOT_FOUND, 28, "not found")                                                    \
    XX(TLS, 29, "TLS failure")                                                        \
    XX(IO, 30, "input/output failure")                                                \
    XX(REPLACED, 31, "session replaced by a newer one from the same station")

typedef enum ts_errno {
#define TS__ERR_ENUM(name, num, text) TS_E##name = -(num),
    TS_ERRNO_MAP(TS__ERR_ENUM)
#undef TS__ERR_ENUM
        TS_E__LAST = -32
} ts_errno;

/* "MALFORMED" for TS_EMALFORMED; "UNKNOWN" for anything else. */
const char *ts_err_name(int err);
const char *ts_strerror(int err);
/* Inverse of ts_err_name; 0 when unknown. */
int ts_err_from_name(const char *name);

/* A precise, human-readable error: the code plus where and why. */
typedef struct ts_error {
    int code;
    char msg[256];
} ts_error;

/* Sets err (when not NULL) and returns code, so callers can `return ts_error_set(...)`. */
int ts_error_set(ts_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ts_error_clear(ts_error *err);

#endif
