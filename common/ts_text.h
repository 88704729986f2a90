/* Text for terminals: Vietnamese is UTF-8, where bytes are not columns.
 * Columns here are code points, less combining marks (a decomposed "ệ" is
 * one column), which is right for the Latin-script text tramsync prints. */
#ifndef TS_TEXT_H
#define TS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* People read Vietnamese first: English only when asked for (--lang en) or
 * when the locale is English (the first of LC_ALL, LC_MESSAGES, LANG that is
 * set, as for gettext). lang: the --lang value or NULL. Sets *en; 0, or -1
 * for a language not offered (vi and en are). */
int ts_text_pick_language(const char *lang, bool *en);

/* A time for people: dd/mm/yyyy HH:MM in local time (the process's TZ). */
void ts_text_time_ms(uint64_t ms, char *out, size_t size);
/* A registry date ("2026-12-31") as dd/mm/yyyy, a datetime with its offset
 * ("2026-12-10T17:00:00+07:00", milliseconds allowed) as dd/mm/yyyy HH:MM
 * local time; any other text (a plan's "Quý III năm 2024") as it is.
 * Returns out. */
const char *ts_text_date(const char *text, char *out, size_t size);

#endif
