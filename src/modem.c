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

enum init_step {
        INIT_ECHO_OFF,
        INIT_CMEE,
        INIT_QSCLK,
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
        enum at_gate gate;
        bool connected;
        struct modem_identity id;

        /* sync / init */
        uint64_t sync_deadline;         /* give up syncing at this time */
        uint64_t retry_at;              /* next sync attempt (0: none scheduled) */
        bool sync_inflight;
        enum init_step step;
        bool ipr_autobaud;
        unsigned init_failures;

        /* liveness probe */
        uint64_t probe_at;
        bool probe_inflight;
        unsigned probe_failures;

        /* reset ladder */
        enum ladder_stage ladder;
        enum modem_rung rung;
        bool ladder_table2;
        uint64_t ladder_deadline;
        uint64_t ladder_backoff;
        char ladder_why[128];
};

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

static void unresponsive(struct modem *m, const char *why, uint64_t now)
{
        if (!at_gate_allows(m->gate, AT_CLASS_RESET, false)) {
                /* Never reset on our own during an upgrade: silence is expected there. */
                enter_state(m, MODEM_STATE_WAITING);
                return;
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
        if (!at_gate_allows(m->gate, AT_CLASS_INIT, false)) {
                enter_state(m, MODEM_STATE_WAITING);
                return;
        }
        enter_state(m, MODEM_STATE_SYNCING);
        m->sync_deadline = now + m->cfg.boot_timeout_usec;
        m->probe_inflight = false;
        if (!m->sync_inflight)
                sync_attempt(m, now);
}

/* ---- init ------------------------------------------------------------------------------- */

static void init_done(void *ud, const struct at_response *r);

/* The initialisation sequence; the IPR steps only when [modem] fix_baudrate asks for them. */
static const struct { enum at_cmd cmd; const char *text; const char *expect; } init_steps[] = {
        [INIT_ECHO_OFF] = { AT_CMD_ECHO_OFF, "ATE0", NULL },
        [INIT_CMEE]     = { AT_CMD_CMEE, "AT+CMEE=1", NULL },
        [INIT_QSCLK]    = { AT_CMD_QSCLK, "AT+QSCLK=0", NULL },
        [INIT_ATI]      = { AT_CMD_ATI, "ATI", NULL },
        [INIT_CGMR]     = { AT_CMD_CGMR, "AT+CGMR", NULL },
        [INIT_CGSN]     = { AT_CMD_CGSN, "AT+CGSN=1", "+CGSN:" },
        [INIT_IPR_READ] = { AT_CMD_IPR_READ, "AT+IPR?", "+IPR:" },
        [INIT_IPR_SET]  = { AT_CMD_IPR_SET, NULL, NULL },
        [INIT_SAVE]     = { AT_CMD_SAVE, "AT&W", NULL },
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
        while ((m->step == INIT_IPR_READ && (!m->cfg.fix_baudrate || m->gate != AT_GATE_OPEN)) ||
               ((m->step == INIT_IPR_SET || m->step == INIT_SAVE) && !m->ipr_autobaud))
                m->step++;

        if (m->step == INIT_DONE) {
                char buf[LOG_REDACT_MAX];

                m->init_failures = 0;
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
        if (m->step == INIT_IPR_SET) {
                snprintf(text, sizeof(text), "AT+IPR=%u", m->cfg.baudrate);
                req.text = text;
        }
        r = at_channel_submit(m->ch, &req, now);
        if (r == -EBUSY)
                enter_state(m, MODEM_STATE_WAITING);
        else if (r < 0)
                start_sync(m, now);     /* no tty or queue trouble: start over, bounded by sync */
}

static void parse_identity(struct modem *m, enum init_step step, const struct at_response *r)
{
        const char *v;

        for (size_t i = 0; i < r->n_lines; i++) {
                const char *line = r->lines[i];

                switch (step) {
                case INIT_ATI:
                        if ((v = skip_prefix(line, "Revision:")))
                                copy_id(m->id.revision, v);
                        else if (i == 0)
                                copy_id(m->id.manufacturer, line);
                        else if (i == 1)
                                copy_id(m->id.model, line);
                        break;
                case INIT_CGMR:
                        if ((v = skip_prefix(line, "Revision:")))
                                copy_id(m->id.revision, v);
                        break;
                case INIT_CGSN:
                        v = skip_prefix(line, "+CGSN:");
                        copy_id(m->id.imei, v ? v : line);
                        break;
                case INIT_IPR_READ:
                        if ((v = skip_prefix(line, "+IPR:")))
                                m->ipr_autobaud = strcmp(v, "0") == 0;
                        break;
                case INIT_ECHO_OFF:
                case INIT_CMEE:
                case INIT_QSCLK:
                case INIT_IPR_SET:
                case INIT_SAVE:
                case INIT_DONE:
                        break;
                }
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
         * ladder waits for the reboot evidence until its deadline. */
}

/* Try one rung; false if it cannot be used here (no tty, no GPIO line, gate). */
static bool ladder_try(struct modem *m, enum modem_rung rung, uint64_t now)
{
        m->rung = rung;
        if (!at_gate_allows(m->gate, AT_CLASS_RESET, m->ladder_table2))
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
                m->ladder_deadline = now + m->cfg.boot_timeout_usec;
                return true;
        }
        if (!gpio_has_line(m->gpio, rung_line(rung)))
                return false;
        if (gpio_set(m->gpio, rung_line(rung), true) < 0)
                return false;
        if (m->ops->reset_attempt)
                m->ops->reset_attempt(m->ud, rung, m->ladder_why);
        m->ladder = LADDER_PULSE;
        m->ladder_deadline = now + (rung == MODEM_RUNG_PWRKEY ? m->cfg.pwrkey_pulse_usec : m->cfg.reset_pulse_usec);
        return true;
}

static void ladder_from(struct modem *m, enum modem_rung first, uint64_t now)
{
        for (unsigned r = first; r <= MODEM_RUNG_PWRKEY; r++)
                if (ladder_try(m, (enum modem_rung) r, now))
                        return;

        /* No rung brought the module back. A table-2 reset is ordered once (then the second
         * window waits for END); only our own resets retry with back-off. */
        if (m->ladder_table2) {
                log_warning("The table-2 reset did not bring the module back; waiting for END as guide table 2 says");
                m->ladder = LADDER_OFF;
                enter_state(m, m->gate == AT_GATE_CLOSED ? MODEM_STATE_WAITING : m->state);
                if (m->gate != AT_GATE_CLOSED)
                        start_sync(m, now);
                return;
        }
        if (!at_gate_allows(m->gate, AT_CLASS_RESET, m->ladder_table2)) {
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
        m->ladder_deadline = now + m->ladder_backoff;
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

int modem_reset(struct modem *m, const char *why, bool table2, uint64_t now)
{
        if (m->ladder == LADDER_PULSE || m->ladder == LADDER_WAIT_BOOT)
                return -EALREADY;
        if (!at_gate_allows(m->gate, AT_CLASS_RESET, table2))
                return -EBUSY;
        snprintf(m->ladder_why, sizeof(m->ladder_why), "%s", why);
        m->ladder_table2 = table2;
        if (m->ladder != LADDER_BACKOFF)
                m->ladder_backoff = 0;
        if (!gpio_has_line(m->gpio, GPIO_LINE_RESET) && !gpio_has_line(m->gpio, GPIO_LINE_PWRKEY))
                log_notice("No [gpio] reset or pwrkey line configured: AT+QRST=1 is the only reset available");
        enter_state(m, MODEM_STATE_RESETTING);
        ladder_from(m, MODEM_RUNG_AT, now);
        return 0;
}

static void ladder_tick(struct modem *m, uint64_t now)
{
        if (m->ladder == LADDER_OFF || now < m->ladder_deadline)
                return;
        switch (m->ladder) {
        case LADDER_PULSE:
                (void) gpio_set(m->gpio, rung_line(m->rung), false);
                m->ladder = LADDER_WAIT_BOOT;
                m->ladder_deadline = now + m->cfg.boot_timeout_usec;
                return;
        case LADDER_WAIT_BOOT:
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
        } else if (m->gate != AT_GATE_OPEN) {
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
        start_sync(m, now);
}

void modem_on_connected(struct modem *m, uint64_t now)
{
        m->connected = true;
        if (m->ladder == LADDER_OFF)
                start_sync(m, now);
}

void modem_on_disconnected(struct modem *m, uint64_t now)
{
        m->connected = false;
        m->sync_inflight = false;
        m->probe_inflight = false;
        m->retry_at = 0;
        if (m->ladder == LADDER_OFF)
                enter_state(m, MODEM_STATE_DISCONNECTED);
}

void modem_on_gate(struct modem *m, enum at_gate gate, uint64_t now)
{
        enum at_gate old = m->gate;

        m->gate = gate;
        if (gate == old)
                return;
        if (gate == AT_GATE_CLOSED) {
                /* An upgrade started: whatever we were doing waits. A ladder we started ourselves
                 * stops (the module is evidently alive: it printed a FOTA URC). An initialised
                 * module stays READY: its LwM2M session lives on (the platform still needs it after
                 * a failed download), only the probes pause. */
                if (m->ladder != LADDER_OFF && !m->ladder_table2) {
                        if (m->ladder == LADDER_PULSE)
                                (void) gpio_set(m->gpio, rung_line(m->rung), false);
                        m->ladder = LADDER_OFF;
                }
                if (m->ladder == LADDER_OFF && m->state != MODEM_STATE_DISCONNECTED && m->state != MODEM_STATE_READY)
                        enter_state(m, MODEM_STATE_WAITING);
                return;
        }
        if (m->state == MODEM_STATE_WAITING)
                start_sync(m, now);
        else if (m->state == MODEM_STATE_READY && gate == AT_GATE_OPEN && m->cfg.probe_interval_usec)
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
        if (m->state == MODEM_STATE_READY && m->probe_at && now >= m->probe_at && m->gate == AT_GATE_OPEN)
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
        if (m->state == MODEM_STATE_READY && m->gate == AT_GATE_OPEN)
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
        m->gate = AT_GATE_OPEN;
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
