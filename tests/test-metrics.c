/* test-metrics.c - Check suite for bc26ctl metrics' formatter (src/ctl/metrics.c): exact text
 * for several inputs (all known, nothing known, daemon down, odd label values, extremes), the
 * bounded buffer, every counter of counters.c exported, and every output run through
 * tests/prom-parse.py (prometheus_client's parser), plus malformed texts that the parser check
 * must refuse. Also `bc26ctl metrics --output` against a fake system bus: a denied call still
 * replaces the file with bc26_up 0 and exits 77; no bus at all gives bc26_up 0 and exit 0. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/metrics.h"

#define PROM_PARSE "/usr/bin/python3 " TOP_SRCDIR "/tests/prom-parse.py"
#define OUT_MAX 8192

#define UP "# HELP bc26_up Whether bc26d answered on the system bus (1) or not (0).\n" \
           "# TYPE bc26_up gauge\n"
#define STATE "# HELP bc26_state bc26d's modem state (org.bc26d.Modem1.State), one-hot.\n" \
              "# TYPE bc26_state gauge\n"
#define PHASE "# HELP bc26_fota_phase Phase of the module's firmware upgrade (org.bc26d.Fota1.Phase), one-hot.\n" \
              "# TYPE bc26_fota_phase gauge\n"
#define PROGRESS "# HELP bc26_fota_progress_percent Progress of the running firmware upgrade in percent (org.bc26d.Fota1.Progress).\n" \
                 "# TYPE bc26_fota_progress_percent gauge\n"
#define UPGRADES "# HELP bc26_upgrades_total Firmware upgrades (DFOTA) that bc26d saw finish, by result, since its state dir was created.\n" \
                 "# TYPE bc26_upgrades_total counter\n"
#define REBOOTS "# HELP bc26_module_reboots_total Reboots of the BC26 module that bc26d saw, by cause, since its state dir was created.\n" \
                "# TYPE bc26_module_reboots_total counter\n"
#define SEND "# HELP bc26_send_total LwM2M uplinks (SendData) by result, since bc26d's state dir was created.\n" \
             "# TYPE bc26_send_total counter\n"
#define RSRP "# HELP bc26_rsrp_dbm Reference signal received power of the serving cell in dBm (org.bc26d.Network1.Rsrp).\n" \
             "# TYPE bc26_rsrp_dbm gauge\n"
#define SINR "# HELP bc26_sinr_db Signal to interference plus noise ratio in dB (org.bc26d.Network1.Sinr).\n" \
             "# TYPE bc26_sinr_db gauge\n"
#define REG "# HELP bc26_registration Network registration of the module (org.bc26d.Network1.Registration), one-hot.\n" \
            "# TYPE bc26_registration gauge\n"
#define TS "# HELP bc26_last_reading_timestamp_seconds When bc26d last read the radio status, in seconds since the epoch (org.bc26d.Network1.Updated).\n" \
           "# TYPE bc26_last_reading_timestamp_seconds gauge\n"

/* Run prom-parse.py on text; its exit status (0 valid). quiet: its complaints (expected for the
 * malformed texts) are not shown. */
static int prom_parse(const char *text, bool quiet)
{
        char path[] = "/tmp/test-metrics.XXXXXX";
        char cmd[512];
        int fd, status;
        size_t n = strlen(text);

        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, n), (ssize_t) n);
        ck_assert_int_eq(close(fd), 0);
        (void) snprintf(cmd, sizeof(cmd), PROM_PARSE " %s%s", path, quiet ? " 2>/dev/null" : "");
        status = system(cmd);
        (void) unlink(path);
        ck_assert_msg(status != -1 && WIFEXITED(status), "cannot run %s", cmd);
        return WEXITSTATUS(status);
}

/* got == want, or a failure naming the first line that differs (Check's messages are short). */
static void assert_same_text(const char *got, const char *want)
{
        size_t i = 0, line_start = 0;
        int line = 1;

        while (got[i] && got[i] == want[i]) {
                if (got[i] == '\n') {
                        line++;
                        line_start = i + 1;
                }
                i++;
        }
        if (got[i] == want[i])
                return;
        ck_abort_msg("line %d differs:\n got \"%.120s\"\nwant \"%.120s\"", line,
                     got + line_start, want + line_start);
}

static void set_all_counters(struct metrics_values *v, uint64_t base)
{
        for (size_t i = 0; i < _COUNTER_MAX; i++) {
                v->counters[i] = base + i;
                v->counter_known[i] = true;
        }
}

enum input { ALL_KNOWN, NOTHING_KNOWN, DOWN, ODD_LABELS, EXTREMES, PARTIAL };

static void make_input(enum input in, struct metrics_values *v)
{
        metrics_values_init(v);
        switch (in) {
        case ALL_KNOWN:
                v->up = true;
                v->state = "ready";
                v->fota_phase = "downloading";
                v->fota_progress = 42;
                set_all_counters(v, 0);
                v->registration = "home";
                v->rsrp_dbm = -95;
                v->sinr_db = 3;
                v->updated_usec = UINT64_C(1796630400123456);
                break;
        case NOTHING_KNOWN:
                v->up = true;
                break;
        case DOWN:
                /* Values that must not leak into a "down" output. */
                v->state = "ready";
                v->rsrp_dbm = -80;
                set_all_counters(v, 7);
                break;
        case ODD_LABELS:
                /* States a newer daemon might report: a quote, a backslash, a newline, UTF-8,
                 * and the empty string. */
                v->up = true;
                v->state = "we\"ird\\st\nate";
                v->fota_phase = "";
                v->registration = "r\xc3\xb4" "aming";
                break;
        case EXTREMES:
                v->up = true;
                v->fota_progress = METRICS_UINT_UNKNOWN - 1;
                v->rsrp_dbm = INT32_MIN + 1;
                v->sinr_db = INT32_MAX;
                v->updated_usec = 1;
                set_all_counters(v, UINT64_MAX - _COUNTER_MAX + 1);
                break;
        case PARTIAL:
                /* An older daemon: Modem1 and Fota1 only, GetCounters answered two keys. */
                v->up = true;
                v->state = "upgrading";
                v->fota_phase = "updating";
                v->fota_progress = 100;
                v->counters[COUNTER_UPGRADES_TIMEOUT] = 2;
                v->counter_known[COUNTER_UPGRADES_TIMEOUT] = true;
                v->counters[COUNTER_SEND_REFUSED] = 5;
                v->counter_known[COUNTER_SEND_REFUSED] = true;
                break;
        }
}

static const struct format_case {
        enum input in;
        const char *want;
} format_cases[] = {
        { ALL_KNOWN,
          UP "bc26_up 1\n"
          STATE
          "bc26_state{state=\"disconnected\"} 0\n"
          "bc26_state{state=\"initializing\"} 0\n"
          "bc26_state{state=\"registering\"} 0\n"
          "bc26_state{state=\"ready\"} 1\n"
          "bc26_state{state=\"upgrading\"} 0\n"
          PHASE
          "bc26_fota_phase{phase=\"idle\"} 0\n"
          "bc26_fota_phase{phase=\"downloading\"} 1\n"
          "bc26_fota_phase{phase=\"downloaded\"} 0\n"
          "bc26_fota_phase{phase=\"updating\"} 0\n"
          "bc26_fota_phase{phase=\"reporting\"} 0\n"
          PROGRESS
          "bc26_fota_progress_percent 42\n"
          UPGRADES
          "bc26_upgrades_total{result=\"success\"} 0\n"
          "bc26_upgrades_total{result=\"download-failed\"} 1\n"
          "bc26_upgrades_total{result=\"update-failed\"} 2\n"
          "bc26_upgrades_total{result=\"timeout\"} 3\n"
          "bc26_upgrades_total{result=\"unknown\"} 4\n"
          REBOOTS
          "bc26_module_reboots_total{cause=\"at-reset\"} 5\n"
          "bc26_module_reboots_total{cause=\"gpio-reset\"} 6\n"
          "bc26_module_reboots_total{cause=\"pwrkey\"} 7\n"
          "bc26_module_reboots_total{cause=\"upgrade\"} 8\n"
          "bc26_module_reboots_total{cause=\"unexpected\"} 9\n"
          SEND
          "bc26_send_total{result=\"ok\"} 10\n"
          "bc26_send_total{result=\"failed\"} 11\n"
          "bc26_send_total{result=\"refused\"} 12\n"
          RSRP
          "bc26_rsrp_dbm -95\n"
          SINR
          "bc26_sinr_db 3\n"
          REG
          "bc26_registration{state=\"unknown\"} 0\n"
          "bc26_registration{state=\"not-registered\"} 0\n"
          "bc26_registration{state=\"searching\"} 0\n"
          "bc26_registration{state=\"home\"} 1\n"
          "bc26_registration{state=\"roaming\"} 0\n"
          "bc26_registration{state=\"denied\"} 0\n"
          TS
          "bc26_last_reading_timestamp_seconds 1796630400.123456\n" },
        { NOTHING_KNOWN,
          UP "bc26_up 1\n" STATE PHASE PROGRESS UPGRADES REBOOTS SEND RSRP SINR REG TS },
        { DOWN, UP "bc26_up 0\n" },
        { ODD_LABELS,
          UP "bc26_up 1\n"
          STATE
          "bc26_state{state=\"disconnected\"} 0\n"
          "bc26_state{state=\"initializing\"} 0\n"
          "bc26_state{state=\"registering\"} 0\n"
          "bc26_state{state=\"ready\"} 0\n"
          "bc26_state{state=\"upgrading\"} 0\n"
          "bc26_state{state=\"we\\\"ird\\\\st\\nate\"} 1\n"
          PHASE
          "bc26_fota_phase{phase=\"idle\"} 0\n"
          "bc26_fota_phase{phase=\"downloading\"} 0\n"
          "bc26_fota_phase{phase=\"downloaded\"} 0\n"
          "bc26_fota_phase{phase=\"updating\"} 0\n"
          "bc26_fota_phase{phase=\"reporting\"} 0\n"
          "bc26_fota_phase{phase=\"\"} 1\n"
          PROGRESS UPGRADES REBOOTS SEND RSRP SINR
          REG
          "bc26_registration{state=\"unknown\"} 0\n"
          "bc26_registration{state=\"not-registered\"} 0\n"
          "bc26_registration{state=\"searching\"} 0\n"
          "bc26_registration{state=\"home\"} 0\n"
          "bc26_registration{state=\"roaming\"} 0\n"
          "bc26_registration{state=\"denied\"} 0\n"
          "bc26_registration{state=\"r\xc3\xb4" "aming\"} 1\n"
          TS },
        { EXTREMES,
          UP "bc26_up 1\n" STATE PHASE
          PROGRESS "bc26_fota_progress_percent 4294967294\n"
          UPGRADES
          "bc26_upgrades_total{result=\"success\"} 18446744073709551603\n"
          "bc26_upgrades_total{result=\"download-failed\"} 18446744073709551604\n"
          "bc26_upgrades_total{result=\"update-failed\"} 18446744073709551605\n"
          "bc26_upgrades_total{result=\"timeout\"} 18446744073709551606\n"
          "bc26_upgrades_total{result=\"unknown\"} 18446744073709551607\n"
          REBOOTS
          "bc26_module_reboots_total{cause=\"at-reset\"} 18446744073709551608\n"
          "bc26_module_reboots_total{cause=\"gpio-reset\"} 18446744073709551609\n"
          "bc26_module_reboots_total{cause=\"pwrkey\"} 18446744073709551610\n"
          "bc26_module_reboots_total{cause=\"upgrade\"} 18446744073709551611\n"
          "bc26_module_reboots_total{cause=\"unexpected\"} 18446744073709551612\n"
          SEND
          "bc26_send_total{result=\"ok\"} 18446744073709551613\n"
          "bc26_send_total{result=\"failed\"} 18446744073709551614\n"
          "bc26_send_total{result=\"refused\"} 18446744073709551615\n"
          RSRP "bc26_rsrp_dbm -2147483647\n"
          SINR "bc26_sinr_db 2147483647\n"
          REG
          TS "bc26_last_reading_timestamp_seconds 0.000001\n" },
        { PARTIAL,
          UP "bc26_up 1\n"
          STATE
          "bc26_state{state=\"disconnected\"} 0\n"
          "bc26_state{state=\"initializing\"} 0\n"
          "bc26_state{state=\"registering\"} 0\n"
          "bc26_state{state=\"ready\"} 0\n"
          "bc26_state{state=\"upgrading\"} 1\n"
          PHASE
          "bc26_fota_phase{phase=\"idle\"} 0\n"
          "bc26_fota_phase{phase=\"downloading\"} 0\n"
          "bc26_fota_phase{phase=\"downloaded\"} 0\n"
          "bc26_fota_phase{phase=\"updating\"} 1\n"
          "bc26_fota_phase{phase=\"reporting\"} 0\n"
          PROGRESS "bc26_fota_progress_percent 100\n"
          UPGRADES "bc26_upgrades_total{result=\"timeout\"} 2\n"
          REBOOTS
          SEND "bc26_send_total{result=\"refused\"} 5\n"
          RSRP SINR REG TS },
};

/* The exact text, through both the buffer and the FILE paths, and the parser accepts it. */
START_TEST(test_format)
{
        const struct format_case *c = &format_cases[_i];
        struct metrics_values v;
        char buf[OUT_MAX];
        char *mem = NULL;
        size_t len = 0, memlen = 0;
        FILE *f;

        make_input(c->in, &v);
        ck_assert_int_eq(metrics_format(buf, sizeof(buf), &v, &len), 0);
        /* The parser first: it must catch a broken output on its own (its errors on stderr). */
        ck_assert_msg(prom_parse(buf, false) == 0, "prom-parse.py refused the output of case %d", _i);
        assert_same_text(buf, c->want);
        ck_assert_uint_eq(len, strlen(c->want));

        f = open_memstream(&mem, &memlen);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(metrics_write(f, &v), 0);
        ck_assert_int_eq(fclose(f), 0);
        assert_same_text(mem, c->want);
        free(mem);
}
END_TEST

/* Texts the check must refuse: proves a broken formatter would fail make check. */
static const char *const malformed[] = {
        /* an unterminated label value */
        UP "bc26_up{a=\"x} 1\n",
        /* a value that is not a number */
        UP "bc26_up one\n",
        /* a family without # HELP */
        "# TYPE bc26_up gauge\nbc26_up 1\n",
        /* a family without # TYPE */
        "# HELP bc26_up Up.\nbc26_up 1\n",
        /* an unescaped quote in a label value */
        UP "bc26_up 1\n" STATE "bc26_state{state=\"we\"ird\"} 1\n",
        /* the same sample twice */
        UP "bc26_up 1\nbc26_up 1\n",
        /* a family declared twice */
        UP "bc26_up 1\n" UP "bc26_up 0\n",
        /* nothing at all */
        "",
};

START_TEST(test_malformed_refused)
{
        ck_assert_msg(prom_parse(malformed[_i], true) != 0, "prom-parse.py accepted malformed[%d]", _i);
}
END_TEST

/* Too small a buffer: -ENOBUFS, the length needed, and a NUL inside the buffer. */
START_TEST(test_buffer_bound)
{
        struct metrics_values v;
        char big[OUT_MAX];
        char small[64];
        size_t need = 0, len = 0;

        make_input(ALL_KNOWN, &v);
        ck_assert_int_eq(metrics_format(big, sizeof(big), &v, &need), 0);
        memset(small, 'x', sizeof(small));
        ck_assert_int_eq(metrics_format(small, sizeof(small) - 1, &v, &len), -ENOBUFS);
        ck_assert_uint_eq(len, need);
        ck_assert_uint_eq(strlen(small), sizeof(small) - 2);
        ck_assert_int_eq(small[sizeof(small) - 1], 'x');
        ck_assert_int_eq(strncmp(small, big, sizeof(small) - 2), 0);

        /* Exactly the text and its NUL fits; one byte less does not. */
        {
                char *exact = malloc(need + 1);

                ck_assert_ptr_nonnull(exact);
                ck_assert_int_eq(metrics_format(exact, need + 1, &v, NULL), 0);
                ck_assert_str_eq(exact, big);
                ck_assert_int_eq(metrics_format(exact, need, &v, NULL), -ENOBUFS);
                free(exact);
        }
        ck_assert_int_eq(metrics_format(NULL, 0, &v, &len), -ENOBUFS);
        ck_assert_uint_eq(len, need);
}
END_TEST

/* A stream that cannot be written: -EIO. */
START_TEST(test_write_error)
{
        struct metrics_values v;
        FILE *f = fopen("/dev/null", "r");

        ck_assert_ptr_nonnull(f);
        make_input(ALL_KNOWN, &v);
        ck_assert_int_eq(metrics_write(f, &v), -EIO);
        (void) fclose(f);
}
END_TEST

static const struct key_case {
        const char *key;
        int want;
} key_cases[] = {
        { "upgrades.success", COUNTER_UPGRADES_SUCCESS },
        { "upgrades.download-failed", COUNTER_UPGRADES_DOWNLOAD_FAILED },
        { "upgrades.update-failed", COUNTER_UPGRADES_UPDATE_FAILED },
        { "upgrades.timeout", COUNTER_UPGRADES_TIMEOUT },
        { "upgrades.unknown", COUNTER_UPGRADES_UNKNOWN },
        { "module_reboots.at-reset", COUNTER_REBOOTS_AT_RESET },
        { "module_reboots.gpio-reset", COUNTER_REBOOTS_GPIO_RESET },
        { "module_reboots.pwrkey", COUNTER_REBOOTS_PWRKEY },
        { "module_reboots.upgrade", COUNTER_REBOOTS_UPGRADE },
        { "module_reboots.unexpected", COUNTER_REBOOTS_UNEXPECTED },
        { "send.ok", COUNTER_SEND_OK },
        { "send.failed", COUNTER_SEND_FAILED },
        { "send.refused", COUNTER_SEND_REFUSED },
        /* keys a newer daemon may add are ignored */
        { "send.queued", -ENOENT },
        { "upgrades", -ENOENT },
        { "", -ENOENT },
        { "Send.ok", -ENOENT },
};

START_TEST(test_counter_keys)
{
        ck_assert_int_eq(metrics_counter_from_key(key_cases[_i].key), key_cases[_i].want);
}
END_TEST

/* Every counter counters.c names is exported under a family: a counter added or renamed there
 * cannot vanish from the metrics unseen. */
START_TEST(test_every_counter_exported)
{
        struct metrics_values v;
        char out[OUT_MAX], want[128];

        make_input(NOTHING_KNOWN, &v);
        set_all_counters(&v, 1000);
        ck_assert_int_eq(metrics_format(out, sizeof(out), &v, NULL), 0);
        for (unsigned i = 0; i < _COUNTER_MAX; i++) {
                const char *name = counter_name((enum counter_id) i);

                ck_assert_ptr_nonnull(name);
                ck_assert_int_eq(metrics_counter_from_key(name), (int) i);
                /* "upgrades.success" -> ...{...="success"} 1000 */
                (void) snprintf(want, sizeof(want), "=\"%s\"} %u\n", strchr(name, '.') + 1, 1000 + i);
                ck_assert_msg(strstr(out, want) != NULL, "counter %s is not in the output", name);
        }
        ck_assert_int_eq(prom_parse(out, false), 0);
}
END_TEST

/* What bc26ctl writes when reading bc26d failed (values reset, as cmd_metrics does): a complete
 * file with bc26_up 0 and its HELP and TYPE, none of the values read before the failure. */
START_TEST(test_failure_writes_down)
{
        struct metrics_values v;
        char out[OUT_MAX];

        make_input(ALL_KNOWN, &v);
        metrics_values_init(&v);
        ck_assert_int_eq(metrics_format(out, sizeof(out), &v, NULL), 0);
        assert_same_text(out, UP "bc26_up 0\n");
        ck_assert_int_eq(prom_parse(out, false), 0);
}
END_TEST

/* ---- bc26ctl metrics --output against a fake system bus --------------------------------------- */

#define BC26CTL TOP_BUILDDIR "/bc26ctl"
#define FAKE_TIMEOUT_MS 10000

static size_t put_pad(uint8_t *m, size_t n, size_t align)
{
        while (n % align)
                m[n++] = 0;
        return n;
}

static size_t put_u32(uint8_t *m, size_t n, uint32_t v)
{
        n = put_pad(m, n, 4);
        memcpy(m + n, &v, 4);           /* host order: the header says which */
        return n + 4;
}

static size_t put_str(uint8_t *m, size_t n, const char *s, bool signature)
{
        size_t len = strlen(s);

        if (signature)
                m[n++] = (uint8_t) len;
        else
                n = put_u32(m, n, (uint32_t) len);
        memcpy(m + n, s, len + 1);
        return n + len + 1;
}

/* A method return (error NULL) or an error to the call reply_serial, with one string as body. */
static size_t fake_reply(uint8_t *m, uint32_t serial, uint32_t reply_serial, const char *error,
                         const char *text)
{
        size_t n = 16, fields_end, body;

        m[0] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 'l' : 'B';
        m[1] = error ? 3 : 2;           /* ERROR : METHOD_RETURN */
        m[2] = 1;                       /* NO_REPLY_EXPECTED */
        m[3] = 1;
        n = put_pad(m, n, 8);
        m[n++] = 5;                     /* REPLY_SERIAL */
        n = put_str(m, n, "u", true);
        n = put_u32(m, n, reply_serial);
        if (error) {
                n = put_pad(m, n, 8);
                m[n++] = 4;             /* ERROR_NAME */
                n = put_str(m, n, "s", true);
                n = put_str(m, n, error, false);
        }
        n = put_pad(m, n, 8);
        m[n++] = 8;                     /* SIGNATURE */
        n = put_str(m, n, "g", true);
        n = put_str(m, n, "s", true);
        fields_end = n;
        body = n = put_pad(m, n, 8);
        n = put_str(m, n, text, false);
        (void) put_u32(m, 4, (uint32_t) (n - body));
        (void) put_u32(m, 8, serial);
        (void) put_u32(m, 12, (uint32_t) (fields_end - 16));
        return n;
}

/* Read exactly n bytes (*have of them already in buf); false on EOF or timeout. */
static bool fake_read(int fd, uint8_t *buf, size_t *have, size_t n)
{
        while (*have < n) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, FAKE_TIMEOUT_MS) != 1)
                        return false;
                k = read(fd, buf + *have, n - *have);
                if (k <= 0)
                        return false;
                *have += (size_t) k;
        }
        return true;
}

/* One client on the listening socket: SASL EXTERNAL, Hello answered, every later call answered
 * with error; until the client hangs up. How many calls got the error. */
static unsigned fake_bus_serve(int listener, const char *error)
{
        static const char ok[] = "OK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\n";
        bool data = false;
        uint8_t in[65536], out[1024];
        struct pollfd p = { .fd = listener, .events = POLLIN };
        size_t have = 0;
        unsigned serial = 1, denied = 0;
        int fd;

        ck_assert_int_eq(poll(&p, 1, FAKE_TIMEOUT_MS), 1);
        fd = accept(listener, NULL, NULL);
        ck_assert_int_ge(fd, 0);
        /* The client sends "\0AUTH EXTERNAL[ <uid>]\r\n[DATA\r\n][NEGOTIATE_UNIX_FD\r\n]BEGIN\r\n" at
         * once (sd-bus pipelines it); with DATA the server's empty challenge comes before its OK. */
        for (;;) {
                char *begin;

                ck_assert_msg(have < sizeof(in) - 1 && fake_read(fd, in, &have, have + 1), "no BEGIN");
                in[have] = 0;
                begin = memmem(in, have, "BEGIN\r\n", 7);
                if (begin) {
                        size_t used = (size_t) ((uint8_t *) begin - in) + 7;

                        data = memmem(in, used, "\r\nDATA\r\n", 8) != NULL;
                        memmove(in, in + used, have - used);
                        have -= used;
                        break;
                }
        }
        if (data)
                ck_assert_int_eq(write(fd, "DATA\r\n", 6), 6);
        ck_assert_int_eq(write(fd, ok, sizeof(ok) - 1), (ssize_t) sizeof(ok) - 1);
        for (;;) {
                uint32_t body_len, call_serial, fields_len;
                size_t total, len;

                if (!fake_read(fd, in, &have, 16))
                        break;
                memcpy(&body_len, in + 4, 4);
                memcpy(&call_serial, in + 8, 4);
                memcpy(&fields_len, in + 12, 4);
                total = 16 + ((fields_len + 7) & ~7u) + body_len;
                ck_assert_uint_lt(total, sizeof(in));
                ck_assert(fake_read(fd, in, &have, total));
                if (in[1] == 1) {       /* METHOD_CALL: the first is Hello */
                        if (serial == 1)
                                len = fake_reply(out, serial++, call_serial, NULL, ":1.1");
                        else {
                                len = fake_reply(out, serial++, call_serial, error, "denied by the test");
                                denied++;
                        }
                        ck_assert_int_eq(write(fd, out, len), (ssize_t) len);
                }
                memmove(in, in + total, have - total);
                have -= total;
        }
        (void) close(fd);
        return denied;
}

/* Run bc26ctl metrics --output dir/bc26d.prom (which says bc26_up 1 before) on the bus at
 * socket path (a fake serving error, or none); its exit status and the file afterwards. */
static int run_metrics_output(const char *sock, const char *error, char *file, size_t size)
{
        char dir[] = "/tmp/test-metrics-out.XXXXXX", path[256], env[300];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int listener = -1, status, fd;
        ssize_t n;
        pid_t pid;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/bc26d.prom", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, UP "bc26_up 1\n", strlen(UP "bc26_up 1\n")),
                         (ssize_t) strlen(UP "bc26_up 1\n"));
        ck_assert_int_eq(close(fd), 0);
        if (!sock) {
                (void) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bus", dir);
                listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                ck_assert_int_ge(listener, 0);
                ck_assert_int_eq(bind(listener, (struct sockaddr *) &sa, sizeof(sa)), 0);
                ck_assert_int_eq(listen(listener, 1), 0);
                sock = sa.sun_path;
        }
        (void) snprintf(env, sizeof(env), "DBUS_SYSTEM_BUS_ADDRESS=unix:path=%s", sock);
        ck_assert_msg(access(BC26CTL, X_OK) == 0, "%s not built", BC26CTL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char *const envp[] = { env, NULL };

                (void) execle(BC26CTL, "bc26ctl", "metrics", "--output", path, (char *) NULL, envp);
                _exit(127);
        }
        if (listener >= 0) {
                ck_assert_uint_ge(fake_bus_serve(listener, error), 1);
                (void) close(listener);
                (void) unlink(sa.sun_path);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        n = read(fd, file, size - 1);
        ck_assert_int_ge(n, 0);
        file[n] = '\0';
        (void) close(fd);
        (void) unlink(path);
        ck_assert_int_eq(rmdir(dir), 0);        /* no temp file left behind */
        ck_assert(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* Whatever happens, the old bc26_up 1 is replaced by bc26_up 0; the exit status says whether
 * that is the answer (bc26d gone, no bus) or a failure (77 EX_NOPERM for a denied call). */
static const struct output_case {
        const char *sock;               /* the bus socket; NULL: a fake answering error */
        const char *error;
        int want_exit;
} output_cases[] = {
        { NULL, "org.freedesktop.DBus.Error.AccessDenied", 77 },
        { NULL, "org.freedesktop.DBus.Error.Failed", EXIT_FAILURE },    /* a broken bus */
        { NULL, "org.freedesktop.DBus.Error.ServiceUnknown", 0 },       /* bc26d gone */
        { "/nonexistent-bc26d-test/bus", NULL, 0 },                     /* no system bus */
};

START_TEST(test_output)
{
        const struct output_case *c = &output_cases[_i];
        char file[OUT_MAX];

        ck_assert_int_eq(run_metrics_output(c->sock, c->error, file, sizeof(file)), c->want_exit);
        assert_same_text(file, UP "bc26_up 0\n");
}
END_TEST

#define N(t) ((int) (sizeof(t) / sizeof((t)[0])))

static Suite *metrics_suite(void)
{
        Suite *s = suite_create("metrics");
        TCase *tc = tcase_create("format");

        tcase_add_loop_test(tc, test_format, 0, N(format_cases));
        tcase_add_loop_test(tc, test_malformed_refused, 0, N(malformed));
        tcase_add_test(tc, test_buffer_bound);
        tcase_add_test(tc, test_write_error);
        tcase_add_loop_test(tc, test_counter_keys, 0, N(key_cases));
        tcase_add_test(tc, test_every_counter_exported);
        tcase_add_test(tc, test_failure_writes_down);
        suite_add_tcase(s, tc);

        tc = tcase_create("output");
        tcase_set_timeout(tc, 30);
        tcase_add_loop_test(tc, test_output, 0, N(output_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(metrics_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
