/* fota.h - the DFOTA state machine (guide sections 4.1-4.2, tables 1 and 2).
 * Pure: URC events and CLOCK_BOOTTIME time in, decisions out. It never writes to the module, the
 * state file or the log itself; the caller carries out fota_output. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at-cmd.h"
#include "urc.h"

enum fota_phase {
        FOTA_PHASE_IDLE,        /* no upgrade: business as usual */
        FOTA_PHASE_DOWNLOADING, /* COAPSTART seen: gated, never reset (table 2 row 1) */
        FOTA_PHASE_DOWNLOADED,  /* COAPEND,0 seen: gated; window expiry resets the module */
        FOTA_PHASE_UPDATING,    /* START seen: gated; the module's bootloader flashes and reboots */
        FOTA_PHASE_REPORTING,   /* END,x seen: re-register so the platform learns the result */
};
#define _FOTA_PHASE_MAX (FOTA_PHASE_REPORTING + 1)

enum fota_result {
        FOTA_RESULT_NONE,
        FOTA_RESULT_SUCCESS,
        FOTA_RESULT_DOWNLOAD_FAILED,
        FOTA_RESULT_UPDATE_FAILED,
        FOTA_RESULT_TIMEOUT,
};

/* Everything that survives a daemon restart (store.h writes it). Times are CLOCK_BOOTTIME usec.
 * Every field but progress is recovery state: a change to it always comes with
 * FOTA_ACTION_PERSIST. Progress alone does not (see FOTA_ACTION_PERSIST): the file may hold an
 * older progress than the bus showed, and a restart resumes from that one. */
struct fota_state {
        enum fota_phase phase;
        unsigned window;                /* 1: first window from COAPSTART; 2: after the table-2 reset */
        bool window_expired;            /* downloading: the first window already expired (warned) */
        uint64_t deadline_usec;         /* current window / reporting deadline; 0 when idle */
        uint64_t download_deadline_usec; /* downloading give-up (download_max_s after COAPSTART) */
        unsigned progress;              /* 0..100; saved only along with a recovery change */
        enum fota_result pending_result; /* reporting: result of the upgrade being reported */
        int pending_code;
        enum fota_result last_result;   /* result of the last finished upgrade */
        int last_code;
};

struct fota_config {
        uint64_t timeout_usec;          /* fota.timeout_s */
        uint64_t download_max_usec;     /* fota.download_max_s */
};

struct fota {
        struct fota_config cfg;
        struct fota_state st;
};

/* What the caller must do, in this order. */
enum fota_action {
        /* Recovery state changed (phase, window, window_expired, a deadline, the pending or last
         * result; the table-2 reset is window 2): write the whole state, progress included, to the
         * state file now, before acting on or announcing the output. A step that only moves
         * progress (UPDATING/DOWNLOADING n%) does not ask for it, so those URCs reach D-Bus
         * without an fsync; progress is written with the next persisted change (at the latest
         * when the phase moves on: END,x, a failure or a timeout). After a crash the restored
         * progress may be older than what clients last saw, never newer; the next n% line
         * corrects it. */
        FOTA_ACTION_PERSIST     = 1 << 0,
        FOTA_ACTION_RESET       = 1 << 1, /* table 2: reset the module (ladder, as a table-2 reset) */
        FOTA_ACTION_REREGISTER  = 1 << 2, /* reporting: (re)initialise the module and register */
};

/* Log-worthy things that happened, each with its own journal MESSAGE_ID. */
enum fota_note {
        FOTA_NOTE_UPGRADE_STARTED,      /* phase left idle */
        FOTA_NOTE_PHASE_CHANGED,
        FOTA_NOTE_FINISHED_OK,
        FOTA_NOTE_DOWNLOAD_FAILED,
        FOTA_NOTE_UPDATE_FAILED,
        FOTA_NOTE_TIMED_OUT,            /* result timeout (critical) */
        FOTA_NOTE_MODULE_RESET,         /* table-2 reset ordered */
        FOTA_NOTE_WINDOW_EXPIRED,       /* downloading window expired: keep waiting (warning) */
        FOTA_NOTE_OUT_OF_ORDER,         /* URC implied another phase than the current one */
        FOTA_NOTE_UNKNOWN_URC,          /* +QIND: "FOTA" line not understood: stay cautious */
        FOTA_NOTE_REPORTING_GAVE_UP,    /* re-registration did not complete in one window (warning) */
        FOTA_NOTE_PROGRESS,             /* progress changed (debug) */
        FOTA_NOTE_RESTORED,             /* state restored at start-up */
};

enum fota_signal {
        FOTA_SIGNAL_STARTED,            /* D-Bus UpgradeStarted */
        FOTA_SIGNAL_FINISHED,           /* D-Bus UpgradeFinished(result, code) */
};

#define FOTA_OUTPUT_MAX 8

/* Each note and signal carries the state of its own step (a URC may finish one upgrade and
 * start the next: the journal and UpgradeFinished must not show the final state for both). */
struct fota_output {
        unsigned actions;               /* enum fota_action bits */
        enum fota_phase old_phase, new_phase;
        size_t n_notes;
        enum fota_note notes[FOTA_OUTPUT_MAX];
        struct fota_state note_state[FOTA_OUTPUT_MAX];  /* the state right after the note's step */
        enum fota_phase note_from[FOTA_OUTPUT_MAX];     /* PHASE_CHANGED: the phase it left */
        size_t n_signals;               /* in emission order */
        enum fota_signal signals[FOTA_OUTPUT_MAX];
        enum fota_result signal_result[FOTA_OUTPUT_MAX]; /* FINISHED: that upgrade's result... */
        int signal_code[FOTA_OUTPUT_MAX];               /* ...and code */
};

/* Start idle with no result. */
void fota_init(struct fota *f, const struct fota_config *cfg);

/* Start from a saved state. same_boot: the saved boot id is this boot's (deadlines still valid,
 * but never later than a full window from now); otherwise every deadline starts afresh from now.
 * The window number is kept: a table-2 reset already done is never done again. A saved
 * reporting phase asks to re-register. */
void fota_restore(struct fota *f, const struct fota_config *cfg, const struct fota_state *saved,
                  bool same_boot, uint64_t now, struct fota_output *out);

/* The state file was corrupt: start gated as downloading with a fresh window (never idle). */
void fota_start_cautious(struct fota *f, const struct fota_config *cfg, uint64_t now,
                         struct fota_output *out);

/* A +QIND: "FOTA" URC arrived. */
void fota_on_urc(struct fota *f, const struct fota_urc *u, uint64_t now, struct fota_output *out);

/* Re-registration after END completed (CONNECT OK and data format set). */
void fota_on_reregistered(struct fota *f, uint64_t now, struct fota_output *out);

/* Time passed: handle a reached deadline. */
void fota_on_tick(struct fota *f, uint64_t now, struct fota_output *out);

/* Earliest deadline, UINT64_MAX when none (idle). */
uint64_t fota_next_deadline(const struct fota *f);

/* The AT gate a phase implies: open when idle, re-registration only in reporting, closed while
 * downloading, downloaded or updating (guide 4.2, table 1). */
enum at_gate fota_gate(enum fota_phase p);

/* Is the module under upgrade protection (phase not idle)? */
bool fota_active(const struct fota *f);

const char *fota_phase_to_string(enum fota_phase p);
const char *fota_result_to_string(enum fota_result r);
const char *fota_note_to_string(enum fota_note n);
/* Parse names back (state file); -EINVAL if unknown. */
int fota_phase_from_string(const char *s, enum fota_phase *out);
int fota_result_from_string(const char *s, enum fota_result *out);
