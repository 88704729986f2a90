#include "common/ts_hlc.h"

#include <time.h>

#include "common/ts_error.h"

uint64_t ts_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t ts__wall(void *ctx)
{
    (void)ctx;
    return ts_wall_ms();
}

void ts_hlc_init(ts_hlc *hlc, uint64_t last, uint64_t max_ahead_ms)
{
    hlc->last = last;
    hlc->max_ahead_ms = max_ahead_ms;
    hlc->now_ms = ts__wall;
    hlc->now_ctx = NULL;
}

void ts_hlc_set_clock(ts_hlc *hlc, ts_clock_fn now_ms, void *ctx)
{
    hlc->now_ms = now_ms ? now_ms : ts__wall;
    hlc->now_ctx = ctx;
}

uint64_t ts_hlc_physical_ms(const ts_hlc *hlc)
{
    return hlc->now_ms(hlc->now_ctx);
}

uint64_t ts_hlc_next(ts_hlc *hlc)
{
    uint64_t phys = TS_HLC_MAKE(hlc->now_ms(hlc->now_ctx), 0);
    /* last + 1 bumps the logical part; at 0xffff it carries into the
     * millisecond, which keeps the order and costs nothing but one ms. */
    uint64_t next = hlc->last + 1;
    if (phys > next)
        next = phys;
    hlc->last = next;
    return next;
}

int ts_hlc_check(const ts_hlc *hlc, uint64_t remote, uint64_t *ahead_ms)
{
    uint64_t now = hlc->now_ms(hlc->now_ctx);
    uint64_t ms = TS_HLC_MS(remote);
    if (ms > now && ms - now > hlc->max_ahead_ms) {
        if (ahead_ms != NULL)
            *ahead_ms = ms - now;
        return TS_ECLOCK_AHEAD;
    }
    if (ahead_ms != NULL)
        *ahead_ms = ms > now ? ms - now : 0;
    return 0;
}

void ts_hlc_observe(ts_hlc *hlc, uint64_t remote)
{
    if (remote > hlc->last)
        hlc->last = remote;
}
