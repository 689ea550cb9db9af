/* bench-parser.c - throughput of the tty parser (line_splitter_feed + at_classify, as the AT
 * channel runs them) over the guide's DFOTA transcript repeated to a large buffer, side by side
 * with a bare memchr line split of the same bytes and the splitter alone, and against the line
 * rate of a 115200-baud UART (8N1: 11520 bytes/s).
 *
 * Usage: bench-parser [MEGABYTES [ROUNDS]]   (default 64 MB, best of 5 rounds)
 * Prints "key=value" lines for bench/run-benchmarks.sh. Every classification is checked against
 * the transcript's expected class: a wrong parser must not look fast. Exit 1 on a mismatch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "line.h"
#include "transcript.h"
#include "urc.h"

#define CHUNK 4096              /* what serial.c reads at once */
#define UART_BYTES_PER_S 11520.0 /* 115200 baud, 8N1: 10 bits per byte */

struct classify_state {
        size_t lines;
        size_t mismatches;
        uint64_t sum;
};

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* The channel's on_line(): classify with the command in flight as context. Lines come in
 * transcript order, so the transcript says which command was pending and what the class is. */
static void on_line_classify(void *userdata, const char *text, size_t len)
{
        struct classify_state *st = userdata;
        const struct transcript_line *t = &transcript[st->lines % transcript_len];
        struct at_classify_ctx ctx = { .pending = t->pending, .expect = NULL };
        struct at_line l;

        at_classify(text, &ctx, &l);
        if (l.cls != t->want.cls)
                st->mismatches++;
        st->sum += (uint64_t) l.cls + len;
        st->lines++;
}

static void on_line_count(void *userdata, const char *text, size_t len)
{
        struct classify_state *st = userdata;

        st->sum += len + (unsigned char) text[0];
        st->lines++;
}

static double run_parser(const unsigned char *buf, size_t n, line_handler_t handler, struct classify_state *st)
{
        static struct line_splitter sp;
        double t0;

        line_splitter_init(&sp);
        memset(st, 0, sizeof(*st));
        t0 = now_s();
        for (size_t off = 0; off < n; off += CHUNK)
                line_splitter_feed(&sp, buf + off, n - off < CHUNK ? n - off : CHUNK, handler, st);
        return now_s() - t0;
}

/* The floor: find each line end with memchr and hand (pointer, length) on, nothing else. The
 * stream ends lines with CR, CR LF or LF CR; splitting on LF alone is the cheapest split there is. */
static double run_memchr(const unsigned char *buf, size_t n, struct classify_state *st)
{
        const unsigned char *p = buf, *end = buf + n;
        double t0;

        memset(st, 0, sizeof(*st));
        t0 = now_s();
        while (p < end) {
                const unsigned char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len;

                if (!nl)
                        nl = end;
                len = (size_t) (nl - p);
                if (len > 0) {
                        st->sum += len + p[0];
                        st->lines++;
                }
                p = nl + 1;
        }
        return now_s() - t0;
}

int main(int argc, char *argv[])
{
        size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
        int rounds = argc > 2 ? atoi(argv[2]) : 5;
        unsigned char one[64 * 1024];
        size_t one_len, garbage, size, n = 0, reps = 0;
        unsigned char *buf;
        double best_full = 1e9, best_split = 1e9, best_memchr = 1e9;
        struct classify_state st;
        size_t full_lines = 0;

        if (mb == 0 || mb > 4096 || rounds < 1) {
                fprintf(stderr, "usage: bench-parser [MEGABYTES 1..4096 [ROUNDS >= 1]]\n");
                return 2;
        }
        if (transcript_bytes(one, sizeof(one), &one_len, &garbage) < 0) {
                fprintf(stderr, "bench-parser: the transcript does not fit in %zu bytes\n", sizeof(one));
                return 1;
        }
        size = mb * 1024 * 1024;
        buf = malloc(size);
        if (!buf) {
                fprintf(stderr, "bench-parser: out of memory\n");
                return 1;
        }
        /* Whole transcripts only, so that line i of the stream is transcript line i mod len. */
        while (n + one_len <= size) {
                memcpy(buf + n, one, one_len);
                n += one_len;
                reps++;
        }

        for (int r = 0; r < rounds; r++) {
                double t = run_parser(buf, n, on_line_classify, &st);

                if (st.mismatches || st.lines != reps * transcript_len) {
                        fprintf(stderr, "bench-parser: %zu lines, %zu misclassified (expected %zu lines)\n",
                                st.lines, st.mismatches, reps * transcript_len);
                        return 1;
                }
                full_lines = st.lines;
                if (t < best_full)
                        best_full = t;
                t = run_parser(buf, n, on_line_count, &st);
                if (t < best_split)
                        best_split = t;
                t = run_memchr(buf, n, &st);
                if (t < best_memchr)
                        best_memchr = t;
        }

        {
                double mbytes = (double) n / 1e6;
                double full = mbytes / best_full, split = mbytes / best_split, bare = mbytes / best_memchr;

                printf("parser_input_bytes=%zu\n", n);
                printf("parser_transcript_bytes=%zu\n", one_len);
                printf("parser_lines=%zu\n", full_lines);
                printf("parser_rounds=%d\n", rounds);
                printf("parser_full_mbps=%.1f\n", full);
                printf("parser_split_only_mbps=%.1f\n", split);
                printf("parser_memchr_mbps=%.1f\n", bare);
                printf("parser_full_vs_memchr=%.3f\n", full / bare);
                printf("parser_full_vs_uart=%.0f\n", full * 1e6 / UART_BYTES_PER_S);
                printf("parser_ns_per_line=%.1f\n", best_full * 1e9 / (double) full_lines);
        }
        free(buf);
        return 0;
}
