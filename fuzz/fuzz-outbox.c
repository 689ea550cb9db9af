/* fuzz-outbox.c - the outbox log's recovery path: outbox_log_decode() over arbitrary bytes (an
 * exact-size copy), replayed into an outbox as outbox_store_open does. Checks: 0 or -EBADMSG
 * with an "offset N: " reason; the good prefix is a valid log on its own and decodes to the same
 * queue; the queue is in strict id order with consistent totals and next_id above every id;
 * re-encoding it (as a compaction would) decodes back to the same queue and next_id; the core's
 * decisions over it (head, expiry, results, deadlines) keep their contracts; outbox_log_max_id (the
 * id scan of a damaged part) over the same bytes finds exactly the good prefix's highest id. */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "outbox-store.h"

#ifdef BC26_FUZZ_DRIVER
int bc26_fuzz_outbox(const uint8_t *data, size_t size);
#endif

static const struct outbox_config cfg = {
        .max_messages = OUTBOX_MESSAGES_MAX, .max_bytes = OUTBOX_BYTES_MAX, .max_share_percent = 50,
        .max_attempts = 3, .retry_min_usec = 2000000, .retry_max_usec = 300000000,
};

struct replay {
        struct outbox *o;
        size_t records;
};

/* As outbox-store.c replays: a duplicate id keeps the first; removals are ids seen. */
static int on_message(void *ud, const struct outbox_message *m)
{
        struct replay *rp = ud;
        int r = outbox_add(rp->o, m);

        fuzz_check(r == 0 || r == -EEXIST, "outbox_add of a decoded message: %d", r);
        rp->records++;
        return 0;
}

static int on_removal(void *ud, uint64_t id)
{
        struct replay *rp = ud;

        (void) outbox_remove(rp->o, id);
        outbox_see_id(rp->o, id);
        rp->records++;
        return 0;
}

static const struct outbox_log_ops ops = { on_message, on_removal };

static bool same_message(const struct outbox_message *a, const struct outbox_message *b)
{
        return a->id == b->id && a->uid == b->uid && a->obj == b->obj && a->inst == b->inst &&
               a->res == b->res && a->confirmable == b->confirmable && a->enqueued == b->enqueued &&
               a->expires == b->expires && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void check_same(const struct outbox *a, const struct outbox *b, const char *what)
{
        fuzz_check(outbox_count(a) == outbox_count(b) && outbox_bytes(a) == outbox_bytes(b) &&
                   outbox_next_id(a) == outbox_next_id(b), "%s: %zu/%zu messages, next id %" PRIu64
                   "/%" PRIu64, what, outbox_count(a), outbox_count(b), outbox_next_id(a), outbox_next_id(b));
        for (size_t i = 0; i < outbox_count(a); i++)
                fuzz_check(same_message(outbox_get(a, i), outbox_get(b, i)), "%s: message %zu differs", what, i);
}

static void check_queue(const struct outbox *o)
{
        uint64_t bytes = 0;

        for (size_t i = 0; i < outbox_count(o); i++) {
                const struct outbox_message *m = outbox_get(o, i);

                fuzz_check(m->id >= 1 && m->id <= OUTBOX_ID_MAX && m->len <= OUTBOX_PAYLOAD_MAX, "message %zu", i);
                fuzz_check(i == 0 || outbox_get(o, i - 1)->id < m->id, "not in id order at %zu", i);
                fuzz_check(outbox_next_id(o) > m->id, "next id %" PRIu64 " <= %" PRIu64, outbox_next_id(o), m->id);
                fuzz_check(outbox_find(o, m->id) == m, "find %" PRIu64, m->id);
                bytes += m->len;
        }
        fuzz_check(bytes == outbox_bytes(o), "bytes %" PRIu64 " != %" PRIu64, bytes, outbox_bytes(o));
}

/* Encode o as a compaction does; decode it back. Live records came from the input's, so the
 * input's size (and a header and the removal of the highest id) bounds the encoding. */
static void round_trip(const struct outbox *o, size_t input_size)
{
        size_t cap = input_size + OUTBOX_HEADER_SIZE + OUTBOX_REMOVAL_RECORD;
        uint8_t *buf = malloc(cap);
        struct outbox *back = NULL;
        struct replay rp;
        size_t used, good;
        uint64_t highest = outbox_next_id(o) - 1;
        const struct outbox_message *last = outbox_get(o, outbox_count(o) ? outbox_count(o) - 1 : 0);
        char why[128];
        int n, r;

        if (!buf)
                abort();
        used = (size_t) outbox_encode_header(buf, cap);
        for (size_t i = 0; i < outbox_count(o); i++) {
                n = outbox_encode_message(outbox_get(o, i), buf + used, cap - used);
                fuzz_check(n > 0 && (size_t) n == outbox_message_record_size(outbox_get(o, i)), "encode: %d", n);
                used += (size_t) n;
        }
        if (highest > (last ? last->id : 0)) {
                n = outbox_encode_removal(highest, buf + used, cap - used);
                fuzz_check(n == OUTBOX_REMOVAL_RECORD, "encode removal: %d", n);
                used += (size_t) n;
        }
        if (outbox_new(&cfg, &back) < 0)
                abort();
        rp = (struct replay) { .o = back };
        r = outbox_log_decode(buf, used, &ops, &rp, &good, why, sizeof(why));
        fuzz_check(r == 0 && good == used, "re-encoded log does not decode: %s", why);
        check_same(o, back, "round trip");
        outbox_free(back);
        free(buf);
}

/* The core's contracts over the replayed queue, at a time taken from the input. */
static void decide(struct outbox *o, uint64_t now)
{
        uint64_t ids[8], deadline = outbox_next_deadline(o, now);
        const struct outbox_message *head = outbox_head(o, now);
        size_t k = outbox_expired(o, now, ids, 8);

        fuzz_check(outbox_count(o) > 0 || deadline == UINT64_MAX, "deadline with an empty queue");
        fuzz_check(!head || head == outbox_get(o, 0), "head is not the oldest");
        fuzz_check(!head || head->expires == 0 || head->expires > now, "expired head");
        for (size_t i = 0; i < k; i++) {
                const struct outbox_message *m = outbox_find(o, ids[i]);

                fuzz_check(m && m->expires != 0 && m->expires <= now, "not expired: %" PRIu64, ids[i]);
                fuzz_check(i == 0 || ids[i - 1] < ids[i], "expired ids not oldest first");
                fuzz_check(deadline <= m->expires, "deadline after an expiry");
        }
        if (head) {
                uint64_t id = head->id;
                enum outbox_verdict v = outbox_result(o, id, false, now);

                fuzz_check(v == OUTBOX_RETRY || v == OUTBOX_DROPPED, "verdict %d", (int) v);
                if (v == OUTBOX_RETRY) {
                        fuzz_check(outbox_head(o, now) == NULL, "a head in back-off is sent");
                        fuzz_check(outbox_next_deadline(o, now) <= outbox_get(o, 0)->retry_at &&
                                   outbox_get(o, 0)->retry_at > now, "retry not in the future or not a deadline");
                } else {
                        fuzz_check(outbox_remove(o, id), "dropped id %" PRIu64 " not there", id);
                }
        }
        check_queue(o);
}

FUZZ_TARGET(outbox)
{
        struct outbox *o = NULL, *again = NULL;
        struct replay rp, rp2;
        size_t good = SIZE_MAX, good2 = SIZE_MAX;
        char why[128], tiny[2];
        uint64_t now = 0;
        int r, r2;

        if (outbox_new(&cfg, &o) < 0 || outbox_new(&cfg, &again) < 0)
                abort();
        rp = (struct replay) { .o = o };
        why[0] = '\0';
        r = outbox_log_decode(data, size, &ops, &rp, &good, why, sizeof(why));
        fuzz_check(r == 0 || r == -EBADMSG, "returned %d", r);
        fuzz_check(good <= size && (good == 0 || good >= OUTBOX_HEADER_SIZE), "good %zu of %zu", good, size);
        fuzz_check(r < 0 || good == size, "all good but good %zu of %zu", good, size);
        if (r < 0) {
                char offset[40];

                snprintf(offset, sizeof(offset), "offset %zu: ", good);
                fuzz_check(strncmp(why, offset, strlen(offset)) == 0, "reason \"%s\" is not at %zu", why, good);
        }
        /* The reason buffer changes nothing; neither does a check-only decode. */
        fuzz_check(outbox_log_decode(data, size, NULL, NULL, &good2, tiny, sizeof(tiny)) == r && good2 == good,
                   "decode without ops differs");
        fuzz_check(outbox_log_decode(data, size, NULL, NULL, &good2, NULL, 0) == r && good2 == good,
                   "decode without reason differs");

        /* The good prefix, which open() keeps, is a clean log of the same queue. */
        rp2 = (struct replay) { .o = again };
        if (good >= OUTBOX_HEADER_SIZE) {
                r2 = outbox_log_decode(data, good, &ops, &rp2, &good2, why, sizeof(why));
                fuzz_check(r2 == 0 && good2 == good, "good prefix does not decode: %s", why);
                fuzz_check(rp2.records == rp.records, "records %zu != %zu", rp2.records, rp.records);
                check_same(o, again, "good prefix");
        }
        /* The scan of a damaged part finds every id of a good prefix (it follows the same records). */
        if (good >= OUTBOX_HEADER_SIZE)
                fuzz_check(outbox_log_max_id(data + OUTBOX_HEADER_SIZE, good - OUTBOX_HEADER_SIZE) ==
                           outbox_next_id(again) - 1, "max id %" PRIu64 ", next id %" PRIu64,
                           outbox_log_max_id(data + OUTBOX_HEADER_SIZE, good - OUTBOX_HEADER_SIZE),
                           outbox_next_id(again));
        (void) outbox_log_max_id(data, size);
        check_queue(o);
        round_trip(o, size);

        /* A time near the messages' own (their first enqueued or expiry), moved by the input. */
        if (outbox_count(o) > 0)
                now = outbox_get(o, 0)->expires ? outbox_get(o, 0)->expires : outbox_get(o, 0)->enqueued;
        now &= (UINT64_C(1) << 62) - 1;         /* room for the steps below, no wrap-around */
        if (size > 0)
                now += (uint64_t) (data[size - 1] % 4) * 1000000;
        for (int i = 0; i < 4; i++) {
                decide(o, now);
                now += 3000000;
        }
        outbox_free(again);
        outbox_free(o);
        return 0;
}
