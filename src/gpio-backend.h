/* gpio-backend.h - the small vtable a GPIO backend (libgpiod v1, fake) fills; private to the
 * gpio*.c files. gpio.c owns dispatch, line presence and state; backends only drive lines. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "gpio.h"

struct gpio_backend_ops {
        const char *name;                       /* "libgpiod", "fake": for log lines */
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

/* Each backend's open: lines[id] is the line's config, or NULL if it is not configured. Lines
 * are requested as outputs at their inactive level. Returns 0 or -errno (logged). */
int gpio_fake_open(const char *path, const struct gpio_line_config *const lines[_GPIO_LINE_MAX],
                   struct gpio_backend *out);
int gpio_libgpiod_open(const char *chip, const struct gpio_line_config *const lines[_GPIO_LINE_MAX],
                       struct gpio_backend *out);
