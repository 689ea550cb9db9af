/* test-urc.c - Check suite for the line classifier and URC decoder (src/urc.c): the guide's
 * transcript line by line, then tables of final results, async results, URC variants, boot
 * preamble shapes, solicited-vs-URC, echo, unknown and malformed lines. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transcript.h"
#include "urc.h"

static void check_urc(const char *what, const struct urc *got, const struct urc *want)
{
        ck_assert_msg(got->type == want->type, "%s: urc %s, want %s", what,
                      urc_type_to_string(got->type), urc_type_to_string(want->type));
        switch (want->type) {
        case URC_RDY:
                break;
        case URC_FOTA:
                ck_assert_msg(got->fota.kind == want->fota.kind, "%s: fota %s, want %s", what,
                              fota_urc_kind_to_string(got->fota.kind),
                              fota_urc_kind_to_string(want->fota.kind));
                ck_assert_int_eq(got->fota.code, want->fota.code);
                ck_assert_int_eq(got->fota.progress, want->fota.progress);
                break;
        case URC_QLWOBSERVE:
                ck_assert_int_eq(got->observe.flag, want->observe.flag);
                ck_assert_uint_eq(got->observe.obj, want->observe.obj);
                ck_assert_uint_eq(got->observe.inst, want->observe.inst);
                ck_assert_int_eq(got->observe.res, want->observe.res);
                break;
        case URC_QLWDATARECV:
                ck_assert_uint_eq(got->datarecv.obj, want->datarecv.obj);
                ck_assert_uint_eq(got->datarecv.inst, want->datarecv.inst);
                ck_assert_uint_eq(got->datarecv.res, want->datarecv.res);
                ck_assert_uint_eq(got->datarecv.len, want->datarecv.len);
                break;
        case URC_CEREG:
                ck_assert_int_eq(got->cereg.stat, want->cereg.stat);
                ck_assert_str_eq(got->cereg.tac, want->cereg.tac);
                ck_assert_str_eq(got->cereg.ci, want->cereg.ci);
                ck_assert_int_eq(got->cereg.act, want->cereg.act);
                break;
        case URC_CSCON:
                ck_assert_int_eq(got->cscon.mode, want->cscon.mode);
                break;
        case URC_CPIN:
                ck_assert_str_eq(got->cpin.code, want->cpin.code);
                break;
        case URC_CFUN:
                ck_assert_int_eq(got->cfun.fun, want->cfun.fun);
                break;
        case URC_IP:
                ck_assert_str_eq(got->ip.addr, want->ip.addr);
                break;
        }
}

static void check_line(const char *what, const struct at_line *got, const struct at_line *want)
{
        ck_assert_msg(got->cls == want->cls, "\"%s\": class %s, want %s", what,
                      at_line_class_to_string(got->cls), at_line_class_to_string(want->cls));
        switch (want->cls) {
        case AT_LINE_CME_ERROR:
                ck_assert_int_eq(got->cme, want->cme);
                break;
        case AT_LINE_ASYNC:
                ck_assert_msg(got->async == want->async, "\"%s\": async %s, want %s", what,
                              at_async_to_string(got->async), at_async_to_string(want->async));
                break;
        case AT_LINE_URC:
                check_urc(what, &got->urc, &want->urc);
                break;
        case AT_LINE_OK:
        case AT_LINE_ERROR:
        case AT_LINE_BOOT:
        case AT_LINE_ECHO:
        case AT_LINE_RESPONSE:
        case AT_LINE_UNKNOWN:
                break;
        }
}

/* ---- the guide's transcript ---------------------------------------------------------------- */

START_TEST(test_transcript_line)
{
        const struct transcript_line *t = &transcript[_i];
        const struct at_classify_ctx ctx = { .pending = t->pending, .expect = NULL };
        struct at_line got;

        at_classify(t->text, &ctx, &got);
        check_line(t->text, &got, &t->want);
}
END_TEST

/* The transcript table itself must cover what the guide shows: 81 progress lines, 14 preamble
 * lines, 10 echoed commands, both observes and the closing URCs. */
START_TEST(test_transcript_contents)
{
        size_t boot = 0, echo = 0, updating = 0, ok = 0;

        for (size_t i = 0; i < transcript_len; i++) {
                const struct at_line *w = &transcript[i].want;

                boot += w->cls == AT_LINE_BOOT;
                echo += w->cls == AT_LINE_ECHO;
                ok += w->cls == AT_LINE_OK;
                updating += w->cls == AT_LINE_URC && w->urc.type == URC_FOTA &&
                        w->urc.fota.kind == FOTA_URC_UPDATING;
        }
        ck_assert_uint_eq(boot, 14);
        ck_assert_uint_eq(echo, 12);
        ck_assert_uint_eq(ok, 12);
        ck_assert_uint_eq(updating, 81);
        ck_assert_str_eq(transcript[transcript_len - 1].text, "OK");
}
END_TEST

/* ---- tables -------------------------------------------------------------------------------- */

struct urc_case {
        const char *line;
        const char *pending;
        const char *expect;
        struct at_line want;
        bool bare;              /* the pending command answers with bare text lines */
};

#define CLS(l, p, e, c)         { l, p, e, { .cls = (c) } }
#define CME(l, n)               { l, NULL, NULL, { .cls = AT_LINE_CME_ERROR, .cme = (n) } }
#define ASY(l, p, a)            { l, p, NULL, { .cls = AT_LINE_ASYNC, .async = (a) } }
#define URCP(l, p, e, ...)      { l, p, e, { .cls = AT_LINE_URC, .urc = { __VA_ARGS__ } } }
#define URC1(l, ...)            URCP(l, NULL, NULL, __VA_ARGS__)
#define FOTAP(l, p, k, c, pr)   URCP(l, p, NULL, .type = URC_FOTA, \
                                     .fota = { .kind = (k), .code = (c), .progress = (pr) })
#define FOTA(l, k, c, pr)       FOTAP(l, NULL, k, c, pr)
#define FOTA_UNKNOWN(l)         FOTA(l, FOTA_URC_UNKNOWN, -1, -1)
#define UNK(l)                  CLS(l, NULL, NULL, AT_LINE_UNKNOWN)
#define CEREG(l, st, t, c, a)   URC1(l, .type = URC_CEREG, .cereg = { (st), t, c, (a) })
#define BARE(l, p, e, c)        { l, p, e, { .cls = (c) }, true }

static void run_case(const struct urc_case *c)
{
        const struct at_classify_ctx ctx = { .pending = c->pending, .expect = c->expect, .bare = c->bare };
        struct at_line got;

        at_classify(c->line, &ctx, &got);
        check_line(c->line, &got, &c->want);
}

#define CASE_TEST(name, table) \
        START_TEST(name) { run_case(&table[_i]); } END_TEST

static const struct urc_case final_cases[] = {
        CLS("OK", NULL, NULL, AT_LINE_OK),
        CLS("ERROR", NULL, NULL, AT_LINE_ERROR),
        CLS("  OK\t", NULL, NULL, AT_LINE_OK),
        CLS("OK", "AT+CGSN=1", "+CGSN:", AT_LINE_OK),
        CLS("ERROR", "AT+QLWOPEN=1", NULL, AT_LINE_ERROR),
        CME("+CME ERROR: 50", 50),
        CME("+CME ERROR:50", 50),
        CME("+CME ERROR: 0", 0),
        CME("+CME ERROR: 847", 847),
        CME("+CMS ERROR: 500", 500),
        CME("+CME ERROR: SIM busy", -1),
        CME("+CME ERROR:", -1),
        CME("+CME ERROR: 12x", -1),
        CME("+CME ERROR: -3", -1),
        CME("+CME ERROR: 99999999999", -1),
        UNK("OKAY"),
        UNK("ok"),
        UNK("ERRORS"),
};
CASE_TEST(test_final, final_cases)

static const struct urc_case async_cases[] = {
        ASY("CONNECT OK", NULL, AT_ASYNC_CONNECT_OK),
        ASY("CONNECT FAIL", NULL, AT_ASYNC_CONNECT_FAIL),
        ASY("SEND OK", NULL, AT_ASYNC_SEND_OK),
        ASY("SEND FAIL", NULL, AT_ASYNC_SEND_FAIL),
        ASY("UPDATE OK", NULL, AT_ASYNC_UPDATE_OK),
        ASY("UPDATE FAIL", NULL, AT_ASYNC_UPDATE_FAIL),
        ASY("CLOSE OK", NULL, AT_ASYNC_CLOSE_OK),
        ASY("CLOSE FAIL", NULL, AT_ASYNC_CLOSE_FAIL),
        /* A deferred result arriving while another command runs is still not its response. */
        ASY("SEND OK", "AT+QLWRD=4", AT_ASYNC_SEND_OK),
        ASY(" CLOSE OK ", NULL, AT_ASYNC_CLOSE_OK),
        UNK("CONNECT"),
        UNK("SEND OKAY"),
        BARE("CONNECT", "AT+QLWOPEN=1", NULL, AT_LINE_RESPONSE),
        /* A command without bare answer lines cannot have it: noise, never its response. */
        CLS("CONNECT", "AT+QLWOPEN=1", NULL, AT_LINE_UNKNOWN),
};
CASE_TEST(test_async, async_cases)

static const struct urc_case urc_cases[] = {
        URC1("RDY", .type = URC_RDY),
        URC1("  RDY  ", .type = URC_RDY),
        /* RDY after a boot ROM printed at another baud rate: junk bytes before it (the splitter
         * has dropped the non-printable ones). */
        URC1("RbbRDY", .type = URC_RDY),
        URC1("x~RDY", .type = URC_RDY),
        URC1("+QLWOBSERVE:0,19,0,0", .type = URC_QLWOBSERVE, .observe = { 0, 19, 0, 0 }),
        URC1("+QLWOBSERVE: 1,19,0,-1", .type = URC_QLWOBSERVE, .observe = { 1, 19, 0, -1 }),
        URC1("+QLWOBSERVE: 0, 5, 0, 3", .type = URC_QLWOBSERVE, .observe = { 0, 5, 0, 3 }),
        URC1("+QLWOBSERVE: 0,65535,65535,65535", .type = URC_QLWOBSERVE,
             .observe = { 0, 65535, 65535, 65535 }),
        URC1("+QLWDATARECV: 19,1,0,4,AAAA0000", .type = URC_QLWDATARECV,
             .datarecv = { 19, 1, 0, 4 }),
        URC1("+QLWDATARECV: 19,1,0,4", .type = URC_QLWDATARECV, .datarecv = { 19, 1, 0, 4 }),
        URC1("+QLWDATARECV:19,1,0,512", .type = URC_QLWDATARECV, .datarecv = { 19, 1, 0, 512 }),
        URC1("+QLWDATARECV: 19,1,0,5,a,b,c", .type = URC_QLWDATARECV,
             .datarecv = { 19, 1, 0, 5 }),
        URC1("+CSCON: 1", .type = URC_CSCON, .cscon = { 1 }),
        URC1("+CSCON:0", .type = URC_CSCON, .cscon = { 0 }),
        URC1("+CFUN: 1", .type = URC_CFUN, .cfun = { 1 }),
        URC1("+CFUN:0", .type = URC_CFUN, .cfun = { 0 }),
        URC1("+CPIN: READY", .type = URC_CPIN, .cpin = { "READY" }),
        URC1("+CPIN:SIM PIN", .type = URC_CPIN, .cpin = { "SIM PIN" }),
        URC1("+CPIN: NOT READY", .type = URC_CPIN, .cpin = { "NOT READY" }),
        URC1("+IP: 100.96.44.128", .type = URC_IP, .ip = { "100.96.44.128" }),
        URC1("+IP:10.170.235.216", .type = URC_IP, .ip = { "10.170.235.216" }),
        URC1("+IP: 2001:db8::1", .type = URC_IP, .ip = { "2001:db8::1" }),
};
CASE_TEST(test_urc, urc_cases)

/* +CEREG: URC layouts for n=1..5 (27.007 10.1.22, BC26 AT manual 2.8): tac and ci are kept as the
 * module gives them (upper-cased), AcT -1 when absent. */
static const struct urc_case cereg_cases[] = {
        /* n=1 */
        CEREG("+CEREG: 1", 1, "", "", -1),
        CEREG("+CEREG:5", 5, "", "", -1),
        CEREG("+CEREG: 0", 0, "", "", -1),
        CEREG(" +CEREG: 10 ", 10, "", "", -1),
        /* n=2 */
        CEREG("+CEREG: 1,\"69C9\",\"6923252\",9", 1, "69C9", "6923252", 9),
        CEREG("+CEREG:1,\"69c9\",\"0bf576d1\",9", 1, "69C9", "0BF576D1", 9),
        CEREG("+CEREG: 5, \"0001\" , \"FFFFFFFF\" ,9", 5, "0001", "FFFFFFFF", 9),
        CEREG("+CEREG: 2,,,9", 2, "", "", 9),
        CEREG("+CEREG: 2,,,", 2, "", "", -1),
        CEREG("+CEREG: 1,\"\",\"\",9", 1, "", "", 9),
        CEREG("+CEREG: 1,\"A\",\"B\",7", 1, "A", "B", 7),
        CEREG("+CEREG: 2", 2, "", "", -1),          /* n=2 while searching: stat only */
        /* n=3: cause_type, reject_cause */
        CEREG("+CEREG: 3,\"69C9\",\"06923252\",9,0,15", 3, "69C9", "06923252", 9),
        CEREG("+CEREG: 3,,,,0,15", 3, "", "", -1),
        CEREG("+CEREG:1,\"69C9\",\"06923252\",9,,", 1, "69C9", "06923252", 9),
        /* n=4: the cause pair empty, then the PSM timers */
        CEREG("+CEREG: 1,\"69C9\",\"06923252\",9,,,\"00100100\",\"01000111\"", 1, "69C9", "06923252", 9),
        /* n=5: everything */
        CEREG("+CEREG: 5,\"69C9\",\"06923252\",9,0,0,\"00000101\",\"00111000\"", 5, "69C9", "06923252", 9),
        CEREG("+CEREG:1,\"69C9\",\"06923252\",9,,,,", 1, "69C9", "06923252", 9),
        CEREG("+CEREG: 1,\"69C9\",\"06923252\",9,,,\"\",", 1, "69C9", "06923252", 9),
        /* Malformed: bad hex, too long, unquoted, bare second field (the read shape), missing
         * fields, out-of-range numbers, junk at the end. */
        UNK("+CEREG: 1,\"69G9\",\"06923252\",9"),
        UNK("+CEREG: 1,\"69C9\",\"0692325Z\",9"),
        UNK("+CEREG: 1,\"69C90\",\"06923252\",9"),
        UNK("+CEREG: 1,\"69C9\",\"069232520\",9"),
        UNK("+CEREG: 1,69C9,\"06923252\",9"),
        UNK("+CEREG: 1,\"69C9,\"06923252\",9"),
        UNK("+CEREG: 1,\"69C9\",\"06923252\""),
        UNK("+CEREG: 1,\"69C9\""),
        UNK("+CEREG: 1,\"69C9\",\"06923252\",16"),
        UNK("+CEREG: 1,\"69C9\",\"06923252\",-1"),
        UNK("+CEREG: 1,\"69C9\",\"06923252\",9,0"),
        UNK("+CEREG: 1,\"69C9\",\"06923252\",9,0,0,\"00100100\""),
        UNK("+CEREG: 1,\"69C9\",\"06923252\",9,0,0,\"00200100\",\"0\""),
        UNK("+CEREG: 1,\"69C9\",\"06923252\",9,0,0,\"001001001\",\"0\""),
        UNK("+CEREG: 1,\"69C9\",\"06923252\",9,0,0,\"0\",\"0\",1"),
        UNK("+CEREG: 1,\"69C9\",\"06923252\",9 x"),
        UNK("+CEREG: 2,1"),
        UNK("+CEREG: 5,1,\"69C9\",\"06923252\",9,0,0,\"00000101\",\"00111000\""),
        UNK("+CEREG: x"),
};
CASE_TEST(test_cereg, cereg_cases)

/* urc_decode_cereg() is the same decoder without the prefix (the read response's tail). */
START_TEST(test_cereg_fields)
{
        struct urc u;

        memset(&u, 0x5a, sizeof(u));
        ck_assert_int_eq(urc_decode_cereg("1,\"69c9\",\"06923252\",9", &u), 0);
        ck_assert_int_eq(u.type, URC_CEREG);
        ck_assert_int_eq(u.cereg.stat, 1);
        ck_assert_str_eq(u.cereg.tac, "69C9");
        ck_assert_str_eq(u.cereg.ci, "06923252");
        ck_assert_int_eq(u.cereg.act, 9);
        ck_assert_int_eq(urc_decode_cereg(" 2", &u), 0);
        ck_assert_int_eq(u.cereg.stat, 2);
        ck_assert_str_eq(u.cereg.tac, "");
        ck_assert_int_eq(u.cereg.act, -1);
        /* A failure leaves out untouched. */
        ck_assert_int_eq(urc_decode_cereg("3,\"XYZ\",,", &u), -EINVAL);
        ck_assert_int_eq(u.cereg.stat, 2);
        ck_assert_int_eq(urc_decode_cereg("", &u), -EINVAL);
        ck_assert_int_eq(urc_decode_cereg(NULL, &u), -EINVAL);
}
END_TEST

static const struct urc_case fota_cases[] = {
        FOTA("+QIND: \"FOTA\",\"COAPSTART\"", FOTA_URC_COAPSTART, -1, -1),
        FOTA("+QIND:\"FOTA\",\"COAPSTART\"", FOTA_URC_COAPSTART, -1, -1),
        FOTA("+QIND: \"FOTA\",\"COAPEND\",0", FOTA_URC_COAPEND, 0, -1),
        FOTA("+QIND: \"FOTA\",\"COAPEND\",5", FOTA_URC_COAPEND, 5, -1),
        FOTA("+QIND: \"FOTA\",\"START\"", FOTA_URC_START, -1, -1),
        FOTA("+QIND: \"FOTA\",\"UPDATING\",20%,1,1", FOTA_URC_UPDATING, -1, 20),
        FOTA("+QIND: \"FOTA\",\"UPDATING\",100%,1,1", FOTA_URC_UPDATING, -1, 100),
        FOTA("+QIND: \"FOTA\",\"UPDATING\", 1%", FOTA_URC_UPDATING, -1, 1),
        FOTA("+QIND: \"FOTA\",\"UPDATING\",0%", FOTA_URC_UPDATING, -1, 0),
        FOTA("+QIND: \"FOTA\",\"UPDATING\",50", FOTA_URC_UPDATING, -1, 50),
        FOTA("+QIND: \"FOTA\",\"END\",0", FOTA_URC_END, 0, -1),
        FOTA("+QIND: \"FOTA\",\"END\",255", FOTA_URC_END, 255, -1),
        FOTA("+QIND: \"FOTA\",\"HTTPSTART\"", FOTA_URC_HTTPSTART, -1, -1),
        FOTA("+QIND: \"FOTA\",\"HTTPTART\"", FOTA_URC_HTTPSTART, -1, -1),
        FOTA("+QIND: \"FOTA\",\"DOWNLOADING\", 1%", FOTA_URC_DOWNLOADING, -1, 1),
        FOTA("+QIND: \"FOTA\",\"DOWNLOADING\",99%", FOTA_URC_DOWNLOADING, -1, 99),
        FOTA("+QIND: \"FOTA\",\"HTTPEND\",0", FOTA_URC_HTTPEND, 0, -1),
        FOTA("+QIND: \"FOTA\",\"HTTPEND\",12", FOTA_URC_HTTPEND, 12, -1),
        /* A FOTA URC in the middle of another command's response is still a URC. */
        FOTAP("+QIND: \"FOTA\",\"COAPSTART\"", "AT+QLWRD=4", FOTA_URC_COAPSTART, -1, -1),
        /* Not understood: still FOTA, kind UNKNOWN, never dropped. */
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"last upgrade was not finished, continue upgrade\""),
        FOTA_UNKNOWN("+QIND: \"FOTA\""),
        FOTA_UNKNOWN("+QIND: \"FOTA\","),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"COAPEND\""),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"COAPEND\","),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"COAPEND\",x"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"COAPEND\",0,1"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"END\",-1"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"END\",65536"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"UPDATING\""),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"UPDATING\",101%"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"UPDATING\",%"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"UPDATING\",20%,a"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"START\",1"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"COAPSTART"),
        FOTA_UNKNOWN("+QIND: \"FOTA\",\"coapstart\""),
        FOTA_UNKNOWN("+QIND: \"FOTA\",COAPSTART"),
        /* Not FOTA at all. */
        UNK("+QIND: \"PSM\",1"),
        CLS("+QIND: \"PSM\",1", "ATI", NULL, AT_LINE_UNKNOWN),
        UNK("+QIND: FOTA,\"START\""),
        UNK("+QIND:"),
};
CASE_TEST(test_fota, fota_cases)

static const struct urc_case boot_cases[] = {
        CLS("F1: 0000 0000", NULL, NULL, AT_LINE_BOOT),
        CLS("F1: 1234 ABCD", NULL, NULL, AT_LINE_BOOT),
        CLS("V0: 0000 0001 [0002]", NULL, NULL, AT_LINE_BOOT),
        CLS("00: 0006 000C", NULL, NULL, AT_LINE_BOOT),
        CLS("T0: 0000 001B", NULL, NULL, AT_LINE_BOOT),
        CLS("U0: 0000 0001 [0000]", NULL, NULL, AT_LINE_BOOT),
        CLS("9Z: dead beef", NULL, NULL, AT_LINE_BOOT),
        CLS("F1: 0000 0000 0000 0000 [FFFF]", NULL, NULL, AT_LINE_BOOT),
        CLS("Leaving the BROM", NULL, NULL, AT_LINE_BOOT),
        CLS("~#%Leaving the BROM", NULL, NULL, AT_LINE_BOOT),
        /* A reboot outranks the command in flight and its expected prefix. */
        CLS("F1: 0000 0000", "AT", NULL, AT_LINE_BOOT),
        CLS("Leaving the BROM", "AT+CFUN?", "+CFUN:", AT_LINE_BOOT),
        /* Not the shape. */
        UNK("F1: 0000"),
        UNK("F1: 00000 0000"),
        UNK("f1: 0000 0000"),
        UNK("F1:0000 0000"),
        UNK("+X: 0000 0000"),
        UNK("F1: 0000 0000 [00]"),
        UNK("F1: 0000 0000 [0000"),
        UNK("F1: 0000 0000 [0000] 0000"),
        UNK("F1: 0000 0000 0000 0000 0000"),
        UNK("F1: 0000 000G"),
        UNK("F1: 0000  0000"),
        UNK("Leaving the"),
        UNK("+CSQ: 0000 0000"),
};
CASE_TEST(test_boot, boot_cases)

static const struct urc_case solicited_cases[] = {
        CLS("+CFUN: 1", "AT+CFUN?", "+CFUN:", AT_LINE_RESPONSE),
        URCP("+CFUN: 1", "AT+CGSN=1", "+CGSN:", .type = URC_CFUN, .cfun = { 1 }),
        CLS("+CPIN: READY", "AT+CPIN?", "+CPIN:", AT_LINE_RESPONSE),
        URCP("+CPIN: READY", NULL, NULL, .type = URC_CPIN, .cpin = { "READY" }),
        CLS("+CEREG: 0,1", "AT+CEREG?", "+CEREG:", AT_LINE_RESPONSE),
        CLS("+CEREG: 2", "AT+CEREG?", "+CEREG:", AT_LINE_RESPONSE),
        URCP("+CEREG: 2", "ATI", NULL, .type = URC_CEREG, .cereg = { 2, "", "", -1 }),
        /* The read response with location (n=2) is not a URC either, but the URC layout while
         * AT+CEREG? waits is its response by prefix: the network module tells them apart. */
        UNK("+CEREG: 2,1,\"69C9\",\"06923252\",9"),
        CLS("+CEREG: 1,\"69C9\",\"06923252\",9", "AT+CEREG?", "+CEREG:", AT_LINE_RESPONSE),
        /* The read-response shape with nobody asking is not a URC either. */
        UNK("+CEREG: 0,1"),
        CLS("+CSCON: 0,1", "AT+CSCON?", "+CSCON:", AT_LINE_RESPONSE),
        UNK("+CSCON: 0,1"),
        CLS("+CGSN: 866971030399922", "AT+CGSN=1", "+CGSN:", AT_LINE_RESPONSE),
        UNK("+CGSN: 866971030399922"),
        CLS("+QLWRD: 4,0", "AT+QLWRD=4", "+QLWRD:", AT_LINE_RESPONSE),
        BARE("AAAA0000", "AT+QLWRD=4", "+QLWRD:", AT_LINE_RESPONSE),
        BARE("Quectel_Ltd", "ATI", NULL, AT_LINE_RESPONSE),
        BARE("Quectel_BC26", "ATI", NULL, AT_LINE_RESPONSE),
        BARE("Revision: BC26NBR01A06", "ATI", NULL, AT_LINE_RESPONSE),
        UNK("Revision: BC26NBR01A06"),
        /* A late ATI line while AT+CGSN=1 waits is not the IMEI (finding 2). */
        CLS("Revision: BC26NBR01A06", "AT+CGSN=1", "+CGSN:", AT_LINE_UNKNOWN),
        CLS("AAAA0000", "AT+QLWRD=4", "+QLWRD:", AT_LINE_UNKNOWN),
        /* Unknown URCs between a response's lines stay unknown, even for a bare-text command. */
        BARE("+QNBIOTEVENT: \"ENTER PSM\"", "ATI", NULL, AT_LINE_UNKNOWN),
        BARE("+CTZV: 19/01/01,00:00:00,+32", "AT+QLWRD=512", "+QLWRD:", AT_LINE_UNKNOWN),
        CLS("+CEDRXP: 5,\"0101\",\"0101\",\"0011\"", "AT+CGSN=1", "+CGSN:", AT_LINE_UNKNOWN),
        /* URCs in the middle of a command are still URCs. */
        URCP("+QLWOBSERVE: 0,19,0,0", "AT+QLWCFG=\"dataformat\",1,1", NULL,
             .type = URC_QLWOBSERVE, .observe = { 0, 19, 0, 0 }),
        URCP("+IP: 100.96.44.128", "AT+CGSN=1", "+CGSN:", .type = URC_IP,
             .ip = { "100.96.44.128" }),
        URCP("RDY", "AT", NULL, .type = URC_RDY),
};
CASE_TEST(test_solicited, solicited_cases)

static const struct urc_case echo_cases[] = {
        CLS("ATE0", "ATE0", NULL, AT_LINE_ECHO),
        CLS("ate0", "ATE0", NULL, AT_LINE_ECHO),
        CLS("AT", "AT", NULL, AT_LINE_ECHO),
        CLS("AT+CFUN?", "AT+CFUN?", "+CFUN:", AT_LINE_ECHO),
        CLS("AT+QLWDATASEND=19,0,0,1,01,0x0100", "AT+QLWDATASEND=19,0,0,1,01,0x0100", NULL,
            AT_LINE_ECHO),
        CLS("AT+CGMR", "ATI", NULL, AT_LINE_UNKNOWN),
        CLS("ATE", "ATE0", NULL, AT_LINE_UNKNOWN),
        UNK("AT"),
        UNK("ATI"),
        UNK("at+qlwopen=1"),
};
CASE_TEST(test_echo, echo_cases)

static const struct urc_case unknown_cases[] = {
        UNK(""),
        UNK("   "),
        UNK("hello"),
        UNK("BL_V01"),
        UNK("+XYZ: 1"),
        UNK("+QNBIOTEVENT: \"ENTER PSM\""),
        UNK("+QATWAKEUP"),
        UNK("RDY1"),
        UNK("RDY 1"),
        UNK("+IPR: 115200"),
        BARE("anything", "ATI", NULL, AT_LINE_RESPONSE),
        CLS("anything", "AT+CGMR", "Revision:", AT_LINE_UNKNOWN),
        UNK("APP RDY"),
        UNK("Leaving RDY"),
};
CASE_TEST(test_unknown, unknown_cases)

static const struct urc_case malformed_cases[] = {
        UNK("+QLWOBSERVE: 0,19,0"),
        UNK("+QLWOBSERVE: 0,19,0,"),
        UNK("+QLWOBSERVE: 2,19,0,0"),
        UNK("+QLWOBSERVE: 0,65536,0,0"),
        UNK("+QLWOBSERVE: 0,19,65536,0"),
        UNK("+QLWOBSERVE: 0,19,0,-2"),
        UNK("+QLWOBSERVE: 0,19,0,0,7"),
        UNK("+QLWOBSERVE: 0,19,x,0"),
        UNK("+QLWOBSERVE: 0,19,0,99999999999999"),
        UNK("+QLWOBSERVE: -,19,0,0"),
        UNK("+QLWOBSERVE:"),
        UNK("+QLWDATARECV: 19,1,0,513"),
        UNK("+QLWDATARECV: 19,1,0"),
        UNK("+QLWDATARECV: 19,1,0,4,"),
        UNK("+QLWDATARECV: 19,1,0,-4"),
        UNK("+QLWDATARECV: 19,1,-1,4"),
        UNK("+CEREG: 11"),
        UNK("+CEREG:"),
        UNK("+CEREG: 1,"),
        UNK("+CSCON: 2"),
        UNK("+CFUN: x"),
        UNK("+CFUN: 128"),
        UNK("+CFUN: 1,0"),
        UNK("+CPIN:"),
        UNK("+CPIN: 0123456789012345678901234567890123456789012345678901234567890123456789"),
        UNK("+IP:"),
        UNK("+IP: 10.0.0.1 junk"),
        UNK("+IP: 0123456789012345678901234567890123456789012345678901234567890123456789"),
        /* A known URC that does not parse never becomes the pending command's response. */
        CLS("+QLWOBSERVE: 0,19", "ATI", NULL, AT_LINE_UNKNOWN),
};
CASE_TEST(test_malformed, malformed_cases)

/* ---- names --------------------------------------------------------------------------------- */

START_TEST(test_names)
{
        ck_assert_str_eq(at_line_class_to_string(AT_LINE_OK), "ok");
        ck_assert_str_eq(at_line_class_to_string(AT_LINE_UNKNOWN), "unknown");
        ck_assert_str_eq(at_async_to_string(AT_ASYNC_CONNECT_OK), "CONNECT OK");
        ck_assert_str_eq(at_async_to_string(AT_ASYNC_CLOSE_FAIL), "CLOSE FAIL");
        ck_assert_str_eq(urc_type_to_string(URC_QLWOBSERVE), "QLWOBSERVE");
        ck_assert_str_eq(urc_type_to_string(URC_IP), "IP");
        ck_assert_str_eq(fota_urc_kind_to_string(FOTA_URC_COAPEND), "COAPEND");
        ck_assert_str_eq(fota_urc_kind_to_string(FOTA_URC_UNKNOWN), "UNKNOWN");
        ck_assert_str_eq(at_line_class_to_string((enum at_line_class) 99), "invalid");
        /* Every value has its own name. */
        for (int a = AT_LINE_OK; a <= AT_LINE_UNKNOWN; a++)
                for (int b = a + 1; b <= AT_LINE_UNKNOWN; b++)
                        ck_assert_str_ne(at_line_class_to_string((enum at_line_class) a),
                                         at_line_class_to_string((enum at_line_class) b));
        for (int a = FOTA_URC_COAPSTART; a <= FOTA_URC_UNKNOWN; a++)
                for (int b = a + 1; b <= FOTA_URC_UNKNOWN; b++)
                        ck_assert_str_ne(fota_urc_kind_to_string((enum fota_urc_kind) a),
                                         fota_urc_kind_to_string((enum fota_urc_kind) b));
}
END_TEST

#define LOOP(tc, fn, table) \
        tcase_add_loop_test(tc, fn, 0, (int) (sizeof(table) / sizeof(table[0])))

static Suite *urc_suite(void)
{
        Suite *s = suite_create("urc");
        TCase *tc;

        tc = tcase_create("transcript");
        tcase_add_loop_test(tc, test_transcript_line, 0, (int) transcript_len);
        tcase_add_test(tc, test_transcript_contents);
        suite_add_tcase(s, tc);

        tc = tcase_create("tables");
        LOOP(tc, test_final, final_cases);
        LOOP(tc, test_async, async_cases);
        LOOP(tc, test_urc, urc_cases);
        LOOP(tc, test_cereg, cereg_cases);
        tcase_add_test(tc, test_cereg_fields);
        LOOP(tc, test_fota, fota_cases);
        LOOP(tc, test_boot, boot_cases);
        LOOP(tc, test_solicited, solicited_cases);
        LOOP(tc, test_echo, echo_cases);
        LOOP(tc, test_unknown, unknown_cases);
        LOOP(tc, test_malformed, malformed_cases);
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(urc_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
