/* durable.h - the one edge that writes and reads small state files durably: temp file, fsync,
 * rename, directory fsync; bounded reads; corrupt files moved aside, never reused. Also the
 * record checksum the state files share. It never logs and never parses: callers do. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Write buf as dir/name atomically and durably: dir/name.tmp is written in full, fsynced, renamed
 * over dir/name, then dir is fsynced so that a power cut brings back either the old or the new
 * file, never a mix or nothing. Mode 0644 (minus the umask). 0 or negative errno; on failure the
 * temp file is removed and dir/name is untouched. One writer per name (the temp name is fixed). */
int durable_write(const char *dir, const char *name, const void *buf, size_t len);

/* Read dir/name whole into a new buffer (*out, NUL-terminated for convenience, free() it; *len
 * excludes the NUL). -ENOENT if absent, -EFBIG if longer than max bytes, other negative errno. */
int durable_read(const char *dir, const char *name, size_t max, char **out, size_t *len);

/* Rename dir/name to dir/name.corrupt-<seconds of realtime_usec> (-<n> appended if that exists)
 * and fsync dir, keeping the evidence for a human. newname (may be NULL) gets the new path. */
int durable_move_aside(const char *dir, const char *name, uint64_t realtime_usec, char *newname,
                       size_t size);

/* CRC-32 (IEEE 802.3, as zlib's crc32()) of buf: the per-record checksum of the state files. */
uint32_t durable_crc32(const void *buf, size_t len);
