/* test-fota-integration.c - bc26d + the simulator through DFOTA (issue: LwM2M session and the
 * DFOTA state machine): the guide's transcript, failures, every row of table 2, the gate as seen
 * from the module's side (its command log), a daemon killed mid-upgrade, downlink after an upgrade.
 * Small [fota] timeout_s keeps it fast; every wait is for a condition, bounded. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 20000
#define FOTA "org.bc26d.Fota1"
#define MODEM "org.bc26d.Modem1"
#define LWM2M "org.bc26d.Lwm2m1"

START_TEST(test_guide_transcript)
{
        struct harness h;
        struct harness_events e;
        char between[4096];
        const char *order[] = {
                "Fota1.Phase=downloading", "UpgradeStarted", "Fota1.Phase=downloaded", "Fota1.Phase=updating",
                "Fota1.Progress=20", "Fota1.Progress=100", "Fota1.Phase=reporting", "Fota1.LastResult=success",
                "UpgradeFinished success 0",
        };
        int at = 0;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        /* The registration as in the guide, in order. */
        ck_assert_int_eq(harness_commands_between(&h, "# start", NULL, between, sizeof(between)) > 0, 1);
        ck_assert_ptr_nonnull(strstr(between, "AT+QLWSERV=\"180.101.147.115\",5683\n"));
        ck_assert_ptr_nonnull(strstr(between, "AT+QLWCONF=\"866971030399922\"\n"));
        ck_assert_ptr_nonnull(strstr(between, "AT+QLWADDOBJ=19,0,0,\"0\"\n"));
        ck_assert_ptr_nonnull(strstr(between, "AT+QLWADDOBJ=19,1,0,\"0\"\n"));
        ck_assert_ptr_nonnull(strstr(between, "AT+QLWOPEN=1\n"));
        ck_assert_ptr_nonnull(strstr(between, "AT+QLWCFG=\"dataformat\",1,1\n"));
        ck_assert_str_eq(harness_prop(&h, LWM2M, "Registered"), "true");

        harness_events_start(&h, &e);
        harness_sim(&h, "play dfota 0.005");
        ck_assert_msg(harness_events_wait(&e, "UpgradeFinished success 0", WAIT_MS), "no UpgradeFinished");
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
                int k = harness_events_find(&e, order[i], (size_t) at);

                ck_assert_msg(k >= 0, "event '%s' missing or out of order", order[i]);
                at = k;
        }
        ck_assert_int_eq(harness_events_find(&e, "UpgradeStarted", (size_t) harness_events_find(&e, "UpgradeStarted", 0) + 1), -1);
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "idle");
        ck_assert_str_eq(harness_prop(&h, FOTA, "LastResult"), "success");
        ck_assert_str_eq(harness_prop(&h, FOTA, "LastResultCode"), "0");
        ck_assert_str_eq(harness_prop(&h, FOTA, "Deadline"), "0");
        /* Zero bytes to the module from COAPSTART to END. */
        ck_assert_int_eq(harness_commands_between(&h, "\"COAPSTART\"", "\"END\"", between, sizeof(between)), 0);
        /* After END: re-registration so the platform learns the result. */
        harness_commands_between(&h, "\"END\"", NULL, between, sizeof(between));
        ck_assert_msg(strstr(between, "AT+QLWSERV=") && strstr(between, "AT+QLWOPEN=1"), "no re-registration:\n%s",
                      between);
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

/* Lines that reach the daemon in one read are still published one step at a time: a client
 * watching Phase sees downloaded between downloading and updating, and every progress value.
 * (CI caught it under ASan, where a slow daemon read COAPEND,0 and START together.) */
START_TEST(test_one_read_every_step)
{
        struct harness h;
        struct harness_events e;
        const char *order[] = {
                "Fota1.Phase=downloading", "Fota1.Phase=downloaded", "Fota1.Phase=updating",
                "Fota1.Progress=20", "Fota1.Progress=21", "Fota1.Progress=22",
        };
        int at = 0;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_events_start(&h, &e);
        /* \r\n+QIND: "FOTA","COAPSTART"\r\n ... in one write of the simulator. */
        ck_assert_str_eq(harness_sim(&h, "raw %s",
                                     "0d0a2b51494e443a2022464f5441222c22434f4150535441525422" "0d0a"
                                     "0d0a2b51494e443a2022464f5441222c22434f4150454e44222c30" "0d0a"
                                     "0d0a2b51494e443a2022464f5441222c22535441525422" "0d0a"
                                     "0d0a2b51494e443a2022464f5441222c225550444154494e47222c3230252c312c31" "0d0a"
                                     "0d0a2b51494e443a2022464f5441222c225550444154494e47222c3231252c312c31" "0d0a"
                                     "0d0a2b51494e443a2022464f5441222c225550444154494e47222c3232252c312c31" "0d0a"),
                         "ok");
        ck_assert_msg(harness_events_wait(&e, "Fota1.Progress=22", WAIT_MS), "no Progress=22");
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
                int k = harness_events_find(&e, order[i], (size_t) at);

                ck_assert_msg(k >= 0, "event '%s' missing or out of order", order[i]);
                at = k;
        }
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

START_TEST(test_download_failed)
{
        struct harness h;
        char between[4096];

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "play coapend-fail");
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "download-failed", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, FOTA, "LastResultCode"), "5");
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "idle");
        ck_assert_int_eq(harness_commands_between(&h, "\"COAPSTART\"", "\"COAPEND\"", between, sizeof(between)), 0);
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        harness_cleanup(&h);
}
END_TEST

START_TEST(test_update_failed)
{
        struct harness h;
        char between[4096];

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "play end-fail 0.005");
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "update-failed", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, FOTA, "LastResultCode"), "3");
        ck_assert_int_eq(harness_commands_between(&h, "\"COAPSTART\"", "\"END\"", between, sizeof(between)), 0);
        harness_commands_between(&h, "\"END\"", NULL, between, sizeof(between));
        ck_assert_msg(strstr(between, "AT+QLWOPEN=1"), "no re-registration after END,3:\n%s", between);
        harness_cleanup(&h);
}
END_TEST

/* Table 2, row COAPSTART: keep the module powered until COAPEND; never reset; give up after
 * download_max_s with result timeout, still without a reset. */
START_TEST(test_stall_downloading)
{
        struct harness h;
        char between[4096];

        harness_init(&h);
        harness_start_ready(&h, NULL, "[gpio]\nchip=fake\nreset_line=0\npwrkey_line=1\n");
        /* harness config has timeout_s=5 under [fota]; download_max_s = 2 x timeout = 10 s */
        harness_sim(&h, "play stall-downloading");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        ck_assert(harness_wait_file(h.daemonlog, "keeping the module powered", 1, WAIT_MS));
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "timeout", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "idle");
        /* Nothing written during the download or at the give-up (the module is left alone; only
         * the gate opens), and never a reset. */
        ck_assert_int_eq(harness_commands_between(&h, "\"COAPSTART\"", NULL, between, sizeof(between)), 0);
        ck_assert_int_eq(harness_count_file(h.gpiolog, "active"), 0);
        harness_cleanup(&h);
}
END_TEST

/* Table 2, row COAPEND,0: reset the module, then wait for END. */
START_TEST(test_stall_downloaded)
{
        struct harness h;
        char between[4096];

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "play stall-downloaded");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloaded", WAIT_MS));
        /* After the window: exactly one AT+QRST=1; the simulated module then finishes the update. */
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "success", WAIT_MS));
        ck_assert_int_eq(harness_commands_between(&h, "\"COAPSTART\"", "\"END\"", between, sizeof(between)), 1);
        ck_assert_ptr_nonnull(strstr(between, " AT+QRST=1\n"));
        harness_cleanup(&h);
}
END_TEST

/* Table 2, row START: the AT interpreter is down, so the reset ladder goes on to RESET_N. */
START_TEST(test_stall_updating)
{
        struct harness h;
        char between[4096];

        harness_init(&h);
        harness_start_ready(&h, NULL, "[gpio]\nchip=fake\nreset_line=0\npwrkey_line=1\nreset_pulse_ms=50\n");
        harness_sim(&h, "play stall-updating 0.005");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "updating", WAIT_MS));
        ck_assert_msg(harness_wait_file(h.gpiolog, "reset inactive", 1, WAIT_MS), "no RESET_N pulse");
        harness_sim(&h, "reset");       /* the pulse reached the module */
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "success", WAIT_MS));
        /* Between COAPSTART and END: only the table-2 AT reset. */
        ck_assert_int_eq(harness_commands_between(&h, "\"COAPSTART\"", "\"END\"", between, sizeof(between)), 1);
        ck_assert_ptr_nonnull(strstr(between, " AT+QRST=1\n"));
        ck_assert_int_eq(harness_count_file(h.gpiolog, "pwrkey active"), 0);
        harness_cleanup(&h);
}
END_TEST

/* Table 2 second window: after the reset, no END within another window -> timeout, idle. */
START_TEST(test_second_window_timeout)
{
        struct harness h;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "fota-resume none");
        harness_sim(&h, "play stall-updating 0.005");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "updating", WAIT_MS));
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "timeout", 30000));
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "idle");
        ck_assert_int_eq(harness_count_file(h.simlog, " AT+QRST=1\n"), 1);
        harness_cleanup(&h);
}
END_TEST

/* SIGKILL during updating: the restarted daemon stays gated with the original deadline and writes
 * nothing to the module until the upgrade moves on. */
START_TEST(test_sigkill_during_updating)
{
        struct harness h;
        char deadline[64], between[4096];
        int status;

        harness_init(&h);
        h.fota_timeout_s = 60;          /* the whole test runs inside the first window */
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "fota-resume none");
        harness_sim(&h, "play stall-updating 0.005");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "updating", WAIT_MS));
        snprintf(deadline, sizeof(deadline), "%s", harness_prop(&h, FOTA, "Deadline"));
        ck_assert_str_ne(deadline, "0");
        kill(h.daemon_pid, SIGKILL);
        waitpid(h.daemon_pid, &status, 0);
        h.daemon_pid = 0;

        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "updating", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, MODEM, "State"), "upgrading");
        /* Same deadline (the boot id matches), within the wall-clock conversion's jitter. */
        {
                long long a = atoll(deadline), b = atoll(harness_prop(&h, FOTA, "Deadline"));

                ck_assert_msg(llabs(a - b) < 1000000, "deadline moved: %lld -> %lld", a, b);
        }
        ck_assert(harness_wait_file(h.daemonlog, "Restored DFOTA state", 1, WAIT_MS));
        /* Then the module finishes on its own. */
        /* The restarted daemon serves D-Bus before it opens the tty: wait for the tty. */
        ck_assert(harness_wait_file(h.daemonlog, "Opened the module's tty", 2, WAIT_MS));
        harness_sim(&h, "urc +QIND: \"FOTA\",\"END\",0");
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "success", WAIT_MS));
        ck_assert_int_eq(harness_commands_between(&h, "\"COAPSTART\"", "\"END\"", between, sizeof(between)), 0);
        harness_cleanup(&h);
}
END_TEST

/* A corrupt state file: moved aside, the daemon starts gated (downloading), never idle. */
START_TEST(test_corrupt_state_file)
{
        struct harness h;
        char path[400];
        FILE *f;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_write_config(&h, NULL);
        snprintf(path, sizeof(path), "%s/fota.state", h.statedir);
        f = fopen(path, "w");
        fputs("this is not a state file\n", f);
        fclose(f);
        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        ck_assert(harness_wait_file(h.daemonlog, "unusable", 1, WAIT_MS));
        ck_assert_int_eq(harness_count_file(h.simlog, " AT"), 0);      /* nothing written to the module */
        harness_cleanup(&h);
}
END_TEST

/* Downlink announced during an upgrade is drained as soon as the phase is idle again. */
START_TEST(test_downlink_after_upgrade)
{
        struct harness h;
        struct harness_events e;
        char between[4096];

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_events_start(&h, &e);
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPSTART\"");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        harness_sim(&h, "downlink 19 1 0 AABBCC");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPEND\",7");
        ck_assert(harness_events_wait(&e, "DataReceived 19 1 0 AABBCC", WAIT_MS));
        ck_assert_int_eq(harness_commands_between(&h, "\"COAPSTART\"", "\"COAPEND\"", between, sizeof(between)), 0);
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

/* Host power: while the phase is not idle, two logind block locks (shutdown, sleep: one what
 * each), released at idle; bc26ctl status shows them. */
START_TEST(test_inhibitor_locks)
{
        struct harness h;
        char cmd[1024], out[400];

        harness_init(&h);
        harness_start_logind(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPSTART\"");
        ck_assert(harness_wait_file(h.logindlog, "inhibit what=shutdown who=bc26d mode=block why=BC26 firmware upgrade "
                                    "in progress - do not power off", 1, WAIT_MS));
        ck_assert(harness_wait_file(h.logindlog, "inhibit what=sleep who=bc26d mode=block", 1, WAIT_MS));
        ck_assert_int_eq(harness_count_file(h.logindlog, "inhibit what="), 2);
        ck_assert_int_eq(harness_count_file(h.logindlog, "release"), 0);

        snprintf(out, sizeof(out), "%s/status.txt", h.dir);
        snprintf(cmd, sizeof(cmd), "DBUS_SYSTEM_BUS_ADDRESS='%s' '%s' status >'%s' 2>&1", h.busaddr,
                 getenv("BC26CTL_BIN") ? getenv("BC26CTL_BIN") : TOP_BUILDDIR "/bc26ctl", out);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_msg(harness_count_file(out, "shutdown") >= 1 && harness_count_file(out, "block") >= 1,
                      "bc26ctl status does not show the lock");

        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPEND\",5");
        ck_assert(harness_wait_file(h.logindlog, "release what=shutdown", 1, WAIT_MS));
        ck_assert(harness_wait_file(h.logindlog, "release what=sleep", 1, WAIT_MS));

        /* Again, then a timeout result: released too. */
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPSTART\"");
        ck_assert(harness_wait_file(h.logindlog, "inhibit what=", 4, WAIT_MS));
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "timeout", 30000));
        ck_assert(harness_wait_file(h.logindlog, "release what=", 4, WAIT_MS));

        /* And on shutdown in the middle of an upgrade. */
        harness_sim(&h, "urc +QIND: \"FOTA\",\"START\"");
        ck_assert(harness_wait_file(h.logindlog, "inhibit what=", 6, WAIT_MS));
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        ck_assert(harness_wait_file(h.logindlog, "release what=", 6, WAIT_MS));
        ck_assert_int_eq(harness_count_file(h.logindlog, "what=shutdown:sleep"), 0);
        harness_cleanup(&h);
}
END_TEST

/* Without logind on the bus the upgrade still runs; the daemon logs it and carries on. */
START_TEST(test_no_logind)
{
        struct harness h;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "play coapend-fail");
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "download-failed", WAIT_MS));
        ck_assert(harness_wait_file(h.daemonlog, "logind is not available", 1, WAIT_MS));
        harness_cleanup(&h);
}
END_TEST

/* The same when the upgrade ends in reporting (END,x): the session is registered again first. */
START_TEST(test_downlink_after_reporting)
{
        struct harness h;
        char after[4096];

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPSTART\"");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        harness_sim(&h, "downlink 19 1 0 CCDD");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPEND\",0");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"START\"");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"END\",3");
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "update-failed", WAIT_MS));
        /* The module may have dropped its buffer with the LwM2M context (the simulator does on
         * AT+QLWDEL); what matters is that it is read once the phase is idle, or it never
         * announces again. */
        ck_assert_msg(harness_wait_file(h.simlog, " AT+QLWRD=512\n", 1, WAIT_MS), "downlink never read");
        harness_commands_between(&h, "\"END\",3", NULL, after, sizeof(after));
        ck_assert_msg(strstr(after, " AT+QLWRD=512\n"), "downlink read before the upgrade ended:\n%s", after);
        harness_cleanup(&h);
}
END_TEST

static Suite *fota_suite(void)
{
        Suite *s = suite_create("fota-integration");
        TCase *tc = tcase_create("daemon+simulator");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_guide_transcript);
        tcase_add_test(tc, test_one_read_every_step);
        tcase_add_test(tc, test_download_failed);
        tcase_add_test(tc, test_update_failed);
        tcase_add_test(tc, test_stall_downloading);
        tcase_add_test(tc, test_stall_downloaded);
        tcase_add_test(tc, test_stall_updating);
        tcase_add_test(tc, test_second_window_timeout);
        tcase_add_test(tc, test_sigkill_during_updating);
        tcase_add_test(tc, test_corrupt_state_file);
        tcase_add_test(tc, test_downlink_after_upgrade);
        tcase_add_test(tc, test_downlink_after_reporting);
        tcase_add_test(tc, test_inhibitor_locks);
        tcase_add_test(tc, test_no_logind);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(fota_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
