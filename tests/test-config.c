/* test-config.c - Check suite for config.c: values, defaults, the shipped bc26d.conf, the exact
 * text of every class of error (the [outbox] retry cross-check included), and the AT+QLWADDOBJ
 * commands built from [lwm2m] objects. */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#ifndef TOP_SRCDIR
#error "TOP_SRCDIR must name the source tree (the Makefile passes it)"
#endif

#define ERRS_MAX 128
#define ERR_LEN 600

struct errs {
        size_t n;
        char v[ERRS_MAX][ERR_LEN];
};

static void collect(void *userdata, const char *message)
{
        struct errs *e = userdata;

        if (e->n < ERRS_MAX)
                (void) snprintf(e->v[e->n], ERR_LEN, "%s", message);
        e->n++;
}

static struct errs *errs_new(void)
{
        struct errs *e = calloc(1, sizeof(*e));

        ck_assert_ptr_nonnull(e);
        return e;
}

static int parse(struct config *cfg, const char *text, struct errs *e)
{
        return config_parse_text(cfg, "t.conf", text, strlen(text), collect, e);
}

/* Parse text that must be valid. */
static void parse_ok(struct config *cfg, const char *text)
{
        struct errs *e = errs_new();
        int r = parse(cfg, text, e);

        ck_assert_msg(e->n == 0, "unexpected error: %s", e->n ? e->v[0] : "");
        ck_assert_int_eq(r, 0);
        free(e);
}

/* Parse text that must give exactly these errors, in this order. */
static void parse_bad(const char *text, const char *const *expected)
{
        struct config cfg;
        struct errs *e = errs_new();
        size_t n = 0;
        int r = parse(&cfg, text, e);

        while (expected[n])
                n++;
        for (size_t i = 0; i < e->n && i < n; i++)
                ck_assert_str_eq(e->v[i], expected[i]);
        ck_assert_msg(e->n == n, "%zu errors, expected %zu; first extra: %s", e->n, n,
                      e->n > n ? e->v[n] : "(none)");
        ck_assert_int_eq(r, -EINVAL);
        free(e);
}

#define DEV "[serial]\ndevice = /dev/ttyS0\n"   /* lines 1-2 */

/* ---- a full file -------------------------------------------------------------------------- */

static const char full[] =
        "# every key, none at its default\n"
        "[serial]\n"
        "device = /dev/serial/by-id/usb-1a86_USB_Serial-if00-port0\n"
        "baudrate = 9600\n"
        "\n"
        "[modem]\n"
        "command_timeout_ms = 500\n"
        "boot_timeout_s = 20\n"
        "probe_interval_s = 0\n"
        "fix_baudrate = Off\n"
        "[lwm2m]\n"
        "server = iot.example-host.com\n"
        "port = 5684\n"
        "endpoint = node 1/a\n"
        "objects = 3303/0/2/5700;5701 , 19/0,19/1\n"
        "connect_timeout_s = 30\n"
        "send_timeout_s = 40\n"
        "send_queue = 256\n"
        "[fota]\n"
        "timeout_s = 1000\n"
        "download_max_s = 1000\n"
        "history = 1024\n"
        "[gpio]\n"
        "chip = /dev/gpiochip0\n"
        "reset_line = 17\n"
        "pwrkey_line = GPIO27\n"
        "reset_active_low = TRUE\n"
        "pwrkey_active_low = 0\n"
        "reset_pulse_ms = 50\n"
        "pwrkey_pulse_ms = 5000\n"
        "[outbox]\n"
        "enabled = no\n"
        "default_ttl_s = 3600\n"
        "max_attempts = 3\n"
        "max_messages = 100\n"
        "max_bytes = 67108864\n"
        "max_share_percent = 100\n"
        "retry_min_s = 30\n"
        "retry_max_s = 30\n";

START_TEST(test_full_file)
{
        struct config cfg;

        parse_ok(&cfg, full);
        ck_assert_str_eq(cfg.device, "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0");
        ck_assert_uint_eq(cfg.baudrate, 9600);
        ck_assert_uint_eq(cfg.command_timeout_ms, 500);
        ck_assert_uint_eq(cfg.boot_timeout_s, 20);
        ck_assert_uint_eq(cfg.probe_interval_s, 0);
        ck_assert(!cfg.fix_baudrate);
        ck_assert_str_eq(cfg.server, "iot.example-host.com");
        ck_assert_uint_eq(cfg.port, 5684);
        ck_assert_str_eq(cfg.endpoint, "node 1/a");
        ck_assert_uint_eq(cfg.n_objects, 3);
        /* the ';' inside the value is not an inline comment (inih needs " ;") */
        ck_assert_uint_eq(cfg.objects[0].obj, 3303);
        ck_assert_uint_eq(cfg.objects[0].inst, 0);
        ck_assert_uint_eq(cfg.objects[0].count, 2);
        ck_assert_str_eq(cfg.objects[0].ids, "5700;5701");
        ck_assert_uint_eq(cfg.objects[1].obj, 19);
        ck_assert_uint_eq(cfg.objects[1].inst, 0);
        ck_assert_uint_eq(cfg.objects[1].count, 0);
        ck_assert_str_eq(cfg.objects[1].ids, "0");
        ck_assert_uint_eq(cfg.objects[2].obj, 19);
        ck_assert_uint_eq(cfg.objects[2].inst, 1);
        ck_assert_uint_eq(cfg.connect_timeout_s, 30);
        ck_assert_uint_eq(cfg.send_timeout_s, 40);
        ck_assert_uint_eq(cfg.send_queue, 256);
        ck_assert_uint_eq(cfg.timeout_s, 1000);
        ck_assert_uint_eq(cfg.download_max_s, 1000);
        ck_assert_uint_eq(cfg.history, 1024);
        ck_assert_str_eq(cfg.gpio_chip, "/dev/gpiochip0");
        ck_assert_str_eq(cfg.reset.name, "17");
        ck_assert_str_eq(cfg.pwrkey.name, "GPIO27");
        ck_assert(cfg.reset.active_low);
        ck_assert(!cfg.pwrkey.active_low);
        ck_assert_uint_eq(cfg.reset.pulse_ms, 50);
        ck_assert_uint_eq(cfg.pwrkey.pulse_ms, 5000);
        ck_assert(!cfg.outbox.enabled);
        ck_assert_uint_eq(cfg.outbox.default_ttl_s, 3600);
        ck_assert_uint_eq(cfg.outbox.max_attempts, 3);
        ck_assert_uint_eq(cfg.outbox.max_messages, 100);
        ck_assert_uint_eq(cfg.outbox.max_bytes, 67108864);
        ck_assert_uint_eq(cfg.outbox.max_share_percent, 100);
        ck_assert_uint_eq(cfg.outbox.retry_min_s, 30);
        ck_assert_uint_eq(cfg.outbox.retry_max_s, 30);
}
END_TEST

static void check_defaults(const struct config *cfg)
{
        ck_assert_uint_eq(cfg->baudrate, 115200);
        ck_assert_uint_eq(cfg->command_timeout_ms, 2000);
        ck_assert_uint_eq(cfg->boot_timeout_s, 10);
        ck_assert_uint_eq(cfg->probe_interval_s, 60);
        ck_assert(cfg->fix_baudrate);
        ck_assert_str_eq(cfg->server, "180.101.147.115");
        ck_assert_uint_eq(cfg->port, 5683);
        ck_assert_str_eq(cfg->endpoint, "");
        ck_assert_uint_eq(cfg->n_objects, 2);
        ck_assert_uint_eq(cfg->objects[0].obj, 19);
        ck_assert_uint_eq(cfg->objects[0].inst, 0);
        ck_assert_uint_eq(cfg->objects[0].count, 0);
        ck_assert_str_eq(cfg->objects[0].ids, "0");
        ck_assert_uint_eq(cfg->objects[1].obj, 19);
        ck_assert_uint_eq(cfg->objects[1].inst, 1);
        ck_assert_uint_eq(cfg->objects[1].count, 0);
        ck_assert_str_eq(cfg->objects[1].ids, "0");
        ck_assert_uint_eq(cfg->connect_timeout_s, 150);
        ck_assert_uint_eq(cfg->send_timeout_s, 150);
        ck_assert_uint_eq(cfg->send_queue, 32);
        ck_assert_uint_eq(cfg->timeout_s, 2100);
        ck_assert_uint_eq(cfg->download_max_s, 4200);
        ck_assert_uint_eq(cfg->history, 32);
        ck_assert(!cfg->reset.active_low);
        ck_assert(!cfg->pwrkey.active_low);
        ck_assert_uint_eq(cfg->reset.pulse_ms, 100);
        ck_assert_uint_eq(cfg->pwrkey.pulse_ms, 600);
        ck_assert(cfg->outbox.enabled);
        ck_assert_uint_eq(cfg->outbox.default_ttl_s, 0);
        ck_assert_uint_eq(cfg->outbox.max_attempts, 10);
        ck_assert_uint_eq(cfg->outbox.max_messages, 1024);
        ck_assert_uint_eq(cfg->outbox.max_bytes, 262144);
        ck_assert_uint_eq(cfg->outbox.max_share_percent, 50);
        ck_assert_uint_eq(cfg->outbox.retry_min_s, 2);
        ck_assert_uint_eq(cfg->outbox.retry_max_s, 300);
}

START_TEST(test_defaults)
{
        struct config cfg;

        config_init_defaults(&cfg);
        ck_assert_str_eq(cfg.device, "");
        check_defaults(&cfg);

        parse_ok(&cfg, "[serial]\ndevice=/dev/ttyUSB0\n[modem]\n[lwm2m]\n[fota]\n[gpio]\n[outbox]\n");
        ck_assert_str_eq(cfg.device, "/dev/ttyUSB0");
        ck_assert_str_eq(cfg.gpio_chip, "");
        ck_assert_str_eq(cfg.reset.name, "");
        ck_assert_str_eq(cfg.pwrkey.name, "");
        check_defaults(&cfg);
}
END_TEST

START_TEST(test_download_max_follows_timeout)
{
        struct config cfg;

        parse_ok(&cfg, DEV "[fota]\ntimeout_s = 86400\n");
        ck_assert_uint_eq(cfg.timeout_s, 86400);
        ck_assert_uint_eq(cfg.download_max_s, 172800);

        /* download_max_s may come before timeout_s */
        parse_ok(&cfg, DEV "[fota]\ndownload_max_s = 864000\ntimeout_s = 300\n");
        ck_assert_uint_eq(cfg.download_max_s, 864000);
        ck_assert_uint_eq(cfg.timeout_s, 300);
}
END_TEST

/* Indented keys are keys (not inih's multi-line continuations), CRLF line ends, a UTF-8 BOM,
 * inline " ;" comments, blank and comment lines, and "[ name ]" are all accepted. */
START_TEST(test_lexical)
{
        struct config cfg;

        parse_ok(&cfg, "\xEF\xBB\xBF[serial]\r\n"
                       "  device = /dev/ttyS1 ; the Pi's mini UART\r\n"
                       "\tbaudrate = 4800\r\n"
                       "; comment\r\n"
                       "   # comment\r\n"
                       "[ modem ] ; trailing comment\r\n"
                       "boot_timeout_s=7\r\n"
                       "  probe_interval_s = 5\r\n"
                       "[lwm2m]\n"
                       "server = 10.0.0.1");
        ck_assert_str_eq(cfg.device, "/dev/ttyS1");
        ck_assert_uint_eq(cfg.baudrate, 4800);
        ck_assert_uint_eq(cfg.boot_timeout_s, 7);
        ck_assert_uint_eq(cfg.probe_interval_s, 5);
        ck_assert_str_eq(cfg.server, "10.0.0.1");
}
END_TEST

START_TEST(test_inline_comment_after_objects)
{
        struct config cfg;

        parse_ok(&cfg, DEV "[lwm2m]\nobjects = 3303/1/1/5700 ; temperature\n");
        ck_assert_uint_eq(cfg.n_objects, 1);
        ck_assert_uint_eq(cfg.objects[0].obj, 3303);
        ck_assert_uint_eq(cfg.objects[0].inst, 1);
        ck_assert_uint_eq(cfg.objects[0].count, 1);
        ck_assert_str_eq(cfg.objects[0].ids, "5700");
}
END_TEST

/* The guide's own form written out in full: count 0 and the id "0". */
START_TEST(test_objects_guide_long_form)
{
        struct config cfg;
        char cmd[128];

        parse_ok(&cfg, DEV "[lwm2m]\nobjects = 19/0/0/0, 19/1/0/0\n");
        ck_assert_uint_eq(cfg.n_objects, 2);
        ck_assert_uint_eq(cfg.objects[0].count, 0);
        ck_assert_int_ge(config_object_command(&cfg.objects[0], cmd, sizeof(cmd)), 0);
        ck_assert_str_eq(cmd, "AT+QLWADDOBJ=19,0,0,\"0\"");
        ck_assert_int_ge(config_object_command(&cfg.objects[1], cmd, sizeof(cmd)), 0);
        ck_assert_str_eq(cmd, "AT+QLWADDOBJ=19,1,0,\"0\"");
}
END_TEST

/* ---- booleans and bounds that are accepted ---------------------------------------------------- */

static const struct {
        const char *text;
        bool value;
} bools[] = {
        { "yes", true }, { "YES", true }, { "true", true }, { "True", true }, { "on", true },
        { "ON", true }, { "1", true }, { "no", false }, { "No", false }, { "false", false },
        { "FALSE", false }, { "off", false }, { "oFF", false }, { "0", false },
};

START_TEST(test_bool_ok)
{
        struct config cfg;
        char text[256];

        (void) snprintf(text, sizeof(text), DEV "[modem]\nfix_baudrate = %s\n[gpio]\nchip = 0\n"
                        "reset_active_low = %s\n[outbox]\nenabled = %s\n", bools[_i].text,
                        bools[_i].text, bools[_i].text);
        parse_ok(&cfg, text);
        ck_assert_int_eq(cfg.fix_baudrate, bools[_i].value);
        ck_assert_int_eq(cfg.reset.active_low, bools[_i].value);
        ck_assert_int_eq(cfg.outbox.enabled, bools[_i].value);
}
END_TEST

/* Every integer key: its limits are accepted, one past them is refused with the exact text. */
static const struct {
        const char *section, *key;
        unsigned min, max;
        const char *allowed;
        size_t offset, size;
} ranges[] = {
#define R(sec, key, min, max, allowed, member) \
        { sec, key, min, max, allowed, offsetof(struct config, member), \
          sizeof(((struct config *) 0)->member) }
        R("modem", "command_timeout_ms", 100, 60000, "100..60000 (milliseconds)", command_timeout_ms),
        R("modem", "boot_timeout_s", 1, 120, "1..120 (seconds)", boot_timeout_s),
        R("modem", "probe_interval_s", 5, 3600, "0 (off) or 5..3600 (seconds)", probe_interval_s),
        R("lwm2m", "port", 1, 65535, "1..65535", port),
        R("lwm2m", "connect_timeout_s", 1, 600, "1..600 (seconds)", connect_timeout_s),
        R("lwm2m", "send_timeout_s", 1, 600, "1..600 (seconds)", send_timeout_s),
        R("lwm2m", "send_queue", 1, 256, "1..256 (messages)", send_queue),
        R("fota", "timeout_s", 1, 86400, "1..86400 (seconds)", timeout_s),
        R("fota", "history", 0, 1024, "0..1024 (entries)", history),
        R("gpio", "reset_pulse_ms", 50, 5000, "50..5000 (milliseconds)", reset.pulse_ms),
        R("gpio", "pwrkey_pulse_ms", 500, 5000, "500..5000 (milliseconds)", pwrkey.pulse_ms),
        R("outbox", "default_ttl_s", 0, 31536000, "0..31536000 (seconds, 0 = no expiry)",
          outbox.default_ttl_s),
        R("outbox", "max_attempts", 1, 1000, "1..1000 (sends)", outbox.max_attempts),
        R("outbox", "max_messages", 1, 16384, "1..16384 (messages)", outbox.max_messages),
        R("outbox", "max_bytes", 1024, 67108864, "1024..67108864 (payload bytes)", outbox.max_bytes),
        R("outbox", "max_share_percent", 1, 100, "1..100 (percent)", outbox.max_share_percent),
        /* retry_min_s and retry_max_s depend on each other: test_retry_bounds and bad[] */
#undef R
};

/* An unsigned or (max_bytes) a uint64_t member. */
static uint64_t field_at(const struct config *cfg, size_t offset, size_t size)
{
        unsigned v;
        uint64_t w;

        if (size == sizeof(w)) {
                memcpy(&w, (const char *) cfg + offset, sizeof(w));
                return w;
        }
        ck_assert_uint_eq(size, sizeof(v));
        memcpy(&v, (const char *) cfg + offset, sizeof(v));
        return v;
}

START_TEST(test_range_bounds_ok)
{
        const unsigned values[] = { ranges[_i].min, ranges[_i].max };
        struct config cfg;
        char text[256];

        for (size_t k = 0; k < 2; k++) {
                (void) snprintf(text, sizeof(text), DEV "[%s]\n%s = %u\n", ranges[_i].section,
                                ranges[_i].key, values[k]);
                parse_ok(&cfg, text);
                ck_assert_uint_eq(field_at(&cfg, ranges[_i].offset, ranges[_i].size), values[k]);
        }
}
END_TEST

START_TEST(test_range_bounds_bad)
{
        const unsigned values[] = { ranges[_i].min - 1, ranges[_i].max + 1 };
        char text[256], expected[256];

        for (size_t k = 0; k < 2; k++) {
                const char *want[] = { expected, NULL };

                (void) snprintf(text, sizeof(text), DEV "[%s]\n%s = %u\n", ranges[_i].section,
                                ranges[_i].key, values[k]);
                (void) snprintf(expected, sizeof(expected),
                                "t.conf:4: [%s] %s = %u is out of range, allowed %s",
                                ranges[_i].section, ranges[_i].key, values[k], ranges[_i].allowed);
                parse_bad(text, want);
        }
}
END_TEST

/* [outbox] retry_min_s 1..3600 and retry_max_s 1..86400, each at its bounds with the other set so
 * that retry_max_s >= retry_min_s holds (equal is allowed), in either order. */
START_TEST(test_retry_bounds)
{
        static const struct {
                const char *text;
                unsigned min, max;
        } cases[] = {
                { "retry_min_s = 1\nretry_max_s = 1\n", 1, 1 },
                { "retry_max_s = 1\nretry_min_s = 1\n", 1, 1 },
                { "retry_min_s = 3600\nretry_max_s = 3600\n", 3600, 3600 },
                { "retry_max_s = 86400\nretry_min_s = 3600\n", 3600, 86400 },
                { "retry_min_s = 300\n", 300, 300 },   /* equal to retry_max_s's default */
                { "retry_max_s = 2\n", 2, 2 },         /* equal to retry_min_s's default */
                { "retry_max_s = 86400\n", 2, 86400 },
        };
        struct config cfg;
        char text[256];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                (void) snprintf(text, sizeof(text), DEV "[outbox]\n%s", cases[i].text);
                parse_ok(&cfg, text);
                ck_assert_uint_eq(cfg.outbox.retry_min_s, cases[i].min);
                ck_assert_uint_eq(cfg.outbox.retry_max_s, cases[i].max);
        }
}
END_TEST

START_TEST(test_probe_off)
{
        struct config cfg;

        parse_ok(&cfg, DEV "[modem]\nprobe_interval_s = 0\n");
        ck_assert_uint_eq(cfg.probe_interval_s, 0);
}
END_TEST

/* ---- each class of bad file: input -> the exact error lines --------------------------------- */

#define SECTIONS_ALLOWED "allowed [serial], [modem], [lwm2m], [fota], [gpio] or [outbox]"
#define OBJ_ALLOWED "allowed obj/inst or obj/inst/count/ids, e.g. 19/0 or 3303/0/2/5700;5701"
#define EP_ALLOWED "allowed 1..64 printable ASCII characters without '\"' (empty: the module's IMEI)"
#define HOST_ALLOWED "allowed letters, digits, '-' and '.', labels not starting or ending with '-'"
#define LINE_ALLOWED \
        "allowed an offset 0..1023 or a line name of 1..63 printable characters without spaces"
#define BOOL_ALLOWED "allowed yes/no, true/false, on/off or 1/0"
#define MALFORMED "expected \"key = value\", \"[section]\" or a comment"
#define MISSING "[serial] device is missing; set it to the module's tty, e.g. /dev/serial0"

static const struct {
        const char *text;
        const char *errors[6];
} bad[] = {
        /* sections and keys */
        { DEV "[foo]\nx = 1\n",
          { "t.conf:3: unknown section [foo], " SECTIONS_ALLOWED, NULL } },
        { DEV "[Serial]\n",
          { "t.conf:3: unknown section [Serial], " SECTIONS_ALLOWED, NULL } },
        { DEV "[modem]\nboot_timeout = 5\n",
          { "t.conf:4: unknown key \"boot_timeout\" in [modem], allowed command_timeout_ms, "
            "boot_timeout_s, probe_interval_s, fix_baudrate", NULL } },
        { DEV "[fota]\ndevice = /dev/ttyS0\n",
          { "t.conf:4: unknown key \"device\" in [fota], allowed timeout_s, download_max_s, history", NULL } },
        { "x = 1\n" DEV,
          { "t.conf:1: key \"x\" is outside any section, allowed only after [serial], [modem], "
            "[lwm2m], [fota], [gpio] or [outbox]", NULL } },
        { DEV "[outbox]\nmax_queue = 5\n",
          { "t.conf:4: unknown key \"max_queue\" in [outbox], allowed enabled, default_ttl_s, "
            "max_attempts, max_messages, max_bytes, max_share_percent, retry_min_s, retry_max_s",
            NULL } },
        { DEV "[Outbox]\n",
          { "t.conf:3: unknown section [Outbox], " SECTIONS_ALLOWED, NULL } },
        { DEV "[outbox]\nmax_bytes = 1024\nmax_bytes = 2048\n",
          { "t.conf:5: [outbox] max_bytes is set again (first set on line 4), set each key once",
            NULL } },
        { DEV "[modem]\nboot_timeout_s = 5\n[lwm2m]\n[modem]\nboot_timeout_s = 6\n",
          { "t.conf:7: [modem] boot_timeout_s is set again (first set on line 4), set each key once",
            NULL } },
        { DEV "device = /dev/ttyS1\n",
          { "t.conf:3: [serial] device is set again (first set on line 2), set each key once",
            NULL } },
        /* required key */
        { "[serial]\nbaudrate = 9600\n[modem]\n", { "t.conf:1: " MISSING, NULL } },
        { "[modem]\nboot_timeout_s = 5\n\n", { "t.conf:3: " MISSING, NULL } },
        { "[modem]\nboot_timeout_s = 5", { "t.conf:2: " MISSING, NULL } },
        { "", { "t.conf:1: " MISSING, NULL } },
        { "[serial]\ndevice =\n",
          { "t.conf:2: [serial] device is empty; set it to the module's tty, e.g. /dev/serial0",
            NULL } },
        { "[serial]\ndevice = ttyS0\n",
          { "t.conf:2: [serial] device = ttyS0 is not an absolute path, allowed a path starting "
            "with '/', e.g. /dev/serial0", NULL } },
        /* numbers */
        { DEV "[modem]\nboot_timeout_s = 1O\n",
          { "t.conf:4: [modem] boot_timeout_s = 1O is not a decimal number, allowed 1..120 (seconds)",
            NULL } },
        { DEV "[modem]\nboot_timeout_s = +5\n",
          { "t.conf:4: [modem] boot_timeout_s = +5 is not a decimal number, allowed 1..120 (seconds)",
            NULL } },
        { DEV "[fota]\nhistory = -1\n",
          { "t.conf:4: [fota] history = -1 is not a decimal number, allowed 0..1024 (entries)", NULL } },
        { DEV "[fota]\nhistory =\n",
          { "t.conf:4: [fota] history is empty, allowed 0..1024 (entries)", NULL } },
        { DEV "[modem]\nboot_timeout_s = 0x10\n",
          { "t.conf:4: [modem] boot_timeout_s = 0x10 is not a decimal number, allowed 1..120 "
            "(seconds)", NULL } },
        { DEV "[modem]\nboot_timeout_s = 10 s\n",
          { "t.conf:4: [modem] boot_timeout_s = 10 s is not a decimal number, allowed 1..120 "
            "(seconds)", NULL } },
        { DEV "[modem]\nboot_timeout_s =\n",
          { "t.conf:4: [modem] boot_timeout_s is empty, allowed 1..120 (seconds)", NULL } },
        { DEV "[modem]\nboot_timeout_s = 4294967297\n",
          { "t.conf:4: [modem] boot_timeout_s = 4294967297 is out of range, allowed 1..120 (seconds)",
            NULL } },
        { DEV "[lwm2m]\nport = 99999999999999999999999\n",
          { "t.conf:4: [lwm2m] port = 99999999999999999999999 is out of range, allowed 1..65535",
            NULL } },
        { DEV "[modem]\nprobe_interval_s = 1\n",
          { "t.conf:4: [modem] probe_interval_s = 1 is out of range, allowed 0 (off) or 5..3600 "
            "(seconds)", NULL } },
        /* baud rate and booleans */
        { DEV "baudrate = 19200\n",
          { "t.conf:3: [serial] baudrate = 19200 is not a supported rate, allowed 4800, 9600 or "
            "115200", NULL } },
        { DEV "baudrate = 0\n",
          { "t.conf:3: [serial] baudrate = 0 is not a supported rate, allowed 4800, 9600 or 115200",
            NULL } },
        { DEV "baudrate = fast\n",
          { "t.conf:3: [serial] baudrate = fast is not a supported rate, allowed 4800, 9600 or "
            "115200", NULL } },
        { DEV "[modem]\nfix_baudrate = maybe\n",
          { "t.conf:4: [modem] fix_baudrate = maybe is not a boolean, " BOOL_ALLOWED, NULL } },
        { DEV "[modem]\nfix_baudrate = y\n",
          { "t.conf:4: [modem] fix_baudrate = y is not a boolean, " BOOL_ALLOWED, NULL } },
        { DEV "[gpio]\nchip = 0\nreset_active_low =\n",
          { "t.conf:5: [gpio] reset_active_low is empty, " BOOL_ALLOWED, NULL } },
        /* objects */
        { DEV "[lwm2m]\nobjects = 1/0,1/1,1/2,1/3,1/4,1/5,1/6,1/7,1/8,1/9,1/10,1/11,1/12,1/13,"
              "1/14,1/15,1/16\n",
          { "t.conf:4: [lwm2m] objects has 17 entries, allowed 1..16", NULL } },
        { DEV "[lwm2m]\nobjects = 70000/0\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"70000/0\": object 70000 is out of range, "
            "allowed 0..65535", NULL } },
        { DEV "[lwm2m]\nobjects = 19/0, 19/65536\n",
          { "t.conf:4: [lwm2m] objects entry 2 \"19/65536\": instance 65536 is out of range, "
            "allowed 0..65535", NULL } },
        { DEV "[lwm2m]\nobjects = 3303/0/3/5700;5701\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"3303/0/3/5700;5701\": count 3 does not match the "
            "2 resource ids given (count 0 takes exactly one id, as in the guide's 19/0/0/0)", NULL } },
        { DEV "[lwm2m]\nobjects = 3303/0/0/5700;5701\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"3303/0/0/5700;5701\": count 0 does not match the "
            "2 resource ids given (count 0 takes exactly one id, as in the guide's 19/0/0/0)", NULL } },
        { DEV "[lwm2m]\nobjects = 3303/0/17/5700\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"3303/0/17/5700\": count 17 is out of range, "
            "allowed 0..16", NULL } },
        { DEV "[lwm2m]\nobjects = 3303/0/1/65536\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"3303/0/1/65536\": resource id 65536 is out of "
            "range, allowed 0..65535", NULL } },
        { DEV "[lwm2m]\nobjects = 19/0,,19/1\n",
          { "t.conf:4: [lwm2m] objects entry 2 is empty, " OBJ_ALLOWED, NULL } },
        { DEV "[lwm2m]\nobjects = 19/0,\n",
          { "t.conf:4: [lwm2m] objects entry 2 is empty, " OBJ_ALLOWED, NULL } },
        { DEV "[lwm2m]\nobjects =\n",
          { "t.conf:4: [lwm2m] objects is empty, allowed 1..16 entries obj/inst or "
            "obj/inst/count/ids, e.g. 19/0 or 3303/0/2/5700;5701", NULL } },
        { DEV "[lwm2m]\nobjects = abc\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"abc\" is malformed, " OBJ_ALLOWED, NULL } },
        { DEV "[lwm2m]\nobjects = 19\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"19\" is malformed, " OBJ_ALLOWED, NULL } },
        { DEV "[lwm2m]\nobjects = 19/0/1\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"19/0/1\" is malformed, " OBJ_ALLOWED, NULL } },
        { DEV "[lwm2m]\nobjects = 19/0/1/5/6\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"19/0/1/5/6\" is malformed, " OBJ_ALLOWED, NULL } },
        { DEV "[lwm2m]\nobjects = 19/-1\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"19/-1\" is malformed, " OBJ_ALLOWED, NULL } },
        { DEV "[lwm2m]\nobjects = 3303/0/2/5700;;5701\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"3303/0/2/5700;;5701\" is malformed, " OBJ_ALLOWED,
            NULL } },
        { DEV "[lwm2m]\nobjects = 3303/0/2/5700; 5701\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"3303/0/2/5700; 5701\" is malformed, " OBJ_ALLOWED,
            NULL } },
        { DEV "[lwm2m]\nobjects = x/0, 19/0, 19/99999\n",
          { "t.conf:4: [lwm2m] objects entry 1 \"x/0\" is malformed, " OBJ_ALLOWED,
            "t.conf:4: [lwm2m] objects entry 3 \"19/99999\": instance 99999 is out of range, "
            "allowed 0..65535", NULL } },
        /* endpoint */
        { DEV "[lwm2m]\nendpoint = ab\"c\n",
          { "t.conf:4: [lwm2m] endpoint = ab\"c contains '\"', " EP_ALLOWED, NULL } },
        { DEV "[lwm2m]\nendpoint = 0123456789012345678901234567890123456789012345678901234567890123"
              "4\n",
          { "t.conf:4: [lwm2m] endpoint is too long (65 characters), " EP_ALLOWED, NULL } },
        { DEV "[lwm2m]\nendpoint = a\tb\n",
          { "t.conf:4: [lwm2m] endpoint contains a non-printable character, " EP_ALLOWED, NULL } },
        /* server */
        { DEV "[lwm2m]\nserver = bad_host\n",
          { "t.conf:4: [lwm2m] server = bad_host is not a valid host name, " HOST_ALLOWED, NULL } },
        { DEV "[lwm2m]\nserver = -iot.example.com\n",
          { "t.conf:4: [lwm2m] server = -iot.example.com is not a valid host name, " HOST_ALLOWED,
            NULL } },
        { DEV "[lwm2m]\nserver = iot-.example.com\n",
          { "t.conf:4: [lwm2m] server = iot-.example.com is not a valid host name, " HOST_ALLOWED,
            NULL } },
        { DEV "[lwm2m]\nserver = iot..example.com\n",
          { "t.conf:4: [lwm2m] server = iot..example.com is not a valid host name, " HOST_ALLOWED,
            NULL } },
        { DEV "[lwm2m]\nserver = example.com.\n",
          { "t.conf:4: [lwm2m] server = example.com. is not a valid host name, " HOST_ALLOWED,
            NULL } },
        { DEV "[lwm2m]\nserver = 180.101.147.256\n",
          { "t.conf:4: [lwm2m] server = 180.101.147.256 is not a valid IPv4 address, allowed "
            "a.b.c.d with each part 0..255", NULL } },
        { DEV "[lwm2m]\nserver = 180.101.147\n",
          { "t.conf:4: [lwm2m] server = 180.101.147 is not a valid IPv4 address, allowed a.b.c.d "
            "with each part 0..255", NULL } },
        { DEV "[lwm2m]\nserver = 1.2.3.4.5\n",
          { "t.conf:4: [lwm2m] server = 1.2.3.4.5 is not a valid IPv4 address, allowed a.b.c.d "
            "with each part 0..255", NULL } },
        { DEV "[lwm2m]\nserver = a234567890123456789012345678901234567890123456789012345678901234\n",
          { "t.conf:4: [lwm2m] server = a234567890123456789012345678901234567890123456789012345678901234"
            " is too long (64 characters), allowed at most 63", NULL } },
        { DEV "[lwm2m]\nserver =\n",
          { "t.conf:4: [lwm2m] server is empty, allowed an IPv4 address or a host name", NULL } },
        /* fota cross-check */
        { DEV "[fota]\ntimeout_s = 100\ndownload_max_s = 99\n",
          { "t.conf:5: [fota] download_max_s = 99 is less than [fota] timeout_s = 100, allowed "
            "100..864000 (seconds)", NULL } },
        { DEV "[fota]\ndownload_max_s = 2099\n",
          { "t.conf:4: [fota] download_max_s = 2099 is less than [fota] timeout_s = 2100, allowed "
            "2100..864000 (seconds)", NULL } },
        { DEV "[fota]\ndownload_max_s = 864001\n",
          { "t.conf:4: [fota] download_max_s = 864001 is out of range, allowed 2100..864000 "
            "(seconds)", NULL } },
        { DEV "[fota]\ndownload_max_s = 4294967296\n",
          { "t.conf:4: [fota] download_max_s = 4294967296 is out of range, allowed 2100..864000 "
            "(seconds)", NULL } },
        { DEV "[fota]\ndownload_max_s = soon\n",
          { "t.conf:4: [fota] download_max_s = soon is not a decimal number, allowed [fota] "
            "timeout_s..864000 (seconds)", NULL } },
        /* a bad timeout_s is reported once, not again through download_max_s */
        { DEV "[fota]\ntimeout_s = 0\ndownload_max_s = 10\n",
          { "t.conf:4: [fota] timeout_s = 0 is out of range, allowed 1..86400 (seconds)", NULL } },
        /* outbox */
        { DEV "[outbox]\nenabled = maybe\n",
          { "t.conf:4: [outbox] enabled = maybe is not a boolean, " BOOL_ALLOWED, NULL } },
        { DEV "[outbox]\nmax_bytes = 256k\n",
          { "t.conf:4: [outbox] max_bytes = 256k is not a decimal number, allowed 1024..67108864 "
            "(payload bytes)", NULL } },
        { DEV "[outbox]\nmax_bytes = 4294967296\n",
          { "t.conf:4: [outbox] max_bytes = 4294967296 is out of range, allowed 1024..67108864 "
            "(payload bytes)", NULL } },
        { DEV "[outbox]\nretry_min_s = 0\n",
          { "t.conf:4: [outbox] retry_min_s = 0 is out of range, allowed 1..3600 (seconds)", NULL } },
        { DEV "[outbox]\nretry_min_s = 3601\nretry_max_s = 86400\n",
          { "t.conf:4: [outbox] retry_min_s = 3601 is out of range, allowed 1..3600 (seconds)", NULL } },
        { DEV "[outbox]\nretry_max_s = 0\n",
          { "t.conf:4: [outbox] retry_max_s = 0 is out of range, allowed 1..86400 (seconds)", NULL } },
        { DEV "[outbox]\nretry_max_s = 86401\n",
          { "t.conf:4: [outbox] retry_max_s = 86401 is out of range, allowed 1..86400 (seconds)",
            NULL } },
        /* outbox cross-check: retry_max_s >= retry_min_s, both lines named */
        { DEV "[outbox]\nretry_min_s = 60\nmax_attempts = 5\nretry_max_s = 59\n",
          { "t.conf:6: [outbox] retry_max_s = 59 is less than [outbox] retry_min_s = 60 (line 4), "
            "allowed 60..86400 (seconds)", NULL } },
        { DEV "[outbox]\nretry_max_s = 10\nretry_min_s = 11\n",
          { "t.conf:5: [outbox] retry_min_s = 11 is greater than [outbox] retry_max_s = 10 (line 4), "
            "allowed 1..10 (seconds)", NULL } },
        { DEV "[outbox]\nretry_max_s = 1\n",
          { "t.conf:4: [outbox] retry_max_s = 1 is less than [outbox] retry_min_s = 2 (its default), "
            "allowed 2..86400 (seconds)", NULL } },
        { DEV "[outbox]\nretry_min_s = 301\n",
          { "t.conf:4: [outbox] retry_min_s = 301 is greater than [outbox] retry_max_s = 300 (its "
            "default), allowed 1..300 (seconds), or raise retry_max_s", NULL } },
        /* a value refused on its own line is not reported again by the cross-check */
        { DEV "[outbox]\nretry_min_s = 5000\nretry_max_s = 10\n",
          { "t.conf:4: [outbox] retry_min_s = 5000 is out of range, allowed 1..3600 (seconds)", NULL } },
        { DEV "[outbox]\nretry_min_s = 10\nretry_max_s = five\n",
          { "t.conf:5: [outbox] retry_max_s = five is not a decimal number, allowed 1..86400 (seconds)",
            NULL } },
        /* gpio */
        { DEV "[gpio]\nreset_line = 17\npwrkey_line = GPIO27\n",
          { "t.conf:4: [gpio] chip is required when reset_line/pwrkey_line is set",
            "t.conf:5: [gpio] chip is required when reset_line/pwrkey_line is set", NULL } },
        { DEV "[gpio]\npwrkey_line = 27\nchip =\n",
          { "t.conf:4: [gpio] chip is required when reset_line/pwrkey_line is set", NULL } },
        { DEV "[gpio]\nchip = 0\nreset_line = 1024\n",
          { "t.conf:5: [gpio] reset_line = 1024 is out of range, " LINE_ALLOWED, NULL } },
        { DEV "[gpio]\nchip = 0\nreset_line = GPIO 17\n",
          { "t.conf:5: [gpio] reset_line = GPIO 17 is not a valid line, " LINE_ALLOWED, NULL } },
        { DEV "[gpio]\nchip = 0\npwrkey_line = "
              "L234567890123456789012345678901234567890123456789012345678901234\n",
          { "t.conf:5: [gpio] pwrkey_line = "
            "L234567890123456789012345678901234567890123456789012345678901234 is too long "
            "(64 characters), " LINE_ALLOWED, NULL } },
        { DEV "[gpio]\nchip = gpio\x01" "chip\n",
          { "t.conf:4: [gpio] chip contains a non-printable character, allowed 1..255 printable "
            "characters", NULL } },
        /* malformed lines */
        { DEV "[modem]\nnovalue\nboot_timeout_s = 0\n",
          { "t.conf:4: malformed line \"novalue\", " MALFORMED,
            "t.conf:5: [modem] boot_timeout_s = 0 is out of range, allowed 1..120 (seconds)",
            NULL } },
        { DEV "[modem]\n= 5\n", { "t.conf:4: malformed line \"= 5\", " MALFORMED, NULL } },
        { DEV "[modem]\nboot_timeout_s: 5\n",
          { "t.conf:4: malformed line \"boot_timeout_s: 5\", " MALFORMED, NULL } },
        { DEV "[modem]\nboot_timeout_s ; = 5\n",
          { "t.conf:4: malformed line \"boot_timeout_s ; = 5\", " MALFORMED, NULL } },
        { DEV "[modem\nboot_timeout_s = 5\n",
          { "t.conf:3: malformed section header \"[modem\", expected \"[name]\"", NULL } },
        { DEV "[modem] x\n",
          { "t.conf:3: malformed section header \"[modem] x\", expected \"[name]\"", NULL } },
};

START_TEST(test_bad)
{
        parse_bad(bad[_i].text, bad[_i].errors);
}
END_TEST

/* Several errors in one file, reported in line order: the cross-key checks and the missing
 * device (found after the whole file) included. */
START_TEST(test_many_errors_in_order)
{
        static const char text[] =
                "[serial]\nbaudrate = 1\n[fota]\ndownload_max_s = 5\n[bogus]\n[gpio]\n"
                "reset_line = 3\npwrkey_pulse_ms = 499\n[modem]\nfix_baudrate = 2\n";
        const char *const want[] = {
                "t.conf:1: " MISSING,
                "t.conf:2: [serial] baudrate = 1 is not a supported rate, allowed 4800, 9600 or 115200",
                "t.conf:4: [fota] download_max_s = 5 is less than [fota] timeout_s = 2100, allowed "
                "2100..864000 (seconds)",
                "t.conf:5: unknown section [bogus], " SECTIONS_ALLOWED,
                "t.conf:7: [gpio] chip is required when reset_line/pwrkey_line is set",
                "t.conf:8: [gpio] pwrkey_pulse_ms = 499 is out of range, allowed 500..5000 "
                "(milliseconds)",
                "t.conf:10: [modem] fix_baudrate = 2 is not a boolean, " BOOL_ALLOWED,
                NULL,
        };

        parse_bad(text, want);
}
END_TEST

/* ---- line length: inih's 200-byte buffer ---------------------------------------------------- */

static char *repeat(char c, size_t n)
{
        char *s = malloc(n + 1);

        ck_assert_ptr_nonnull(s);
        memset(s, c, n);
        s[n] = '\0';
        return s;
}

START_TEST(test_longest_line_ok)
{
        /* a 198-character value line reaches the handler whole */
        char *chip = repeat('c', CONFIG_LINE_MAX - strlen("chip = "));
        char text[512];
        struct config cfg;

        ck_assert_int_eq(CONFIG_LINE_MAX, 198);
        (void) snprintf(text, sizeof(text), DEV "[gpio]\nchip = %s\r\n", chip);
        parse_ok(&cfg, text);
        ck_assert_uint_eq(strlen(cfg.gpio_chip), CONFIG_LINE_MAX - strlen("chip = "));
        ck_assert_str_eq(cfg.gpio_chip, chip);
        free(chip);
}
END_TEST

START_TEST(test_long_line)
{
        /* 199 and 300 characters: reported, never cut and parsed; the lines after keep their
         * numbers */
        char *comment = repeat('#', 199);
        char *path = repeat('x', 300 - strlen("device = /"));
        char text[1024];
        const char *const want[] = {
                "t.conf:1: " MISSING,
                "t.conf:2: line too long (300 characters), at most 198 characters",
                "t.conf:3: line too long (199 characters), at most 198 characters",
                "t.conf:5: unknown section [bogus], " SECTIONS_ALLOWED,
                "t.conf:7: [modem] boot_timeout_s = 0 is out of range, allowed 1..120 (seconds)",
                NULL,
        };

        (void) snprintf(text, sizeof(text),
                        "[serial]\ndevice = /%s\n%s\nbaudrate = 9600\n[bogus]\n[modem]\n"
                        "boot_timeout_s = 0\n", path, comment);
        parse_bad(text, want);
        free(comment);
        free(path);
}
END_TEST

START_TEST(test_nul_byte)
{
        static const char text[] = DEV "[modem]\nboot_timeout_s = 5\0junk\nprobe_interval_s = 1\n";
        const char *const want[] = {
                "t.conf:4: line contains a NUL byte, allowed only text",
                "t.conf:5: [modem] probe_interval_s = 1 is out of range, allowed 0 (off) or 5..3600 "
                "(seconds)",
        };
        struct config cfg;
        struct errs *e = errs_new();

        ck_assert_int_eq(config_parse_text(&cfg, "t.conf", text, sizeof(text) - 1, collect, e),
                         -EINVAL);
        ck_assert_uint_eq(e->n, 2);
        ck_assert_str_eq(e->v[0], want[0]);
        ck_assert_str_eq(e->v[1], want[1]);
        ck_assert_uint_eq(cfg.boot_timeout_s, 10);
        free(e);
}
END_TEST

START_TEST(test_error_cap)
{
        char *text = malloc(8192);
        struct config cfg;
        struct errs *e = errs_new();
        size_t used;

        ck_assert_ptr_nonnull(text);
        used = (size_t) snprintf(text, 8192, DEV);
        for (int i = 0; i < 105; i++)
                used += (size_t) snprintf(text + used, 8192 - used, "junk\n");
        ck_assert_int_eq(parse(&cfg, text, e), -EINVAL);
        ck_assert_uint_eq(e->n, 101);
        ck_assert_str_eq(e->v[0], "t.conf:3: malformed line \"junk\", " MALFORMED);
        ck_assert_str_eq(e->v[99], "t.conf:102: malformed line \"junk\", " MALFORMED);
        ck_assert_str_eq(e->v[100], "t.conf: 5 more errors not shown");
        free(e);
        free(text);
}
END_TEST

START_TEST(test_no_callback)
{
        struct config cfg;
        static const char text[] = "[modem]\nnovalue\n";

        ck_assert_int_eq(config_parse_text(&cfg, "t.conf", text, strlen(text), NULL, NULL),
                         -EINVAL);
}
END_TEST

/* A rejected value leaves the default in place; a duplicate does not override the first. */
START_TEST(test_bad_values_keep_defaults)
{
        struct config cfg;
        struct errs *e = errs_new();

        ck_assert_int_eq(parse(&cfg, DEV "[modem]\nboot_timeout_s = 500\ncommand_timeout_ms = 300\n"
                                     "command_timeout_ms = 400\n[lwm2m]\nobjects = 1/0, bad\n", e),
                         -EINVAL);
        ck_assert_uint_eq(e->n, 3);
        ck_assert_uint_eq(cfg.boot_timeout_s, 10);
        ck_assert_uint_eq(cfg.command_timeout_ms, 300);
        ck_assert_uint_eq(cfg.n_objects, 2);
        ck_assert_uint_eq(cfg.objects[0].obj, 19);
        free(e);
}
END_TEST

/* ---- files -------------------------------------------------------------------------------- */

#define SHIPPED TOP_SRCDIR "/conf/bc26d.conf"

START_TEST(test_shipped_conf)
{
        struct config cfg;
        struct errs *e = errs_new();
        int r = config_load(&cfg, SHIPPED, collect, e);

        ck_assert_msg(e->n == 0, "%s", e->n ? e->v[0] : "");
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(cfg.device, "/dev/serial0");
        check_defaults(&cfg);
        ck_assert_str_eq(cfg.gpio_chip, "");
        free(e);
}
END_TEST

static char *read_all(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf = malloc(65536);

        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(buf);
        *len = fread(buf, 1, 65535, f);
        ck_assert(!ferror(f));
        buf[*len] = '\0';
        fclose(f);
        return buf;
}

/* Every key is in the shipped file; uncommenting each "#key = value" gives the real defaults
 * (except the [gpio] examples), so the documented defaults cannot drift from the code. */
START_TEST(test_shipped_conf_documents_defaults)
{
        static const char *const names[] = {
                "device", "baudrate", "command_timeout_ms", "boot_timeout_s", "probe_interval_s",
                "fix_baudrate", "server", "port", "endpoint", "objects", "connect_timeout_s",
                "send_timeout_s", "send_queue", "timeout_s", "download_max_s", "history", "chip",
                "reset_line", "pwrkey_line", "reset_active_low", "pwrkey_active_low",
                "reset_pulse_ms", "pwrkey_pulse_ms", "enabled", "default_ttl_s", "max_attempts",
                "max_messages", "max_bytes", "max_share_percent", "retry_min_s", "retry_max_s",
        };
        size_t len, n = 0;
        char *text = read_all(SHIPPED, &len);
        char *out = malloc(len + 1);
        struct config cfg;
        char needle[64];

        ck_assert_ptr_nonnull(out);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                (void) snprintf(needle, sizeof(needle), "\n#%s =", names[i]);
                if (!strstr(text, needle)) {
                        (void) snprintf(needle, sizeof(needle), "\n%s =", names[i]);
                        ck_assert_msg(strstr(text, needle), "%s is not in bc26d.conf", names[i]);
                }
        }
        /* drop the '#' of lines that look like "#key =" */
        for (size_t i = 0; i < len; i++) {
                bool line_start = i == 0 || text[i - 1] == '\n';

                if (line_start && text[i] == '#' && i + 1 < len && text[i + 1] >= 'a' &&
                    text[i + 1] <= 'z' && strchr(text + i, '=') &&
                    strchr(text + i, '=') < strchr(text + i, '\n'))
                        continue;
                out[n++] = text[i];
        }
        out[n] = '\0';
        parse_ok(&cfg, out);
        check_defaults(&cfg);
        ck_assert_str_eq(cfg.device, "/dev/serial0");
        ck_assert_str_eq(cfg.gpio_chip, "gpiochip0");
        ck_assert_str_eq(cfg.reset.name, "17");
        ck_assert_str_eq(cfg.pwrkey.name, "27");
        free(out);
        free(text);
}
END_TEST

START_TEST(test_load_missing)
{
        struct config cfg;
        struct errs *e = errs_new();

        ck_assert_int_eq(config_load(&cfg, "/nonexistent/bc26d.conf", collect, e), -ENOENT);
        ck_assert_uint_eq(e->n, 1);
        ck_assert_str_eq(e->v[0], "/nonexistent/bc26d.conf: cannot read: No such file or directory");
        free(e);
}
END_TEST

START_TEST(test_load_directory)
{
        struct config cfg;
        struct errs *e = errs_new();

        ck_assert_int_eq(config_load(&cfg, "/", collect, e), -EISDIR);
        ck_assert_uint_eq(e->n, 1);
        ck_assert_str_eq(e->v[0], "/: cannot read: Is a directory");
        free(e);
}
END_TEST

static void write_temp(char *path, const char *data, size_t len)
{
        int fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
        ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_load_file)
{
        static const char text[] = "[serial]\ndevice = /dev/ttyAMA0\n[modem]\nboot_timeout_s = 999\n";
        char path[] = "/tmp/test-config-XXXXXX";
        char expected[128];
        struct config cfg;
        struct errs *e = errs_new();

        write_temp(path, text, strlen(text));
        ck_assert_int_eq(config_load(&cfg, path, collect, e), -EINVAL);
        ck_assert_uint_eq(e->n, 1);
        (void) snprintf(expected, sizeof(expected),
                        "%s:4: [modem] boot_timeout_s = 999 is out of range, allowed 1..120 (seconds)",
                        path);
        ck_assert_str_eq(e->v[0], expected);
        ck_assert_str_eq(cfg.device, "/dev/ttyAMA0");
        ck_assert_int_eq(unlink(path), 0);
        free(e);
}
END_TEST

START_TEST(test_load_too_large)
{
        const size_t size = 64 * 1024 + 1;
        char *data = repeat('#', size);
        char path[] = "/tmp/test-config-XXXXXX";
        char expected[128];
        struct config cfg;
        struct errs *e = errs_new();

        write_temp(path, data, size);
        ck_assert_int_eq(config_load(&cfg, path, collect, e), -EFBIG);
        ck_assert_uint_eq(e->n, 1);
        (void) snprintf(expected, sizeof(expected), "%s: too large, at most 65536 bytes", path);
        ck_assert_str_eq(e->v[0], expected);
        ck_assert_int_eq(unlink(path), 0);
        free(e);
        free(data);
}
END_TEST

/* ---- AT+QLWADDOBJ ------------------------------------------------------------------------- */

static const struct {
        const char *objects;
        const char *commands[3];
} commands[] = {
        /* the guide's form, section 3.2 */
        { "19/0, 19/1", { "AT+QLWADDOBJ=19,0,0,\"0\"", "AT+QLWADDOBJ=19,1,0,\"0\"", NULL } },
        { "3303/0/2/5700;5701", { "AT+QLWADDOBJ=3303,0,2,\"5700;5701\"", NULL } },
        { "65535/65535/1/65535,0/0",
          { "AT+QLWADDOBJ=65535,65535,1,\"65535\"", "AT+QLWADDOBJ=0,0,0,\"0\"", NULL } },
};

START_TEST(test_object_command)
{
        struct config cfg;
        char text[256], buf[64];
        size_t n = 0;

        (void) snprintf(text, sizeof(text), DEV "[lwm2m]\nobjects = %s\n", commands[_i].objects);
        parse_ok(&cfg, text);
        while (commands[_i].commands[n])
                n++;
        ck_assert_uint_eq(cfg.n_objects, n);
        for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq(config_object_command(&cfg.objects[i], buf, sizeof(buf)), 0);
                ck_assert_str_eq(buf, commands[_i].commands[i]);
        }
}
END_TEST

START_TEST(test_object_command_space)
{
        const struct config_object o = { .obj = 19, .inst = 0, .count = 0, .ids = "0" };
        char buf[32];

        /* "AT+QLWADDOBJ=19,0,0,"0"" is 23 characters */
        ck_assert_int_eq(config_object_command(&o, buf, 24), 0);
        ck_assert_str_eq(buf, "AT+QLWADDOBJ=19,0,0,\"0\"");
        ck_assert_int_eq(config_object_command(&o, buf, 23), -ENOSPC);
}
END_TEST

static Suite *config_suite(void)
{
        Suite *s = suite_create("config");
        TCase *tc;

        tc = tcase_create("values");
        tcase_add_test(tc, test_full_file);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_download_max_follows_timeout);
        tcase_add_test(tc, test_lexical);
        tcase_add_test(tc, test_inline_comment_after_objects);
        tcase_add_test(tc, test_objects_guide_long_form);
        tcase_add_loop_test(tc, test_bool_ok, 0, (int) (sizeof(bools) / sizeof(bools[0])));
        tcase_add_loop_test(tc, test_range_bounds_ok, 0, (int) (sizeof(ranges) / sizeof(ranges[0])));
        tcase_add_test(tc, test_probe_off);
        tcase_add_test(tc, test_retry_bounds);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_loop_test(tc, test_range_bounds_bad, 0, (int) (sizeof(ranges) / sizeof(ranges[0])));
        tcase_add_loop_test(tc, test_bad, 0, (int) (sizeof(bad) / sizeof(bad[0])));
        tcase_add_test(tc, test_many_errors_in_order);
        tcase_add_test(tc, test_longest_line_ok);
        tcase_add_test(tc, test_long_line);
        tcase_add_test(tc, test_nul_byte);
        tcase_add_test(tc, test_error_cap);
        tcase_add_test(tc, test_no_callback);
        tcase_add_test(tc, test_bad_values_keep_defaults);
        suite_add_tcase(s, tc);

        tc = tcase_create("files");
        tcase_add_test(tc, test_shipped_conf);
        tcase_add_test(tc, test_shipped_conf_documents_defaults);
        tcase_add_test(tc, test_load_missing);
        tcase_add_test(tc, test_load_directory);
        tcase_add_test(tc, test_load_file);
        tcase_add_test(tc, test_load_too_large);
        suite_add_tcase(s, tc);

        tc = tcase_create("commands");
        tcase_add_loop_test(tc, test_object_command, 0,
                            (int) (sizeof(commands) / sizeof(commands[0])));
        tcase_add_test(tc, test_object_command_space);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
