/* fuzz-fota.c - the DFOTA state machine driven by random event sequences, its invariants checked
 * after every step with abort().
 *
 * Input: the configuration (timeout_s 1..7200, download_max_s timeout_s..10 x timeout_s), a start
 * time, then events, each an opcode byte and its arguments: a +QIND: "FOTA" URC of any kind with
 * random codes/progress (in and out of the decoder's ranges), a re-registration, time passing
 * (to, just before or after the next deadline, or by a random amount; with or without a tick), a
 * daemon restart from the last persisted state file (same boot or a new boot), or a restart from
 * a random saved state (through store_encode/store_decode as the daemon reads it; a state the
 * decoder refuses starts cautious, as the daemon does).
 *
 * After every step:
 * - idle has no deadline at all; every other phase has one (downloading also its limit); after a
 *   tick the next deadline lies in the future; a same-boot restart keeps the saved deadlines,
 *   except one further than a window (download limit) from now, which comes in to that;
 * - FOTA_ACTION_RESET only from a tick in downloaded/updating (never downloading, idle or
 *   reporting), at most once per window sequence, leaving window 2;
 * - FOTA_ACTION_REREGISTER exactly on entering reporting, and on restoring reporting;
 * - UpgradeStarted/UpgradeFinished alternate (a FINISHED alone only for a result decided while
 *   idle) and "an upgrade is open" always equals "phase not idle";
 * - progress <= 100; every change of recovery state (all but progress) is persisted, and every
 *   state encodes and decodes back;
 * - with the phase mapped to the gate as src/manager.c does: downloading/downloaded/updating let
 *   nothing through but a table-2 reset, reporting only init/identity/registration (and a table-2
 *   reset), idle everything; a reset action and a re-registration find their gate open. */
#include "at-cmd.h"
#include "fota.h"
#include "fuzz.h"
#include "store.h"

#define SEC(s) ((uint64_t) (s) * 1000000ULL)
#define NOW_MAX (UINT64_MAX / 4)

static const char *const boot_ids[2] = {
        "0f6a1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "9e8d7c6b-5a49-4837-a625-140f0e0d0c0b",
};

enum step { STEP_URC, STEP_TICK, STEP_REREG, STEP_RESTORE, STEP_CAUTIOUS };

struct model {
        struct fota f;
        struct fota_config cfg;
        uint64_t now;
        unsigned boot;                  /* index into boot_ids */
        bool have_file;
        char file[4096];                /* the state file: what the last PERSIST wrote */
        size_t file_len;
        uint64_t saved_now;             /* when the state file was written */
        bool open;                      /* UpgradeStarted seen, UpgradeFinished not yet */
        unsigned resets;                /* table-2 resets in the current window sequence */
        struct fota_urc urc;            /* the URC of a STEP_URC */
};

static bool state_equal(const struct fota_state *a, const struct fota_state *b)
{
        return a->phase == b->phase && a->window == b->window && a->window_expired == b->window_expired &&
               a->deadline_usec == b->deadline_usec && a->download_deadline_usec == b->download_deadline_usec &&
               a->progress == b->progress && a->pending_result == b->pending_result &&
               a->pending_code == b->pending_code && a->last_result == b->last_result &&
               a->last_code == b->last_code;
}

/* What a restart recovers from: everything but progress, which is saved only with the next such
 * change (fota.h, FOTA_ACTION_PERSIST). */
static bool recovery_equal(const struct fota_state *a, const struct fota_state *b)
{
        struct fota_state x = *a;

        x.progress = b->progress;
        return state_equal(&x, b);
}

static bool has_note(const struct fota_output *out, enum fota_note n)
{
        for (size_t i = 0; i < out->n_notes; i++)
                if (out->notes[i] == n)
                        return true;
        return false;
}

static void check_gate(enum fota_phase phase)
{
        enum at_gate g = fota_gate(phase);

        for (unsigned c = 0; c < _AT_CMD_MAX; c++) {
                const struct at_cmd_spec *spec = at_cmd_spec((enum at_cmd) c);
                bool plain = at_gate_allows(g, spec->cls, false);
                bool t2 = spec->cls == AT_CLASS_RESET && at_gate_allows(g, spec->cls, true);

                switch (g) {
                case AT_GATE_OPEN:
                        fuzz_check(plain, "idle refuses %s", spec->prefix);
                        break;
                case AT_GATE_REPORTING:
                        fuzz_check(plain == (spec->cls == AT_CLASS_INIT || spec->cls == AT_CLASS_IDENTITY ||
                                             spec->cls == AT_CLASS_REGISTRATION),
                                   "reporting: %s %s", spec->prefix, plain ? "allowed" : "refused");
                        fuzz_check(spec->cls != AT_CLASS_RESET || t2, "reporting refuses a table-2 reset");
                        break;
                case AT_GATE_CLOSED:
                        fuzz_check(!plain, "%s: %s allowed", fota_phase_to_string(phase), spec->prefix);
                        fuzz_check(spec->cls != AT_CLASS_RESET || t2, "%s refuses a table-2 reset",
                                   fota_phase_to_string(phase));
                        break;
                }
        }
}

/* The daemon persists on PERSIST; every state must be one the state file can hold. */
static void persist(struct model *m)
{
        struct store_record rec = { .st = m->f.st, .saved_realtime_usec = 1 };
        struct store_record back;
        char why[128];
        int n;

        memcpy(rec.boot_id, boot_ids[m->boot], 37);
        n = store_encode(&rec, m->file, sizeof(m->file));
        fuzz_check(n > 0, "state of phase %s does not encode: %d", fota_phase_to_string(m->f.st.phase), n);
        fuzz_check(store_decode(m->file, (size_t) n, &back, why, sizeof(why)) == 0,
                   "persisted state does not load: %s", why);
        fuzz_check(state_equal(&back.st, &m->f.st), "persisted state loads differently");
        m->file_len = (size_t) n;
        m->have_file = true;
        m->saved_now = m->now;
}

static void check_step(struct model *m, enum step step, const struct fota_state *before,
                       const struct fota_output *out)
{
        const struct fota_state *st = &m->f.st;
        uint64_t next = fota_next_deadline(&m->f);
        bool reset = out->actions & FOTA_ACTION_RESET;
        bool rereg = out->actions & FOTA_ACTION_REREGISTER;
        bool event = step == STEP_URC || step == STEP_TICK || step == STEP_REREG;
        bool entered_reporting;

        /* A reset ends a window sequence (window 2); arming window 1 again starts a new one. */
        if (event && before->window != 2)
                m->resets = 0;

        fuzz_check((unsigned) st->phase <= FOTA_PHASE_REPORTING, "phase %d", (int) st->phase);
        fuzz_check(out->new_phase == st->phase, "new_phase %d, phase %d", (int) out->new_phase, (int) st->phase);
        if (event)
                fuzz_check(out->old_phase == before->phase, "old_phase");
        fuzz_check(out->n_notes <= FOTA_OUTPUT_MAX && out->n_signals <= FOTA_OUTPUT_MAX, "output overflow");
        fuzz_check(st->progress <= 100, "progress %u", st->progress);
        fuzz_check(st->window <= 2, "window %u", st->window);

        /* Deadlines. */
        if (st->phase == FOTA_PHASE_IDLE) {
                fuzz_check(st->deadline_usec == 0 && st->download_deadline_usec == 0 && st->window == 0 &&
                           !st->window_expired && next == UINT64_MAX, "idle with a deadline or window");
        } else {
                fuzz_check(st->deadline_usec != 0 && next != UINT64_MAX, "%s without a deadline",
                           fota_phase_to_string(st->phase));
                fuzz_check(st->phase != FOTA_PHASE_DOWNLOADING || st->download_deadline_usec != 0,
                           "downloading without its limit");
                fuzz_check(next <= st->deadline_usec, "next deadline after the window");
        }
        if (step == STEP_TICK)
                fuzz_check(next > m->now, "a tick left a deadline due (%llu <= %llu)",
                           (unsigned long long) next, (unsigned long long) m->now);

        /* Table-2 reset. */
        fuzz_check(reset == has_note(out, FOTA_NOTE_MODULE_RESET), "reset without its note or vice versa");
        if (reset) {
                fuzz_check(step == STEP_TICK, "reset outside a tick");
                fuzz_check(before->phase == FOTA_PHASE_DOWNLOADED || before->phase == FOTA_PHASE_UPDATING,
                           "reset ordered in %s", fota_phase_to_string(before->phase));
                fuzz_check(st->phase == before->phase && st->window == 2, "reset did not open window 2");
                fuzz_check(m->resets == 0, "second reset in one window sequence");
                fuzz_check(at_gate_allows(fota_gate(st->phase), AT_CLASS_RESET, true), "gate refuses the reset");
                m->resets++;
        }

        /* Re-registration exactly on entering reporting (or restoring it). */
        entered_reporting = st->phase == FOTA_PHASE_REPORTING &&
                ((step == STEP_URC && before->phase != FOTA_PHASE_REPORTING) || step == STEP_RESTORE);
        fuzz_check(rereg == entered_reporting, "reregister %d, entered reporting %d (step %d, %s -> %s)",
                   rereg, entered_reporting, (int) step, fota_phase_to_string(before->phase),
                   fota_phase_to_string(st->phase));
        if (rereg)
                for (enum at_cmd_class c = AT_CLASS_INIT; c <= AT_CLASS_REGISTRATION; c++)
                        fuzz_check(at_gate_allows(fota_gate(st->phase), c, false), "gate refuses re-registration");

        /* Signals. */
        if (!event) {
                fuzz_check(out->n_signals == 0, "signals from a restore");
                m->open = st->phase != FOTA_PHASE_IDLE;
        }
        for (size_t i = 0; i < out->n_signals; i++) {
                if (out->signals[i] == FOTA_SIGNAL_STARTED) {
                        fuzz_check(!m->open, "UpgradeStarted twice");
                        m->open = true;
                        m->resets = 0;
                } else {
                        fuzz_check(out->signals[i] == FOTA_SIGNAL_FINISHED, "signal %d", (int) out->signals[i]);
                        /* Alone, only for a failed download reported while idle (also right after
                         * a URC that closed the reported upgrade): fota.c finish(). */
                        fuzz_check(m->open || (step == STEP_URC && i + 1 == out->n_signals &&
                                               (m->urc.kind == FOTA_URC_COAPEND || m->urc.kind == FOTA_URC_HTTPEND) &&
                                               m->urc.code > 0),
                                   "UpgradeFinished without an upgrade");
                        m->open = false;
                        m->resets = 0;
                }
        }
        fuzz_check(m->open == (st->phase != FOTA_PHASE_IDLE), "signals say %s, phase %s",
                   m->open ? "open" : "closed", fota_phase_to_string(st->phase));

        /* Persistence. */
        if (event)
                fuzz_check(recovery_equal(before, st) || (out->actions & FOTA_ACTION_PERSIST),
                           "recovery state changed without PERSIST");
        if (out->actions & FOTA_ACTION_PERSIST)
                persist(m);

        check_gate(st->phase);
}

static uint64_t advance(uint64_t now, uint64_t by)
{
        return by > NOW_MAX - now ? NOW_MAX : now + by;
}

static int pick_int(struct fuzz_input *in, bool code)
{
        uint8_t b = fuzz_u8(in);

        switch (b % 4) {
        case 0:
                return -1;
        case 1:
                return code ? 0 : (b >> 2) % 101;
        case 2:
                return code ? 1 + (b >> 2) : 100;
        default:
                return (int) fuzz_u32(in);
        }
}

static uint64_t pick_time(struct fuzz_input *in, uint64_t now)
{
        uint8_t b = fuzz_u8(in);
        uint64_t d = SEC(fuzz_u16(in));

        switch (b % 4) {
        case 0:
                return 0;
        case 1:
                return advance(now, d);
        case 2:
                return now > d ? now - d : 1;
        default:
                return ((uint64_t) fuzz_u32(in) << 32 | fuzz_u32(in)) % NOW_MAX + 1;
        }
}

/* Restart the daemon from the state file, or (no file) idle, as src/manager.c restore_fota(). */
static void restart(struct model *m, struct fuzz_input *in)
{
        uint8_t b = fuzz_u8(in);
        struct fota_output out;
        struct store_record rec;
        struct fota_state saved;
        char why[128];
        bool same_boot;

        if (b & 1) {
                /* A new boot: CLOCK_BOOTTIME starts again near zero. With two ids, the boot after
                 * next has the file's id again: a "same boot" whose clock went back. */
                m->boot ^= 1;
                m->now = SEC(1 + (b >> 1));
        }
        if (!m->have_file) {
                fota_init(&m->f, &m->cfg);
                m->open = false;
                m->resets = 0;
                return;
        }
        fuzz_check(store_decode(m->file, m->file_len, &rec, why, sizeof(why)) == 0, "own state file: %s", why);
        saved = rec.st;
        /* The file may be from an earlier boot even on a "same boot" restart. */
        same_boot = strcmp(rec.boot_id, boot_ids[m->boot]) == 0;
        fota_restore(&m->f, &m->cfg, &rec.st, same_boot, m->now, &out);
        fuzz_check(m->f.st.phase == saved.phase && m->f.st.progress == saved.progress &&
                   m->f.st.last_result == saved.last_result && m->f.st.last_code == saved.last_code,
                   "restart lost the state");
        /* Same boot: the saved deadlines stand, except one further than a window (download limit)
         * from now, which fota_restore brings in to that. Within a real boot that cannot happen
         * (the config is the same, the clock only goes forward), but here a "new boot" toggles
         * back to the file's boot id with CLOCK_BOOTTIME started again: the clock oddity the clamp
         * is for (fuzz/regressions/fota/same-boot-id-clock-went-back). */
        if (same_boot && saved.phase != FOTA_PHASE_IDLE) {
                /* now <= NOW_MAX: these sums do not overflow (fota.c saturates them anyway). */
                uint64_t window = m->now + m->cfg.timeout_usec;
                uint64_t limit = m->now + m->cfg.download_max_usec;
                uint64_t want = saved.deadline_usec == 0 || saved.deadline_usec > window ? window :
                                saved.deadline_usec;

                fuzz_check(m->f.st.deadline_usec == want,
                           "same boot restart: deadline %llu -> %llu, not %llu (now %llu, window %llu)",
                           (unsigned long long) saved.deadline_usec, (unsigned long long) m->f.st.deadline_usec,
                           (unsigned long long) want, (unsigned long long) m->now,
                           (unsigned long long) m->cfg.timeout_usec);
                fuzz_check(m->now < m->saved_now || saved.deadline_usec <= window,
                           "a deadline saved earlier in this boot lies further than a window ahead");
                if (saved.deadline_usec != 0)
                        fuzz_check(m->f.st.window_expired == saved.window_expired,
                                   "same boot restart changed window_expired");
                if (saved.phase == FOTA_PHASE_DOWNLOADING) {
                        want = saved.download_deadline_usec == 0 || saved.download_deadline_usec > limit ? limit :
                               saved.download_deadline_usec;
                        fuzz_check(m->f.st.download_deadline_usec == want,
                                   "same boot restart moved the download limit");
                }
        }
        m->resets = (same_boot && (saved.phase == FOTA_PHASE_DOWNLOADED || saved.phase == FOTA_PHASE_UPDATING) &&
                     saved.window == 2) ? 1 : 0;
        check_step(m, STEP_RESTORE, &saved, &out);
}

/* Restart from an arbitrary saved state, as far as the state file lets one through. */
static void restore_random(struct model *m, struct fuzz_input *in)
{
        struct store_record rec = { .saved_realtime_usec = 1 };
        struct store_record back;
        struct fota_output out;
        struct fota_state before;
        char buf[4096], why[128];
        bool same_boot = fuzz_u8(in) & 1;
        int n;

        rec.st.phase = (enum fota_phase) (fuzz_u8(in) % 5);
        rec.st.window = fuzz_u8(in) % 3;
        rec.st.window_expired = fuzz_u8(in) & 1;
        rec.st.deadline_usec = pick_time(in, m->now);
        rec.st.download_deadline_usec = pick_time(in, m->now);
        rec.st.progress = fuzz_u8(in) % 102;
        rec.st.pending_result = (enum fota_result) (fuzz_u8(in) % 5);
        rec.st.pending_code = pick_int(in, true);
        rec.st.last_result = (enum fota_result) (fuzz_u8(in) % 5);
        rec.st.last_code = pick_int(in, true);
        if (!same_boot) {
                m->boot ^= 1;
                m->now = SEC(1 + fuzz_u8(in));
        }
        memcpy(rec.boot_id, boot_ids[same_boot ? m->boot : m->boot ^ 1], 37);

        n = store_encode(&rec, buf, sizeof(buf));
        if (n < 0 || store_decode(buf, (size_t) n, &back, why, sizeof(why)) < 0) {
                /* Corrupt: moved aside, start in upgrade protection. */
                before = m->f.st;
                fota_start_cautious(&m->f, &m->cfg, m->now, &out);
                fuzz_check(m->f.st.phase == FOTA_PHASE_DOWNLOADING, "cautious start is not gated");
                m->resets = 0;
                check_step(m, STEP_CAUTIOUS, &before, &out);
                return;
        }
        fota_restore(&m->f, &m->cfg, &back.st, same_boot, m->now, &out);
        fuzz_check(m->f.st.phase == back.st.phase, "restore changed the phase");
        m->resets = (same_boot && (back.st.phase == FOTA_PHASE_DOWNLOADED || back.st.phase == FOTA_PHASE_UPDATING) &&
                     back.st.window == 2) ? 1 : 0;
        check_step(m, STEP_RESTORE, &back.st, &out);
}

FUZZ_TARGET(fota)
{
        struct fuzz_input in = { data, size };
        struct model *m = calloc(1, sizeof(*m));
        unsigned timeout_s, download_max_s;
        unsigned steps = 0;

        if (!m)
                abort();
        timeout_s = 1 + fuzz_u16(&in) % 7200;
        download_max_s = timeout_s + fuzz_u16(&in) % (9 * timeout_s + 1);
        m->cfg.timeout_usec = SEC(timeout_s);
        m->cfg.download_max_usec = SEC(download_max_s);
        m->now = SEC(1 + fuzz_u8(&in));
        fota_init(&m->f, &m->cfg);

        while (in.n > 0 && steps++ < 4096) {
                uint8_t op = fuzz_u8(&in);
                struct fota_state before = m->f.st;
                struct fota_output out;

                switch (op % 8) {
                case 0: case 1: case 2: case 3: {
                        struct fota_urc u;

                        u.kind = (enum fota_urc_kind) (fuzz_u8(&in) % (FOTA_URC_UNKNOWN + 1));
                        u.code = pick_int(&in, true);
                        u.progress = pick_int(&in, false);
                        m->now = advance(m->now, SEC(op >> 3));
                        m->urc = u;
                        fota_on_urc(&m->f, &u, m->now, &out);
                        check_step(m, STEP_URC, &before, &out);
                        break;
                }
                case 4: {
                        uint8_t b = fuzz_u8(&in);
                        uint64_t next = fota_next_deadline(&m->f);

                        switch ((b & 0x7f) % 6) {
                        case 0:
                                m->now = advance(m->now, SEC(fuzz_u8(&in)));
                                break;
                        case 1:
                                if (next != UINT64_MAX && next > m->now)
                                        m->now = next > NOW_MAX ? NOW_MAX : next;
                                break;
                        case 2:
                                if (next != UINT64_MAX && next - 1 > m->now)
                                        m->now = next - 1 > NOW_MAX ? NOW_MAX : next - 1;
                                break;
                        case 3:
                                if (next != UINT64_MAX && next > m->now)
                                        m->now = advance(next > NOW_MAX ? NOW_MAX : next, SEC(fuzz_u16(&in)));
                                break;
                        case 4:
                                m->now = advance(m->now, fuzz_u32(&in));
                                break;
                        default:
                                m->now = advance(m->now, SEC(fuzz_u16(&in)) * 16);
                                break;
                        }
                        if (b & 0x80)
                                break;          /* time passes, the timer has not fired yet */
                        fota_on_tick(&m->f, m->now, &out);
                        check_step(m, STEP_TICK, &before, &out);
                        break;
                }
                case 5:
                        m->now = advance(m->now, SEC(op >> 3));
                        fota_on_reregistered(&m->f, m->now, &out);
                        check_step(m, STEP_REREG, &before, &out);
                        break;
                case 6:
                        restart(m, &in);
                        break;
                default:
                        restore_random(m, &in);
                        break;
                }
        }
        free(m);
        return 0;
}
