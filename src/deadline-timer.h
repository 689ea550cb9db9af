/* deadline-timer.h - the event loop's one deadline timer, on CLOCK_BOOTTIME (an edge).
 * Every deadline in bc26d is CLOCK_BOOTTIME, which keeps counting during a suspend; libevent's
 * own timers run on CLOCK_MONOTONIC, which does not, and would fire late after a resume. So the
 * timer is a timerfd on CLOCK_BOOTTIME armed at an absolute time, watched by a read event. */
#pragma once

#include <stdint.h>

#include <event2/event.h>

struct deadline_timer;

/* fire(ud) runs once each time the armed deadline is reached. */
int deadline_timer_new(struct event_base *base, void (*fire)(void *ud), void *ud, struct deadline_timer **out);
struct deadline_timer *deadline_timer_free(struct deadline_timer *t);

/* Arm at an absolute CLOCK_BOOTTIME deadline (usec; one in the past fires at once), replacing
 * the previous one; UINT64_MAX disarms. Returns 0 or negative errno. */
int deadline_timer_set(struct deadline_timer *t, uint64_t deadline_usec);
