/* test-store.c - Check suite for the persisted DFOTA state (store.c): text round trips, every
 * kind of corruption, atomic save/load in a temporary directory, and the boot id. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define BOOT_ID "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

static struct store_record sample(enum fota_phase p)
{
        struct store_record r;

        memset(&r, 0, sizeof(r));
        r.st.phase = p;
        r.st.window = p == FOTA_PHASE_IDLE ? 0 : 2;
        r.st.window_expired = p == FOTA_PHASE_DOWNLOADING;
        r.st.deadline_usec = p == FOTA_PHASE_IDLE ? 0 : 123456789012ULL;
        r.st.download_deadline_usec = p == FOTA_PHASE_DOWNLOADING ? 987654321098ULL : 0;
        r.st.progress = 77;
        r.st.pending_result = p == FOTA_PHASE_REPORTING ? FOTA_RESULT_UPDATE_FAILED : FOTA_RESULT_NONE;
        r.st.pending_code = p == FOTA_PHASE_REPORTING ? -3 : 0;
        r.st.last_result = FOTA_RESULT_TIMEOUT;
        r.st.last_code = 2147483647;
        strcpy(r.boot_id, BOOT_ID);
        r.saved_realtime_usec = UINT64_MAX;
        return r;
}

static void assert_record_eq(const struct store_record *a, const struct store_record *b)
{
        ck_assert_int_eq(a->st.phase, b->st.phase);
        ck_assert_uint_eq(a->st.window, b->st.window);
        ck_assert_int_eq(a->st.window_expired, b->st.window_expired);
        ck_assert_uint_eq(a->st.deadline_usec, b->st.deadline_usec);
        ck_assert_uint_eq(a->st.download_deadline_usec, b->st.download_deadline_usec);
        ck_assert_uint_eq(a->st.progress, b->st.progress);
        ck_assert_int_eq(a->st.pending_result, b->st.pending_result);
        ck_assert_int_eq(a->st.pending_code, b->st.pending_code);
        ck_assert_int_eq(a->st.last_result, b->st.last_result);
        ck_assert_int_eq(a->st.last_code, b->st.last_code);
        ck_assert_str_eq(a->boot_id, b->boot_id);
        ck_assert_uint_eq(a->saved_realtime_usec, b->saved_realtime_usec);
}

START_TEST(test_round_trip)
{
        struct store_record in = sample((enum fota_phase) _i), out;
        char buf[1024], why[256] = "";
        int n;

        n = store_encode(&in, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        ck_assert_uint_eq(strlen(buf), (size_t) n);
        ck_assert(strncmp(buf, "bc26d-fota-state 1\n", 19) == 0);
        memset(&out, 0x5a, sizeof(out));
        ck_assert_int_eq(store_decode(buf, (size_t) n, &out, why, sizeof(why)), 0);
        assert_record_eq(&in, &out);
}
END_TEST

START_TEST(test_encode_exact)
{
        struct store_record r = sample(FOTA_PHASE_REPORTING);
        char buf[1024];
        static const char expected[] =
                "bc26d-fota-state 1\n"
                "phase=reporting\n"
                "window=2\n"
                "window_expired=0\n"
                "deadline_usec=123456789012\n"
                "download_deadline_usec=0\n"
                "progress=77\n"
                "pending_result=update-failed\n"
                "pending_code=-3\n"
                "last_result=timeout\n"
                "last_code=2147483647\n"
                "boot_id=" BOOT_ID "\n"
                "saved_realtime_usec=18446744073709551615\n";

        ck_assert_int_eq(store_encode(&r, buf, sizeof(buf)), (int) strlen(expected));
        ck_assert_str_eq(buf, expected);
        /* one byte short of the terminating NUL */
        ck_assert_int_eq(store_encode(&r, buf, strlen(expected)), -ENOSPC);
        ck_assert_int_eq(store_encode(&r, buf, 10), -ENOSPC);
        strcpy(r.boot_id, "not-a-boot-id");
        ck_assert_int_eq(store_encode(&r, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* A valid downloading record, line by line; each corruption edits it. */
static const char *const base_lines[] = {
        "bc26d-fota-state 1",
        "phase=downloading",
        "window=1",
        "window_expired=1",
        "deadline_usec=5000000000",
        "download_deadline_usec=9000000000",
        "progress=12",
        "pending_result=none",
        "pending_code=0",
        "last_result=success",
        "last_code=0",
        ("boot_id=" BOOT_ID),
        "saved_realtime_usec=1700000000000000",
};
#define N_BASE (sizeof(base_lines) / sizeof(base_lines[0]))

enum corrupt_op { C_REPLACE, C_DELETE, C_INSERT, C_CUT, C_RAW };

struct corruption {
        const char *name;
        enum corrupt_op op;
        size_t line;            /* 0-based line of base_lines (REPLACE, DELETE; INSERT goes before it) */
        const char *text;       /* the new line, or the raw file */
        size_t len;             /* C_CUT: bytes kept; C_RAW: file length */
        const char *why;        /* expected in the reason */
};

static const struct corruption corruptions[] = {
        { "missing key", C_DELETE, 6, NULL, 0, "missing key \"progress\"" },
        { "duplicate key", C_INSERT, 3, "phase=idle", 0, "line 4: duplicate key \"phase\"" },
        { "unknown key", C_INSERT, 2, "colour=blue", 0, "line 3: unknown key \"colour\"" },
        { "bad number", C_REPLACE, 4, "deadline_usec=12x", 0, "line 5: bad number \"12x\"" },
        { "negative u64", C_REPLACE, 4, "deadline_usec=-1", 0, "bad number" },
        { "u64 overflow", C_REPLACE, 4, "deadline_usec=18446744073709551616", 0, "bad number" },
        { "empty number", C_REPLACE, 8, "pending_code=", 0, "line 9: bad number" },
        { "int overflow", C_REPLACE, 10, "last_code=2147483648", 0, "line 11: bad number" },
        { "number with blank", C_REPLACE, 10, "last_code= 1", 0, "bad number" },
        { "unknown phase", C_REPLACE, 1, "phase=foo", 0, "line 2: unknown phase \"foo\"" },
        { "CR line ending", C_REPLACE, 1, "phase=downloading\r", 0, "line 2: unknown phase" },
        { "unknown result", C_REPLACE, 9, "last_result=great", 0, "line 10: unknown result \"great\"" },
        { "progress range", C_REPLACE, 6, "progress=101", 0, "progress must be 0..100" },
        { "leading zero", C_REPLACE, 6, "progress=012", 0, "line 7: progress must be 0..100 \"012\"" },
        { "plus sign", C_REPLACE, 8, "pending_code=+5", 0, "line 9: bad number \"+5\"" },
        { "minus zero", C_REPLACE, 8, "pending_code=-0", 0, "bad number" },
        { "window range", C_REPLACE, 2, "window=3", 0, "window must be 0, 1 or 2" },
        { "window_expired range", C_REPLACE, 3, "window_expired=2", 0, "window_expired must be 0 or 1" },
        { "bad boot id", C_REPLACE, 11, "boot_id=xyz", 0, "36-character uuid" },
        { "wrong version", C_REPLACE, 0, "bc26d-fota-state 2", 0, "line 1: not" },
        { "no '='", C_INSERT, 5, "garbage", 0, "line 6: no '='" },
        { "overlong line", C_INSERT, 5,
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=1",
          0, "line 6: longer than" },
        { "active phase without deadline", C_REPLACE, 4, "deadline_usec=0", 0, "without a deadline" },
        { "download without its limit", C_REPLACE, 5, "download_deadline_usec=0", 0, "without a download deadline" },
        { "truncated mid-line", C_CUT, 0, NULL, 200, "truncated" },
        { "truncated at a line end", C_CUT, 0, NULL, 0 /* set below: after 6 lines */, "missing key" },
        { "garbage bytes", C_RAW, 0, "\x89PNG\r\n\x1a\n\x01\xff\xfe", 11, "line 1: not" },
        { "NUL bytes", C_RAW, 0, "bc26d-fota-state 1\n\0\0\0\n", 23, "NUL byte" },
        { "empty file", C_RAW, 0, "", 0, "empty file" },
        { "magic only", C_RAW, 0, "bc26d-fota-state 1\n", 19, "missing key \"phase\"" },
};

static size_t build(const struct corruption *c, char *buf, size_t size)
{
        size_t len = 0;

        if (c->op == C_RAW) {
                memcpy(buf, c->text, c->len);
                return c->len;
        }
        for (size_t i = 0; i < N_BASE; i++) {
                const char *line = base_lines[i];

                if (c->op == C_INSERT && i == c->line)
                        len += (size_t) snprintf(buf + len, size - len, "%s\n", c->text);
                if (c->op == C_DELETE && i == c->line)
                        continue;
                if (c->op == C_REPLACE && i == c->line)
                        line = c->text;
                len += (size_t) snprintf(buf + len, size - len, "%s\n", line);
                if (c->op == C_CUT && c->len == 0 && i == 5)
                        return len;
        }
        ck_assert_uint_lt(len, size);
        if (c->op == C_CUT)
                return c->len < len ? c->len : len;
        return len;
}

START_TEST(test_base_is_valid)
{
        struct corruption none = { "none", C_REPLACE, N_BASE, NULL, 0, NULL };
        struct store_record r;
        char buf[2048], why[256] = "";
        size_t len = build(&none, buf, sizeof(buf));

        ck_assert_int_eq(store_decode(buf, len, &r, why, sizeof(why)), 0);
        ck_assert_int_eq(r.st.phase, FOTA_PHASE_DOWNLOADING);
        ck_assert(r.st.window_expired);
        ck_assert_uint_eq(r.st.download_deadline_usec, 9000000000ULL);
        ck_assert_uint_eq(r.st.progress, 12);
        ck_assert_int_eq(r.st.last_result, FOTA_RESULT_SUCCESS);
        ck_assert_str_eq(r.boot_id, BOOT_ID);
        /* why may be NULL */
        ck_assert_int_eq(store_decode(buf, len - 1, &r, NULL, 0), -EBADMSG);
}
END_TEST

START_TEST(test_corruption)
{
        const struct corruption *c = &corruptions[_i];
        struct store_record r, untouched;
        char buf[2048], why[256] = "";
        size_t len = build(c, buf, sizeof(buf));

        memset(&r, 0x5a, sizeof(r));
        untouched = r;
        ck_assert_msg(store_decode(buf, len, &r, why, sizeof(why)) == -EBADMSG, "%s: accepted", c->name);
        ck_assert_msg(strstr(why, c->why) != NULL, "%s: reason \"%s\" lacks \"%s\"", c->name, why, c->why);
        ck_assert_msg(memcmp(&r, &untouched, sizeof(r)) == 0, "%s: record written on failure", c->name);
}
END_TEST

START_TEST(test_unknown_phase_message)
{
        static const char text[] = "bc26d-fota-state 1\nphase=idle\nphase=x\n";
        struct store_record r;
        char why[256] = "";

        /* the duplicate is found before the value is looked at */
        ck_assert_int_eq(store_decode(text, sizeof(text) - 1, &r, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "line 3: duplicate key \"phase\"");
        ck_assert_int_eq(store_decode("bc26d-fota-state 1\nphase=foo\n", 29, &r, why, sizeof(why)), -EBADMSG);
        ck_assert_str_eq(why, "line 2: unknown phase \"foo\"");
}
END_TEST

static char tmpdir[64];

static void make_dir(void)
{
        strcpy(tmpdir, "/tmp/test-store-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_dir(void)
{
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        char path[512];

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
                ck_assert_int_eq(unlink(path), 0);
        }
        closedir(d);
        ck_assert_int_eq(rmdir(tmpdir), 0);
}

static bool exists(const char *name)
{
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        return access(path, F_OK) == 0;
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

START_TEST(test_save_load)
{
        struct store_record a = sample(FOTA_PHASE_UPDATING), b = sample(FOTA_PHASE_REPORTING), r;
        char why[256] = "", path[256];
        struct stat stbuf;

        make_dir();
        (void) umask(022);
        ck_assert_int_eq(store_save(tmpdir, &a), 0);
        ck_assert(exists(STORE_FILE_NAME));
        ck_assert(!exists(STORE_FILE_NAME ".tmp"));
        snprintf(path, sizeof(path), "%s/" STORE_FILE_NAME, tmpdir);
        ck_assert_int_eq(stat(path, &stbuf), 0);
        ck_assert_uint_eq(stbuf.st_mode & 0777, 0644);
        ck_assert_int_eq(store_load(tmpdir, &r, why, sizeof(why)), 0);
        assert_record_eq(&a, &r);

        /* overwrite */
        ck_assert_int_eq(store_save(tmpdir, &b), 0);
        ck_assert_int_eq(store_load(tmpdir, &r, why, sizeof(why)), 0);
        assert_record_eq(&b, &r);
        ck_assert(!exists(STORE_FILE_NAME ".tmp"));
        remove_dir();
}
END_TEST

START_TEST(test_save_errors)
{
        struct store_record a = sample(FOTA_PHASE_IDLE);

        ck_assert_int_eq(store_save("/nonexistent-bc26d-dir", &a), -ENOENT);
        strcpy(a.boot_id, "");
        make_dir();
        ck_assert_int_eq(store_save(tmpdir, &a), -EINVAL);
        ck_assert(!exists(STORE_FILE_NAME));
        ck_assert(!exists(STORE_FILE_NAME ".tmp"));
        remove_dir();
}
END_TEST

/* The corrupt file must be moved aside under the name that why reports. */
static void check_moved_aside(const char *why)
{
        const char *p = strstr(why, "moved aside to ");
        DIR *d;
        struct dirent *e;
        unsigned n = 0;

        ck_assert_msg(p != NULL, "why: %s", why);
        ck_assert_int_eq(access(p + strlen("moved aside to "), F_OK), 0);
        ck_assert(!exists(STORE_FILE_NAME));
        d = opendir(tmpdir);
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                if (strncmp(e->d_name, STORE_FILE_NAME ".corrupt-", strlen(STORE_FILE_NAME ".corrupt-")) == 0)
                        n++;
        closedir(d);
        ck_assert_uint_eq(n, 1);
}

START_TEST(test_load_corrupt)
{
        struct store_record r;
        char why[512] = "";

        make_dir();
        write_file(STORE_FILE_NAME, "garbage\n", 8);
        ck_assert_int_eq(store_load(tmpdir, &r, why, sizeof(why)), -EBADMSG);
        ck_assert_msg(strstr(why, "line 1: not") != NULL, "why: %s", why);
        check_moved_aside(why);
        /* nothing left to load */
        ck_assert_int_eq(store_load(tmpdir, &r, why, sizeof(why)), -ENOENT);
        remove_dir();
}
END_TEST

/* Through durable.c: the aside name stays fota.state.corrupt-<seconds>, and a second corrupt
 * file in the same second keeps the first one's evidence. */
START_TEST(test_load_corrupt_twice)
{
        struct store_record r;
        char why[512] = "";
        DIR *d;
        struct dirent *e;
        unsigned n = 0, plain = 0;
        const size_t prefix = strlen(STORE_FILE_NAME ".corrupt-");

        make_dir();
        for (int i = 0; i < 2; i++) {
                write_file(STORE_FILE_NAME, "garbage\n", 8);
                ck_assert_int_eq(store_load(tmpdir, &r, why, sizeof(why)), -EBADMSG);
                ck_assert_msg(strstr(why, "moved aside to ") != NULL, "why: %s", why);
        }
        d = opendir(tmpdir);
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d))) {
                size_t digits;

                if (strncmp(e->d_name, STORE_FILE_NAME ".corrupt-", prefix) != 0)
                        continue;
                n++;
                digits = strspn(e->d_name + prefix, "0123456789");
                /* seconds since the epoch: 10 digits until 2286, never microseconds */
                ck_assert_msg(digits == 10, "name: %s", e->d_name);
                if (e->d_name[prefix + digits] == '\0')
                        plain++;
        }
        closedir(d);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_ge(plain, 1);
        ck_assert(!exists(STORE_FILE_NAME));
        remove_dir();
}
END_TEST

START_TEST(test_load_too_big)
{
        struct store_record r;
        char big[5000], why[512] = "";

        memset(big, '#', sizeof(big));
        make_dir();
        write_file(STORE_FILE_NAME, big, sizeof(big));
        ck_assert_int_eq(store_load(tmpdir, &r, why, sizeof(why)), -EBADMSG);
        ck_assert_msg(strstr(why, "larger than 4096") != NULL, "why: %s", why);
        check_moved_aside(why);
        remove_dir();
}
END_TEST

START_TEST(test_load_missing)
{
        struct store_record r;
        char why[256] = "";

        make_dir();
        ck_assert_int_eq(store_load(tmpdir, &r, why, sizeof(why)), -ENOENT);
        remove_dir();
}
END_TEST

START_TEST(test_boot_id)
{
        char a[STORE_BOOT_ID_MAX], b[STORE_BOOT_ID_MAX], small[36];

        ck_assert_int_eq(store_read_boot_id(a, sizeof(a)), 0);
        ck_assert_uint_eq(strlen(a), 36);
        ck_assert(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
        ck_assert_int_eq(store_read_boot_id(b, sizeof(b)), 0);
        ck_assert_str_eq(a, b);
        ck_assert_int_eq(store_read_boot_id(small, sizeof(small)), -ENOSPC);

        /* what we read is what we can write and read back */
        struct store_record r = sample(FOTA_PHASE_IDLE), back;
        char buf[1024];
        int n;

        strcpy(r.boot_id, a);
        n = store_encode(&r, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(store_decode(buf, (size_t) n, &back, NULL, 0), 0);
        ck_assert_str_eq(back.boot_id, a);
}
END_TEST

static Suite *store_suite(void)
{
        Suite *s = suite_create("store");
        TCase *tc = tcase_create("text");

        tcase_add_loop_test(tc, test_round_trip, 0, _FOTA_PHASE_MAX);
        tcase_add_test(tc, test_encode_exact);
        tcase_add_test(tc, test_base_is_valid);
        tcase_add_loop_test(tc, test_corruption, 0, (int) (sizeof(corruptions) / sizeof(corruptions[0])));
        tcase_add_test(tc, test_unknown_phase_message);
        suite_add_tcase(s, tc);

        tc = tcase_create("file");
        tcase_add_test(tc, test_save_load);
        tcase_add_test(tc, test_save_errors);
        tcase_add_test(tc, test_load_corrupt);
        tcase_add_test(tc, test_load_corrupt_twice);
        tcase_add_test(tc, test_load_too_big);
        tcase_add_test(tc, test_load_missing);
        tcase_add_test(tc, test_boot_id);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(store_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
