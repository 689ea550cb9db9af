/* gpio-line.h - which of the module's lines (RESET_N, PWRKEY) a GPIO call is about, and the names
 * it goes by in logs and in bc26d.conf. Shared by gpio.h's users and the backends; includes
 * nothing of theirs. */
#pragma once

#include <stdbool.h>

enum gpio_line_id {
        GPIO_LINE_RESET,
        GPIO_LINE_PWRKEY,
};
#define _GPIO_LINE_MAX 2

/* "reset", "pwrkey": for log lines and the fake backend's records. */
const char *gpio_line_to_string(enum gpio_line_id id);

/* "reset_line", "pwrkey_line": the [gpio] key that names the line, for error messages. */
const char *gpio_line_config_key(enum gpio_line_id id);

/* A configured line: true with *ret set if s is an offset ("17"), false if it is a line name
 * ("GPIO17"; gpioinfo shows both). */
bool gpio_line_parse_offset(const char *s, unsigned *ret);
