/* test-gpio-chip.c - Check suite for finding the [gpio] chip: the pure matcher and error texts
 * (src/gpio-chip.c), the line offset parser (src/gpio-line.c), and the directory scan and find
 * (src/gpio-chipdir.c) over a temp dir with a fake chip reader. No GPIO hardware needed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpio-chip.h"
#include "gpio-chipdir.h"
#include "gpio-line.h"

#define NONE ((size_t) -1)

/* A Pi 4 with two identical I2C expanders and, as chip 10, a Pi 5's RP1. */
static const struct gpio_chip_info pi_chips[] = {
        { "/dev/gpiochip0", "gpiochip0", "pinctrl-bcm2711", 58, 0 },
        { "/dev/gpiochip1", "gpiochip1", "raspberrypi-exp-gpio", 8, 0 },
        { "/dev/gpiochip2", "gpiochip2", "pcf857x", 16, 0 },
        { "/dev/gpiochip3", "gpiochip3", "pcf857x", 16, 0 },
        { "/dev/gpiochip10", "gpiochip10", "pinctrl-rp1", 54, 0 },
};

/* One chip readable, one not (mode 0600, no udev rule). */
static const struct gpio_chip_info locked_chips[] = {
        { "/dev/gpiochip0", "gpiochip0", "pinctrl-bcm2835", 54, 0 },
        { "/dev/gpiochip1", "gpiochip1", "", 0, -EACCES },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- matcher ------------------------------------------------------------------------------ */

static const struct match_case {
        const char *want;
        const struct gpio_chip_info *chips;
        size_t n;
        int r;
        size_t index, other;    /* NONE: not checked */
} match_cases[] = {
        /* path: exactly, never a name or label */
        { "/dev/gpiochip1", pi_chips, N(pi_chips), 0, 1, NONE },
        { "/dev/gpiochip10", pi_chips, N(pi_chips), 0, 4, NONE },
        { "/dev/gpiochip7", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        { "dev/gpiochip0", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        { "/dev/pinctrl-bcm2711", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        /* name */
        { "gpiochip0", pi_chips, N(pi_chips), 0, 0, NONE },
        { "gpiochip10", pi_chips, N(pi_chips), 0, 4, NONE },
        { "gpiochip7", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        { "gpiochip", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        /* number */
        { "0", pi_chips, N(pi_chips), 0, 0, NONE },
        { "10", pi_chips, N(pi_chips), 0, 4, NONE },
        { "010", pi_chips, N(pi_chips), 0, 4, NONE },
        { "7", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        { "99999999999999999999", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        /* label */
        { "pinctrl-bcm2711", pi_chips, N(pi_chips), 0, 0, NONE },
        { "pinctrl-rp1", pi_chips, N(pi_chips), 0, 4, NONE },
        { "raspberrypi-exp-gpio", pi_chips, N(pi_chips), 0, 1, NONE },
        { "pinctrl-bcm2835", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        { "PINCTRL-BCM2711", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        /* label ambiguous: both named */
        { "pcf857x", pi_chips, N(pi_chips), -ENOTUNIQ, 2, 3 },
        /* not found, empty list */
        { "", pi_chips, N(pi_chips), -ENOENT, NONE, NONE },
        { "gpiochip0", NULL, 0, -ENOENT, NONE, NONE },
        { "0", NULL, 0, -ENOENT, NONE, NONE },
        { "/dev/gpiochip0", NULL, 0, -ENOENT, NONE, NONE },
        { "pinctrl-bcm2711", NULL, 0, -ENOENT, NONE, NONE },
        /* an unreadable chip: found by path/name/number all the same; a label that is not on a
         * readable chip may be on it, so its error is the answer */
        { "pinctrl-bcm2835", locked_chips, N(locked_chips), 0, 0, NONE },
        { "gpiochip1", locked_chips, N(locked_chips), 0, 1, NONE },
        { "/dev/gpiochip1", locked_chips, N(locked_chips), 0, 1, NONE },
        { "pinctrl-bcm2711", locked_chips, N(locked_chips), -EACCES, 1, NONE },
        { "gpiochip5", locked_chips, N(locked_chips), -ENOENT, NONE, NONE },
};

START_TEST(test_match)
{
        const struct match_case *c = &match_cases[_i];
        size_t index = NONE, other = NONE;
        int r;

        r = gpio_chip_match(c->want, c->chips, c->n, &index, &other);
        ck_assert_msg(r == c->r, "'%s': got %d, want %d", c->want, r, c->r);
        if (c->index != NONE)
                ck_assert_msg(index == c->index, "'%s': index %zu, want %zu", c->want, index,
                              c->index);
        if (c->other != NONE)
                ck_assert_msg(other == c->other, "'%s': other %zu, want %zu", c->want, other,
                              c->other);
}
END_TEST

/* ret_other may be NULL when the caller does not want it. */
START_TEST(test_match_other_optional)
{
        size_t index = NONE;

        ck_assert_int_eq(gpio_chip_match("pcf857x", pi_chips, N(pi_chips), &index, NULL),
                         -ENOTUNIQ);
        ck_assert_uint_eq(index, 2);
}
END_TEST

/* ---- listing and error texts -------------------------------------------------------------- */

static const struct list_case {
        const struct gpio_chip_info *chips;
        size_t n, size;
        int r;
        const char *text;
} list_cases[] = {
        { NULL, 0, 64, 0, "none" },
        { pi_chips, 1, 64, 0, "/dev/gpiochip0: gpiochip0 [pinctrl-bcm2711] (58 lines)" },
        { pi_chips, 2, 256, 0,
          "/dev/gpiochip0: gpiochip0 [pinctrl-bcm2711] (58 lines); "
          "/dev/gpiochip1: gpiochip1 [raspberrypi-exp-gpio] (8 lines)" },
        { locked_chips, 2, 256, 0,
          "/dev/gpiochip0: gpiochip0 [pinctrl-bcm2835] (54 lines); "
          "/dev/gpiochip1: gpiochip1 (cannot open: Permission denied)" },
        /* exactly fits: strlen + 1 */
        { pi_chips, 1, 55, 0, "/dev/gpiochip0: gpiochip0 [pinctrl-bcm2711] (58 lines)" },
        /* one short, and a small buffer: cut, marked */
        { pi_chips, 1, 54, -ENOBUFS, "/dev/gpiochip0: gpiochip0 [pinctrl-bcm2711] (58 li..." },
        { pi_chips, 5, 24, -ENOBUFS, "/dev/gpiochip0: gpio..." },
        { pi_chips, 1, 3, -ENOBUFS, "/d" },
        { NULL, 0, 4, -ENOBUFS, "..." },
};

START_TEST(test_format_list)
{
        const struct list_case *c = &list_cases[_i];
        char buf[512];

        ck_assert_uint_le(c->size, sizeof(buf));
        memset(buf, 'x', sizeof(buf));
        ck_assert_int_eq(gpio_chip_format_list(c->chips, c->n, buf, c->size), c->r);
        ck_assert_str_eq(buf, c->text);
        ck_assert_uint_lt(strlen(buf), c->size);
}
END_TEST

START_TEST(test_format_list_zero_size)
{
        char buf[1] = { 'x' };

        ck_assert_int_eq(gpio_chip_format_list(pi_chips, 1, buf, 0), -ENOBUFS);
        ck_assert_int_eq(buf[0], 'x');
}
END_TEST

/* The error a wrong [gpio] chip gives at start-up: what was asked, what exists, what to do. */
static const struct error_case {
        const char *want;
        const struct gpio_chip_info *chips;
        size_t n;
        const char *text;
} error_cases[] = {
        { "pinctrl-bcm2835", pi_chips, 2,
          "GPIO chip 'pinctrl-bcm2835' not found; chips found: "
          "/dev/gpiochip0: gpiochip0 [pinctrl-bcm2711] (58 lines); "
          "/dev/gpiochip1: gpiochip1 [raspberrypi-exp-gpio] (8 lines); "
          "set [gpio] chip to a path, name, number or label from this list (see gpiodetect)" },
        { "pinctrl-rp1", NULL, 0,
          "GPIO chip 'pinctrl-rp1' not found: there is no GPIO chip (/dev/gpiochip*) on this "
          "system; check that the GPIO driver is loaded, or remove [gpio] chip to reset the "
          "module by AT command only" },
        { "pcf857x", pi_chips, N(pi_chips),
          "GPIO chip label 'pcf857x' is ambiguous: gpiochip2 (/dev/gpiochip2) and gpiochip3 "
          "(/dev/gpiochip3) both carry it; set [gpio] chip to the path or name of the chip wired "
          "to the module (see gpiodetect)" },
        { "pinctrl-bcm2711", locked_chips, N(locked_chips),
          "Cannot open GPIO chip /dev/gpiochip1 to find [gpio] chip 'pinctrl-bcm2711': "
          "Permission denied; " GPIO_ACCESS_HINT },
};

START_TEST(test_lookup_error)
{
        const struct error_case *c = &error_cases[_i];
        size_t index = NONE, other = NONE;
        char buf[1024];
        int r;

        r = gpio_chip_match(c->want, c->chips, c->n, &index, &other);
        ck_assert_int_lt(r, 0);
        gpio_chip_lookup_error(buf, sizeof(buf), r, c->want, c->chips, c->n, index, other);
        ck_assert_str_eq(buf, c->text);
}
END_TEST

/* A chip found by name but not openable is reported as such, with the way to fix access. */
START_TEST(test_lookup_error_matched_chip)
{
        char buf[512];

        gpio_chip_lookup_error(buf, sizeof(buf), -EACCES, "gpiochip1", locked_chips,
                               N(locked_chips), 1, NONE);
        ck_assert_str_eq(buf, "Cannot open GPIO chip /dev/gpiochip1 to find [gpio] chip "
                         "'gpiochip1': Permission denied; " GPIO_ACCESS_HINT);

        gpio_chip_lookup_error(buf, sizeof(buf), -EIO, "gpiochip1", locked_chips,
                               N(locked_chips), 1, NONE);
        ck_assert_str_eq(buf, "Cannot open GPIO chip /dev/gpiochip1 to find [gpio] chip "
                         "'gpiochip1': Input/output error");

        /* Cut to fit, never overrun. */
        gpio_chip_lookup_error(buf, 20, -ENOENT, "x", pi_chips, N(pi_chips), NONE, NONE);
        ck_assert_str_eq(buf, "GPIO chip 'x' no...");
}
END_TEST

/* ---- line offsets ------------------------------------------------------------------------- */

static const struct offset_case {
        const char *s;
        bool is_offset;
        unsigned offset;
} offset_cases[] = {
        { "0", true, 0 },
        { "17", true, 17 },
        { "1023", true, 1023 },
        { "017", true, 17 },
        { "4294967295", true, 4294967295U },
        { "4294967296", false, 0 },
        { "GPIO17", false, 0 },
        { "17a", false, 0 },
        { "-1", false, 0 },
        { " 17", false, 0 },
        { "", false, 0 },
};

START_TEST(test_parse_offset)
{
        const struct offset_case *c = &offset_cases[_i];
        unsigned offset = 12345;

        ck_assert_msg(gpio_line_parse_offset(c->s, &offset) == c->is_offset, "'%s'", c->s);
        ck_assert_uint_eq(offset, c->is_offset ? c->offset : 12345);
}
END_TEST

START_TEST(test_line_names)
{
        ck_assert_str_eq(gpio_line_to_string(GPIO_LINE_RESET), "reset");
        ck_assert_str_eq(gpio_line_to_string(GPIO_LINE_PWRKEY), "pwrkey");
        ck_assert_str_eq(gpio_line_config_key(GPIO_LINE_RESET), "reset_line");
        ck_assert_str_eq(gpio_line_config_key(GPIO_LINE_PWRKEY), "pwrkey_line");
}
END_TEST

/* ---- scan and find (gpio-chipdir.c) over a temp dir --------------------------------------- */

static char tmpdir[64];

static void touch(const char *name)
{
        char path[128];
        int fd;

        ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", tmpdir, name), (int) sizeof(path));
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(close(fd), 0);
}

static void make_dir(void)
{
        ck_assert_int_lt(snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-gpio-chip-XXXXXX"),
                         (int) sizeof(tmpdir));
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        touch("gpiochip10");
        touch("gpiochip2");
        touch("gpiochip0");
        touch("gpiochip1");     /* not a GPIO chip, says the reader */
        touch("gpiochip3");     /* mode 0600 */
        touch("gpiochipX");     /* never read */
        touch("gpiochip");
        touch("ttyAMA0");
        touch("gpiomem");
}

static void remove_dir(void)
{
        static const char *const names[] = { "gpiochip10", "gpiochip2", "gpiochip0", "gpiochip1",
                "gpiochip3", "gpiochipX", "gpiochip", "ttyAMA0", "gpiomem", "modem-gpio" };
        char path[128];

        for (size_t i = 0; i < N(names); i++) {
                (void) snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
                (void) unlink(path);
        }
        ck_assert_int_eq(rmdir(tmpdir), 0);
}

static int fake_read_info(const char *path, struct gpio_chip_info *info)
{
        const char *name = strrchr(path, '/') + 1;

        ck_assert_str_eq(info->name, name);
        ck_assert_str_eq(info->path, path);
        if (strcmp(name, "gpiochip0") == 0) {
                (void) snprintf(info->label, sizeof(info->label), "pinctrl-bcm2711");
                info->num_lines = 58;
        } else if (strcmp(name, "gpiochip2") == 0) {
                (void) snprintf(info->label, sizeof(info->label), "raspberrypi-exp-gpio");
                info->num_lines = 8;
        } else if (strcmp(name, "gpiochip10") == 0) {
                (void) snprintf(info->label, sizeof(info->label), "pinctrl-rp1");
                info->num_lines = 54;
        } else if (strcmp(name, "gpiochip1") == 0) {
                return -ENODEV;
        } else if (strcmp(name, "gpiochip3") == 0) {
                (void) snprintf(info->label, sizeof(info->label), "half-read");
                return -EACCES;
        } else {
                ck_abort_msg("read %s", path);
        }
        return 0;
}

START_TEST(test_scan)
{
        struct gpio_chip_info *chips;
        char list[512], expected[512];
        size_t n;

        make_dir();
        ck_assert_int_eq(gpio_chip_scan(tmpdir, fake_read_info, &chips, &n), 0);
        ck_assert_uint_eq(n, 4);
        ck_assert_int_eq(gpio_chip_format_list(chips, n, list, sizeof(list)), 0);
        (void) snprintf(expected, sizeof(expected),
                        "%1$s/gpiochip0: gpiochip0 [pinctrl-bcm2711] (58 lines); "
                        "%1$s/gpiochip2: gpiochip2 [raspberrypi-exp-gpio] (8 lines); "
                        "%1$s/gpiochip3: gpiochip3 (cannot open: Permission denied); "
                        "%1$s/gpiochip10: gpiochip10 [pinctrl-rp1] (54 lines)", tmpdir);
        ck_assert_str_eq(list, expected);
        ck_assert_str_eq(chips[2].label, ""); /* what a failed reader left is not kept */
        free(chips);
        remove_dir();
}
END_TEST

START_TEST(test_scan_missing_dir)
{
        struct gpio_chip_info dummy, *chips = &dummy;
        size_t n = 99;

        ck_assert_int_eq(gpio_chip_scan("/nonexistent-gpio-dir", fake_read_info, &chips, &n), 0);
        ck_assert_ptr_null(chips);
        ck_assert_uint_eq(n, 0);
}
END_TEST

enum where { AS_IS, IN_DIR, VIA_PARENT };     /* want as written, "<dir>/want", "<dir>/../<dir>/want" */

static const struct find_case {
        enum where where;
        const char *want;
        int r;
        const char *name;
} find_cases[] = {
        { AS_IS, "pinctrl-rp1", 0, "gpiochip10" },
        { AS_IS, "pinctrl-bcm2711", 0, "gpiochip0" },
        { AS_IS, "2", 0, "gpiochip2" },
        { AS_IS, "gpiochip10", 0, "gpiochip10" },
        { IN_DIR, "gpiochip2", 0, "gpiochip2" },
        { IN_DIR, "modem-gpio", 0, "gpiochip10" },      /* a symlink, as a udev rule makes */
        { VIA_PARENT, "gpiochip0", 0, "gpiochip0" },
        { IN_DIR, "gpiochip7", -ENOENT, NULL },
        { IN_DIR, "ttyAMA0", -ENOENT, NULL },
        { AS_IS, "gpiochip1", -ENOENT, NULL },          /* not a chip: left out */
        { AS_IS, "gpiochip3", -EACCES, NULL },          /* found, cannot be opened */
        { AS_IS, "pinctrl-bcm2835", -EACCES, NULL },    /* may be the chip we cannot read */
};

START_TEST(test_find)
{
        const struct find_case *c = &find_cases[_i];
        struct gpio_chip_info info = { .name = "untouched" };
        char want[256], link[128];

        make_dir();
        (void) snprintf(link, sizeof(link), "%s/modem-gpio", tmpdir);
        ck_assert_int_eq(symlink("gpiochip10", link), 0);
        switch (c->where) {
        case AS_IS:
                (void) snprintf(want, sizeof(want), "%s", c->want);
                break;
        case IN_DIR:
                (void) snprintf(want, sizeof(want), "%s/%s", tmpdir, c->want);
                break;
        case VIA_PARENT:
                (void) snprintf(want, sizeof(want), "%s/../%s/%s", tmpdir,
                                strrchr(tmpdir, '/') + 1, c->want);
                break;
        }

        ck_assert_int_eq(gpio_chip_find(tmpdir, want, fake_read_info, &info), c->r);
        ck_assert_str_eq(info.name, c->name ? c->name : "untouched");
        remove_dir();
}
END_TEST

static Suite *gpio_chip_suite(void)
{
        Suite *s = suite_create("gpio-chip");
        TCase *tc;

        tc = tcase_create("match");
        tcase_add_loop_test(tc, test_match, 0, (int) N(match_cases));
        tcase_add_test(tc, test_match_other_optional);
        suite_add_tcase(s, tc);

        tc = tcase_create("text");
        tcase_add_loop_test(tc, test_format_list, 0, (int) N(list_cases));
        tcase_add_test(tc, test_format_list_zero_size);
        tcase_add_loop_test(tc, test_lookup_error, 0, (int) N(error_cases));
        tcase_add_test(tc, test_lookup_error_matched_chip);
        suite_add_tcase(s, tc);

        tc = tcase_create("line");
        tcase_add_loop_test(tc, test_parse_offset, 0, (int) N(offset_cases));
        tcase_add_test(tc, test_line_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("chipdir");
        tcase_add_test(tc, test_scan);
        tcase_add_test(tc, test_scan_missing_dir);
        tcase_add_loop_test(tc, test_find, 0, (int) N(find_cases));
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(gpio_chip_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
