/* Text for terminals: Vietnamese is UTF-8, where bytes are not columns.
 * Columns here are code points, less combining marks (a decomposed "ệ" is
 * one column), which is right for the Latin-script text tramsync prints. */
#ifndef TS_TEXT_H
#define TS_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Display columns of s (UTF-8; a malformed byte counts as one column). */
size_t ts_text_width(const char *s);
/* The length in bytes of the longest prefix of s that fits in max_cols
 * columns and ends on a character boundary (a base letter keeps its
 * combining marks). */
size_t ts_text_prefix(const char *s, size_t max_cols);
/* Writes s in exactly `cols` columns: padded with spaces, or cut with "…"
 * when longer. cols 0: s as it is. */
void ts_text_col(FILE *out, const char *s, size_t cols);

#endif
