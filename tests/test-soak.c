/* test-soak.c - the soak test of issue 9: many simulated upgrades (the guide's paths and table 2's)
 * against a hostile simulator, each with a fault schedule drawn from a seed, on a compressed clock,
 * and the daemon's guarantees checked from the outside after every upgrade:
 *   (a) between COAPSTART and the upgrade's end the module receives nothing but the one table-2
 *       AT+QRST=1 (a command the daemon wrote before it read COAPSTART is excused);
 *   (b) no GPIO line is asserted while the module printed something in the last boot_timeout_s;
 *   (c) the Imei property and every AT+QLWCONF carry the simulator's IMEI;
 *   (d) every successful SendData is matched by the SEND OK of its own payload;
 *   (e) the daemon is ready again after every upgrade;
 *   (f) exactly one UpgradeStarted and one UpgradeFinished per upgrade.
 * SOAK_RUNS (upgrades, default 6) and SOAK_SEED (default 1) choose the run; the seed is printed
 * with every failure, so any failure replays with the same schedule. The scenarios take turns
 * (from an offset the seed picks), so any run of at least six upgrades, make check's included,
 * plays every one; the faults of each upgrade are drawn from the seed. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MODEM "org.bc26d.Modem1"
#define LWM2M "org.bc26d.Lwm2m1"
#define IMEI "866971030399922"
#define BOOT_TIMEOUT_USEC (2ULL * 1000 * 1000)   /* harness config: boot_timeout_s=2 */
#define UPGRADE_WAIT_MS 60000
#define SOAK_INI "[gpio]\nchip=fake\nreset_line=0\npwrkey_line=1\nreset_pulse_ms=50\npwrkey_pulse_ms=500\n\n" \
        "[lwm2m]\nsend_timeout_s=1\nconnect_timeout_s=5\n"

static unsigned long long seed;

/* xorshift64*: the schedule is a function of the seed alone. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ULL;
}

static unsigned pick(unsigned n)
{
        return (unsigned) (rnd() % n);
}

/* ---- signals: our own connection, counting (the harness' event list is bounded) ------------- */

struct counts {
        sd_bus *bus;
        sd_bus_slot *slot;
        unsigned started, finished;
};

static int on_signal(sd_bus_message *m, void *ud, sd_bus_error *err)
{
        struct counts *c = ud;

        (void) err;
        if (sd_bus_message_is_signal(m, "org.bc26d.Fota1", "UpgradeStarted"))
                c->started++;
        else if (sd_bus_message_is_signal(m, "org.bc26d.Fota1", "UpgradeFinished"))
                c->finished++;
        return 0;
}

static void counts_start(struct harness *h, struct counts *c)
{
        memset(c, 0, sizeof(*c));
        ck_assert_int_ge(sd_bus_new(&c->bus), 0);
        ck_assert_int_ge(sd_bus_set_address(c->bus, h->busaddr), 0);
        ck_assert_int_ge(sd_bus_set_bus_client(c->bus, 1), 0);
        ck_assert_int_ge(sd_bus_start(c->bus), 0);
        ck_assert_int_ge(sd_bus_add_match(c->bus, &c->slot, "type='signal',interface='org.bc26d.Fota1'",
                                          on_signal, c), 0);
}

/* Process signals for up to ms. */
static void counts_pump(struct counts *c, int ms)
{
        long until = harness_deadline_ms(ms);

        while (harness_now_ms() < until) {
                int r = sd_bus_process(c->bus, NULL);

                ck_assert_int_ge(r, 0);
                if (r == 0)
                        ck_assert_int_ge(sd_bus_wait(c->bus, 20 * 1000), 0);
        }
}

static bool counts_wait_finished(struct counts *c, unsigned n, int timeout_ms)
{
        long until = harness_deadline_ms(timeout_ms);

        while (c->finished < n && harness_now_ms() < until)
                counts_pump(c, 50);
        return c->finished >= n;
}

/* ---- the upgrade's fault schedule ------------------------------------------------------------- */

static const char *const paths[] = { "dfota", "coapend-fail", "end-fail", "stall-downloaded", "stall-updating",
                                     "stall-updating-talking" };
#define N_PATHS (sizeof(paths) / sizeof(paths[0]))

static void sim_ok(struct harness *h, const char *req)
{
        const char *reply = harness_sim(h, "%s", req);

        ck_assert_msg(strncmp(reply, "ok", 2) == 0, "seed %llu: simulator refused \"%s\": %s", seed, req, reply);
}

/* Draw and apply upgrade k's faults; returns the scenario to play: the scenarios take turns,
 * starting at one the seed picks, so that every N_PATHS upgrades play each once. */
static const char *schedule(struct harness *h, unsigned k, char *what, size_t size)
{
        static const char *const preambles[] = { "legible", "garbled", "missing" };
        static const char *const late[] = { "ATI", "AT+CGMR", "AT+CGSN", "AT+QLWSERV", "AT+QLWCFG" };
        const char *path = paths[(seed + k) % N_PATHS];
        const char *pre = preambles[pick(3)];
        char req[128];
        unsigned noise = pick(3) * 15;                  /* 0, 15, 30 % */
        unsigned delay_ms = pick(2) * 40;               /* every answer 0 or 40 ms late */
        bool midline = pick(3) == 0, slow = pick(3) == 0, late_one = pick(2) == 0;
        bool late_send = pick(4) == 0, fail_resume = pick(4) == 0;
        const char *late_cmd = late[pick(sizeof(late) / sizeof(late[0]))];

        snprintf(req, sizeof(req), "noise %u.%02u", noise / 100, noise % 100);
        sim_ok(h, req);
        snprintf(req, sizeof(req), "preamble %s", pre);
        sim_ok(h, req);
        sim_ok(h, midline ? "midline-reboot on" : "midline-reboot off");
        sim_ok(h, slow ? "boot-slow 0.5" : "boot-slow 0");
        snprintf(req, sizeof(req), "answer-delay 0.%03u", delay_ms);
        sim_ok(h, req);
        sim_ok(h, late_send ? "send-delay 1.5" : "send-delay default");
        sim_ok(h, fail_resume ? "fota-resume fail" : "fota-resume ok");
        if (late_one) {
                /* After the daemon's 500 ms command timeout: the answer comes during the resync. */
                snprintf(req, sizeof(req), "late %s 0.8", late_cmd);
                sim_ok(h, req);
        }
        snprintf(what, size, "upgrade %u: %s, noise %u%%, preamble %s%s%s, answers +%u ms%s%s%s%s", k, path, noise,
                 pre, midline ? " mid-line" : "", slow ? ", slow boot" : "", delay_ms,
                 late_one ? ", late " : "", late_one ? late_cmd : "", late_send ? ", SEND OK late" : "",
                 fail_resume ? ", resume fails" : "");
        return path;
}

/* ---- SendData ---------------------------------------------------------------------------------- */

#define SENDS_MAX 4096

struct sent {
        char hex[16];
        bool ok;
};

static struct sent sends[SENDS_MAX];
static size_t n_sends;

/* One SendData with a payload unique in this run; remembers whether it reported success. */
static void send_one(struct harness *h, unsigned k, unsigned j)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus *bus = harness_bus(h);
        uint8_t data[3] = { (uint8_t) (k >> 8), (uint8_t) k, (uint8_t) j };
        struct sent *s;
        int r;

        ck_assert_uint_lt(n_sends, SENDS_MAX);
        s = &sends[n_sends++];
        snprintf(s->hex, sizeof(s->hex), "%02X%02X%02X", data[0], data[1], data[2]);
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, "org.bc26d", "/org/bc26d/Modem", LWM2M, "SendData"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "uuu", 19u, 0u, 0u), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, sizeof(data)), 0);
        r = sd_bus_call(bus, m, 30ULL * 1000 * 1000, &err, &reply);
        s->ok = r >= 0;
        sd_bus_error_free(&err);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
}

/* ---- the invariants, from the logs -------------------------------------------------------------- */

static bool fota_end_event(const char *line)
{
        const char *p;

        if (strncmp(line, "# urc +QIND: \"FOTA\",", 20) != 0)
                return false;
        if (strstr(line, "\"END\""))
                return true;
        p = strstr(line, "\"COAPEND\",");
        return p && strcmp(p + 10, "0") != 0;
}

/* The commands the daemon logged as written ("-> X") in the lines before its n-th (1-based)
 * "<- +QIND: "FOTA","COAPSTART"", most recent first, at most max. */
static size_t written_before_coapstart(const char *daemonlog, unsigned n, char out[][128], size_t max)
{
        const char *p = daemonlog, *hit = NULL;
        size_t got = 0;

        for (unsigned i = 0; i < n; i++) {
                p = strstr(p, "<- +QIND: \"FOTA\",\"COAPSTART\"");
                if (!p)
                        return 0;
                hit = p++;
        }
        for (const char *q = hit; q > daemonlog && got < max;) {
                const char *end = q, *start, *arrow;

                for (start = end - 1; start > daemonlog && start[-1] != '\n'; start--)
                        ;
                arrow = strstr(start, "-> ");
                if (arrow && arrow < end) {
                        size_t len = (size_t) (end - arrow - 3);

                        while (len > 0 && (arrow[3 + len - 1] == '\n' || arrow[3 + len - 1] == '\r'))
                                len--;
                        snprintf(out[got++], 128, "%.*s", (int) len, arrow + 3);
                }
                q = start;
                if (q == daemonlog)
                        break;
        }
        return got;
}

/* (a): per upgrade, the module's received commands between COAPSTART and the upgrade's end. */
static void check_silence(struct harness *h, char *simlog, const char *daemonlog, unsigned upgrades)
{
        unsigned n = 0;
        char *save = NULL;
        bool in = false;
        int qrst = 0;
        char excused[3][128];
        size_t n_excused = 0;

        for (char *line = strtok_r(simlog, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, "# urc +QIND: \"FOTA\",\"COAPSTART\"", 32) == 0 && !in) {
                        in = true;
                        qrst = 0;
                        n++;
                        n_excused = written_before_coapstart(daemonlog, n, excused, 3);
                        continue;
                }
                if (in && fota_end_event(line)) {
                        in = false;
                        continue;
                }
                if (!in || line[0] == '#')
                        continue;
                {
                        const char *cmd = strchr(line, ' ');
                        bool ok = false;

                        cmd = cmd ? cmd + 1 : line;
                        if (strcmp(cmd, "AT+QRST=1") == 0 && ++qrst == 1)
                                continue;
                        for (size_t i = 0; i < n_excused; i++)
                                if (strcmp(excused[i], cmd) == 0) {
                                        /* Written before the daemon read COAPSTART: it was on its way. */
                                        excused[i][0] = '\0';
                                        ok = true;
                                        break;
                                }
                        ck_assert_msg(ok, "seed %llu: upgrade %u: the module received \"%s\" between COAPSTART and "
                                      "its end (AT+QRST=1 #%d)", seed, n, cmd, qrst);
                }
        }
        ck_assert_msg(n >= upgrades, "seed %llu: %u COAPSTART in the simulator log for %u upgrades", seed, n, upgrades);
}

/* (b): no GPIO line asserted within boot_timeout of a line the module printed. */
static void check_gpio(struct harness *h, const char *simlog)
{
        char *gpio = harness_read_file(h->gpiolog);
        char *save = NULL;
        unsigned n = 0;

        for (char *line = strtok_r(gpio, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned long long t;
                char which[16], level[16];
                const char *p = simlog;

                if (sscanf(line, "%llu %15s %15s", &t, which, level) != 3 || strcmp(level, "active") != 0)
                        continue;
                n++;
                while ((p = strstr(p, "# tx "))) {
                        double s = strtod(p + 5, NULL);
                        unsigned long long tx = (unsigned long long) (s * 1e6);

                        ck_assert_msg(!(tx <= t && t - tx < BOOT_TIMEOUT_USEC),
                                      "seed %llu: GPIO %s asserted at %llu us, %llu us after the module printed "
                                      "(\"%.60s\")", seed, which, t, t - tx, p);
                        p += 5;
                }
        }
        fprintf(stderr, "soak: %u GPIO assertions, none within boot_timeout_s of a module line\n", n);
        free(gpio);
}

/* (c) and (d). */
static void check_identity_and_sends(struct harness *h, const char *simlog)
{
        const char *p = simlog;
        unsigned ok = 0;

        while ((p = strstr(p, "AT+QLWCONF="))) {
                ck_assert_msg(strncmp(p, "AT+QLWCONF=\"" IMEI "\"", 28) == 0,
                              "seed %llu: registered with another endpoint: %.60s", seed, p);
                p++;
        }
        ck_assert_str_eq(harness_prop(h, MODEM, "Imei"), IMEI);
        for (size_t i = 0; i < n_sends; i++) {
                char want[64];

                if (!sends[i].ok)
                        continue;
                ok++;
                snprintf(want, sizeof(want), "# send-result %.15s ok", sends[i].hex);
                ck_assert_msg(strstr(simlog, want), "seed %llu: SendData of %s reported success without its own "
                              "SEND OK", seed, sends[i].hex);
        }
        fprintf(stderr, "soak: %zu SendData, %u acknowledged, each by its own SEND OK\n", n_sends, ok);
}

/* Every scenario played as often as the turns give it (each at least once from N_PATHS upgrades). */
static void check_scenarios(const char *simlog, unsigned runs)
{
        for (size_t i = 0; i < N_PATHS; i++) {
                char want[64];
                unsigned n = 0;

                snprintf(want, sizeof(want), "# play %s\n", paths[i]);
                for (const char *p = simlog; (p = strstr(p, want)); p++)
                        n++;
                ck_assert_msg(n == runs / N_PATHS + ((i + N_PATHS - seed % N_PATHS) % N_PATHS < runs % N_PATHS),
                              "seed %llu: scenario %s played %u times in %u upgrades", seed, paths[i], n, runs);
        }
}

START_TEST(test_soak)
{
        const char *runs_env = getenv("SOAK_RUNS"), *seed_env = getenv("SOAK_SEED");
        unsigned runs = runs_env ? (unsigned) strtoul(runs_env, NULL, 10) : 6;
        struct harness h;
        struct counts c;
        char sim_args[512], *simlog, *daemonlog;
        long t0 = harness_now_ms();

        seed = seed_env ? strtoull(seed_env, NULL, 10) : 1;
        rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
        fprintf(stderr, "soak: %u upgrades, seed %llu (replay: make soak SOAK_RUNS=%u SOAK_SEED=%llu)\n", runs, seed,
                runs, seed);
        harness_init(&h);
        /* Compressed clock: a 6 s upgrade window leaves room, in window 2, for the module that talks
         * through window 1's end, then two silent boot_timeout_s (2 s) before RESET_N, and a boot. */
        h.fota_timeout_s = 6;
        snprintf(sim_args, sizeof(sim_args), "--gpio %s --log-tx --seed %llu", h.gpiolog, seed);
        harness_start_ready(&h, sim_args, SOAK_INI);
        counts_start(&h, &c);

        for (unsigned k = 0; k < runs; k++) {
                char what[256], req[64];
                const char *path = schedule(&h, k, what, sizeof(what));

                fprintf(stderr, "soak: seed %llu %s\n", seed, what);
                for (unsigned j = 0; j < 2; j++)
                        send_one(&h, k, j);
                snprintf(req, sizeof(req), "play %s", path);
                sim_ok(&h, req);
                ck_assert_msg(counts_wait_finished(&c, k + 1, UPGRADE_WAIT_MS),
                              "seed %llu: %s: no UpgradeFinished (%u started, %u finished)", seed, what, c.started,
                              c.finished);
                /* The faults stay on while the module reboots and the daemon re-initialises; "ready"
                 * is the module initialised and the LwM2M session observed. */
                ck_assert_msg(harness_wait_prop(&h, MODEM, "State", "ready", UPGRADE_WAIT_MS),
                              "seed %llu: %s: not ready again (State %s)", seed, what, harness_prop(&h, MODEM, "State"));
                counts_pump(&c, 100);
                ck_assert_msg(c.started == k + 1 && c.finished == k + 1,
                              "seed %llu: %s: %u UpgradeStarted and %u UpgradeFinished after %u upgrades", seed, what,
                              c.started, c.finished, k + 1);
                ck_assert_msg(harness_daemon_alive(&h), "seed %llu: %s: the daemon died", seed, what);
        }
        /* A last, clean send: the session works after it all. */
        sim_ok(&h, "noise 0");
        sim_ok(&h, "send-delay default");
        send_one(&h, runs, 0xff);
        ck_assert_msg(sends[n_sends - 1].ok, "seed %llu: a clean SendData after the soak failed", seed);

        simlog = harness_read_file(h.simlog);
        daemonlog = harness_read_file(h.daemonlog);
        check_scenarios(simlog, runs);
        check_identity_and_sends(&h, simlog);
        check_gpio(&h, simlog);
        check_silence(&h, simlog, daemonlog, runs);
        fprintf(stderr, "soak: seed %llu: %u upgrades, 0 violations, %ld s\n", seed, runs,
                (harness_now_ms() - t0) / 1000);
        free(simlog);
        free(daemonlog);
        sd_bus_slot_unref(c.slot);
        sd_bus_flush_close_unref(c.bus);
        harness_cleanup(&h);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("soak");
        TCase *tc = tcase_create("soak");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_soak);
        tcase_set_timeout(tc, 0);       /* bounded by its own waits; SOAK_RUNS decides the length */
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
