/* gpio-libgpiod1.c - the libgpiod 1.x backend (Debian 12 and Raspberry Pi OS bookworm ship 1.6.3):
 * finds the chip (gpio-chipdir.c), requests each configured line as an output at its inactive
 * level, drives it. With gpio-libgpiod2.c the only files that call libgpiod; configure builds the
 * one whose API the system's libgpiod has (they are incompatible). */
#include <errno.h>
#include <gpiod.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio-backend.h"
#include "gpio-chipdir.h"
#include "log.h"

#if LIBGPIOD_API != 1
#error "gpio-libgpiod1.c is the libgpiod 1.x backend; configure chose another API"
#endif

#define GPIO_CONSUMER "bc26d" /* shown by gpioinfo next to our lines */

struct gpio_libgpiod1 {
        struct gpiod_chip *chip;
        char chip_desc[128];                            /* "gpiochip0 [pinctrl-bcm2711]" */
        unsigned num_lines;
        struct gpiod_line *lines[_GPIO_LINE_MAX];       /* NULL: not configured */
        char line_desc[_GPIO_LINE_MAX][64];             /* as configured, for messages */
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

/* gpio_chip_read_info_t for gpio-chipdir.c. */
static int gpio_read_chip_info(const char *path, struct gpio_chip_info *info)
{
        struct gpiod_chip *chip;
        const char *name, *label;

        errno = 0;
        chip = gpiod_chip_open(path);
        if (!chip)
                return errno > 0 ? -errno : -EIO;

        name = gpiod_chip_name(chip);
        if (name && *name)      /* the same as the file name in /dev, from the kernel */
                (void) snprintf(info->name, sizeof(info->name), "%s", name);
        label = gpiod_chip_label(chip);
        (void) snprintf(info->label, sizeof(info->label), "%s", label ? label : "");
        info->num_lines = gpiod_chip_num_lines(chip);
        gpiod_chip_close(chip);
        return 0;
}

static struct gpiod_line *gpio_find_line(struct gpio_libgpiod1 *b, enum gpio_line_id id, int *err)
{
        const char *desc = b->line_desc[id];
        struct gpiod_line *line;
        unsigned offset;

        errno = 0;
        if (gpio_line_parse_offset(desc, &offset)) {
                if (offset >= b->num_lines) {
                        *err = gpio_fail(EINVAL,
                                         "GPIO %s line offset %u is out of range: chip %s has %u "
                                         "lines (0..%u); check [gpio] %s (see gpioinfo)",
                                         gpio_line_to_string(id), offset, b->chip_desc,
                                         b->num_lines, b->num_lines - 1, gpio_line_config_key(id));
                        return NULL;
                }
                line = gpiod_chip_get_line(b->chip, offset);
        } else {
                line = gpiod_chip_find_line(b->chip, desc);
        }
        if (line)
                return line;

        /* find_line() sets ENOENT for "no such name on this chip". */
        if (errno == ENOENT || errno == 0)
                *err = gpio_fail(ENOENT, "GPIO %s line '%s' not found on chip %s; check [gpio] %s "
                                 "(an offset 0..%u or a line name; see gpioinfo)",
                                 gpio_line_to_string(id), desc, b->chip_desc,
                                 gpio_line_config_key(id), b->num_lines ? b->num_lines - 1 : 0);
        else
                *err = gpio_fail(errno, "Failed to look up GPIO %s line '%s' on chip %s: %m",
                                 gpio_line_to_string(id), desc, b->chip_desc);
        return NULL;
}

static int gpio_request_line(struct gpio_libgpiod1 *b, enum gpio_line_id id, bool active_low)
{
        struct gpiod_line *line = b->lines[id];
        const char *consumer;
        int err;

        /* Output from the start, at the inactive level (logical 0; the kernel inverts it for
         * active-low lines), so RESET_N/PWRKEY never float or glitch (gpio.h). */
        errno = 0;
        if (gpiod_line_request_output_flags(line, GPIO_CONSUMER,
                                            active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0,
                                            0) == 0)
                return 0;

        err = errno > 0 ? errno : EIO;
        switch (err) {
        case EBUSY:
                /* The line's info was read when we got it: it names the holder. */
                consumer = gpiod_line_consumer(line);
                return gpio_fail(err, "GPIO %s line '%s' (offset %u) on chip %s is already in use "
                                 "by '%s'; stop that user (see gpioinfo) or choose another "
                                 "[gpio] %s", gpio_line_to_string(id), b->line_desc[id],
                                 gpiod_line_offset(line), b->chip_desc,
                                 consumer && *consumer ? consumer : "the kernel or another process",
                                 gpio_line_config_key(id));
        case EACCES:
        case EPERM:
                return gpio_fail(err, "Failed to request GPIO %s line '%s' on chip %s: %m; %s",
                                 gpio_line_to_string(id), b->line_desc[id], b->chip_desc,
                                 GPIO_ACCESS_HINT);
        default:
                return gpio_fail(err, "Failed to request GPIO %s line '%s' on chip %s as output: "
                                 "%m", gpio_line_to_string(id), b->line_desc[id], b->chip_desc);
        }
}

static int gpio_libgpiod1_set(void *data, enum gpio_line_id id, bool active)
{
        struct gpio_libgpiod1 *b = data;

        /* Logical value: with GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW, 1 drives the line low. */
        errno = 0;
        if (gpiod_line_set_value(b->lines[id], active ? 1 : 0) < 0)
                return gpio_fail(errno > 0 ? errno : EIO,
                                 "Failed to drive GPIO %s line '%s' on chip %s %s: %m",
                                 gpio_line_to_string(id), b->line_desc[id], b->chip_desc,
                                 active ? "active" : "inactive");
        return 0;
}

static void gpio_libgpiod1_close(void *data)
{
        struct gpio_libgpiod1 *b = data;

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++)
                if (b->lines[i] && gpiod_line_is_requested(b->lines[i]))
                        gpiod_line_release(b->lines[i]);
        if (b->chip)
                gpiod_chip_close(b->chip);
        free(b);
}

static const struct gpio_backend_ops gpio_libgpiod1_ops = {
        .name = "libgpiod 1",
        .set = gpio_libgpiod1_set,
        .close = gpio_libgpiod1_close,
};

int gpio_hw_open(const char *chip, const struct gpio_line_request *const lines[_GPIO_LINE_MAX],
                 struct gpio_backend *out)
{
        struct gpio_chip_info info;
        struct gpio_libgpiod1 *b;
        int r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;

        /* Not gpiod_chip_open_lookup(): the same matching as the libgpiod 2 backend, with an
         * error that lists the chips found (gpio-chipdir.c). */
        r = gpio_chip_find(GPIO_CHIP_DIR, chip, gpio_read_chip_info, &info);
        if (r < 0)
                goto fail;
        (void) snprintf(b->chip_desc, sizeof(b->chip_desc), "%s [%s]", info.name, info.label);

        errno = 0;
        b->chip = gpiod_chip_open(info.path);
        if (!b->chip) {
                r = -(errno > 0 ? errno : EIO);
                if (r == -EACCES || r == -EPERM)
                        r = gpio_fail(-r, "Failed to open GPIO chip %s (%s): %m; %s", b->chip_desc,
                                      info.path, GPIO_ACCESS_HINT);
                else
                        r = gpio_fail(-r, "Failed to open GPIO chip %s (%s): %m", b->chip_desc,
                                      info.path);
                goto fail;
        }
        b->num_lines = gpiod_chip_num_lines(b->chip);

        /* Find every line before requesting any, so a wrong pwrkey_line holds nothing. */
        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++) {
                enum gpio_line_id id = (enum gpio_line_id) i;

                if (!lines[i])
                        continue;
                (void) snprintf(b->line_desc[i], sizeof(b->line_desc[i]), "%s", lines[i]->name);

                b->lines[i] = gpio_find_line(b, id, &r);
                if (!b->lines[i])
                        goto fail;

                /* libgpiod 1 hands out one object per offset: equal pointers = same pin. */
                for (unsigned j = 0; j < i; j++)
                        if (b->lines[j] == b->lines[i]) {
                                r = gpio_fail(EINVAL,
                                              "GPIO %s and %s lines are the same pin (offset %u: "
                                              "'%s' and '%s' on chip %s); fix [gpio] %s or %s",
                                              gpio_line_to_string((enum gpio_line_id) j),
                                              gpio_line_to_string(id),
                                              gpiod_line_offset(b->lines[i]), b->line_desc[j],
                                              b->line_desc[i], b->chip_desc,
                                              gpio_line_config_key((enum gpio_line_id) j),
                                              gpio_line_config_key(id));
                                b->lines[i] = NULL;
                                goto fail;
                        }
        }

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++) {
                if (!b->lines[i])
                        continue;
                r = gpio_request_line(b, (enum gpio_line_id) i, lines[i]->active_low);
                if (r < 0)
                        goto fail;
        }

        log_debug("GPIO chip %s (%s) opened through libgpiod %s", b->chip_desc, info.path,
                  gpiod_version_string());
        *out = (struct gpio_backend) { .ops = &gpio_libgpiod1_ops, .data = b };
        return 0;

fail:
        gpio_libgpiod1_close(b);
        return r;
}
