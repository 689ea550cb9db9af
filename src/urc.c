/* urc.c - classify one module line and decode typed results and URCs, from static tables.
 * Pure text parsing: knows the BC26's formats (bc26-at.md 1.3, 2, 5.3, 6, 7), not what to do. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "urc.h"

/* The not-yet-consumed part of a line; nothing here relies on NUL termination past n. */
struct span {
        const char *p;
        size_t n;
};

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
        return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static char ascii_lower(char c)
{
        return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

static void advance(struct span *s, size_t k)
{
        s->p += k;
        s->n -= k;
}

static void skip_blanks(struct span *s)
{
        while (s->n > 0 && is_blank(s->p[0]))
                advance(s, 1);
}

static bool starts_with(const struct span *s, const char *lit)
{
        size_t k = strlen(lit);

        return s->n >= k && memcmp(s->p, lit, k) == 0;
}

static bool equals(const struct span *s, const char *lit)
{
        return s->n == strlen(lit) && memcmp(s->p, lit, s->n) == 0;
}

static bool equals_nocase(const struct span *s, const char *str)
{
        if (s->n != strlen(str))
                return false;
        for (size_t i = 0; i < s->n; i++)
                if (ascii_lower(s->p[i]) != ascii_lower(str[i]))
                        return false;
        return true;
}

static bool contains(const struct span *s, const char *lit)
{
        size_t k = strlen(lit);

        for (size_t i = 0; k <= s->n && i <= s->n - k; i++)
                if (memcmp(s->p + i, lit, k) == 0)
                        return true;
        return false;
}

/* Consume lit if the span starts with it. */
static bool eat(struct span *s, const char *lit)
{
        if (!starts_with(s, lit))
                return false;
        advance(s, strlen(lit));
        return true;
}

/* Blanks are tolerated around field separators: Quectel's own examples are inconsistent
 * ("+CEREG: 0,1" vs "+CEREG:0,1", `"UPDATING", 1%`; bc26-at.md 2, 7.2). */
static bool eat_comma(struct span *s)
{
        skip_blanks(s);
        if (!eat(s, ","))
                return false;
        skip_blanks(s);
        return true;
}

static bool at_end(struct span *s)
{
        skip_blanks(s);
        return s->n == 0;
}

/* A decimal integer in [min, max]. At most 9 digits, so the value never overflows a long. */
static int parse_int(struct span *s, long min, long max, int *out)
{
        struct span t = *s;
        bool neg = false;
        long v = 0;
        size_t digits = 0;

        skip_blanks(&t);
        if (eat(&t, "-"))
                neg = true;
        while (t.n > 0 && is_digit(t.p[0])) {
                if (++digits > 9)
                        return -ERANGE;
                v = v * 10 + (t.p[0] - '0');
                advance(&t, 1);
        }
        if (digits == 0)
                return -EINVAL;
        if (neg)
                v = -v;
        if (v < min || v > max)
                return -ERANGE;
        *out = (int) v;
        *s = t;
        return 0;
}

static int parse_uint16(struct span *s, unsigned *out)
{
        int v, r;

        r = parse_int(s, 0, 65535, &v);
        if (r < 0)
                return r;
        *out = (unsigned) v;
        return 0;
}

/* The rest of the line as bounded text; charset() says which characters are allowed. */
static int parse_text(struct span *s, char *buf, size_t size, bool (*charset)(char))
{
        skip_blanks(s);
        if (s->n == 0 || s->n >= size)
                return -EINVAL;
        for (size_t i = 0; i < s->n; i++)
                if (!charset(s->p[i]))
                        return -EINVAL;
        memcpy(buf, s->p, s->n);
        buf[s->n] = '\0';
        advance(s, s->n);
        return 0;
}

static bool is_printable(char c)
{
        return c >= 0x20 && c <= 0x7e;
}

static bool is_addr_char(char c)
{
        return is_hex(c) || c == '.' || c == ':';
}

/* ---- boot preamble ------------------------------------------------------------------------ */

/* Exactly four hex digits, followed by the end or a blank. */
static bool eat_hex4(struct span *s)
{
        if (s->n < 4)
                return false;
        for (size_t i = 0; i < 4; i++)
                if (!is_hex(s->p[i]))
                        return false;
        if (s->n > 4 && s->p[4] != ' ' && s->p[4] != ']')
                return false;
        advance(s, 4);
        return true;
}

static bool is_label_char(char c)
{
        return is_digit(c) || (c >= 'A' && c <= 'Z');
}

/* The MT2625 boot ROM's register dump, "F1: 0000 0000", "V0: 0000 0000 [0001]", ... (guide 3.2,
 * bc26-at.md 5.3). Values differ between chips and boots, so match the shape: a two-character
 * label, ": ", two to four groups of four hex digits, and an optional bracketed group. */
static bool is_boot_register_line(struct span s)
{
        unsigned groups = 0;

        if (s.n < 4 || !is_label_char(s.p[0]) || !is_label_char(s.p[1]) ||
            s.p[2] != ':' || s.p[3] != ' ')
                return false;
        advance(&s, 4);

        for (;;) {
                if (!eat_hex4(&s))
                        return false;
                groups++;
                if (s.n == 0)
                        break;
                if (!eat(&s, " "))
                        return false;
                if (eat(&s, "[")) {
                        if (!eat_hex4(&s) || !eat(&s, "]") || s.n != 0)
                                return false;
                        break;
                }
                if (groups == 4)
                        return false;
        }
        return groups >= 2;
}

static bool is_boot_line(const struct span *s)
{
        /* "Leaving the BROM" may follow garbage printed at the wrong baud rate (bc26-at.md 5.3). */
        return is_boot_register_line(*s) || contains(s, "Leaving the BROM");
}

/* ---- final and deferred results ----------------------------------------------------------- */

static const struct {
        const char *text;
        enum at_line_class cls;
} final_table[] = {
        { "OK",         AT_LINE_OK },
        { "ERROR",      AT_LINE_ERROR },
};

/* Both mean the command failed with a numeric cause (AT+CMEE=1); Quectel's RIL treats +CMS ERROR
 * the same way (bc26-at.md 2). */
static const char *const cme_prefixes[] = { "+CME ERROR:", "+CMS ERROR:" };

static const struct {
        const char *text;
        enum at_async async;
} async_table[] = {
        { "CONNECT OK",         AT_ASYNC_CONNECT_OK },
        { "CONNECT FAIL",       AT_ASYNC_CONNECT_FAIL },
        { "SEND OK",            AT_ASYNC_SEND_OK },
        { "SEND FAIL",          AT_ASYNC_SEND_FAIL },
        { "UPDATE OK",          AT_ASYNC_UPDATE_OK },
        { "UPDATE FAIL",        AT_ASYNC_UPDATE_FAIL },
        { "CLOSE OK",           AT_ASYNC_CLOSE_OK },
        { "CLOSE FAIL",         AT_ASYNC_CLOSE_FAIL },
};

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static bool classify_final(const struct span *s, struct at_line *out)
{
        for (size_t i = 0; i < ELEMENTSOF(final_table); i++)
                if (equals(s, final_table[i].text)) {
                        out->cls = final_table[i].cls;
                        return true;
                }

        for (size_t i = 0; i < ELEMENTSOF(cme_prefixes); i++) {
                struct span a = *s;
                int code;

                if (!eat(&a, cme_prefixes[i]))
                        continue;
                out->cls = AT_LINE_CME_ERROR;
                /* AT+CMEE=2 would give text; it is still a failure, just without a number. */
                if (parse_int(&a, 0, INT_MAX, &code) < 0 || !at_end(&a))
                        code = -1;
                out->cme = code;
                return true;
        }
        return false;
}

static bool classify_async(const struct span *s, struct at_line *out)
{
        for (size_t i = 0; i < ELEMENTSOF(async_table); i++)
                if (equals(s, async_table[i].text)) {
                        out->cls = AT_LINE_ASYNC;
                        out->async = async_table[i].async;
                        return true;
                }
        return false;
}

/* ---- +QIND: "FOTA",... -------------------------------------------------------------------- */

enum fota_arg {
        FOTA_ARG_NONE,          /* nothing after the kind */
        FOTA_ARG_CODE,          /* ,<code> required */
        FOTA_ARG_PERCENT,       /* ,<n>[%] required, then optional ,<int> fields ("20%,1,1") */
};

static const struct {
        const char *name;
        enum fota_urc_kind kind;
        enum fota_arg arg;
} fota_table[] = {
        /* China Telecom / CoAP method (guide 3.2, 4.1). */
        { "COAPSTART",          FOTA_URC_COAPSTART,     FOTA_ARG_NONE },
        { "COAPEND",            FOTA_URC_COAPEND,       FOTA_ARG_CODE },
        { "START",              FOTA_URC_START,         FOTA_ARG_NONE },
        { "UPDATING",           FOTA_URC_UPDATING,      FOTA_ARG_PERCENT },
        { "END",                FOTA_URC_END,           FOTA_ARG_CODE },
        /* HTTP method, AT+QFOTADL (bc26-at.md 7.2); its guide prints the typo "HTTPTART". */
        { "HTTPSTART",          FOTA_URC_HTTPSTART,     FOTA_ARG_NONE },
        { "HTTPTART",           FOTA_URC_HTTPSTART,     FOTA_ARG_NONE },
        { "DOWNLOADING",        FOTA_URC_DOWNLOADING,   FOTA_ARG_PERCENT },
        { "HTTPEND",            FOTA_URC_HTTPEND,       FOTA_ARG_CODE },
};

/* Decode what follows "FOTA"; any deviation leaves the caller's FOTA_URC_UNKNOWN in place. */
static int decode_fota(struct span *a, struct fota_urc *out)
{
        struct fota_urc f = { .kind = FOTA_URC_UNKNOWN, .code = -1, .progress = -1 };
        struct span name;
        size_t i;
        int r;

        if (!eat_comma(a) || !eat(a, "\""))
                return -EINVAL;
        name = *a;
        for (name.n = 0; name.n < a->n && a->p[name.n] != '"'; name.n++)
                ;
        if (name.n == a->n)
                return -EINVAL;
        advance(a, name.n + 1);

        for (i = 0; i < ELEMENTSOF(fota_table); i++)
                if (equals(&name, fota_table[i].name))
                        break;
        if (i == ELEMENTSOF(fota_table))
                return -ENOENT;
        f.kind = fota_table[i].kind;

        switch (fota_table[i].arg) {
        case FOTA_ARG_NONE:
                break;
        case FOTA_ARG_CODE:
                if (!eat_comma(a))
                        return -EINVAL;
                r = parse_int(a, 0, 65535, &f.code);
                if (r < 0)
                        return r;
                break;
        case FOTA_ARG_PERCENT:
                if (!eat_comma(a))
                        return -EINVAL;
                r = parse_int(a, 0, 100, &f.progress);
                if (r < 0)
                        return r;
                skip_blanks(a);
                (void) eat(a, "%");
                /* "UPDATING",20%,1,1: the meaning of the trailing pair is undocumented
                 * (bc26-at.md 7.1); accept integers there and nothing else. */
                while (eat_comma(a)) {
                        int ignored;

                        r = parse_int(a, 0, 65535, &ignored);
                        if (r < 0)
                                return r;
                }
                break;
        }
        if (!at_end(a))
                return -EINVAL;
        *out = f;
        return 0;
}

/* Any +QIND: "FOTA" line is a FOTA URC, understood or not: an unrecognised one (e.g. "last
 * upgrade was not finished, continue upgrade") must keep the gate shut, never be dropped. */
static int decode_qind(struct span *a, struct urc *u)
{
        if (!eat(a, "\"FOTA\""))
                return -ENOENT;
        u->type = URC_FOTA;
        u->fota = (struct fota_urc) { .kind = FOTA_URC_UNKNOWN, .code = -1, .progress = -1 };
        (void) decode_fota(a, &u->fota);
        return 0;
}

/* ---- the other typed URCs ----------------------------------------------------------------- */

static int decode_rdy(struct span *a, struct urc *u)
{
        if (!at_end(a))
                return -EINVAL;
        u->type = URC_RDY;
        return 0;
}

/* +QLWOBSERVE: <flag>,<obj>,<inst>,<res>; flag 0 observe / 1 cancel, res -1 = all resources
 * (bc26-at.md 1.3). */
static int decode_observe(struct span *a, struct urc *u)
{
        int flag, res;
        unsigned obj, inst;

        if (parse_int(a, 0, 1, &flag) < 0 || !eat_comma(a) ||
            parse_uint16(a, &obj) < 0 || !eat_comma(a) ||
            parse_uint16(a, &inst) < 0 || !eat_comma(a) ||
            parse_int(a, -1, 65535, &res) < 0 || !at_end(a))
                return -EINVAL;
        u->type = URC_QLWOBSERVE;
        u->observe.flag = flag;
        u->observe.obj = obj;
        u->observe.inst = inst;
        u->observe.res = res;
        return 0;
}

/* +QLWDATARECV: <obj>,<inst>,<res>,<len>[,<data>]; len in bytes, at most 512; data only in direct
 * push mode and possibly text with commas, so it is not parsed here (bc26-at.md 1.3). */
static int decode_datarecv(struct span *a, struct urc *u)
{
        unsigned obj, inst, res;
        int len;

        if (parse_uint16(a, &obj) < 0 || !eat_comma(a) ||
            parse_uint16(a, &inst) < 0 || !eat_comma(a) ||
            parse_uint16(a, &res) < 0 || !eat_comma(a) ||
            parse_int(a, 0, 512, &len) < 0)
                return -EINVAL;
        if (!at_end(a) && (!eat_comma(a) || a->n == 0))
                return -EINVAL;
        u->type = URC_QLWDATARECV;
        u->datarecv.obj = obj;
        u->datarecv.inst = inst;
        u->datarecv.res = res;
        u->datarecv.len = (unsigned) len;
        return 0;
}

/* An optional quoted hex string of 1..max digits ("" or nothing: absent), upper-cased into buf. */
static int parse_opt_hex(struct span *s, char *buf, size_t max)
{
        size_t k = 0;

        buf[0] = '\0';
        skip_blanks(s);
        if (s->n == 0 || s->p[0] == ',')
                return 0;
        if (!eat(s, "\""))
                return -EINVAL;
        while (s->n > 0 && s->p[0] != '"') {
                if (!is_hex(s->p[0]) || k >= max)
                        return -EINVAL;
                buf[k++] = (s->p[0] >= 'a' && s->p[0] <= 'f') ? (char) (s->p[0] - 'a' + 'A') : s->p[0];
                advance(s, 1);
        }
        if (!eat(s, "\""))
                return -EINVAL;
        buf[k] = '\0';
        return 0;
}

/* An optional decimal integer in [min, max]; *out = absent when the field is empty. */
static int parse_opt_int(struct span *s, long min, long max, int absent, int *out)
{
        skip_blanks(s);
        if (s->n == 0 || s->p[0] == ',') {
                *out = absent;
                return 0;
        }
        return parse_int(s, min, max, out);
}

/* An optional quoted one-byte timer in bit format, e.g. "00100100" (27.007 Active-Time, Periodic-TAU). */
static int skip_opt_bits(struct span *s)
{
        size_t k = 0;

        skip_blanks(s);
        if (s->n == 0 || s->p[0] == ',')
                return 0;
        if (!eat(s, "\""))
                return -EINVAL;
        while (s->n > 0 && (s->p[0] == '0' || s->p[0] == '1') && k < 8) {
                advance(s, 1);
                k++;
        }
        return eat(s, "\"") ? 0 : -EINVAL;
}

/* URC form (27.007 10.1.22, BC26 AT manual 2.8):
 *   +CEREG: <stat>[,[<tac>],[<ci>],[<AcT>][,[<cause_type>],[<reject_cause>][,[<Active-Time>],[<Periodic-TAU>]]]]
 * n=1 has only stat; n=2..5 continue with the three location fields (each may be empty), n=3/5 add
 * the cause pair, n=4/5 the PSM timers. tac and ci are quoted strings: the read response
 * "<n>,<stat>[,...]" has a bare number second, which is how Quectel's RIL tells them apart
 * (bc26-at.md 2, 8); without an expect prefix that shape is not a URC. */
static int decode_cereg(struct span *a, struct urc *u)
{
        struct urc v = { .type = URC_CEREG, .cereg = { .act = -1 } };
        int ignored;

        if (parse_int(a, 0, 10, &v.cereg.stat) < 0)
                return -EINVAL;
        if (at_end(a))
                goto done;
        if (!eat_comma(a) || parse_opt_hex(a, v.cereg.tac, sizeof(v.cereg.tac) - 1) < 0 ||
            !eat_comma(a) || parse_opt_hex(a, v.cereg.ci, sizeof(v.cereg.ci) - 1) < 0 ||
            !eat_comma(a) || parse_opt_int(a, 0, 15, -1, &v.cereg.act) < 0)
                return -EINVAL;
        if (at_end(a))
                goto done;
        if (!eat_comma(a) || parse_opt_int(a, 0, 255, -1, &ignored) < 0 ||
            !eat_comma(a) || parse_opt_int(a, 0, 65535, -1, &ignored) < 0)
                return -EINVAL;
        if (at_end(a))
                goto done;
        if (!eat_comma(a) || skip_opt_bits(a) < 0 || !eat_comma(a) || skip_opt_bits(a) < 0 || !at_end(a))
                return -EINVAL;
done:
        *u = v;
        return 0;
}

int urc_decode_cereg(const char *fields, struct urc *out)
{
        struct span s = { .p = fields, .n = fields ? strlen(fields) : 0 };

        if (!fields || !out)
                return -EINVAL;
        return decode_cereg(&s, out);
}

/* URC form +CSCON: <mode> (0 idle, 1 connected); the read response is "<n>,<mode>". */
static int decode_cscon(struct span *a, struct urc *u)
{
        int mode;

        if (parse_int(a, 0, 1, &mode) < 0 || !at_end(a))
                return -EINVAL;
        u->type = URC_CSCON;
        u->cscon.mode = mode;
        return 0;
}

/* +CPIN: READY, SIM PIN, NOT READY, ...: kept as text. */
static int decode_cpin(struct span *a, struct urc *u)
{
        if (parse_text(a, u->cpin.code, sizeof(u->cpin.code), is_printable) < 0)
                return -EINVAL;
        u->type = URC_CPIN;
        return 0;
}

/* +CFUN: <fun>: 0 minimum, 1 full, 4 RF off, 7 SIM off; 27.007 keeps 0..127 meaningful. */
static int decode_cfun(struct span *a, struct urc *u)
{
        int fun;

        if (parse_int(a, 0, 127, &fun) < 0 || !at_end(a))
                return -EINVAL;
        u->type = URC_CFUN;
        u->cfun.fun = fun;
        return 0;
}

/* +IP: <addr>, IPv4 or IPv6 text (guide 3.2 "+IP: 100.96.44.128"). */
static int decode_ip(struct span *a, struct urc *u)
{
        if (parse_text(a, u->ip.addr, sizeof(u->ip.addr), is_addr_char) < 0)
                return -EINVAL;
        u->type = URC_IP;
        return 0;
}

/* Prefix -> decoder, as FreeRTOS Cellular and oFono do. A matching prefix that fails to decode
 * makes the line AT_LINE_UNKNOWN, never a guess. */
static const struct {
        const char *prefix;
        int (*decode)(struct span *args, struct urc *u);
} urc_table[] = {
        { "RDY",                decode_rdy },
        { "+QIND:",             decode_qind },
        { "+QLWOBSERVE:",       decode_observe },
        { "+QLWDATARECV:",      decode_datarecv },
        { "+CEREG:",            decode_cereg },
        { "+CSCON:",            decode_cscon },
        { "+CPIN:",             decode_cpin },
        { "+CFUN:",             decode_cfun },
        { "+IP:",               decode_ip },
};

/* "RDY" run into by the boot ROM's preamble read at another baud rate: the splitter has already
 * dropped the non-text bytes, what is left of the garbage is a few printable ones before RDY with
 * no blank (bc26-at.md 5.3: the BC66 driver expects "RbbRDY" at 9600 baud). Words before RDY
 * ("APP RDY") are another module's URC, not this. */
#define GARBLED_RDY_PREFIX_MAX 8

static bool is_garbled_rdy(const struct span *s)
{
        if (s->n <= 3 || s->n > 3 + GARBLED_RDY_PREFIX_MAX || memcmp(s->p + s->n - 3, "RDY", 3) != 0)
                return false;
        for (size_t i = 0; i < s->n - 3; i++)
                if (is_blank(s->p[i]))
                        return false;
        return true;
}

/* true if the line belongs to the URC table (decoded or not); out->cls says which. */
static bool classify_urc(const struct span *s, struct at_line *out)
{
        if (is_garbled_rdy(s)) {
                out->cls = AT_LINE_URC;
                out->urc.type = URC_RDY;
                return true;
        }
        for (size_t i = 0; i < ELEMENTSOF(urc_table); i++) {
                struct span a = *s;

                if (!eat(&a, urc_table[i].prefix))
                        continue;
                skip_blanks(&a);        /* the space after ':' is optional */
                out->cls = urc_table[i].decode(&a, &out->urc) < 0 ? AT_LINE_UNKNOWN : AT_LINE_URC;
                return true;
        }
        return false;
}

/* ---- the classifier ----------------------------------------------------------------------- */

void at_classify(const char *line, const struct at_classify_ctx *ctx, struct at_line *out)
{
        struct span s = { .p = line, .n = strlen(line) };
        const char *pending = ctx ? ctx->pending : NULL;
        const char *expect = ctx ? ctx->expect : NULL;

        memset(out, 0, sizeof(*out));

        skip_blanks(&s);
        while (s.n > 0 && is_blank(s.p[s.n - 1]))
                s.n--;

        /* 1. Boot ROM output first: a reboot outranks whatever we were waiting for. */
        if (is_boot_line(&s)) {
                out->cls = AT_LINE_BOOT;
                return;
        }
        /* 2. The module echoing our own command (echo is on after every boot, bc26-at.md 2). */
        if (pending && equals_nocase(&s, pending)) {
                out->cls = AT_LINE_ECHO;
                return;
        }
        /* 3. The pending command's information response: +CEREG:/+CFUN:/+CPIN:/+CSCON: are both
         * read responses and URCs, and only the channel knows which one it asked for. */
        if (expect && expect[0] != '\0' && starts_with(&s, expect)) {
                out->cls = AT_LINE_RESPONSE;
                return;
        }
        if (classify_final(&s, out) || classify_async(&s, out) || classify_urc(&s, out))
                return;

        /* A command line that is not the pending command's echo is stale or foreign: never let
         * it pass as the pending command's response. */
        if (s.n >= 2 && ascii_lower(s.p[0]) == 'a' && ascii_lower(s.p[1]) == 't') {
                out->cls = AT_LINE_UNKNOWN;
                return;
        }
        /* Bare information text: ATI's "Quectel_Ltd", the hex data line after "+QLWRD: 4,0". Only a
         * command that has such lines gets them; a "+XYZ:" line nobody listed (+QNBIOTEVENT, +CTZV,
         * +CEDRXP, ...) is an unknown URC even in the middle of a response. */
        out->cls = pending && ctx->bare && s.n > 0 && s.p[0] != '+' ? AT_LINE_RESPONSE : AT_LINE_UNKNOWN;
}

/* ---- names -------------------------------------------------------------------------------- */

const char *at_line_class_to_string(enum at_line_class c)
{
        switch (c) {
        case AT_LINE_OK:        return "ok";
        case AT_LINE_ERROR:     return "error";
        case AT_LINE_CME_ERROR: return "cme-error";
        case AT_LINE_ASYNC:     return "async";
        case AT_LINE_URC:       return "urc";
        case AT_LINE_BOOT:      return "boot";
        case AT_LINE_ECHO:      return "echo";
        case AT_LINE_RESPONSE:  return "response";
        case AT_LINE_UNKNOWN:   return "unknown";
        }
        return "invalid";
}

const char *at_async_to_string(enum at_async a)
{
        switch (a) {
        case AT_ASYNC_CONNECT_OK:       return "CONNECT OK";
        case AT_ASYNC_CONNECT_FAIL:     return "CONNECT FAIL";
        case AT_ASYNC_SEND_OK:          return "SEND OK";
        case AT_ASYNC_SEND_FAIL:        return "SEND FAIL";
        case AT_ASYNC_UPDATE_OK:        return "UPDATE OK";
        case AT_ASYNC_UPDATE_FAIL:      return "UPDATE FAIL";
        case AT_ASYNC_CLOSE_OK:         return "CLOSE OK";
        case AT_ASYNC_CLOSE_FAIL:       return "CLOSE FAIL";
        }
        return "invalid";
}

const char *urc_type_to_string(enum urc_type t)
{
        switch (t) {
        case URC_RDY:           return "RDY";
        case URC_FOTA:          return "FOTA";
        case URC_QLWOBSERVE:    return "QLWOBSERVE";
        case URC_QLWDATARECV:   return "QLWDATARECV";
        case URC_CEREG:         return "CEREG";
        case URC_CSCON:         return "CSCON";
        case URC_CPIN:          return "CPIN";
        case URC_CFUN:          return "CFUN";
        case URC_IP:            return "IP";
        }
        return "invalid";
}

const char *fota_urc_kind_to_string(enum fota_urc_kind k)
{
        switch (k) {
        case FOTA_URC_COAPSTART:        return "COAPSTART";
        case FOTA_URC_COAPEND:          return "COAPEND";
        case FOTA_URC_START:            return "START";
        case FOTA_URC_UPDATING:         return "UPDATING";
        case FOTA_URC_END:              return "END";
        case FOTA_URC_HTTPSTART:        return "HTTPSTART";
        case FOTA_URC_DOWNLOADING:      return "DOWNLOADING";
        case FOTA_URC_HTTPEND:          return "HTTPEND";
        case FOTA_URC_UNKNOWN:          return "UNKNOWN";
        }
        return "invalid";
}
