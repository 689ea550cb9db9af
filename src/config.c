/* config.c - bc26d.conf: defaults, the inih reader/handler, and validation with FILE:LINE errors.
 * Pure apart from config_load(), which only reads the file; it never logs (errors go to err). */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "history.h"

/* A config file is a few dozen lines; anything bigger is a mistake, not a config. */
#define CONFIG_FILE_MAX         (64 * 1024)
/* Errors kept for one parse; more are counted and summarised in one last line. */
#define CONFIG_ERRORS_MAX       100
#define CONFIG_ERROR_LEN        512

#define BAUD_ALLOWED            "4800, 9600 or 115200"
#define BOOL_ALLOWED            "yes/no, true/false, on/off or 1/0"
#define DEVICE_HINT             "set it to the module's tty, e.g. /dev/serial0"
#define ENDPOINT_ALLOWED        "1..64 printable ASCII characters without '\"' (empty: the module's IMEI)"
#define SERVER_NAME_ALLOWED     "letters, digits, '-' and '.', labels not starting or ending with '-'"
#define OBJECTS_ALLOWED         "obj/inst or obj/inst/count/ids, e.g. 19/0 or 3303/0/2/5700;5701"
#define GPIO_LINE_ALLOWED       "an offset 0..1023 or a line name of 1..63 printable characters without spaces"
#define GPIO_OFFSET_MAX         1023
#define DOWNLOAD_MAX_S_MAX      864000
#define ID_MAX                  65535
#define OUTBOX_TTL_MAX_S        31536000        /* a year */
#define RETRY_MIN_S_MAX         3600
#define RETRY_MAX_S_MAX         86400

enum section {
        SECTION_NONE,           /* before the first header */
        SECTION_UNKNOWN,        /* under a header already reported as wrong: its keys are skipped */
        SECTION_SERIAL,
        SECTION_MODEM,
        SECTION_LWM2M,
        SECTION_FOTA,
        SECTION_GPIO,
        SECTION_OUTBOX,
};
#define _SECTION_MAX (SECTION_OUTBOX + 1)

static const char *section_to_string(enum section s)
{
        switch (s) {
        case SECTION_NONE:
                return "";
        case SECTION_UNKNOWN:
                return "?";
        case SECTION_SERIAL:
                return "serial";
        case SECTION_MODEM:
                return "modem";
        case SECTION_LWM2M:
                return "lwm2m";
        case SECTION_FOTA:
                return "fota";
        case SECTION_GPIO:
                return "gpio";
        case SECTION_OUTBOX:
                return "outbox";
        }
        return "?";
}

enum key_kind {
        KIND_UINT,              /* decimal in min..max */
        KIND_PROBE,             /* 0 (off) or min..max */
        KIND_BOOL,
        KIND_BAUD,
        KIND_DEVICE,
        KIND_SERVER,
        KIND_ENDPOINT,
        KIND_OBJECTS,
        KIND_CHIP,
        KIND_GPIO_LINE,
        KIND_DOWNLOAD_MAX,      /* range depends on timeout_s: checked after the whole file */
};

enum key_id {
        KEY_DEVICE,
        KEY_BAUDRATE,
        KEY_COMMAND_TIMEOUT_MS,
        KEY_BOOT_TIMEOUT_S,
        KEY_PROBE_INTERVAL_S,
        KEY_FIX_BAUDRATE,
        KEY_SERVER,
        KEY_PORT,
        KEY_ENDPOINT,
        KEY_OBJECTS,
        KEY_CONNECT_TIMEOUT_S,
        KEY_SEND_TIMEOUT_S,
        KEY_SEND_QUEUE,
        KEY_TIMEOUT_S,
        KEY_DOWNLOAD_MAX_S,
        KEY_HISTORY,
        KEY_CHIP,
        KEY_RESET_LINE,
        KEY_PWRKEY_LINE,
        KEY_RESET_ACTIVE_LOW,
        KEY_PWRKEY_ACTIVE_LOW,
        KEY_RESET_PULSE_MS,
        KEY_PWRKEY_PULSE_MS,
        KEY_OUTBOX_ENABLED,
        KEY_OUTBOX_DEFAULT_TTL_S,
        KEY_OUTBOX_MAX_ATTEMPTS,
        KEY_OUTBOX_MAX_MESSAGES,
        KEY_OUTBOX_MAX_BYTES,
        KEY_OUTBOX_MAX_SHARE_PERCENT,
        KEY_OUTBOX_RETRY_MIN_S,
        KEY_OUTBOX_RETRY_MAX_S,
};
#define _KEY_MAX (KEY_OUTBOX_RETRY_MAX_S + 1)

struct key_def {
        enum section section;
        const char *name;
        enum key_kind kind;
        size_t offset, size;    /* the member of struct config it sets */
        unsigned min, max;      /* KIND_UINT (an unsigned or a uint64_t member), KIND_PROBE */
        const char *unit;       /* shown after the range, or NULL */
};

#define FIELD(m) offsetof(struct config, m), sizeof(((struct config *)0)->m)

/* In the order of the shipped bc26d.conf; "unknown key" lists a section's keys in this order. */
static const struct key_def keys[_KEY_MAX] = {
        [KEY_DEVICE] = { SECTION_SERIAL, "device", KIND_DEVICE, FIELD(device), 0, 0, NULL },
        [KEY_BAUDRATE] = { SECTION_SERIAL, "baudrate", KIND_BAUD, FIELD(baudrate), 0, 0, NULL },
        [KEY_COMMAND_TIMEOUT_MS] = { SECTION_MODEM, "command_timeout_ms", KIND_UINT,
                                     FIELD(command_timeout_ms), 100, 60000, "milliseconds" },
        [KEY_BOOT_TIMEOUT_S] = { SECTION_MODEM, "boot_timeout_s", KIND_UINT, FIELD(boot_timeout_s),
                                 1, 120, "seconds" },
        [KEY_PROBE_INTERVAL_S] = { SECTION_MODEM, "probe_interval_s", KIND_PROBE,
                                   FIELD(probe_interval_s), 5, 3600, "seconds" },
        [KEY_FIX_BAUDRATE] = { SECTION_MODEM, "fix_baudrate", KIND_BOOL, FIELD(fix_baudrate), 0, 0,
                               NULL },
        [KEY_SERVER] = { SECTION_LWM2M, "server", KIND_SERVER, FIELD(server), 0, 0, NULL },
        [KEY_PORT] = { SECTION_LWM2M, "port", KIND_UINT, FIELD(port), 1, 65535, NULL },
        [KEY_ENDPOINT] = { SECTION_LWM2M, "endpoint", KIND_ENDPOINT, FIELD(endpoint), 0, 0, NULL },
        [KEY_OBJECTS] = { SECTION_LWM2M, "objects", KIND_OBJECTS, FIELD(objects), 0, 0, NULL },
        [KEY_CONNECT_TIMEOUT_S] = { SECTION_LWM2M, "connect_timeout_s", KIND_UINT,
                                    FIELD(connect_timeout_s), 1, 600, "seconds" },
        [KEY_SEND_TIMEOUT_S] = { SECTION_LWM2M, "send_timeout_s", KIND_UINT, FIELD(send_timeout_s),
                                 1, 600, "seconds" },
        [KEY_SEND_QUEUE] = { SECTION_LWM2M, "send_queue", KIND_UINT, FIELD(send_queue), 1, 256,
                             "messages" },
        [KEY_TIMEOUT_S] = { SECTION_FOTA, "timeout_s", KIND_UINT, FIELD(timeout_s), 1, 86400,
                            "seconds" },
        [KEY_DOWNLOAD_MAX_S] = { SECTION_FOTA, "download_max_s", KIND_DOWNLOAD_MAX,
                                 FIELD(download_max_s), 0, DOWNLOAD_MAX_S_MAX, "seconds" },
        [KEY_HISTORY] = { SECTION_FOTA, "history", KIND_UINT, FIELD(history), 0, HISTORY_LIMIT_MAX,
                          "entries" },
        [KEY_CHIP] = { SECTION_GPIO, "chip", KIND_CHIP, FIELD(gpio_chip), 0, 0, NULL },
        [KEY_RESET_LINE] = { SECTION_GPIO, "reset_line", KIND_GPIO_LINE, FIELD(reset.name), 0, 0,
                             NULL },
        [KEY_PWRKEY_LINE] = { SECTION_GPIO, "pwrkey_line", KIND_GPIO_LINE, FIELD(pwrkey.name), 0, 0,
                              NULL },
        [KEY_RESET_ACTIVE_LOW] = { SECTION_GPIO, "reset_active_low", KIND_BOOL,
                                   FIELD(reset.active_low), 0, 0, NULL },
        [KEY_PWRKEY_ACTIVE_LOW] = { SECTION_GPIO, "pwrkey_active_low", KIND_BOOL,
                                    FIELD(pwrkey.active_low), 0, 0, NULL },
        [KEY_RESET_PULSE_MS] = { SECTION_GPIO, "reset_pulse_ms", KIND_UINT, FIELD(reset.pulse_ms),
                                 50, 5000, "milliseconds" },
        [KEY_PWRKEY_PULSE_MS] = { SECTION_GPIO, "pwrkey_pulse_ms", KIND_UINT,
                                  FIELD(pwrkey.pulse_ms), 500, 5000, "milliseconds" },
        [KEY_OUTBOX_ENABLED] = { SECTION_OUTBOX, "enabled", KIND_BOOL, FIELD(outbox.enabled), 0, 0,
                                 NULL },
        [KEY_OUTBOX_DEFAULT_TTL_S] = { SECTION_OUTBOX, "default_ttl_s", KIND_UINT,
                                       FIELD(outbox.default_ttl_s), 0, OUTBOX_TTL_MAX_S,
                                       "seconds, 0 = no expiry" },
        [KEY_OUTBOX_MAX_ATTEMPTS] = { SECTION_OUTBOX, "max_attempts", KIND_UINT,
                                      FIELD(outbox.max_attempts), 1, 1000, "sends" },
        [KEY_OUTBOX_MAX_MESSAGES] = { SECTION_OUTBOX, "max_messages", KIND_UINT,
                                      FIELD(outbox.max_messages), 1, 16384, "messages" },
        [KEY_OUTBOX_MAX_BYTES] = { SECTION_OUTBOX, "max_bytes", KIND_UINT, FIELD(outbox.max_bytes),
                                   1024, 67108864, "payload bytes" },
        [KEY_OUTBOX_MAX_SHARE_PERCENT] = { SECTION_OUTBOX, "max_share_percent", KIND_UINT,
                                           FIELD(outbox.max_share_percent), 1, 100, "percent" },
        [KEY_OUTBOX_RETRY_MIN_S] = { SECTION_OUTBOX, "retry_min_s", KIND_UINT,
                                     FIELD(outbox.retry_min_s), 1, RETRY_MIN_S_MAX, "seconds" },
        [KEY_OUTBOX_RETRY_MAX_S] = { SECTION_OUTBOX, "retry_max_s", KIND_UINT,
                                     FIELD(outbox.retry_max_s), 1, RETRY_MAX_S_MAX, "seconds" },
};

struct error_entry {
        unsigned line;
        size_t seq;             /* keeps errors of one line in the order they were found */
        char text[CONFIG_ERROR_LEN];
};

struct parse {
        struct config *cfg;
        /* the reader's view of the text */
        const char *text;
        size_t len, pos;
        unsigned line;          /* line last handed to inih: the one its handler calls are about */
        enum section section;
        unsigned section_line[_SECTION_MAX];    /* first header line of each section, 0 = absent */
        unsigned key_line[_KEY_MAX];            /* line that set each key, 0 = not set */
        bool key_bad[_KEY_MAX];                 /* set, but its value was rejected */
        char download_max_text[CONFIG_LINE_MAX + 1];
        /* errors, sorted by line before they are reported */
        struct error_entry *errors;
        size_t n_errors, allocated, dropped;
        bool oom;
};

static void add_error(struct parse *p, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void add_error(struct parse *p, unsigned line, const char *fmt, ...)
{
        struct error_entry *e;
        va_list ap;

        if (p->n_errors >= CONFIG_ERRORS_MAX) {
                p->dropped++;
                return;
        }
        if (p->n_errors == p->allocated) {
                size_t n = p->allocated ? p->allocated * 2 : 8;
                struct error_entry *v;

                if (n > CONFIG_ERRORS_MAX)
                        n = CONFIG_ERRORS_MAX;
                v = realloc(p->errors, n * sizeof(*v));
                if (!v) {
                        p->oom = true;
                        return;
                }
                p->errors = v;
                p->allocated = n;
        }
        e = &p->errors[p->n_errors];
        e->line = line;
        e->seq = p->n_errors;
        va_start(ap, fmt);
        (void) vsnprintf(e->text, sizeof(e->text), fmt, ap);
        va_end(ap);
        p->n_errors++;
}

static int error_cmp(const void *a, const void *b)
{
        const struct error_entry *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_print(char c)
{
        return c >= 0x20 && c <= 0x7e;
}

static char to_lower(char c)
{
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

static bool equal_nocase(const char *a, const char *b)
{
        for (; *a && *b; a++, b++)
                if (to_lower(*a) != to_lower(*b))
                        return false;
        return *a == *b;
}

/* Decimal only: no sign, no spaces, no trailing junk. -EINVAL if not a number, -ERANGE if it
 * does not fit in unsigned. Parses s[0..len). */
static int parse_uint_n(const char *s, size_t len, unsigned *out)
{
        unsigned long long v = 0;

        if (len == 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!is_digit(s[i]))
                        return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                v = v * 10 + (unsigned) (s[i] - '0');
                if (v > UINT_MAX)
                        return -ERANGE;
        }
        *out = (unsigned) v;
        return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
        return parse_uint_n(s, strlen(s), out);
}

static int parse_bool(const char *s, bool *out)
{
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                if (equal_nocase(s, yes[i])) {
                        *out = true;
                        return 0;
                }
                if (equal_nocase(s, no[i])) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Dotted quad, each part 1..3 digits and 0..255. */
static bool valid_ipv4(const char *s)
{
        unsigned parts = 0;

        for (;;) {
                size_t n = 0;
                unsigned v;

                while (is_digit(s[n]))
                        n++;
                if (n == 0 || n > 3 || parse_uint_n(s, n, &v) < 0 || v > 255)
                        return false;
                parts++;
                s += n;
                if (*s == '\0')
                        return parts == 4;
                if (*s != '.' || parts == 4)
                        return false;
                s++;
        }
}

/* Letters, digits and '-' in non-empty dot-separated labels that neither start nor end with '-'. */
static bool valid_host_name(const char *s)
{
        const char *label = s;

        for (;; s++) {
                if (*s == '.' || *s == '\0') {
                        if (s == label || label[0] == '-' || s[-1] == '-')
                                return false;
                        if (*s == '\0')
                                return true;
                        label = s + 1;
                } else if (!is_alpha(*s) && !is_digit(*s) && *s != '-') {
                        return false;
                }
        }
}

/* The table names members by offset; memcpy keeps that free of casts that raise alignment. */
static void store_uint(struct config *cfg, const struct key_def *def, unsigned v)
{
        if (def->size == sizeof(uint64_t)) {
                uint64_t w = v;

                memcpy((char *) cfg + def->offset, &w, sizeof(w));
                return;
        }
        assert(def->size == sizeof(v));
        memcpy((char *) cfg + def->offset, &v, sizeof(v));
}

static void store_bool(struct config *cfg, const struct key_def *def, bool v)
{
        assert(def->size == sizeof(v));
        memcpy((char *) cfg + def->offset, &v, sizeof(v));
}

static void store_string(struct config *cfg, const struct key_def *def, const char *v)
{
        char *dst = (char *) cfg + def->offset;

        (void) snprintf(dst, def->size, "%s", v);
}

static void format_allowed(const struct key_def *def, char *buf, size_t size)
{
        if (def->kind == KIND_PROBE)
                (void) snprintf(buf, size, "0 (off) or %u..%u (%s)", def->min, def->max, def->unit);
        else if (def->unit)
                (void) snprintf(buf, size, "%u..%u (%s)", def->min, def->max, def->unit);
        else
                (void) snprintf(buf, size, "%u..%u", def->min, def->max);
}

static void apply_uint(struct parse *p, const struct key_def *def, const char *label,
                       const char *value)
{
        char allowed[64];
        unsigned v;
        int r;

        format_allowed(def, allowed, sizeof(allowed));
        r = parse_uint(value, &v);
        if (r == -EINVAL) {
                if (*value == '\0')
                        add_error(p, p->line, "%s is empty, allowed %s", label, allowed);
                else
                        add_error(p, p->line, "%s = %s is not a decimal number, allowed %s", label,
                                  value, allowed);
        } else if (r < 0 || v > def->max || (v < def->min && !(def->kind == KIND_PROBE && v == 0))) {
                add_error(p, p->line, "%s = %s is out of range, allowed %s", label, value, allowed);
        } else {
                store_uint(p->cfg, def, v);
                return;
        }
        p->key_bad[def - keys] = true;
}

/* One objects entry, already trimmed: "obj/inst" or "obj/inst/count/ids". Returns false after
 * reporting what is wrong with it. */
static bool parse_object(struct parse *p, const char *label, size_t index, const char *e,
                         struct config_object *o)
{
        const char *field[4];
        size_t flen[4], n = 0;
        const char *s = e;
        unsigned v;

        /* split on '/' into at most 4 fields */
        for (;;) {
                const char *slash = strchr(s, '/');

                if (n == 4) {
                        n = 5;
                        break;
                }
                field[n] = s;
                if (!slash) {
                        flen[n++] = strlen(s);
                        break;
                }
                flen[n++] = (size_t) (slash - s);
                s = slash + 1;
        }
        if (n != 2 && n != 4)
                goto malformed;
        for (size_t i = 0; i < 3 && i < n; i++)
                if (parse_uint_n(field[i], flen[i], &v) == -EINVAL)
                        goto malformed;

        if (parse_uint_n(field[0], flen[0], &v) < 0 || v > ID_MAX) {
                add_error(p, p->line, "%s entry %zu \"%s\": object %.*s is out of range, allowed 0..%u",
                          label, index, e, (int) flen[0], field[0], ID_MAX);
                return false;
        }
        o->obj = v;
        if (parse_uint_n(field[1], flen[1], &v) < 0 || v > ID_MAX) {
                add_error(p, p->line,
                          "%s entry %zu \"%s\": instance %.*s is out of range, allowed 0..%u", label,
                          index, e, (int) flen[1], field[1], ID_MAX);
                return false;
        }
        o->inst = v;
        if (n == 2) {
                /* the guide's form, section 3.2: AT+QLWADDOBJ=19,0,0,"0" */
                o->count = 0;
                (void) snprintf(o->ids, sizeof(o->ids), "0");
                return true;
        }

        /* count 0 with one id is the guide's own form (AT+QLWADDOBJ=19,0,0,"0"). */
        if (parse_uint_n(field[2], flen[2], &v) < 0 || v > CONFIG_OBJECTS_MAX) {
                add_error(p, p->line, "%s entry %zu \"%s\": count %.*s is out of range, allowed 0..%u",
                          label, index, e, (int) flen[2], field[2], CONFIG_OBJECTS_MAX);
                return false;
        }
        o->count = v;

        /* ids: ';'-separated decimals, passed to the module exactly as written (bc26-at.md: the
         * module's separator for several ids is unknown) */
        {
                const char *ids = field[3];
                size_t ids_len = flen[3], n_ids = 0, start = 0;

                for (size_t i = 0; i <= ids_len; i++) {
                        unsigned id;
                        int r;

                        if (i < ids_len && ids[i] != ';')
                                continue;
                        r = parse_uint_n(ids + start, i - start, &id);
                        if (r == -EINVAL)
                                goto malformed;
                        if (r < 0 || id > ID_MAX) {
                                add_error(p, p->line,
                                          "%s entry %zu \"%s\": resource id %.*s is out of range, allowed 0..%u",
                                          label, index, e, (int) (i - start), ids + start, ID_MAX);
                                return false;
                        }
                        n_ids++;
                        start = i + 1;
                }
                if (o->count ? n_ids != o->count : n_ids != 1) {
                        add_error(p, p->line,
                                  "%s entry %zu \"%s\": count %u does not match the %zu resource ids given "
                                  "(count 0 takes exactly one id, as in the guide's 19/0/0/0)",
                                  label, index, e, o->count, n_ids);
                        return false;
                }
                if (ids_len > CONFIG_RES_IDS_MAX) {
                        add_error(p, p->line,
                                  "%s entry %zu \"%s\": resource ids are too long (%zu characters), at most %d",
                                  label, index, e, ids_len, CONFIG_RES_IDS_MAX);
                        return false;
                }
                memcpy(o->ids, ids, ids_len);
                o->ids[ids_len] = '\0';
        }
        return true;

malformed:
        add_error(p, p->line, "%s entry %zu \"%s\" is malformed, allowed %s", label, index, e,
                  OBJECTS_ALLOWED);
        return false;
}

static bool apply_objects(struct parse *p, const char *label, const char *value)
{
        struct config_object tmp[CONFIG_OBJECTS_MAX];
        char entry[CONFIG_LINE_MAX + 1];
        size_t n = 0;
        bool ok = true;
        const char *s = value;

        if (*value == '\0') {
                add_error(p, p->line, "%s is empty, allowed 1..%d entries %s", label,
                          CONFIG_OBJECTS_MAX, OBJECTS_ALLOWED);
                return false;
        }
        /* count first: too many entries is one error, not sixteen good and one bad */
        for (const char *c = value; *c; c++)
                n += *c == ',';
        n++;
        if (n > CONFIG_OBJECTS_MAX) {
                add_error(p, p->line, "%s has %zu entries, allowed 1..%d", label, n,
                          CONFIG_OBJECTS_MAX);
                return false;
        }

        for (size_t i = 0; i < n; i++) {
                const char *comma = strchr(s, ',');
                size_t len = comma ? (size_t) (comma - s) : strlen(s);

                /* spaces around entries are allowed */
                while (len > 0 && is_space(*s)) {
                        s++;
                        len--;
                }
                while (len > 0 && is_space(s[len - 1]))
                        len--;
                if (len >= sizeof(entry))
                        len = sizeof(entry) - 1;        /* cannot happen: value < line */
                memcpy(entry, s, len);
                entry[len] = '\0';

                if (len == 0) {
                        add_error(p, p->line, "%s entry %zu is empty, allowed %s", label, i + 1,
                                  OBJECTS_ALLOWED);
                        ok = false;
                } else if (!parse_object(p, label, i + 1, entry, &tmp[i])) {
                        ok = false;
                }
                if (comma)
                        s = comma + 1;
        }
        if (!ok)
                return false;
        memcpy(p->cfg->objects, tmp, n * sizeof(tmp[0]));
        p->cfg->n_objects = n;
        return true;
}

static bool apply_gpio_line(struct parse *p, const struct key_def *def, const char *label,
                            const char *value)
{
        size_t len = strlen(value);
        unsigned v;
        int r;

        if (len == 0)           /* same as not set */
                return true;
        r = parse_uint(value, &v);
        if (r == 0 || r == -ERANGE) {
                if (r < 0 || v > GPIO_OFFSET_MAX) {
                        add_error(p, p->line, "%s = %s is out of range, allowed %s", label, value,
                                  GPIO_LINE_ALLOWED);
                        return false;
                }
        } else {
                for (size_t i = 0; i < len; i++) {
                        if (!is_print(value[i]) || value[i] == ' ') {
                                add_error(p, p->line, "%s = %s is not a valid line, allowed %s",
                                          label, value, GPIO_LINE_ALLOWED);
                                return false;
                        }
                }
                if (len > 63) {
                        add_error(p, p->line, "%s = %s is too long (%zu characters), allowed %s",
                                  label, value, len, GPIO_LINE_ALLOWED);
                        return false;
                }
        }
        store_string(p->cfg, def, value);
        return true;
}

static bool apply_value(struct parse *p, enum key_id id, const char *value)
{
        const struct key_def *def = &keys[id];
        char label[64];
        size_t len = strlen(value);
        bool b;

        (void) snprintf(label, sizeof(label), "[%s] %s", section_to_string(def->section), def->name);

        switch (def->kind) {
        case KIND_UINT:
        case KIND_PROBE:
                apply_uint(p, def, label, value);
                return !p->key_bad[id];
        case KIND_BOOL:
                if (parse_bool(value, &b) < 0) {
                        if (len == 0)
                                add_error(p, p->line, "%s is empty, allowed %s", label, BOOL_ALLOWED);
                        else
                                add_error(p, p->line, "%s = %s is not a boolean, allowed %s", label,
                                          value, BOOL_ALLOWED);
                        return false;
                }
                store_bool(p->cfg, def, b);
                return true;
        case KIND_BAUD: {
                /* the rates the module can auto-detect (AT+IPR=? first list, bc26-at.md) */
                unsigned v;

                if (parse_uint(value, &v) < 0 || (v != 4800 && v != 9600 && v != 115200)) {
                        add_error(p, p->line, "%s = %s is not a supported rate, allowed %s", label,
                                  value, BAUD_ALLOWED);
                        return false;
                }
                store_uint(p->cfg, def, v);
                return true;
        }
        case KIND_DEVICE:
                if (len == 0) {
                        add_error(p, p->line, "%s is empty; %s", label, DEVICE_HINT);
                        return false;
                }
                if (value[0] != '/') {
                        add_error(p, p->line,
                                  "%s = %s is not an absolute path, allowed a path starting with '/', e.g. /dev/serial0",
                                  label, value);
                        return false;
                }
                if (len >= def->size) {
                        add_error(p, p->line, "%s is too long (%zu characters), at most %zu", label,
                                  len, def->size - 1);
                        return false;
                }
                store_string(p->cfg, def, value);
                return true;
        case KIND_SERVER: {
                bool dotted = len > 0;

                if (len == 0) {
                        add_error(p, p->line, "%s is empty, allowed an IPv4 address or a host name",
                                  label);
                        return false;
                }
                if (len > CONFIG_SERVER_MAX) {
                        add_error(p, p->line,
                                  "%s = %s is too long (%zu characters), allowed at most %d", label,
                                  value, len, CONFIG_SERVER_MAX);
                        return false;
                }
                for (size_t i = 0; i < len; i++)
                        dotted = dotted && (is_digit(value[i]) || value[i] == '.');
                /* only digits and dots: meant as an address, so it must be one */
                if (dotted && !valid_ipv4(value)) {
                        add_error(p, p->line,
                                  "%s = %s is not a valid IPv4 address, allowed a.b.c.d with each part 0..255",
                                  label, value);
                        return false;
                }
                if (!dotted && !valid_host_name(value)) {
                        add_error(p, p->line, "%s = %s is not a valid host name, allowed %s", label,
                                  value, SERVER_NAME_ALLOWED);
                        return false;
                }
                store_string(p->cfg, def, value);
                return true;
        }
        case KIND_ENDPOINT:
                /* sent quoted in AT+QLWCONF, so a '"' would end the string early */
                if (len > CONFIG_ENDPOINT_MAX) {
                        add_error(p, p->line, "%s is too long (%zu characters), allowed %s", label,
                                  len, ENDPOINT_ALLOWED);
                        return false;
                }
                for (size_t i = 0; i < len; i++) {
                        if (value[i] == '"') {
                                add_error(p, p->line, "%s = %s contains '\"', allowed %s", label,
                                          value, ENDPOINT_ALLOWED);
                                return false;
                        }
                        if (!is_print(value[i])) {
                                add_error(p, p->line,
                                          "%s contains a non-printable character, allowed %s", label,
                                          ENDPOINT_ALLOWED);
                                return false;
                        }
                }
                store_string(p->cfg, def, value);
                return true;
        case KIND_OBJECTS:
                return apply_objects(p, label, value);
        case KIND_CHIP:
                for (size_t i = 0; i < len; i++) {
                        if (!is_print(value[i])) {
                                add_error(p, p->line,
                                          "%s contains a non-printable character, allowed 1..255 printable characters",
                                          label);
                                return false;
                        }
                }
                if (len >= def->size) {
                        add_error(p, p->line,
                                  "%s is too long (%zu characters), allowed 1..255 printable characters",
                                  label, len);
                        return false;
                }
                store_string(p->cfg, def, value);
                return true;
        case KIND_GPIO_LINE:
                return apply_gpio_line(p, def, label, value);
        case KIND_DOWNLOAD_MAX: {
                unsigned v;
                int r = parse_uint(value, &v);

                if (r == -EINVAL) {
                        if (len == 0)
                                add_error(p, p->line,
                                          "%s is empty, allowed [fota] timeout_s..%u (seconds)", label,
                                          DOWNLOAD_MAX_S_MAX);
                        else
                                add_error(p, p->line,
                                          "%s = %s is not a decimal number, allowed [fota] timeout_s..%u (seconds)",
                                          label, value, DOWNLOAD_MAX_S_MAX);
                        return false;
                }
                /* the range depends on timeout_s, which may come later: checked at the end */
                store_uint(p->cfg, def, r < 0 ? UINT_MAX : v);
                (void) snprintf(p->download_max_text, sizeof(p->download_max_text), "%s", value);
                return true;
        }
        }
        return false;
}

static void list_section_keys(enum section s, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < _KEY_MAX && used < size; i++) {
                int n;

                if (keys[i].section != s)
                        continue;
                n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", keys[i].name);
                if (n < 0)
                        return;
                used += (size_t) n;
        }
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
        struct parse *p = user;
        char allowed[256];
        size_t i;

        (void) section;         /* the reader tracks sections itself, with their line numbers */
        switch (p->section) {
        case SECTION_NONE:
                add_error(p, p->line,
                          "key \"%s\" is outside any section, allowed only after [serial], [modem], [lwm2m], [fota], [gpio] or [outbox]",
                          name);
                return 1;
        case SECTION_UNKNOWN:
                return 1;       /* the header was reported; one error is enough */
        case SECTION_SERIAL:
        case SECTION_MODEM:
        case SECTION_LWM2M:
        case SECTION_FOTA:
        case SECTION_GPIO:
        case SECTION_OUTBOX:
                break;
        }

        for (i = 0; i < _KEY_MAX; i++)
                if (keys[i].section == p->section && strcmp(keys[i].name, name) == 0)
                        break;
        if (i == _KEY_MAX) {
                list_section_keys(p->section, allowed, sizeof(allowed));
                add_error(p, p->line, "unknown key \"%s\" in [%s], allowed %s", name,
                          section_to_string(p->section), allowed);
                return 1;
        }
        if (p->key_line[i]) {
                add_error(p, p->line, "[%s] %s is set again (first set on line %u), set each key once",
                          section_to_string(keys[i].section), keys[i].name, p->key_line[i]);
                return 1;
        }
        p->key_line[i] = p->line;
        p->key_bad[i] = !apply_value(p, (enum key_id) i, value);
        return 1;               /* errors are collected, never a reason for inih to stop */
}

static enum section section_from_name(const char *s, size_t len)
{
        static const enum section known[] = {
                SECTION_SERIAL, SECTION_MODEM, SECTION_LWM2M, SECTION_FOTA, SECTION_GPIO,
                SECTION_OUTBOX,
        };

        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
                const char *n = section_to_string(known[i]);

                if (strlen(n) == len && memcmp(n, s, len) == 0)
                        return known[i];
        }
        return SECTION_UNKNOWN;
}

/* Look at one line (without its line end) the way inih will, so that what inih would reject or
 * misread is reported here with its line number. Returns the text to give inih: the line itself
 * with leading blanks removed (so inih never takes it for a multi-line continuation), or "" for
 * lines inih must not see. */
static const char *classify_line(struct parse *p, const char *s, size_t len, char *out, size_t size)
{
        size_t i = 0;

        if (memchr(s, '\0', len)) {
                add_error(p, p->line, "line contains a NUL byte, allowed only text");
                return "";
        }
        while (i < len && is_space(s[i]))
                i++;
        s += i;
        len -= i;
        if (len == 0 || s[0] == ';' || s[0] == '#')
                return "";

        if (s[0] == '[') {
                const char *close = memchr(s, ']', len);
                const char *name = s + 1;
                size_t name_len, rest;
                enum section sec;

                if (!close) {
                        add_error(p, p->line, "malformed section header \"%.*s\", expected \"[name]\"",
                                  (int) len, s);
                        p->section = SECTION_UNKNOWN;
                        return "";
                }
                rest = (size_t) (close + 1 - s);
                while (rest < len && is_space(s[rest]))
                        rest++;
                if (rest < len && s[rest] != ';' && s[rest] != '#') {
                        add_error(p, p->line, "malformed section header \"%.*s\", expected \"[name]\"",
                                  (int) len, s);
                        p->section = SECTION_UNKNOWN;
                        return "";
                }
                name_len = (size_t) (close - name);
                while (name_len > 0 && is_space(*name)) {
                        name++;
                        name_len--;
                }
                while (name_len > 0 && is_space(name[name_len - 1]))
                        name_len--;
                sec = section_from_name(name, name_len);
                if (sec == SECTION_UNKNOWN)
                        add_error(p, p->line,
                                  "unknown section [%.*s], allowed [serial], [modem], [lwm2m], [fota], [gpio] or [outbox]",
                                  (int) name_len, name);
                else if (!p->section_line[sec])
                        p->section_line[sec] = p->line;
                p->section = sec;
                (void) snprintf(out, size, "[%s]\n", section_to_string(sec));
                return out;
        }

        /* inih splits at the first '=' or ':', and stops at an inline comment (" ;") */
        for (i = 0; i < len; i++) {
                if (s[i] == ':' || (s[i] == ';' && i > 0 && is_space(s[i - 1])))
                        break;
                if (s[i] == '=') {
                        size_t n = i;

                        while (n > 0 && is_space(s[n - 1]))
                                n--;
                        if (n == 0)
                                break;
                        (void) snprintf(out, size, "%.*s\n", (int) len, s);
                        return out;
                }
        }
        add_error(p, p->line, "malformed line \"%.*s\", expected \"key = value\", \"[section]\" or a comment",
                  (int) len, s);
        return "";
}

/* inih's fgets-style reader over the in-memory text. It numbers the lines itself because
 * Debian's inih passes no line number to the handler (INI_HANDLER_LINENO=0), and it keeps
 * over-long lines away from inih, which would silently cut them at num - 1 bytes. */
static char *reader(char *str, int num, void *stream)
{
        struct parse *p = stream;
        const char *start, *nl;
        const char *give;
        size_t len, max = CONFIG_LINE_MAX;
        char line[CONFIG_LINE_MAX + 2];

        if (p->pos >= p->len || num < 2)
                return NULL;
        start = p->text + p->pos;
        nl = memchr(start, '\n', p->len - p->pos);
        len = nl ? (size_t) (nl - start) : p->len - p->pos;
        p->pos += len + (nl ? 1 : 0);
        p->line++;
        if (len > 0 && start[len - 1] == '\r')
                len--;
        if (p->line == 1 && len >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
                start += 3;     /* UTF-8 BOM */
                len -= 3;
        }

        /* inih needs room for the line, its '\n' and the NUL */
        if ((size_t) num - 2 < max)
                max = (size_t) num - 2;
        if (len > max) {
                add_error(p, p->line, "line too long (%zu characters), at most %zu characters", len,
                          max);
                give = "";
        } else {
                give = classify_line(p, start, len, line, sizeof(line));
        }
        (void) snprintf(str, (size_t) num, "%s", *give ? give : "\n");
        return str;
}

void config_init_defaults(struct config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        cfg->baudrate = 115200;
        cfg->command_timeout_ms = 2000;
        cfg->boot_timeout_s = 10;
        cfg->probe_interval_s = 60;
        cfg->fix_baudrate = true;
        (void) snprintf(cfg->server, sizeof(cfg->server), "180.101.147.115");
        cfg->port = 5683;
        /* the guide's transcript (section 3.2) adds 19/0 (uplink) and 19/1 (downlink) */
        cfg->objects[0] = (struct config_object) { .obj = 19, .inst = 0, .count = 0, .ids = "0" };
        cfg->objects[1] = (struct config_object) { .obj = 19, .inst = 1, .count = 0, .ids = "0" };
        cfg->n_objects = 2;
        cfg->connect_timeout_s = 150;
        cfg->send_timeout_s = 150;
        cfg->send_queue = 32;
        cfg->timeout_s = 2100;
        cfg->download_max_s = 2 * cfg->timeout_s;
        cfg->history = 32;
        cfg->reset.pulse_ms = 100;
        cfg->pwrkey.pulse_ms = 600;
        cfg->outbox.enabled = true;
        cfg->outbox.default_ttl_s = 0;
        cfg->outbox.max_attempts = 10;
        cfg->outbox.max_messages = 1024;
        cfg->outbox.max_bytes = 262144;
        cfg->outbox.max_share_percent = 50;
        cfg->outbox.retry_min_s = 2;
        cfg->outbox.retry_max_s = 300;
}

/* [outbox] retry_max_s >= retry_min_s. Reported on the line of the key that breaks it: the later
 * of the two when both are set, naming the other's line; else the one set, naming the other's
 * default. Not checked when either value was rejected on its own line. */
static void check_retry(struct parse *p)
{
        const struct config_outbox *o = &p->cfg->outbox;
        unsigned min_line = p->key_line[KEY_OUTBOX_RETRY_MIN_S];
        unsigned max_line = p->key_line[KEY_OUTBOX_RETRY_MAX_S];

        if (p->key_bad[KEY_OUTBOX_RETRY_MIN_S] || p->key_bad[KEY_OUTBOX_RETRY_MAX_S] ||
            o->retry_max_s >= o->retry_min_s)
                return;
        if (min_line && max_line) {
                if (max_line > min_line)
                        add_error(p, max_line,
                                  "[outbox] retry_max_s = %u is less than [outbox] retry_min_s = %u (line %u), "
                                  "allowed %u..%u (seconds)", o->retry_max_s, o->retry_min_s, min_line,
                                  o->retry_min_s, RETRY_MAX_S_MAX);
                else
                        add_error(p, min_line,
                                  "[outbox] retry_min_s = %u is greater than [outbox] retry_max_s = %u (line %u), "
                                  "allowed 1..%u (seconds)", o->retry_min_s, o->retry_max_s, max_line,
                                  o->retry_max_s);
        } else if (max_line) {
                add_error(p, max_line,
                          "[outbox] retry_max_s = %u is less than [outbox] retry_min_s = %u (its default), "
                          "allowed %u..%u (seconds)", o->retry_max_s, o->retry_min_s, o->retry_min_s,
                          RETRY_MAX_S_MAX);
        } else {
                add_error(p, min_line,
                          "[outbox] retry_min_s = %u is greater than [outbox] retry_max_s = %u (its default), "
                          "allowed 1..%u (seconds), or raise retry_max_s", o->retry_min_s, o->retry_max_s,
                          o->retry_max_s);
        }
}

/* Checks that need the whole file: required keys and keys that depend on each other. */
static void check_whole(struct parse *p, unsigned last_line)
{
        struct config *cfg = p->cfg;

        if (!p->key_line[KEY_DEVICE])
                add_error(p, p->section_line[SECTION_SERIAL] ? p->section_line[SECTION_SERIAL] : last_line,
                          "[serial] device is missing; %s", DEVICE_HINT);

        if (!p->key_line[KEY_DOWNLOAD_MAX_S]) {
                cfg->download_max_s = 2 * cfg->timeout_s;
        } else if (!p->key_bad[KEY_DOWNLOAD_MAX_S]) {
                unsigned line = p->key_line[KEY_DOWNLOAD_MAX_S];

                if (cfg->download_max_s > DOWNLOAD_MAX_S_MAX)
                        add_error(p, line, "[fota] download_max_s = %s is out of range, allowed %u..%u (seconds)",
                                  p->download_max_text, cfg->timeout_s, DOWNLOAD_MAX_S_MAX);
                else if (!p->key_bad[KEY_TIMEOUT_S] && cfg->download_max_s < cfg->timeout_s)
                        add_error(p, line,
                                  "[fota] download_max_s = %s is less than [fota] timeout_s = %u, allowed %u..%u (seconds)",
                                  p->download_max_text, cfg->timeout_s, cfg->timeout_s,
                                  DOWNLOAD_MAX_S_MAX);
        }

        check_retry(p);

        if (cfg->gpio_chip[0] == '\0') {
                if (cfg->reset.name[0])
                        add_error(p, p->key_line[KEY_RESET_LINE],
                                  "[gpio] chip is required when reset_line/pwrkey_line is set");
                if (cfg->pwrkey.name[0])
                        add_error(p, p->key_line[KEY_PWRKEY_LINE],
                                  "[gpio] chip is required when reset_line/pwrkey_line is set");
        }
}

int config_parse_text(struct config *cfg, const char *name, const char *text, size_t len,
                      config_error_t err, void *userdata)
{
        struct parse *p;
        unsigned last_line;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        config_init_defaults(cfg);
        p->cfg = cfg;
        p->text = text;
        p->len = len;
        p->section = SECTION_NONE;

        r = ini_parse_stream(reader, p, handler, p);
        if (r == -2) {
                r = -ENOMEM;
                goto out;
        }
        /* every line inih can object to was vetted by the reader; if it still complains, say so
         * rather than accept a file we do not understand */
        if (r > 0) {
                bool known = false;

                for (size_t i = 0; i < p->n_errors; i++)
                        known = known || p->errors[i].line == (unsigned) r;
                if (!known)
                        add_error(p, (unsigned) r, "malformed line, expected \"key = value\", \"[section]\" or a comment");
        }
        last_line = p->line ? p->line : 1;
        check_whole(p, last_line);
        if (p->oom) {
                r = -ENOMEM;
                goto out;
        }

        if (p->n_errors > 0)
                qsort(p->errors, p->n_errors, sizeof(p->errors[0]), error_cmp);
        if (err) {
                char msg[CONFIG_ERROR_LEN + 4200];

                for (size_t i = 0; i < p->n_errors; i++) {
                        (void) snprintf(msg, sizeof(msg), "%s:%u: %s", name, p->errors[i].line,
                                        p->errors[i].text);
                        err(userdata, msg);
                }
                if (p->dropped) {
                        (void) snprintf(msg, sizeof(msg), "%s: %zu more errors not shown", name,
                                        p->dropped);
                        err(userdata, msg);
                }
        }
        r = p->n_errors || p->dropped ? -EINVAL : 0;
out:
        free(p->errors);
        free(p);
        return r;
}

int config_load(struct config *cfg, const char *path, config_error_t err, void *userdata)
{
        char msg[4300];
        char *buf;
        size_t len;
        FILE *f;
        int r;

        errno = 0;
        f = fopen(path, "rb");
        if (!f) {
                r = errno ? -errno : -EIO;
                goto fail;
        }
        buf = malloc(CONFIG_FILE_MAX + 1);
        if (!buf) {
                (void) fclose(f);
                return -ENOMEM;
        }
        errno = 0;
        len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
        if (ferror(f)) {
                r = errno ? -errno : -EIO;
                free(buf);
                (void) fclose(f);
                goto fail;
        }
        (void) fclose(f);
        if (len > CONFIG_FILE_MAX) {
                free(buf);
                config_init_defaults(cfg);
                if (err) {
                        (void) snprintf(msg, sizeof(msg), "%s: too large, at most %d bytes", path,
                                        CONFIG_FILE_MAX);
                        err(userdata, msg);
                }
                return -EFBIG;
        }
        r = config_parse_text(cfg, path, buf, len, err, userdata);
        free(buf);
        return r;

fail:
        config_init_defaults(cfg);
        if (err) {
                (void) snprintf(msg, sizeof(msg), "%s: cannot read: %s", path, strerror(-r));
                err(userdata, msg);
        }
        return r;
}

int config_object_command(const struct config_object *o, char *buf, size_t size)
{
        int n;

        /* AT+QLWADDOBJ=<obj_id>,<ins_id>,<res_num>,"<res_id>" (bc26-at.md, LWM2M 3.3) */
        n = snprintf(buf, size, "AT+QLWADDOBJ=%u,%u,%u,\"%s\"", o->obj, o->inst, o->count, o->ids);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENOSPC;
        return 0;
}
