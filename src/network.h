/* network.h - radio and network status: registration, serving cell and signal, read with
 * AT+CEREG?, AT+CESQ, AT+CSQ and AT+QENG=0 through the AT channel (so never while the DFOTA gate
 * is closed) and kept current by +CEREG URCs. Pure parse helpers plus the state; time is an
 * argument, it never reads the clock. doc/network.md says where each value comes from. */
#pragma once

#include <stdint.h>

#include "at-channel.h"
#include "urc.h"

enum network_registration {
        NETWORK_REG_UNKNOWN,            /* never read, or +CEREG stat 4 / anything not below */
        NETWORK_REG_NOT_REGISTERED,     /* stat 0: not registered, not searching */
        NETWORK_REG_SEARCHING,          /* stat 2: not registered, searching */
        NETWORK_REG_HOME,               /* stat 1: registered, home network */
        NETWORK_REG_ROAMING,            /* stat 5: registered, roaming */
        NETWORK_REG_DENIED,             /* stat 3: registration denied */
};

/* "unknown", "not-registered", "searching", "home", "roaming", "denied". */
const char *network_registration_to_string(enum network_registration r);
/* From +CEREG <stat>: 0 not-registered, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming,
 * anything else unknown. */
enum network_registration network_registration_from_stat(int stat);

#define NETWORK_UNKNOWN_I INT32_MIN     /* an i property the module has not given */
#define NETWORK_UNKNOWN_U UINT32_MAX    /* a u property (CoverageClass, Earfcn, Pci, Band) */

struct network_status {
        enum network_registration registration;
        char tac[5];            /* 4 hex digits, zero-padded ("01A2"), "" until known */
        char cell_id[9];        /* 8 hex digits, zero-padded ("06923252"), "" until known */
        uint32_t act;           /* 0 until known (9 = NB-IoT) */
        int32_t rsrp, rsrq, sinr, rssi;            /* dBm / dB / dB / dBm, or NETWORK_UNKNOWN_I */
        uint32_t coverage_class, earfcn, pci, band; /* or NETWORK_UNKNOWN_U */
        uint64_t updated;       /* CLOCK_BOOTTIME usec of the last reading, 0 never (below) */
};

enum {
        NETWORK_CHANGED_REGISTRATION = 1,       /* registration */
        NETWORK_CHANGED_CELL = 2,               /* tac, cell_id, act, earfcn, pci, band */
        NETWORK_CHANGED_SIGNAL = 4,             /* rsrp, rsrq, sinr, rssi, coverage_class */
        NETWORK_CHANGED_UPDATED = 8,            /* updated: a reading completed (on its own too) */
};

/* `updated` and NETWORK_CHANGED_UPDATED move once per round of the four status commands, when the
 * round ends: after AT+QENG=0 completes, or earlier when a command fails, times out or is gated.
 * They move only if at least one command of the round gave values (those of a round cut short are
 * still a reading), and `updated` is then the time of the last command that gave values. The
 * values themselves (REGISTRATION, CELL, SIGNAL) are published as each command brings them; a
 * +CEREG URC never moves `updated`. */

struct network_ops {
        /* Something in the status changed (bits above); the lead publishes it on D-Bus. */
        void (*changed)(void *ud, unsigned what);
};

struct network_config {
        uint64_t command_timeout_usec;
};

struct network;

/* A status with nothing known: registration unknown, strings empty, numbers "not known". */
void network_status_init(struct network_status *st);

struct network *network_new(const struct network_config *cfg, struct at_channel *ch,
                            const struct network_ops *ops, void *ud);
/* Accepts NULL; returns NULL. A command still in the channel must not complete afterwards (free
 * the channel too, or first, as the manager does: at_channel_free calls no callback). */
struct network *network_free(struct network *n);

/* A +CEREG URC (the manager passes every URC_CEREG, gated or not: it costs no command). Other
 * URC types are ignored. Updates registration, and TAC, cell and AcT when the URC carries them;
 * never `updated` (that is the age of the last reading, which a URC is not). */
void network_on_urc(struct network *n, const struct urc *u, uint64_t now);

/* Read the status now: a round of AT+CEREG?, AT+CESQ, AT+CSQ, AT+QENG=0 in turn through the
 * channel. -EBUSY whenever the gate is not open, also while a round runs (NOTHING submitted, no
 * extra round asked); -ENOTCONN no tty; other negative errno from at_channel_submit; else 0:
 * - no round runs: one starts;
 * - a round runs and its AT+CEREG? has not completed: folded into it (all of it answers after
 *   the request);
 * - a round runs past AT+CEREG?: one more full round starts when it ends, if the gate is open
 *   then (at most one extra round however many requests came meanwhile). */
int network_refresh(struct network *n, uint64_t now);

/* The current status; valid until the next call into this module. */
const struct network_status *network_get(const struct network *n);

/* ---- pure helpers (table-tested) ------------------------------------------------------------ */

/* 27.007 +CESQ <rsrp> 0..97 -> dBm: 0 (below -140) -> -140, n -> n - 141 (the lower edge of the
 * 1 dB step), 97 -> -44; 255 or anything else -> NETWORK_UNKNOWN_I. */
int32_t network_rsrp_from_cesq(int index);
/* 27.007 +CESQ <rsrq> 0..34 -> dB: the lower edge of the 0.5 dB step, -20 + n/2, rounded down
 * (floor): 0 (below -19.5) -> -20, 1 -> -20, 2 -> -19, 33 -> -4, 34 -> -3; 255 or anything else
 * -> NETWORK_UNKNOWN_I. */
int32_t network_rsrq_from_cesq(int index);
/* 27.007 +CSQ <rssi> 0..31 -> -113 + 2n dBm (0: -113 or less, 31: -51 or more); 99 or anything
 * else -> NETWORK_UNKNOWN_I. */
int32_t network_rssi_from_csq(int index);

/* Parse one response line of each status command into st. Each sets every field its command
 * defines (to "not known"/"" where the module left it empty or unknown) and touches no other.
 * 0, or -EINVAL (st untouched) for a line that is not of that shape. */

/* "+CEREG: <n>,<stat>[,[<tac>],[<ci>],[<AcT>]...]" (the read form), or the URC form
 * "+CEREG: <stat>[,...]" that may arrive while AT+CEREG? waits: registration, tac, cell_id, act
 * (tac/cell_id "" and act 0 when absent). */
int network_parse_cereg(const char *line, struct network_status *st);
/* "+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>": rsrq, rsrp. */
int network_parse_cesq(const char *line, struct network_status *st);
/* "+CSQ: <rssi>,<ber>": rssi. */
int network_parse_csq(const char *line, struct network_status *st);
/* "+QENG: 0,<earfcn>,<earfcn_offset>,<pci>,"<cellid>",<rsrp>,<rsrq>,<rssi>,<snr>,<band>,"<tac>",
 * <ecl>,<tx_pwr>[,...]" (serving cell; later fields ignored): earfcn, pci, cell_id, rsrp, rsrq,
 * rssi, sinr, band, tac, coverage_class. rsrp..snr are empty outside RRC-IDLE. -ENOENT for any
 * other +QENG: line (neighbour cells "+QENG: 1,...", "+QENG: 2,..."), st untouched. */
int network_parse_qeng(const char *line, struct network_status *st);
