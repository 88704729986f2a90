/* Messages of the wire protocol as C structs, and their codec. Pure bytes <->
 * messages: no sockets, no SQL, no globals. Decoding validates the frame
 * (ts_mp_validate) before msgpack-c unpacks it, then checks every key.
 * Strings in a decoded message are NUL-terminated copies owned by msg->arena. */
#ifndef TS_MSG_H
#define TS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ts_arena.h"
#include "common/ts_buf.h"
#include "common/ts_error.h"
#include "common/ts_mp.h"
#include "common/ts_record.h"
#include "proto/tramsync-protocol.h"

typedef struct ts_proto_limits {
    uint32_t max_frame;
    ts_mp_limits mp;
    uint32_t max_changes;
    uint32_t max_fields;
    uint32_t max_vv;
    /* The session's protocol version. From 2 on, PUSH and CHANGES may carry
     * compact changes (a frame with "strs"); at 1 a frame is read as version
     * 1 wrote it, whatever it holds. */
    uint32_t proto;
} ts_proto_limits;

void ts_proto_limits_default(ts_proto_limits *limits);

typedef struct ts_change_list {
    ts_change *items;
    uint32_t n;
} ts_change_list;

typedef struct ts_push_result {
    ts_outcome outcome;
    uint64_t seq;       /* server sequence of the stored version (0: none) */
    uint64_t code;      /* error code when rejected (positive wire value) */
    const char *reason; /* why, when rejected or in conflict (may be NULL) */
} ts_push_result;

typedef struct ts_msg_hello {
    uint64_t proto_min;
    uint64_t proto_max;
    const char *agent;
    const char *replica;
    const char *station;
    const char *server_db;
    uint64_t cursor;
    uint64_t lseq;
    bool lseq_given; /* decoded: the key was there (the encoder always writes it) */
    uint64_t time;
    bool live;
    /* frame compression the station offers ("zstd-1"); NULL or "": none */
    const char *compress;
    /* the station keeps a TLS session ticket to resume its next connection */
    bool ticket;
} ts_msg_hello;

typedef struct ts_msg_welcome {
    uint64_t proto;
    const char *server;
    const char *server_db;
    const char *station;
    const char *commune;
    uint64_t time;
    bool rekey;
    bool cursor_reset;
    uint64_t max_frame;
    uint64_t max_changes;
    uint64_t heartbeat;
    uint64_t max_clock_ahead; /* ms: stamps further in the district's future are refused (0: not said) */
    /* the frame compression of this session (the station's offer, taken); NULL or "": none */
    const char *compress;
    /* the district's time zone ([district] timezone, "Asia/Ho_Chi_Minh"): the
     * station's days are the district's; NULL or "": not said */
    const char *timezone;
} ts_msg_welcome;

typedef struct ts_msg_push {
    uint64_t batch;
    ts_change_list changes;
} ts_msg_push;

typedef struct ts_msg_push_ack {
    uint64_t batch;
    uint64_t code;       /* 0: the change set was processed; else why it was refused whole */
    const char *message; /* set when code != 0 */
    ts_push_result *results;
    uint32_t nresults;
} ts_msg_push_ack;

typedef struct ts_msg_pull {
    uint64_t since;
    uint64_t limit;
    /* the station can take the rest of the answer unasked, page after page
     * (docs/PROTOCOL.md, "Pulling"); omitted when false */
    bool stream;
    /* with stream: the most pages of the answer the district may have sent
     * and the station not yet credited; 0: no window (omitted) */
    uint64_t window;
    /* not a new PULL: the station committed this many pages of the running
     * windowed stream, the district may send as many more (omitted when 0) */
    uint64_t credit;
} ts_msg_pull;

typedef struct ts_msg_changes {
    ts_change_list changes;
    uint64_t cursor;
    bool more;
    bool live;
    /* the next page of this answer follows without a PULL; omitted when false */
    bool stream;
    /* on a streamed page: the window the district keeps to; the station
     * credits the page once committed (omitted when 0) */
    uint64_t window;
} ts_msg_changes;

typedef struct ts_msg_notice {
    uint64_t seq;
    const char *id;
    const char *urgency;
    ts_change_list changes;
} ts_msg_notice;

typedef struct ts_msg_notice_ack {
    uint64_t seq;
    const char *id;
} ts_msg_notice_ack;

typedef struct ts_msg_ping {
    uint64_t nonce;
} ts_msg_ping;

typedef struct ts_msg_error {
    uint64_t code;
    const char *name;
    const char *message;
    bool fatal;
    uint64_t batch; /* the PUSH it answers, 0 when none */
} ts_msg_error;

typedef struct ts_msg_bye {
    const char *reason;
} ts_msg_bye;

typedef struct ts_msg {
    ts_msg_type type;
    /* The form of the changes of a PUSH or CHANGES: 2 writes them compact
     * ("strs" and change arrays), 0 or 1 as version 1 maps. The decoder sets
     * the form the frame had; NOTICE is the same in both versions. */
    uint8_t proto;
    union {
        ts_msg_hello hello;
        ts_msg_welcome welcome;
        ts_msg_push push;
        ts_msg_push_ack push_ack;
        ts_msg_pull pull;
        ts_msg_changes changes;
        ts_msg_notice notice;
        ts_msg_notice_ack notice_ack;
        ts_msg_ping ping; /* PING and PONG */
        ts_msg_error error;
        ts_msg_bye bye;
    } u;
    ts_arena arena;
} ts_msg;

const char *ts_msg_type_name(ts_msg_type type);
/* TS_MSG_NONE when unknown */
ts_msg_type ts_msg_type_parse(const char *s, size_t n);

/* Prepares msg of the given type for building (zeroed, fresh arena). */
void ts_msg_init(ts_msg *msg, ts_msg_type type);
/* Frees the arena and every vv the message holds. */
void ts_msg_free(ts_msg *msg);

/* Decodes one frame body. On failure msg holds nothing to free and err says
 * precisely which key of which element was wrong. */
int ts_msg_decode(const uint8_t *body, size_t len, const ts_proto_limits *limits, ts_msg *msg,
                  ts_error *err);
/* Appends the whole frame (length prefix + canonical body) to out. */
void ts_msg_encode(const ts_msg *msg, ts_buf *out);

/* A change as a msgpack map (also used by the store for its own exports). */
void ts_change_pack(msgpack_packer *pk, const ts_change *c);
int ts_change_unpack(const msgpack_object *o, const ts_proto_limits *limits, ts_change *c,
                     ts_arena *arena, ts_buf *scratch, const char *where, ts_error *err);

/* Convenience: a ts_change_list of n zeroed changes in msg's arena. */
ts_change *ts_msg_alloc_changes(ts_msg *msg, ts_change_list *list, uint32_t n);
/* Copies s into msg's arena. */
const char *ts_msg_strdup(ts_msg *msg, const char *s);

#endif
