/* modem.c - the module supervisor: sync, init, identity, liveness probe, reboot handling and the
 * reset ladder. Deadline-driven (modem_next_deadline/modem_tick); no sleeps, no timers of its own.
 * Every byte goes through the AT channel, so the DFOTA gate applies to it like to anyone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "modem.h"

#define SYNC_ATTEMPT_MAX_USEC   (1000 * 1000)   /* one "AT" waits at most 1 s, then the next */
#define PROBE_FAILURES_MAX      3
#define INIT_FAILURES_MAX       3
#define LADDER_BACKOFF_BOOTS    3       /* first back-off: 3 x boot_timeout (30 s by default) */
#define LADDER_BACKOFF_MAX_USEC (600ULL * 1000 * 1000)  /* capped at 10 minutes */
#define IDENTITY_RETRIES        3       /* AT+CGSN=1 tries before the init counts as failed */
#define RESTART_MIN_USEC        (1000ULL * 1000)        /* sync retry in reporting: 1 s ... */
#define RESTART_MAX_USEC        (30ULL * 1000 * 1000)   /* ... doubling to 30 s */

enum init_step {
        INIT_ECHO_OFF,
        INIT_CMEE,
        INIT_QSCLK,
        INIT_CEREG,             /* AT+CEREG=5, or =2 if refused: registration and cell as URCs */
        INIT_ATI,
        INIT_CGMR,
        INIT_CGSN,
        INIT_IPR_READ,
        INIT_IPR_SET,
        INIT_SAVE,
        INIT_DONE,
};

enum ladder_stage {
        LADDER_OFF,
        LADDER_HOLD,            /* a table-2 reset waits for the module to fall silent */
        LADDER_PULSE,           /* a GPIO line is asserted until pulse_end */
        LADDER_WAIT_BOOT,       /* waiting for the module's reboot until deadline */
        LADDER_BACKOFF,         /* every rung failed: wait, then run the ladder again */
};

struct modem {
        struct modem_config cfg;
        struct at_channel *ch;
        struct gpio *gpio;
        const struct modem_ops *ops;
        void *ud;

        enum modem_state state;
        bool connected;
        uint64_t last_rx;               /* the module's last byte (0: none yet) */
        uint64_t connected_since;       /* when the tty (re)appeared */
        struct modem_identity id;

        /* sync / init */
        uint64_t sync_deadline;         /* give up syncing at this time */
        uint64_t retry_at;              /* next sync attempt (0: none scheduled) */
        bool sync_inflight;
        enum init_step step;
        bool ipr_autobaud;
        bool cereg_fallback;            /* AT+CEREG=5 was refused: try AT+CEREG=2 */
        unsigned init_failures;
        unsigned id_failures;           /* AT+CGSN=1 without an IMEI, in a row */
        uint64_t init_retry_at;         /* retry the current init step (0: none) */
        uint64_t restart_at;            /* sync again at this time (0: none) */
        uint64_t restart_delay;         /* its back-off */

        /* liveness probe */
        uint64_t probe_at;
        bool probe_inflight;
        unsigned probe_failures;

        /* reset ladder */
        enum ladder_stage ladder;
        enum modem_rung rung;
        bool ladder_table2;
        bool ladder_fired;              /* a rung fired in this ladder */
        uint64_t ladder_deadline;
        uint64_t ladder_backoff;
        char ladder_why[128];
};

/* The channel owns the gate; the supervisor only asks. */
static enum at_gate gate(const struct modem *m)
{
        return at_channel_get_gate(m->ch);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void enter_state(struct modem *m, enum modem_state s)
{
        enum modem_state old = m->state;

        if (old == s)
                return;
        m->state = s;
        if (m->ops->state_changed)
                m->ops->state_changed(m->ud, old, s);
}

static void start_sync(struct modem *m, uint64_t now);
static void ladder_next_rung(struct modem *m, uint64_t now);

/* ---- sync ------------------------------------------------------------------------------- */

static void sync_done(void *ud, const struct at_response *r);

static void sync_attempt(struct modem *m, uint64_t now)
{
        uint64_t t = m->cfg.command_timeout_usec < SYNC_ATTEMPT_MAX_USEC ?
                     m->cfg.command_timeout_usec : SYNC_ATTEMPT_MAX_USEC;
        struct at_request req = { .cmd = AT_CMD_SYNC, .text = "AT", .timeout_usec = t,
                                  .done = sync_done, .userdata = m };
        int r;

        m->retry_at = 0;
        r = at_channel_submit(m->ch, &req, now);
        if (r == -EBUSY) {
                enter_state(m, MODEM_STATE_WAITING);
                return;
        }
        if (r < 0) {
                /* Queue full or no tty: try again shortly rather than spin. */
                m->retry_at = now + t;
                return;
        }
        m->sync_inflight = true;
}

/* Sync again later, with back-off: in reporting the platform must still learn the result, and a
 * reset is not ours to order there. Bounded by the reporting deadline (the gate then opens). */
static void restart_later(struct modem *m, const char *why, uint64_t now)
{
        m->restart_delay = m->restart_delay ? m->restart_delay * 2 : RESTART_MIN_USEC;
        if (m->restart_delay > RESTART_MAX_USEC)
                m->restart_delay = RESTART_MAX_USEC;
        m->restart_at = add_sat(now, m->restart_delay);
        log_warning("%s; synchronising again in %llu ms", why, (unsigned long long) (m->restart_delay / 1000));
        enter_state(m, MODEM_STATE_WAITING);
}

static void unresponsive(struct modem *m, const char *why, uint64_t now)
{
        switch (gate(m)) {
        case AT_GATE_CLOSED:
                /* Never reset on our own during an upgrade: silence is expected there; the gate
                 * opening wakes us. */
                enter_state(m, MODEM_STATE_WAITING);
                return;
        case AT_GATE_REPORTING:
                restart_later(m, why, now);
                return;
        case AT_GATE_OPEN:
                break;
        }
        (void) modem_reset(m, why, false, now);
}

static void init_next(struct modem *m, uint64_t now);

static void sync_done(void *ud, const struct at_response *r)
{
        struct modem *m = ud;

        m->sync_inflight = false;
        if (m->state != MODEM_STATE_SYNCING)
                return;
        switch (r->status) {
        case AT_STATUS_OK:
        case AT_STATUS_ERROR:
        case AT_STATUS_CME_ERROR:
                /* Any final result proves the module listens at our baud rate. */
                enter_state(m, MODEM_STATE_INITIALIZING);
                m->step = INIT_ECHO_OFF;
                m->ipr_autobaud = false;
                m->cereg_fallback = false;
                init_next(m, r->now);
                return;
        case AT_STATUS_TIMEOUT:
                if (r->now >= m->sync_deadline)
                        unresponsive(m, "no answer to AT within [modem] boot_timeout_s", r->now);
                else
                        sync_attempt(m, r->now);
                return;
        case AT_STATUS_REBOOTED:        /* modem_on_reboot restarts the sync */
                log_info("Command AT failed: the module rebooted while it was in flight");
                return;
        case AT_STATUS_GATED:           /* modem_on_gate decides */
        case AT_STATUS_CANCELLED:       /* modem_on_disconnected decides */
                return;
        }
}

static void start_sync(struct modem *m, uint64_t now)
{
        if (!m->connected) {
                enter_state(m, MODEM_STATE_DISCONNECTED);
                return;
        }
        if (!at_gate_allows(gate(m), AT_CLASS_INIT, false)) {
                enter_state(m, MODEM_STATE_WAITING);
                return;
        }
        enter_state(m, MODEM_STATE_SYNCING);
        m->restart_at = 0;
        m->init_retry_at = 0;
        m->sync_deadline = now + m->cfg.boot_timeout_usec;
        m->probe_inflight = false;
        if (!m->sync_inflight)
                sync_attempt(m, now);
}

/* ---- init ------------------------------------------------------------------------------- */

static void init_done(void *ud, const struct at_response *r);

/* The initialisation sequence; the IPR steps only when [modem] fix_baudrate asks for them. */
/* expect/bare say which lines can be each command's answer (bc26-at.md 3): a line of another
 * shape is a URC or noise, whatever command is in flight. */
static const struct {
        enum at_cmd cmd;
        const char *text;
        const char *expect;
        bool bare;
} init_steps[] = {
        [INIT_ECHO_OFF] = { AT_CMD_ECHO_OFF, "ATE0", NULL, false },
        [INIT_CMEE]     = { AT_CMD_CMEE, "AT+CMEE=1", NULL, false },
        [INIT_QSCLK]    = { AT_CMD_QSCLK, "AT+QSCLK=0", NULL, false },
        [INIT_CEREG]    = { AT_CMD_CEREG_SET, "AT+CEREG=5", NULL, false },
        [INIT_ATI]      = { AT_CMD_ATI, "ATI", NULL, true },       /* Quectel_Ltd, Quectel_BC26, Revision: */
        [INIT_CGMR]     = { AT_CMD_CGMR, "AT+CGMR", "Revision:", false },
        [INIT_CGSN]     = { AT_CMD_CGSN, "AT+CGSN=1", "+CGSN:", false },
        [INIT_IPR_READ] = { AT_CMD_IPR_READ, "AT+IPR?", "+IPR:", false },
        [INIT_IPR_SET]  = { AT_CMD_IPR_SET, NULL, NULL, false },
        [INIT_SAVE]     = { AT_CMD_SAVE, "AT&W", NULL, false },
};

static void copy_id(char *dst, const char *src)
{
        snprintf(dst, MODEM_ID_MAX, "%s", src);
}

static const char *skip_prefix(const char *line, const char *prefix)
{
        size_t n = strlen(prefix);

        if (strncmp(line, prefix, n) != 0)
                return NULL;
        line += n;
        while (*line == ' ')
                line++;
        return line;
}

static void init_next(struct modem *m, uint64_t now)
{
        char text[32];
        struct at_request req = { .timeout_usec = m->cfg.command_timeout_usec,
                                  .done = init_done, .userdata = m };
        int r;

        /* The baud fix is a power/baud-class command: only outside any upgrade, only if asked. */
        while ((m->step == INIT_IPR_READ && (!m->cfg.fix_baudrate || gate(m) != AT_GATE_OPEN)) ||
               ((m->step == INIT_IPR_SET || m->step == INIT_SAVE) && !m->ipr_autobaud))
                m->step++;

        m->init_retry_at = 0;
        if (m->step == INIT_DONE) {
                char buf[LOG_REDACT_MAX];

                m->init_failures = 0;
                m->restart_delay = 0;
                log_info("Module initialised: %s %s, revision %s, IMEI %s",
                         m->id.manufacturer[0] ? m->id.manufacturer : "(unknown maker)",
                         m->id.model[0] ? m->id.model : "(unknown model)",
                         m->id.revision[0] ? m->id.revision : "(unknown)",
                         m->id.imei[0] ? log_redact(m->id.imei, buf, sizeof(buf)) : "(unknown)");
                m->probe_failures = 0;
                m->probe_at = m->cfg.probe_interval_usec ? now + m->cfg.probe_interval_usec : 0;
                enter_state(m, MODEM_STATE_READY);
                return;
        }

        req.cmd = init_steps[m->step].cmd;
        req.text = init_steps[m->step].text;
        req.expect = init_steps[m->step].expect;
        req.bare = init_steps[m->step].bare;
        if (m->step == INIT_IPR_SET) {
                snprintf(text, sizeof(text), "AT+IPR=%u", m->cfg.baudrate);
                req.text = text;
        }
        if (m->step == INIT_CEREG && m->cereg_fallback)
                req.text = "AT+CEREG=2";        /* location URCs without the PSM and cause fields */
        r = at_channel_submit(m->ch, &req, now);
        if (r == -EBUSY)
                enter_state(m, MODEM_STATE_WAITING);
        else if (r < 0)
                start_sync(m, now);     /* no tty or queue trouble: start over, bounded by sync */
}

/* A 15-digit IMEI (3GPP TS 23.003) and nothing else. */
static bool is_imei(const char *v)
{
        size_t n = 0;

        size_t end;

        for (; v[n] >= '0' && v[n] <= '9'; n++)
                ;
        for (end = n; v[end] == ' '; end++)
                ;
        return n == 15 && v[end] == '\0';
}

/* An ATI name line: one word of printable text (Quectel_Ltd, Quectel_BC26). */
static bool is_name_line(const char *line)
{
        if (!*line)
                return false;
        for (; *line; line++)
                if (*line <= ' ' || *line > '~' || *line == ':' || *line == '+')
                        return false;
        return true;
}

static void parse_identity(struct modem *m, enum init_step step, const struct at_response *r)
{
        unsigned names = 0;
        const char *v;

        for (size_t i = 0; i < r->n_lines; i++) {
                const char *line = r->lines[i];

                switch (step) {
                case INIT_ATI:
                        if ((v = skip_prefix(line, "Revision:")))
                                copy_id(m->id.revision, v);
                        else if (is_name_line(line) && names == 0 && ++names)
                                copy_id(m->id.manufacturer, line);
                        else if (is_name_line(line) && names == 1 && ++names)
                                copy_id(m->id.model, line);
                        break;
                case INIT_CGMR:
                        if ((v = skip_prefix(line, "Revision:")))
                                copy_id(m->id.revision, v);
                        break;
                case INIT_CGSN:
                        /* Only "+CGSN: <15 digits>" is an IMEI: never another command's late line. */
                        if ((v = skip_prefix(line, "+CGSN:")) && is_imei(v)) {
                                copy_id(m->id.imei, v);
                                m->id.imei[15] = '\0';
                        }
                        break;
                case INIT_IPR_READ:
                        if ((v = skip_prefix(line, "+IPR:")))
                                m->ipr_autobaud = strcmp(v, "0") == 0;
                        break;
                case INIT_ECHO_OFF:
                case INIT_CMEE:
                case INIT_QSCLK:
                case INIT_CEREG:
                case INIT_IPR_SET:
                case INIT_SAVE:
                case INIT_DONE:
                        break;
                }
        }
}

/* [lwm2m] endpoint is empty, so the IMEI is the endpoint name: registering without one can only
 * fail. Ask again with back-off; after IDENTITY_RETRIES it counts as a failed initialisation. */
static void missing_imei(struct modem *m, uint64_t now)
{
        if (++m->id_failures < IDENTITY_RETRIES) {
                uint64_t delay = m->cfg.command_timeout_usec << m->id_failures;

                log_warning("The module gave no IMEI (+CGSN: <15 digits>) and [lwm2m] endpoint is empty; "
                            "asking again in %llu ms", (unsigned long long) (delay / 1000));
                m->init_retry_at = add_sat(now, delay);
                return;
        }
        m->id_failures = 0;
        if (++m->init_failures >= INIT_FAILURES_MAX) {
                m->init_failures = 0;
                unresponsive(m, "the module gave no IMEI in three initialisations", now);
        } else {
                log_warning("No IMEI after %u tries of AT+CGSN=1: initialising the module again", IDENTITY_RETRIES);
                start_sync(m, now);
        }
}

static void init_done(void *ud, const struct at_response *r)
{
        struct modem *m = ud;
        enum init_step step = m->step;

        if (m->state != MODEM_STATE_INITIALIZING)
                return;
        switch (r->status) {
        case AT_STATUS_OK:
                parse_identity(m, step, r);
                if (step == INIT_CGSN && m->ops->identity_changed)
                        m->ops->identity_changed(m->ud);
                if (step == INIT_IPR_READ && m->ipr_autobaud)
                        log_notice("The module auto-bauds (AT+IPR? gives 0): it would print nothing after a reboot "
                                   "until the host talks; fixing it at %u baud with AT+IPR and AT&W", m->cfg.baudrate);
                if (step == INIT_SAVE)
                        log_notice("Module baud rate fixed at %u and saved (AT&W)", m->cfg.baudrate);
                break;
        case AT_STATUS_ERROR:
        case AT_STATUS_CME_ERROR:
                /* 27.007 lets a module support fewer +CEREG modes than 5 (the PSM fields): fall back
                 * to 2, which still reports stat, TAC and cell; without either, status is read by
                 * polling only. Never a reason to fail the init. */
                if (step == INIT_CEREG && !m->cereg_fallback) {
                        log_info("Module refused AT+CEREG=5; asking for AT+CEREG=2");
                        m->cereg_fallback = true;
                        init_next(m, r->now);
                        return;
                }
                if (step == INIT_CEREG) {
                        log_warning("Module refused AT+CEREG=5 and AT+CEREG=2: registration changes "
                                    "will be seen only when the status is read; continuing");
                        break;
                }
                /* The module is alive; a refused init command is worth a warning, not a loop. */
                if (r->status == AT_STATUS_CME_ERROR)
                        log_warning("Module refused %s during initialisation (+CME ERROR: %d); continuing",
                                    at_cmd_spec(init_steps[step].cmd)->prefix, r->cme);
                else
                        log_warning("Module refused %s during initialisation (ERROR); continuing",
                                    at_cmd_spec(init_steps[step].cmd)->prefix);
                break;
        case AT_STATUS_TIMEOUT:
                if (step >= INIT_QSCLK) {
                        /* The module answers (echo off and numeric errors are set): a command it
                         * does not answer is a gap in its firmware, not a dead module. */
                        log_warning("Module did not answer %s during initialisation; continuing without it",
                                    at_cmd_spec(init_steps[step].cmd)->prefix);
                        break;
                }
                if (++m->init_failures >= INIT_FAILURES_MAX) {
                        m->init_failures = 0;
                        unresponsive(m, "the module stopped answering during initialisation", r->now);
                } else
                        start_sync(m, r->now);
                return;
        case AT_STATUS_REBOOTED:
                log_info("Command %s failed: the module rebooted while it was in flight",
                         at_cmd_spec(init_steps[step].cmd)->prefix);
                return;
        case AT_STATUS_GATED:
        case AT_STATUS_CANCELLED:
                return;
        }
        if (step == INIT_CGSN && !m->id.imei[0] && m->cfg.need_imei) {
                missing_imei(m, r->now);
                return;
        }
        if (step == INIT_CGSN)
                m->id_failures = 0;
        m->step++;
        init_next(m, r->now);
}

/* ---- liveness probe --------------------------------------------------------------------- */

static void probe_done(void *ud, const struct at_response *r)
{
        struct modem *m = ud;

        m->probe_inflight = false;
        if (m->state != MODEM_STATE_READY)
                return;
        switch (r->status) {
        case AT_STATUS_OK:
        case AT_STATUS_ERROR:
        case AT_STATUS_CME_ERROR:
                m->probe_failures = 0;
                if (m->ops->probed)
                        m->ops->probed(m->ud, r->now);
                break;
        case AT_STATUS_TIMEOUT:
                m->probe_failures++;
                log_warning("Module did not answer the liveness probe (%u of %u)", m->probe_failures,
                            PROBE_FAILURES_MAX);
                if (m->probe_failures >= PROBE_FAILURES_MAX) {
                        m->probe_failures = 0;
                        unresponsive(m, "3 consecutive liveness probes timed out", r->now);
                        return;
                }
                break;
        case AT_STATUS_REBOOTED:
        case AT_STATUS_GATED:
        case AT_STATUS_CANCELLED:
                return;
        }
        m->probe_at = r->now + m->cfg.probe_interval_usec;
}

static void probe(struct modem *m, uint64_t now)
{
        struct at_request req = { .cmd = AT_CMD_PROBE, .text = "AT", .timeout_usec = m->cfg.command_timeout_usec,
                                  .done = probe_done, .userdata = m };

        m->probe_at = now + m->cfg.probe_interval_usec;
        /* Other traffic in progress proves nothing about the next minute, but a probe behind it
         * would only measure the queue: try again one interval later. */
        if (m->probe_inflight || at_channel_busy(m->ch))
                return;
        if (at_channel_submit(m->ch, &req, now) == 0)
                m->probe_inflight = true;
}

/* ---- reset ladder ----------------------------------------------------------------------- */

static enum modem_reboot_cause rung_cause(enum modem_rung rung)
{
        switch (rung) {
        case MODEM_RUNG_AT:             return MODEM_REBOOT_AT_RESET;
        case MODEM_RUNG_GPIO_RESET:     return MODEM_REBOOT_GPIO_RESET;
        case MODEM_RUNG_PWRKEY:         return MODEM_REBOOT_PWRKEY;
        }
        return MODEM_REBOOT_UNEXPECTED;
}

static enum gpio_line_id rung_line(enum modem_rung rung)
{
        return rung == MODEM_RUNG_PWRKEY ? GPIO_LINE_PWRKEY : GPIO_LINE_RESET;
}

static void qrst_done(void *ud, const struct at_response *r)
{
        /* AT+QRST=1 may answer OK, or the boot preamble instead (then REBOOTED): either way the
         * ladder waits for the reboot evidence (or, in an upgrade, any sign of life). */
}

/* During an upgrade the module's own word outranks our timers (guide 4.1.2: never cut its power
 * while it flashes; table 2: reset only an upgrade that stalled). A table-2 reset, or any rung
 * while the gate is not open, obeys the silence rule: it fires only after boot_timeout of no byte
 * from the module, watched on an open tty, and any byte from the module ends the ladder. */
static bool ladder_in_upgrade(const struct modem *m)
{
        return m->ladder_table2 || gate(m) != AT_GATE_OPEN;
}

/* When the module will have been silent for boot_timeout, as far as we could watch it. */
static uint64_t silent_until(const struct modem *m, uint64_t now)
{
        uint64_t since = m->last_rx > m->connected_since ? m->last_rx : m->connected_since;

        if (!m->connected)
                return add_sat(now, m->cfg.boot_timeout_usec);  /* cannot watch: nothing fires */
        return add_sat(since, m->cfg.boot_timeout_usec);
}

/* Try one rung; false if it cannot be used here (no tty, no GPIO line, gate). */
static bool ladder_try(struct modem *m, enum modem_rung rung, uint64_t now)
{
        m->rung = rung;
        if (!at_gate_allows(gate(m), AT_CLASS_RESET, m->ladder_table2))
                return false;
        if (rung == MODEM_RUNG_AT) {
                struct at_request req = { .cmd = AT_CMD_QRST, .text = "AT+QRST=1",
                                          .timeout_usec = m->cfg.boot_timeout_usec,
                                          .table2_reset = m->ladder_table2, .done = qrst_done, .userdata = m };

                if (at_channel_submit(m->ch, &req, now) < 0)
                        return false;
                if (m->ops->reset_attempt)
                        m->ops->reset_attempt(m->ud, rung, m->ladder_why);
                m->ladder = LADDER_WAIT_BOOT;
                m->ladder_fired = true;
                m->ladder_deadline = add_sat(now, m->cfg.boot_timeout_usec);
                return true;
        }
        if (!gpio_has_line(m->gpio, rung_line(rung)))
                return false;
        if (gpio_set(m->gpio, rung_line(rung), true) < 0)
                return false;
        if (m->ops->reset_attempt)
                m->ops->reset_attempt(m->ud, rung, m->ladder_why);
        m->ladder = LADDER_PULSE;
        m->ladder_fired = true;
        m->ladder_deadline = add_sat(now, rung == MODEM_RUNG_PWRKEY ? m->cfg.pwrkey_pulse_usec : m->cfg.reset_pulse_usec);
        return true;
}

/* The ladder is over; what next depends on the gate. */
static void ladder_end(struct modem *m, uint64_t now)
{
        m->ladder = LADDER_OFF;
        if (gate(m) == AT_GATE_CLOSED)
                enter_state(m, MODEM_STATE_WAITING);    /* the upgrade's own URCs decide */
        else
                start_sync(m, now);
}

static void ladder_from(struct modem *m, enum modem_rung first, uint64_t now)
{
        for (unsigned r = first; r <= MODEM_RUNG_PWRKEY; r++)
                if (ladder_try(m, (enum modem_rung) r, now))
                        return;

        if (m->ladder_table2) {
                if (!m->ladder_fired) {
                        /* Nothing could be written or pulsed (no tty, no GPIO): the reset is still
                         * owed; try again after another quiet boot_timeout. */
                        log_warning("The table-2 reset cannot start now (no tty for AT+QRST=1, and %s); "
                                    "trying again in %llu s",
                                    gpio_has_line(m->gpio, GPIO_LINE_RESET) || gpio_has_line(m->gpio, GPIO_LINE_PWRKEY)
                                            ? "the GPIO lines could not be driven: see above"
                                            : "no [gpio] reset_line or pwrkey_line",
                                    (unsigned long long) (m->cfg.boot_timeout_usec / 1000000));
                        m->ladder = LADDER_HOLD;
                        m->ladder_deadline = add_sat(now, m->cfg.boot_timeout_usec);
                        return;
                }
                /* A table-2 reset is ordered once (then the second window waits for END); only our
                 * own resets retry with back-off. */
                log_warning("The table-2 reset did not bring the module back; waiting for END as guide table 2 says");
                ladder_end(m, now);
                return;
        }
        if (!at_gate_allows(gate(m), AT_CLASS_RESET, m->ladder_table2)) {
                m->ladder = LADDER_OFF;
                start_sync(m, now);
                return;
        }
        m->ladder_backoff = m->ladder_backoff ? m->ladder_backoff * 2 : LADDER_BACKOFF_BOOTS * m->cfg.boot_timeout_usec;
        if (m->ladder_backoff > LADDER_BACKOFF_MAX_USEC)
                m->ladder_backoff = LADDER_BACKOFF_MAX_USEC;
        log_crit("The module did not come back after every reset available (%s%s); trying again in %llu s",
                 gpio_has_line(m->gpio, GPIO_LINE_RESET) ? "AT+QRST=1, RESET_N" : "AT+QRST=1 only: no [gpio] reset_line",
                 gpio_has_line(m->gpio, GPIO_LINE_PWRKEY) ? ", PWRKEY" : "",
                 (unsigned long long) (m->ladder_backoff / 1000000));
        m->ladder = LADDER_BACKOFF;
        m->ladder_deadline = add_sat(now, m->ladder_backoff);
}

static void ladder_next_rung(struct modem *m, uint64_t now)
{
        if (m->ops->reset_rung)
                m->ops->reset_rung(m->ud, m->rung, false);
        log_warning("Module reset by %s did not bring it back within [modem] boot_timeout_s",
                    modem_rung_to_string(m->rung));
        if (m->rung == MODEM_RUNG_PWRKEY)
                ladder_from(m, MODEM_RUNG_PWRKEY + 1, now);
        else
                ladder_from(m, m->rung + 1, now);
}

/* Start the ladder, or (in an upgrade) hold it until the module has been silent long enough. */
static void ladder_start(struct modem *m, uint64_t now)
{
        m->ladder_fired = false;
        if (ladder_in_upgrade(m) && now < silent_until(m, now)) {
                log_notice("Reset ordered (%s), but the module printed something less than [modem] "
                           "boot_timeout_s ago: waiting until it falls silent", m->ladder_why);
                m->ladder = LADDER_HOLD;
                m->ladder_deadline = silent_until(m, now);
                return;
        }
        enter_state(m, MODEM_STATE_RESETTING);
        ladder_from(m, MODEM_RUNG_AT, now);
}

int modem_reset(struct modem *m, const char *why, bool table2, uint64_t now)
{
        if (m->ladder == LADDER_PULSE || m->ladder == LADDER_WAIT_BOOT || m->ladder == LADDER_HOLD)
                return -EALREADY;
        if (!at_gate_allows(gate(m), AT_CLASS_RESET, table2))
                return -EBUSY;
        snprintf(m->ladder_why, sizeof(m->ladder_why), "%s", why);
        m->ladder_table2 = table2;
        if (m->ladder != LADDER_BACKOFF)
                m->ladder_backoff = 0;
        if (!gpio_has_line(m->gpio, GPIO_LINE_RESET) && !gpio_has_line(m->gpio, GPIO_LINE_PWRKEY))
                log_notice("No [gpio] reset or pwrkey line configured: AT+QRST=1 is the only reset available");
        ladder_start(m, now);
        return 0;
}

void modem_drop_reset(struct modem *m, const char *why)
{
        if (m->ladder != LADDER_HOLD)
                return;
        log_notice("The reset waiting for the module to fall silent is no longer needed: %s", why);
        m->ladder = LADDER_OFF;
}

static void ladder_tick(struct modem *m, uint64_t now)
{
        if (m->ladder == LADDER_OFF || now < m->ladder_deadline)
                return;
        switch (m->ladder) {
        case LADDER_HOLD:
                if (now < silent_until(m, now)) {
                        m->ladder_deadline = silent_until(m, now);
                        return;
                }
                enter_state(m, MODEM_STATE_RESETTING);
                ladder_from(m, MODEM_RUNG_AT, now);
                return;
        case LADDER_PULSE:
                (void) gpio_set(m->gpio, rung_line(m->rung), false);
                m->ladder = LADDER_WAIT_BOOT;
                m->ladder_deadline = add_sat(now, m->cfg.boot_timeout_usec);
                return;
        case LADDER_WAIT_BOOT:
                if (ladder_in_upgrade(m) && now < silent_until(m, now)) {
                        m->ladder_deadline = silent_until(m, now);      /* e.g. the tty was away */
                        return;
                }
                ladder_next_rung(m, now);
                return;
        case LADDER_BACKOFF:
                ladder_from(m, MODEM_RUNG_AT, now);
                return;
        case LADDER_OFF:
                return;
        }
}

/* ---- events ----------------------------------------------------------------------------- */

void modem_on_activity(struct modem *m, uint64_t now)
{
        m->last_rx = now;
        if (m->ladder == LADDER_HOLD) {
                m->ladder_deadline = silent_until(m, now);
                return;
        }
        if ((m->ladder != LADDER_PULSE && m->ladder != LADDER_WAIT_BOOT) || !ladder_in_upgrade(m))
                return;
        /* The module talks during an upgrade: it is alive, and the next rung would cut a module
         * that may be flashing. The ladder ends here; the upgrade's URCs decide what follows. */
        if (m->ladder == LADDER_PULSE)
                (void) gpio_set(m->gpio, rung_line(m->rung), false);
        log_notice("The module is talking during an upgrade: reset by %s ends here, no further rung",
                   modem_rung_to_string(m->rung));
        if (m->ops->reset_rung)
                m->ops->reset_rung(m->ud, m->rung, true);
        m->ladder_backoff = 0;
        ladder_end(m, now);
}

void modem_on_reboot(struct modem *m, uint64_t now)
{
        enum modem_reboot_cause cause;

        if (m->ladder == LADDER_WAIT_BOOT || m->ladder == LADDER_PULSE) {
                if (m->ladder == LADDER_PULSE)
                        (void) gpio_set(m->gpio, rung_line(m->rung), false);
                cause = rung_cause(m->rung);
                log_notice("Module came back after reset by %s", modem_rung_to_string(m->rung));
                if (m->ops->reset_rung)
                        m->ops->reset_rung(m->ud, m->rung, true);
                m->ladder = LADDER_OFF;
                m->ladder_backoff = 0;
        } else if (gate(m) != AT_GATE_OPEN) {
                cause = MODEM_REBOOT_UPGRADE;   /* expected: the update reboots it once or twice */
        } else {
                cause = MODEM_REBOOT_UNEXPECTED;
                log_warning("Module rebooted unexpectedly; initialising it again");
        }
        if (m->ladder == LADDER_BACKOFF) {
                m->ladder = LADDER_OFF;         /* it came back by itself */
                m->ladder_backoff = 0;
        }
        if (m->ops->rebooted)
                m->ops->rebooted(m->ud, cause);
        memset(&m->id, 0, sizeof(m->id));
        m->sync_inflight = false;               /* the channel failed it as rebooted */
        m->probe_inflight = false;
        if (m->ladder == LADDER_HOLD)
                return;         /* a table-2 reset still waits for silence; it ends in a sync */
        start_sync(m, now);
}

void modem_on_connected(struct modem *m, uint64_t now)
{
        m->connected = true;
        m->connected_since = now;
        if (m->ladder == LADDER_BACKOFF) {
                /* A tty that comes back is news: look at the module now, not after the back-off
                 * (which stays as long as it was, should the module still not answer). */
                m->ladder = LADDER_OFF;
        }
        if (m->ladder == LADDER_HOLD)
                m->ladder_deadline = silent_until(m, now);
        if (m->ladder == LADDER_OFF)
                start_sync(m, now);
}

void modem_on_disconnected(struct modem *m, uint64_t now)
{
        m->connected = false;
        m->sync_inflight = false;
        m->probe_inflight = false;
        m->retry_at = 0;
        m->init_retry_at = 0;
        m->restart_at = 0;
        if (m->ladder == LADDER_OFF)
                enter_state(m, MODEM_STATE_DISCONNECTED);
}

void modem_on_gate(struct modem *m, enum at_gate old, uint64_t now)
{
        enum at_gate g = gate(m);

        if (g == old)
                return;
        if (g == AT_GATE_CLOSED) {
                /* An upgrade started: whatever we were doing waits. A ladder we started ourselves
                 * stops (the module is evidently alive: it printed a FOTA URC). An initialised
                 * module stays READY: its LwM2M session lives on (the platform still needs it after
                 * a failed download), only the probes pause. */
                if (m->ladder != LADDER_OFF && !m->ladder_table2) {
                        if (m->ladder == LADDER_PULSE)
                                (void) gpio_set(m->gpio, rung_line(m->rung), false);
                        m->ladder = LADDER_OFF;
                }
                m->restart_at = 0;
                if (m->ladder == LADDER_OFF && m->state != MODEM_STATE_DISCONNECTED && m->state != MODEM_STATE_READY)
                        enter_state(m, MODEM_STATE_WAITING);
                return;
        }
        /* Downloaded/updating is over (END, a failed download, a time-out): a table-2 reset still
         * waiting for silence is moot. */
        modem_drop_reset(m, "the upgrade moved on");
        if (m->state == MODEM_STATE_WAITING && m->ladder == LADDER_OFF)
                start_sync(m, now);
        else if (m->state == MODEM_STATE_READY && g == AT_GATE_OPEN && m->cfg.probe_interval_usec)
                m->probe_at = now + m->cfg.probe_interval_usec;
}

void modem_reinit(struct modem *m, uint64_t now)
{
        if (m->ladder != LADDER_OFF)
                return;         /* the ladder ends in a sync anyway */
        start_sync(m, now);
}

void modem_tick(struct modem *m, uint64_t now)
{
        ladder_tick(m, now);
        if (m->retry_at && now >= m->retry_at && m->state == MODEM_STATE_SYNCING)
                sync_attempt(m, now);
        if (m->init_retry_at && now >= m->init_retry_at && m->state == MODEM_STATE_INITIALIZING)
                init_next(m, now);
        if (m->restart_at && now >= m->restart_at && m->state == MODEM_STATE_WAITING && m->ladder == LADDER_OFF)
                start_sync(m, now);
        if (m->state == MODEM_STATE_READY && m->probe_at && now >= m->probe_at && gate(m) == AT_GATE_OPEN)
                probe(m, now);
}

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
        if (!a)
                return b;
        if (!b)
                return a;
        return a < b ? a : b;
}

uint64_t modem_next_deadline(const struct modem *m)
{
        uint64_t d = 0;

        if (m->ladder != LADDER_OFF)
                d = min_deadline(d, m->ladder_deadline);
        if (m->state == MODEM_STATE_SYNCING)
                d = min_deadline(d, m->retry_at);
        if (m->state == MODEM_STATE_INITIALIZING)
                d = min_deadline(d, m->init_retry_at);
        if (m->state == MODEM_STATE_WAITING && m->ladder == LADDER_OFF)
                d = min_deadline(d, m->restart_at);
        if (m->state == MODEM_STATE_READY && gate(m) == AT_GATE_OPEN)
                d = min_deadline(d, m->probe_at);
        return d ? d : UINT64_MAX;
}

struct modem *modem_new(const struct modem_config *cfg, struct at_channel *ch, struct gpio *gpio,
                        const struct modem_ops *ops, void *ud)
{
        struct modem *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        m->cfg = *cfg;
        m->ch = ch;
        m->gpio = gpio;
        m->ops = ops;
        m->ud = ud;
        m->state = MODEM_STATE_DISCONNECTED;
        return m;
}

struct modem *modem_free(struct modem *m)
{
        if (m && m->ladder == LADDER_PULSE)
                (void) gpio_set(m->gpio, rung_line(m->rung), false);    /* never leave it asserted */
        free(m);
        return NULL;
}

enum modem_state modem_get_state(const struct modem *m)
{
        return m->state;
}

const struct modem_identity *modem_get_identity(const struct modem *m)
{
        return &m->id;
}

const char *modem_state_to_string(enum modem_state s)
{
        switch (s) {
        case MODEM_STATE_DISCONNECTED:  return "disconnected";
        case MODEM_STATE_SYNCING:       return "syncing";
        case MODEM_STATE_INITIALIZING:  return "initializing";
        case MODEM_STATE_READY:         return "ready";
        case MODEM_STATE_RESETTING:     return "resetting";
        case MODEM_STATE_WAITING:       return "waiting";
        }
        return "invalid";
}

const char *modem_reboot_cause_to_string(enum modem_reboot_cause c)
{
        switch (c) {
        case MODEM_REBOOT_AT_RESET:     return "at-reset";
        case MODEM_REBOOT_GPIO_RESET:   return "gpio-reset";
        case MODEM_REBOOT_PWRKEY:       return "pwrkey";
        case MODEM_REBOOT_UPGRADE:      return "upgrade";
        case MODEM_REBOOT_UNEXPECTED:   return "unexpected";
        }
        return "invalid";
}

const char *modem_rung_to_string(enum modem_rung r)
{
        switch (r) {
        case MODEM_RUNG_AT:             return "at";
        case MODEM_RUNG_GPIO_RESET:     return "gpio-reset";
        case MODEM_RUNG_PWRKEY:         return "pwrkey";
        }
        return "invalid";
}
