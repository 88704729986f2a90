/* A notice as an official document, A4 (server/ts_notice_pdf.h). The
 * layout follows Nghị định 30/2020/NĐ-CP, Phụ lục I: margins top and bottom
 * 20 mm, left 30 mm, right 15 mm; top left the parent body in capitals over
 * the issuing body in bold capitals with a short rule under it, and under
 * them "Số: ..."; top right the national motto and, under its rule, the
 * place and date in italics; the type of document in bold capitals centred
 * with the trích yếu under it (a công văn: "V/v ..." under its number and a
 * "Kính gửi" line); the body justified, each paragraph's first line
 * indented; bottom left "Nơi nhận:" and its list ending "Lưu: VT."; bottom
 * right the signer's authority and position in bold capitals, room for the
 * signature and seal, the name in bold. A serif font with every Vietnamese
 * letter: DejaVu Serif (Times New Roman is not a free font). */
#include "common/ts_recjson.h"
#include "common/ts_xmalloc.h"
#include "server/ts_notice_pdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ts_pdf.h"

#define TS__SERIF "DejaVu Serif "
#define TS__LEFT_COL 168.0 /* the issuing body's column, points (the motto's: the rest) */

void ts_notice_place_date(const char *place, const char *day, char *out, size_t size)
{
    int y, m, d;
    if (sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3) {
        snprintf(out, size, "%s", place);
        return;
    }
    char mm[8];
    snprintf(mm, sizeof mm, m <= 2 ? "%02d" : "%d", m);
    snprintf(out, size, "%s%sngày %02d tháng %s năm %04d", place, place[0] ? ", " : "", d, mm, y);
}

/* text in capitals (Vietnamese letters too) */
static char *ts__caps(const char *s)
{
    return g_utf8_strup(s, -1);
}

/* a block centred in a column at y; its height */
static double ts__centred(ts_pdf *p, const char *font, double x, double width, double y, const char *text,
                          PangoLayout **keep)
{
    ts_pdf_style s = {font, x, width, PANGO_ALIGN_CENTER, false, 0, 0, 0, true};
    PangoLayout *lay = ts_pdf_layout(p, &s, text);
    ts_pdf_draw(p, lay, x, y);
    double h = ts_pdf_height(lay);
    if (keep)
        *keep = lay;
    else
        g_object_unref(lay);
    return h;
}

static void ts__page_number(ts_pdf *p)
{
    char n[16];
    snprintf(n, sizeof n, "%d", p->page);
    ts__centred(p, TS__SERIF "13", 0, ts_pdf_text_width(p), p->top / 2 - 8, n, NULL);
}

/* the two columns of the top: who issues it, and the motto, place and date */
static void ts__heading(ts_pdf *p, const json_t *doc, bool cong_van)
{
    double w = ts_pdf_text_width(p), rx = TS__LEFT_COL + 4, rw = w - rx;
    double y = p->y, ly = y, ry = y;
    char *parent = ts__caps(ts_json_str(doc, "parent_body")), *issuer = ts__caps(ts_json_str(doc, "issuer"));
    if (parent[0])
        ly += ts__centred(p, TS__SERIF "12.5", 0, TS__LEFT_COL, ly, parent, NULL);
    PangoLayout *lay;
    ly += ts__centred(p, TS__SERIF "Bold 12.5", 0, TS__LEFT_COL, ly, issuer, &lay);
    double iw = ts_pdf_ink_width(lay);
    g_object_unref(lay);
    ts_pdf_rule(p, TS__LEFT_COL / 2, ly + 3, (iw > TS__LEFT_COL ? TS__LEFT_COL : iw) * 0.4);
    ly += 8;
    g_free(parent);
    g_free(issuer);

    ry += ts__centred(p, TS__SERIF "Bold 12", rx, rw, ry, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", NULL);
    ry += ts__centred(p, TS__SERIF "Bold 13", rx, rw, ry, "Độc lập - Tự do - Hạnh phúc", &lay);
    ts_pdf_rule(p, rx + rw / 2, ry + 3, ts_pdf_ink_width(lay));
    g_object_unref(lay);
    ry += 8;

    /* the second row: number and symbol | place and date */
    double row = ly > ry ? ly : ry;
    char line[1024];
    snprintf(line, sizeof line, "Số: %s", ts_json_str(doc, "number"));
    ly = row + ts__centred(p, TS__SERIF "13", 0, TS__LEFT_COL, row, line, NULL);
    if (cong_van) {
        /* "V/v" says "về việc": a subject that says it already is not
         * made to say it twice */
        const char *subject = ts_json_str(doc, "subject");
        static const char *const said[] = {"V/v ", "v/v ", "Về việc ", "về việc "};
        for (size_t i = 0; i < sizeof said / sizeof *said; i++)
            if (strncmp(subject, said[i], strlen(said[i])) == 0)
                subject += strlen(said[i]);
        /* a subject is up to 500 characters: whole, never cut in a letter */
        char *vv = ts_xasprintf("V/v %s", subject);
        ly += ts__centred(p, TS__SERIF "12", 0, TS__LEFT_COL, ly + 2, vv, NULL) + 2;
        free(vv);
    }
    const char *urgency = ts_json_str(doc, "urgency_vi");
    if (urgency[0]) {
        char *u = ts__caps(urgency);
        ly += ts__centred(p, TS__SERIF "Bold 13", 0, TS__LEFT_COL, ly + 4, u, NULL) + 4;
        g_free(u);
    }
    ts_notice_place_date(ts_json_str(doc, "place"), ts_json_str(doc, "date"), line, sizeof line);
    ry = row + ts__centred(p, TS__SERIF "Italic 13", rx, rw, row, line, NULL);
    p->y = (ly > ry ? ly : ry) + 18;
}

/* the type of document and the trích yếu, centred, a rule under them */
static void ts__title(ts_pdf *p, const json_t *doc, bool cong_van)
{
    double w = ts_pdf_text_width(p);
    if (cong_van) {
        /* "Kính gửi:" the stations the letter is addressed to */
        ts_buf to = TS_BUF_INIT;
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(doc, "recipients"), i, r)
            ts_buf_printf(&to, "%s%s", i ? "; " : "", json_string_value(r) ? json_string_value(r) : "");
        ts_buf_append(&to, "", 1);
        char *line = g_strdup_printf("Kính gửi: %s.", (const char *)to.data);
        ts_pdf_style s = {TS__SERIF "14", 60, w - 60, PANGO_ALIGN_LEFT, false, 0, 1, 10, true};
        ts_pdf_put(p, &s, line);
        g_free(line);
        ts_buf_free(&to);
        return;
    }
    const char *type = ts_json_str(doc, "doc_type_vi");
    char *caps = ts__caps(type[0] ? type : "Thông báo");
    ts_pdf_style t = {TS__SERIF "Bold 14", 0, w, PANGO_ALIGN_CENTER, false, 0, 0, 2, true};
    ts_pdf_put(p, &t, caps);
    g_free(caps);
    ts_pdf_style s = {TS__SERIF "Bold 13.5", 30, w - 60, PANGO_ALIGN_CENTER, false, 0, 1, 0, true};
    PangoLayout *lay = ts_pdf_layout(p, &s, ts_json_str(doc, "subject"));
    ts_pdf_put(p, &s, ts_json_str(doc, "subject"));
    double sw = ts_pdf_ink_width(lay);
    g_object_unref(lay);
    ts_pdf_rule(p, w / 2, p->y + 3, sw / 3 < 60 ? 60 : sw / 3);
    p->y += 16;
}

/* paragraphs of text, justified, first lines indented */
static void ts__paragraphs(ts_pdf *p, const char *text, const char *font)
{
    ts_pdf_style s = {font, 0, 0, PANGO_ALIGN_LEFT, true, 1.0 * 28.35, 2, 6, false};
    char *copy = g_strdup(text);
    for (char *line = copy, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line[strcspn(line, "\r")] = '\0';
        if (line[0])
            ts_pdf_put(p, &s, line);
    }
    g_free(copy);
}

static void ts__body(ts_pdf *p, const json_t *doc)
{
    if (ts_json_str(doc, "legal_basis")[0])
        ts__paragraphs(p, ts_json_str(doc, "legal_basis"), TS__SERIF "Italic 14");
    ts__paragraphs(p, ts_json_str(doc, "body"), TS__SERIF "14");
    static const struct {
        const char *key, *label;
    } parts[] = {{"task", "Nhiệm vụ"},
                 {"deadline_text", "Thời hạn hoàn thành"},
                 {"responsible", "Người chịu trách nhiệm"},
                 {"expected_result", "Kết quả cần đạt"}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        const char *v = ts_json_str(doc, parts[i].key);
        if (!v[0])
            continue;
        char *line = g_strdup_printf("%s: %s", parts[i].label, v);
        ts__paragraphs(p, line, TS__SERIF "14");
        g_free(line);
    }
    p->y += 14;
}

/* Nơi nhận (left) and the signature block (right), side by side, together */
static void ts__closing(ts_pdf *p, const json_t *doc)
{
    double w = ts_pdf_text_width(p), half = w * 0.46, rx = w - half - 10;
    ts_buf list = TS_BUF_INIT;
    size_t i;
    json_t *r;
    const json_t *recips = json_object_get(doc, "recipients");
    if (json_array_size(recips) > 30) /* a notice to every station: one line */
        ts_buf_printf(&list, "- Các Trạm Y tế xã (%zu trạm);\n", json_array_size(recips));
    else
        json_array_foreach(recips, i, r)
            ts_buf_printf(&list, "- %s;\n", json_string_value(r) ? json_string_value(r) : "");
    json_array_foreach(json_object_get(doc, "committees"), i, r)
        ts_buf_printf(&list, "- %s (để phối hợp);\n", json_string_value(r) ? json_string_value(r) : "");
    ts_buf_printf(&list, "- Lưu: VT.");
    ts_buf_append(&list, "", 1);
    ts_pdf_style head = {TS__SERIF "Bold Italic 12", 0, half, PANGO_ALIGN_LEFT, false, 0, 0, 0, true};
    ts_pdf_style items = {TS__SERIF "11", 0, half, PANGO_ALIGN_LEFT, false, 0, 1, 0, true};
    PangoLayout *lh = ts_pdf_layout(p, &head, "Nơi nhận:");
    PangoLayout *li = ts_pdf_layout(p, &items, (const char *)list.data);
    ts_buf_free(&list);

    const json_t *signer = json_object_get(doc, "signer");
    ts_buf sign = TS_BUF_INIT;
    const char *auth = ts_json_str(signer, "authority"), *pos = ts_json_str(signer, "position");
    if (auth[0])
        ts_buf_printf(&sign, "%s\n", auth);
    if (pos[0])
        ts_buf_printf(&sign, "%s", pos);
    ts_buf_append(&sign, "", 1);
    char *caps = ts__caps((const char *)sign.data);
    ts_buf_free(&sign);
    ts_pdf_style st = {TS__SERIF "Bold 13.5", rx, half + 10, PANGO_ALIGN_CENTER, false, 0, 1, 0, true};
    PangoLayout *ls = ts_pdf_layout(p, &st, caps);
    PangoLayout *ln = ts_pdf_layout(p, &st, ts_json_str(signer, "name"));
    g_free(caps);
    double room = 72; /* the signature and the seal */
    double left = ts_pdf_height(lh) + 2 + ts_pdf_height(li);
    double right = ts_pdf_height(ls) + room + ts_pdf_height(ln);
    if (!ts_pdf_fits(p, left > right ? left : right))
        ts_pdf_new_page(p);
    ts_pdf_draw(p, lh, 0, p->y);
    ts_pdf_draw(p, li, 0, p->y + ts_pdf_height(lh) + 2);
    ts_pdf_draw(p, ls, rx, p->y);
    ts_pdf_draw(p, ln, rx, p->y + ts_pdf_height(ls) + room);
    p->y += left > right ? left : right;
    g_object_unref(lh);
    g_object_unref(li);
    g_object_unref(ls);
    g_object_unref(ln);
}

int ts_notice_pdf(const json_t *doc, ts_buf *out, ts_error *err)
{
    ts_pdf p;
    char *title = ts_xasprintf("%s %s", ts_json_str(doc, "number"), ts_json_str(doc, "subject"));
    int rc = ts_pdf_open(&p, out, 20 * TS_PDF_MM, 15 * TS_PDF_MM, 20 * TS_PDF_MM, 30 * TS_PDF_MM, title,
                         ts_json_str(doc, "issuer"), err);
    free(title);
    if (rc < 0)
        return rc;
    /* font sizes in points of the page, as the decree gives them (Pango's
     * default is 96 dpi) */
    pango_cairo_context_set_resolution(p.ctx, 72);
    p.page_start = ts__page_number;
    bool cong_van = strcmp(ts_json_str(doc, "doc_type"), "cong_van") == 0;
    ts__heading(&p, doc, cong_van);
    ts__title(&p, doc, cong_van);
    ts__body(&p, doc);
    ts__closing(&p, doc);
    return ts_pdf_close(&p, err);
}
