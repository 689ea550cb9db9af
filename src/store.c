/* store.c - the persisted DFOTA state: strict text encode/decode (pure) and its file edge over
 * durable.c (temp file, fsync, rename, directory fsync; corrupt files are moved aside, never
 * reused). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "store.h"

#define STORE_MAGIC             "bc26d-fota-state 1"
#define STORE_FILE_MAX          4096    /* a valid file is ~350 bytes; anything bigger is corrupt */
#define STORE_LINE_MAX          128
#define STORE_BOOT_ID_LEN       36
#define STORE_BOOT_ID_PATH      "/proc/sys/kernel/random/boot_id"

enum store_key {
        KEY_PHASE,
        KEY_WINDOW,
        KEY_WINDOW_EXPIRED,
        KEY_DEADLINE,
        KEY_DOWNLOAD_DEADLINE,
        KEY_PROGRESS,
        KEY_PENDING_RESULT,
        KEY_PENDING_CODE,
        KEY_LAST_RESULT,
        KEY_LAST_CODE,
        KEY_BOOT_ID,
        KEY_SAVED_REALTIME,
        _KEY_MAX,
};

static const char *const key_names[_KEY_MAX] = {
        [KEY_PHASE] = "phase",
        [KEY_WINDOW] = "window",
        [KEY_WINDOW_EXPIRED] = "window_expired",
        [KEY_DEADLINE] = "deadline_usec",
        [KEY_DOWNLOAD_DEADLINE] = "download_deadline_usec",
        [KEY_PROGRESS] = "progress",
        [KEY_PENDING_RESULT] = "pending_result",
        [KEY_PENDING_CODE] = "pending_code",
        [KEY_LAST_RESULT] = "last_result",
        [KEY_LAST_CODE] = "last_code",
        [KEY_BOOT_ID] = "boot_id",
        [KEY_SAVED_REALTIME] = "saved_realtime_usec",
};

static bool boot_id_valid(const char *s, size_t len)
{
        /* 8-4-4-4-12 lowercase hex, as the kernel prints it. */
        if (len != STORE_BOOT_ID_LEN)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!durable_is_hex(s[i])) {
                        return false;
                }
        }
        return true;
}

static bool result_valid(enum fota_result r)
{
        return (unsigned) r <= FOTA_RESULT_TIMEOUT;
}

int store_encode(const struct store_record *rec, char *buf, size_t size)
{
        const struct fota_state *st = &rec->st;
        int n;

        /* Refuse to write what store_decode would refuse to read back. */
        if ((unsigned) st->phase >= _FOTA_PHASE_MAX || !result_valid(st->pending_result) ||
            !result_valid(st->last_result) || st->progress > 100 || st->window > 2 ||
            !boot_id_valid(rec->boot_id, strnlen(rec->boot_id, sizeof(rec->boot_id))))
                return -EINVAL;

        n = snprintf(buf, size,
                     STORE_MAGIC "\n"
                     "phase=%s\n"
                     "window=%u\n"
                     "window_expired=%d\n"
                     "deadline_usec=%" PRIu64 "\n"
                     "download_deadline_usec=%" PRIu64 "\n"
                     "progress=%u\n"
                     "pending_result=%s\n"
                     "pending_code=%d\n"
                     "last_result=%s\n"
                     "last_code=%d\n"
                     "boot_id=%s\n"
                     "saved_realtime_usec=%" PRIu64 "\n",
                     fota_phase_to_string(st->phase), st->window, st->window_expired ? 1 : 0,
                     st->deadline_usec, st->download_deadline_usec, st->progress,
                     fota_result_to_string(st->pending_result), st->pending_code,
                     fota_result_to_string(st->last_result), st->last_code,
                     rec->boot_id, rec->saved_realtime_usec);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENOSPC;
        return n;
}

/* One "key=value" pair (value NUL-terminated) into rec; a static reason on error. */
static const char *decode_value(enum store_key k, const char *v, struct store_record *rec)
{
        struct fota_state *st = &rec->st;
        uint64_t u;
        int64_t i;

        switch (k) {
        case KEY_PHASE:
                return fota_phase_from_string(v, &st->phase) < 0 ? "unknown phase" : NULL;
        case KEY_WINDOW:
                if (durable_parse_u64(v, 2, &u) < 0)
                        return "window must be 0, 1 or 2";
                st->window = (unsigned) u;
                return NULL;
        case KEY_WINDOW_EXPIRED:
                if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                        return "window_expired must be 0 or 1";
                st->window_expired = v[0] == '1';
                return NULL;
        case KEY_DEADLINE:
                return durable_parse_u64(v, UINT64_MAX, &st->deadline_usec) < 0 ? "bad number" : NULL;
        case KEY_DOWNLOAD_DEADLINE:
                return durable_parse_u64(v, UINT64_MAX, &st->download_deadline_usec) < 0 ? "bad number" : NULL;
        case KEY_PROGRESS:
                if (durable_parse_u64(v, 100, &u) < 0)
                        return "progress must be 0..100";
                st->progress = (unsigned) u;
                return NULL;
        case KEY_PENDING_RESULT:
                return fota_result_from_string(v, &st->pending_result) < 0 ? "unknown result" : NULL;
        case KEY_PENDING_CODE:
                if (durable_parse_i64(v, INT_MIN, INT_MAX, &i) < 0)
                        return "bad number";
                st->pending_code = (int) i;
                return NULL;
        case KEY_LAST_RESULT:
                return fota_result_from_string(v, &st->last_result) < 0 ? "unknown result" : NULL;
        case KEY_LAST_CODE:
                if (durable_parse_i64(v, INT_MIN, INT_MAX, &i) < 0)
                        return "bad number";
                st->last_code = (int) i;
                return NULL;
        case KEY_BOOT_ID:
                if (!boot_id_valid(v, strlen(v)))
                        return "boot id is not a 36-character uuid";
                memcpy(rec->boot_id, v, STORE_BOOT_ID_LEN + 1);
                return NULL;
        case KEY_SAVED_REALTIME:
                return durable_parse_u64(v, UINT64_MAX, &rec->saved_realtime_usec) < 0 ? "bad number" : NULL;
        case _KEY_MAX:
                break;
        }
        return "unknown key";
}

int store_decode(const char *text, size_t len, struct store_record *rec, char *why, size_t why_size)
{
        bool seen[_KEY_MAX] = { false };
        char line[STORE_LINE_MAX + 1];
        struct durable_text t;
        struct store_record r;
        size_t n;
        int ret;

        memset(&r, 0, sizeof(r));
        ret = durable_text_begin(&t, text, len, STORE_FILE_MAX, why, why_size);
        if (ret < 0)
                return ret;
        while ((ret = durable_text_line(&t, line, sizeof(line), &n, why, why_size)) > 0) {
                char *eq;
                const char *reason;
                unsigned k;

                if (t.lineno == 1) {
                        if (strcmp(line, STORE_MAGIC) != 0)
                                return durable_fail(why, why_size, "line 1: not \"" STORE_MAGIC "\"");
                        continue;
                }
                eq = strchr(line, '=');
                if (!eq)
                        return durable_fail(why, why_size, "line %u: no '=' in \"%.40s\"", t.lineno, line);
                *eq = '\0';
                for (k = 0; k < _KEY_MAX; k++)
                        if (strcmp(line, key_names[k]) == 0)
                                break;
                if (k == _KEY_MAX)
                        return durable_fail(why, why_size, "line %u: unknown key \"%.40s\"", t.lineno, line);
                if (seen[k])
                        return durable_fail(why, why_size, "line %u: duplicate key \"%s\"", t.lineno,
                                            key_names[k]);
                seen[k] = true;
                reason = decode_value((enum store_key) k, eq + 1, &r);
                if (reason)
                        return durable_fail(why, why_size, "line %u: %s \"%.40s\"", t.lineno, reason, eq + 1);
        }
        if (ret < 0)
                return ret;
        for (unsigned k = 0; k < _KEY_MAX; k++)
                if (!seen[k])
                        return durable_fail(why, why_size, "missing key \"%s\"", key_names[k]);

        /* The machine's invariants: an active phase always has a deadline armed, and a download
         * always has its give-up limit (fota.h). */
        if (r.st.phase != FOTA_PHASE_IDLE && r.st.deadline_usec == 0)
                return durable_fail(why, why_size, "phase %s without a deadline", fota_phase_to_string(r.st.phase));
        if (r.st.phase == FOTA_PHASE_DOWNLOADING && r.st.download_deadline_usec == 0)
                return durable_fail(why, why_size, "phase downloading without a download deadline");

        *rec = r;
        return 0;
}

int store_save(const char *dir, const struct store_record *rec)
{
        char buf[STORE_FILE_MAX];
        int n;

        n = store_encode(rec, buf, sizeof(buf));
        if (n < 0)
                return n;
        return durable_write(dir, STORE_FILE_NAME, buf, (size_t) n);
}

static int read_bounded(int fd, char *buf, size_t size, size_t *len)
{
        size_t got = 0;

        *len = 0;
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno > 0 ? -errno : -EIO;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        *len = got;
        return 0;
}

static int decode_cb(void *ctx, const char *text, size_t len, char *why, size_t why_size)
{
        return store_decode(text, len, ctx, why, why_size);
}

int store_load(const char *dir, struct store_record *rec, char *why, size_t why_size)
{
        return durable_load_checked(dir, STORE_FILE_NAME, STORE_FILE_MAX, decode_cb, rec, why, why_size);
}

int store_read_boot_id(char *buf, size_t size)
{
        char tmp[STORE_BOOT_ID_LEN + 2];
        size_t len;
        int fd, r;

        if (size < STORE_BOOT_ID_LEN + 1)
                return -ENOSPC;
        fd = open(STORE_BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = read_bounded(fd, tmp, sizeof(tmp), &len);
        (void) close(fd);
        if (r < 0)
                return r;
        while (len > 0 && (tmp[len - 1] == '\n' || tmp[len - 1] == ' '))
                len--;
        if (!boot_id_valid(tmp, len))
                return -EIO;
        memcpy(buf, tmp, len);
        buf[len] = '\0';
        return 0;
}
