/* gpio-libgpiod.c - the libgpiod v1 backend (Debian 12 / Raspberry Pi OS bookworm ship 1.6.3);
 * the only file that calls libgpiod. v2 (Debian 13) has an incompatible API; configure.ac
 * requires < 2.0. */
#include <errno.h>
#include <gpiod.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio-backend.h"
#include "log.h"

#define GPIO_CONSUMER "bc26d" /* shown by gpioinfo next to our lines */

struct gpio_libgpiod {
        struct gpiod_chip *chip;
        char chip_desc[256];                            /* as configured, for messages */
        struct gpiod_line *lines[_GPIO_LINE_MAX];       /* NULL: not configured */
        char line_desc[_GPIO_LINE_MAX][64];
};

/* Log an error whose text places strerror(err) via %m, and return -err. */
static int gpio_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int gpio_fail(int err, const char *fmt, ...)
{
        va_list ap;

        errno = err;
        va_start(ap, fmt);
        log_fullv(LOG_ERR, NULL, fmt, ap);
        va_end(ap);
        return -err;
}

static const char *gpio_config_key(enum gpio_line_id id)
{
        switch (id) {
        case GPIO_LINE_RESET:
                return "reset_line";
        case GPIO_LINE_PWRKEY:
                return "pwrkey_line";
        }
        return "unknown";
}

/* "17" is an offset, anything else a line name (gpioinfo shows both). */
static bool gpio_parse_offset(const char *s, unsigned *ret)
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

static int gpio_chip_error(const char *chip, int err)
{
        if (err == EACCES || err == EPERM)
                return gpio_fail(err, "Failed to open GPIO chip '%s': %m; run bc26d in the 'gpio' "
                                 "group or install a udev rule giving it access to "
                                 "/dev/gpiochip*", chip);

        return gpio_fail(err, "Failed to open GPIO chip '%s': %m; check [gpio] chip (a path, name, "
                         "label or number; see gpiodetect)", chip);
}

static struct gpiod_line *gpio_find_line(struct gpio_libgpiod *b, enum gpio_line_id id,
                                         const char *desc, int *err)
{
        struct gpiod_line *line;
        unsigned offset;

        if (gpio_parse_offset(desc, &offset)) {
                unsigned n = gpiod_chip_num_lines(b->chip);

                if (offset >= n) {
                        *err = gpio_fail(EINVAL,
                                         "GPIO %s line offset %u is out of range: chip '%s' has "
                                         "%u lines; check [gpio] %s (see gpioinfo)",
                                         gpio_line_to_string(id), offset, b->chip_desc, n,
                                         gpio_config_key(id));
                        return NULL;
                }
                line = gpiod_chip_get_line(b->chip, offset);
        } else {
                line = gpiod_chip_find_line(b->chip, desc);
        }
        if (line)
                return line;

        /* find_line() sets ENOENT for "no such name on this chip". */
        if (errno == ENOENT || errno <= 0)
                *err = gpio_fail(ENOENT, "GPIO %s line '%s' not found on chip '%s'; check [gpio] "
                                 "%s (an offset or a line name; see gpioinfo)",
                                 gpio_line_to_string(id), desc, b->chip_desc, gpio_config_key(id));
        else
                *err = gpio_fail(errno, "Failed to look up GPIO %s line '%s' on chip '%s': %m",
                                 gpio_line_to_string(id), desc, b->chip_desc);
        return NULL;
}

static int gpio_request_line(struct gpio_libgpiod *b, enum gpio_line_id id,
                             struct gpiod_line *line, bool active_low)
{
        const char *consumer;
        int err;

        /* Output from the start, at the inactive level (logical 0; the kernel inverts it for
         * active-low lines), so RESET_N/PWRKEY never float or glitch (gpio.h). */
        if (gpiod_line_request_output_flags(line, GPIO_CONSUMER,
                                            active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0,
                                            0) == 0)
                return 0;

        err = errno > 0 ? errno : EIO;
        switch (err) {
        case EBUSY:
                consumer = gpiod_line_consumer(line);
                return gpio_fail(err, "GPIO %s line '%s' on chip '%s' is already in use by '%s'; "
                                 "stop that user (see gpioinfo) or choose another [gpio] %s",
                                 gpio_line_to_string(id), b->line_desc[id], b->chip_desc,
                                 consumer ? consumer : "another process", gpio_config_key(id));
        case EACCES:
        case EPERM:
                return gpio_fail(err, "Failed to request GPIO %s line '%s' on chip '%s': %m; run "
                                 "bc26d in the 'gpio' group or install a udev rule for "
                                 "/dev/gpiochip*", gpio_line_to_string(id), b->line_desc[id],
                                 b->chip_desc);
        default:
                return gpio_fail(err, "Failed to request GPIO %s line '%s' on chip '%s' as output: "
                                 "%m", gpio_line_to_string(id), b->line_desc[id], b->chip_desc);
        }
}

static int gpio_libgpiod_set(void *data, enum gpio_line_id id, bool active)
{
        struct gpio_libgpiod *b = data;

        /* Logical value: with GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW, 1 drives the line low. */
        if (gpiod_line_set_value(b->lines[id], active ? 1 : 0) < 0)
                return gpio_fail(errno > 0 ? errno : EIO,
                                 "Failed to drive GPIO %s line '%s' on chip '%s' %s: %m",
                                 gpio_line_to_string(id), b->line_desc[id], b->chip_desc,
                                 active ? "active" : "inactive");
        return 0;
}

static void gpio_libgpiod_close(void *data)
{
        struct gpio_libgpiod *b = data;

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++)
                if (b->lines[i] && gpiod_line_is_requested(b->lines[i]))
                        gpiod_line_release(b->lines[i]);
        if (b->chip)
                gpiod_chip_close(b->chip);
        free(b);
}

static const struct gpio_backend_ops gpio_libgpiod_ops = {
        .name = "libgpiod",
        .set = gpio_libgpiod_set,
        .close = gpio_libgpiod_close,
};

int gpio_libgpiod_open(const char *chip, const struct gpio_line_config *const lines[_GPIO_LINE_MAX],
                       struct gpio_backend *out)
{
        struct gpio_libgpiod *b;
        int r = -EIO;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        (void) snprintf(b->chip_desc, sizeof(b->chip_desc), "%s", chip);

        /* open_lookup() accepts what gpiodetect shows: a path, "gpiochipN", a label or N. */
        errno = 0;
        b->chip = gpiod_chip_open_lookup(chip);
        if (!b->chip) {
                r = gpio_chip_error(chip, errno > 0 ? errno : ENODEV);
                goto fail;
        }

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++) {
                enum gpio_line_id id = (enum gpio_line_id) i;

                if (!lines[i])
                        continue;
                (void) snprintf(b->line_desc[i], sizeof(b->line_desc[i]), "%s", lines[i]->name);

                errno = 0;
                b->lines[i] = gpio_find_line(b, id, lines[i]->name, &r);
                if (!b->lines[i])
                        goto fail;

                /* libgpiod v1 hands out one object per offset: equal pointers = same pin. */
                for (unsigned j = 0; j < i; j++)
                        if (b->lines[j] == b->lines[i]) {
                                b->lines[i] = NULL;
                                r = gpio_fail(EINVAL,
                                              "GPIO %s and %s lines are the same pin ('%s' and "
                                              "'%s' on chip '%s'); fix [gpio] %s",
                                              gpio_line_to_string((enum gpio_line_id) j),
                                              gpio_line_to_string(id), b->line_desc[j],
                                              b->line_desc[i], b->chip_desc, gpio_config_key(id));
                                goto fail;
                        }

                r = gpio_request_line(b, id, b->lines[i], lines[i]->active_low);
                if (r < 0)
                        goto fail;
        }

        *out = (struct gpio_backend) { .ops = &gpio_libgpiod_ops, .data = b };
        return 0;

fail:
        gpio_libgpiod_close(b);
        return r;
}
