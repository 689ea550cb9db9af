/* clock.h - the daemon's only clock reads (an edge). Cores take time as an argument. */
#pragma once

#include <stdint.h>

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

/* CLOCK_BOOTTIME in usec: every internal deadline (counts suspend, survives daemon restarts). */
uint64_t clock_boottime_usec(void);

/* CLOCK_REALTIME in usec: for display (D-Bus Deadline, state file comments) only. */
uint64_t clock_realtime_usec(void);

/* Convert a CLOCK_BOOTTIME deadline to wall-clock usec for display; 0 stays 0. */
uint64_t clock_boottime_to_realtime(uint64_t boottime_usec);
