/* reboot.h - turn boot-preamble lines and RDY into "one module reboot" events.
 * Pure: time is an argument. One reboot = a block of preamble lines plus an RDY that follows
 * within the boot window, or a lone RDY. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct reboot_detector {
        uint64_t window_usec;   /* modem.boot_timeout_s */
        bool in_block;          /* preamble seen, block not closed yet */
        uint64_t last_usec;     /* time of the block's last preamble line */
};

/* Prepare a detector; window_usec is how long after the preamble an RDY still belongs to it. */
void reboot_detector_init(struct reboot_detector *d, uint64_t window_usec);

/* A preamble line arrived: true if it starts a new reboot. */
bool reboot_detector_boot_line(struct reboot_detector *d, uint64_t now);

/* RDY arrived: true if it is a new (lone) reboot, false if it closes a preamble block. */
bool reboot_detector_rdy(struct reboot_detector *d, uint64_t now);

/* A meaningful non-boot line (final result, typed URC) arrived: the module is up, the block ends. */
void reboot_detector_other_line(struct reboot_detector *d, uint64_t now);
