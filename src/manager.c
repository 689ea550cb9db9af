/* manager.c - start-up order, event routing and teardown. Every event (tty bytes, the deadline
 * timer, signals) is translated into a call on a core with the current CLOCK_BOOTTIME time; after
 * each one, the single deadline timer is re-armed for the earliest deadline any core reports. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "at-channel.h"
#include "clock.h"
#include "gpio.h"
#include "log.h"
#include "manager.h"
#include "modem.h"
#include "serial.h"

struct manager {
        struct config cfg;
        char *state_dir;

        struct event_base *base;
        struct event *ev_timer;
        struct event *ev_sigterm, *ev_sigint;

        struct gpio *gpio;
        struct serial *serial;
        struct at_channel *ch;
        struct modem *modem;
};

static void schedule(struct manager *m)
{
        uint64_t now = clock_boottime_usec();
        uint64_t d = at_channel_next_deadline(m->ch);
        uint64_t md = modem_next_deadline(m->modem);
        struct timeval tv;

        if (md < d)
                d = md;
        if (d == UINT64_MAX) {
                evtimer_del(m->ev_timer);       /* nothing to wait for: no periodic wake-ups */
                return;
        }
        d = d > now ? d - now : 0;
        tv.tv_sec = (time_t) (d / USEC_PER_SEC);
        tv.tv_usec = (suseconds_t) (d % USEC_PER_SEC);
        evtimer_add(m->ev_timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
        struct manager *m = arg;
        uint64_t now = clock_boottime_usec();

        at_channel_tick(m->ch, now);
        modem_tick(m->modem, now);
        schedule(m);
}

/* ---- AT channel -> manager ---------------------------------------------------------------- */

static int ch_write(void *ud, const void *buf, size_t len)
{
        struct manager *m = ud;
        size_t n = len;

        /* Commands are logged without the CR; data payloads are not personal data. */
        while (n > 0 && (((const char *) buf)[n - 1] == '\r'))
                n--;
        log_debug("-> %.*s", (int) n, (const char *) buf);
        return serial_write(m->serial, buf, len);
}

static void ch_line(void *ud, const char *text, const struct at_line *l, uint64_t now)
{
        switch (l->cls) {
        case AT_LINE_URC:
                log_debug("<- URC %s: %s", urc_type_to_string(l->urc.type), text);
                return;
        case AT_LINE_ASYNC:
                log_debug("<- %s", text);
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

        modem_on_reboot(m->modem, now);
}

static const struct at_channel_ops channel_ops = {
        .write = ch_write,
        .line = ch_line,
        .reboot = ch_reboot,
};

/* ---- serial -> manager ------------------------------------------------------------------- */

static void serial_data(void *ud, const void *buf, size_t n)
{
        struct manager *m = ud;

        at_channel_feed(m->ch, buf, n, clock_boottime_usec());
        schedule(m);
}

static void serial_connected(void *ud)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();

        at_channel_set_connected(m->ch, true, now);
        modem_on_connected(m->modem, now);
        schedule(m);
}

static void serial_disconnected(void *ud)
{
        struct manager *m = ud;
        uint64_t now = clock_boottime_usec();

        at_channel_set_connected(m->ch, false, now);
        modem_on_disconnected(m->modem, now);
        schedule(m);
}

static const struct serial_ops serial_ops = {
        .data = serial_data,
        .connected = serial_connected,
        .disconnected = serial_disconnected,
};

/* ---- modem -> manager -------------------------------------------------------------------- */

static void modem_state_changed(void *ud, enum modem_state old, enum modem_state new_state)
{
        log_info("Module %s", modem_state_to_string(new_state));
}

static void modem_rebooted(void *ud, enum modem_reboot_cause cause)
{
        log_debug("Module rebooted (cause: %s)", modem_reboot_cause_to_string(cause));
}

static void modem_reset_rung(void *ud, enum modem_rung rung, bool recovered)
{
        log_notice("Reset rung %s: module %s", modem_rung_to_string(rung), recovered ? "came back" : "did not come back");
}

static const struct modem_ops modem_ops = {
        .state_changed = modem_state_changed,
        .rebooted = modem_rebooted,
        .reset_rung = modem_reset_rung,
};

/* ---- lifecycle --------------------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
        struct manager *m = arg;

        log_info("Received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        event_base_loopbreak(m->base);
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
        };
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
        r = gpio_open(cfg, &m->gpio);
        if (r < 0)
                goto fail;
        m->base = event_base_new();
        if (!m->base) {
                r = -ENOMEM;
                goto fail;
        }
        m->ev_timer = evtimer_new(m->base, on_timer, m);
        m->ev_sigterm = evsignal_new(m->base, SIGTERM, on_signal, m);
        m->ev_sigint = evsignal_new(m->base, SIGINT, on_signal, m);
        m->ch = at_channel_new(&channel_ops, m, cfg->boot_timeout_s * USEC_PER_SEC);
        m->serial = serial_new(m->base, cfg->device, cfg->baudrate, &serial_ops, m);
        if (!m->ev_timer || !m->ev_sigterm || !m->ev_sigint || !m->ch || !m->serial) {
                r = -ENOMEM;
                goto fail;
        }
        m->modem = modem_new(&mc, m->ch, m->gpio, &modem_ops, m);
        if (!m->modem) {
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
        modem_free(m->modem);
        serial_free(m->serial);
        at_channel_free(m->ch);
        if (m->ev_sigint)
                event_free(m->ev_sigint);
        if (m->ev_sigterm)
                event_free(m->ev_sigterm);
        if (m->ev_timer)
                event_free(m->ev_timer);
        if (m->base)
                event_base_free(m->base);
        gpio_close(m->gpio);
        free(m->state_dir);
        free(m);
        return NULL;
}

int manager_run(struct manager *m)
{
        if (evsignal_add(m->ev_sigterm, NULL) < 0 || evsignal_add(m->ev_sigint, NULL) < 0)
                return -EIO;
        serial_start(m->serial);
        schedule(m);
        if (event_base_dispatch(m->base) < 0)
                return -EIO;
        return 0;
}
