/* at-channel.c - the AT command channel: one command in flight, a bounded FIFO behind it,
 * response assembly, timeouts, URC dispatch, reboot detection and the DFOTA gate.
 * A core: it never reads the clock or a file descriptor; writes go through ops->write. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "at-channel.h"
#include "line.h"
#include "reboot.h"

#define RESPONSE_ARENA 8192     /* bytes of intermediate lines kept for the command in flight */

struct at_entry {
        struct at_entry *next;
        bool resync;            /* the channel's own AT+CMEE?: no owner, no callback */
        bool written;           /* handed to the tty (its bytes may reach the module) */
        struct at_request req;  /* req.text and req.expect point into the strings below */
        char *text;
        char *expect;
        uint64_t deadline;
};

struct at_channel {
        const struct at_channel_ops *ops;
        void *ud;
        bool connected;
        enum at_gate gate;

        struct at_entry *inflight;
        bool need_resync;               /* late answers may still come: resync before the next command */
        bool resync_marker;             /* the resync in flight has seen its "+CMEE:" line */
        struct at_entry *head, *tail;   /* queued, not written */
        size_t n_queued;

        /* intermediate lines of the command in flight */
        char arena[RESPONSE_ARENA];
        size_t arena_used;
        size_t n_lines;
        size_t line_off[AT_RESPONSE_LINES_MAX];

        struct line_splitter splitter;
        struct reboot_detector reboot;
        uint64_t now;                   /* time of the bytes being fed */
        struct at_channel_stats stats;
};

static struct at_entry *entry_free(struct at_entry *e)
{
        if (!e)
                return NULL;
        free(e->text);
        free(e->expect);
        free(e);
        return NULL;
}

static void complete(struct at_channel *ch, struct at_entry *e, enum at_status status, int cme,
                     bool with_lines, uint64_t now)
{
        struct at_response r = { .status = status, .cme = cme, .now = now, .written = e->written };

        if (with_lines) {
                r.n_lines = ch->n_lines;
                for (size_t i = 0; i < ch->n_lines; i++)
                        r.lines[i] = ch->arena + ch->line_off[i];
        }
        if (e->req.done && !e->resync)
                e->req.done(e->req.userdata, &r);
        entry_free(e);
}

static void reset_response(struct at_channel *ch)
{
        ch->arena_used = 0;
        ch->n_lines = 0;
}

static void kick(struct at_channel *ch, uint64_t now);

/* Finish the command in flight and start the next one. */
static void finish_inflight(struct at_channel *ch, enum at_status status, int cme, uint64_t now)
{
        struct at_entry *e = ch->inflight;

        if (!e)
                return;
        ch->inflight = NULL;    /* before the callback: it may submit */
        complete(ch, e, status, cme, true, now);
        reset_response(ch);
        kick(ch, now);
}

static struct at_entry *queue_pop(struct at_channel *ch)
{
        struct at_entry *e = ch->head;

        if (!e)
                return NULL;
        ch->head = e->next;
        if (!ch->head)
                ch->tail = NULL;
        e->next = NULL;
        ch->n_queued--;
        return e;
}

/* Take every queued entry out (or only those the gate refuses) into a private list, then
 * complete them: callbacks may submit again, so the queue must be consistent while they run. */
static void fail_queued(struct at_channel *ch, enum at_status status, bool only_gated, uint64_t now)
{
        struct at_entry *failed = NULL, **failed_tail = &failed;
        struct at_entry *e;

        ch->tail = NULL;
        for (struct at_entry **p = &ch->head; (e = *p); ) {
                if (only_gated && at_gate_allows(ch->gate, at_cmd_spec(e->req.cmd)->cls,
                                                 e->req.table2_reset)) {
                        ch->tail = e;
                        p = &e->next;
                        continue;
                }
                *p = e->next;           /* unlink, append to the failed list */
                e->next = NULL;
                *failed_tail = e;
                failed_tail = &e->next;
                ch->n_queued--;
        }

        for (struct at_entry *next; failed; failed = next) {
                next = failed->next;
                complete(ch, failed, status, 0, false, now);
        }
}

static struct at_entry *resync_entry(const struct at_entry *head)
{
        struct at_entry *e = calloc(1, sizeof(*e));

        if (!e)
                return NULL;
        e->resync = true;
        e->text = strdup("AT+CMEE?\r");
        e->expect = strdup("+CMEE:");
        if (!e->text || !e->expect)
                return entry_free(e);
        e->text[strlen(e->text) - 1] = '\0';   /* the slot for CR, as for queued entries */
        e->req.cmd = AT_CMD_RESYNC;
        e->req.text = e->text;
        e->req.expect = e->expect;
        e->req.timeout_usec = head->req.timeout_usec;
        return e;
}

/* Write an entry and make it the one in flight. A failed write is not retried here: the entry
 * times out at its deadline like one the module never answered. */
static void write_entry(struct at_channel *ch, struct at_entry *e, uint64_t now)
{
        size_t n = strlen(e->text);

        e->text[n] = '\r';      /* the slot after the text was reserved for CR */
        e->written = true;      /* even a failed write may have passed some bytes on */
        if (ch->ops->write(ch->ud, e->text, n + 1) < 0)
                ch->need_resync = true;
        e->text[n] = '\0';
        e->deadline = now + e->req.timeout_usec;
        reset_response(ch);
        ch->inflight = e;
}

static void kick(struct at_channel *ch, uint64_t now)
{
        while (!ch->inflight && ch->head && ch->connected) {
                struct at_entry *e = ch->head;

                /* The gate was checked at submit and on every change; check again so that no
                 * path can write a gated command. */
                if (!at_gate_allows(ch->gate, at_cmd_spec(e->req.cmd)->cls, e->req.table2_reset)) {
                        complete(ch, queue_pop(ch), AT_STATUS_GATED, 0, false, now);
                        continue;
                }
                /* A reset makes the module forget whatever it still had to say: no resync first
                 * (and during an upgrade nothing else may be written). */
                if (ch->need_resync && !e->req.table2_reset && e->req.cmd != AT_CMD_QRST &&
                    at_gate_allows(ch->gate, AT_CLASS_INIT, false)) {
                        struct at_entry *sync = resync_entry(e);

                        if (sync) {
                                ch->stats.resyncs++;
                                ch->resync_marker = false;
                                write_entry(ch, sync, now);
                                return;
                        }
                        /* Out of memory: go on without; shapes still protect the answers. */
                }
                write_entry(ch, queue_pop(ch), now);
        }
}

struct at_channel *at_channel_new(const struct at_channel_ops *ops, void *ud, uint64_t boot_window_usec)
{
        struct at_channel *ch;

        assert(ops && ops->write);
        ch = calloc(1, sizeof(*ch));
        if (!ch)
                return NULL;
        ch->ops = ops;
        ch->ud = ud;
        ch->gate = AT_GATE_OPEN;
        line_splitter_init(&ch->splitter);
        reboot_detector_init(&ch->reboot, boot_window_usec);
        return ch;
}

struct at_channel *at_channel_free(struct at_channel *ch)
{
        if (!ch)
                return NULL;
        /* No callbacks at teardown: the owners are going away too. */
        entry_free(ch->inflight);
        for (struct at_entry *e = ch->head, *next; e; e = next) {
                next = e->next;
                entry_free(e);
        }
        free(ch);
        return NULL;
}

int at_channel_submit(struct at_channel *ch, const struct at_request *req, uint64_t now)
{
        const struct at_cmd_spec *spec;
        struct at_entry *e;
        size_t n;

        if (!req || (unsigned) req->cmd >= _AT_CMD_MAX || !req->text)
                return -EINVAL;
        spec = at_cmd_spec(req->cmd);
        n = strlen(req->text);
        if (n == 0 || n > AT_COMMAND_MAX || strncmp(req->text, spec->prefix, strlen(spec->prefix)) != 0 ||
            strpbrk(req->text, "\r\n"))
                return -EINVAL;
        if (req->table2_reset && spec->cls != AT_CLASS_RESET)
                return -EINVAL;
        if (!at_gate_allows(ch->gate, spec->cls, req->table2_reset))
                return -EBUSY;
        if (!ch->connected)
                return -ENOTCONN;
        if (ch->n_queued >= AT_CHANNEL_QUEUE_MAX)
                return -ENOBUFS;

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->text = malloc(n + 2);        /* + CR + NUL */
        if (!e->text) {
                free(e);
                return -ENOMEM;
        }
        memcpy(e->text, req->text, n + 1);
        if (req->expect) {
                e->expect = strdup(req->expect);
                if (!e->expect) {
                        entry_free(e);
                        return -ENOMEM;
                }
        }
        e->req = *req;
        e->req.text = e->text;
        e->req.expect = e->expect;

        if (ch->tail)
                ch->tail->next = e;
        else
                ch->head = e;
        ch->tail = e;
        ch->n_queued++;
        kick(ch, now);
        return 0;
}

static void keep_response_line(struct at_channel *ch, const char *line, size_t len)
{
        if (ch->n_lines >= AT_RESPONSE_LINES_MAX || ch->arena_used + len + 1 > sizeof(ch->arena))
                return;         /* bounded: extra lines of a chatty response are dropped */
        memcpy(ch->arena + ch->arena_used, line, len + 1);
        ch->line_off[ch->n_lines++] = ch->arena_used;
        ch->arena_used += len + 1;
}

/* Fail the command in flight and everything queued behind it (no new command is written). */
static void fail_all(struct at_channel *ch, enum at_status status, uint64_t now)
{
        struct at_entry *e = ch->inflight;

        if (e) {
                ch->inflight = NULL;
                complete(ch, e, status, 0, false, now);
                reset_response(ch);
        }
        fail_queued(ch, status, false, now);
}

static void module_rebooted(struct at_channel *ch, uint64_t now)
{
        ch->stats.reboots++;
        ch->need_resync = false;        /* a fresh module has no late answers to give */
        /* The module forgot everything: the command in flight and everything queued behind it
         * were meant for a module state that no longer exists. */
        fail_all(ch, AT_STATUS_REBOOTED, now);
        if (ch->ops->reboot)
                ch->ops->reboot(ch->ud, now);
}

static void dispatch(struct at_channel *ch, const char *text, const struct at_line *l, uint64_t now)
{
        if (ch->ops->line)
                ch->ops->line(ch->ud, text, l, now);
}

/* A line while the resync is in flight; true if consumed. Results before the "+CMEE:" line are
 * late answers to commands that timed out: dropped (the owner may log them as stray). The final
 * result after it ends the resync. URCs and boot lines take their normal path. */
static bool resync_line(struct at_channel *ch, const char *text, const struct at_line *l, uint64_t now)
{
        switch (l->cls) {
        case AT_LINE_RESPONSE:
                ch->resync_marker = true;
                return true;
        case AT_LINE_OK:
        case AT_LINE_ERROR:
        case AT_LINE_CME_ERROR:
                reboot_detector_other_line(&ch->reboot, now);
                if (!ch->resync_marker) {
                        ch->stats.stale_results++;
                        dispatch(ch, text, l, now);
                        return true;
                }
                ch->need_resync = false;
                finish_inflight(ch, AT_STATUS_OK, 0, now);     /* no callback: the resync has no owner */
                return true;
        case AT_LINE_ECHO:
        case AT_LINE_BOOT:
        case AT_LINE_URC:
        case AT_LINE_ASYNC:
        case AT_LINE_UNKNOWN:
                return false;
        }
        return false;
}

static void on_line(void *userdata, const char *text, size_t len)
{
        struct at_channel *ch = userdata;
        uint64_t now = ch->now;
        struct at_classify_ctx ctx = {
                .pending = ch->inflight ? ch->inflight->text : NULL,
                .expect = ch->inflight ? ch->inflight->expect : NULL,
                .bare = ch->inflight && ch->inflight->req.bare,
        };
        struct at_line l;

        ch->stats.lines++;
        at_classify(text, &ctx, &l);
        if (ch->inflight && ch->inflight->resync && resync_line(ch, text, &l, now))
                return;

        switch (l.cls) {
        case AT_LINE_BOOT:
                if (reboot_detector_boot_line(&ch->reboot, now))
                        module_rebooted(ch, now);
                return;
        case AT_LINE_ECHO:
                return;
        case AT_LINE_RESPONSE:
                if (ch->inflight)
                        keep_response_line(ch, text, len);
                return;
        case AT_LINE_OK:
        case AT_LINE_ERROR:
        case AT_LINE_CME_ERROR:
                reboot_detector_other_line(&ch->reboot, now);
                if (ch->inflight) {
                        enum at_status st = l.cls == AT_LINE_OK ? AT_STATUS_OK :
                                            l.cls == AT_LINE_ERROR ? AT_STATUS_ERROR : AT_STATUS_CME_ERROR;
                        finish_inflight(ch, st, l.cls == AT_LINE_CME_ERROR ? l.cme : 0, now);
                } else
                        dispatch(ch, text, &l, now);    /* stray result: the owner may log it */
                return;
        case AT_LINE_URC:
                if (l.urc.type == URC_RDY) {
                        if (reboot_detector_rdy(&ch->reboot, now))
                                module_rebooted(ch, now);
                } else
                        reboot_detector_other_line(&ch->reboot, now);
                dispatch(ch, text, &l, now);
                return;
        case AT_LINE_ASYNC:
                reboot_detector_other_line(&ch->reboot, now);
                dispatch(ch, text, &l, now);
                return;
        case AT_LINE_UNKNOWN:
                ch->stats.unknown_lines++;
                dispatch(ch, text, &l, now);
                return;
        }
}

void at_channel_feed(struct at_channel *ch, const void *data, size_t n, uint64_t now)
{
        ch->now = now;
        line_splitter_feed(&ch->splitter, data, n, on_line, ch);
        ch->stats.overlong_lines = ch->splitter.lines_overlong;
        ch->stats.dropped_bytes = ch->splitter.bytes_dropped;
}

/* Drop what the tty has not taken yet: it belongs to a command no longer in flight. */
static void discard_output(struct at_channel *ch)
{
        if (ch->ops->discard)
                ch->stats.discarded_bytes += ch->ops->discard(ch->ud);
}

void at_channel_tick(struct at_channel *ch, uint64_t now)
{
        struct at_entry *e = ch->inflight;

        if (!e || now < e->deadline)
                return;
        ch->stats.timeouts++;
        discard_output(ch);
        ch->need_resync = true;
        if (!e->resync) {
                finish_inflight(ch, AT_STATUS_TIMEOUT, 0, now);
                return;
        }
        /* The module answered not even the resync: the command waiting behind it counts as
         * unanswered (its owner decides what silence means); the next one gets a new resync. */
        entry_free(e);
        ch->inflight = NULL;
        reset_response(ch);
        e = queue_pop(ch);
        if (e)
                complete(ch, e, AT_STATUS_TIMEOUT, 0, false, now);
        kick(ch, now);
}

uint64_t at_channel_next_deadline(const struct at_channel *ch)
{
        return ch->inflight ? ch->inflight->deadline : UINT64_MAX;
}

bool at_channel_set_gate(struct at_channel *ch, enum at_gate gate, uint64_t now)
{
        if (ch->gate == gate)
                return false;
        ch->gate = gate;
        if (gate == AT_GATE_CLOSED && ch->ops->discard) {
                size_t n = ch->ops->discard(ch->ud);

                /* Bytes of the command in flight still queued for a stalled tty must not reach an
                 * upgrading module: drop them; the command never (fully) reached it. */
                ch->stats.discarded_bytes += n;
                if (n > 0 && ch->inflight) {
                        struct at_entry *e = ch->inflight;

                        ch->need_resync = true;
                        ch->inflight = NULL;
                        complete(ch, e, AT_STATUS_GATED, 0, false, now);
                        reset_response(ch);
                }
        }
        fail_queued(ch, AT_STATUS_GATED, true, now);
        kick(ch, now);
        return true;
}

enum at_gate at_channel_get_gate(const struct at_channel *ch)
{
        return ch->gate;
}

void at_channel_set_connected(struct at_channel *ch, bool connected, uint64_t now)
{
        if (ch->connected == connected)
                return;
        ch->connected = connected;
        if (connected)
                return;         /* nothing is queued while disconnected: submit refuses */
        line_splitter_reset(&ch->splitter);
        if (ch->inflight)
                ch->need_resync = true; /* the same module may still answer it after a replug */
        fail_all(ch, AT_STATUS_CANCELLED, now);
}

bool at_channel_busy(const struct at_channel *ch)
{
        return ch->inflight || ch->head;
}

void at_channel_get_stats(const struct at_channel *ch, struct at_channel_stats *out)
{
        *out = ch->stats;
}

const char *at_status_to_string(enum at_status s)
{
        switch (s) {
        case AT_STATUS_OK:              return "ok";
        case AT_STATUS_ERROR:           return "error";
        case AT_STATUS_CME_ERROR:       return "cme-error";
        case AT_STATUS_TIMEOUT:         return "timeout";
        case AT_STATUS_REBOOTED:        return "rebooted";
        case AT_STATUS_GATED:           return "gated";
        case AT_STATUS_CANCELLED:       return "cancelled";
        }
        return "invalid";
}
