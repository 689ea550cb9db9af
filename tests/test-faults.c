/* test-faults.c - fault injection against the real bc26d (issues 6 and 9): the tty disappearing in
 * the middle of an upgrade, a storm of random bytes from the module, a module that goes silent
 * while idle (probes, the reset ladder, its capped back-off), thousands of malformed or hostile
 * D-Bus calls, SIGKILL of the daemon in every FOTA phase, AT+QLWRD failing or answering junk, a
 * bridge that stops reading, and COAPSTART while a table-2 reset waits for silence. The
 * simulator's command log is the module's view of what was written; every wait is for a
 * condition, bounded. */
#include <check.h>
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
#define PROPS "org.freedesktop.DBus.Properties"
#define READ_MAX_MS 1000        /* a property read during a fault must answer within this (x time scale) */
#define RSS_GROWTH_MAX_KIB 1024
#define GPIO_INI "[gpio]\nchip=fake\nreset_line=0\npwrkey_line=1\nreset_pulse_ms=50\npwrkey_pulse_ms=500\n"

/* ---- helpers -------------------------------------------------------------------------------- */

/* Read State and fail unless the daemon answers within READ_MAX_MS; returns the read's duration. */
static long assert_responsive(struct harness *h, const char *during)
{
        long t0 = harness_now_ms(), dt;
        const char *state = harness_prop(h, MODEM, "State");

        dt = harness_now_ms() - t0;
        ck_assert_msg(state[0] != '<', "State unreadable during %s: %s", during, state);
        ck_assert_msg(dt < READ_MAX_MS * harness_time_scale(), "a property read during %s took %ld ms", during, dt);
        return dt;
}

static long vmrss_kib(pid_t pid)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        ck_assert_int_gt(kib, 0);
        return kib;
}

/* AddressSanitizer keeps freed memory in quarantine: RSS says nothing about leaks there (its
 * LeakSanitizer and the valgrind run do). */
static bool daemon_has_asan(pid_t pid)
{
        char path[64], line[512];
        bool asan = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);   /* (st_size 0: read it line by line) */
        f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        while (!asan && fgets(line, sizeof(line), f))
                asan = strstr(line, "libasan") != NULL;
        fclose(f);
        return asan;
}

static void assert_rss_bounded(struct harness *h, long before, const char *what)
{
        long after = vmrss_kib(h->daemon_pid);

        fprintf(stderr, "%s: daemon VmRSS %ld KiB -> %ld KiB (%+ld KiB)\n", what, before, after, after - before);
        if (daemon_has_asan(h->daemon_pid)) {
                fprintf(stderr, "%s: AddressSanitizer build, RSS bound not checked\n", what);
                return;
        }
        ck_assert_msg(after - before < RSS_GROWTH_MAX_KIB, "%s: VmRSS grew by %ld KiB (%ld -> %ld)", what,
                      after - before, before, after);
}

static long file_size(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 ? (long) st.st_size : 0;
}

/* Commands (not "# events") the simulator logged after byte offset from (and after the first
 * line there containing after, if not NULL) and before the first later line containing before
 * (NULL: the end of the log). Newline separated in buf; returns how many. */
static int commands_in(struct harness *h, long from, const char *after, const char *before, char *buf, size_t size)
{
        char *log = harness_read_file(h->simlog);
        char *p = log + (from < (long) strlen(log) ? from : (long) strlen(log)), *end;
        int n = 0;

        buf[0] = '\0';
        if (after) {
                char *q = strstr(p, after);

                ck_assert_msg(q, "'%s' not in the simulator log", after);
                p = strchr(q, '\n') ? strchr(q, '\n') + 1 : q + strlen(q);
        }
        if (before && (end = strstr(p, before)))
                *end = '\0';
        for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n")) {
                if (line[0] == '#')
                        continue;
                n++;
                if (strlen(buf) + strlen(line) + 2 < size) {
                        strcat(buf, line);
                        strcat(buf, "\n");
                }
        }
        free(log);
        return n;
}

/* Keep reading properties for ms, each answered within READ_MAX_MS: proves an absence of writes
 * over a window while showing the daemon stays responsive. */
static void responsive_for(struct harness *h, int ms, const char *during)
{
        for (long until = harness_deadline_ms(ms); harness_now_ms() < until; harness_msleep(100))
                assert_responsive(h, during);
}

static void sigkill_daemon(struct harness *h)
{
        int status;

        ck_assert_int_eq(kill(h->daemon_pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(h->daemon_pid, &status, 0), h->daemon_pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        h->daemon_pid = 0;
}

/* ---- 1. The tty disappears mid-upgrade and comes back ----------------------------------------- */

static const struct {
        const char *play, *phase;
        const char *move_on[3];         /* URCs that carry the upgrade on after the replug */
} unplug_cases[] = {
        { "stall-downloading", "downloading",
          { "+QIND: \"FOTA\",\"COAPEND\",0", "+QIND: \"FOTA\",\"START\"", "+QIND: \"FOTA\",\"END\",0" } },
        { "stall-updating 0.005", "updating", { "+QIND: \"FOTA\",\"END\",0", NULL, NULL } },
};

START_TEST(test_unplug_mid_upgrade)
{
        struct harness h;
        char cmds[4096];
        long before_move_on, t0;
        int n;

        harness_init(&h);
        h.fota_timeout_s = 60;          /* the whole test runs inside the first window: no table-2 reset */
        harness_start_ready(&h, NULL, NULL);
        harness_sim(&h, "play %s", unplug_cases[_i].play);
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", unplug_cases[_i].phase, WAIT_MS));

        t0 = harness_now_ms();
        harness_sim(&h, "unplug 1");
        ck_assert_msg(harness_wait_file(h.daemonlog, "Lost the module's tty", 1, WAIT_MS), "hang-up not detected");
        /* Unplugged: still gated. */
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), unplug_cases[_i].phase);
        ck_assert_str_eq(harness_prop(&h, MODEM, "State"), "upgrading");
        ck_assert_msg(harness_wait_file(h.daemonlog, "Opened the module's tty", 2, WAIT_MS), "tty not reopened");
        ck_assert(harness_wait_file(h.simlog, "# replug", 1, WAIT_MS));
        fprintf(stderr, "unplug in %s: reopened after %ld ms\n", unplug_cases[_i].phase, harness_now_ms() - t0);

        /* Reopened: the phase is kept and nothing at all is written (no sync, no init, no
         * registration) for longer than a sync attempt plus a command timeout. */
        responsive_for(&h, 1500, "the reopen");
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), unplug_cases[_i].phase);
        ck_assert_str_eq(harness_prop(&h, MODEM, "State"), "upgrading");
        before_move_on = file_size(h.simlog);
        n = commands_in(&h, 0, "# replug", NULL, cmds, sizeof(cmds));
        ck_assert_msg(n == 0, "%d commands written to the module after the replug, during %s:\n%s", n,
                      unplug_cases[_i].phase, cmds);

        /* The upgrade moves on and finishes; only then does the daemon talk again. */
        for (size_t k = 0; k < 3 && unplug_cases[_i].move_on[k]; k++)
                harness_sim(&h, "urc %s", unplug_cases[_i].move_on[k]);
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "success", WAIT_MS));
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "idle");
        commands_in(&h, before_move_on, NULL, NULL, cmds, sizeof(cmds));
        ck_assert_msg(strstr(cmds, "AT+QLWOPEN=1"), "no re-registration after END:\n%s", cmds);
        ck_assert(harness_daemon_alive(&h));
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

/* ---- 2. A storm of 1 MB of random bytes ------------------------------------------------------- */

START_TEST(test_garbage_storm)
{
        struct harness h;
        long rss0, t0, slowest = 0, reads = 0;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        rss0 = vmrss_kib(h.daemon_pid);
        t0 = harness_now_ms();
        harness_sim(&h, "play garbage 1000000");
        /* The reboot is queued behind the garbage: once the daemon has initialised the module
         * again, it has read the whole storm. */
        harness_sim(&h, "play reboot");
        while (harness_count_file(h.daemonlog, "Module initialised:") < 2 && harness_now_ms() - t0 < WAIT_MS * harness_time_scale()) {
                long dt = assert_responsive(&h, "the byte storm");

                slowest = dt > slowest ? dt : slowest;
                reads++;
                harness_msleep(2);
        }
        ck_assert_msg(harness_count_file(h.daemonlog, "Module initialised:") >= 2,
                      "no initialisation after the storm and a reboot");
        fprintf(stderr, "garbage storm: 1000000 bytes + reboot handled in %ld ms; %ld property reads, slowest %ld ms\n",
                harness_now_ms() - t0, reads, slowest);
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, LWM2M, "Registered"), "true");
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "idle");
        ck_assert_int_eq(harness_count_file(h.simlog, "dropped"), 0);      /* the daemon kept reading */
        assert_rss_bounded(&h, rss0, "garbage storm");
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

/* ---- 3. The module goes silent while idle ----------------------------------------------------- */

/* The harness config with other [modem] and [fota] timings (harness_write_config fixes them, and a
 * key may be set only once). */
static void write_timing_config(struct harness *h, unsigned probe_s, unsigned boot_s, unsigned fota_s,
                                unsigned download_max_s, const char *extra_ini)
{
        FILE *f = fopen(h->conf, "w");

        ck_assert_ptr_nonnull(f);
        fprintf(f, "[serial]\ndevice=%s\n\n[modem]\ncommand_timeout_ms=500\nboot_timeout_s=%u\nprobe_interval_s=%u\n\n"
                "[fota]\ntimeout_s=%u\n", h->link, boot_s, probe_s, fota_s);
        if (download_max_s)
                fprintf(f, "download_max_s=%u\n", download_max_s);
        fprintf(f, "\n%s", extra_ini ? extra_ini : "");
        ck_assert_int_eq(fclose(f), 0);
}

/* Liveness probes at the minimum interval. */
static void write_probe_config(struct harness *h, const char *extra_ini)
{
        write_timing_config(h, 5, 2, 5, 0, extra_ini);
}

START_TEST(test_silent_idle_ladder_backoff)
{
        static const char *const rungs[] = {
                "ModuleReset at false", "ModuleReset gpio-reset false", "ModuleReset pwrkey false",
        };
        struct harness h;
        struct harness_events e;
        long t0, first_ladder_end = 0, second_ladder_start = 0, slowest = 0, reads = 0;
        int at = -1;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        write_probe_config(&h, GPIO_INI);
        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        harness_events_start(&h, &e);
        harness_sim(&h, "silent on");
        t0 = harness_now_ms();

        /* Three unanswered probes (one per 5 s), then the ladder: AT+QRST=1, RESET_N, PWRKEY, each
         * reported; then a back-off of 3 x boot_timeout_s (6 s) and the whole ladder again, then
         * twice the back-off. Property reads answer at once all along. */
        for (;;) {
                long dt;

                if (harness_count_file(h.daemonlog, "trying again in 12 s") >= 1 || harness_now_ms() - t0 > 60000 * harness_time_scale())
                        break;
                dt = assert_responsive(&h, "the reset ladder");
                slowest = dt > slowest ? dt : slowest;
                reads++;
                (void) harness_events_wait(&e, "\x01never", 100);
                if (!first_ladder_end && harness_events_find(&e, rungs[2], 0) >= 0)
                        first_ladder_end = harness_now_ms();
                if (first_ladder_end && !second_ladder_start &&
                    harness_events_find(&e, rungs[0], (size_t) harness_events_find(&e, rungs[2], 0) + 1) >= 0)
                        second_ladder_start = harness_now_ms();
        }
        fprintf(stderr, "silent module: ladder twice in %ld ms, %ld property reads, slowest %ld ms; "
                "second ladder %ld ms after the first\n", harness_now_ms() - t0, reads, slowest,
                second_ladder_start - first_ladder_end);
        ck_assert_msg(harness_count_file(h.daemonlog, "trying again in 12 s") == 1,
                      "no second back-off (doubled to 12 s) within 60 s");
        ck_assert_int_eq(harness_count_file(h.daemonlog, "Module did not answer the liveness probe (3 of 3)"), 1);
        ck_assert_int_eq(harness_count_file(h.daemonlog, "trying again in 6 s"), 1);
        /* Each rung reported on D-Bus, in order, twice: the ladder ran again after its back-off. */
        for (int round = 0; round < 2; round++)
                for (size_t i = 0; i < 3; i++) {
                        int k = harness_events_find(&e, rungs[i], (size_t) (at + 1));

                        ck_assert_msg(k > at, "round %d: '%s' missing or out of order", round + 1, rungs[i]);
                        at = k;
                }
        /* ... and in the log, with the back-off between the rounds (a lower bound: it waits). */
        ck_assert_int_eq(harness_count_file(h.daemonlog, "Reset rung at: module did not come back"), 2);
        ck_assert_int_eq(harness_count_file(h.daemonlog, "Reset rung gpio-reset: module did not come back"), 2);
        ck_assert_int_eq(harness_count_file(h.daemonlog, "Reset rung pwrkey: module did not come back"), 2);
        ck_assert_int_eq(harness_count_file(h.gpiolog, "pwrkey active"), 2);
        ck_assert_int_ge(second_ladder_start - first_ladder_end, 5000);
        ck_assert_int_eq(harness_count_file(h.simlog, " AT+QRST=1\n"), 2);

        /* Somebody power-cycles it during the back-off: noticed and initialised again. */
        harness_sim(&h, "power-on");
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "idle");
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

/* ---- 4. 10,000 malformed or hostile D-Bus calls ----------------------------------------------- */

#define HOSTILE_CALLS 10000
#define HOSTILE_BATCH 100       /* below dbus-daemon's pending-replies limit per connection */
#define HUGE_ARRAY (100 * 1024)

struct hostile_call {
        bool done;
        const char *want;       /* expected error name, NULL for a valid call */
        char got[128];
};

enum hostile_kind {
        H_WRONG_SIGNATURE, H_HUGE_ARRAY, H_LONG_PAYLOAD, H_UNKNOWN_METHOD, H_UNKNOWN_INTERFACE,
        H_UNKNOWN_OBJECT, H_UNKNOWN_PROPERTY, H_SET_READ_ONLY, H_SET_BAD_SIGNATURE, H_RESET_WITH_ARGS,
        H_OUT_OF_RANGE, H_EMPTY_PAYLOAD, H_TRAILING_ARGS, H_VALID_SEND_NOT_READY, H_VALID_GET,
        H_KINDS
};

static int on_hostile_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct hostile_call *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        c->done = true;
        snprintf(c->got, sizeof(c->got), "%s", e ? (e->name ? e->name : "?") : "");
        if (e && (!e->message || strlen(e->message) < 10))
                snprintf(c->got, sizeof(c->got), "%s without a message", e->name ? e->name : "?");
        return 0;
}

/* Build call number i; returns the error name it must get (NULL: a method return). */
static const char *hostile_message(sd_bus *bus, unsigned i, sd_bus_message **out)
{
        static uint8_t huge[HUGE_ARRAY];
        enum hostile_kind kind = (enum hostile_kind) (i % H_KINDS);
        sd_bus_message *m = NULL;
        const char *path = "/org/bc26d/Modem", *iface = LWM2M, *member = "SendData", *want = NULL;

        /* Half the calls are the SendData flood (valid arguments, module not ready). */
        if (i % 2)
                kind = H_VALID_SEND_NOT_READY;
        /* A huge array only every 50th call: 100 kB each keeps the run short. */
        if (kind == H_HUGE_ARRAY && i % 50 != 0)
                kind = H_LONG_PAYLOAD;
        switch (kind) {
        case H_UNKNOWN_METHOD:          member = "NoSuchMethod"; break;
        case H_UNKNOWN_INTERFACE:       iface = "org.bc26d.NoSuchInterface1"; break;
        case H_UNKNOWN_OBJECT:          path = "/org/bc26d/NoSuchObject"; iface = MODEM; member = "Reset"; break;
        case H_RESET_WITH_ARGS:         iface = MODEM; member = "Reset"; break;
        case H_UNKNOWN_PROPERTY:        iface = PROPS; member = "Get"; break;
        case H_SET_READ_ONLY:
        case H_SET_BAD_SIGNATURE:       iface = PROPS; member = "Set"; break;
        case H_VALID_GET:               iface = PROPS; member = "Get"; break;
        default:                        break;
        }
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, "org.bc26d", path, iface, member), 0);
        switch (kind) {
        case H_WRONG_SIGNATURE:
                ck_assert_int_ge(sd_bus_message_append(m, "s", "19/0/0 0102"), 0);
                want = "org.freedesktop.DBus.Error.InvalidArgs";
                break;
        case H_HUGE_ARRAY:
        case H_LONG_PAYLOAD:
                ck_assert_int_ge(sd_bus_message_append(m, "uuu", 19, 0, 0), 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', huge, kind == H_HUGE_ARRAY ? sizeof(huge) : 513), 0);
                want = "org.freedesktop.DBus.Error.InvalidArgs";
                break;
        case H_UNKNOWN_METHOD:
                ck_assert_int_ge(sd_bus_message_append(m, "u", 1), 0);
                want = "org.freedesktop.DBus.Error.UnknownMethod";
                break;
        case H_UNKNOWN_INTERFACE:
                ck_assert_int_ge(sd_bus_message_append(m, "uuu", 19, 0, 0), 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', huge, 2), 0);
                want = "org.freedesktop.DBus.Error.UnknownMethod";     /* sd-bus: "Unknown method or interface" */
                break;
        case H_UNKNOWN_OBJECT:
                want = "org.freedesktop.DBus.Error.UnknownObject";
                break;
        case H_UNKNOWN_PROPERTY:
                ck_assert_int_ge(sd_bus_message_append(m, "ss", MODEM, "NoSuchProperty"), 0);
                want = "org.freedesktop.DBus.Error.UnknownProperty";
                break;
        case H_SET_READ_ONLY:
                ck_assert_int_ge(sd_bus_message_append(m, "ssv", FOTA, "Phase", "s", "idle"), 0);
                want = "org.freedesktop.DBus.Error.PropertyReadOnly";
                break;
        case H_SET_BAD_SIGNATURE:      /* no value at all: refused as read-only before it is read */
                ck_assert_int_ge(sd_bus_message_append(m, "ss", MODEM, "State"), 0);
                want = "org.freedesktop.DBus.Error.PropertyReadOnly";
                break;
        case H_RESET_WITH_ARGS:
                ck_assert_int_ge(sd_bus_message_append(m, "s", "now"), 0);
                want = "org.freedesktop.DBus.Error.InvalidArgs";
                break;
        case H_OUT_OF_RANGE:
                ck_assert_int_ge(sd_bus_message_append(m, "uuu", 70000, 0, 0), 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', huge, 2), 0);
                want = "org.freedesktop.DBus.Error.InvalidArgs";
                break;
        case H_EMPTY_PAYLOAD:
                ck_assert_int_ge(sd_bus_message_append(m, "uuu", 19, 0, 0), 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', huge, 0), 0);
                want = "org.freedesktop.DBus.Error.InvalidArgs";
                break;
        case H_TRAILING_ARGS:
                ck_assert_int_ge(sd_bus_message_append(m, "uuu", 19, 0, 0), 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', huge, 2), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "u", 7), 0);
                want = "org.freedesktop.DBus.Error.InvalidArgs";
                break;
        case H_VALID_SEND_NOT_READY:
                ck_assert_int_ge(sd_bus_message_append(m, "uuu", 19, 0, 0), 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', "\x01\x02", 2), 0);
                want = "org.bc26d.Error.NotReady";
                break;
        case H_VALID_GET:
                ck_assert_int_ge(sd_bus_message_append(m, "ss", FOTA, "Phase"), 0);
                want = NULL;
                break;
        case H_KINDS:
                break;
        }
        *out = m;
        return want;
}

/* Send calls [first, first + n) asynchronously and process until each has its reply. */
static void hostile_batch(struct harness *h, unsigned first, unsigned n, unsigned *errors, unsigned *returns)
{
        static struct hostile_call calls[HOSTILE_BATCH];
        sd_bus *bus = harness_bus(h);
        long until = harness_deadline_ms(WAIT_MS);
        unsigned done = 0;

        ck_assert_uint_le(n, HOSTILE_BATCH);
        for (unsigned k = 0; k < n; k++) {
                sd_bus_message *m = NULL;

                memset(&calls[k], 0, sizeof(calls[k]));
                calls[k].want = hostile_message(bus, first + k, &m);
                ck_assert_int_ge(sd_bus_call_async(bus, NULL, m, on_hostile_reply, &calls[k], 10ULL * 1000 * 1000), 0);
                sd_bus_message_unref(m);
        }
        while (done < n) {
                int r = sd_bus_process(bus, NULL);

                ck_assert_int_ge(r, 0);
                done = 0;
                for (unsigned k = 0; k < n; k++)
                        done += calls[k].done;
                if (r > 0 || done == n)
                        continue;
                ck_assert_msg(harness_now_ms() < until, "only %u of %u calls answered", done, n);
                (void) sd_bus_wait(bus, 50 * 1000);
        }
        for (unsigned k = 0; k < n; k++) {
                const char *want = calls[k].want ? calls[k].want : "";

                ck_assert_msg(strcmp(calls[k].got, want) == 0, "call %u: want '%s', got '%s'", first + k,
                              calls[k].want ? calls[k].want : "a method return", calls[k].got);
                if (calls[k].got[0])
                        (*errors)++;
                else
                        (*returns)++;
        }
}

START_TEST(test_hostile_dbus_calls)
{
        struct harness h;
        unsigned errors = 0, returns = 0, warm_errors = 0, warm_returns = 0;
        long rss0, t0;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        harness_sim(&h, "silent on");   /* never ready: valid SendData calls are refused too */
        harness_write_config(&h, NULL);
        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, MODEM, "State", "initializing", WAIT_MS));
        /* Warm up (every kind once, allocator caches filled), then measure. */
        for (unsigned i = 0; i < 200; i += HOSTILE_BATCH)
                hostile_batch(&h, i, HOSTILE_BATCH, &warm_errors, &warm_returns);
        rss0 = vmrss_kib(h.daemon_pid);
        t0 = harness_now_ms();
        for (unsigned i = 0; i < HOSTILE_CALLS; i += HOSTILE_BATCH)
                hostile_batch(&h, i, HOSTILE_BATCH, &errors, &returns);
        fprintf(stderr, "hostile D-Bus: %u calls in %ld ms: %u errors, %u method returns (valid Get)\n",
                errors + returns, harness_now_ms() - t0, errors, returns);
        ck_assert_uint_eq(errors + returns, HOSTILE_CALLS);
        ck_assert_uint_gt(returns, 0);
        ck_assert(harness_daemon_alive(&h));
        assert_rss_bounded(&h, rss0, "hostile D-Bus calls");
        /* Still answering, and the module work went on meanwhile (the ladder reached the tty). */
        assert_responsive(&h, "after the hostile calls");
        ck_assert(harness_wait_file(h.simlog, " AT+QRST=1\n", 1, WAIT_MS));
        ck_assert_int_eq(harness_count_file(h.simlog, "AT+QLWDATASEND"), 0);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

/* ---- 5. SIGKILL in each FOTA phase, restart ----------------------------------------------------- */

START_TEST(test_sigkill_in_each_phase)
{
        static const char *const phases[] = { "downloading", "downloaded", "updating", "reporting" };
        const char *phase = phases[_i];
        struct harness h;
        char cmds[4096], restored[128];
        long killed_at;
        int n;

        harness_init(&h);
        h.fota_timeout_s = 8;           /* a table-2 window that ends inside the test */
        harness_start_ready(&h, NULL, NULL);
        if (strcmp(phase, "downloading") == 0) {
                harness_sim(&h, "play stall-downloading");
        } else if (strcmp(phase, "downloaded") == 0) {
                harness_sim(&h, "play stall-downloaded");
        } else if (strcmp(phase, "updating") == 0) {
                harness_sim(&h, "play stall-updating 0.005");
        } else {
                harness_sim(&h, "connect-result none"); /* re-registration never completes */
                harness_sim(&h, "play dfota 0.005");
        }
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", phase, WAIT_MS));
        if (strcmp(phase, "reporting") == 0)
                ck_assert_msg(harness_wait_file(h.simlog, " AT+QLWOPEN=1\n", 2, WAIT_MS), "no re-registration");
        sigkill_daemon(&h);
        killed_at = file_size(h.simlog);
        if (strcmp(phase, "reporting") == 0)
                harness_sim(&h, "connect-result ok");

        harness_start_daemon(&h);
        snprintf(restored, sizeof(restored), "Restored DFOTA state: phase %s;", phase);
        ck_assert_msg(harness_wait_file(h.daemonlog, restored, 1, WAIT_MS), "no '%s' in the log", restored);
        /* (a URC printed before the new daemon has the tty open would be lost, as on a real UART) */
        ck_assert(harness_wait_file(h.daemonlog, "Opened the module's tty", 2, WAIT_MS));
        if (strcmp(phase, "reporting") != 0) {
                /* (reporting may be over before the bus name is ours: it resumes at once) */
                ck_assert(harness_wait_prop(&h, FOTA, "Phase", phase, WAIT_MS));
                ck_assert_str_eq(harness_prop(&h, MODEM, "State"), "upgrading");
        }

        if (strcmp(phase, "reporting") == 0) {
                /* The re-registration resumes, and completes now that the platform answers. */
                ck_assert(harness_wait_prop(&h, FOTA, "Phase", "idle", WAIT_MS));
                ck_assert_str_eq(harness_prop(&h, FOTA, "LastResult"), "success");
                commands_in(&h, killed_at, NULL, NULL, cmds, sizeof(cmds));
                ck_assert_msg(strstr(cmds, " AT+QLWOPEN=1\n"), "no AT+QLWOPEN=1 after the restart:\n%s", cmds);
                ck_assert_msg(!strstr(cmds, "AT+QRST") && !strstr(cmds, "AT+QLWDATASEND"),
                              "more than re-registration in reporting:\n%s", cmds);
        } else if (strcmp(phase, "downloading") == 0) {
                /* Never a reset while downloading: nothing written at all until COAPEND. */
                responsive_for(&h, 1500, "downloading after the restart");
                n = commands_in(&h, killed_at, NULL, NULL, cmds, sizeof(cmds));
                ck_assert_msg(n == 0, "%d commands written in downloading after the restart:\n%s", n, cmds);
                harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPEND\",5");
                ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "download-failed", WAIT_MS));
                commands_in(&h, killed_at, NULL, NULL, cmds, sizeof(cmds));
                ck_assert_msg(!strstr(cmds, "AT+QRST"), "a reset in downloading:\n%s", cmds);
        } else {
                /* downloaded, updating: only the table-2 reset when the restored window ends. */
                ck_assert_msg(harness_wait_file(h.simlog, " AT+QRST=1\n", 1, WAIT_MS), "no table-2 reset");
                if (strcmp(phase, "updating") == 0) {
                        /* The AT interpreter is down while updating: the AT reset cannot work and
                         * there is no GPIO here, so the daemon waits for END; a RESET_N pulse from
                         * elsewhere makes the module finish. */
                        ck_assert(harness_wait_file(h.daemonlog, "waiting for END as guide table 2 says", 1, WAIT_MS));
                        harness_sim(&h, "reset");
                }
                ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "success", WAIT_MS));
                n = commands_in(&h, killed_at, NULL, "\"END\"", cmds, sizeof(cmds));
                ck_assert_msg(n == 1 && strcmp(strchr(cmds, ' '), " AT+QRST=1\n") == 0,
                              "in %s after the restart, want only AT+QRST=1 until END, got %d:\n%s", phase, n, cmds);
        }
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

/* ---- 6. AT+QLWRD fails or answers junk --------------------------------------------------------- */

/* The module raises no new +QLWDATARECV while its buffer holds data (bc26-at.md 1.2): a read that
 * fails must be retried, or every later downlink is lost (issue 9, finding 5). */
static const struct {
        const char *fault;              /* qlwrd-fault while the first downlink is read */
        int failed_reads;               /* unanswered reads to see before "qlwrd-fault none" (0: one-shot) */
        const char *daemon_says;        /* the daemon's log line for the failed read */
} qlwrd_cases[] = {
        { "once-error", 0, "AT+QLWRD failed (error, 1 in a row)" },
        { "once-junk", 0, "Malformed AT+QLWRD response" },
        { "error", 3, "AT+QLWRD failed (error, 3 in a row)" },
};

START_TEST(test_qlwrd_fault_retried)
{
        struct harness h;
        struct harness_events e;

        harness_init(&h);
        harness_start_ready(&h, NULL, NULL);
        harness_events_start(&h, &e);
        harness_sim(&h, "qlwrd-fault %s", qlwrd_cases[_i].fault);
        harness_sim(&h, "downlink 19 1 0 A1B2C3");
        if (qlwrd_cases[_i].failed_reads) {
                ck_assert_msg(harness_wait_file(h.simlog, " AT+QLWRD=512\n", qlwrd_cases[_i].failed_reads, WAIT_MS),
                              "fewer than %d reads of a downlink that keeps failing", qlwrd_cases[_i].failed_reads);
                harness_sim(&h, "qlwrd-fault none");
        }
        ck_assert_msg(harness_events_wait(&e, "DataReceived 19 1 0 A1B2C3", WAIT_MS),
                      "%s: the downlink was never read again after the failed AT+QLWRD", qlwrd_cases[_i].fault);
        ck_assert_msg(harness_count_file(h.daemonlog, qlwrd_cases[_i].daemon_says) >= 1, "%s: no '%s' in the log",
                      qlwrd_cases[_i].fault, qlwrd_cases[_i].daemon_says);
        ck_assert_int_ge(harness_count_file(h.simlog, " AT+QLWRD=512\n"), 2);
        ck_assert_msg(harness_events_find(&e, "DataReceived 19 1 0 A1B2C3",
                                          (size_t) harness_events_find(&e, "DataReceived 19 1 0 A1B2C3", 0) + 1) < 0,
                      "%s: the downlink was delivered twice", qlwrd_cases[_i].fault);
        /* The buffer was drained: the module announces the next downlink, and it arrives. */
        harness_sim(&h, "downlink 19 1 0 D4E5");
        ck_assert_msg(harness_events_wait(&e, "DataReceived 19 1 0 D4E5", WAIT_MS), "%s: a later downlink was lost",
                      qlwrd_cases[_i].fault);
        ck_assert_str_eq(harness_prop(&h, MODEM, "State"), "ready");
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_events_stop(&e);
        harness_cleanup(&h);
}
END_TEST

/* ---- 7. The bridge stops reading ------------------------------------------------------------------ */

/* SendData(19, 0, 0, data) without waiting for its reply (which may come only after SEND OK). */
static void start_send(struct harness *h, struct harness_call *c, const uint8_t *data, size_t len)
{
        sd_bus *bus = harness_bus(h);
        sd_bus_message *m = NULL;

        memset(c, 0, sizeof(*c));
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, "org.bc26d", "/org/bc26d/Modem", LWM2M, "SendData"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "uuu", 19u, 0u, 0u), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, len), 0);
        /* Longer than any wait of the test: a reply that never comes must show as our timeout. */
        ck_assert_int_ge(sd_bus_call_async(bus, NULL, m, harness_call_reply, c, 120ULL * 1000 * 1000), 0);
        sd_bus_message_unref(m);
}

/* Process the client bus until the call has its reply, reading State in between (each read must
 * answer within READ_MAX_MS); false if no reply within timeout_ms. */
static bool wait_reply_responsive(struct harness *h, struct harness_call *c, int timeout_ms, const char *during)
{
        sd_bus *bus = harness_bus(h);
        long until = harness_deadline_ms(timeout_ms);

        while (!c->done) {
                int r = sd_bus_process(bus, NULL);

                ck_assert_int_ge(r, 0);
                if (r > 0)
                        continue;
                if (harness_now_ms() > until)
                        return false;
                (void) sd_bus_wait(bus, 50 * 1000);
                assert_responsive(h, during);
        }
        return true;
}

/* The simulator stops reading the pty (a stalled USB bridge): commands go unanswered and their
 * bytes stay in the bridge. The daemon keeps answering on D-Bus and the SendData ends with a clear
 * timeout error instead of waiting for ever. Bytes a bridge holds cannot be taken back (the error
 * says the data "may still reach the platform late"): when it reads again the module gets that command late and its SEND OK
 * follows. That late SEND OK belongs to nobody: the next SendData is written only once it has come
 * (the module refuses a second confirmable send meanwhile) and succeeds on its own SEND OK. */
START_TEST(test_stalled_bridge)
{
        static const uint8_t stalled[3] = { 0x5A, 0x17, 0x01 };
        static const uint8_t after[3] = { 0x5A, 0x17, 0x03 };
        struct harness h;
        struct harness_call c;
        long t0;

        harness_init(&h);
        /* send_timeout_s: how long a timed-out send's late result is waited for, far above the test's
         * own steps so that the late SEND OK, not the time, settles it. */
        harness_start_ready(&h, NULL, "[lwm2m]\nsend_timeout_s=30\n");
        harness_sim(&h, "stall-read on");
        t0 = harness_now_ms();
        start_send(&h, &c, stalled, sizeof(stalled));
        ck_assert_msg(wait_reply_responsive(&h, &c, WAIT_MS, "a stalled bridge"),
                      "SendData to a stalled bridge got no reply within %d ms", WAIT_MS);
        fprintf(stderr, "stalled bridge: SendData failed after %ld ms: %s: %s\n", harness_now_ms() - t0, c.error,
                c.message);
        ck_assert_msg(strcmp(c.error, "org.bc26d.Error.SendFailed") == 0,
                      "SendData to a stalled bridge: want org.bc26d.Error.SendFailed, got '%s' (%s)",
                      c.error[0] ? c.error : "success", c.message);
        ck_assert_msg(strstr(c.message, "did not answer"), "not a clear timeout: %s", c.message);
        /* ... and honest: the stalled command is delivered once the bridge reads again (below). */
        ck_assert_msg(strstr(c.message, "may still reach the platform"), "the error hides a late delivery: %s",
                      c.message);
        responsive_for(&h, 500, "a stalled bridge");
        ck_assert(harness_daemon_alive(&h));
        ck_assert_int_eq(harness_count_file(h.simlog, "AT+QLWDATASEND"), 0);  /* nothing read so far */

        /* The bridge reads again: the stalled command arrives; its SEND OK comes 0.5 s later, the
         * next send's only 3 s after that one is accepted. */
        harness_sim(&h, "send-delay 0.5");
        harness_sim(&h, "stall-read off");
        ck_assert_msg(harness_wait_file(h.simlog, "AT+QLWDATASEND=19,0,0,3,5A1701,", 1, WAIT_MS),
                      "the stalled bytes never reached the module");
        harness_sim(&h, "send-delay 3");
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        start_send(&h, &c, after, sizeof(after));
        ck_assert_msg(wait_reply_responsive(&h, &c, WAIT_MS, "the bridge's recovery"),
                      "SendData after the stall got no reply");
        ck_assert_msg(c.error[0] == '\0', "SendData after the stall failed: %s: %s", c.error, c.message);
        ck_assert_msg(harness_count_file(h.simlog, "# send-result 5A1703 ok") == 1,
                      "SendData after the stall succeeded before its own SEND OK");
        ck_assert_int_eq(harness_count_file(h.simlog, "# send-result 5A1701 ok"), 1);
        ck_assert_int_eq(harness_count_file(h.daemonlog, "The timed-out send is settled (its late result came)"), 1);
        ck_assert_str_eq(harness_prop(&h, MODEM, "State"), "ready");
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

/* ---- 8. COAPSTART while a table-2 reset waits for silence ----------------------------------------- */

#define DROP_BOOT_S 5                   /* boot_timeout_s: the silence a table-2 reset waits for */
#define DROP_TALK_MS 200                /* the module talks this often: far below boot_timeout_s */

/* Window 1 of a downloaded upgrade ends while the module is talking: the table-2 reset waits for
 * silence. Then COAPSTART: the module downloads again (table 2, COAPSTART row: keep it powered
 * until COAPEND); the phase changes, the gate stays closed, and the waiting reset is dropped: the
 * module falls silent for longer than boot_timeout_s and receives nothing. */
START_TEST(test_coapstart_drops_waiting_reset)
{
        struct harness h;
        char cmds[4096];
        long t0;
        int n;

        harness_init(&h);
        harness_start_sim(&h, NULL);
        write_timing_config(&h, 0, DROP_BOOT_S, 3, 120, GPIO_INI);     /* the download may last */
        harness_start_daemon(&h);
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        harness_sim(&h, "play stall-downloaded");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloaded", WAIT_MS));
        /* Talk (an unknown URC) until window 1 has ended and the reset is ordered. */
        t0 = harness_now_ms();
        while (harness_count_file(h.daemonlog, "waiting until it falls silent") == 0) {
                ck_assert_msg(harness_now_ms() - t0 < WAIT_MS * harness_time_scale(), "no table-2 reset ordered within %d ms",
                              WAIT_MS * harness_time_scale());
                harness_sim(&h, "urc +CSCON: 1");
                harness_msleep(DROP_TALK_MS);
        }
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPSTART\"");
        ck_assert(harness_wait_prop(&h, FOTA, "Phase", "downloading", WAIT_MS));
        /* Silent for more than boot_timeout_s: still nothing written, no line moved. */
        responsive_for(&h, DROP_BOOT_S * 1000 + 1500, "downloading after COAPSTART");
        n = commands_in(&h, 0, "# play stall-downloaded", NULL, cmds, sizeof(cmds));
        ck_assert_msg(n == 0, "%d commands written to the module during the upgrade:\n%s", n, cmds);
        ck_assert_int_eq(harness_count_file(h.gpiolog, "active"), 0);
        ck_assert_str_eq(harness_prop(&h, FOTA, "Phase"), "downloading");
        ck_assert_int_eq(harness_count_file(h.daemonlog, "is no longer needed: downloading"), 1);

        /* The download ends and the update finishes: the daemon talks again. */
        harness_sim(&h, "urc +QIND: \"FOTA\",\"COAPEND\",0");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"START\"");
        harness_sim(&h, "urc +QIND: \"FOTA\",\"END\",0");
        ck_assert(harness_wait_prop(&h, FOTA, "LastResult", "success", WAIT_MS));
        ck_assert(harness_wait_prop(&h, MODEM, "State", "ready", WAIT_MS));
        ck_assert_int_eq(harness_count_file(h.simlog, "AT+QRST"), 0);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);
        harness_cleanup(&h);
}
END_TEST

static Suite *faults_suite(void)
{
        Suite *s = suite_create("faults");
        TCase *tc = tcase_create("daemon+simulator");

        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_unplug_mid_upgrade, 0, (int) (sizeof(unplug_cases) / sizeof(unplug_cases[0])));
        tcase_add_test(tc, test_garbage_storm);
        tcase_add_test(tc, test_silent_idle_ladder_backoff);
        tcase_add_test(tc, test_hostile_dbus_calls);
        tcase_add_loop_test(tc, test_sigkill_in_each_phase, 0, 4);
        tcase_add_loop_test(tc, test_qlwrd_fault_retried, 0, (int) (sizeof(qlwrd_cases) / sizeof(qlwrd_cases[0])));
        tcase_add_test(tc, test_stalled_bridge);
        tcase_add_test(tc, test_coapstart_drops_waiting_reset);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(faults_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
