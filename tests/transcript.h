/* transcript.h - the vendor guide's section 3.2 DFOTA transcript as test data: every line with
 * its expected classification, and the raw bytes the tty would carry for it. */
#pragma once

#include <stddef.h>

#include "urc.h"

enum transcript_frame {
        TRANSCRIPT_ECHO,        /* host command echoed by the module: "AT...\r" */
        TRANSCRIPT_RESPONSE,    /* module output framed "\r\n<line>\r\n" */
        TRANSCRIPT_BOOT,        /* boot ROM output framed "\n\r<line>\n\r" */
};

struct transcript_line {
        const char *text;               /* the line as the splitter must deliver it */
        enum transcript_frame frame;
        const char *pending;            /* command in flight when the line arrives, or NULL */
        struct at_line want;            /* expected at_classify() result (expect prefix NULL) */
};

extern const struct transcript_line transcript[];
extern const size_t transcript_len;

/* Write the tty byte stream for the whole transcript, with NUL/0xFF garbage around the reboots.
 * Returns 0 or -ENOBUFS; *len gets the stream length, *garbage the number of garbage bytes. */
int transcript_bytes(unsigned char *buf, size_t size, size_t *len, size_t *garbage);
