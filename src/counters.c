/* counters.c - the event counters: their contract names, the result/cause mappings, the strict
 * checksummed text form, and the load/save edge over durable.c. Pure apart from the two edge
 * functions; nothing here logs. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "durable.h"

#define COUNTERS_MAGIC          "bc26d-counters 1"

_Static_assert(COUNTERS_LINE_MAX <= DURABLE_RECORD_LINE_MAX, "a record line fits durable.c's buffer");

static const char *const names[_COUNTER_MAX] = {
        [COUNTER_UPGRADES_SUCCESS] = "upgrades.success",
        [COUNTER_UPGRADES_DOWNLOAD_FAILED] = "upgrades.download-failed",
        [COUNTER_UPGRADES_UPDATE_FAILED] = "upgrades.update-failed",
        [COUNTER_UPGRADES_TIMEOUT] = "upgrades.timeout",
        [COUNTER_UPGRADES_UNKNOWN] = "upgrades.unknown",
        [COUNTER_REBOOTS_AT_RESET] = "module_reboots.at-reset",
        [COUNTER_REBOOTS_GPIO_RESET] = "module_reboots.gpio-reset",
        [COUNTER_REBOOTS_PWRKEY] = "module_reboots.pwrkey",
        [COUNTER_REBOOTS_UPGRADE] = "module_reboots.upgrade",
        [COUNTER_REBOOTS_UNEXPECTED] = "module_reboots.unexpected",
        [COUNTER_SEND_OK] = "send.ok",
        [COUNTER_SEND_FAILED] = "send.failed",
        [COUNTER_SEND_REFUSED] = "send.refused",
};

const char *counter_name(enum counter_id id)
{
        return (unsigned) id < _COUNTER_MAX ? names[id] : NULL;
}

/* The counter named prefix + s, among first..last; -EINVAL if none. */
static int lookup(const char *prefix, const char *s, enum counter_id first, enum counter_id last)
{
        size_t n = strlen(prefix);

        if (!s)
                return -EINVAL;
        for (unsigned i = first; i <= last; i++)
                if (strncmp(names[i], prefix, n) == 0 && strcmp(names[i] + n, s) == 0)
                        return (int) i;
        return -EINVAL;
}

int counter_from_upgrade_result(const char *result)
{
        return lookup("upgrades.", result, COUNTER_UPGRADES_SUCCESS, COUNTER_UPGRADES_UNKNOWN);
}

int counter_from_reboot_cause(const char *cause)
{
        return lookup("module_reboots.", cause, COUNTER_REBOOTS_AT_RESET, COUNTER_REBOOTS_UNEXPECTED);
}

/* ---- text form ------------------------------------------------------------------------------- */

int counters_encode(const struct counters *c, char *buf, size_t size)
{
        size_t used;
        int n;

        n = snprintf(buf, size, COUNTERS_MAGIC " %d\n", _COUNTER_MAX);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENOSPC;
        used = (size_t) n;
        for (unsigned i = 0; i < _COUNTER_MAX; i++) {
                char body[COUNTERS_LINE_MAX];
                int m;

                m = snprintf(body, sizeof(body), "%s=%" PRIu64, names[i], c->v[i]);
                if (m < 0)
                        return -EINVAL;
                n = durable_record_encode(buf + used, size - used, body, (size_t) m);
                if (n < 0)
                        return n;
                used += (size_t) n;
        }
        return used > INT_MAX ? -ENOSPC : (int) used;
}

static bool name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

struct decode_state {
        struct counters *c;
        bool seen[_COUNTER_MAX];        /* the names this version knows, seen once at most */
};

/* One record's body ("name=value", NUL-terminated, writable) into d->c. */
static int decode_line(void *ctx, char *name, unsigned lineno, char *why, size_t why_size)
{
        struct decode_state *d = ctx;
        char *eq;
        uint64_t v;
        unsigned i;

        eq = strchr(name, '=');
        if (!eq || eq == name)
                return durable_fail(why, why_size, "line %u: expected name=value", lineno);
        *eq = '\0';
        for (const char *p = name; *p; p++)
                if (!name_char(*p))
                        return durable_fail(why, why_size, "line %u: bad counter name \"%.40s\"", lineno, name);
        if (durable_parse_u64(eq + 1, UINT64_MAX, &v) < 0)
                return durable_fail(why, why_size, "line %u: %s: bad number \"%.40s\"", lineno, name, eq + 1);
        for (i = 0; i < _COUNTER_MAX; i++)
                if (strcmp(name, names[i]) == 0)
                        break;
        if (i == _COUNTER_MAX)
                return 0;       /* a counter of a newer bc26d: skipped */
        if (d->seen[i])
                return durable_fail(why, why_size, "line %u: duplicate counter \"%s\"", lineno, name);
        d->seen[i] = true;
        d->c->v[i] = v;
        return 0;
}

int counters_decode(struct counters *c, const char *text, size_t len, char *why, size_t why_size)
{
        struct decode_state d = { .c = c };
        int r;

        memset(c, 0, sizeof(*c));
        r = durable_decode_records(text, len, COUNTERS_FILE_MAX, COUNTERS_MAGIC, COUNTERS_RECORDS_MAX,
                                   COUNTERS_LINE_MAX, decode_line, &d, why, why_size);
        if (r < 0)
                memset(c, 0, sizeof(*c));
        return r;
}

/* ---- the file -------------------------------------------------------------------------------- */

static int decode_cb(void *ctx, const char *text, size_t len, char *why, size_t why_size)
{
        return counters_decode(ctx, text, len, why, why_size);
}

int counters_load(struct counters *c, const char *dir, char *why, size_t why_size)
{
        int r;

        memset(c, 0, sizeof(*c));
        /* A corrupt file is moved aside: count again from zero. */
        r = durable_load_checked(dir, COUNTERS_FILE_NAME, COUNTERS_FILE_MAX, decode_cb, c, why, why_size);
        return r == -ENOENT ? 0 : r;
}

int counters_save(const struct counters *c, const char *dir)
{
        char buf[64 + _COUNTER_MAX * COUNTERS_LINE_MAX];
        int n;

        n = counters_encode(c, buf, sizeof(buf));
        if (n < 0)
                return n;
        return durable_write(dir, COUNTERS_FILE_NAME, buf, (size_t) n);
}
