/* ctl-queue.h - `bc26ctl queue` output: the waiting messages of Lwm2m1.GetQueue() printed as a
 * table or as JSON, and ClearQueue()'s count. Pure formatting (no bus, no clock: now is given). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One GetQueue() dict; a key the reply lacks keeps the value the reader set (doc/dbus-api.md). */
struct ctl_queue_entry {
        uint64_t id;
        uint64_t enqueued;              /* usec since the epoch */
        uint64_t expires;               /* usec since the epoch, 0 never */
        uint32_t size;                  /* payload bytes */
        uint32_t attempts;              /* failed sends so far */
        uint32_t object, instance, resource;
        bool confirmable;
        uint64_t next_attempt;          /* usec since the epoch, 0 as soon as the module is ready */
};

/* The table, ID AGE SIZE ATTEMPTS TARGET EXPIRES NEXT (spans as ctl_history_span shows them), one line per entry in the order given
 * (id order), with AGE = now - enqueued ("?" if enqueued is 0 or after now), EXPIRES "never",
 * "expired" or "in 5m00s", NEXT "now" or "in 12s" (future spans rounded up to the second); or
 * "The queue is empty." when n is 0. now: usec since the epoch. */
void ctl_queue_print_text(FILE *f, const struct ctl_queue_entry *e, size_t n, uint64_t now);

/* A JSON array of objects with GetQueue()'s keys, on one line. */
void ctl_queue_print_json(FILE *f, const struct ctl_queue_entry *e, size_t n);

/* ClearQueue()'s answer: "Dropped 3 messages." ("Dropped 1 message."). */
void ctl_queue_print_cleared(FILE *f, uint32_t dropped);
