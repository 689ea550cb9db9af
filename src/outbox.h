/* outbox.h - the store-and-forward queue (issue 12) as a pure core: the waiting messages in id
 * order, admission against the limits and the per-user share, expiry, and the retry/back-off
 * decision after each send. Time (usec since the epoch, CLOCK_REALTIME) is an argument; nothing
 * here reads a clock, does I/O or logs. Its durable form is outbox-store.[ch]. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUTBOX_PAYLOAD_MAX      512
/* Hard bounds whatever the log holds (the largest [outbox] max_messages and max_bytes): a
 * queue written under higher limits than today's is kept whole, a damaged one is bounded. */
#define OUTBOX_MESSAGES_MAX     16384
#define OUTBOX_BYTES_MAX        UINT64_C(67108864)
#define OUTBOX_ID_MAX           (UINT64_MAX - 1)        /* ids are 1..OUTBOX_ID_MAX */

struct outbox_config {
        unsigned max_messages;          /* 1..OUTBOX_MESSAGES_MAX */
        uint64_t max_bytes;             /* payload bytes, 1..OUTBOX_BYTES_MAX */
        unsigned max_share_percent;     /* 1..100: of max_messages and of max_bytes, per uid */
        unsigned max_attempts;          /* >= 1: failed sends before a message is dropped */
        uint64_t retry_min_usec, retry_max_usec; /* 1 <= min <= max */
};

/* A message as outbox_get() and friends show it. Only the first len bytes of data are stored
 * (a 2-byte reading does not cost 512 bytes): read the fields and data[0..len), never copy the
 * whole struct by value. The pointer stays valid until that message is removed (or the outbox
 * freed); other adds and removals do not move it. */
struct outbox_message {
        uint64_t id;            /* unique, increasing, never reused (also across restarts) */
        uint32_t uid;           /* the caller's Unix user (for the share) */
        uint16_t obj, inst, res;
        bool confirmable;
        uint64_t enqueued;      /* usec since the epoch */
        uint64_t expires;       /* usec since the epoch, 0 never */
        uint32_t attempts;      /* failed sends so far */
        uint64_t retry_at;      /* usec since the epoch; 0: send when possible (not persisted) */
        uint16_t len;
        uint8_t data[OUTBOX_PAYLOAD_MAX];
};

enum outbox_verdict {
        OUTBOX_DELIVERED,       /* the caller removes it (log first) and announces it */
        OUTBOX_RETRY,           /* it stays at the head; retry_at set */
        OUTBOX_DROPPED,         /* max_attempts failures: the caller removes it */
};

struct outbox;

/* A new empty outbox. 0, -EINVAL (a config value out of its range) or -ENOMEM. */
int outbox_new(const struct outbox_config *cfg, struct outbox **out);
/* Free o and its messages (NULL is fine); returns NULL. */
struct outbox *outbox_free(struct outbox *o);

/* May uid add len bytes? 0; -ENOSPC (max_messages or max_bytes; why has the numbers, e.g. "the
 * queue holds 1024 of 1024 messages"); -EDQUOT (uid's share; why has the numbers); -EINVAL if
 * len > OUTBOX_PAYLOAD_MAX. Limits bind admission only: a log replayed under lower limits is
 * kept whole (outbox_add), and new messages wait until it drains below them. */
int outbox_admit(const struct outbox *o, uint32_t uid, size_t len, char *why, size_t why_size);
/* Next id to hand out (> every id ever seen, including removed ones the log told of). */
uint64_t outbox_next_id(const struct outbox *o);
/* Note an id the log saw (removed or not) so next_id stays above it. */
void outbox_see_id(struct outbox *o, uint64_t id);
/* Add a copy of m (its attempts and retry_at included), in id order. 0; -EEXIST if m->id is
 * queued; -EINVAL if the id is 0 or above OUTBOX_ID_MAX or len > OUTBOX_PAYLOAD_MAX; -ENOSPC
 * beyond the hard bounds OUTBOX_MESSAGES_MAX/OUTBOX_BYTES_MAX; -ENOMEM. Not the config's limits
 * (outbox_admit decides those before the caller logs a new message). */
int outbox_add(struct outbox *o, const struct outbox_message *m);
/* Remove id: true if it was queued. */
bool outbox_remove(struct outbox *o, uint64_t id);
/* Remove every message (ClearQueue); how many there were. The caller logs it first. */
size_t outbox_clear(struct outbox *o);
/* Messages queued, and their payload bytes. */
size_t outbox_count(const struct outbox *o);
uint64_t outbox_bytes(const struct outbox *o);
/* Message i in id order (0 the oldest); NULL past the end. */
const struct outbox_message *outbox_get(const struct outbox *o, size_t i);
/* The message with this id, or NULL. */
const struct outbox_message *outbox_find(const struct outbox *o, uint64_t id);
/* The oldest message if it may be sent at now (not expired, retry_at <= now), else NULL.
 * In order: a head waiting for its back-off holds the ones behind it. A retry_at more than
 * retry_max_usec after now counts as due: the realtime clock went back since it was set. */
const struct outbox_message *outbox_head(const struct outbox *o, uint64_t now);
/* Expired messages (expires != 0 && expires <= now): their ids, oldest first, up to max;
 * the caller removes each (after logging it durably). Returns how many. */
size_t outbox_expired(const struct outbox *o, uint64_t now, uint64_t *ids, size_t max);
/* The back-off after the n-th failure (n >= 1): min(retry_min * 2^(n-1), retry_max). */
uint64_t outbox_backoff(const struct outbox *o, uint32_t n);
/* The result of a send of id: delivered -> OUTBOX_DELIVERED (caller removes it);
 * failed -> attempts+1, then OUTBOX_DROPPED if attempts >= max_attempts (caller removes), else
 * OUTBOX_RETRY with retry_at = now + backoff(attempts). An id no longer queued (cleared during
 * its send) changes nothing: OUTBOX_DELIVERED if delivered, else OUTBOX_DROPPED. */
enum outbox_verdict outbox_result(struct outbox *o, uint64_t id, bool delivered, uint64_t now);
/* Earliest time something becomes due: the head's retry_at if in the future (and no more than
 * retry_max_usec ahead: see outbox_head), the earliest
 * expiry (which may be <= now: then outbox_expired has work); UINT64_MAX if none (no timer
 * then). A head that may be sent now is no deadline: sending waits for the module, not time. */
uint64_t outbox_next_deadline(const struct outbox *o, uint64_t now);
