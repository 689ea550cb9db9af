/* line.c - the line splitter: module bytes in any chunking -> complete, printable lines.
 * Owns framing only (CR/LF, garbage bytes, the length bound); what a line means is urc.c's job. */
#include <string.h>

#include "line.h"

void line_splitter_init(struct line_splitter *s)
{
        memset(s, 0, sizeof(*s));
}

void line_splitter_reset(struct line_splitter *s)
{
        s->len = 0;
        s->overlong = false;
        s->buf[0] = '\0';
}

/* Printable ASCII and TAB are kept. Everything else is line noise: the NUL and 0xFF bytes seen
 * around a reboot, the garbage byte MT7682/MT2625 boot ROMs print before "F1:" (bc26-at.md 5.3),
 * and anything received at the wrong baud rate. */
static bool byte_kept(unsigned char c)
{
        return c == '\t' || (c >= 0x20 && c <= 0x7e);
}

static void end_line(struct line_splitter *s, line_handler_t handler, void *userdata)
{
        if (s->overlong) {
                s->lines_overlong++;
        } else if (s->len > 0) {
                s->buf[s->len] = '\0';
                handler(userdata, s->buf, s->len);
        }
        /* Empty lines (the CR LF framing, the boot ROM's LF CR) simply vanish here. */
        line_splitter_reset(s);
}

void line_splitter_feed(struct line_splitter *s, const void *data, size_t n,
                        line_handler_t handler, void *userdata)
{
        const unsigned char *p = data;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = p[i];

                /* CR and LF each end a line: responses are CR LF framed, the echo ends with a bare
                 * CR and the boot ROM ends its lines with LF CR (bc26-at.md 2, 5.3). */
                if (c == '\r' || c == '\n') {
                        end_line(s, handler, userdata);
                        continue;
                }
                if (!byte_kept(c)) {
                        s->bytes_dropped++;
                        continue;
                }
                if (s->overlong)
                        continue;
                if (s->len >= LINE_SPLITTER_MAX) {
                        /* Too long to be anything the module legitimately prints: drop the whole
                         * line rather than hand on a truncated one that could parse as something
                         * else, and resynchronise at the next CR/LF. */
                        s->overlong = true;
                        s->len = 0;
                        continue;
                }
                s->buf[s->len++] = (char) c;
        }
}
