/* modem.h - the module supervisor: synchronise after open and every reboot, initialise (echo off,
 * numeric errors, no sleep, identity, baud fix), probe liveness, and run the reset ladder
 * (AT+QRST=1, then RESET_N, then PWRKEY). It talks to the module only through the AT channel,
 * so the DFOTA gate covers it; GPIO rungs ask the same gate. Time is an argument. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "at-channel.h"
#include "gpio.h"

enum modem_state {
        MODEM_STATE_DISCONNECTED,       /* no tty */
        MODEM_STATE_SYNCING,            /* "AT" until OK (the module auto-bauds) */
        MODEM_STATE_INITIALIZING,       /* ATE0, AT+CMEE=1, AT+QSCLK=0, identity, baud */
        MODEM_STATE_READY,              /* initialised: the LwM2M session may run */
        MODEM_STATE_RESETTING,          /* the reset ladder runs */
        MODEM_STATE_WAITING,            /* an upgrade runs: send nothing, wait for the gate */
};

enum modem_reboot_cause {
        MODEM_REBOOT_AT_RESET,          /* we sent AT+QRST=1 */
        MODEM_REBOOT_GPIO_RESET,        /* we pulsed RESET_N */
        MODEM_REBOOT_PWRKEY,            /* we pulsed PWRKEY */
        MODEM_REBOOT_UPGRADE,           /* the module's own restarts during DFOTA */
        MODEM_REBOOT_UNEXPECTED,
};

enum modem_rung {
        MODEM_RUNG_AT,
        MODEM_RUNG_GPIO_RESET,
        MODEM_RUNG_PWRKEY,
};

struct modem_config {
        uint64_t command_timeout_usec;
        uint64_t boot_timeout_usec;
        uint64_t probe_interval_usec;   /* 0: no probe */
        bool fix_baudrate;
        unsigned baudrate;
        uint64_t reset_pulse_usec;
        uint64_t pwrkey_pulse_usec;
        bool need_imei;                 /* the IMEI is the LwM2M endpoint: init is not done without it */
};

#define MODEM_ID_MAX 64

struct modem_identity {
        char manufacturer[MODEM_ID_MAX];
        char model[MODEM_ID_MAX];
        char revision[MODEM_ID_MAX];
        char imei[MODEM_ID_MAX];
};

struct modem_ops {
        void (*state_changed)(void *ud, enum modem_state old, enum modem_state new_state);
        void (*rebooted)(void *ud, enum modem_reboot_cause cause);      /* once per reboot */
        void (*reset_attempt)(void *ud, enum modem_rung rung, const char *why);  /* a rung fires */
        void (*reset_rung)(void *ud, enum modem_rung rung, bool recovered);     /* its outcome */
        void (*identity_changed)(void *ud);
        /* The liveness probe was answered (other readings may ride on it: no timer of their own). */
        void (*probed)(void *ud, uint64_t now);
};

struct modem;

struct modem *modem_new(const struct modem_config *cfg, struct at_channel *ch, struct gpio *gpio,
                        const struct modem_ops *ops, void *ud);
struct modem *modem_free(struct modem *m);

/* Events from the edges and the channel. */
void modem_on_connected(struct modem *m, uint64_t now);
void modem_on_disconnected(struct modem *m, uint64_t now);
void modem_on_reboot(struct modem *m, uint64_t now);
/* Bytes from the module arrived (any: lines, garbage, a preamble). Call before feeding them to the
 * channel. During an upgrade this ends a reset ladder and postpones a held table-2 reset. */
void modem_on_activity(struct modem *m, uint64_t now);
/* The gate changed from old (the channel holds the new one: at_channel_set_gate). */
void modem_on_gate(struct modem *m, enum at_gate old, uint64_t now);
/* A table-2 reset still waiting for the module to fall silent is no longer wanted (the FOTA phase
 * left downloaded/updating). */
void modem_drop_reset(struct modem *m, const char *why);

/* Synchronise and initialise again (re-registration after an upgrade). */
void modem_reinit(struct modem *m, uint64_t now);

/* Run the reset ladder. table2: ordered by the FOTA machine (passes the closed gate). During an
 * upgrade a rung fires only after [modem] boot_timeout_s without a byte from the module, and any
 * byte ends the ladder (modem_on_activity). Returns 0, -EBUSY if the gate forbids it, -EALREADY if
 * a ladder runs or waits. why is logged. */
int modem_reset(struct modem *m, const char *why, bool table2, uint64_t now);

void modem_tick(struct modem *m, uint64_t now);
uint64_t modem_next_deadline(const struct modem *m);

enum modem_state modem_get_state(const struct modem *m);
const struct modem_identity *modem_get_identity(const struct modem *m);

const char *modem_state_to_string(enum modem_state s);
const char *modem_reboot_cause_to_string(enum modem_reboot_cause c);
const char *modem_rung_to_string(enum modem_rung r);
