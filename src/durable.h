/* durable.h - the one edge that writes and reads small state files durably: temp file, fsync,
 * rename, directory fsync; bounded reads; a checked load that moves a corrupt file aside, never
 * reusing it. Also the pure pieces of the strict text form the state files share (lines, the
 * record checksum, plain numbers, the "why" of a refusal). It never logs: callers do. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write buf as dir/name atomically and durably: dir/name.tmp is written in full, fsynced, renamed
 * over dir/name, then dir is fsynced so that a power cut brings back either the old or the new
 * file, never a mix or nothing. Mode 0644 (minus the umask). 0 or negative errno; on failure the
 * temp file is removed and dir/name is untouched. One writer per name (the temp name is fixed). */
int durable_write(const char *dir, const char *name, const void *buf, size_t len);
/* The same with exactly mode, whatever the umask (a file another user must read, such as
 * bc26ctl's metrics under UMask=0077). */
int durable_write_mode(const char *dir, const char *name, const void *buf, size_t len, mode_t mode);
/* The same with the directory's fsync done by sync_dir(fd) (fsync's contract; NULL: fsync): a
 * test seam. A failure of that last step comes after the rename: dir/name is then already the
 * new file (a caller holding the old one open compares inodes to tell). */
int durable_write_mode_sync(const char *dir, const char *name, const void *buf, size_t len, mode_t mode,
                            int (*sync_dir)(int fd));

/* Read dir/name whole into a new buffer (*out, NUL-terminated for convenience, free() it; *len
 * excludes the NUL). -ENOENT if absent, -EFBIG if longer than max bytes, other negative errno. */
int durable_read(const char *dir, const char *name, size_t max, char **out, size_t *len);

/* Rename dir/name to dir/name.corrupt-<seconds of realtime_usec> (-<n> appended if that exists)
 * and fsync dir, keeping the evidence for a human. newname (may be NULL) gets the new path. */
int durable_move_aside(const char *dir, const char *name, uint64_t realtime_usec, char *newname,
                       size_t size);

/* Write buf (len bytes: the damaged part of a file, say) as a new file
 * dir/name.corrupt-<seconds of realtime_usec> (-<n> appended if that exists), mode 0600, durably
 * (as durable_write). dir/name itself is not touched. newname (may be NULL) gets the new path. */
int durable_write_aside(const char *dir, const char *name, uint64_t realtime_usec, const void *buf,
                        size_t len, char *newname, size_t size);

/* Parse len bytes of text into ctx; -EBADMSG with a reason in why
 * if it is corrupt, or any other result, which durable_load_checked passes on. */
typedef int (*durable_decode_fn)(void *ctx, const char *text, size_t len, char *why, size_t why_size);

/* Read dir/name (at most max bytes) and decode it. -ENOENT if absent (why untouched); another
 * read error as negative errno with "dir/name: cannot read: ..." in why; what decode returns,
 * unless -EBADMSG (or the file is larger than max): then the file is moved aside (named after
 * the realtime clock) so that it is never reused, and why says "dir/name: <reason>; moved aside
 * to <new name>" (or why it could not be) and -EBADMSG is returned. */
int durable_load_checked(const char *dir, const char *name, size_t max, durable_decode_fn decode,
                         void *ctx, char *why, size_t why_size);

/* ---- the strict text form (pure) ---------------------------------------------------------- */

/* Format why (if why_size > 0) and return -EBADMSG: how every decoder refuses. */
int durable_fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Plain decimal only (no sign, blanks, or leading zeros that strtoull would take), at most max.
 * 0, -EINVAL or -ERANGE. */
int durable_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* The same with an optional '-' ("-0" refused), within min..max. */
int durable_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* A lowercase hex digit (as the checksums and boot ids are written). */
bool durable_is_hex(char c);

/* Walks a text line by line. */
struct durable_text {
        const char *text;
        size_t len, pos;
        unsigned lineno;                /* of the line durable_text_line gave last, from 1 */
};

/* Start on text: -EBADMSG (why) if it is empty, larger than max bytes or holds a NUL byte. */
int durable_text_begin(struct durable_text *t, const char *text, size_t len, size_t max, char *why,
                       size_t why_size);
/* The next line into line (without its '\n', NUL-terminated; *n its length): 1, 0 at the end,
 * or -EBADMSG (why) if it has no '\n' or is longer than size - 1 characters. */
int durable_text_line(struct durable_text *t, char *line, size_t size, size_t *n, char *why,
                      size_t why_size);

/* The checksummed form (history, counters): a header line "<magic> <count>", then count record
 * lines "<crc32 of body as 8 hex digits> <body>", oldest first. */
#define DURABLE_RECORD_LINE_MAX 512     /* the most a line_max below may be */

/* A record line for body into buf: its length, -ENOSPC or -EINVAL. */
int durable_record_encode(char *buf, size_t size, const char *body, size_t body_len);

/* One record's body (checksum checked, NUL-terminated, writable) from line lineno: 0, or
 * -EBADMSG with "line N: ..." in why. */
typedef int (*durable_record_fn)(void *ctx, char *body, unsigned lineno, char *why, size_t why_size);

/* Decode a checksummed text of at most file_max bytes whose header count may be 0..count_max and
 * whose lines are shorter than line_max, giving each record to record in turn. 0, -EBADMSG (why)
 * if anything is malformed, truncated or fails its checksum (or record refuses), -EINVAL if
 * line_max is larger than DURABLE_RECORD_LINE_MAX. */
int durable_decode_records(const char *text, size_t len, size_t file_max, const char *magic,
                           size_t count_max, size_t line_max, durable_record_fn record, void *ctx,
                           char *why, size_t why_size);

/* CRC-32 (IEEE 802.3, as zlib's crc32()) of buf: the per-record checksum of the state files. */
uint32_t durable_crc32(const void *buf, size_t len);
