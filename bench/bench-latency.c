/* bench-latency.c - latency and start-up benchmarks of bc26d against a bare sd-bus + libevent
 * daemon (bench/bare-daemon) on the same private bus ($DBUS_SYSTEM_BUS_ADDRESS).
 *
 * This process is both the D-Bus client and the module: it owns a pty whose slave is linked at
 * --link (bc26d's [serial] device) and answers the commands bc26d sends like tests/bc26sim.py
 * does, in C, so that it can take CLOCK_MONOTONIC timestamps the moment bytes arrive.
 *
 *   start:    spawn -> NameOwnerChanged(name, new owner) at this client, bc26d and the bare
 *             daemon alternately, --starts runs each (median, p90)
 *   send:     SendData call sent -> the AT+QLWDATASEND line read on the pty (p50/p99), each
 *             sample next to a bare Echo round trip (p50/p99)
 *   radio:    "+CEREG: 5,..." and "+CEREG: 1,..." (registration roaming <-> home) written on the
 *             pty -> PropertiesChanged(org.bc26d.Network1, Registration) received here (p50/p99),
 *             each next to its floor sample like the progress samples; after each, the status
 *             refresh bc26d starts (AT+CEREG?, AT+CESQ, AT+CSQ, AT+QENG=0, answered here) runs to
 *             its PropertiesChanged(Updated) before the next sample, so none queues behind it
 *   urc:      "+QIND: "FOTA","UPDATING",N%" written on the pty -> PropertiesChanged(Progress=N)
 *             received here (p50/p99), each sample next to the floor: the same line written on
 *             a second pty that the bare daemon reads -> its Line signal received here; the
 *             upgrade then ends (END,0) and bc26d re-registers, which is one full DFOTA cycle
 *   phase:    the phase-change path, which persists (fsync) before it announces:
 *             COAPSTART -> PropertiesChanged(Phase=downloading), COAPEND,5 ->
 *             PropertiesChanged(Phase=idle), --phase-samples of them in all (p50/p99)
 *   enqueue:  Lwm2m1.Enqueue(19,0,0,[01 02],{}) call -> reply (the message fsync'd in the state
 *             dir's outbox log) while a download holds the gate, so nothing is sent (p50/p99),
 *             each next to its floors: a bare Echo round trip, and a 48-byte append + fdatasync
 *             of a file in the same state dir (p50/p99 of each and of their per-sample sum);
 *             a bc26d without Enqueue (a baseline build) gets enqueue_skipped=1
 *
 * Usage: bench-latency --link PATH --daemon BC26D --conf FILE --state-dir DIR --bare BARE
 *                      [--daemon-log FILE] [--samples N] [--starts N] [--phase-samples N]
 *                      [--urc-only]
 * --urc-only skips the start-up and SendData parts (to repeat the URC and Enqueue parts on
 * another state dir).
 * Prints "key=value" lines; exit 1 if anything failed (a refused call, a timeout). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#define BC26D_NAME "org.bc26d"
#define BARE_NAME "org.bc26d.Bare"
#define MODEM_PATH "/org/bc26d/Modem"
#define WAIT_MS 20000           /* any single wait: generous, a failure ends the run */

static struct {
        const char *link, *daemon, *conf, *state_dir, *bare, *daemon_log;
        int samples, starts, phase_samples;
        bool urc_only;
        char floor_link[4096];
} opt = { .samples = 500, .starts = 20, .phase_samples = 100, .daemon_log = "/dev/null" };

static sd_bus *bus;
static pid_t children[4];       /* daemons running now: stopped by die() */

/* ---- time, output ------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
        va_list ap;

        for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
                if (children[i] > 0) {
                        kill(children[i], SIGTERM);
                        (void) waitpid(children[i], NULL, 0);
                }

        va_start(ap, fmt);
        fprintf(stderr, "bench-latency: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static uint64_t pct(const uint64_t *v, size_t n, double p)
{
        size_t rank = (size_t) (p / 100.0 * (double) n + 0.999999);

        return v[rank == 0 ? 0 : rank - 1];
}

static void report(const char *key, uint64_t *v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_u64);
        printf("%s_n=%zu\n", key, n);
        printf("%s_p50_us=%.1f\n", key, (double) pct(v, n, 50) / 1e3);
        printf("%s_p90_us=%.1f\n", key, (double) pct(v, n, 90) / 1e3);
        printf("%s_p99_us=%.1f\n", key, (double) pct(v, n, 99) / 1e3);
        printf("%s_max_us=%.1f\n", key, (double) v[n - 1] / 1e3);
}

/* ---- the module --------------------------------------------------------------------------- */

static struct {
        int master, slave;
        char in[8192];
        size_t len;
        bool discarding;
        uint64_t datasend_ns;   /* arrival of the last AT+QLWDATASEND line */
        unsigned datasends;
        unsigned commands;
        int stat;               /* <stat> that AT+CEREG? reports: the last +CEREG URC sent */
        unsigned cereg_reads;   /* AT+CEREG? and AT+QENG=0 answered: a status round is over */
        unsigned qeng_answers;  /* when both counts are equal */
} mod = { .master = -1, .slave = -1, .stat = 1 };

/* The floor's pty: only written to (the bare daemon reads it, and never answers). */
static struct {
        int master, slave;
} flr = { .master = -1, .slave = -1 };

static void fd_write(int fd, const char *s)
{
        size_t n = strlen(s), off = 0;

        while (off < n) {
                ssize_t w = write(fd, s + off, n - off);

                if (w > 0) {
                        off += (size_t) w;
                } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                        struct pollfd p = { .fd = fd, .events = POLLOUT };

                        (void) poll(&p, 1, 100);
                } else {
                        die("write to the pty: %s", strerror(errno));
                }
        }
}

static void mod_write(const char *s)
{
        fd_write(mod.master, s);
}

static void mod_line(const char *text)
{
        char buf[512];

        snprintf(buf, sizeof(buf), "\r\n%s\r\n", text);
        mod_write(buf);
}

static void floor_line(const char *text)
{
        char buf[512];

        snprintf(buf, sizeof(buf), "\r\n%s\r\n", text);
        fd_write(flr.master, buf);
}

static bool starts_with(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* What a registered BC26 answers (echo off from the start: the channel copes with both). */
static void mod_command(const char *cmd, uint64_t t)
{
        mod.commands++;
        if (starts_with(cmd, "AT+QLWDATASEND=")) {
                mod.datasend_ns = t;
                mod.datasends++;
                mod_line("OK");
                mod_line("SEND OK");
        } else if (strcmp(cmd, "ATI") == 0) {
                mod_write("\r\nQuectel_Ltd\r\n\r\nQuectel_BC26\r\n\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n");
        } else if (strcmp(cmd, "AT+CGMR") == 0) {
                mod_write("\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n");
        } else if (strcmp(cmd, "AT+CGSN=1") == 0) {
                mod_write("\r\n+CGSN: 866971030399922\r\n\r\nOK\r\n");
        } else if (strcmp(cmd, "AT+IPR?") == 0) {
                mod_write("\r\n+IPR: 115200\r\n\r\nOK\r\n");
        } else if (starts_with(cmd, "AT+QLWRD=")) {
                mod_write("\r\n+QLWRD: 0\r\n\r\nOK\r\n");
        } else if (strcmp(cmd, "AT+QLWOPEN=1") == 0) {
                mod_line("OK");
                mod_line("CONNECT OK");
                mod_line("+QLWOBSERVE: 0,19,0,0");
        } else if (strcmp(cmd, "AT+QLWCLOSE") == 0) {
                mod_line("OK");
                mod_line("CLOSE OK");
        } else if (strcmp(cmd, "AT+CEREG?") == 0) {
                char buf[128];

                /* The read form carries <n> first; <stat> is the one of the last URC sent, so that
                 * the refresh never flips Registration back. */
                mod.cereg_reads++;
                snprintf(buf, sizeof(buf), "\r\n+CEREG: 5,%d,\"1A2B\",\"0C3D4E5F\",9\r\n\r\nOK\r\n", mod.stat);
                mod_write(buf);
        } else if (strcmp(cmd, "AT+CESQ") == 0) {
                mod_write("\r\n+CESQ: 36,99,255,255,12,53\r\n\r\nOK\r\n");
        } else if (strcmp(cmd, "AT+CSQ") == 0) {
                mod_write("\r\n+CSQ: 19,99\r\n\r\nOK\r\n");
        } else if (strcmp(cmd, "AT+QENG=0") == 0) {
                mod.qeng_answers++;
                mod_write("\r\n+QENG: 0,2506,2,62,\"6923252\",-84,-10,-74,2,5,\"69C9\",0,90\r\n\r\nOK\r\n");
        } else if (strcmp(cmd, "AT+QRST=1") == 0) {
                mod_line("RDY");
        } else if (starts_with(cmd, "AT")) {
                mod_line("OK");         /* AT, ATE0, AT+CMEE=1, AT+QSCLK=0, AT+CEREG=5, AT+QLW{DEL,...}, ... */
        }
}

/* A raw pty whose slave is linked at LINK; the slave stays open here too, so that reads on the
 * master never see EIO between daemons. */
static void pty_open(const char *link, int *master, int *slave)
{
        struct termios t;
        char tmp[4096 + 8];
        const char *name;

        *master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (*master < 0 || grantpt(*master) < 0 || unlockpt(*master) < 0 || !(name = ptsname(*master)))
                die("cannot make a pty: %s", strerror(errno));
        *slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (*slave < 0 || tcgetattr(*slave, &t) < 0)
                die("cannot open %s: %s", name, strerror(errno));
        cfmakeraw(&t);
        if (tcsetattr(*slave, TCSANOW, &t) < 0)
                die("cannot set %s raw: %s", name, strerror(errno));
        snprintf(tmp, sizeof(tmp), "%s.tmp", link);
        (void) unlink(tmp);
        if (symlink(name, tmp) < 0 || rename(tmp, link) < 0)
                die("cannot link %s: %s", link, strerror(errno));
}

static void mod_open(void)
{
        pty_open(opt.link, &mod.master, &mod.slave);
        snprintf(opt.floor_link, sizeof(opt.floor_link), "%s.floor", opt.link);
        pty_open(opt.floor_link, &flr.master, &flr.slave);
}

static void mod_read(void)
{
        char buf[4096];
        ssize_t n = read(mod.master, buf, sizeof(buf));
        uint64_t t = now_ns();

        if (n <= 0)
                return;
        for (ssize_t i = 0; i < n; i++) {
                char c = buf[i];

                if (c == '\r' || c == '\n') {
                        if (!mod.discarding && mod.len > 0) {
                                mod.in[mod.len] = '\0';
                                mod_command(mod.in, t);
                        }
                        mod.len = 0;
                        mod.discarding = false;
                } else if (mod.len + 1 >= sizeof(mod.in)) {
                        mod.discarding = true;
                } else if (!mod.discarding) {
                        mod.in[mod.len++] = c;
                }
        }
}

/* ---- one loop over the pty and the bus -------------------------------------------------- */

static void pump(int timeout_ms)
{
        struct pollfd p[2] = {
                { .fd = mod.master, .events = POLLIN },
                { .fd = sd_bus_get_fd(bus), .events = (short) sd_bus_get_events(bus) },
        };
        int r;

        while ((r = sd_bus_process(bus, NULL)) > 0)
                ;
        if (r < 0)
                die("bus: %s", strerror(-r));
        p[1].events = (short) sd_bus_get_events(bus);
        if (poll(p, 2, timeout_ms) < 0 && errno != EINTR)
                die("poll: %s", strerror(errno));
        if (p[0].revents & POLLIN)
                mod_read();
        while ((r = sd_bus_process(bus, NULL)) > 0)
                ;
        if (r < 0)
                die("bus: %s", strerror(-r));
}

static bool wait_until(bool *flag, int timeout_ms)
{
        uint64_t end = now_ns() + (uint64_t) timeout_ms * 1000000u;

        while (!*flag) {
                if (now_ns() > end)
                        return false;
                pump(10);
        }
        return true;
}

static const char *get_prop(const char *iface, const char *prop)
{
        static char value[128];
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char *s = NULL;
        int r = sd_bus_get_property_string(bus, BC26D_NAME, MODEM_PATH, iface, prop, &err, &s);

        snprintf(value, sizeof(value), "%s", r >= 0 ? s : "<error>");
        sd_bus_error_free(&err);
        free(s);
        return value;
}

/* A 't' property; UINT64_MAX when it cannot be read. */
static uint64_t get_prop_u64(const char *iface, const char *prop)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;
        uint64_t v = 0;
        int r = sd_bus_get_property_trivial(bus, BC26D_NAME, MODEM_PATH, iface, prop, &err, 't', &v);

        sd_bus_error_free(&err);
        return r >= 0 ? v : UINT64_MAX;
}

static void wait_prop(const char *iface, const char *prop, const char *want)
{
        uint64_t end = now_ns() + (uint64_t) WAIT_MS * 1000000u;

        while (strcmp(get_prop(iface, prop), want) != 0) {
                if (now_ns() > end)
                        die("%s.%s did not become %s (is %s)", iface, prop, want, get_prop(iface, prop));
                pump(20);
        }
}

/* ---- start-up: spawn -> name owned ------------------------------------------------------- */

static struct {
        const char *name;
        bool owned;
        uint64_t at;
} owner;

static int on_name_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const char *name, *old, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old, &new_owner) < 0)
                return 0;
        if (owner.name && strcmp(name, owner.name) == 0 && new_owner[0]) {
                owner.owned = true;
                owner.at = now_ns();
        }
        return 0;
}

static pid_t spawn(char *const argv[], const char *out)
{
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                die("cannot start %s: %s", argv[0], strerror(r));
        for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
                if (children[i] <= 0) {
                        children[i] = pid;
                        break;
                }
        return pid;
}

/* with_tty: the bare daemon also reads the floor's pty (for the URC floor). */
static pid_t spawn_daemon(bool bare, bool with_tty)
{
        char *bare_argv[] = { (char *) opt.bare, (char *) BARE_NAME, with_tty ? opt.floor_link : NULL, NULL };
        char *bc26d_argv[] = { (char *) opt.daemon, (char *) "--config", (char *) opt.conf, (char *) "--state-dir",
                               (char *) opt.state_dir, (char *) "--log-level", (char *) "info", NULL };

        return spawn(bare ? bare_argv : bc26d_argv, opt.daemon_log);
}

/* Spawn, wait for the name; returns spawn -> NameOwnerChanged in ns. */
static uint64_t start_and_time(bool bare, pid_t *pid)
{
        uint64_t t0;

        owner.name = bare ? BARE_NAME : BC26D_NAME;
        owner.owned = false;
        t0 = now_ns();
        *pid = spawn_daemon(bare, false);
        if (!wait_until(&owner.owned, WAIT_MS))
                die("%s did not own %s", bare ? opt.bare : opt.daemon, owner.name);
        return owner.at - t0;
}

static void stop_daemon(pid_t pid, const char *what)
{
        int status;

        kill(pid, SIGTERM);
        /* Keep answering the module while bc26d shuts down. */
        for (int i = 0; i < 2000; i++) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid) {
                        for (size_t k = 0; k < sizeof(children) / sizeof(children[0]); k++)
                                if (children[k] == pid)
                                        children[k] = 0;
                        /* What the module said to a daemon that is gone must not greet the next
                         * one: drop it from the tty's queue, and any half-read command. */
                        (void) tcflush(mod.slave, TCIOFLUSH);
                        mod.len = 0;
                        mod.discarding = false;
                        /* A status round it left half done is no round of the next one. */
                        mod.cereg_reads = mod.qeng_answers = 0;
                        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                die("%s (pid %d) did not exit 0 on SIGTERM: wait status 0x%x", what, (int) pid, status);
                        return;
                }
                pump(5);
        }
        die("%s (pid %d) did not stop", what, (int) pid);
}

static void bench_start(void)
{
        uint64_t *t_bc26d = calloc((size_t) opt.starts, sizeof(uint64_t));
        uint64_t *t_bare = calloc((size_t) opt.starts, sizeof(uint64_t));
        pid_t pid;

        if (!t_bc26d || !t_bare)
                die("out of memory");
        for (int i = 0; i < opt.starts; i++) {
                t_bare[i] = start_and_time(true, &pid);
                stop_daemon(pid, opt.bare);
                t_bc26d[i] = start_and_time(false, &pid);
                stop_daemon(pid, opt.daemon);
        }
        qsort(t_bc26d, (size_t) opt.starts, sizeof(uint64_t), cmp_u64);
        qsort(t_bare, (size_t) opt.starts, sizeof(uint64_t), cmp_u64);
        printf("start_runs=%d\n", opt.starts);
        printf("start_bc26d_median_ms=%.2f\n", (double) pct(t_bc26d, (size_t) opt.starts, 50) / 1e6);
        printf("start_bc26d_p90_ms=%.2f\n", (double) pct(t_bc26d, (size_t) opt.starts, 90) / 1e6);
        printf("start_bare_median_ms=%.2f\n", (double) pct(t_bare, (size_t) opt.starts, 50) / 1e6);
        printf("start_bare_p90_ms=%.2f\n", (double) pct(t_bare, (size_t) opt.starts, 90) / 1e6);
        printf("start_ratio=%.2f\n", (double) pct(t_bc26d, (size_t) opt.starts, 50) /
               (double) pct(t_bare, (size_t) opt.starts, 50));
        free(t_bc26d);
        free(t_bare);
}

/* ---- SendData -> AT bytes, next to a bare round trip ------------------------------------ */

struct call_state {
        bool done;
        bool failed;
        char error[256];
};

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct call_state *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        c->done = true;
        if (e) {
                c->failed = true;
                snprintf(c->error, sizeof(c->error), "%s: %s", e->name, e->message ? e->message : "");
        }
        return 0;
}

static void bench_send(void)
{
        uint64_t *t_send = calloc((size_t) opt.samples, sizeof(uint64_t));
        uint64_t *t_bare = calloc((size_t) opt.samples, sizeof(uint64_t));
        static const uint8_t payload[] = { 0x01, 0x02 };

        if (!t_send || !t_bare)
                die("out of memory");
        for (int i = 0; i < opt.samples; i++) {
                sd_bus_error err = SD_BUS_ERROR_NULL;
                sd_bus_message *call = NULL, *reply = NULL;
                struct call_state c = { 0 };
                unsigned before = mod.datasends;
                uint64_t t0;
                int r;

                /* The floor: a whole method round trip to the bare daemon. */
                t0 = now_ns();
                r = sd_bus_call_method(bus, BARE_NAME, "/org/bc26d/Bare", "org.bc26d.Bare1", "Echo", &err, &reply,
                                       "s", "0102");
                t_bare[i] = now_ns() - t0;
                if (r < 0)
                        die("Echo: %s", err.message ? err.message : strerror(-r));
                sd_bus_message_unref(reply);

                /* SendData: from the call leaving here to its AT command arriving on the tty. */
                if (sd_bus_message_new_method_call(bus, &call, BC26D_NAME, MODEM_PATH, "org.bc26d.Lwm2m1",
                                                   "SendData") < 0 ||
                    sd_bus_message_append(call, "uuu", 19u, 0u, 0u) < 0 ||
                    sd_bus_message_append_array(call, 'y', payload, sizeof(payload)) < 0)
                        die("cannot build SendData");
                t0 = now_ns();
                r = sd_bus_call_async(bus, NULL, call, on_reply, &c, 10 * 1000000u);
                sd_bus_message_unref(call);
                if (r < 0)
                        die("SendData: %s", strerror(-r));
                for (uint64_t end = t0 + (uint64_t) WAIT_MS * 1000000u; !c.done || mod.datasends == before;) {
                        if (now_ns() > end)
                                die("SendData %d: no AT+QLWDATASEND or no reply", i);
                        pump(10);
                }
                if (c.failed)
                        die("SendData %d failed: %s", i, c.error);
                t_send[i] = mod.datasend_ns - t0;
        }
        report("send_at", t_send, (size_t) opt.samples);
        report("bare_rtt", t_bare, (size_t) opt.samples);
        printf("send_at_p99_vs_bare_rtt_p99=%.2f\n",
               (double) pct(t_send, (size_t) opt.samples, 99) / (double) pct(t_bare, (size_t) opt.samples, 99));
        printf("send_at_p50_vs_bare_rtt_p50=%.2f\n",
               (double) pct(t_send, (size_t) opt.samples, 50) / (double) pct(t_bare, (size_t) opt.samples, 50));
        free(t_send);
        free(t_bare);
}

/* ---- Enqueue -> reply (durable), gated, next to an fdatasync loop and a bare round trip --- */

/* One Enqueue, timed call -> reply into *ns: 0, or 2 when the daemon has no such method (a bc26d
 * from before the outbox answers UnknownMethod); any other error ends the run. */
static int enqueue_call(uint64_t *ns, uint64_t *id)
{
        static const uint8_t payload[] = { 0x01, 0x02 };
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *call = NULL, *reply = NULL;
        uint64_t t0;
        int r;

        if (sd_bus_message_new_method_call(bus, &call, BC26D_NAME, MODEM_PATH, "org.bc26d.Lwm2m1", "Enqueue") < 0 ||
            sd_bus_message_append(call, "uuu", 19u, 0u, 0u) < 0 ||
            sd_bus_message_append_array(call, 'y', payload, sizeof(payload)) < 0 ||
            sd_bus_message_open_container(call, 'a', "{sv}") < 0 || sd_bus_message_close_container(call) < 0)
                die("cannot build Enqueue");
        t0 = now_ns();
        r = sd_bus_call(bus, call, 10 * 1000000u, &err, &reply);
        *ns = now_ns() - t0;
        sd_bus_message_unref(call);
        if (r < 0) {
                if (sd_bus_error_has_name(&err, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                        sd_bus_error_free(&err);
                        return 2;
                }
                die("Enqueue: %s: %s", err.name ? err.name : "", err.message ? err.message : strerror(-r));
        }
        if (sd_bus_message_read(reply, "t", id) < 0)
                die("Enqueue: the reply is not a 't'");
        sd_bus_message_unref(reply);
        return 0;
}

static unsigned clear_queue(void)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint32_t dropped = 0;
        int r = sd_bus_call_method(bus, BC26D_NAME, MODEM_PATH, "org.bc26d.Lwm2m1", "ClearQueue", &err, &reply, "");

        if (r < 0 || sd_bus_message_read(reply, "u", &dropped) < 0)
                die("ClearQueue: %s", err.message ? err.message : strerror(-r));
        sd_bus_message_unref(reply);
        sd_bus_error_free(&err);
        return dropped;
}

/* Enqueue(19,0,0,[01 02], {}) call -> reply, while a download holds the gate (COAPSTART: Phase
 * downloading, State upgrading), so that the messages stay queued and the pump never sends: this
 * is the reply path alone (validate, admit, append one record to the state dir's outbox log,
 * fdatasync, reply). Each sample is taken right after its floors: a bare Echo round trip, and a
 * 48-byte append + fdatasync() of a file in the same state dir (48 bytes: one outbox record
 * with a 2-byte payload). The queue is cleared (untimed) every ENQUEUE_BATCH messages and the
 * floor file cut back with it, so that no [outbox] limit (1024 messages, 50 % per user by
 * default) is reached with the default config. Then COAPEND,5 ends the download. */
#define ENQUEUE_BATCH 256
static void bench_enqueue(void)
{
        static const char rec[48] = "bench-latency fdatasync floor: 48 bytes, 1 rec\n";
        size_t n = (size_t) opt.samples;
        uint64_t *t_enq = calloc(n, sizeof(uint64_t)), *t_sync = calloc(n, sizeof(uint64_t));
        uint64_t *t_echo = calloc(n, sizeof(uint64_t)), *t_sum = calloc(n, sizeof(uint64_t));
        uint64_t id = 0, last_id = 0, ns;
        unsigned queued = 0;
        char path[4096 + 32];
        int fd;

        if (!t_enq || !t_sync || !t_echo || !t_sum)
                die("out of memory");
        wait_prop("org.bc26d.Fota1", "Phase", "idle");
        wait_prop("org.bc26d.Modem1", "State", "ready");
        mod_line("+QIND: \"FOTA\",\"COAPSTART\"");
        wait_prop("org.bc26d.Fota1", "Phase", "downloading");
        wait_prop("org.bc26d.Modem1", "State", "upgrading");
        /* One untimed call first: the method exists, and the log file is there. */
        if (enqueue_call(&ns, &id) == 2) {
                fprintf(stderr, "bench-latency: %s has no Lwm2m1.Enqueue: no enqueue samples\n", opt.daemon);
                printf("enqueue_skipped=1\n");
                goto end;
        }
        queued = 1;
        last_id = id;
        snprintf(path, sizeof(path), "%s/bench-fdatasync-floor", opt.state_dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                die("cannot create %s: %s", path, strerror(errno));
        for (size_t i = 0; i < n; i++) {
                sd_bus_error err = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                uint64_t t0;
                int r;

                if (queued >= ENQUEUE_BATCH) {
                        if (clear_queue() != queued)
                                die("ClearQueue did not drop the %u messages queued", queued);
                        queued = 0;
                        if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0 || fdatasync(fd) < 0)
                                die("cannot cut %s back: %s", path, strerror(errno));
                }
                t0 = now_ns();
                r = sd_bus_call_method(bus, BARE_NAME, "/org/bc26d/Bare", "org.bc26d.Bare1", "Echo", &err, &reply,
                                       "s", "0102");
                t_echo[i] = now_ns() - t0;
                if (r < 0)
                        die("Echo: %s", err.message ? err.message : strerror(-r));
                sd_bus_message_unref(reply);

                t0 = now_ns();
                if (write(fd, rec, sizeof(rec)) != (ssize_t) sizeof(rec) || fdatasync(fd) < 0)
                        die("%s: %s", path, strerror(errno));
                t_sync[i] = now_ns() - t0;
                t_sum[i] = t_echo[i] + t_sync[i];

                if (enqueue_call(&t_enq[i], &id) != 0)
                        die("Enqueue %zu: the method went away", i);
                if (id <= last_id)
                        die("Enqueue %zu: id %" PRIu64 " after %" PRIu64 ", not increasing", i, id, last_id);
                last_id = id;
                queued++;
                pump(0);        /* the Queued/QueuedBytes signals, if anything listens */
        }
        (void) close(fd);
        (void) unlink(path);
        if (clear_queue() != queued)
                die("ClearQueue did not drop the %u messages queued", queued);
        report("enqueue_reply", t_enq, n);
        report("enqueue_fdatasync", t_sync, n);
        report("enqueue_echo", t_echo, n);
        report("enqueue_floor", t_sum, n);
        printf("enqueue_reply_p99_vs_floor_p99=%.2f\n", (double) pct(t_enq, n, 99) / (double) pct(t_sum, n, 99));
        printf("enqueue_batch=%d\n", ENQUEUE_BATCH);
end:
        mod_line("+QIND: \"FOTA\",\"COAPEND\",5");
        wait_prop("org.bc26d.Fota1", "Phase", "idle");
        wait_prop("org.bc26d.Modem1", "State", "ready");
        free(t_enq);
        free(t_sync);
        free(t_echo);
        free(t_sum);
}

/* ---- URC on the tty -> PropertiesChanged at the client ---------------------------------- */

static struct {
        int want;
        bool got;
        uint64_t at;
} progress;

static struct {
        const char *want;
        bool got;
        uint64_t at;
} phase;

static struct {
        char want[96];
        bool got;
        uint64_t at;
} floor_sig;

static struct {
        const char *want;       /* Registration awaited */
        bool got;
        uint64_t at;
        bool updated;           /* an Updated change arrived: a status round is over */
} radio;

static void on_network_props(sd_bus_message *m, uint64_t t)
{
        const char *name;

        if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                if (sd_bus_message_read(m, "s", &name) < 0)
                        return;
                if (strcmp(name, "Registration") == 0) {
                        const char *v;

                        if (sd_bus_message_read(m, "v", "s", &v) >= 0 && radio.want && strcmp(v, radio.want) == 0 &&
                            !radio.got) {
                                radio.got = true;
                                radio.at = t;
                        }
                } else if (strcmp(name, "Updated") == 0) {
                        uint64_t v;

                        if (sd_bus_message_read(m, "v", "t", &v) >= 0 && v != 0)
                                radio.updated = true;
                } else if (sd_bus_message_skip(m, "v") < 0) {
                        return;
                }
                sd_bus_message_exit_container(m);
        }
}

static int on_props(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const char *iface, *name;
        uint64_t t = now_ns();

        if (sd_bus_message_read(m, "s", &iface) < 0)
                return 0;
        if (strcmp(iface, "org.bc26d.Network1") == 0) {
                on_network_props(m, t);
                return 0;
        }
        if (strcmp(iface, "org.bc26d.Fota1") != 0)
                return 0;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                if (sd_bus_message_read(m, "s", &name) < 0)
                        return 0;
                if (strcmp(name, "Progress") == 0) {
                        uint32_t v;

                        if (sd_bus_message_read(m, "v", "u", &v) >= 0 && (int) v == progress.want && !progress.got) {
                                progress.got = true;
                                progress.at = t;
                        }
                } else if (strcmp(name, "Phase") == 0) {
                        const char *v;

                        if (sd_bus_message_read(m, "v", "s", &v) >= 0 && phase.want && strcmp(v, phase.want) == 0 &&
                            !phase.got) {
                                phase.got = true;
                                phase.at = t;
                        }
                } else if (sd_bus_message_skip(m, "v") < 0) {
                        return 0;
                }
                sd_bus_message_exit_container(m);
        }
        return 0;
}

static int on_line(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const char *line;
        uint64_t t = now_ns();

        if (sd_bus_message_read(m, "s", &line) >= 0 && strcmp(line, floor_sig.want) == 0 && !floor_sig.got) {
                floor_sig.got = true;
                floor_sig.at = t;
        }
        return 0;
}

/* The floor for one URC: the same line through the bare daemon (pty -> Line signal). */
static uint64_t floor_sample(const char *urc)
{
        uint64_t t0;

        snprintf(floor_sig.want, sizeof(floor_sig.want), "%s", urc);
        floor_sig.got = false;
        t0 = now_ns();
        floor_line(urc);
        if (!wait_until(&floor_sig.got, WAIT_MS))
                die("no Line signal from the bare daemon for %s", urc);
        return floor_sig.at - t0;
}

/* Until no status round runs: every AT+CEREG? answered to this daemon (the counts restart with
 * each daemon) has had its AT+QENG=0, and the readings are published (Updated != 0). A round cut
 * short would leave the counts apart: give up then. */
static void wait_status_idle(void)
{
        uint64_t end = now_ns() + (uint64_t) WAIT_MS * 1000000u;

        while (mod.cereg_reads == 0 || mod.cereg_reads != mod.qeng_answers ||
               get_prop_u64("org.bc26d.Network1", "Updated") == 0) {
                if (now_ns() > end)
                        die("no complete status refresh (AT+CEREG? %u, AT+QENG=0 %u answered)", mod.cereg_reads,
                            mod.qeng_answers);
                pump(20);
        }
        for (uint64_t settle = now_ns() + 50 * 1000000u; now_ns() < settle;)
                pump(10);       /* the last PropertiesChanged go by */
}

/* +CEREG URCs: registration roaming (stat 5) and home (stat 1) in turn, each timed from the
 * write to PropertiesChanged(Network1.Registration), next to a floor sample. bc26d publishes
 * the URC at once, then reads the status (4 commands); the next sample waits for that round's
 * Updated, so every sample is the unloaded path. */
static void bench_radio(void)
{
        size_t n = (size_t) opt.samples;
        uint64_t *t_radio = calloc(n, sizeof(uint64_t));
        uint64_t *t_floor = calloc(n, sizeof(uint64_t));
        sd_bus_slot *slot = NULL, *line_slot = NULL;

        if (!t_radio || !t_floor)
                die("out of memory");
        if (strcmp(get_prop("org.bc26d.Network1", "Registration"), "<error>") == 0) {
                /* A bc26d from before org.bc26d.Network1 (e.g. a baseline build): no radio rows. */
                fprintf(stderr, "bench-latency: %s has no org.bc26d.Network1: no radio samples\n", opt.daemon);
                printf("radio_skipped=1\n");
                free(t_radio);
                free(t_floor);
                return;
        }
        if (sd_bus_match_signal(bus, &slot, BC26D_NAME, MODEM_PATH, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_props, NULL) < 0 ||
            sd_bus_match_signal(bus, &line_slot, BARE_NAME, "/org/bc26d/Bare", "org.bc26d.Bare1", "Line", on_line,
                                NULL) < 0)
                die("cannot subscribe to PropertiesChanged or Line");
        /* The round that follows the registration (or an earlier sample) ends first. */
        wait_status_idle();
        wait_prop("org.bc26d.Network1", "Registration", "home");
        for (size_t i = 0; i < n; i++) {
                int stat = i % 2 == 0 ? 5 : 1;
                unsigned qeng_before = mod.qeng_answers;
                char urc[96];
                uint64_t t0;

                snprintf(urc, sizeof(urc), "+CEREG: %d,\"1A2B\",\"0C3D4E5F\",9", stat);
                t_floor[i] = floor_sample(urc);
                radio.want = stat == 5 ? "roaming" : "home";
                radio.got = false;
                radio.updated = false;
                mod.stat = stat;        /* what AT+CEREG? answers from now on */
                t0 = now_ns();
                mod_line(urc);
                if (!wait_until(&radio.got, WAIT_MS))
                        die("no PropertiesChanged Registration=%s", radio.want);
                t_radio[i] = radio.at - t0;
                /* Let the refresh this URC started finish: AT+QENG=0 answered, Updated announced. */
                for (uint64_t end = now_ns() + (uint64_t) WAIT_MS * 1000000u;
                     !radio.updated || mod.qeng_answers == qeng_before;) {
                        if (now_ns() > end)
                                die("radio sample %zu: the status refresh did not finish", i);
                        pump(10);
                }
        }
        /* Back to home, as the other parts expect a registered module. */
        if (mod.stat != 1) {
                mod.stat = 1;
                mod_line("+CEREG: 1,\"1A2B\",\"0C3D4E5F\",9");
                wait_prop("org.bc26d.Network1", "Registration", "home");
        }
        wait_status_idle();
        radio.want = NULL;
        sd_bus_slot_unref(line_slot);
        sd_bus_slot_unref(slot);
        report("radio_signal", t_radio, n);
        report("radio_floor", t_floor, n);
        printf("radio_signal_p99_vs_floor_p99=%.2f\n", (double) pct(t_radio, n, 99) / (double) pct(t_floor, n, 99));
        free(t_radio);
        free(t_floor);
}

static void bench_urc(void)
{
        uint64_t *t_urc = calloc((size_t) opt.samples, sizeof(uint64_t));
        uint64_t *t_floor = calloc((size_t) opt.samples, sizeof(uint64_t));
        sd_bus_slot *slot = NULL, *line_slot = NULL;

        if (!t_urc || !t_floor)
                die("out of memory");
        if (sd_bus_match_signal(bus, &slot, BC26D_NAME, MODEM_PATH, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_props, NULL) < 0 ||
            sd_bus_match_signal(bus, &line_slot, BARE_NAME, "/org/bc26d/Bare", "org.bc26d.Bare1", "Line", on_line,
                                NULL) < 0)
                die("cannot subscribe to PropertiesChanged or Line");
        /* Into updating, the way the guide's transcript goes. */
        mod_line("+QIND: \"FOTA\",\"COAPSTART\"");
        mod_line("+QIND: \"FOTA\",\"COAPEND\",0");
        mod_line("+QIND: \"FOTA\",\"START\"");
        wait_prop("org.bc26d.Fota1", "Phase", "updating");
        for (int i = 0; i < opt.samples; i++) {
                char urc[96];
                uint64_t t0;

                progress.want = 1 + i % 99;     /* 1..99, never the same twice in a row */
                progress.got = false;
                snprintf(urc, sizeof(urc), "+QIND: \"FOTA\",\"UPDATING\",%d%%,1,1", progress.want);
                t_floor[i] = floor_sample(urc);
                t0 = now_ns();
                mod_line(urc);
                if (!wait_until(&progress.got, WAIT_MS))
                        die("no PropertiesChanged Progress=%d", progress.want);
                t_urc[i] = progress.at - t0;
        }
        /* End the upgrade: END,0 -> reporting -> re-registration -> idle (a full DFOTA cycle). */
        mod_line("+QIND: \"FOTA\",\"UPDATING\",100%,1,1");
        mod_line("RDY");
        mod_line("+QIND: \"FOTA\",\"END\",0");
        wait_prop("org.bc26d.Fota1", "Phase", "idle");
        wait_prop("org.bc26d.Fota1", "LastResult", "success");
        wait_prop("org.bc26d.Modem1", "State", "ready");
        sd_bus_slot_unref(line_slot);
        sd_bus_slot_unref(slot);
        report("urc_signal", t_urc, (size_t) opt.samples);
        report("urc_floor", t_floor, (size_t) opt.samples);
        printf("urc_signal_p99_vs_floor_p99=%.2f\n",
               (double) pct(t_urc, (size_t) opt.samples, 99) / (double) pct(t_floor, (size_t) opt.samples, 99));
        free(t_urc);
        free(t_floor);
}

/* Phase changes persist the state (fsync) before they are announced: COAPSTART (idle ->
 * downloading) and COAPEND,5 (downloading -> idle, a failed download: no reset, no
 * re-registration) in turn, each timed to its PropertiesChanged(Phase), next to a floor sample. */
static void bench_phase(void)
{
        static const struct { const char *urc, *phase; } steps[] = {
                { "+QIND: \"FOTA\",\"COAPSTART\"", "downloading" },
                { "+QIND: \"FOTA\",\"COAPEND\",5", "idle" },
        };
        size_t n = (size_t) opt.phase_samples;
        uint64_t *t_phase = calloc(n, sizeof(uint64_t));
        uint64_t *t_floor = calloc(n, sizeof(uint64_t));
        sd_bus_slot *slot = NULL, *line_slot = NULL;

        if (!t_phase || !t_floor)
                die("out of memory");
        if (sd_bus_match_signal(bus, &slot, BC26D_NAME, MODEM_PATH, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_props, NULL) < 0 ||
            sd_bus_match_signal(bus, &line_slot, BARE_NAME, "/org/bc26d/Bare", "org.bc26d.Bare1", "Line", on_line,
                                NULL) < 0)
                die("cannot subscribe to PropertiesChanged or Line");
        wait_prop("org.bc26d.Fota1", "Phase", "idle");
        for (size_t i = 0; i < n; i++) {
                const char *urc = steps[i % 2].urc;
                uint64_t t0;

                /* Back in idle the gate is open again: let what bc26d does then (a re-check of the
                 * registration) finish first, so that each sample is the unloaded path. */
                if (i % 2 == 0)
                        wait_prop("org.bc26d.Modem1", "State", "ready");
                t_floor[i] = floor_sample(urc);
                phase.want = steps[i % 2].phase;
                phase.got = false;
                t0 = now_ns();
                mod_line(urc);
                if (!wait_until(&phase.got, WAIT_MS))
                        die("no PropertiesChanged Phase=%s", phase.want);
                t_phase[i] = phase.at - t0;
        }
        if (n % 2)
                mod_line(steps[1].urc);
        wait_prop("org.bc26d.Fota1", "Phase", "idle");
        wait_prop("org.bc26d.Modem1", "State", "ready");
        sd_bus_slot_unref(line_slot);
        sd_bus_slot_unref(slot);
        report("phase_signal", t_phase, n);
        report("phase_floor", t_floor, n);
        free(t_phase);
        free(t_floor);
}

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                { "link", required_argument, NULL, 'l' },
                { "daemon", required_argument, NULL, 'd' },
                { "conf", required_argument, NULL, 'c' },
                { "state-dir", required_argument, NULL, 's' },
                { "bare", required_argument, NULL, 'b' },
                { "daemon-log", required_argument, NULL, 'L' },
                { "samples", required_argument, NULL, 'n' },
                { "starts", required_argument, NULL, 'S' },
                { "phase-samples", required_argument, NULL, 'p' },
                { "urc-only", no_argument, NULL, 'u' },
                {}
        };
        pid_t daemon_pid, bare_pid;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'l': opt.link = optarg; break;
                case 'd': opt.daemon = optarg; break;
                case 'c': opt.conf = optarg; break;
                case 's': opt.state_dir = optarg; break;
                case 'b': opt.bare = optarg; break;
                case 'L': opt.daemon_log = optarg; break;
                case 'n': opt.samples = atoi(optarg); break;
                case 'S': opt.starts = atoi(optarg); break;
                case 'p': opt.phase_samples = atoi(optarg); break;
                case 'u': opt.urc_only = true; break;
                default: return 2;
                }
        }
        if (!opt.link || !opt.daemon || !opt.conf || !opt.state_dir || !opt.bare || opt.samples < 1 || opt.starts < 1 ||
            opt.phase_samples < 1) {
                fprintf(stderr, "usage: bench-latency --link PATH --daemon BC26D --conf FILE --state-dir DIR --bare BARE "
                                "[--daemon-log FILE] [--samples N] [--starts N] [--phase-samples N] [--urc-only]\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        mod_open();
        r = sd_bus_open_system(&bus);
        if (r < 0)
                die("cannot connect to the bus: %s", strerror(-r));
        if (sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                "NameOwnerChanged", on_name_owner, NULL) < 0)
                die("cannot subscribe to NameOwnerChanged");

        if (!opt.urc_only)
                bench_start();

        owner.name = BARE_NAME;
        owner.owned = false;
        bare_pid = spawn_daemon(true, true);
        if (!wait_until(&owner.owned, WAIT_MS))
                die("the bare daemon did not start");
        owner.name = BC26D_NAME;
        owner.owned = false;
        daemon_pid = spawn_daemon(false, false);
        if (!wait_until(&owner.owned, WAIT_MS))
                die("bc26d did not start");
        wait_prop("org.bc26d.Modem1", "State", "ready");

        if (!opt.urc_only)
                bench_send();
        bench_radio();
        bench_urc();
        bench_phase();
        bench_enqueue();
        printf("module_commands=%u\n", mod.commands);

        stop_daemon(daemon_pid, opt.daemon);
        stop_daemon(bare_pid, opt.bare);
        sd_bus_flush_close_unref(bus);
        (void) unlink(opt.link);
        (void) unlink(opt.floor_link);
        return 0;
}
