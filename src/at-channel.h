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
        bool written;                           /* false: failed before it was written (e.g. the
                                                 * resync ahead of it went unanswered) */
        size_t n_lines;                         /* intermediate lines (echo excluded) */
        const char *lines[AT_RESPONSE_LINES_MAX];
};

/* Completion of one command; r and its lines are valid only during the call. The callback may
 * submit further commands. */
typedef void (*at_done_t)(void *userdata, const struct at_response *r);

struct at_channel_ops {
        /* Write bytes to the tty; 0 or negative errno. A failed write counts like a timeout: the
         * command stays in flight until its deadline, then the channel resynchronises (no tight
         * loop of retries against a stalled tty). */
        int (*write)(void *ud, const void *buf, size_t len);
        /* Every line not consumed by the command in flight: URCs, async results, unknown. */
        void (*line)(void *ud, const char *text, const struct at_line *l, uint64_t now);
        /* A new module reboot was detected (once per reboot); in-flight command already failed. */
        void (*reboot)(void *ud, uint64_t now);
        /* Drop bytes handed to write() that have not reached the tty yet; returns how many were
         * dropped. Optional. Called when a command times out (its bytes must not reach the module
         * later) and when the gate closes (nothing may reach it during an upgrade). */
        size_t (*discard)(void *ud);
};

struct at_request {
        enum at_cmd cmd;
        const char *text;       /* full command without CR; must start with the table prefix */
        uint64_t timeout_usec;
        const char *expect;     /* information response prefix, e.g. "+CGSN:", or NULL */
        bool bare;              /* it also answers with bare text lines (ATI; AT+QLWRD's data) */
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

/* Time passed: fail the command in flight if its deadline is reached.
 *
 * After a timeout (or a write that failed, or a command cut off by a disconnect) the module may
 * still answer the old command. Before the next command the channel resynchronises: it writes
 * AT+CMEE? and discards every result until the "+CMEE:" line and the final result after it, so
 * that no late answer is credited to a later command. If the resync itself gets no answer in the
 * head command's timeout, the head command fails with AT_STATUS_TIMEOUT (the resync is tried
 * again before the next one). A table-2 reset is written without a resync. */
void at_channel_tick(struct at_channel *ch, uint64_t now);

/* Earliest deadline (CLOCK_BOOTTIME usec), UINT64_MAX if none. */
uint64_t at_channel_next_deadline(const struct at_channel *ch);

/* Change the gate; true if it changed. Queued commands it no longer allows complete with
 * AT_STATUS_GATED; the command in flight (already written) is kept and tracked to its end, unless
 * the gate closes while its bytes still wait for the tty: they are dropped and it completes with
 * AT_STATUS_GATED. The channel is the one owner of the gate: everyone else asks it. */
bool at_channel_set_gate(struct at_channel *ch, enum at_gate gate, uint64_t now);
enum at_gate at_channel_get_gate(const struct at_channel *ch);

/* The tty appeared or went away. Going away fails everything with AT_STATUS_CANCELLED and forgets
 * any partial line. */
void at_channel_set_connected(struct at_channel *ch, bool connected, uint64_t now);

/* Is a command in flight or queued? */
bool at_channel_busy(const struct at_channel *ch);

/* Counters for logs and D-Bus diagnostics. */
struct at_channel_stats {
        uint64_t lines, unknown_lines, overlong_lines, dropped_bytes, reboots, timeouts;
        uint64_t resyncs, stale_results, discarded_bytes;
};
void at_channel_get_stats(const struct at_channel *ch, struct at_channel_stats *out);

const char *at_status_to_string(enum at_status s);
