/* test-integration.c - the real bc26d against the BC26 simulator on a pseudo-terminal:
 * initialisation and identity, a reboot in the middle of a command, unplug and reappearance of
 * the tty, byte garbage, configuration errors and clean shutdown. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define WAIT_MS 15000

static const char *const init_commands[] = {
        " ATE0\n", " AT+CMEE=1\n", " AT+QSCLK=0\n", " ATI\n", " AT+CGMR\n", " AT+CGSN=1\n",
};

/* Each init command appears at least n times in the simulator's log, in order. */
static void assert_init_sequence(struct harness *h, int n)
{
        char *log = harness_read_file(h->simlog);
        const char *p = log;

        for (int round = 0; round < n; round++)
                for (size_t i = 0; i < sizeof(init_commands) / sizeof(init_commands[0]); i++) {
                        p = strstr(p, init_commands[i]);
                        ck_assert_msg(p, "round %d: %s missing or out of order in:\n%s", round, init_commands[i], log);
                }
        free(log);
}

START_TEST(test_init_sequence)
{
        struct harness h;
        char *dlog;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_write_config(&h, NULL);
        harness_start_daemon(&h);
        ck_assert_msg(harness_wait_file(h.daemonlog, "Module initialised: Quectel_Ltd Quectel_BC26, revision BC26NBR01A06", 1, WAIT_MS),
                      "daemon did not finish init");
        assert_init_sequence(&h, 1);
        dlog = harness_read_file(h.daemonlog);
        ck_assert_ptr_nonnull(strstr(dlog, "pseudo-terminal"));
        free(dlog);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

START_TEST(test_reboot_mid_command)
{
        struct harness h;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_sim(&h, "silent on");
        harness_write_config(&h, NULL);
        harness_start_daemon(&h);
        /* The daemon's sync "AT" is now in flight and unanswered. */
        ck_assert(harness_wait_file(h.simlog, " AT\n", 1, WAIT_MS));
        harness_sim(&h, "silent off");  /* the in-flight AT stays unanswered */
        harness_sim(&h, "play reboot");
        ck_assert_msg(harness_wait_file(h.daemonlog, "Command AT failed: the module rebooted while it was in flight", 1, WAIT_MS),
                      "in-flight command not failed as rebooted");
        ck_assert(harness_wait_file(h.daemonlog, "Module rebooted unexpectedly", 1, WAIT_MS));
        ck_assert(harness_wait_file(h.daemonlog, "Module initialised:", 1, WAIT_MS));
        assert_init_sequence(&h, 1);
        /* One reboot is reported once, not once per preamble line. */
        ck_assert_int_eq(harness_count_file(h.daemonlog, "Module rebooted unexpectedly"), 1);

        /* A second reboot after init: re-initialised again. */
        harness_sim(&h, "play reboot");
        ck_assert(harness_wait_file(h.daemonlog, "Module initialised:", 2, WAIT_MS));
        assert_init_sequence(&h, 2);
        ck_assert_int_eq(harness_count_file(h.daemonlog, "Module rebooted unexpectedly"), 2);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

START_TEST(test_unplug_replug)
{
        struct harness h;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_write_config(&h, NULL);
        harness_start_daemon(&h);
        ck_assert(harness_wait_file(h.daemonlog, "Module initialised:", 1, WAIT_MS));
        harness_sim(&h, "unplug 1");
        ck_assert_msg(harness_wait_file(h.daemonlog, "Lost the module's tty", 1, WAIT_MS), "hang-up not detected");
        ck_assert(harness_wait_file(h.daemonlog, "Module disconnected", 1, WAIT_MS));
        ck_assert_msg(harness_wait_file(h.daemonlog, "Opened the module's tty", 2, WAIT_MS), "tty not reopened");
        ck_assert(harness_wait_file(h.daemonlog, "Module initialised:", 2, WAIT_MS));
        assert_init_sequence(&h, 2);
        ck_assert(harness_daemon_alive(&h));
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

START_TEST(test_garbage_and_split_writes)
{
        struct harness h;

        harness_init(&h);
        harness_start_sim(&h, "--split");
        harness_write_config(&h, NULL);
        harness_start_daemon(&h);
        ck_assert(harness_wait_file(h.daemonlog, "Module initialised: Quectel_Ltd Quectel_BC26", 1, WAIT_MS));
        harness_sim(&h, "play garbage 20000");
        harness_sim(&h, "play reboot");
        ck_assert(harness_wait_file(h.daemonlog, "Module initialised:", 2, WAIT_MS));
        ck_assert(harness_daemon_alive(&h));
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

START_TEST(test_silent_module_reset_ladder)
{
        struct harness h;
        char *gpio;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_sim(&h, "silent on");
        harness_write_config(&h, "[gpio]\nchip=fake\nreset_line=0\npwrkey_line=1\nreset_pulse_ms=50\npwrkey_pulse_ms=500\n");
        harness_start_daemon(&h);
        ck_assert_msg(harness_wait_file(h.simlog, " AT+QRST=1\n", 1, WAIT_MS), "no AT reset");
        ck_assert_msg(harness_wait_file(h.gpiolog, "pwrkey inactive", 1, WAIT_MS), "no PWRKEY pulse");
        gpio = harness_read_file(h.gpiolog);
        {
                const char *a = strstr(gpio, "reset active"), *b = strstr(gpio, "reset inactive");
                const char *c = strstr(gpio, "pwrkey active"), *d = strstr(gpio, "pwrkey inactive");

                ck_assert_msg(a && b && c && d && a < b && b < c && c < d, "pulses out of order:\n%s", gpio);
        }
        free(gpio);
        ck_assert(harness_wait_file(h.daemonlog, "Reset rung at: module did not come back", 1, WAIT_MS));
        ck_assert(harness_wait_file(h.daemonlog, "Reset rung gpio-reset: module did not come back", 1, WAIT_MS));
        ck_assert(harness_wait_file(h.daemonlog, "Reset rung pwrkey: module did not come back", 1, WAIT_MS));
        ck_assert(harness_wait_file(h.daemonlog, "did not come back after every reset available", 1, WAIT_MS));
        /* The module wakes up (a person power-cycled it): the daemon notices and initialises. */
        harness_sim(&h, "reset");
        ck_assert(harness_wait_file(h.daemonlog, "Module initialised:", 1, WAIT_MS));
        ck_assert(harness_daemon_alive(&h));
        harness_cleanup(&h);
}
END_TEST

static int run_daemon(const char *args, const char *out)
{
        char cmd[1024];
        int st;

        snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>&1", getenv("BC26D_BIN") ? getenv("BC26D_BIN") : TOP_BUILDDIR "/bc26d",
                 args, out);
        st = system(cmd);
        ck_assert(WIFEXITED(st));
        return WEXITSTATUS(st);
}

START_TEST(test_check_config)
{
        struct harness h;
        char args[512], out[400];
        FILE *f;

        harness_init(&h);
        snprintf(out, sizeof(out), "%s/out.txt", h.dir);
        harness_write_config(&h, NULL);
        snprintf(args, sizeof(args), "--check-config --config '%s'", h.conf);
        ck_assert_int_eq(run_daemon(args, out), 0);

        f = fopen(h.conf, "w");
        fprintf(f, "[serial]\ndevice=/dev/ttyS0\nbaudrate=1234\n[modem]\nbogus=1\n");
        fclose(f);
        ck_assert_int_eq(run_daemon(args, out), 78);
        ck_assert_int_eq(harness_count_file(out, "bc26d.conf:3: "), 1);
        ck_assert_int_eq(harness_count_file(out, "bc26d.conf:5: "), 1);

        snprintf(args, sizeof(args), "--config '%s/missing.conf'", h.dir);
        ck_assert_int_eq(run_daemon(args, out), 78);
        ck_assert_int_eq(run_daemon("--log-level loud", out), 64);
        ck_assert_int_eq(run_daemon("--version", out), 0);
        ck_assert_int_eq(harness_count_file(out, "bc26d "), 1);
        harness_cleanup(&h);
}
END_TEST

START_TEST(test_imei_redacted)
{
        struct harness h;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_write_config(&h, NULL);
        h.log_level = "info";
        harness_start_daemon(&h);
        ck_assert(harness_wait_file(h.daemonlog, "Module initialised:", 1, WAIT_MS));
        /* The IMEI is personal data: in full only at debug level. */
        ck_assert_int_eq(harness_count_file(h.daemonlog, "866971030399922"), 0);
        ck_assert_int_eq(harness_count_file(h.daemonlog, "8669*******9922"), 1);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

static Suite *integration_suite(void)
{
        Suite *s = suite_create("integration");
        TCase *tc = tcase_create("daemon+simulator");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_init_sequence);
        tcase_add_test(tc, test_reboot_mid_command);
        tcase_add_test(tc, test_unplug_replug);
        tcase_add_test(tc, test_garbage_and_split_writes);
        tcase_add_test(tc, test_silent_module_reset_ladder);
        tcase_add_test(tc, test_check_config);
        tcase_add_test(tc, test_imei_redacted);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(integration_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
