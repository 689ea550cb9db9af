/* test-edges.c - Check suite for the edges: log level names, redaction and log_errno, the fake
 * GPIO backend through gpio.c's dispatch, and the clock helpers. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "clock.h"
#include "gpio.h"       /* brings src/config.h (struct config); config.c is not linked */
#include "log.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void make_temp(char *path, size_t size)
{
        int fd;

        ck_assert_int_lt(snprintf(path, size, "/tmp/test-edges-XXXXXX"), (int) size);
        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(close(fd), 0);
}

static size_t read_file(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "re");
        size_t n;

        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, size - 1, f);
        buf[n] = '\0';
        ck_assert_int_eq(fclose(f), 0);
        return n;
}

/* Redirect stderr to a temp file for the duration of a test (each test runs in its own fork). */
static void capture_stderr(char *path, size_t size)
{
        int fd;

        make_temp(path, size);
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        ck_assert_int_eq(close(fd), 0);
}

static void config_gpio(struct config *cfg, const char *chip, const char *reset, const char *pwrkey)
{
        memset(cfg, 0, sizeof(*cfg));
        snprintf(cfg->gpio_chip, sizeof(cfg->gpio_chip), "%s", chip);
        snprintf(cfg->reset.name, sizeof(cfg->reset.name), "%s", reset);
        snprintf(cfg->pwrkey.name, sizeof(cfg->pwrkey.name), "%s", pwrkey);
        cfg->reset.active_low = true;
        cfg->reset.pulse_ms = 100;
        cfg->pwrkey.pulse_ms = 500;
}

/* Parse one "<usec> <line> <level>" record at *p and advance past it. */
static unsigned long long next_record(const char **p, char *line, char *level)
{
        unsigned long long t;
        int used = 0;

        ck_assert_int_eq(sscanf(*p, "%llu %15s %15s\n%n", &t, line, level, &used), 3);
        ck_assert_int_gt(used, 0);
        *p += used;
        return t;
}

/* ---- log ---------------------------------------------------------------------------------- */

static const struct {
        const char *name;
        int expected;
} priority_table[] = {
        { "debug",   LOG_DEBUG },
        { "info",    LOG_INFO },
        { "notice",  LOG_NOTICE },
        { "warning", LOG_WARNING },
        { "err",     LOG_ERR },
        { "error",   LOG_ERR },
        { "",        -EINVAL },
        { "Info",    -EINVAL },
        { "warn",    -EINVAL },
        { "crit",    -EINVAL },  /* below the daemon's useful range (LOG_ERR..LOG_DEBUG) */
        { "7",       -EINVAL },
        { "info ",   -EINVAL },
        { NULL,      -EINVAL },
};

START_TEST(test_priority_from_string)
{
        ck_assert_int_eq(log_priority_from_string(priority_table[_i].name),
                         priority_table[_i].expected);
}
END_TEST

static const struct {
        const char *id;
        size_t size;
        const char *expected;
} redact_table[] = {
        { "866971030399922", LOG_REDACT_MAX, "8669*******9922" },       /* the guide's IMEI */
        { "123456789",       LOG_REDACT_MAX, "1234*6789" },
        { "12345678",        LOG_REDACT_MAX, "********" },
        { "abc",             LOG_REDACT_MAX, "***" },
        { "x",               LOG_REDACT_MAX, "*" },
        { "",                LOG_REDACT_MAX, "" },
        { "866971030399922", 10,             "8669*9922" },     /* truncated, ends kept */
        { "866971030399922", 6,              "*****" },         /* too small for both ends */
};

START_TEST(test_redact_info)
{
        char buf[LOG_REDACT_MAX];

        log_setup(LOG_INFO);
        memset(buf, 'Z', sizeof(buf));
        ck_assert_str_eq(log_redact(redact_table[_i].id, buf, redact_table[_i].size),
                         redact_table[_i].expected);
        /* Never writes past size. */
        if (redact_table[_i].size < sizeof(buf))
                ck_assert_int_eq(buf[redact_table[_i].size], 'Z');
}
END_TEST

START_TEST(test_redact_debug)
{
        const char *imei = "866971030399922";
        char buf[LOG_REDACT_MAX] = "";

        log_setup(LOG_DEBUG);
        ck_assert_ptr_eq(log_redact(imei, buf, sizeof(buf)), imei);
        ck_assert_str_eq(log_redact("", buf, sizeof(buf)), "");

        log_setup(LOG_NOTICE);
        ck_assert_str_eq(log_redact(imei, buf, sizeof(buf)), "8669*******9922");
}
END_TEST

START_TEST(test_setup_clamps)
{
        log_setup(LOG_CRIT);
        ck_assert_int_eq(log_get_max_priority(), LOG_ERR);
        log_setup(LOG_DEBUG + 5);
        ck_assert_int_eq(log_get_max_priority(), LOG_DEBUG);
        log_setup(LOG_WARNING);
        ck_assert_int_eq(log_get_max_priority(), LOG_WARNING);
}
END_TEST

START_TEST(test_errno_returns)
{
        char path[64], out[512];

        ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
        capture_stderr(path, sizeof(path));
        log_setup(LOG_INFO);
        log_use_journal(false);

        errno = EAGAIN;
        ck_assert_int_eq(log_errno(LOG_ERR, -ENOENT, "Failed to open %s", "/dev/ttyUSB9"),
                         -ENOENT);
        ck_assert_int_eq(errno, EAGAIN); /* logging leaves errno alone */
        ck_assert_int_eq(log_errno(LOG_WARNING, EBUSY, "Port %d", 3), -EBUSY);
        /* Filtered out, but the error still comes back. */
        ck_assert_int_eq(log_errno(LOG_DEBUG, -EIO, "hidden"), -EIO);
        log_debug("also hidden");
        log_info("IMEI %s", "8669*******9922");
        log_full(LOG_NOTICE, (const char *const[]) { "MESSAGE_ID=0123", NULL }, "with fields");

        read_file(path, out, sizeof(out));
        ck_assert_str_eq(out,
                         "error: Failed to open /dev/ttyUSB9: No such file or directory\n"
                         "warning: Port 3: Device or resource busy\n"
                         "info: IMEI 8669*******9922\n"
                         "notice: with fields\n");

        log_setup(LOG_DEBUG);
        log_debug("now shown");
        read_file(path, out, sizeof(out));
        ck_assert_ptr_nonnull(strstr(out, "\ndebug: now shown\n"));
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* JOURNAL_STREAM names another file than stderr: stay on stderr. */
START_TEST(test_journal_stream_mismatch)
{
        char path[64], out[256];

        capture_stderr(path, sizeof(path));
        ck_assert_int_eq(setenv("JOURNAL_STREAM", "1:1", 1), 0);
        log_setup(LOG_INFO);
        log_info("still stderr");
        read_file(path, out, sizeof(out));
        ck_assert_str_eq(out, "info: still stderr\n");
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* ---- gpio --------------------------------------------------------------------------------- */

START_TEST(test_gpio_fake_pulse)
{
        char path[64], out[512], line[16], level[16];
        unsigned long long t1, t2, t3, t4;
        struct config cfg;
        struct gpio *g = NULL;
        const char *p;

        make_temp(path, sizeof(path));
        ck_assert_int_eq(setenv(GPIO_FAKE_ENV, path, 1), 0);
        config_gpio(&cfg, "fake", "0", "1");

        ck_assert_int_eq(gpio_open(&cfg, &g), 0);
        ck_assert_ptr_nonnull(g);
        ck_assert(gpio_has_line(g, GPIO_LINE_RESET));
        ck_assert(gpio_has_line(g, GPIO_LINE_PWRKEY));
        /* Opening records nothing: lines start inactive. */
        ck_assert_uint_eq(read_file(path, out, sizeof(out)), 0);

        ck_assert_int_eq(gpio_set(g, GPIO_LINE_RESET, true), 0);
        ck_assert_int_eq(gpio_set(g, GPIO_LINE_RESET, false), 0);
        ck_assert_int_eq(gpio_set(g, GPIO_LINE_PWRKEY, true), 0);
        /* Each line is in the file as soon as gpio_set() returns. */
        read_file(path, out, sizeof(out));
        ck_assert_ptr_nonnull(strstr(out, " pwrkey active\n"));

        /* Closing with PWRKEY still pressed releases it first. */
        ck_assert_ptr_null(gpio_close(g));

        read_file(path, out, sizeof(out));
        p = out;
        t1 = next_record(&p, line, level);
        ck_assert_str_eq(line, "reset");
        ck_assert_str_eq(level, "active");
        t2 = next_record(&p, line, level);
        ck_assert_str_eq(line, "reset");
        ck_assert_str_eq(level, "inactive");
        t3 = next_record(&p, line, level);
        ck_assert_str_eq(line, "pwrkey");
        ck_assert_str_eq(level, "active");
        t4 = next_record(&p, line, level);
        ck_assert_str_eq(line, "pwrkey");
        ck_assert_str_eq(level, "inactive");
        ck_assert_str_eq(p, "");

        ck_assert_uint_gt(t1, 0);
        ck_assert_uint_le(t1, t2);
        ck_assert_uint_le(t2, t3);
        ck_assert_uint_le(t3, t4);
        ck_assert_uint_le(t4, clock_boottime_usec());
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

START_TEST(test_gpio_fake_reset_only)
{
        char path[64], out[256];
        struct config cfg;
        struct gpio *g = NULL;

        make_temp(path, sizeof(path));
        ck_assert_int_eq(setenv(GPIO_FAKE_ENV, path, 1), 0);
        config_gpio(&cfg, "fake", "0", "");

        ck_assert_int_eq(gpio_open(&cfg, &g), 0);
        ck_assert_ptr_nonnull(g);
        ck_assert(gpio_has_line(g, GPIO_LINE_RESET));
        ck_assert(!gpio_has_line(g, GPIO_LINE_PWRKEY));
        ck_assert_int_eq(gpio_set(g, GPIO_LINE_PWRKEY, true), -ENODEV);
        ck_assert_int_eq(gpio_set(g, (enum gpio_line_id) _GPIO_LINE_MAX, true), -EINVAL);
        ck_assert_int_eq(gpio_set(g, GPIO_LINE_RESET, false), 0);
        ck_assert_ptr_null(gpio_close(g));

        read_file(path, out, sizeof(out));
        ck_assert_ptr_null(strstr(out, "pwrkey"));
        ck_assert_ptr_nonnull(strstr(out, " reset inactive\n"));
        ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1); /* exactly one record */
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

START_TEST(test_gpio_none)
{
        struct config cfg;
        struct gpio *g = (struct gpio *) &cfg; /* must be overwritten */

        ck_assert_int_eq(unsetenv(GPIO_FAKE_ENV), 0);
        config_gpio(&cfg, "", "0", "1");
        ck_assert_int_eq(gpio_open(&cfg, &g), 0);
        ck_assert_ptr_null(g);
        ck_assert(!gpio_has_line(NULL, GPIO_LINE_RESET));
        ck_assert(!gpio_has_line(NULL, GPIO_LINE_PWRKEY));
        ck_assert_int_eq(gpio_set(NULL, GPIO_LINE_RESET, true), -ENODEV);
        ck_assert_ptr_null(gpio_close(NULL));

        /* An empty variable is "not set". */
        ck_assert_int_eq(setenv(GPIO_FAKE_ENV, "", 1), 0);
        g = (struct gpio *) &cfg;
        ck_assert_int_eq(gpio_open(&cfg, &g), 0);
        ck_assert_ptr_null(g);
}
END_TEST

/* The fake provides exactly the configured lines: none configured, no GPIO. */
START_TEST(test_gpio_fake_no_lines)
{
        char path[64];
        struct config cfg;
        struct gpio *g = (struct gpio *) &cfg;

        make_temp(path, sizeof(path));
        ck_assert_int_eq(setenv(GPIO_FAKE_ENV, path, 1), 0);
        config_gpio(&cfg, "fake", "", "");
        ck_assert_int_eq(gpio_open(&cfg, &g), 0);
        ck_assert_ptr_null(g);
        ck_assert_int_eq(unlink(path), 0);
}
END_TEST

START_TEST(test_gpio_fake_bad_path)
{
        struct config cfg;
        struct gpio *g = (struct gpio *) &cfg;

        ck_assert_int_eq(setenv(GPIO_FAKE_ENV, "/nonexistent-dir/gpio.log", 1), 0);
        config_gpio(&cfg, "fake", "0", "1");
        ck_assert_int_eq(gpio_open(&cfg, &g), -ENOENT);
        ck_assert_ptr_null(g);
}
END_TEST

/* Without the fake, a configured chip goes to libgpiod, or fails clearly without it. */
START_TEST(test_gpio_real_chip_missing)
{
        struct config cfg;
        struct gpio *g = (struct gpio *) &cfg;

        ck_assert_int_eq(unsetenv(GPIO_FAKE_ENV), 0);
        config_gpio(&cfg, "/nonexistent/gpiochip7", "0", "");
#ifdef HAVE_LIBGPIOD
        ck_assert_int_eq(gpio_open(&cfg, &g), -ENOENT);
#else
        ck_assert_int_eq(gpio_open(&cfg, &g), -EOPNOTSUPP);
#endif
        ck_assert_ptr_null(g);
}
END_TEST

START_TEST(test_gpio_line_names)
{
        ck_assert_str_eq(gpio_line_to_string(GPIO_LINE_RESET), "reset");
        ck_assert_str_eq(gpio_line_to_string(GPIO_LINE_PWRKEY), "pwrkey");
}
END_TEST

/* ---- clock -------------------------------------------------------------------------------- */

START_TEST(test_clock)
{
        uint64_t b1, b2, r, conv;

        b1 = clock_boottime_usec();
        b2 = clock_boottime_usec();
        ck_assert_uint_gt(b1, 0);
        ck_assert_uint_le(b1, b2);

        r = clock_realtime_usec();
        ck_assert_uint_gt(r, UINT64_C(1500000000) * USEC_PER_SEC); /* after 2017 */

        conv = clock_boottime_to_realtime(clock_boottime_usec());
        ck_assert_uint_le(conv > r ? conv - r : r - conv, USEC_PER_SEC);

        /* A deadline 10 min ahead shows 10 min ahead (within the 1 s between the reads). */
        conv = clock_boottime_to_realtime(clock_boottime_usec() + 600 * USEC_PER_SEC);
        r = clock_realtime_usec() + 600 * USEC_PER_SEC;
        ck_assert_uint_le(conv > r ? conv - r : r - conv, USEC_PER_SEC);

        ck_assert_uint_eq(clock_boottime_to_realtime(0), 0);
        ck_assert_uint_eq(clock_boottime_to_realtime(USEC_INFINITY), USEC_INFINITY);
}
END_TEST

static Suite *edges_suite(void)
{
        Suite *s = suite_create("edges");
        TCase *tc;

        tc = tcase_create("log");
        tcase_add_loop_test(tc, test_priority_from_string, 0,
                            (int) (sizeof(priority_table) / sizeof(priority_table[0])));
        tcase_add_loop_test(tc, test_redact_info, 0,
                            (int) (sizeof(redact_table) / sizeof(redact_table[0])));
        tcase_add_test(tc, test_redact_debug);
        tcase_add_test(tc, test_setup_clamps);
        tcase_add_test(tc, test_errno_returns);
        tcase_add_test(tc, test_journal_stream_mismatch);
        suite_add_tcase(s, tc);

        tc = tcase_create("gpio");
        tcase_add_test(tc, test_gpio_fake_pulse);
        tcase_add_test(tc, test_gpio_fake_reset_only);
        tcase_add_test(tc, test_gpio_none);
        tcase_add_test(tc, test_gpio_fake_no_lines);
        tcase_add_test(tc, test_gpio_fake_bad_path);
        tcase_add_test(tc, test_gpio_real_chip_missing);
        tcase_add_test(tc, test_gpio_line_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("clock");
        tcase_add_test(tc, test_clock);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(edges_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
