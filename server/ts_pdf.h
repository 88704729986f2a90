/* Printable A4 pages in Vietnamese, shared by the documents the district
 * prints (the quarter's summary report, server/ts_report_pdf.c; a notice as
 * an official document, server/ts_notice_pdf.c): Pango lays the text out
 * (shaping and line breaking of Vietnamese's stacked diacritics, with a
 * Unicode font of fonts-dejavu-core), cairo writes the PDF into a buffer
 * with the fonts embedded, so it prints the same anywhere. Text flows down
 * the page and on to the next when the page is full. */
#ifndef TS_PDF_H
#define TS_PDF_H

#include <stdbool.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "common/ts_buf.h"
#include "common/ts_error.h"

#define TS_PDF_A4_W 595.276 /* points */
#define TS_PDF_A4_H 841.890
#define TS_PDF_MM (72.0 / 25.4) /* points in a millimetre */

typedef struct ts_pdf ts_pdf;
struct ts_pdf {
    cairo_surface_t *surf;
    cairo_t *cr;
    PangoFontMap *fm; /* a font map of this document's own, let go with it */
    PangoContext *ctx;
    double top, right, bottom, left; /* margins, points */
    double y;                        /* where the next text goes */
    int page;                        /* 1, 2, ... */
    /* called at the top of every page after the first (NULL: nothing) */
    void (*page_start)(ts_pdf *p);
};

/* How a block of text is set. x and width are from the left margin (width
 * 0: to the right margin); keep: the whole block on one page when it fits
 * one (else its lines flow on to the next page). */
typedef struct ts_pdf_style {
    const char *font; /* a Pango font description, e.g. "DejaVu Serif Bold 13" */
    double x, width;
    PangoAlignment align;
    bool justify;
    double first_indent; /* the first line of each paragraph, points */
    double line_spacing; /* extra between lines, points */
    double space_after;
    bool keep;
} ts_pdf_style;

/* An A4 document written into out, with margins in points and its title
 * and author in the PDF's metadata. */
int ts_pdf_open(ts_pdf *p, ts_buf *out, double top, double right, double bottom, double left, const char *title,
                const char *author, ts_error *err);
/* The width between the margins. */
double ts_pdf_text_width(const ts_pdf *p);
/* The text laid out in the style (not drawn; g_object_unref it). */
PangoLayout *ts_pdf_layout(ts_pdf *p, const ts_pdf_style *s, const char *text);
/* Its height and the width its longest line takes, in points. */
double ts_pdf_height(PangoLayout *lay);
double ts_pdf_ink_width(PangoLayout *lay);
/* Draws a layout at y (points from the page's top), x from the left margin,
 * as it is (no page break). */
void ts_pdf_draw(ts_pdf *p, PangoLayout *lay, double x, double y);
/* A block of text at p->y, flowing on to new pages as needed; p->y moves
 * past it and space_after. */
void ts_pdf_put(ts_pdf *p, const ts_pdf_style *s, const char *text);
/* A horizontal rule of length len centred on cx (from the left margin). */
void ts_pdf_rule(ts_pdf *p, double cx, double y, double len);
/* Whether height more points fit on this page below p->y. */
bool ts_pdf_fits(const ts_pdf *p, double height);
void ts_pdf_new_page(ts_pdf *p);
/* Finishes the PDF (every page in out) and frees what it held. */
int ts_pdf_close(ts_pdf *p, ts_error *err);

#endif
