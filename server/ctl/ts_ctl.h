/* tramsyncctl: the district's admin and operations tool. Certificates are
 * managed on files (the CA lives with ops, not in the daemon); everything
 * about the data goes through the daemon's admin API. */
#ifndef TS_CTL_H
#define TS_CTL_H

#include <stdbool.h>

typedef struct ts_ctl {
    const char *pki_dir; /* --pki, default $TRAMSYNC_PKI or /etc/tramsync/pki */
    bool json;
    bool en; /* English: --lang en, or an English locale; Vietnamese otherwise */
} ts_ctl;

/* Text in the language asked for (x->en: a ts_ctl or its client). */
#define TS__L(x, in_vi, in_en) ((x)->en ? (in_en) : (in_vi))

enum { TS_CTL_OK = 0, TS_CTL_ERROR = 1, TS_CTL_USAGE = 2, TS_CTL_NOT_FOUND = 3, TS_CTL_INVALID = 4 };

int ts_ctl_ca(ts_ctl *ctl, int argc, char **argv);
/* backup FILE, verify-backup FILE, restore FILE: the database file itself */
int ts_ctl_db(ts_ctl *ctl, int argc, char **argv);
/* status, notice, task, escalations, conflicts, user: through the admin API */
int ts_ctl_api(ts_ctl *ctl, int argc, char **argv);

#endif
