/* A gate in front of the document builders, preloaded into the release
 * daemon by test_render_off_store: while the file named by TS_GATE exists,
 * building a PDF (cairo) or a workbook (libxlsxwriter) waits, after saying
 * so by creating TS_GATE.entered. The test can then ask the daemon other
 * things and see whether the store is held while a document is built.
 * Bounded: the wait gives up after 30 s. Not part of any program. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void ts__gate_wait(void)
{
    const char *gate = getenv("TS_GATE");
    if (gate == NULL || access(gate, F_OK) != 0)
        return;
    char entered[4096];
    snprintf(entered, sizeof entered, "%s.entered", gate);
    int fd = open(entered, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 3000 && access(gate, F_OK) == 0; i++)
        nanosleep(&ten_ms, NULL);
}

typedef void *(*ts__pdf_fn)(void *write_fn, void *closure, double w, double h);
typedef void *(*ts__wb_fn)(const char *path, void *opt);

void *cairo_pdf_surface_create_for_stream(void *write_fn, void *closure, double w, double h);
void *cairo_pdf_surface_create_for_stream(void *write_fn, void *closure, double w, double h)
{
    ts__gate_wait();
    ts__pdf_fn real = (ts__pdf_fn)dlsym(RTLD_NEXT, "cairo_pdf_surface_create_for_stream");
    return real(write_fn, closure, w, h);
}

void *workbook_new_opt(const char *path, void *opt);
void *workbook_new_opt(const char *path, void *opt)
{
    ts__gate_wait();
    ts__wb_fn real = (ts__wb_fn)dlsym(RTLD_NEXT, "workbook_new_opt");
    return real(path, opt);
}
