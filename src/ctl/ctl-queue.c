/* ctl-queue.c - `bc26ctl queue` formatting: the outbox table, its JSON form and the count of
 * `queue --clear`. Pure: it only writes to the FILE it is given; the time is an argument. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "ctl-history.h"
#include "ctl-queue.h"

#define COL_GAP "  "

/* "in 12s" for a time after now (rounded up: never "in 0s"), else past. */
static void format_future(uint64_t at, uint64_t now, const char *past, char *buf, size_t size)
{
        char span[32];
        uint64_t d;

        if (at <= now) {
                (void) snprintf(buf, size, "%s", past);
                return;
        }
        d = at - now;
        ctl_history_span(d / USEC_PER_SEC + (d % USEC_PER_SEC != 0), span, sizeof(span));
        (void) snprintf(buf, size, "in %s", span);
}

struct row {
        char id[24], age[32], size[16], attempts[16], target[24], expires[40], next[40];
};

static void make_row(const struct ctl_queue_entry *e, uint64_t now, struct row *r)
{
        (void) snprintf(r->id, sizeof(r->id), "%" PRIu64, e->id);
        if (e->enqueued == 0 || e->enqueued > now)
                (void) snprintf(r->age, sizeof(r->age), "?");   /* unknown, or the clock went back */
        else
                ctl_history_span((now - e->enqueued) / USEC_PER_SEC, r->age, sizeof(r->age));
        (void) snprintf(r->size, sizeof(r->size), "%" PRIu32, e->size);
        (void) snprintf(r->attempts, sizeof(r->attempts), "%" PRIu32, e->attempts);
        (void) snprintf(r->target, sizeof(r->target), "%" PRIu32 "/%" PRIu32 "/%" PRIu32, e->object,
                        e->instance, e->resource);
        if (e->expires == 0)
                (void) snprintf(r->expires, sizeof(r->expires), "never");
        else
                format_future(e->expires, now, "expired", r->expires, sizeof(r->expires));
        format_future(e->next_attempt, now, "now", r->next, sizeof(r->next));
}

static int width(int w, const char *s)
{
        int n = (int) strlen(s);

        return n > w ? n : w;
}

void ctl_queue_print_text(FILE *f, const struct ctl_queue_entry *e, size_t n, uint64_t now)
{
        int w_id = (int) strlen("ID"), w_age = (int) strlen("AGE"), w_size = (int) strlen("SIZE");
        int w_attempts = (int) strlen("ATTEMPTS"), w_target = (int) strlen("TARGET");
        int w_expires = (int) strlen("EXPIRES");
        struct row r;

        if (n == 0) {
                fputs("The queue is empty.\n", f);
                return;
        }
        /* Two passes: the widths first, so the columns line up whatever the entries hold. */
        for (size_t i = 0; i < n; i++) {
                make_row(&e[i], now, &r);
                w_id = width(w_id, r.id);
                w_age = width(w_age, r.age);
                w_size = width(w_size, r.size);
                w_attempts = width(w_attempts, r.attempts);
                w_target = width(w_target, r.target);
                w_expires = width(w_expires, r.expires);
        }
        fprintf(f, "%*s" COL_GAP "%-*s" COL_GAP "%*s" COL_GAP "%*s" COL_GAP "%-*s" COL_GAP "%-*s"
                COL_GAP "%s\n", w_id, "ID", w_age, "AGE", w_size, "SIZE", w_attempts, "ATTEMPTS",
                w_target, "TARGET", w_expires, "EXPIRES", "NEXT");
        for (size_t i = 0; i < n; i++) {
                make_row(&e[i], now, &r);
                fprintf(f, "%*s" COL_GAP "%-*s" COL_GAP "%*s" COL_GAP "%*s" COL_GAP "%-*s" COL_GAP
                        "%-*s" COL_GAP "%s\n", w_id, r.id, w_age, r.age, w_size, r.size, w_attempts,
                        r.attempts, w_target, r.target, w_expires, r.expires, r.next);
        }
}

void ctl_queue_print_json(FILE *f, const struct ctl_queue_entry *e, size_t n)
{
        fputc('[', f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s{\"id\":%" PRIu64 ",\"enqueued\":%" PRIu64 ",\"expires\":%" PRIu64
                        ",\"size\":%" PRIu32 ",\"attempts\":%" PRIu32 ",\"object\":%" PRIu32
                        ",\"instance\":%" PRIu32 ",\"resource\":%" PRIu32 ",\"confirmable\":%s"
                        ",\"next_attempt\":%" PRIu64 "}", i > 0 ? "," : "", e[i].id, e[i].enqueued,
                        e[i].expires, e[i].size, e[i].attempts, e[i].object, e[i].instance,
                        e[i].resource, e[i].confirmable ? "true" : "false", e[i].next_attempt);
        fputs("]\n", f);
}

void ctl_queue_print_cleared(FILE *f, uint32_t dropped)
{
        fprintf(f, "Dropped %" PRIu32 " message%s.\n", dropped, dropped == 1 ? "" : "s");
}
