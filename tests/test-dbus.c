/* test-dbus.c - bc26d's D-Bus API (issue 4) as real clients of a private bus see it: SendData
 * (order against SEND OK, errors and their precedence, the bounded queue), Reset and the ladder's
 * signals, property values, DataReceived, introspection against dbus/org.bc26d.xml, and the
 * access policy of dbus/org.bc26d.conf (as root only). Every wait is for a condition, bounded. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 20000
#define MODEM "org.bc26d.Modem1"
#define LWM2M "org.bc26d.Lwm2m1"
#define FOTA "org.bc26d.Fota1"
#define NETWORK "org.bc26d.Network1"
#define ERR_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"
#define ERR_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
#define ERR_UPGRADE "org.bc26d.Error.UpgradeInProgress"
#define ERR_NOT_READY "org.bc26d.Error.NotReady"
#define ERR_QUEUE_FULL "org.bc26d.Error.QueueFull"
#define ERR_SEND_FAILED "org.bc26d.Error.SendFailed"
#define GPIO_INI "[gpio]\nchip=fake\nreset_line=0\npwrkey_line=1\nreset_pulse_ms=50\npwrkey_pulse_ms=500\n"

/* ---- small helpers ---------------------------------------------------------------------------- */

static bool wait_commands(struct harness *h, const char *cmd, int count, int timeout_ms)
{
        for (long until = harness_deadline_ms(timeout_ms); harness_now_ms() <= until; harness_msleep(20))
                if (harness_count_commands(h, cmd, false) >= count)
                        return true;
        return false;
}

/* ---- asynchronous method calls ---------------------------------------------------------------- */

static void dispatch(sd_bus *bus, sd_bus_message *m, struct harness_call *c)
{
        memset(c, 0, sizeof(*c));
        /* Longer than sd-bus' 25 s default: a queued SendData may legitimately wait. */
        ck_assert_int_ge(sd_bus_call_async(bus, NULL, m, harness_call_reply, c, 60ULL * 1000 * 1000), 0);
        sd_bus_message_unref(m);
}

static void start_send(struct harness *h, struct harness_call *c, uint32_t obj, uint32_t inst, uint32_t res,
                       const uint8_t *data, size_t len)
{
        sd_bus *bus = harness_bus(h);
        sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, "org.bc26d", "/org/bc26d/Modem", LWM2M, "SendData"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "uuu", obj, inst, res), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, len), 0);
        dispatch(bus, m, c);
}

static void start_reset(struct harness *h, struct harness_call *c)
{
        sd_bus *bus = harness_bus(h);
        sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, "org.bc26d", "/org/bc26d/Modem", MODEM, "Reset"), 0);
        dispatch(bus, m, c);
}

static bool all_done(const struct harness_call *calls, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!calls[i].done)
                        return false;
        return true;
}

/* Process the client bus until calls[0..n) all have their reply; false on timeout. */
static bool wait_calls(struct harness *h, struct harness_call *calls, size_t n, int timeout_ms)
{
        sd_bus *bus = harness_bus(h);
        long until = harness_deadline_ms(timeout_ms);

        while (!all_done(calls, n)) {
                int r = sd_bus_process(bus, NULL);

                ck_assert_int_ge(r, 0);
                if (r > 0)
                        continue;
                if (harness_now_ms() > until)
                        return false;
                (void) sd_bus_wait(bus, 50 * 1000);
        }
        return true;
}

/* Process the client bus for ms: only to prove that a reply does NOT come in that window. */
static void pump_for(struct harness *h, int ms)
{
        sd_bus *bus = harness_bus(h);
        long until = harness_deadline_ms(ms);

        while (harness_now_ms() < until) {
                int r = sd_bus_process(bus, NULL);

                ck_assert_int_ge(r, 0);
                if (r == 0)
                        (void) sd_bus_wait(bus, 20 * 1000);
        }
}

static void send_sync(struct harness *h, struct harness_call *c, uint32_t obj, uint32_t inst, uint32_t res,
                      const uint8_t *data, size_t len)
{
        start_send(h, c, obj, inst, res, data, len);
        ck_assert_msg(wait_calls(h, c, 1, WAIT_MS), "SendData(%u,%u,%u, %zu bytes) got no reply", obj, inst, res, len);
}

static void reset_sync(struct harness *h, struct harness_call *c)
{
        start_reset(h, c);
        ck_assert_msg(wait_calls(h, c, 1, WAIT_MS), "Reset() got no reply");
}

static void assert_error(const struct harness_call *c, const char *want, const char *what)
{
        ck_assert_msg(strcmp(c->error, want) == 0, "%s: want %s, got '%s' (%s)", what, want,
                      c->error[0] ? c->error : "method return", c->message);
        ck_assert_msg(strlen(c->message) > 10, "%s: %s without a sentence: '%s'", what, want, c->message);
}

static void assert_success(const struct harness_call *c, const char *what)
{
        ck_assert_msg(c->error[0] == '\0', "%s failed: %s: %s", what, c->error, c->message);
}

/* ---- 1. SendData success, replied only after SEND OK ------------------------------------------ */

START_TEST(test_send_success_after_send_ok)
{
        static const uint8_t payload[] = { 0x01, 0x02 };
        struct harness h;
        struct harness_call c;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "hold-send on");
        start_send(&h, &c, 19, 0, 0, payload, sizeof(payload));
        ck_assert_msg(wait_commands(&h, "AT+QLWDATASEND=19,0,0,2,0102,0x0100", 1, WAIT_MS),
                      "the module never received the send");
        /* The module said OK but holds SEND OK: the call must still be waiting. */
        pump_for(&h, 300);
        ck_assert_msg(!c.done, "SendData returned before SEND OK (%s %s)", c.error, c.message);
        harness_sim(&h, "hold-send off");
        ck_assert_msg(wait_calls(&h, &c, 1, WAIT_MS), "no reply after SEND OK");
        assert_success(&c, "SendData");
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND=19,0,0,2,0102,0x0100", false), 1);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 1);
        harness_cleanup(&h);
}
END_TEST

/* ---- 2. SendData and Reset during each non-idle phase ----------------------------------------- */

static void assert_refused_while_upgrading(struct harness *h, const char *phase)
{
        static const uint8_t payload[] = { 0xAA };
        struct harness_call c;
        char what[64];

        ck_assert_msg(harness_wait_prop(h, FOTA, "Phase", phase, WAIT_MS), "Phase never %s (is %s)", phase,
                      harness_prop(h, FOTA, "Phase"));
        ck_assert_str_eq(harness_prop(h, MODEM, "State"), "upgrading");
        send_sync(h, &c, 19, 0, 0, payload, sizeof(payload));
        snprintf(what, sizeof(what), "SendData in %s", phase);
        assert_error(&c, ERR_UPGRADE, what);
        reset_sync(h, &c);
        snprintf(what, sizeof(what), "Reset in %s", phase);
        assert_error(&c, ERR_UPGRADE, what);
        ck_assert_str_eq(harness_prop(h, FOTA, "Phase"), phase);
}

START_TEST(test_refused_in_each_phase)
{
        struct harness h;
        char between[4096];

        harness_init(&h);
        h.fota_timeout_s = 60;          /* no table-2 reset while the test walks the phases */
        harness_start_ready(&h, NULL, NULL);

        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPSTART\"");
        assert_refused_while_upgrading(&h, "downloading");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPEND\",0");
        assert_refused_while_upgrading(&h, "downloaded");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"START\"");
        assert_refused_while_upgrading(&h, "updating");
        /* Give a wrongly queued command the time to leave before the module prints END. */
        harness_msleep(300);
        ck_assert_msg(harness_commands_between(&h, "\"COAPSTART\"", "\"END\"", between, sizeof(between)) == 0,
                      "the module received commands while downloading/downloaded/updating:\n%s", between);

        /* Reporting: the re-registration hangs at QLWOPEN (no CONNECT OK), so the phase stays. */
        harness_sim(&h, "connect-result none");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"END\",0");
        assert_refused_while_upgrading(&h, "reporting");
        ck_assert(wait_commands(&h, "AT+QLWOPEN=1", 2, WAIT_MS));
        harness_msleep(300);
        harness_commands_between(&h, "\"END\"", NULL, between, sizeof(between));
        ck_assert_msg(!strstr(between, "QLWDATASEND") && !strstr(between, "AT+QRST"),
                      "data or a reset reached the module in reporting:\n%s", between);
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "reporting");
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 0);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QRST", true), 0);
        harness_cleanup(&h);
}
END_TEST

/* A send queued (not yet written) when the download starts is refused, not written later. */
START_TEST(test_queued_send_refused_when_upgrade_starts)
{
        static const uint8_t one[] = { 0x01 }, two[] = { 0x02 };
        struct harness h;
        struct harness_call c[2];

        harness_init(&h);
        h.fota_timeout_s = 60;
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "hold-send on");
        start_send(&h, &c[0], 19, 0, 0, one, sizeof(one));
        ck_assert(wait_commands(&h, "AT+QLWDATASEND=19,0,0,1,01,0x0100", 1, WAIT_MS));
        start_send(&h, &c[1], 19, 0, 0, two, sizeof(two));
        pump_for(&h, 200);
        ck_assert_msg(!c[0].done && !c[1].done, "a send returned before SEND OK");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPSTART\"");
        ck_assert_msg(wait_calls(&h, &c[1], 1, WAIT_MS), "the queued send got no reply when the download started");
        assert_error(&c[1], ERR_UPGRADE, "send queued when the download started");
        /* The one already written gets its answer too (whichever it is); nothing else is written. */
        harness_sim(&h, "hold-send off");
        ck_assert_msg(wait_calls(&h, c, 1, WAIT_MS), "the send in flight never got a reply");
        harness_msleep(300);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 1);
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "downloading");
        harness_cleanup(&h);
}
END_TEST

/* ---- 3. Bad arguments, NotReady, precedence --------------------------------------------------- */

static const struct bad_args {
        uint32_t obj, inst, res;
        size_t len;
        const char *name;
} bad_args[] = {
        { 19, 0, 0, 0, "empty payload" },
        { 19, 0, 0, 513, "513 bytes" },
        { 65536, 0, 0, 2, "object 65536" },
        { 19, 70000, 0, 2, "instance 70000" },
        { 19, 0, 65536, 2, "resource 65536" },
};

START_TEST(test_invalid_args)
{
        static uint8_t payload[600];
        struct harness h;
        struct harness_call c;
        struct harness_call ok;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
                const struct bad_args *t = &bad_args[i];

                send_sync(&h, &c, t->obj, t->inst, t->res, payload, t->len);
                assert_error(&c, ERR_INVALID_ARGS, t->name);
        }
        /* The edges are valid: ids 65535 and exactly 512 bytes reach the module. */
        send_sync(&h, &ok, 65535, 65535, 65535, payload, 512);
        assert_success(&ok, "SendData(65535/65535/65535, 512 bytes)");
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND=65535,65535,65535,512,", true), 1);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 1);

        /* InvalidArgs wins over UpgradeInProgress. */
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPSTART\"");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        send_sync(&h, &c, 19, 0, 0, payload, 0);
        assert_error(&c, ERR_INVALID_ARGS, "empty payload while downloading");
        send_sync(&h, &c, 19, 0, 0, payload, 1);
        assert_error(&c, ERR_UPGRADE, "one byte while downloading");
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 1);
        harness_cleanup(&h);
}
END_TEST

START_TEST(test_not_ready)
{
        static const uint8_t payload[] = { 0x01 };
        struct harness h;
        struct harness_call c;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_sim(&h, "connect-result fail");         /* CONNECT FAIL for every QLWOPEN */
        harness_write_config(&h, NULL);
        harness_start_daemon(&h);
        ck_assert(wait_commands(&h, "AT+QLWOPEN=1", 1, WAIT_MS));
        ck_assert_msg(harness_wait_prop(&h, MODEM, "State", "registering", WAIT_MS), "State=%s",
                      harness_prop(&h, MODEM, "State"));
        send_sync(&h, &c, 19, 0, 0, payload, sizeof(payload));
        assert_error(&c, ERR_NOT_READY, "SendData while registering");
        /* InvalidArgs wins over NotReady. */
        send_sync(&h, &c, 19, 0, 0, payload, 0);
        assert_error(&c, ERR_INVALID_ARGS, "empty payload while registering");
        ck_assert_str_eq(harness_prop(&h, LWM2M, "Registered"), "false");
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 0);
        harness_cleanup(&h);
}
END_TEST

/* ---- 4. The bounded queue --------------------------------------------------------------------- */

START_TEST(test_queue_full)
{
        static const uint8_t payloads[4][1] = { { 0x01 }, { 0x02 }, { 0x03 }, { 0x04 } };
        struct harness h;
        struct harness_call c[4];
        char *log;
        const char *a, *b, *d;

        harness_init(&h);
        harness_start_ready(&h, NULL, "[lwm2m]\nsend_queue=3\n");
        harness_sim(&h, "hold-send on");
        for (size_t i = 0; i < 4; i++)
                start_send(&h, &c[i], 19, 0, 0, payloads[i], 1);
        ck_assert_msg(wait_calls(&h, &c[3], 1, WAIT_MS), "the 4th SendData got no reply");
        assert_error(&c[3], ERR_QUEUE_FULL, "4th SendData with send_queue=3");
        ck_assert_msg(!c[0].done && !c[1].done && !c[2].done, "a queued SendData returned before SEND OK");
        ck_assert(wait_commands(&h, "AT+QLWDATASEND=19,0,0,1,01,0x0100", 1, WAIT_MS));
        /* One confirmable at a time: the 2nd is not written while the 1st waits for SEND OK. */
        pump_for(&h, 300);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 1);
        harness_sim(&h, "hold-send off");
        ck_assert_msg(wait_calls(&h, c, 3, WAIT_MS), "queued SendData calls never completed");
        for (size_t i = 0; i < 3; i++)
                assert_success(&c[i], "queued SendData");
        log = harness_read_file(h.simlog);
        a = strstr(log, " AT+QLWDATASEND=19,0,0,1,01,0x0100\n");
        b = strstr(log, " AT+QLWDATASEND=19,0,0,1,02,0x0100\n");
        d = strstr(log, " AT+QLWDATASEND=19,0,0,1,03,0x0100\n");
        ck_assert_msg(a && b && d && a < b && b < d, "sends missing or out of order:\n%s", log);
        ck_assert_ptr_null(strstr(log, "AT+QLWDATASEND=19,0,0,1,04,"));
        free(log);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 3);
        harness_cleanup(&h);
}
END_TEST

/* ---- 5. SEND FAIL and ERROR ------------------------------------------------------------------- */

static const struct send_failure {
        const char *sim;                /* simulator control request */
        const char *mentions;           /* the error message must name the module's answer */
} send_failures[] = {
        { "send-result fail", "SEND FAIL" },
        { "send-result error", "ERROR" },
};

START_TEST(test_send_failed)
{
        static const uint8_t payload[] = { 0x01, 0x02 };
        const struct send_failure *t = &send_failures[_i];
        struct harness h;
        struct harness_call c;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "%s", t->sim);
        send_sync(&h, &c, 19, 0, 0, payload, sizeof(payload));
        assert_error(&c, ERR_SEND_FAILED, t->sim);
        ck_assert_msg(strstr(c.message, t->mentions), "%s: message does not mention %s: '%s'", t->sim, t->mentions,
                      c.message);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND=19,0,0,2,0102,0x0100", false), 1);
        /* The session survives a failed send: the next one goes through. */
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        send_sync(&h, &c, 19, 0, 0, payload, sizeof(payload));
        assert_success(&c, "SendData after a failure");
        harness_cleanup(&h);
}
END_TEST

/* ---- 6. Reset while idle ---------------------------------------------------------------------- */

START_TEST(test_reset_idle)
{
        struct harness h;
        struct harness_events e;
        struct harness_call c;
        int left;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_events_start(&h, &e);
        reset_sync(&h, &c);
        assert_success(&c, "Reset()");
        ck_assert(wait_commands(&h, "AT+QRST=1", 1, WAIT_MS));
        ck_assert_msg(harness_events_wait(&e, "ModuleReset at true", WAIT_MS), "no ModuleReset at true");
        ck_assert_msg(harness_events_wait(&e, "ModuleRebooted at-reset", WAIT_MS), "no ModuleRebooted at-reset");
        /* The state left ready and came back (a real re-initialisation, observed as signals). */
        left = harness_events_find(&e, "Modem1.State=initializing", 0);
        ck_assert_msg(left >= 0, "State never left ready");
        ck_assert_msg(harness_events_wait(&e, "Modem1.State=ready", WAIT_MS), "State never returned to ready");
        ck_assert_int_gt(harness_events_find(&e, "Modem1.State=ready", (size_t) left), left);
        ck_assert_str_eq(harness_prop(&h, MODEM, "State"), "ready");
        ck_assert_int_eq(harness_count_commands(&h, "AT+QRST=1", false), 1);
        ck_assert_int_eq(harness_events_find(&e, "ModuleReset at false", 0), -1);
        /* Once per reboot. */
        ck_assert_int_eq(harness_events_find(&e, "ModuleRebooted at-reset",
                                             (size_t) harness_events_find(&e, "ModuleRebooted at-reset", 0) + 1), -1);
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

/* ---- 7. Reset of a silent module: the whole ladder -------------------------------------------- */

START_TEST(test_reset_silent_ladder)
{
        static const char *const ladder[] = {
                "ModuleReset at false", "ModuleReset gpio-reset false", "ModuleReset pwrkey false",
        };
        struct harness h;
        struct harness_events e;
        struct harness_call c;
        int at = -1, reads = 0;

        harness_init(&h);
        harness_start_ready(&h, NULL, GPIO_INI);
        harness_events_start(&h, &e);
        harness_sim(&h, "silent on");
        reset_sync(&h, &c);
        assert_success(&c, "Reset() of a silent module");
        /* While the ladder runs, every property read is answered at once. */
        for (long until = harness_deadline_ms(WAIT_MS); harness_events_find(&e, ladder[2], 0) < 0 && harness_now_ms() < until;) {
                long t0 = harness_now_ms();
                const char *state = harness_prop(&h, MODEM, "State");

                ck_assert_msg(state[0] != '<', "State unreadable during the ladder: %s", state);
                ck_assert_msg(harness_now_ms() - t0 < 1000 * harness_time_scale(), "a property read took %ld ms",
                              harness_now_ms() - t0);
                reads++;
                (void) harness_events_wait(&e, ladder[2], 100);
        }
        ck_assert_msg(harness_events_find(&e, ladder[2], 0) >= 0, "the ladder never reached pwrkey");
        ck_assert_int_gt(reads, 3);
        for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]); i++) {
                int k = harness_events_find(&e, ladder[i], (size_t) (at + 1));

                ck_assert_msg(k > at, "'%s' missing or out of order", ladder[i]);
                at = k;
        }
        ck_assert_int_eq(harness_events_find(&e, "ModuleReset at true", 0), -1);
        ck_assert_int_ge(harness_count_file(h.gpiolog, "reset active"), 1);
        ck_assert_int_ge(harness_count_file(h.gpiolog, "pwrkey active"), 1);
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "idle");
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

/* ---- 8. Property values ----------------------------------------------------------------------- */

static const struct prop_value {
        const char *iface, *name, *value;
} prop_values[] = {
        { MODEM, "State", "ready" },
        { MODEM, "Manufacturer", "Quectel_Ltd" },
        { MODEM, "Model", "Quectel_BC26" },
        { MODEM, "Revision", "BC26NBR01A06" },
        { MODEM, "Imei", "866971030399922" },
        { LWM2M, "Server", "180.101.147.115:5683" },
        { LWM2M, "Endpoint", "866971030399922" },
        { LWM2M, "Registered", "true" },
        { FOTA, "Phase", "idle" },
        { FOTA, "Progress", "0" },
        { FOTA, "LastResult", "none" },
        { FOTA, "LastResultCode", "0" },
        { FOTA, "Deadline", "0" },
};

START_TEST(test_property_values)
{
        struct harness h;

        harness_init(&h);
        h.log_level = "info";           /* what a default install logs */
        harness_start_ready(&h, NULL, NULL);
        for (size_t i = 0; i < sizeof(prop_values) / sizeof(prop_values[0]); i++) {
                const struct prop_value *p = &prop_values[i];

                ck_assert_msg(strcmp(harness_prop(&h, p->iface, p->name), p->value) == 0, "%s.%s: want '%s', got '%s'",
                              p->iface, p->name, p->value, harness_prop(&h, p->iface, p->name));
        }
        /* Readable on the bus, but never in the logs at info level (style 8). */
        ck_assert_msg(harness_count_file(h.daemonlog, "866971030399922") == 0, "the IMEI is in the info-level log");
        harness_cleanup(&h);
}
END_TEST

/* ---- 9. DataReceived -------------------------------------------------------------------------- */

START_TEST(test_data_received)
{
        struct harness h;
        struct harness_events e;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_events_start(&h, &e);
        harness_sim(&h, "downlink 19 1 0 0A0B");
        ck_assert_msg(harness_events_wait(&e, "DataReceived 19 1 0 0A0B", WAIT_MS), "no DataReceived 19 1 0 0A0B");
        ck_assert(wait_commands(&h, "AT+QLWRD=512", 1, WAIT_MS));
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

/* ---- 10. Introspection against dbus/org.bc26d.xml ----------------------------------------------- */

/* A tolerant scanner for introspection XML: comments, <?...?>, <!...>, annotations, whitespace and
 * attribute order are ignored. Each member becomes one line of text, e.g.
 * "method SendData(in object u, in instance u, in resource u, in data ay)",
 * "property State s read", "signal ModuleReset(rung s, recovered b)". */
#define API_IFACES_MAX 8
#define API_MEMBERS_MAX 48
#define API_TEXT_MAX 384
#define API_NAME_MAX 128

struct api_iface {
        char name[API_NAME_MAX];
        char member[API_MEMBERS_MAX][API_TEXT_MAX];
        size_t n;
};

struct api {
        struct api_iface iface[API_IFACES_MAX];
        size_t n;
};

/* Value of attribute attr in the tag text [tag, tag + len) (after the element name); false if absent. */
static bool tag_attr(const char *tag, size_t len, const char *attr, char *out, size_t size)
{
        const char *p = tag, *end = tag + len;

        p += strcspn(p, " \t\r\n/>");           /* the element name */
        while (p < end) {
                const char *name, *value;
                size_t nlen, vlen;
                char q;

                while (p < end && strchr(" \t\r\n/", *p))
                        p++;
                name = p;
                while (p < end && !strchr(" \t\r\n=/>", *p))
                        p++;
                nlen = (size_t) (p - name);
                while (p < end && strchr(" \t\r\n", *p))
                        p++;
                if (nlen == 0 || p >= end || *p != '=')
                        return false;   /* not well formed: treat as absent */
                p++;
                while (p < end && strchr(" \t\r\n", *p))
                        p++;
                if (p >= end || (*p != '"' && *p != '\''))
                        return false;
                q = *p++;
                value = p;
                while (p < end && *p != q)
                        p++;
                if (p >= end)
                        return false;
                vlen = (size_t) (p - value);
                p++;
                if (nlen == strlen(attr) && strncmp(name, attr, nlen) == 0) {
                        if (vlen >= size)
                                return false;
                        memcpy(out, value, vlen);
                        out[vlen] = '\0';
                        return true;
                }
        }
        return false;
}

static int append(char *buf, size_t size, const char *s)
{
        size_t used = strlen(buf);

        if (used + strlen(s) >= size)
                return -ENOBUFS;
        memcpy(buf + used, s, strlen(s) + 1);
        return 0;
}

static int add_member(struct api_iface *i, const char *text)
{
        if (i->n >= API_MEMBERS_MAX)
                return -ENOBUFS;
        snprintf(i->member[i->n++], API_TEXT_MAX, "%s", text);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(a, b);
}

/* Parse xml into api (members sorted per interface). 0, -EINVAL (malformed) or -ENOBUFS. */
static int api_parse(const char *xml, struct api *api)
{
        struct api_iface *cur = NULL;
        char member[API_TEXT_MAX] = "";
        bool in_member = false, is_method = false, first_arg = true;
        const char *p = xml;

        memset(api, 0, sizeof(*api));
        while ((p = strchr(p, '<'))) {
                const char *tag, *end;
                char elem[32], name[API_NAME_MAX], type[64], access[32], dir[16], text[API_TEXT_MAX];
                size_t len, elen;
                bool closing, selfclose;

                if (strncmp(p, "<!--", 4) == 0) {
                        end = strstr(p + 4, "-->");
                        if (!end)
                                return -EINVAL;
                        p = end + 3;
                        continue;
                }
                end = strchr(p, '>');
                if (!end)
                        return -EINVAL;
                tag = p + 1;
                len = (size_t) (end - tag);
                p = end + 1;
                if (len == 0 || tag[0] == '?' || tag[0] == '!')
                        continue;
                closing = tag[0] == '/';
                selfclose = tag[len - 1] == '/';
                if (closing) {
                        tag++;
                        len--;
                }
                elen = strcspn(tag, " \t\r\n/>");
                if (elen >= sizeof(elem))
                        continue;       /* no element we care about has a long name */
                memcpy(elem, tag, elen);
                elem[elen] = '\0';

                if (strcmp(elem, "interface") == 0) {
                        if (closing || selfclose) {
                                if (!closing && api->n < API_IFACES_MAX && tag_attr(tag, len, "name", name, sizeof(name)))
                                        snprintf(api->iface[api->n++].name, API_NAME_MAX, "%s", name);
                                cur = NULL;
                                continue;
                        }
                        if (api->n >= API_IFACES_MAX)
                                return -ENOBUFS;
                        if (!tag_attr(tag, len, "name", name, sizeof(name)))
                                return -EINVAL;
                        cur = &api->iface[api->n++];
                        snprintf(cur->name, sizeof(cur->name), "%s", name);
                        continue;
                }
                if (!cur)
                        continue;       /* <node>, and anything outside an interface */
                if (strcmp(elem, "method") == 0 || strcmp(elem, "signal") == 0) {
                        if (closing) {
                                if (!in_member)
                                        return -EINVAL;
                                if (append(member, sizeof(member), ")") < 0 || add_member(cur, member) < 0)
                                        return -ENOBUFS;
                                in_member = false;
                                continue;
                        }
                        if (in_member || !tag_attr(tag, len, "name", name, sizeof(name)))
                                return -EINVAL;
                        is_method = elem[0] == 'm';
                        snprintf(member, sizeof(member), "%s %s(", elem, name);
                        first_arg = true;
                        in_member = true;
                        if (selfclose) {
                                if (append(member, sizeof(member), ")") < 0 || add_member(cur, member) < 0)
                                        return -ENOBUFS;
                                in_member = false;
                        }
                        continue;
                }
                if (strcmp(elem, "arg") == 0 && !closing) {
                        if (!in_member || !tag_attr(tag, len, "type", type, sizeof(type)))
                                return -EINVAL;
                        if (!tag_attr(tag, len, "name", name, sizeof(name)))
                                name[0] = '\0';
                        /* Method args are "in" unless said otherwise; signal args have no direction. */
                        if (!is_method)
                                dir[0] = '\0';
                        else if (!tag_attr(tag, len, "direction", dir, sizeof(dir)))
                                snprintf(dir, sizeof(dir), "in");
                        snprintf(text, sizeof(text), "%s%s%s%s %s", first_arg ? "" : ", ", dir, dir[0] ? " " : "",
                                 name, type);
                        if (append(member, sizeof(member), text) < 0)
                                return -ENOBUFS;
                        first_arg = false;
                        continue;
                }
                if (strcmp(elem, "property") == 0 && !closing) {
                        if (!tag_attr(tag, len, "name", name, sizeof(name)) ||
                            !tag_attr(tag, len, "type", type, sizeof(type)) ||
                            !tag_attr(tag, len, "access", access, sizeof(access)))
                                return -EINVAL;
                        snprintf(text, sizeof(text), "property %s %s %s", name, type, access);
                        if (add_member(cur, text) < 0)
                                return -ENOBUFS;
                }
        }
        if (in_member)
                return -EINVAL;
        for (size_t i = 0; i < api->n; i++)
                qsort(api->iface[i].member, api->iface[i].n, API_TEXT_MAX, cmp_str);
        return 0;
}

static const struct api_iface *api_find(const struct api *api, const char *name)
{
        for (size_t i = 0; i < api->n; i++)
                if (strcmp(api->iface[i].name, name) == 0)
                        return &api->iface[i];
        return NULL;
}

/* Compare interface name of a (the daemon) and b (the XML); differences appended to msg, counted. */
static int api_diff(const struct api *a, const struct api *b, const char *name, char *msg, size_t size)
{
        const struct api_iface *x = api_find(a, name), *y = api_find(b, name);
        char line[API_TEXT_MAX + 128];
        size_t i = 0, j = 0;
        int n = 0;

        if (!x || !y) {
                snprintf(line, sizeof(line), "%s: interface missing in the %s\n", name, x ? "XML" : "daemon");
                (void) append(msg, size, line);
                return 1;
        }
        while (i < x->n || j < y->n) {
                int c = i >= x->n ? 1 : j >= y->n ? -1 : strcmp(x->member[i], y->member[j]);

                if (c == 0) {
                        i++;
                        j++;
                        continue;
                }
                snprintf(line, sizeof(line), "%s: %s only: %s\n", name, c < 0 ? "daemon" : "XML",
                         c < 0 ? x->member[i++] : y->member[j++]);
                (void) append(msg, size, line);
                n++;
        }
        return n;
}

static const char *const api_ifaces[] = { MODEM, LWM2M, FOTA, NETWORK };

/* The scanner itself: same API written differently compares equal; a real difference is named. */
static const struct scanner_case {
        const char *a, *b;
        int diffs;
        const char *mentions;
} scanner_cases[] = {
        { "<node><interface name=\"org.bc26d.Modem1\"><method name=\"Reset\"/>"
          "<signal name=\"ModuleReset\"><arg name=\"rung\" type=\"s\"/><arg name=\"recovered\" type=\"b\"/></signal>"
          "<property name=\"State\" type=\"s\" access=\"read\"/></interface></node>",
          "<?xml version=\"1.0\"?>\n<!DOCTYPE node>\n<node>\n <!-- a <comment> -->\n"
          " <interface  name='org.bc26d.Modem1' >\n  <property access=\"read\" type=\"s\" name=\"State\">\n"
          "   <annotation name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" value=\"true\"/>\n  </property>\n"
          "  <signal name=\"ModuleReset\">\n   <arg type=\"s\" name=\"rung\" direction=\"out\"/>\n"
          "   <arg\n type=\"b\" name=\"recovered\"/>\n  </signal>\n  <method name=\"Reset\">\n  </method>\n"
          " </interface>\n <node name=\"child\"/>\n</node>\n",
          0, NULL },
        { "<node><interface name=\"org.bc26d.Modem1\"><method name=\"Reset\"/></interface></node>",
          "<node><interface name=\"org.bc26d.Modem1\"><method name=\"Reset\"><arg name=\"how\" type=\"s\" "
          "direction=\"in\"/></method></interface></node>",
          2, "method Reset(in how s)" },
        { "<node><interface name=\"org.bc26d.Modem1\"><property name=\"State\" type=\"s\" access=\"read\"/>"
          "</interface></node>",
          "<node><interface name=\"org.bc26d.Modem1\"><property name=\"State\" type=\"s\" access=\"readwrite\"/>"
          "</interface></node>",
          2, "XML only: property State s readwrite" },
        { "<node><interface name=\"org.bc26d.Modem1\"><signal name=\"X\"><arg name=\"a\" type=\"u\"/>"
          "<arg name=\"b\" type=\"s\"/></signal></interface></node>",
          "<node><interface name=\"org.bc26d.Modem1\"><signal name=\"X\"><arg name=\"b\" type=\"s\"/>"
          "<arg name=\"a\" type=\"u\"/></signal></interface></node>",
          2, "signal X(a u, b s)" },
        { "<node><interface name=\"org.bc26d.Modem1\"></interface></node>",
          "<node><interface name=\"org.bc26d.Lwm2m1\"></interface></node>",
          1, "interface missing in the XML" },
};

START_TEST(test_xml_scanner)
{
        const struct scanner_case *t = &scanner_cases[_i];
        struct api *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
        char msg[2048] = "";

        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(api_parse(t->a, a), 0);
        ck_assert_int_eq(api_parse(t->b, b), 0);
        ck_assert_msg(api_diff(a, b, MODEM, msg, sizeof(msg)) == t->diffs, "case %d: %s", _i, msg);
        if (t->mentions)
                ck_assert_msg(strstr(msg, t->mentions), "case %d: '%s' not in:\n%s", _i, t->mentions, msg);
        ck_assert_int_eq(api_parse("<node><interface name=\"x\"><method name=\"M\"><arg type=\"s\"/></node>", a),
                         -EINVAL);
        free(a);
        free(b);
}
END_TEST

START_TEST(test_introspection_matches_xml)
{
        struct harness h;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *live;
        char *file;
        struct api *daemon_api = calloc(1, sizeof(*daemon_api)), *xml_api = calloc(1, sizeof(*xml_api));
        char msg[4096] = "";
        int diffs = 0, r;

        ck_assert_ptr_nonnull(daemon_api);
        ck_assert_ptr_nonnull(xml_api);
        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        r = sd_bus_call_method(harness_bus(&h), "org.bc26d", "/org/bc26d/Modem", "org.freedesktop.DBus.Introspectable",
                               "Introspect", &err, &reply, "");
        ck_assert_msg(r >= 0, "Introspect failed: %s", err.message ? err.message : strerror(-r));
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &live), 0);
        ck_assert_int_eq(api_parse(live, daemon_api), 0);
        file = harness_read_file(TOP_SRCDIR "/dbus/org.bc26d.xml");
        ck_assert_msg(file[0], "cannot read %s", TOP_SRCDIR "/dbus/org.bc26d.xml");
        ck_assert_int_eq(api_parse(file, xml_api), 0);
        for (size_t i = 0; i < sizeof(api_ifaces) / sizeof(api_ifaces[0]); i++)
                diffs += api_diff(daemon_api, xml_api, api_ifaces[i], msg, sizeof(msg));
        ck_assert_msg(diffs == 0, "the daemon's introspection and dbus/org.bc26d.xml differ:\n%s", msg);
        /* Not vacuous: the interfaces have their members (methods+signals+properties). */
        ck_assert_int_eq(api_find(xml_api, MODEM)->n, 9);
        ck_assert_int_eq(api_find(xml_api, LWM2M)->n, 12);
        ck_assert_int_eq(api_find(xml_api, FOTA)->n, 8);
        ck_assert_int_eq(api_find(xml_api, NETWORK)->n, 14);
        /* Every property emits PropertiesChanged with its value: sd-bus annotates only the
         * exceptions (const, invalidates, false), in the live XML and in the file alike. */
        ck_assert_msg(!strstr(live, "EmitsChangedSignal\" value=\"const") &&
                      !strstr(live, "EmitsChangedSignal\" value=\"invalidates") &&
                      !strstr(live, "EmitsChangedSignal\" value=\"false"),
                      "a property does not emit PropertiesChanged:\n%s", live);
        ck_assert_msg(!strstr(file, "value=\"const\"") && !strstr(file, "value=\"invalidates\"") &&
                      !strstr(file, "value=\"false\""), "dbus/org.bc26d.xml annotates a property that does not emit");
        free(file);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&err);
        free(daemon_api);
        free(xml_api);
        harness_cleanup(&h);
}
END_TEST

/* ---- 11. The access policy (root only) -------------------------------------------------------- */

#define USER_DAEMON "bc26d"
#define USER_OTHER "bc26test-other"
#define USER_MEMBER "bc26test-member"
#define GROUP_CLIENTS "bc26"

static void sh(const char *cmd)
{
        int r = system(cmd);

        ck_assert_msg(r == 0, "'%s' failed (%d)", cmd, r);
}

static void ensure_users(void)
{
        sh("getent group " GROUP_CLIENTS " >/dev/null || groupadd --system " GROUP_CLIENTS);
        sh("id -u " USER_DAEMON " >/dev/null 2>&1 || "
           "useradd --system --no-create-home --shell /usr/sbin/nologin " USER_DAEMON);
        sh("id -u " USER_OTHER " >/dev/null 2>&1 || "
           "useradd --system --no-create-home --shell /usr/sbin/nologin " USER_OTHER);
        sh("id -u " USER_MEMBER " >/dev/null 2>&1 || "
           "useradd --system --no-create-home --shell /usr/sbin/nologin " USER_MEMBER);
        sh("id -nG " USER_MEMBER " | grep -qw " GROUP_CLIENTS " || usermod -aG " GROUP_CLIENTS " " USER_MEMBER);
        sh("! id -nG " USER_OTHER " | grep -qw " GROUP_CLIENTS);
}

static void chown_to(const char *path, const char *user)
{
        struct passwd *pw = getpwnam(user);

        ck_assert_ptr_nonnull(pw);
        ck_assert_msg(chown(path, pw->pw_uid, pw->pw_gid) == 0, "chown %s: %s", path, strerror(errno));
}

/* In a child running as user (its groups included), one call on a fresh connection: "get" reads
 * State, "send" is SendData(19, 0, 0, [0x01]). Returns "ok <value>" or the error name. */
static const char *as_user(struct harness *h, const char *user, const char *what)
{
        static char result[256];
        int fds[2];
        pid_t pid;
        ssize_t n;
        int status;

        ck_assert_int_eq(pipe(fds), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct passwd *pw = getpwnam(user);
                sd_bus *bus = NULL;
                sd_bus_error err = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                char out[256];
                int r;

                close(fds[0]);
                if (!pw || initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
                        _exit(3);
                if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, h->busaddr) < 0 ||
                    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0)
                        _exit(4);
                if (strcmp(what, "get") == 0) {
                        const char *v;

                        r = sd_bus_get_property(bus, "org.bc26d", "/org/bc26d/Modem", MODEM, "State", &err, &reply, "s");
                        if (r >= 0 && sd_bus_message_read(reply, "s", &v) >= 0)
                                snprintf(out, sizeof(out), "ok %s", v);
                        else
                                snprintf(out, sizeof(out), "%s", err.name ? err.name : strerror(-r));
                } else if (strcmp(what, "counters") == 0 || strcmp(what, "history") == 0 ||
                           strcmp(what, "queue") == 0 || strcmp(what, "clear") == 0 || strcmp(what, "refresh") == 0) {
                        static const struct { const char *what, *iface, *member; } calls[] = {
                                { "counters", MODEM, "GetCounters" }, { "history", FOTA, "GetHistory" },
                                { "queue", LWM2M, "GetQueue" }, { "clear", LWM2M, "ClearQueue" },
                                { "refresh", NETWORK, "Refresh" },
                        };
                        size_t i = 0;

                        while (strcmp(calls[i].what, what) != 0)
                                i++;
                        r = sd_bus_call_method(bus, "org.bc26d", "/org/bc26d/Modem", calls[i].iface, calls[i].member,
                                               &err, &reply, "");
                        snprintf(out, sizeof(out), "%s", r >= 0 ? "ok" : err.name ? err.name : strerror(-r));
                } else {
                        static const uint8_t one[] = { 0x01 }, two[] = { 0x02 };
                        bool enqueue = strcmp(what, "enqueue") == 0;
                        sd_bus_message *m = NULL;

                        r = sd_bus_message_new_method_call(bus, &m, "org.bc26d", "/org/bc26d/Modem", LWM2M,
                                                           enqueue ? "Enqueue" : "SendData");
                        if (r >= 0)
                                r = sd_bus_message_append(m, "uuu", 19, 0, 0);
                        if (r >= 0)     /* 02 for the outbox: not to be counted as a SendData */
                                r = sd_bus_message_append_array(m, 'y', enqueue ? two : one, sizeof(one));
                        if (r >= 0 && enqueue)
                                r = sd_bus_message_append(m, "a{sv}", 0);
                        if (r >= 0)
                                r = sd_bus_call(bus, m, 30ULL * 1000 * 1000, &err, &reply);
                        snprintf(out, sizeof(out), "%s", r >= 0 ? "ok" : err.name ? err.name : strerror(-r));
                        sd_bus_message_unref(m);
                }
                if (write(fds[1], out, strlen(out)) < 0)
                        _exit(5);
                _exit(0);
        }
        close(fds[1]);
        n = read(fds[0], result, sizeof(result) - 1);
        close(fds[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client as %s failed to run (status %d)", user,
                      status);
        result[n > 0 ? n : 0] = '\0';
        return result;
}

/* bc26ctl run as user through runuser; its exit status. */
static int ctl_as(struct harness *h, const char *user, const char *args)
{
        const char *ctl = harness_public_copy(h, getenv("BC26CTL_BIN") ? getenv("BC26CTL_BIN") : TOP_BUILDDIR "/bc26ctl");
        char cmd[1024];
        int r;

        snprintf(cmd, sizeof(cmd), "runuser -u %s -- %s %s >>'%s/ctl.out' 2>&1", user, ctl, args, h->dir);
        r = system(cmd);
        ck_assert_msg(r != -1 && WIFEXITED(r), "'%s' did not run", cmd);
        return WEXITSTATUS(r);
}

START_TEST(test_policy)
{
        struct harness h;
        char tty[PATH_MAX];
        struct passwd *pw;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        uint32_t owner_uid = 0;
        const char *r;
        char *log;
        int status = -1;

        if (geteuid() != 0) {
                fprintf(stderr, "test_policy: SKIPPED: needs root (creates users, runs bc26d as user bc26d)\n");
                return;
        }
        ensure_users();
        harness_init(&h);
        ck_assert_int_eq(chmod(h.dir, 0755), 0);        /* the bus socket and the tty link live here */
        harness_start_sim(&h, NULL);
        ck_assert_ptr_nonnull(realpath(h.link, tty));
        chown_to(tty, USER_DAEMON);
        chown_to(h.statedir, USER_DAEMON);
        harness_write_config(&h, NULL);
        harness_start_bus(&h, TOP_SRCDIR "/dbus/org.bc26d.conf");
        harness_start_daemon_as(&h, USER_DAEMON);
        ck_assert_msg(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS), "bc26d as user bc26d: State=%s",
                      harness_prop(&h, MODEM, "State"));
        /* The name is really owned by the bc26d user, not by some root process. */
        pw = getpwnam(USER_DAEMON);
        ck_assert_ptr_nonnull(pw);
        {
                sd_bus_message *reply = NULL;
                int rc = sd_bus_call_method(harness_bus(&h), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                            "org.freedesktop.DBus", "GetConnectionUnixUser", &err, &reply, "s",
                                            "org.bc26d");

                ck_assert_msg(rc >= 0, "GetConnectionUnixUser: %s", err.message ? err.message : strerror(-rc));
                ck_assert_int_ge(sd_bus_message_read(reply, "u", &owner_uid), 0);
                sd_bus_message_unref(reply);
        }
        ck_assert_uint_eq(owner_uid, pw->pw_uid);

        /* Anyone may read; only root and group bc26 may send. */
        r = as_user(&h, USER_OTHER, "get");
        ck_assert_msg(strcmp(r, "ok ready") == 0, "Get State as %s: %s", USER_OTHER, r);
        r = as_user(&h, USER_OTHER, "send");
        ck_assert_msg(strcmp(r, ERR_ACCESS_DENIED) == 0, "SendData as %s: %s", USER_OTHER, r);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND", true), 0);
        /* The outbox and Refresh like SendData; the counters and the history are for everyone. */
        {
                static const char *const members_only[] = { "enqueue", "queue", "clear", "refresh" };

                for (size_t i = 0; i < sizeof(members_only) / sizeof(members_only[0]); i++) {
                        r = as_user(&h, USER_OTHER, members_only[i]);
                        ck_assert_msg(strcmp(r, ERR_ACCESS_DENIED) == 0, "%s as %s: %s", members_only[i], USER_OTHER, r);
                        r = as_user(&h, USER_MEMBER, members_only[i]);
                        ck_assert_msg(strcmp(r, ERR_ACCESS_DENIED) != 0, "%s as %s (group bc26): %s", members_only[i],
                                      USER_MEMBER, r);
                }
                r = as_user(&h, USER_OTHER, "counters");
                ck_assert_msg(strcmp(r, "ok") == 0, "GetCounters as %s: %s", USER_OTHER, r);
                r = as_user(&h, USER_OTHER, "history");
                ck_assert_msg(strcmp(r, "ok") == 0, "GetHistory as %s: %s", USER_OTHER, r);
        }
        r = as_user(&h, USER_MEMBER, "send");
        ck_assert_msg(strcmp(r, "ok") == 0, "SendData as %s (group bc26): %s", USER_MEMBER, r);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND=19,0,0,1,01,0x0100", false), 1);
        /* The same through bc26ctl: 77 (EX_NOPERM) for the outsider, 0 for the member. */
        ck_assert_int_eq(ctl_as(&h, USER_OTHER, "send 19/0/0 0102"), 77);
        ck_assert_int_eq(ctl_as(&h, USER_MEMBER, "send 19/0/0 0102"), 0);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QLWDATASEND=19,0,0,2,0102,0x0100", false), 1);
        ck_assert_int_eq(ctl_as(&h, USER_OTHER, "reset"), 77);
        ck_assert_int_eq(harness_count_commands(&h, "AT+QRST", true), 0);

        /* Killed outright (SIGKILL, as a watchdog or the OOM killer does), bc26d is restarted by
         * systemd as the same unprivileged user: its successor must open the pty the bridge (here
         * the simulator) still holds. A TIOCEXCL left on the pty by the dead daemon would refuse
         * it with EBUSY forever (root passes: found by tests/booted-systemd.sh, not by root tests). */
        kill(h.daemon_pid, SIGKILL);
        ck_assert_int_eq(waitpid(h.daemon_pid, &status, 0), h.daemon_pid);
        h.daemon_pid = 0;
        snprintf(h.daemonlog, sizeof(h.daemonlog), "%s/daemon-restarted.log", h.dir);
        harness_start_daemon_as(&h, USER_DAEMON);
        ck_assert_msg(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS),
                      "bc26d restarted as user bc26d after SIGKILL: State=%s (see %s)",
                      harness_prop(&h, MODEM, "State"), h.daemonlog);

        /* A daemon running as a user the policy does not let own the name: a plain refusal. */
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        snprintf(h.daemonlog, sizeof(h.daemonlog), "%s/daemon-other.log", h.dir);
        harness_start_daemon_as(&h, USER_OTHER);
        for (long until = harness_deadline_ms(WAIT_MS); harness_now_ms() < until;) {
                if (waitpid(h.daemon_pid, &status, WNOHANG) == h.daemon_pid) {
                        h.daemon_pid = 0;
                        break;
                }
                harness_msleep(20);
        }
        ck_assert_msg(h.daemon_pid == 0, "bc26d as %s kept running without the name", USER_OTHER);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "bc26d as %s: status %d", USER_OTHER, status);
        log = harness_read_file(h.daemonlog);
        ck_assert_msg(strstr(log, "org.bc26d") && strstr(log, USER_OTHER) && strstr(log, "org.bc26d.conf"),
                      "the refusal does not name the name, the user and the policy file:\n%s", log);
        free(log);
        sd_bus_error_free(&err);
        harness_cleanup(&h);
}
END_TEST

static Suite *dbus_suite(void)
{
        Suite *s = suite_create("dbus");
        TCase *scanner = tcase_create("xml-scanner");
        TCase *tc = tcase_create("daemon+simulator");

        tcase_add_loop_test(scanner, test_xml_scanner, 0, (int) (sizeof(scanner_cases) / sizeof(scanner_cases[0])));
        suite_add_tcase(s, scanner);

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_send_success_after_send_ok);
        tcase_add_test(tc, test_refused_in_each_phase);
        tcase_add_test(tc, test_queued_send_refused_when_upgrade_starts);
        tcase_add_test(tc, test_invalid_args);
        tcase_add_test(tc, test_not_ready);
        tcase_add_test(tc, test_queue_full);
        tcase_add_loop_test(tc, test_send_failed, 0, (int) (sizeof(send_failures) / sizeof(send_failures[0])));
        tcase_add_test(tc, test_reset_idle);
        tcase_add_test(tc, test_reset_silent_ladder);
        tcase_add_test(tc, test_property_values);
        tcase_add_test(tc, test_data_received);
        tcase_add_test(tc, test_introspection_matches_xml);
        tcase_add_test(tc, test_policy);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(dbus_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
