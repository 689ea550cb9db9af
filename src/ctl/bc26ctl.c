/* bc26ctl.c - the command-line client of bc26d's D-Bus API (doc/dbus-api.md): status, monitor,
 * send (and send --queue), queue, reset, history, metrics. Owns only talking to the bus and printing; argument checks live in ctl-args.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "ctl-args.h"
#include "ctl-history.h"
#include "ctl-queue.h"
#include "metrics.h"
#include "durable.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* Exit codes (the contract in doc/dbus-api.md): 0 done, 1 refused or failed, and these. */
#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING EX_UNAVAILABLE         /* 69: no owner for org.bc26d, or no system bus */
#define EXIT_ACCESS_DENIED EX_NOPERM            /* 77: the bus policy said no */

#define BC26D_NAME "org.bc26d"
#define BC26D_PATH "/org/bc26d/Modem"
#define BC26D_MODEM "org.bc26d.Modem1"
#define BC26D_LWM2M "org.bc26d.Lwm2m1"
#define BC26D_FOTA "org.bc26d.Fota1"
#define BC26D_NETWORK "org.bc26d.Network1"
#define DBUS_PROPERTIES "org.freedesktop.DBus.Properties"

#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define INHIBITOR_WHO "bc26d"                   /* the "who" bc26d gives logind's Inhibit() */

#define SIGNAL_ARGS_MAX 8                       /* our largest signal, DataReceived, has 4 */

#define _cleanup_(f) __attribute__((cleanup(f)))

static const char *const interfaces[] = { BC26D_MODEM, BC26D_LWM2M, BC26D_FOTA, BC26D_NETWORK };
#define N_INTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

/* ---- values read from messages ------------------------------------------------------------ */

/* One argument or property value. Only what our API uses is decoded; anything else is skipped
 * and shown by its signature, so a newer daemon does not break an older client. */
struct value {
        char type;                      /* D-Bus type code; 'Y' for "ay", '?' for skipped */
        const char *str;                /* s, o, g */
        bool b;
        uint64_t u;                     /* y, q, u, t */
        int64_t i;                      /* n, i, x */
        double d;
        const uint8_t *bytes;           /* ay */
        size_t n_bytes;
        char sig[32];                   /* '?': the signature that was skipped */
};

/* Read the next complete value (unwrapping variants). 1 read, 0 at the end, negative errno. */
static int read_value(sd_bus_message *m, struct value *v)
{
        const char *contents = NULL;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r;
        memset(v, 0, sizeof(*v));
        v->type = type;
        switch (type) {
        case 's':
        case 'o':
        case 'g':
                v->type = 's';
                r = sd_bus_message_read_basic(m, type, &v->str);
                break;
        case 'b': {
                int b;

                r = sd_bus_message_read_basic(m, type, &b);
                v->b = b != 0;
                break;
        }
        case 'y': {
                uint8_t x;

                r = sd_bus_message_read_basic(m, type, &x);
                v->u = x;
                break;
        }
        case 'q': {
                uint16_t x;

                r = sd_bus_message_read_basic(m, type, &x);
                v->u = x;
                break;
        }
        case 'u': {
                uint32_t x;

                r = sd_bus_message_read_basic(m, type, &x);
                v->u = x;
                break;
        }
        case 't':
                r = sd_bus_message_read_basic(m, type, &v->u);
                break;
        case 'n': {
                int16_t x;

                r = sd_bus_message_read_basic(m, type, &x);
                v->i = x;
                break;
        }
        case 'i': {
                int32_t x;

                r = sd_bus_message_read_basic(m, type, &x);
                v->i = x;
                break;
        }
        case 'x':
                r = sd_bus_message_read_basic(m, type, &v->i);
                break;
        case 'd':
                r = sd_bus_message_read_basic(m, type, &v->d);
                break;
        case 'v':
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                r = read_value(m, v);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EBADMSG;
                r = sd_bus_message_exit_container(m);
                break;
        case 'a':
                if (contents && strcmp(contents, "y") == 0) {
                        const void *p = NULL;

                        v->type = 'Y';
                        r = sd_bus_message_read_array(m, 'y', &p, &v->n_bytes);
                        v->bytes = p;
                        break;
                }
                /* Other arrays are skipped like any type we do not know. */
                v->type = '?';
                (void) snprintf(v->sig, sizeof(v->sig), "a%s", contents ? contents : "");
                r = sd_bus_message_skip(m, NULL);
                break;
        default:                        /* a D-Bus type code, not one of our enums */
                v->type = '?';
                (void) snprintf(v->sig, sizeof(v->sig), "%c%s", type, contents ? contents : "");
                r = sd_bus_message_skip(m, NULL);
                break;
        }
        return r < 0 ? r : 1;
}

static void print_json_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);   /* D-Bus strings are valid UTF-8: pass it through */
        }
        fputc('"', f);
}

static void print_hex(FILE *f, const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%02x", p[i]);
}

enum time_format {
        TIME_CLOCK,                     /* 12:00:01, for monitor lines */
        TIME_DATE,                      /* 2024-05-01 12:00:01, for Deadline */
        TIME_ISO,                       /* 2024-05-01T12:00:01+0200, for JSON */
};

/* Local wall-clock time of a CLOCK_REALTIME microsecond count. */
static void format_time(char *buf, size_t size, uint64_t usec, enum time_format format)
{
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        size_t n = 0;

        if (localtime_r(&t, &tm)) {
                switch (format) {
                case TIME_CLOCK:
                        n = strftime(buf, size, "%H:%M:%S", &tm);
                        break;
                case TIME_DATE:
                        n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
                        break;
                case TIME_ISO:
                        n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S%z", &tm);
                        break;
                }
        }
        if (n == 0)
                (void) snprintf(buf, size, "%" PRIu64, usec);
}

static uint64_t now_realtime_usec(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Network1's "not known" values (doc/dbus-api.md): INT32_MIN for every i property, UINT32_MAX for
 * CoverageClass, Earfcn, Pci and Band, 0 for Act. */
static bool value_not_known(const struct value *v, const char *property)
{
        if (!property)
                return false;
        if (v->type == 'i')
                return v->i == INT32_MIN;
        if (v->type == 'u' && strcmp(property, "Act") == 0)
                return v->u == 0;
        if (v->type == 'u')
                return v->u == UINT32_MAX && (strcmp(property, "CoverageClass") == 0 || strcmp(property, "Earfcn") == 0 ||
                                              strcmp(property, "Pci") == 0 || strcmp(property, "Band") == 0);
        return false;
}

/* Text form. Properties get a friendlier rendering than signal arguments: empty strings and
 * Network1's "not known" values are "(unknown)" (Imei and Endpoint are empty until the module
 * answered), Deadline and Updated, CLOCK_REALTIME times in microseconds, are local dates or
 * "none"/"never". */
static void print_value_text(FILE *f, const struct value *v, const char *property)
{
        char buf[64];

        if (value_not_known(v, property)) {
                fputs("(unknown)", f);
                return;
        }
        switch (v->type) {
        case 's':
                if (property && v->str[0] == '\0')
                        fputs("(unknown)", f);
                else if (!property && v->str[0] == '\0')
                        fputs("\"\"", f);
                else
                        fputs(v->str, f);
                break;
        case 'b':
                fputs(v->b ? "yes" : "no", f);
                break;
        case 'y':
        case 'q':
        case 'u':
        case 't':
                if (property && (strcmp(property, "Deadline") == 0 || strcmp(property, "Updated") == 0) &&
                    v->type == 't') {
                        if (v->u == 0) {
                                fputs(strcmp(property, "Deadline") == 0 ? "none" : "never", f);
                        } else {
                                format_time(buf, sizeof(buf), v->u, TIME_DATE);
                                fputs(buf, f);
                        }
                } else {
                        fprintf(f, "%" PRIu64, v->u);
                }
                break;
        case 'n':
        case 'i':
        case 'x':
                fprintf(f, "%" PRId64, v->i);
                break;
        case 'd':
                fprintf(f, "%g", v->d);
                break;
        case 'Y':
                if (v->n_bytes == 0)
                        fputs("(empty)", f);
                print_hex(f, v->bytes, v->n_bytes);
                break;
        default:
                fprintf(f, "(value of type %s)", v->sig);
                break;
        }
}

/* JSON form: numbers stay numbers (Deadline in microseconds), byte arrays are hex strings. */
static void print_value_json(FILE *f, const struct value *v)
{
        switch (v->type) {
        case 's':
                print_json_string(f, v->str);
                break;
        case 'b':
                fputs(v->b ? "true" : "false", f);
                break;
        case 'y':
        case 'q':
        case 'u':
        case 't':
                fprintf(f, "%" PRIu64, v->u);
                break;
        case 'n':
        case 'i':
        case 'x':
                fprintf(f, "%" PRId64, v->i);
                break;
        case 'd':
                fprintf(f, "%.17g", v->d);
                break;
        case 'Y':
                fputc('"', f);
                print_hex(f, v->bytes, v->n_bytes);
                fputc('"', f);
                break;
        default:
                fputs("null", f);
                break;
        }
}

/* ---- errors and exit codes ---------------------------------------------------------------- */

/* Turn a failed call into one line on stderr and the contract's exit code. The daemon's own
 * errors (UpgradeInProgress, NotReady, SendFailed, QueueFull, StorageFailed, NotSupported,
 * InvalidArgs) carry a sentence saying why; it is printed as is. */
static int report_error(const char *what, int r, const sd_bus_error *e)
{
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                fprintf(stderr, "bc26ctl: bc26d is not running (nobody owns %s on the system bus)\n",
                        BC26D_NAME);
                return EXIT_NOT_RUNNING;
        }
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED)) {
                /* The bus daemon's own message is a long dump of the rule match; say who may. */
                if (strcmp(what, "send") == 0 || strcmp(what, "reset") == 0 ||
                    strcmp(what, "queue") == 0)
                        fprintf(stderr, "bc26ctl: access denied (%s needs root or membership of "
                                "group bc26)\n", what);
                else
                        fprintf(stderr, "bc26ctl: access denied: %s\n",
                                e->message && e->message[0] ? e->message : e->name);
                return EXIT_ACCESS_DENIED;
        }
        if (sd_bus_error_is_set(e))
                fprintf(stderr, "bc26ctl: %s\n", e->message && e->message[0] ? e->message : e->name);
        else
                fprintf(stderr, "bc26ctl: %s failed: %s\n", what, strerror(r < 0 ? -r : r));
        return EXIT_FAILURE;
}

/* Connect and wait for the Hello reply, so "no bus" is told apart from errors of a call. */
static int connect_bus(sd_bus **ret)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *unique;
        int r;

        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_get_unique_name(bus, &unique);
        if (r < 0) {
                fprintf(stderr, "bc26ctl: cannot connect to the system bus: %s\n", strerror(-r));
                return r == -EACCES || r == -EPERM ? EXIT_ACCESS_DENIED : EXIT_NOT_RUNNING;
        }
        *ret = bus;
        bus = NULL;
        return 0;
}

/* ---- status ------------------------------------------------------------------------------ */

/* Print a GetAll reply (a{sv}); json: the members of one object, without the braces. */
static int print_properties(sd_bus_message *m, bool json)
{
        bool first = true;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;
                struct value v;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                r = read_value(m, &v);
                if (r < 0)
                        return r;
                if (json) {
                        fputs(first ? "" : ",", stdout);
                        print_json_string(stdout, name);
                        fputc(':', stdout);
                        print_value_json(stdout, &v);
                } else {
                        printf("%s: ", name);
                        print_value_text(stdout, &v, name);
                        fputc('\n', stdout);
                }
                first = false;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Print bc26d's logind inhibitor locks from a ListInhibitors reply, a(ssssuu): what, who, why,
 * mode, uid, pid. reply NULL: logind could not be asked, say so and carry on. */
static int print_inhibitors(sd_bus_message *reply, const sd_bus_error *e, bool json)
{
        unsigned n = 0;
        int r;

        if (!reply) {
                bool absent = sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                              sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER);

                if (json)
                        fputs("null", stdout);
                else if (absent || !sd_bus_error_is_set(e))
                        puts("Inhibitor: unknown (logind not available)");
                else
                        printf("Inhibitor: unknown (%s)\n", e->message ? e->message : e->name);
                return 0;
        }

        r = sd_bus_message_enter_container(reply, 'a', "(ssssuu)");
        if (r < 0)
                return r;
        if (json)
                fputc('[', stdout);
        while ((r = sd_bus_message_enter_container(reply, 'r', "ssssuu")) > 0) {
                const char *what, *who, *why, *mode;
                uint32_t uid, pid;

                r = sd_bus_message_read(reply, "ssssuu", &what, &who, &why, &mode, &uid, &pid);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
                if (strcmp(who, INHIBITOR_WHO) != 0)
                        continue;
                if (json) {
                        fputs(n > 0 ? ",{\"what\":" : "{\"what\":", stdout);
                        print_json_string(stdout, what);
                        fputs(",\"mode\":", stdout);
                        print_json_string(stdout, mode);
                        fputs(",\"why\":", stdout);
                        print_json_string(stdout, why);
                        printf(",\"uid\":%" PRIu32 ",\"pid\":%" PRIu32 "}", uid, pid);
                } else {
                        printf("Inhibitor: %s (%s): %s\n", what, mode, why);
                }
                n++;
        }
        if (r < 0)
                return r;
        if (json)
                fputc(']', stdout);
        else if (n == 0)
                puts("Inhibitor: none");
        return sd_bus_message_exit_container(reply);
}

static void unref_replies(sd_bus_message *(*replies)[N_INTERFACES])
{
        for (size_t i = 0; i < N_INTERFACES; i++)
                (*replies)[i] = sd_bus_message_unref((*replies)[i]);
}

static int cmd_status(sd_bus *bus, bool json)
{
        _cleanup_(unref_replies) sd_bus_message *replies[N_INTERFACES] = { NULL };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *inhibitors = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error logind_error = SD_BUS_ERROR_NULL;
        int r;

        /* Everything is fetched before anything is printed: no half a status on an error. */
        for (size_t i = 0; i < N_INTERFACES; i++) {
                r = sd_bus_call_method(bus, BC26D_NAME, BC26D_PATH, DBUS_PROPERTIES, "GetAll", &e,
                                       &replies[i], "s", interfaces[i]);
                if (r < 0)
                        return report_error("status", r, &e);
        }
        r = sd_bus_call_method(bus, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER, "ListInhibitors",
                               &logind_error, &inhibitors, "");
        if (r < 0)
                inhibitors = sd_bus_message_unref(inhibitors);

        if (json)
                fputc('{', stdout);
        for (size_t i = 0; i < N_INTERFACES; i++) {
                if (json)
                        /* "org.bc26d.Modem1" -> "Modem1": short keys for jq. */
                        printf("%s\"%s\":{", i > 0 ? "," : "", interfaces[i] + strlen("org.bc26d."));
                r = print_properties(replies[i], json);
                if (r < 0)
                        goto bad_reply;
                if (json)
                        fputc('}', stdout);
        }
        if (json)
                fputs(",\"Inhibitors\":", stdout);
        r = print_inhibitors(inhibitors, &logind_error, json);
        if (r < 0)
                goto bad_reply;
        if (json)
                puts("}");
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;

bad_reply:
        fflush(stdout);
        fprintf(stderr, "\nbc26ctl: cannot parse a reply: %s\n", strerror(-r));
        return EXIT_FAILURE;
}

/* ---- aa{sv} replies ---------------------------------------------------------------------- */

/* Give the member of an entry that key names the value v (a type it does not expect: skipped). */
typedef void (*dict_set_t)(void *entry, const char *key, const struct value *v);

/* An aa{sv} reply (GetHistory, GetQueue) into a new array of entries of size bytes each (*out,
 * free() it): each starts as a copy of blank, then set() gets every key of its dict. */
static int read_dicts(sd_bus_message *m, size_t size, const void *blank, dict_set_t set, void **out,
                      size_t *n_out)
{
        unsigned char *v = NULL;
        size_t n = 0, allocated = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
                if (n == allocated) {
                        size_t k = allocated ? allocated * 2 : 16;
                        unsigned char *p = realloc(v, k * size);

                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        v = p;
                        allocated = k;
                }
                memcpy(v + n * size, blank, size);
                while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                        const char *key;
                        struct value x;

                        r = sd_bus_message_read_basic(m, 's', &key);
                        if (r >= 0)
                                r = read_value(m, &x);
                        if (r >= 0)
                                set(v + n * size, key, &x);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                break;
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                n++;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0) {
                free(v);
                return r;
        }
        *out = v;
        *n_out = n;
        return 0;
}

/* ---- history ----------------------------------------------------------------------------- */

/* Set the member of e that key names, if v has the key's type; anything else is skipped, so a
 * newer bc26d may add keys (doc/dbus-api.md). Strings point into the reply. */
static void history_entry_set(void *entry, const char *key, const struct value *v)
{
        struct ctl_history_entry *e = entry;

        if (strcmp(key, "started") == 0 && v->type == 't')
                e->started = v->u;
        else if (strcmp(key, "finished") == 0 && v->type == 't')
                e->finished = v->u;
        else if (strcmp(key, "result") == 0 && v->type == 's')
                e->result = v->str;
        else if (strcmp(key, "code") == 0 && v->type == 'i')
                e->code = (int32_t) v->i;
        else if (strcmp(key, "revision_before") == 0 && v->type == 's')
                e->revision_before = v->str;
        else if (strcmp(key, "revision_after") == 0 && v->type == 's')
                e->revision_after = v->str;
        else if (strcmp(key, "resets") == 0 && v->type == 'u')
                e->resets = (uint32_t) v->u;
        else if (strcmp(key, "max_progress") == 0 && v->type == 'u')
                e->max_progress = (uint32_t) v->u;
        else if (strcmp(key, "interrupted") == 0 && v->type == 'b')
                e->interrupted = v->b;
}

/* A GetHistory() reply, aa{sv}, newest first, into a new array (*out, free() it). */
static int read_history(sd_bus_message *m, struct ctl_history_entry **out, size_t *n_out)
{
        static const struct ctl_history_entry blank;
        void *v;
        int r = read_dicts(m, sizeof(blank), &blank, history_entry_set, &v, n_out);

        if (r >= 0)
                *out = v;
        return r;
}

static int cmd_history(sd_bus *bus, bool json)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        struct ctl_history_entry *entries = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(bus, BC26D_NAME, BC26D_PATH, BC26D_FOTA, "GetHistory", &e, &reply, "");
        if (r < 0)
                return report_error("history", r, &e);
        r = read_history(reply, &entries, &n);
        if (r < 0) {
                fprintf(stderr, "bc26ctl: cannot parse a reply: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        if (json)
                ctl_history_print_json(stdout, entries, n);
        else
                ctl_history_print_text(stdout, entries, n);
        free(entries);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- queue ------------------------------------------------------------------------------- */

/* Set the member of e that key names, if v has the key's type; anything else is skipped, so a
 * newer bc26d may add keys (doc/dbus-api.md). */
static void queue_entry_set(void *entry, const char *key, const struct value *v)
{
        struct ctl_queue_entry *e = entry;

        if (strcmp(key, "id") == 0 && v->type == 't')
                e->id = v->u;
        else if (strcmp(key, "enqueued") == 0 && v->type == 't')
                e->enqueued = v->u;
        else if (strcmp(key, "expires") == 0 && v->type == 't')
                e->expires = v->u;
        else if (strcmp(key, "size") == 0 && v->type == 'u')
                e->size = (uint32_t) v->u;
        else if (strcmp(key, "attempts") == 0 && v->type == 'u')
                e->attempts = (uint32_t) v->u;
        else if (strcmp(key, "object") == 0 && v->type == 'u')
                e->object = (uint32_t) v->u;
        else if (strcmp(key, "instance") == 0 && v->type == 'u')
                e->instance = (uint32_t) v->u;
        else if (strcmp(key, "resource") == 0 && v->type == 'u')
                e->resource = (uint32_t) v->u;
        else if (strcmp(key, "confirmable") == 0 && v->type == 'b')
                e->confirmable = v->b;
        else if (strcmp(key, "next_attempt") == 0 && v->type == 't')
                e->next_attempt = v->u;
}

/* A GetQueue() reply, aa{sv}, in id order, into a new array (*out, free() it). */
static int read_queue(sd_bus_message *m, struct ctl_queue_entry **out, size_t *n_out)
{
        static const struct ctl_queue_entry blank = { .confirmable = true };     /* Enqueue's default */
        void *v;
        int r = read_dicts(m, sizeof(blank), &blank, queue_entry_set, &v, n_out);

        if (r >= 0)
                *out = v;
        return r;
}

/* queue [--json]: GetQueue as a table or JSON; queue --clear: ClearQueue and its count. */
static int cmd_queue(sd_bus *bus, const struct ctl_args *a)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        struct ctl_queue_entry *entries = NULL;
        size_t n = 0;
        uint32_t dropped;
        int r;

        if (a->clear) {
                r = sd_bus_call_method(bus, BC26D_NAME, BC26D_PATH, BC26D_LWM2M, "ClearQueue", &e,
                                       &reply, "");
                if (r < 0)
                        return report_error("queue", r, &e);
                r = sd_bus_message_read(reply, "u", &dropped);
                if (r < 0) {
                        fprintf(stderr, "bc26ctl: cannot parse a reply: %s\n", strerror(-r));
                        return EXIT_FAILURE;
                }
                ctl_queue_print_cleared(stdout, dropped);
                return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        }

        r = sd_bus_call_method(bus, BC26D_NAME, BC26D_PATH, BC26D_LWM2M, "GetQueue", &e, &reply, "");
        if (r < 0)
                return report_error("queue", r, &e);
        r = read_queue(reply, &entries, &n);
        if (r < 0) {
                fprintf(stderr, "bc26ctl: cannot parse a reply: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        if (a->json)
                ctl_queue_print_json(stdout, entries, n);
        else
                ctl_queue_print_text(stdout, entries, n, now_realtime_usec());
        free(entries);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- the event loop: monitor, and calls that wait for as long as the daemon needs --------- */

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        const char *message = userdata;

        if (message)
                fprintf(stderr, "bc26ctl: %s\n", message);
        /* An abandoned send/reset did not get done: 1, as the contract's "refused or failed";
         * monitor runs until interrupted, so that is its normal end. */
        return sd_event_exit(sd_event_source_get_event(s), message ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* An event loop with the bus attached, where SIGINT and SIGTERM end the loop (printing message
 * if not NULL). The signals are blocked first, as signalfd needs. */
static int event_new(sd_bus *bus, const char *message, sd_event **ret)
{
        _cleanup_(sd_event_unrefp) sd_event *ev = NULL;
        sigset_t ss;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        r = sd_event_default(&ev);
        if (r < 0)
                return r;
        r = sd_event_add_signal(ev, NULL, SIGINT, on_exit_signal, (void *) message);
        if (r < 0)
                return r;
        r = sd_event_add_signal(ev, NULL, SIGTERM, on_exit_signal, (void *) message);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, ev, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        *ret = ev;
        ev = NULL;
        return 0;
}

struct call {
        const char *what;               /* the command, for messages */
        sd_event *ev;
};

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        const struct call *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int code = EXIT_SUCCESS;

        /* Also reached with a synthesized error when the bus connection is lost. */
        if (e)
                code = report_error(c->what, sd_bus_message_get_errno(reply), e);
        return sd_event_exit(c->ev, code);
}

/* Send m and wait for the reply with no client timeout: SendData replies only at SEND OK, which
 * can take send_timeout_s times the queue ahead of it, far more than sd-bus's default 25 s.
 * Ctrl-C abandons the wait (the daemon may still carry the request out). */
static int call_and_wait(sd_bus *bus, sd_bus_message *m, const char *what, const char *interrupted)
{
        _cleanup_(sd_event_unrefp) sd_event *ev = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct call c = { .what = what };
        int r;

        r = event_new(bus, interrupted, &ev);
        if (r < 0)
                return report_error(what, r, NULL);
        c.ev = ev;
        /* In sd-bus 0 means the default timeout; UINT64_MAX means none. */
        r = sd_bus_call_async(bus, &slot, m, on_reply, &c, UINT64_MAX);
        if (r < 0)
                return report_error(what, r, NULL);
        r = sd_event_loop(ev);
        if (r < 0)
                return report_error(what, r, NULL);
        return r;
}

/* send --queue: Enqueue, which replies as soon as the message is on disk (no long wait, so the
 * default method-call timeout is fine); print the id. */
static int cmd_enqueue(sd_bus *bus, const struct ctl_args *a)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t id;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, BC26D_NAME, BC26D_PATH, BC26D_LWM2M, "Enqueue");
        if (r >= 0)
                r = sd_bus_message_append(m, "uuu", (uint32_t) a->obj, (uint32_t) a->inst,
                                          (uint32_t) a->res);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', a->data, a->len);
        /* Only the options given: the daemon's defaults ([outbox] default_ttl_s, confirmable)
         * apply to the others. */
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && a->has_ttl)
                r = sd_bus_message_append(m, "{sv}", "ttl", "u", a->ttl);
        if (r >= 0 && a->non_confirmable)
                r = sd_bus_message_append(m, "{sv}", "confirmable", "b", 0);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return report_error("send", r, NULL);
        r = sd_bus_call(bus, m, 0, &e, &reply);
        if (r < 0)
                return report_error("send", r, &e);
        r = sd_bus_message_read(reply, "t", &id);
        if (r < 0) {
                fprintf(stderr, "bc26ctl: cannot parse a reply: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        printf("%" PRIu64 "\n", id);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int cmd_send(sd_bus *bus, const struct ctl_args *a)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (a->queue)
                return cmd_enqueue(bus, a);
        r = sd_bus_message_new_method_call(bus, &m, BC26D_NAME, BC26D_PATH, BC26D_LWM2M, "SendData");
        if (r >= 0)
                r = sd_bus_message_append(m, "uuu", (uint32_t) a->obj, (uint32_t) a->inst,
                                          (uint32_t) a->res);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', a->data, a->len);
        if (r < 0)
                return report_error("send", r, NULL);
        return call_and_wait(bus, m, "send",
                             "interrupted; the request may still be sent by bc26d");
}

static int cmd_reset(sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, BC26D_NAME, BC26D_PATH, BC26D_MODEM, "Reset");
        if (r < 0)
                return report_error("reset", r, NULL);
        return call_and_wait(bus, m, "reset",
                             "interrupted; the reset may still be carried out by bc26d");
}

/* ---- metrics ----------------------------------------------------------------------------- */

#define METRICS_FILE_MODE 0644          /* node-exporter runs as user prometheus: it must read it */

/* The daemon is not there (or left while we asked): bc26_up 0. */
static bool metrics_daemon_gone(int r, const sd_bus_error *e)
{
        return sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_DISCONNECTED) ||
               (!sd_bus_error_is_set(e) && (r == -ECONNRESET || r == -ENOTCONN));
}

/* An older bc26d without this interface, method or property: its values are "not known". */
static bool metrics_not_provided(const sd_bus_error *e)
{
        return sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_INTERFACE) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_PROPERTY);
}

/* GetAll(iface), or the method member with no arguments. 1 answered, 0 not provided, -ENOTCONN
 * the daemon is gone; any other error is reported and its exit code left in *code. */
static int metrics_call(sd_bus *bus, const char *iface, const char *member, sd_bus_message **reply,
                        int *code)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if (member)
                r = sd_bus_call_method(bus, BC26D_NAME, BC26D_PATH, iface, member, &e, reply, "");
        else
                r = sd_bus_call_method(bus, BC26D_NAME, BC26D_PATH, DBUS_PROPERTIES, "GetAll", &e,
                                       reply, "s", iface);
        if (r >= 0)
                return 1;
        if (metrics_daemon_gone(r, &e))
                return -ENOTCONN;
        if (metrics_not_provided(&e))
                return 0;
        *code = report_error("metrics", r, &e);
        return r;
}

/* Take the properties metrics need from a GetAll reply of iface. A value of an unexpected type
 * stays "not known". Strings point into m. */
static int metrics_read_properties(sd_bus_message *m, const char *iface, struct metrics_values *v)
{
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;
                struct value x;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r >= 0)
                        r = read_value(m, &x);
                if (r < 0)
                        return r;
#define IS(i, n, t) (strcmp(iface, (i)) == 0 && strcmp(name, (n)) == 0 && x.type == (t))
                if (IS(BC26D_MODEM, "State", 's'))
                        v->state = x.str;
                else if (IS(BC26D_FOTA, "Phase", 's'))
                        v->fota_phase = x.str;
                else if (IS(BC26D_FOTA, "Progress", 'u'))
                        v->fota_progress = (uint32_t) x.u;
                else if (IS(BC26D_NETWORK, "Registration", 's'))
                        v->registration = x.str;
                else if (IS(BC26D_NETWORK, "Rsrp", 'i'))
                        v->rsrp_dbm = (int32_t) x.i;
                else if (IS(BC26D_NETWORK, "Sinr", 'i'))
                        v->sinr_db = (int32_t) x.i;
                else if (IS(BC26D_NETWORK, "Updated", 't'))
                        v->updated_usec = x.u;
#undef IS
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* A GetCounters reply, a{st}; keys this client does not know are skipped. */
static int metrics_read_counters(sd_bus_message *m, struct metrics_values *v)
{
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{st}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "st")) > 0) {
                const char *key;
                uint64_t n;
                int i;

                r = sd_bus_message_read(m, "st", &key, &n);
                if (r < 0)
                        return r;
                i = metrics_counter_from_key(key);
                if (i >= 0) {
                        v->counters[i] = n;
                        v->counter_known[i] = true;
                }
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Replace path with buf (mode METRICS_FILE_MODE, whatever the umask) through durable_write_mode:
 * the temp file is path.tmp in the same directory, whose name does not end in .prom, so
 * node-exporter never reads it half written; fsync, rename, fsync of the directory. 0 or
 * negative errno. One writer at a time per path (the temp name is fixed; the timer's oneshot
 * service never overlaps itself). */
static int metrics_write_file(const char *path, const char *buf, size_t len)
{
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        size_t dirlen = slash ? (size_t) (slash - path) : 0;

        if (base[0] == '\0')
                return -EISDIR;
        if (dirlen == 0)
                (void) snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
        else if (dirlen < sizeof(dir))
                (void) snprintf(dir, sizeof(dir), "%.*s", (int) dirlen, path);
        else
                return -ENAMETOOLONG;
        return durable_write_mode(dir, base, buf, len, METRICS_FILE_MODE);
}

static void unref_metrics_replies(sd_bus_message *(*replies)[4])
{
        for (size_t i = 0; i < 4; i++)
                (*replies)[i] = sd_bus_message_unref((*replies)[i]);
}

/* Ask bc26d for everything metrics shows, into v (strings point into replies). EXIT_SUCCESS also
 * when bc26d is gone (v is then "down"); another exit code after saying on stderr what failed. */
static int metrics_collect(sd_bus *bus, sd_bus_message *replies[4], struct metrics_values *v)
{
        static const struct {
                const char *iface;
                const char *member;     /* NULL: GetAll(iface) */
        } calls[4] = {
                { BC26D_MODEM, NULL },
                { BC26D_FOTA, NULL },
                { BC26D_NETWORK, NULL },
                { BC26D_MODEM, "GetCounters" },
        };
        int code = EXIT_FAILURE;
        int r;

        v->up = true;
        for (size_t i = 0; i < 4 && v->up; i++) {
                r = metrics_call(bus, calls[i].iface, calls[i].member, &replies[i], &code);
                if (r == -ENOTCONN) {
                        metrics_values_init(v);         /* gone: nothing is known */
                } else if (r < 0) {
                        return code;
                } else if (r > 0) {
                        r = calls[i].member ? metrics_read_counters(replies[i], v)
                                            : metrics_read_properties(replies[i], calls[i].iface, v);
                        if (r < 0) {
                                fprintf(stderr, "bc26ctl: cannot parse a reply: %s\n", strerror(-r));
                                return EXIT_FAILURE;
                        }
                }
        }
        return EXIT_SUCCESS;
}

/* v as the exposition text into path. EXIT_SUCCESS, or EXIT_FAILURE after saying why. */
static int metrics_output_file(const char *path, const struct metrics_values *v)
{
        char *text;
        size_t len = 0;
        int r;

        (void) metrics_format(NULL, 0, v, &len);
        text = malloc(len + 1);
        if (!text) {
                fprintf(stderr, "bc26ctl: out of memory\n");
                return EXIT_FAILURE;
        }
        r = metrics_format(text, len + 1, v, NULL);
        if (r >= 0)
                r = metrics_write_file(path, text, len);
        free(text);
        if (r < 0) {
                fprintf(stderr, "bc26ctl: cannot write %s: %s\n", path, strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* bc26ctl metrics [--output FILE]. bc26d not running (or no system bus at all): only bc26_up 0,
 * exit 0, so a timer still replaces an old file and nobody scrapes stale values. Any other
 * failure (access denied, a reply that cannot be read) exits with its code; with --output the
 * file still gets bc26_up 0 first, so that it never keeps showing an older bc26_up 1. */
static int cmd_metrics(const struct ctl_args *a)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(unref_metrics_replies) sd_bus_message *replies[4] = { NULL };
        struct metrics_values v;
        const char *unique;
        int code = EXIT_SUCCESS;
        int r;

        metrics_values_init(&v);
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_get_unique_name(bus, &unique);
        if (r == -EACCES || r == -EPERM) {
                fprintf(stderr, "bc26ctl: cannot connect to the system bus: %s\n", strerror(-r));
                code = EXIT_ACCESS_DENIED;
        } else if (r < 0) {
                fprintf(stderr, "bc26ctl: no system bus (%s): reporting bc26_up 0\n", strerror(-r));
        } else {
                code = metrics_collect(bus, replies, &v);
        }
        if (code != EXIT_SUCCESS) {
                if (!a->output)
                        return code;
                metrics_values_init(&v);        /* what is known is that bc26d was not read */
                (void) metrics_output_file(a->output, &v);
                return code;
        }

        if (!a->output) {
                r = metrics_write(stdout, &v);
                if (r >= 0 && fflush(stdout) != 0)
                        r = -errno;
                if (r < 0) {
                        fprintf(stderr, "bc26ctl: cannot write the metrics: %s\n", strerror(-r));
                        return EXIT_FAILURE;
                }
                return EXIT_SUCCESS;
        }
        return metrics_output_file(a->output, &v);
}

/* ---- monitor ----------------------------------------------------------------------------- */

struct monitor {
        bool json;
        sd_event *ev;
};

/* Start one event line: "12:00:01 " or {"time":...,"usec":...,  (the caller closes it). */
static void event_begin(bool json)
{
        uint64_t usec = now_realtime_usec();
        char buf[64];

        if (json) {
                format_time(buf, sizeof(buf), usec, TIME_ISO);
                fputs("{\"time\":", stdout);
                print_json_string(stdout, buf);
                printf(",\"usec\":%" PRIu64, usec);
        } else {
                format_time(buf, sizeof(buf), usec, TIME_CLOCK);
                printf("%s ", buf);
        }
}

static void event_end(bool json)
{
        fputs(json ? "}\n" : "\n", stdout);
        fflush(stdout);
}

static void print_daemon_event(bool json, const char *what)
{
        event_begin(json);
        if (json) {
                fputs(",\"daemon\":", stdout);
                print_json_string(stdout, what);
        } else {
                printf("bc26d: %s", what);
        }
        event_end(json);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const bool json = ((const struct monitor *) userdata)->json;
        const char *iface;
        int r;

        r = sd_bus_message_read_basic(m, 's', &iface);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;
                struct value v;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r >= 0)
                        r = read_value(m, &v);
                if (r < 0)
                        break;
                event_begin(json);
                if (json) {
                        fputs(",\"interface\":", stdout);
                        print_json_string(stdout, iface);
                        fputs(",\"property\":", stdout);
                        print_json_string(stdout, name);
                        fputs(",\"value\":", stdout);
                        print_value_json(stdout, &v);
                } else {
                        printf("%s: ", name);
                        print_value_text(stdout, &v, name);
                }
                event_end(json);
                r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        /* Invalidated properties carry no value; bc26d sends values, but show them anyway. */
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "s");
        while (r >= 0) {
                const char *name;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r <= 0)
                        break;
                event_begin(json);
                if (json) {
                        fputs(",\"interface\":", stdout);
                        print_json_string(stdout, iface);
                        fputs(",\"property\":", stdout);
                        print_json_string(stdout, name);
                        fputs(",\"invalidated\":true", stdout);
                } else {
                        printf("%s: (changed)", name);
                }
                event_end(json);
        }
        if (r < 0)
                fprintf(stderr, "bc26ctl: ignoring a malformed PropertiesChanged: %s\n", strerror(-r));
        return 0;
}

/* Argument names of our signals, for JSON; others get arg0, arg1, ... */
static const struct {
        const char *member;
        const char *args[SIGNAL_ARGS_MAX];
} signal_args[] = {
        { "ModuleRebooted", { "cause" } },
        { "ModuleReset", { "rung", "recovered" } },
        { "DataReceived", { "object", "instance", "resource", "data" } },
        { "UpgradeStarted", { NULL } },
        { "UpgradeFinished", { "result", "code" } },
        { "DataDelivered", { "id" } },
        { "DataDropped", { "id", "reason" } },
};

static const char *signal_arg_name(const char *member, size_t i, char *buf, size_t size)
{
        for (size_t k = 0; k < sizeof(signal_args) / sizeof(signal_args[0]); k++)
                if (strcmp(signal_args[k].member, member) == 0 && i < SIGNAL_ARGS_MAX &&
                    signal_args[k].args[i])
                        return signal_args[k].args[i];
        (void) snprintf(buf, size, "arg%zu", i);
        return buf;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const bool json = ((const struct monitor *) userdata)->json;
        const char *member = sd_bus_message_get_member(m);
        const char *iface = sd_bus_message_get_interface(m);
        struct value v;
        int r;

        if (!member || !iface)
                return 0;
        event_begin(json);
        if (json) {
                fputs(",\"interface\":", stdout);
                print_json_string(stdout, iface);
                fputs(",\"signal\":", stdout);
                print_json_string(stdout, member);
                fputs(",\"args\":{", stdout);
        } else {
                fputs(member, stdout);
        }
        for (size_t i = 0; (r = read_value(m, &v)) > 0; i++) {
                char buf[16];

                if (json) {
                        fputs(i > 0 ? "," : "", stdout);
                        print_json_string(stdout, signal_arg_name(member, i, buf, sizeof(buf)));
                        fputc(':', stdout);
                        print_value_json(stdout, &v);
                } else {
                        fputc(' ', stdout);
                        print_value_text(stdout, &v, NULL);
                }
        }
        if (json)
                fputc('}', stdout);
        event_end(json);
        if (r < 0)
                fprintf(stderr, "bc26ctl: malformed %s signal: %s\n", member, strerror(-r));
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const bool json = ((const struct monitor *) userdata)->json;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
            strcmp(name, BC26D_NAME) != 0)
                return 0;
        print_daemon_event(json, new_owner[0] ? "started" : "stopped");
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const struct monitor *mon = userdata;

        fprintf(stderr, "bc26ctl: disconnected from the system bus\n");
        return sd_event_exit(mon->ev, EXIT_NOT_RUNNING);
}

static int cmd_monitor(sd_bus *bus, bool json)
{
        _cleanup_(sd_event_unrefp) sd_event *ev = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct monitor mon = { .json = json };
        int has_owner = 0;
        int r;

        r = event_new(bus, NULL, &ev);
        if (r < 0)
                return report_error("monitor", r, NULL);
        mon.ev = ev;

        /* Matching on the well-known name: the bus daemon resolves it to whoever owns it when a
         * signal is sent, so a restarted bc26d is followed without re-subscribing. */
        r = sd_bus_match_signal(bus, NULL, BC26D_NAME, BC26D_PATH, DBUS_PROPERTIES,
                                "PropertiesChanged", on_properties_changed, &mon);
        for (size_t i = 0; r >= 0 && i < N_INTERFACES; i++)
                r = sd_bus_match_signal(bus, NULL, BC26D_NAME, BC26D_PATH, interfaces[i], NULL,
                                        on_signal, &mon);
        if (r >= 0)
                r = sd_bus_add_match(bus, NULL,
                                     "type='signal',sender='org.freedesktop.DBus',"
                                     "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                                     "member='NameOwnerChanged',arg0='" BC26D_NAME "'",
                                     on_name_owner_changed, &mon);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, NULL, "/org/freedesktop/DBus/Local",
                                        "org.freedesktop.DBus.Local", "Disconnected",
                                        on_disconnected, &mon);
        if (r < 0)
                return report_error("monitor", r, NULL);

        /* Only changes follow: say once whether there is anybody to watch. */
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "NameHasOwner", &e, &reply, "s", BC26D_NAME);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &has_owner);
        if (r < 0)
                return report_error("monitor", r, &e);
        print_daemon_event(json, has_owner ? "running" : "not running");

        r = sd_event_loop(ev);
        if (r < 0)
                return report_error("monitor", r, NULL);
        return r;
}

/* ---- main -------------------------------------------------------------------------------- */

static void help(void)
{
        printf("Usage: bc26ctl [--json] status\n"
               "       bc26ctl [--json] monitor\n"
               "       bc26ctl send OBJ/INST/RES HEX\n"
               "       bc26ctl send --queue [--ttl S] [--non-confirmable] OBJ/INST/RES HEX\n"
               "       bc26ctl [--json] queue\n"
               "       bc26ctl queue --clear\n"
               "       bc26ctl reset\n"
               "       bc26ctl [--json] history\n"
               "       bc26ctl metrics [--output FILE]\n"
               "       bc26ctl --help | --version\n"
               "\n"
               "Ask bc26d, the daemon that owns the BC26 NB-IoT module, over the system bus.\n"
               "\n"
               "Commands:\n"
               "  status    show the properties of org.bc26d.Modem1, Lwm2m1, Fota1 and Network1, and\n"
               "            bc26d's logind inhibitor lock\n"
               "  monitor   print property changes and signals as they happen, until Ctrl-C\n"
               "  send      send HEX (1..%u bytes, e.g. 0102ff) as a confirmable LwM2M uplink\n"
               "            on OBJ/INST/RES (ids 0..%u, e.g. 19/0/0) and wait for SEND OK,\n"
               "            however long the queue ahead of it takes\n"
               "            --queue: hand it to bc26d's outbox instead (kept on disk, delivered\n"
               "            in order when the module is ready, even after an upgrade or a\n"
               "            restart) and print its id as soon as it is stored\n"
               "  queue     list the messages waiting in the outbox; --clear drops them all\n"
               "  reset     reset the module (refused while a firmware upgrade runs)\n"
               "  history   list the firmware upgrades bc26d recorded, newest first\n"
               "  metrics   print bc26d's metrics in the Prometheus text format; bc26_up 0\n"
               "            (and exit 0) when bc26d is not running\n"
               "\n"
               "Options:\n"
               "  --json    status, monitor, history, queue: JSON output (monitor: one object\n"
               "            per line)\n"
               "  --queue   send: store and forward through the outbox (Enqueue)\n"
               "  --ttl S   send --queue: drop the message if not delivered within S seconds\n"
               "            (0..%u; 0 never; default: bc26d's [outbox] default_ttl_s)\n"
               "  --non-confirmable\n"
               "            send --queue: send it as a non-confirmable uplink\n"
               "  --clear   queue: drop every waiting message and print how many\n"
               "  --output FILE\n"
               "            metrics: replace FILE atomically (mode 0644) instead of printing\n"
               "  -h, --help\n"
               "  --version\n"
               "\n"
               "Exit status: 0 done, 1 refused or failed, 2 usage error, 69 bc26d not running\n"
               "or no system bus, 77 access denied.\n"
               "DBUS_SYSTEM_BUS_ADDRESS selects another bus. See bc26d's doc/dbus-api.md.\n",
               CTL_PAYLOAD_MAX, CTL_ID_MAX, CTL_TTL_MAX);
}

int main(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct ctl_args a;
        char err[CTL_ERROR_MAX];
        int r;

        r = ctl_args_parse(argc, argv, &a, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "bc26ctl: %s (see bc26ctl --help)\n", err);
                return EXIT_USAGE;
        }

        switch (a.command) {
        case CTL_COMMAND_HELP:
                help();
                return EXIT_SUCCESS;
        case CTL_COMMAND_VERSION:
                printf("bc26ctl (bc26d) %s\n", PACKAGE_VERSION);
                return EXIT_SUCCESS;
        case CTL_COMMAND_STATUS:
        case CTL_COMMAND_MONITOR:
        case CTL_COMMAND_SEND:
        case CTL_COMMAND_RESET:
        case CTL_COMMAND_HISTORY:
        case CTL_COMMAND_QUEUE:
                break;
        case CTL_COMMAND_METRICS:
                return cmd_metrics(&a);         /* no bus is an answer there: bc26_up 0 */
        }

        r = connect_bus(&bus);
        if (r != 0)
                return r;

        switch (a.command) {
        case CTL_COMMAND_STATUS:
                return cmd_status(bus, a.json);
        case CTL_COMMAND_MONITOR:
                setvbuf(stdout, NULL, _IOLBF, 0);       /* live through a pipe (| jq) */
                return cmd_monitor(bus, a.json);
        case CTL_COMMAND_SEND:
                return cmd_send(bus, &a);
        case CTL_COMMAND_RESET:
                return cmd_reset(bus);
        case CTL_COMMAND_HISTORY:
                return cmd_history(bus, a.json);
        case CTL_COMMAND_QUEUE:
                return cmd_queue(bus, &a);
        case CTL_COMMAND_HELP:
        case CTL_COMMAND_VERSION:
        case CTL_COMMAND_METRICS:
                break;
        }
        return EXIT_SUCCESS;
}
