/* fota.c - the DFOTA state machine: +QIND: "FOTA" URCs, re-registration and deadlines in,
 * phase changes, actions, notes and signals out (guide 4.1-4.2, table 2). Pure: no I/O, no clock. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fota.h"

/* A tick never runs more steps than the longest table-2 sequence (reset, then give up); every
 * re-arm is "now + timeout", so a second step is only due with a degenerate zero timeout. */
#define FOTA_TICK_STEPS_MAX 4

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Everything a restart depends on: all fields but progress (see FOTA_ACTION_PERSIST). Field by
 * field: memcmp would also compare padding. A new field of struct fota_state belongs here unless
 * losing its latest value in a crash is harmless. */
static bool recovery_equal(const struct fota_state *a, const struct fota_state *b)
{
        return a->phase == b->phase &&
               a->window == b->window &&
               a->window_expired == b->window_expired &&
               a->deadline_usec == b->deadline_usec &&
               a->download_deadline_usec == b->download_deadline_usec &&
               a->pending_result == b->pending_result &&
               a->pending_code == b->pending_code &&
               a->last_result == b->last_result &&
               a->last_code == b->last_code;
}

static void output_begin(const struct fota *f, struct fota_output *out)
{
        memset(out, 0, sizeof(*out));
        out->old_phase = f->st.phase;
        out->new_phase = f->st.phase;
}

/* Record a note with the state as it is at this step. */
static void push_note_from(const struct fota *f, struct fota_output *out, enum fota_note n, enum fota_phase from)
{
        /* The worst case (a URC that finishes a reported upgrade and starts another) needs 6. */
        assert(out->n_notes < FOTA_OUTPUT_MAX);
        if (out->n_notes >= FOTA_OUTPUT_MAX)
                return;
        out->notes[out->n_notes] = n;
        out->note_state[out->n_notes] = f->st;
        out->note_from[out->n_notes] = from;
        out->n_notes++;
}

static void push_note(const struct fota *f, struct fota_output *out, enum fota_note n)
{
        push_note_from(f, out, n, f->st.phase);
}

static void push_signal(const struct fota *f, struct fota_output *out, enum fota_signal s)
{
        assert(out->n_signals < FOTA_OUTPUT_MAX);
        if (out->n_signals >= FOTA_OUTPUT_MAX)
                return;
        out->signals[out->n_signals] = s;
        out->signal_result[out->n_signals] = f->st.last_result;
        out->signal_code[out->n_signals] = f->st.last_code;
        out->n_signals++;
}

/* PERSIST when anything recovery depends on changed; a step that only moves progress asks for
 * none (progress reaches the file with the next persisted change). PROGRESS when it moved. */
static void output_end(const struct fota *f, const struct fota_state *before, struct fota_output *out)
{
        if (f->st.progress != before->progress)
                push_note(f, out, FOTA_NOTE_PROGRESS);
        if (!recovery_equal(&f->st, before))
                out->actions |= FOTA_ACTION_PERSIST;
        out->new_phase = f->st.phase;
}

/* Change the phase; leaving idle is a new upgrade (one STARTED per upgrade, noted in the phase
 * it enters). */
static void set_phase(struct fota *f, enum fota_phase p, struct fota_output *out)
{
        enum fota_phase from = f->st.phase;

        if (from == p)
                return;
        f->st.phase = p;
        if (from == FOTA_PHASE_IDLE) {
                push_note(f, out, FOTA_NOTE_UPGRADE_STARTED);
                push_signal(f, out, FOTA_SIGNAL_STARTED);
        }
        push_note_from(f, out, FOTA_NOTE_PHASE_CHANGED, from);
}

static enum fota_note result_note(enum fota_result r, bool *has)
{
        *has = true;
        switch (r) {
        case FOTA_RESULT_SUCCESS:
                return FOTA_NOTE_FINISHED_OK;
        case FOTA_RESULT_DOWNLOAD_FAILED:
                return FOTA_NOTE_DOWNLOAD_FAILED;
        case FOTA_RESULT_UPDATE_FAILED:
                return FOTA_NOTE_UPDATE_FAILED;
        case FOTA_RESULT_TIMEOUT:
                return FOTA_NOTE_TIMED_OUT;
        case FOTA_RESULT_NONE:
                break;
        }
        *has = false;
        return FOTA_NOTE_PHASE_CHANGED;
}

/* Back to idle with the pending result: LastResult changes first, then UpgradeFinished (the
 * D-Bus signal comes "after LastResult has changed"). Also used for a result decided while idle. */
static void finish(struct fota *f, enum fota_result r, int code, struct fota_output *out)
{
        bool has;
        enum fota_note n;

        set_phase(f, FOTA_PHASE_IDLE, out);
        f->st.window = 0;
        f->st.window_expired = false;
        f->st.deadline_usec = 0;
        f->st.download_deadline_usec = 0;
        f->st.pending_result = FOTA_RESULT_NONE;
        f->st.pending_code = 0;
        f->st.last_result = r;
        f->st.last_code = code;
        n = result_note(r, &has);
        if (has)
                push_note(f, out, n);
        push_signal(f, out, FOTA_SIGNAL_FINISHED);
}

/* The phase is about to leave idle: a new upgrade starts with no progress and no result
 * (set_phase notes it). */
static void begin_upgrade(struct fota *f, struct fota_output *out)
{
        (void) out;
        if (f->st.phase != FOTA_PHASE_IDLE)
                return;
        f->st.window = 0;
        f->st.progress = 0;
        f->st.pending_result = FOTA_RESULT_NONE;
        f->st.pending_code = 0;
}

/* Table 2 row 1: one window of timeout from COAPSTART, and a hard limit of download_max. The
 * window number only grows within an upgrade: a COAPSTART after the table-2 reset (the module
 * downloads again) stays in window 2, so that reset is never ordered twice. */
static void arm_download(struct fota *f, uint64_t now)
{
        if (f->st.window < 2)
                f->st.window = 1;
        f->st.window_expired = false;
        f->st.deadline_usec = add_sat(now, f->cfg.timeout_usec);
        f->st.download_deadline_usec = add_sat(now, f->cfg.download_max_usec);
}

/* Enter downloaded/updating. The first window runs on from COAPSTART (not re-armed at COAPEND,0
 * or START), unless it already expired while downloading: then the module is late but alive,
 * and a new first window starts now so that its expiry orders the table-2 reset. */
static void arm_flash(struct fota *f, uint64_t now)
{
        switch (f->st.phase) {
        case FOTA_PHASE_IDLE:
        case FOTA_PHASE_REPORTING:
                f->st.window = 1;
                f->st.deadline_usec = add_sat(now, f->cfg.timeout_usec);
                break;
        case FOTA_PHASE_DOWNLOADING:
                if (f->st.window_expired || f->st.deadline_usec == 0) {
                        if (f->st.window < 2)
                                f->st.window = 1;
                        f->st.deadline_usec = add_sat(now, f->cfg.timeout_usec);
                }
                break;
        case FOTA_PHASE_DOWNLOADED:
        case FOTA_PHASE_UPDATING:
                break;
        }
        f->st.window_expired = false;
        f->st.download_deadline_usec = 0;
}

/* END,x: re-register so the platform reads the result (guide 4.1.3), within one timeout. */
static void enter_reporting(struct fota *f, enum fota_result r, int code, uint64_t now,
                            struct fota_output *out)
{
        begin_upgrade(f, out);
        f->st.window = 1;
        f->st.window_expired = false;
        f->st.deadline_usec = add_sat(now, f->cfg.timeout_usec);
        f->st.download_deadline_usec = 0;
        f->st.pending_result = r;
        f->st.pending_code = code;
        if (r == FOTA_RESULT_SUCCESS)
                f->st.progress = 100;
        set_phase(f, FOTA_PHASE_REPORTING, out);
        out->actions |= FOTA_ACTION_REREGISTER;
}

static void set_progress(struct fota *f, int percent)
{
        if (percent < 0)
                return;         /* absent: keep what we had */
        f->st.progress = percent > 100 ? 100 : (unsigned) percent;
}

void fota_init(struct fota *f, const struct fota_config *cfg)
{
        memset(f, 0, sizeof(*f));
        f->cfg = *cfg;
        f->st.phase = FOTA_PHASE_IDLE;
        f->st.pending_result = FOTA_RESULT_NONE;
        f->st.last_result = FOTA_RESULT_NONE;
}

void fota_restore(struct fota *f, const struct fota_config *cfg, const struct fota_state *saved,
                  bool same_boot, uint64_t now, struct fota_output *out)
{
        struct fota_state before = *saved;

        fota_init(f, cfg);
        f->st = *saved;
        output_begin(f, out);

        if (f->st.phase == FOTA_PHASE_IDLE) {
                /* Keep the invariant "idle => no deadline" without calling it a change. */
                f->st.window = 0;
                f->st.window_expired = false;
                f->st.deadline_usec = 0;
                f->st.download_deadline_usec = 0;
                out->new_phase = f->st.phase;
                return;
        }

        push_note(f, out, FOTA_NOTE_RESTORED);
        /* CLOCK_BOOTTIME values of another boot mean nothing now: start one fresh window, keeping
         * progress, the pending result and the window number (a table-2 reset already ordered
         * stays done: window 2 times out, it never resets again). A deadline that is already past
         * is the next tick's; one further away than a window (a file from a clock that jumped, or
         * a shorter timeout_s now) is brought in to one window from now. */
        if (f->st.window != 2)
                f->st.window = 1;
        if (!same_boot || f->st.deadline_usec == 0) {
                f->st.window_expired = false;
                f->st.deadline_usec = add_sat(now, f->cfg.timeout_usec);
                f->st.download_deadline_usec = 0;
        } else if (f->st.deadline_usec > add_sat(now, f->cfg.timeout_usec)) {
                f->st.deadline_usec = add_sat(now, f->cfg.timeout_usec);
        }
        if (f->st.phase == FOTA_PHASE_DOWNLOADING) {
                if (!same_boot || f->st.download_deadline_usec == 0 ||
                    f->st.download_deadline_usec > add_sat(now, f->cfg.download_max_usec))
                        f->st.download_deadline_usec = add_sat(now, f->cfg.download_max_usec);
        } else {
                f->st.download_deadline_usec = 0;
        }
        /* END already came before the restart and will not come again: register now. */
        if (f->st.phase == FOTA_PHASE_REPORTING)
                out->actions |= FOTA_ACTION_REREGISTER;
        output_end(f, &before, out);
}

void fota_start_cautious(struct fota *f, const struct fota_config *cfg, uint64_t now,
                         struct fota_output *out)
{
        fota_init(f, cfg);
        output_begin(f, out);
        /* Unknown state: the most cautious phase is downloading (gated, never reset). The last
         * result is unknown too, so it stays none. Like a restore, this emits no STARTED. */
        f->st.phase = FOTA_PHASE_DOWNLOADING;
        f->st.progress = 0;
        arm_download(f, now);
        push_note(f, out, FOTA_NOTE_RESTORED);
        out->old_phase = f->st.phase;
        out->new_phase = f->st.phase;
        out->actions |= FOTA_ACTION_PERSIST;
}

/* The on_* helpers move to the phase a URC implies; a URC whose normal predecessor is not the
 * current phase is noted OUT_OF_ORDER, a repeat of the current phase's own URC changes nothing. */
static void on_download_start(struct fota *f, bool in_order, uint64_t now, struct fota_output *out)
{
        if (f->st.phase == FOTA_PHASE_DOWNLOADING)
                return;         /* duplicate start: keep the running window and limit */
        if (!in_order)
                push_note(f, out, FOTA_NOTE_OUT_OF_ORDER);
        begin_upgrade(f, out);
        arm_download(f, now);
        set_phase(f, FOTA_PHASE_DOWNLOADING, out);
}

static void on_download_end(struct fota *f, int code, uint64_t now, struct fota_output *out)
{
        if (code > 0) {
                /* Guide 4.1.1: DOWNLOADING -> IDLE on a failed download; table 2: normal business. */
                if (f->st.phase != FOTA_PHASE_DOWNLOADING)
                        push_note(f, out, FOTA_NOTE_OUT_OF_ORDER);
                finish(f, FOTA_RESULT_DOWNLOAD_FAILED, code, out);
                return;
        }
        if (f->st.phase == FOTA_PHASE_DOWNLOADED)
                return;         /* duplicate */
        if (f->st.phase != FOTA_PHASE_DOWNLOADING)
                push_note(f, out, FOTA_NOTE_OUT_OF_ORDER);
        begin_upgrade(f, out);
        arm_flash(f, now);
        set_phase(f, FOTA_PHASE_DOWNLOADED, out);
}

static void on_update(struct fota *f, bool start, int percent, uint64_t now, struct fota_output *out)
{
        bool in_order = start ? f->st.phase == FOTA_PHASE_DOWNLOADED
                              : f->st.phase == FOTA_PHASE_UPDATING;

        if (f->st.phase != FOTA_PHASE_UPDATING) {
                if (!in_order)
                        push_note(f, out, FOTA_NOTE_OUT_OF_ORDER);
                begin_upgrade(f, out);
                arm_flash(f, now);
                set_phase(f, FOTA_PHASE_UPDATING, out);
        }
        set_progress(f, percent);
}

static void on_update_end(struct fota *f, int code, uint64_t now, struct fota_output *out)
{
        enum fota_result r = code == 0 ? FOTA_RESULT_SUCCESS : FOTA_RESULT_UPDATE_FAILED;

        if (f->st.phase == FOTA_PHASE_REPORTING) {
                /* Repeated END (the module rebooted again): its latest word is the result; the
                 * re-registration already under way and its deadline stay. */
                f->st.pending_result = r;
                f->st.pending_code = code;
                if (r == FOTA_RESULT_SUCCESS)
                        f->st.progress = 100;
                return;
        }
        if (f->st.phase != FOTA_PHASE_UPDATING)
                push_note(f, out, FOTA_NOTE_OUT_OF_ORDER);
        enter_reporting(f, r, code, now, out);
}

void fota_on_urc(struct fota *f, const struct fota_urc *u, uint64_t now, struct fota_output *out)
{
        struct fota_state before = f->st;
        enum fota_urc_kind kind = u->kind;

        output_begin(f, out);

        /* An end without its code says nothing about the outcome: stay cautious. */
        if ((kind == FOTA_URC_COAPEND || kind == FOTA_URC_HTTPEND || kind == FOTA_URC_END) &&
            u->code < 0)
                kind = FOTA_URC_UNKNOWN;

        /* While reporting, anything but END (or an unknown line) is the module starting another
         * upgrade: the reported one is over, with its result, before the new one is handled. A
         * failed download's end starts nothing: it only ends the reported one (one upgrade, one
         * UpgradeFinished, with its own result). */
        if (f->st.phase == FOTA_PHASE_REPORTING && kind != FOTA_URC_END && kind != FOTA_URC_UNKNOWN) {
                finish(f, f->st.pending_result, f->st.pending_code, out);
                if ((kind == FOTA_URC_COAPEND || kind == FOTA_URC_HTTPEND) && u->code > 0) {
                        push_note(f, out, FOTA_NOTE_OUT_OF_ORDER);
                        output_end(f, &before, out);
                        return;
                }
        }

        switch (kind) {
        case FOTA_URC_COAPSTART:
        case FOTA_URC_HTTPSTART:
                on_download_start(f, f->st.phase == FOTA_PHASE_IDLE, now, out);
                break;
        case FOTA_URC_DOWNLOADING:
                on_download_start(f, false, now, out);
                set_progress(f, u->progress);
                break;
        case FOTA_URC_COAPEND:
        case FOTA_URC_HTTPEND:
                on_download_end(f, u->code, now, out);
                break;
        case FOTA_URC_START:
                on_update(f, true, -1, now, out);
                break;
        case FOTA_URC_UPDATING:
                on_update(f, false, u->progress, now, out);
                break;
        case FOTA_URC_END:
                on_update_end(f, u->code, now, out);
                break;
        case FOTA_URC_UNKNOWN:
                /* Possibly a resumed upgrade we cannot name: gate, never reset, never ignore. */
                push_note(f, out, FOTA_NOTE_UNKNOWN_URC);
                if (f->st.phase == FOTA_PHASE_IDLE) {
                        begin_upgrade(f, out);
                        arm_download(f, now);
                        set_phase(f, FOTA_PHASE_DOWNLOADING, out);
                }
                break;
        }
        output_end(f, &before, out);
}

void fota_on_reregistered(struct fota *f, uint64_t now, struct fota_output *out)
{
        struct fota_state before = f->st;

        output_begin(f, out);
        /* Re-registration also happens outside an upgrade (module reboot, link loss). */
        if (f->st.phase == FOTA_PHASE_REPORTING)
                finish(f, f->st.pending_result, f->st.pending_code, out);
        output_end(f, &before, out);
}

/* Handle at most one reached deadline; false if none was due. */
static bool tick_once(struct fota *f, uint64_t now, struct fota_output *out)
{
        switch (f->st.phase) {
        case FOTA_PHASE_IDLE:
                return false;
        case FOTA_PHASE_DOWNLOADING:
                if (f->st.download_deadline_usec != 0 && now >= f->st.download_deadline_usec) {
                        /* Give up waiting for COAPEND; still no reset during a download. */
                        finish(f, FOTA_RESULT_TIMEOUT, 0, out);
                        return true;
                }
                if (now < f->st.deadline_usec)
                        return false;
                /* Table 2 row 1: keep the module powered until COAPEND,y; just warn. */
                push_note(f, out, FOTA_NOTE_WINDOW_EXPIRED);
                f->st.window_expired = true;
                f->st.deadline_usec = add_sat(now, f->cfg.timeout_usec);
                if (f->st.download_deadline_usec != 0 && f->st.deadline_usec > f->st.download_deadline_usec)
                        f->st.deadline_usec = f->st.download_deadline_usec;
                return true;
        case FOTA_PHASE_DOWNLOADED:
        case FOTA_PHASE_UPDATING:
                if (now < f->st.deadline_usec)
                        return false;
                if (f->st.window >= 2) {
                        /* Table 2 rows 2-3: "at most 35 minutes" after the reset. */
                        finish(f, FOTA_RESULT_TIMEOUT, 0, out);
                        return true;
                }
                /* Table 2 rows 2-3: reset the module, then keep it powered for one more window. */
                out->actions |= FOTA_ACTION_RESET;
                push_note(f, out, FOTA_NOTE_MODULE_RESET);
                f->st.window = 2;
                f->st.deadline_usec = add_sat(now, f->cfg.timeout_usec);
                return true;
        case FOTA_PHASE_REPORTING:
                if (now < f->st.deadline_usec)
                        return false;
                /* The upgrade's result stands even if the platform never heard it. */
                push_note(f, out, FOTA_NOTE_REPORTING_GAVE_UP);
                finish(f, f->st.pending_result, f->st.pending_code, out);
                return true;
        }
        return false;
}

void fota_on_tick(struct fota *f, uint64_t now, struct fota_output *out)
{
        struct fota_state before = f->st;

        output_begin(f, out);
        for (unsigned i = 0; i < FOTA_TICK_STEPS_MAX; i++)
                if (!tick_once(f, now, out))
                        break;
        output_end(f, &before, out);
}

uint64_t fota_next_deadline(const struct fota *f)
{
        uint64_t d = UINT64_MAX;

        if (f->st.phase == FOTA_PHASE_IDLE)
                return UINT64_MAX;
        if (f->st.deadline_usec != 0)
                d = f->st.deadline_usec;
        /* The download limit only matters while downloading; elsewhere it is stale. */
        if (f->st.phase == FOTA_PHASE_DOWNLOADING && f->st.download_deadline_usec != 0 &&
            f->st.download_deadline_usec < d)
                d = f->st.download_deadline_usec;
        return d;
}

bool fota_active(const struct fota *f)
{
        return f->st.phase != FOTA_PHASE_IDLE;
}

const char *fota_phase_to_string(enum fota_phase p)
{
        switch (p) {
        case FOTA_PHASE_IDLE:
                return "idle";
        case FOTA_PHASE_DOWNLOADING:
                return "downloading";
        case FOTA_PHASE_DOWNLOADED:
                return "downloaded";
        case FOTA_PHASE_UPDATING:
                return "updating";
        case FOTA_PHASE_REPORTING:
                return "reporting";
        }
        return "invalid";
}

const char *fota_result_to_string(enum fota_result r)
{
        switch (r) {
        case FOTA_RESULT_NONE:
                return "none";
        case FOTA_RESULT_SUCCESS:
                return "success";
        case FOTA_RESULT_DOWNLOAD_FAILED:
                return "download-failed";
        case FOTA_RESULT_UPDATE_FAILED:
                return "update-failed";
        case FOTA_RESULT_TIMEOUT:
                return "timeout";
        }
        return "invalid";
}

const char *fota_note_to_string(enum fota_note n)
{
        switch (n) {
        case FOTA_NOTE_UPGRADE_STARTED:
                return "upgrade-started";
        case FOTA_NOTE_PHASE_CHANGED:
                return "phase-changed";
        case FOTA_NOTE_FINISHED_OK:
                return "finished-ok";
        case FOTA_NOTE_DOWNLOAD_FAILED:
                return "download-failed";
        case FOTA_NOTE_UPDATE_FAILED:
                return "update-failed";
        case FOTA_NOTE_TIMED_OUT:
                return "timed-out";
        case FOTA_NOTE_MODULE_RESET:
                return "module-reset";
        case FOTA_NOTE_WINDOW_EXPIRED:
                return "window-expired";
        case FOTA_NOTE_OUT_OF_ORDER:
                return "out-of-order";
        case FOTA_NOTE_UNKNOWN_URC:
                return "unknown-urc";
        case FOTA_NOTE_REPORTING_GAVE_UP:
                return "reporting-gave-up";
        case FOTA_NOTE_PROGRESS:
                return "progress";
        case FOTA_NOTE_RESTORED:
                return "restored";
        }
        return "invalid";
}

int fota_phase_from_string(const char *s, enum fota_phase *out)
{
        for (unsigned i = 0; i < _FOTA_PHASE_MAX; i++)
                if (strcmp(s, fota_phase_to_string((enum fota_phase) i)) == 0) {
                        *out = (enum fota_phase) i;
                        return 0;
                }
        return -EINVAL;
}

int fota_result_from_string(const char *s, enum fota_result *out)
{
        for (unsigned i = 0; i <= FOTA_RESULT_TIMEOUT; i++)
                if (strcmp(s, fota_result_to_string((enum fota_result) i)) == 0) {
                        *out = (enum fota_result) i;
                        return 0;
                }
        return -EINVAL;
}

enum at_gate fota_gate(enum fota_phase p)
{
        switch (p) {
        case FOTA_PHASE_IDLE:           return AT_GATE_OPEN;
        case FOTA_PHASE_REPORTING:      return AT_GATE_REPORTING;
        case FOTA_PHASE_DOWNLOADING:
        case FOTA_PHASE_DOWNLOADED:
        case FOTA_PHASE_UPDATING:       return AT_GATE_CLOSED;
        }
        return AT_GATE_CLOSED;
}
