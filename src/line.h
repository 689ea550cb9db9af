/* line.h - the line splitter: module bytes in any chunking -> complete lines.
 * Pure: no I/O, no clock, no globals. Does not interpret what a line means (urc.h does). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest line kept, in bytes; a longer one is dropped whole and counted. The longest legitimate
 * line is a 512-byte hex downlink chunk (1024 characters) or our own echoed QLWDATASEND. */
#define LINE_SPLITTER_MAX 4096

struct line_splitter {
        char buf[LINE_SPLITTER_MAX + 1];
        size_t len;
        bool overlong;              /* current line passed the bound: discard up to the next CR/LF */
        uint64_t lines_overlong;    /* lines dropped for length */
        uint64_t bytes_dropped;     /* NUL, 0xFF, other non-printable bytes dropped */
};

/* Called once per complete, non-empty line; line is NUL-terminated and valid during the call. */
typedef void (*line_handler_t)(void *userdata, const char *line, size_t len);

/* Prepare an empty splitter. */
void line_splitter_init(struct line_splitter *s);

/* Forget a partial line (after the tty was reopened); counters are kept. */
void line_splitter_reset(struct line_splitter *s);

/* Split data: CR and LF each end a line (the boot ROM ends lines with LF CR); empty lines are
 * dropped; bytes outside printable ASCII (TAB kept) are dropped and counted. */
void line_splitter_feed(struct line_splitter *s, const void *data, size_t n,
                        line_handler_t handler, void *userdata);
