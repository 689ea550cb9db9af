/* harness.c - integration test plumbing: spawn the simulator and the daemon, talk to the
 * simulator's control socket, wait for log lines by polling with a deadline. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

static void msleep(int ms)
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
        for (int i = 0; i < 500; i++) {         /* up to 10 s for the pty and socket */
                struct stat st;

                if (stat(h->control, &st) == 0 && lstat(h->link, &st) == 0)
                        return;
                msleep(20);
        }
        ck_abort_msg("the simulator did not come up (see %s)", out);
}

void harness_write_config(struct harness *h, const char *extra_ini)
{
        FILE *f = fopen(h->conf, "w");

        ck_assert_ptr_nonnull(f);
        fprintf(f, "[serial]\ndevice=%s\n\n[modem]\ncommand_timeout_ms=500\nboot_timeout_s=2\nprobe_interval_s=0\n\n"
                "[fota]\ntimeout_s=5\n\n%s", h->link, extra_ini ? extra_ini : "");
        ck_assert_int_eq(fclose(f), 0);
}

void harness_start_daemon(struct harness *h)
{
        char *argv[] = {
                (char *) env_or("BC26D_BIN", TOP_BUILDDIR "/bc26d"),
                (char *) "--config", h->conf,
                (char *) "--state-dir", h->statedir,
                (char *) "--log-level", (char *) (h->log_level ? h->log_level : "debug"),
                NULL
        };

        setenv("BC26D_TEST_FAKE_GPIO", h->gpiolog, 1);
        h->daemon_pid = spawn(argv, h->daemonlog);
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

                ck_assert_msg(poll(&p, 1, 10000) == 1, "simulator did not answer '%.*s'", n - 1, req);
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
        for (int waited = 0; waited <= timeout_ms; waited += 20) {
                if (harness_count_file(path, needle) >= count)
                        return true;
                msleep(20);
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
        for (int i = 0; i < 500; i++) {
                pid_t r = waitpid(*pid, &status, WNOHANG);

                if (r == *pid || (r < 0 && errno == ECHILD)) {
                        *pid = 0;
                        return status;
                }
                msleep(20);
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
        if (getenv("BC26D_TEST_KEEP")) {
                fprintf(stderr, "kept test files in %s\n", h->dir);
                return;
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", h->dir);
}
