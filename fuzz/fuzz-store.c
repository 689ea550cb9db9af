/* fuzz-store.c - store_decode() over arbitrary bytes (an exact-size copy). Checks: it returns 0 or
 * -EBADMSG with a reason; with a tiny or absent reason buffer it decides the same; an accepted
 * record keeps the machine's invariants, encodes again, and decodes back to the same record. */
#include <errno.h>

#include "fuzz.h"
#include "store.h"

static bool state_equal(const struct fota_state *a, const struct fota_state *b)
{
        return a->phase == b->phase && a->window == b->window && a->window_expired == b->window_expired &&
               a->deadline_usec == b->deadline_usec && a->download_deadline_usec == b->download_deadline_usec &&
               a->progress == b->progress && a->pending_result == b->pending_result &&
               a->pending_code == b->pending_code && a->last_result == b->last_result &&
               a->last_code == b->last_code;
}

FUZZ_TARGET(store)
{
        char *text = malloc(size ? size : 1);
        struct store_record rec, back;
        char why[128], tiny[2], buf[4096];
        int r, n;

        if (!text)
                abort();
        memcpy(text, data, size);

        why[0] = '\0';
        r = store_decode(text, size, &rec, why, sizeof(why));
        fuzz_check(r == 0 || r == -EBADMSG, "returned %d", r);
        if (r < 0)
                fuzz_check(why[0] != '\0' && strnlen(why, sizeof(why)) < sizeof(why), "no reason given");
        fuzz_check(store_decode(text, size, &back, tiny, sizeof(tiny)) == r, "reason buffer changes the result");
        fuzz_check(store_decode(text, size, &back, NULL, 0) == r, "no reason buffer changes the result");

        if (r == 0) {
                const struct fota_state *st = &rec.st;

                fuzz_check((unsigned) st->phase <= FOTA_PHASE_REPORTING, "phase %d", (int) st->phase);
                fuzz_check(st->progress <= 100 && st->window <= 2, "progress %u window %u", st->progress, st->window);
                fuzz_check((unsigned) st->pending_result <= FOTA_RESULT_TIMEOUT &&
                           (unsigned) st->last_result <= FOTA_RESULT_TIMEOUT, "result");
                fuzz_check(st->phase == FOTA_PHASE_IDLE || st->deadline_usec != 0, "active phase without deadline");
                fuzz_check(st->phase != FOTA_PHASE_DOWNLOADING || st->download_deadline_usec != 0,
                           "downloading without its limit");
                fuzz_check(strnlen(rec.boot_id, sizeof(rec.boot_id)) == 36, "boot id");

                n = store_encode(&rec, buf, sizeof(buf));
                fuzz_check(n > 0, "accepted record does not encode: %d", n);
                r = store_decode(buf, (size_t) n, &back, why, sizeof(why));
                fuzz_check(r == 0, "re-encoded record does not decode: %s", why);
                fuzz_check(state_equal(&rec.st, &back.st) && strcmp(rec.boot_id, back.boot_id) == 0 &&
                           rec.saved_realtime_usec == back.saved_realtime_usec, "round trip changed the record");
        }
        free(text);
        return 0;
}
