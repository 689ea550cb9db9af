/* service.c - sd-daemon notifications. The watchdog is pinged from a libevent timer: if the loop
 * hangs, the pings stop and systemd restarts us, which is the point. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "service.h"

struct service {
        struct event *ev_watchdog;
        char status[256];
};

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
        (void) sd_notify(0, "WATCHDOG=1");
}

int service_new(struct event_base *base, struct service **out)
{
        struct service *s = calloc(1, sizeof(*s));
        uint64_t usec = 0;

        if (!s)
                return -ENOMEM;
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
                struct timeval tv = { .tv_sec = (time_t) (usec / 2 / 1000000),
                                      .tv_usec = (suseconds_t) (usec / 2 % 1000000) };

                s->ev_watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, s);
                if (!s->ev_watchdog || event_add(s->ev_watchdog, &tv) < 0) {
                        service_free(s);
                        return -ENOMEM;
                }
                log_debug("Watchdog armed: pinging systemd every %llu ms", (unsigned long long) (usec / 2000));
        }
        *out = s;
        return 0;
}

struct service *service_free(struct service *s)
{
        if (!s)
                return NULL;
        if (s->ev_watchdog)
                event_free(s->ev_watchdog);
        free(s);
        return NULL;
}

void service_ready(struct service *s)
{
        (void) sd_notify(0, "READY=1");
}

void service_status(struct service *s, const char *status)
{
        char msg[300];

        if (strcmp(s->status, status) == 0)
                return;
        snprintf(s->status, sizeof(s->status), "%s", status);
        snprintf(msg, sizeof(msg), "STATUS=%s", status);
        (void) sd_notify(0, msg);
}

void service_stopping(struct service *s)
{
        (void) sd_notify(0, "STOPPING=1");
}
