/* outbox-store.c - the outbox log: a versioned header, then length-prefixed records with a
 * CRC-32 each (a message, or the removal of an id), appended with one write and an fdatasync;
 * its pure encode/decode, and the edge that opens and replays it (keeping the good prefix of a
 * damaged log and writing the rest aside), appends, and compacts it atomically through
 * durable.c. Times, limits and messages are the core's (outbox.c); logging is the caller's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "durable.h"
#include "outbox-store.h"

#define MAGIC                   "BC26OBOX"
#define MAGIC_LEN               8
#define TYPE_MESSAGE            1
#define TYPE_REMOVAL            2
#define FLAG_CONFIRMABLE        0x01
#define REASON_MAX              160

_Static_assert(OUTBOX_RECORD_MAX < 1024, "a record is small: its length is checked before use");


/* ---- little-endian fields -------------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
        put16(p, (uint16_t) v);
        put16(p + 2, (uint16_t) (v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
        put32(p, (uint32_t) v);
        put32(p + 4, (uint32_t) (v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t) get16(p) | (uint32_t) get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
        return (uint64_t) get32(p) | (uint64_t) get32(p + 4) << 32;
}

/* ---- encode ---------------------------------------------------------------------------------- */

size_t outbox_message_record_size(const struct outbox_message *m)
{
        return OUTBOX_RECORD_HEAD + 1 + OUTBOX_MESSAGE_BODY + m->len;
}

int outbox_encode_header(uint8_t *buf, size_t size)
{
        if (size < OUTBOX_HEADER_SIZE)
                return -ENOSPC;
        memcpy(buf, MAGIC, MAGIC_LEN);
        put32(buf + 8, OUTBOX_LOG_VERSION);
        put32(buf + 12, durable_crc32(buf, 12));
        return OUTBOX_HEADER_SIZE;
}

/* Length and CRC in front of the type and body already at buf + OUTBOX_RECORD_HEAD. */
static int seal(uint8_t *buf, size_t body_len)
{
        put32(buf, (uint32_t) body_len);
        put32(buf + 4, durable_crc32(buf + OUTBOX_RECORD_HEAD, body_len));
        return (int) (OUTBOX_RECORD_HEAD + body_len);
}

int outbox_encode_message(const struct outbox_message *m, uint8_t *buf, size_t size)
{
        uint8_t *p = buf + OUTBOX_RECORD_HEAD;

        if (m->id == 0 || m->id > OUTBOX_ID_MAX || m->len > OUTBOX_PAYLOAD_MAX)
                return -EINVAL;
        if (size < outbox_message_record_size(m))
                return -ENOSPC;
        p[0] = TYPE_MESSAGE;
        put64(p + 1, m->id);
        put32(p + 9, m->uid);
        put16(p + 13, m->obj);
        put16(p + 15, m->inst);
        put16(p + 17, m->res);
        p[19] = m->confirmable ? FLAG_CONFIRMABLE : 0;
        put64(p + 20, m->enqueued);
        put64(p + 28, m->expires);
        put16(p + 36, m->len);
        memcpy(p + 38, m->data, m->len);
        return seal(buf, 1 + OUTBOX_MESSAGE_BODY + m->len);
}

int outbox_encode_removal(uint64_t id, uint8_t *buf, size_t size)
{
        if (id == 0 || id > OUTBOX_ID_MAX)
                return -EINVAL;
        if (size < OUTBOX_REMOVAL_RECORD)
                return -ENOSPC;
        buf[OUTBOX_RECORD_HEAD] = TYPE_REMOVAL;
        put64(buf + OUTBOX_RECORD_HEAD + 1, id);
        return seal(buf, 1 + 8);
}

/* ---- decode ---------------------------------------------------------------------------------- */

static int check_header(const uint8_t *buf, size_t len, char *why, size_t why_size)
{
        if (len == 0)
                return durable_fail(why, why_size, "offset 0: empty file (no header)");
        if (len < OUTBOX_HEADER_SIZE)
                return durable_fail(why, why_size, "offset 0: truncated header (%zu of %d bytes)", len,
                                    OUTBOX_HEADER_SIZE);
        if (memcmp(buf, MAGIC, MAGIC_LEN) != 0)
                return durable_fail(why, why_size, "offset 0: not an outbox log (bad magic)");
        if (get32(buf + 12) != durable_crc32(buf, 12))
                return durable_fail(why, why_size, "offset 0: header checksum mismatch");
        if (get32(buf + 8) != OUTBOX_LOG_VERSION)
                return durable_fail(why, why_size, "offset 0: log version %" PRIu32 ", this bc26d reads %d",
                                    get32(buf + 8), OUTBOX_LOG_VERSION);
        return 0;
}

/* One record's type and body (n bytes, CRC checked) at offset off. */
static int decode_record(const uint8_t *p, size_t n, size_t off, const struct outbox_log_ops *ops,
                         void *ud, char *why, size_t why_size)
{
        struct outbox_message m;
        uint64_t id;

        switch (p[0]) {
        case TYPE_MESSAGE:
                if (n < 1 + OUTBOX_MESSAGE_BODY)
                        return durable_fail(why, why_size, "offset %zu: message record of %zu bytes", off, n);
                memset(&m, 0, offsetof(struct outbox_message, data));
                m.id = get64(p + 1);
                m.uid = get32(p + 9);
                m.obj = get16(p + 13);
                m.inst = get16(p + 15);
                m.res = get16(p + 17);
                if (p[19] & ~FLAG_CONFIRMABLE)
                        return durable_fail(why, why_size, "offset %zu: unknown message flags 0x%02x", off,
                                            p[19]);
                m.confirmable = p[19] & FLAG_CONFIRMABLE;
                m.enqueued = get64(p + 20);
                m.expires = get64(p + 28);
                m.len = get16(p + 36);
                if (m.id == 0 || m.id > OUTBOX_ID_MAX)
                        return durable_fail(why, why_size, "offset %zu: message id %" PRIu64 " out of range",
                                            off, m.id);
                if (m.len > OUTBOX_PAYLOAD_MAX || n != 1 + OUTBOX_MESSAGE_BODY + (size_t) m.len)
                        return durable_fail(why, why_size,
                                            "offset %zu: message of %u payload bytes in a record of %zu",
                                            off, m.len, n);
                memcpy(m.data, p + 38, m.len);
                return ops && ops->message ? ops->message(ud, &m) : 0;
        case TYPE_REMOVAL:
                if (n != 1 + 8)
                        return durable_fail(why, why_size, "offset %zu: removal record of %zu bytes", off, n);
                id = get64(p + 1);
                if (id == 0 || id > OUTBOX_ID_MAX)
                        return durable_fail(why, why_size, "offset %zu: removal of id %" PRIu64 " out of range",
                                            off, id);
                return ops && ops->removal ? ops->removal(ud, id) : 0;
        default:
                return durable_fail(why, why_size, "offset %zu: unknown record type %u", off, p[0]);
        }
}

int outbox_log_decode(const uint8_t *buf, size_t len, const struct outbox_log_ops *ops, void *ud,
                      size_t *good, char *why, size_t why_size)
{
        size_t pos = OUTBOX_HEADER_SIZE;
        int r;

        *good = 0;
        r = check_header(buf, len, why, why_size);
        if (r < 0)
                return r;
        *good = pos;
        while (pos < len) {
                size_t left = len - pos;
                uint32_t n;

                if (left < OUTBOX_RECORD_HEAD)
                        return durable_fail(why, why_size, "offset %zu: truncated record (%zu bytes)", pos,
                                            left);
                n = get32(buf + pos);
                /* Checked against the largest record before anything else is read. */
                if (n < 1 || n > OUTBOX_RECORD_MAX - OUTBOX_RECORD_HEAD)
                        return durable_fail(why, why_size, "offset %zu: record length %" PRIu32
                                            " out of range 1..%d", pos, n,
                                            OUTBOX_RECORD_MAX - OUTBOX_RECORD_HEAD);
                if (left - OUTBOX_RECORD_HEAD < n)
                        return durable_fail(why, why_size, "offset %zu: truncated record (%zu of %zu bytes)",
                                            pos, left, (size_t) n + OUTBOX_RECORD_HEAD);
                if (durable_crc32(buf + pos + OUTBOX_RECORD_HEAD, n) != get32(buf + pos + 4))
                        return durable_fail(why, why_size, "offset %zu: checksum mismatch", pos);
                r = decode_record(buf + pos + OUTBOX_RECORD_HEAD, n, pos, ops, ud, why, why_size);
                if (r < 0)
                        return r;
                pos += OUTBOX_RECORD_HEAD + n;
                *good = pos;
        }
        return 0;
}

uint64_t outbox_log_max_id(const uint8_t *buf, size_t len)
{
        /* Checksummed bytes: each real record once, and a bounded extra for look-alikes. */
        uint64_t budget = (uint64_t) len + OUTBOX_SCAN_SLACK, high = 0;
        size_t pos = 0;

        while (len - pos >= OUTBOX_REMOVAL_RECORD) {
                const uint8_t *p = buf + pos, *body = p + OUTBOX_RECORD_HEAD;
                size_t left = len - pos - OUTBOX_RECORD_HEAD;
                uint32_t n = get32(p);
                uint64_t id = 0;

                /* What decode_record accepts, checked cheaply before the CRC. */
                if (n == 1 + 8 && body[0] == TYPE_REMOVAL)
                        id = get64(body + 1);
                else if (n >= 1 + OUTBOX_MESSAGE_BODY && n <= OUTBOX_RECORD_MAX - OUTBOX_RECORD_HEAD &&
                         left >= n && body[0] == TYPE_MESSAGE && !(body[19] & ~FLAG_CONFIRMABLE) &&
                         n == 1 + OUTBOX_MESSAGE_BODY + (size_t) get16(body + 36))
                        id = get64(body + 1);
                if (id >= 1 && id <= OUTBOX_ID_MAX && left >= n) {
                        if (budget < n)
                                break;
                        budget -= n;
                        if (durable_crc32(body, n) == get32(p + 4)) {
                                if (id > high)
                                        high = id;
                                pos += OUTBOX_RECORD_HEAD + n;
                                continue;
                        }
                }
                pos++;
        }
        return high;
}

/* ---- the edge -------------------------------------------------------------------------------- */

struct outbox_store {
        char *dir;
        char path[PATH_MAX];
        struct outbox *o;       /* the owner's queue (open's o): what a rewrite writes */
        int fd;                 /* the live log; -1 if none could be opened (then rewrite) */
        uint64_t size;          /* bytes of good log: where the next record goes */
        bool read_only;         /* fd is O_RDONLY: the file or the directory refused writing */
        bool broken;            /* a failed append could not be cut back */
        bool rewrite;           /* the file must be rewritten from o before the next append */
        bool aside;             /* the file's bytes from aside_from are damage not yet saved */
        uint64_t aside_from;
        bool dir_unsynced;      /* a rename whose directory fsync failed: appends sync it first */
        unsigned retry_skip;    /* removals until a failing store tries to heal (or compact) again */
        int error;              /* why appends fail (-errno), 0 if they work as far as known */
        struct outbox_store_io io;
};

static ssize_t default_pwrite(int fd, const void *buf, size_t n, off_t offset)
{
        return pwrite(fd, buf, n, offset);
}

static int default_sync(int fd)
{
        return fdatasync(fd);
}

static int default_open(const char *path, int flags)
{
        return open(path, flags);
}

static void io_fill(struct outbox_store_io *io, const struct outbox_store_io *with)
{
        *io = with ? *with : (struct outbox_store_io) { 0 };
        if (!io->pwrite)
                io->pwrite = default_pwrite;
        if (!io->sync)
                io->sync = default_sync;
        if (!io->truncate)
                io->truncate = ftruncate;
        if (!io->sync_dir)
                io->sync_dir = fsync;
        if (!io->open)
                io->open = default_open;
}

struct replay {
        struct outbox *o;
        size_t records;
        int refused;                    /* what outbox_add said when it stopped the replay */
};

static int replay_message(void *ud, const struct outbox_message *m)
{
        struct replay *rp = ud;
        int r = outbox_add(rp->o, m);

        /* A second message with a queued id cannot come from us: keep the first. */
        if (r == -EEXIST)
                r = 0;
        if (r < 0) {
                rp->refused = r;
                return r;
        }
        rp->records++;
        return 0;
}

static int replay_removal(void *ud, uint64_t id)
{
        struct replay *rp = ud;

        (void) outbox_remove(rp->o, id);
        outbox_see_id(rp->o, id);
        rp->records++;
        return 0;
}

static int fail(char *why, size_t why_size, int r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t why_size, int r, const char *fmt, ...)
{
        va_list ap;

        if (why && why_size > 0) {
                va_start(ap, fmt);
                (void) vsnprintf(why, why_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

static int open_log(const struct outbox_store *s, int flags)
{
        int fd = s->io.open(s->path, flags | O_CLOEXEC | O_NOFOLLOW);

        return fd < 0 ? -errno : fd;
}

/* What a read-only state dir (or a log we may not write) says to O_RDWR. */
static bool read_only_error(int r)
{
        return r == -EROFS || r == -EACCES || r == -EPERM;
}

static bool needs_heal(const struct outbox_store *s)
{
        return s->fd < 0 || s->read_only || s->broken || s->rewrite || s->aside;
}

static bool same_file(int a, int b)
{
        struct stat sa, sb;

        return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static uint64_t realtime_usec(void)
{
        struct timespec ts;

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Up to max bytes of fd into a new buffer; *total the file's size. */
static int read_log(int fd, size_t max, uint8_t **out, size_t *len, uint64_t *total)
{
        struct stat st;
        size_t want, got = 0;
        uint8_t *buf;

        if (fstat(fd, &st) < 0)
                return -errno;
        *total = (uint64_t) st.st_size;
        want = (uint64_t) st.st_size > max ? max : (size_t) st.st_size;
        buf = malloc(want ? want : 1);
        if (!buf)
                return -ENOMEM;
        while (got < want) {
                ssize_t n = pread(fd, buf + got, want - got, (off_t) got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;

                        free(buf);
                        return r;
                }
                if (n == 0)
                        break;          /* shrank meanwhile: what we have is the file */
                got += (size_t) n;
        }
        *out = buf;
        *len = got;
        return 0;
}

/* Write len bytes as the new log (temp file, fsync, rename, directory fsync) and make fd the
 * live file's whenever the rename happened, also when a later step failed: appends must never
 * go to the replaced, unlinked file. A rename whose directory fsync failed counts as done (the
 * file is the log; dir_unsynced makes the next append sync the directory before it is
 * acknowledged). 0, or negative errno with the old file (if any) still the log. */
static int write_log(struct outbox_store *s, const uint8_t *buf, size_t len)
{
        struct stat before, after;
        bool had = stat(s->path, &before) == 0, renamed;
        int r = durable_write_mode_sync(s->dir, OUTBOX_FILE_NAME, buf, len, 0600, s->io.sync_dir), fd;

        renamed = r == 0 || (stat(s->path, &after) == 0 &&
                             (!had || after.st_ino != before.st_ino || after.st_dev != before.st_dev));
        if (!renamed)
                return r;
        fd = open_log(s, O_RDWR);
        if (s->fd >= 0)
                (void) close(s->fd);
        s->fd = fd < 0 ? -1 : fd;
        s->size = len;
        s->read_only = false;
        s->broken = false;
        s->rewrite = fd < 0;
        s->dir_unsynced = r < 0;
        return fd < 0 ? fd : 0;
}

/* The damaged bytes from aside_from to the end of the file (up to the read limit), beside it. */
static int save_aside(struct outbox_store *s, char *aside, size_t aside_size)
{
        uint64_t total;
        uint8_t *buf;
        size_t len;
        int r;

        if (s->fd < 0)
                return -EBADF;
        r = read_log(s->fd, OUTBOX_FILE_MAX, &buf, &len, &total);
        if (r < 0)
                return r;
        if (len > s->aside_from)
                r = durable_write_aside(s->dir, OUTBOX_FILE_NAME, realtime_usec(), buf + s->aside_from,
                                        len - (size_t) s->aside_from, aside, aside_size);
        free(buf);
        if (r == 0)
                s->aside = false;
        return r;
}

/* Keep the good prefix of a damaged log, write the rest aside. The ids of the well-formed
 * records in the rest are seen (never handed out again) and the rewritten log keeps the highest
 * as a removal; their messages are not brought back. If the rest cannot be saved or the log
 * rewritten (a read-only or full disk), the good prefix is used as it is and appends refused
 * until a later append heals it. -EBADMSG (the store usable) or another negative errno. */
static int recover(struct outbox_store *s, const uint8_t *buf, size_t len, size_t good, uint64_t total,
                   const char *reason, size_t records, char *why, size_t why_size)
{
        char aside[PATH_MAX] = "";
        size_t keep = good >= OUTBOX_HEADER_SIZE ? good : 0, n;
        uint64_t prefix_next = outbox_next_id(s->o), high = outbox_log_max_id(buf + good, len - good);
        uint8_t *nb;
        int r;

        if (high)
                outbox_see_id(s->o, high);
        s->size = keep ? keep : OUTBOX_HEADER_SIZE;
        s->rewrite = true;
        if (len > good) {
                r = durable_write_aside(s->dir, OUTBOX_FILE_NAME, realtime_usec(), buf + good, len - good, aside,
                                        sizeof(aside));
                if (r < 0) {
                        s->aside = true;
                        s->aside_from = good;
                        s->error = r;
                        return fail(why, why_size, -EBADMSG,
                                    "%s: %s; cannot save the damaged part: %s; the %zu records before offset %zu "
                                    "are used, the file is left as it is and new messages are refused until it "
                                    "can be saved", s->path, reason, strerror(-r), records, good);
                }
        }
        /* The good part (a new header if there was none), and the highest id the rest held. */
        n = keep ? keep : OUTBOX_HEADER_SIZE;
        nb = malloc(n + OUTBOX_REMOVAL_RECORD);
        if (!nb)
                return fail(why, why_size, -ENOMEM, "%s: out of memory recovering it", s->path);
        if (keep)
                memcpy(nb, buf, keep);
        else
                (void) outbox_encode_header(nb, n);
        if (high >= prefix_next)
                n += (size_t) outbox_encode_removal(high, nb + n, OUTBOX_REMOVAL_RECORD);
        r = write_log(s, nb, n);
        free(nb);
        if (r < 0) {
                s->error = r;
                return fail(why, why_size, -EBADMSG,
                            "%s: %s; cannot rewrite its good part: %s; the %zu records before offset %zu are "
                            "used%s%s, new messages are refused until the log can be rewritten", s->path,
                            reason, strerror(-r), records, good, aside[0] ? ", the rest was saved to " : "",
                            aside);
        }
        if (keep == 0 && len == 0)
                return fail(why, why_size, -EBADMSG, "%s: %s; started a new log", s->path, reason);
        if (len == good)
                return fail(why, why_size, -EBADMSG, "%s: %s; the %" PRIu64 " bytes past offset %zu were dropped, the %zu records before kept",
                            s->path, reason, total - len, len, records);
        return fail(why, why_size, -EBADMSG,
                    "%s: %s; the %zu bytes from offset %zu%s were moved to %s, the %zu records before it kept",
                    s->path, reason, len - good, good, total > len ? " (up to the read limit)" : "", aside,
                    records);
}

int outbox_store_open_io(const char *dir, struct outbox *o, const struct outbox_store_io *io, char *why,
                         size_t why_size, struct outbox_store **out)
{
        static const struct outbox_log_ops ops = { replay_message, replay_removal };
        struct replay rp = { .o = o };
        char reason[REASON_MAX];
        struct outbox_store *s;
        uint8_t *buf = NULL;
        size_t len = 0, good = 0;
        uint64_t total = 0;
        int r, ro = 0;

        s = calloc(1, sizeof(*s));
        if (!s)
                return fail(why, why_size, -ENOMEM, "out of memory");
        s->fd = -1;
        s->o = o;
        io_fill(&s->io, io);
        s->dir = strdup(dir);
        r = snprintf(s->path, sizeof(s->path), "%s/%s", dir, OUTBOX_FILE_NAME);
        if (!s->dir || r < 0 || (size_t) r >= sizeof(s->path)) {
                r = s->dir ? -ENAMETOOLONG : -ENOMEM;
                (void) fail(why, why_size, r, "%s/%s: %s", dir, OUTBOX_FILE_NAME, strerror(-r));
                goto fail;
        }

        s->fd = open_log(s, O_RDWR);
        if (s->fd == -ENOENT) {
                uint8_t header[OUTBOX_HEADER_SIZE];

                (void) outbox_encode_header(header, sizeof(header));
                /* Temp file, fsync, rename, fsync of dir: the new log is there whole or not at all. */
                s->fd = -1;
                r = write_log(s, header, sizeof(header));
                if (read_only_error(r) && s->fd < 0) {
                        /* Nothing to deliver; appends create it once the directory is writable. */
                        s->rewrite = true;
                        s->error = r;
                        s->size = OUTBOX_HEADER_SIZE;
                        (void) fail(why, why_size, 0, "%s: cannot create: %s; new messages are refused until it "
                                    "can be", s->path, strerror(-r));
                        *out = s;
                        return 0;
                }
                if (r < 0) {
                        (void) fail(why, why_size, r, "%s: cannot create: %s", s->path, strerror(-r));
                        goto fail;
                }
        } else if (read_only_error(s->fd)) {
                /* A read-only state dir: what is stored is still delivered. */
                ro = s->fd;
                s->fd = open_log(s, O_RDONLY);
                s->read_only = s->fd >= 0;
                s->error = ro;
        }
        if (s->fd < 0) {
                r = s->fd;
                (void) fail(why, why_size, r, "%s: cannot open: %s", s->path, strerror(-r));
                goto fail;
        }
        r = read_log(s->fd, OUTBOX_FILE_MAX, &buf, &len, &total);
        if (r < 0) {
                (void) fail(why, why_size, r, "%s: cannot read: %s", s->path, strerror(-r));
                goto fail;
        }
        /* A newer bc26d's log is not damage: leave it for that bc26d. */
        if (len >= OUTBOX_HEADER_SIZE && memcmp(buf, MAGIC, MAGIC_LEN) == 0 &&
            get32(buf + 12) == durable_crc32(buf, 12) && get32(buf + 8) > OUTBOX_LOG_VERSION) {
                r = fail(why, why_size, -EPROTONOSUPPORT, "%s: log version %" PRIu32
                         " is newer than this bc26d's %d; left as it is", s->path, get32(buf + 8),
                         OUTBOX_LOG_VERSION);
                goto fail;
        }

        reason[0] = '\0';
        r = outbox_log_decode(buf, len, &ops, &rp, &good, reason, sizeof(reason));
        if (r == 0 && total == len) {
                s->size = len;
                free(buf);
                if (ro)
                        (void) fail(why, why_size, 0, "%s: opened read-only (%s): its %zu messages are delivered, "
                                    "new messages are refused until it can be written", s->path, strerror(-ro),
                                    outbox_count(o));
                *out = s;
                return 0;
        }
        if (r == -ENOMEM) {
                (void) fail(why, why_size, r, "%s: out of memory replaying it", s->path);
                goto fail;
        }
        if (r == 0)
                (void) snprintf(reason, sizeof(reason), "file larger than %zu bytes",
                                (size_t) OUTBOX_FILE_MAX);
        else if (r != -EBADMSG)
                (void) snprintf(reason, sizeof(reason),
                                "offset %zu: more than %d messages or %" PRIu64 " payload bytes live", good,
                                OUTBOX_MESSAGES_MAX, OUTBOX_BYTES_MAX);
        r = recover(s, buf, len, good, total, reason, rp.records, why, why_size);
        free(buf);
        buf = NULL;
        if (r != -EBADMSG)
                goto fail;
        *out = s;
        return r;

fail:
        free(buf);
        (void) outbox_store_close(s);
        return r;
}

int outbox_store_open(const char *dir, struct outbox *o, char *why, size_t why_size,
                      struct outbox_store **out)
{
        return outbox_store_open_io(dir, o, NULL, why, why_size, out);
}

static int sync_dir(const struct outbox_store *s)
{
        int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (s->io.sync_dir(fd) < 0 && errno != EINVAL)
                r = -errno;
        (void) close(fd);
        return r;
}

/* Make the store writable again: reopen read-write, save a damaged tail aside, cut back a torn
 * append, or rewrite the file from the owner's queue. 0 or negative errno. */
static int heal(struct outbox_store *s)
{
        int r, fd;

        if (s->fd >= 0 && s->read_only) {
                fd = open_log(s, O_RDWR);
                if (fd < 0 && fd != -ENOENT)
                        return fd;
                if (fd >= 0 && same_file(fd, s->fd)) {
                        (void) close(s->fd);
                        s->fd = fd;
                        s->read_only = false;
                } else {
                        /* Replaced or gone meanwhile: write what we hold. */
                        if (fd >= 0)
                                (void) close(fd);
                        s->rewrite = true;
                }
        }
        if (s->aside) {
                r = save_aside(s, NULL, 0);
                if (r < 0)
                        return r;
        }
        if (s->broken && !s->rewrite && s->fd >= 0) {
                if (s->io.truncate(s->fd, (off_t) s->size) == 0 && s->io.sync(s->fd) == 0)
                        s->broken = false;
                else
                        s->rewrite = true;
        }
        if (s->fd < 0 || s->read_only)
                s->rewrite = true;
        return s->rewrite ? outbox_store_compact(s, s->o) : 0;
}

/* Append n bytes as one write at the end of the good log, then fdatasync. */
static int append(struct outbox_store *s, const uint8_t *buf, size_t n, bool message)
{
        size_t done = 0;
        int r = 0;

        if (!message && s->retry_skip > 0)
                s->retry_skip--;
        if (needs_heal(s)) {
                /* An Enqueue always tries; removals once every OUTBOX_RETRY_EVERY on a failing disk. */
                if (!message && s->retry_skip > 0)
                        return s->error < 0 ? s->error : -EIO;
                r = heal(s);
                if (r < 0) {
                        s->error = r;
                        s->retry_skip = OUTBOX_RETRY_EVERY;
                        return r;
                }
        }
        while (done < n) {
                ssize_t w = s->io.pwrite(s->fd, buf + done, n - done, (off_t) (s->size + done));

                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        /* A short write, then this: usually ENOSPC or EFBIG. */
                        r = w < 0 ? -errno : -ENOSPC;
                        break;
                }
                done += (size_t) w;
        }
        if (r == 0 && s->io.sync(s->fd) < 0)
                r = -errno;
        /* A rename not yet durable in the directory: a power cut could bring back the old file. */
        if (r == 0 && s->dir_unsynced) {
                r = sync_dir(s);
                if (r == 0)
                        s->dir_unsynced = false;
        }
        if (r == 0) {
                s->size += n;
                s->error = 0;
                if (message)
                        s->retry_skip = 0;
                return 0;
        }
        /* Nothing half-written stays: a torn record would hide every later one at recovery. */
        if (s->io.truncate(s->fd, (off_t) s->size) < 0) {
                s->broken = true;
                s->retry_skip = OUTBOX_RETRY_EVERY;
        } else {
                (void) s->io.sync(s->fd);
        }
        s->error = r;
        return r;
}

int outbox_store_append_message(struct outbox_store *s, const struct outbox_message *m)
{
        uint8_t buf[OUTBOX_RECORD_MAX];
        int n = outbox_encode_message(m, buf, sizeof(buf));

        return n < 0 ? n : append(s, buf, (size_t) n, true);
}

int outbox_store_append_removal(struct outbox_store *s, uint64_t id)
{
        uint8_t buf[OUTBOX_REMOVAL_RECORD];
        int n = outbox_encode_removal(id, buf, sizeof(buf));

        return n < 0 ? n : append(s, buf, (size_t) n, false);
}

/* The removal that keeps the highest id ever handed out in a compacted log, or 0. */
static uint64_t tombstone(const struct outbox *o)
{
        const struct outbox_message *last = outbox_get(o, outbox_count(o) ? outbox_count(o) - 1 : 0);
        uint64_t highest = outbox_next_id(o) - 1;

        if (highest > OUTBOX_ID_MAX)
                highest = OUTBOX_ID_MAX;        /* next_id saturated at UINT64_MAX */
        return highest > (last ? last->id : 0) ? highest : 0;
}

/* The size of o's compacted log. */
static uint64_t compact_size(const struct outbox *o)
{
        return OUTBOX_HEADER_SIZE + outbox_bytes(o) +
               (uint64_t) outbox_count(o) * (OUTBOX_RECORD_MAX - OUTBOX_PAYLOAD_MAX) +
               (tombstone(o) ? OUTBOX_REMOVAL_RECORD : 0);
}

bool outbox_store_should_compact(const struct outbox_store *s, const struct outbox *o)
{
        uint64_t live = compact_size(o);

        if (s->retry_skip > 0)
                return false;           /* a failing disk: not on every removal */
        if (needs_heal(s))
                return true;
        if (s->size <= live)
                return false;
        return outbox_count(o) == 0 || (s->size - live > live && s->size > OUTBOX_COMPACT_MIN);
}

int outbox_store_compact(struct outbox_store *s, const struct outbox *o)
{
        uint64_t size = compact_size(o), id = tombstone(o);
        size_t used;
        uint8_t *buf;
        int r = 0;

        if (size > SIZE_MAX)
                return -EFBIG;
        /* Never rewrite over damage not yet saved for a human. */
        if (s->aside) {
                r = save_aside(s, NULL, 0);
                if (r < 0)
                        goto failed;
        }
        buf = malloc((size_t) size);
        if (!buf)
                return -ENOMEM;
        used = (size_t) outbox_encode_header(buf, (size_t) size);
        for (size_t i = 0; i < outbox_count(o); i++) {
                r = outbox_encode_message(outbox_get(o, i), buf + used, (size_t) size - used);
                if (r < 0)
                        goto out;
                used += (size_t) r;
        }
        if (id) {
                r = outbox_encode_removal(id, buf + used, (size_t) size - used);
                if (r < 0)
                        goto out;
                used += (size_t) r;
        }
        r = write_log(s, buf, used);
out:
        free(buf);
failed:
        if (r < 0) {
                s->error = r;
                s->retry_skip = OUTBOX_RETRY_EVERY;
        } else {
                s->error = 0;
                s->retry_skip = 0;
        }
        return r;
}

int outbox_store_error(const struct outbox_store *s)
{
        if (!needs_heal(s) && !s->dir_unsynced)
                return 0;
        return s->error < 0 ? s->error : -EIO;
}

const char *outbox_store_path(const struct outbox_store *s)
{
        return s->path;
}

uint64_t outbox_store_size(const struct outbox_store *s)
{
        return s->size;
}

struct outbox_store *outbox_store_close(struct outbox_store *s)
{
        if (!s)
                return NULL;
        if (s->fd >= 0)
                (void) close(s->fd);
        free(s->dir);
        free(s);
        return NULL;
}

void outbox_store_set_io(struct outbox_store *s, const struct outbox_store_io *io)
{
        io_fill(&s->io, io);
}
