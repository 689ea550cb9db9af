/* reboot.c - group boot-preamble lines and RDY into "one module reboot" events.
 * Pure: the caller passes the time; no clock, no I/O. */
#include <string.h>

#include "reboot.h"

void reboot_detector_init(struct reboot_detector *d, uint64_t window_usec)
{
        memset(d, 0, sizeof(*d));
        d->window_usec = window_usec;
}

/* Is a preamble block open and its last line recent enough for this line to belong to it?
 * A clock that appears to go backwards counts as "no time passed". */
static bool block_open(const struct reboot_detector *d, uint64_t now)
{
        if (!d->in_block)
                return false;
        return now <= d->last_usec || now - d->last_usec <= d->window_usec;
}

bool reboot_detector_boot_line(struct reboot_detector *d, uint64_t now)
{
        /* The boot ROM prints seven lines per boot (guide 3.2): only the first one is news. */
        bool fresh = !block_open(d, now);

        d->in_block = true;
        d->last_usec = now;
        return fresh;
}

bool reboot_detector_rdy(struct reboot_detector *d, uint64_t now)
{
        /* Preamble then RDY is one boot (guide 3.2: "Leaving the BROM", RDY, +CFUN: 1). An RDY
         * with no open block is a reboot whose preamble we missed, e.g. at a non-115200 rate
         * where only RDY is legible (bc26-at.md 5.3). */
        bool fresh = !block_open(d, now);

        d->in_block = false;
        return fresh;
}

void reboot_detector_other_line(struct reboot_detector *d, uint64_t now)
{
        /* The module is talking normally again: a later preamble or RDY is another boot. During
         * DFOTA this separates the two restarts the guide announces (4.1.2) by the UPDATING URCs
         * printed between them. */
        d->in_block = false;
}
