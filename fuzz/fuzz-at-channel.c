/* fuzz-at-channel.c - the AT channel fed random bytes while commands are submitted (also from
 * completion callbacks), time passes, the tty comes and goes and the DFOTA gate flips.
 *
 * Checks: nothing the gate refuses is ever written; each command is written once, in the order
 * accepted, with its exact text and a CR, and one at a time; submit refuses exactly
 * what the gate refuses (-EBUSY) and what it cannot take; every accepted command completes exactly
 * once (a gated one never written, an answered one always written, a timed-out one unless the
 * resync ahead of it went unanswered), and its response says whether it was written; busy() tells the
 * truth; disconnecting fails everything.
 *
 * The channel's own resync (at-channel.h, at_channel_tick) is modelled too: its AT+CMEE? is
 * written exactly when one is due (after a timeout, a failed write or a disconnect that cut a
 * command off, and no reboot since) and a queued command other than a reset waits behind it,
 * never while a command is in flight and never through a gate that refuses init commands; the
 * next command's write means it was answered (no more resync due), and that command counts as not
 * written if the resync timed out ahead of it. */
#include <errno.h>

#include "at-channel.h"
#include "fuzz.h"

#define REQS_MAX 256

struct model;

struct req {
        struct model *m;
        unsigned id;
        enum at_cmd cmd;
        enum at_cmd_class cls;
        bool table2;
        bool accepted, written, completed;
        uint8_t resubmit;       /* nonzero: submit another command from the done callback */
        char text[64];
};

struct model {
        struct at_channel *ch;
        enum at_gate gate;
        bool connected;
        bool write_fails;
        uint64_t now;
        struct req reqs[REQS_MAX];
        unsigned n_reqs;
        unsigned depth;
        unsigned n_written, last_written;
        bool resync_due;        /* the channel's need_resync, as seen from outside */
        bool resync_inflight;   /* its AT+CMEE? was written and has not ended (as far as seen) */
        bool rebooting;         /* REBOOTED completions seen, ops->reboot not yet */
};

static bool in_flight(const struct model *m)
{
        for (unsigned i = 0; i < m->n_reqs; i++)
                if (m->reqs[i].written && !m->reqs[i].completed)
                        return true;
        return false;
}

/* The channel writes AT+CMEE? (no ";id": every submitted text has one) ahead of the queue head. */
static void on_resync_write(struct model *m)
{
        const struct req *head = NULL;

        for (unsigned i = 0; i < m->n_reqs && !head; i++)
                if (m->reqs[i].accepted && !m->reqs[i].written && !m->reqs[i].completed)
                        head = &m->reqs[i];
        fuzz_check(m->resync_due, "resync written when none was due");
        fuzz_check(!in_flight(m) && !m->resync_inflight, "resync written while a command is in flight");
        fuzz_check(head != NULL, "resync written with nothing queued behind it");
        fuzz_check(!head->table2 && head->cmd != AT_CMD_QRST, "resync written ahead of a reset (%s)", head->text);
        fuzz_check(at_gate_allows(m->gate, AT_CLASS_INIT, false), "resync written through gate %s",
                   at_gate_to_string(m->gate));
        m->resync_inflight = true;
}

static int on_write(void *ud, const void *buf, size_t len)
{
        struct model *m = ud;
        struct req *r = NULL;

        fuzz_check(m->connected, "write while disconnected");
        fuzz_check(len >= 2 && ((const char *) buf)[len - 1] == '\r', "write without its CR");
        if (len - 1 == strlen("AT+CMEE?") && memcmp(buf, "AT+CMEE?", len - 1) == 0) {
                on_resync_write(m);
                if (m->write_fails)
                        m->resync_due = true;
                return m->write_fails ? -EIO : 0;
        }
        /* Every command text is unique: find which one this is. */
        for (unsigned i = 0; i < m->n_reqs; i++)
                if (strlen(m->reqs[i].text) == len - 1 && memcmp(buf, m->reqs[i].text, len - 1) == 0) {
                        r = &m->reqs[i];
                        break;
                }
        fuzz_check(r != NULL, "write of nothing submitted: \"%.*s\"", (int) len - 1, (const char *) buf);
        fuzz_check(r->accepted && !r->written && !r->completed, "request %u written again or after completion", r->id);
        fuzz_check(at_gate_allows(m->gate, r->cls, r->table2), "gated command written: %s (gate %s)", r->text,
                   at_gate_to_string(m->gate));
        /* FIFO: commands go out in the order they were accepted. */
        fuzz_check(m->n_written == 0 || r->id > m->last_written, "request %u written after %u", r->id, m->last_written);
        m->last_written = r->id;
        m->n_written++;
        fuzz_check(!in_flight(m), "two commands in flight");
        /* A write while the resync is in flight means it was answered (its other ends, a timeout,
         * a disconnect or a reboot, are seen). Without one, only a reset may go out while a resync
         * is due (the module forgets its late answers); the resync stays due after it. */
        if (m->resync_inflight)
                m->resync_due = false;
        else if (!r->table2 && r->cmd != AT_CMD_QRST)
                fuzz_check(!m->resync_due, "%s written without the resync due", r->text);
        m->resync_inflight = false;
        r->written = true;
        if (m->write_fails)
                m->resync_due = true;
        return m->write_fails ? -EIO : 0;
}

static void submit(struct model *m, uint8_t a, uint8_t b);

static void on_done(void *userdata, const struct at_response *resp)
{
        struct req *r = userdata;
        struct model *m = r->m;

        fuzz_check(r->accepted && !r->completed, "request %u completed twice or unasked", r->id);
        r->completed = true;
        fuzz_check(resp->written == r->written, "request %u: response says written %d, it was %d", r->id,
                   resp->written, r->written);
        switch (resp->status) {
        case AT_STATUS_GATED:
                fuzz_check(!r->written, "written command reported gated");
                fuzz_check(!at_gate_allows(m->gate, r->cls, r->table2), "allowed command reported gated");
                break;
        case AT_STATUS_TIMEOUT:
                /* Unwritten: the resync ahead of it went unanswered (the next one gets a new one). */
                fuzz_check(r->written || m->resync_inflight, "unwritten command timed out with no resync ahead");
                if (!r->written)
                        m->resync_inflight = false;
                m->resync_due = true;
                break;
        case AT_STATUS_OK:
        case AT_STATUS_ERROR:
        case AT_STATUS_CME_ERROR:
                fuzz_check(r->written, "unwritten command got status %s", at_status_to_string(resp->status));
                break;
        case AT_STATUS_REBOOTED:
                /* The channel forgot its resync before failing everything: a command resubmitted
                 * from here is written without one. */
                if (!m->rebooting) {
                        m->rebooting = true;
                        m->resync_due = false;
                        m->resync_inflight = false;
                }
                break;
        case AT_STATUS_CANCELLED:
                break;
        default:
                fuzz_check(false, "status %d", (int) resp->status);
        }
        fuzz_check(resp->n_lines <= AT_RESPONSE_LINES_MAX, "lines %zu", resp->n_lines);
        for (size_t i = 0; i < resp->n_lines; i++)
                fuzz_check(resp->lines[i] && strlen(resp->lines[i]) <= 4096, "line %zu", i);
        if (r->resubmit && m->depth < 8) {
                m->depth++;
                submit(m, r->resubmit, (uint8_t) (r->resubmit * 7));
                m->depth--;
        }
}

static void submit(struct model *m, uint8_t a, uint8_t b)
{
        struct req *r;
        const struct at_cmd_spec *spec;
        struct at_request rq;
        int ret;

        if (m->n_reqs >= REQS_MAX)
                return;
        r = &m->reqs[m->n_reqs];
        memset(r, 0, sizeof(*r));
        r->m = m;
        r->id = m->n_reqs;
        r->cmd = (enum at_cmd) (a % _AT_CMD_MAX);
        spec = at_cmd_spec(r->cmd);
        r->cls = spec->cls;
        r->table2 = r->cls == AT_CLASS_RESET && (b & 1);
        r->resubmit = (b & 6) == 6 ? (uint8_t) (b ^ a) : 0;
        if (spec->prefix[strlen(spec->prefix) - 1] == '=')
                snprintf(r->text, sizeof(r->text), "%s%u", spec->prefix, r->id);
        else
                snprintf(r->text, sizeof(r->text), "%s;%u", spec->prefix, r->id);

        rq = (struct at_request) {
                .cmd = r->cmd, .text = r->text, .timeout_usec = 1000000u * (1 + (b >> 4)),
                .expect = (b & 8) ? "+CGSN:" : NULL, .table2_reset = r->table2,
                .done = on_done, .userdata = r,
        };
        m->n_reqs++;
        r->accepted = true;     /* before the call: the write and done callbacks run inside it */
        ret = at_channel_submit(m->ch, &rq, m->now);
        if (ret == 0)
                return;
        fuzz_check(!r->written && !r->completed, "refused request %u was written or completed", r->id);
        r->accepted = false;
        if (!at_gate_allows(m->gate, r->cls, r->table2))
                fuzz_check(ret == -EBUSY, "gate refuses %s, submit said %d", r->text, ret);
        else if (!m->connected)
                fuzz_check(ret == -ENOTCONN, "disconnected, submit said %d", ret);
        else
                fuzz_check(ret == -ENOBUFS, "submit of %s said %d", r->text, ret);
}

static void on_reboot(void *ud, uint64_t now)
{
        struct model *m = ud;

        /* A fresh module has no late answers; the resync in flight (if any) was dropped. If
         * commands failed with REBOOTED that was seen already (and writes since then count). */
        if (!m->rebooting) {
                m->resync_due = false;
                m->resync_inflight = false;
        }
        m->rebooting = false;
}

static const char *const canned[] = {
        "\r\nOK\r\n", "\r\nERROR\r\n", "\r\n+CME ERROR: 50\r\n", "\r\nRDY\r\n",
        "\n\rF1: 0000 0000\n\r", "\n\rLeaving the BROM\n\r", "\r\nSEND OK\r\n", "\r\nCONNECT OK\r\n",
        "\r\n+QIND: \"FOTA\",\"COAPSTART\"\r\n", "\r\n+CGSN: 866971030399922\r\n", "Quectel\r\n",
        "AT;0\r", "\xff\x00\xff",
};

FUZZ_TARGET(at_channel)
{
        static const struct at_channel_ops ops = { .write = on_write, .reboot = on_reboot };
        struct fuzz_input in = { data, size };
        struct model *m = calloc(1, sizeof(*m));
        unsigned steps = 0;

        if (!m)
                abort();
        m->now = 1000000;
        m->gate = AT_GATE_OPEN;
        m->ch = at_channel_new(&ops, m, 10000000);
        if (!m->ch)
                abort();

        while (in.n > 0 && steps++ < 2048) {
                uint8_t op = fuzz_u8(&in);

                switch (op % 8) {
                case 0: case 1: {
                        uint8_t a = fuzz_u8(&in);

                        submit(m, a, fuzz_u8(&in));
                        break;
                }
                case 2: {
                        size_t k = fuzz_u8(&in) % 64;

                        if (k > in.n)
                                k = in.n;
                        at_channel_feed(m->ch, in.p, k, m->now);
                        in.p += k;
                        in.n -= k;
                        break;
                }
                case 3: {
                        const char *s = canned[fuzz_u8(&in) % (sizeof(canned) / sizeof(canned[0]))];

                        at_channel_feed(m->ch, s, strlen(s), m->now);
                        break;
                }
                case 4:
                        m->now += 100000ull * fuzz_u8(&in);
                        at_channel_tick(m->ch, m->now);
                        break;
                case 5:
                        m->gate = (enum at_gate) (fuzz_u8(&in) % 3);
                        at_channel_set_gate(m->ch, m->gate, m->now);
                        fuzz_check(at_channel_get_gate(m->ch) == m->gate, "gate not taken");
                        break;
                case 6:
                        m->connected = !m->connected;
                        /* A command (or the resync) cut off may still be answered after a replug. */
                        if (!m->connected && (in_flight(m) || m->resync_inflight)) {
                                m->resync_due = true;
                                m->resync_inflight = false;
                        }
                        at_channel_set_connected(m->ch, m->connected, m->now);
                        break;
                default:
                        m->write_fails = fuzz_u8(&in) % 8 == 0;
                        break;
                }

                /* busy() is "an accepted command has not completed". */
                bool pending = false;

                for (unsigned i = 0; i < m->n_reqs; i++)
                        pending = pending || (m->reqs[i].accepted && !m->reqs[i].completed);
                /* The resync keeps the channel busy even when the command behind it is gone (gated);
                 * it then ends unseen, and busy() false says so: bytes fed answered it (no resync
                 * due any more), a tick timed it out (still due). */
                bool busy = at_channel_busy(m->ch);

                fuzz_check(busy == (pending || (busy && m->resync_inflight)), "busy %d, pending %d, resync %d", busy,
                           pending, m->resync_inflight);
                fuzz_check(at_channel_next_deadline(m->ch) == UINT64_MAX || pending || m->resync_inflight,
                           "deadline without a command");
                if (!busy && m->resync_inflight) {
                        if (op % 8 == 2 || op % 8 == 3)
                                m->resync_due = false;
                        m->resync_inflight = false;
                }
        }

        /* The tty goes away: everything still pending completes, exactly once. */
        m->connected = false;
        at_channel_set_connected(m->ch, false, m->now);
        for (unsigned i = 0; i < m->n_reqs; i++)
                fuzz_check(!m->reqs[i].accepted || m->reqs[i].completed, "request %u never completed", i);
        fuzz_check(!at_channel_busy(m->ch), "busy after disconnect");
        at_channel_free(m->ch);
        free(m);
        return 0;
}
