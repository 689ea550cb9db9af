/* clock.c - the daemon's only clock reads: CLOCK_BOOTTIME for deadlines, CLOCK_REALTIME for
 * display. Cores never call this; edges pass the time in. */
#include <assert.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"

static uint64_t clock_read_usec(clockid_t id)
{
        struct timespec ts;

        /* Only fails for an invalid clock id or a bad pointer: both are programming errors.
         * CLOCK_BOOTTIME exists since Linux 2.6.39. */
        if (clock_gettime(id, &ts) < 0)
                assert(!"clock_gettime() failed");

        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t clock_boottime_usec(void)
{
        return clock_read_usec(CLOCK_BOOTTIME);
}

uint64_t clock_realtime_usec(void)
{
        return clock_read_usec(CLOCK_REALTIME);
}

uint64_t clock_boottime_to_realtime(uint64_t boottime_usec)
{
        uint64_t boot_now, real_now;
        int64_t delta, result;

        /* 0 means "no deadline" and USEC_INFINITY "never": both keep their meaning. */
        if (boottime_usec == 0 || boottime_usec == USEC_INFINITY)
                return boottime_usec;

        boot_now = clock_boottime_usec();
        real_now = clock_realtime_usec();

        /* Signed: the deadline may lie in the past. Both clocks fit in int64_t usec for the next
         * ~290000 years. */
        delta = (int64_t) boottime_usec - (int64_t) boot_now;
        result = (int64_t) real_now + delta;
        if (result <= 0)
                return 0; /* before the epoch: nothing sensible to display */

        return (uint64_t) result;
}
