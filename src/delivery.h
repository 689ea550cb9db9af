/* delivery.h - store and forward: Enqueue writes a message to the outbox log (durable before the
 * reply), and the pump hands the oldest one to the LwM2M session while the module may be used,
 * one at a time, in id order, through the same send queue as SendData; results, back-off,
 * expiry and ClearQueue update the log before they are announced. The decisions are outbox.c's;
 * this file joins it to its log (outbox-store.c) and to lwm2m.c. Time is an argument. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct lwm2m;
struct outbox;

/* Cookies of outbox sends carry this bit; SendData's cookies never do. */
#define DELIVERY_COOKIE_BIT (UINT64_C(1) << 63)

struct delivery_ops {
        void (*delivered)(void *ud, uint64_t id);
        void (*dropped)(void *ud, uint64_t id, const char *reason);
};

struct delivery_request {
        unsigned obj, inst, res;
        const uint8_t *data;
        size_t len;
        bool has_ttl;
        uint32_t ttl_s;
        bool confirmable;
        uint32_t uid;
};

struct delivery;

/* Open (or create) state_dir/outbox and replay it. A damaged tail is moved aside (logged); a log
 * that cannot be opened at all leaves the outbox empty and every Enqueue failing with the reason.
 * Only -ENOMEM is fatal. */
int delivery_new(const struct config_outbox *cfg, const char *state_dir, struct lwm2m *lwm2m,
                 const struct delivery_ops *ops, void *ud, struct delivery **out);
struct delivery *delivery_free(struct delivery *d);

/* 0 and *id once the message is in the log (fsync'd); -ENOBUFS (a limit: the queue's or the
 * caller's share; why has the numbers) or another negative errno (the log could not be written,
 * e.g. -ENOSPC for a full disk; why names the file and the error). */
int delivery_enqueue(struct delivery *d, const struct delivery_request *rq, uint64_t now_realtime,
                     uint64_t *id, char *why, size_t why_size);

/* Drop every waiting message ("cleared"); 0 and *dropped, or negative errno (why). */
int delivery_clear(struct delivery *d, uint32_t *dropped, char *why, size_t why_size);

/* Drop what expired; if ready (State ready: registered, no upgrade) and nothing of ours is in
 * flight, hand the oldest due message to the session. */
void delivery_pump(struct delivery *d, bool ready, uint64_t now_realtime, uint64_t now_boottime);

/* A send whose cookie has DELIVERY_COOKIE_BIT finished (lwm2m send_done). */
void delivery_send_done(struct delivery *d, uint64_t cookie, int result, const char *said, uint64_t now_realtime);

/* When something becomes due (a back-off ends, a message expires), in usec since the epoch;
 * UINT64_MAX if nothing waits for time. */
uint64_t delivery_next_deadline(const struct delivery *d, uint64_t now_realtime);

const struct outbox *delivery_outbox(const struct delivery *d);
