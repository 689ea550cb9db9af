/* durable.c - the durable-file edge shared by the state files (fota.state, history, counters,
 * and later the outbox): atomic durable writes, bounded reads, moving corrupt files aside. It
 * only does file I/O; encoding, decoding and logging belong to the callers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"

#define DURABLE_TMP_SUFFIX      ".tmp"
#define DURABLE_ASIDE_TRIES     100     /* name.corrupt-<s>, then -1..-99: more is a loop, not bad luck */

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

static int fsync_dir(const char *dir)
{
        int fd, r = 0;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        (void) close(fd);
        return r;
}

int durable_write(const char *dir, const char *name, const void *buf, size_t len)
{
        char tmp[PATH_MAX], path[PATH_MAX];
        int fd, r;

        r = join(tmp, sizeof(tmp), dir, name, DURABLE_TMP_SUFFIX);
        if (r < 0)
                return r;
        r = join(path, sizeof(path), dir, name, "");
        if (r < 0)
                return r;

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        r = write_all(fd, buf, len);
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
        return fsync_dir(dir);
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

int durable_move_aside(const char *dir, const char *name, uint64_t realtime_usec, char *newname,
                       size_t size)
{
        char path[PATH_MAX], aside[PATH_MAX], suffix[64];
        int r;

        r = join(path, sizeof(path), dir, name, "");
        if (r < 0)
                return r;
        for (unsigned i = 0;; i++) {
                struct stat st;

                if (i == DURABLE_ASIDE_TRIES)
                        return -EEXIST;
                /* Seconds, as fota.state.corrupt-<s> has always been named. */
                if (i == 0)
                        (void) snprintf(suffix, sizeof(suffix), ".corrupt-%" PRIu64,
                                        realtime_usec / 1000000);
                else
                        (void) snprintf(suffix, sizeof(suffix), ".corrupt-%" PRIu64 "-%u",
                                        realtime_usec / 1000000, i);
                r = join(aside, sizeof(aside), dir, name, suffix);
                if (r < 0)
                        return r;
                /* Never overwrite older evidence (two corrupt files in the same second). */
                if (lstat(aside, &st) < 0)
                        break;          /* ENOENT: free; anything else: rename() will say */
        }
        if (rename(path, aside) < 0)
                return -errno;
        (void) fsync_dir(dir);
        if (newname && size > 0)
                (void) snprintf(newname, size, "%s", aside);
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
