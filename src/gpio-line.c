/* gpio-line.c - the names of the module's GPIO lines and the form of a configured line
 * (gpio-line.h). Pure. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "gpio-line.h"

const char *gpio_line_to_string(enum gpio_line_id id)
{
        switch (id) {
        case GPIO_LINE_RESET:
                return "reset";
        case GPIO_LINE_PWRKEY:
                return "pwrkey";
        }
        return "unknown";
}

const char *gpio_line_config_key(enum gpio_line_id id)
{
        switch (id) {
        case GPIO_LINE_RESET:
                return "reset_line";
        case GPIO_LINE_PWRKEY:
                return "pwrkey_line";
        }
        return "unknown";
}

bool gpio_line_parse_offset(const char *s, unsigned *ret)
{
        unsigned long v;
        char *end;

        if (*s < '0' || *s > '9')
                return false;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > UINT_MAX)
                return false;

        *ret = (unsigned) v;
        return true;
}
