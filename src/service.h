/* service.h - talking to systemd as a Type=notify service: READY=1, STATUS=, STOPPING=1 and the
 * watchdog ping from the event loop. Harmless when not started by systemd. */
#pragma once

struct event_base;
struct service;

/* Arm the watchdog ping (every WatchdogSec/2) if systemd asked for one. */
int service_new(struct event_base *base, struct service **out);
struct service *service_free(struct service *s);

void service_ready(struct service *s);
/* Set STATUS= (sent only when it changes). */
void service_status(struct service *s, const char *status);
void service_stopping(struct service *s);
