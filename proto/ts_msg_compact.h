/* Protocol version 2's compact change list (docs/PROTOCOL.md, "Compact
 * changes (version 2)"). Internal to proto/: ts_msg.c calls it for the
 * changes of PUSH and CHANGES when a session speaks version 2.
 *
 * A frame carries one string table "strs" (replica ids, table names and
 * field names, each once, in order of first use) and every change as an
 * array that refers to it by index. The decoder turns each compact change
 * back into the version-1 change map, made of msgpack objects pointing into
 * the frame (no copy), and hands it to ts_change_unpack: both versions are
 * held to exactly the same checks and error messages. */
#ifndef TS_MSG_COMPACT_H
#define TS_MSG_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ts_msg.h"

#define TS_COMPACT_KEY_STRS "strs"
/* version 3's string table: a frame that has it holds version-3 compact
 * changes (docs/PROTOCOL.md, "Compact changes, version 3") */
#define TS_COMPACT_KEY_STRS3 "strs3"

/* ---------------------------------------------------------------- encode */

typedef struct ts__strtab_entry {
    const char *s;
    uint32_t len;
    uint32_t idx; /* UINT32_MAX: empty slot */
} ts__strtab_entry;

typedef struct ts_compact_enc {
    ts__strtab_entry *slots; /* open addressing, power-of-two size */
    uint32_t cap;
    const ts__strtab_entry **order; /* by index */
    uint32_t n;
    int version; /* 2 or 3 (set after ts_compact_enc_build; 2 by default) */
} ts_compact_enc;

/* Builds the string table of list. */
void ts_compact_enc_build(ts_compact_enc *e, const ts_change_list *list);
/* The table as a msgpack array of str. */
void ts_compact_enc_pack_strs(msgpack_packer *pk, const ts_compact_enc *e);
/* The changes as an array of compact changes. */
void ts_compact_enc_pack_changes(msgpack_packer *pk, const ts_compact_enc *e, const ts_change_list *list);
void ts_compact_enc_free(ts_compact_enc *e);

/* ---------------------------------------------------------------- decode */

typedef struct ts_compact_dec {
    const msgpack_object *strs;
    uint32_t nstrs;
    msgpack_object *objs;
    size_t cap_objs;
    msgpack_object_kv *kvs;
    size_t cap_kvs;
    /* version 3: what the next change refers to */
    int version;
    uint64_t prev_hlc;                /* the previous newest write's hlc (0 before the first) */
    const msgpack_object *prev_names; /* the previous field names list, NULL before the first */
} ts_compact_dec;

/* strs: the frame's "strs" (version 2) or "strs3" (version 3) value
 * (checked here: an array of str). */
int ts_compact_dec_init(ts_compact_dec *d, const msgpack_object *strs, int version, const char *where,
                        ts_error *err);
int ts_compact_change(ts_compact_dec *d, const msgpack_object *o, const ts_proto_limits *limits, ts_change *c,
                      ts_arena *arena, ts_buf *scratch, const char *where, ts_error *err);
void ts_compact_dec_free(ts_compact_dec *d);

#endif
