/* gpio-libgpiod2.c - the libgpiod 2.x backend (Debian 13 ships 2.2.1): finds the chip
 * (gpio-chipdir.c: 2.x has no gpiod_chip_open_lookup()), requests each configured line as an
 * output at its inactive level, drives it. With gpio-libgpiod1.c the only files that call
 * libgpiod; configure builds the one whose API the system's libgpiod has (they are incompatible). */
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

#if LIBGPIOD_API != 2
#error "gpio-libgpiod2.c is the libgpiod 2.x backend; configure chose another API"
#endif

#define GPIO_CONSUMER "bc26d" /* shown by gpioinfo next to our lines */

struct gpio_libgpiod2 {
        struct gpiod_chip *chip;
        char chip_desc[128];                            /* "gpiochip0 [pinctrl-bcm2711]" */
        unsigned num_lines;
        /* One request per line, so an error names the line; NULL: not configured. */
        struct gpiod_line_request *requests[_GPIO_LINE_MAX];
        unsigned offsets[_GPIO_LINE_MAX];
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

static int errno_or_eio(void)
{
        return errno > 0 ? errno : EIO;
}

/* gpio_chip_read_info_t for gpio-chipdir.c. */
static int gpio_read_chip_info(const char *path, struct gpio_chip_info *info)
{
        struct gpiod_chip_info *ci;
        struct gpiod_chip *chip;
        const char *name, *label;
        size_t n;
        int r = 0;

        errno = 0;
        chip = gpiod_chip_open(path);
        if (!chip)
                return -errno_or_eio();

        errno = 0;
        ci = gpiod_chip_get_info(chip);
        if (!ci) {
                r = -errno_or_eio();
                goto out;
        }
        name = gpiod_chip_info_get_name(ci);
        if (name && *name)      /* the same as the file name in /dev, from the kernel */
                (void) snprintf(info->name, sizeof(info->name), "%s", name);
        label = gpiod_chip_info_get_label(ci);
        (void) snprintf(info->label, sizeof(info->label), "%s", label ? label : "");
        n = gpiod_chip_info_get_num_lines(ci);
        info->num_lines = n > UINT_MAX ? UINT_MAX : (unsigned) n;
        gpiod_chip_info_free(ci);
out:
        gpiod_chip_close(chip);
        return r;
}

static int gpio_find_offset(struct gpio_libgpiod2 *b, enum gpio_line_id id)
{
        const char *desc = b->line_desc[id];
        unsigned offset;
        int k;

        if (gpio_line_parse_offset(desc, &offset)) {
                if (offset >= b->num_lines)
                        return gpio_fail(EINVAL,
                                         "GPIO %s line offset %u is out of range: chip %s has %u "
                                         "lines (0..%u); check [gpio] %s (see gpioinfo)",
                                         gpio_line_to_string(id), offset, b->chip_desc,
                                         b->num_lines, b->num_lines ? b->num_lines - 1 : 0,
                                         gpio_line_config_key(id));
                b->offsets[id] = offset;
                return 0;
        }

        errno = 0;
        k = gpiod_chip_get_line_offset_from_name(b->chip, desc);
        if (k >= 0) {
                b->offsets[id] = (unsigned) k;
                return 0;
        }
        if (errno == ENOENT || errno == 0)
                return gpio_fail(ENOENT, "GPIO %s line '%s' not found on chip %s; check [gpio] %s "
                                 "(an offset 0..%u or a line name; see gpioinfo)",
                                 gpio_line_to_string(id), desc, b->chip_desc,
                                 gpio_line_config_key(id), b->num_lines ? b->num_lines - 1 : 0);
        return gpio_fail(errno, "Failed to look up GPIO %s line '%s' on chip %s: %m",
                         gpio_line_to_string(id), desc, b->chip_desc);
}

/* Our request failed with EBUSY: say who holds the line (what gpioinfo shows as consumer). */
static int gpio_busy_error(struct gpio_libgpiod2 *b, enum gpio_line_id id)
{
        struct gpiod_line_info *info;
        char consumer[64] = "";

        info = gpiod_chip_get_line_info(b->chip, b->offsets[id]);
        if (info) {
                const char *c = gpiod_line_info_get_consumer(info);

                if (gpiod_line_info_is_used(info) && c)
                        (void) snprintf(consumer, sizeof(consumer), "%s", c);
                gpiod_line_info_free(info);
        }

        return gpio_fail(EBUSY, "GPIO %s line '%s' (offset %u) on chip %s is already in use by "
                         "'%s'; stop that user (see gpioinfo) or choose another [gpio] %s",
                         gpio_line_to_string(id), b->line_desc[id], b->offsets[id], b->chip_desc,
                         consumer[0] ? consumer : "the kernel or another process",
                         gpio_line_config_key(id));
}

static int gpio_request_line(struct gpio_libgpiod2 *b, enum gpio_line_id id, bool active_low)
{
        struct gpiod_line_settings *settings = NULL;
        struct gpiod_line_config *line_cfg = NULL;
        struct gpiod_request_config *req_cfg = NULL;
        int err, r = -ENOMEM;

        settings = gpiod_line_settings_new();
        line_cfg = gpiod_line_config_new();
        req_cfg = gpiod_request_config_new();
        if (!settings || !line_cfg || !req_cfg)
                goto out;

        /* Output from the start, at the inactive level (the kernel inverts it for active-low
         * lines), so RESET_N/PWRKEY never float or glitch (gpio.h). */
        gpiod_line_settings_set_active_low(settings, active_low);
        if (gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_OUTPUT) < 0 ||
            gpiod_line_settings_set_output_value(settings, GPIOD_LINE_VALUE_INACTIVE) < 0 ||
            gpiod_line_config_add_line_settings(line_cfg, &b->offsets[id], 1, settings) < 0) {
                r = gpio_fail(errno_or_eio(), "Failed to set up the request of GPIO %s line '%s' "
                              "on chip %s: %m", gpio_line_to_string(id), b->line_desc[id],
                              b->chip_desc);
                goto out;
        }
        gpiod_request_config_set_consumer(req_cfg, GPIO_CONSUMER);

        errno = 0;
        b->requests[id] = gpiod_chip_request_lines(b->chip, req_cfg, line_cfg);
        if (b->requests[id]) {
                r = 0;
                goto out;
        }

        err = errno_or_eio();
        switch (err) {
        case EBUSY:
                r = gpio_busy_error(b, id);
                break;
        case EACCES:
        case EPERM:
                r = gpio_fail(err, "Failed to request GPIO %s line '%s' on chip %s: %m; %s",
                              gpio_line_to_string(id), b->line_desc[id], b->chip_desc,
                              GPIO_ACCESS_HINT);
                break;
        default:
                r = gpio_fail(err, "Failed to request GPIO %s line '%s' on chip %s as output: %m",
                              gpio_line_to_string(id), b->line_desc[id], b->chip_desc);
                break;
        }

out:
        gpiod_request_config_free(req_cfg);
        gpiod_line_config_free(line_cfg);
        gpiod_line_settings_free(settings);
        return r;
}

static int gpio_libgpiod2_set(void *data, enum gpio_line_id id, bool active)
{
        struct gpio_libgpiod2 *b = data;

        /* Logical value: requested active-low, ACTIVE drives the line low. */
        errno = 0;
        if (gpiod_line_request_set_value(b->requests[id], b->offsets[id],
                                         active ? GPIOD_LINE_VALUE_ACTIVE :
                                                  GPIOD_LINE_VALUE_INACTIVE) < 0)
                return gpio_fail(errno_or_eio(),
                                 "Failed to drive GPIO %s line '%s' on chip %s %s: %m",
                                 gpio_line_to_string(id), b->line_desc[id], b->chip_desc,
                                 active ? "active" : "inactive");
        return 0;
}

static void gpio_libgpiod2_close(void *data)
{
        struct gpio_libgpiod2 *b = data;

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++)
                if (b->requests[i])
                        gpiod_line_request_release(b->requests[i]);
        if (b->chip)
                gpiod_chip_close(b->chip);
        free(b);
}

static const struct gpio_backend_ops gpio_libgpiod2_ops = {
        .name = "libgpiod 2",
        .set = gpio_libgpiod2_set,
        .close = gpio_libgpiod2_close,
};

int gpio_hw_open(const char *chip, const struct gpio_line_request *const lines[_GPIO_LINE_MAX],
                 struct gpio_backend *out)
{
        struct gpio_chip_info info;
        struct gpio_libgpiod2 *b;
        int r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;

        r = gpio_chip_find(GPIO_CHIP_DIR, chip, gpio_read_chip_info, &info);
        if (r < 0)
                goto fail;
        (void) snprintf(b->chip_desc, sizeof(b->chip_desc), "%s [%s]", info.name, info.label);
        b->num_lines = info.num_lines;

        errno = 0;
        b->chip = gpiod_chip_open(info.path);
        if (!b->chip) {
                r = errno_or_eio();
                if (r == EACCES || r == EPERM)
                        r = gpio_fail(r, "Failed to open GPIO chip %s (%s): %m; %s", b->chip_desc,
                                      info.path, GPIO_ACCESS_HINT);
                else
                        r = gpio_fail(r, "Failed to open GPIO chip %s (%s): %m", b->chip_desc,
                                      info.path);
                goto fail;
        }

        /* Find every line before requesting any, so a wrong pwrkey_line holds nothing. */
        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++) {
                enum gpio_line_id id = (enum gpio_line_id) i;

                if (!lines[i])
                        continue;
                (void) snprintf(b->line_desc[i], sizeof(b->line_desc[i]), "%s", lines[i]->name);

                r = gpio_find_offset(b, id);
                if (r < 0)
                        goto fail;

                for (unsigned j = 0; j < i; j++)
                        if (lines[j] && b->offsets[j] == b->offsets[i]) {
                                r = gpio_fail(EINVAL,
                                              "GPIO %s and %s lines are the same pin (offset %u: "
                                              "'%s' and '%s' on chip %s); fix [gpio] %s or %s",
                                              gpio_line_to_string((enum gpio_line_id) j),
                                              gpio_line_to_string(id), b->offsets[i],
                                              b->line_desc[j], b->line_desc[i], b->chip_desc,
                                              gpio_line_config_key((enum gpio_line_id) j),
                                              gpio_line_config_key(id));
                                goto fail;
                        }
        }

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++) {
                if (!lines[i])
                        continue;
                r = gpio_request_line(b, (enum gpio_line_id) i, lines[i]->active_low);
                if (r < 0)
                        goto fail;
        }

        log_debug("GPIO chip %s (%s) opened through libgpiod %s", b->chip_desc, info.path,
                  gpiod_api_version());
        *out = (struct gpio_backend) { .ops = &gpio_libgpiod2_ops, .data = b };
        return 0;

fail:
        gpio_libgpiod2_close(b);
        return r;
}
