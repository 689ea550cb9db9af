/* harness.c - integration test plumbing: spawn the simulator and the daemon, talk to the
 * simulator's control socket, wait for log lines by polling with a deadline. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The time ms from now, stretched by harness_time_scale(): the end of a bounded wait. */
long harness_deadline_ms(long ms)
{
        return harness_now_ms() + ms * harness_time_scale();
}

/* BC26D_TEST_TIME_SCALE=N (an integer, 1 by default) stretches every wait of the harness N times,
 * for slow machines and emulation (qemu-user): the waits are upper bounds for a condition, so a
 * larger scale never changes what a test asserts, only how long it may take to become true. */
int harness_time_scale(void)
{
        const char *s = getenv("BC26D_TEST_TIME_SCALE");
        long v = s && *s ? strtol(s, NULL, 10) : 1;

        return v >= 1 && v <= 100 ? (int) v : 1;
}

long harness_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void harness_msleep(int ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
}

static const char *env_or(const char *name, const char *fallback)
{
        const char *v = getenv(name);

        return v && *v ? v : fallback;
}

void harness_init(struct harness *h)
{
        memset(h, 0, sizeof(*h));
        snprintf(h->dir, sizeof(h->dir), "%s/bc26d-test-XXXXXX", env_or("TMPDIR", "/tmp"));
        ck_assert_ptr_nonnull(mkdtemp(h->dir));
        snprintf(h->link, sizeof(h->link), "%s/tty", h->dir);
        snprintf(h->control, sizeof(h->control), "%s/sim.sock", h->dir);
        snprintf(h->simlog, sizeof(h->simlog), "%s/sim.log", h->dir);
        snprintf(h->daemonlog, sizeof(h->daemonlog), "%s/daemon.log", h->dir);
        snprintf(h->conf, sizeof(h->conf), "%s/bc26d.conf", h->dir);
        snprintf(h->gpiolog, sizeof(h->gpiolog), "%s/gpio.log", h->dir);
        snprintf(h->statedir, sizeof(h->statedir), "%s/state", h->dir);
        snprintf(h->busconf, sizeof(h->busconf), "%s/bus.conf", h->dir);
        snprintf(h->bussock, sizeof(h->bussock), "%s/bus.sock", h->dir);
        snprintf(h->busaddr, sizeof(h->busaddr), "unix:path=%s", h->bussock);
        snprintf(h->logindlog, sizeof(h->logindlog), "%s/logind.log", h->dir);
        ck_assert_int_eq(mkdir(h->statedir, 0755), 0);
}

static pid_t spawn(char *const argv[], const char *out_path)
{
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        ck_assert_msg(r == 0, "cannot start %s: %s", argv[0], strerror(r));
        return pid;
}

void harness_start_sim(struct harness *h, const char *extra_args)
{
        char out[400], args[512] = "";
        char *argv[32];
        int n = 0;

        argv[n++] = (char *) env_or("PYTHON3", "/usr/bin/python3");
        argv[n++] = (char *) env_or("BC26_SIM", TOP_SRCDIR "/tests/bc26sim.py");
        argv[n++] = (char *) "--link";
        argv[n++] = h->link;
        argv[n++] = (char *) "--control";
        argv[n++] = h->control;
        argv[n++] = (char *) "--log";
        argv[n++] = h->simlog;
        if (extra_args) {
                snprintf(args, sizeof(args), "%s", extra_args);
                for (char *tok = strtok(args, " "); tok && n < 30; tok = strtok(NULL, " "))
                        argv[n++] = tok;
        }
        argv[n] = NULL;
        snprintf(out, sizeof(out), "%s/sim.out", h->dir);
        h->sim_pid = spawn(argv, out);
        for (int i = 0; i < 500 * harness_time_scale(); i++) {         /* up to 10 s for the pty and socket */
                struct stat st;

                if (stat(h->control, &st) == 0 && lstat(h->link, &st) == 0)
                        return;
                harness_msleep(20);
        }
        ck_abort_msg("the simulator did not come up (see %s)", out);
}

void harness_write_config(struct harness *h, const char *extra_ini)
{
        FILE *f = fopen(h->conf, "w");

        ck_assert_ptr_nonnull(f);
        fprintf(f, "[serial]\ndevice=%s\n\n[modem]\ncommand_timeout_ms=500\nboot_timeout_s=2\nprobe_interval_s=0\n\n"
                "[fota]\ntimeout_s=%u\n\n%s", h->link, h->fota_timeout_s ? h->fota_timeout_s : 5,
                extra_ini ? extra_ini : "");
        ck_assert_int_eq(fclose(f), 0);
}

void harness_start_bus(struct harness *h, const char *policy_include)
{
        char out[400];
        char *argv[] = { (char *) env_or("DBUS_DAEMON", "/usr/bin/dbus-daemon"), (char *) "--nofork",
                         (char *) "--nopidfile", (char *) "--nosyslog", (char *) "--print-address=1", NULL, NULL };
        char arg[400];
        FILE *f = fopen(h->busconf, "w");

        ck_assert_ptr_nonnull(f);
        fprintf(f, "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                   " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                   "<busconfig>\n  <type>system</type>\n  <listen>unix:path=%s</listen>\n"
                   "  <auth>EXTERNAL</auth>\n", h->bussock);
        if (policy_include)
                fprintf(f, "  <policy context=\"default\">\n    <allow user=\"*\"/>\n"
                           "    <deny own=\"*\"/>\n    <deny send_type=\"method_call\"/>\n"
                           "    <allow send_destination=\"org.freedesktop.DBus\"/>\n"
                           "    <allow send_type=\"signal\"/>\n    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
                           "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
                           "    <allow receive_type=\"method_call\"/>\n    <allow receive_type=\"method_return\"/>\n"
                           "    <allow receive_type=\"error\"/>\n    <allow receive_type=\"signal\"/>\n"
                           "  </policy>\n  <include>%s</include>\n", policy_include);
        else
                fprintf(f, "  <policy context=\"default\">\n    <allow user=\"*\"/>\n    <allow own=\"*\"/>\n"
                           "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow eavesdrop=\"true\"/>\n"
                           "  </policy>\n");
        fprintf(f, "</busconfig>\n");
        ck_assert_int_eq(fclose(f), 0);
        snprintf(arg, sizeof(arg), "--config-file=%s", h->busconf);
        argv[5] = arg;
        snprintf(out, sizeof(out), "%s/bus.out", h->dir);
        h->bus_pid = spawn(argv, out);
        /* dbus-daemon prints its address once it listens; the socket file alone appears at bind(),
         * before listen(), and a connect in between is refused (seen under ASan on a busy CI). */
        for (int i = 0; i < 1500 * harness_time_scale(); i++) {
                if (harness_count_file(out, "unix:") > 0) {
                        setenv("DBUS_SYSTEM_BUS_ADDRESS", h->busaddr, 1);
                        return;
                }
                harness_msleep(20);
        }
        ck_abort_msg("the private dbus-daemon did not come up (see %s)", out);
}

const char *harness_public_copy(struct harness *h, const char *path)
{
        static char copy[2][400];
        static int which;
        char cmd[1024];
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

        /* Another user may not be able to reach the build tree (a CI clone under a 0700 dir). */
        which ^= 1;
        snprintf(copy[which], sizeof(copy[which]), "%s/%s", h->dir, base);
        snprintf(cmd, sizeof(cmd), "install -m 0755 '%s' '%s'", path, copy[which]);
        ck_assert_msg(system(cmd) == 0, "cannot copy %s", path);
        return copy[which];
}

static void start_daemon(struct harness *h, const char *user)
{
        char *argv[16];
        char uid[32], gid[32];
        int n = 0;

        if (!h->bus_pid)
                harness_start_bus(h, NULL);
        if (user) {
                struct passwd *pw = getpwnam(user);

                ck_assert_msg(pw, "no user %s", user);
                snprintf(uid, sizeof(uid), "--reuid=%u", (unsigned) pw->pw_uid);
                snprintf(gid, sizeof(gid), "--regid=%u", (unsigned) pw->pw_gid);
                argv[n++] = (char *) env_or("SETPRIV", "/usr/bin/setpriv");
                argv[n++] = uid;
                argv[n++] = gid;
                argv[n++] = (char *) "--init-groups";
                argv[n++] = (char *) "--";
        }
        argv[n++] = (char *) env_or("BC26D_BIN", TOP_BUILDDIR "/bc26d");
        if (user)
                argv[n - 1] = (char *) harness_public_copy(h, argv[n - 1]);
        argv[n++] = (char *) "--config";
        argv[n++] = h->conf;
        argv[n++] = (char *) "--state-dir";
        argv[n++] = h->statedir;
        argv[n++] = (char *) "--log-level";
        argv[n++] = (char *) (h->log_level ? h->log_level : "debug");
        argv[n] = NULL;
        setenv("BC26D_TEST_FAKE_GPIO", h->gpiolog, 1);
        h->daemon_pid = spawn(argv, h->daemonlog);
}

void harness_start_logind(struct harness *h)
{
        char out[400];
        char *argv[] = { (char *) env_or("MOCK_LOGIND", TOP_BUILDDIR "/tests/mock-logind"), h->logindlog, NULL };

        if (!h->bus_pid)
                harness_start_bus(h, NULL);
        snprintf(out, sizeof(out), "%s/logind.out", h->dir);
        h->logind_pid = spawn(argv, out);
        ck_assert_msg(harness_wait_file(h->logindlog, "ready", 1, 10000), "mock logind did not start (see %s)", out);
}

void harness_start_daemon(struct harness *h)
{
        start_daemon(h, NULL);
}

void harness_start_daemon_as(struct harness *h, const char *user)
{
        start_daemon(h, user);
}

const char *harness_sim(struct harness *h, const char *fmt, ...)
{
        static char reply[4096];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char req[2048];
        size_t got = 0;
        va_list ap;
        int fd, n;

        va_start(ap, fmt);
        n = vsnprintf(req, sizeof(req) - 1, fmt, ap);
        va_end(ap);
        req[n++] = '\n';
        ck_assert_uint_lt(strlen(h->control), sizeof(sa.sun_path));
        memcpy(sa.sun_path, h->control, strlen(h->control) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_msg(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0, "simulator control: %s", strerror(errno));
        ck_assert_int_eq(write(fd, req, (size_t) n), n);
        while (got < sizeof(reply) - 1) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t r;

                ck_assert_msg(poll(&p, 1, 10000 * harness_time_scale()) == 1, "simulator did not answer '%.*s'", n - 1, req);
                r = read(fd, reply + got, sizeof(reply) - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t) r;
                if (memchr(reply, '\n', got))
                        break;
        }
        close(fd);
        reply[got] = '\0';
        reply[strcspn(reply, "\n")] = '\0';
        ck_assert_msg(strncmp(reply, "ok", 2) == 0, "simulator refused '%.*s': %s", n - 1, req, reply);
        return reply;
}

char *harness_read_file(const char *path)
{
        FILE *f = fopen(path, "r");
        char *buf;
        long n;

        if (!f)
                return strdup("");
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = calloc(1, (size_t) n + 1);
        ck_assert_ptr_nonnull(buf);
        n = (long) fread(buf, 1, (size_t) n, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

int harness_count_file(const char *path, const char *needle)
{
        char *buf = harness_read_file(path);
        int count = 0;

        for (const char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
                count++;
        free(buf);
        return count;
}

bool harness_wait_file(const char *path, const char *needle, int count, int timeout_ms)
{
        timeout_ms *= harness_time_scale();
        for (int waited = 0; waited <= timeout_ms; waited += 20) {
                if (harness_count_file(path, needle) >= count)
                        return true;
                harness_msleep(20);
        }
        return false;
}

bool harness_daemon_alive(struct harness *h)
{
        int status;

        return h->daemon_pid > 0 && waitpid(h->daemon_pid, &status, WNOHANG) == 0;
}

static int stop(pid_t *pid, int sig)
{
        int status = -1;

        if (*pid <= 0)
                return -1;
        kill(*pid, sig);
        for (int i = 0; i < 500 * harness_time_scale(); i++) {
                pid_t r = waitpid(*pid, &status, WNOHANG);

                if (r == *pid || (r < 0 && errno == ECHILD)) {
                        *pid = 0;
                        return status;
                }
                harness_msleep(20);
        }
        kill(*pid, SIGKILL);
        waitpid(*pid, &status, 0);
        *pid = 0;
        return -1;
}

int harness_stop_daemon(struct harness *h)
{
        return stop(&h->daemon_pid, SIGTERM);
}

void harness_cleanup(struct harness *h)
{
        char cmd[400];

        stop(&h->daemon_pid, SIGTERM);
        stop(&h->sim_pid, SIGTERM);
        stop(&h->logind_pid, SIGTERM);
        if (h->client)
                sd_bus_flush_close_unref(h->client);
        h->client = NULL;
        stop(&h->bus_pid, SIGTERM);
        if (getenv("BC26D_TEST_KEEP")) {
                fprintf(stderr, "kept test files in %s\n", h->dir);
                return;
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", h->dir);
}

/* ---- D-Bus client side ------------------------------------------------------------------- */

sd_bus *harness_bus(struct harness *h)
{
        sd_bus *b = h->client;
        int r;

        if (b)
                return b;
        r = sd_bus_new(&b);
        ck_assert_int_ge(r, 0);
        ck_assert_int_ge(sd_bus_set_address(b, h->busaddr), 0);
        ck_assert_int_ge(sd_bus_set_bus_client(b, 1), 0);
        r = sd_bus_start(b);
        ck_assert_msg(r >= 0, "cannot connect to the private bus: %s", strerror(-r));
        h->client = b;
        return b;
}

static void format_variant(sd_bus_message *m, char *buf, size_t size)
{
        char type;
        const char *contents;

        buf[0] = '\0';
        if (sd_bus_message_peek_type(m, &type, &contents) <= 0)
                return;
        if (type == 'v') {
                ck_assert_int_ge(sd_bus_message_enter_container(m, 'v', contents), 0);
                format_variant(m, buf, size);
                ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
                return;
        }
        switch (type) {
        case 's': { const char *s; sd_bus_message_read_basic(m, 's', &s); snprintf(buf, size, "%s", s); break; }
        case 'b': { int v; sd_bus_message_read_basic(m, 'b', &v); snprintf(buf, size, "%s", v ? "true" : "false"); break; }
        case 'u': { uint32_t v; sd_bus_message_read_basic(m, 'u', &v); snprintf(buf, size, "%u", v); break; }
        case 'i': { int32_t v; sd_bus_message_read_basic(m, 'i', &v); snprintf(buf, size, "%d", v); break; }
        case 't': { uint64_t v; sd_bus_message_read_basic(m, 't', &v); snprintf(buf, size, "%llu", (unsigned long long) v); break; }
        default: snprintf(buf, size, "?%c", type); sd_bus_message_skip(m, NULL); break;
        }
}

const char *harness_prop(struct harness *h, const char *iface, const char *prop)
{
        static char value[256];
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(harness_bus(h), "org.bc26d", "/org/bc26d/Modem", "org.freedesktop.DBus.Properties",
                               "Get", &err, &reply, "ss", iface, prop);
        if (r < 0) {
                snprintf(value, sizeof(value), "<error %s>", err.name ? err.name : strerror(-r));
                sd_bus_error_free(&err);
                return value;
        }
        format_variant(reply, value, sizeof(value));
        sd_bus_message_unref(reply);
        return value;
}

bool harness_wait_prop(struct harness *h, const char *iface, const char *prop, const char *value, int timeout_ms)
{
        timeout_ms *= harness_time_scale();
        for (int waited = 0; waited <= timeout_ms; waited += 20) {
                if (strcmp(harness_prop(h, iface, prop), value) == 0)
                        return true;
                harness_msleep(20);
        }
        return false;
}

static void record(struct harness_events *e, const char *text)
{
        if (e->n < HARNESS_EVENTS_MAX)
                e->ev[e->n++] = strdup(text);
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct harness_events *e = userdata;
        const char *iface = sd_bus_message_get_interface(m), *member = sd_bus_message_get_member(m);
        char text[512], v[256];

        uint8_t type = 0;

        if (!iface || !member || sd_bus_message_get_type(m, &type) < 0 || type != SD_BUS_MESSAGE_SIGNAL)
                return 0;
        if (strcmp(iface, "org.freedesktop.DBus.Properties") == 0 && strcmp(member, "PropertiesChanged") == 0) {
                const char *changed_iface, *name;

                sd_bus_message_read(m, "s", &changed_iface);
                sd_bus_message_enter_container(m, 'a', "{sv}");
                while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                        sd_bus_message_read(m, "s", &name);
                        format_variant(m, v, sizeof(v));
                        snprintf(text, sizeof(text), "%s.%s=%s", strrchr(changed_iface, '.') + 1, name, v);
                        record(e, text);
                        sd_bus_message_exit_container(m);
                }
                return 0;
        }
        if (strncmp(iface, "org.bc26d.", 10) != 0)
                return 0;
        snprintf(text, sizeof(text), "%s", member);
        for (;;) {
                char t;
                const char *contents;

                if (sd_bus_message_peek_type(m, &t, &contents) <= 0)
                        break;
                if (t == 'a') {
                        const void *data;
                        size_t len;

                        sd_bus_message_read_array(m, 'y', &data, &len);
                        strcat(text, " ");
                        for (size_t i = 0; i < len && strlen(text) < sizeof(text) - 3; i++)
                                sprintf(text + strlen(text), "%02X", ((const uint8_t *) data)[i]);
                        continue;
                }
                format_variant(m, v, sizeof(v));
                if (strlen(text) + strlen(v) + 2 < sizeof(text)) {
                        strcat(text, " ");
                        strcat(text, v);
                }
        }
        record(e, text);
        return 0;
}

int harness_call_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct harness_call *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        c->done = true;
        if (e) {
                snprintf(c->error, sizeof(c->error), "%s", e->name ? e->name : "?");
                snprintf(c->message, sizeof(c->message), "%s", e->message ? e->message : "");
        }
        return 0;
}

void harness_events_start(struct harness *h, struct harness_events *e)
{
        memset(e, 0, sizeof(*e));
        ck_assert_int_ge(sd_bus_new(&e->bus), 0);
        ck_assert_int_ge(sd_bus_set_address(e->bus, h->busaddr), 0);
        ck_assert_int_ge(sd_bus_set_bus_client(e->bus, 1), 0);
        ck_assert_int_ge(sd_bus_start(e->bus), 0);
        ck_assert_int_ge(sd_bus_add_match(e->bus, &e->slot,
                                          "type='signal',path='/org/bc26d/Modem'", on_message, e), 0);
}

int harness_events_find(const struct harness_events *e, const char *want, size_t from)
{
        for (size_t i = from; i < e->n; i++)
                if (strcmp(e->ev[i], want) == 0)
                        return (int) i;
        return -1;
}

bool harness_events_wait(struct harness_events *e, const char *want, int timeout_ms)
{
        struct timespec start, now;

        timeout_ms *= harness_time_scale();

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                int r;
                long elapsed;

                if (harness_events_find(e, want, 0) >= 0)
                        return true;
                r = sd_bus_process(e->bus, NULL);
                ck_assert_int_ge(r, 0);
                if (r > 0)
                        continue;
                clock_gettime(CLOCK_MONOTONIC, &now);
                elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                if (elapsed > timeout_ms)
                        return false;
                sd_bus_wait(e->bus, 50 * 1000);
        }
}

void harness_events_stop(struct harness_events *e)
{
        for (size_t i = 0; i < e->n; i++)
                free(e->ev[i]);
        sd_bus_slot_unref(e->slot);
        sd_bus_flush_close_unref(e->bus);
        memset(e, 0, sizeof(*e));
}

void harness_start_ready(struct harness *h, const char *sim_args, const char *extra_ini)
{
        harness_start_sim(h, sim_args);
        harness_write_config(h, extra_ini);
        harness_start_daemon(h);
        ck_assert_msg(harness_wait_prop(h, "org.bc26d.Modem1", "State", "ready", 20000),
                      "daemon never ready: State=%s", harness_prop(h, "org.bc26d.Modem1", "State"));
}

int harness_count_commands(struct harness *h, const char *cmd, bool prefix)
{
        char *log = harness_read_file(h->simlog);
        int n = 0;

        for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
                const char *c = strchr(line, ' ');

                if (line[0] == '#' || !c)
                        continue;
                c++;
                if (prefix ? strncmp(c, cmd, strlen(cmd)) == 0 : strcmp(c, cmd) == 0)
                        n++;
        }
        free(log);
        return n;
}

int harness_commands_between(struct harness *h, const char *from, const char *to, char *buf, size_t size)
{
        char *log = harness_read_file(h->simlog);
        char *p = strstr(log, from), *end;
        int n = 0;

        buf[0] = '\0';
        ck_assert_msg(p, "'%s' not in the simulator log", from);
        p = strchr(p, '\n');
        end = to && p ? strstr(p, to) : NULL;
        if (end)
                *end = '\0';
        for (char *line = p ? strtok(p + 1, "\n") : NULL; line; line = strtok(NULL, "\n")) {
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
