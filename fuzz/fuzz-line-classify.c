/* fuzz-line-classify.c - the line splitter and the classifier over arbitrary tty bytes.
 * Input: one byte seeding the chunking and the command "in flight", then the tty bytes.
 * Checks: the bytes give the same lines and counters in any chunking; every line is non-empty,
 * bounded, printable and complete; NUL/0xFF/other noise bytes are counted exactly; every line's
 * classification holds the invariants of check-line.h. */
#include "check-line.h"
#include "fuzz.h"
#include "line.h"

struct collect {
        char *buf;              /* lines joined with '\n' (a line never contains one) */
        size_t len, size;
        size_t lines;
        const struct at_classify_ctx *ctx;
};

static void on_line(void *userdata, const char *line, size_t len)
{
        struct collect *c = userdata;

        fuzz_check(len > 0 && len <= LINE_SPLITTER_MAX, "line length %zu", len);
        fuzz_check(strlen(line) == len, "line not NUL-terminated at its length");
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char) line[i];

                fuzz_check(ch == '\t' || (ch >= 0x20 && ch <= 0x7e), "byte 0x%02x kept", ch);
        }
        fuzz_check(c->len + len + 1 <= c->size, "more line bytes than input bytes");
        memcpy(c->buf + c->len, line, len);
        c->buf[c->len + len] = '\n';
        c->len += len + 1;
        c->lines++;
        if (c->ctx)
                fuzz_check_at_line(line, c->ctx);
}

/* Commands the daemon has in flight, with the information response it expects. */
static const struct at_classify_ctx contexts[] = {
        { NULL, NULL },
        { "AT", NULL },
        { "ATI", NULL },
        { "AT+CGSN=1", "+CGSN:" },
        { "AT+CGMR", NULL },
        { "AT+QLWOPEN=1", NULL },
        { "AT+QLWDATASEND=19,0,0,1,01,0x0100", NULL },
        { "AT+QLWRD=512", "+QLWRD:" },
        { "AT+IPR?", "+IPR:" },
};

FUZZ_TARGET(line_classify)
{
        struct line_splitter *a, *b;
        struct collect ca = { 0 }, cb = { 0 };
        uint32_t seed = 1;
        size_t dropped = 0;
        const uint8_t *bytes;
        size_t n;

        if (size < 1)
                return 0;
        seed = data[0] * 2654435761u + 1;
        bytes = data + 1;
        n = size - 1;

        a = malloc(sizeof(*a));
        b = malloc(sizeof(*b));
        ca.size = cb.size = n + 1;
        ca.buf = malloc(ca.size);
        cb.buf = malloc(cb.size);
        if (!a || !b || !ca.buf || !cb.buf)
                abort();
        ca.ctx = &contexts[data[0] % (sizeof(contexts) / sizeof(contexts[0]))];
        line_splitter_init(a);
        line_splitter_init(b);

        /* a: chunks of 1..64 bytes from a little LCG; b: everything at once. */
        for (size_t off = 0; off < n; ) {
                size_t k;

                seed = seed * 1103515245u + 12345u;
                k = 1 + (seed >> 16) % 64;
                if (k > n - off)
                        k = n - off;
                line_splitter_feed(a, bytes + off, k, on_line, &ca);
                off += k;
        }
        line_splitter_feed(b, bytes, n, on_line, &cb);

        fuzz_check(ca.lines == cb.lines && ca.len == cb.len && memcmp(ca.buf, cb.buf, ca.len) == 0,
                   "chunking changed the lines (%zu vs %zu)", ca.lines, cb.lines);
        fuzz_check(a->lines_overlong == b->lines_overlong && a->bytes_dropped == b->bytes_dropped &&
                   a->len == b->len && a->overlong == b->overlong, "chunking changed the counters");
        for (size_t i = 0; i < n; i++) {
                uint8_t ch = bytes[i];

                if (ch != '\r' && ch != '\n' && ch != '\t' && (ch < 0x20 || ch > 0x7e))
                        dropped++;
        }
        fuzz_check(a->bytes_dropped == dropped, "dropped %llu, expected %zu",
                   (unsigned long long) a->bytes_dropped, dropped);
        fuzz_check(a->len <= LINE_SPLITTER_MAX, "partial line %zu", a->len);

        /* A reset forgets the partial line: the next CR delivers nothing. */
        line_splitter_reset(a);
        cb.ctx = NULL;
        cb.lines = 0;
        cb.len = 0;
        line_splitter_feed(a, "\r", 1, on_line, &cb);
        fuzz_check(cb.lines == 0, "a line survived line_splitter_reset");

        free(ca.buf);
        free(cb.buf);
        free(a);
        free(b);
        return 0;
}
