/* test-at-channel.c - Check suite for the AT channel: FIFO, responses, timeouts, URCs between a
 * command and its OK, reboot mid-command, the DFOTA gate, disconnects. Fake writer, fake clock. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at-channel.h"

#define MS 1000ULL

struct fake {
        char written[8192];
        size_t n_written;
        int write_result;
        char lines[32][256];            /* lines dispatched to ops->line */
        enum at_line_class line_cls[32];
        size_t n_lines;
        int reboots;
        /* completions */
        enum at_status status[32];
        bool written_ok[32];            /* at_response.written */
        int cme[32];
        char resp[32][4][256];
        size_t resp_n[32];
        size_t n_done;
        /* a command to submit from inside a completion */
        struct at_channel *ch;
        const char *chain;
        /* output not yet taken by the tty, as ops->discard reports it */
        size_t unsent;
        int discards;
};

static int fake_write(void *ud, const void *buf, size_t len)
{
        struct fake *f = ud;

        if (f->write_result < 0)
                return f->write_result;
        ck_assert_uint_lt(f->n_written + len, sizeof(f->written));
        memcpy(f->written + f->n_written, buf, len);
        f->n_written += len;
        f->written[f->n_written] = '\0';
        return 0;
}

static void fake_line(void *ud, const char *text, const struct at_line *l, uint64_t now)
{
        struct fake *f = ud;

        ck_assert_uint_lt(f->n_lines, 32);
        snprintf(f->lines[f->n_lines], sizeof(f->lines[0]), "%s", text);
        f->line_cls[f->n_lines++] = l->cls;
}

static void fake_reboot(void *ud, uint64_t now)
{
        ((struct fake *) ud)->reboots++;
}

static size_t fake_discard(void *ud)
{
        struct fake *f = ud;
        size_t n = f->unsent;

        f->discards++;
        f->unsent = 0;
        return n;
}

static const struct at_channel_ops fake_ops = {
        .write = fake_write,
        .line = fake_line,
        .reboot = fake_reboot,
        .discard = fake_discard,
};

static void on_done(void *ud, const struct at_response *r)
{
        struct fake *f = ud;
        size_t i = f->n_done++;

        f->status[i] = r->status;
        f->written_ok[i] = r->written;
        f->cme[i] = r->cme;
        f->resp_n[i] = r->n_lines;
        for (size_t k = 0; k < r->n_lines && k < 4; k++)
                snprintf(f->resp[i][k], sizeof(f->resp[i][k]), "%s", r->lines[k]);
        if (f->chain) {
                struct at_request req = { .cmd = AT_CMD_CMEE, .text = f->chain,
                                          .timeout_usec = 300 * MS, .done = on_done, .userdata = f };
                f->chain = NULL;
                ck_assert_int_eq(at_channel_submit(f->ch, &req, 0), 0);
        }
}

static struct at_channel *setup(struct fake *f)
{
        memset(f, 0, sizeof(*f));
        f->ch = at_channel_new(&fake_ops, f, 10000 * MS);
        ck_assert_ptr_nonnull(f->ch);
        at_channel_set_connected(f->ch, true, 0);
        return f->ch;
}

static int submit_req(struct fake *f, enum at_cmd cmd, const char *text, const char *expect, bool bare,
                      uint64_t now)
{
        struct at_request req = { .cmd = cmd, .text = text, .timeout_usec = 300 * MS,
                                  .expect = expect, .bare = bare, .done = on_done, .userdata = f };
        return at_channel_submit(f->ch, &req, now);
}

static int submit(struct fake *f, enum at_cmd cmd, const char *text, const char *expect, uint64_t now)
{
        return submit_req(f, cmd, text, expect, false, now);
}

/* The text written after the first skip bytes. */
static const char *written_from(const struct fake *f, size_t skip)
{
        return f->written + (skip < f->n_written ? skip : f->n_written);
}

static void feed(struct fake *f, const char *s, uint64_t now)
{
        at_channel_feed(f->ch, s, strlen(s), now);
}

START_TEST(test_ok_and_fifo)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), 0);
        ck_assert_int_eq(submit(&f, AT_CMD_ECHO_OFF, "ATE0", NULL, 0), 0);
        ck_assert_str_eq(f.written, "AT\r");            /* one in flight */
        ck_assert(at_channel_busy(ch));
        feed(&f, "AT\r\r\nOK\r\n", 1);                   /* echo, then OK */
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_int_eq(f.status[0], AT_STATUS_OK);
        ck_assert_str_eq(f.written, "AT\rATE0\r");
        feed(&f, "ATE0\r\r\nOK\r\n", 2);
        ck_assert_uint_eq(f.n_done, 2);
        ck_assert(!at_channel_busy(ch));
        ck_assert_uint_eq(at_channel_next_deadline(ch), UINT64_MAX);
        at_channel_free(ch);
}
END_TEST

START_TEST(test_response_lines_and_cme)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit_req(&f, AT_CMD_ATI, "ATI", NULL, true, 0), 0);
        /* An unknown URC between the lines is not part of the response. */
        feed(&f, "\r\nQuectel_Ltd\r\n\r\n+CSCON: 1\r\nQuectel_BC26\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n", 1);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_uint_eq(f.resp_n[0], 3);
        ck_assert_str_eq(f.resp[0][2], "Revision: BC26NBR01A06");
        ck_assert_uint_eq(f.n_lines, 1);
        ck_assert_str_eq(f.lines[0], "+CSCON: 1");

        ck_assert_int_eq(submit(&f, AT_CMD_QLWSERV, "AT+QLWSERV=\"1.2.3.4\",5683", NULL, 2), 0);
        feed(&f, "\r\n+CME ERROR: 50\r\n", 3);
        ck_assert_int_eq(f.status[1], AT_STATUS_CME_ERROR);
        ck_assert_int_eq(f.cme[1], 50);
        at_channel_free(ch);
}
END_TEST

START_TEST(test_urc_between_command_and_ok)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_CGSN, "AT+CGSN=1", "+CGSN:", 0), 0);
        feed(&f, "\r\n+QIND: \"FOTA\",\"COAPSTART\"\r\n\r\n+CGSN: 866971030399922\r\n"
                 "\r\n+QLWOBSERVE: 0,19,0,0\r\n\r\nOK\r\n", 1);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_uint_eq(f.resp_n[0], 1);
        ck_assert_str_eq(f.resp[0][0], "+CGSN: 866971030399922");
        ck_assert_uint_eq(f.n_lines, 2);
        ck_assert_str_eq(f.lines[0], "+QIND: \"FOTA\",\"COAPSTART\"");
        ck_assert_int_eq(f.line_cls[0], AT_LINE_URC);
        ck_assert_int_eq(f.line_cls[1], AT_LINE_URC);
        at_channel_free(ch);
}
END_TEST

START_TEST(test_solicited_vs_urc_same_prefix)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        /* With no command asking for +CFUN:, it is a URC. */
        feed(&f, "\r\n+CFUN: 1\r\n", 0);
        ck_assert_uint_eq(f.n_lines, 1);
        ck_assert_int_eq(f.line_cls[0], AT_LINE_URC);
        at_channel_free(ch);
}
END_TEST

START_TEST(test_timeout)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 1000), 0);
        ck_assert_uint_eq(at_channel_next_deadline(ch), 1000 + 300 * MS);
        at_channel_tick(ch, 1000 + 300 * MS - 1);
        ck_assert_uint_eq(f.n_done, 0);
        at_channel_tick(ch, 1000 + 300 * MS);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_int_eq(f.status[0], AT_STATUS_TIMEOUT);
        /* A late OK is stray and goes to the owner, completing nothing. */
        feed(&f, "\r\nOK\r\n", 400 * MS);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_uint_eq(f.n_lines, 1);
        at_channel_free(ch);
}
END_TEST

START_TEST(test_reboot_mid_command)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_ATI, "ATI", NULL, 0), 0);
        ck_assert_int_eq(submit(&f, AT_CMD_CGMR, "AT+CGMR", NULL, 0), 0);
        feed(&f, "\r\nQuectel_Ltd\r\n\n\rF1: 0000 0000\n\rV0: 0000 0000 [0001]\n\r00: 0006 000C\n\r"
                 "01: 0000 0000\n\rU0: 0000 0001 [0000]\n\rT0: 0000 00B4\n\rLeaving the BROM\n\r", 1);
        ck_assert_int_eq(f.reboots, 1);
        ck_assert_uint_eq(f.n_done, 2);                 /* in flight and queued both fail */
        ck_assert_int_eq(f.status[0], AT_STATUS_REBOOTED);
        ck_assert_int_eq(f.status[1], AT_STATUS_REBOOTED);
        ck_assert_str_eq(f.written, "ATI\r");           /* AT+CGMR never written */
        feed(&f, "\r\nRDY\r\n", 2 * 1000 * MS);
        ck_assert_int_eq(f.reboots, 1);                 /* the RDY closes the same reboot */
        feed(&f, "\r\nRDY\r\n", 60 * 1000 * MS);
        ck_assert_int_eq(f.reboots, 2);                 /* a lone RDY later is a new one */
        at_channel_free(ch);
}
END_TEST

START_TEST(test_qrst_answered_by_preamble)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_QRST, "AT+QRST=1", NULL, 0), 0);
        feed(&f, "\n\rF1: 0000 0000\n\rLeaving the BROM\n\r\r\nRDY\r\n", 1);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_int_eq(f.status[0], AT_STATUS_REBOOTED);
        ck_assert_int_eq(f.reboots, 1);
        at_channel_free(ch);
}
END_TEST

START_TEST(test_gate_closed)
{
        struct fake f;
        struct at_channel *ch = setup(&f);
        struct at_request reset = { .cmd = AT_CMD_QRST, .text = "AT+QRST=1", .timeout_usec = MS,
                                    .table2_reset = true, .done = on_done, .userdata = &f };

        /* A send in flight, another queued, then COAPSTART closes the gate. */
        ck_assert_int_eq(submit(&f, AT_CMD_QLWDATASEND, "AT+QLWDATASEND=19,0,0,1,01,0x0100", NULL, 0), 0);
        ck_assert_int_eq(submit(&f, AT_CMD_QLWDATASEND, "AT+QLWDATASEND=19,0,0,1,02,0x0100", NULL, 0), 0);
        at_channel_set_gate(ch, AT_GATE_CLOSED, 0);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_int_eq(f.status[0], AT_STATUS_GATED);        /* the queued one */
        ck_assert(at_channel_busy(ch));                         /* the written one is tracked */
        feed(&f, "\r\nOK\r\n", 1);
        ck_assert_uint_eq(f.n_done, 2);
        ck_assert_int_eq(f.status[1], AT_STATUS_OK);

        /* Nothing but a table-2 reset passes a closed gate. */
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 2), -EBUSY);
        ck_assert_int_eq(submit(&f, AT_CMD_PROBE, "AT", NULL, 2), -EBUSY);
        ck_assert_int_eq(submit(&f, AT_CMD_ATI, "ATI", NULL, 2), -EBUSY);
        ck_assert_int_eq(submit(&f, AT_CMD_QRST, "AT+QRST=1", NULL, 2), -EBUSY);
        ck_assert_str_eq(f.written, "AT+QLWDATASEND=19,0,0,1,01,0x0100\r");
        ck_assert_int_eq(at_channel_submit(ch, &reset, 3), 0);
        ck_assert_str_eq(f.written, "AT+QLWDATASEND=19,0,0,1,01,0x0100\rAT+QRST=1\r");

        /* table2_reset is only meaningful for a reset command. */
        reset.cmd = AT_CMD_SYNC;
        reset.text = "AT";
        ck_assert_int_eq(at_channel_submit(ch, &reset, 3), -EINVAL);
        at_channel_free(ch);
}
END_TEST

START_TEST(test_gate_reporting)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        at_channel_set_gate(ch, AT_GATE_REPORTING, 0);
        ck_assert_int_eq(at_channel_get_gate(ch), AT_GATE_REPORTING);
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), 0);
        ck_assert_int_eq(submit(&f, AT_CMD_QLWSERV, "AT+QLWSERV=\"180.101.147.115\",5683", NULL, 0), 0);
        ck_assert_int_eq(submit(&f, AT_CMD_QLWDATASEND, "AT+QLWDATASEND=19,0,0,1,01,0x0100", NULL, 0), -EBUSY);
        ck_assert_int_eq(submit(&f, AT_CMD_QLWRD, "AT+QLWRD=512", NULL, 0), -EBUSY);
        ck_assert_int_eq(submit(&f, AT_CMD_PROBE, "AT", NULL, 0), -EBUSY);
        ck_assert_int_eq(submit(&f, AT_CMD_IPR_SET, "AT+IPR=115200", NULL, 0), -EBUSY);
        ck_assert_int_eq(submit(&f, AT_CMD_QRST, "AT+QRST=1", NULL, 0), -EBUSY);
        /* Closing the gate fails the queued registration command, keeps the sync in flight. */
        at_channel_set_gate(ch, AT_GATE_CLOSED, 0);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_int_eq(f.status[0], AT_STATUS_GATED);
        ck_assert_str_eq(f.written, "AT\r");
        at_channel_free(ch);
}
END_TEST

START_TEST(test_disconnect)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), 0);
        ck_assert_int_eq(submit(&f, AT_CMD_ATI, "ATI", NULL, 0), 0);
        feed(&f, "\r\nhalf a li", 1);
        at_channel_set_connected(ch, false, 0);
        ck_assert_uint_eq(f.n_done, 2);
        ck_assert_int_eq(f.status[0], AT_STATUS_CANCELLED);
        ck_assert_int_eq(f.status[1], AT_STATUS_CANCELLED);
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 2), -ENOTCONN);
        at_channel_set_connected(ch, true, 0);
        feed(&f, "ne\r\n", 3);                          /* the partial line was forgotten */
        ck_assert_uint_eq(f.n_lines, 1);
        ck_assert_str_eq(f.lines[0], "ne");
        at_channel_free(ch);
}
END_TEST

START_TEST(test_bounds_and_invalid)
{
        struct fake f;
        struct at_channel *ch = setup(&f);
        char big[AT_COMMAND_MAX + 10];

        ck_assert_int_eq(submit(&f, AT_CMD_ATI, "AT+CGMR", NULL, 0), -EINVAL);   /* wrong prefix */
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT\rATE1", NULL, 0), -EINVAL); /* injection */
        memset(big, 'A', sizeof(big) - 1);
        big[0] = 'A';
        big[1] = 'T';
        big[sizeof(big) - 1] = '\0';
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, big, NULL, 0), -EINVAL);
        for (int i = 0; i < AT_CHANNEL_QUEUE_MAX + 1; i++)          /* one in flight + queue */
                ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), 0);
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), -ENOBUFS);
        at_channel_free(ch);            /* frees queued entries without callbacks (ASan checks) */
}
END_TEST

START_TEST(test_write_failure_and_chain)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        /* A failed write (a stalled bridge, -ENOBUFS) counts like a timeout: the command
         * completes at its deadline, never left without one, and a resync comes first. */
        f.write_result = -ENOBUFS;
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), 0);
        ck_assert_uint_eq(f.n_done, 0);
        ck_assert_uint_eq(at_channel_next_deadline(ch), 300 * MS);
        at_channel_tick(ch, 300 * MS);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_int_eq(f.status[0], AT_STATUS_TIMEOUT);
        f.write_result = 0;

        /* A completion that submits the next command: it is written at once. */
        f.chain = "AT+CMEE=1";
        ck_assert_int_eq(submit(&f, AT_CMD_ECHO_OFF, "ATE0", NULL, 400 * MS), 0);
        ck_assert_str_eq(f.written, "AT+CMEE?\r");
        feed(&f, "\r\n+CMEE: 1\r\n\r\nOK\r\n", 401 * MS);
        ck_assert_str_eq(f.written, "AT+CMEE?\rATE0\r");
        feed(&f, "\r\nOK\r\n", 402 * MS);
        ck_assert_str_eq(f.written, "AT+CMEE?\rATE0\rAT+CMEE=1\r");
        feed(&f, "\r\nOK\r\n", 403 * MS);
        ck_assert_uint_eq(f.n_done, 3);
        ck_assert(!at_channel_busy(ch));
        at_channel_free(ch);
}
END_TEST

/* Finding 2: after a timeout, the next command never gets the previous one's late answer. */
START_TEST(test_late_answer_after_timeout)
{
        struct fake f;
        struct at_channel *ch = setup(&f);
        struct at_channel_stats st;

        ck_assert_int_eq(submit_req(&f, AT_CMD_ATI, "ATI", NULL, true, 0), 0);
        at_channel_tick(ch, 300 * MS);
        ck_assert_int_eq(f.status[0], AT_STATUS_TIMEOUT);
        ck_assert_int_eq(f.discards, 1);                /* bytes still queued for the tty dropped */
        ck_assert_int_eq(submit(&f, AT_CMD_CGSN, "AT+CGSN=1", "+CGSN:", 301 * MS), 0);
        ck_assert_str_eq(written_from(&f, 4), "AT+CMEE?\r");   /* resync before AT+CGSN=1 */
        /* The slow ATI answers now: none of it reaches AT+CGSN=1. */
        feed(&f, "\r\nQuectel_Ltd\r\nQuectel_BC26\r\nRevision: BC26NBR01A06\r\n\r\nOK\r\n", 400 * MS);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_str_eq(written_from(&f, 4), "AT+CMEE?\r");
        feed(&f, "\r\n+CMEE: 1\r\n\r\nOK\r\n", 410 * MS);
        ck_assert_str_eq(written_from(&f, 4), "AT+CMEE?\rAT+CGSN=1\r");
        feed(&f, "\r\n+CGSN: 866971030399922\r\n\r\nOK\r\n", 420 * MS);
        ck_assert_uint_eq(f.n_done, 2);
        ck_assert_int_eq(f.status[1], AT_STATUS_OK);
        ck_assert_uint_eq(f.resp_n[1], 1);
        ck_assert_str_eq(f.resp[1][0], "+CGSN: 866971030399922");
        at_channel_get_stats(ch, &st);
        ck_assert_uint_eq(st.resyncs, 1);
        ck_assert_uint_eq(st.stale_results, 1);
        /* Synchronised: the next command goes straight out. */
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 500 * MS), 0);
        ck_assert_str_eq(written_from(&f, 4 + 9 + 10), "AT\r");
        at_channel_free(ch);
}
END_TEST

/* A module that answers not even the resync: the command behind it times out (its owner decides
 * what silence means) and the next one is preceded by a new resync. */
START_TEST(test_resync_unanswered)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), 0);
        at_channel_tick(ch, 300 * MS);
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 300 * MS), 0);
        ck_assert_int_eq(submit(&f, AT_CMD_ECHO_OFF, "ATE0", NULL, 300 * MS), 0);
        ck_assert_str_eq(f.written, "AT\rAT+CMEE?\r");
        ck_assert_uint_eq(at_channel_next_deadline(ch), 600 * MS);
        at_channel_tick(ch, 600 * MS);
        ck_assert_uint_eq(f.n_done, 2);
        ck_assert_int_eq(f.status[0], AT_STATUS_TIMEOUT);
        ck_assert(f.written_ok[0]);                     /* its bytes went out: late answers may come */
        ck_assert_int_eq(f.status[1], AT_STATUS_TIMEOUT);
        ck_assert(!f.written_ok[1]);                    /* never written: nothing of it can come late */
        ck_assert_str_eq(f.written, "AT\rAT+CMEE?\rAT+CMEE?\r");
        /* A stray OK before the marker line is a late one, not the resync's. */
        feed(&f, "\r\nOK\r\n", 610 * MS);
        ck_assert_str_eq(f.written, "AT\rAT+CMEE?\rAT+CMEE?\r");
        feed(&f, "\r\n+CMEE: 1\r\n\r\nOK\r\n", 620 * MS);
        ck_assert_str_eq(f.written, "AT\rAT+CMEE?\rAT+CMEE?\rATE0\r");
        feed(&f, "\r\nOK\r\n", 630 * MS);
        ck_assert_uint_eq(f.n_done, 3);
        ck_assert_int_eq(f.status[2], AT_STATUS_OK);
        at_channel_free(ch);
}
END_TEST

/* No resync (or anything else) before a reset, and a reboot clears the need for one. */
START_TEST(test_no_resync_before_reset)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), 0);
        at_channel_tick(ch, 300 * MS);
        ck_assert_int_eq(submit(&f, AT_CMD_QRST, "AT+QRST=1", NULL, 300 * MS), 0);
        ck_assert_str_eq(f.written, "AT\rAT+QRST=1\r");
        feed(&f, "\n\rF1: 0000 0000\n\rLeaving the BROM\n\r\r\nRDY\r\n", 400 * MS);
        ck_assert_int_eq(f.reboots, 1);
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 500 * MS), 0);
        ck_assert_str_eq(f.written, "AT\rAT+QRST=1\rAT\r");
        at_channel_free(ch);
}
END_TEST

/* Bytes of a command still waiting for a stalled tty when COAPSTART closes the gate are dropped,
 * and that command completes GATED: none of it may reach an upgrading module. */
START_TEST(test_gate_close_discards_output)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_QLWDATASEND, "AT+QLWDATASEND=19,0,0,1,01,0x0100", NULL, 0), 0);
        f.unsent = 12;
        at_channel_set_gate(ch, AT_GATE_CLOSED, 1);
        ck_assert_int_eq(f.discards, 1);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_int_eq(f.status[0], AT_STATUS_GATED);
        ck_assert(!at_channel_busy(ch));
        /* Its late answer is stray; nothing is written while the gate is closed, not even a resync. */
        feed(&f, "\r\nOK\r\n", 2);
        ck_assert_uint_eq(f.n_done, 1);
        ck_assert_str_eq(f.written, "AT+QLWDATASEND=19,0,0,1,01,0x0100\r");
        /* Once open, the next command is preceded by a resync. */
        at_channel_set_gate(ch, AT_GATE_OPEN, 3);
        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 4), 0);
        ck_assert_str_eq(written_from(&f, 34), "AT+CMEE?\r");
        at_channel_free(ch);
}
END_TEST

/* A tty lost with a command in flight: after the replug the same module may still answer it. */
START_TEST(test_disconnect_inflight_resyncs)
{
        struct fake f;
        struct at_channel *ch = setup(&f);

        ck_assert_int_eq(submit(&f, AT_CMD_SYNC, "AT", NULL, 0), 0);
        at_channel_set_connected(ch, false, 1);
        at_channel_set_connected(ch, true, 2);
        ck_assert_int_eq(submit(&f, AT_CMD_ECHO_OFF, "ATE0", NULL, 3), 0);
        ck_assert_str_eq(f.written, "AT\rAT+CMEE?\r");
        at_channel_free(ch);
}
END_TEST

static Suite *at_channel_suite(void)
{
        Suite *s = suite_create("at-channel");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_ok_and_fifo);
        tcase_add_test(tc, test_response_lines_and_cme);
        tcase_add_test(tc, test_urc_between_command_and_ok);
        tcase_add_test(tc, test_solicited_vs_urc_same_prefix);
        tcase_add_test(tc, test_timeout);
        tcase_add_test(tc, test_reboot_mid_command);
        tcase_add_test(tc, test_qrst_answered_by_preamble);
        tcase_add_test(tc, test_gate_closed);
        tcase_add_test(tc, test_gate_reporting);
        tcase_add_test(tc, test_disconnect);
        tcase_add_test(tc, test_bounds_and_invalid);
        tcase_add_test(tc, test_write_failure_and_chain);
        tcase_add_test(tc, test_late_answer_after_timeout);
        tcase_add_test(tc, test_resync_unanswered);
        tcase_add_test(tc, test_no_resync_before_reset);
        tcase_add_test(tc, test_gate_close_discards_output);
        tcase_add_test(tc, test_disconnect_inflight_resyncs);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(at_channel_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
