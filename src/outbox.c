/* outbox.c - the store-and-forward queue's pure core: messages in id order (each allocated with
 * just its payload), the limits and the per-user share, expiry, and the back-off after failed
 * sends. No I/O, no clock, no globals: the manager logs each change through outbox-store.c
 * before it applies it here, and passes the time in. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"

#define MESSAGE_HEAD_SIZE       offsetof(struct outbox_message, data)

struct outbox {
        struct outbox_config cfg;
        struct outbox_message **m;      /* n messages in increasing id order, each its own block */
        size_t n, cap;
        uint64_t bytes;                 /* payload bytes queued */
        uint64_t next_id;               /* > every id seen */
};

static bool config_valid(const struct outbox_config *c)
{
        return c->max_messages >= 1 && c->max_messages <= OUTBOX_MESSAGES_MAX &&
               c->max_bytes >= 1 && c->max_bytes <= OUTBOX_BYTES_MAX &&
               c->max_share_percent >= 1 && c->max_share_percent <= 100 && c->max_attempts >= 1 &&
               c->retry_min_usec >= 1 && c->retry_max_usec >= c->retry_min_usec;
}

int outbox_new(const struct outbox_config *cfg, struct outbox **out)
{
        struct outbox *o;

        if (!config_valid(cfg))
                return -EINVAL;
        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->cfg = *cfg;
        o->next_id = 1;
        *out = o;
        return 0;
}

struct outbox *outbox_free(struct outbox *o)
{
        if (!o)
                return NULL;
        (void) outbox_clear(o);
        free(o->m);
        free(o);
        return NULL;
}

/* A share of limit: percent of it, at least 1 (so that 1% of 10 messages still admits one). */
static uint64_t share(uint64_t limit, unsigned percent)
{
        uint64_t s = limit / 100 * percent + limit % 100 * percent / 100;

        return s > 0 ? s : 1;
}

int outbox_admit(const struct outbox *o, uint32_t uid, size_t len, char *why, size_t why_size)
{
        uint64_t share_n = share(o->cfg.max_messages, o->cfg.max_share_percent);
        uint64_t share_b = share(o->cfg.max_bytes, o->cfg.max_share_percent);
        uint64_t uid_n = 0, uid_b = 0;

        if (!why || why_size == 0) {
                why = NULL;
                why_size = 0;
        }
        if (len > OUTBOX_PAYLOAD_MAX) {
                if (why)
                        (void) snprintf(why, why_size, "%zu bytes is more than the %d a message may hold",
                                        len, OUTBOX_PAYLOAD_MAX);
                return -EINVAL;
        }
        if (o->n >= o->cfg.max_messages) {
                if (why)
                        (void) snprintf(why, why_size, "the queue holds %zu of %u messages", o->n,
                                        o->cfg.max_messages);
                return -ENOSPC;
        }
        if (o->bytes + len > o->cfg.max_bytes) {
                if (why)
                        (void) snprintf(why, why_size,
                                        "the queue holds %" PRIu64 " of %" PRIu64 " bytes; %zu more do not fit",
                                        o->bytes, o->cfg.max_bytes, len);
                return -ENOSPC;
        }
        for (size_t i = 0; i < o->n; i++)
                if (o->m[i]->uid == uid) {
                        uid_n++;
                        uid_b += o->m[i]->len;
                }
        if (uid_n + 1 > share_n) {
                if (why)
                        (void) snprintf(why, why_size,
                                        "uid %" PRIu32 " holds %" PRIu64 " of its %" PRIu64
                                        " messages (%u%% of %u)", uid, uid_n, share_n,
                                        o->cfg.max_share_percent, o->cfg.max_messages);
                return -EDQUOT;
        }
        if (uid_b + len > share_b) {
                if (why)
                        (void) snprintf(why, why_size,
                                        "uid %" PRIu32 " holds %" PRIu64 " of its %" PRIu64
                                        " bytes (%u%% of %" PRIu64 "); %zu more do not fit", uid, uid_b,
                                        share_b, o->cfg.max_share_percent, o->cfg.max_bytes, len);
                return -EDQUOT;
        }
        return 0;
}

uint64_t outbox_next_id(const struct outbox *o)
{
        return o->next_id;
}

void outbox_see_id(struct outbox *o, uint64_t id)
{
        /* Saturates: an id of OUTBOX_ID_MAX leaves next_id at UINT64_MAX, which outbox_add
         * refuses, rather than wrapping around to ids already handed out. */
        if (id >= o->next_id)
                o->next_id = id >= OUTBOX_ID_MAX ? UINT64_MAX : id + 1;
}

/* The index of the first message whose id is >= id (binary search). */
static size_t lower_bound(const struct outbox *o, uint64_t id)
{
        size_t lo = 0, hi = o->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (o->m[mid]->id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static size_t index_of(const struct outbox *o, uint64_t id)
{
        size_t i = lower_bound(o, id);

        return i < o->n && o->m[i]->id == id ? i : SIZE_MAX;
}

int outbox_add(struct outbox *o, const struct outbox_message *m)
{
        struct outbox_message *c;
        size_t i;

        if (m->id == 0 || m->id > OUTBOX_ID_MAX || m->len > OUTBOX_PAYLOAD_MAX)
                return -EINVAL;
        i = lower_bound(o, m->id);
        if (i < o->n && o->m[i]->id == m->id)
                return -EEXIST;
        if (o->n >= OUTBOX_MESSAGES_MAX || o->bytes + m->len > OUTBOX_BYTES_MAX)
                return -ENOSPC;
        if (o->n == o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 16;
                struct outbox_message **p;

                if (cap > OUTBOX_MESSAGES_MAX)
                        cap = OUTBOX_MESSAGES_MAX;
                p = realloc(o->m, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                o->m = p;
                o->cap = cap;
        }
        /* The fields and only len bytes of data: see struct outbox_message. */
        c = malloc(MESSAGE_HEAD_SIZE + m->len);
        if (!c)
                return -ENOMEM;
        memcpy(c, m, MESSAGE_HEAD_SIZE + m->len);
        memmove(&o->m[i + 1], &o->m[i], (o->n - i) * sizeof(o->m[0]));
        o->m[i] = c;
        o->n++;
        o->bytes += m->len;
        outbox_see_id(o, m->id);
        return 0;
}

static void remove_at(struct outbox *o, size_t i)
{
        o->bytes -= o->m[i]->len;
        free(o->m[i]);
        memmove(&o->m[i], &o->m[i + 1], (o->n - i - 1) * sizeof(o->m[0]));
        o->n--;
}

bool outbox_remove(struct outbox *o, uint64_t id)
{
        size_t i = index_of(o, id);

        if (i == SIZE_MAX)
                return false;
        remove_at(o, i);
        return true;
}

size_t outbox_clear(struct outbox *o)
{
        size_t n = o->n;

        for (size_t i = 0; i < n; i++)
                free(o->m[i]);
        o->n = 0;
        o->bytes = 0;
        return n;
}

size_t outbox_count(const struct outbox *o)
{
        return o->n;
}

uint64_t outbox_bytes(const struct outbox *o)
{
        return o->bytes;
}

const struct outbox_message *outbox_get(const struct outbox *o, size_t i)
{
        return i < o->n ? o->m[i] : NULL;
}

const struct outbox_message *outbox_find(const struct outbox *o, uint64_t id)
{
        size_t i = index_of(o, id);

        return i == SIZE_MAX ? NULL : o->m[i];
}

static bool expired(const struct outbox_message *m, uint64_t now)
{
        return m->expires != 0 && m->expires <= now;
}

/* Is m waiting for its back-off at now? retry_at is realtime: a back-off never lasts longer than
 * retry_max_usec, so a retry_at further ahead than that means the clock went back since it was
 * set, and the message is due now (else a step back of a day would hold the queue for a day). */
static bool backing_off(const struct outbox *o, const struct outbox_message *m, uint64_t now)
{
        return m->retry_at > now && m->retry_at - now <= o->cfg.retry_max_usec;
}

const struct outbox_message *outbox_head(const struct outbox *o, uint64_t now)
{
        const struct outbox_message *m = outbox_get(o, 0);

        if (!m || expired(m, now) || backing_off(o, m, now))
                return NULL;
        return m;
}

size_t outbox_expired(const struct outbox *o, uint64_t now, uint64_t *ids, size_t max)
{
        size_t k = 0;

        for (size_t i = 0; i < o->n && k < max; i++)
                if (expired(o->m[i], now))
                        ids[k++] = o->m[i]->id;
        return k;
}

uint64_t outbox_backoff(const struct outbox *o, uint32_t n)
{
        uint64_t d = o->cfg.retry_min_usec;

        for (uint32_t k = 1; k < n && d < o->cfg.retry_max_usec; k++)
                d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
        return d < o->cfg.retry_max_usec ? d : o->cfg.retry_max_usec;
}

enum outbox_verdict outbox_result(struct outbox *o, uint64_t id, bool delivered, uint64_t now)
{
        size_t i = index_of(o, id);
        struct outbox_message *m;
        uint64_t d;

        if (delivered)
                return OUTBOX_DELIVERED;
        if (i == SIZE_MAX)
                return OUTBOX_DROPPED;
        m = o->m[i];
        if (m->attempts < UINT32_MAX)
                m->attempts++;
        if (m->attempts >= o->cfg.max_attempts)
                return OUTBOX_DROPPED;
        d = outbox_backoff(o, m->attempts);
        m->retry_at = now > UINT64_MAX - d ? UINT64_MAX : now + d;
        return OUTBOX_RETRY;
}

uint64_t outbox_next_deadline(const struct outbox *o, uint64_t now)
{
        uint64_t t = UINT64_MAX;

        if (o->n > 0 && backing_off(o, o->m[0], now))
                t = o->m[0]->retry_at;
        for (size_t i = 0; i < o->n; i++)
                if (o->m[i]->expires != 0 && o->m[i]->expires < t)
                        t = o->m[i]->expires;
        return t;
}
