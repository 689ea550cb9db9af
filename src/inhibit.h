/* inhibit.h - logind inhibitor locks held while a firmware upgrade runs: one "shutdown" and one
 * "sleep" lock, mode block (systemd 252 checks a combined "shutdown:sleep" request against the
 * wrong polkit action and refuses it). Asynchronous; never blocks the loop. */
#pragma once

#include <stdbool.h>

struct inhibit;
typedef struct sd_bus sd_bus;

int inhibit_new(sd_bus *bus, struct inhibit **out);
/* Releases every lock. */
struct inhibit *inhibit_free(struct inhibit *in);

/* Hold (true) or release (false) the locks; idempotent. */
void inhibit_set(struct inhibit *in, bool hold);

/* Locks currently held (0..2). */
int inhibit_held(const struct inhibit *in);
