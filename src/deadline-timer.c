/* deadline-timer.c - the loop's deadline timer: a timerfd on CLOCK_BOOTTIME with an absolute
 * expiry, read by a persistent libevent event (see deadline-timer.h for why not evtimer). */
#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "deadline-timer.h"

#define USEC_PER_SEC UINT64_C(1000000)

struct deadline_timer {
        int fd;
        struct event *ev;
        void (*fire)(void *ud);
        void *ud;
};

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
        struct deadline_timer *t = arg;
        uint64_t expirations;

        (void) what;
        /* EAGAIN: re-armed between the wake-up and this read; nothing is due. */
        if (read(fd, &expirations, sizeof(expirations)) != (ssize_t) sizeof(expirations))
                return;
        t->fire(t->ud);
}

int deadline_timer_new(struct event_base *base, void (*fire)(void *ud), void *ud, struct deadline_timer **out)
{
        struct deadline_timer *t;
        int r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->fire = fire;
        t->ud = ud;
        t->fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
        if (t->fd < 0) {
                r = -errno;
                free(t);
                return r;
        }
        t->ev = event_new(base, t->fd, EV_READ | EV_PERSIST, on_readable, t);
        if (!t->ev || event_add(t->ev, NULL) < 0) {
                deadline_timer_free(t);
                return -ENOMEM;
        }
        *out = t;
        return 0;
}

struct deadline_timer *deadline_timer_free(struct deadline_timer *t)
{
        if (!t)
                return NULL;
        if (t->ev)
                event_free(t->ev);
        close(t->fd);
        free(t);
        return NULL;
}

int deadline_timer_set(struct deadline_timer *t, uint64_t deadline_usec)
{
        struct itimerspec its = { { 0, 0 }, { 0, 0 } };

        if (deadline_usec != UINT64_MAX) {
                /* An all-zero it_value disarms: a deadline at 0 (long past) becomes 1 ns. */
                its.it_value.tv_sec = (time_t) (deadline_usec / USEC_PER_SEC);
                its.it_value.tv_nsec = (long) (deadline_usec % USEC_PER_SEC) * 1000;
                if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                        its.it_value.tv_nsec = 1;
        }
        if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
                return -errno;
        return 0;
}
