/* gpio.h - the module's RESET_N and PWRKEY lines behind a small interface.
 * Backends (gpio-backend.h): libgpiod 1 or 2 (gpio-libgpiod1.c, gpio-libgpiod2.c: the only files
 * that call libgpiod; configure builds the one the system has), none (--without-libgpiod), and a
 * fake that records pulses to a file (tests). Lines are requested once, as outputs at their
 * inactive level, and held so they never float. Pulse timing is the caller's (deadlines, not
 * sleeps). */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "gpio-line.h"

/* Test seam: if set, the fake backend is used and appends one line per level change to the file
 * it names ("<boottime_usec> <reset|pwrkey> <active|inactive>"). Documented as test-only. */
#define GPIO_FAKE_ENV "BC26D_TEST_FAKE_GPIO"

struct gpio;

/* Open the chip and request the configured lines. With no [gpio] chip configured, or no line,
 * returns 0 with *out = NULL: "no GPIO". Errors: -errno, with a message naming the chip/line and
 * what to do in the log. */
int gpio_open(const struct config *cfg, struct gpio **out);
/* Drive any still-active line inactive, release the lines; accepts NULL, returns NULL. */
struct gpio *gpio_close(struct gpio *g);

/* Is this line configured? (g may be NULL.) */
bool gpio_has_line(const struct gpio *g, enum gpio_line_id id);

/* Drive a line to its logical active (asserted) or inactive level, honouring *_active_low.
 * -ENODEV if g is NULL or the line is not configured. */
int gpio_set(struct gpio *g, enum gpio_line_id id, bool active);
