/* The district console's files (HTML, CSS, JS), served by the admin
 * listener; the console itself talks only to the admin API. */
#ifndef TS_CONSOLE_H
#define TS_CONSOLE_H

#include "server/ts_http.h"

/* The directory the files come from (set at start and on reload). */
void ts_console_set_dir(const char *dir);
void ts_console_serve(ts_http_conn *hc, ts_http_req *req);

#endif
