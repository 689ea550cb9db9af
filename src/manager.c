/* manager.c - start-up order, event routing and teardown. Every event (tty bytes, the deadline
 * timer, signals) is translated into a call on a core with the current CLOCK_BOOTTIME time; after
 * each one, the single deadline timer (CLOCK_BOOTTIME) is re-armed for the earliest deadline any
 * core reports. The DFOTA phase decides the gate; the channel holds it (its one owner) and the
 * modem and the session are told of every change. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "at-channel.h"
#include "bus.h"
#include "clock.h"
#include "counters.h"
#include "deadline-timer.h"
#include "delivery.h"
#include "fota-journal.h"
#include "fota.h"
#include "gpio.h"
#include "history.h"
#include "inhibit.h"
#include "log.h"
#include "lwm2m.h"
#include "manager.h"
#include "message-ids.h"
#include "modem.h"
#include "network.h"
#include "outbox-store.h"
#include "outbox.h"
#include "serial.h"
#include "service.h"
#include "store.h"

/* A CLOCK_BOOTTIME time last converted for display, and its wall-clock value. */
struct display_time {
        uint64_t boottime, realtime;
};

struct manager {
        struct config cfg;
        char *state_dir;
        char boot_id[STORE_BOOT_ID_MAX];

        struct event_base *base;
        struct deadline_timer *timer;
        struct event *ev_sigterm, *ev_sigint;

        struct gpio *gpio;
        struct serial *serial;
        struct at_channel *ch;
        struct modem *modem;
        struct lwm2m *lwm2m;
        struct network *network;
        struct delivery *delivery;      /* the outbox; NULL with [outbox] enabled = no */
        struct fota fota;
        struct history *history;        /* upgrades, kept in state_dir/history */
        struct counters counters;       /* kept in state_dir/counters */
        struct bus *bus;
        struct inhibit *inhibit;
        struct service *service;
        struct event *ev_start;
        int exit_error;                 /* negative errno that stopped the loop */
        bool unrecorded_protection;     /* gated by a cautious start that no history entry records */
        struct display_time deadline;   /* Fota1.Deadline */
        struct display_time reading;    /* Network1.Updated */
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

/* Arm the timer for the earliest deadline (UINT64_MAX: nothing to wait for, no wake-ups). */
static void schedule(struct manager *m)
{
        uint64_t d = at_channel_next_deadline(m->ch);
        int r;

        d = min_u64(d, modem_next_deadline(m->modem));
        d = min_u64(d, lwm2m_next_deadline(m->lwm2m));
        d = min_u64(d, fota_next_deadline(&m->fota));
        if (m->delivery) {
                /* The outbox counts in wall-clock time (its TTLs survive reboots); the timer runs
                 * on CLOCK_BOOTTIME: convert the distance. */
                uint64_t now_rt = clock_realtime_usec(), t = delivery_next_deadline(m->delivery, now_rt);

                if (t != UINT64_MAX)
                        d = min_u64(d, clock_boottime_usec() + (t > now_rt ? t - now_rt : 0));
        }
        r = deadline_timer_set(m->timer, d);
        if (r < 0) {
                /* Without a timer no deadline would ever pass: stop rather than hang (systemd restarts us). */
                log_errno(LOG_ERR, r, "Failed to arm the deadline timer (timerfd_settime)");
                m->exit_error = r;
                event_base_loopbreak(m->base);
        }
}

/* ---- the bus view ------------------------------------------------------------------------- */

static const char *state_string(const struct manager *m)
{
        if (fota_active(&m->fota))
                return "upgrading";
        switch (modem_get_state(m->modem)) {
        case MODEM_STATE_DISCONNECTED:
                return "disconnected";
        case MODEM_STATE_READY:
                return lwm2m_ready(m->lwm2m) ? "ready" : "registering";
        case MODEM_STATE_SYNCING:
        case MODEM_STATE_INITIALIZING:
        case MODEM_STATE_RESETTING:
        case MODEM_STATE_WAITING:
                return "initializing";
        }
        return "initializing";
}

/* Convert once per value (0 stays 0): converting on every event would make the wall-clock value
 * jitter by microseconds and emit a PropertiesChanged each time. */
static uint64_t display_realtime(struct display_time *t, uint64_t boottime)
{
        if (boottime == 0)
                return 0;
        if (boottime != t->boottime) {
                t->boottime = boottime;
                t->realtime = clock_boottime_to_realtime(boottime);
        }
        return t->realtime;
}

static uint64_t deadline_realtime(struct manager *m)
{
        uint64_t d = fota_next_deadline(&m->fota);

        return display_realtime(&m->deadline, d == UINT64_MAX ? 0 : d);
}

static void snapshot(struct manager *m, struct bus_snapshot *s)
{
        const struct modem_identity *id = modem_get_identity(m->modem);
        const struct network_status *ns = network_get(m->network);

        memset(s, 0, sizeof(*s));
        snprintf(s->state, sizeof(s->state), "%s", state_string(m));
        snprintf(s->manufacturer, sizeof(s->manufacturer), "%s", id->manufacturer);
        snprintf(s->model, sizeof(s->model), "%s", id->model);
        snprintf(s->revision, sizeof(s->revision), "%s", id->revision);
        snprintf(s->imei, sizeof(s->imei), "%s", id->imei);
        s->registered = lwm2m_registered(m->lwm2m);
        snprintf(s->server, sizeof(s->server), "%s:%u", m->cfg.server, m->cfg.port);
        snprintf(s->endpoint, sizeof(s->endpoint), "%s", lwm2m_endpoint(m->lwm2m));
        if (m->delivery) {
                s->queued = (uint32_t) outbox_count(delivery_outbox(m->delivery));
                s->queued_bytes = outbox_bytes(delivery_outbox(m->delivery));
        }
        snprintf(s->phase, sizeof(s->phase), "%s", fota_phase_to_string(m->fota.st.phase));
        s->progress = m->fota.st.progress;
        s->deadline = deadline_realtime(m);
        snprintf(s->last_result, sizeof(s->last_result), "%s", fota_result_to_string(m->fota.st.last_result));
        s->last_result_code = m->fota.st.last_code;
        snprintf(s->registration, sizeof(s->registration), "%s", network_registration_to_string(ns->registration));
        snprintf(s->tac, sizeof(s->tac), "%s", ns->tac);
        snprintf(s->cell_id, sizeof(s->cell_id), "%s", ns->cell_id);
        s->act = ns->act;
        s->rsrp = ns->rsrp;
        s->rsrq = ns->rsrq;
        s->sinr = ns->sinr;
        s->rssi = ns->rssi;
        s->coverage_class = ns->coverage_class;
        s->earfcn = ns->earfcn;
        s->pci = ns->pci;
        s->band = ns->band;
        s->updated = display_realtime(&m->reading, ns->updated);
}

static void sync_bus(struct manager *m)
{
        struct bus_snapshot s;

        if (!m->bus)
                return;
        snapshot(m, &s);
        bus_update(m->bus, &s);
}

static void update_status(struct manager *m)
{
        const char *state = state_string(m);
        char status[256];

        if (strcmp(state, "upgrading") == 0)
                snprintf(status, sizeof(status), "upgrading: %s %u%%%s", fota_phase_to_string(m->fota.st.phase),
                         m->fota.st.progress, inhibit_held(m->inhibit) ? ", holding shutdown/sleep locks" : "");
        else if (strcmp(state, "ready") == 0)
                snprintf(status, sizeof(status), "ready, registered to %s:%u", m->cfg.server, m->cfg.port);
        else if (strcmp(state, "registering") == 0)
                snprintf(status, sizeof(status), "registering to %s:%u", m->cfg.server, m->cfg.port);
        else if (strcmp(state, "disconnected") == 0)
                snprintf(status, sizeof(status), "waiting for the module's tty %.200s", m->cfg.device);
        else
                snprintf(status, sizeof(status), "initializing the module");
        service_status(m->service, status);
}

/* After every event: hold or release the host's power locks, let the outbox send (or expire)
 * what it may, publish what changed, then sleep until the next deadline. */
static void after_event(struct manager *m)
{
        inhibit_set(m->inhibit, fota_active(&m->fota));
        if (m->delivery)
                delivery_pump(m->delivery, strcmp(state_string(m), "ready") == 0, clock_realtime_usec(),
                              clock_boottime_usec());
        sync_bus(m);
        update_status(m);
        schedule(m);
}

/* ---- DFOTA ------------------------------------------------------------------------------- */

/* The phase decides the gate; the channel holds it, the modem and the session hear of every
 * change. A phase that left downloaded/updating also cancels a table-2 reset still waiting for
 * the module to fall silent (COAPSTART again: the module is downloading, keep it powered). */
static void apply_gate(struct manager *m, enum fota_phase old_phase, uint64_t now)
{
        enum fota_phase phase = m->fota.st.phase;
        enum at_gate old = at_channel_get_gate(m->ch), g = fota_gate(phase);

        if (phase != old_phase && phase != FOTA_PHASE_DOWNLOADED && phase != FOTA_PHASE_UPDATING)
                modem_drop_reset(m->modem, fota_phase_to_string(phase));
        if (!at_channel_set_gate(m->ch, g, now))
                return;
        log_info("Module access: %s", at_gate_to_string(g));
        modem_on_gate(m->modem, old, now);
        lwm2m_on_gate(m->lwm2m, old, now);
}

static void persist(struct manager *m)
{
        struct store_record rec = { .st = m->fota.st, .saved_realtime_usec = clock_realtime_usec() };
        int r;

        memcpy(rec.boot_id, m->boot_id, sizeof(rec.boot_id));
        r = store_save(m->state_dir, &rec);
        if (r < 0)
                log_errno(LOG_ERR, r, "Failed to save the DFOTA state in %s/%s (the upgrade protection still holds "
                          "in memory; check the directory's permissions and free space)", m->state_dir, STORE_FILE_NAME);
}

/* ---- upgrade history and counters --------------------------------------------------------- */

static void save_history(struct manager *m)
{
        int r = history_save(m->history, m->state_dir);

        if (r < 0)
                log_errno(LOG_ERR, r, "Failed to save the upgrade history in %s/%s (kept in memory until the next "
                          "try; check the directory's permissions and free space)", m->state_dir, HISTORY_FILE_NAME);
}

static void save_counters(struct manager *m)
{
        int r = counters_save(&m->counters, m->state_dir);

        if (r < 0)
                log_errno(LOG_ERR, r, "Failed to save the counters in %s/counters (kept in memory until the next try; "
                          "check the directory's permissions and free space)", m->state_dir);
}

static void count(struct manager *m, int id)
{
        if (id >= 0 && id < _COUNTER_MAX)
                m->counters.v[id]++;
}

/* An upgrade the history shows running is over. At a restart (saved_result) the restored DFOTA
 * state may know how it ended: bc26d saved the state, then died before it saved the history.
 * Otherwise (a new upgrade starts while the last one never finished) it ended unseen. */
static void end_unseen_upgrade(struct manager *m, uint64_t realtime, bool saved_result)
{
        enum fota_result r = saved_result ? m->fota.st.last_result : FOTA_RESULT_NONE;
        const char *result = r != FOTA_RESULT_NONE ? fota_result_to_string(r) : "unknown";

        if (!history_running(m->history))
                return;
        history_mark_interrupted(m->history);
        history_finish(m->history, realtime, result, r != FOTA_RESULT_NONE ? m->fota.st.last_code : 0);
        count(m, counter_from_upgrade_result(result));
}

/* The upgrade's record follows the FOTA signals; the history is saved before they are announced.
 * Progress alone stays in memory until the next saved change. Returns true if the counters
 * changed: the caller saves them after the announcement (recovery does not depend on them). */
static bool record_upgrade(struct manager *m, const struct fota_output *out)
{
        const char *revision = modem_get_identity(m->modem)->revision;
        uint64_t realtime = clock_realtime_usec();
        bool save = false, finished = false;

        for (size_t i = 0; i < out->n_signals; i++)
                switch (out->signals[i]) {
                case FOTA_SIGNAL_STARTED:
                        end_unseen_upgrade(m, realtime, false);
                        history_begin(m->history, realtime, revision, false);
                        m->unrecorded_protection = false;
                        save = true;
                        break;
                case FOTA_SIGNAL_FINISHED: {
                        const char *result = fota_result_to_string(out->signal_result[i]);

                        save |= history_finish(m->history, realtime, result, out->signal_code[i]);
                        if (revision[0])
                                history_set_revision_after(m->history, revision);
                        /* The end of a cautious start (no state file to say an upgrade ran) is no
                         * upgrade's result: not counted. */
                        if (!m->unrecorded_protection)
                                count(m, counter_from_upgrade_result(result));
                        m->unrecorded_protection = false;
                        finished = true;
                        break;
                }
                }
        if (out->actions & FOTA_ACTION_RESET)
                save |= history_reset_used(m->history);
        if (fota_active(&m->fota))
                history_progress(m->history, m->fota.st.progress);
        if (save)
                save_history(m);
        return finished;
}

static void apply_fota(struct manager *m, enum fota_phase old_phase, const struct fota_output *out,
                       const char *urc, uint64_t now)
{
        const struct history_entry *running = history_running(m->history);
        struct fota_journal_firmware fw = {
                .before = running ? running->revision_before : "",
                .after = modem_get_identity(m->modem)->revision,
        };
        bool counted;

        fota_journal(&m->fota, out, urc, &fw);
        apply_gate(m, old_phase, now);
        if (out->actions & FOTA_ACTION_PERSIST)
                persist(m);
        counted = record_upgrade(m, out);
        if (out->actions & FOTA_ACTION_RESET) {
                int r = modem_reset(m->modem, "guide table 2: no END within the upgrade window", true, now);

                if (r < 0)
                        log_errno(LOG_ERR, r, "Table-2 reset could not start (it is tried again while the "
                                  "upgrade window runs)");
        }
        if (out->actions & FOTA_ACTION_REREGISTER) {
                /* The module restarted during the upgrade and forgot everything: echo is on and the
                 * LwM2M context is gone. Initialise and register so the platform learns the result. */
                lwm2m_stop(m->lwm2m, "re-registering after the upgrade", now);
                modem_reinit(m->modem, now);
        }
        /* Publish every step on its own: lines that arrive in one read (COAPEND,0 and START,
         * UPDATING,20% and 100%) must not fold into one PropertiesChanged that skips a phase or a
         * progress value. Signals come after the property changes they announce (UpgradeStarted
         * after Phase, UpgradeFinished after LastResult). */
        sync_bus(m);
        for (size_t i = 0; i < out->n_signals && m->bus; i++)
                switch (out->signals[i]) {
                case FOTA_SIGNAL_STARTED:
                        bus_emit_upgrade_started(m->bus);
                        break;
                case FOTA_SIGNAL_FINISHED:
                        /* The result of the upgrade this signal ends, not the state after the event. */
                        bus_emit_upgrade_finished(m->bus, fota_result_to_string(out->signal_result[i]),
                                                  out->signal_code[i]);
                        break;
                }
        if (counted)
                save_counters(m);
}

/* ---- AT channel -> manager ---------------------------------------------------------------- */

static int ch_write(void *ud, const void *buf, size_t len)
{
        struct manager *m = ud;
        size_t n = len;

        while (n > 0 && ((const char *) buf)[n - 1] == '\r')
                n--;
        log_debug("-> %.*s", (int) n, (const char *) buf);
        return serial_write(m->serial, buf, len);
}

static void ch_line(void *ud, const char *text, const struct at_line *l, uint64_t now)
{
        struct manager *m = ud;

        switch (l->cls) {
        case AT_LINE_URC:
                log_debug("<- %s", text);
                if (l->urc.type == URC_FOTA) {
                        enum fota_phase old_phase = m->fota.st.phase;
                        struct fota_output out;

                        fota_on_urc(&m->fota, &l->urc.fota, now, &out);
                        apply_fota(m, old_phase, &out, text, now);
                        return;
                }
                if (l->urc.type == URC_CEREG) {
                        /* Costs no command, so it counts also while gated; a fresh reading follows
                         * only when the gate is open (network_refresh refuses otherwise). */
                        network_on_urc(m->network, &l->urc, now);
                        (void) network_refresh(m->network, now);
                        return;
                }
                lwm2m_on_line(m->lwm2m, l, now);
                return;
        case AT_LINE_ASYNC:
                log_debug("<- %s", text);
                lwm2m_on_line(m->lwm2m, l, now);
                return;
        case AT_LINE_UNKNOWN:
                log_debug("<- unrecognised line: %s", text);
                return;
        case AT_LINE_OK:
        case AT_LINE_ERROR:
        case AT_LINE_CME_ERROR:
                log_debug("<- stray final result with no command waiting: %s", text);
                return;
        case AT_LINE_BOOT:
        case AT_LINE_ECHO:
        case AT_LINE_RESPONSE:
                return;
        }
}

static void ch_reboot(void *ud, uint64_t now)
{
        struct manager *m = ud;

        lwm2m_stop(m->lwm2m, "the module rebooted", now);
        modem_on_reboot(m->modem, now);
}

static size_t ch_discard(void *ud)
{
        struct manager *m = ud;

        return serial_discard_output(m->serial);
}

static const struct at_channel_ops channel_ops = {
        .write = ch_write,
        .discard = ch_discard,
        .line = ch_line,
        .reboot = ch_reboot,
};

/* ---- serial -> manager ------------------------------------------------------------------- */

static void serial_data(void *ud, const void *buf, size_t n)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();

        modem_on_activity(m->modem, now);       /* the module is alive: before the lines it printed */
        at_channel_feed(m->ch, buf, n, now);
        after_event(m);
}

static void serial_connected(void *ud)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();

        at_channel_set_connected(m->ch, true, now);
        modem_on_connected(m->modem, now);
        after_event(m);
}

static void serial_disconnected(void *ud)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();

        at_channel_set_connected(m->ch, false, now);
        lwm2m_stop(m->lwm2m, "the module's tty went away", now);
        modem_on_disconnected(m->modem, now);
        after_event(m);
}

static const struct serial_ops serial_ops = {
        .data = serial_data,
        .connected = serial_connected,
        .disconnected = serial_disconnected,
};

/* ---- modem -> manager -------------------------------------------------------------------- */

static void modem_state_changed(void *ud, enum modem_state old, enum modem_state new_state)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();

        log_info("Module %s", modem_state_to_string(new_state));
        if (new_state == MODEM_STATE_READY)
                lwm2m_start(m->lwm2m, modem_get_identity(m->modem)->imei, now);
        else if (old == MODEM_STATE_READY)
                lwm2m_stop(m->lwm2m, "the module is being initialised again", now);
}

static void modem_rebooted(void *ud, enum modem_reboot_cause cause)
{
        struct manager *m = ud;
        const char *fields[] = { "MESSAGE_ID=" BC26_MESSAGE_MODULE_REBOOTED, NULL };

        log_full(cause == MODEM_REBOOT_UNEXPECTED ? LOG_WARNING : LOG_INFO, fields, "Module rebooted (cause: %s)",
                 modem_reboot_cause_to_string(cause));
        count(m, counter_from_reboot_cause(modem_reboot_cause_to_string(cause)));
        save_counters(m);
        if (m->bus)
                bus_emit_module_rebooted(m->bus, modem_reboot_cause_to_string(cause));
}

static void modem_reset_attempt(void *ud, enum modem_rung rung, const char *why)
{
        struct manager *m = ud;
        char msg[256];

        snprintf(msg, sizeof(msg), "Resetting the module by %s (%s)",
                 rung == MODEM_RUNG_AT ? "AT+QRST=1" : rung == MODEM_RUNG_GPIO_RESET ? "a RESET_N pulse" : "a PWRKEY pulse",
                 why);
        fota_journal_reset(&m->fota, LOG_WARNING, msg);
}

static void modem_reset_rung(void *ud, enum modem_rung rung, bool recovered)
{
        struct manager *m = ud;

        log_notice("Reset rung %s: module %s", modem_rung_to_string(rung), recovered ? "came back" : "did not come back");
        if (m->bus) {
                sync_bus(m);
                bus_emit_module_reset(m->bus, modem_rung_to_string(rung), recovered);
        }
}

static void modem_probed(void *ud, uint64_t now)
{
        struct manager *m = ud;

        (void) network_refresh(m->network, now);
}

static const struct modem_ops modem_ops = {
        .state_changed = modem_state_changed,
        .probed = modem_probed,
        .rebooted = modem_rebooted,
        .reset_attempt = modem_reset_attempt,
        .reset_rung = modem_reset_rung,
};

/* ---- lwm2m -> manager -------------------------------------------------------------------- */

static void lwm2m_state_changed(void *ud, enum lwm2m_state old, enum lwm2m_state new_state)
{
        log_info("LwM2M session %s", lwm2m_state_to_string(new_state));
}

static void lwm2m_registered_cb(void *ud)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();
        struct fota_output out;

        log_info("Registered to the LwM2M server %s:%u", m->cfg.server, m->cfg.port);
        if (m->fota.st.phase == FOTA_PHASE_REPORTING) {
                fota_on_reregistered(&m->fota, now, &out);
                apply_fota(m, FOTA_PHASE_REPORTING, &out, NULL, now);
        }
        /* The module is back after the last upgrade: its firmware now (AT+CGMR of this init). */
        if (history_set_revision_after(m->history, modem_get_identity(m->modem)->revision))
                save_history(m);
        (void) network_refresh(m->network, now);
}

static void lwm2m_data_received(void *ud, unsigned obj, unsigned inst, unsigned res, const uint8_t *data, size_t len)
{
        struct manager *m = ud;

        log_info("Downlink data on %u/%u/%u: %zu bytes", obj, inst, res, len);
        if (m->bus)
                bus_emit_data_received(m->bus, obj, inst, res, data, len);
}

static void lwm2m_send_done(void *ud, uint64_t cookie, int result, const char *why, const char *said)
{
        struct manager *m = ud;

        if (cookie & DELIVERY_COOKIE_BIT) {
                /* An outbox message, not a SendData call (those are counted in send.*). */
                if (m->delivery)
                        delivery_send_done(m->delivery, cookie, result, said, clock_realtime_usec());
                return;
        }
        if (result < 0)
                log_warning("Send %llu failed: %s", (unsigned long long) cookie, why);
        else
                log_info("Send %llu acknowledged (SEND OK)", (unsigned long long) cookie);
        count(m, result < 0 ? COUNTER_SEND_FAILED : COUNTER_SEND_OK);
        if (m->bus)
                bus_send_done(m->bus, cookie, result, why);
}

static const struct lwm2m_ops lwm2m_ops = {
        .state_changed = lwm2m_state_changed,
        .registered = lwm2m_registered_cb,
        .data_received = lwm2m_data_received,
        .send_done = lwm2m_send_done,
};

/* ---- bus -> manager ---------------------------------------------------------------------- */

static int bus_reset(void *ud)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();
        int r;

        if (fota_active(&m->fota))
                return -EBUSY;
        r = modem_reset(m->modem, "requested over D-Bus (Reset)", false, now);
        if (r == -EALREADY)
                r = 0;          /* a reset already runs: that is what was asked for */
        after_event(m);
        return r;
}

static int bus_send(void *ud, unsigned obj, unsigned inst, unsigned res, const uint8_t *data, size_t len,
                    uint64_t cookie)
{
        struct manager *m = ud;
        int r = lwm2m_send(m->lwm2m, obj, inst, res, data, len, true, cookie, clock_boottime_usec());

        if (r < 0)
                count(m, COUNTER_SEND_REFUSED);
        after_event(m);
        return r;
}

static int bus_refresh(void *ud)
{
        struct manager *m = ud;
        int r = network_refresh(m->network, clock_boottime_usec());

        after_event(m);
        return r;
}

static const struct counters *bus_counters(void *ud)
{
        struct manager *m = ud;

        return &m->counters;
}

static const struct history *bus_history(void *ud)
{
        struct manager *m = ud;

        return m->history;
}

static int bus_enqueue(void *ud, const struct bus_enqueue *e, uint64_t *id, char *why, size_t why_size)
{
        struct manager *m = ud;
        struct delivery_request rq = {
                .obj = e->obj, .inst = e->inst, .res = e->res, .data = e->data, .len = e->len,
                .has_ttl = e->has_ttl, .ttl_s = e->ttl_s, .confirmable = e->confirmable, .uid = e->uid,
        };
        int r;

        if (!m->delivery)
                return -EOPNOTSUPP;
        r = delivery_enqueue(m->delivery, &rq, clock_realtime_usec(), id, why, why_size);
        after_event(m);
        return r;
}

static int bus_clear_queue(void *ud, uint32_t *dropped, char *why, size_t why_size)
{
        struct manager *m = ud;
        int r;

        if (!m->delivery)
                return -EOPNOTSUPP;
        r = delivery_clear(m->delivery, dropped, why, why_size);
        after_event(m);
        return r;
}

static const struct outbox *bus_outbox(void *ud)
{
        struct manager *m = ud;

        return m->delivery ? delivery_outbox(m->delivery) : NULL;
}

static const struct bus_handlers bus_handlers = {
        .reset = bus_reset,
        .send = bus_send,
        .refresh = bus_refresh,
        .counters = bus_counters,
        .history = bus_history,
        .enqueue = bus_enqueue,
        .clear_queue = bus_clear_queue,
        .outbox = bus_outbox,
};

/* ---- outbox -> manager -------------------------------------------------------------------- */

/* The log already says so; the properties (Queued) change first, then the signal. */
static void delivery_delivered(void *ud, uint64_t id)
{
        struct manager *m = ud;

        if (m->bus) {
                sync_bus(m);
                bus_emit_data_delivered(m->bus, id);
        }
}

static void delivery_dropped(void *ud, uint64_t id, const char *reason)
{
        struct manager *m = ud;

        if (m->bus) {
                sync_bus(m);
                bus_emit_data_dropped(m->bus, id, reason);
        }
}

static const struct delivery_ops delivery_ops = {
        .delivered = delivery_delivered,
        .dropped = delivery_dropped,
};

/* ---- network -> manager ------------------------------------------------------------------- */

static void network_changed(void *ud, unsigned what)
{
        sync_bus(ud);
}

static const struct network_ops network_ops = {
        .changed = network_changed,
};

/* The loop runs: now take the bus name (so clients never see a half-started daemon). */
static void on_start(evutil_socket_t fd, short what, void *arg)
{
        struct manager *m = arg;
        int r = bus_request_name(m->bus);

        if (r < 0) {
                m->exit_error = r;
                event_base_loopbreak(m->base);
                return;
        }
        serial_start(m->serial);
        after_event(m);
        service_ready(m->service);
}

/* ---- timer and signals ------------------------------------------------------------------- */

static void on_timer(void *ud)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();
        enum fota_phase old_phase;
        struct fota_output out;

        at_channel_tick(m->ch, now);
        old_phase = m->fota.st.phase;
        fota_on_tick(&m->fota, now, &out);
        apply_fota(m, old_phase, &out, NULL, now);
        modem_tick(m->modem, now);
        lwm2m_tick(m->lwm2m, now);
        after_event(m);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
        struct manager *m = arg;

        log_info("Received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        service_stopping(m->service);
        event_base_loopbreak(m->base);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

/* Restore the DFOTA state before anything talks to the module: a saved non-idle phase means we
 * start gated. A corrupt or unreadable file is moved aside and we start cautious, never idle. */
static bool restore_fota(struct manager *m, uint64_t now)
{
        bool cautious = false;
        struct fota_config fc = {
                .timeout_usec = m->cfg.timeout_s * USEC_PER_SEC,
                .download_max_usec = m->cfg.download_max_s * USEC_PER_SEC,
        };
        struct store_record rec;
        struct fota_output out;
        char why[256] = "";
        int r;

        fota_init(&m->fota, &fc);       /* idle: the restored phase is a change from it */
        r = store_load(m->state_dir, &rec, why, sizeof(why));
        if (r == -ENOENT) {
                log_info("No saved DFOTA state in %s: starting idle", m->state_dir);
                return false;
        }
        if (r < 0) {
                log_error("The DFOTA state file in %s is unusable (%s): starting in upgrade protection "
                          "(downloading, fresh %u s window) rather than risk talking to an upgrading module",
                          m->state_dir, why[0] ? why : strerror(-r), m->cfg.timeout_s);
                fota_start_cautious(&m->fota, &fc, now, &out);
                cautious = true;
        } else {
                bool same_boot = strcmp(rec.boot_id, m->boot_id) == 0;

                fota_restore(&m->fota, &fc, &rec.st, same_boot, now, &out);
                if (rec.st.phase != FOTA_PHASE_IDLE)
                        log_notice("Saved DFOTA phase %s (window %u) from %s boot: %s", fota_phase_to_string(rec.st.phase),
                                   m->fota.st.window, same_boot ? "this" : "an earlier",
                                   same_boot ? "keeping its deadline (at most one window from now)" :
                                   "starting a fresh window");
        }
        apply_fota(m, FOTA_PHASE_IDLE, &out, NULL, now);
        return cautious;
}

static bool counters_all_zero(const struct counters *c)
{
        for (size_t i = 0; i < _COUNTER_MAX; i++)
                if (c->v[i])
                        return false;
        return true;
}

/* [outbox] enabled = no: a log that still holds records is neither delivered nor dropped. */
static void warn_outbox_left(const char *state_dir)
{
        char path[PATH_MAX];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", state_dir, OUTBOX_FILE_NAME);
        if (stat(path, &st) == 0 && (size_t) st.st_size > OUTBOX_HEADER_SIZE + OUTBOX_REMOVAL_RECORD)
                log_warning("The outbox is disabled ([outbox] enabled = no) but %s holds messages (%lld bytes): they "
                            "are kept, not delivered; enable the outbox to deliver them, or delete the file to drop "
                            "them", path, (long long) st.st_size);
}

/* Without a counters file (or with a corrupt one) the upgrade counters start from what the
 * history still holds; the other counters from 0. */
static unsigned counters_from_history(struct manager *m)
{
        unsigned n = 0;

        memset(&m->counters, 0, sizeof(m->counters));
        for (size_t i = 0; i < history_count(m->history); i++) {
                const struct history_entry *e = history_get(m->history, i);

                if (e->finished != 0 && counter_from_upgrade_result(e->result) >= 0) {
                        count(m, counter_from_upgrade_result(e->result));
                        n++;
                }
        }
        return n;
}

/* The history and the counters from the state dir; a corrupt file was moved aside (never fatal:
 * the gate does not depend on them). */
static void load_records(struct manager *m)
{
        char why[256] = "";
        int r;

        r = history_load(m->history, m->state_dir, why, sizeof(why));
        if (r < 0 && r != -ENOENT)
                log_error("The upgrade history in %s is unusable (%s); starting a new one", m->state_dir,
                          why[0] ? why : strerror(-r));
        why[0] = '\0';
        r = counters_load(&m->counters, m->state_dir, why, sizeof(why));
        if (r < 0 || counters_all_zero(&m->counters)) {
                /* unusable, missing (counters_load: all 0) or reset by hand */
                unsigned n = counters_from_history(m);

                if (r < 0 && r != -ENOENT)
                        log_error("The counters in %s are unusable (%s); the upgrade counters start again from the "
                                  "%u upgrades in the history, the others from 0", m->state_dir,
                                  why[0] ? why : strerror(-r), n);
                if (n > 0)
                        save_counters(m);
        }
}

/* After the DFOTA state is restored: an upgrade still running is the one the history shows
 * running (now marked interrupted), or one that started while bc26d was down (recorded now,
 * interrupted); one the history shows running that is over ended while bc26d was down (with the
 * saved result if the state file has it). Recorded once. A cautious start (the state file was
 * unusable) protects the module without recording an upgrade nobody saw start. */
static void reconcile_history(struct manager *m, bool cautious)
{
        uint64_t realtime = clock_realtime_usec();
        bool save;

        if (fota_active(&m->fota) && !history_running(m->history) && cautious) {
                /* No state file says an upgrade runs: protect, but record none. */
                m->unrecorded_protection = true;
                save = false;
        } else if (fota_active(&m->fota)) {
                save = history_running(m->history) ? history_mark_interrupted(m->history) :
                       history_begin(m->history, realtime, "", true);
        } else {
                save = history_running(m->history) != NULL;
                end_unseen_upgrade(m, realtime, true);
        }
        if (save) {
                save_history(m);
                save_counters(m);
        }
}

int manager_new(const struct config *cfg, const char *state_dir, struct manager **out)
{
        struct modem_config mc = {
                .command_timeout_usec = cfg->command_timeout_ms * USEC_PER_MSEC,
                .boot_timeout_usec = cfg->boot_timeout_s * USEC_PER_SEC,
                .probe_interval_usec = cfg->probe_interval_s * USEC_PER_SEC,
                .fix_baudrate = cfg->fix_baudrate,
                .baudrate = cfg->baudrate,
                .reset_pulse_usec = cfg->reset.pulse_ms * USEC_PER_MSEC,
                .pwrkey_pulse_usec = cfg->pwrkey.pulse_ms * USEC_PER_MSEC,
                .need_imei = cfg->endpoint[0] == '\0',        /* the IMEI is the endpoint name */
        };
        struct network_config nc = { .command_timeout_usec = cfg->command_timeout_ms * USEC_PER_MSEC };
        struct lwm2m_config lc;
        struct manager *m;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->cfg = *cfg;
        m->state_dir = strdup(state_dir);
        if (!m->state_dir) {
                r = -ENOMEM;
                goto fail;
        }
        r = store_read_boot_id(m->boot_id, sizeof(m->boot_id));
        if (r < 0) {
                log_errno(LOG_ERR, r, "Failed to read the kernel boot id (/proc/sys/kernel/random/boot_id)");
                goto fail;
        }
        r = gpio_open(cfg, &m->gpio);
        if (r < 0)
                goto fail;
        m->base = event_base_new();
        if (!m->base) {
                r = -ENOMEM;
                goto fail;
        }
        r = deadline_timer_new(m->base, on_timer, m, &m->timer);
        if (r < 0) {
                log_errno(LOG_ERR, r, "Failed to create the deadline timer (timerfd on CLOCK_BOOTTIME)");
                goto fail;
        }
        m->ev_sigterm = evsignal_new(m->base, SIGTERM, on_signal, m);
        m->ev_sigint = evsignal_new(m->base, SIGINT, on_signal, m);
        m->ch = at_channel_new(&channel_ops, m, cfg->boot_timeout_s * USEC_PER_SEC);
        m->serial = serial_new(m->base, cfg->device, cfg->baudrate, &serial_ops, m);
        if (!m->ev_sigterm || !m->ev_sigint || !m->ch || !m->serial) {
                r = -ENOMEM;
                goto fail;
        }
        m->modem = modem_new(&mc, m->ch, m->gpio, &modem_ops, m);
        lwm2m_config_from(&lc, cfg);
        m->lwm2m = lwm2m_new(&lc, m->ch, &lwm2m_ops, m);
        m->network = network_new(&nc, m->ch, &network_ops, m);
        if (!m->modem || !m->lwm2m || !m->network) {
                r = -ENOMEM;
                goto fail;
        }
        if (cfg->outbox.enabled) {
                r = delivery_new(&cfg->outbox, state_dir, m->lwm2m, &delivery_ops, m, &m->delivery);
                if (r < 0)
                        goto fail;
        } else {
                warn_outbox_left(state_dir);
        }
        r = history_new(cfg->history, &m->history);
        if (r < 0)
                goto fail;
        load_records(m);
        reconcile_history(m, restore_fota(m, clock_boottime_usec()));
        {
                struct bus_snapshot snap;

                snapshot(m, &snap);
                r = bus_new(m->base, &snap, &bus_handlers, m, &m->bus);
                if (r < 0)
                        goto fail;
        }
        r = inhibit_new(bus_connection(m->bus), &m->inhibit);
        if (r < 0)
                goto fail;
        r = service_new(m->base, &m->service);
        if (r < 0)
                goto fail;
        m->ev_start = evtimer_new(m->base, on_start, m);
        if (!m->ev_start) {
                r = -ENOMEM;
                goto fail;
        }
        *out = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

struct manager *manager_free(struct manager *m)
{
        if (!m)
                return NULL;
        /* Reverse order of creation. */
        if (m->ev_start)
                event_free(m->ev_start);
        service_free(m->service);
        inhibit_free(m->inhibit);       /* releases the locks, also on shutdown mid-upgrade */
        bus_free(m->bus);
        network_free(m->network);
        delivery_free(m->delivery);     /* before the session it sends through */
        lwm2m_free(m->lwm2m);
        modem_free(m->modem);
        serial_free(m->serial);
        at_channel_free(m->ch);
        if (m->ev_sigint)
                event_free(m->ev_sigint);
        if (m->ev_sigterm)
                event_free(m->ev_sigterm);
        deadline_timer_free(m->timer);
        if (m->base)
                event_base_free(m->base);
        gpio_close(m->gpio);
        history_free(m->history);
        free(m->state_dir);
        free(m);
        return NULL;
}

int manager_run(struct manager *m)
{
        struct timeval zero = { 0, 0 };

        if (evsignal_add(m->ev_sigterm, NULL) < 0 || evsignal_add(m->ev_sigint, NULL) < 0 ||
            evtimer_add(m->ev_start, &zero) < 0)
                return -EIO;
        if (event_base_dispatch(m->base) < 0)
                return -EIO;
        save_counters(m);       /* the send counters, which are not saved on every send */
        return m->exit_error;
}
