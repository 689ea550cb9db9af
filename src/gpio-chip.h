/* gpio-chip.h - which GPIO chip [gpio] chip names, and how the chips found are shown in errors.
 * Pure: the caller lists the chips (gpio-chipdir.c); nothing here opens, reads or logs. */
#pragma once

#include <stddef.h>

/* What the error for a chip bc26d may not open tells the admin to do (bc26d(8), GPIO ACCESS). */
#define GPIO_ACCESS_HINT \
        "add the service user to group gpio (Raspberry Pi OS), or install the udev rule " \
        "61-bc26d-gpiochip.rules (plain Debian; see bc26d(8), GPIO ACCESS)"

/* One chip as gpiodetect shows it: "gpiochip0 [pinctrl-bcm2711] (58 lines)". */
struct gpio_chip_info {
        char path[128];         /* "/dev/gpiochip0" */
        char name[32];          /* "gpiochip0" */
        char label[64];         /* "pinctrl-bcm2711"; "" if unknown (error) */
        unsigned num_lines;     /* 0 if unknown */
        int error;              /* 0, or -errno if the chip could not be opened to read the above */
};

/* Find want among chips[n]. want is a path ("/dev/gpiochip0", matched exactly: the caller resolves
 * symlinks), a number ("0") or name ("gpiochip0") of a chip, or else a label ("pinctrl-bcm2711").
 * Returns 0 with *ret_index set; -ENOENT; -ENOTUNIQ if two chips carry the
 * label (*ret_index and *ret_other are the first two); or, when no label matched but a chip could
 * not be read (its label is unknown), that chip's error with *ret_index set to it. A match by
 * path, number or name is returned even if that chip has an error: the caller reports it. */
int gpio_chip_match(const char *want, const struct gpio_chip_info *chips, size_t n,
                    size_t *ret_index, size_t *ret_other);

/* "/dev/gpiochip0: gpiochip0 [pinctrl-bcm2711] (58 lines); /dev/gpiochip1: ..." or "none" into
 * buf (always terminated). Returns 0, or -ENOBUFS if it did not fit (then it ends in "..."). */
int gpio_chip_format_list(const struct gpio_chip_info *chips, size_t n, char *buf, size_t size);

/* The start-up error for a failed lookup of want: r from gpio_chip_match() (with its index and
 * other), or the matched chip's error. Names what was asked, lists the chips found, says what to
 * do. Always terminated (truncated if need be). */
void gpio_chip_lookup_error(char *buf, size_t size, int r, const char *want,
                            const struct gpio_chip_info *chips, size_t n, size_t index, size_t other);
