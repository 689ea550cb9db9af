/* gpio-chipdir.h - finds the [gpio] chip among the system's GPIO chips: lists dir's gpiochipN in
 * number order, has the backend read each one's label and line count, matches (gpio-chip.h), and
 * logs what was asked and what was found when that fails. The same for both libgpiod backends. */
#pragma once

#include <stddef.h>

#include "gpio-chip.h"

#define GPIO_CHIP_DIR "/dev"

/* The backend's reader: fill info->label and info->num_lines for the chip at path (info->path
 * and info->name are set). Returns 0; -ENODEV or -ENOTTY if path is not a GPIO chip (it is left
 * out); or another -errno, kept as info->error (the chip is listed as "cannot open"). */
typedef int (*gpio_chip_read_info_t)(const char *path, struct gpio_chip_info *info);

/* dir's gpiochipN entries, sorted by N (gpiochip10 after gpiochip2), each read with read_info.
 * *ret is for free() (NULL if none). A missing dir is an empty list. Returns 0 or -errno. */
int gpio_chip_scan(const char *dir, gpio_chip_read_info_t read_info, struct gpio_chip_info **ret,
                   size_t *ret_n);

/* Find [gpio] chip want among dir's chips; a path is resolved first, so a udev symlink works.
 * Returns 0 with *ret the chip (open ret->path), or -errno after logging an error that names want
 * and lists the chips found (-ENOENT, -ENOTUNIQ, -EACCES, ...). */
int gpio_chip_find(const char *dir, const char *want, gpio_chip_read_info_t read_info,
                   struct gpio_chip_info *ret);
