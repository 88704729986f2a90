/* Hybrid logical clock: 48-bit milliseconds since the Unix epoch, then a 16-bit
 * logical counter, in one uint64 (so comparing HLCs is comparing integers).
 * Every local event is later than every HLC seen before it, which is what
 * makes the (hlc, replica) order respect causality (../DESIGN.md). */
#ifndef TS_HLC_H
#define TS_HLC_H

#include <stdint.h>

#define TS_HLC_MS(h) ((uint64_t)(h) >> 16)
#define TS_HLC_LOGICAL(h) ((uint64_t)(h)&0xffffu)
#define TS_HLC_MAKE(ms, logical) (((uint64_t)(ms) << 16) | ((uint64_t)(logical)&0xffffu))
#define TS_HLC_DEFAULT_MAX_AHEAD_MS (5u * 60u * 1000u)

typedef uint64_t (*ts_clock_fn)(void *ctx); /* milliseconds since the epoch */

typedef struct ts_hlc {
    uint64_t last;         /* the latest HLC issued or observed */
    uint64_t max_ahead_ms; /* how far in our future a received HLC may be */
    ts_clock_fn now_ms;
    void *now_ctx;
} ts_hlc;

/* Real time in ms (CLOCK_REALTIME). */
uint64_t ts_wall_ms(void);
void ts_hlc_init(ts_hlc *hlc, uint64_t last, uint64_t max_ahead_ms);
/* Replaces the wall clock (tests use a controllable one). */
void ts_hlc_set_clock(ts_hlc *hlc, ts_clock_fn now_ms, void *ctx);
uint64_t ts_hlc_physical_ms(const ts_hlc *hlc);
/* A new timestamp for a local event, later than everything before it. */
uint64_t ts_hlc_next(ts_hlc *hlc);
/* 0 if `remote` is acceptable, else TS_ECLOCK_AHEAD with *ahead_ms set to how
 * far past our wall clock it is. */
int ts_hlc_check(const ts_hlc *hlc, uint64_t remote, uint64_t *ahead_ms);
/* Advances past an accepted remote HLC. */
void ts_hlc_observe(ts_hlc *hlc, uint64_t remote);

#endif
