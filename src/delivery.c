/* delivery.c - store and forward between D-Bus (Enqueue, ClearQueue), the outbox (outbox.c: what
 * waits, in which order, until when), its log (outbox-store.c: what survives) and the LwM2M
 * session (lwm2m.c: the send). Every change is in the log before it is announced: Enqueue replies
 * after the append's fsync, DataDelivered/DataDropped after the removal's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "delivery.h"
#include "log.h"
#include "lwm2m.h"
#include "outbox-store.h"
#include "outbox.h"

struct delivery {
        struct config_outbox cfg;
        struct outbox_config oc;
        char *state_dir;
        struct outbox *outbox;
        struct outbox_store *store;     /* NULL: the log could not be opened (open_error says why) */
        int open_error;
        char open_why[256];
        struct lwm2m *lwm2m;
        const struct delivery_ops *ops;
        void *ud;
        uint64_t inflight;              /* id handed to the session and not finished, 0 none */
};

static void log_store_error(const struct delivery *d, int r, const char *what, uint64_t id)
{
        log_errno(LOG_ERR, r, "Failed to record %s of outbox message %llu in %s/%s (the outbox goes on in "
                  "memory; after a restart the message may be sent again; check the directory's free space "
                  "and permissions)", what, (unsigned long long) id, d->state_dir, OUTBOX_FILE_NAME);
}

/* Remove a message: first in the log, then in memory; then the log is compacted if it is
 * mostly dead records. A log that cannot be written does not stop the delivery. */
static void forget(struct delivery *d, uint64_t id)
{
        int r;

        if (d->store) {
                r = outbox_store_append_removal(d->store, id);
                if (r < 0)
                        log_store_error(d, r, "the removal", id);
        }
        outbox_remove(d->outbox, id);
        /* One in flight stays "in flight" until its send_done: the session may still write it,
         * and nothing else of ours goes out before it finished. */
        if (d->store && outbox_store_should_compact(d->store, d->outbox)) {
                r = outbox_store_compact(d->store, d->outbox);
                if (r < 0)
                        log_errno(LOG_WARNING, r, "Failed to compact the outbox log %s (it keeps growing until "
                                  "the next try)", outbox_store_path(d->store));
        }
}

static void drop(struct delivery *d, uint64_t id, const char *reason)
{
        log_notice("Outbox message %llu dropped: %s", (unsigned long long) id, reason);
        forget(d, id);
        if (d->ops->dropped)
                d->ops->dropped(d->ud, id, reason);
}

int delivery_new(const struct config_outbox *cfg, const char *state_dir, struct lwm2m *lwm2m,
                 const struct delivery_ops *ops, void *ud, struct delivery **out)
{
        struct outbox_config oc = {
                .max_messages = cfg->max_messages,
                .max_bytes = cfg->max_bytes,
                .max_share_percent = cfg->max_share_percent,
                .max_attempts = cfg->max_attempts,
                .retry_min_usec = (uint64_t) cfg->retry_min_s * USEC_PER_SEC,
                .retry_max_usec = (uint64_t) cfg->retry_max_s * USEC_PER_SEC,
        };
        struct delivery *d = calloc(1, sizeof(*d));
        char why[512] = "";
        int r;

        if (!d)
                return -ENOMEM;
        d->cfg = *cfg;
        d->oc = oc;
        d->lwm2m = lwm2m;
        d->ops = ops;
        d->ud = ud;
        d->state_dir = strdup(state_dir);
        r = d->state_dir ? outbox_new(&oc, &d->outbox) : -ENOMEM;
        if (r < 0) {
                delivery_free(d);
                return r;
        }
        r = outbox_store_open(state_dir, d->outbox, why, sizeof(why), &d->store);
        if (r == -ENOMEM) {
                delivery_free(d);
                return r;
        }
        if (r == -EBADMSG && d->store) {
                log_error("The outbox log was damaged: %s; the messages before the damage are kept", why);
        } else if (r == 0 && why[0]) {
                /* e.g. opened read-only: what it holds is delivered, Enqueue fails until it can write */
                log_warning("Outbox: %s", why);
        } else if (r < 0) {
                /* Nothing can be stored: Enqueue says why; the rest of the daemon goes on. */
                d->open_error = r;
                snprintf(d->open_why, sizeof(d->open_why), "%s", why[0] ? why : strerror(-r));
                log_error("The outbox log in %s cannot be used (%s): Enqueue will fail until bc26d is restarted "
                          "with a usable state directory", state_dir, d->open_why);
                d->store = outbox_store_close(d->store);
        }
        if (outbox_count(d->outbox) > 0)
                log_info("Outbox: %zu messages (%llu bytes) waiting from before the restart", outbox_count(d->outbox),
                         (unsigned long long) outbox_bytes(d->outbox));
        *out = d;
        return 0;
}

struct delivery *delivery_free(struct delivery *d)
{
        if (!d)
                return NULL;
        outbox_store_close(d->store);
        outbox_free(d->outbox);
        free(d->state_dir);
        free(d);
        return NULL;
}

int delivery_enqueue(struct delivery *d, const struct delivery_request *rq, uint64_t now_realtime,
                     uint64_t *id, char *why, size_t why_size)
{
        struct outbox_message *m;
        uint32_t ttl = rq->has_ttl ? rq->ttl_s : d->cfg.default_ttl_s;
        int r;

        if (!d->store) {
                snprintf(why, why_size, "The outbox log cannot be written: %s", d->open_why);
                return d->open_error < 0 ? d->open_error : -EIO;
        }
        r = outbox_admit(d->outbox, rq->uid, rq->len, why, why_size);
        if (r < 0)
                return -ENOBUFS;        /* a limit (ENOSPC/EDQUOT there), not the disk */
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->id = outbox_next_id(d->outbox);
        m->uid = rq->uid;
        m->obj = (uint16_t) rq->obj;
        m->inst = (uint16_t) rq->inst;
        m->res = (uint16_t) rq->res;
        m->confirmable = rq->confirmable;
        m->enqueued = now_realtime;
        m->expires = ttl ? now_realtime + (uint64_t) ttl * USEC_PER_SEC : 0;
        m->len = (uint16_t) rq->len;
        memcpy(m->data, rq->data, rq->len);
        r = outbox_store_append_message(d->store, m);
        if (r < 0) {
                snprintf(why, why_size, "Could not store the message in %s: %s (nothing was queued)",
                         outbox_store_path(d->store), strerror(-r));
                r = r == -ENOBUFS ? -EIO : r;   /* never mistaken for a queue limit */
        } else {
                r = outbox_add(d->outbox, m);
                if (r >= 0)
                        *id = m->id;
        }
        if (r >= 0)
                log_debug("Outbox message %llu queued: %u/%u/%u, %u bytes, ttl %u s", (unsigned long long) m->id,
                          rq->obj, rq->inst, rq->res, (unsigned) rq->len, ttl);
        free(m);
        return r < 0 ? r : 0;
}

/* One rewrite of the log with nothing in it (not one removal per message): either every message
 * is gone from the log, or none is and the caller hears why. */
int delivery_clear(struct delivery *d, uint32_t *dropped, char *why, size_t why_size)
{
        struct outbox *empty = NULL;
        uint32_t n = 0;
        int r;

        *dropped = 0;
        if (outbox_count(d->outbox) == 0)
                return 0;
        if (!d->store) {
                snprintf(why, why_size, "The outbox log cannot be written: %s; nothing was cleared", d->open_why);
                return d->open_error < 0 ? d->open_error : -EIO;
        }
        r = outbox_new(&d->oc, &empty);
        if (r < 0)
                return r;
        outbox_see_id(empty, outbox_next_id(d->outbox) - 1);   /* ids are never reused */
        r = outbox_store_compact(d->store, empty);
        outbox_free(empty);
        if (r < 0) {
                snprintf(why, why_size, "Could not rewrite %s: %s; nothing was cleared", outbox_store_path(d->store),
                         strerror(-r));
                return r == -ENOBUFS ? -EIO : r;
        }
        while (outbox_count(d->outbox) > 0) {
                uint64_t id = outbox_get(d->outbox, 0)->id;

                outbox_remove(d->outbox, id);
                n++;
                if (d->ops->dropped)
                        d->ops->dropped(d->ud, id, "cleared");
        }
        log_notice("Outbox cleared: %u messages dropped", n);
        *dropped = n;
        return 0;
}

void delivery_pump(struct delivery *d, bool ready, uint64_t now_realtime, uint64_t now_boottime)
{
        const struct outbox_message *m;
        uint64_t ids[32];
        size_t n;
        int r;

        /* Expired: dropped without a send, also while the module may not be used. One in flight
         * is left to its result. */
        do {
                size_t dropped = 0;

                n = outbox_expired(d->outbox, now_realtime, ids, sizeof(ids) / sizeof(ids[0]));
                for (size_t i = 0; i < n; i++)
                        if (ids[i] != d->inflight) {
                                drop(d, ids[i], "expired");
                                dropped++;
                        }
                n = dropped;
        } while (n > 0);
        if (!ready || d->inflight)
                return;
        m = outbox_head(d->outbox, now_realtime);
        if (!m)
                return;
        d->inflight = m->id;
        r = lwm2m_send(d->lwm2m, m->obj, m->inst, m->res, m->data, m->len, m->confirmable,
                       DELIVERY_COOKIE_BIT | m->id, now_boottime);
        if (r < 0) {
                /* Busy (its queue is full of SendData calls) or no longer ready: the next event
                 * tries again; nothing was sent, so it is no attempt. */
                log_debug("Outbox message %llu not handed over yet: %s", (unsigned long long) m->id, strerror(-r));
                d->inflight = 0;
        }
}

void delivery_send_done(struct delivery *d, uint64_t cookie, int result, const char *said, uint64_t now_realtime)
{
        uint64_t id = cookie & ~DELIVERY_COOKIE_BIT;
        char reason[160];

        if (d->inflight == id)
                d->inflight = 0;
        if (!outbox_find(d->outbox, id))
                return;         /* cleared (or expired) while it was being sent */
        if (result == 0) {
                log_info("Outbox message %llu delivered (%s)", (unsigned long long) id, said && said[0] ? said : "OK");
                forget(d, id);
                if (d->ops->delivered)
                        d->ops->delivered(d->ud, id);
                return;
        }
        if (!said || !said[0]) {
                /* Never reached the module (an upgrade began, the session was lost): not an attempt. */
                log_debug("Outbox message %llu not sent (%s); it waits", (unsigned long long) id, strerror(-result));
                return;
        }
        snprintf(reason, sizeof(reason), "failed: %s", said);
        switch (outbox_result(d->outbox, id, false, now_realtime)) {
        case OUTBOX_DROPPED:
                drop(d, id, reason);
                break;
        case OUTBOX_RETRY:
                log_warning("Outbox message %llu: the module said %s; retrying later (attempt %u of %u)",
                            (unsigned long long) id, said, outbox_find(d->outbox, id)->attempts, d->cfg.max_attempts);
                break;
        case OUTBOX_DELIVERED:
                break;
        }
}

uint64_t delivery_next_deadline(const struct delivery *d, uint64_t now_realtime)
{
        uint64_t t = outbox_next_deadline(d->outbox, now_realtime);

        /* Due now but in flight (an expiry that passed while it was being sent): its result is an
         * event that runs the pump again; a timer for "now" would only spin until then. */
        if (d->inflight && t <= now_realtime)
                return UINT64_MAX;
        return t;
}

const struct outbox *delivery_outbox(const struct delivery *d)
{
        return d->outbox;
}
