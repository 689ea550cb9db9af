/* gpio-chip.c - matches [gpio] chip against the chips found and words the errors that list them
 * (gpio-chip.h). Pure: no I/O, no logging; the same rules for the libgpiod 1 and 2 backends. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio-chip.h"
#include "gpio-line.h"

#define CHIP_PREFIX "gpiochip"

/* Paths and names are unique (one directory entry each). */
static int match_unique(const char *want, const struct gpio_chip_info *chips, size_t n,
                        bool by_path, size_t *ret_index)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(by_path ? chips[i].path : chips[i].name, want) == 0) {
                        *ret_index = i;
                        return 0;
                }
        return -ENOENT;
}

int gpio_chip_match(const char *want, const struct gpio_chip_info *chips, size_t n,
                    size_t *ret_index, size_t *ret_other)
{
        size_t found = SIZE_MAX, unreadable = SIZE_MAX;
        char name[sizeof(chips->name)];
        unsigned number;

        if (!*want)
                return -ENOENT;

        /* A path never names a label or a name: no surprises when /dev/gpiochip9 is missing. */
        if (strchr(want, '/'))
                return match_unique(want, chips, n, true, ret_index);

        /* "0", "007" and "gpiochip0" are the same chip (gpiod_chip_open_lookup() of libgpiod 1 took
         * all three); none is ever taken for a label. A number parses as a line offset does. */
        if (gpio_line_parse_offset(want, &number) ||
            (strncmp(want, CHIP_PREFIX, strlen(CHIP_PREFIX)) == 0 &&
             gpio_line_parse_offset(want + strlen(CHIP_PREFIX), &number))) {
                (void) snprintf(name, sizeof(name), CHIP_PREFIX "%u", number);
                return match_unique(name, chips, n, false, ret_index);
        }

        /* A label is not unique by itself (two expanders of the same type share one): refuse to
         * guess which chip the module is wired to. */
        for (size_t i = 0; i < n; i++) {
                if (chips[i].error < 0) {
                        if (unreadable == SIZE_MAX)
                                unreadable = i;
                        continue;
                }
                if (strcmp(chips[i].label, want) != 0)
                        continue;
                if (found != SIZE_MAX) {
                        *ret_index = found;
                        if (ret_other)
                                *ret_other = i;
                        return -ENOTUNIQ;
                }
                found = i;
        }
        if (found != SIZE_MAX) {
                *ret_index = found;
                return 0;
        }

        /* The label may be on a chip we could not read: report why we could not, not "absent". */
        if (unreadable != SIZE_MAX) {
                *ret_index = unreadable;
                return chips[unreadable].error;
        }
        return -ENOENT;
}

/* Appends to a fixed buffer; remembers whether anything did not fit. */
struct text {
        char *buf;
        size_t size, len;
        bool full;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
        va_list ap;
        int k;

        if (t->full)
                return;
        va_start(ap, fmt);
        k = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
        va_end(ap);
        if (k < 0 || (size_t) k >= t->size - t->len) {
                t->full = true;
                t->len = t->size - 1;
                return;
        }
        t->len += (size_t) k;
}

static int text_end(struct text *t)
{
        static const char ellipsis[] = "...";

        if (!t->full)
                return 0;
        if (t->size >= sizeof(ellipsis))
                memcpy(t->buf + t->size - sizeof(ellipsis), ellipsis, sizeof(ellipsis));
        return -ENOBUFS;
}

static void add_list(struct text *t, const struct gpio_chip_info *chips, size_t n)
{
        if (n == 0)
                text_add(t, "none");
        for (size_t i = 0; i < n; i++) {
                const struct gpio_chip_info *c = &chips[i];

                if (c->error < 0)
                        text_add(t, "%s%s: %s (cannot open: %s)", i ? "; " : "", c->path,
                                 c->name, strerror(-c->error));
                else
                        text_add(t, "%s%s: %s [%s] (%u lines)", i ? "; " : "", c->path, c->name,
                                 c->label, c->num_lines);
        }
}

int gpio_chip_format_list(const struct gpio_chip_info *chips, size_t n, char *buf, size_t size)
{
        struct text t = { .buf = buf, .size = size };

        if (size == 0)
                return -ENOBUFS;
        buf[0] = '\0';
        add_list(&t, chips, n);
        return text_end(&t);
}

void gpio_chip_lookup_error(char *buf, size_t size, int r, const char *want,
                            const struct gpio_chip_info *chips, size_t n, size_t index, size_t other)
{
        struct text t = { .buf = buf, .size = size };

        if (size == 0)
                return;
        buf[0] = '\0';

        if (r == -ENOENT && n == 0)
                text_add(&t, "GPIO chip '%s' not found: there is no GPIO chip (/dev/gpiochip*) on "
                         "this system; check that the GPIO driver is loaded, or remove [gpio] chip "
                         "to reset the module by AT command only", want);
        else if (r == -ENOENT || index >= n) {
                text_add(&t, "GPIO chip '%s' not found; chips found: ", want);
                add_list(&t, chips, n);
                text_add(&t, "; set [gpio] chip to a path, name, number or label from this list "
                         "(see gpiodetect)");
        } else if (r == -ENOTUNIQ && other < n)
                text_add(&t, "GPIO chip label '%s' is ambiguous: %s (%s) and %s (%s) both carry "
                         "it; set [gpio] chip to the path or name of the chip wired to the module "
                         "(see gpiodetect)", want, chips[index].name, chips[index].path,
                         chips[other].name, chips[other].path);
        else if (r == -EACCES || r == -EPERM)
                text_add(&t, "Cannot open GPIO chip %s to find [gpio] chip '%s': %s; %s",
                         chips[index].path, want, strerror(-r), GPIO_ACCESS_HINT);
        else
                text_add(&t, "Cannot open GPIO chip %s to find [gpio] chip '%s': %s",
                         chips[index].path, want, strerror(r < 0 ? -r : EIO));
        (void) text_end(&t);
}
