/* network.c - radio and network status: the +CEREG/+CESQ/+CSQ/+QENG parsers (pure), the 3GPP
 * index conversions, and the state that merges readings and URCs and says what changed.
 * Commands go through the AT channel (class AT_CLASS_STATUS: only while the gate is open); time
 * is an argument. Which source wins for each value: doc/network.md. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "network.h"

#define FIELDS_MAX      16      /* +QENG: 0 has 14 on current firmware; later ones are ignored */
#define LINE_MAX_LEN    256     /* a status line is well under 100 characters */

/* ---- names and conversions -------------------------------------------------------------------- */

const char *network_registration_to_string(enum network_registration r)
{
        switch (r) {
        case NETWORK_REG_UNKNOWN:               return "unknown";
        case NETWORK_REG_NOT_REGISTERED:        return "not-registered";
        case NETWORK_REG_SEARCHING:             return "searching";
        case NETWORK_REG_HOME:                  return "home";
        case NETWORK_REG_ROAMING:               return "roaming";
        case NETWORK_REG_DENIED:                return "denied";
        }
        return "unknown";
}

enum network_registration network_registration_from_stat(int stat)
{
        /* 27.007 10.1.22 <stat>; 6..10 (SMS only, emergency, CSFB) do not apply to the BC26. */
        switch (stat) {
        case 0: return NETWORK_REG_NOT_REGISTERED;
        case 1: return NETWORK_REG_HOME;
        case 2: return NETWORK_REG_SEARCHING;
        case 3: return NETWORK_REG_DENIED;
        case 5: return NETWORK_REG_ROAMING;
        default: return NETWORK_REG_UNKNOWN;
        }
}

void network_status_init(struct network_status *st)
{
        memset(st, 0, sizeof(*st));
        st->registration = NETWORK_REG_UNKNOWN;
        st->rsrp = st->rsrq = st->sinr = st->rssi = NETWORK_UNKNOWN_I;
        st->coverage_class = st->earfcn = st->pci = st->band = NETWORK_UNKNOWN_U;
}

/* 27.007 10.1.6 <rsrp>: 0 rsrp < -140, 1 -140 <= rsrp < -139, ..., 96 -45 <= rsrp < -44,
 * 97 -44 <= rsrp. Each index reports the lower edge of its step; 0 reports -140 (its upper edge:
 * "-140 or less"), so the range is the manual's -140..-44. */
int32_t network_rsrp_from_cesq(int index)
{
        if (index == 0)
                return -140;
        if (index >= 1 && index <= 97)
                return index - 141;
        return NETWORK_UNKNOWN_I;
}

/* 27.007 10.1.6 <rsrq>: 0 rsrq < -19.5, 1 -19.5 <= rsrq < -19, ..., 33 -3.5 <= rsrq < -3,
 * 34 -3 <= rsrq. The lower edge of step n is -20 + n/2 dB; integer dB rounds it down (floor), and
 * index 0 ("below -19.5") reports -20. */
int32_t network_rsrq_from_cesq(int index)
{
        if (index < 0 || index > 34)
                return NETWORK_UNKNOWN_I;
        /* floor((n - 40) / 2) for 0 <= n <= 34: n - 40 is negative, C division truncates up. */
        return (index - 40 - (index % 2)) / 2;
}

/* 27.007 8.5 <rssi>: 0 -113 dBm or less, 1 -111, 2..30 -109..-53, 31 -51 or more, 99 unknown. */
int32_t network_rssi_from_csq(int index)
{
        if (index < 0 || index > 31)
                return NETWORK_UNKNOWN_I;
        return -113 + 2 * index;
}

/* ---- field splitting -------------------------------------------------------------------------- */

struct field {
        const char *p;          /* text without blanks and quotes */
        size_t n;
        bool quoted;
};

struct fields {
        char buf[LINE_MAX_LEN];
        struct field f[FIELDS_MAX];
        size_t n;
};

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* The text after prefix (leading blanks before it and the blank after ':' allowed), or NULL. */
static const char *after_prefix(const char *line, const char *prefix)
{
        size_t k = strlen(prefix);

        while (is_blank(*line))
                line++;
        if (strncmp(line, prefix, k) != 0)
                return NULL;
        line += k;
        while (is_blank(*line))
                line++;
        return line;
}

/* Split comma-separated fields; a field may be quoted (none of these formats has a comma inside
 * quotes). More than FIELDS_MAX fields: the rest is ignored (later firmware adds fields at the
 * end). -EINVAL for a line too long or a broken quote. */
static int split(const char *text, struct fields *out)
{
        size_t len = strlen(text);
        char *p;

        if (len >= sizeof(out->buf))
                return -EINVAL;
        memcpy(out->buf, text, len + 1);
        out->n = 0;
        p = out->buf;
        for (;;) {
                char *end = strchr(p, ',');
                struct field *f;

                if (end)
                        *end = '\0';
                if (out->n == FIELDS_MAX)
                        return 0;
                f = &out->f[out->n++];
                while (is_blank(*p))
                        p++;
                f->n = strlen(p);
                while (f->n > 0 && is_blank(p[f->n - 1]))
                        f->n--;
                f->quoted = f->n > 0 && p[0] == '"';
                if (f->quoted) {
                        if (f->n < 2 || p[f->n - 1] != '"')
                                return -EINVAL;
                        p++;
                        f->n -= 2;
                }
                f->p = p;
                for (size_t i = 0; i < f->n; i++)
                        if (p[i] == '"')
                                return -EINVAL;
                if (!end)
                        return 0;
                p = end + 1;
        }
}

/* A decimal integer in [min, max] filling the field; -ENODATA if the field is empty. */
static int field_int(const struct field *f, long min, long max, long *out)
{
        long v = 0;
        size_t i = 0;
        bool neg = false;

        if (f->n == 0)
                return -ENODATA;
        if (f->quoted)
                return -EINVAL;
        if (f->p[0] == '-' || f->p[0] == '+') {
                neg = f->p[0] == '-';
                i = 1;
        }
        if (i == f->n || f->n - i > 9)
                return -EINVAL;
        for (; i < f->n; i++) {
                if (f->p[i] < '0' || f->p[i] > '9')
                        return -EINVAL;
                v = v * 10 + (f->p[i] - '0');
        }
        if (neg)
                v = -v;
        if (v < min || v > max)
                return -ERANGE;
        *out = v;
        return 0;
}

/* A required integer: any failure is a malformed line. */
static int field_req(const struct field *f, long min, long max, long *out)
{
        int r = field_int(f, min, max, out);

        return r < 0 ? -EINVAL : 0;
}

/* An optional measurement: empty or outside the plausible range [min, max] is "not known";
 * anything but a number is a malformed line. */
static int field_i32(const struct field *f, long min, long max, int32_t *out)
{
        long v;
        int r = field_int(f, -999999999L, 999999999L, &v);

        if (r == -ENODATA) {
                *out = NETWORK_UNKNOWN_I;
                return 0;
        }
        if (r < 0)
                return -EINVAL;
        *out = v < min || v > max ? NETWORK_UNKNOWN_I : (int32_t) v;
        return 0;
}

static int field_u32(const struct field *f, long min, long max, uint32_t *out)
{
        int32_t v;
        int r = field_i32(f, min, max, &v);

        if (r < 0)
                return r;
        *out = v == NETWORK_UNKNOWN_I ? NETWORK_UNKNOWN_U : (uint32_t) v;
        return 0;
}

/* 1..max hex digits (quoted or not), upper-cased into buf; empty -> "". */
static int field_hex(const struct field *f, size_t max, char *buf)
{
        if (f->n > max)
                return -EINVAL;
        for (size_t i = 0; i < f->n; i++) {
                char c = f->p[i];

                if (c >= 'a' && c <= 'f')
                        c = (char) (c - 'a' + 'A');
                else if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
                        return -EINVAL;
                buf[i] = c;
        }
        buf[f->n] = '\0';
        return 0;
}

/* ---- parsers ---------------------------------------------------------------------------------- */

int network_parse_cereg(const char *line, struct network_status *st)
{
        const char *a = line ? after_prefix(line, "+CEREG:") : NULL;
        const char *rest = a;
        struct urc u;

        if (!a)
                return -EINVAL;
        /* The read form "<n>,<stat>[,...]" has a bare number second; the URC form (n=2..5) a quoted
         * or empty <tac> (urc.c tells them apart the same way). Strip <n>, decode the rest. */
        if (*a >= '0' && *a <= '9') {
                const char *p = a;
                size_t digits;

                while (*p >= '0' && *p <= '9')
                        p++;
                digits = (size_t) (p - a);
                while (is_blank(*p))
                        p++;
                if (*p == ',') {
                        p++;
                        while (is_blank(*p))
                                p++;
                        if (*p >= '0' && *p <= '9') {
                                if (digits > 1 || *a > '5')
                                        return -EINVAL;         /* <n> is 0..5 */
                                rest = p;
                        }
                }
        }
        if (urc_decode_cereg(rest, &u) < 0)
                return -EINVAL;
        st->registration = network_registration_from_stat(u.cereg.stat);
        memcpy(st->tac, u.cereg.tac, sizeof(st->tac));
        memcpy(st->cell_id, u.cereg.ci, sizeof(st->cell_id));
        st->act = u.cereg.act < 0 ? 0 : (uint32_t) u.cereg.act;
        return 0;
}

int network_parse_cesq(const char *line, struct network_status *st)
{
        const char *a = line ? after_prefix(line, "+CESQ:") : NULL;
        struct fields fs;
        long v[6];

        if (!a || split(a, &fs) < 0 || fs.n != 6)
                return -EINVAL;
        /* <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>: 0..255 each (99/255 = not known). */
        for (size_t i = 0; i < 6; i++)
                if (field_req(&fs.f[i], 0, 255, &v[i]) < 0)
                        return -EINVAL;
        st->rsrq = network_rsrq_from_cesq((int) v[4]);
        st->rsrp = network_rsrp_from_cesq((int) v[5]);
        return 0;
}

int network_parse_csq(const char *line, struct network_status *st)
{
        const char *a = line ? after_prefix(line, "+CSQ:") : NULL;
        struct fields fs;
        long rssi, ber;

        if (!a || split(a, &fs) < 0 || fs.n != 2 ||
            field_req(&fs.f[0], 0, 99, &rssi) < 0 || field_req(&fs.f[1], 0, 99, &ber) < 0)
                return -EINVAL;
        st->rssi = network_rssi_from_csq((int) rssi);
        return 0;
}

/* Field positions of "+QENG: 0,..." (BC26 AT manual, AT+QENG; bc26-at.md 3). */
enum {
        QENG_MODE, QENG_EARFCN, QENG_EARFCN_OFFSET, QENG_PCI, QENG_CELLID, QENG_RSRP, QENG_RSRQ,
        QENG_RSSI, QENG_SNR, QENG_BAND, QENG_TAC, QENG_ECL, QENG_TX_PWR,
};

int network_parse_qeng(const char *line, struct network_status *st)
{
        const char *a = line ? after_prefix(line, "+QENG:") : NULL;
        struct network_status v;
        struct fields fs;
        int32_t offset;
        long mode;

        if (!a || split(a, &fs) < 0 || field_req(&fs.f[QENG_MODE], 0, 9, &mode) < 0)
                return -EINVAL;
        if (mode != 0)
                return -ENOENT;         /* neighbour cells (1), RLC/MAC statistics (2) */
        /* Up to <sc_tac> is required; <sc_ecl> and <sc_tx_pwr> are optional in the manual. */
        if (fs.n <= QENG_TAC)
                return -EINVAL;
        v = *st;
        /* Plausible ranges: a value outside is "not known" rather than a wrong number (e.g. a
         * firmware that reports 0.1 dBm units, or placeholders while not camped). */
        if (field_u32(&fs.f[QENG_EARFCN], 0, 262143, &v.earfcn) < 0 ||
            field_u32(&fs.f[QENG_PCI], 0, 503, &v.pci) < 0 ||
            field_hex(&fs.f[QENG_CELLID], 8, v.cell_id) < 0 ||
            field_i32(&fs.f[QENG_RSRP], -156, -30, &v.rsrp) < 0 ||
            field_i32(&fs.f[QENG_RSRQ], -40, 10, &v.rsrq) < 0 ||
            field_i32(&fs.f[QENG_RSSI], -130, 0, &v.rssi) < 0 ||
            field_i32(&fs.f[QENG_SNR], -30, 50, &v.sinr) < 0 ||
            field_u32(&fs.f[QENG_BAND], 1, 256, &v.band) < 0 ||
            field_hex(&fs.f[QENG_TAC], 4, v.tac) < 0)
                return -EINVAL;
        v.coverage_class = NETWORK_UNKNOWN_U;
        if (fs.n > QENG_ECL && field_u32(&fs.f[QENG_ECL], 0, 2, &v.coverage_class) < 0)
                return -EINVAL;
        /* The EARFCN offset is checked for shape only; tx power and later fields are ignored. */
        if (field_i32(&fs.f[QENG_EARFCN_OFFSET], -99, 99, &offset) < 0)
                return -EINVAL;
        *st = v;
        return 0;
}

/* ---- the state -------------------------------------------------------------------------------- */

enum step {
        STEP_CEREG,
        STEP_CESQ,
        STEP_CSQ,
        STEP_QENG,
        _STEP_MAX,
};

static const struct {
        enum at_cmd cmd;
        const char *text;
        const char *expect;
        int (*parse)(const char *line, struct network_status *st);
} steps[_STEP_MAX] = {
        [STEP_CEREG] = { AT_CMD_CEREG_READ, "AT+CEREG?", "+CEREG:", network_parse_cereg },
        [STEP_CESQ]  = { AT_CMD_CESQ, "AT+CESQ", "+CESQ:", network_parse_cesq },
        [STEP_CSQ]   = { AT_CMD_CSQ, "AT+CSQ", "+CSQ:", network_parse_csq },
        [STEP_QENG]  = { AT_CMD_QENG, "AT+QENG=0", "+QENG:", network_parse_qeng },
};

struct network {
        struct network_config cfg;
        struct at_channel *ch;
        const struct network_ops *ops;
        void *ud;

        struct network_status pub;      /* what network_get() shows: merged from the sources */
        /* The last reading of each source; pub is derived from them (doc/network.md). */
        struct network_status cereg;    /* AT+CEREG? and +CEREG URCs: registration, tac, cell, act */
        struct network_status cesq;     /* rsrp, rsrq */
        struct network_status csq;      /* rssi */
        struct network_status qeng;     /* serving cell detail and its measurements */

        bool running;                   /* a round (the four commands) is under way */
        enum step step;                 /* its command in the channel */
        bool again;                     /* a refresh asked after this round's AT+CEREG?: one more */
        uint64_t round_read;            /* when this round's last step with values completed, 0 none */
};

static const char *fmt_i(char *buf, size_t size, int32_t v)
{
        if (v == NETWORK_UNKNOWN_I)
                return "?";
        snprintf(buf, size, "%d", (int) v);
        return buf;
}

static const char *fmt_u(char *buf, size_t size, uint32_t v)
{
        if (v == NETWORK_UNKNOWN_U)
                return "?";
        snprintf(buf, size, "%u", (unsigned) v);
        return buf;
}

/* The published status from the sources. Where two sources give the same value: a later source
 * in the refresh does not simply overwrite an earlier one (that would flip the value twice per
 * refresh); each value has one preferred source and falls back to the other while the preferred
 * one has nothing:
 * - registration, AcT: +CEREG only;
 * - TAC, cell ID: +CEREG (read or URC: 27.007 strings, event-driven), else AT+QENG=0;
 * - RSRP, RSRQ: AT+QENG=0 (dBm/dB as measured, no 1 dB/0.5 dB index), else AT+CESQ;
 * - RSSI: AT+QENG=0 (dBm), else AT+CSQ (2 dB steps);
 * - SINR, ECL, EARFCN, PCI, band: AT+QENG=0 only. */
/* The module prints ids without leading zeros ("6923252"); the status always has the full width
 * (4 digits of TAC, 8 of cell ID), so one cell has one spelling whichever command named it. */
static void pad_hex(char *dst, size_t width, const char *src)
{
        size_t n = strlen(src);

        if (n == 0 || n > width) {
                snprintf(dst, width + 1, "%s", src);
                return;
        }
        memset(dst, '0', width - n);
        memcpy(dst + width - n, src, n + 1);
}

static void compose(const struct network *n, struct network_status *s)
{
        network_status_init(s);
        s->registration = n->cereg.registration;
        pad_hex(s->tac, sizeof(s->tac) - 1, n->cereg.tac[0] ? n->cereg.tac : n->qeng.tac);
        pad_hex(s->cell_id, sizeof(s->cell_id) - 1, n->cereg.cell_id[0] ? n->cereg.cell_id : n->qeng.cell_id);
        s->act = n->cereg.act;
        s->rsrp = n->qeng.rsrp != NETWORK_UNKNOWN_I ? n->qeng.rsrp : n->cesq.rsrp;
        s->rsrq = n->qeng.rsrq != NETWORK_UNKNOWN_I ? n->qeng.rsrq : n->cesq.rsrq;
        s->rssi = n->qeng.rssi != NETWORK_UNKNOWN_I ? n->qeng.rssi : n->csq.rssi;
        s->sinr = n->qeng.sinr;
        s->coverage_class = n->qeng.coverage_class;
        s->earfcn = n->qeng.earfcn;
        s->pci = n->qeng.pci;
        s->band = n->qeng.band;
        s->updated = n->pub.updated;
}

static void log_registration(const struct network_status *old, const struct network_status *s)
{
        char field[64], tac[LOG_REDACT_MAX], cell[LOG_REDACT_MAX];
        const char *fields[] = { field, NULL };

        snprintf(field, sizeof(field), "BC26_REGISTRATION=%s", network_registration_to_string(s->registration));
        /* TAC and cell ID locate the gateway: redacted like the IMEI (full at debug level). */
        log_full(LOG_INFO, fields, "Network registration %s -> %s (TAC %s, cell %s)",
                 network_registration_to_string(old->registration),
                 network_registration_to_string(s->registration),
                 s->tac[0] ? log_redact(s->tac, tac, sizeof(tac)) : "unknown",
                 s->cell_id[0] ? log_redact(s->cell_id, cell, sizeof(cell)) : "unknown");
}

/* Recompute the published status; reading_now != 0 marks a completed reading. Tells the owner
 * what changed. */
static void publish(struct network *n, uint64_t reading_now)
{
        struct network_status s, old = n->pub;
        unsigned what = 0;

        compose(n, &s);
        if (reading_now) {
                s.updated = reading_now;
                what |= NETWORK_CHANGED_UPDATED;
        }
        if (s.registration != old.registration)
                what |= NETWORK_CHANGED_REGISTRATION;
        if (strcmp(s.tac, old.tac) != 0 || strcmp(s.cell_id, old.cell_id) != 0 || s.act != old.act ||
            s.earfcn != old.earfcn || s.pci != old.pci || s.band != old.band)
                what |= NETWORK_CHANGED_CELL;
        if (s.rsrp != old.rsrp || s.rsrq != old.rsrq || s.sinr != old.sinr || s.rssi != old.rssi ||
            s.coverage_class != old.coverage_class)
                what |= NETWORK_CHANGED_SIGNAL;
        n->pub = s;
        if (what & NETWORK_CHANGED_REGISTRATION)
                log_registration(&old, &s);
        if (what && n->ops && n->ops->changed)
                n->ops->changed(n->ud, what);
}

/* +CEREG (read or URC): registration always; TAC, cell and AcT only when given. A +CEREG without
 * location (n=1, or not registered) keeps the last cell: where the gateway was last seen is what
 * an operator asks for, and Registration says whether it is still there. */
static void merge_cereg(struct network *n, const struct network_status *r)
{
        n->cereg.registration = r->registration;
        if (r->tac[0])
                memcpy(n->cereg.tac, r->tac, sizeof(r->tac));
        if (r->cell_id[0])
                memcpy(n->cereg.cell_id, r->cell_id, sizeof(r->cell_id));
        if (r->act)
                n->cereg.act = r->act;
}

static void log_cereg(const char *what, const struct network_status *r)
{
        char tac[LOG_REDACT_MAX], cell[LOG_REDACT_MAX];

        log_debug("Network %s: registration %s, TAC %s, cell %s, AcT %u", what,
                  network_registration_to_string(r->registration),
                  r->tac[0] ? log_redact(r->tac, tac, sizeof(tac)) : "-",
                  r->cell_id[0] ? log_redact(r->cell_id, cell, sizeof(cell)) : "-", (unsigned) r->act);
}

void network_on_urc(struct network *n, const struct urc *u, uint64_t now)
{
        struct network_status r;

        if (!n || !u || u->type != URC_CEREG)
                return;
        network_status_init(&r);
        r.registration = network_registration_from_stat(u->cereg.stat);
        memcpy(r.tac, u->cereg.tac, sizeof(r.tac));
        memcpy(r.cell_id, u->cereg.ci, sizeof(r.cell_id));
        r.act = u->cereg.act < 0 ? 0 : (uint32_t) u->cereg.act;
        log_cereg("+CEREG URC", &r);
        merge_cereg(n, &r);
        publish(n, 0);
}

static int submit_step(struct network *n, uint64_t now);

/* Apply a completed command's lines; false if none of them was a reading. */
static bool apply_step(struct network *n, enum step step, const struct at_response *r)
{
        char b[8][16];
        bool any = false;

        for (size_t i = 0; i < r->n_lines; i++) {
                struct network_status v;
                int ret;

                network_status_init(&v);
                ret = steps[step].parse(r->lines[i], &v);
                if (ret == -ENOENT)
                        continue;       /* a +QENG: neighbour line */
                if (ret < 0) {
                        log_debug("Network: ignoring unexpected answer to %s: \"%s\"", steps[step].text, r->lines[i]);
                        continue;
                }
                any = true;
                switch (step) {
                case STEP_CEREG:
                        log_cereg("AT+CEREG?", &v);
                        merge_cereg(n, &v);
                        break;
                case STEP_CESQ:
                        log_debug("Network AT+CESQ: RSRP %s dBm, RSRQ %s dB", fmt_i(b[0], sizeof(b[0]), v.rsrp),
                                  fmt_i(b[1], sizeof(b[1]), v.rsrq));
                        n->cesq.rsrp = v.rsrp;
                        n->cesq.rsrq = v.rsrq;
                        break;
                case STEP_CSQ:
                        log_debug("Network AT+CSQ: RSSI %s dBm", fmt_i(b[0], sizeof(b[0]), v.rssi));
                        n->csq.rssi = v.rssi;
                        break;
                case STEP_QENG: {
                        char tac[LOG_REDACT_MAX], cell[LOG_REDACT_MAX];

                        log_debug("Network AT+QENG=0: EARFCN %s, PCI %s, cell %s, TAC %s, band %s, ECL %s, "
                                  "RSRP %s dBm, RSRQ %s dB, RSSI %s dBm, SNR %s dB",
                                  fmt_u(b[0], sizeof(b[0]), v.earfcn), fmt_u(b[1], sizeof(b[1]), v.pci),
                                  v.cell_id[0] ? log_redact(v.cell_id, cell, sizeof(cell)) : "-",
                                  v.tac[0] ? log_redact(v.tac, tac, sizeof(tac)) : "-",
                                  fmt_u(b[2], sizeof(b[2]), v.band), fmt_u(b[3], sizeof(b[3]), v.coverage_class),
                                  fmt_i(b[4], sizeof(b[4]), v.rsrp), fmt_i(b[5], sizeof(b[5]), v.rsrq),
                                  fmt_i(b[6], sizeof(b[6]), v.rssi), fmt_i(b[7], sizeof(b[7]), v.sinr));
                        n->qeng = v;    /* each reading replaces the last one whole */
                        break;
                }
                case _STEP_MAX:
                        break;
                }
        }
        return any;
}

static int start_round(struct network *n, uint64_t now)
{
        int r;

        n->step = STEP_CEREG;
        n->running = true;
        n->again = false;
        n->round_read = 0;
        r = submit_step(n, now);
        if (r < 0)
                n->running = false;
        return r;
}

/* The round is over (all four steps, or cut short): `updated` moves once, to the time of its last
 * step that gave values, if any did; then the extra round asked for meanwhile, if the gate is
 * still open. */
static void end_round(struct network *n, uint64_t now)
{
        bool again = n->again;
        int r;

        n->running = false;
        n->again = false;
        if (n->round_read)
                publish(n, n->round_read);
        if (!again)
                return;
        if (!at_gate_allows(at_channel_get_gate(n->ch), AT_CLASS_STATUS, false)) {
                log_debug("Network: refresh asked during the last read is dropped: the gate is not open");
                return;
        }
        r = start_round(n, now);
        if (r < 0)
                log_debug("Network: refresh asked during the last read could not start: %s", strerror(-r));
}

static void step_done(void *ud, const struct at_response *r)
{
        struct network *n = ud;
        enum step step = n->step;
        int ret;

        if (r->status != AT_STATUS_OK) {
                /* Failed, timed out, refused by the gate, the module rebooted or the tty went: the
                 * last values stay; the next refresh (probe, URC, Refresh()) tries again. */
                if (r->status == AT_STATUS_CME_ERROR)
                        log_debug("Network status read ends: %s answered +CME ERROR: %d", steps[step].text, r->cme);
                else
                        log_debug("Network status read ends: %s %s", steps[step].text, at_status_to_string(r->status));
                end_round(n, r->now);
                return;
        }
        /* Values are published as each step brings them (each has one preferred source, so nothing
         * flips within a round); `updated` only when the round ends. */
        if (apply_step(n, step, r)) {
                n->round_read = r->now;
                if (step + 1 < _STEP_MAX)
                        publish(n, 0);
        } else
                log_debug("Network: %s answered OK without a reading", steps[step].text);

        if (step + 1 >= _STEP_MAX) {
                end_round(n, r->now);   /* publishes this step's values with `updated` */
                return;
        }
        n->step = step + 1;
        ret = submit_step(n, r->now);
        if (ret < 0) {
                log_debug("Network status read ends before %s: %s", steps[n->step].text, strerror(-ret));
                end_round(n, r->now);
        }
}

static int submit_step(struct network *n, uint64_t now)
{
        struct at_request req = {
                .cmd = steps[n->step].cmd,
                .text = steps[n->step].text,
                .expect = steps[n->step].expect,
                .timeout_usec = n->cfg.command_timeout_usec,
                .done = step_done,
                .userdata = n,
        };

        return at_channel_submit(n->ch, &req, now);
}

int network_refresh(struct network *n, uint64_t now)
{
        /* Read commands never while an upgrade runs (issue 11, guide 4.2): ask before anything
         * else, also while a round runs, so a refused refresh leaves nothing behind. */
        if (!at_gate_allows(at_channel_get_gate(n->ch), AT_CLASS_STATUS, false))
                return -EBUSY;
        if (n->running) {
                /* While AT+CEREG? is still waiting, every command of the round is answered after
                 * this request: it is folded in. Past it, the reading would be older than the
                 * request: one more round follows this one (one, however many requests came). */
                if (n->step > STEP_CEREG)
                        n->again = true;
                return 0;
        }
        return start_round(n, now);
}

const struct network_status *network_get(const struct network *n)
{
        return &n->pub;
}

struct network *network_new(const struct network_config *cfg, struct at_channel *ch,
                            const struct network_ops *ops, void *ud)
{
        struct network *n;

        if (!cfg || !ch)
                return NULL;
        n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->cfg = *cfg;
        n->ch = ch;
        n->ops = ops;
        n->ud = ud;
        network_status_init(&n->pub);
        network_status_init(&n->cereg);
        network_status_init(&n->cesq);
        network_status_init(&n->csq);
        network_status_init(&n->qeng);
        return n;
}

struct network *network_free(struct network *n)
{
        free(n);
        return NULL;
}
