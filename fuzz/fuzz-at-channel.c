/* fuzz-at-channel.c - the AT channel fed random bytes while commands are submitted (also from
 * completion callbacks), time passes, the tty comes and goes and the DFOTA gate flips.
 *
 * Checks: nothing the gate refuses is ever written; each command is written once, in the order
 * accepted, with its exact text and a CR, and one at a time; submit refuses exactly
 * what the gate refuses (-EBUSY) and what it cannot take; every accepted command completes exactly
 * once (a gated one never written, an answered or timed-out one always written); busy() tells the
 * truth; disconnecting fails everything. */
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
};

static int on_write(void *ud, const void *buf, size_t len)
{
        struct model *m = ud;
        struct req *r = NULL;

        fuzz_check(m->connected, "write while disconnected");
        fuzz_check(len >= 2 && ((const char *) buf)[len - 1] == '\r', "write without its CR");
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
        for (unsigned i = 0; i < m->n_reqs; i++)
                fuzz_check(!(m->reqs[i].written && !m->reqs[i].completed), "two commands in flight");
        r->written = true;
        return m->write_fails ? -EIO : 0;
}

static void submit(struct model *m, uint8_t a, uint8_t b);

static void on_done(void *userdata, const struct at_response *resp)
{
        struct req *r = userdata;
        struct model *m = r->m;

        fuzz_check(r->accepted && !r->completed, "request %u completed twice or unasked", r->id);
        r->completed = true;
        switch (resp->status) {
        case AT_STATUS_GATED:
                fuzz_check(!r->written, "written command reported gated");
                fuzz_check(!at_gate_allows(m->gate, r->cls, r->table2), "allowed command reported gated");
                break;
        case AT_STATUS_OK:
        case AT_STATUS_ERROR:
        case AT_STATUS_CME_ERROR:
        case AT_STATUS_TIMEOUT:
                fuzz_check(r->written, "unwritten command got status %s", at_status_to_string(resp->status));
                break;
        case AT_STATUS_REBOOTED:
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

static const char *const canned[] = {
        "\r\nOK\r\n", "\r\nERROR\r\n", "\r\n+CME ERROR: 50\r\n", "\r\nRDY\r\n",
        "\n\rF1: 0000 0000\n\r", "\n\rLeaving the BROM\n\r", "\r\nSEND OK\r\n", "\r\nCONNECT OK\r\n",
        "\r\n+QIND: \"FOTA\",\"COAPSTART\"\r\n", "\r\n+CGSN: 866971030399922\r\n", "Quectel\r\n",
        "AT;0\r", "\xff\x00\xff",
};

FUZZ_TARGET(at_channel)
{
        static const struct at_channel_ops ops = { .write = on_write };
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
                fuzz_check(at_channel_busy(m->ch) == pending, "busy %d, pending %d", at_channel_busy(m->ch), pending);
                fuzz_check(at_channel_next_deadline(m->ch) == UINT64_MAX || pending, "deadline without a command");
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
