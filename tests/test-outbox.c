/* test-outbox.c - Check suite for the store-and-forward queue: the pure core (outbox.c: limits
 * and the per-user share, id order, back-off, drops, expiry with a fake clock, deadlines) and its
 * log (outbox-store.c: record round trips, recovery from a truncation at every offset and a
 * flipped byte at every offset, append failures cut back, compaction and ids across reopen). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "outbox-store.h"
#include "outbox.h"

#define SEC UINT64_C(1000000)
#define T0 (UINT64_C(1765000000) * SEC)

static const struct outbox_config default_cfg = {
        .max_messages = 1024, .max_bytes = 262144, .max_share_percent = 50, .max_attempts = 10,
        .retry_min_usec = 2 * SEC, .retry_max_usec = 300 * SEC,
};

static struct outbox *new_outbox(const struct outbox_config *cfg)
{
        struct outbox *o = NULL;

        ck_assert_int_eq(outbox_new(cfg ? cfg : &default_cfg, &o), 0);
        return o;
}

static struct outbox_message make_msg(uint64_t id, uint32_t uid, uint16_t len)
{
        struct outbox_message m;

        memset(&m, 0, sizeof(m));
        m.id = id;
        m.uid = uid;
        m.obj = 19;
        m.inst = 0;
        m.res = (uint16_t) (id % 3);
        m.confirmable = id % 2 == 1;
        m.enqueued = T0 + id;
        m.expires = id % 4 == 0 ? T0 + id * SEC : 0;
        m.len = len;
        for (unsigned i = 0; i < len; i++)
                m.data[i] = (uint8_t) (id * 31 + i);
        return m;
}

static void add(struct outbox *o, uint64_t id, uint32_t uid, uint16_t len)
{
        struct outbox_message m = make_msg(id, uid, len);

        ck_assert_int_eq(outbox_add(o, &m), 0);
}

/* The persisted fields and payload are the same (attempts and retry_at are not persisted). */
static bool same_message(const struct outbox_message *a, const struct outbox_message *b)
{
        return a->id == b->id && a->uid == b->uid && a->obj == b->obj && a->inst == b->inst &&
               a->res == b->res && a->confirmable == b->confirmable && a->enqueued == b->enqueued &&
               a->expires == b->expires && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void assert_same_outbox(const struct outbox *a, const struct outbox *b)
{
        ck_assert_uint_eq(outbox_count(a), outbox_count(b));
        ck_assert_uint_eq(outbox_bytes(a), outbox_bytes(b));
        ck_assert_uint_eq(outbox_next_id(a), outbox_next_id(b));
        for (size_t i = 0; i < outbox_count(a); i++)
                ck_assert_msg(same_message(outbox_get(a, i), outbox_get(b, i)), "message %zu differs", i);
}

/* ---- core: admission ------------------------------------------------------------------------- */

static const struct admit_case {
        const char *name;
        unsigned max_messages;
        uint64_t max_bytes;
        unsigned percent;
        unsigned fill_uid1, fill_uid2;  /* messages already queued per uid */
        uint16_t fill_len;              /* payload of each */
        uint32_t uid;
        size_t len;
        int expect;
        const char *why;                /* a substring of why, or NULL */
} admit_cases[] = {
        { "room", 4, 1024, 100, 3, 0, 1, 1, 1, 0, NULL },
        { "messages full", 4, 1024, 100, 4, 0, 1, 2, 1, -ENOSPC, "the queue holds 4 of 4 messages" },
        { "messages full, other uids", 4, 1024, 50, 2, 2, 1, 3, 1, -ENOSPC, "the queue holds 4 of 4 messages" },
        { "bytes fit exactly", 10, 1024, 100, 2, 0, 500, 1, 24, 0, NULL },
        { "bytes full", 10, 1024, 100, 2, 0, 500, 1, 25, -ENOSPC,
          "the queue holds 1000 of 1024 bytes; 25 more do not fit" },
        { "share of messages", 10, 65536, 50, 5, 0, 1, 1, 1, -EDQUOT,
          "uid 1 holds 5 of its 5 messages (50% of 10)" },
        { "share: another uid", 10, 65536, 50, 5, 0, 1, 2, 1, 0, NULL },
        { "share of bytes", 100, 2000, 50, 2, 0, 500, 1, 1, -EDQUOT,
          "uid 1 holds 1000 of its 1000 bytes (50% of 2000); 1 more do not fit" },
        { "share of bytes fits", 100, 2000, 50, 1, 0, 500, 1, 500, 0, NULL },
        { "1% of 10 is still 1", 10, 65536, 1, 0, 0, 1, 1, 1, 0, NULL },
        { "1% of 10, one queued", 10, 65536, 1, 1, 0, 1, 1, 1, -EDQUOT, "holds 1 of its 1 messages (1% of 10)" },
        { "100% share", 3, 65536, 100, 2, 0, 1, 1, 1, 0, NULL },
        { "payload too big", 10, 65536, 100, 0, 0, 0, 1, OUTBOX_PAYLOAD_MAX + 1, -EINVAL, "513 bytes" },
        { "payload max", 10, 65536, 100, 0, 0, 0, 1, OUTBOX_PAYLOAD_MAX, 0, NULL },
};

START_TEST(test_admit)
{
        const struct admit_case *c = &admit_cases[_i];
        struct outbox_config cfg = default_cfg;
        struct outbox *o;
        uint64_t id = 1;
        char why[160] = "", tiny[4];

        cfg.max_messages = c->max_messages;
        cfg.max_bytes = c->max_bytes;
        cfg.max_share_percent = c->percent;
        o = new_outbox(&cfg);
        for (unsigned i = 0; i < c->fill_uid1; i++)
                add(o, id++, 1, c->fill_len);
        for (unsigned i = 0; i < c->fill_uid2; i++)
                add(o, id++, 2, c->fill_len);
        ck_assert_msg(outbox_admit(o, c->uid, c->len, why, sizeof(why)) == c->expect, "%s: got %d (%s)",
                      c->name, outbox_admit(o, c->uid, c->len, NULL, 0), why);
        if (c->why)
                ck_assert_msg(strstr(why, c->why), "%s: why is \"%s\"", c->name, why);
        /* No room for the reason changes nothing. */
        ck_assert_int_eq(outbox_admit(o, c->uid, c->len, NULL, 0), c->expect);
        ck_assert_int_eq(outbox_admit(o, c->uid, c->len, tiny, sizeof(tiny)), c->expect);
        outbox_free(o);
}
END_TEST

START_TEST(test_config_ranges)
{
        struct outbox_config bad[6];
        struct outbox *o = NULL;

        for (size_t i = 0; i < 6; i++)
                bad[i] = default_cfg;
        bad[0].max_messages = 0;
        bad[1].max_messages = OUTBOX_MESSAGES_MAX + 1;
        bad[2].max_bytes = OUTBOX_BYTES_MAX + 1;
        bad[3].max_share_percent = 101;
        bad[4].max_attempts = 0;
        bad[5].retry_max_usec = bad[5].retry_min_usec - 1;
        for (size_t i = 0; i < 6; i++)
                ck_assert_int_eq(outbox_new(&bad[i], &o), -EINVAL);
}
END_TEST

/* Two users each get their share; together they reach the queue's limit, not beyond. */
START_TEST(test_share_two_uids)
{
        struct outbox_config cfg = default_cfg;
        struct outbox *o;
        uint64_t id = 1;
        char why[160];

        cfg.max_messages = 10;
        cfg.max_share_percent = 60;
        o = new_outbox(&cfg);
        while (outbox_admit(o, 1000, 4, why, sizeof(why)) == 0)
                add(o, id++, 1000, 4);
        ck_assert_uint_eq(outbox_count(o), 6);
        ck_assert_int_eq(outbox_admit(o, 1000, 4, why, sizeof(why)), -EDQUOT);
        ck_assert_str_eq(why, "uid 1000 holds 6 of its 6 messages (60% of 10)");
        while (outbox_admit(o, 1001, 4, why, sizeof(why)) == 0)
                add(o, id++, 1001, 4);
        ck_assert_uint_eq(outbox_count(o), 10);
        ck_assert_int_eq(outbox_admit(o, 1001, 4, why, sizeof(why)), -ENOSPC);
        ck_assert_str_eq(why, "the queue holds 10 of 10 messages");
        /* One of uid 1000's leaves: 5 of its 6, and room in the queue for either uid. */
        ck_assert(outbox_remove(o, 1));
        ck_assert_int_eq(outbox_admit(o, 1000, 4, why, sizeof(why)), 0);
        ck_assert_int_eq(outbox_admit(o, 1001, 4, why, sizeof(why)), 0);
        add(o, id++, 1000, 4);
        ck_assert_int_eq(outbox_admit(o, 1000, 4, why, sizeof(why)), -ENOSPC);
        outbox_free(o);
}
END_TEST

/* ---- core: order and ids ----------------------------------------------------------------------- */

START_TEST(test_order_and_ids)
{
        struct outbox *o = new_outbox(NULL);
        struct outbox_message m = make_msg(7, 1, 3);
        const struct outbox_message *p;

        ck_assert_uint_eq(outbox_next_id(o), 1);
        ck_assert_ptr_null(outbox_get(o, 0));
        ck_assert_ptr_null(outbox_head(o, T0));
        add(o, 5, 1, 2);
        add(o, 3, 1, 0);
        add(o, 9, 2, 512);
        ck_assert_int_eq(outbox_add(o, &(struct outbox_message) { .id = 5 }), -EEXIST);
        ck_assert_int_eq(outbox_add(o, &(struct outbox_message) { .id = 0 }), -EINVAL);
        ck_assert_int_eq(outbox_add(o, &(struct outbox_message) { .id = UINT64_MAX }), -EINVAL);
        ck_assert_int_eq(outbox_add(o, &(struct outbox_message) { .id = 11, .len = 513 }), -EINVAL);
        ck_assert_uint_eq(outbox_count(o), 3);
        ck_assert_uint_eq(outbox_bytes(o), 514);
        ck_assert_uint_eq(outbox_get(o, 0)->id, 3);
        ck_assert_uint_eq(outbox_get(o, 1)->id, 5);
        ck_assert_uint_eq(outbox_get(o, 2)->id, 9);
        ck_assert_ptr_null(outbox_get(o, 3));
        ck_assert_uint_eq(outbox_next_id(o), 10);
        p = outbox_find(o, 9);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(p->len, 512);
        ck_assert_uint_eq(p->data[511], (uint8_t) (9 * 31 + 511));
        ck_assert_ptr_null(outbox_find(o, 4));
        /* A pointer stays valid while others come and go. */
        ck_assert(outbox_remove(o, 5));
        ck_assert(!outbox_remove(o, 5));
        ck_assert_int_eq(outbox_add(o, &m), 0);
        ck_assert_ptr_eq(outbox_find(o, 9), p);
        ck_assert_uint_eq(outbox_get(o, 1)->id, 7);
        ck_assert_ptr_eq(outbox_head(o, T0), outbox_get(o, 0));
        /* Ids the log saw keep next_id above them; lower ones change nothing. */
        outbox_see_id(o, 100);
        ck_assert_uint_eq(outbox_next_id(o), 101);
        outbox_see_id(o, 50);
        ck_assert_uint_eq(outbox_next_id(o), 101);
        outbox_see_id(o, OUTBOX_ID_MAX);
        ck_assert_uint_eq(outbox_next_id(o), UINT64_MAX);
        ck_assert_uint_eq(outbox_clear(o), 3);
        ck_assert_uint_eq(outbox_count(o), 0);
        ck_assert_uint_eq(outbox_bytes(o), 0);
        ck_assert_uint_eq(outbox_next_id(o), UINT64_MAX);
        outbox_free(o);
        outbox_free(NULL);
}
END_TEST

/* The hard bounds hold whatever the config says (a replayed log is kept, a damaged one bounded). */
START_TEST(test_hard_bounds)
{
        struct outbox_config cfg = default_cfg;
        struct outbox *o;
        struct outbox_message m;

        cfg.max_messages = 1;
        o = new_outbox(&cfg);
        for (uint64_t id = 1; id <= OUTBOX_MESSAGES_MAX; id++)
                add(o, id, 1, 0);
        ck_assert_int_eq(outbox_admit(o, 2, 0, NULL, 0), -ENOSPC);
        m = make_msg(OUTBOX_MESSAGES_MAX + 1, 1, 0);
        ck_assert_int_eq(outbox_add(o, &m), -ENOSPC);
        outbox_free(o);
}
END_TEST

/* ---- core: back-off, drops, expiry, deadlines ---------------------------------------------------- */

START_TEST(test_backoff)
{
        static const uint64_t expect[] = { 2, 4, 8, 16, 32, 64, 128, 256, 300, 300 };
        struct outbox *o = new_outbox(NULL);

        for (uint32_t n = 1; n <= 10; n++)
                ck_assert_uint_eq(outbox_backoff(o, n), expect[n - 1] * SEC);
        ck_assert_uint_eq(outbox_backoff(o, UINT32_MAX), 300 * SEC);
        outbox_free(o);
}
END_TEST

START_TEST(test_head_held_by_backoff)
{
        struct outbox *o = new_outbox(NULL);
        uint64_t now = T0;

        add(o, 1, 1, 4);
        add(o, 2, 1, 4);
        ck_assert_uint_eq(outbox_head(o, now)->id, 1);
        ck_assert_int_eq(outbox_result(o, 1, false, now), OUTBOX_RETRY);
        ck_assert_uint_eq(outbox_find(o, 1)->attempts, 1);
        ck_assert_uint_eq(outbox_find(o, 1)->retry_at, now + 2 * SEC);
        /* Message 2 could go, but order holds it behind 1. */
        ck_assert_ptr_null(outbox_head(o, now));
        ck_assert_ptr_null(outbox_head(o, now + 2 * SEC - 1));
        ck_assert_uint_eq(outbox_next_deadline(o, now), now + 2 * SEC);
        now += 2 * SEC;
        ck_assert_uint_eq(outbox_head(o, now)->id, 1);
        ck_assert_uint_eq(outbox_next_deadline(o, now), UINT64_MAX);
        ck_assert_int_eq(outbox_result(o, 1, false, now), OUTBOX_RETRY);
        ck_assert_uint_eq(outbox_find(o, 1)->retry_at, now + 4 * SEC);
        ck_assert_int_eq(outbox_result(o, 1, true, now + 4 * SEC), OUTBOX_DELIVERED);
        ck_assert(outbox_remove(o, 1));
        ck_assert_uint_eq(outbox_head(o, now)->id, 2);
        outbox_free(o);
}
END_TEST

START_TEST(test_drop_after_max_attempts)
{
        struct outbox_config cfg = default_cfg;
        struct outbox *o;
        uint64_t now = T0;

        cfg.max_attempts = 3;
        o = new_outbox(&cfg);
        add(o, 1, 1, 1);
        ck_assert_int_eq(outbox_result(o, 1, false, now), OUTBOX_RETRY);
        now = outbox_find(o, 1)->retry_at;
        ck_assert_int_eq(outbox_result(o, 1, false, now), OUTBOX_RETRY);
        now = outbox_find(o, 1)->retry_at;
        ck_assert_int_eq(outbox_result(o, 1, false, now), OUTBOX_DROPPED);
        ck_assert_uint_eq(outbox_find(o, 1)->attempts, 3);
        /* An id cleared during its send changes nothing. */
        ck_assert_int_eq(outbox_result(o, 77, false, now), OUTBOX_DROPPED);
        ck_assert_int_eq(outbox_result(o, 77, true, now), OUTBOX_DELIVERED);
        cfg.max_attempts = 1;
        outbox_free(o);
        o = new_outbox(&cfg);
        add(o, 1, 1, 1);
        ck_assert_int_eq(outbox_result(o, 1, false, now), OUTBOX_DROPPED);
        outbox_free(o);
}
END_TEST

START_TEST(test_expiry_fake_clock)
{
        struct outbox *o = new_outbox(NULL);
        struct outbox_message m;
        uint64_t ids[8];

        /* ids 1..4: expires at T0+10s, never, T0+5s, T0+20s. */
        static const uint64_t exp[] = { 10, 0, 5, 20 };
        for (uint64_t id = 1; id <= 4; id++) {
                m = make_msg(id, 1, 1);
                m.expires = exp[id - 1] ? T0 + exp[id - 1] * SEC : 0;
                ck_assert_int_eq(outbox_add(o, &m), 0);
        }
        ck_assert_uint_eq(outbox_expired(o, T0, ids, 8), 0);
        ck_assert_uint_eq(outbox_next_deadline(o, T0), T0 + 5 * SEC);
        ck_assert_uint_eq(outbox_expired(o, T0 + 5 * SEC - 1, ids, 8), 0);
        ck_assert_uint_eq(outbox_expired(o, T0 + 5 * SEC, ids, 8), 1);
        ck_assert_uint_eq(ids[0], 3);
        ck_assert_uint_eq(outbox_expired(o, T0 + 10 * SEC, ids, 8), 2);
        ck_assert_uint_eq(ids[0], 1);
        ck_assert_uint_eq(ids[1], 3);
        /* Bounded by max. */
        ck_assert_uint_eq(outbox_expired(o, T0 + 30 * SEC, ids, 2), 2);
        ck_assert_uint_eq(outbox_expired(o, T0 + 30 * SEC, ids, 8), 3);
        ck_assert_uint_eq(ids[2], 4);
        /* An expired head is not sent. */
        ck_assert_ptr_null(outbox_head(o, T0 + 10 * SEC));
        ck_assert_uint_eq(outbox_head(o, T0 + 10 * SEC - 1)->id, 1);
        ck_assert(outbox_remove(o, 1));
        ck_assert(outbox_remove(o, 3));
        ck_assert_uint_eq(outbox_head(o, T0 + 10 * SEC)->id, 2);
        ck_assert_uint_eq(outbox_next_deadline(o, T0 + 10 * SEC), T0 + 20 * SEC);
        ck_assert(outbox_remove(o, 4));
        ck_assert_uint_eq(outbox_next_deadline(o, T0 + 10 * SEC), UINT64_MAX);
        outbox_free(o);
}
END_TEST

START_TEST(test_next_deadline)
{
        struct outbox *o = new_outbox(NULL);
        struct outbox_message m;

        ck_assert_uint_eq(outbox_next_deadline(o, T0), UINT64_MAX);
        add(o, 1, 1, 1);                /* no expiry (id % 4 != 0) */
        ck_assert_uint_eq(outbox_next_deadline(o, T0), UINT64_MAX);
        m = make_msg(2, 1, 1);
        m.expires = T0 + 100 * SEC;
        ck_assert_int_eq(outbox_add(o, &m), 0);
        ck_assert_uint_eq(outbox_next_deadline(o, T0), T0 + 100 * SEC);
        ck_assert_int_eq(outbox_result(o, 1, false, T0), OUTBOX_RETRY);
        ck_assert_uint_eq(outbox_next_deadline(o, T0), T0 + 2 * SEC);
        /* An expiry before the head's retry wins. */
        m = make_msg(3, 1, 1);
        m.expires = T0 + SEC;
        ck_assert_int_eq(outbox_add(o, &m), 0);
        ck_assert_uint_eq(outbox_next_deadline(o, T0), T0 + SEC);
        outbox_free(o);
}
END_TEST

/* A realtime clock stepped back holds nothing for longer than a back-off can last. */
START_TEST(test_clock_stepped_back)
{
        struct outbox *o = new_outbox(NULL);

        add(o, 1, 1, 4);
        add(o, 2, 1, 4);
        ck_assert_int_eq(outbox_result(o, 1, false, T0), OUTBOX_RETRY);
        ck_assert_uint_eq(outbox_find(o, 1)->retry_at, T0 + 2 * SEC);
        /* Back by a second: still a back-off (at most retry_max ahead), held until it ends. */
        ck_assert_ptr_null(outbox_head(o, T0 - SEC));
        ck_assert_uint_eq(outbox_next_deadline(o, T0 - SEC), T0 + 2 * SEC);
        /* Exactly retry_max ahead is still a back-off. */
        ck_assert_ptr_null(outbox_head(o, T0 + 2 * SEC - 300 * SEC));
        /* Back by an hour: retry_at is further ahead than any back-off, so the clock moved: due now. */
        ck_assert_ptr_nonnull(outbox_head(o, T0 - 3600 * SEC));
        ck_assert_uint_eq(outbox_head(o, T0 - 3600 * SEC)->id, 1);
        ck_assert_uint_eq(outbox_next_deadline(o, T0 - 3600 * SEC), UINT64_MAX);
        ck_assert_ptr_nonnull(outbox_head(o, T0 + 2 * SEC - 300 * SEC - 1));
        /* The next failure backs off from the new now. */
        ck_assert_int_eq(outbox_result(o, 1, false, T0 - 3600 * SEC), OUTBOX_RETRY);
        ck_assert_uint_eq(outbox_find(o, 1)->retry_at, T0 - 3600 * SEC + 4 * SEC);
        ck_assert_ptr_null(outbox_head(o, T0 - 3600 * SEC));
        outbox_free(o);
}
END_TEST

/* ---- log: records -------------------------------------------------------------------------------- */

struct capture {
        struct outbox_message m[16];
        uint64_t removed[16];
        char kinds[33];                 /* 'm' or 'r' per record */
        size_t nm, nr, n;
        int fail_at;                    /* return -EIO on this record (1-based), 0 never */
};

static int cap_message(void *ud, const struct outbox_message *m)
{
        struct capture *c = ud;

        if (++c->n == (size_t) c->fail_at)
                return -EIO;
        ck_assert_uint_lt(c->nm, 16);
        c->m[c->nm++] = *m;
        strcat(c->kinds, "m");
        return 0;
}

static int cap_removal(void *ud, uint64_t id)
{
        struct capture *c = ud;

        if (++c->n == (size_t) c->fail_at)
                return -EIO;
        ck_assert_uint_lt(c->nr, 16);
        c->removed[c->nr++] = id;
        strcat(c->kinds, "r");
        return 0;
}

static const struct outbox_log_ops cap_ops = { cap_message, cap_removal };

/* The test log: messages and removals, its record boundaries (ends[0] = end of the header). */
struct testlog {
        uint8_t b[8192];
        size_t len;
        size_t ends[32];
        size_t n;                       /* records */
};

static void log_add(struct testlog *l, int r)
{
        ck_assert_int_gt(r, 0);
        l->len += (size_t) r;
        l->ends[++l->n] = l->len;
}

static void build_log(struct testlog *l)
{
        static const uint16_t lens[] = { 2, 0, 512, 17, 1 };
        struct outbox_message m;

        memset(l, 0, sizeof(*l));
        l->len = (size_t) outbox_encode_header(l->b, sizeof(l->b));
        ck_assert_uint_eq(l->len, OUTBOX_HEADER_SIZE);
        l->ends[0] = l->len;
        for (uint64_t id = 1; id <= 5; id++) {
                m = make_msg(id, 1000 + (uint32_t) (id % 2), lens[id - 1]);
                log_add(l, outbox_encode_message(&m, l->b + l->len, sizeof(l->b) - l->len));
                if (id == 2 || id == 4)
                        log_add(l, outbox_encode_removal(id - 1, l->b + l->len, sizeof(l->b) - l->len));
        }
        log_add(l, outbox_encode_removal(9, l->b + l->len, sizeof(l->b) - l->len));
}

START_TEST(test_record_round_trip)
{
        struct capture c = { .fail_at = 0 };
        struct testlog l;
        size_t good;
        char why[128];

        build_log(&l);
        ck_assert_int_eq(outbox_log_decode(l.b, l.len, &cap_ops, &c, &good, why, sizeof(why)), 0);
        ck_assert_uint_eq(good, l.len);
        ck_assert_str_eq(c.kinds, "mmrmmrmr");
        ck_assert_uint_eq(c.nm, 5);
        for (uint64_t id = 1; id <= 5; id++) {
                static const uint16_t lens[] = { 2, 0, 512, 17, 1 };
                struct outbox_message m = make_msg(id, 1000 + (uint32_t) (id % 2), lens[id - 1]);

                ck_assert(same_message(&c.m[id - 1], &m));
                ck_assert_uint_eq(c.m[id - 1].attempts, 0);
                ck_assert_uint_eq(c.m[id - 1].retry_at, 0);
        }
        ck_assert_uint_eq(c.removed[0], 1);
        ck_assert_uint_eq(c.removed[1], 3);
        ck_assert_uint_eq(c.removed[2], 9);
        /* Sizes as documented. */
        ck_assert_uint_eq(l.ends[1] - l.ends[0], 46 + 2);
        ck_assert_uint_eq(l.ends[3] - l.ends[2], OUTBOX_REMOVAL_RECORD);
        ck_assert_uint_eq(l.ends[4] - l.ends[3], OUTBOX_RECORD_MAX);
        /* A callback's error stops the decode before that record. */
        memset(&c, 0, sizeof(c));
        c.fail_at = 3;
        ck_assert_int_eq(outbox_log_decode(l.b, l.len, &cap_ops, &c, &good, why, sizeof(why)), -EIO);
        ck_assert_uint_eq(good, l.ends[2]);
        /* ops NULL: a check only. */
        ck_assert_int_eq(outbox_log_decode(l.b, l.len, NULL, NULL, &good, NULL, 0), 0);
}
END_TEST

START_TEST(test_encode_bounds)
{
        struct outbox_message m = make_msg(1, 1, 10);
        uint8_t buf[OUTBOX_RECORD_MAX];

        ck_assert_int_eq(outbox_encode_message(&m, buf, 46 + 9), -ENOSPC);
        ck_assert_int_eq(outbox_encode_message(&m, buf, 46 + 10), 46 + 10);
        m.id = 0;
        ck_assert_int_eq(outbox_encode_message(&m, buf, sizeof(buf)), -EINVAL);
        m.id = 1;
        m.len = OUTBOX_PAYLOAD_MAX + 1;
        ck_assert_int_eq(outbox_encode_message(&m, buf, sizeof(buf)), -EINVAL);
        ck_assert_int_eq(outbox_encode_removal(0, buf, sizeof(buf)), -EINVAL);
        ck_assert_int_eq(outbox_encode_removal(1, buf, OUTBOX_REMOVAL_RECORD - 1), -ENOSPC);
        ck_assert_int_eq(outbox_encode_header(buf, OUTBOX_HEADER_SIZE - 1), -ENOSPC);
}
END_TEST

/* Hand-made bad records: each refused with its offset and reason. */
static const struct bad_case {
        const char *name;
        size_t at;                      /* offset in the record to change (after the header) */
        uint8_t value;
        const char *why;
} bad_cases[] = {
        { "length 0", 0, 0, "offset 16: record length 0 out of range" },
        { "length huge", 3, 0x80, "offset 16: record length 2147483688 out of range 1..550" },
        { "crc", 4, 0, "offset 16: checksum mismatch" },
};

START_TEST(test_bad_records)
{
        const struct bad_case *c = &bad_cases[_i];
        struct testlog l;
        size_t good = 99;
        char why[128] = "";

        build_log(&l);
        l.b[OUTBOX_HEADER_SIZE + c->at] = c->value;
        ck_assert_int_eq(outbox_log_decode(l.b, l.len, NULL, NULL, &good, why, sizeof(why)), -EBADMSG);
        ck_assert_uint_eq(good, OUTBOX_HEADER_SIZE);
        ck_assert_msg(strstr(why, c->why), "%s: why \"%s\"", c->name, why);
}
END_TEST

/* Records with a valid checksum but a body the log never writes. */
START_TEST(test_bad_bodies)
{
        uint8_t b[OUTBOX_HEADER_SIZE + OUTBOX_RECORD_MAX];
        struct outbox_message m = make_msg(1, 1, 4);
        size_t n = (size_t) outbox_encode_header(b, sizeof(b)), good;
        char why[128];
        uint8_t *rec = b + n;
        int k;

        /* Re-seal after each edit: length and CRC in front of the body. */
#define RESEAL(len) do { \
                rec[0] = (uint8_t) (len); rec[1] = (uint8_t) ((len) >> 8); rec[2] = rec[3] = 0; \
                uint32_t crc_ = durable_crc32(rec + 8, (len)); \
                rec[4] = (uint8_t) crc_; rec[5] = (uint8_t) (crc_ >> 8); \
                rec[6] = (uint8_t) (crc_ >> 16); rec[7] = (uint8_t) (crc_ >> 24); \
        } while (0)
        k = outbox_encode_message(&m, rec, sizeof(b) - n);
        rec[8] = 7;                                     /* unknown type */
        RESEAL((size_t) k - 8);
        ck_assert_int_eq(outbox_log_decode(b, n + (size_t) k, NULL, NULL, &good, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "offset 16: unknown record type 7");

        k = outbox_encode_message(&m, rec, sizeof(b) - n);
        rec[8 + 19] = 0x02;                             /* unknown flag */
        RESEAL((size_t) k - 8);
        ck_assert_int_eq(outbox_log_decode(b, n + (size_t) k, NULL, NULL, &good, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "offset 16: unknown message flags 0x02");

        k = outbox_encode_message(&m, rec, sizeof(b) - n);
        rec[8 + 36] = 5;                                /* len 5 in a record made for 4 */
        RESEAL((size_t) k - 8);
        ck_assert_int_eq(outbox_log_decode(b, n + (size_t) k, NULL, NULL, &good, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "offset 16: message of 5 payload bytes in a record of 42");

        k = outbox_encode_message(&m, rec, sizeof(b) - n);
        memset(rec + 9, 0, 8);                          /* id 0 */
        RESEAL((size_t) k - 8);
        ck_assert_int_eq(outbox_log_decode(b, n + (size_t) k, NULL, NULL, &good, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "offset 16: message id 0 out of range");

        k = outbox_encode_removal(3, rec, sizeof(b) - n);
        memset(rec + 9, 0xff, 8);                       /* id UINT64_MAX */
        RESEAL((size_t) k - 8);
        ck_assert_int_eq(outbox_log_decode(b, n + (size_t) k, NULL, NULL, &good, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "offset 16: removal of id 18446744073709551615 out of range");
        ck_assert_uint_eq(good, OUTBOX_HEADER_SIZE);
#undef RESEAL
}
END_TEST

/* ---- log: damage at every offset ---------------------------------------------------------------- */

/* The outbox the first k records of the test log give, replayed as the store does. */
static int ref_message(void *ud, const struct outbox_message *m)
{
        return outbox_add(ud, m);
}

static int ref_removal(void *ud, uint64_t id)
{
        (void) outbox_remove(ud, id);
        outbox_see_id(ud, id);
        return 0;
}

static struct outbox *expected_after(const struct testlog *l, size_t k)
{
        static const struct outbox_log_ops ops = { ref_message, ref_removal };
        struct outbox *o = new_outbox(NULL);
        size_t good;

        ck_assert_int_eq(outbox_log_decode(l->b, l->ends[k], &ops, o, &good, NULL, 0), 0);
        return o;
}

/* The highest id in records from..n of the test log (0-based: record i ends at ends[i + 1]). */
static uint64_t highest_after(const struct testlog *l, size_t from)
{
        static const uint64_t ids[] = { 1, 2, 1, 3, 4, 3, 5, 9 };      /* build_log's records */
        uint64_t high = 0;

        ck_assert_uint_eq(l->n, sizeof(ids) / sizeof(ids[0]));
        for (size_t i = from; i < l->n; i++)
                if (ids[i] > high)
                        high = ids[i];
        return high;
}

/* ---- temp dirs ----------------------------------------------------------------------------------- */

static char tmpdir[64];

static void make_dir(void)
{
        /* tmpfs where there is one: the every-offset tests open the log hundreds of times. */
        strcpy(tmpdir, access("/dev/shm", W_OK) == 0 ? "/dev/shm/test-outbox-XXXXXX" : "/tmp/test-outbox-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void clean_dir(bool rm)
{
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        char path[sizeof(tmpdir) + sizeof(e->d_name) + 1];

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
                ck_assert_int_eq(unlink(path), 0);
        }
        closedir(d);
        if (rm)
                ck_assert_int_eq(rmdir(tmpdir), 0);
}

static void remove_dir(void)
{
        clean_dir(true);
}

static void write_path(const char *name, const void *b, size_t n)
{
        char path[256];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, b, n), (ssize_t) n);
        ck_assert_int_eq(close(fd), 0);
}

/* Read tmpdir/name whole; its length. */
static size_t read_path(const char *name, uint8_t *b, size_t size)
{
        char path[256];
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        fd = open(path, O_RDONLY);
        ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
        n = read(fd, b, size);
        ck_assert_int_ge(n, 0);
        ck_assert_int_eq(close(fd), 0);
        return (size_t) n;
}

/* The one outbox.corrupt-* in tmpdir into name, or "" if none. */
static unsigned corrupt_files(char *name, size_t size)
{
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        unsigned n = 0;

        name[0] = '\0';
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                if (strncmp(e->d_name, "outbox.corrupt-", 15) == 0) {
                        ck_assert_uint_lt(strlen(e->d_name), size);
                        memcpy(name, e->d_name, strlen(e->d_name) + 1);
                        n++;
                } else {
                        ck_assert_msg(e->d_name[0] == '.' || strcmp(e->d_name, "outbox") == 0,
                                      "unexpected file %s", e->d_name);
                }
        closedir(d);
        return n;
}

static struct outbox_store *open_store(struct outbox *o, int expect, char *why, size_t why_size)
{
        struct outbox_store *s = NULL;
        int r = outbox_store_open(tmpdir, o, why, why_size, &s);

        ck_assert_msg(r == expect, "open: %d, expected %d (%s)", r, expect, why);
        return s;
}

/* ---- log: damage at every offset ---------------------------------------------------------------- */

enum damage { TRUNCATE, FLIP };
static const char *const damage_names[] = { "truncate", "flip" };

/* Damage the test log at offset at: its bytes into d (length *n); the records kept (k), the good
 * prefix and decode's result. */
static void damage(const struct testlog *l, enum damage kind, size_t at, uint8_t *d, size_t *n,
                   size_t *k, size_t *good, int *expect)
{
        memcpy(d, l->b, l->len);
        *n = kind == TRUNCATE ? at : l->len;
        if (kind == FLIP)
                d[at] ^= 0xff;
        if ((kind == TRUNCATE && at < OUTBOX_HEADER_SIZE) || (kind == FLIP && at < OUTBOX_HEADER_SIZE)) {
                *k = 0;
                *good = 0;
                *expect = -EBADMSG;
                return;
        }
        for (*k = 0; *k < l->n && l->ends[*k + 1] <= at; (*k)++)
                ;
        if (kind == FLIP) {
                /* A flip in record k+1: everything before it stays. */
                *good = l->ends[*k];
                *expect = -EBADMSG;
        } else {
                *good = l->ends[*k];
                *expect = *good == at ? 0 : -EBADMSG;
        }
}

START_TEST(test_damage_decode)
{
        static const struct outbox_log_ops ops = { ref_message, ref_removal };
        enum damage kind = (enum damage) _i;
        struct testlog l;
        uint8_t d[8192];

        build_log(&l);
        for (size_t at = 0; at < l.len + (kind == TRUNCATE); at++) {
                size_t n, k, good, got = 12345;
                struct outbox *o = new_outbox(NULL), *want;
                char why[128] = "", offset[40];
                int expect, r;

                damage(&l, kind, at, d, &n, &k, &good, &expect);
                r = outbox_log_decode(d, n, &ops, o, &got, why, sizeof(why));
                ck_assert_msg(r == expect && got == good, "%s at %zu: %d good %zu, expected %d good %zu (%s)",
                              damage_names[kind], at, r, got, expect, good, why);
                if (r < 0) {
                        snprintf(offset, sizeof(offset), "offset %zu: ", good);
                        ck_assert_msg(strncmp(why, offset, strlen(offset)) == 0, "%s at %zu: why \"%s\"",
                                      damage_names[kind], at, why);
                }
                want = expected_after(&l, k);
                assert_same_outbox(o, want);
                outbox_free(want);
                outbox_free(o);
        }
}
END_TEST

START_TEST(test_damage_open)
{
        enum damage kind = (enum damage) _i;
        struct testlog l;
        uint8_t d[8192], f[8192];

        build_log(&l);
        make_dir();
        for (size_t at = 0; at < l.len + (kind == TRUNCATE); at++) {
                size_t n, k, good, fn;
                struct outbox *o = new_outbox(NULL), *o2 = new_outbox(NULL), *want;
                struct outbox_store *s;
                char why[512] = "", aside[128], offset[40];
                int expect;

                size_t base, tomb;

                damage(&l, kind, at, d, &n, &k, &good, &expect);
                write_path("outbox", d, n);
                s = open_store(o, expect, why, sizeof(why));
                ck_assert_ptr_nonnull(s);
                want = expected_after(&l, k);
                /* The ids of the intact records after the damaged one are seen, never reused, and
                 * the rewritten log keeps the highest as a removal (a flip leaves the records
                 * after it intact; a truncation leaves none). */
                tomb = kind == FLIP ? highest_after(&l, at < OUTBOX_HEADER_SIZE ? 0 : k + 1) : 0;
                if (tomb < outbox_next_id(want))
                        tomb = 0;
                if (tomb)
                        outbox_see_id(want, tomb);
                base = good >= OUTBOX_HEADER_SIZE ? good : OUTBOX_HEADER_SIZE;
                assert_same_outbox(o, want);
                if (expect == 0) {
                        ck_assert_uint_eq(corrupt_files(aside, sizeof(aside)), 0);
                } else {
                        snprintf(offset, sizeof(offset), ": offset %zu: ", good);
                        ck_assert_msg(strstr(why, outbox_store_path(s)) && strstr(why, offset),
                                      "%s at %zu: why \"%s\"", damage_names[kind], at, why);
                        if (n > good) {
                                /* The damaged part, byte for byte, beside the log; named in why. */
                                ck_assert_uint_eq(corrupt_files(aside, sizeof(aside)), 1);
                                ck_assert_msg(strstr(why, aside), "why \"%s\" does not name %s", why, aside);
                                fn = read_path(aside, f, sizeof(f));
                                ck_assert_uint_eq(fn, n - good);
                                ck_assert(memcmp(f, d + good, fn) == 0);
                        } else {
                                ck_assert_uint_eq(corrupt_files(aside, sizeof(aside)), 0);
                        }
                        /* The log is its good part (a new header if there was none), and the
                         * removal of the highest id the rest held if it is above them. */
                        fn = read_path("outbox", f, sizeof(f));
                        ck_assert_uint_eq(fn, base + (tomb ? OUTBOX_REMOVAL_RECORD : 0));
                        ck_assert(memcmp(f, l.b, base) == 0);
                        if (tomb) {
                                uint8_t rm[OUTBOX_REMOVAL_RECORD];

                                ck_assert_int_eq(outbox_encode_removal(tomb, rm, sizeof(rm)), sizeof(rm));
                                ck_assert(memcmp(f + base, rm, sizeof(rm)) == 0);
                        }
                }
                ck_assert_uint_eq(outbox_store_size(s), base + (tomb ? OUTBOX_REMOVAL_RECORD : 0));
                outbox_store_close(s);
                /* Reopened: clean, the same messages. */
                s = open_store(o2, 0, why, sizeof(why));
                assert_same_outbox(o2, want);
                outbox_store_close(s);
                outbox_free(want);
                outbox_free(o2);
                outbox_free(o);
                clean_dir(false);
        }
        remove_dir();
}
END_TEST

/* ---- log: the edge ------------------------------------------------------------------------------- */

START_TEST(test_open_creates)
{
        struct outbox *o = new_outbox(NULL);
        struct outbox_store *s;
        uint8_t b[64], h[OUTBOX_HEADER_SIZE];
        char why[256], path[256];
        struct stat st;

        make_dir();
        s = open_store(o, 0, why, sizeof(why));
        snprintf(path, sizeof(path), "%s/outbox", tmpdir);
        ck_assert_str_eq(outbox_store_path(s), path);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        ck_assert_uint_eq(read_path("outbox", b, sizeof(b)), OUTBOX_HEADER_SIZE);
        (void) outbox_encode_header(h, sizeof(h));
        ck_assert(memcmp(b, h, sizeof(h)) == 0);
        ck_assert(memcmp(b, "BC26OBOX\1\0\0\0", 12) == 0);
        ck_assert(!outbox_store_should_compact(s, o));
        outbox_store_close(s);
        /* No directory: a clear error, nothing opened. */
        s = (struct outbox_store *) 1;
        ck_assert_int_eq(outbox_store_open("/nonexistent-bc26d", o, why, sizeof(why), &s), -ENOENT);
        ck_assert_ptr_eq(s, (struct outbox_store *) 1);
        ck_assert_str_eq(why, "/nonexistent-bc26d/outbox: cannot create: No such file or directory");
        outbox_free(o);
        remove_dir();
}
END_TEST

/* A newer bc26d's log is left alone. */
START_TEST(test_open_newer_version)
{
        struct outbox *o = new_outbox(NULL);
        struct outbox_store *s = NULL;
        uint8_t b[OUTBOX_HEADER_SIZE + 8], back[64];
        uint32_t crc;
        char why[256];

        make_dir();
        memcpy(b, "BC26OBOX\2\0\0\0", 12);
        crc = durable_crc32(b, 12);
        for (int i = 0; i < 4; i++)
                b[12 + i] = (uint8_t) (crc >> (8 * i));
        memset(b + 16, 0xab, 8);
        write_path("outbox", b, sizeof(b));
        ck_assert_int_eq(outbox_store_open(tmpdir, o, why, sizeof(why), &s), -EPROTONOSUPPORT);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(why, "log version 2 is newer than this bc26d's 1; left as it is"), "%s", why);
        ck_assert_uint_eq(read_path("outbox", back, sizeof(back)), sizeof(b));
        ck_assert(memcmp(back, b, sizeof(b)) == 0);
        ck_assert_uint_eq(corrupt_files((char[64]) { 0 }, 64), 0);
        outbox_free(o);
        remove_dir();
}
END_TEST

/* Appends, then a reopen sees the same queue; ids go on above every id seen. */
START_TEST(test_append_and_reopen)
{
        struct outbox *o = new_outbox(NULL), *o2 = new_outbox(NULL);
        struct outbox_store *s;
        char why[256];

        make_dir();
        s = open_store(o, 0, why, sizeof(why));
        for (uint64_t id = 1; id <= 6; id++) {
                struct outbox_message m = make_msg(outbox_next_id(o), 7, (uint16_t) (id * 50));

                ck_assert_uint_eq(m.id, id);
                ck_assert_int_eq(outbox_store_append_message(s, &m), 0);
                ck_assert_int_eq(outbox_add(o, &m), 0);
        }
        for (uint64_t id = 5; id <= 6; id++) {
                ck_assert_int_eq(outbox_store_append_removal(s, id), 0);
                ck_assert(outbox_remove(o, id));
        }
        ck_assert_uint_eq(outbox_store_size(s), OUTBOX_HEADER_SIZE + 6 * 46 + 1050 + 2 * OUTBOX_REMOVAL_RECORD);
        outbox_store_close(s);
        s = open_store(o2, 0, why, sizeof(why));
        assert_same_outbox(o2, o);
        ck_assert_uint_eq(outbox_next_id(o2), 7);
        outbox_store_close(s);
        outbox_free(o2);
        outbox_free(o);
        remove_dir();
}
END_TEST

/* The seam: a write that stops half way, a sync that fails. */
static int seam_mode;

static ssize_t seam_pwrite(int fd, const void *buf, size_t n, off_t off)
{
        if (seam_mode == 1) {
                /* Half the record reaches the file, then the disk is full. */
                static bool second;

                if (!second) {
                        second = true;
                        return pwrite(fd, buf, n / 2, off);
                }
                second = false;
                errno = ENOSPC;
                return -1;
        }
        if (seam_mode == 3) {
                errno = EROFS;
                return -1;
        }
        return pwrite(fd, buf, n, off);
}

static int seam_sync(int fd)
{
        if (seam_mode == 2) {
                errno = EIO;
                return -1;
        }
        return fdatasync(fd);
}

static const struct append_fail_case {
        int mode;
        int expect;
} append_fail_cases[] = {
        { 1, -ENOSPC },
        { 2, -EIO },
        { 3, -EROFS },
};

START_TEST(test_append_failure_cut_back)
{
        static const struct outbox_store_io io = { seam_pwrite, seam_sync };
        struct outbox *o = new_outbox(NULL), *o2 = new_outbox(NULL);
        struct outbox_message m1 = make_msg(1, 1, 100), m2 = make_msg(2, 1, 300), m3 = make_msg(3, 1, 5);
        struct outbox_store *s;
        uint8_t before[4096], after[4096];
        size_t nb, na;
        char why[256];

        make_dir();
        s = open_store(o, 0, why, sizeof(why));
        outbox_store_set_io(s, &io);
        seam_mode = 0;
        ck_assert_int_eq(outbox_store_append_message(s, &m1), 0);
        nb = read_path("outbox", before, sizeof(before));
        seam_mode = append_fail_cases[_i].mode;
        ck_assert_int_eq(outbox_store_append_message(s, &m2), append_fail_cases[_i].expect);
        na = read_path("outbox", after, sizeof(after));
        ck_assert_uint_eq(na, nb);
        ck_assert(memcmp(before, after, nb) == 0);
        ck_assert_uint_eq(outbox_store_size(s), nb);
        ck_assert_int_eq(outbox_store_append_removal(s, 1), append_fail_cases[_i].expect);
        /* The next append goes where the failed one would have. */
        seam_mode = 0;
        ck_assert_int_eq(outbox_store_append_message(s, &m3), 0);
        outbox_store_close(s);
        s = open_store(o2, 0, why, sizeof(why));
        ck_assert_uint_eq(outbox_count(o2), 2);
        ck_assert_uint_eq(outbox_get(o2, 0)->id, 1);
        ck_assert_uint_eq(outbox_get(o2, 1)->id, 3);
        outbox_store_close(s);
        outbox_free(o2);
        outbox_free(o);
        remove_dir();
}
END_TEST

/* A real short write: the file size limit stops the record part way (then EFBIG). */
START_TEST(test_append_short_write_rlimit)
{
        struct outbox *o = new_outbox(NULL), *o2 = new_outbox(NULL);
        struct outbox_message m1 = make_msg(1, 1, 10), m2 = make_msg(2, 1, 400);
        struct outbox_store *s;
        struct rlimit old, lim;
        uint8_t before[4096], after[4096];
        size_t nb;
        char why[256];
        int r;

        make_dir();
        s = open_store(o, 0, why, sizeof(why));
        ck_assert_int_eq(outbox_store_append_message(s, &m1), 0);
        nb = read_path("outbox", before, sizeof(before));
        ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
        (void) signal(SIGXFSZ, SIG_IGN);
        lim = old;
        lim.rlim_cur = nb + 100;
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
        r = outbox_store_append_message(s, &m2);
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
        ck_assert_int_eq(r, -EFBIG);
        ck_assert_uint_eq(read_path("outbox", after, sizeof(after)), nb);
        ck_assert(memcmp(before, after, nb) == 0);
        ck_assert_int_eq(outbox_store_append_message(s, &m2), 0);
        outbox_store_close(s);
        s = open_store(o2, 0, why, sizeof(why));
        ck_assert_uint_eq(outbox_count(o2), 2);
        outbox_store_close(s);
        outbox_free(o2);
        outbox_free(o);
        remove_dir();
}
END_TEST

/* Compaction keeps the live messages in order, and ids keep increasing after a reopen. */
START_TEST(test_compaction)
{
        struct outbox *o = new_outbox(NULL), *o2;
        struct outbox_store *s;
        uint64_t id;
        char why[256];

        make_dir();
        s = open_store(o, 0, why, sizeof(why));
        /* Enough traffic to pass OUTBOX_COMPACT_MIN with a few live messages. */
        for (id = 1; id <= 200; id++) {
                struct outbox_message m = make_msg(id, 1, 400);

                ck_assert_int_eq(outbox_store_append_message(s, &m), 0);
                ck_assert_int_eq(outbox_add(o, &m), 0);
                if (id % 10 != 3) {
                        ck_assert_int_eq(outbox_store_append_removal(s, id), 0);
                        ck_assert(outbox_remove(o, id));
                }
                /* Only an empty queue compacts a small log. */
                ck_assert(!outbox_store_should_compact(s, o) || outbox_count(o) == 0 ||
                          outbox_store_size(s) > OUTBOX_COMPACT_MIN);
        }
        ck_assert_uint_eq(outbox_count(o), 20);
        ck_assert(outbox_store_size(s) > OUTBOX_COMPACT_MIN);
        ck_assert(outbox_store_should_compact(s, o));
        ck_assert_int_eq(outbox_store_compact(s, o), 0);
        ck_assert(!outbox_store_should_compact(s, o));
        /* 20 live messages and the removal of 200 (the highest id seen). */
        ck_assert_uint_eq(outbox_store_size(s), OUTBOX_HEADER_SIZE + 20 * (46 + 400) + OUTBOX_REMOVAL_RECORD);
        /* Appends go to the new file. */
        {
                struct outbox_message m = make_msg(outbox_next_id(o), 1, 4);

                ck_assert_uint_eq(m.id, 201);
                ck_assert_int_eq(outbox_store_append_message(s, &m), 0);
                ck_assert_int_eq(outbox_add(o, &m), 0);
        }
        outbox_store_close(s);
        o2 = new_outbox(NULL);
        s = open_store(o2, 0, why, sizeof(why));
        assert_same_outbox(o2, o);
        for (size_t i = 0; i + 1 < outbox_count(o2); i++)
                ck_assert_uint_lt(outbox_get(o2, i)->id, outbox_get(o2, i + 1)->id);
        ck_assert_uint_eq(outbox_get(o2, 0)->id, 3);

        /* Emptied: compacted down to the header and the highest id; ids are never reused. */
        while (outbox_count(o2) > 0) {
                id = outbox_get(o2, 0)->id;
                ck_assert_int_eq(outbox_store_append_removal(s, id), 0);
                ck_assert(outbox_remove(o2, id));
        }
        ck_assert(outbox_store_should_compact(s, o2));
        ck_assert_int_eq(outbox_store_compact(s, o2), 0);
        ck_assert_uint_eq(outbox_store_size(s), OUTBOX_HEADER_SIZE + OUTBOX_REMOVAL_RECORD);
        ck_assert(!outbox_store_should_compact(s, o2));
        outbox_store_close(s);
        outbox_free(o2);
        o2 = new_outbox(NULL);
        s = open_store(o2, 0, why, sizeof(why));
        ck_assert_uint_eq(outbox_count(o2), 0);
        ck_assert_uint_eq(outbox_next_id(o2), 202);
        outbox_store_close(s);
        outbox_free(o2);
        outbox_free(o);
        remove_dir();
}
END_TEST

/* ---- log: a read-only state dir, a failing directory fsync, a broken store ------------------- */

static int ro_mode;                     /* 1: the log and its directory refuse O_RDWR (EROFS) */
static unsigned ro_rdwr_opens;

static int ro_open(const char *path, int flags)
{
        if ((flags & O_ACCMODE) != O_RDONLY) {
                ro_rdwr_opens++;
                if (ro_mode) {
                        errno = EROFS;
                        return -1;
                }
        }
        return open(path, flags);
}

static void store_messages(uint64_t from, uint64_t to, struct outbox *o)
{
        struct outbox_store *s;
        char why[256];

        s = open_store(o, 0, why, sizeof(why));
        for (uint64_t id = from; id <= to; id++) {
                struct outbox_message m = make_msg(id, 1, 20);

                ck_assert_int_eq(outbox_store_append_message(s, &m), 0);
                ck_assert_int_eq(outbox_add(o, &m), 0);
        }
        outbox_store_close(s);
}

/* What is stored is replayed (and so delivered) from a read-only state dir; appends are refused
 * with EROFS, removals too (trying to reopen only once in OUTBOX_RETRY_EVERY); once writable, an
 * append works without a restart. */
START_TEST(test_read_only_dir)
{
        static const struct outbox_store_io io = { .open = ro_open };
        struct outbox *o = new_outbox(NULL), *o2 = new_outbox(NULL), *o3 = new_outbox(NULL);
        struct outbox_message m = make_msg(4, 1, 8);
        struct outbox_store *s = NULL;
        uint8_t before[4096], after[4096];
        size_t nb;
        char why[256] = "";

        make_dir();
        store_messages(1, 3, o);
        nb = read_path("outbox", before, sizeof(before));
        ro_mode = 1;
        ro_rdwr_opens = 0;
        ck_assert_int_eq(outbox_store_open_io(tmpdir, o2, &io, why, sizeof(why), &s), 0);
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(strstr(why, "opened read-only (Read-only file system)") && strstr(why, outbox_store_path(s)),
                      "why \"%s\"", why);
        assert_same_outbox(o2, o);
        ck_assert_int_eq(outbox_store_error(s), -EROFS);
        ck_assert_int_eq(outbox_store_append_message(s, &m), -EROFS);
        /* Delivery goes on in memory: removals fail the same way, and do not retry every time. */
        ro_rdwr_opens = 0;
        for (int i = 0; i < 2 * OUTBOX_RETRY_EVERY; i++) {
                ck_assert_int_eq(outbox_store_append_removal(s, 1), -EROFS);
                ck_assert(!outbox_store_should_compact(s, o2) || i % OUTBOX_RETRY_EVERY == OUTBOX_RETRY_EVERY - 1);
        }
        ck_assert_uint_le(ro_rdwr_opens, 2);
        ck_assert_uint_eq(read_path("outbox", after, sizeof(after)), nb);
        ck_assert(memcmp(before, after, nb) == 0);
        (void) outbox_remove(o2, 1);
        /* Writable again: the next message append reopens read-write. */
        ro_mode = 0;
        ck_assert_int_eq(outbox_store_append_message(s, &m), 0);
        ck_assert_int_eq(outbox_add(o2, &m), 0);
        ck_assert_int_eq(outbox_store_error(s), 0);
        ck_assert_int_eq(outbox_store_append_removal(s, 1), 0);
        outbox_store_close(s);
        s = open_store(o3, 0, why, sizeof(why));
        assert_same_outbox(o3, o2);
        outbox_store_close(s);
        outbox_free(o3);
        outbox_free(o2);
        outbox_free(o);
        remove_dir();
}
END_TEST

/* Not root: a real read-only state dir (root ignores the mode bits). */
START_TEST(test_read_only_dir_real)
{
        struct outbox *o = new_outbox(NULL), *o2 = new_outbox(NULL);
        struct outbox_message m = make_msg(4, 1, 8);
        struct outbox_store *s = NULL;
        char why[256] = "", path[256];

        if (geteuid() == 0) {
                outbox_free(o2);
                outbox_free(o);
                return;
        }
        make_dir();
        store_messages(1, 3, o);
        snprintf(path, sizeof(path), "%s/outbox", tmpdir);
        ck_assert_int_eq(chmod(path, 0400), 0);
        ck_assert_int_eq(chmod(tmpdir, 0500), 0);
        ck_assert_int_eq(outbox_store_open(tmpdir, o2, why, sizeof(why), &s), 0);
        assert_same_outbox(o2, o);
        ck_assert_int_eq(outbox_store_error(s), -EACCES);
        ck_assert_int_eq(outbox_store_append_message(s, &m), -EACCES);
        ck_assert_int_eq(chmod(tmpdir, 0700), 0);
        ck_assert_int_eq(chmod(path, 0600), 0);
        ck_assert_int_eq(outbox_store_append_message(s, &m), 0);
        outbox_store_close(s);
        outbox_free(o2);
        outbox_free(o);
        remove_dir();
}
END_TEST

static int dir_sync_fails;

static int seam_sync_dir(int fd)
{
        if (dir_sync_fails) {
                errno = EIO;
                return -1;
        }
        return fsync(fd);
}

/* After a rename whose directory fsync failed (a compaction, a recovery rewrite), appends go to
 * the live file, never to the unlinked old one, and sync the directory before they succeed. */
START_TEST(test_rename_dir_sync_fails)
{
        static const struct outbox_store_io io = { .sync_dir = seam_sync_dir };
        struct outbox *o = new_outbox(NULL), *o2;
        struct outbox_message m5 = make_msg(5, 1, 8), m6 = make_msg(6, 1, 8);
        struct outbox_store *s;
        struct testlog l;
        char why[512];

        make_dir();
        store_messages(1, 4, o);
        o2 = new_outbox(NULL);
        s = open_store(o2, 0, why, sizeof(why));
        outbox_store_set_io(s, &io);
        ck_assert_int_eq(outbox_store_append_removal(s, 1), 0);
        ck_assert(outbox_remove(o2, 1));
        dir_sync_fails = 1;
        ck_assert_int_eq(outbox_store_compact(s, o2), 0);
        /* The directory still cannot be synced: not acknowledged, nothing left in the file. */
        ck_assert_int_eq(outbox_store_append_message(s, &m5), -EIO);
        dir_sync_fails = 0;
        ck_assert_int_eq(outbox_store_append_message(s, &m5), 0);
        ck_assert_int_eq(outbox_add(o2, &m5), 0);
        outbox_store_close(s);
        outbox_free(o);
        o = new_outbox(NULL);
        s = open_store(o, 0, why, sizeof(why));
        assert_same_outbox(o, o2);
        outbox_store_close(s);
        outbox_free(o);
        outbox_free(o2);
        clean_dir(false);

        /* The same after a recovery rewrite (a damaged tail). */
        build_log(&l);
        write_path("outbox", l.b, l.len - 1);
        o = new_outbox(NULL);
        dir_sync_fails = 1;
        s = NULL;
        ck_assert_int_eq(outbox_store_open_io(tmpdir, o, &io, why, sizeof(why), &s), -EBADMSG);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(outbox_store_append_message(s, &m6), -EIO);
        dir_sync_fails = 0;
        ck_assert_int_eq(outbox_store_append_message(s, &m6), 0);
        ck_assert_int_eq(outbox_add(o, &m6), 0);
        outbox_store_close(s);
        o2 = new_outbox(NULL);
        s = open_store(o2, 0, why, sizeof(why));
        assert_same_outbox(o2, o);
        ck_assert_ptr_nonnull(outbox_find(o2, 6));
        outbox_store_close(s);
        outbox_free(o2);
        outbox_free(o);
        remove_dir();
}
END_TEST

static int truncate_fails;

static int seam_truncate(int fd, off_t len)
{
        if (truncate_fails) {
                errno = EIO;
                return -1;
        }
        return ftruncate(fd, len);
}

/* A failed append that cannot be cut back heals at the next append, also with an empty queue and
 * no compaction asked for: by a cut back that works now, or by a rewrite from the queue. */
START_TEST(test_broken_store_heals)
{
        static const struct outbox_store_io io = { seam_pwrite, seam_sync, seam_truncate, NULL, NULL };
        struct outbox *o, *o2;
        struct outbox_message m1 = make_msg(1, 1, 100), m2 = make_msg(2, 1, 300), m3 = make_msg(3, 1, 5);
        struct outbox_store *s;
        char why[256];

        for (int round = 0; round < 2; round++) {
                make_dir();
                o = new_outbox(NULL);
                s = open_store(o, 0, why, sizeof(why));
                outbox_store_set_io(s, &io);
                seam_mode = 0;
                truncate_fails = 0;
                ck_assert_int_eq(outbox_store_append_message(s, &m1), 0);
                ck_assert_int_eq(outbox_store_append_removal(s, 1), 0);
                /* Half a record reaches the file and stays there. */
                seam_mode = 1;
                truncate_fails = 1;
                ck_assert_int_eq(outbox_store_append_message(s, &m2), -ENOSPC);
                ck_assert_int_eq(outbox_store_error(s), -ENOSPC);
                /* Round 0: the cut back works again; round 1: it never does (a rewrite heals). */
                seam_mode = 0;
                truncate_fails = round;
                ck_assert_int_eq(outbox_store_append_message(s, &m3), 0);
                ck_assert_int_eq(outbox_add(o, &m3), 0);
                ck_assert_int_eq(outbox_store_error(s), 0);
                outbox_store_close(s);
                o2 = new_outbox(NULL);
                s = open_store(o2, 0, why, sizeof(why));
                assert_same_outbox(o2, o);
                outbox_store_close(s);
                outbox_free(o2);
                outbox_free(o);
                remove_dir();
        }
        truncate_fails = 0;
}
END_TEST

/* A record damaged in the middle: the ids after it are never handed out again, also after the
 * next restart; their messages are not brought back. */
START_TEST(test_damage_middle_ids)
{
        struct outbox *o = new_outbox(NULL), *o2 = new_outbox(NULL), *o3 = new_outbox(NULL);
        struct outbox_store *s;
        uint8_t b[8192];
        size_t n, third;
        char why[512];

        make_dir();
        store_messages(1, 10, o);
        n = read_path("outbox", b, sizeof(b));
        third = OUTBOX_HEADER_SIZE + 2 * (46 + 20);
        b[third + 20] ^= 0x40;          /* message 3's body */
        write_path("outbox", b, n);
        s = open_store(o2, -EBADMSG, why, sizeof(why));
        ck_assert_uint_eq(outbox_count(o2), 2);
        ck_assert_uint_eq(outbox_next_id(o2), 11);
        outbox_store_close(s);
        s = open_store(o3, 0, why, sizeof(why));
        ck_assert_uint_eq(outbox_count(o3), 2);
        ck_assert_uint_eq(outbox_next_id(o3), 11);
        outbox_store_close(s);
        /* The scan itself: every record of the tail, none in an empty or short buffer. */
        ck_assert_uint_eq(outbox_log_max_id(b + third, n - third), 10);
        ck_assert_uint_eq(outbox_log_max_id(b + third, 20), 0);
        ck_assert_uint_eq(outbox_log_max_id(b, 0), 0);
        outbox_free(o3);
        outbox_free(o2);
        outbox_free(o);
        remove_dir();
}
END_TEST

static Suite *outbox_suite(void)
{
        Suite *s = suite_create("outbox");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_admit, 0, (int) (sizeof(admit_cases) / sizeof(admit_cases[0])));
        tcase_add_test(tc, test_config_ranges);
        tcase_add_test(tc, test_share_two_uids);
        tcase_add_test(tc, test_order_and_ids);
        tcase_add_test(tc, test_hard_bounds);
        tcase_add_test(tc, test_backoff);
        tcase_add_test(tc, test_head_held_by_backoff);
        tcase_add_test(tc, test_drop_after_max_attempts);
        tcase_add_test(tc, test_expiry_fake_clock);
        tcase_add_test(tc, test_next_deadline);
        tcase_add_test(tc, test_clock_stepped_back);
        suite_add_tcase(s, tc);

        tc = tcase_create("log");
        tcase_add_test(tc, test_record_round_trip);
        tcase_add_test(tc, test_encode_bounds);
        tcase_add_loop_test(tc, test_bad_records, 0, (int) (sizeof(bad_cases) / sizeof(bad_cases[0])));
        tcase_add_test(tc, test_bad_bodies);
        tcase_add_loop_test(tc, test_damage_decode, TRUNCATE, FLIP + 1);
        tcase_add_loop_test(tc, test_damage_open, TRUNCATE, FLIP + 1);
        tcase_add_test(tc, test_open_creates);
        tcase_add_test(tc, test_open_newer_version);
        tcase_add_test(tc, test_append_and_reopen);
        tcase_add_loop_test(tc, test_append_failure_cut_back, 0,
                            (int) (sizeof(append_fail_cases) / sizeof(append_fail_cases[0])));
        tcase_add_test(tc, test_append_short_write_rlimit);
        tcase_add_test(tc, test_compaction);
        tcase_add_test(tc, test_read_only_dir);
        tcase_add_test(tc, test_read_only_dir_real);
        tcase_add_test(tc, test_rename_dir_sync_fails);
        tcase_add_test(tc, test_broken_store_heals);
        tcase_add_test(tc, test_damage_middle_ids);
        tcase_set_timeout(tc, 120);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(outbox_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
