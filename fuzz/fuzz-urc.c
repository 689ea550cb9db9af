/* fuzz-urc.c - at_classify() on single lines (any bytes but NUL) under a random context.
 * Input: one byte choosing the context, then (for the random contexts) the pending command and
 * its expected prefix, each ended by a 0x01 byte, then the line. Checks check-line.h's invariants,
 * and that a context with nothing in flight classifies like no context at all. */
#include "check-line.h"
#include "fuzz.h"

static const struct at_classify_ctx contexts[] = {
        { NULL, NULL },
        { "AT", NULL },
        { "ATE0", NULL },
        { "ATI", NULL },
        { "AT+CGSN=1", "+CGSN:" },
        { "AT+CEREG?", "+CEREG:" },
        { "AT+CFUN?", "+CFUN:" },
        { "AT+QLWRD=512", "+QLWRD:" },
        { "AT+QLWSERV=\"180.101.147.115\",5683", NULL },
        { "AT+QRST=1", NULL },
};

/* The next field up to a 0x01 byte (or the end), as a NUL-terminated string (NUL bytes cut it). */
static char *field(const uint8_t **p, size_t *n)
{
        const uint8_t *end = memchr(*p, 0x01, *n);
        size_t k = end ? (size_t) (end - *p) : *n;
        char *s = fuzz_strndup(*p, k);

        *p += k + (end ? 1 : 0);
        *n -= k + (end ? 1 : 0);
        return s;
}

FUZZ_TARGET(urc)
{
        struct at_classify_ctx ctx = { 0 };
        char *pending = NULL, *expect = NULL, *line;
        const uint8_t *p = data + 1;
        size_t n = size ? size - 1 : 0;
        uint8_t mode;

        if (size < 1)
                return 0;
        mode = data[0];
        switch (mode % 4) {
        case 0:
                ctx = contexts[(mode >> 2) % (sizeof(contexts) / sizeof(contexts[0]))];
                break;
        case 1:
                pending = field(&p, &n);
                ctx.pending = pending;
                break;
        case 2:
                pending = field(&p, &n);
                expect = field(&p, &n);
                ctx.pending = pending;
                ctx.expect = expect;
                break;
        case 3:
                expect = field(&p, &n);
                ctx.expect = expect;
                break;
        }
        line = fuzz_strndup(p, n);

        fuzz_check_at_line(line, &ctx);
        if (!ctx.pending && !ctx.expect) {
                struct at_line a, b;

                at_classify(line, &ctx, &a);
                at_classify(line, NULL, &b);
                fuzz_check(fuzz_at_line_equal(&a, &b), "empty context differs from none");
        }

        free(line);
        free(pending);
        free(expect);
        return 0;
}
