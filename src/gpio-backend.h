/* gpio-backend.h - the interface every GPIO backend implements (libgpiod 1, libgpiod 2, none,
 * fake); private to the gpio*.c files. Backends include only this; gpio.c (the dispatcher, which
 * owns line presence and state) includes it too, never the other way round. */
#pragma once

#include <stdbool.h>

#include "gpio-line.h"

/* What a backend is asked to request for one line (from [gpio]). */
struct gpio_line_request {
        const char *name;                       /* an offset ("17") or a line name ("GPIO17") */
        bool active_low;
};

struct gpio_backend_ops {
        const char *name;                       /* "libgpiod 2", "fake": for log lines */
        /* Drive a present line to its logical level (active = asserted). Backends apply
         * active_low themselves, given at open. Returns 0 or -errno (and logs). */
        int (*set)(void *data, enum gpio_line_id id, bool active);
        /* Release the lines and free data. */
        void (*close)(void *data);
};

struct gpio_backend {
        const struct gpio_backend_ops *ops;
        void *data;
};

/* The opens. lines[id] is the line to request, or NULL if it is not configured; at least one is
 * set. Lines are requested as outputs at their inactive level and held until close. Return 0 or
 * -errno, after logging what was asked and what to do. */

/* Test backend (gpio-fake.c): records levels in the file at path; ignores lines. */
int gpio_fake_open(const char *path, const struct gpio_line_request *const lines[_GPIO_LINE_MAX],
                   struct gpio_backend *out);

/* The chip backend this build has, chosen by configure (Makefile.am links exactly one):
 * gpio-libgpiod1.c, gpio-libgpiod2.c, or gpio-none.c (--without-libgpiod, always -EOPNOTSUPP).
 * chip is [gpio] chip: a path, name, number or label (gpio-chip.h). */
int gpio_hw_open(const char *chip, const struct gpio_line_request *const lines[_GPIO_LINE_MAX],
                 struct gpio_backend *out);
