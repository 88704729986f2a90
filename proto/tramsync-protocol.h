/* The tramsync wire protocol, versions 1 to 3. docs/PROTOCOL.md is its full
 * specification; this header is the one place its constants live in code.
 *
 * A frame is a 32-bit unsigned big-endian length N (1 <= N <= frame limit)
 * followed by N bytes holding exactly one msgpack map with str keys. Every
 * map has "type" (str): one of the message names below. Unknown keys are
 * ignored; missing or mistyped required keys are errors. Error codes on the
 * wire are the positive values of the TS_E* codes in common/ts_error.h. */
#ifndef TRAMSYNC_PROTOCOL_H
#define TRAMSYNC_PROTOCOL_H

#include "common/ts_error.h"

/* Versions this implementation speaks. Bump TS_PROTO_VERSION_MAX for every
 * incompatible change, and keep speaking the older versions while stations
 * may still run them. */
#define TS_PROTO_VERSION_MIN 1
#define TS_PROTO_VERSION_MAX 3

/* Default limits; each is configurable (never above the hard maximum). */
#define TS_PROTO_DEFAULT_MAX_FRAME (4u * 1024u * 1024u)
#define TS_PROTO_HARD_MAX_FRAME (64u * 1024u * 1024u)
/* Before HELLO is accepted the only frames allowed are HELLO, PING, ERROR
 * and BYE, all far smaller than this: a larger one is FRAME_TOO_LARGE, so a
 * connection nobody has identified yet cannot make the district buffer much. */
#define TS_PROTO_MAX_HELLO_FRAME 4096u
#define TS_PROTO_DEFAULT_MAX_DEPTH 8u
#define TS_PROTO_DEFAULT_MAX_ELEMENTS 65536u
#define TS_PROTO_DEFAULT_MAX_OBJECTS 262144u
#define TS_PROTO_DEFAULT_MAX_STR (256u * 1024u)
#define TS_PROTO_DEFAULT_MAX_CHANGES 5000u /* changes in one PUSH, CHANGES or NOTICE */
#define TS_PROTO_DEFAULT_MAX_FIELDS 256u   /* fields of one record */
#define TS_PROTO_DEFAULT_MAX_VV 1024u      /* entries of one version vector */
#define TS_PROTO_MAX_NAME 64u              /* agent names, urgencies, error names */
#define TS_PROTO_MAX_MESSAGE 1024u         /* ERROR messages, BYE reasons, reject reasons */

#define TS_PROTO_KEY_TYPE "type"

#define TS_MSG_TYPE_MAP(XX) \
    XX(HELLO, 1)            \
    XX(WELCOME, 2)          \
    XX(PUSH, 3)             \
    XX(PUSH_ACK, 4)         \
    XX(PULL, 5)             \
    XX(CHANGES, 6)          \
    XX(NOTICE, 7)           \
    XX(NOTICE_ACK, 8)       \
    XX(PING, 9)             \
    XX(PONG, 10)            \
    XX(ERROR, 11)           \
    XX(BYE, 12)

typedef enum ts_msg_type {
    TS_MSG_NONE = 0,
#define TS__MSG_ENUM(name, num) TS_MSG_##name = num,
    TS_MSG_TYPE_MAP(TS__MSG_ENUM)
#undef TS__MSG_ENUM
        TS_MSG__COUNT
} ts_msg_type;

#endif
