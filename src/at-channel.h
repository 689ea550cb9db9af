/* at-channel.h - the AT command channel: FIFO of commands (one in flight), response assembly,
 * timeouts, URC dispatch, reboot detection, and the DFOTA gate.
 * A core: bytes, time and requests in; writes and callbacks out through injected ops. It never
 * reads the clock or touches a file descriptor itself. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at-cmd.h"
#include "urc.h"

#define AT_CHANNEL_QUEUE_MAX    64      /* commands waiting, not counting the one in flight */
#define AT_RESPONSE_LINES_MAX   16      /* intermediate lines kept per command */
#define AT_COMMAND_MAX          1200    /* longest command text: QLWDATASEND with 512 bytes hex */

enum at_status {
        AT_STATUS_OK,           /* final OK */
        AT_STATUS_ERROR,        /* final ERROR */
        AT_STATUS_CME_ERROR,    /* final +CME ERROR: <code> */
        AT_STATUS_TIMEOUT,      /* no final result within the command's timeout */
        AT_STATUS_REBOOTED,     /* the module rebooted while the command was in flight */
        AT_STATUS_GATED,        /* refused: a firmware upgrade runs (never written) */
        AT_STATUS_CANCELLED,    /* the tty went away or the channel was flushed */
};

struct at_response {
        enum at_status status;
        int cme;                                /* AT_STATUS_CME_ERROR code */
        uint64_t now;                           /* when it completed */
        size_t n_lines;                         /* intermediate lines (echo excluded) */
        const char *lines[AT_RESPONSE_LINES_MAX];
};

/* Completion of one command; r and its lines are valid only during the call. The callback may
 * submit further commands. */
typedef void (*at_done_t)(void *userdata, const struct at_response *r);

struct at_channel_ops {
        /* Write bytes to the tty; 0 or negative errno (the channel then fails the command). */
        int (*write)(void *ud, const void *buf, size_t len);
        /* Every line not consumed by the command in flight: URCs, async results, unknown. */
        void (*line)(void *ud, const char *text, const struct at_line *l, uint64_t now);
        /* A new module reboot was detected (once per reboot); in-flight command already failed. */
        void (*reboot)(void *ud, uint64_t now);
};

struct at_request {
        enum at_cmd cmd;
        const char *text;       /* full command without CR; must start with the table prefix */
        uint64_t timeout_usec;
        const char *expect;     /* information response prefix, e.g. "+CGSN:", or NULL */
        bool table2_reset;      /* a reset the FOTA machine ordered: passes the closed gate */
        at_done_t done;         /* may be NULL */
        void *userdata;
};

struct at_channel;

/* Create a channel; boot_window_usec groups a preamble with the RDY that follows it. */
struct at_channel *at_channel_new(const struct at_channel_ops *ops, void *ud, uint64_t boot_window_usec);
struct at_channel *at_channel_free(struct at_channel *ch);

/* Queue a command. Returns 0, -EBUSY if the gate refuses it (nothing written, done not called),
 * -ENOBUFS if the queue is full, -EINVAL for a malformed request, -ENOTCONN if no tty. */
int at_channel_submit(struct at_channel *ch, const struct at_request *req, uint64_t now);

/* Bytes from the tty. */
void at_channel_feed(struct at_channel *ch, const void *data, size_t n, uint64_t now);

/* Time passed: fail the command in flight if its deadline is reached. */
void at_channel_tick(struct at_channel *ch, uint64_t now);

/* Earliest deadline (CLOCK_BOOTTIME usec), UINT64_MAX if none. */
uint64_t at_channel_next_deadline(const struct at_channel *ch);

/* Change the gate. Queued commands it no longer allows complete with AT_STATUS_GATED; the command
 * in flight (already written) is kept and tracked to its end. */
void at_channel_set_gate(struct at_channel *ch, enum at_gate gate, uint64_t now);
enum at_gate at_channel_get_gate(const struct at_channel *ch);

/* The tty appeared or went away. Going away fails everything with AT_STATUS_CANCELLED and forgets
 * any partial line. */
void at_channel_set_connected(struct at_channel *ch, bool connected, uint64_t now);

/* Is a command in flight or queued? */
bool at_channel_busy(const struct at_channel *ch);

/* Counters for logs and D-Bus diagnostics. */
struct at_channel_stats {
        uint64_t lines, unknown_lines, overlong_lines, dropped_bytes, reboots, timeouts;
};
void at_channel_get_stats(const struct at_channel *ch, struct at_channel_stats *out);

const char *at_status_to_string(enum at_status s);
