/* test-status-integration.c - what an operator sees, through a real D-Bus client against bc26d and
 * the simulator (issue 11): org.bc26d.Network1 (every property, +CEREG URCs during an upgrade,
 * Refresh refused while gated with nothing sent), the upgrade history (revisions before and after,
 * one entry for an upgrade interrupted by a restart, the bound), the counters, and bc26ctl's
 * history and metrics commands on the live daemon (the metrics through a Prometheus parser). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "history.h"
#include "store.h"

#define WAIT_MS 20000
#define FOTA "org.bc26d.Fota1"
#define MODEM "org.bc26d.Modem1"
#define NETWORK "org.bc26d.Network1"

/* The number in the simulator's "state" reply: commands the module has received. */
static long sim_commands(struct harness *h)
{
        const char *s = strstr(harness_sim(h, "state"), "commands=");

        ck_assert_ptr_nonnull(s);
        return strtol(s + strlen("commands="), NULL, 10);
}

/* A method call with no arguments and no result; "" or the D-Bus error name (static buffer). */
static const char *call(struct harness *h, const char *iface, const char *method, char *message, size_t size)
{
        static char name[128];
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(harness_bus(h), "org.bc26d", "/org/bc26d/Modem", iface, method, &err, NULL, "");
        snprintf(name, sizeof(name), "%s", r >= 0 ? "" : err.name ? err.name : strerror(-r));
        if (message)
                snprintf(message, size, "%s", err.message ? err.message : "");
        sd_bus_error_free(&err);
        return name;
}

/* ---- GetHistory and GetCounters, decoded ----------------------------------------------------- */

#define ENTRIES_MAX 64

struct entry {
        uint64_t started, finished;
        char result[32], before[64], after[64];
        int32_t code;
        uint32_t resets, max_progress;
        int interrupted;
        unsigned keys;          /* how many known keys the dict had */
};

static size_t get_history(struct harness *h, struct entry *out, size_t max)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(harness_bus(h), "org.bc26d", "/org/bc26d/Modem", FOTA, "GetHistory", &err, &reply, "");
        ck_assert_msg(r >= 0, "GetHistory failed: %s", err.message ? err.message : strerror(-r));
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "a{sv}"), 0);
        while ((r = sd_bus_message_enter_container(reply, 'a', "{sv}")) > 0) {
                struct entry e = { 0 };
                const char *key, *s;

                while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                        ck_assert_int_ge(sd_bus_message_read(reply, "s", &key), 0);
                        e.keys++;
                        if (!strcmp(key, "started"))
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "t", &e.started), 0);
                        else if (!strcmp(key, "finished"))
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "t", &e.finished), 0);
                        else if (!strcmp(key, "code"))
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "i", &e.code), 0);
                        else if (!strcmp(key, "resets"))
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "u", &e.resets), 0);
                        else if (!strcmp(key, "max_progress"))
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "u", &e.max_progress), 0);
                        else if (!strcmp(key, "interrupted"))
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "b", &e.interrupted), 0);
                        else if (!strcmp(key, "result")) {
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "s", &s), 0);
                                snprintf(e.result, sizeof(e.result), "%s", s);
                        } else if (!strcmp(key, "revision_before")) {
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "s", &s), 0);
                                snprintf(e.before, sizeof(e.before), "%s", s);
                        } else if (!strcmp(key, "revision_after")) {
                                ck_assert_int_ge(sd_bus_message_read(reply, "v", "s", &s), 0);
                                snprintf(e.after, sizeof(e.after), "%s", s);
                        } else {
                                e.keys--;
                                ck_assert_int_ge(sd_bus_message_skip(reply, "v"), 0);
                        }
                        ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                }
                ck_assert_int_ge(r, 0);
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                if (n < max)
                        out[n] = e;
                n++;
        }
        ck_assert_int_ge(r, 0);
        sd_bus_message_unref(reply);
        return n;
}

/* One counter from GetCounters; fails the test if the key is missing. */
static uint64_t counter(struct harness *h, const char *name)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *key;
        uint64_t value, found = UINT64_MAX;
        int r;

        r = sd_bus_call_method(harness_bus(h), "org.bc26d", "/org/bc26d/Modem", MODEM, "GetCounters", &err, &reply, "");
        ck_assert_msg(r >= 0, "GetCounters failed: %s", err.message ? err.message : strerror(-r));
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{st}"), 0);
        while ((r = sd_bus_message_read(reply, "{st}", &key, &value)) > 0)
                if (!strcmp(key, name))
                        found = value;
        ck_assert_int_ge(r, 0);
        sd_bus_message_unref(reply);
        ck_assert_msg(found != UINT64_MAX, "GetCounters has no %s", name);
        return found;
}

/* Run a shell command with the private bus; its stdout (static buffer) and exit status. */
static const char *run(struct harness *h, const char *cmd, int *status)
{
        static char out[16384];
        char full[2048];
        size_t n;
        FILE *p;

        snprintf(full, sizeof(full), "DBUS_SYSTEM_BUS_ADDRESS='%s' %s", h->busaddr, cmd);
        p = popen(full, "r");
        ck_assert_ptr_nonnull(p);
        n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        *status = pclose(p);
        return out;
}

/* ---- Network1 ------------------------------------------------------------------------------ */

/* Every property from the simulator's radio through a real client, each with its
 * PropertiesChanged; Refresh asks at once (the readings come as changes). */
START_TEST(test_network_properties)
{
        struct harness h;
        struct harness_events e;
        const char *want[] = {
                "Network1.Rsrp=-85", "Network1.Rsrq=-11", "Network1.Sinr=7", "Network1.Rssi=-73",
                "Network1.CoverageClass=1", "Network1.Earfcn=3555", "Network1.Pci=101", "Network1.Band=8",
        };

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        /* Registration and cell from the URCs that AT+CEREG=5 (sent during init) enabled. */
        ck_assert(harness_wait_prop(&h, NETWORK, "Registration", "home", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, NETWORK, "Act"), "9");
        ck_assert(harness_wait_file(h.simlog, "AT+CEREG=5", 1, WAIT_MS));
        /* The reading after registration has come. */
        ck_assert(harness_wait_file(h.simlog, "AT+QENG=0", 1, WAIT_MS));
        ck_assert(harness_wait_file(h.simlog, "AT+CESQ", 1, WAIT_MS));
        for (long end = harness_deadline_ms(WAIT_MS); !strcmp(harness_prop(&h, NETWORK, "Updated"), "0");) {
                ck_assert_msg(harness_now_ms() < end, "Updated never set");
                harness_msleep(20);
        }

        harness_events_start(&h, &e);
        ck_assert_str_eq(harness_sim(&h, "radio signal -85 -11 -73 7 1 3555 101 8"), "ok");
        ck_assert_str_eq(call(&h, NETWORK, "Refresh", NULL, 0), "");
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                ck_assert_msg(harness_events_wait(&e, want[i], WAIT_MS), "no PropertiesChanged %s", want[i]);
        ck_assert_str_eq(harness_prop(&h, NETWORK, "Rsrp"), "-85");
        ck_assert_str_eq(harness_prop(&h, NETWORK, "Sinr"), "7");
        ck_assert_str_eq(harness_prop(&h, NETWORK, "Band"), "8");
        {
                int status;
                const char *out = run(&h, TOP_BUILDDIR "/bc26ctl status", &status);

                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bc26ctl status failed: %s", out);
                ck_assert_msg(strstr(out, "Rsrp: -85\n") && strstr(out, "Registration: home\n") &&
                              strstr(out, "Band: 8\n") && !strstr(out, "Updated: never"), "%s", out);
                out = run(&h, TOP_BUILDDIR "/bc26ctl --json status", &status);
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bc26ctl --json status failed: %s", out);
                ck_assert_msg(strstr(out, "\"Network1\":{") && strstr(out, "\"Rsrp\":-85"), "%s", out);
        }

        /* A cell change and roaming arrive as URCs, with no command asked for them. */
        ck_assert_str_eq(harness_sim(&h, "radio cell 1A2B 0C3D4E5F"), "ok");
        ck_assert_msg(harness_events_wait(&e, "Network1.Tac=1A2B", WAIT_MS), "no Tac change");
        ck_assert_msg(harness_events_wait(&e, "Network1.CellId=0C3D4E5F", WAIT_MS), "no CellId change");
        ck_assert_str_eq(harness_sim(&h, "radio stat 5"), "ok");
        ck_assert_msg(harness_events_wait(&e, "Network1.Registration=roaming", WAIT_MS), "no roaming");
        ck_assert_str_eq(harness_sim(&h, "radio stat 3"), "ok");
        ck_assert_msg(harness_events_wait(&e, "Network1.Registration=denied", WAIT_MS), "no denied");
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

/* During an upgrade: a +CEREG URC still updates Registration/Tac/CellId (it costs no command),
 * Refresh is refused with UpgradeInProgress, and nothing at all reaches the module. */
START_TEST(test_network_while_gated)
{
        struct harness h;
        char msg[512], updated[32];
        long before;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        ck_assert(harness_wait_file(h.simlog, "AT+QENG=0", 1, WAIT_MS));
        ck_assert(harness_wait_prop(&h, NETWORK, "Registration", "home", WAIT_MS));
        harness_sim(&h, "play stall-downloading");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        snprintf(updated, sizeof(updated), "%s", harness_prop(&h, NETWORK, "Updated"));
        before = sim_commands(&h);

        ck_assert_str_eq(harness_sim(&h, "radio cell 7F00 00ABCDEF"), "ok");
        ck_assert(harness_wait_prop(&h, NETWORK, "Tac", "7F00", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, NETWORK, "CellId"), "00ABCDEF");
        ck_assert_str_eq(harness_sim(&h, "radio stat 2"), "ok");
        ck_assert(harness_wait_prop(&h, NETWORK, "Registration", "searching", WAIT_MS));

        ck_assert_str_eq(call(&h, NETWORK, "Refresh", msg, sizeof(msg)), "org.bc26d.Error.UpgradeInProgress");
        ck_assert_msg(strstr(msg, "Updated"), "the refusal does not point at Updated: %s", msg);
        harness_msleep(300);    /* an absence: give a wrongly sent command time to arrive */
        ck_assert_int_eq(sim_commands(&h), before);
        ck_assert_str_eq(harness_prop(&h, NETWORK, "Updated"), updated);
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "downloading");
        harness_cleanup(&h);
}
END_TEST

/* The readings ride on the liveness probe: each answered "AT" is followed by the four status
 * commands; no other timer sends them. */
START_TEST(test_network_rides_on_probe)
{
        struct harness h;
        char between[4096];

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_write_config(&h, NULL);
        {
                char *conf = harness_read_file(h.conf), *at = strstr(conf, "probe_interval_s=0\n");
                FILE *f;

                ck_assert_ptr_nonnull(at);
                at[strlen("probe_interval_s=")] = '5';          /* the harness turns the probe off */
                f = fopen(h.conf, "w");
                ck_assert_ptr_nonnull(f);
                fputs(conf, f);
                fclose(f);
                free(conf);
        }
        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        ck_assert(harness_wait_file(h.simlog, "AT+QENG=0", 1, WAIT_MS));
        harness_sim(&h, "radio signal -97 -13 -80 3");
        /* The next probe (at most 5 s away) brings the new values without any client asking. */
        ck_assert(harness_wait_prop(&h, NETWORK, "Rsrp", "-97", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, NETWORK, "Sinr"), "3");
        ck_assert_int_eq(harness_commands_between(&h, "# radio signal", NULL, between, sizeof(between)) >= 5, 1);
        {
                const char *want[] = { "AT", "AT+CEREG?", "AT+CESQ", "AT+CSQ", "AT+QENG=0" };
                char *line = between;

                /* "<time> <command>" lines */
                for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                        char *sp = strchr(line, ' '), *nl = strchr(line, '\n');

                        ck_assert_msg(sp && nl && sp < nl, "short log:\n%s", between);
                        *nl = '\0';
                        ck_assert_msg(!strcmp(sp + 1, want[i]), "command %zu is '%s', want '%s'", i, sp + 1, want[i]);
                        line = nl + 1;
                }
        }
        harness_cleanup(&h);
}
END_TEST

/* ---- history and counters ---------------------------------------------------------------- */

/* The guide's upgrade from A06 to A07: one entry with both revisions, Revision shows A07, the
 * counters count it, the journal record carries both, and bc26ctl history shows it. */
START_TEST(test_history_revisions)
{
        struct harness h;
        struct entry e[ENTRIES_MAX];
        const char *out;
        int status;
        size_t n;

        harness_init(&h);
        harness_start_ready(&h, "--revision BC26NBR01A06", NULL);
        ck_assert_str_eq(harness_prop(&h, MODEM, "Revision"), "BC26NBR01A06");
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 0);
        ck_assert_str_eq(harness_sim(&h, "fota-revision BC26NBR01A07"), "ok");
        harness_sim(&h, "play dfota 0.005");
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "success", WAIT_MS));
        ck_assert(harness_wait_prop(&h, MODEM, "Revision", "BC26NBR01A07", WAIT_MS));
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        n = get_history(&h, e, ENTRIES_MAX);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(e[0].keys, 9);
        ck_assert_str_eq(e[0].result, "success");
        ck_assert_int_eq(e[0].code, 0);
        ck_assert_str_eq(e[0].before, "BC26NBR01A06");
        ck_assert_str_eq(e[0].after, "BC26NBR01A07");
        ck_assert_uint_eq(e[0].max_progress, 100);
        ck_assert_uint_eq(e[0].resets, 0);
        ck_assert_int_eq(e[0].interrupted, 0);
        ck_assert(e[0].started > 0 && e[0].finished >= e[0].started);
        ck_assert_uint_eq(counter(&h, "upgrades.success"), 1);
        ck_assert_uint_eq(counter(&h, "upgrades.timeout"), 0);
        ck_assert_uint_ge(counter(&h, "module_reboots.upgrade"), 1);
        /* The finished upgrade's record (its BC26_FIRMWARE_* fields come from the same values). */
        ck_assert(harness_wait_file(h.daemonlog, "finished successfully; normal business resumes "
                                    "(firmware BC26NBR01A06 -> BC26NBR01A07)", 1, WAIT_MS));

        out = run(&h, TOP_BUILDDIR "/bc26ctl history", &status);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bc26ctl history failed: %s", out);
        ck_assert_msg(strstr(out, "BC26NBR01A06 -> BC26NBR01A07") && strstr(out, "success"), "%s", out);
        out = run(&h, TOP_BUILDDIR "/bc26ctl history --json", &status);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bc26ctl history --json failed: %s", out);
        ck_assert_msg(strstr(out, "\"revision_after\":\"BC26NBR01A07\"") || strstr(out, "\"revision_after\": \"BC26NBR01A07\""),
                      "%s", out);
        harness_cleanup(&h);
}
END_TEST

/* SIGKILL mid-upgrade and a restart: still one entry, marked interrupted, still running; the
 * history file survived. */
START_TEST(test_history_interrupted)
{
        struct harness h;
        struct entry e[ENTRIES_MAX];
        int status;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "play stall-downloading");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 1);
        ck_assert_int_eq(e[0].interrupted, 0);
        kill(h.daemon_pid, SIGKILL);
        waitpid(h.daemon_pid, &status, 0);
        h.daemon_pid = 0;
        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 1);
        ck_assert_int_eq(e[0].interrupted, 1);
        ck_assert_uint_eq(e[0].finished, 0);
        ck_assert_str_eq(e[0].before, "BC26NBR01A06");
        /* It ends (download_max_s) as the same one entry, with its result. */
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "timeout", WAIT_MS));
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 1);
        ck_assert_str_eq(e[0].result, "timeout");
        ck_assert_int_eq(e[0].interrupted, 1);
        ck_assert_uint_gt(e[0].finished, 0);
        ck_assert_uint_eq(counter(&h, "upgrades.timeout"), 1);
        harness_cleanup(&h);
}
END_TEST

/* bc26d died after it saved the DFOTA state of a finished upgrade and before it saved the history
 * (the entry still running): the restart records the saved result, once; the counters file is
 * missing, so the upgrade counters start from the history. */
START_TEST(test_history_saved_result)
{
        struct harness h;
        struct entry e[ENTRIES_MAX];
        struct history *hist;
        struct store_record rec = { .saved_realtime_usec = 1 };

        harness_init(&h);
        ck_assert_int_eq(history_new(32, &hist), 0);
        history_begin(hist, 1000000, "BC26NBR01A05", false);
        history_finish(hist, 2000000, "download-failed", 5);
        history_begin(hist, 3000000, "BC26NBR01A06", false);
        ck_assert_int_eq(history_save(hist, h.statedir), 0);
        history_free(hist);
        rec.st.phase = FOTA_PHASE_IDLE;
        rec.st.last_result = FOTA_RESULT_SUCCESS;
        rec.st.last_code = 0;
        rec.st.progress = 100;
        ck_assert_int_eq(store_read_boot_id(rec.boot_id, sizeof(rec.boot_id)), 0);
        ck_assert_int_eq(store_save(h.statedir, &rec), 0);

        harness_start_ready(&h, NULL, NULL);
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 2);
        ck_assert_str_eq(e[0].result, "success");
        ck_assert_int_eq(e[0].interrupted, 1);
        ck_assert_uint_gt(e[0].finished, 0);
        ck_assert_str_eq(e[0].before, "BC26NBR01A06");
        ck_assert_str_eq(e[1].result, "download-failed");
        ck_assert_uint_eq(counter(&h, "upgrades.success"), 1);
        ck_assert_uint_eq(counter(&h, "upgrades.download-failed"), 1);
        ck_assert_uint_eq(counter(&h, "upgrades.unknown"), 0);
        harness_cleanup(&h);
}
END_TEST

/* An unusable state file: bc26d protects the module (downloading, gated) as if an upgrade ran,
 * but no history entry and no counted result come from an upgrade nobody saw. */
START_TEST(test_cautious_start_records_nothing)
{
        struct harness h;
        struct entry e[ENTRIES_MAX];
        char path[400];
        FILE *f;

        harness_init(&h);
        snprintf(path, sizeof(path), "%s/%s", h.statedir, STORE_FILE_NAME);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("not a state file\n", f);
        fclose(f);
        harness_start_sim(&h, NULL);
        harness_write_config(&h, NULL);
        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 0);
        /* download_max_s later the protection ends as a timeout: still no entry, nothing counted. */
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "timeout", 2 * WAIT_MS));
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 0);
        ck_assert_uint_eq(counter(&h, "upgrades.timeout"), 0);
        harness_cleanup(&h);
}
END_TEST

/* 40 upgrades with [fota] history = 32 keep the newest 32; the counters count all 40 and both
 * survive a restart. */
START_TEST(test_history_bounded)
{
        struct harness h;
        struct entry e[ENTRIES_MAX];

        harness_init(&h);
        harness_start_ready(&h, NULL, "[fota]\nhistory=32\n");
        for (int i = 1; i <= 40; i++) {
                harness_sim(&h, "play coapend-fail 0.001");
                /* each failed download counts once: wait for this one before playing the next */
                for (long end = harness_deadline_ms(WAIT_MS); counter(&h, "upgrades.download-failed") < (uint64_t) i;) {
                        ck_assert_msg(harness_now_ms() < end, "upgrade %d did not finish", i);
                        harness_msleep(10);
                }
        }
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 32);
        for (size_t i = 0; i < 32; i++) {
                ck_assert_str_eq(e[i].result, "download-failed");
                ck_assert(i == 0 || e[i].started <= e[i - 1].started);     /* newest first */
        }
        ck_assert_uint_eq(counter(&h, "upgrades.download-failed"), 40);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        ck_assert_uint_eq(get_history(&h, e, ENTRIES_MAX), 32);
        ck_assert_uint_eq(counter(&h, "upgrades.download-failed"), 40);
        harness_cleanup(&h);
}
END_TEST

/* ---- metrics ----------------------------------------------------------------------------------- */

/* bc26ctl metrics on the live daemon passes the Prometheus parser and says what the bus says. */
START_TEST(test_metrics_live)
{
        struct harness h;
        char cmd[1024], file[400];
        const char *out;
        int status;
        FILE *f;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        ck_assert(harness_wait_file(h.simlog, "AT+QENG=0", 1, WAIT_MS));
        ck_assert(harness_wait_prop(&h, NETWORK, "Registration", "home", WAIT_MS));
        out = run(&h, TOP_BUILDDIR "/bc26ctl metrics", &status);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bc26ctl metrics failed: %s", out);
        ck_assert_msg(strstr(out, "\nbc26_up 1\n"), "%s", out);
        ck_assert_msg(strstr(out, "bc26_state{state=\"ready\"} 1\n"), "%s", out);
        ck_assert_msg(strstr(out, "bc26_fota_phase{phase=\"idle\"} 1\n"), "%s", out);
        ck_assert_msg(strstr(out, "bc26_registration{state=\"home\"} 1\n"), "%s", out);
        ck_assert_msg(strstr(out, "bc26_rsrp_dbm "), "%s", out);
        ck_assert_msg(strstr(out, "bc26_upgrades_total{result=\"success\"} 0\n"), "%s", out);
        snprintf(file, sizeof(file), "%s/metrics.prom", h.dir);
        f = fopen(file, "w");
        ck_assert_ptr_nonnull(f);
        fputs(out, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/prom-parse.py %s 2>&1", TOP_SRCDIR, file);
        out = run(&h, cmd, &status);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the Prometheus parser refused it: %s", out);
        harness_cleanup(&h);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("status");
        TCase *tc = tcase_create("daemon+simulator");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_network_properties);
        tcase_add_test(tc, test_network_while_gated);
        tcase_add_test(tc, test_network_rides_on_probe);
        tcase_add_test(tc, test_history_revisions);
        tcase_add_test(tc, test_history_interrupted);
        tcase_add_test(tc, test_history_bounded);
        tcase_add_test(tc, test_history_saved_result);
        tcase_add_test(tc, test_cautious_start_records_nothing);
        tcase_add_test(tc, test_metrics_live);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
