/* test-history.c - Check suite for the durable-file edge (durable.c), the upgrade history
 * (history.c) and the event counters (counters.c): flows, bounds, round trips, every kind of
 * damage to their files (each truncation, each flipped byte), and the file edges in a temp dir. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "counters.h"
#include "durable.h"
#include "history.h"

/* ---- temp dir helpers ------------------------------------------------------------------------ */

static char tmpdir[64];

static void make_dir(void)
{
        strcpy(tmpdir, "/tmp/test-history-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tree(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[512];
        struct stat st;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                ck_assert_int_eq(lstat(path, &st), 0);
                if (S_ISDIR(st.st_mode))
                        remove_tree(path);
                else
                        ck_assert_int_eq(unlink(path), 0);
        }
        closedir(d);
        ck_assert_int_eq(rmdir(dir), 0);
}

static void remove_dir(void)
{
        (void) chmod(tmpdir, 0700);
        remove_tree(tmpdir);
}

/* Names in tmpdir, sorted, joined with ' ' (e.g. "counters history"). */
static void list_dir(char *buf, size_t size)
{
        struct dirent **names;
        int n = scandir(tmpdir, &names, NULL, alphasort);
        size_t used = 0;

        ck_assert_int_ge(n, 0);
        buf[0] = '\0';
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.')
                        used += (size_t) snprintf(buf + used, size - used, "%s%s", used ? " " : "",
                                                  names[i]->d_name);
                free(names[i]);
        }
        free(names);
}

static void write_file(const char *name, const char *data, size_t len)
{
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
}

/* ---- durable.c ------------------------------------------------------------------------------- */

START_TEST(test_crc32)
{
        /* The check value of CRC-32/ISO-HDLC (zlib's crc32). */
        ck_assert_uint_eq(durable_crc32("123456789", 9), 0xcbf43926u);
        ck_assert_uint_eq(durable_crc32("", 0), 0);
}
END_TEST

START_TEST(test_durable_write_read)
{
        char path[256], names[256];
        struct stat st;
        char *buf = NULL;
        size_t len = 0;

        make_dir();
        (void) umask(022);
        ck_assert_int_eq(durable_read(tmpdir, "f", 100, &buf, &len), -ENOENT);
        ck_assert_int_eq(durable_write(tmpdir, "f", "hello\n", 6), 0);
        ck_assert_int_eq(durable_read(tmpdir, "f", 100, &buf, &len), 0);
        ck_assert_uint_eq(len, 6);
        ck_assert_str_eq(buf, "hello\n");      /* NUL-terminated */
        free(buf);
        snprintf(path, sizeof(path), "%s/f", tmpdir);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0644);

        /* overwrite with something shorter; then the size limits */
        ck_assert_int_eq(durable_write(tmpdir, "f", "bye", 3), 0);
        ck_assert_int_eq(durable_read(tmpdir, "f", 3, &buf, &len), 0);
        ck_assert_str_eq(buf, "bye");
        free(buf);
        buf = NULL;
        ck_assert_int_eq(durable_read(tmpdir, "f", 2, &buf, &len), -EFBIG);
        ck_assert_ptr_null(buf);
        ck_assert_int_eq(durable_write(tmpdir, "empty", "", 0), 0);
        ck_assert_int_eq(durable_read(tmpdir, "empty", 0, &buf, &len), 0);
        ck_assert_uint_eq(len, 0);
        free(buf);
        list_dir(names, sizeof(names));
        ck_assert_str_eq(names, "empty f");     /* no temp file left */
        remove_dir();
}
END_TEST

/* durable_write_mode: exactly the mode asked for whatever the umask (bc26ctl's metrics file under
 * UMask=0077 must stay readable by node-exporter), also over an old temp file; durable_write
 * keeps the umask. */
START_TEST(test_durable_write_mode)
{
        char path[256], names[256];
        struct stat st;
        mode_t old = umask(077);

        make_dir();
        ck_assert_int_eq(durable_write(tmpdir, "state", "x", 1), 0);
        snprintf(path, sizeof(path), "%s/state", tmpdir);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);

        snprintf(path, sizeof(path), "%s/m.prom.tmp", tmpdir);      /* left by a crash */
        ck_assert_int_eq(close(open(path, O_WRONLY | O_CREAT, 0600)), 0);
        ck_assert_int_eq(durable_write_mode(tmpdir, "m.prom", "up 1\n", 5, 0644), 0);
        snprintf(path, sizeof(path), "%s/m.prom", tmpdir);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0644);
        list_dir(names, sizeof(names));
        ck_assert_str_eq(names, "m.prom state");        /* the temp file renamed, none left */
        (void) umask(old);
        remove_dir();
}
END_TEST

/* The shared number parsers of the text form: plain decimal, bounds, "-0" refused. */
START_TEST(test_durable_parse)
{
        uint64_t u = 7;
        int64_t i = 7;

        ck_assert_int_eq(durable_parse_u64("0", 0, &u), 0);
        ck_assert_uint_eq(u, 0);
        ck_assert_int_eq(durable_parse_u64("18446744073709551615", UINT64_MAX, &u), 0);
        ck_assert_uint_eq(u, UINT64_MAX);
        ck_assert_int_eq(durable_parse_u64("18446744073709551616", UINT64_MAX, &u), -ERANGE);
        ck_assert_int_eq(durable_parse_u64("101", 100, &u), -ERANGE);
        ck_assert_int_eq(durable_parse_u64("01", 100, &u), -EINVAL);
        ck_assert_int_eq(durable_parse_u64("", 100, &u), -EINVAL);
        ck_assert_int_eq(durable_parse_u64("+1", 100, &u), -EINVAL);
        ck_assert_int_eq(durable_parse_u64(" 1", 100, &u), -EINVAL);

        ck_assert_int_eq(durable_parse_i64("-2147483648", INT32_MIN, INT32_MAX, &i), 0);
        ck_assert_int_eq(i, INT32_MIN);
        ck_assert_int_eq(durable_parse_i64("2147483647", INT32_MIN, INT32_MAX, &i), 0);
        ck_assert_int_eq(i, INT32_MAX);
        ck_assert_int_eq(durable_parse_i64("-2147483649", INT32_MIN, INT32_MAX, &i), -ERANGE);
        ck_assert_int_eq(durable_parse_i64("2147483648", INT32_MIN, INT32_MAX, &i), -ERANGE);
        ck_assert_int_eq(durable_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &i), 0);
        ck_assert(i == INT64_MIN);
        ck_assert_int_eq(durable_parse_i64("-0", INT32_MIN, INT32_MAX, &i), -EINVAL);
        ck_assert_int_eq(durable_parse_i64("-", INT32_MIN, INT32_MAX, &i), -EINVAL);
        ck_assert_int_eq(durable_parse_i64("--1", INT32_MIN, INT32_MAX, &i), -EINVAL);
        ck_assert_int_eq(durable_parse_i64("-1", 0, 10, &i), -ERANGE);
}
END_TEST

START_TEST(test_durable_write_fails_cleanly)
{
        char path[256], names[256];

        ck_assert_int_eq(durable_write("/nonexistent-bc26d-dir", "f", "x", 1), -ENOENT);

        /* The rename fails (a directory is in the way): the temp file must go. */
        make_dir();
        snprintf(path, sizeof(path), "%s/f", tmpdir);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        snprintf(path, sizeof(path), "%s/f/x", tmpdir);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_lt(durable_write(tmpdir, "f", "x", 1), 0);
        list_dir(names, sizeof(names));
        ck_assert_str_eq(names, "f");

        /* An unwritable directory (root ignores the mode bits, so only as a user). */
        if (geteuid() != 0) {
                ck_assert_int_eq(chmod(tmpdir, 0500), 0);
                ck_assert_int_eq(durable_write(tmpdir, "g", "x", 1), -EACCES);
                ck_assert_int_eq(chmod(tmpdir, 0700), 0);
                list_dir(names, sizeof(names));
                ck_assert_str_eq(names, "f");
        }
        remove_dir();
}
END_TEST

START_TEST(test_durable_move_aside)
{
        char aside[512], want[512], names[256];

        make_dir();
        write_file("h", "1", 1);
        ck_assert_int_eq(durable_move_aside(tmpdir, "h", 1733390000123456ULL, aside, sizeof(aside)), 0);
        snprintf(want, sizeof(want), "%s/h.corrupt-1733390000", tmpdir);
        ck_assert_str_eq(aside, want);
        /* a second one in the same second keeps the first */
        write_file("h", "2", 1);
        ck_assert_int_eq(durable_move_aside(tmpdir, "h", 1733390000999999ULL, aside, sizeof(aside)), 0);
        snprintf(want, sizeof(want), "%s/h.corrupt-1733390000-1", tmpdir);
        ck_assert_str_eq(aside, want);
        list_dir(names, sizeof(names));
        ck_assert_str_eq(names, "h.corrupt-1733390000 h.corrupt-1733390000-1");
        ck_assert_int_eq(durable_move_aside(tmpdir, "h", 0, NULL, 0), -ENOENT);
        remove_dir();
}
END_TEST

/* ---- history: the list ----------------------------------------------------------------------- */

static struct history *new_history(unsigned limit)
{
        struct history *h = NULL;

        ck_assert_int_eq(history_new(limit, &h), 0);
        ck_assert_ptr_nonnull(h);
        return h;
}

START_TEST(test_history_new_limits)
{
        struct history *h = NULL;

        ck_assert_int_eq(history_new(HISTORY_LIMIT_MAX + 1, &h), -EINVAL);
        ck_assert_ptr_null(h);
        h = new_history(HISTORY_LIMIT_MAX);
        ck_assert_uint_eq(history_count(h), 0);
        ck_assert_ptr_null(history_get(h, 0));
        ck_assert_ptr_null(history_running(h));
        ck_assert_ptr_null(history_free(h));
        ck_assert_ptr_null(history_free(NULL));
}
END_TEST

START_TEST(test_history_flow)
{
        struct history *h = new_history(32);
        const struct history_entry *e;

        ck_assert(history_begin(h, 1000, "BC26NBR01A06", false));
        ck_assert_ptr_nonnull(history_running(h));
        ck_assert(history_progress(h, 10));
        ck_assert(!history_progress(h, 10));    /* no change */
        ck_assert(!history_progress(h, 5));     /* only the highest counts */
        ck_assert(history_progress(h, 250));    /* capped */
        ck_assert(history_reset_used(h));
        ck_assert(history_reset_used(h));
        ck_assert(!history_set_revision_after(h, "BC26NBR01A07"));     /* still running */
        ck_assert(history_finish(h, 753001000, "success", 0));
        ck_assert_ptr_null(history_running(h));
        ck_assert(!history_finish(h, 1, "timeout", 0));                /* nothing runs */
        ck_assert(!history_progress(h, 100));
        ck_assert(!history_reset_used(h));
        ck_assert(!history_mark_interrupted(h));
        ck_assert(history_set_revision_after(h, "BC26NBR01A07"));
        ck_assert(!history_set_revision_after(h, "BC26NBR01A08"));     /* only once */

        ck_assert_uint_eq(history_count(h), 1);
        e = history_get(h, 0);
        ck_assert_uint_eq(e->started, 1000);
        ck_assert_uint_eq(e->finished, 753001000);
        ck_assert_str_eq(e->result, "success");
        ck_assert_int_eq(e->code, 0);
        ck_assert_str_eq(e->revision_before, "BC26NBR01A06");
        ck_assert_str_eq(e->revision_after, "BC26NBR01A07");
        ck_assert_uint_eq(e->resets, 2);
        ck_assert_uint_eq(e->max_progress, 100);
        ck_assert(!e->interrupted);
        history_free(h);
}
END_TEST

/* 40 upgrades with limit 32 keep the newest 32, newest first. */
START_TEST(test_history_limit)
{
        struct history *h = new_history(32);

        for (unsigned i = 1; i <= 40; i++) {
                ck_assert(history_begin(h, i * 1000000ULL, "BC26NBR01A06", false));
                ck_assert(history_finish(h, i * 1000000ULL + 500, i % 2 ? "success" : "timeout",
                                         (int32_t) i));
        }
        ck_assert_uint_eq(history_count(h), 32);
        for (size_t i = 0; i < 32; i++) {
                const struct history_entry *e = history_get(h, i);

                ck_assert_uint_eq(e->started, (40 - i) * 1000000ULL);
                ck_assert_int_eq(e->code, (int32_t) (40 - i));
        }
        ck_assert_ptr_null(history_get(h, 32));
        history_free(h);
}
END_TEST

START_TEST(test_history_limit_zero)
{
        struct history *h = new_history(0);
        char buf[64];

        ck_assert(!history_begin(h, 1, "A", false));
        ck_assert(!history_progress(h, 5));
        ck_assert(!history_finish(h, 2, "success", 0));
        ck_assert_uint_eq(history_count(h), 0);
        ck_assert_int_eq(history_encode(h, buf, sizeof(buf)), (int) strlen("bc26d-history 1 0\n"));
        ck_assert_str_eq(buf, "bc26d-history 1 0\n");
        history_free(h);
}
END_TEST

/* A restart during an upgrade: the entry is resumed and marked, never doubled. */
START_TEST(test_history_interrupted)
{
        struct history *h = new_history(4), *after = new_history(4);
        char buf[4096];
        int n;

        ck_assert(history_begin(h, 100, "BC26NBR01A06", false));
        ck_assert(history_progress(h, 40));
        n = history_encode(h, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);

        /* the new process */
        ck_assert_int_eq(history_decode(after, buf, (size_t) n, NULL, 0), 0);
        ck_assert_ptr_nonnull(history_running(after));
        ck_assert(history_mark_interrupted(after));
        ck_assert(!history_mark_interrupted(after));
        ck_assert(!history_begin(after, 200, "BC26NBR01A06", true));   /* same upgrade */
        ck_assert(history_progress(after, 90));
        ck_assert(history_finish(after, 300, "update-failed", 2));
        ck_assert_uint_eq(history_count(after), 1);
        ck_assert_uint_eq(history_get(after, 0)->started, 100);
        ck_assert(history_get(after, 0)->interrupted);
        ck_assert_uint_eq(history_get(after, 0)->max_progress, 90);
        ck_assert_str_eq(history_get(after, 0)->result, "update-failed");

        /* resumed with no entry (the file was lost): one new entry, interrupted */
        history_free(h);
        h = new_history(4);
        ck_assert(history_begin(h, 500, NULL, true));
        ck_assert_uint_eq(history_count(h), 1);
        ck_assert(history_get(h, 0)->interrupted);
        ck_assert_str_eq(history_get(h, 0)->revision_before, "");
        /* and the resume fills the revision once it is known */
        ck_assert(history_begin(h, 600, "BC26NBR01A06", true));
        ck_assert_str_eq(history_get(h, 0)->revision_before, "BC26NBR01A06");
        ck_assert_uint_eq(history_count(h), 1);
        history_free(h);
        history_free(after);
}
END_TEST

/* A begin while one still runs, not as a resume: the old one ended unseen. */
START_TEST(test_history_begin_over_running)
{
        struct history *h = new_history(4);

        ck_assert(history_begin(h, 100, "A", false));
        ck_assert(history_begin(h, 900, "B", false));
        ck_assert_uint_eq(history_count(h), 2);
        ck_assert_uint_eq(history_get(h, 1)->finished, 900);
        ck_assert_str_eq(history_get(h, 1)->result, "unknown");
        ck_assert_uint_eq(history_get(h, 0)->finished, 0);
        ck_assert_str_eq(history_get(h, 0)->revision_before, "B");
        history_free(h);
}
END_TEST

static const struct {
        const char *in, *kept;
} revisions[] = {
        { "BC26NBR01A06", "BC26NBR01A06" },
        { "Revision:BC26", "Revision:BC26" },
        { "BC26 NBR01A06", "" },        /* space */
        { "BC26\tA06", "" },
        { "BC26\xc3\xa9", "" },         /* not ASCII */
        { "", "" },
        { "123456789012345678901234567890123456789012345678901234567890123",
          "123456789012345678901234567890123456789012345678901234567890123" },      /* 63 */
        { "1234567890123456789012345678901234567890123456789012345678901234", "" }, /* 64 */
};

START_TEST(test_history_revision_strict)
{
        struct history *h = new_history(2);
        char buf[2048];
        int n;

        history_begin(h, 1, revisions[_i].in, false);
        ck_assert_str_eq(history_get(h, 0)->revision_before, revisions[_i].kept);
        ck_assert(history_finish(h, 2, "success", 0));
        ck_assert_int_eq(history_set_revision_after(h, revisions[_i].in), revisions[_i].kept[0] != '\0');
        ck_assert_str_eq(history_get(h, 0)->revision_after, revisions[_i].kept);
        n = history_encode(h, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(history_decode(h, buf, (size_t) n, NULL, 0), 0);
        ck_assert_str_eq(history_get(h, 0)->revision_before, revisions[_i].kept);
        history_free(h);
}
END_TEST

START_TEST(test_history_result_strict)
{
        struct history *h = new_history(4);

        ck_assert(history_begin(h, 1, "A", false));
        ck_assert(history_finish(h, 0, "Success!", -1));
        ck_assert_str_eq(history_get(h, 0)->result, "unknown");
        ck_assert_uint_eq(history_get(h, 0)->finished, 1);      /* never 0 once finished */
        ck_assert(history_begin(h, 0, "A", false));
        ck_assert(history_finish(h, 0, NULL, 0));
        ck_assert_str_eq(history_get(h, 0)->result, "unknown");
        ck_assert_uint_eq(history_get(h, 0)->finished, 1);
        history_free(h);
}
END_TEST

/* ---- history: text form ---------------------------------------------------------------------- */

/* Three entries: two finished (extreme values), the newest still running. */
static struct history *sample_history(unsigned limit)
{
        struct history *h = new_history(limit);

        ck_assert(history_begin(h, UINT64_MAX - 1, "BC26NBR01A05", false));
        history_progress(h, 100);
        history_finish(h, UINT64_MAX, "download-failed", INT32_MIN);
        history_begin(h, 1733390000000000ULL, "BC26NBR01A06", false);
        history_reset_used(h);
        history_mark_interrupted(h);
        history_finish(h, 1733390751000000ULL, "success", INT32_MAX);
        history_set_revision_after(h, "BC26NBR01A07");
        history_begin(h, 1733400000000000ULL, "BC26NBR01A07", false);
        history_progress(h, 37);
        return h;
}

static void assert_entry_eq(const struct history_entry *a, const struct history_entry *b)
{
        ck_assert_uint_eq(a->started, b->started);
        ck_assert_uint_eq(a->finished, b->finished);
        ck_assert_str_eq(a->result, b->result);
        ck_assert_int_eq(a->code, b->code);
        ck_assert_str_eq(a->revision_before, b->revision_before);
        ck_assert_str_eq(a->revision_after, b->revision_after);
        ck_assert_uint_eq(a->resets, b->resets);
        ck_assert_uint_eq(a->max_progress, b->max_progress);
        ck_assert_int_eq(a->interrupted, b->interrupted);
}

static char *encode_alloc(const struct history *h, int *n)
{
        char *buf = malloc(HISTORY_FILE_MAX);

        ck_assert_ptr_nonnull(buf);
        *n = history_encode(h, buf, HISTORY_FILE_MAX);
        ck_assert_int_gt(*n, 0);
        return buf;
}

START_TEST(test_history_round_trip)
{
        struct history *a = sample_history(8), *b = new_history(8);
        char why[256] = "";
        int n;
        char *buf = encode_alloc(a, &n);

        ck_assert_int_eq(history_decode(b, buf, (size_t) n, why, sizeof(why)), 0);
        ck_assert_str_eq(why, "");
        ck_assert_uint_eq(history_count(b), 3);
        for (size_t i = 0; i < 3; i++)
                assert_entry_eq(history_get(a, i), history_get(b, i));
        ck_assert_ptr_nonnull(history_running(b));
        /* exactly what it writes, oldest first */
        ck_assert(strncmp(buf, "bc26d-history 1 3\n", 18) == 0);
        ck_assert_ptr_nonnull(strstr(buf, " started=18446744073709551614 finished=18446744073709551615 "
                                          "result=download-failed code=-2147483648 "
                                          "revision_before=BC26NBR01A05 revision_after= resets=0 "
                                          "max_progress=100 interrupted=0\n"));
        ck_assert_ptr_nonnull(strstr(buf, " started=1733400000000000 finished=0 result= code=0 "
                                          "revision_before=BC26NBR01A07 revision_after= resets=0 "
                                          "max_progress=37 interrupted=0\n"));
        /* too small a buffer */
        ck_assert_int_eq(history_encode(a, buf, (size_t) n), -ENOSPC);
        free(buf);
        history_free(a);
        history_free(b);
}
END_TEST

/* A restart with a smaller limit keeps the newest. */
START_TEST(test_history_limit_change_trims)
{
        struct history *big = new_history(32), *small = new_history(8);
        int n;
        char *buf;

        for (unsigned i = 1; i <= 32; i++) {
                history_begin(big, i, "A", false);
                history_finish(big, i + 1, "success", 0);
        }
        buf = encode_alloc(big, &n);
        ck_assert_int_eq(history_decode(small, buf, (size_t) n, NULL, 0), 0);
        ck_assert_uint_eq(history_count(small), 8);
        for (size_t i = 0; i < 8; i++)
                ck_assert_uint_eq(history_get(small, i)->started, 32 - i);
        free(buf);
        history_free(big);
        history_free(small);
}
END_TEST

START_TEST(test_history_encode_refuses_invalid)
{
        struct history *h = new_history(4);
        struct history_entry *run;
        char buf[4096];

        history_begin(h, 1, "A", false);
        run = history_running(h);
        run->max_progress = 101;
        ck_assert_int_eq(history_encode(h, buf, sizeof(buf)), -EINVAL);
        run->max_progress = 0;
        strcpy(run->result, "x");       /* running with a result */
        ck_assert_int_eq(history_encode(h, buf, sizeof(buf)), -EINVAL);
        run->result[0] = '\0';
        strcpy(run->revision_after, "a b");
        ck_assert_int_eq(history_encode(h, buf, sizeof(buf)), -EINVAL);
        history_free(h);
}
END_TEST

/* Every truncation of a valid file is refused (never a shorter, "valid" history). */
START_TEST(test_history_every_truncation)
{
        struct history *a = sample_history(8), *b = new_history(8);
        char why[256];
        int n;
        char *buf = encode_alloc(a, &n);

        for (int cut = 0; cut < n; cut++) {
                char *copy = malloc((size_t) cut + 1);

                memcpy(copy, buf, (size_t) cut);
                why[0] = '\0';
                ck_assert_msg(history_decode(b, copy, (size_t) cut, why, sizeof(why)) == -EBADMSG,
                              "truncated at %d accepted", cut);
                ck_assert_msg(why[0] != '\0', "no reason at %d", cut);
                ck_assert_uint_eq(history_count(b), 0);
                free(copy);
        }
        free(buf);
        history_free(a);
        history_free(b);
}
END_TEST

/* Every single flipped bit, anywhere, is refused: the checksums and the count cover it all. */
START_TEST(test_history_every_flip)
{
        struct history *a = sample_history(8), *b = new_history(8);
        int n;
        char *buf = encode_alloc(a, &n);

        for (int i = 0; i < n; i++)
                for (int bit = 0; bit < 8; bit++) {
                        buf[i] ^= (char) (1 << bit);
                        ck_assert_msg(history_decode(b, buf, (size_t) n, NULL, 0) == -EBADMSG,
                                      "byte %d bit %d flipped accepted", i, bit);
                        ck_assert_uint_eq(history_count(b), 0);
                        buf[i] ^= (char) (1 << bit);
                }
        ck_assert_int_eq(history_decode(b, buf, (size_t) n, NULL, 0), 0);
        free(buf);
        history_free(a);
        history_free(b);
}
END_TEST

/* Random damage (deterministic): cuts, inserted and deleted bytes, spliced records. Decoding
 * must never crash, and must either refuse or give a history within its bounds. */
START_TEST(test_history_random_damage)
{
        struct history *a = sample_history(8), *b = new_history(2);
        uint32_t seed = 12345;
        int n;
        char *good = encode_alloc(a, &n);
        char *buf = malloc((size_t) n * 2 + 16);

        for (int round = 0; round < 5000; round++) {
                size_t len = (size_t) n;
                int r;

                memcpy(buf, good, len);
                for (int k = 0; k < 1 + round % 4; k++) {
                        size_t at;

                        seed = seed * 1103515245u + 12345u;
                        at = (seed >> 8) % len;
                        switch ((seed >> 4) % 4) {
                        case 0:         /* overwrite */
                                buf[at] = (char) (seed >> 16);
                                break;
                        case 1:         /* delete */
                                memmove(buf + at, buf + at + 1, len - at - 1);
                                len--;
                                break;
                        case 2:         /* insert */
                                memmove(buf + at + 1, buf + at, len - at);
                                buf[at] = (char) (seed >> 16);
                                len++;
                                break;
                        default:        /* duplicate the tail of the file from at */
                                if (len + (len - at) < (size_t) n * 2) {
                                        memcpy(buf + len, buf + at, len - at);
                                        len += len - at;
                                }
                                break;
                        }
                        if (len < 2)
                                break;
                }
                r = history_decode(b, buf, len, NULL, 0);
                ck_assert(r == 0 || r == -EBADMSG);
                ck_assert_uint_le(history_count(b), 2);
        }
        free(buf);
        free(good);
        history_free(a);
        history_free(b);
}
END_TEST

/* A record with a correct checksum: what the encoder would write for body. */
static void record(char *buf, size_t size, const char *body)
{
        snprintf(buf, size, "%08" PRIx32 " %s\n", durable_crc32(body, strlen(body)), body);
}

/* header, then up to three bodies as records with correct checksums: the text's length. */
static size_t records_text(char *text, size_t size, const char *header, const char *const bodies[3])
{
        size_t used = (size_t) snprintf(text, size, "%s\n", header);

        for (size_t k = 0; k < 3 && bodies[k]; k++) {
                record(text + used, size - used, bodies[k]);
                used += strlen(text + used);
        }
        return used;
}

#define OK_BODY "started=1 finished=2 result=success code=0 revision_before=A revision_after=B " \
        "resets=0 max_progress=5 interrupted=0"
#define RUN_BODY "started=3 finished=0 result= code=0 revision_before= revision_after= " \
        "resets=0 max_progress=0 interrupted=1"

static const struct {
        const char *header;
        const char *bodies[3];
        const char *why;                /* NULL: accepted */
} history_texts[] = {
        { "bc26d-history 1 1", { OK_BODY }, NULL },
        { "bc26d-history 1 2", { OK_BODY, RUN_BODY }, NULL },
        { "bc26d-history 1 0", { NULL }, NULL },
        /* a key a newer bc26d adds is skipped */
        { "bc26d-history 1 1", { OK_BODY " signal=-80" }, NULL },
        { "bc26d-history 2 1", { OK_BODY }, "line 1: not \"bc26d-history 1 <count>\"" },
        { "bc26d-history 1 1025", { NULL }, "line 1: not" },
        { "bc26d-history 1 01", { OK_BODY }, "line 1: not" },
        { "bc26d-history 1 2", { OK_BODY }, "truncated: 1 of 2 records" },
        { "bc26d-history 1 1", { OK_BODY, OK_BODY }, "line 3: more records than the 1" },
        { "bc26d-history 1 2", { RUN_BODY, OK_BODY }, "line 3: follows a running upgrade" },
        { "bc26d-history 1 1", { "started=1 finished=2 result=success code=0 revision_before=A "
                                 "revision_after=B resets=0 interrupted=0" },
          "line 2: missing key \"max_progress\"" },
        { "bc26d-history 1 1", { OK_BODY " code=1" }, "line 2: duplicate key \"code\"" },
        { "bc26d-history 1 1", { "started=1 finished=2 result=success code=0 revision_before=A "
                                 "revision_after=B resets=0 max_progress=101 interrupted=0" },
          "line 2: max_progress: max_progress must be 0..100 \"101\"" },
        { "bc26d-history 1 1", { "started=01 finished=2 result=success code=0 revision_before=A "
                                 "revision_after=B resets=0 max_progress=1 interrupted=0" },
          "line 2: started: bad number \"01\"" },
        { "bc26d-history 1 1", { "started=1 finished=2 result=success code=-0 revision_before=A "
                                 "revision_after=B resets=0 max_progress=1 interrupted=0" },
          "line 2: code: bad number \"-0\"" },
        { "bc26d-history 1 1", { "started=1 finished=2 result=success code=2147483648 "
                                 "revision_before=A revision_after=B resets=0 max_progress=1 "
                                 "interrupted=0" },
          "line 2: code: bad number" },
        { "bc26d-history 1 1", { "started=1 finished=2 result=success code=0 revision_before=A "
                                 "revision_after=B resets=4294967296 max_progress=1 interrupted=0" },
          "line 2: resets: bad number" },
        { "bc26d-history 1 1", { "started=1 finished=2 result=Success code=0 revision_before=A "
                                 "revision_after=B resets=0 max_progress=1 interrupted=0" },
          "line 2: result: bad result" },
        { "bc26d-history 1 1", { "started=1 finished=2 result= code=0 revision_before=A "
                                 "revision_after=B resets=0 max_progress=1 interrupted=0" },
          "line 2: a finished upgrade without a result" },
        { "bc26d-history 1 1", { "started=1 finished=0 result=success code=0 revision_before=A "
                                 "revision_after=B resets=0 max_progress=1 interrupted=0" },
          "line 2: a running upgrade with a result" },
        { "bc26d-history 1 1", { "started=1 finished=2 result=success code=0 revision_before=A\x7f "
                                 "revision_after=B resets=0 max_progress=1 interrupted=0" },
          "line 2: revision_before: bad revision" },
        { "bc26d-history 1 1", { "started=1 finished=2 result=success code=0 revision_before=A "
                                 "revision_after=B resets=0 max_progress=1 interrupted=2" },
          "line 2: interrupted: interrupted must be 0 or 1" },
        { "bc26d-history 1 1", { OK_BODY " " }, "line 2: expected key=value" },
        { "bc26d-history 1 1", { "started=1  finished=2" }, "line 2: expected key=value" },
        { "bc26d-history 1 1", { "=1" }, "line 2: expected key=value" },
};

START_TEST(test_history_texts)
{
        struct history *h = new_history(8);
        char text[4096], why[256] = "";
        size_t used;
        int r;

        used = records_text(text, sizeof(text), history_texts[_i].header, history_texts[_i].bodies);
        r = history_decode(h, text, used, why, sizeof(why));
        if (!history_texts[_i].why) {
                ck_assert_msg(r == 0, "refused: %s", why);
        } else {
                ck_assert_int_eq(r, -EBADMSG);
                ck_assert_msg(strncmp(why, history_texts[_i].why, strlen(history_texts[_i].why)) == 0,
                              "why: %s", why);
                ck_assert_uint_eq(history_count(h), 0);
        }
        history_free(h);
}
END_TEST

START_TEST(test_history_bad_bytes)
{
        struct history *h = new_history(8);
        char why[256] = "", line[600];

        ck_assert_int_eq(history_decode(h, "", 0, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "empty file");
        ck_assert_int_eq(history_decode(h, "bc26d-history 1 0\n\0", 19, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "NUL byte in file");
        ck_assert_int_eq(history_decode(h, "bc26d-history 1 1\n12345678 x\n", 29, why, sizeof(why)),
                         -EBADMSG);
        ck_assert_str_eq(why, "line 2: checksum mismatch (record damaged or edited)");
        ck_assert_int_eq(history_decode(h, "bc26d-history 1 1\nzz\n", 21, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "line 2: no checksum");
        memset(line, 'a', sizeof(line));
        memcpy(line, "bc26d-history 1 1\n", 18);
        line[sizeof(line) - 1] = '\n';
        ck_assert_int_eq(history_decode(h, line, sizeof(line), why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "line 2: longer than 383 characters");
        history_free(h);
}
END_TEST

/* ---- history: the file ----------------------------------------------------------------------- */

START_TEST(test_history_save_load)
{
        struct history *a = sample_history(8), *b = new_history(8);
        char why[512] = "", names[256];

        make_dir();
        ck_assert_int_eq(history_load(b, tmpdir, why, sizeof(why)), 0);        /* none yet */
        ck_assert_uint_eq(history_count(b), 0);
        ck_assert_int_eq(history_save(a, tmpdir), 0);
        ck_assert_int_eq(history_load(b, tmpdir, why, sizeof(why)), 0);
        ck_assert_uint_eq(history_count(b), 3);
        for (size_t i = 0; i < 3; i++)
                assert_entry_eq(history_get(a, i), history_get(b, i));
        list_dir(names, sizeof(names));
        ck_assert_str_eq(names, "history");
        ck_assert_int_eq(history_save(a, "/nonexistent-bc26d-dir"), -ENOENT);
        remove_dir();
        history_free(a);
        history_free(b);
}
END_TEST

START_TEST(test_history_load_corrupt)
{
        struct history *a = sample_history(8), *b = new_history(8);
        char why[512] = "", names[256], *p;
        int n;
        char *buf = encode_alloc(a, &n);

        make_dir();
        buf[n - 3] ^= 1;        /* damage the newest record */
        write_file(HISTORY_FILE_NAME, buf, (size_t) n);
        ck_assert_int_eq(history_load(b, tmpdir, why, sizeof(why)), -EBADMSG);
        ck_assert_uint_eq(history_count(b), 0);
        ck_assert_msg(strstr(why, "line 4: checksum mismatch") != NULL, "why: %s", why);
        p = strstr(why, "moved aside to ");
        ck_assert_msg(p != NULL, "why: %s", why);
        ck_assert_int_eq(access(p + strlen("moved aside to "), F_OK), 0);
        list_dir(names, sizeof(names));
        ck_assert_msg(strncmp(names, "history.corrupt-", 16) == 0 && !strchr(names, ' '),
                      "names: %s", names);
        /* the daemon starts again from an empty history, which it can save */
        ck_assert_int_eq(history_load(b, tmpdir, why, sizeof(why)), 0);
        ck_assert_int_eq(history_save(b, tmpdir), 0);

        /* too big */
        remove_dir();
        make_dir();
        buf = realloc(buf, HISTORY_FILE_MAX + 10);
        memset(buf, '#', HISTORY_FILE_MAX + 10);
        write_file(HISTORY_FILE_NAME, buf, HISTORY_FILE_MAX + 10);
        ck_assert_int_eq(history_load(b, tmpdir, why, sizeof(why)), -EBADMSG);
        ck_assert_msg(strstr(why, "file larger than") != NULL, "why: %s", why);
        remove_dir();
        free(buf);
        history_free(a);
        history_free(b);
}
END_TEST

/* ---- counters -------------------------------------------------------------------------------- */

static const char *const contract_names[_COUNTER_MAX] = {
        "upgrades.success", "upgrades.download-failed", "upgrades.update-failed",
        "upgrades.timeout", "upgrades.unknown", "module_reboots.at-reset",
        "module_reboots.gpio-reset", "module_reboots.pwrkey", "module_reboots.upgrade",
        "module_reboots.unexpected", "send.ok", "send.failed", "send.refused",
};

START_TEST(test_counter_names)
{
        for (unsigned i = 0; i < _COUNTER_MAX; i++)
                ck_assert_str_eq(counter_name((enum counter_id) i), contract_names[i]);
        ck_assert_ptr_null(counter_name(_COUNTER_MAX));
}
END_TEST

static const struct {
        int (*fn)(const char *);
        const char *in;
        int out;
} mappings[] = {
        { counter_from_upgrade_result, "success", COUNTER_UPGRADES_SUCCESS },
        { counter_from_upgrade_result, "download-failed", COUNTER_UPGRADES_DOWNLOAD_FAILED },
        { counter_from_upgrade_result, "update-failed", COUNTER_UPGRADES_UPDATE_FAILED },
        { counter_from_upgrade_result, "timeout", COUNTER_UPGRADES_TIMEOUT },
        { counter_from_upgrade_result, "unknown", COUNTER_UPGRADES_UNKNOWN },
        { counter_from_upgrade_result, "none", -EINVAL },
        { counter_from_upgrade_result, "", -EINVAL },
        { counter_from_upgrade_result, NULL, -EINVAL },
        { counter_from_upgrade_result, "upgrades.success", -EINVAL },
        { counter_from_upgrade_result, "at-reset", -EINVAL },
        { counter_from_reboot_cause, "at-reset", COUNTER_REBOOTS_AT_RESET },
        { counter_from_reboot_cause, "gpio-reset", COUNTER_REBOOTS_GPIO_RESET },
        { counter_from_reboot_cause, "pwrkey", COUNTER_REBOOTS_PWRKEY },
        { counter_from_reboot_cause, "upgrade", COUNTER_REBOOTS_UPGRADE },
        { counter_from_reboot_cause, "unexpected", COUNTER_REBOOTS_UNEXPECTED },
        { counter_from_reboot_cause, "success", -EINVAL },
        { counter_from_reboot_cause, "invalid", -EINVAL },
        { counter_from_reboot_cause, "ok", -EINVAL },
};

START_TEST(test_counter_mappings)
{
        ck_assert_int_eq(mappings[_i].fn(mappings[_i].in), mappings[_i].out);
}
END_TEST

static struct counters sample_counters(void)
{
        struct counters c;

        for (unsigned i = 0; i < _COUNTER_MAX; i++)
                c.v[i] = i * 7;
        c.v[COUNTER_SEND_OK] = UINT64_MAX;
        return c;
}

START_TEST(test_counters_round_trip)
{
        struct counters a = sample_counters(), b;
        char buf[4096], why[256] = "";
        int n;

        n = counters_encode(&a, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        ck_assert(strncmp(buf, "bc26d-counters 1 13\n", 20) == 0);
        ck_assert_ptr_nonnull(strstr(buf, " send.ok=18446744073709551615\n"));
        ck_assert_ptr_nonnull(strstr(buf, " upgrades.success=0\n"));
        ck_assert_int_eq(counters_decode(&b, buf, (size_t) n, why, sizeof(why)), 0);
        ck_assert_mem_eq(a.v, b.v, sizeof(a.v));
        ck_assert_int_eq(counters_encode(&a, buf, (size_t) n), -ENOSPC);
}
END_TEST

static const struct {
        const char *header;
        const char *bodies[3];
        const char *why;                /* NULL: accepted */
        uint64_t success, ok;           /* when accepted */
} counter_texts[] = {
        { "bc26d-counters 1 2", { "upgrades.success=3", "send.ok=9" }, NULL, 3, 9 },
        /* names this version does not know are skipped; missing names are 0 */
        { "bc26d-counters 1 2", { "send.retried=4", "upgrades.success=1" }, NULL, 1, 0 },
        { "bc26d-counters 1 0", { NULL }, NULL, 0, 0 },
        { "bc26d-counters 1 2", { "send.ok=1", "send.ok=2" }, "line 3: duplicate counter \"send.ok\"" },
        { "bc26d-counters 1 1", { "send.ok=-1" }, "line 2: send.ok: bad number \"-1\"" },
        { "bc26d-counters 1 1", { "send.ok=18446744073709551616" }, "line 2: send.ok: bad number" },
        { "bc26d-counters 1 1", { "Send.ok=1" }, "line 2: bad counter name \"Send.ok\"" },
        { "bc26d-counters 1 1", { "send.ok" }, "line 2: expected name=value" },
        { "bc26d-counters 1 3", { "send.ok=1" }, "truncated: 1 of 3 records" },
        { "bc26d-counters 1 0", { "send.ok=1" }, "line 2: more records than the 0" },
        { "bc26d-counters 2 1", { "send.ok=1" }, "line 1: not" },
        { "bc26d-counters 1 257", { NULL }, "line 1: not" },
};

START_TEST(test_counters_texts)
{
        struct counters c;
        char text[2048], why[256] = "";
        size_t used;
        int r;

        used = records_text(text, sizeof(text), counter_texts[_i].header, counter_texts[_i].bodies);
        r = counters_decode(&c, text, used, why, sizeof(why));
        if (!counter_texts[_i].why) {
                ck_assert_msg(r == 0, "refused: %s", why);
                ck_assert_uint_eq(c.v[COUNTER_UPGRADES_SUCCESS], counter_texts[_i].success);
                ck_assert_uint_eq(c.v[COUNTER_SEND_OK], counter_texts[_i].ok);
                ck_assert_uint_eq(c.v[COUNTER_SEND_FAILED], 0);
        } else {
                ck_assert_int_eq(r, -EBADMSG);
                ck_assert_msg(strncmp(why, counter_texts[_i].why, strlen(counter_texts[_i].why)) == 0,
                              "why: %s", why);
                for (unsigned i = 0; i < _COUNTER_MAX; i++)
                        ck_assert_uint_eq(c.v[i], 0);
        }
}
END_TEST

START_TEST(test_counters_every_truncation_and_flip)
{
        struct counters a = sample_counters(), b;
        char buf[4096];
        int n = counters_encode(&a, buf, sizeof(buf));

        ck_assert_int_gt(n, 0);
        for (int cut = 0; cut < n; cut++)
                ck_assert_msg(counters_decode(&b, buf, (size_t) cut, NULL, 0) == -EBADMSG,
                              "truncated at %d accepted", cut);
        for (int i = 0; i < n; i++)
                for (int bit = 0; bit < 8; bit++) {
                        buf[i] ^= (char) (1 << bit);
                        ck_assert_msg(counters_decode(&b, buf, (size_t) n, NULL, 0) == -EBADMSG,
                                      "byte %d bit %d flipped accepted", i, bit);
                        buf[i] ^= (char) (1 << bit);
                }
        ck_assert_int_eq(counters_decode(&b, buf, (size_t) n, NULL, 0), 0);
}
END_TEST

START_TEST(test_counters_save_load)
{
        struct counters a = sample_counters(), b;
        char why[512] = "", names[256];

        make_dir();
        ck_assert_int_eq(counters_load(&b, tmpdir, why, sizeof(why)), 0);
        for (unsigned i = 0; i < _COUNTER_MAX; i++)
                ck_assert_uint_eq(b.v[i], 0);
        ck_assert_int_eq(counters_save(&a, tmpdir), 0);
        ck_assert_int_eq(counters_load(&b, tmpdir, why, sizeof(why)), 0);
        ck_assert_mem_eq(a.v, b.v, sizeof(a.v));

        write_file(COUNTERS_FILE_NAME, "bc26d-counters 1 1\n", 19);
        ck_assert_int_eq(counters_load(&b, tmpdir, why, sizeof(why)), -EBADMSG);
        ck_assert_msg(strstr(why, "truncated: 0 of 1 records; moved aside to ") != NULL, "why: %s", why);
        for (unsigned i = 0; i < _COUNTER_MAX; i++)
                ck_assert_uint_eq(b.v[i], 0);
        list_dir(names, sizeof(names));
        ck_assert_msg(strncmp(names, "counters.corrupt-", 17) == 0 && !strchr(names, ' '),
                      "names: %s", names);
        ck_assert_int_eq(counters_save(&a, "/nonexistent-bc26d-dir"), -ENOENT);
        remove_dir();
}
END_TEST

#define N(t) ((int) (sizeof(t) / sizeof((t)[0])))

static Suite *history_suite(void)
{
        Suite *s = suite_create("history");
        TCase *tc = tcase_create("durable");

        tcase_add_test(tc, test_crc32);
        tcase_add_test(tc, test_durable_write_read);
        tcase_add_test(tc, test_durable_write_fails_cleanly);
        tcase_add_test(tc, test_durable_write_mode);
        tcase_add_test(tc, test_durable_parse);
        tcase_add_test(tc, test_durable_move_aside);
        suite_add_tcase(s, tc);

        tc = tcase_create("history");
        tcase_add_test(tc, test_history_new_limits);
        tcase_add_test(tc, test_history_flow);
        tcase_add_test(tc, test_history_limit);
        tcase_add_test(tc, test_history_limit_zero);
        tcase_add_test(tc, test_history_interrupted);
        tcase_add_test(tc, test_history_begin_over_running);
        tcase_add_loop_test(tc, test_history_revision_strict, 0, N(revisions));
        tcase_add_test(tc, test_history_result_strict);
        tcase_add_test(tc, test_history_round_trip);
        tcase_add_test(tc, test_history_limit_change_trims);
        tcase_add_test(tc, test_history_encode_refuses_invalid);
        tcase_add_test(tc, test_history_every_truncation);
        tcase_add_test(tc, test_history_every_flip);
        tcase_add_test(tc, test_history_random_damage);
        tcase_add_loop_test(tc, test_history_texts, 0, N(history_texts));
        tcase_add_test(tc, test_history_bad_bytes);
        tcase_add_test(tc, test_history_save_load);
        tcase_add_test(tc, test_history_load_corrupt);
        suite_add_tcase(s, tc);

        tc = tcase_create("counters");
        tcase_add_test(tc, test_counter_names);
        tcase_add_loop_test(tc, test_counter_mappings, 0, N(mappings));
        tcase_add_test(tc, test_counters_round_trip);
        tcase_add_loop_test(tc, test_counters_texts, 0, N(counter_texts));
        tcase_add_test(tc, test_counters_every_truncation_and_flip);
        tcase_add_test(tc, test_counters_save_load);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(history_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
