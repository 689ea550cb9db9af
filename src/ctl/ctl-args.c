/* ctl-args.c - bc26ctl's pure argument parser: no I/O, no globals. Everything bc26d would
 * refuse with InvalidArgs (SendData's and Enqueue's ids, payload and ttl) is caught here, so a
 * typo is a usage error and never reaches the bus. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl-args.h"

/* How many positional arguments we keep: "send OBJ/INST/RES HEX" is the longest command. */
#define CTL_POSITIONAL_MAX 3

const char *ctl_command_to_string(enum ctl_command c)
{
        switch (c) {
        case CTL_COMMAND_HELP:
                return "help";
        case CTL_COMMAND_VERSION:
                return "version";
        case CTL_COMMAND_STATUS:
                return "status";
        case CTL_COMMAND_MONITOR:
                return "monitor";
        case CTL_COMMAND_SEND:
                return "send";
        case CTL_COMMAND_RESET:
                return "reset";
        case CTL_COMMAND_METRICS:
                return "metrics";
        case CTL_COMMAND_HISTORY:
                return "history";
        case CTL_COMMAND_QUEUE:
                return "queue";
        }
        return "unknown";
}

static int fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Write the sentence for a usage error and return -EINVAL. */
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
        va_list ap;

        if (err && errsz > 0) {
                va_start(ap, fmt);
                (void) vsnprintf(err, errsz, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

int ctl_parse_path(const char *s, unsigned *obj, unsigned *inst, unsigned *res,
                   char *err, size_t errsz)
{
        static const char *const names[3] = { "object", "instance", "resource" };
        unsigned ids[3];
        const char *p = s;

        for (size_t i = 0; i < 3; i++) {
                const char *start = p;
                unsigned long v = 0;

                /* Digits only: strtoul would accept signs, spaces and "0x", which are typos here. */
                while (is_digit(*p)) {
                        if (v <= CTL_ID_MAX)
                                v = v * 10 + (unsigned long) (*p - '0');
                        p++;
                }
                if (p == start || *p != (i < 2 ? '/' : '\0'))
                        return fail(err, errsz,
                                    "expected OBJ/INST/RES (three decimal ids, e.g. 19/0/0), got \"%.40s\"",
                                    s);
                if (v > CTL_ID_MAX) {
                        /* Quote the id as typed (only its digits), cut so err always fits. */
                        int digits = (int) (p - start);

                        return fail(err, errsz, "%s id %.*s%s is out of range (0..%u)", names[i],
                                    digits > 20 ? 20 : digits, start, digits > 20 ? "..." : "",
                                    CTL_ID_MAX);
                }
                ids[i] = (unsigned) v;
                if (i < 2)
                        p++;
        }
        *obj = ids[0];
        *inst = ids[1];
        *res = ids[2];
        return 0;
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int ctl_parse_hex(const char *s, uint8_t *out, size_t max, size_t *len, char *err, size_t errsz)
{
        size_t n = strlen(s);

        if (n == 0)
                return fail(err, errsz, "empty payload (1..%zu bytes of hex expected)", max);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (hex_value((char) c) >= 0)
                        continue;
                if (c >= 0x20 && c < 0x7f)
                        return fail(err, errsz, "bad hex digit '%c' at position %zu", c, i + 1);
                return fail(err, errsz, "bad hex digit '\\x%02x' at position %zu", c, i + 1);
        }
        if (n % 2 != 0)
                return fail(err, errsz, "odd number of hex digits (%zu)", n);
        if (n / 2 > max)
                return fail(err, errsz, "payload of %zu bytes is over the limit of %zu", n / 2, max);
        for (size_t i = 0; i < n / 2; i++)
                out[i] = (uint8_t) (hex_value(s[2 * i]) << 4 | hex_value(s[2 * i + 1]));
        *len = n / 2;
        return 0;
}

int ctl_parse_ttl(const char *s, uint32_t *out, char *err, size_t errsz)
{
        unsigned long v = 0;
        const char *p = s;

        if (s[0] == '\0')
                return fail(err, errsz, "--ttl needs SECONDS (0..%u)", CTL_TTL_MAX);
        /* Digits only, as for the ids: no sign, no spaces, no unit suffix. */
        for (; is_digit(*p); p++)
                if (v <= CTL_TTL_MAX)
                        v = v * 10 + (unsigned long) (*p - '0');
        if (*p != '\0')
                return fail(err, errsz, "--ttl \"%.40s\" is not a number of seconds (0..%u)", s,
                            CTL_TTL_MAX);
        if (v > CTL_TTL_MAX) {
                int digits = (int) (p - s);

                return fail(err, errsz, "--ttl %.*s%s is out of range (0..%u)",
                            digits > 20 ? 20 : digits, s, digits > 20 ? "..." : "", CTL_TTL_MAX);
        }
        *out = (uint32_t) v;
        return 0;
}

static const struct {
        const char *name;
        enum ctl_command command;
        int n_args;                     /* positional arguments after the command */
} commands[] = {
        { "status", CTL_COMMAND_STATUS, 0 },
        { "monitor", CTL_COMMAND_MONITOR, 0 },
        { "send", CTL_COMMAND_SEND, 2 },
        { "reset", CTL_COMMAND_RESET, 0 },
        { "metrics", CTL_COMMAND_METRICS, 0 },
        { "history", CTL_COMMAND_HISTORY, 0 },
        { "queue", CTL_COMMAND_QUEUE, 0 },
};

int ctl_args_parse(int argc, char *const argv[], struct ctl_args *a, char *err, size_t errsz)
{
        const char *pos[CTL_POSITIONAL_MAX];
        int n_pos = 0, n_args = -1;
        bool help = false, version = false, options_done = false;
        const char *bad_option = NULL;
        const char *ttl = NULL;         /* --ttl's word, checked once the command is known */
        int r;

        memset(a, 0, sizeof(*a));
        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];

                if (!options_done && arg[0] == '-' && arg[1] != '\0') {
                        if (strcmp(arg, "--") == 0)
                                options_done = true;
                        else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
                                help = true;
                        else if (strcmp(arg, "--version") == 0)
                                version = true;
                        else if (strcmp(arg, "--json") == 0)
                                a->json = true;
                        else if (strcmp(arg, "--output") == 0)
                                /* The next word, even "-x"; none: "" is refused below. */
                                a->output = i + 1 < argc ? argv[++i] : "";
                        else if (strncmp(arg, "--output=", strlen("--output=")) == 0)
                                a->output = arg + strlen("--output=");
                        else if (strcmp(arg, "--queue") == 0)
                                a->queue = true;
                        else if (strcmp(arg, "--ttl") == 0)
                                /* Like --output: the next word, even "-1"; none: "". */
                                ttl = i + 1 < argc ? argv[++i] : "";
                        else if (strncmp(arg, "--ttl=", strlen("--ttl=")) == 0)
                                ttl = arg + strlen("--ttl=");
                        else if (strcmp(arg, "--non-confirmable") == 0)
                                a->non_confirmable = true;
                        else if (strcmp(arg, "--clear") == 0)
                                a->clear = true;
                        else if (!bad_option)
                                bad_option = arg;
                        continue;
                }
                /* Count every positional but keep only what the longest command needs. */
                if (n_pos < CTL_POSITIONAL_MAX)
                        pos[n_pos] = arg;
                n_pos++;
        }

        /* Like most tools, --help and --version answer even on an otherwise bad line. */
        if (help) {
                a->command = CTL_COMMAND_HELP;
                return 0;
        }
        if (version) {
                a->command = CTL_COMMAND_VERSION;
                return 0;
        }
        if (bad_option)
                return fail(err, errsz, "unknown option \"%.40s\"", bad_option);
        if (n_pos == 0)
                return fail(err, errsz,
                            "missing command (status, monitor, send, queue, reset, metrics or history)");

        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(pos[0], commands[i].name) == 0) {
                        a->command = commands[i].command;
                        n_args = commands[i].n_args;
                }
        if (n_args < 0)
                return fail(err, errsz, "unknown command \"%.40s\"", pos[0]);
        if (n_pos - 1 > n_args)
                return fail(err, errsz, "too many arguments for %s", ctl_command_to_string(a->command));
        if (n_pos - 1 < n_args)
                return fail(err, errsz, "send needs OBJ/INST/RES and HEX"); /* the only one */
        if (a->json && a->command != CTL_COMMAND_STATUS && a->command != CTL_COMMAND_MONITOR &&
            a->command != CTL_COMMAND_HISTORY && a->command != CTL_COMMAND_QUEUE)
                return fail(err, errsz, "--json is only valid with status, monitor, history and queue");
        if (a->output && a->command != CTL_COMMAND_METRICS)
                return fail(err, errsz, "--output is only valid with metrics");
        if (a->output && a->output[0] == '\0')
                return fail(err, errsz, "--output needs a FILE name");
        if (a->queue && a->command != CTL_COMMAND_SEND)
                return fail(err, errsz, "--queue is only valid with send");
        if ((ttl || a->non_confirmable) && !a->queue)
                return fail(err, errsz, "%s is only valid with send --queue",
                            ttl ? "--ttl" : "--non-confirmable");
        if (a->clear && a->command != CTL_COMMAND_QUEUE)
                return fail(err, errsz, "--clear is only valid with queue");
        if (a->clear && a->json)
                return fail(err, errsz, "--json is not valid with queue --clear");
        if (ttl) {
                r = ctl_parse_ttl(ttl, &a->ttl, err, errsz);
                if (r < 0)
                        return r;
                a->has_ttl = true;
        }

        if (a->command == CTL_COMMAND_SEND) {
                r = ctl_parse_path(pos[1], &a->obj, &a->inst, &a->res, err, errsz);
                if (r < 0)
                        return r;
                r = ctl_parse_hex(pos[2], a->data, sizeof(a->data), &a->len, err, errsz);
                if (r < 0)
                        return r;
        }
        return 0;
}
