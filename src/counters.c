/* counters.c - the event counters: their contract names, the result/cause mappings, the strict
 * checksummed text form, and the load/save edge over durable.c. Pure apart from the two edge
 * functions; nothing here logs. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "durable.h"

#define COUNTERS_MAGIC          "bc26d-counters 1"
#define CRC_HEX_LEN             8

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
                n = snprintf(buf + used, size - used, "%08" PRIx32 " %s\n",
                             durable_crc32(body, (size_t) m), body);
                if (n < 0)
                        return -EINVAL;
                if ((size_t) n >= size - used)
                        return -ENOSPC;
                used += (size_t) n;
        }
        return used > INT_MAX ? -ENOSPC : (int) used;
}

static int fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_size, const char *fmt, ...)
{
        va_list ap;

        if (why && why_size > 0) {
                va_start(ap, fmt);
                (void) vsnprintf(why, why_size, fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

/* Plain decimal only: no sign, blanks, or leading zeros. */
static int parse_u64(const char *s, uint64_t *out)
{
        uint64_t v = 0;

        if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *out = v;
        return 0;
}

static bool name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* One record ("<crc> name=value", NUL-terminated, length n) into c; seen tracks known names. */
static int decode_record(char *line, size_t n, struct counters *c, bool seen[_COUNTER_MAX],
                         unsigned lineno, char *why, size_t why_size)
{
        uint32_t crc = 0;
        char *name, *eq;
        uint64_t v;
        unsigned i;

        if (n < CRC_HEX_LEN + 1 || line[CRC_HEX_LEN] != ' ')
                return fail(why, why_size, "line %u: no checksum", lineno);
        for (size_t k = 0; k < CRC_HEX_LEN; k++) {
                if (!is_hex(line[k]))
                        return fail(why, why_size, "line %u: no checksum", lineno);
                crc = crc << 4 | (uint32_t) (line[k] <= '9' ? line[k] - '0' : line[k] - 'a' + 10);
        }
        name = line + CRC_HEX_LEN + 1;
        if (durable_crc32(name, n - CRC_HEX_LEN - 1) != crc)
                return fail(why, why_size, "line %u: checksum mismatch (record damaged or edited)",
                            lineno);
        eq = strchr(name, '=');
        if (!eq || eq == name)
                return fail(why, why_size, "line %u: expected name=value", lineno);
        *eq = '\0';
        for (const char *p = name; *p; p++)
                if (!name_char(*p))
                        return fail(why, why_size, "line %u: bad counter name \"%.40s\"", lineno, name);
        if (parse_u64(eq + 1, &v) < 0)
                return fail(why, why_size, "line %u: %s: bad number \"%.40s\"", lineno, name, eq + 1);
        for (i = 0; i < _COUNTER_MAX; i++)
                if (strcmp(name, names[i]) == 0)
                        break;
        if (i == _COUNTER_MAX)
                return 0;       /* a counter of a newer bc26d: skipped */
        if (seen[i])
                return fail(why, why_size, "line %u: duplicate counter \"%s\"", lineno, name);
        seen[i] = true;
        c->v[i] = v;
        return 0;
}

static int decode(struct counters *c, const char *text, size_t len, char *why, size_t why_size)
{
        bool seen[_COUNTER_MAX] = { false };
        char line[COUNTERS_LINE_MAX + 1];
        size_t pos = 0, count = 0, records = 0;
        unsigned lineno = 0;

        if (len == 0)
                return fail(why, why_size, "empty file");
        if (len > COUNTERS_FILE_MAX)
                return fail(why, why_size, "file larger than %d bytes", COUNTERS_FILE_MAX);
        if (memchr(text, '\0', len))
                return fail(why, why_size, "NUL byte in file");

        while (pos < len) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t n;
                int r;

                lineno++;
                if (!nl)
                        return fail(why, why_size, "line %u: truncated (no newline at end of file)",
                                    lineno);
                n = (size_t) (nl - (text + pos));
                if (n >= COUNTERS_LINE_MAX)
                        return fail(why, why_size, "line %u: longer than %d characters", lineno,
                                    COUNTERS_LINE_MAX - 1);
                memcpy(line, text + pos, n);
                line[n] = '\0';
                pos += n + 1;

                if (lineno == 1) {
                        uint64_t v;

                        if (strncmp(line, COUNTERS_MAGIC " ", strlen(COUNTERS_MAGIC " ")) != 0 ||
                            parse_u64(line + strlen(COUNTERS_MAGIC " "), &v) < 0 ||
                            v > COUNTERS_RECORDS_MAX)
                                return fail(why, why_size,
                                            "line 1: not \"" COUNTERS_MAGIC " <records>\" with 0..%d records",
                                            COUNTERS_RECORDS_MAX);
                        count = (size_t) v;
                        continue;
                }
                if (records == count)
                        return fail(why, why_size, "line %u: more records than the %zu the header says",
                                    lineno, count);
                r = decode_record(line, n, c, seen, lineno, why, why_size);
                if (r < 0)
                        return r;
                records++;
        }
        if (records != count)
                return fail(why, why_size, "truncated: %zu of %zu records", records, count);
        return 0;
}

int counters_decode(struct counters *c, const char *text, size_t len, char *why, size_t why_size)
{
        int r;

        memset(c, 0, sizeof(*c));
        r = decode(c, text, len, why, why_size);
        if (r < 0)
                memset(c, 0, sizeof(*c));
        return r;
}

/* ---- the file -------------------------------------------------------------------------------- */

int counters_load(struct counters *c, const char *dir, char *why, size_t why_size)
{
        char reason[192], aside[PATH_MAX];
        struct timespec ts;
        char *buf = NULL;
        size_t len = 0;
        int r;

        memset(c, 0, sizeof(*c));
        r = durable_read(dir, COUNTERS_FILE_NAME, COUNTERS_FILE_MAX, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r == -EFBIG) {
                (void) snprintf(reason, sizeof(reason), "file larger than %d bytes", COUNTERS_FILE_MAX);
        } else if (r < 0) {
                if (why && why_size > 0)
                        (void) snprintf(why, why_size, "%s/%s: cannot read: %s", dir,
                                        COUNTERS_FILE_NAME, strerror(-r));
                return r;
        } else {
                r = counters_decode(c, buf, len, reason, sizeof(reason));
                free(buf);
                if (r != -EBADMSG)
                        return r;
        }

        /* Keep the evidence for a human; count again from zero. */
        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                ts.tv_sec = 0;
        r = durable_move_aside(dir, COUNTERS_FILE_NAME, (uint64_t) ts.tv_sec * 1000000, aside,
                               sizeof(aside));
        if (r < 0)
                return fail(why, why_size, "%s/%s: %s; could not move it aside: %s", dir,
                            COUNTERS_FILE_NAME, reason, strerror(-r));
        return fail(why, why_size, "%s/%s: %s; moved aside to %s", dir, COUNTERS_FILE_NAME, reason,
                    aside);
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
