/* test-bc26ctl-args.c - Check suite for bc26ctl's argument parser (src/ctl/ctl-args.c): the
 * OBJ/INST/RES, HEX and --ttl forms, the command line (send --queue, queue --clear included),
 * and the exact usage messages; and the output of `bc26ctl history` (src/ctl/ctl-history.c) and
 * `bc26ctl queue` (src/ctl/ctl-queue.c). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl-args.h"
#include "ctl/ctl-history.h"
#include "ctl/ctl-queue.h"

static const struct path_case {
        const char *in;
        int r;
        unsigned obj, inst, res;
        const char *err;
} path_cases[] = {
        { "19/0/0", 0, 19, 0, 0, NULL },
        { "5/0/3", 0, 5, 0, 3, NULL },
        { "65535/65535/65535", 0, 65535, 65535, 65535, NULL },
        { "019/00/1", 0, 19, 0, 1, NULL },
        { "65536/0/0", -EINVAL, 0, 0, 0, "object id 65536 is out of range (0..65535)" },
        { "1/70000/0", -EINVAL, 0, 0, 0, "instance id 70000 is out of range (0..65535)" },
        { "1/0/99999999999999999999999", -EINVAL, 0, 0, 0,
          "resource id 99999999999999999999... is out of range (0..65535)" },
        { "", -EINVAL, 0, 0, 0,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"\"" },
        { "19/0", -EINVAL, 0, 0, 0,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"19/0\"" },
        { "19/0/0/1", -EINVAL, 0, 0, 0,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"19/0/0/1\"" },
        { "19//0", -EINVAL, 0, 0, 0,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"19//0\"" },
        { "+19/0/0", -EINVAL, 0, 0, 0,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"+19/0/0\"" },
        { "19/0/0 ", -EINVAL, 0, 0, 0,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"19/0/0 \"" },
        { "0x13/0/0", -EINVAL, 0, 0, 0,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"0x13/0/0\"" },
        { "19.0.0", -EINVAL, 0, 0, 0,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"19.0.0\"" },
};

START_TEST(test_path)
{
        const struct path_case *c = &path_cases[_i];
        unsigned obj = 7, inst = 7, res = 7;
        char err[CTL_ERROR_MAX] = "";

        ck_assert_int_eq(ctl_parse_path(c->in, &obj, &inst, &res, err, sizeof(err)), c->r);
        if (c->r == 0) {
                ck_assert_uint_eq(obj, c->obj);
                ck_assert_uint_eq(inst, c->inst);
                ck_assert_uint_eq(res, c->res);
                ck_assert_str_eq(err, "");
        } else {
                ck_assert_str_eq(err, c->err);
                /* A refused path leaves the outputs alone. */
                ck_assert_uint_eq(obj, 7);
                ck_assert_uint_eq(inst, 7);
                ck_assert_uint_eq(res, 7);
        }
}
END_TEST

#define HEX_BYTES_MAX 4

static const struct hex_case {
        const char *in;
        int r;
        size_t len;
        uint8_t bytes[HEX_BYTES_MAX];
        const char *err;
} hex_cases[] = {
        { "01", 0, 1, { 0x01 }, NULL },                         /* the guide's 3.2 uplink */
        { "0100", 0, 2, { 0x01, 0x00 }, NULL },
        { "deadBEEF", 0, 4, { 0xde, 0xad, 0xbe, 0xef }, NULL },
        { "", -EINVAL, 0, { 0 }, "empty payload (1..512 bytes of hex expected)" },
        { "012", -EINVAL, 0, { 0 }, "odd number of hex digits (3)" },
        { "0g", -EINVAL, 0, { 0 }, "bad hex digit 'g' at position 2" },
        { "0x01", -EINVAL, 0, { 0 }, "bad hex digit 'x' at position 2" },
        { "01 02", -EINVAL, 0, { 0 }, "bad hex digit ' ' at position 3" },
        { "01\n", -EINVAL, 0, { 0 }, "bad hex digit '\\x0a' at position 3" },
        /* A bad digit is reported before the odd count: it is the likelier typo. */
        { "0g1", -EINVAL, 0, { 0 }, "bad hex digit 'g' at position 2" },
};

START_TEST(test_hex)
{
        const struct hex_case *c = &hex_cases[_i];
        uint8_t out[CTL_PAYLOAD_MAX];
        size_t len = 999;
        char err[CTL_ERROR_MAX] = "";

        memset(out, 0xaa, sizeof(out));
        ck_assert_int_eq(ctl_parse_hex(c->in, out, sizeof(out), &len, err, sizeof(err)), c->r);
        if (c->r == 0) {
                ck_assert_uint_eq(len, c->len);
                ck_assert_mem_eq(out, c->bytes, c->len);
                ck_assert_uint_eq(out[c->len], 0xaa);
                ck_assert_str_eq(err, "");
        } else {
                ck_assert_str_eq(err, c->err);
                ck_assert_uint_eq(len, 999);
                ck_assert_uint_eq(out[0], 0xaa);
        }
}
END_TEST

/* The limit is the module's: 512 bytes pass, 513 are refused, and the output is never overrun. */
static const size_t hex_sizes[] = { 1, 511, 512, 513, 600 };

START_TEST(test_hex_limit)
{
        size_t n = hex_sizes[_i];
        char in[2 * 600 + 1];
        uint8_t out[CTL_PAYLOAD_MAX + 1];
        size_t len = 0;
        char err[CTL_ERROR_MAX] = "";
        char want[CTL_ERROR_MAX];

        for (size_t i = 0; i < n; i++)
                memcpy(in + 2 * i, i % 2 ? "A5" : "5a", 2);
        in[2 * n] = '\0';
        out[CTL_PAYLOAD_MAX] = 0x33;
        if (n <= CTL_PAYLOAD_MAX) {
                ck_assert_int_eq(ctl_parse_hex(in, out, CTL_PAYLOAD_MAX, &len, err, sizeof(err)), 0);
                ck_assert_uint_eq(len, n);
                ck_assert_uint_eq(out[0], 0x5a);
                ck_assert_uint_eq(out[n - 1], (n - 1) % 2 ? 0xa5 : 0x5a);
        } else {
                ck_assert_int_eq(ctl_parse_hex(in, out, CTL_PAYLOAD_MAX, &len, err, sizeof(err)),
                                 -EINVAL);
                (void) snprintf(want, sizeof(want), "payload of %zu bytes is over the limit of 512", n);
                ck_assert_str_eq(err, want);
        }
        ck_assert_uint_eq(out[CTL_PAYLOAD_MAX], 0x33);
}
END_TEST

#define ARGV_MAX 6

static const struct argv_case {
        const char *argv[ARGV_MAX];     /* after argv[0]; NULL-terminated */
        int r;
        enum ctl_command command;
        bool json;
        const char *err;
} argv_cases[] = {
        { { "status" }, 0, CTL_COMMAND_STATUS, false, NULL },
        { { "status", "--json" }, 0, CTL_COMMAND_STATUS, true, NULL },
        { { "--json", "monitor" }, 0, CTL_COMMAND_MONITOR, true, NULL },
        { { "monitor" }, 0, CTL_COMMAND_MONITOR, false, NULL },
        { { "reset" }, 0, CTL_COMMAND_RESET, false, NULL },
        { { "history" }, 0, CTL_COMMAND_HISTORY, false, NULL },
        { { "history", "--json" }, 0, CTL_COMMAND_HISTORY, true, NULL },
        { { "--json", "history" }, 0, CTL_COMMAND_HISTORY, true, NULL },
        { { "history", "5" }, -EINVAL, CTL_COMMAND_HISTORY, false, "too many arguments for history" },
        { { "history", "--output", "x" }, -EINVAL, CTL_COMMAND_HISTORY, false,
          "--output is only valid with metrics" },
        { { "send", "19/0/0", "01" }, 0, CTL_COMMAND_SEND, false, NULL },
        { { "--help" }, 0, CTL_COMMAND_HELP, false, NULL },
        { { "-h", "bogus", "--nope" }, 0, CTL_COMMAND_HELP, false, NULL },
        { { "--version" }, 0, CTL_COMMAND_VERSION, false, NULL },
        { { "--version", "--help" }, 0, CTL_COMMAND_HELP, false, NULL },
        { { NULL }, -EINVAL, CTL_COMMAND_HELP, false,
          "missing command (status, monitor, send, queue, reset, metrics or history)" },
        { { "--json" }, -EINVAL, CTL_COMMAND_HELP, false,
          "missing command (status, monitor, send, queue, reset, metrics or history)" },
        { { "stat" }, -EINVAL, CTL_COMMAND_HELP, false, "unknown command \"stat\"" },
        { { "status", "-v" }, -EINVAL, CTL_COMMAND_HELP, false, "unknown option \"-v\"" },
        { { "status", "now" }, -EINVAL, CTL_COMMAND_STATUS, false, "too many arguments for status" },
        { { "reset", "now" }, -EINVAL, CTL_COMMAND_RESET, false, "too many arguments for reset" },
        { { "send", "19/0/0" }, -EINVAL, CTL_COMMAND_SEND, false, "send needs OBJ/INST/RES and HEX" },
        { { "send" }, -EINVAL, CTL_COMMAND_SEND, false, "send needs OBJ/INST/RES and HEX" },
        { { "send", "19/0/0", "01", "02" }, -EINVAL, CTL_COMMAND_SEND, false,
          "too many arguments for send" },
        { { "send", "--json", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, true,
          "--json is only valid with status, monitor, history and queue" },
        { { "reset", "--json" }, -EINVAL, CTL_COMMAND_RESET, true,
          "--json is only valid with status, monitor, history and queue" },
        { { "send", "19/0/65536", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "resource id 65536 is out of range (0..65535)" },
        { { "send", "19/0/0", "" }, -EINVAL, CTL_COMMAND_SEND, false,
          "empty payload (1..512 bytes of hex expected)" },
        { { "send", "19/0/0", "abc" }, -EINVAL, CTL_COMMAND_SEND, false,
          "odd number of hex digits (3)" },
        /* "-1/0/0" looks like an option; after "--" it reaches the path parser. */
        { { "send", "-1/0/0", "01" }, -EINVAL, CTL_COMMAND_HELP, false,
          "unknown option \"-1/0/0\"" },
        { { "send", "--", "-1/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"-1/0/0\"" },
        /* A lone "-" is a positional, not an option. */
        { { "-" }, -EINVAL, CTL_COMMAND_HELP, false, "unknown command \"-\"" },
        /* queue [--json] | queue --clear */
        { { "queue" }, 0, CTL_COMMAND_QUEUE, false, NULL },
        { { "queue", "--json" }, 0, CTL_COMMAND_QUEUE, true, NULL },
        { { "--json", "queue" }, 0, CTL_COMMAND_QUEUE, true, NULL },
        { { "queue", "--clear" }, 0, CTL_COMMAND_QUEUE, false, NULL },
        { { "queue", "5" }, -EINVAL, CTL_COMMAND_QUEUE, false, "too many arguments for queue" },
        { { "queue", "clear" }, -EINVAL, CTL_COMMAND_QUEUE, false, "too many arguments for queue" },
        { { "queue", "--clear", "--json" }, -EINVAL, CTL_COMMAND_QUEUE, true,
          "--json is not valid with queue --clear" },
        { { "queue", "--queue" }, -EINVAL, CTL_COMMAND_QUEUE, false, "--queue is only valid with send" },
        { { "queue", "--ttl", "5" }, -EINVAL, CTL_COMMAND_QUEUE, false,
          "--ttl is only valid with send --queue" },
        { { "status", "--clear" }, -EINVAL, CTL_COMMAND_STATUS, false, "--clear is only valid with queue" },
        { { "send", "--clear", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "--clear is only valid with queue" },
        { { "queue", "--clr" }, -EINVAL, CTL_COMMAND_HELP, false, "unknown option \"--clr\"" },
        /* send --queue: every option of Enqueue, and where they are refused */
        { { "send", "--queue", "19/0/0", "01" }, 0, CTL_COMMAND_SEND, false, NULL },
        { { "send", "--queue", "19/0/0" }, -EINVAL, CTL_COMMAND_SEND, false,
          "send needs OBJ/INST/RES and HEX" },
        { { "send", "--queue", "--json", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, true,
          "--json is only valid with status, monitor, history and queue" },
        { { "send", "--ttl", "5", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "--ttl is only valid with send --queue" },
        { { "send", "--non-confirmable", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "--non-confirmable is only valid with send --queue" },
        { { "status", "--queue" }, -EINVAL, CTL_COMMAND_STATUS, false, "--queue is only valid with send" },
        { { "history", "--non-confirmable" }, -EINVAL, CTL_COMMAND_HISTORY, false,
          "--non-confirmable is only valid with send --queue" },
        { { "send", "--queue", "--ttl" }, -EINVAL, CTL_COMMAND_SEND, false,
          "send needs OBJ/INST/RES and HEX" },
        { { "send", "--queue", "19/0/0", "01", "--ttl" }, -EINVAL, CTL_COMMAND_SEND, false,
          "--ttl needs SECONDS (0..31536000)" },
        { { "send", "--queue", "--ttl=", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "--ttl needs SECONDS (0..31536000)" },
        { { "send", "--queue", "--ttl", "-1", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "--ttl \"-1\" is not a number of seconds (0..31536000)" },
        { { "send", "--queue", "--ttl", "5m", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "--ttl \"5m\" is not a number of seconds (0..31536000)" },
        { { "send", "--queue", "--ttl=31536001", "19/0/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "--ttl 31536001 is out of range (0..31536000)" },
        /* the path and payload are checked as for send */
        { { "send", "--queue", "19/70000/0", "01" }, -EINVAL, CTL_COMMAND_SEND, false,
          "instance id 70000 is out of range (0..65535)" },
        { { "send", "--queue", "19/0/0", "0" }, -EINVAL, CTL_COMMAND_SEND, false,
          "odd number of hex digits (1)" },
        { { "send", "--queue", "19/0/0", "" }, -EINVAL, CTL_COMMAND_SEND, false,
          "empty payload (1..512 bytes of hex expected)" },
};

START_TEST(test_argv)
{
        const struct argv_case *c = &argv_cases[_i];
        char *argv[ARGV_MAX + 2];
        int argc = 0;
        struct ctl_args a;
        char err[CTL_ERROR_MAX] = "";

        argv[argc++] = (char *) "bc26ctl";
        for (size_t i = 0; i < ARGV_MAX && c->argv[i]; i++)
                argv[argc++] = (char *) c->argv[i];
        argv[argc] = NULL;

        ck_assert_int_eq(ctl_args_parse(argc, argv, &a, err, sizeof(err)), c->r);
        if (c->r == 0) {
                ck_assert_str_eq(err, "");
                ck_assert_int_eq(a.command, c->command);
                ck_assert_int_eq(a.json, c->json);
        } else {
                ck_assert_str_eq(err, c->err);
        }
}
END_TEST

START_TEST(test_send_fields)
{
        char *argv[] = { (char *) "bc26ctl", (char *) "send", (char *) "19/1/65535",
                         (char *) "00ff10", NULL };
        struct ctl_args a;
        char err[CTL_ERROR_MAX] = "";
        static const uint8_t want[] = { 0x00, 0xff, 0x10 };

        ck_assert_int_eq(ctl_args_parse(4, argv, &a, err, sizeof(err)), 0);
        ck_assert_int_eq(a.command, CTL_COMMAND_SEND);
        ck_assert_uint_eq(a.obj, 19);
        ck_assert_uint_eq(a.inst, 1);
        ck_assert_uint_eq(a.res, 65535);
        ck_assert_uint_eq(a.len, 3);
        ck_assert_mem_eq(a.data, want, sizeof(want));
}
END_TEST

/* send --queue [--ttl S] [--non-confirmable]: the fields cmd_enqueue builds Enqueue from. */
static const struct queue_case {
        const char *argv[ARGV_MAX];     /* after argv[0]; NULL-terminated */
        bool queue, has_ttl, non_confirmable, clear;
        uint32_t ttl;
} queue_cases[] = {
        { { "send", "19/0/0", "01" }, false, false, false, false, 0 },
        { { "send", "--queue", "19/0/0", "01" }, true, false, false, false, 0 },
        { { "send", "--queue", "--ttl", "0", "19/0/0", "01" }, true, true, false, false, 0 },
        { { "send", "--queue", "--ttl", "300", "19/0/0", "01" }, true, true, false, false, 300 },
        { { "send", "--ttl=31536000", "--queue", "19/0/0", "01" }, true, true, false, false, 31536000 },
        { { "--non-confirmable", "send", "--queue", "19/0/0", "01" }, true, false, true, false, 0 },
        { { "send", "19/0/0", "01", "--queue", "--non-confirmable", "--ttl=7" }, true, true, true,
          false, 7 },
        /* the last --ttl wins, as for --output */
        { { "send", "--queue", "--ttl=1", "--ttl=2", "19/0/0", "01" }, true, true, false, false, 2 },
        { { "queue" }, false, false, false, false, 0 },
        { { "queue", "--clear" }, false, false, false, true, 0 },
};

START_TEST(test_queue_fields)
{
        const struct queue_case *c = &queue_cases[_i];
        char *argv[ARGV_MAX + 2];
        int argc = 0;
        struct ctl_args a;
        char err[CTL_ERROR_MAX] = "";

        argv[argc++] = (char *) "bc26ctl";
        for (size_t i = 0; i < ARGV_MAX && c->argv[i]; i++)
                argv[argc++] = (char *) c->argv[i];
        argv[argc] = NULL;

        ck_assert_int_eq(ctl_args_parse(argc, argv, &a, err, sizeof(err)), 0);
        ck_assert_str_eq(err, "");
        ck_assert_int_eq(a.queue, c->queue);
        ck_assert_int_eq(a.has_ttl, c->has_ttl);
        ck_assert_uint_eq(a.ttl, c->ttl);
        ck_assert_int_eq(a.non_confirmable, c->non_confirmable);
        ck_assert_int_eq(a.clear, c->clear);
        if (a.command == CTL_COMMAND_SEND) {
                ck_assert_uint_eq(a.obj, 19);
                ck_assert_uint_eq(a.len, 1);
                ck_assert_uint_eq(a.data[0], 0x01);
        }
}
END_TEST

static const struct ttl_case {
        const char *in;
        int r;
        uint32_t ttl;
        const char *err;
} ttl_cases[] = {
        { "0", 0, 0, NULL },
        { "1", 0, 1, NULL },
        { "0300", 0, 300, NULL },
        { "31536000", 0, 31536000, NULL },
        { "31536001", -EINVAL, 0, "--ttl 31536001 is out of range (0..31536000)" },
        { "99999999999999999999999", -EINVAL, 0,
          "--ttl 99999999999999999999... is out of range (0..31536000)" },
        { "", -EINVAL, 0, "--ttl needs SECONDS (0..31536000)" },
        { "+5", -EINVAL, 0, "--ttl \"+5\" is not a number of seconds (0..31536000)" },
        { "5 ", -EINVAL, 0, "--ttl \"5 \" is not a number of seconds (0..31536000)" },
        { "1e3", -EINVAL, 0, "--ttl \"1e3\" is not a number of seconds (0..31536000)" },
        { "0x10", -EINVAL, 0, "--ttl \"0x10\" is not a number of seconds (0..31536000)" },
};

START_TEST(test_ttl)
{
        const struct ttl_case *c = &ttl_cases[_i];
        uint32_t ttl = 77;
        char err[CTL_ERROR_MAX] = "";

        ck_assert_int_eq(ctl_parse_ttl(c->in, &ttl, err, sizeof(err)), c->r);
        if (c->r == 0) {
                ck_assert_uint_eq(ttl, c->ttl);
                ck_assert_str_eq(err, "");
        } else {
                ck_assert_str_eq(err, c->err);
                ck_assert_uint_eq(ttl, 77);
        }
}
END_TEST

/* metrics [--output FILE | --output=FILE]: the file name as given, NULL for stdout. */
static const struct output_case {
        const char *argv[ARGV_MAX];     /* after argv[0]; NULL-terminated */
        int r;
        const char *output;             /* r == 0: the expected a.output; else the message */
} output_cases[] = {
        { { "metrics" }, 0, NULL },
        { { "metrics", "--output", "/var/lib/prometheus/node-exporter/bc26d.prom" }, 0,
          "/var/lib/prometheus/node-exporter/bc26d.prom" },
        { { "--output", "x.prom", "metrics" }, 0, "x.prom" },
        { { "metrics", "--output=y.prom" }, 0, "y.prom" },
        /* the word after --output is its FILE, even if it looks like an option */
        { { "metrics", "--output", "-z.prom" }, 0, "-z.prom" },
        { { "metrics", "--output" }, -EINVAL, "--output needs a FILE name" },
        { { "metrics", "--output=" }, -EINVAL, "--output needs a FILE name" },
        { { "metrics", "--output", "" }, -EINVAL, "--output needs a FILE name" },
        { { "status", "--output", "x.prom" }, -EINVAL, "--output is only valid with metrics" },
        { { "metrics", "--json" }, -EINVAL, "--json is only valid with status, monitor, history and queue" },
        { { "metrics", "now" }, -EINVAL, "too many arguments for metrics" },
        { { "metrics", "--out", "x" }, -EINVAL, "unknown option \"--out\"" },
};

START_TEST(test_output)
{
        const struct output_case *c = &output_cases[_i];
        char *argv[ARGV_MAX + 2];
        int argc = 0;
        struct ctl_args a;
        char err[CTL_ERROR_MAX] = "";

        argv[argc++] = (char *) "bc26ctl";
        for (size_t i = 0; i < ARGV_MAX && c->argv[i]; i++)
                argv[argc++] = (char *) c->argv[i];
        argv[argc] = NULL;

        ck_assert_int_eq(ctl_args_parse(argc, argv, &a, err, sizeof(err)), c->r);
        if (c->r == 0) {
                ck_assert_int_eq(a.command, CTL_COMMAND_METRICS);
                if (c->output)
                        ck_assert_str_eq(a.output, c->output);
                else
                        ck_assert_ptr_null(a.output);
        } else {
                ck_assert_str_eq(err, c->output);
        }
}
END_TEST

static const struct {
        enum ctl_command c;
        const char *s;
} command_names[] = {
        { CTL_COMMAND_HELP, "help" },
        { CTL_COMMAND_VERSION, "version" },
        { CTL_COMMAND_STATUS, "status" },
        { CTL_COMMAND_MONITOR, "monitor" },
        { CTL_COMMAND_SEND, "send" },
        { CTL_COMMAND_RESET, "reset" },
        { CTL_COMMAND_METRICS, "metrics" },
        { CTL_COMMAND_HISTORY, "history" },
        { CTL_COMMAND_QUEUE, "queue" },
};

START_TEST(test_command_to_string)
{
        ck_assert_str_eq(ctl_command_to_string(command_names[_i].c), command_names[_i].s);
}
END_TEST

/* ---- bc26ctl history: the output, as a pure function of GetHistory()'s entries ------------ */

static const struct {
        uint64_t started, finished;
        const char *want;
} durations[] = {
        { 5000000, 0, "running" },
        { 5000000, 4000000, "?" },                      /* the clock went backwards */
        { 5000000, 5000000, "0s" },
        { 0, 59999999, "59s" },
        { 0, 60000000, "1m00s" },
        { 1733390000000000ULL, 1733390751000000ULL, "12m31s" },
        { 0, 3599000000ULL, "59m59s" },
        { 0, 3723000000ULL, "1h02m03s" },
        { 0, 86399000000ULL, "23h59m59s" },
        { 0, 86400000000ULL, "1d00h00m" },
        { 0, 183840000000ULL, "2d03h04m" },
};

START_TEST(test_history_duration)
{
        char buf[32];

        ctl_history_duration(durations[_i].started, durations[_i].finished, buf, sizeof(buf));
        ck_assert_str_eq(buf, durations[_i].want);
}
END_TEST

/* Newest first, as GetHistory() returns them: one running, one finished, one odd. */
static const struct ctl_history_entry history_entries[] = {
        { .started = 1733400000000000ULL, .finished = 0, .result = "",
          .revision_before = "BC26NBR01A07", .revision_after = NULL, .max_progress = 37,
          .interrupted = true },
        { .started = 1733390000000000ULL, .finished = 1733390751000000ULL, .result = "success",
          .code = 0, .revision_before = "BC26NBR01A06", .revision_after = "BC26NBR01A07",
          .resets = 1, .max_progress = 100 },
        { .started = 1733300000000000ULL, .finished = 1733299000000000ULL,
          .result = "download-failed", .code = -3, .revision_before = "", .revision_after = "",
          .interrupted = true },
};

static char *capture(void (*print)(FILE *, const struct ctl_history_entry *, size_t),
                     const struct ctl_history_entry *e, size_t n)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        print(f, e, n);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

START_TEST(test_history_text)
{
        char *out;

        /* the table shows local time: pin the zone */
        ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
        tzset();
        out = capture(ctl_history_print_text, history_entries, 3);
        ck_assert_str_eq(out,
        "STARTED              DURATION  RESULT                         CODE  FIRMWARE\n"
        "2024-12-05 12:00:00  running   - (interrupted)                   -  BC26NBR01A07 -> ?\n"
        "2024-12-05 09:13:20  12m31s    success                           0  BC26NBR01A06 -> BC26NBR01A07\n"
        "2024-12-04 08:13:20  ?         download-failed (interrupted)    -3  ? -> ?\n");
        free(out);

        out = capture(ctl_history_print_text, history_entries + 1, 1);
        ck_assert_str_eq(out,
        "STARTED              DURATION  RESULT   CODE  FIRMWARE\n"
        "2024-12-05 09:13:20  12m31s    success     0  BC26NBR01A06 -> BC26NBR01A07\n");
        free(out);

        out = capture(ctl_history_print_text, NULL, 0);
        ck_assert_str_eq(out, "No upgrades recorded.\n");
        free(out);
}
END_TEST

START_TEST(test_history_json)
{
        static const struct ctl_history_entry odd = {
                .started = 1, .finished = 2, .result = "a\"b\\c\n", .code = -2147483647 - 1,
                .revision_before = "x\x01", .resets = 4294967295U, .max_progress = 100,
        };
        char *out;

        out = capture(ctl_history_print_json, history_entries, 2);
        ck_assert_str_eq(out,
                "[{\"started\":1733400000000000,\"finished\":0,\"result\":\"\",\"code\":0,"
                "\"revision_before\":\"BC26NBR01A07\",\"revision_after\":\"\",\"resets\":0,"
                "\"max_progress\":37,\"interrupted\":true},"
                "{\"started\":1733390000000000,\"finished\":1733390751000000,\"result\":\"success\","
                "\"code\":0,\"revision_before\":\"BC26NBR01A06\",\"revision_after\":\"BC26NBR01A07\","
                "\"resets\":1,\"max_progress\":100,\"interrupted\":false}]\n");
        free(out);

        out = capture(ctl_history_print_json, &odd, 1);
        ck_assert_str_eq(out,
                "[{\"started\":1,\"finished\":2,\"result\":\"a\\\"b\\\\c\\u000a\",\"code\":-2147483648,"
                "\"revision_before\":\"x\\u0001\",\"revision_after\":\"\",\"resets\":4294967295,"
                "\"max_progress\":100,\"interrupted\":false}]\n");
        free(out);

        out = capture(ctl_history_print_json, NULL, 0);
        ck_assert_str_eq(out, "[]\n");
        free(out);
}
END_TEST

/* ---- bc26ctl queue: the output, as a pure function of GetQueue()'s entries and now -------- */

static const struct {
        uint64_t s;
        const char *want;
} spans[] = {
        { 0, "0s" },
        { 59, "59s" },
        { 60, "1m00s" },
        { 192, "3m12s" },
        { 3599, "59m59s" },
        { 3600, "1h00m00s" },
        { 3723, "1h02m03s" },
        { 86399, "23h59m59s" },
        { 86400, "1d00h00m" },
        { 31536000, "365d00h00m" },
};

START_TEST(test_queue_span)
{
        char buf[32];

        ctl_history_span(spans[_i].s, buf, sizeof(buf));
        ck_assert_str_eq(buf, spans[_i].want);
}
END_TEST

#define QUEUE_NOW 1733400000000000ULL   /* 2024-12-05 12:00:00 UTC */
#define SEC 1000000ULL

/* In id order, as GetQueue() returns them. */
static const struct ctl_queue_entry queue_entries[] = {
        /* waiting 3m12s, no expiry, never tried: sent as soon as the module is ready */
        { .id = 17, .enqueued = QUEUE_NOW - 192 * SEC, .expires = 0, .size = 2, .attempts = 0,
          .object = 19, .instance = 0, .resource = 0, .confirmable = true, .next_attempt = 0 },
        /* tried twice, backing off 12 s; expires in 5 min */
        { .id = 18, .enqueued = QUEUE_NOW - 45 * SEC, .expires = QUEUE_NOW + 300 * SEC,
          .size = 512, .attempts = 2, .object = 65535, .instance = 65535, .resource = 65535,
          .confirmable = false, .next_attempt = QUEUE_NOW + 12 * SEC },
        /* future spans round up (0.5 s -> 1s); a past retry time is "now"; past expiry */
        { .id = 18446744073709551615ULL, .enqueued = QUEUE_NOW - 2 * 86400 * SEC - 3723 * SEC,
          .expires = QUEUE_NOW, .size = 1, .attempts = 9, .object = 5, .instance = 0,
          .resource = 3, .confirmable = true, .next_attempt = QUEUE_NOW - SEC },
        /* enqueued after now (the clock went back), or unknown: age "?"; 0.5 s left: "in 1s" */
        { .id = 20, .enqueued = QUEUE_NOW + SEC, .expires = QUEUE_NOW + SEC / 2, .size = 10,
          .object = 1, .instance = 2, .resource = 3, .confirmable = true,
          .next_attempt = QUEUE_NOW + 3600 * SEC },
        { .id = 21, .enqueued = 0, .size = 10, .object = 1, .instance = 2, .resource = 3,
          .confirmable = true, .next_attempt = QUEUE_NOW },
};

static char *capture_queue_text(const struct ctl_queue_entry *e, size_t n, uint64_t now)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        ctl_queue_print_text(f, e, n, now);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

static char *capture_queue_json(const struct ctl_queue_entry *e, size_t n)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        ctl_queue_print_json(f, e, n);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

START_TEST(test_queue_text)
{
        char *out;

        /* nothing is shown in local time, but pin the zone as for history */
        ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
        tzset();
        out = capture_queue_text(queue_entries, 5, QUEUE_NOW);
        ck_assert_str_eq(out,
        "                  ID  AGE       SIZE  ATTEMPTS  TARGET             EXPIRES   NEXT\n"
        "                  17  3m12s        2         0  19/0/0             never     now\n"
        "                  18  45s        512         2  65535/65535/65535  in 5m00s  in 12s\n"
        "18446744073709551615  2d01h02m     1         9  5/0/3              expired   now\n"
        "                  20  ?           10         0  1/2/3              in 1s     in 1h00m00s\n"
        "                  21  ?           10         0  1/2/3              never     now\n");
        free(out);

        out = capture_queue_text(queue_entries, 1, QUEUE_NOW);
        ck_assert_str_eq(out,
        "ID  AGE    SIZE  ATTEMPTS  TARGET  EXPIRES  NEXT\n"
        "17  3m12s     2         0  19/0/0  never    now\n");
        free(out);

        /* the same message a little later: the age grows, the waits shrink */
        out = capture_queue_text(queue_entries + 1, 1, QUEUE_NOW + 12 * SEC);
        ck_assert_str_eq(out,
        "ID  AGE  SIZE  ATTEMPTS  TARGET             EXPIRES   NEXT\n"
        "18  57s   512         2  65535/65535/65535  in 4m48s  now\n");
        free(out);

        out = capture_queue_text(NULL, 0, QUEUE_NOW);
        ck_assert_str_eq(out, "The queue is empty.\n");
        free(out);
}
END_TEST

START_TEST(test_queue_json)
{
        char *out;

        out = capture_queue_json(queue_entries, 3);
        ck_assert_str_eq(out,
                "[{\"id\":17,\"enqueued\":1733399808000000,\"expires\":0,\"size\":2,"
                "\"attempts\":0,\"object\":19,\"instance\":0,\"resource\":0,"
                "\"confirmable\":true,\"next_attempt\":0},"
                "{\"id\":18,\"enqueued\":1733399955000000,\"expires\":1733400300000000,"
                "\"size\":512,\"attempts\":2,\"object\":65535,\"instance\":65535,"
                "\"resource\":65535,\"confirmable\":false,\"next_attempt\":1733400012000000},"
                "{\"id\":18446744073709551615,\"enqueued\":1733223477000000,"
                "\"expires\":1733400000000000,\"size\":1,\"attempts\":9,\"object\":5,"
                "\"instance\":0,\"resource\":3,\"confirmable\":true,"
                "\"next_attempt\":1733399999000000}]\n");
        free(out);

        out = capture_queue_json(NULL, 0);
        ck_assert_str_eq(out, "[]\n");
        free(out);
}
END_TEST

static const struct {
        uint32_t n;
        const char *want;
} cleared[] = {
        { 0, "Dropped 0 messages.\n" },
        { 1, "Dropped 1 message.\n" },
        { 2, "Dropped 2 messages.\n" },
        { 4294967295U, "Dropped 4294967295 messages.\n" },
};

START_TEST(test_queue_cleared)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        ctl_queue_print_cleared(f, cleared[_i].n);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_str_eq(buf, cleared[_i].want);
        free(buf);
}
END_TEST

#define N(t) ((int) (sizeof(t) / sizeof((t)[0])))

static Suite *ctl_args_suite(void)
{
        Suite *s = suite_create("bc26ctl-args");
        TCase *tc = tcase_create("parse");

        tcase_add_loop_test(tc, test_path, 0, N(path_cases));
        tcase_add_loop_test(tc, test_hex, 0, N(hex_cases));
        tcase_add_loop_test(tc, test_hex_limit, 0, N(hex_sizes));
        tcase_add_loop_test(tc, test_argv, 0, N(argv_cases));
        tcase_add_test(tc, test_send_fields);
        tcase_add_loop_test(tc, test_queue_fields, 0, N(queue_cases));
        tcase_add_loop_test(tc, test_ttl, 0, N(ttl_cases));
        tcase_add_loop_test(tc, test_output, 0, N(output_cases));
        tcase_add_loop_test(tc, test_command_to_string, 0, N(command_names));
        suite_add_tcase(s, tc);

        tc = tcase_create("history output");
        tcase_add_loop_test(tc, test_history_duration, 0, N(durations));
        tcase_add_test(tc, test_history_text);
        tcase_add_test(tc, test_history_json);
        suite_add_tcase(s, tc);

        tc = tcase_create("queue output");
        tcase_add_loop_test(tc, test_queue_span, 0, N(spans));
        tcase_add_test(tc, test_queue_text);
        tcase_add_test(tc, test_queue_json);
        tcase_add_loop_test(tc, test_queue_cleared, 0, N(cleared));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(ctl_args_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
