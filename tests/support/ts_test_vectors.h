/* The test vectors of docs/PROTOCOL.md, read out of the markdown: each is a
 * ```hex vector=NAME block (one whole frame) and a ```json vector=NAME block
 * (what it means, the message map as JSON). The unit test checks the two
 * against proto/; the conformance test checks the district's replies
 * against them. */
#ifndef TS_TEST_VECTORS_H
#define TS_TEST_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/ts_buf.h"
#include "proto/tramsync-protocol.h"

typedef struct ts_tv {
    char name[32];
    uint8_t *hex; /* the frame, length prefix included */
    size_t hex_len;
    json_t *json; /* NULL when the document has no json block of that name */
    int hex_line; /* line numbers in the document, for messages */
    int json_line;
} ts_tv;

/* A ```json merge-example=NAME block: a worked example of "Records, clocks
 * and merging", checked against the store's merge. */
typedef struct ts_tv_example {
    char name[48];
    json_t *json;
    int line;
} ts_tv_example;

typedef struct ts_tv_doc {
    ts_tv *v;
    size_t n;
    ts_tv_example *ex;
    size_t nex;
    char *text; /* the whole document */
} ts_tv_doc;

/* Reads docs/PROTOCOL.md (ts_source_path); fails the test on a malformed
 * block (hex not in lowercase pairs 16 a line, JSON that does not parse, a
 * name given twice). */
void ts_tv_load(ts_tv_doc *doc);
void ts_tv_free(ts_tv_doc *doc);
/* The vector of that name, or NULL. */
const ts_tv *ts_tv_find(const ts_tv_doc *doc, const char *name);
/* The i-th cell (0-based) of a table row of the document, trimmed; false
 * past the row's last cell. */
bool ts_tv_cell(const char *line, int i, char *out, size_t size);

/* A msgpack body as JSON: maps as objects (in wire order), floats as JSON
 * reals, bin as {"bin": "<hex>"}. NULL when it does not unpack. */
json_t *ts_tv_body_json(const uint8_t *body, size_t len);
/* The JSON form of a message packed as msgpack (smallest forms, keys in the
 * JSON's order), decoded with ts_msg_decode and encoded with ts_msg_encode:
 * the frame the codec writes for that message. 0, or the decode error with
 * its message in err (size bytes). */
int ts_tv_encode_json(const json_t *j, unsigned proto, ts_buf *frame, char *err, size_t size);
/* The message type a vector's name says, and the protocol version it is
 * written in: NAME is version 1, NAME_V2 version 2 (compact changes). */
ts_msg_type ts_tv_type(const char *name, unsigned *proto);
/* A JSON value packed as msgpack (smallest forms), appended to out. */
void ts_tv_pack_value(const json_t *j, ts_buf *out);
/* Lowercase hex, 16 pairs a line, as the document writes it (caller frees). */
char *ts_tv_hex_lines(const uint8_t *bytes, size_t len);

#endif
