/* test-modem.c - Check suite for the module supervisor: init sequence and identity, commands the
 * module does not answer, sync failure -> reset ladder, reboots in and out of upgrades, the gate,
 * the table-2 reset, the baud fix, liveness probes. Real AT channel, fake tty, fake clock. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modem.h"

#define MS 1000ULL
#define S (1000 * MS)

struct fx {
        struct at_channel *ch;
        struct modem *m;
        char written[16384];
        enum modem_state state;
        int n_ready;
        enum modem_reboot_cause causes[8];
        int n_reboots;
        enum modem_rung rungs[8];
        int n_attempts;
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

static const struct modem_ops m_ops = {
        .state_changed = st_changed, .rebooted = rebooted, .reset_attempt = attempt,
};

static void setup(struct fx *f, bool fix_baud, uint64_t probe)
{
        struct modem_config mc = {
                .command_timeout_usec = 300 * MS, .boot_timeout_usec = 3 * S, .probe_interval_usec = probe,
                .fix_baudrate = fix_baud, .baudrate = 115200, .reset_pulse_usec = 100 * MS,
                .pwrkey_pulse_usec = 600 * MS,
        };

        memset(f, 0, sizeof(*f));
        f->ch = at_channel_new(&ch_ops, f, 3 * S);
        f->m = modem_new(&mc, f->ch, NULL, &m_ops, f);
        at_channel_set_connected(f->ch, true, 0);
        modem_on_connected(f->m, 0);
}

static void teardown(struct fx *f)
{
        modem_free(f->m);
        at_channel_free(f->ch);
}

/* The module answers: feed text, advance the fake clock a little. */
static void feed(struct fx *f, const char *s)
{
        f->now += 10 * MS;
        at_channel_feed(f->ch, s, strlen(s), f->now);
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
        ck_assert_str_eq(last(&f), "ATI");
        advance(&f, 300 * MS);                  /* ATI never answered: skipped */
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
        at_channel_set_gate(f.ch, AT_GATE_CLOSED, f.now);
        modem_on_gate(f.m, AT_GATE_CLOSED, f.now);
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
        at_channel_set_gate(f.ch, AT_GATE_REPORTING, f.now);
        modem_on_gate(f.m, AT_GATE_REPORTING, f.now);
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
        advance(&f, 60 * S);
        ck_assert_str_eq(last(&f), "AT");
        feed(&f, "\r\nOK\r\n");
        for (int i = 0; i < 3; i++) {
                advance(&f, modem_next_deadline(f.m) - f.now);
                ck_assert_str_eq(last(&f), "AT");
                ck_assert_int_eq(f.state, MODEM_STATE_READY);
                advance(&f, 300 * MS);          /* unanswered */
        }
        ck_assert_int_eq(f.state, MODEM_STATE_RESETTING);
        ck_assert_str_eq(last(&f), "AT+QRST=1");
        teardown(&f);
}
END_TEST

static Suite *modem_suite(void)
{
        Suite *s = suite_create("modem");
        TCase *tc = tcase_create("supervisor");

        tcase_add_test(tc, test_init_and_identity);
        tcase_add_test(tc, test_unanswered_optional_command);
        tcase_add_test(tc, test_silent_module_starts_ladder);
        tcase_add_test(tc, test_ladder_without_gpio_backs_off);
        tcase_add_test(tc, test_reboots_and_gate);
        tcase_add_test(tc, test_baud_fix);
        tcase_add_test(tc, test_probe);
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
