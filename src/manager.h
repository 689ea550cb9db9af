/* manager.h - wires the cores to the edges: tty -> AT channel -> module supervisor (and, from
 * the later layers, the LwM2M session, the DFOTA machine, the bus). Owns the event loop, the one
 * deadline timer, and the signal handling. main.c only parses arguments and calls this. */
#pragma once

#include "config.h"

struct manager;

/* Build everything from a validated config; nothing touches the module until manager_run(). */
int manager_new(const struct config *cfg, const char *state_dir, struct manager **out);
struct manager *manager_free(struct manager *m);

/* Run until SIGTERM/SIGINT. Returns 0 on a clean shutdown, negative errno on a fatal error. */
int manager_run(struct manager *m);
