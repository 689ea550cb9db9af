/* outbox-store.h - the outbox's durable form: an append-only binary log in the state dir
 * (doc/architecture.md, "The outbox log"). Pure encode/decode of its records, and the edge that
 * opens (replays, recovers a damaged tail), appends with fdatasync, and compacts it. It never
 * logs: the caller journals the why texts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "outbox.h"

#define OUTBOX_FILE_NAME        "outbox"
#define OUTBOX_LOG_VERSION      1
#define OUTBOX_HEADER_SIZE      16      /* magic "BC26OBOX", u32 version, u32 CRC-32 of both */
/* Record: u32 length of what follows the CRC, u32 CRC-32 of it, then a type byte and a body. */
#define OUTBOX_RECORD_HEAD      8
#define OUTBOX_MESSAGE_BODY     37      /* without the payload */
#define OUTBOX_RECORD_MAX       (OUTBOX_RECORD_HEAD + 1 + OUTBOX_MESSAGE_BODY + OUTBOX_PAYLOAD_MAX)
#define OUTBOX_REMOVAL_RECORD   (OUTBOX_RECORD_HEAD + 1 + 8)
/* The largest log read at open: twice the most live data the hard bounds allow, and slack.
 * Compaction keeps a log far below it; the rest of a larger file counts as a damaged tail. */
#define OUTBOX_FILE_MAX         ((size_t) 2 * (OUTBOX_BYTES_MAX + (uint64_t) OUTBOX_MESSAGES_MAX * \
                                 (OUTBOX_RECORD_MAX - OUTBOX_PAYLOAD_MAX)) + (size_t) 1024 * 1024)
/* Compaction: when the dead bytes outweigh the live ones in a log larger than this. */
#define OUTBOX_COMPACT_MIN      (64 * 1024)
/* A store that cannot be written (a failing or read-only disk) tries to heal on every message
 * append, but on one removal in this many (and compaction waits as long). */
#define OUTBOX_RETRY_EVERY      16
/* outbox_log_max_id checksums each real record once, and at most this much more for look-alikes. */
#define OUTBOX_SCAN_SLACK       (16 * 1024 * 1024)

/* The log's size for message m: its record's length. */
size_t outbox_message_record_size(const struct outbox_message *m);

/* Pure: the header; one record (a message, or the removal of an id). Length or -ENOSPC (also
 * -EINVAL for a message the log could not decode back: id 0 or above OUTBOX_ID_MAX, len too big). */
int outbox_encode_header(uint8_t *buf, size_t size);
int outbox_encode_message(const struct outbox_message *m, uint8_t *buf, size_t size);
int outbox_encode_removal(uint64_t id, uint8_t *buf, size_t size);

struct outbox_log_ops {
        int (*message)(void *ud, const struct outbox_message *m);
        int (*removal)(void *ud, uint64_t id);
};
/* Decodes records in order until the end or the first bad one; *good = bytes of the good
 * prefix. 0 if all good; -EBADMSG with why ("offset N: <what>") if a bad/truncated record
 * (or bad header: *good 0) was found; a callback's negative return stops it and is returned
 * (*good then ends before that record). ops may be NULL (a check only). Attempts and retry_at
 * of the messages given are 0: they are not kept in the log. */
int outbox_log_decode(const uint8_t *buf, size_t len, const struct outbox_log_ops *ops, void *ud,
                      size_t *good, char *why, size_t why_size);

/* Pure: the highest id of any well-formed record (length, type, body, id range and CRC as decode
 * checks them) found at any offset of buf, 0 if none. For the damaged part of a log: its ids are
 * never handed out again, though its messages are not brought back. Bounded work. */
uint64_t outbox_log_max_id(const uint8_t *buf, size_t len);

struct outbox_store;
struct outbox_store_io;

/* Edge. open: read dir/outbox (created 0600 with its header, durably, if absent), replay into o
 * (messages added, removals applied, ids seen). The store keeps o (it must outlive the store and
 * be the owner's queue, changed only after the log took each change): a broken store rewrites
 * itself from it (see the appends).
 * A bad tail: the bytes from the bad offset are written to outbox.corrupt-<secs> (durable), the
 * ids of the well-formed records among them are seen (outbox_log_max_id), the good prefix is
 * rewritten atomically (with a removal of the highest such id if it is above the prefix's), and
 * -EBADMSG returned with why naming both files and the offset — the store is still open and
 * usable (*out set); if the bad part cannot be saved or the prefix not rewritten (a full or
 * read-only disk), the file is left as it is, the good prefix is used and why says so.
 * A read-only state dir or log (EROFS, EACCES, EPERM on O_RDWR): the log is opened read-only and
 * replayed, 0 returned with why saying so (why[0] stays as it was otherwise), and appends fail
 * with that errno until it can be written (outbox_store_error). No log and a read-only dir: the
 * same, with an empty queue; appends create it when they can.
 * Other failures: negative errno, why says what and where, *out not set (o keeps what was
 * replayed); -EPROTONOSUPPORT (file untouched) for a log of a newer version. */
int outbox_store_open(const char *dir, struct outbox *o, char *why, size_t why_size,
                      struct outbox_store **out);
/* The same with a test seam in place from the start (NULL: the defaults). */
int outbox_store_open_io(const char *dir, struct outbox *o, const struct outbox_store_io *io, char *why,
                         size_t why_size, struct outbox_store **out);
/* Append a record with one write() and fdatasync it (and the directory, after a rename whose
 * directory fsync had failed). On failure the file is cut back to its previous length (nothing
 * half-written stays) and -errno (-ENOSPC, -EROFS, -EACCES, -EIO, ...).
 * A store that cannot take appends (read-only, a cut back that failed, no file, an unsaved
 * damaged tail) heals first: reopens read-write, saves the damaged tail, retries the cut back,
 * or rewrites the file from the queue given to open. Message appends always try; removal appends
 * try once every OUTBOX_RETRY_EVERY and otherwise fail at once with the last errno. Call
 * append_message before adding m to the queue, append_removal before removing id from it. */
int outbox_store_append_message(struct outbox_store *s, const struct outbox_message *m);
int outbox_store_append_removal(struct outbox_store *s, uint64_t id);
/* Whether to compact now: the log holds more dead than live bytes and more than
 * OUTBOX_COMPACT_MIN, or o is empty and the log holds more than its compacted form, or the store
 * needs healing. Never within OUTBOX_RETRY_EVERY removals of a failed compaction or heal (unless a
 * message append succeeded since). Ask after removals; the log never grows without bound as
 * long as the owner does. */
bool outbox_store_should_compact(const struct outbox_store *s, const struct outbox *o);
/* Rewrite the file atomically with only o's messages in id order (and the removal of the
 * highest id ever seen if it is not among them, so that ids are never reused after a restart);
 * a damaged tail not yet saved is saved first. 0 or negative errno (the old file then stays as
 * it was). Once the new file is renamed in place, appends go to it, also if the directory's
 * fsync failed (then 0: the next append syncs the directory before it is acknowledged). */
int outbox_store_compact(struct outbox_store *s, const struct outbox *o);
/* 0 if appends are expected to work; else why not as -errno (-EROFS or -EACCES for a read-only
 * state dir, what the last failed heal or append said otherwise). */
int outbox_store_error(const struct outbox_store *s);
/* The log's path, and its size in bytes. */
const char *outbox_store_path(const struct outbox_store *s);
uint64_t outbox_store_size(const struct outbox_store *s);
/* Close (NULL is fine); returns NULL. */
struct outbox_store *outbox_store_close(struct outbox_store *s);

/* Test seam: the calls the store makes on its log; a NULL member is the default. */
struct outbox_store_io {
        ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t offset);     /* pwrite */
        int (*sync)(int fd);                    /* fdatasync after an append */
        int (*truncate)(int fd, off_t len);     /* ftruncate: the cut back of a failed append */
        int (*sync_dir)(int fd);                /* fsync of the directory after a rename */
        int (*open)(const char *path, int flags);       /* open of the log (-1 and errno) */
};
void outbox_store_set_io(struct outbox_store *s, const struct outbox_store_io *io);
