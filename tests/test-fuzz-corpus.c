/* test-fuzz-corpus.c - replays every fuzz target (fuzz/fuzz-*.c, built here without libFuzzer,
 * -DBC26_FUZZ_DRIVER) over its committed seed corpus fuzz/corpus/<target>/ and the inputs of past
 * findings in fuzz/regressions/<target>/, so that make check keeps re-checking them. Each input
 * runs in a child process: an invariant failure (abort) or a sanitizer report names the file. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

/* Declared here: fuzz/fuzz.h lists the targets that came before it. */
int bc26_fuzz_outbox(const uint8_t *data, size_t size);

static const struct {
        const char *name;
        int (*run)(const uint8_t *data, size_t size);
} targets[] = {
        { "line-classify",      bc26_fuzz_line_classify },
        { "urc",                bc26_fuzz_urc },
        { "config",             bc26_fuzz_config },
        { "store",              bc26_fuzz_store },
        { "fota",               bc26_fuzz_fota },
        { "at-channel",         bc26_fuzz_at_channel },
        { "outbox",             bc26_fuzz_outbox },
};

#define INPUT_MAX (1024 * 1024)

static void run_file(int (*run)(const uint8_t *, size_t), const char *path)
{
        static uint8_t buf[INPUT_MAX];
        size_t n;
        FILE *f;
        pid_t pid;
        int status;

        f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
        n = fread(buf, 1, sizeof(buf), f);
        ck_assert_msg(!ferror(f) && feof(f), "%s: unreadable or larger than %d bytes", path, INPUT_MAX);
        fclose(f);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* An exact-size copy, as libFuzzer passes it: reading past the end is caught. */
                uint8_t *copy = malloc(n ? n : 1);

                if (!copy)
                        _exit(3);
                memcpy(copy, buf, n);
                run(copy, n);
                free(copy);
                _exit(0);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: %s %d", path,
                      WIFSIGNALED(status) ? "killed by signal" : "exit status",
                      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* Every regular file in dir; the number run, 0 if dir does not exist. */
static unsigned run_dir(int (*run)(const uint8_t *, size_t), const char *dir)
{
        struct dirent **names;
        unsigned count = 0;
        int n;

        n = scandir(dir, &names, NULL, alphasort);
        if (n < 0) {
                ck_assert_msg(errno == ENOENT, "%s: %s", dir, strerror(errno));
                return 0;
        }
        for (int i = 0; i < n; i++) {
                char path[4096];
                struct stat st;

                snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
                if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                        run_file(run, path);
                        count++;
                }
                free(names[i]);
        }
        free(names);
        return count;
}

START_TEST(test_corpus)
{
        char dir[4096];
        unsigned seeds, regressions;

        snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", TOP_SRCDIR, targets[_i].name);
        seeds = run_dir(targets[_i].run, dir);
        ck_assert_msg(seeds > 0, "no seed inputs in %s", dir);
        snprintf(dir, sizeof(dir), "%s/fuzz/regressions/%s", TOP_SRCDIR, targets[_i].name);
        regressions = run_dir(targets[_i].run, dir);
        printf("%s: %u seeds, %u regression inputs\n", targets[_i].name, seeds, regressions);
}
END_TEST

/* The smallest inputs libFuzzer starts from (empty, all zeros) run clean in every target. */
START_TEST(test_trivial_inputs)
{
        for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
                static const uint8_t zeros[64];

                ck_assert_int_eq(targets[i].run(zeros, 0), 0);
                ck_assert_int_eq(targets[i].run(zeros, sizeof(zeros)), 0);
        }
}
END_TEST

static Suite *fuzz_corpus_suite(void)
{
        Suite *s = suite_create("fuzz-corpus");
        TCase *tc = tcase_create("replay");

        tcase_add_loop_test(tc, test_corpus, 0, (int) (sizeof(targets) / sizeof(targets[0])));
        tcase_add_test(tc, test_trivial_inputs);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(fuzz_corpus_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
