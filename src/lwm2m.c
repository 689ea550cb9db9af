/* lwm2m.c - the LwM2M session on the module: registration (guide 3.2), readiness, the bounded
 * send queue (confirmable and non-confirmable, one at a time) and the downlink drain. Only talks through the AT channel; time is an
 * argument; deadline-driven (lwm2m_next_deadline/lwm2m_tick), never a sleep or a spin. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lwm2m.h"

#define USEC_PER_SEC            (1000ULL * 1000)
#define QLWDEL_TIMEOUT_USEC     (5ULL * USEC_PER_SEC)   /* bc26-at.md 1.1: AT+QLWDEL takes up to 5 s */
#define READ_BURST_MAX          64      /* AT+QLWRD per drain before yielding to the event loop */
#define TOKENS_MAX              16      /* our commands the channel may hold at once, stale included */
#define WHY_MAX                 256
#define RD_RETRY_MAX_USEC       (60ULL * USEC_PER_SEC)  /* the downlink drain's longest back-off */

/* The registration steps, in the guide's order (3.2); QLWDEL only on retries. */
enum reg_step {
        REG_STEP_DEL,
        REG_STEP_SERV,
        REG_STEP_CONF,
        REG_STEP_ADDOBJ,
        REG_STEP_OPEN,
        REG_STEP_CFG,
};

enum send_phase {
        SEND_IDLE,              /* nothing written */
        SEND_COMMAND,           /* AT+QLWDATASEND submitted: waiting for its OK */
        SEND_RESULT,            /* OK seen: waiting for SEND OK / SEND FAIL (confirmable only) */
};

struct send_req {
        unsigned obj, inst, res;
        bool confirmable;       /* 0x0100 (SEND OK follows) or 0x0000 (done on OK) */
        size_t len;
        uint64_t cookie;
        uint8_t data[LWM2M_PAYLOAD_MAX];
};

/* The userdata of one submitted command. A completion whose seq is no longer the live one of
 * its kind belongs to an abandoned attempt (stop, timeout, back-off) and is ignored. */
struct token {
        struct lwm2m *s;
        uint64_t *live;         /* the session's slot for this kind: reg_live, send_live, rd_live */
        uint64_t seq;
        bool used;
};

struct lwm2m {
        struct lwm2m_config cfg;
        struct at_channel *ch;
        const struct lwm2m_ops *ops;
        void *ud;

        enum lwm2m_state state;
        char endpoint[CONFIG_ENDPOINT_MAX + 1];         /* to send: config, else the IMEI */
        char endpoint_sent[CONFIG_ENDPOINT_MAX + 1];    /* as last sent in AT+QLWCONF */

        struct token tokens[TOKENS_MAX];
        uint64_t seq;

        /* registration */
        enum reg_step step;
        size_t obj_index;               /* REG_STEP_ADDOBJ: the object being added */
        uint64_t reg_live;              /* seq of the registration command in the channel, 0: none */
        bool reg_blocked;               /* the gate refused the current step: resume on a gate change */
        bool open_ok;                   /* AT+QLWOPEN=1 answered OK: the connect deadline runs */
        bool registered;                /* CONNECT OK seen and not lost since */
        bool format_set;
        bool observe_seen;              /* uplink object observed since CONNECT OK */
        bool registered_notified;       /* ops->registered called for this registration */
        uint64_t connect_deadline;
        uint64_t observe_deadline;
        uint64_t retry_at;
        uint64_t retry_delay;           /* the next back-off */

        /* sending: a ring of queued requests plus the one written */
        struct send_req *queue;
        size_t q_cap, q_head, q_len;
        struct send_req cur;
        enum send_phase phase;
        uint64_t send_live;
        uint64_t send_deadline;
        bool kicking;                   /* send_kick runs: callbacks must not re-enter it */
        /* A send ended without its own result (timeout): its SEND OK/FAIL may still come, and
         * the module takes no new confirmable send before it. Until that late result or
         * stale_deadline, nothing is written and a result is that old send's, never credited. */
        bool stale_send;
        uint64_t stale_deadline;
        /* The session stopped while the send's AT+QLWDATASEND was in the channel: whether it
         * was written is known only from its at_response (the channel may still hold it queued),
         * so that completion finishes it, with stop_why. */
        bool send_stopped;
        char stop_why[96];

        /* downlink drain */
        bool rd_active;                 /* draining: a read is in the channel or resumes at rd_resume_at */
        bool rd_pending;                /* an announce waits (gate closed, or a drain was running) */
        unsigned rd_obj, rd_inst, rd_res;               /* ids of the drain running */
        unsigned pend_obj, pend_inst, pend_res;         /* ids of the waiting announce */
        unsigned rd_reads;
        unsigned rd_failures;           /* reads failed in a row: the retry backs off */
        uint64_t rd_live;
        uint64_t rd_resume_at;          /* 0: none */
};

/* ---- helpers ---------------------------------------------------------------------------- */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static const char *reg_step_to_string(enum reg_step step)
{
        switch (step) {
        case REG_STEP_DEL:      return "AT+QLWDEL";
        case REG_STEP_SERV:     return "AT+QLWSERV";
        case REG_STEP_CONF:     return "AT+QLWCONF";
        case REG_STEP_ADDOBJ:   return "AT+QLWADDOBJ";
        case REG_STEP_OPEN:     return "AT+QLWOPEN";
        case REG_STEP_CFG:      return "AT+QLWCFG";
        }
        return "invalid";
}

static void enter_state(struct lwm2m *s, enum lwm2m_state new_state)
{
        enum lwm2m_state old = s->state;

        if (old == new_state)
                return;
        log_debug("LwM2M session: %s -> %s", lwm2m_state_to_string(old), lwm2m_state_to_string(new_state));
        s->state = new_state;
        if (s->ops->state_changed)
                s->ops->state_changed(s->ud, old, new_state);
}

/* The channel owns the gate; the session only asks. */
static enum at_gate gate(const struct lwm2m *s)
{
        return at_channel_get_gate(s->ch);
}

static bool is_uplink(const struct lwm2m *s, unsigned obj, unsigned inst)
{
        return s->cfg.n_objects > 0 && s->cfg.objects[0].obj == obj && s->cfg.objects[0].inst == inst;
}

/* Submit a command whose completion goes to done with a fresh token; *live holds its seq. */
static int submit(struct lwm2m *s, enum at_cmd cmd, const char *text, uint64_t timeout,
                  const char *expect, at_done_t done, uint64_t *live, uint64_t now)
{
        struct token *tok = NULL;
        /* Only AT+QLWRD answers with a bare line (its hex data); for every other command a line
         * without a "+CMD:" prefix is noise, never its response. */
        struct at_request req = { .cmd = cmd, .text = text, .timeout_usec = timeout, .expect = expect,
                                  .done = done, .bare = cmd == AT_CMD_QLWRD };
        int r;

        for (size_t i = 0; i < TOKENS_MAX; i++)
                if (!s->tokens[i].used) {
                        tok = &s->tokens[i];
                        break;
                }
        if (!tok)
                return -ENOBUFS;
        tok->used = true;
        tok->s = s;
        tok->live = live;
        tok->seq = ++s->seq;
        *live = tok->seq;
        req.userdata = tok;
        /* The channel may complete the command before returning (a failed write): everything the
         * completion looks at is set up already. */
        r = at_channel_submit(s->ch, &req, now);
        if (r < 0) {
                tok->used = false;      /* refused: done will never be called */
                *live = 0;
        }
        return r;
}

/* Release a token; returns its session if the completion is the live one of its kind. */
static struct lwm2m *token_take(void *userdata)
{
        struct token *tok = userdata;

        tok->used = false;
        if (tok->seq != *tok->live)
                return NULL;
        *tok->live = 0;
        return tok->s;
}

/* ---- send queue ------------------------------------------------------------------------- */

/* said: the token of what the module said (lwm2m.h, send_done), "" if nothing was written. */
static void send_finish(struct lwm2m *s, int result, const char *why, const char *said)
{
        uint64_t cookie = s->cur.cookie;

        s->phase = SEND_IDLE;
        s->send_live = 0;
        s->send_stopped = false;
        if (result < 0)
                log_info("LwM2M send to %u/%u/%u failed: %s", s->cur.obj, s->cur.inst, s->cur.res, why);
        if (s->ops->send_done)
                s->ops->send_done(s->ud, cookie, result, why, said);
}

static bool queue_pop(struct lwm2m *s, struct send_req *out)
{
        if (s->q_len == 0)
                return false;
        *out = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        return true;
}

/* Fail every queued (unwritten) request; callbacks may queue again only if the session allows. */
static void fail_queued(struct lwm2m *s, int result, const char *why)
{
        struct send_req req;

        while (queue_pop(s, &req))
                if (s->ops->send_done)
                        s->ops->send_done(s->ud, req.cookie, result, why, "");
}

static void send_cmd_done(void *userdata, const struct at_response *r);
static void send_kick(struct lwm2m *s, uint64_t now);

/* The send just finished did so without its result: hold the next one until its late result or
 * send_timeout_s more. */
static void stale_begin(struct lwm2m *s, uint64_t now)
{
        s->stale_send = true;
        s->stale_deadline = add_sat(now, s->cfg.send_timeout_usec);
}

static void stale_end(struct lwm2m *s, const char *why)
{
        if (!s->stale_send)
                return;
        s->stale_send = false;
        log_debug("The timed-out send is settled (%s): the next send may go", why);
}

static int send_write(struct lwm2m *s, uint64_t now)
{
        static const char hex[] = "0123456789ABCDEF";
        char text[AT_COMMAND_MAX + 1];
        int n;

        /* AT+QLWDATASEND=<obj>,<inst>,<res>,<len>,<hex>,<mode>: hex mode (AT+QLWCFG="dataformat",1,1);
         * mode 0x0100 = confirmable, SEND OK / SEND FAIL follows; 0x0000 = non-confirmable, OK
         * only (bc26-at.md 1.2). Both modes are the same length. */
        const char *mode = s->cur.confirmable ? ",0x0100" : ",0x0000";

        n = snprintf(text, sizeof(text), "AT+QLWDATASEND=%u,%u,%u,%zu,", s->cur.obj, s->cur.inst,
                     s->cur.res, s->cur.len);
        if (n < 0 || (size_t) n + 2 * s->cur.len + sizeof(",0x0100") > sizeof(text))
                return -EINVAL;
        for (size_t i = 0; i < s->cur.len; i++) {
                text[n++] = hex[s->cur.data[i] >> 4];
                text[n++] = hex[s->cur.data[i] & 0xf];
        }
        memcpy(text + n, mode, sizeof(",0x0100"));

        s->phase = SEND_COMMAND;
        /* A non-confirmable send ends with its command (OK or the command timeout): no SEND OK to
         * wait for. */
        s->send_deadline = s->cur.confirmable ? add_sat(now, s->cfg.send_timeout_usec) : UINT64_MAX;
        return submit(s, AT_CMD_QLWDATASEND, text, s->cfg.command_timeout_usec, NULL, send_cmd_done,
                      &s->send_live, now);
}

/* Write the next request when nothing is written, the session is READY and the gate OPEN. */
static void send_kick(struct lwm2m *s, uint64_t now)
{
        if (s->kicking)
                return;         /* the outer loop picks up whatever a callback queued */
        s->kicking = true;
        while (s->phase == SEND_IDLE && !s->stale_send && s->state == LWM2M_STATE_READY &&
               gate(s) == AT_GATE_OPEN && queue_pop(s, &s->cur)) {
                char why[WHY_MAX];
                int r = send_write(s, now);

                if (r == 0)
                        continue;
                if (r == -EBUSY)
                        send_finish(s, -EBUSY, "A firmware upgrade started before the data could be written to "
                                    "the module; send it again after the upgrade", "");
                else {
                        snprintf(why, sizeof(why), "The data could not be handed to the module (%s); "
                                 "check the serial connection and try again", strerror(-r));
                        send_finish(s, r, why, "");
                }
        }
        s->kicking = false;
}

/* The completion of a send whose session stopped while the channel held its command: true if
 * it finished the send here; false for the results that say the same as in a running session. */
static bool send_stopped_done(struct lwm2m *s, const struct at_response *r)
{
        char why[WHY_MAX];

        if (!r->written) {
                /* Never reached the module: not an attempt (said ""). */
                snprintf(why, sizeof(why), "The LwM2M session was lost (%s) before the data could be written "
                         "to the module; send it again once the session is ready", s->stop_why);
                send_finish(s, -ENOTCONN, why, "");
                return true;
        }
        if (r->status == AT_STATUS_OK && s->cur.confirmable) {
                /* Written after all; its SEND OK would come to a session that no longer exists. */
                snprintf(why, sizeof(why), "The module rebooted or the connection to it was lost (%s) before "
                         "SEND OK; the platform may not have the data: send it again once the session is "
                         "ready", s->stop_why);
                send_finish(s, -ECONNRESET, why, "no SEND OK before the module was lost");
                stale_begin(s, r->now);
                return true;
        }
        return false;
}

static void send_cmd_done(void *userdata, const struct at_response *r)
{
        struct lwm2m *s = token_take(userdata);
        char why[WHY_MAX], said[64];

        if (!s)
                return;
        if (s->send_stopped && send_stopped_done(s, r)) {
                send_kick(s, r->now);
                return;
        }
        switch (r->status) {
        case AT_STATUS_OK:
                if (s->cur.confirmable) {
                        s->phase = SEND_RESULT; /* the confirmation comes as SEND OK / SEND FAIL */
                        return;
                }
                /* Non-confirmable: the OK is all the module ever says about it. */
                send_finish(s, 0, "The module accepted the non-confirmable data (OK); the platform does not "
                            "acknowledge it", "OK");
                break;
        case AT_STATUS_ERROR:
                send_finish(s, -EIO, "The module answered ERROR to AT+QLWDATASEND: it refused the data "
                            "(session not ready or request rejected); try again later", "ERROR");
                break;
        case AT_STATUS_CME_ERROR:
                snprintf(why, sizeof(why), "The module answered +CME ERROR: %d to AT+QLWDATASEND: it refused "
                         "the data; look the code up in the BC26 AT manual and try again later", r->cme);
                snprintf(said, sizeof(said), "+CME ERROR: %d", r->cme);
                send_finish(s, -EIO, why, said);
                break;
        case AT_STATUS_TIMEOUT:
                if (!r->written) {
                        /* Never on the wire: nothing late can come of it, nothing to wait for. */
                        send_finish(s, -ETIMEDOUT, "The module did not answer before the data could be "
                                    "written (it answered not even AT+CMEE?); the data was not sent; try "
                                    "again later", "");
                        break;
                }
                snprintf(said, sizeof(said), "no answer within %llu ms",
                         (unsigned long long) (s->cfg.command_timeout_usec / 1000));
                send_finish(s, -ETIMEDOUT, "The module did not answer AT+QLWDATASEND within [modem] "
                            "command_timeout_ms; the data may still reach the platform late (a stalled bridge still "
                            "holds the command; bc26d logs its late SEND OK), so send again only if a duplicate "
                            "is harmless", said);
                /* A late OK and SEND OK would be this one's. A non-confirmable send has no SEND OK
                 * to wait for: its late OK is the channel's stray line. */
                if (s->cur.confirmable)
                        stale_begin(s, r->now);
                break;
        case AT_STATUS_GATED:
                send_finish(s, -EBUSY, "A firmware upgrade started before the data could be written to the "
                            "module; send it again after the upgrade", "");
                break;
        case AT_STATUS_REBOOTED:
        case AT_STATUS_CANCELLED:
                /* No next write: the module in front of us is not the one registered. The owner
                 * calls lwm2m_stop, which fails what is queued. */
                send_finish(s, -ECONNRESET, "The module rebooted or the connection to it was lost before "
                            "SEND OK; send the data again once the session is ready",
                            r->written ? "no OK before the module was lost" : "");
                return;
        }
        send_kick(s, r->now);
}

/* SEND OK / SEND FAIL: the result of the confirmable send written, if it has had its OK (the
 * module answers OK before the result, bc26-at.md 1.2). Any other is a late one of a send that
 * timed out: it settles that send and is credited to nobody. */
static void send_result(struct lwm2m *s, bool ok, uint64_t now)
{
        if (s->phase != SEND_RESULT) {
                log_info("Ignoring a late %s: it belongs to a send that already timed out, not to any "
                         "send waiting now", ok ? "SEND OK" : "SEND FAIL");
                stale_end(s, "its late result came");
                send_kick(s, now);
                return;
        }
        if (ok)
                send_finish(s, 0, "The platform acknowledged the data (SEND OK)", "SEND OK");
        else
                send_finish(s, -ECOMM, "The module answered SEND FAIL: the platform did not acknowledge the "
                            "data; try again later", "SEND FAIL");
        send_kick(s, now);
}

/* ---- downlink drain --------------------------------------------------------------------- */

static void rd_done(void *userdata, const struct at_response *r);

static void rd_submit(struct lwm2m *s, uint64_t now)
{
        int r;

        s->rd_resume_at = 0;
        r = submit(s, AT_CMD_QLWRD, "AT+QLWRD=512", s->cfg.command_timeout_usec, "+QLWRD:", rd_done,
                   &s->rd_live, now);
        if (r == 0)
                return;
        /* Not now: remember the announce, or the module will never raise another one
         * (bc26-at.md 1.2: no new +QLWDATARECV until the buffer is empty). */
        s->rd_active = false;
        s->rd_pending = true;
        s->pend_obj = s->rd_obj;
        s->pend_inst = s->rd_inst;
        s->pend_res = s->rd_res;
        if (r != -EBUSY) {
                log_warning("Cannot read downlink data now (%s); trying again in [modem] command_timeout_ms",
                            strerror(-r));
                s->rd_resume_at = add_sat(now, s->cfg.command_timeout_usec);
        }
}

/* A read failed: the data is still in the module, which raises no new announce before its
 * buffer is empty, so read again after a back-off (command_timeout_ms doubling up to
 * RD_RETRY_MAX_USEC) for as long as the session runs. */
static void rd_retry(struct lwm2m *s, const char *what, uint64_t now)
{
        uint64_t delay = s->cfg.command_timeout_usec;

        for (unsigned i = 0; i < s->rd_failures && delay < RD_RETRY_MAX_USEC; i++)
                delay *= 2;
        if (delay > RD_RETRY_MAX_USEC)
                delay = RD_RETRY_MAX_USEC;
        s->rd_failures++;
        log_warning("AT+QLWRD failed (%s, %u in a row); reading the downlink data again in %llu ms",
                    what, s->rd_failures, (unsigned long long) (delay / 1000));
        s->rd_resume_at = add_sat(now, delay);
}

/* Start draining a remembered announce if allowed. */
static void rd_try(struct lwm2m *s, uint64_t now)
{
        if (!s->rd_pending || s->rd_active || gate(s) != AT_GATE_OPEN || s->state == LWM2M_STATE_STOPPED)
                return;
        s->rd_pending = false;
        s->rd_active = true;
        s->rd_obj = s->pend_obj;
        s->rd_inst = s->pend_inst;
        s->rd_res = s->pend_res;
        s->rd_reads = 0;
        s->rd_failures = 0;
        rd_submit(s, now);
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decode exactly n bytes of hex digits; false on any other character. */
static bool parse_hex(const char *hex, uint8_t *buf, size_t n)
{
        for (size_t k = 0; k < n; k++) {
                int hi = hex_value(hex[2 * k]), lo = hex_value(hex[2 * k + 1]);

                if (hi < 0 || lo < 0)
                        return false;
                buf[k] = (uint8_t) (hi << 4 | lo);
        }
        return true;
}

static bool parse_uint(const char **p, unsigned max, unsigned *out)
{
        unsigned long v = 0;
        const char *q = *p;

        if (*q < '0' || *q > '9')
                return false;
        for (; *q >= '0' && *q <= '9'; q++) {
                v = v * 10 + (unsigned) (*q - '0');
                if (v > max)
                        return false;
        }
        *p = q;
        *out = (unsigned) v;
        return true;
}

/* Parse "+QLWRD: <actual>,<remain>" + hex line, or "+QLWRD: 0". The data line is the first line
 * after the header that is exactly 2 * actual hex digits (noise may come between). Returns the
 * byte count (0: empty) or -EBADMSG. */
static int parse_read(const struct at_response *r, uint8_t *buf, size_t size)
{
        const char *p = NULL, *hex;
        unsigned actual, remain;
        size_t i, n;

        for (i = 0; i < r->n_lines; i++)
                if (strncmp(r->lines[i], "+QLWRD:", 7) == 0) {
                        p = r->lines[i] + 7;
                        break;
                }
        if (!p)
                return -EBADMSG;
        while (*p == ' ')
                p++;
        if (!parse_uint(&p, LWM2M_PAYLOAD_MAX, &actual))
                return -EBADMSG;
        if (*p == ',') {
                p++;
                while (*p == ' ')
                        p++;
                if (!parse_uint(&p, 0xffff, &remain))
                        return -EBADMSG;
        } else if (actual > 0)
                return -EBADMSG;
        while (*p == ' ')
                p++;
        if (*p != '\0')
                return -EBADMSG;
        if (actual == 0)
                return 0;
        if (actual > size)
                return -EBADMSG;
        for (i++; i < r->n_lines; i++) {
                hex = r->lines[i];
                n = strlen(hex);
                while (n > 0 && hex[n - 1] == ' ')
                        n--;
                if (n == 2 * (size_t) actual && parse_hex(hex, buf, actual))
                        return (int) actual;
        }
        return -EBADMSG;
}

static void rd_end(struct lwm2m *s, uint64_t now)
{
        s->rd_active = false;
        s->rd_resume_at = 0;
        s->rd_failures = 0;
        rd_try(s, now);         /* an announce that came while draining */
}

static void rd_done(void *userdata, const struct at_response *r)
{
        struct lwm2m *s = token_take(userdata);
        uint8_t buf[LWM2M_PAYLOAD_MAX];
        int n;

        if (!s || !s->rd_active)
                return;
        switch (r->status) {
        case AT_STATUS_OK:
                break;
        case AT_STATUS_ERROR:
        case AT_STATUS_CME_ERROR:
        case AT_STATUS_TIMEOUT:
                rd_retry(s, at_status_to_string(r->status), r->now);
                return;
        case AT_STATUS_GATED:
                /* Refused by an upgrade: drain once the gate opens again. */
                s->rd_active = false;
                s->rd_pending = true;
                s->pend_obj = s->rd_obj;
                s->pend_inst = s->rd_inst;
                s->pend_res = s->rd_res;
                return;
        case AT_STATUS_REBOOTED:
        case AT_STATUS_CANCELLED:
                s->rd_active = false;   /* the module's buffer is gone with it */
                return;
        }

        n = parse_read(r, buf, sizeof(buf));
        if (n < 0) {
                log_warning("Malformed AT+QLWRD response (%zu lines, first \"%s\")", r->n_lines,
                            r->n_lines ? r->lines[0] : "");
                rd_retry(s, "malformed response", r->now);
                return;
        }
        s->rd_failures = 0;
        if (n == 0) {
                rd_end(s, r->now);
                return;
        }
        if (s->ops->data_received)
                s->ops->data_received(s->ud, s->rd_obj, s->rd_inst, s->rd_res, buf, (size_t) n);
        if (!s->rd_active || s->rd_live)
                return;         /* the callback stopped the session */
        /* Read until "+QLWRD: 0", not until remain is 0 (bc26-at.md 1.2); a long burst yields to
         * the event loop every READ_BURST_MAX reads. */
        if (++s->rd_reads >= READ_BURST_MAX) {
                s->rd_reads = 0;
                s->rd_resume_at = r->now;
                return;
        }
        rd_submit(s, r->now);
}

static void rd_announce(struct lwm2m *s, unsigned obj, unsigned inst, unsigned res, uint64_t now)
{
        s->rd_pending = true;
        s->pend_obj = obj;
        s->pend_inst = inst;
        s->pend_res = res;
        if (gate(s) != AT_GATE_OPEN)
                log_info("Downlink data announced during a firmware upgrade; reading it once the upgrade ends");
        rd_try(s, now);
}

/* ---- registration ----------------------------------------------------------------------- */

static void reg_done(void *userdata, const struct at_response *r);
static void reg_submit(struct lwm2m *s, uint64_t now);

static void fail_registration(struct lwm2m *s, const char *why, uint64_t now)
{
        s->reg_live = 0;                /* a command still in the channel belongs to the dead attempt */
        s->reg_blocked = false;
        s->registered = false;
        s->open_ok = false;
        s->retry_at = add_sat(now, s->retry_delay);
        log_warning("LwM2M registration failed: %s; registering again in %llu s", why,
                    (unsigned long long) (s->retry_delay / USEC_PER_SEC));
        s->retry_delay = s->retry_delay * 2 > LWM2M_RETRY_MAX_USEC ? LWM2M_RETRY_MAX_USEC : s->retry_delay * 2;
        enter_state(s, LWM2M_STATE_BACKOFF);
        /* Queued data would wait for a session that may take minutes: give it back now. The one
         * written is tracked to its SEND OK/FAIL or timeout. */
        fail_queued(s, -ENOTCONN, "The LwM2M registration was lost before the data could be sent; "
                    "send it again once the session is ready");
}

static void start_registration(struct lwm2m *s, bool retry, uint64_t now)
{
        s->reg_live = 0;
        s->reg_blocked = false;
        s->open_ok = false;
        s->registered = false;
        s->format_set = false;
        s->observe_seen = false;
        s->registered_notified = false;
        s->obj_index = 0;
        /* Every retry clears a half-open context first (bc26-at.md 1.2: QLWDEL before a new server). */
        s->step = retry ? REG_STEP_DEL : REG_STEP_SERV;
        enter_state(s, LWM2M_STATE_CONFIGURING);
        reg_submit(s, now);
}

static void reg_submit(struct lwm2m *s, uint64_t now)
{
        char text[AT_COMMAND_MAX + 1];
        enum at_cmd cmd = AT_CMD_QLWSERV;
        uint64_t timeout = s->cfg.command_timeout_usec;
        char why[WHY_MAX];
        int r = 0;

        switch (s->step) {
        case REG_STEP_DEL:
                cmd = AT_CMD_QLWDEL;
                snprintf(text, sizeof(text), "AT+QLWDEL");
                if (timeout < QLWDEL_TIMEOUT_USEC)
                        timeout = QLWDEL_TIMEOUT_USEC;
                break;
        case REG_STEP_SERV:
                cmd = AT_CMD_QLWSERV;
                snprintf(text, sizeof(text), "AT+QLWSERV=\"%s\",%u", s->cfg.server, s->cfg.port);
                break;
        case REG_STEP_CONF:
                cmd = AT_CMD_QLWCONF;
                if (s->endpoint[0] == '\0') {
                        fail_registration(s, "no endpoint name: [lwm2m] endpoint is empty and the module "
                                          "reported no IMEI", now);
                        return;
                }
                snprintf(text, sizeof(text), "AT+QLWCONF=\"%s\"", s->endpoint);
                memcpy(s->endpoint_sent, s->endpoint, sizeof(s->endpoint_sent));
                break;
        case REG_STEP_ADDOBJ:
                cmd = AT_CMD_QLWADDOBJ;
                r = config_object_command(&s->cfg.objects[s->obj_index], text, sizeof(text));
                break;
        case REG_STEP_OPEN:
                cmd = AT_CMD_QLWOPEN;
                /* Mode 1: buffer access, downlink read with AT+QLWRD (guide 3.2 transcript). */
                snprintf(text, sizeof(text), "AT+QLWOPEN=1");
                enter_state(s, LWM2M_STATE_CONNECTING);
                break;
        case REG_STEP_CFG:
                cmd = AT_CMD_QLWCFG;
                snprintf(text, sizeof(text), "AT+QLWCFG=\"dataformat\",1,1");
                break;
        }
        if (r == 0)
                r = submit(s, cmd, text, timeout, NULL, reg_done, &s->reg_live, now);
        if (r == 0)
                return;
        if (r == -EBUSY) {
                /* The gate refuses registration (an upgrade downloads or flashes): lwm2m_on_gate resumes. */
                log_info("LwM2M registration waits: a firmware upgrade runs (%s refused by the gate)",
                         reg_step_to_string(s->step));
                s->reg_blocked = true;
                return;
        }
        snprintf(why, sizeof(why), "cannot queue %s (%s)", reg_step_to_string(s->step), strerror(-r));
        fail_registration(s, why, now);
}

/* CONNECT OK seen and the data format set: registered in the sense the DFOTA report needs. */
static void format_done(struct lwm2m *s, uint64_t now)
{
        s->format_set = true;
        enter_state(s, s->observe_seen ? LWM2M_STATE_READY : LWM2M_STATE_WAIT_OBSERVE);
        if (s->state == LWM2M_STATE_READY) {
                s->retry_delay = LWM2M_RETRY_MIN_USEC;
                send_kick(s, now);
        }
        if (!s->registered_notified && s->registered) {
                s->registered_notified = true;
                if (s->ops->registered)
                        s->ops->registered(s->ud);
        }
}

static void reg_done(void *userdata, const struct at_response *r)
{
        struct lwm2m *s = token_take(userdata);
        char why[WHY_MAX];

        if (!s)
                return;
        switch (r->status) {
        case AT_STATUS_OK:
                break;
        case AT_STATUS_ERROR:
        case AT_STATUS_CME_ERROR:
        case AT_STATUS_TIMEOUT:
                if (s->step == REG_STEP_DEL)
                        break;  /* there may have been no context to delete: ignored */
                if (r->status == AT_STATUS_CME_ERROR)
                        snprintf(why, sizeof(why), "the module answered +CME ERROR: %d to %s", r->cme,
                                 reg_step_to_string(s->step));
                else if (r->status == AT_STATUS_ERROR)
                        snprintf(why, sizeof(why), "the module answered ERROR to %s", reg_step_to_string(s->step));
                else
                        snprintf(why, sizeof(why), "no answer to %s within [modem] command_timeout_ms",
                                 reg_step_to_string(s->step));
                fail_registration(s, why, r->now);
                return;
        case AT_STATUS_GATED:
                s->reg_blocked = true;  /* lwm2m_on_gate resumes this step */
                return;
        case AT_STATUS_REBOOTED:
        case AT_STATUS_CANCELLED:
                return;                 /* the owner calls lwm2m_stop, then lwm2m_start */
        }

        switch (s->step) {
        case REG_STEP_DEL:
                s->step = REG_STEP_SERV;
                break;
        case REG_STEP_SERV:
                s->step = REG_STEP_CONF;
                break;
        case REG_STEP_CONF:
                s->obj_index = 0;
                s->step = s->cfg.n_objects > 0 ? REG_STEP_ADDOBJ : REG_STEP_OPEN;
                break;
        case REG_STEP_ADDOBJ:
                if (++s->obj_index >= s->cfg.n_objects)
                        s->step = REG_STEP_OPEN;
                break;
        case REG_STEP_OPEN:
                if (s->state == LWM2M_STATE_CONNECTING) {
                        s->open_ok = true;
                        s->connect_deadline = add_sat(r->now, s->cfg.connect_timeout_usec);
                        return;         /* CONNECT OK / CONNECT FAIL follow */
                }
                s->step = REG_STEP_CFG; /* CONNECT OK overtook the OK */
                break;
        case REG_STEP_CFG:
                format_done(s, r->now);
                return;
        }
        reg_submit(s, r->now);
}

static void on_connect(struct lwm2m *s, bool ok, uint64_t now)
{
        char buf[LOG_REDACT_MAX];

        if (s->state != LWM2M_STATE_CONNECTING) {
                log_debug("Ignoring %s in state %s", ok ? "CONNECT OK" : "CONNECT FAIL",
                          lwm2m_state_to_string(s->state));
                return;
        }
        if (!ok) {
                fail_registration(s, "the module answered CONNECT FAIL: the platform refused or did not answer "
                                  "the registration", now);
                return;
        }
        log_info("LwM2M registered with %s:%u as %s", s->cfg.server, s->cfg.port,
                 log_redact(s->endpoint, buf, sizeof(buf)));
        s->registered = true;
        s->observe_seen = false;
        s->observe_deadline = add_sat(now, s->cfg.connect_timeout_usec);
        enter_state(s, LWM2M_STATE_FORMATTING);
        if (s->state != LWM2M_STATE_FORMATTING || s->reg_live)
                return;         /* QLWOPEN's own OK still to come: reg_done goes on from there */
        s->step = REG_STEP_CFG;
        reg_submit(s, now);
}

static void on_observe(struct lwm2m *s, int flag, unsigned obj, unsigned inst, uint64_t now)
{
        if (!is_uplink(s, obj, inst))
                return;         /* e.g. 5/0/3, the firmware update state: the FOTA machine's business */
        if (s->state != LWM2M_STATE_FORMATTING && s->state != LWM2M_STATE_WAIT_OBSERVE &&
            s->state != LWM2M_STATE_READY)
                return;         /* only an observe since CONNECT OK counts */
        if (flag == 0) {
                s->observe_seen = true;
                if (s->state == LWM2M_STATE_WAIT_OBSERVE) {
                        enter_state(s, LWM2M_STATE_READY);
                        if (s->state == LWM2M_STATE_READY) {
                                s->retry_delay = LWM2M_RETRY_MIN_USEC;
                                send_kick(s, now);
                        }
                }
                return;
        }
        if (flag == 1) {
                s->observe_seen = false;
                if (s->state == LWM2M_STATE_READY) {
                        /* The platform no longer listens on the uplink: wait for a new observe. */
                        log_info("The platform cancelled its observation of %u/%u; uplink paused", obj, inst);
                        s->observe_deadline = add_sat(now, s->cfg.connect_timeout_usec);
                        enter_state(s, LWM2M_STATE_WAIT_OBSERVE);
                }
        }
}

/* ---- API -------------------------------------------------------------------------------- */

void lwm2m_config_from(struct lwm2m_config *lc, const struct config *cfg)
{
        memset(lc, 0, sizeof(*lc));
        snprintf(lc->server, sizeof(lc->server), "%s", cfg->server);
        lc->port = cfg->port;
        snprintf(lc->endpoint, sizeof(lc->endpoint), "%s", cfg->endpoint);
        lc->n_objects = cfg->n_objects < CONFIG_OBJECTS_MAX ? cfg->n_objects : CONFIG_OBJECTS_MAX;
        memcpy(lc->objects, cfg->objects, lc->n_objects * sizeof(lc->objects[0]));
        lc->command_timeout_usec = (uint64_t) cfg->command_timeout_ms * 1000;
        lc->connect_timeout_usec = (uint64_t) cfg->connect_timeout_s * USEC_PER_SEC;
        lc->send_timeout_usec = (uint64_t) cfg->send_timeout_s * USEC_PER_SEC;
        lc->send_queue = cfg->send_queue;
}

struct lwm2m *lwm2m_new(const struct lwm2m_config *cfg, struct at_channel *ch,
                        const struct lwm2m_ops *ops, void *ud)
{
        struct lwm2m *s;

        if (!cfg || !ch || !ops || cfg->n_objects > CONFIG_OBJECTS_MAX)
                return NULL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->cfg = *cfg;
        s->ch = ch;
        s->ops = ops;
        s->ud = ud;
        s->state = LWM2M_STATE_STOPPED;
        s->retry_delay = LWM2M_RETRY_MIN_USEC;
        /* The ring holds what waits behind the written one: send_queue - 1 would do, but a
         * send_queue of 0 must still leave a valid (if never used) ring. */
        s->q_cap = cfg->send_queue > 0 ? cfg->send_queue : 1;
        s->queue = calloc(s->q_cap, sizeof(*s->queue));
        if (!s->queue) {
                free(s);
                return NULL;
        }
        return s;
}

struct lwm2m *lwm2m_free(struct lwm2m *s)
{
        /* No callbacks at teardown. The channel must be freed with us: its pending commands
         * carry tokens that point into this struct. */
        if (!s)
                return NULL;
        free(s->queue);
        free(s);
        return NULL;
}

void lwm2m_start(struct lwm2m *s, const char *imei, uint64_t now)
{
        if (s->state != LWM2M_STATE_STOPPED)
                lwm2m_stop(s, "the registration restarts", now);
        snprintf(s->endpoint, sizeof(s->endpoint), "%s", s->cfg.endpoint[0] ? s->cfg.endpoint : imei ? imei : "");
        s->retry_delay = LWM2M_RETRY_MIN_USEC;
        start_registration(s, false, now);
        rd_try(s, now);         /* downlink still due from before a stop */
}

void lwm2m_stop(struct lwm2m *s, const char *why, uint64_t now)
{
        char text[WHY_MAX];

        if (s->state == LWM2M_STATE_STOPPED)
                return;
        log_info("LwM2M session stopped: %s", why ? why : "no reason given");
        /* Whatever is still in the channel belongs to a session that no longer exists. */
        s->reg_live = 0;
        s->reg_blocked = false;
        s->registered = false;
        s->open_ok = false;
        s->rd_live = 0;
        /* Downlink announced and not read yet stays due: the module raises no new announce until
         * its buffer is empty, so read it once the session runs and the gate is open again (after
         * a reboot the buffer may be gone: the read then just answers "+QLWRD: 0"). */
        if (s->rd_active) {
                s->pend_obj = s->rd_obj;
                s->pend_inst = s->rd_inst;
                s->pend_res = s->rd_res;
                s->rd_pending = true;
        }
        s->rd_active = false;
        s->rd_resume_at = 0;
        s->stale_send = false;          /* a new session: the old send's result will never come */
        enter_state(s, LWM2M_STATE_STOPPED);
        if (s->phase == SEND_RESULT) {
                snprintf(text, sizeof(text), "The module rebooted or the connection to it was lost (%s) before "
                         "SEND OK; the platform may not have the data: send it again once the session is ready",
                         why ? why : "session stopped");
                send_finish(s, -ECONNRESET, text, "no SEND OK before the module was lost");
        } else if (s->phase == SEND_COMMAND) {
                /* The channel may have written AT+QLWDATASEND or may still hold it queued (behind a
                 * command whose failure is stopping us): only its at_response says which. Its
                 * completion finishes the send (said "" if it was never written); nothing else is
                 * written until then, and no send deadline runs (a queued command has none). */
                s->send_stopped = true;
                snprintf(s->stop_why, sizeof(s->stop_why), "%s", why ? why : "session stopped");
                s->send_deadline = UINT64_MAX;
        }
        snprintf(text, sizeof(text), "The LwM2M session was lost (%s) before the data could be sent; send it "
                 "again once the session is ready", why ? why : "session stopped");
        fail_queued(s, -ENOTCONN, text);
}

void lwm2m_on_line(struct lwm2m *s, const struct at_line *l, uint64_t now)
{
        if (s->state == LWM2M_STATE_STOPPED)
                return;
        switch (l->cls) {
        case AT_LINE_ASYNC:
                switch (l->async) {
                case AT_ASYNC_CONNECT_OK:
                        on_connect(s, true, now);
                        return;
                case AT_ASYNC_CONNECT_FAIL:
                        on_connect(s, false, now);
                        return;
                case AT_ASYNC_SEND_OK:
                        send_result(s, true, now);
                        return;
                case AT_ASYNC_SEND_FAIL:
                        send_result(s, false, now);
                        return;
                case AT_ASYNC_UPDATE_OK:
                case AT_ASYNC_UPDATE_FAIL:
                case AT_ASYNC_CLOSE_OK:
                case AT_ASYNC_CLOSE_FAIL:
                        return;         /* we send neither QLWUPDATE nor QLWCLOSE */
                }
                return;
        case AT_LINE_URC:
                if (l->urc.type == URC_QLWOBSERVE)
                        on_observe(s, l->urc.observe.flag, l->urc.observe.obj, l->urc.observe.inst, now);
                else if (l->urc.type == URC_QLWDATARECV)
                        rd_announce(s, l->urc.datarecv.obj, l->urc.datarecv.inst, l->urc.datarecv.res, now);
                return;
        case AT_LINE_OK:
        case AT_LINE_ERROR:
        case AT_LINE_CME_ERROR:
        case AT_LINE_BOOT:
        case AT_LINE_ECHO:
        case AT_LINE_RESPONSE:
        case AT_LINE_UNKNOWN:
                return;
        }
}

void lwm2m_on_gate(struct lwm2m *s, enum at_gate old, uint64_t now)
{
        enum at_gate g = gate(s);

        if (old == g)
                return;
        if (g != AT_GATE_OPEN)
                /* Data commands are forbidden from DOWNLOADING on (guide 4.1, table 1); the one
                 * already written is tracked to its end. */
                fail_queued(s, -EBUSY, "A firmware upgrade started: the data was not sent; send it again "
                            "after the upgrade");
        if (s->reg_blocked && s->state != LWM2M_STATE_STOPPED && at_gate_allows(g, AT_CLASS_REGISTRATION, false)) {
                s->reg_blocked = false;
                reg_submit(s, now);
        }
        if (g == AT_GATE_OPEN) {
                rd_try(s, now);
                send_kick(s, now);
        }
}

int lwm2m_send(struct lwm2m *s, unsigned obj, unsigned inst, unsigned res, const uint8_t *data,
               size_t len, bool confirmable, uint64_t cookie, uint64_t now)
{
        struct send_req *q;

        if (obj > 0xffff || inst > 0xffff || res > 0xffff || len == 0 || len > LWM2M_PAYLOAD_MAX || !data)
                return -EINVAL;
        if (gate(s) != AT_GATE_OPEN)
                return -EBUSY;
        if (s->state != LWM2M_STATE_READY)
                return -ENOTCONN;
        if (s->q_len + (s->phase != SEND_IDLE) >= s->cfg.send_queue)
                return -ENOBUFS;
        q = &s->queue[(s->q_head + s->q_len) % s->q_cap];
        q->obj = obj;
        q->inst = inst;
        q->res = res;
        q->confirmable = confirmable;
        q->len = len;
        q->cookie = cookie;
        memcpy(q->data, data, len);
        s->q_len++;
        send_kick(s, now);
        return 0;
}

void lwm2m_tick(struct lwm2m *s, uint64_t now)
{
        char why[WHY_MAX], said[64];

        if (s->phase != SEND_IDLE && now >= s->send_deadline) {
                snprintf(said, sizeof(said), "no SEND OK within %llu s",
                         (unsigned long long) (s->cfg.send_timeout_usec / USEC_PER_SEC));
                send_finish(s, -ETIMEDOUT, "No SEND OK or SEND FAIL within [lwm2m] send_timeout_s: the platform "
                            "may not have the data; try again later", said);
                stale_begin(s, now);
                send_kick(s, now);
        }
        if (s->stale_send && now >= s->stale_deadline) {
                stale_end(s, "no late result within [lwm2m] send_timeout_s");
                send_kick(s, now);
        }
        switch (s->state) {
        case LWM2M_STATE_CONNECTING:
                if (s->open_ok && now >= s->connect_deadline)
                        fail_registration(s, "no CONNECT OK within [lwm2m] connect_timeout_s", now);
                break;
        case LWM2M_STATE_FORMATTING:
        case LWM2M_STATE_WAIT_OBSERVE:
                if (!s->observe_seen && now >= s->observe_deadline) {
                        snprintf(why, sizeof(why), "the platform did not observe %u/%u within [lwm2m] "
                                 "connect_timeout_s", s->cfg.objects[0].obj, s->cfg.objects[0].inst);
                        fail_registration(s, why, now);
                }
                break;
        case LWM2M_STATE_BACKOFF:
                if (now >= s->retry_at)
                        start_registration(s, true, now);
                break;
        case LWM2M_STATE_STOPPED:
        case LWM2M_STATE_CONFIGURING:
        case LWM2M_STATE_READY:
                break;
        }
        if (s->rd_resume_at && now >= s->rd_resume_at) {
                s->rd_resume_at = 0;
                if (s->rd_active)
                        rd_submit(s, now);
                else
                        rd_try(s, now);
        }
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

uint64_t lwm2m_next_deadline(const struct lwm2m *s)
{
        uint64_t d = UINT64_MAX;

        if (s->phase != SEND_IDLE)
                d = min_u64(d, s->send_deadline);
        if (s->stale_send)
                d = min_u64(d, s->stale_deadline);
        switch (s->state) {
        case LWM2M_STATE_CONNECTING:
                if (s->open_ok)
                        d = min_u64(d, s->connect_deadline);
                break;
        case LWM2M_STATE_FORMATTING:
        case LWM2M_STATE_WAIT_OBSERVE:
                if (!s->observe_seen)
                        d = min_u64(d, s->observe_deadline);
                break;
        case LWM2M_STATE_BACKOFF:
                d = min_u64(d, s->retry_at);
                break;
        case LWM2M_STATE_STOPPED:
        case LWM2M_STATE_CONFIGURING:
        case LWM2M_STATE_READY:
                break;
        }
        if (s->rd_resume_at)
                d = min_u64(d, s->rd_resume_at);
        return d;
}

enum lwm2m_state lwm2m_get_state(const struct lwm2m *s)
{
        return s->state;
}

bool lwm2m_registered(const struct lwm2m *s)
{
        return s->registered;
}

bool lwm2m_ready(const struct lwm2m *s)
{
        return s->state == LWM2M_STATE_READY && gate(s) == AT_GATE_OPEN;
}

size_t lwm2m_queue_length(const struct lwm2m *s)
{
        return s->q_len + (s->phase != SEND_IDLE);
}

const char *lwm2m_endpoint(const struct lwm2m *s)
{
        return s->endpoint_sent;
}

const char *lwm2m_state_to_string(enum lwm2m_state st)
{
        switch (st) {
        case LWM2M_STATE_STOPPED:       return "stopped";
        case LWM2M_STATE_CONFIGURING:   return "configuring";
        case LWM2M_STATE_CONNECTING:    return "connecting";
        case LWM2M_STATE_FORMATTING:    return "formatting";
        case LWM2M_STATE_WAIT_OBSERVE:  return "wait-observe";
        case LWM2M_STATE_READY:         return "ready";
        case LWM2M_STATE_BACKOFF:       return "backoff";
        }
        return "invalid";
}
