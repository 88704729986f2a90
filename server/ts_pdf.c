/* A4 pages through Pango and cairo (server/ts_pdf.h). */
#include "server/ts_pdf.h"

#include <cairo-pdf.h>

static cairo_status_t ts__write(void *closure, const unsigned char *data, unsigned int len)
{
    ts_buf_append((ts_buf *)closure, data, len);
    return CAIRO_STATUS_SUCCESS;
}

int ts_pdf_open(ts_pdf *p, ts_buf *out, double top, double right, double bottom, double left, const char *title,
                const char *author, ts_error *err)
{
    *p = (ts_pdf){0};
    p->surf = cairo_pdf_surface_create_for_stream(ts__write, out, TS_PDF_A4_W, TS_PDF_A4_H);
    if (cairo_surface_status(p->surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(p->surf);
        p->surf = NULL;
        return ts_error_set(err, TS_EIO, "cannot create the PDF");
    }
    cairo_pdf_surface_set_metadata(p->surf, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(p->surf, CAIRO_PDF_METADATA_AUTHOR, author);
    cairo_pdf_surface_set_metadata(p->surf, CAIRO_PDF_METADATA_CREATOR, "tramsync");
    /* a font map of its own: the fonts it loads are let go with the
     * document instead of staying in the daemon's default map */
    p->fm = pango_cairo_font_map_new();
    p->ctx = pango_font_map_create_context(p->fm);
    p->cr = cairo_create(p->surf);
    cairo_set_source_rgb(p->cr, 0, 0, 0);
    p->top = top;
    p->right = right;
    p->bottom = bottom;
    p->left = left;
    p->y = top;
    p->page = 1;
    return 0;
}

double ts_pdf_text_width(const ts_pdf *p)
{
    return TS_PDF_A4_W - p->left - p->right;
}

PangoLayout *ts_pdf_layout(ts_pdf *p, const ts_pdf_style *s, const char *text)
{
    pango_cairo_update_context(p->cr, p->ctx);
    PangoLayout *lay = pango_layout_new(p->ctx);
    PangoFontDescription *fd = pango_font_description_from_string(s->font);
    pango_layout_set_font_description(lay, fd);
    pango_font_description_free(fd);
    double width = s->width > 0 ? s->width : ts_pdf_text_width(p) - s->x;
    pango_layout_set_width(lay, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(lay, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(lay, s->align);
    pango_layout_set_justify(lay, s->justify);
    pango_layout_set_indent(lay, (int)(s->first_indent * PANGO_SCALE));
    pango_layout_set_spacing(lay, (int)(s->line_spacing * PANGO_SCALE));
    pango_layout_set_text(lay, text, -1);
    return lay;
}

double ts_pdf_height(PangoLayout *lay)
{
    int w, h;
    pango_layout_get_size(lay, &w, &h);
    return (double)h / PANGO_SCALE;
}

double ts_pdf_ink_width(PangoLayout *lay)
{
    PangoRectangle logical;
    pango_layout_get_extents(lay, NULL, &logical);
    return (double)logical.width / PANGO_SCALE;
}

void ts_pdf_draw(ts_pdf *p, PangoLayout *lay, double x, double y)
{
    cairo_move_to(p->cr, p->left + x, y);
    pango_cairo_show_layout(p->cr, lay);
}

bool ts_pdf_fits(const ts_pdf *p, double height)
{
    return p->y + height <= TS_PDF_A4_H - p->bottom;
}

void ts_pdf_new_page(ts_pdf *p)
{
    cairo_show_page(p->cr);
    p->page++;
    p->y = p->top;
    if (p->page_start)
        p->page_start(p);
}

void ts_pdf_put(ts_pdf *p, const ts_pdf_style *s, const char *text)
{
    PangoLayout *lay = ts_pdf_layout(p, s, text);
    double height = ts_pdf_height(lay);
    double page = TS_PDF_A4_H - p->top - p->bottom;
    if (!ts_pdf_fits(p, height) && s->keep && height <= page && p->y > p->top)
        ts_pdf_new_page(p);
    if (ts_pdf_fits(p, height)) {
        ts_pdf_draw(p, lay, s->x, p->y);
        p->y += height + s->space_after;
        g_object_unref(lay);
        return;
    }
    /* taller than what is left of a page: line by line, on to new pages */
    double shift = 0; /* where this page's part starts in the layout */
    PangoLayoutIter *it = pango_layout_get_iter(lay);
    do {
        PangoRectangle log;
        pango_layout_iter_get_line_extents(it, NULL, &log);
        double top = (double)log.y / PANGO_SCALE, h = (double)log.height / PANGO_SCALE;
        if (p->y + (top - shift) + h > TS_PDF_A4_H - p->bottom && (top > shift || p->y > p->top)) {
            ts_pdf_new_page(p);
            shift = top;
        }
        double baseline = (double)pango_layout_iter_get_baseline(it) / PANGO_SCALE;
        cairo_move_to(p->cr, p->left + s->x + (double)log.x / PANGO_SCALE, p->y + baseline - shift);
        pango_cairo_show_layout_line(p->cr, pango_layout_iter_get_line_readonly(it));
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
    p->y += height - shift + s->space_after;
    g_object_unref(lay);
}

void ts_pdf_rule(ts_pdf *p, double cx, double y, double len)
{
    cairo_set_line_width(p->cr, 0.6);
    cairo_move_to(p->cr, p->left + cx - len / 2, y);
    cairo_line_to(p->cr, p->left + cx + len / 2, y);
    cairo_stroke(p->cr);
}

int ts_pdf_close(ts_pdf *p, ts_error *err)
{
    g_object_unref(p->ctx);
    g_object_unref(p->fm);
    cairo_destroy(p->cr);
    cairo_surface_finish(p->surf);
    cairo_status_t cs = cairo_surface_status(p->surf);
    cairo_surface_destroy(p->surf);
    *p = (ts_pdf){0};
    if (cs != CAIRO_STATUS_SUCCESS)
        return ts_error_set(err, TS_EIO, "PDF: %s", cairo_status_to_string(cs));
    return 0;
}
