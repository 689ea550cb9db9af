/* test-line.c - Check suite for the line splitter (src/line.c): chunking independence over the
 * guide's transcript, CR/LF framing variants, garbage bytes and the length bound. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"
#include "transcript.h"

#define STREAM_MAX 16384

/* Compares every delivered line with the expected list as it arrives. */
struct expect_lines {
        const char *const *want;
        size_t n_want;
        size_t n_got;
        size_t mismatches;
};

static void on_expected_line(void *userdata, const char *line, size_t len)
{
        struct expect_lines *e = userdata;

        if (e->n_got >= e->n_want || strlen(line) != len || strcmp(line, e->want[e->n_got]) != 0)
                e->mismatches++;
        e->n_got++;
}

/* Joins delivered lines with '|' for table comparisons. */
struct joined {
        char text[1024];
        size_t n_lines;
};

static void on_joined_line(void *userdata, const char *line, size_t len)
{
        struct joined *j = userdata;
        size_t used = strlen(j->text);

        ck_assert_uint_eq(strlen(line), len);
        ck_assert_uint_lt(used + len + 2, sizeof(j->text));
        if (j->n_lines > 0)
                strcat(j->text, "|");
        strcat(j->text, line);
        j->n_lines++;
}

static const char *transcript_texts[256];
static unsigned char stream[STREAM_MAX];
static size_t stream_len, stream_garbage;

static void setup_transcript(void)
{
        ck_assert_uint_le(transcript_len, sizeof(transcript_texts) / sizeof(transcript_texts[0]));
        for (size_t i = 0; i < transcript_len; i++)
                transcript_texts[i] = transcript[i].text;
        ck_assert_int_eq(transcript_bytes(stream, sizeof(stream), &stream_len, &stream_garbage), 0);
        ck_assert_uint_gt(stream_len, 0);
        ck_assert_uint_gt(stream_garbage, 0);
}

/* Feed the stream in the given chunks and check the result is exactly the transcript. */
static void check_chunked(const size_t *chunks, size_t n_chunks)
{
        struct line_splitter s;
        struct expect_lines e = { .want = transcript_texts, .n_want = transcript_len };
        size_t off = 0;

        line_splitter_init(&s);
        for (size_t i = 0; i < n_chunks; i++) {
                line_splitter_feed(&s, stream + off, chunks[i], on_expected_line, &e);
                off += chunks[i];
        }
        ck_assert_uint_eq(off, stream_len);
        ck_assert_uint_eq(e.mismatches, 0);
        ck_assert_uint_eq(e.n_got, transcript_len);
        ck_assert_uint_eq(s.bytes_dropped, stream_garbage);
        ck_assert_uint_eq(s.lines_overlong, 0);
        ck_assert_uint_eq(s.len, 0);
}

START_TEST(test_transcript_whole)
{
        size_t chunk = stream_len;

        check_chunked(&chunk, 1);
}
END_TEST

START_TEST(test_transcript_every_split)
{
        for (size_t at = 0; at <= stream_len; at++) {
                size_t chunks[2] = { at, stream_len - at };

                check_chunked(chunks, 2);
        }
}
END_TEST

START_TEST(test_transcript_bytewise)
{
        static size_t ones[STREAM_MAX];

        for (size_t i = 0; i < stream_len; i++)
                ones[i] = 1;
        check_chunked(ones, stream_len);
}
END_TEST

/* Deterministic chunk sizes 1..64 from a small LCG; the loop index is the seed. */
START_TEST(test_transcript_random_chunks)
{
        static size_t chunks[STREAM_MAX];
        uint32_t state = 0x9e3779b9u * (uint32_t) (_i + 1);
        size_t n = 0, left = stream_len;

        while (left > 0) {
                size_t c;

                state = state * 1664525u + 1013904223u;
                c = 1 + (state >> 16) % 64;
                if (c > left)
                        c = left;
                chunks[n++] = c;
                left -= c;
        }
        check_chunked(chunks, n);
}
END_TEST

static const struct framing_case {
        const char *name;
        const char *input;
        size_t len;
        const char *lines;              /* expected lines joined with '|' */
        uint64_t dropped;
} framing_cases[] = {
#define CASE(name, in, out, drop) { name, in, sizeof(in) - 1, out, drop }
        CASE("crlf",            "OK\r\n",                       "OK",           0),
        CASE("crlf framed",     "\r\nOK\r\n",                   "OK",           0),
        CASE("lfcr boot rom",   "\n\rF1: 0000 0000\n\r",        "F1: 0000 0000", 0),
        CASE("cr echo",         "AT\r",                         "AT",           0),
        CASE("lf only",         "A\nB\n",                       "A|B",          0),
        CASE("mixed",           "A\rB\nC\r\nD\n\rE\r\r\n\n",    "A|B|C|D|E",    0),
        CASE("only breaks",     "\r\n\r\n\n\r\r\n",             "",             0),
        CASE("nul and ff",      "\0O\xffK\r\n",                 "OK",           2),
        CASE("control bytes",   "\x01\x7f\x80\x1b[0m\r",        "[0m",          4),
        CASE("tab kept",        "a\tb\r",                       "a\tb",         0),
        CASE("garbage line",    "\0\0\xff\xff\r\nRDY\r\n",      "RDY",          4),
        CASE("partial held",    "PARTIAL",                      "",             0),
        CASE("tail held",       "OK\r\nHALF",                   "OK",           0),
#undef CASE
};

START_TEST(test_framing)
{
        const struct framing_case *c = &framing_cases[_i];
        struct line_splitter s;
        struct joined j = { .text = "" };

        line_splitter_init(&s);
        line_splitter_feed(&s, c->input, c->len, on_joined_line, &j);
        ck_assert_msg(strcmp(j.text, c->lines) == 0, "%s: got \"%s\", want \"%s\"",
                      c->name, j.text, c->lines);
        ck_assert_uint_eq(s.bytes_dropped, c->dropped);
        ck_assert_uint_eq(s.lines_overlong, 0);
}
END_TEST

START_TEST(test_partial_until_terminated)
{
        struct line_splitter s;
        struct joined j = { .text = "" };

        line_splitter_init(&s);
        line_splitter_feed(&s, "+QLWOBSER", 9, on_joined_line, &j);
        ck_assert_uint_eq(j.n_lines, 0);
        line_splitter_feed(&s, "VE: 0,19,0,0", 12, on_joined_line, &j);
        ck_assert_uint_eq(j.n_lines, 0);
        line_splitter_feed(&s, "\r", 1, on_joined_line, &j);
        ck_assert_uint_eq(j.n_lines, 1);
        ck_assert_str_eq(j.text, "+QLWOBSERVE: 0,19,0,0");
}
END_TEST

START_TEST(test_reset_forgets_partial)
{
        struct line_splitter s;
        struct joined j = { .text = "" };

        line_splitter_init(&s);
        line_splitter_feed(&s, "\xffSTALE", 6, on_joined_line, &j);
        line_splitter_reset(&s);
        line_splitter_feed(&s, "OK\r\n", 4, on_joined_line, &j);
        ck_assert_str_eq(j.text, "OK");
        ck_assert_uint_eq(s.bytes_dropped, 1);  /* counters survive a reset */
}
END_TEST

/* Feed n copies of c, in pieces of at most piece bytes. */
static void feed_repeated(struct line_splitter *s, char c, size_t n, size_t piece, struct joined *j)
{
        char block[512];

        ck_assert_uint_le(piece, sizeof(block));
        memset(block, c, sizeof(block));
        while (n > 0) {
                size_t k = n < piece ? n : piece;

                line_splitter_feed(s, block, k, on_joined_line, j);
                n -= k;
        }
}

/* Loop index selects the piece size, so the bound is crossed inside one feed and across feeds. */
static const size_t overlong_pieces[] = { 1, 7, 512 };

START_TEST(test_overlong_dropped)
{
        struct line_splitter s;
        struct joined j = { .text = "" };

        line_splitter_init(&s);
        feed_repeated(&s, 'x', 10000, overlong_pieces[_i], &j);
        ck_assert_uint_eq(j.n_lines, 0);
        ck_assert_uint_le(s.len, LINE_SPLITTER_MAX);
        line_splitter_feed(&s, "\r\nOK\r\n", 6, on_joined_line, &j);
        ck_assert_str_eq(j.text, "OK");
        ck_assert_uint_eq(j.n_lines, 1);
        ck_assert_uint_eq(s.lines_overlong, 1);
        ck_assert_uint_eq(s.bytes_dropped, 0);
}
END_TEST

static void on_count_len(void *userdata, const char *line, size_t len)
{
        size_t *last = userdata;

        *last = len;
}

START_TEST(test_overlong_boundary)
{
        struct line_splitter s;
        size_t last = 0;
        static char line[LINE_SPLITTER_MAX + 2];

        /* Exactly LINE_SPLITTER_MAX bytes is still a line. */
        line_splitter_init(&s);
        memset(line, 'A', LINE_SPLITTER_MAX);
        line[LINE_SPLITTER_MAX] = '\n';
        line_splitter_feed(&s, line, LINE_SPLITTER_MAX + 1, on_count_len, &last);
        ck_assert_uint_eq(last, LINE_SPLITTER_MAX);
        ck_assert_uint_eq(s.lines_overlong, 0);

        /* One more byte and it is dropped whole. */
        last = 0;
        memset(line, 'A', LINE_SPLITTER_MAX + 1);
        line[LINE_SPLITTER_MAX + 1] = '\r';
        line_splitter_feed(&s, line, LINE_SPLITTER_MAX + 2, on_count_len, &last);
        ck_assert_uint_eq(last, 0);
        ck_assert_uint_eq(s.lines_overlong, 1);
        ck_assert_uint_eq(s.len, 0);
}
END_TEST

static Suite *line_suite(void)
{
        Suite *s = suite_create("line");
        TCase *tc;

        tc = tcase_create("transcript");
        tcase_add_checked_fixture(tc, setup_transcript, NULL);
        tcase_set_timeout(tc, 120);     /* every split position under ASan/valgrind */
        tcase_add_test(tc, test_transcript_whole);
        tcase_add_test(tc, test_transcript_every_split);
        tcase_add_test(tc, test_transcript_bytewise);
        tcase_add_loop_test(tc, test_transcript_random_chunks, 0, 16);
        suite_add_tcase(s, tc);

        tc = tcase_create("framing");
        tcase_add_loop_test(tc, test_framing, 0,
                            (int) (sizeof(framing_cases) / sizeof(framing_cases[0])));
        tcase_add_test(tc, test_partial_until_terminated);
        tcase_add_test(tc, test_reset_forgets_partial);
        suite_add_tcase(s, tc);

        tc = tcase_create("bound");
        tcase_add_loop_test(tc, test_overlong_dropped, 0,
                            (int) (sizeof(overlong_pieces) / sizeof(overlong_pieces[0])));
        tcase_add_test(tc, test_overlong_boundary);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(line_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
