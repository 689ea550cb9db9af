/* history.c - the upgrade history: a ring of the newest entries updated by pure calls, its strict
 * checksummed text form, and the load/save edge over durable.c. Nothing here reads the clock or
 * logs: the manager does, with the why text. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"
#include "history.h"

#define HISTORY_MAGIC           "bc26d-history 1"
#define CRC_HEX_LEN             8

_Static_assert(HISTORY_LINE_MAX <= DURABLE_RECORD_LINE_MAX, "a record line fits durable.c's buffer");

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
        int n;

        n = snprintf(body, sizeof(body),
                     "started=%" PRIu64 " finished=%" PRIu64 " result=%s code=%" PRId32
                     " revision_before=%s revision_after=%s resets=%" PRIu32
                     " max_progress=%" PRIu32 " interrupted=%d",
                     e->started, e->finished, e->result, e->code, e->revision_before,
                     e->revision_after, e->resets, e->max_progress, e->interrupted ? 1 : 0);
        if (n < 0 || (size_t) n >= sizeof(body) - CRC_HEX_LEN - 2)
                return -EINVAL;
        return durable_record_encode(buf, size, body, (size_t) n);
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

/* One value (NUL-terminated) into e; a static reason on error. */
static const char *decode_value(enum field f, const char *v, struct history_entry *e)
{
        uint64_t u;
        int64_t i;

        switch (f) {
        case F_STARTED:
                return durable_parse_u64(v, UINT64_MAX, &e->started) < 0 ? "bad number" : NULL;
        case F_FINISHED:
                return durable_parse_u64(v, UINT64_MAX, &e->finished) < 0 ? "bad number" : NULL;
        case F_RESULT:
                if (*v && !result_valid(v))
                        return "bad result";
                (void) snprintf(e->result, sizeof(e->result), "%s", v);
                return NULL;
        case F_CODE:
                if (durable_parse_i64(v, INT32_MIN, INT32_MAX, &i) < 0)
                        return "bad number";
                e->code = (int32_t) i;
                return NULL;
        case F_REVISION_BEFORE:
        case F_REVISION_AFTER:
                if (*v && !revision_valid(v))
                        return "bad revision";
                (void) snprintf(f == F_REVISION_BEFORE ? e->revision_before : e->revision_after,
                                HISTORY_REVISION_MAX, "%s", v);
                return NULL;
        case F_RESETS:
                if (durable_parse_u64(v, UINT32_MAX, &u) < 0)
                        return "bad number";
                e->resets = (uint32_t) u;
                return NULL;
        case F_MAX_PROGRESS:
                if (durable_parse_u64(v, 100, &u) < 0)
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

/* One record's body (NUL-terminated, writable) into e. Keys a newer bc26d may add are skipped;
 * every known key must be there once. */
static int decode_record(char *p, struct history_entry *e, unsigned lineno, char *why, size_t why_size)
{
        bool seen[_F_MAX] = { false };

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
                        return durable_fail(why, why_size, "line %u: expected key=value, got \"%.40s\"",
                                            lineno, p);
                *eq = '\0';
                for (f = 0; f < _F_MAX; f++)
                        if (strcmp(p, field_names[f]) == 0)
                                break;
                if (f < _F_MAX) {
                        if (seen[f])
                                return durable_fail(why, why_size, "line %u: duplicate key \"%s\"", lineno,
                                                    field_names[f]);
                        seen[f] = true;
                        reason = decode_value((enum field) f, eq + 1, e);
                        if (reason)
                                return durable_fail(why, why_size, "line %u: %s: %s \"%.40s\"", lineno,
                                                    field_names[f], reason, eq + 1);
                }
                if (!end)
                        break;
                p = end + 1;
        }
        for (unsigned f = 0; f < _F_MAX; f++)
                if (!seen[f])
                        return durable_fail(why, why_size, "line %u: missing key \"%s\"", lineno,
                                            field_names[f]);
        if (e->finished == 0 && (e->result[0] != '\0' || e->code != 0))
                return durable_fail(why, why_size, "line %u: a running upgrade with a result", lineno);
        if (e->finished != 0 && e->result[0] == '\0')
                return durable_fail(why, why_size, "line %u: a finished upgrade without a result", lineno);
        return 0;
}

struct decode_state {
        struct history *h;
        bool running;                   /* the last record is a running upgrade */
};

static int decode_line(void *ctx, char *body, unsigned lineno, char *why, size_t why_size)
{
        struct decode_state *d = ctx;
        struct history_entry e;
        int r;

        r = decode_record(body, &e, lineno, why, why_size);
        if (r < 0)
                return r;
        if (d->running)
                return durable_fail(why, why_size, "line %u: follows a running upgrade (only the newest may run)",
                                    lineno);
        d->running = e.finished == 0;
        (void) push(d->h, &e);
        return 0;
}

int history_decode(struct history *h, const char *text, size_t len, char *why, size_t why_size)
{
        struct decode_state d = { .h = h };
        int r;

        clear(h);
        r = durable_decode_records(text, len, HISTORY_FILE_MAX, HISTORY_MAGIC, HISTORY_LIMIT_MAX,
                                   HISTORY_LINE_MAX, decode_line, &d, why, why_size);
        if (r < 0)
                clear(h);
        return r;
}

/* ---- the file -------------------------------------------------------------------------------- */

static int decode_cb(void *ctx, const char *text, size_t len, char *why, size_t why_size)
{
        return history_decode(ctx, text, len, why, why_size);
}

int history_load(struct history *h, const char *dir, char *why, size_t why_size)
{
        int r;

        clear(h);
        /* A corrupt file is moved aside: start again with an empty history. */
        r = durable_load_checked(dir, HISTORY_FILE_NAME, HISTORY_FILE_MAX, decode_cb, h, why, why_size);
        return r == -ENOENT ? 0 : r;
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
