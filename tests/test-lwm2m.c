/* test-lwm2m.c - Check suite for the LwM2M session: registration sequence, readiness, back-off,
 * the send queue and its results (confirmable and non-confirmable, with the token of what the
 * module said), the downlink drain, the gate. Real AT channel, fake writer
 * (records every command) and a fake clock. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m.h"

#define MS 1000ULL
#define SEC (1000ULL * 1000)
#define IMEI "866971030399922"

#define MAX_WRITTEN 256
#define MAX_EVENTS 64

struct fx {
        struct at_channel *ch;
        struct lwm2m *s;
        struct lwm2m_config cfg;
        uint64_t now;
        char written[MAX_WRITTEN][AT_COMMAND_MAX + 2];
        size_t n_written;
        enum lwm2m_state states[MAX_EVENTS];
        size_t n_states;
        int registered;
        struct { unsigned obj, inst, res; uint8_t data[LWM2M_PAYLOAD_MAX]; size_t len; } rx[MAX_EVENTS];
        size_t n_rx;
        struct { uint64_t cookie; int result; char why[512]; char said[64]; } done[MAX_EVENTS];
        size_t n_done;
};

static struct fx *F;

static int fake_write(void *ud, const void *buf, size_t len)
{
        struct fx *f = ud;

        ck_assert_uint_lt(f->n_written, MAX_WRITTEN);
        ck_assert_uint_le(len, AT_COMMAND_MAX + 1);
        ck_assert_int_eq(((const char *) buf)[len - 1], '\r');
        memcpy(f->written[f->n_written], buf, len - 1);
        f->written[f->n_written][len - 1] = '\0';
        f->n_written++;
        return 0;
}

static void fake_line(void *ud, const char *text, const struct at_line *l, uint64_t now)
{
        struct fx *f = ud;

        lwm2m_on_line(f->s, l, now);
}

static void fake_reboot(void *ud, uint64_t now)
{
        struct fx *f = ud;

        lwm2m_stop(f->s, "the module rebooted", now);
}

static const struct at_channel_ops channel_ops = {
        .write = fake_write,
        .line = fake_line,
        .reboot = fake_reboot,
};

static void on_state(void *ud, enum lwm2m_state old, enum lwm2m_state new_state)
{
        struct fx *f = ud;

        ck_assert_int_ne(old, new_state);
        ck_assert_uint_lt(f->n_states, MAX_EVENTS);
        f->states[f->n_states++] = new_state;
}

static void on_registered(void *ud)
{
        ((struct fx *) ud)->registered++;
}

static void on_data(void *ud, unsigned obj, unsigned inst, unsigned res, const uint8_t *data, size_t len)
{
        struct fx *f = ud;

        ck_assert_uint_lt(f->n_rx, MAX_EVENTS);
        ck_assert_uint_le(len, LWM2M_PAYLOAD_MAX);
        f->rx[f->n_rx].obj = obj;
        f->rx[f->n_rx].inst = inst;
        f->rx[f->n_rx].res = res;
        memcpy(f->rx[f->n_rx].data, data, len);
        f->rx[f->n_rx].len = len;
        f->n_rx++;
}

static void on_send_done(void *ud, uint64_t cookie, int result, const char *why, const char *said)
{
        struct fx *f = ud;

        ck_assert_uint_lt(f->n_done, MAX_EVENTS);
        ck_assert_ptr_nonnull(why);
        ck_assert_uint_gt(strlen(why), 10);
        ck_assert_ptr_nonnull(said);
        ck_assert_uint_lt(strlen(said), sizeof(f->done[0].said));
        f->done[f->n_done].cookie = cookie;
        f->done[f->n_done].result = result;
        snprintf(f->done[f->n_done].why, sizeof(f->done[0].why), "%s", why);
        snprintf(f->done[f->n_done].said, sizeof(f->done[0].said), "%s", said);
        f->n_done++;
}

static const struct lwm2m_ops session_ops = {
        .state_changed = on_state,
        .registered = on_registered,
        .data_received = on_data,
        .send_done = on_send_done,
};

static void default_config(struct lwm2m_config *c)
{
        memset(c, 0, sizeof(*c));
        snprintf(c->server, sizeof(c->server), "180.101.147.115");
        c->port = 5683;
        c->objects[0] = (struct config_object) { .obj = 19, .inst = 0, .count = 0, .ids = "0" };
        c->objects[1] = (struct config_object) { .obj = 19, .inst = 1, .count = 0, .ids = "0" };
        c->n_objects = 2;
        c->command_timeout_usec = 300 * MS;
        c->connect_timeout_usec = 30 * SEC;
        c->send_timeout_usec = 60 * SEC;
        c->send_queue = 4;
}

/* (Re)create the session with F->cfg. */
static void make_session(void)
{
        lwm2m_free(F->s);
        F->s = lwm2m_new(&F->cfg, F->ch, &session_ops, F);
        ck_assert_ptr_nonnull(F->s);
}

static void setup(void)
{
        F = calloc(1, sizeof(*F));
        ck_assert_ptr_nonnull(F);
        F->now = 1000 * SEC;
        F->ch = at_channel_new(&channel_ops, F, 2 * SEC);
        ck_assert_ptr_nonnull(F->ch);
        at_channel_set_connected(F->ch, true, F->now);
        default_config(&F->cfg);
        make_session();
}

static void teardown(void)
{
        at_channel_free(F->ch);
        lwm2m_free(F->s);
        free(F);
        F = NULL;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void feed(const char *line)
{
        char buf[2048];
        int n = snprintf(buf, sizeof(buf), "\r\n%s\r\n", line);

        ck_assert_int_gt(n, 0);
        at_channel_feed(F->ch, buf, (size_t) n, F->now);
}

static void advance(uint64_t usec)
{
        F->now += usec;
        at_channel_tick(F->ch, F->now);
        lwm2m_tick(F->s, F->now);
}

static void set_gate(enum at_gate g)
{
        enum at_gate old = at_channel_get_gate(F->ch);

        if (at_channel_set_gate(F->ch, g, F->now))
                lwm2m_on_gate(F->s, old, F->now);
}

static const char *last(void)
{
        ck_assert_uint_gt(F->n_written, 0);
        return F->written[F->n_written - 1];
}

/* After a timeout the channel writes AT+CMEE? before the next command: answer it. */
static void answer_resync(void)
{
        ck_assert_str_eq(last(), "AT+CMEE?");
        feed("+CMEE: 1");
        feed("OK");
}

static enum lwm2m_state last_state(void)
{
        ck_assert_uint_gt(F->n_states, 0);
        return F->states[F->n_states - 1];
}

#define expect_last(text) ck_assert_str_eq(last(), (text))

/* Answer OK to the registration commands up to and including AT+QLWOPEN=1. */
static void answer_until_open(void)
{
        for (int guard = 0; guard < 40; guard++) {
                bool open = strcmp(last(), "AT+QLWOPEN=1") == 0;

                feed("OK");
                if (open)
                        return;
        }
        ck_abort_msg("AT+QLWOPEN=1 never written");
}

/* Start and register up to READY (observe after the data format). */
static void make_ready(void)
{
        lwm2m_start(F->s, IMEI, F->now);
        answer_until_open();
        feed("CONNECT OK");
        expect_last("AT+QLWCFG=\"dataformat\",1,1");
        feed("OK");
        feed("+QLWOBSERVE: 0,19,0,0");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
        ck_assert(lwm2m_ready(F->s));
}

static const uint8_t two[] = { 0x01, 0x02 };

/* ---- registration ----------------------------------------------------------------------- */

START_TEST(test_register_default)
{
        static const char *const seq[] = {
                "AT+QLWSERV=\"180.101.147.115\",5683",
                "AT+QLWCONF=\"" IMEI "\"",
                "AT+QLWADDOBJ=19,0,0,\"0\"",
                "AT+QLWADDOBJ=19,1,0,\"0\"",
                "AT+QLWOPEN=1",
        };

        ck_assert_str_eq(lwm2m_endpoint(F->s), "");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_STOPPED);
        lwm2m_start(F->s, IMEI, F->now);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_CONFIGURING);
        ck_assert_str_eq(lwm2m_endpoint(F->s), "");     /* QLWCONF not sent yet */
        for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
                ck_assert_uint_eq(F->n_written, i + 1);
                ck_assert_str_eq(F->written[i], seq[i]);
                feed("OK");
        }
        ck_assert_str_eq(lwm2m_endpoint(F->s), IMEI);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_CONNECTING);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + 30 * SEC);
        ck_assert(!lwm2m_registered(F->s));
        ck_assert_uint_eq(F->n_written, 5);     /* nothing more before CONNECT OK */

        feed("CONNECT OK");
        ck_assert(lwm2m_registered(F->s));
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_FORMATTING);
        ck_assert_uint_eq(F->n_written, 6);
        expect_last("AT+QLWCFG=\"dataformat\",1,1");
        ck_assert_int_eq(F->registered, 0);
        feed("OK");
        ck_assert_int_eq(F->registered, 1);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_WAIT_OBSERVE);
        ck_assert(!lwm2m_ready(F->s));
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + 30 * SEC);

        feed("+QLWOBSERVE: 0,19,0,0");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
        ck_assert(lwm2m_ready(F->s));
        ck_assert_int_eq(F->registered, 1);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);
        ck_assert_uint_eq(F->n_states, 5);
        ck_assert_int_eq(F->states[0], LWM2M_STATE_CONFIGURING);
        ck_assert_int_eq(F->states[1], LWM2M_STATE_CONNECTING);
        ck_assert_int_eq(F->states[2], LWM2M_STATE_FORMATTING);
        ck_assert_int_eq(F->states[3], LWM2M_STATE_WAIT_OBSERVE);
        ck_assert_int_eq(F->states[4], LWM2M_STATE_READY);
}
END_TEST

/* Endpoint from the config or the IMEI, and the long-form object entry. */
static const struct {
        const char *endpoint;           /* config */
        const char *imei;
        struct config_object objects[3];
        size_t n_objects;
        const char *expected[6];        /* QLWCONF, QLWADDOBJ..., QLWOPEN */
} reg_cases[] = {
        { "", IMEI, { { 19, 0, 0, "0" }, { 19, 1, 0, "0" } }, 2,
          { "AT+QLWCONF=\"" IMEI "\"", "AT+QLWADDOBJ=19,0,0,\"0\"", "AT+QLWADDOBJ=19,1,0,\"0\"",
            "AT+QLWOPEN=1" } },
        { "sensor-42", IMEI, { { 19, 0, 0, "0" }, { 19, 1, 0, "0" } }, 2,
          { "AT+QLWCONF=\"sensor-42\"", "AT+QLWADDOBJ=19,0,0,\"0\"", "AT+QLWADDOBJ=19,1,0,\"0\"",
            "AT+QLWOPEN=1" } },
        { "", "861234567890123", { { 3303, 0, 2, "5700;5701" }, { 19, 1, 1, "0" }, { 5, 0, 0, "0" } }, 3,
          { "AT+QLWCONF=\"861234567890123\"", "AT+QLWADDOBJ=3303,0,2,\"5700;5701\"",
            "AT+QLWADDOBJ=19,1,1,\"0\"", "AT+QLWADDOBJ=5,0,0,\"0\"", "AT+QLWOPEN=1" } },
};

START_TEST(test_register_table)
{
        size_t k;

        snprintf(F->cfg.endpoint, sizeof(F->cfg.endpoint), "%s", reg_cases[_i].endpoint);
        memcpy(F->cfg.objects, reg_cases[_i].objects, sizeof(reg_cases[_i].objects));
        F->cfg.n_objects = reg_cases[_i].n_objects;
        make_session();
        lwm2m_start(F->s, reg_cases[_i].imei, F->now);
        ck_assert_str_eq(F->written[0], "AT+QLWSERV=\"180.101.147.115\",5683");
        feed("OK");
        for (k = 0; reg_cases[_i].expected[k]; k++) {
                ck_assert_uint_eq(F->n_written, k + 2);
                expect_last(reg_cases[_i].expected[k]);
                feed("OK");
        }
        ck_assert_uint_eq(F->n_written, k + 1);
        ck_assert_str_eq(lwm2m_endpoint(F->s), reg_cases[_i].endpoint[0] ? reg_cases[_i].endpoint :
                         reg_cases[_i].imei);
        /* The observe that counts is the one of the first object. */
        feed("CONNECT OK");
        feed("OK");
        feed("+QLWOBSERVE: 0,19,0,0");
        ck_assert_int_eq(lwm2m_get_state(F->s), _i == 2 ? LWM2M_STATE_WAIT_OBSERVE : LWM2M_STATE_READY);
        feed("+QLWOBSERVE: 0,3303,0,5700");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
}
END_TEST

START_TEST(test_observe_before_format)
{
        lwm2m_start(F->s, IMEI, F->now);
        answer_until_open();
        feed("CONNECT OK");
        feed("+QLWOBSERVE: 0,19,0,0");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_FORMATTING);
        ck_assert_int_eq(F->registered, 0);
        feed("OK");
        ck_assert_int_eq(F->registered, 1);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
        /* Straight from FORMATTING to READY. */
        ck_assert_int_eq(F->states[F->n_states - 2], LWM2M_STATE_FORMATTING);
}
END_TEST

START_TEST(test_observe_that_does_not_count)
{
        lwm2m_start(F->s, IMEI, F->now);
        answer_until_open();
        feed("+QLWOBSERVE: 0,19,0,0");  /* before CONNECT OK: not "since CONNECT OK" */
        feed("CONNECT OK");
        feed("+QLWOBSERVE: 0,5,0,3");   /* the FOTA object, not the uplink */
        feed("+QLWOBSERVE: 0,19,1,0");  /* the downlink instance */
        feed("OK");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_WAIT_OBSERVE);
        feed("+QLWOBSERVE: 0,19,0,-1"); /* any resource of the uplink instance */
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
}
END_TEST

START_TEST(test_observe_cancel)
{
        uint64_t t0;

        make_ready();
        advance(100 * SEC);
        t0 = F->now;
        feed("+QLWOBSERVE: 1,5,0,3");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
        feed("+QLWOBSERVE: 1,19,0,0");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_WAIT_OBSERVE);
        ck_assert(lwm2m_registered(F->s));
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), -ENOTCONN);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), t0 + 30 * SEC);
        feed("+QLWOBSERVE: 0,19,0,0");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
        ck_assert_int_eq(F->registered, 1);
}
END_TEST

START_TEST(test_observe_timeout_retries_with_del)
{
        size_t n;

        lwm2m_start(F->s, IMEI, F->now);
        answer_until_open();
        advance(5 * SEC);
        feed("CONNECT OK");
        feed("OK");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_WAIT_OBSERVE);
        advance(30 * SEC - 1);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_WAIT_OBSERVE);
        advance(1);     /* connect_timeout counted from CONNECT OK */
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_BACKOFF);
        ck_assert(!lwm2m_registered(F->s));
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + LWM2M_RETRY_MIN_USEC);
        n = F->n_written;
        advance(LWM2M_RETRY_MIN_USEC - 1);
        ck_assert_uint_eq(F->n_written, n);
        advance(1);
        ck_assert_uint_eq(F->n_written, n + 1);
        expect_last("AT+QLWDEL");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_CONFIGURING);
        /* QLWDEL may take 5 s: no timeout at the 300 ms command timeout. */
        advance(4 * SEC);
        ck_assert_uint_eq(F->n_written, n + 1);
        /* Its result is ignored, even an error. */
        feed("+CME ERROR: 4");
        ck_assert_uint_eq(F->n_written, n + 2);
        expect_last("AT+QLWSERV=\"180.101.147.115\",5683");
        answer_until_open();
        feed("CONNECT OK");
        feed("OK");
        ck_assert_int_eq(F->registered, 2);     /* once per registration */
}
END_TEST

START_TEST(test_del_timeout_ignored)
{
        size_t n;

        lwm2m_start(F->s, IMEI, F->now);
        feed("ERROR");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_BACKOFF);
        advance(LWM2M_RETRY_MIN_USEC);
        expect_last("AT+QLWDEL");
        n = F->n_written;
        advance(5 * SEC);
        answer_resync();
        ck_assert_uint_eq(F->n_written, n + 2);
        expect_last("AT+QLWSERV=\"180.101.147.115\",5683");
}
END_TEST

/* Retry delays after consecutive CONNECT FAILs: doubling, capped, and reset after success. */
START_TEST(test_backoff_doubling_and_cap)
{
        static const uint64_t delays[] = { 2, 4, 8, 16, 32, 64, 128, 256, 300, 300 };

        lwm2m_start(F->s, IMEI, F->now);
        for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
                size_t n;

                answer_until_open();
                feed("CONNECT FAIL");
                ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_BACKOFF);
                ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + delays[i] * SEC);
                n = F->n_written;
                advance(delays[i] * SEC - 1);
                ck_assert_uint_eq(F->n_written, n);     /* never early, never spinning */
                advance(1);
                expect_last("AT+QLWDEL");
                feed("OK");
        }
        answer_until_open();
        feed("CONNECT OK");
        feed("+QLWOBSERVE: 0,19,0,0");
        feed("OK");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
        /* A success resets the back-off. */
        feed("+QLWOBSERVE: 1,19,0,0");
        advance(30 * SEC);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_BACKOFF);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + LWM2M_RETRY_MIN_USEC);
}
END_TEST

/* A failed registration command at a given step -> BACKOFF. */
static const struct {
        size_t step;            /* index of the command answered with the failure */
        const char *answer;     /* NULL: no answer (timeout) */
        const char *command;
} reg_failures[] = {
        { 0, "ERROR", "AT+QLWSERV=\"180.101.147.115\",5683" },
        { 0, "+CME ERROR: 3", "AT+QLWSERV=\"180.101.147.115\",5683" },
        { 1, NULL, "AT+QLWCONF=\"" IMEI "\"" },
        { 3, "ERROR", "AT+QLWADDOBJ=19,1,0,\"0\"" },
        { 4, "+CME ERROR: 100", "AT+QLWOPEN=1" },
        { 5, "ERROR", "AT+QLWCFG=\"dataformat\",1,1" },
        { 5, NULL, "AT+QLWCFG=\"dataformat\",1,1" },
};

START_TEST(test_registration_failure)
{
        size_t n;

        lwm2m_start(F->s, IMEI, F->now);
        for (size_t k = 0; k < reg_failures[_i].step; k++) {
                feed("OK");
                if (k == 4)
                        feed("CONNECT OK");
        }
        expect_last(reg_failures[_i].command);
        if (reg_failures[_i].answer)
                feed(reg_failures[_i].answer);
        else
                advance(300 * MS);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_BACKOFF);
        ck_assert(!lwm2m_registered(F->s));
        ck_assert_int_eq(F->registered, 0);
        n = F->n_written;
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + LWM2M_RETRY_MIN_USEC);
        advance(LWM2M_RETRY_MIN_USEC);
        if (!reg_failures[_i].answer) {
                answer_resync();
                n++;
        }
        ck_assert_uint_eq(F->n_written, n + 1);
        expect_last("AT+QLWDEL");
}
END_TEST

START_TEST(test_connect_timeout)
{
        lwm2m_start(F->s, IMEI, F->now);
        answer_until_open();
        advance(30 * SEC - 1);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_CONNECTING);
        advance(1);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_BACKOFF);
        ck_assert_int_eq(last_state(), LWM2M_STATE_BACKOFF);
        /* A late CONNECT OK is not taken for a registration. */
        feed("CONNECT OK");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_BACKOFF);
        ck_assert(!lwm2m_registered(F->s));
}
END_TEST

START_TEST(test_gate_blocks_registration)
{
        set_gate(AT_GATE_CLOSED);
        lwm2m_start(F->s, IMEI, F->now);
        ck_assert_uint_eq(F->n_written, 0);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_CONFIGURING);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);
        /* The reporting phase allows registration, not data. */
        set_gate(AT_GATE_REPORTING);
        ck_assert_uint_eq(F->n_written, 1);
        expect_last("AT+QLWSERV=\"180.101.147.115\",5683");
        answer_until_open();
        feed("CONNECT OK");
        feed("OK");
        ck_assert_int_eq(F->registered, 1);
        feed("+QLWOBSERVE: 0,19,0,0");
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_READY);
        ck_assert(!lwm2m_ready(F->s));
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), -EBUSY);
        set_gate(AT_GATE_OPEN);
        ck_assert(lwm2m_ready(F->s));
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
}
END_TEST

/* ---- sending ---------------------------------------------------------------------------- */

START_TEST(test_send_happy)
{
        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 7, F->now), 0);
        expect_last("AT+QLWDATASEND=19,0,0,2,0102,0x0100");
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 1);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + 60 * SEC);
        feed("OK");
        ck_assert_uint_eq(F->n_done, 0);
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_uint_eq(F->done[0].cookie, 7);
        ck_assert_int_eq(F->done[0].result, 0);
        ck_assert_str_eq(F->done[0].said, "SEND OK");
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 0);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);
}
END_TEST

START_TEST(test_send_hex_full)
{
        uint8_t data[LWM2M_PAYLOAD_MAX];
        char expected[AT_COMMAND_MAX + 1];
        int n;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 7 + 0xa5);
        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 65535, 65535, 65535, data, sizeof(data), true, 1, F->now), 0);
        n = snprintf(expected, sizeof(expected), "AT+QLWDATASEND=65535,65535,65535,512,");
        for (size_t i = 0; i < sizeof(data); i++)
                n += snprintf(expected + n, sizeof(expected) - (size_t) n, "%02X", data[i]);
        snprintf(expected + n, sizeof(expected) - (size_t) n, ",0x0100");
        expect_last(expected);
}
END_TEST

START_TEST(test_send_one_at_a_time)
{
        static const uint8_t b[] = { 0xab };

        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, true, 2, F->now), 0);
        expect_last("AT+QLWDATASEND=19,0,0,2,0102,0x0100");
        feed("OK");
        expect_last("AT+QLWDATASEND=19,0,0,2,0102,0x0100");     /* the OK is not enough */
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 2);
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_uint_eq(F->done[0].cookie, 1);
        expect_last("AT+QLWDATASEND=19,0,0,1,AB,0x0100");
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 1);
        feed("OK");
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[1].cookie, 2);
        ck_assert_int_eq(F->done[1].result, 0);
}
END_TEST

/* Failure results of a send. */
static const struct {
        const char *answer;             /* to the command; NULL: none (command timeout) */
        const char *result;             /* async line after OK; NULL: none (send timeout) */
        int expected;
        const char *why_has;
        const char *said;
} send_failures[] = {
        { "OK", "SEND FAIL", -ECOMM, "SEND FAIL", "SEND FAIL" },
        { "ERROR", NULL, -EIO, "ERROR", "ERROR" },
        { "+CME ERROR: 50", NULL, -EIO, "+CME ERROR: 50", "+CME ERROR: 50" },
        { "OK", NULL, -ETIMEDOUT, "send_timeout_s", "no SEND OK within 60 s" },
        { NULL, NULL, -ETIMEDOUT, "command_timeout_ms", "no answer within 300 ms" },
};

START_TEST(test_send_failure)
{
        static const uint8_t b[] = { 0x10 };

        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 42, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, true, 43, F->now), 0);
        if (send_failures[_i].answer)
                feed(send_failures[_i].answer);
        if (send_failures[_i].result)
                feed(send_failures[_i].result);
        if (!send_failures[_i].answer)
                advance(300 * MS);
        else if (!send_failures[_i].result && strcmp(send_failures[_i].answer, "OK") == 0) {
                advance(60 * SEC - 1);
                ck_assert_uint_eq(F->n_done, 0);
                advance(1);
        }
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_uint_eq(F->done[0].cookie, 42);
        ck_assert_int_eq(F->done[0].result, send_failures[_i].expected);
        ck_assert_ptr_nonnull(strstr(F->done[0].why, send_failures[_i].why_has));
        ck_assert_str_eq(F->done[0].said, send_failures[_i].said);
        if (send_failures[_i].expected == -ETIMEDOUT) {
                /* Finding 3: a timed-out send's result may still come, and the module takes no new
                 * confirmable send before it. The next one waits; the late SEND OK settles the
                 * old one and is credited to nobody. */
                ck_assert_str_eq(last(), "AT+QLWDATASEND=19,0,0,2,0102,0x0100");
                if (!send_failures[_i].answer)
                        feed("OK");             /* the late OK of the command itself: stray */
                feed("SEND OK");
                ck_assert_uint_eq(F->n_done, 1);
                if (!send_failures[_i].answer)
                        answer_resync();
        }
        /* The next one goes out only after the first one's end. */
        expect_last("AT+QLWDATASEND=19,0,0,1,10,0x0100");
        feed("OK");
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[1].cookie, 43);
        ck_assert_int_eq(F->done[1].result, 0);
        ck_assert_str_eq(F->done[1].said, "SEND OK");
}
END_TEST

/* A send that timed out and whose result never comes holds the next one for send_timeout_s,
 * not for ever; a SEND OK before the command's own OK is not its result either. */
START_TEST(test_stale_send_released)
{
        static const uint8_t b[] = { 0x10 };

        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, true, 2, F->now), 0);
        feed("OK");
        advance(60 * SEC);
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_int_eq(F->done[0].result, -ETIMEDOUT);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + 60 * SEC);
        advance(60 * SEC - 1);
        expect_last("AT+QLWDATASEND=19,0,0,2,0102,0x0100");
        advance(1);
        expect_last("AT+QLWDATASEND=19,0,0,1,10,0x0100");
        feed("SEND OK");                /* before its OK: not this send's result */
        ck_assert_uint_eq(F->n_done, 1);
        feed("OK");
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[1].cookie, 2);
        ck_assert_int_eq(F->done[1].result, 0);
}
END_TEST

/* A send that never reached the tty (the resync ahead of it went unanswered) says so, and holds
 * nothing: no late result of it can come, so the next send is not kept waiting send_timeout_s. */
START_TEST(test_send_never_written)
{
        static const uint8_t b[] = { 0x10 }, c[] = { 0x20 };

        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        advance(300 * MS);                      /* no answer: written, timed out */
        ck_assert_int_eq(F->done[0].result, -ETIMEDOUT);
        ck_assert_ptr_nonnull(strstr(F->done[0].why, "may still reach the platform"));
        feed("OK");                             /* its late result settles it */
        feed("SEND OK");
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, true, 2, F->now), 0);
        ck_assert_str_eq(last(), "AT+CMEE?");   /* the resync ahead of it ... */
        advance(300 * MS);                      /* ... is not answered either */
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[1].cookie, 2);
        ck_assert_int_eq(F->done[1].result, -ETIMEDOUT);
        ck_assert_msg(strstr(F->done[1].why, "was not sent"), "%s", F->done[1].why);
        ck_assert_str_eq(F->done[1].said, "");          /* nothing reached the module */
        /* The module is back: the next send goes out after one resync, not after send_timeout_s. */
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, c, 1, true, 3, F->now), 0);
        answer_resync();
        expect_last("AT+QLWDATASEND=19,0,0,1,20,0x0100");
        feed("OK");
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 3);
        ck_assert_int_eq(F->done[2].result, 0);
}
END_TEST

/* Return codes, checked in the documented order. */
enum ctx { CTX_STOPPED, CTX_READY, CTX_READY_FULL };
static const struct {
        enum ctx ctx;
        enum at_gate gate;
        unsigned obj, inst, res;
        size_t len;
        int expected;
} send_codes[] = {
        { CTX_STOPPED, AT_GATE_CLOSED, 65536, 0, 0, 2, -EINVAL },
        { CTX_STOPPED, AT_GATE_CLOSED, 19, 65536, 0, 2, -EINVAL },
        { CTX_STOPPED, AT_GATE_CLOSED, 19, 0, 65536, 2, -EINVAL },
        { CTX_READY_FULL, AT_GATE_CLOSED, 19, 0, 0, 0, -EINVAL },
        { CTX_READY_FULL, AT_GATE_CLOSED, 19, 0, 0, 513, -EINVAL },
        { CTX_STOPPED, AT_GATE_CLOSED, 19, 0, 0, 2, -EBUSY },
        { CTX_READY_FULL, AT_GATE_REPORTING, 19, 0, 0, 2, -EBUSY },
        { CTX_STOPPED, AT_GATE_OPEN, 19, 0, 0, 2, -ENOTCONN },
        { CTX_READY_FULL, AT_GATE_OPEN, 19, 0, 0, 2, -ENOBUFS },
        { CTX_READY, AT_GATE_OPEN, 65535, 65535, 65535, 512, 0 },
        { CTX_READY, AT_GATE_OPEN, 19, 0, 0, 1, 0 },
};

START_TEST(test_send_codes)
{
        static uint8_t data[LWM2M_PAYLOAD_MAX + 1];

        if (send_codes[_i].ctx != CTX_STOPPED)
                make_ready();
        if (send_codes[_i].ctx == CTX_READY_FULL)
                for (unsigned k = 0; k < F->cfg.send_queue; k++)
                        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, k, F->now), 0);
        set_gate(send_codes[_i].gate);
        ck_assert_int_eq(lwm2m_send(F->s, send_codes[_i].obj, send_codes[_i].inst, send_codes[_i].res, data,
                                    send_codes[_i].len, true, 99, F->now), send_codes[_i].expected);
}
END_TEST

START_TEST(test_queue_bound_counts_inflight)
{
        make_ready();
        for (unsigned k = 0; k < 4; k++)
                ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, k, F->now), 0);
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 4);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 4, F->now), -ENOBUFS);
        feed("OK");
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 4, F->now), -ENOBUFS);
        feed("SEND OK");
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 3);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 4, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 5, F->now), -ENOBUFS);
}
END_TEST

START_TEST(test_gate_close_fails_queued)
{
        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 2, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 3, F->now), 0);
        feed("OK");
        set_gate(AT_GATE_CLOSED);
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[0].cookie, 2);
        ck_assert_int_eq(F->done[0].result, -EBUSY);
        ck_assert_ptr_nonnull(strstr(F->done[0].why, "upgrade"));
        ck_assert_str_eq(F->done[0].said, "");
        ck_assert_uint_eq(F->done[1].cookie, 3);
        ck_assert_int_eq(F->done[1].result, -EBUSY);
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 1);
        /* The written one is tracked to its end. */
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 3);
        ck_assert_uint_eq(F->done[2].cookie, 1);
        ck_assert_int_eq(F->done[2].result, 0);
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 0);
}
END_TEST

START_TEST(test_stop_fails_sends)
{
        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 2, F->now), 0);
        feed("OK");
        lwm2m_stop(F->s, "the module rebooted", F->now);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_STOPPED);
        ck_assert(!lwm2m_registered(F->s));
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[0].cookie, 1);
        ck_assert_int_eq(F->done[0].result, -ECONNRESET);
        ck_assert_str_eq(F->done[0].said, "no SEND OK before the module was lost");
        ck_assert_uint_eq(F->done[1].cookie, 2);
        ck_assert_int_eq(F->done[1].result, -ENOTCONN);
        ck_assert_str_eq(F->done[1].said, "");
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 0);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);
        feed("SEND OK");        /* late: nobody to credit */
        ck_assert_uint_eq(F->n_done, 2);
        /* A second stop has nothing left to fail. */
        lwm2m_stop(F->s, "again", F->now);
        ck_assert_uint_eq(F->n_done, 2);
}
END_TEST

START_TEST(test_reboot_mid_send)
{
        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 2, F->now), 0);
        /* The module reboots before answering: the channel fails the command, then reports. */
        feed("Leaving the BROM");
        feed("RDY");
        ck_assert_int_eq(last_state(), LWM2M_STATE_STOPPED);
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[0].cookie, 1);
        ck_assert_int_eq(F->done[0].result, -ECONNRESET);
        ck_assert_str_eq(F->done[0].said, "no OK before the module was lost");
        ck_assert_uint_eq(F->done[1].cookie, 2);
        ck_assert_int_eq(F->done[1].result, -ENOTCONN);
        ck_assert_str_eq(F->done[1].said, "");
        /* Start again: a fresh registration without QLWDEL. */
        lwm2m_start(F->s, IMEI, F->now);
        expect_last("AT+QLWSERV=\"180.101.147.115\",5683");
}
END_TEST

/* ---- non-confirmable sends ---------------------------------------------------------------- */

/* Mode 0x0000: written as such, delivered on the command's OK (the module prints no SEND OK for
 * it), no send deadline of its own; a SEND OK that comes afterwards is credited to nobody, not
 * to the send behind it. */
START_TEST(test_send_nonconfirmable)
{
        static const uint8_t b[] = { 0xab };

        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, false, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, true, 2, F->now), 0);
        expect_last("AT+QLWDATASEND=19,0,0,2,0102,0x0000");
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 2);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);      /* the channel times the OK */
        feed("OK");
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_uint_eq(F->done[0].cookie, 1);
        ck_assert_int_eq(F->done[0].result, 0);
        ck_assert_str_eq(F->done[0].said, "OK");
        ck_assert_ptr_nonnull(strstr(F->done[0].why, "non-confirmable"));
        /* The confirmable one behind it goes at once. */
        expect_last("AT+QLWDATASEND=19,0,0,1,AB,0x0100");
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 1);
        feed("SEND OK");                /* stray (the NON has none): not the CON's result */
        ck_assert_uint_eq(F->n_done, 1);
        feed("OK");
        ck_assert_uint_eq(F->n_done, 1);
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[1].cookie, 2);
        ck_assert_int_eq(F->done[1].result, 0);
        ck_assert_str_eq(F->done[1].said, "SEND OK");

        /* A late SEND OK / SEND FAIL after a NON while nothing waits: credited to nobody, and it
         * holds nothing (the next NON goes out at once). */
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, false, 3, F->now), 0);
        feed("OK");
        ck_assert_uint_eq(F->n_done, 3);
        feed("SEND FAIL");
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 3);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, false, 4, F->now), 0);
        expect_last("AT+QLWDATASEND=19,0,0,1,AB,0x0000");
        feed("OK");
        ck_assert_uint_eq(F->n_done, 4);
        ck_assert_int_eq(F->done[3].result, 0);
        ck_assert_uint_eq(lwm2m_queue_length(F->s), 0);
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);
}
END_TEST

/* A NON send's failures and their tokens; none holds the next send for send_timeout_s. */
static const struct {
        const char *answer;             /* NULL: none (command timeout) */
        int expected;
        const char *said;
} non_failures[] = {
        { "ERROR", -EIO, "ERROR" },
        { "+CME ERROR: 4", -EIO, "+CME ERROR: 4" },
        { NULL, -ETIMEDOUT, "no answer within 300 ms" },
};

START_TEST(test_send_nonconfirmable_failure)
{
        static const uint8_t b[] = { 0x10 };

        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, false, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, false, 2, F->now), 0);
        expect_last("AT+QLWDATASEND=19,0,0,2,0102,0x0000");
        if (non_failures[_i].answer)
                feed(non_failures[_i].answer);
        else
                advance(300 * MS);
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_uint_eq(F->done[0].cookie, 1);
        ck_assert_int_eq(F->done[0].result, non_failures[_i].expected);
        ck_assert_str_eq(F->done[0].said, non_failures[_i].said);
        if (!non_failures[_i].answer)
                answer_resync();        /* the channel resyncs; no send_timeout_s wait */
        expect_last("AT+QLWDATASEND=19,0,0,1,10,0x0000");
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);
        feed("OK");
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_int_eq(F->done[1].result, 0);
        ck_assert_str_eq(F->done[1].said, "OK");
}
END_TEST

/* Mixed modes keep the queue order and one send at a time: a NON behind a CON waits for the
 * CON's SEND OK (bc26-at.md 1.2: nothing after a CON before its result). */
START_TEST(test_send_mixed_order)
{
        static const uint8_t b[] = { 0x0b }, c[] = { 0x0c };

        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, b, 1, false, 2, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, c, 1, true, 3, F->now), 0);
        expect_last("AT+QLWDATASEND=19,0,0,2,0102,0x0100");
        feed("OK");
        expect_last("AT+QLWDATASEND=19,0,0,2,0102,0x0100");
        feed("SEND OK");
        expect_last("AT+QLWDATASEND=19,0,0,1,0B,0x0000");
        feed("OK");
        expect_last("AT+QLWDATASEND=19,0,0,1,0C,0x0100");
        feed("OK");
        feed("SEND FAIL");
        ck_assert_uint_eq(F->n_done, 3);
        ck_assert_uint_eq(F->done[0].cookie, 1);
        ck_assert_str_eq(F->done[0].said, "SEND OK");
        ck_assert_uint_eq(F->done[1].cookie, 2);
        ck_assert_str_eq(F->done[1].said, "OK");
        ck_assert_uint_eq(F->done[2].cookie, 3);
        ck_assert_int_eq(F->done[2].result, -ECOMM);
        ck_assert_str_eq(F->done[2].said, "SEND FAIL");
}
END_TEST

/* What is never written says "" (gated, stopped); a NON lost mid-command says so. */
START_TEST(test_send_said_nothing_written)
{
        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, false, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, false, 2, F->now), 0);
        set_gate(AT_GATE_CLOSED);       /* the queued one fails; the written one is tracked */
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_uint_eq(F->done[0].cookie, 2);
        ck_assert_int_eq(F->done[0].result, -EBUSY);
        ck_assert_str_eq(F->done[0].said, "");
        feed("OK");
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_str_eq(F->done[1].said, "OK");
        set_gate(AT_GATE_OPEN);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, false, 3, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, false, 4, F->now), 0);
        /* Cookie 3 is written and has no OK yet: its result comes with its command's. */
        lwm2m_stop(F->s, "the tty went away", F->now);
        ck_assert_uint_eq(F->n_done, 3);
        ck_assert_uint_eq(F->done[2].cookie, 4);
        ck_assert_int_eq(F->done[2].result, -ENOTCONN);
        ck_assert_str_eq(F->done[2].said, "");
        at_channel_set_connected(F->ch, false, F->now);
        ck_assert_uint_eq(F->n_done, 4);
        ck_assert_uint_eq(F->done[3].cookie, 3);
        ck_assert_int_eq(F->done[3].result, -ECONNRESET);
        ck_assert_str_eq(F->done[3].said, "no OK before the module was lost");
}
END_TEST

/* Another owner's command, in flight ahead of the send. */
static void blocker_done(void *userdata, const struct at_response *r)
{
        int *calls = userdata;

        (*calls)++;
        /* What the daemon does when the tty goes away: the command ahead fails first, and the
         * owner stops the session before the channel gets to the send behind it. */
        if (r->status == AT_STATUS_CANCELLED)
                lwm2m_stop(F->s, "the module's tty went away", r->now);
}

static void submit_blocker(int *calls)
{
        struct at_request req = { .cmd = AT_CMD_ATI, .text = "ATI", .timeout_usec = 300 * MS, .bare = true,
                                  .done = blocker_done, .userdata = calls };

        ck_assert_int_eq(at_channel_submit(F->ch, &req, F->now), 0);
        expect_last("ATI");
}

/* Stopped while the channel still held AT+QLWDATASEND queued behind another command: it never
 * reached the module, so it says "" (the outbox counts no attempt), not "no OK". */
START_TEST(test_stop_send_still_queued)
{
        int calls = 0;
        size_t n_written;

        make_ready();
        submit_blocker(&calls);
        n_written = F->n_written;
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        ck_assert_uint_eq(F->n_written, n_written);             /* queued behind ATI */
        lwm2m_stop(F->s, "the module is being initialised again", F->now);
        ck_assert_uint_eq(F->n_done, 0);                        /* the channel still holds it */
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);       /* none while queued */
        at_channel_set_connected(F->ch, false, F->now);         /* ATI cancelled, then the send */
        ck_assert_int_eq(calls, 1);
        ck_assert_uint_eq(F->n_written, n_written);
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_uint_eq(F->done[0].cookie, 1);
        ck_assert_int_eq(F->done[0].result, -ENOTCONN);
        ck_assert_str_eq(F->done[0].said, "");
        ck_assert_ptr_nonnull(strstr(F->done[0].why, "the module is being initialised again"));
}
END_TEST

/* The same, the way the daemon meets it: the tty goes away, the command ahead of the send fails
 * first and its owner stops the session from that callback. */
START_TEST(test_stop_from_failure_ahead_of_send)
{
        int calls = 0;

        make_ready();
        submit_blocker(&calls);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, false, 1, F->now), 0);
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, false, 2, F->now), 0);
        at_channel_set_connected(F->ch, false, F->now);
        ck_assert_int_eq(calls, 1);
        ck_assert_int_eq(lwm2m_get_state(F->s), LWM2M_STATE_STOPPED);
        ck_assert_uint_eq(F->n_done, 2);
        ck_assert_uint_eq(F->done[0].cookie, 2);                /* the session's own queue */
        ck_assert_str_eq(F->done[0].said, "");
        ck_assert_uint_eq(F->done[1].cookie, 1);                /* the channel's queue */
        ck_assert_int_eq(F->done[1].result, -ENOTCONN);
        ck_assert_str_eq(F->done[1].said, "");
}
END_TEST

/* Stopped after AT+QLWDATASEND was written, before its OK: the module may have the data. */
START_TEST(test_stop_send_written_before_ok)
{
        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        ck_assert_str_eq(last(), "AT+QLWDATASEND=19,0,0,2,0102,0x0100");
        lwm2m_stop(F->s, "the module rebooted", F->now);
        feed("Leaving the BROM");                               /* the channel fails what it wrote */
        feed("RDY");
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_uint_eq(F->done[0].cookie, 1);
        ck_assert_int_eq(F->done[0].result, -ECONNRESET);
        ck_assert_str_eq(F->done[0].said, "no OK before the module was lost");
}
END_TEST

/* Written, stopped, then its OK: a confirmable send's SEND OK would go to a lost session; a
 * late one is credited to nobody. */
START_TEST(test_stop_send_written_then_ok)
{
        make_ready();
        ck_assert_int_eq(lwm2m_send(F->s, 19, 0, 0, two, 2, true, 1, F->now), 0);
        lwm2m_stop(F->s, "the module is being initialised again", F->now);
        ck_assert_uint_eq(F->n_done, 0);
        feed("OK");
        ck_assert_uint_eq(F->n_done, 1);
        ck_assert_int_eq(F->done[0].result, -ECONNRESET);
        ck_assert_str_eq(F->done[0].said, "no SEND OK before the module was lost");
        lwm2m_start(F->s, IMEI, F->now);
        feed("SEND OK");
        ck_assert_uint_eq(F->n_done, 1);
}
END_TEST

/* ---- downlink --------------------------------------------------------------------------- */

START_TEST(test_downlink_drain)
{
        static const uint8_t first[] = { 0xaa, 0xaa, 0x00, 0x00 };
        static const uint8_t second[] = { 0xab, 0x01 };
        size_t n;

        make_ready();
        n = F->n_written;
        feed("+QLWDATARECV: 19,1,0,4");
        ck_assert_uint_eq(F->n_written, n + 1);
        expect_last("AT+QLWRD=512");
        feed("+QLWRD: 4,2");
        feed("AAAA0000");
        feed("OK");
        ck_assert_uint_eq(F->n_rx, 1);
        ck_assert_uint_eq(F->rx[0].obj, 19);
        ck_assert_uint_eq(F->rx[0].inst, 1);
        ck_assert_uint_eq(F->rx[0].res, 0);
        ck_assert_uint_eq(F->rx[0].len, sizeof(first));
        ck_assert_mem_eq(F->rx[0].data, first, sizeof(first));
        /* remain 0 is not the end: only "+QLWRD: 0" is */
        ck_assert_uint_eq(F->n_written, n + 2);
        expect_last("AT+QLWRD=512");
        feed("+QLWRD: 2,0");
        feed("noise");                  /* a junk line before the data line is skipped */
        feed("ab01");
        feed("OK");
        ck_assert_uint_eq(F->n_rx, 2);
        ck_assert_uint_eq(F->rx[1].obj, 19);
        ck_assert_uint_eq(F->rx[1].len, sizeof(second));
        ck_assert_mem_eq(F->rx[1].data, second, sizeof(second));
        ck_assert_uint_eq(F->n_written, n + 3);
        feed("+QLWRD: 0");
        feed("OK");
        ck_assert_uint_eq(F->n_written, n + 3);
        ck_assert_uint_eq(F->n_rx, 2);
        /* A new announce starts a new drain with its own ids. */
        feed("+QLWDATARECV: 19,2,5,1");
        expect_last("AT+QLWRD=512");
        feed("+QLWRD:1,0");
        feed("FF");
        feed("OK");
        ck_assert_uint_eq(F->n_rx, 3);
        ck_assert_uint_eq(F->rx[2].inst, 2);
        ck_assert_uint_eq(F->rx[2].res, 5);
        ck_assert_uint_eq(F->rx[2].data[0], 0xff);
}
END_TEST

/* Finding 5: a malformed or failed read is retried with a bounded back-off (the module raises no
 * new announce while its buffer holds data), until a good read drains it. */
static const struct {
        const char *lines[4];
} bad_reads[] = {
        { { "+QLWRD: 4,0", "AAA", "OK" } },
        { { "+QLWRD: 2,0", "ZZ00", "OK" } },
        { { "+QLWRD: 2,0", "OK" } },
        { { "+QLWRD: x", "OK" } },
        { { "+QLWRD: 513,0", "OK" } },
        { { "OK" } },
        { { "ERROR" } },
        { { "+CME ERROR: 4" } },
        { { NULL } },   /* timeout */
};

START_TEST(test_downlink_bad_read)
{
        size_t n;

        make_ready();
        feed("+QLWDATARECV: 19,1,0,4");
        n = F->n_written;
        expect_last("AT+QLWRD=512");
        for (size_t k = 0; bad_reads[_i].lines[k]; k++)
                feed(bad_reads[_i].lines[k]);
        if (!bad_reads[_i].lines[0])
                advance(300 * MS);
        ck_assert_uint_eq(F->n_rx, 0);
        ck_assert_uint_eq(F->n_written, n);
        /* Back-off: command_timeout_ms, doubling, capped at a minute. */
        for (uint64_t delay = 300 * MS, k = 0; k < 10; k++, delay = delay * 2 > 60 * SEC ? 60 * SEC : delay * 2) {
                n = F->n_written;
                ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now + delay);
                advance(delay - 1);
                ck_assert_uint_eq(F->n_written, n);
                advance(1);
                if (!bad_reads[_i].lines[0])
                        answer_resync();
                expect_last("AT+QLWRD=512");
                if (k == 9)
                        break;
                for (size_t i = 0; bad_reads[_i].lines[i]; i++)
                        feed(bad_reads[_i].lines[i]);
                if (!bad_reads[_i].lines[0])
                        advance(300 * MS);
        }
        /* A good read drains it; the back-off starts over. */
        feed("+QLWRD: 1,0");
        feed("7E");
        feed("OK");
        ck_assert_uint_eq(F->n_rx, 1);
        ck_assert_uint_eq(F->rx[0].data[0], 0x7e);
        expect_last("AT+QLWRD=512");
        feed("+QLWRD: 0");
        feed("OK");
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);
}
END_TEST

START_TEST(test_downlink_while_gated)
{
        size_t n;

        make_ready();
        set_gate(AT_GATE_CLOSED);
        n = F->n_written;
        feed("+QLWDATARECV: 19,1,0,2");
        ck_assert_uint_eq(F->n_written, n);
        set_gate(AT_GATE_REPORTING);
        ck_assert_uint_eq(F->n_written, n);     /* reading is a data command */
        set_gate(AT_GATE_OPEN);
        ck_assert_uint_eq(F->n_written, n + 1);
        expect_last("AT+QLWRD=512");
        feed("+QLWRD: 2,0");
        feed("0A0b");
        feed("OK");
        ck_assert_uint_eq(F->n_rx, 1);
        ck_assert_uint_eq(F->rx[0].obj, 19);
        ck_assert_uint_eq(F->rx[0].inst, 1);
        ck_assert_uint_eq(F->rx[0].data[0], 0x0a);
        ck_assert_uint_eq(F->rx[0].data[1], 0x0b);
        feed("+QLWRD: 0");
        feed("OK");
        ck_assert_uint_eq(F->n_written, n + 2);
}
END_TEST

/* The upgrade ends in reporting: the session is stopped and registered again while the gate is
 * still not open. The announced data must still be read once it is (issue 3: drained as soon as
 * the phase returns to idle). */
START_TEST(test_downlink_survives_reregistration)
{
        make_ready();
        set_gate(AT_GATE_CLOSED);
        feed("+QLWDATARECV: 19,1,0,2");
        set_gate(AT_GATE_REPORTING);
        lwm2m_stop(F->s, "re-registering after the upgrade", F->now);
        lwm2m_start(F->s, IMEI, F->now);
        answer_until_open();
        feed("CONNECT OK");
        feed("OK");                             /* QLWCFG */
        ck_assert_str_ne(last(), "AT+QLWRD=512");
        set_gate(AT_GATE_OPEN);
        expect_last("AT+QLWRD=512");
        feed("+QLWRD: 2,0");
        feed("CCDD");
        feed("OK");
        ck_assert_uint_eq(F->n_rx, 1);
        ck_assert_uint_eq(F->rx[0].data[0], 0xcc);
}
END_TEST

START_TEST(test_downlink_gate_closes_mid_drain)
{
        size_t n;

        make_ready();
        feed("+QLWDATARECV: 19,1,0,2");
        feed("+QLWRD: 1,1");
        set_gate(AT_GATE_CLOSED);       /* the read in flight is tracked to its end */
        feed("01");
        feed("OK");
        ck_assert_uint_eq(F->n_rx, 1);
        n = F->n_written;               /* the next read waits for the gate */
        expect_last("AT+QLWRD=512");
        set_gate(AT_GATE_OPEN);
        ck_assert_uint_eq(F->n_written, n + 1);
        expect_last("AT+QLWRD=512");
        feed("+QLWRD: 1,0");
        feed("02");
        feed("OK");
        ck_assert_uint_eq(F->n_rx, 2);
        ck_assert_uint_eq(F->rx[1].data[0], 0x02);
        ck_assert_uint_eq(F->rx[1].inst, 1);
}
END_TEST

START_TEST(test_downlink_burst_yields)
{
        size_t n = 0;

        make_ready();
        feed("+QLWDATARECV: 19,1,0,1");
        for (int k = 0; k < 64; k++) {
                n = F->n_written;
                expect_last("AT+QLWRD=512");
                feed("+QLWRD: 1,1");
                feed("5A");
                feed("OK");
        }
        ck_assert_uint_eq(F->n_rx, 64);
        ck_assert_uint_eq(F->n_written, n);     /* yielded: no 65th read in the same callback */
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), F->now);
        advance(0);
        ck_assert_uint_eq(F->n_written, n + 1);
        expect_last("AT+QLWRD=512");
        feed("+QLWRD: 0");
        feed("OK");
        ck_assert_uint_eq(lwm2m_next_deadline(F->s), UINT64_MAX);
}
END_TEST

/* ---- misc ------------------------------------------------------------------------------- */

START_TEST(test_config_from)
{
        struct config cfg;
        struct lwm2m_config lc;

        memset(&cfg, 0, sizeof(cfg));
        snprintf(cfg.server, sizeof(cfg.server), "10.0.0.1");
        cfg.port = 5684;
        snprintf(cfg.endpoint, sizeof(cfg.endpoint), "ep");
        cfg.objects[0] = (struct config_object) { 3303, 1, 1, "5700" };
        cfg.n_objects = 1;
        cfg.command_timeout_ms = 300;
        cfg.connect_timeout_s = 128;
        cfg.send_timeout_s = 90;
        cfg.send_queue = 8;
        lwm2m_config_from(&lc, &cfg);
        ck_assert_str_eq(lc.server, "10.0.0.1");
        ck_assert_uint_eq(lc.port, 5684);
        ck_assert_str_eq(lc.endpoint, "ep");
        ck_assert_uint_eq(lc.n_objects, 1);
        ck_assert_uint_eq(lc.objects[0].obj, 3303);
        ck_assert_str_eq(lc.objects[0].ids, "5700");
        ck_assert_uint_eq(lc.command_timeout_usec, 300 * MS);
        ck_assert_uint_eq(lc.connect_timeout_usec, 128 * SEC);
        ck_assert_uint_eq(lc.send_timeout_usec, 90 * SEC);
        ck_assert_uint_eq(lc.send_queue, 8);
}
END_TEST

static const struct {
        enum lwm2m_state s;
        const char *name;
} state_names[] = {
        { LWM2M_STATE_STOPPED, "stopped" },
        { LWM2M_STATE_CONFIGURING, "configuring" },
        { LWM2M_STATE_CONNECTING, "connecting" },
        { LWM2M_STATE_FORMATTING, "formatting" },
        { LWM2M_STATE_WAIT_OBSERVE, "wait-observe" },
        { LWM2M_STATE_READY, "ready" },
        { LWM2M_STATE_BACKOFF, "backoff" },
};

START_TEST(test_state_names)
{
        ck_assert_str_eq(lwm2m_state_to_string(state_names[_i].s), state_names[_i].name);
}
END_TEST

#define N(a) ((int) (sizeof(a) / sizeof((a)[0])))

static Suite *lwm2m_suite(void)
{
        Suite *s = suite_create("lwm2m");
        TCase *tc;

        tc = tcase_create("registration");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_register_default);
        tcase_add_loop_test(tc, test_register_table, 0, N(reg_cases));
        tcase_add_test(tc, test_observe_before_format);
        tcase_add_test(tc, test_observe_that_does_not_count);
        tcase_add_test(tc, test_observe_cancel);
        tcase_add_test(tc, test_observe_timeout_retries_with_del);
        tcase_add_test(tc, test_del_timeout_ignored);
        tcase_add_test(tc, test_backoff_doubling_and_cap);
        tcase_add_loop_test(tc, test_registration_failure, 0, N(reg_failures));
        tcase_add_test(tc, test_connect_timeout);
        tcase_add_test(tc, test_gate_blocks_registration);
        suite_add_tcase(s, tc);

        tc = tcase_create("send");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_send_happy);
        tcase_add_test(tc, test_send_hex_full);
        tcase_add_test(tc, test_send_one_at_a_time);
        tcase_add_loop_test(tc, test_send_failure, 0, N(send_failures));
        tcase_add_test(tc, test_stale_send_released);
        tcase_add_test(tc, test_send_never_written);
        tcase_add_loop_test(tc, test_send_codes, 0, N(send_codes));
        tcase_add_test(tc, test_queue_bound_counts_inflight);
        tcase_add_test(tc, test_gate_close_fails_queued);
        tcase_add_test(tc, test_stop_fails_sends);
        tcase_add_test(tc, test_reboot_mid_send);
        tcase_add_test(tc, test_send_nonconfirmable);
        tcase_add_loop_test(tc, test_send_nonconfirmable_failure, 0, N(non_failures));
        tcase_add_test(tc, test_send_mixed_order);
        tcase_add_test(tc, test_send_said_nothing_written);
        tcase_add_test(tc, test_stop_send_still_queued);
        tcase_add_test(tc, test_stop_from_failure_ahead_of_send);
        tcase_add_test(tc, test_stop_send_written_before_ok);
        tcase_add_test(tc, test_stop_send_written_then_ok);
        suite_add_tcase(s, tc);

        tc = tcase_create("downlink");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_downlink_drain);
        tcase_add_loop_test(tc, test_downlink_bad_read, 0, N(bad_reads));
        tcase_add_test(tc, test_downlink_while_gated);
        tcase_add_test(tc, test_downlink_survives_reregistration);
        tcase_add_test(tc, test_downlink_gate_closes_mid_drain);
        tcase_add_test(tc, test_downlink_burst_yields);
        suite_add_tcase(s, tc);

        tc = tcase_create("misc");
        tcase_add_test(tc, test_config_from);
        tcase_add_loop_test(tc, test_state_names, 0, N(state_names));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(lwm2m_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
