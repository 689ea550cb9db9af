/* test-network.c - Check suite for the radio status (src/network.c): 3GPP index conversions, the
 * line parsers (tables), and the refresh through a real AT channel with a fake writer and clock:
 * the four commands in order, nothing while gated (also while a round runs), a request during a
 * round (folded, or one extra round), +CEREG URCs while gated, which source wins, and the changed
 * bits (`updated` once per round). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"

#define MS 1000ULL
#define SEC (1000ULL * 1000)
#define UNK_I NETWORK_UNKNOWN_I
#define UNK_U NETWORK_UNKNOWN_U

#define ELEMENTSOF(a) ((int) (sizeof(a) / sizeof((a)[0])))

/* ---- conversions ------------------------------------------------------------------------------ */

struct conv_case {
        int index;
        int32_t want;
};

/* 27.007 10.1.6: 0 "< -140" reported as -140, n -> n - 141 (lower edge), 97 "-44 or more". */
static const struct conv_case rsrp_cases[] = {
        { 0, -140 }, { 1, -140 }, { 2, -139 }, { 41, -100 }, { 53, -88 }, { 54, -87 }, { 96, -45 },
        { 97, -44 }, { 98, UNK_I }, { 254, UNK_I }, { 255, UNK_I }, { -1, UNK_I },
};

START_TEST(test_rsrp)
{
        ck_assert_int_eq(network_rsrp_from_cesq(rsrp_cases[_i].index), rsrp_cases[_i].want);
}
END_TEST

/* 0.5 dB steps from -19.5; integer dB = floor of the lower edge, -20 + n/2. */
static const struct conv_case rsrq_cases[] = {
        { 0, -20 }, { 1, -20 }, { 2, -19 }, { 3, -19 }, { 12, -14 }, { 13, -14 }, { 20, -10 },
        { 21, -10 }, { 32, -4 }, { 33, -4 }, { 34, -3 }, { 35, UNK_I }, { 255, UNK_I }, { -1, UNK_I },
};

START_TEST(test_rsrq)
{
        ck_assert_int_eq(network_rsrq_from_cesq(rsrq_cases[_i].index), rsrq_cases[_i].want);
}
END_TEST

/* 27.007 8.5: -113 + 2n dBm, 99 not known. */
static const struct conv_case rssi_cases[] = {
        { 0, -113 }, { 1, -111 }, { 2, -109 }, { 15, -83 }, { 30, -53 }, { 31, -51 }, { 32, UNK_I },
        { 98, UNK_I }, { 99, UNK_I }, { -1, UNK_I },
};

START_TEST(test_rssi)
{
        ck_assert_int_eq(network_rssi_from_csq(rssi_cases[_i].index), rssi_cases[_i].want);
}
END_TEST

/* Every index 1..97 is exactly 1 dB above the previous one; every rsrq pair shares a dB value. */
START_TEST(test_conversion_monotonic)
{
        for (int i = 2; i <= 97; i++)
                ck_assert_int_eq(network_rsrp_from_cesq(i) - network_rsrp_from_cesq(i - 1), 1);
        for (int i = 1; i <= 34; i++) {
                int32_t d = network_rsrq_from_cesq(i) - network_rsrq_from_cesq(i - 1);

                ck_assert_msg(d == 0 || d == 1, "rsrq %d", i);
                /* floor: never above the true lower edge -20 + i/2 */
                ck_assert_int_le(2 * network_rsrq_from_cesq(i), -40 + i);
                ck_assert_int_gt(2 * network_rsrq_from_cesq(i), -40 + i - 2);
        }
}
END_TEST

START_TEST(test_registration)
{
        static const struct { int stat; enum network_registration r; const char *s; } t[] = {
                { 0, NETWORK_REG_NOT_REGISTERED, "not-registered" },
                { 1, NETWORK_REG_HOME, "home" },
                { 2, NETWORK_REG_SEARCHING, "searching" },
                { 3, NETWORK_REG_DENIED, "denied" },
                { 4, NETWORK_REG_UNKNOWN, "unknown" },
                { 5, NETWORK_REG_ROAMING, "roaming" },
                { 6, NETWORK_REG_UNKNOWN, "unknown" },
                { 10, NETWORK_REG_UNKNOWN, "unknown" },
                { -1, NETWORK_REG_UNKNOWN, "unknown" },
        };

        for (int i = 0; i < ELEMENTSOF(t); i++) {
                ck_assert_int_eq(network_registration_from_stat(t[i].stat), t[i].r);
                ck_assert_str_eq(network_registration_to_string(network_registration_from_stat(t[i].stat)), t[i].s);
        }
}
END_TEST

/* ---- parsers ---------------------------------------------------------------------------------- */

enum which { CEREG, CESQ, CSQ, QENG };

struct parse_case {
        enum which cmd;
        const char *line;
        int ret;
        struct network_status want;     /* compared in full when ret == 0 */
};

/* A whole expected status, every field given once: registration, tac, cell, act, rsrp, rsrq, sinr,
 * rssi, coverage class, earfcn, pci, band. */
#define ST(reg, tac_, cell, act_, rsrp_, rsrq_, sinr_, rssi_, ecl, earfcn_, pci_, band_) \
        { .registration = (reg), .tac = tac_, .cell_id = cell, .act = (act_), .rsrp = (rsrp_), .rsrq = (rsrq_), \
          .sinr = (sinr_), .rssi = (rssi_), .coverage_class = (ecl), .earfcn = (earfcn_), .pci = (pci_), \
          .band = (band_) }
#define NONE ST(NETWORK_REG_UNKNOWN, "", "", 0, UNK_I, UNK_I, UNK_I, UNK_I, UNK_U, UNK_U, UNK_U, UNK_U)
/* What each command sets; everything else stays "not known". */
#define CER(l, reg, tac_, cell, act_) \
        { CEREG, l, 0, ST(reg, tac_, cell, act_, UNK_I, UNK_I, UNK_I, UNK_I, UNK_U, UNK_U, UNK_U, UNK_U) }
#define CES(l, rsrq_, rsrp_) \
        { CESQ, l, 0, ST(NETWORK_REG_UNKNOWN, "", "", 0, rsrp_, rsrq_, UNK_I, UNK_I, UNK_U, UNK_U, UNK_U, UNK_U) }
#define CS(l, rssi_) \
        { CSQ, l, 0, ST(NETWORK_REG_UNKNOWN, "", "", 0, UNK_I, UNK_I, UNK_I, rssi_, UNK_U, UNK_U, UNK_U, UNK_U) }
#define QE(l, earfcn_, pci_, cell, rsrp_, rsrq_, rssi_, sinr_, band_, tac_, ecl) \
        { QENG, l, 0, ST(NETWORK_REG_UNKNOWN, tac_, cell, 0, rsrp_, rsrq_, sinr_, rssi_, ecl, earfcn_, pci_, band_) }
#define BAD(c, l) { c, l, -EINVAL, NONE }
#define REG(x) NETWORK_REG_##x

static const struct parse_case parse_cases[] = {
        /* AT+CEREG? read form <n>,<stat>[,...] */
        CER("+CEREG: 0,1", REG(HOME), "", "", 0),
        CER("+CEREG:1,5", REG(ROAMING), "", "", 0),
        CER("+CEREG: 2,2", REG(SEARCHING), "", "", 0),
        CER("+CEREG: 2,1,\"69C9\",\"06923252\",9", REG(HOME), "69C9", "06923252", 9),
        CER("+CEREG: 2, 1, \"69c9\", \"6923252\", 9", REG(HOME), "69C9", "6923252", 9),
        CER("+CEREG: 3,3,,,,0,15", REG(DENIED), "", "", 0),
        CER("+CEREG: 5,1,\"69C9\",\"06923252\",9,,,\"00100100\",\"01000111\"", REG(HOME), "69C9", "06923252", 9),
        CER("+CEREG: 4,4", REG(UNKNOWN), "", "", 0),
        CER("+CEREG: 0,0", REG(NOT_REGISTERED), "", "", 0),
        /* The URC form, which may arrive while AT+CEREG? waits (same prefix). */
        CER("+CEREG: 1", REG(HOME), "", "", 0),
        CER("+CEREG: 1,\"1A2B\",\"0C3D4E5F\",9", REG(HOME), "1A2B", "0C3D4E5F", 9),
        CER("+CEREG: 2,,,", REG(SEARCHING), "", "", 0),
        BAD(CEREG, "+CEREG: 6,1"),              /* <n> is 0..5 */
        BAD(CEREG, "+CEREG: 12,1"),
        BAD(CEREG, "+CEREG: 2,1,\"69X9\",\"06923252\",9"),
        BAD(CEREG, "+CEREG: 2,1,\"69C9\""),
        BAD(CEREG, "+CEREG:"),
        BAD(CEREG, "+CEREG: ,1"),
        BAD(CEREG, "+CGREG: 0,1"),
        BAD(CEREG, "+CEREG: 0,1 junk"),
        /* AT+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp> */
        CES("+CESQ: 36,99,255,255,12,53", -14, -88),
        CES("+CESQ: 47,6,255,255,0,54", -20, -87),      /* the DFOTA guide's */
        CES("+CESQ:99,99,255,255,34,97", -3, -44),
        CES("+CESQ: 99,99,255,255,255,255", UNK_I, UNK_I),
        CES("+CESQ: 99, 99, 255, 255, 20, 41", -10, -100),
        BAD(CESQ, "+CESQ: 99,99,255,255,20"),
        BAD(CESQ, "+CESQ: 99,99,255,255,20,41,1"),
        BAD(CESQ, "+CESQ: 99,99,255,255,,41"),
        BAD(CESQ, "+CESQ: 99,99,255,255,20,256"),
        BAD(CESQ, "+CESQ: 99,99,255,255,20,-1"),
        BAD(CESQ, "+CESQ: 99,99,255,255,20,4x"),
        BAD(CESQ, "+CSQ: 15,99"),
        /* AT+CSQ: <rssi>,<ber> */
        CS("+CSQ: 15,99", -83),
        CS("+CSQ:31,0", -51),
        CS("+CSQ: 0,99", -113),
        CS("+CSQ: 99,99", UNK_I),
        BAD(CSQ, "+CSQ: 15"),
        BAD(CSQ, "+CSQ: 15,99,1"),
        BAD(CSQ, "+CSQ: a,99"),
        BAD(CSQ, "+CSQ: 100,99"),
        BAD(CSQ, "+CESQ: 15,99"),
        /* AT+QENG=0 (earfcn, pci, cell, rsrp, rsrq, rssi, snr, band, tac, ecl): the manual's
         * example, then with the later <operation_mode>, an unquoted TAC and an empty offset as
         * seen from firmware in the field, and the idle-only fields empty (RRC-CONNECTED). */
        QE("+QENG: 0,2506,2,62,\"6923252\",-84,-10,-74,2,5,\"69C9\",0,90",
           2506, 62, "6923252", -84, -10, -74, 2, 5, "69C9", 0),
        QE("+QENG: 0,2507,2,146,\"772f253\",-90,-8,-83,16,5,\"785f\",1,140,3",
           2507, 146, "772F253", -90, -8, -83, 16, 5, "785F", 1),
        QE("+QENG: 0,2506,,176,\"0BF576D1\",-59,-6,-31,21,5,3095,2,-17,3",
           2506, 176, "0BF576D1", -59, -6, -31, 21, 5, "3095", 2),
        QE("+QENG: 0,3736,0,301,\"0A1B2C3D\",,,,,8,\"1F2E\",,",
           3736, 301, "0A1B2C3D", UNK_I, UNK_I, UNK_I, UNK_I, 8, "1F2E", UNK_U),
        QE("+QENG:0,3736,0,301,\"0A1B2C3D\",-100,-12,-90,-3,8,\"1F2E\"",
           3736, 301, "0A1B2C3D", -100, -12, -90, -3, 8, "1F2E", UNK_U),
        /* Out of the plausible range: "not known", not a wrong number (0.1 dBm units, ECL 3). */
        QE("+QENG: 0,2506,2,62,\"6923252\",-1114,-10,-74,2,5,\"69C9\",3,90",
           2506, 62, "6923252", UNK_I, -10, -74, 2, 5, "69C9", UNK_U),
        { QENG, "+QENG: 1,2506,2,63,-90", -ENOENT, NONE },
        { QENG, "+QENG: 2,0,0,0,0", -ENOENT, NONE },
        BAD(QENG, "+QENG: 0,2506,2,62,\"6923252\",-84,-10,-74,2,5"),
        BAD(QENG, "+QENG: 0,2506,2,62,\"69232520A\",-84,-10,-74,2,5,\"69C9\",0,90"),
        BAD(QENG, "+QENG: 0,2506,2,62,\"6923252\",-84,-10,-74,2,5,\"69C90\",0,90"),
        BAD(QENG, "+QENG: 0,2506,2,62,\"6923252\",x,-10,-74,2,5,\"69C9\",0,90"),
        BAD(QENG, "+QENG: 0,2506,2,62,\"6923252,-84,-10,-74,2,5,\"69C9\",0,90"),
        BAD(QENG, "+QENG: 0,2506,2,62,\"69G3252\",-84,-10,-74,2,5,\"69C9\",0,90"),
        BAD(QENG, "+QENG: ,2506"),
        BAD(QENG, "+QENG:"),
        BAD(QENG, "+CESQ: 0,2506,2,62,\"6923252\",-84,-10,-74,2,5,\"69C9\",0,90"),
};

static int parse(enum which cmd, const char *line, struct network_status *st)
{
        switch (cmd) {
        case CEREG: return network_parse_cereg(line, st);
        case CESQ:  return network_parse_cesq(line, st);
        case CSQ:   return network_parse_csq(line, st);
        case QENG:  return network_parse_qeng(line, st);
        }
        return -EINVAL;
}

static void assert_status(const char *what, const struct network_status *got, const struct network_status *want)
{
        ck_assert_msg(got->registration == want->registration, "%s: registration %s, want %s", what,
                      network_registration_to_string(got->registration),
                      network_registration_to_string(want->registration));
        ck_assert_msg(strcmp(got->tac, want->tac) == 0, "%s: tac \"%s\", want \"%s\"", what, got->tac, want->tac);
        ck_assert_msg(strcmp(got->cell_id, want->cell_id) == 0, "%s: cell \"%s\", want \"%s\"", what,
                      got->cell_id, want->cell_id);
        ck_assert_msg(got->act == want->act, "%s: act %u, want %u", what, got->act, want->act);
        ck_assert_msg(got->rsrp == want->rsrp, "%s: rsrp %d, want %d", what, got->rsrp, want->rsrp);
        ck_assert_msg(got->rsrq == want->rsrq, "%s: rsrq %d, want %d", what, got->rsrq, want->rsrq);
        ck_assert_msg(got->sinr == want->sinr, "%s: sinr %d, want %d", what, got->sinr, want->sinr);
        ck_assert_msg(got->rssi == want->rssi, "%s: rssi %d, want %d", what, got->rssi, want->rssi);
        ck_assert_msg(got->coverage_class == want->coverage_class, "%s: ecl %u, want %u", what,
                      got->coverage_class, want->coverage_class);
        ck_assert_msg(got->earfcn == want->earfcn, "%s: earfcn %u, want %u", what, got->earfcn, want->earfcn);
        ck_assert_msg(got->pci == want->pci, "%s: pci %u, want %u", what, got->pci, want->pci);
        ck_assert_msg(got->band == want->band, "%s: band %u, want %u", what, got->band, want->band);
        ck_assert_msg(got->updated == want->updated, "%s: updated %llu, want %llu", what,
                      (unsigned long long) got->updated, (unsigned long long) want->updated);
}

START_TEST(test_parse)
{
        const struct parse_case *c = &parse_cases[_i];
        struct network_status st, before;

        network_status_init(&st);
        ck_assert_int_eq(parse(c->cmd, c->line, &st), c->ret);
        if (c->ret == 0) {
                assert_status(c->line, &st, &c->want);
                return;
        }
        /* A refused line leaves the status exactly as it was. */
        memset(&st, 0x5a, sizeof(st));
        before = st;
        ck_assert_int_eq(parse(c->cmd, c->line, &st), c->ret);
        ck_assert_int_eq(memcmp(&st, &before, sizeof(st)), 0);
}
END_TEST

/* A parser sets only its own fields. */
START_TEST(test_parse_touches_only_its_fields)
{
        struct network_status st;

        memset(&st, 0, sizeof(st));
        st.rssi = -70;
        st.band = 8;
        ck_assert_int_eq(network_parse_cesq("+CESQ: 99,99,255,255,20,41", &st), 0);
        ck_assert_int_eq(st.rssi, -70);
        ck_assert_uint_eq(st.band, 8);
        ck_assert_int_eq(network_parse_csq("+CSQ: 15,99", &st), 0);
        ck_assert_int_eq(st.rsrp, -100);
        ck_assert_int_eq(network_parse_cereg("+CEREG: 0,1", &st), 0);
        ck_assert_int_eq(st.rssi, -83);
        ck_assert_int_eq(st.registration, NETWORK_REG_HOME);
        ck_assert_int_eq(network_parse_qeng(NULL, &st), -EINVAL);
        ck_assert_int_eq(network_parse_cereg(NULL, &st), -EINVAL);
}
END_TEST

/* ---- the state, through a real channel -------------------------------------------------------- */

#define MAX_WRITTEN 64
#define MAX_CHANGES 64

struct fx {
        struct at_channel *ch;
        struct network *n;
        uint64_t now;
        char written[MAX_WRITTEN][64];
        size_t n_written;
        unsigned changes[MAX_CHANGES];
        size_t n_changes;
};

static struct fx *F;

static int fake_write(void *ud, const void *buf, size_t len)
{
        struct fx *f = ud;

        ck_assert_uint_lt(f->n_written, MAX_WRITTEN);
        ck_assert_uint_lt(len, sizeof(f->written[0]));
        ck_assert_int_eq(((const char *) buf)[len - 1], '\r');
        memcpy(f->written[f->n_written], buf, len - 1);
        f->written[f->n_written][len - 1] = '\0';
        f->n_written++;
        return 0;
}

/* What the manager does: every +CEREG URC goes to the network module, gated or not. */
static void fake_line(void *ud, const char *text, const struct at_line *l, uint64_t now)
{
        struct fx *f = ud;

        if (l->cls == AT_LINE_URC && l->urc.type == URC_CEREG)
                network_on_urc(f->n, &l->urc, now);
}

static const struct at_channel_ops channel_ops = { .write = fake_write, .line = fake_line };

static void on_changed(void *ud, unsigned what)
{
        struct fx *f = ud;

        ck_assert_uint_ne(what, 0);
        ck_assert_uint_lt(f->n_changes, MAX_CHANGES);
        f->changes[f->n_changes++] = what;
}

static const struct network_ops ops = { .changed = on_changed };

static void setup(void)
{
        struct network_config cfg = { .command_timeout_usec = 300 * MS };

        F = calloc(1, sizeof(*F));
        ck_assert_ptr_nonnull(F);
        F->now = 1000 * SEC;
        F->ch = at_channel_new(&channel_ops, F, 2 * SEC);
        ck_assert_ptr_nonnull(F->ch);
        at_channel_set_connected(F->ch, true, F->now);
        F->n = network_new(&cfg, F->ch, &ops, F);
        ck_assert_ptr_nonnull(F->n);
}

static void teardown(void)
{
        at_channel_free(F->ch);
        network_free(F->n);
        free(F);
        F = NULL;
}

static void feed(const char *text)
{
        char buf[512];
        int k = snprintf(buf, sizeof(buf), "\r\n%s\r\n", text);

        ck_assert_int_gt(k, 0);
        F->now += 10 * MS;
        at_channel_feed(F->ch, buf, (size_t) k, F->now);
}

static const char *last(void)
{
        return F->n_written ? F->written[F->n_written - 1] : "";
}

static unsigned last_change(void)
{
        ck_assert_uint_gt(F->n_changes, 0);
        return F->changes[F->n_changes - 1];
}

static const struct network_status *st(void)
{
        return network_get(F->n);
}

#define CESQ_LINE "+CESQ: 99,99,255,255,20,41"                        /* -10 dB, -100 dBm */
#define QENG_LINE "+QENG: 0,2506,2,62,\"6923252\",-84,-11,-74,2,5,\"69C9\",0,90"

/* Answer a whole refresh; each command must be the one expected, in this order. */
static void answer_refresh(const char *cereg, const char *cesq, const char *csq, const char *qeng)
{
        ck_assert_str_eq(last(), "AT+CEREG?");
        feed(cereg);
        feed("OK");
        ck_assert_str_eq(last(), "AT+CESQ");
        feed(cesq);
        feed("OK");
        ck_assert_str_eq(last(), "AT+CSQ");
        feed(csq);
        feed("OK");
        ck_assert_str_eq(last(), "AT+QENG=0");
        feed(qeng);
        feed("+QENG: 1,2506,2,63,-95");
        feed("OK");
}

START_TEST(test_initial_status)
{
        struct network_status want = NONE;

        assert_status("initial", st(), &want);
        ck_assert_ptr_null(network_free(NULL));
}
END_TEST

/* Open gate: exactly the four commands, in order, one at a time, and a full status. */
START_TEST(test_refresh_sends_four_in_order)
{
        /* registration, tac, cell, act, rsrp, rsrq, sinr, rssi, ecl, earfcn, pci, band */
        struct network_status want = ST(REG(HOME), "69C9", "06923252", 9, -84, -11, 2, -74, 0, 2506, 62, 5);

        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_uint_eq(F->n_written, 1);
        ck_assert_str_eq(last(), "AT+CEREG?");
        /* A second request while one runs is folded into it. */
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_uint_eq(F->n_written, 1);
        answer_refresh("+CEREG: 2,1,\"69C9\",\"06923252\",9", CESQ_LINE, "+CSQ: 15,99", QENG_LINE);
        ck_assert_uint_eq(F->n_written, 4);
        ck_assert_str_eq(F->written[0], "AT+CEREG?");
        ck_assert_str_eq(F->written[1], "AT+CESQ");
        ck_assert_str_eq(F->written[2], "AT+CSQ");
        ck_assert_str_eq(F->written[3], "AT+QENG=0");
        ck_assert(!at_channel_busy(F->ch));
        want.updated = F->now;
        assert_status("after refresh", st(), &want);
        /* Values per completed step; UPDATED once, with the last one. */
        ck_assert_uint_eq(F->n_changes, 4);
        ck_assert_uint_eq(F->changes[0], NETWORK_CHANGED_REGISTRATION | NETWORK_CHANGED_CELL);
        ck_assert_uint_eq(F->changes[1], NETWORK_CHANGED_SIGNAL);
        ck_assert_uint_eq(F->changes[2], NETWORK_CHANGED_SIGNAL);
        ck_assert_uint_eq(F->changes[3], NETWORK_CHANGED_CELL | NETWORK_CHANGED_SIGNAL | NETWORK_CHANGED_UPDATED);
        /* Nothing more is sent: the refresh is over, and a new one starts again from the top. */
        F->now += 60 * SEC;
        at_channel_tick(F->ch, F->now);
        ck_assert_uint_eq(F->n_written, 4);
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_uint_eq(F->n_written, 5);
        ck_assert_str_eq(last(), "AT+CEREG?");
}
END_TEST

/* The same readings again: only `updated` moves, once for the round; then a signal change is
 * SIGNAL only. */
START_TEST(test_changed_bits_only_what_changed)
{
        uint64_t first;

        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        answer_refresh("+CEREG: 2,1,\"69C9\",\"06923252\",9", CESQ_LINE, "+CSQ: 15,99", QENG_LINE);
        first = st()->updated;
        ck_assert_uint_eq(first, F->now);
        F->n_changes = 0;
        F->now += 5 * SEC;
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_str_eq(last(), "AT+CEREG?");
        feed("+CEREG: 2,1,\"69C9\",\"06923252\",9");
        feed("OK");
        feed(CESQ_LINE);
        feed("OK");
        feed("+CSQ: 15,99");
        feed("OK");
        ck_assert_uint_eq(st()->updated, first);        /* three steps done: not yet */
        ck_assert_uint_eq(F->n_changes, 0);
        ck_assert_str_eq(last(), "AT+QENG=0");
        feed(QENG_LINE);
        feed("OK");
        ck_assert_uint_eq(F->n_changes, 1);
        ck_assert_uint_eq(F->changes[0], NETWORK_CHANGED_UPDATED);
        ck_assert_uint_eq(st()->updated, F->now);
        F->n_changes = 0;
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        answer_refresh("+CEREG: 2,1,\"69C9\",\"06923252\",9", CESQ_LINE, "+CSQ: 15,99",
                       "+QENG: 0,2506,2,62,\"6923252\",-97,-11,-74,2,5,\"69C9\",1,90");
        ck_assert_uint_eq(F->n_changes, 1);
        ck_assert_uint_eq(F->changes[0], NETWORK_CHANGED_SIGNAL | NETWORK_CHANGED_UPDATED);
        ck_assert_int_eq(st()->rsrp, -97);
        ck_assert_uint_eq(st()->coverage_class, 1);
}
END_TEST

/* Closed or reporting: -EBUSY, nothing written or queued, nothing changed. */
START_TEST(test_refresh_gated_sends_nothing)
{
        enum at_gate g = _i == 0 ? AT_GATE_CLOSED : AT_GATE_REPORTING;

        at_channel_set_gate(F->ch, g, F->now);
        ck_assert_int_eq(network_refresh(F->n, F->now), -EBUSY);
        ck_assert_int_eq(network_refresh(F->n, F->now), -EBUSY);
        ck_assert_uint_eq(F->n_written, 0);
        ck_assert(!at_channel_busy(F->ch));
        ck_assert_uint_eq(F->n_changes, 0);
        F->now += 60 * SEC;
        at_channel_tick(F->ch, F->now);
        ck_assert_uint_eq(F->n_written, 0);
        /* Open again: it works. */
        at_channel_set_gate(F->ch, AT_GATE_OPEN, F->now);
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_str_eq(last(), "AT+CEREG?");
}
END_TEST

START_TEST(test_refresh_no_tty)
{
        at_channel_set_connected(F->ch, false, F->now);
        ck_assert_int_eq(network_refresh(F->n, F->now), -ENOTCONN);
        ck_assert_uint_eq(F->n_written, 0);
        at_channel_set_connected(F->ch, true, F->now);
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_str_eq(last(), "AT+CEREG?");
}
END_TEST

/* A +CEREG URC while the gate is closed updates registration, TAC and cell, writes nothing, and
 * leaves `updated` (the age of the last reading) alone. */
START_TEST(test_urc_while_gated)
{
        uint64_t updated;

        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        answer_refresh("+CEREG: 2,1,\"69C9\",\"06923252\",9", CESQ_LINE, "+CSQ: 15,99", QENG_LINE);
        updated = st()->updated;
        ck_assert_uint_ne(updated, 0);
        F->n_written = 0;
        F->n_changes = 0;
        at_channel_set_gate(F->ch, AT_GATE_CLOSED, F->now);

        feed("+CEREG: 5,\"1A2B\",\"0C3D4E5F\",9");
        ck_assert_uint_eq(F->n_written, 0);
        ck_assert_int_eq(st()->registration, NETWORK_REG_ROAMING);
        ck_assert_str_eq(st()->tac, "1A2B");
        ck_assert_str_eq(st()->cell_id, "0C3D4E5F");
        ck_assert_uint_eq(st()->updated, updated);
        ck_assert_int_eq(st()->rsrp, -84);              /* the last reading stays */
        ck_assert_uint_eq(F->n_changes, 1);
        ck_assert_uint_eq(last_change(), NETWORK_CHANGED_REGISTRATION | NETWORK_CHANGED_CELL);

        /* Ids come without leading zeros from the module; the status has the full width. */
        feed("+CEREG: 5,\"1A2\",\"6923252\",9");
        ck_assert_str_eq(st()->tac, "01A2");
        ck_assert_str_eq(st()->cell_id, "06923252");
        feed("+CEREG: 5,\"1A2B\",\"0C3D4E5F\",9");
        F->n_changes = 1;

        /* n=1 form / not registered: the registration changes, the last cell stays. */
        feed("+CEREG: 2");
        ck_assert_int_eq(st()->registration, NETWORK_REG_SEARCHING);
        ck_assert_str_eq(st()->cell_id, "0C3D4E5F");
        ck_assert_uint_eq(last_change(), NETWORK_CHANGED_REGISTRATION);
        /* The same URC twice: nothing changed, no call. */
        feed("+CEREG: 2");
        ck_assert_uint_eq(F->n_changes, 2);
        /* Other URC types are not ours. */
        {
                struct urc u = { .type = URC_CSCON, .cscon = { 1 } };

                network_on_urc(F->n, &u, F->now);
                network_on_urc(F->n, NULL, F->now);
        }
        ck_assert_uint_eq(F->n_changes, 2);
        ck_assert_uint_eq(F->n_written, 0);
        ck_assert_int_eq(network_refresh(F->n, F->now), -EBUSY);
        ck_assert_uint_eq(F->n_written, 0);
}
END_TEST

/* The gate closes while a refresh runs: the command in flight finishes, nothing after it. */
START_TEST(test_gate_closes_mid_refresh)
{
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        feed("+CEREG: 2,1,\"69C9\",\"06923252\",9");
        feed("OK");
        ck_assert_str_eq(last(), "AT+CESQ");
        at_channel_set_gate(F->ch, _i == 0 ? AT_GATE_CLOSED : AT_GATE_REPORTING, F->now);
        /* A round still runs (AT+CESQ in flight), but the gate is not open: refused, and no extra
         * round is asked for. */
        ck_assert_int_eq(network_refresh(F->n, F->now), -EBUSY);
        ck_assert_int_eq(network_refresh(F->n, F->now), -EBUSY);
        ck_assert_uint_eq(F->n_written, 2);
        F->n_changes = 0;
        feed(CESQ_LINE);
        feed("OK");
        ck_assert_uint_eq(F->n_written, 2);
        ck_assert_int_eq(st()->rsrp, -100);             /* the reading in flight still counts */
        /* The round ended early with values: `updated` moves once, to the last reading's time. */
        ck_assert_uint_eq(st()->updated, F->now);
        ck_assert_uint_eq(F->n_changes, 2);
        ck_assert_uint_eq(F->changes[0], NETWORK_CHANGED_SIGNAL);
        ck_assert_uint_eq(F->changes[1], NETWORK_CHANGED_UPDATED);
        F->now += 60 * SEC;
        at_channel_tick(F->ch, F->now);
        ck_assert_uint_eq(F->n_written, 2);
        /* Not stuck "running": open again and a refresh starts from the top. */
        at_channel_set_gate(F->ch, AT_GATE_OPEN, F->now);
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_str_eq(last(), "AT+CEREG?");
}
END_TEST

/* A command that fails or times out ends the refresh quietly, keeping the last values. */
START_TEST(test_failure_ends_refresh)
{
        uint64_t cereg_done;

        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        answer_refresh("+CEREG: 2,1,\"69C9\",\"06923252\",9", CESQ_LINE, "+CSQ: 15,99", QENG_LINE);
        F->n_written = 0;
        F->n_changes = 0;

        F->now += 5 * SEC;
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        feed("+CEREG: 2,1,\"69C9\",\"06923252\",9");
        feed("OK");
        cereg_done = F->now;
        ck_assert_str_eq(last(), "AT+CESQ");
        if (_i == 0)
                feed("ERROR");
        else if (_i == 1)
                feed("+CME ERROR: 100");
        else {
                F->now += 300 * MS;
                at_channel_tick(F->ch, F->now);
        }
        F->now += 60 * SEC;
        at_channel_tick(F->ch, F->now);
        ck_assert_uint_eq(F->n_written, 2);
        ck_assert_int_eq(st()->rsrp, -84);
        ck_assert_int_eq(st()->rssi, -74);
        /* The CEREG step gave values (unchanged ones): the round that ended early is a reading,
         * `updated` is the time of that step, once. */
        ck_assert_uint_eq(F->n_changes, 1);
        ck_assert_uint_eq(last_change(), NETWORK_CHANGED_UPDATED);
        ck_assert_uint_eq(st()->updated, cereg_done);
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        if (_i == 2) {                                  /* the channel resynchronises first */
                ck_assert_str_eq(last(), "AT+CMEE?");
                feed("+CMEE: 1");
                feed("OK");
        }
        ck_assert_str_eq(last(), "AT+CEREG?");
}
END_TEST

/* Which source wins: QENG's dBm over CESQ's index and CSQ's rssi, falling back to them while
 * QENG has none (RRC-CONNECTED); CEREG's cell over QENG's. */
START_TEST(test_source_priority)
{
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        answer_refresh("+CEREG: 0,1", CESQ_LINE, "+CSQ: 15,99", QENG_LINE);
        ck_assert_int_eq(st()->rsrp, -84);
        ck_assert_int_eq(st()->rsrq, -11);
        ck_assert_int_eq(st()->rssi, -74);
        /* CEREG gave no location (n=0/1): QENG's cell and TAC. */
        ck_assert_str_eq(st()->cell_id, "06923252");
        ck_assert_str_eq(st()->tac, "69C9");
        ck_assert_uint_eq(st()->act, 0);

        /* Connected: QENG without measurements -> CESQ and CSQ values; no flip-flop on the way:
         * the CESQ step does not change the published rsrp while QENG's is known. */
        F->n_changes = 0;
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        answer_refresh("+CEREG: 2,1,\"69CA\",\"06923253\",9", CESQ_LINE, "+CSQ: 15,99",
                       "+QENG: 0,2506,2,62,\"6923252\",,,,,5,\"69C9\",,");
        /* CEREG: the new cell; CESQ and CSQ: hidden by QENG, no call; QENG: the fallback. */
        ck_assert_uint_eq(F->n_changes, 2);
        ck_assert_uint_eq(F->changes[0], NETWORK_CHANGED_CELL);
        ck_assert_uint_eq(F->changes[1], NETWORK_CHANGED_SIGNAL | NETWORK_CHANGED_UPDATED);
        ck_assert_int_eq(st()->rsrp, -100);
        ck_assert_int_eq(st()->rsrq, -10);
        ck_assert_int_eq(st()->rssi, -83);
        ck_assert_int_eq(st()->sinr, UNK_I);
        ck_assert_uint_eq(st()->coverage_class, UNK_U);
        /* CEREG's location now wins over QENG's. */
        ck_assert_str_eq(st()->cell_id, "06923253");
        ck_assert_str_eq(st()->tac, "69CA");
        ck_assert_uint_eq(st()->act, 9);
}
END_TEST

/* A URC-shaped +CEREG while AT+CEREG? waits is its response by prefix: still understood. Lines
 * that are not readings (an OK without a line, garbage) change nothing but do not stop the
 * refresh. */
START_TEST(test_odd_answers)
{
        uint64_t cereg_done;

        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        feed("+CEREG: 1,\"1A2B\",\"0C3D4E5F\",9");
        feed("+CEREG: 2,1,\"1A2B\",\"0C3D4E5F\",9");
        feed("OK");
        cereg_done = F->now;
        ck_assert_int_eq(st()->registration, NETWORK_REG_HOME);
        ck_assert_str_eq(st()->cell_id, "0C3D4E5F");
        ck_assert_str_eq(last(), "AT+CESQ");
        feed("+CESQ: garbage");
        feed("OK");
        ck_assert_int_eq(st()->rsrp, UNK_I);
        ck_assert_str_eq(last(), "AT+CSQ");
        feed("OK");
        ck_assert_str_eq(last(), "AT+QENG=0");
        feed("+QENG: 1,2506,2,63,-95");
        feed("OK");
        ck_assert_uint_eq(st()->earfcn, UNK_U);
        ck_assert_uint_eq(F->n_written, 4);
        /* Only CEREG gave a reading: its values at once, `updated` (its time) at the end. */
        ck_assert_uint_eq(F->n_changes, 2);
        ck_assert_uint_eq(F->changes[0], NETWORK_CHANGED_REGISTRATION | NETWORK_CHANGED_CELL);
        ck_assert_uint_eq(F->changes[1], NETWORK_CHANGED_UPDATED);
        ck_assert_uint_eq(st()->updated, cereg_done);
}
END_TEST

static size_t count_updated(void)
{
        size_t k = 0;

        for (size_t i = 0; i < F->n_changes; i++)
                if (F->changes[i] & NETWORK_CHANGED_UPDATED)
                        k++;
        return k;
}

/* A request while AT+QENG=0 (the last step) waits would get a reading older than itself: a second
 * full round follows, from AT+CEREG?, and only one. Each round moves `updated` once. _i == 1: many
 * requests on every later step still give one extra round. */
START_TEST(test_refresh_during_round_one_more)
{
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        feed("+CEREG: 2,1,\"69C9\",\"06923252\",9");
        feed("OK");
        if (_i == 1)
                for (int k = 0; k < 5; k++)
                        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_str_eq(last(), "AT+CESQ");
        feed(CESQ_LINE);
        feed("OK");
        if (_i == 1)
                for (int k = 0; k < 5; k++)
                        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_str_eq(last(), "AT+CSQ");
        feed("+CSQ: 15,99");
        feed("OK");
        ck_assert_str_eq(last(), "AT+QENG=0");
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        if (_i == 1)
                for (int k = 0; k < 5; k++)
                        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_uint_eq(F->n_written, 4);             /* nothing extra queued meanwhile */
        feed(QENG_LINE);
        feed("OK");
        ck_assert_uint_eq(count_updated(), 1);
        ck_assert_uint_eq(st()->updated, F->now);
        /* The second round, from the top. */
        ck_assert_uint_eq(F->n_written, 5);
        ck_assert_str_eq(last(), "AT+CEREG?");
        F->now += 1 * SEC;
        answer_refresh("+CEREG: 2,1,\"69C9\",\"06923252\",9", CESQ_LINE, "+CSQ: 15,99",
                       "+QENG: 0,2506,2,62,\"6923252\",-97,-11,-74,2,5,\"69C9\",1,90");
        ck_assert_uint_eq(F->n_written, 8);
        ck_assert_str_eq(F->written[4], "AT+CEREG?");
        ck_assert_str_eq(F->written[5], "AT+CESQ");
        ck_assert_str_eq(F->written[6], "AT+CSQ");
        ck_assert_str_eq(F->written[7], "AT+QENG=0");
        ck_assert_int_eq(st()->rsrp, -97);
        ck_assert_uint_eq(count_updated(), 2);
        ck_assert_uint_eq(st()->updated, F->now);
        /* And no third one. */
        ck_assert(!at_channel_busy(F->ch));
        F->now += 60 * SEC;
        at_channel_tick(F->ch, F->now);
        ck_assert_uint_eq(F->n_written, 8);
}
END_TEST

/* A round that ends with an error still gives the extra round asked during it (the gate is open). */
START_TEST(test_extra_round_after_failed_round)
{
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        feed("+CEREG: 2,1,\"69C9\",\"06923252\",9");
        feed("OK");
        ck_assert_str_eq(last(), "AT+CESQ");
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        feed("ERROR");
        ck_assert_uint_eq(count_updated(), 1);
        ck_assert_uint_eq(F->n_written, 3);
        ck_assert_str_eq(last(), "AT+CEREG?");
        answer_refresh("+CEREG: 2,1,\"69C9\",\"06923252\",9", CESQ_LINE, "+CSQ: 15,99", QENG_LINE);
        ck_assert_uint_eq(F->n_written, 6);
        ck_assert_uint_eq(count_updated(), 2);
}
END_TEST

/* An extra round was asked, then the gate closes before the round ends: refresh is refused from
 * then on, and the extra round does not start (not when the round ends, not after reopening). */
START_TEST(test_extra_round_dropped_when_gated)
{
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        feed("+CEREG: 2,1,\"69C9\",\"06923252\",9");
        feed("OK");
        feed(CESQ_LINE);
        feed("OK");
        feed("+CSQ: 15,99");
        feed("OK");
        ck_assert_str_eq(last(), "AT+QENG=0");
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);     /* asks for one more */
        at_channel_set_gate(F->ch, AT_GATE_CLOSED, F->now);
        ck_assert_int_eq(network_refresh(F->n, F->now), -EBUSY);
        feed(QENG_LINE);                                        /* the command in flight ends */
        feed("OK");
        ck_assert_uint_eq(F->n_written, 4);
        ck_assert_uint_eq(count_updated(), 1);
        ck_assert(!at_channel_busy(F->ch));
        at_channel_set_gate(F->ch, AT_GATE_OPEN, F->now);
        F->now += 60 * SEC;
        at_channel_tick(F->ch, F->now);
        ck_assert_uint_eq(F->n_written, 4);
        ck_assert_int_eq(network_refresh(F->n, F->now), 0);
        ck_assert_uint_eq(F->n_written, 5);
        ck_assert_str_eq(last(), "AT+CEREG?");
}
END_TEST

static Suite *network_suite(void)
{
        Suite *s = suite_create("network");
        TCase *tc;

        tc = tcase_create("pure");
        tcase_add_loop_test(tc, test_rsrp, 0, ELEMENTSOF(rsrp_cases));
        tcase_add_loop_test(tc, test_rsrq, 0, ELEMENTSOF(rsrq_cases));
        tcase_add_loop_test(tc, test_rssi, 0, ELEMENTSOF(rssi_cases));
        tcase_add_test(tc, test_conversion_monotonic);
        tcase_add_test(tc, test_registration);
        tcase_add_loop_test(tc, test_parse, 0, ELEMENTSOF(parse_cases));
        tcase_add_test(tc, test_parse_touches_only_its_fields);
        suite_add_tcase(s, tc);

        tc = tcase_create("state");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_initial_status);
        tcase_add_test(tc, test_refresh_sends_four_in_order);
        tcase_add_test(tc, test_changed_bits_only_what_changed);
        tcase_add_loop_test(tc, test_refresh_gated_sends_nothing, 0, 2);
        tcase_add_test(tc, test_refresh_no_tty);
        tcase_add_test(tc, test_urc_while_gated);
        tcase_add_loop_test(tc, test_gate_closes_mid_refresh, 0, 2);
        tcase_add_loop_test(tc, test_failure_ends_refresh, 0, 3);
        tcase_add_test(tc, test_source_priority);
        tcase_add_test(tc, test_odd_answers);
        tcase_add_loop_test(tc, test_refresh_during_round_one_more, 0, 2);
        tcase_add_test(tc, test_extra_round_after_failed_round);
        tcase_add_test(tc, test_extra_round_dropped_when_gated);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(network_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
