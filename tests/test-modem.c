/* test-modem.c - Check suite for the module supervisor: init sequence and identity, commands the
 * module does not answer, sync failure -> reset ladder, reboots in and out of upgrades, the gate,
 * the table-2 reset and its silence rule, the baud fix, liveness probes. Real AT channel, fake
 * tty, fake clock; the GPIO rungs go to the fake backend (a temporary file). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpio.h"
#include "modem.h"

#define MS 1000ULL
#define S (1000 * MS)

struct fx {
        struct at_channel *ch;
        struct modem *m;
        struct gpio *gpio;
        char gpio_log[64];              /* the fake GPIO backend's record, "" if none */
        char written[16384];
        enum modem_state state;
        int n_ready;
        enum modem_reboot_cause causes[8];
        int n_reboots;
        enum modem_rung rungs[8];
        int n_attempts;
        int n_recovered, n_failed;      /* reset_rung outcomes */
        int n_probed;                   /* answered liveness probes (ops->probed) */
        uint64_t now;
};

static int fx_write(void *ud, const void *buf, size_t len)
{
        struct fx *f = ud;

        ck_assert_uint_lt(strlen(f->written) + len, sizeof(f->written));
        strncat(f->written, buf, len);
        return 0;
}

static void fx_reboot(void *ud, uint64_t now)
{
        struct fx *f = ud;

        modem_on_reboot(f->m, now);
}

static const struct at_channel_ops ch_ops = { .write = fx_write, .reboot = fx_reboot };

static void st_changed(void *ud, enum modem_state old, enum modem_state s)
{
        struct fx *f = ud;

        f->state = s;
        if (s == MODEM_STATE_READY)
                f->n_ready++;
}

static void rebooted(void *ud, enum modem_reboot_cause c)
{
        struct fx *f = ud;

        f->causes[f->n_reboots++ % 8] = c;
}

static void attempt(void *ud, enum modem_rung r, const char *why)
{
        struct fx *f = ud;

        f->rungs[f->n_attempts++ % 8] = r;
}

static void rung_outcome(void *ud, enum modem_rung r, bool recovered)
{
        struct fx *f = ud;

        if (recovered)
                f->n_recovered++;
        else
                f->n_failed++;
}

static void probed(void *ud, uint64_t now)
{
        struct fx *f = ud;

        f->n_probed++;
}

static const struct modem_ops m_ops = {
        .state_changed = st_changed, .rebooted = rebooted, .reset_attempt = attempt,
        .reset_rung = rung_outcome, .probed = probed,
};

struct fx_opts {
        bool fix_baud;
        uint64_t probe;
        bool gpio;              /* RESET_N and PWRKEY on the fake backend */
        const char *gpio_path;  /* its record: NULL = a temporary file (/dev/full: every set fails) */
        bool need_imei;
};

static void setup_opts(struct fx *f, const struct fx_opts *o)
{
        struct modem_config mc = {
                .command_timeout_usec = 300 * MS, .boot_timeout_usec = 3 * S, .probe_interval_usec = o->probe,
                .fix_baudrate = o->fix_baud, .baudrate = 115200, .reset_pulse_usec = 100 * MS,
                .pwrkey_pulse_usec = 600 * MS, .need_imei = o->need_imei,
        };

        memset(f, 0, sizeof(*f));
        if (o->gpio) {
                struct config cfg;
                int fd;

                memset(&cfg, 0, sizeof(cfg));
                snprintf(cfg.reset.name, sizeof(cfg.reset.name), "0");
                snprintf(cfg.pwrkey.name, sizeof(cfg.pwrkey.name), "1");
                if (!o->gpio_path) {
                        snprintf(f->gpio_log, sizeof(f->gpio_log), "/tmp/test-modem-gpio.XXXXXX");
                        fd = mkstemp(f->gpio_log);
                        ck_assert_int_ge(fd, 0);
                        close(fd);
                }
                ck_assert_int_eq(setenv(GPIO_FAKE_ENV, o->gpio_path ? o->gpio_path : f->gpio_log, 1), 0);
                ck_assert_int_eq(gpio_open(&cfg, &f->gpio), 0);
                ck_assert_ptr_nonnull(f->gpio);
                unsetenv(GPIO_FAKE_ENV);
        }
        f->ch = at_channel_new(&ch_ops, f, 3 * S);
        f->m = modem_new(&mc, f->ch, f->gpio, &m_ops, f);
        at_channel_set_connected(f->ch, true, 0);
        modem_on_connected(f->m, 0);
}

static void setup(struct fx *f, bool fix_baud, uint64_t probe)
{
        struct fx_opts o = { .fix_baud = fix_baud, .probe = probe };

        setup_opts(f, &o);
}

static void teardown(struct fx *f)
{
        modem_free(f->m);
        at_channel_free(f->ch);
        gpio_close(f->gpio);
        if (f->gpio_log[0])
                unlink(f->gpio_log);
}

/* Level changes the fake GPIO backend recorded that contain what (e.g. "reset active"). */
static int gpio_count(const struct fx *f, const char *what)
{
        char line[128];
        int n = 0;
        FILE *fp = fopen(f->gpio_log, "r");

        ck_assert_ptr_nonnull(fp);
        while (fgets(line, sizeof(line), fp))
                n += strstr(line, what) != NULL;
        fclose(fp);
        return n;
}

/* The module prints: feed text, advance the fake clock a little (the manager's order: activity,
 * then the bytes). */
static void feed(struct fx *f, const char *s)
{
        f->now += 10 * MS;
        modem_on_activity(f->m, f->now);
        at_channel_feed(f->ch, s, strlen(s), f->now);
}

/* Change the channel's gate and tell the supervisor, as the manager does. */
static void set_gate(struct fx *f, enum at_gate g)
{
        enum at_gate old = at_channel_get_gate(f->ch);

        if (at_channel_set_gate(f->ch, g, f->now))
                modem_on_gate(f->m, old, f->now);
}



/* Time passes: tick the channel and the supervisor. */
static void advance(struct fx *f, uint64_t usec)
{
        f->now += usec;
        at_channel_tick(f->ch, f->now);
        modem_tick(f->m, f->now);
}

/* The last command written, without CR. */
static const char *last(struct fx *f)
{
        static char buf[256];
        size_t n = strlen(f->written);
        const char *p;

        if (n == 0)
                return "";
        buf[0] = '\0';
        for (p = f->written + n - 1; p > f->written && p[-1] != '\r'; p--)
                ;
        snprintf(buf, sizeof(buf), "%.*s", (int) (f->written + n - 1 - p), p);
        return buf;
}

static void answer_resync(struct fx *f)
{
        ck_assert_str_eq(last(f), "AT+CMEE?");
        feed(f, "\r\n+CMEE: 1\r\n\r\nOK\r\n");
}

static void answer_init(struct fx *f)
{
        ck_assert_str_eq(last(f), "AT");
        feed(f, "AT\r\r\nOK\r\n");
        ck_assert_str_eq(last(f), "ATE0");
        feed(f, "ATE0\r\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+CMEE=1");
        feed(f, "\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+QSCLK=0");
        feed(f, "\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+CEREG=5");
        feed(f, "\r\nOK\r\n");
        ck_assert_str_eq(last(f), "ATI");
        feed(f, "\r\nQuectel_Ltd\r\nQuectel_BC26\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+CGMR");
        feed(f, "\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+CGSN=1");
        feed(f, "\r\n+CGSN: 866971030399922\r\n\r\nOK\r\n");
}

START_TEST(test_init_and_identity)
{
        struct fx f;

        setup(&f, false, 0);
        answer_init(&f);
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        ck_assert_str_eq(modem_get_identity(f.m)->manufacturer, "Quectel_Ltd");
        ck_assert_str_eq(modem_get_identity(f.m)->model, "Quectel_BC26");
        ck_assert_str_eq(modem_get_identity(f.m)->revision, "BC26NBR01A06");
        ck_assert_str_eq(modem_get_identity(f.m)->imei, "866971030399922");
        ck_assert_uint_eq(modem_next_deadline(f.m), UINT64_MAX);      /* no probe: no timer */
        teardown(&f);
}
END_TEST

START_TEST(test_unanswered_optional_command)
{
        struct fx f;

        setup(&f, false, 0);
        feed(&f, "\r\nOK\r\n");
        feed(&f, "\r\nOK\r\n");
        feed(&f, "\r\nOK\r\n");
        feed(&f, "\r\nOK\r\n");                 /* QSCLK */
        feed(&f, "\r\nOK\r\n");                 /* CEREG=5 */
        ck_assert_str_eq(last(&f), "ATI");
        advance(&f, 300 * MS);                  /* ATI never answered: skipped */
        answer_resync(&f);
        ck_assert_str_eq(last(&f), "AT+CGMR");
        feed(&f, "\r\nERROR\r\n");              /* refused: continue too */
        ck_assert_str_eq(last(&f), "AT+CGSN=1");
        feed(&f, "\r\n+CGSN: 1\r\n\r\nOK\r\n");
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        ck_assert_int_eq(f.n_attempts, 0);
        teardown(&f);
}
END_TEST

START_TEST(test_silent_module_starts_ladder)
{
        struct fx f;

        setup(&f, false, 0);
        for (int i = 0; i < 20 && f.state == MODEM_STATE_SYNCING; i++)
                advance(&f, 300 * MS);
        ck_assert_int_eq(f.state, MODEM_STATE_RESETTING);
        ck_assert_str_eq(last(&f), "AT+QRST=1");
        ck_assert_int_eq(f.n_attempts, 1);
        ck_assert_int_eq(f.rungs[0], MODEM_RUNG_AT);
        /* The module reboots: recovered by the AT rung, synced again. */
        feed(&f, "\n\rF1: 0000 0000\n\rLeaving the BROM\n\r\r\nRDY\r\n");
        ck_assert_int_eq(f.n_reboots, 1);
        ck_assert_int_eq(f.causes[0], MODEM_REBOOT_AT_RESET);
        ck_assert_int_eq(f.state, MODEM_STATE_SYNCING);
        answer_init(&f);
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        teardown(&f);
}
END_TEST

START_TEST(test_ladder_without_gpio_backs_off)
{
        struct fx f;
        uint64_t d;

        setup(&f, false, 0);
        ck_assert_int_eq(modem_reset(f.m, "test", false, f.now), 0);
        ck_assert_int_eq(modem_reset(f.m, "again", false, f.now), -EALREADY);
        advance(&f, 3 * S);                     /* no reboot within boot_timeout; no GPIO rungs */
        d = modem_next_deadline(f.m);
        ck_assert_uint_eq(d, f.now + 9 * S);    /* backing off 3 x boot_timeout, never spinning */
        ck_assert_int_eq(f.n_attempts, 1);
        advance(&f, d - f.now);
        ck_assert_int_eq(f.n_attempts, 2);      /* the ladder again */
        /* Each failed round doubles the back-off, capped at 10 minutes. */
        for (uint64_t want = 18 * S; f.n_attempts < 10; want = want * 2 < 600 * S ? want * 2 : 600 * S) {
                advance(&f, 3 * S);
                d = modem_next_deadline(f.m);
                ck_assert_uint_eq(d, f.now + want);
                advance(&f, d - f.now);
        }
        teardown(&f);
}
END_TEST

START_TEST(test_reboots_and_gate)
{
        struct fx f;

        setup(&f, false, 0);
        answer_init(&f);
        /* Unexpected reboot while idle: reported, re-initialised. */
        feed(&f, "\r\nRDY\r\n");
        ck_assert_int_eq(f.causes[0], MODEM_REBOOT_UNEXPECTED);
        ck_assert_int_eq(f.state, MODEM_STATE_SYNCING);
        answer_init(&f);

        /* An upgrade: the gate closes, the module stays READY and nothing is written. */
        f.written[0] = '\0';
        set_gate(&f, AT_GATE_CLOSED);
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        ck_assert_int_eq(modem_reset(f.m, "nobody ordered this", false, f.now), -EBUSY);
        feed(&f, "\n\rF1: 0000 0000\n\rLeaving the BROM\n\r");
        ck_assert_int_eq(f.causes[1], MODEM_REBOOT_UPGRADE);
        ck_assert_int_eq(f.state, MODEM_STATE_WAITING);
        advance(&f, 60 * S);
        ck_assert_str_eq(f.written, "");
        /* Table 2 orders a reset: it passes the closed gate. */
        ck_assert_int_eq(modem_reset(f.m, "table 2", true, f.now), 0);
        ck_assert_str_eq(f.written, "AT+QRST=1\r");
        advance(&f, 3 * S);                     /* no answer: no GPIO, the table-2 ladder ends */
        ck_assert_int_eq(f.state, MODEM_STATE_WAITING);
        advance(&f, 600 * S);
        ck_assert_str_eq(f.written, "AT+QRST=1\r");     /* never retried on its own */
        /* Reporting: init allowed again. */
        set_gate(&f, AT_GATE_REPORTING);
        answer_resync(&f);                      /* the unanswered AT+QRST=1 may still answer */
        ck_assert_str_eq(last(&f), "AT");
        teardown(&f);
}
END_TEST

START_TEST(test_baud_fix)
{
        struct fx f;

        setup(&f, true, 0);
        answer_init(&f);
        ck_assert_str_eq(last(&f), "AT+IPR?");
        feed(&f, "\r\n+IPR: 0\r\n\r\nOK\r\n");
        ck_assert_str_eq(last(&f), "AT+IPR=115200");
        feed(&f, "\r\nOK\r\n");
        ck_assert_str_eq(last(&f), "AT&W");
        feed(&f, "\r\nOK\r\n");
        ck_assert_int_eq(f.state, MODEM_STATE_READY);

        /* A fixed rate: no IPR=, no AT&W. */
        feed(&f, "\r\nRDY\r\n");
        answer_init(&f);
        ck_assert_str_eq(last(&f), "AT+IPR?");
        feed(&f, "\r\n+IPR: 115200\r\n\r\nOK\r\n");
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        ck_assert_str_eq(last(&f), "AT+IPR?");
        teardown(&f);
}
END_TEST

START_TEST(test_probe)
{
        struct fx f;

        setup(&f, false, 60 * S);
        answer_init(&f);
        ck_assert_uint_eq(modem_next_deadline(f.m), f.now + 60 * S);
        ck_assert_int_eq(f.n_probed, 0);
        advance(&f, 60 * S);
        ck_assert_str_eq(last(&f), "AT");
        feed(&f, "\r\nOK\r\n");
        /* An answered probe is announced once: the radio readings ride on it (no timer of theirs). */
        ck_assert_int_eq(f.n_probed, 1);
        for (int i = 0; i < 3; i++) {
                advance(&f, modem_next_deadline(f.m) - f.now);
                /* After an unanswered probe the channel resynchronises first; unanswered too,
                 * the probe counts as failed. */
                ck_assert_str_eq(last(&f), i == 0 ? "AT" : "AT+CMEE?");
                ck_assert_int_eq(f.state, MODEM_STATE_READY);
                advance(&f, 300 * MS);          /* unanswered */
        }
        ck_assert_int_eq(f.state, MODEM_STATE_RESETTING);
        ck_assert_str_eq(last(&f), "AT+QRST=1");
        ck_assert_int_eq(f.n_probed, 1);                /* unanswered probes are not */
        teardown(&f);
}
END_TEST

/* Answer the init sequence up to AT+CEREG=5, leaving ATI in flight. */
static void answer_until_ati(struct fx *f)
{
        feed(f, "AT\r\r\nOK\r\n");
        feed(f, "ATE0\r\r\nOK\r\n");
        feed(f, "\r\nOK\r\n");
        feed(f, "\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+CEREG=5");
        feed(f, "\r\nOK\r\n");
        ck_assert_str_eq(last(f), "ATI");
}

/* Answer the init sequence up to AT+QSCLK=0, leaving AT+CEREG=5 in flight. */
static void answer_until_cereg(struct fx *f)
{
        feed(f, "AT\r\r\nOK\r\n");
        feed(f, "ATE0\r\r\nOK\r\n");
        feed(f, "\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+QSCLK=0");
        feed(f, "\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+CEREG=5");
}

/* The rest of the init after the +CEREG step: identity, then READY. */
static void answer_identity(struct fx *f)
{
        ck_assert_str_eq(last(f), "ATI");
        feed(f, "\r\nQuectel_Ltd\r\nQuectel_BC26\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+CGMR");
        feed(f, "\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n");
        ck_assert_str_eq(last(f), "AT+CGSN=1");
        feed(f, "\r\n+CGSN: 866971030399922\r\n\r\nOK\r\n");
        ck_assert_int_eq(f->state, MODEM_STATE_READY);
}

/* Issue 11: AT+CEREG=5 during init so registration and cell changes arrive as URCs; a module that
 * accepts it is asked nothing else about +CEREG. */
START_TEST(test_cereg5_accepted)
{
        struct fx f;

        setup(&f, false, 0);
        answer_until_cereg(&f);
        feed(&f, "\r\nOK\r\n");
        answer_identity(&f);
        ck_assert_ptr_null(strstr(f.written, "AT+CEREG=2"));
        ck_assert_ptr_nonnull(strstr(f.written, "AT+QSCLK=0\rAT+CEREG=5\rATI\r"));
        teardown(&f);
}
END_TEST

/* A module that refuses mode 5 (ERROR or +CME ERROR) is asked for mode 2. */
START_TEST(test_cereg5_refused_falls_back_to_2)
{
        struct fx f;

        setup(&f, false, 0);
        answer_until_cereg(&f);
        feed(&f, _i == 0 ? "\r\nERROR\r\n" : "\r\n+CME ERROR: 4\r\n");
        ck_assert_str_eq(last(&f), "AT+CEREG=2");
        ck_assert_int_eq(f.state, MODEM_STATE_INITIALIZING);
        feed(&f, "\r\nOK\r\n");
        answer_identity(&f);
        ck_assert_ptr_nonnull(strstr(f.written, "AT+CEREG=5\rAT+CEREG=2\rATI\r"));
        /* The next initialisation (after a reboot) tries 5 again: a new firmware may take it. */
        feed(&f, "\r\nRDY\r\n");
        f.written[0] = '\0';
        answer_until_cereg(&f);
        teardown(&f);
}
END_TEST

/* Neither mode: a warning, and the init completes all the same. */
START_TEST(test_cereg_both_refused_init_completes)
{
        struct fx f;

        setup(&f, false, 0);
        answer_until_cereg(&f);
        feed(&f, "\r\nERROR\r\n");
        ck_assert_str_eq(last(&f), "AT+CEREG=2");
        feed(&f, "\r\n+CME ERROR: 3\r\n");
        answer_identity(&f);
        ck_assert_int_eq(f.n_ready, 1);
        ck_assert_int_eq(f.n_attempts, 0);
        /* Exactly one try of each. */
        ck_assert_ptr_null(strstr(strstr(f.written, "AT+CEREG=2") + 1, "AT+CEREG="));
        teardown(&f);
}
END_TEST

/* Unanswered: like any optional init command, skipped after its timeout. */
START_TEST(test_cereg_unanswered_skipped)
{
        struct fx f;

        setup(&f, false, 0);
        answer_until_cereg(&f);
        advance(&f, 300 * MS);
        answer_resync(&f);
        answer_identity(&f);
        ck_assert_ptr_null(strstr(f.written, "AT+CEREG=2"));
        teardown(&f);
}
END_TEST

/* Findings 2 and 4: a module slow after a boot answers ATI and AT+CGMR after their timeouts; the
 * late lines never become the IMEI, and an AT+CGSN=1 without "+CGSN: <15 digits>" is asked again
 * (the IMEI is the endpoint name) instead of registering without one. */
START_TEST(test_slow_module_imei_only_from_cgsn)
{
        struct fx f;
        struct fx_opts o = { .need_imei = true };

        setup_opts(&f, &o);
        answer_until_ati(&f);
        advance(&f, 300 * MS);
        ck_assert_str_eq(last(&f), "AT+CMEE?");
        feed(&f, "\r\nQuectel_Ltd\r\nQuectel_BC26\r\nRevision: BC26NBR01A07\r\n\r\nOK\r\n");    /* late */
        answer_resync(&f);
        ck_assert_str_eq(last(&f), "AT+CGMR");
        advance(&f, 300 * MS);
        feed(&f, "\r\nRevision: BC26NBR01A07\r\n\r\nOK\r\n");                                   /* late */
        ck_assert_str_eq(last(&f), "AT+CMEE?");
        answer_resync(&f);
        ck_assert_str_eq(last(&f), "AT+CGSN=1");
        /* A stray Revision line and an OK: no IMEI in it. */
        feed(&f, "\r\nRevision: BC26NBR01A07\r\n\r\nOK\r\n");
        ck_assert_int_eq(f.state, MODEM_STATE_INITIALIZING);
        ck_assert_str_eq(modem_get_identity(f.m)->imei, "");
        ck_assert_uint_eq(modem_next_deadline(f.m), f.now + 600 * MS);
        advance(&f, 600 * MS);
        ck_assert_str_eq(last(&f), "AT+CGSN=1");
        feed(&f, "\r\n+CGSN: 866971030399922\r\n\r\nOK\r\n");
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        ck_assert_str_eq(modem_get_identity(f.m)->imei, "866971030399922");
        ck_assert_str_ne(modem_get_identity(f.m)->imei, "Revision: BC26NBR01A07");
        teardown(&f);
}
END_TEST

/* Finding 4: AT+CGSN=1 answered ERROR is retried with back-off, then the whole initialisation
 * runs again; never READY without the IMEI the endpoint needs. */
START_TEST(test_cgsn_error_retried)
{
        struct fx f;
        struct fx_opts o = { .need_imei = true };

        setup_opts(&f, &o);
        answer_until_ati(&f);
        feed(&f, "\r\nQuectel_Ltd\r\nQuectel_BC26\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n");
        feed(&f, "\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n");
        for (uint64_t delay = 600 * MS; delay <= 1200 * MS; delay *= 2) {
                ck_assert_str_eq(last(&f), "AT+CGSN=1");
                feed(&f, "\r\nERROR\r\n");
                ck_assert_int_eq(f.state, MODEM_STATE_INITIALIZING);
                ck_assert_uint_eq(modem_next_deadline(f.m), f.now + delay);
                advance(&f, delay);
        }
        ck_assert_str_eq(last(&f), "AT+CGSN=1");
        feed(&f, "\r\nERROR\r\n");              /* the third: initialise again */
        ck_assert_int_eq(f.state, MODEM_STATE_SYNCING);
        ck_assert_int_eq(f.n_ready, 0);
        answer_init(&f);
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        ck_assert_str_eq(modem_get_identity(f.m)->imei, "866971030399922");
        teardown(&f);
}
END_TEST

/* Finding 6: in reporting, a sync that fails is retried with back-off (never a reset, never a
 * state without a deadline), so the platform learns the result as soon as the module answers. */
START_TEST(test_reporting_sync_retries)
{
        struct fx f;

        setup(&f, false, 0);
        answer_init(&f);
        set_gate(&f, AT_GATE_CLOSED);
        feed(&f, "\n\rF1: 0000 0000\n\rLeaving the BROM\n\r");
        ck_assert_int_eq(f.state, MODEM_STATE_WAITING);
        set_gate(&f, AT_GATE_REPORTING);
        ck_assert_int_eq(f.state, MODEM_STATE_SYNCING);
        for (uint64_t delay = 1 * S; delay <= 4 * S; delay *= 2) {
                for (int i = 0; i < 40 && f.state == MODEM_STATE_SYNCING; i++)
                        advance(&f, 300 * MS);
                ck_assert_int_eq(f.state, MODEM_STATE_WAITING);
                ck_assert_int_eq(f.n_attempts, 0);
                ck_assert_uint_eq(modem_next_deadline(f.m), f.now + delay);
                advance(&f, delay);
                ck_assert_int_eq(f.state, MODEM_STATE_SYNCING);
        }
        /* It answers at last. */
        answer_resync(&f);
        answer_init(&f);
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        teardown(&f);
}
END_TEST

/* Finding 8: a ladder in back-off does not hide a tty that comes back: sync at once. */
START_TEST(test_backoff_then_replug_syncs)
{
        struct fx f;

        setup(&f, false, 0);
        ck_assert_int_eq(modem_reset(f.m, "test", false, f.now), 0);
        advance(&f, 3 * S);
        ck_assert_uint_eq(modem_next_deadline(f.m), f.now + 9 * S);
        at_channel_set_connected(f.ch, false, f.now);
        modem_on_disconnected(f.m, f.now);
        advance(&f, 1 * S);
        at_channel_set_connected(f.ch, true, f.now);
        modem_on_connected(f.m, f.now);
        ck_assert_int_eq(f.state, MODEM_STATE_SYNCING);
        answer_resync(&f);
        answer_init(&f);
        ck_assert_int_eq(f.state, MODEM_STATE_READY);
        teardown(&f);
}
END_TEST

static void print_progress(struct fx *f, int pct)
{
        char line[64];

        snprintf(line, sizeof(line), "\r\n+QIND: \"FOTA\",\"UPDATING\",%d%%\r\n", pct);
        feed(f, line);
}

/* Finding 1: a table-2 reset ordered while the module still prints (window 1 expired in
 * updating) waits until it has been silent for boot_timeout; after the one AT+QRST=1, any line
 * ends the ladder: no RESET_N, no PWRKEY while it is alive. */
START_TEST(test_table2_reset_waits_for_silence)
{
        struct fx f;
        struct fx_opts o = { .gpio = true };

        setup_opts(&f, &o);
        answer_init(&f);
        set_gate(&f, AT_GATE_CLOSED);
        print_progress(&f, 56);
        f.written[0] = '\0';
        ck_assert_int_eq(modem_reset(f.m, "table 2", true, f.now), 0);
        for (int pct = 57; pct < 67; pct++) {
                advance(&f, 1 * S);
                print_progress(&f, pct);
        }
        ck_assert_str_eq(f.written, "");
        ck_assert_int_eq(f.n_attempts, 0);
        advance(&f, 3 * S - 1);
        ck_assert_str_eq(f.written, "");
        advance(&f, 1);
        ck_assert_str_eq(f.written, "AT+QRST=1\r");     /* silent at last: the one AT reset */
        ck_assert_int_eq(f.n_attempts, 1);
        ck_assert_int_eq(f.rungs[0], MODEM_RUNG_AT);
        /* Ignored while flashing: the module goes on printing. The ladder ends there. */
        advance(&f, 1 * S);
        print_progress(&f, 67);
        ck_assert_int_eq(f.n_recovered, 1);
        for (int i = 0; i < 60; i++)
                advance(&f, 1 * S);
        ck_assert_int_eq(f.n_attempts, 1);
        ck_assert_int_eq(gpio_count(&f, "reset active"), 0);
        ck_assert_int_eq(gpio_count(&f, "pwrkey active"), 0);
        ck_assert_str_eq(f.written, "AT+QRST=1\r");
        ck_assert_int_eq(f.state, MODEM_STATE_WAITING);
        teardown(&f);
}
END_TEST

/* Finding 1: the next rung only after real silence, and a line during the pulse releases the
 * line and ends the ladder (no PWRKEY). */
START_TEST(test_table2_rungs_only_after_silence)
{
        struct fx f;
        struct fx_opts o = { .gpio = true };

        setup_opts(&f, &o);
        answer_init(&f);
        set_gate(&f, AT_GATE_CLOSED);
        advance(&f, 3 * S);
        f.written[0] = '\0';
        ck_assert_int_eq(modem_reset(f.m, "table 2", true, f.now), 0);
        ck_assert_str_eq(f.written, "AT+QRST=1\r");
        advance(&f, 3 * S);                     /* no byte at all: RESET_N */
        ck_assert_int_eq(f.n_attempts, 2);
        ck_assert_int_eq(f.rungs[1], MODEM_RUNG_GPIO_RESET);
        ck_assert_int_eq(gpio_count(&f, "reset active"), 1);
        print_progress(&f, 90);
        ck_assert_int_eq(gpio_count(&f, "reset inactive"), 1);  /* released at once, 10 ms into 100 */
        for (int i = 0; i < 30; i++)
                advance(&f, 1 * S);
        ck_assert_int_eq(f.n_attempts, 2);
        ck_assert_int_eq(gpio_count(&f, "pwrkey active"), 0);
        teardown(&f);
}
END_TEST

/* A table-2 reset ordered while the tty is away is owed, not done: it fires only once the tty
 * has been back (and the module silent) for boot_timeout. */
START_TEST(test_table2_reset_waits_for_tty)
{
        struct fx f;
        struct fx_opts o = { .gpio = true };

        setup_opts(&f, &o);
        answer_init(&f);
        set_gate(&f, AT_GATE_CLOSED);
        at_channel_set_connected(f.ch, false, f.now);
        modem_on_disconnected(f.m, f.now);
        f.written[0] = '\0';
        ck_assert_int_eq(modem_reset(f.m, "table 2", true, f.now), 0);
        for (int i = 0; i < 30; i++)
                advance(&f, 1 * S);
        ck_assert_int_eq(f.n_attempts, 0);
        ck_assert_int_eq(gpio_count(&f, "reset active"), 0);
        at_channel_set_connected(f.ch, true, f.now);
        modem_on_connected(f.m, f.now);
        advance(&f, 3 * S - 1);
        ck_assert_int_eq(f.n_attempts, 0);
        advance(&f, 1);
        ck_assert_int_eq(f.n_attempts, 1);
        ck_assert_str_eq(f.written, "AT+QRST=1\r");
        teardown(&f);
}
END_TEST

/* Finding 8: a table-2 reset that cannot start is owed, not done. The channel refuses AT+QRST=1
 * (its tty went away and the supervisor has not heard yet) and no GPIO rung can fire (none
 * configured, or the line driver fails): nothing is reported as attempted, the ladder keeps the
 * reset and tries again after another boot_timeout of watched silence, and once the tty is back
 * the one AT+QRST=1 goes out. */
static const struct {
        const char *name;
        bool gpio;              /* lines configured, but their driver fails every set */
} refused_cases[] = {
        { "no GPIO", false },
        { "GPIO driver fails", true },
};

START_TEST(test_table2_reset_refused_is_retried)
{
        struct fx f;
        struct fx_opts o = { .gpio = refused_cases[_i].gpio, .gpio_path = "/dev/full" };

        setup_opts(&f, &o);
        answer_init(&f);
        set_gate(&f, AT_GATE_CLOSED);
        advance(&f, 3 * S);                     /* the module has been silent for boot_timeout */
        f.written[0] = '\0';
        at_channel_set_connected(f.ch, false, f.now);   /* the tty is gone; the supervisor not told yet */
        ck_assert_int_eq(modem_reset(f.m, "table 2", true, f.now), 0);
        ck_assert_msg(f.state == MODEM_STATE_RESETTING, "%s: the refused reset ended the ladder (state %s)",
                      refused_cases[_i].name, modem_state_to_string(f.state));
        ck_assert_int_eq(f.n_attempts, 0);      /* nothing fired, nothing reported as done */
        ck_assert_int_eq(f.n_failed + f.n_recovered, 0);
        ck_assert_str_eq(f.written, "");
        ck_assert_uint_eq(modem_next_deadline(f.m), f.now + 3 * S);    /* owed: again after boot_timeout */
        ck_assert_int_eq(modem_reset(f.m, "ordered again", true, f.now), -EALREADY);
        advance(&f, 3 * S);                     /* tried again, refused again */
        ck_assert_int_eq(f.state, MODEM_STATE_RESETTING);
        ck_assert_int_eq(f.n_attempts, 0);
        ck_assert_uint_eq(modem_next_deadline(f.m), f.now + 3 * S);
        /* The supervisor hears of the hang-up, then of the tty's return: the reset fires only after
         * a full boot_timeout of silence watched on the open tty. */
        modem_on_disconnected(f.m, f.now);
        advance(&f, 10 * S);
        ck_assert_int_eq(f.n_attempts, 0);
        at_channel_set_connected(f.ch, true, f.now);
        modem_on_connected(f.m, f.now);
        advance(&f, 3 * S - 1);
        ck_assert_int_eq(f.n_attempts, 0);
        advance(&f, 1);
        ck_assert_str_eq(f.written, "AT+QRST=1\r");
        ck_assert_int_eq(f.n_attempts, 1);
        ck_assert_int_eq(f.rungs[0], MODEM_RUNG_AT);
        /* Ignored while flashing; the GPIO rungs still cannot fire: the one reset was ordered, so
         * the ladder ends and waits for END (table 2), never ordering AT+QRST=1 again. */
        for (int i = 0; i < 60; i++)
                advance(&f, 1 * S);
        ck_assert_int_eq(f.n_attempts, 1);
        ck_assert_str_eq(f.written, "AT+QRST=1\r");
        ck_assert_int_eq(f.state, MODEM_STATE_WAITING);
        teardown(&f);
}
END_TEST

/* Finding 1, the gate's one owner: a table-2 reset that waits for silence is dropped when the phase
 * leaves downloaded/updating but the gate stays closed (COAPSTART again: the module downloads,
 * keep it powered until COAPEND), which the manager reports with modem_drop_reset. The module
 * then falls silent for good, yet nothing is written and no line moves. */
START_TEST(test_table2_reset_dropped)
{
        struct fx f;
        struct fx_opts o = { .gpio = true };

        setup_opts(&f, &o);
        answer_init(&f);
        set_gate(&f, AT_GATE_CLOSED);
        modem_drop_reset(f.m, "nothing pending");      /* no reset waiting: nothing to drop */
        print_progress(&f, 56);
        f.written[0] = '\0';
        ck_assert_int_eq(modem_reset(f.m, "table 2", true, f.now), 0);
        ck_assert_uint_eq(modem_next_deadline(f.m), f.now + 3 * S);    /* held until silence */
        advance(&f, 1 * S);
        feed(&f, "\r\n+QIND: \"FOTA\",\"COAPSTART\"\r\n");
        modem_drop_reset(f.m, "downloading");   /* apply_gate: the phase left updating */
        ck_assert_uint_eq(modem_next_deadline(f.m), UINT64_MAX);       /* nothing left to wait for */
        for (int i = 0; i < 60; i++)
                advance(&f, 1 * S);
        ck_assert_str_eq(f.written, "");
        ck_assert_int_eq(f.n_attempts, 0);
        ck_assert_int_eq(gpio_count(&f, "reset active"), 0);
        ck_assert_int_eq(gpio_count(&f, "pwrkey active"), 0);
        ck_assert_int_eq(f.state, MODEM_STATE_READY);  /* the session lives on through the upgrade */
        teardown(&f);
}
END_TEST

static Suite *modem_suite(void)
{
        Suite *s = suite_create("modem");
        TCase *tc = tcase_create("supervisor");

        tcase_add_test(tc, test_init_and_identity);
        tcase_add_test(tc, test_cereg5_accepted);
        tcase_add_loop_test(tc, test_cereg5_refused_falls_back_to_2, 0, 2);
        tcase_add_test(tc, test_cereg_both_refused_init_completes);
        tcase_add_test(tc, test_cereg_unanswered_skipped);
        tcase_add_test(tc, test_unanswered_optional_command);
        tcase_add_test(tc, test_silent_module_starts_ladder);
        tcase_add_test(tc, test_ladder_without_gpio_backs_off);
        tcase_add_test(tc, test_reboots_and_gate);
        tcase_add_test(tc, test_baud_fix);
        tcase_add_test(tc, test_probe);
        tcase_add_test(tc, test_slow_module_imei_only_from_cgsn);
        tcase_add_test(tc, test_cgsn_error_retried);
        tcase_add_test(tc, test_reporting_sync_retries);
        tcase_add_test(tc, test_backoff_then_replug_syncs);
        tcase_add_test(tc, test_table2_reset_waits_for_silence);
        tcase_add_test(tc, test_table2_rungs_only_after_silence);
        tcase_add_test(tc, test_table2_reset_waits_for_tty);
        tcase_add_loop_test(tc, test_table2_reset_refused_is_retried, 0,
                            (int) (sizeof(refused_cases) / sizeof(refused_cases[0])));
        tcase_add_test(tc, test_table2_reset_dropped);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(modem_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
