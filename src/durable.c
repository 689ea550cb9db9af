/* durable.c - the durable-file edge shared by the state files (fota.state, history, counters,
 * and later the outbox) and bc26ctl's metrics file: atomic durable writes, bounded reads, the
 * checked load that moves a corrupt file aside; and the pure pieces of the strict text form the
 * state files share. What a file holds, and logging, belong to the callers. */
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

#define DURABLE_TMP_SUFFIX      ".tmp"
#define DURABLE_ASIDE_TRIES     100     /* name.corrupt-<s>, then -1..-99: more is a loop, not bad luck */
#define DURABLE_REASON_MAX      192     /* a decoder's reason, before the file name is added */
#define CRC_HEX_LEN             8

static int join(char *buf, size_t size, const char *dir, const char *name, const char *suffix)
{
        int n = snprintf(buf, size, "%s/%s%s", dir, name, suffix);

        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const char *p, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* sync_dir: the directory's fsync (NULL: fsync), a test seam (durable_write_mode_sync). */
static int fsync_dir_with(const char *dir, int (*sync_dir)(int fd))
{
        int fd, r = 0;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* EINVAL: this file system cannot sync a directory; there is nothing more to do. */
        if ((sync_dir ? sync_dir(fd) : fsync(fd)) < 0 && errno != EINVAL)
                r = -errno;
        (void) close(fd);
        return r;
}

static int fsync_dir(const char *dir)
{
        return fsync_dir_with(dir, NULL);
}

/* exact: mode whatever the umask; else mode minus the umask, as open() gives it. */
static int write_file(const char *dir, const char *name, const void *buf, size_t len, mode_t mode,
                      bool exact, int (*sync_dir)(int fd))
{
        char tmp[PATH_MAX], path[PATH_MAX];
        int fd, r;

        r = join(tmp, sizeof(tmp), dir, name, DURABLE_TMP_SUFFIX);
        if (r < 0)
                return r;
        r = join(path, sizeof(path), dir, name, "");
        if (r < 0)
                return r;

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, buf, len);
        /* Also when an old temp file (a crash) already had other permissions. */
        if (r == 0 && exact && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        /* close() can report a delayed write error (NFS); it counts. */
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        /* Make the rename itself durable: a power cut must not bring back the old file. */
        return fsync_dir_with(dir, sync_dir);
}

int durable_write(const char *dir, const char *name, const void *buf, size_t len)
{
        return write_file(dir, name, buf, len, 0644, false, NULL);
}

int durable_write_mode(const char *dir, const char *name, const void *buf, size_t len, mode_t mode)
{
        return write_file(dir, name, buf, len, mode, true, NULL);
}

int durable_write_mode_sync(const char *dir, const char *name, const void *buf, size_t len, mode_t mode,
                            int (*sync_dir)(int fd))
{
        return write_file(dir, name, buf, len, mode, true, sync_dir);
}

int durable_read(const char *dir, const char *name, size_t max, char **out, size_t *len)
{
        char path[PATH_MAX];
        size_t got = 0;
        char *buf;
        int fd, r;

        if (max >= SIZE_MAX - 1)
                return -EINVAL;
        r = join(path, sizeof(path), dir, name, "");
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* One byte more than max tells "too big" from "exactly full", one more for the NUL. */
        buf = malloc(max + 2);
        if (!buf) {
                (void) close(fd);
                return -ENOMEM;
        }
        while (got < max + 1) {
                ssize_t n = read(fd, buf + got, max + 1 - got);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = errno > 0 ? -errno : -EIO;
                        break;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        (void) close(fd);
        if (r == 0 && got > max)
                r = -EFBIG;
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[got] = '\0';
        *out = buf;
        *len = got;
        return 0;
}

/* A free name dir/name.corrupt-<seconds>[-n] into aside (its path) and suffix (after dir/name). */
static int aside_name(const char *dir, const char *name, uint64_t realtime_usec, char *aside,
                      size_t aside_size, char *suffix, size_t suffix_size)
{
        int r;

        for (unsigned i = 0;; i++) {
                struct stat st;

                if (i == DURABLE_ASIDE_TRIES)
                        return -EEXIST;
                /* Seconds, as fota.state.corrupt-<s> has always been named. */
                if (i == 0)
                        (void) snprintf(suffix, suffix_size, ".corrupt-%" PRIu64,
                                        realtime_usec / 1000000);
                else
                        (void) snprintf(suffix, suffix_size, ".corrupt-%" PRIu64 "-%u",
                                        realtime_usec / 1000000, i);
                r = join(aside, aside_size, dir, name, suffix);
                if (r < 0)
                        return r;
                /* Never overwrite older evidence (two corrupt files in the same second). */
                if (lstat(aside, &st) < 0)
                        return 0;       /* ENOENT: free; anything else: the caller's call will say */
        }
}

int durable_move_aside(const char *dir, const char *name, uint64_t realtime_usec, char *newname,
                       size_t size)
{
        char path[PATH_MAX], aside[PATH_MAX], suffix[64];
        int r;

        r = join(path, sizeof(path), dir, name, "");
        if (r < 0)
                return r;
        r = aside_name(dir, name, realtime_usec, aside, sizeof(aside), suffix, sizeof(suffix));
        if (r < 0)
                return r;
        if (rename(path, aside) < 0)
                return -errno;
        (void) fsync_dir(dir);
        if (newname && size > 0)
                (void) snprintf(newname, size, "%s", aside);
        return 0;
}

int durable_write_aside(const char *dir, const char *name, uint64_t realtime_usec, const void *buf,
                        size_t len, char *newname, size_t size)
{
        char aside[PATH_MAX], suffix[64], base[PATH_MAX];
        int r;

        r = aside_name(dir, name, realtime_usec, aside, sizeof(aside), suffix, sizeof(suffix));
        if (r < 0)
                return r;
        r = snprintf(base, sizeof(base), "%s%s", name, suffix);
        if (r < 0 || (size_t) r >= sizeof(base))
                return -ENAMETOOLONG;
        /* Evidence may hold what a user queued: readable by the owner only. */
        r = write_file(dir, base, buf, len, 0600, true, NULL);
        if (r < 0)
                return r;
        if (newname && size > 0)
                (void) snprintf(newname, size, "%s", aside);
        return 0;
}

int durable_load_checked(const char *dir, const char *name, size_t max, durable_decode_fn decode,
                         void *ctx, char *why, size_t why_size)
{
        char reason[DURABLE_REASON_MAX], aside[PATH_MAX];
        struct timespec ts;
        char *buf = NULL;
        size_t len = 0;
        int r;

        r = durable_read(dir, name, max, &buf, &len);
        if (r == -ENOENT)
                return r;
        if (r == -EFBIG) {
                (void) snprintf(reason, sizeof(reason), "file larger than %zu bytes", max);
        } else if (r < 0) {
                if (why && why_size > 0)
                        (void) snprintf(why, why_size, "%s/%s: cannot read: %s", dir, name,
                                        strerror(-r));
                return r;
        } else {
                reason[0] = '\0';
                r = decode(ctx, buf, len, reason, sizeof(reason));
                free(buf);
                if (r != -EBADMSG)
                        return r;
        }

        /* Keep the evidence for a human, and never trip over the same file again. */
        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                ts.tv_sec = 0;
        r = durable_move_aside(dir, name, (uint64_t) ts.tv_sec * 1000000, aside, sizeof(aside));
        if (r < 0)
                return durable_fail(why, why_size, "%s/%s: %s; could not move it aside: %s", dir, name,
                                    reason, strerror(-r));
        return durable_fail(why, why_size, "%s/%s: %s; moved aside to %s", dir, name, reason, aside);
}

/* ---- the strict text form -------------------------------------------------------------------- */

int durable_fail(char *why, size_t why_size, const char *fmt, ...)
{
        va_list ap;

        if (why && why_size > 0) {
                va_start(ap, fmt);
                (void) vsnprintf(why, why_size, fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

int durable_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
        uint64_t v = 0;

        if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        if (v > max)
                return -ERANGE;
        *out = v;
        return 0;
}

int durable_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
        bool neg = *s == '-';
        uint64_t v, limit;
        int64_t x;
        int r;

        /* The largest magnitude allowed; |min| without overflowing at INT64_MIN. */
        if (neg)
                limit = min < 0 ? (uint64_t) -(min + 1) + 1 : 0;
        else
                limit = max > 0 ? (uint64_t) max : 0;
        r = durable_parse_u64(s + neg, limit, &v);
        if (r < 0)
                return r;
        if (neg && v == 0)
                return -EINVAL;         /* "-0" */
        x = neg ? -(int64_t) (v - 1) - 1 : (int64_t) v;
        if (x < min || x > max)
                return -ERANGE;
        *out = x;
        return 0;
}

bool durable_is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int durable_text_begin(struct durable_text *t, const char *text, size_t len, size_t max, char *why,
                       size_t why_size)
{
        *t = (struct durable_text) { .text = text, .len = len };
        if (len == 0)
                return durable_fail(why, why_size, "empty file");
        if (len > max)
                return durable_fail(why, why_size, "file larger than %zu bytes", max);
        if (memchr(text, '\0', len))
                return durable_fail(why, why_size, "NUL byte in file");
        return 0;
}

int durable_text_line(struct durable_text *t, char *line, size_t size, size_t *n, char *why,
                      size_t why_size)
{
        const char *nl;
        size_t k;

        if (t->pos >= t->len)
                return 0;
        t->lineno++;
        nl = memchr(t->text + t->pos, '\n', t->len - t->pos);
        if (!nl)
                return durable_fail(why, why_size, "line %u: truncated (no newline at end of file)",
                                    t->lineno);
        k = (size_t) (nl - (t->text + t->pos));
        if (size == 0 || k > size - 1)
                return durable_fail(why, why_size, "line %u: longer than %zu characters", t->lineno,
                                    size > 0 ? size - 1 : 0);
        memcpy(line, t->text + t->pos, k);
        line[k] = '\0';
        t->pos += k + 1;
        *n = k;
        return 1;
}

int durable_record_encode(char *buf, size_t size, const char *body, size_t body_len)
{
        int m;

        if (body_len > INT_MAX)
                return -EINVAL;
        m = snprintf(buf, size, "%08" PRIx32 " %.*s\n", durable_crc32(body, body_len),
                     (int) body_len, body);
        if (m < 0)
                return -EINVAL;
        if ((size_t) m >= size)
                return -ENOSPC;
        return m;
}

/* A record line (without '\n', length n): *body points after its checksum, or -EBADMSG. */
static int record_check(char *line, size_t n, unsigned lineno, char **body, char *why,
                        size_t why_size)
{
        uint32_t crc = 0;

        if (n < CRC_HEX_LEN + 1 || line[CRC_HEX_LEN] != ' ')
                return durable_fail(why, why_size, "line %u: no checksum", lineno);
        for (size_t i = 0; i < CRC_HEX_LEN; i++) {
                if (!durable_is_hex(line[i]))
                        return durable_fail(why, why_size, "line %u: no checksum", lineno);
                crc = crc << 4 | (uint32_t) (line[i] <= '9' ? line[i] - '0' : line[i] - 'a' + 10);
        }
        if (durable_crc32(line + CRC_HEX_LEN + 1, n - CRC_HEX_LEN - 1) != crc)
                return durable_fail(why, why_size,
                                    "line %u: checksum mismatch (record damaged or edited)", lineno);
        *body = line + CRC_HEX_LEN + 1;
        return 0;
}

int durable_decode_records(const char *text, size_t len, size_t file_max, const char *magic,
                           size_t count_max, size_t line_max, durable_record_fn record, void *ctx,
                           char *why, size_t why_size)
{
        char line[DURABLE_RECORD_LINE_MAX];
        size_t count = 0, records = 0, n, magic_len = strlen(magic);
        struct durable_text t;
        int r;

        if (line_max > sizeof(line))
                return -EINVAL;
        r = durable_text_begin(&t, text, len, file_max, why, why_size);
        if (r < 0)
                return r;
        while ((r = durable_text_line(&t, line, line_max, &n, why, why_size)) > 0) {
                char *body;

                if (t.lineno == 1) {
                        uint64_t c;

                        if (strncmp(line, magic, magic_len) != 0 || line[magic_len] != ' ' ||
                            durable_parse_u64(line + magic_len + 1, count_max, &c) < 0)
                                return durable_fail(why, why_size,
                                                    "line 1: not \"%s <count>\" with a count of 0..%zu",
                                                    magic, count_max);
                        count = (size_t) c;
                        continue;
                }
                if (records == count)
                        return durable_fail(why, why_size, "line %u: more records than the %zu the header says",
                                            t.lineno, count);
                r = record_check(line, n, t.lineno, &body, why, why_size);
                if (r == 0)
                        r = record(ctx, body, t.lineno, why, why_size);
                if (r < 0)
                        return r;
                records++;
        }
        if (r < 0)
                return r;
        if (records != count)
                return durable_fail(why, why_size, "truncated: %zu of %zu records", records, count);
        return 0;
}

uint32_t durable_crc32(const void *buf, size_t len)
{
        const unsigned char *p = buf;
        uint32_t crc = 0xffffffffu;

        /* Bitwise, no table: records are short and are checked once per load. */
        for (size_t i = 0; i < len; i++) {
                crc ^= p[i];
                for (int k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
        return ~crc;
}
