/* history.c - the upgrade history: a ring of the newest entries updated by pure calls, its strict
 * checksummed text form, and the load/save edge over durable.c. Nothing here reads the clock
 * (except the move-aside name in history_load) or logs: the manager does, with the why text. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "durable.h"
#include "history.h"

#define HISTORY_MAGIC           "bc26d-history 1"
#define CRC_HEX_LEN             8

struct history {
        unsigned limit;
        size_t n;                       /* entries kept, 0..limit */
        size_t head;                    /* index of the oldest entry in e[] */
        struct history_entry e[];       /* limit entries, a ring */
};

enum field {
        F_STARTED,
        F_FINISHED,
        F_RESULT,
        F_CODE,
        F_REVISION_BEFORE,
        F_REVISION_AFTER,
        F_RESETS,
        F_MAX_PROGRESS,
        F_INTERRUPTED,
        _F_MAX,
};

/* The D-Bus keys of GetHistory, in the order they are written. */
static const char *const field_names[_F_MAX] = {
        [F_STARTED] = "started",
        [F_FINISHED] = "finished",
        [F_RESULT] = "result",
        [F_CODE] = "code",
        [F_REVISION_BEFORE] = "revision_before",
        [F_REVISION_AFTER] = "revision_after",
        [F_RESETS] = "resets",
        [F_MAX_PROGRESS] = "max_progress",
        [F_INTERRUPTED] = "interrupted",
};

/* ---- the list -------------------------------------------------------------------------------- */

int history_new(unsigned limit, struct history **out)
{
        struct history *h;

        if (limit > HISTORY_LIMIT_MAX)
                return -EINVAL;
        h = calloc(1, sizeof(*h) + (size_t) limit * sizeof(h->e[0]));
        if (!h)
                return -ENOMEM;
        h->limit = limit;
        *out = h;
        return 0;
}

struct history *history_free(struct history *h)
{
        free(h);
        return NULL;
}

size_t history_count(const struct history *h)
{
        return h->n;
}

static struct history_entry *entry(const struct history *h, size_t i)
{
        if (i >= h->n)
                return NULL;
        return (struct history_entry *) &h->e[(h->head + h->n - 1 - i) % h->limit];
}

const struct history_entry *history_get(const struct history *h, size_t i)
{
        return entry(h, i);
}

struct history_entry *history_running(struct history *h)
{
        struct history_entry *e = entry(h, 0);

        return e && e->finished == 0 ? e : NULL;
}

static void clear(struct history *h)
{
        h->n = 0;
        h->head = 0;
}

/* Add e as the newest entry, dropping the oldest beyond the limit. False if nothing is kept. */
static bool push(struct history *h, const struct history_entry *e)
{
        if (h->limit == 0)
                return false;
        if (h->n < h->limit) {
                h->e[(h->head + h->n) % h->limit] = *e;
                h->n++;
        } else {
                h->e[h->head] = *e;
                h->head = (h->head + 1) % h->limit;
        }
        return true;
}

/* AT+CGMR gives e.g. "BC26NBR01A06": 1..63 printable ASCII characters, no spaces. Anything else
 * is not a revision we can show on D-Bus (valid UTF-8) or write unescaped. */
static bool revision_valid(const char *s)
{
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++)
                if (n >= HISTORY_REVISION_MAX - 1 || (unsigned char) s[n] < 0x21 ||
                    (unsigned char) s[n] > 0x7e)
                        return false;
        return n > 0;
}

/* A result as LastResult spells them: 1..23 of [a-z0-9-]. */
static bool result_valid(const char *s)
{
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++)
                if (n >= HISTORY_RESULT_MAX - 1 ||
                    !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
                        return false;
        return n > 0;
}

static void finish_entry(struct history_entry *e, uint64_t finished, const char *result, int32_t code)
{
        if (finished == 0)
                finished = e->started ? e->started : 1;
        e->finished = finished;
        (void) snprintf(e->result, sizeof(e->result), "%s", result_valid(result) ? result : "unknown");
        e->code = code;
}

bool history_begin(struct history *h, uint64_t started, const char *revision_before, bool interrupted)
{
        struct history_entry *run = history_running(h), e;
        bool changed = false;

        if (run && interrupted) {
                /* The same upgrade, resumed after a restart: one entry, not two. */
                if (!run->interrupted) {
                        run->interrupted = true;
                        changed = true;
                }
                if (run->revision_before[0] == '\0' && revision_valid(revision_before)) {
                        (void) snprintf(run->revision_before, sizeof(run->revision_before), "%s",
                                        revision_before);
                        changed = true;
                }
                return changed;
        }
        if (run)
                finish_entry(run, started, "unknown", 0);     /* it ended while we did not look */

        memset(&e, 0, sizeof(e));
        e.started = started;
        e.interrupted = interrupted;
        if (revision_valid(revision_before))
                (void) snprintf(e.revision_before, sizeof(e.revision_before), "%s", revision_before);
        return push(h, &e) || run != NULL;
}

bool history_progress(struct history *h, unsigned percent)
{
        struct history_entry *run = history_running(h);

        if (percent > 100)
                percent = 100;
        if (!run || percent <= run->max_progress)
                return false;
        run->max_progress = percent;
        return true;
}

bool history_reset_used(struct history *h)
{
        struct history_entry *run = history_running(h);

        if (!run || run->resets == UINT32_MAX)
                return false;
        run->resets++;
        return true;
}

bool history_finish(struct history *h, uint64_t finished, const char *result, int32_t code)
{
        struct history_entry *run = history_running(h);

        if (!run)
                return false;
        finish_entry(run, finished, result, code);
        return true;
}

bool history_mark_interrupted(struct history *h)
{
        struct history_entry *run = history_running(h);

        if (!run || run->interrupted)
                return false;
        run->interrupted = true;
        return true;
}

bool history_set_revision_after(struct history *h, const char *revision)
{
        struct history_entry *e = entry(h, 0);

        if (!e || e->finished == 0 || e->revision_after[0] != '\0' || !revision_valid(revision))
                return false;
        (void) snprintf(e->revision_after, sizeof(e->revision_after), "%s", revision);
        return true;
}

/* ---- text form ------------------------------------------------------------------------------- */

/* What decode would refuse. newest: only the newest entry may still be running. */
static bool entry_valid(const struct history_entry *e, bool newest)
{
        if (e->finished == 0) {
                if (!newest || e->result[0] != '\0' || e->code != 0)
                        return false;
        } else if (!result_valid(e->result)) {
                return false;
        }
        return (e->revision_before[0] == '\0' || revision_valid(e->revision_before)) &&
               (e->revision_after[0] == '\0' || revision_valid(e->revision_after)) &&
               e->max_progress <= 100;
}

/* One record line, '\n' included; its length or -ENOSPC. */
static int encode_entry(const struct history_entry *e, char *buf, size_t size)
{
        char body[HISTORY_LINE_MAX];
        int n, m;

        n = snprintf(body, sizeof(body),
                     "started=%" PRIu64 " finished=%" PRIu64 " result=%s code=%" PRId32
                     " revision_before=%s revision_after=%s resets=%" PRIu32
                     " max_progress=%" PRIu32 " interrupted=%d",
                     e->started, e->finished, e->result, e->code, e->revision_before,
                     e->revision_after, e->resets, e->max_progress, e->interrupted ? 1 : 0);
        if (n < 0 || (size_t) n >= sizeof(body) - CRC_HEX_LEN - 2)
                return -EINVAL;
        m = snprintf(buf, size, "%08" PRIx32 " %s\n", durable_crc32(body, (size_t) n), body);
        if (m < 0)
                return -EINVAL;
        if ((size_t) m >= size)
                return -ENOSPC;
        return m;
}

int history_encode(const struct history *h, char *buf, size_t size)
{
        size_t used;
        int n;

        n = snprintf(buf, size, HISTORY_MAGIC " %zu\n", h->n);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENOSPC;
        used = (size_t) n;
        for (size_t i = h->n; i-- > 0;) {         /* oldest first */
                const struct history_entry *e = entry(h, i);

                if (!entry_valid(e, i == 0))
                        return -EINVAL;
                n = encode_entry(e, buf + used, size - used);
                if (n < 0)
                        return n;
                used += (size_t) n;
        }
        if (used > INT_MAX)
                return -ENOSPC;
        return (int) used;
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
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
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
        if (v > max)
                return -ERANGE;
        *out = v;
        return 0;
}

static int parse_i32(const char *s, int32_t *out)
{
        bool neg = *s == '-';
        uint64_t v;
        int r;

        r = parse_u64(s + neg, neg ? (uint64_t) INT32_MAX + 1 : INT32_MAX, &v);
        if (r < 0)
                return r;
        if (neg && v == 0)
                return -EINVAL;         /* "-0" */
        *out = neg ? (int32_t) -(int64_t) v : (int32_t) v;
        return 0;
}

/* One value (NUL-terminated) into e; a static reason on error. */
static const char *decode_value(enum field f, const char *v, struct history_entry *e)
{
        uint64_t u;

        switch (f) {
        case F_STARTED:
                return parse_u64(v, UINT64_MAX, &e->started) < 0 ? "bad number" : NULL;
        case F_FINISHED:
                return parse_u64(v, UINT64_MAX, &e->finished) < 0 ? "bad number" : NULL;
        case F_RESULT:
                if (*v && !result_valid(v))
                        return "bad result";
                (void) snprintf(e->result, sizeof(e->result), "%s", v);
                return NULL;
        case F_CODE:
                return parse_i32(v, &e->code) < 0 ? "bad number" : NULL;
        case F_REVISION_BEFORE:
        case F_REVISION_AFTER:
                if (*v && !revision_valid(v))
                        return "bad revision";
                (void) snprintf(f == F_REVISION_BEFORE ? e->revision_before : e->revision_after,
                                HISTORY_REVISION_MAX, "%s", v);
                return NULL;
        case F_RESETS:
                if (parse_u64(v, UINT32_MAX, &u) < 0)
                        return "bad number";
                e->resets = (uint32_t) u;
                return NULL;
        case F_MAX_PROGRESS:
                if (parse_u64(v, 100, &u) < 0)
                        return "max_progress must be 0..100";
                e->max_progress = (uint32_t) u;
                return NULL;
        case F_INTERRUPTED:
                if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                        return "interrupted must be 0 or 1";
                e->interrupted = v[0] == '1';
                return NULL;
        case _F_MAX:
                break;
        }
        return "unknown key";
}

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* One record line (without '\n', NUL-terminated, length n) into e. Keys a newer bc26d may add
 * are skipped; every known key must be there once. */
static int decode_record(char *line, size_t n, struct history_entry *e, unsigned lineno,
                         char *why, size_t why_size)
{
        bool seen[_F_MAX] = { false };
        uint32_t crc = 0;
        char *p;

        if (n < CRC_HEX_LEN + 1 || line[CRC_HEX_LEN] != ' ')
                return fail(why, why_size, "line %u: no checksum", lineno);
        for (size_t i = 0; i < CRC_HEX_LEN; i++) {
                if (!is_hex(line[i]))
                        return fail(why, why_size, "line %u: no checksum", lineno);
                crc = crc << 4 | (uint32_t) (line[i] <= '9' ? line[i] - '0' : line[i] - 'a' + 10);
        }
        p = line + CRC_HEX_LEN + 1;
        if (durable_crc32(p, n - CRC_HEX_LEN - 1) != crc)
                return fail(why, why_size, "line %u: checksum mismatch (record damaged or edited)",
                            lineno);

        memset(e, 0, sizeof(*e));
        for (;;) {
                char *end = strchr(p, ' ');
                char *eq;
                const char *reason;
                unsigned f;

                if (end)
                        *end = '\0';
                eq = strchr(p, '=');
                if (!eq || eq == p)
                        return fail(why, why_size, "line %u: expected key=value, got \"%.40s\"",
                                    lineno, p);
                *eq = '\0';
                for (f = 0; f < _F_MAX; f++)
                        if (strcmp(p, field_names[f]) == 0)
                                break;
                if (f < _F_MAX) {
                        if (seen[f])
                                return fail(why, why_size, "line %u: duplicate key \"%s\"", lineno,
                                            field_names[f]);
                        seen[f] = true;
                        reason = decode_value((enum field) f, eq + 1, e);
                        if (reason)
                                return fail(why, why_size, "line %u: %s: %s \"%.40s\"", lineno,
                                            field_names[f], reason, eq + 1);
                }
                if (!end)
                        break;
                p = end + 1;
        }
        for (unsigned f = 0; f < _F_MAX; f++)
                if (!seen[f])
                        return fail(why, why_size, "line %u: missing key \"%s\"", lineno,
                                    field_names[f]);
        if (e->finished == 0 && (e->result[0] != '\0' || e->code != 0))
                return fail(why, why_size, "line %u: a running upgrade with a result", lineno);
        if (e->finished != 0 && e->result[0] == '\0')
                return fail(why, why_size, "line %u: a finished upgrade without a result", lineno);
        return 0;
}

static int decode(struct history *h, const char *text, size_t len, char *why, size_t why_size)
{
        char line[HISTORY_LINE_MAX + 1];
        size_t pos = 0, count = 0, records = 0;
        unsigned lineno = 0;
        bool running = false;

        if (len == 0)
                return fail(why, why_size, "empty file");
        if (len > HISTORY_FILE_MAX)
                return fail(why, why_size, "file larger than %d bytes", HISTORY_FILE_MAX);
        if (memchr(text, '\0', len))
                return fail(why, why_size, "NUL byte in file");

        while (pos < len) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                struct history_entry e;
                size_t n;
                int r;

                lineno++;
                if (!nl)
                        return fail(why, why_size, "line %u: truncated (no newline at end of file)",
                                    lineno);
                n = (size_t) (nl - (text + pos));
                if (n >= HISTORY_LINE_MAX)
                        return fail(why, why_size, "line %u: longer than %d characters", lineno,
                                    HISTORY_LINE_MAX - 1);
                memcpy(line, text + pos, n);
                line[n] = '\0';
                pos += n + 1;

                if (lineno == 1) {
                        uint64_t c;

                        if (strncmp(line, HISTORY_MAGIC " ", strlen(HISTORY_MAGIC " ")) != 0 ||
                            parse_u64(line + strlen(HISTORY_MAGIC " "), HISTORY_LIMIT_MAX, &c) < 0)
                                return fail(why, why_size,
                                            "line 1: not \"" HISTORY_MAGIC " <count>\" with a count of 0..%d",
                                            HISTORY_LIMIT_MAX);
                        count = (size_t) c;
                        continue;
                }
                if (records == count)
                        return fail(why, why_size, "line %u: more records than the %zu the header says",
                                    lineno, count);
                r = decode_record(line, n, &e, lineno, why, why_size);
                if (r < 0)
                        return r;
                if (running)
                        return fail(why, why_size, "line %u: follows a running upgrade (only the newest may run)",
                                    lineno);
                running = e.finished == 0;
                records++;
                (void) push(h, &e);
        }
        if (records != count)
                return fail(why, why_size, "truncated: %zu of %zu records", records, count);
        return 0;
}

int history_decode(struct history *h, const char *text, size_t len, char *why, size_t why_size)
{
        int r;

        clear(h);
        r = decode(h, text, len, why, why_size);
        if (r < 0)
                clear(h);
        return r;
}

/* ---- the file -------------------------------------------------------------------------------- */

int history_load(struct history *h, const char *dir, char *why, size_t why_size)
{
        char reason[192], aside[PATH_MAX];
        struct timespec ts;
        char *buf = NULL;
        size_t len = 0;
        int r;

        clear(h);
        r = durable_read(dir, HISTORY_FILE_NAME, HISTORY_FILE_MAX, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r == -EFBIG) {
                (void) snprintf(reason, sizeof(reason), "file larger than %d bytes", HISTORY_FILE_MAX);
        } else if (r < 0) {
                if (why && why_size > 0)
                        (void) snprintf(why, why_size, "%s/%s: cannot read: %s", dir,
                                        HISTORY_FILE_NAME, strerror(-r));
                return r;
        } else {
                r = history_decode(h, buf, len, reason, sizeof(reason));
                free(buf);
                if (r != -EBADMSG)
                        return r;
        }

        /* Keep the evidence for a human; start again with an empty history. */
        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                ts.tv_sec = 0;
        r = durable_move_aside(dir, HISTORY_FILE_NAME, (uint64_t) ts.tv_sec * 1000000, aside,
                               sizeof(aside));
        if (r < 0)
                return fail(why, why_size, "%s/%s: %s; could not move it aside: %s", dir,
                            HISTORY_FILE_NAME, reason, strerror(-r));
        return fail(why, why_size, "%s/%s: %s; moved aside to %s", dir, HISTORY_FILE_NAME, reason,
                    aside);
}

int history_save(const struct history *h, const char *dir)
{
        size_t size = 64 + h->n * HISTORY_LINE_MAX;
        char *buf = malloc(size);
        int n, r;

        if (!buf)
                return -ENOMEM;
        n = history_encode(h, buf, size);
        r = n < 0 ? n : durable_write(dir, HISTORY_FILE_NAME, buf, (size_t) n);
        free(buf);
        return r;
}
