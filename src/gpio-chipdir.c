/* gpio-chipdir.c - lists the GPIO chips in a directory (/dev) and finds the configured one
 * (gpio-chipdir.h); libgpiod 2 has no gpiod_chip_open_lookup(), and both backends share this so
 * [gpio] chip means the same with either. Reads chips only through the backend's callback. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio-chipdir.h"
#include "log.h"

#define CHIP_PREFIX "gpiochip"

/* "gpiochip<digits>": the character devices the GPIO subsystem creates, and nothing else. */
static bool chip_number(const char *name, unsigned long *ret)
{
        const char *p = name + strlen(CHIP_PREFIX);
        unsigned long v;
        char *end;

        if (strncmp(name, CHIP_PREFIX, strlen(CHIP_PREFIX)) != 0 || *p < '0' || *p > '9')
                return false;
        errno = 0;
        v = strtoul(p, &end, 10);
        if (errno != 0 || *end != '\0')
                return false;
        *ret = v;
        return true;
}

static int chip_filter(const struct dirent *d)
{
        unsigned long n;

        return chip_number(d->d_name, &n);
}

static int chip_compare(const struct dirent **a, const struct dirent **b)
{
        unsigned long na = 0, nb = 0;

        (void) chip_number((*a)->d_name, &na);
        (void) chip_number((*b)->d_name, &nb);
        return na < nb ? -1 : na > nb;
}

int gpio_chip_scan(const char *dir, gpio_chip_read_info_t read_info, struct gpio_chip_info **ret,
                   size_t *ret_n)
{
        struct gpio_chip_info *chips = NULL;
        struct dirent **entries = NULL;
        size_t n = 0;
        int k, r = 0;

        *ret = NULL;
        *ret_n = 0;

        k = scandir(dir, &entries, chip_filter, chip_compare);
        if (k < 0)
                return errno == ENOENT ? 0 : -errno;
        if (k == 0)
                goto out;

        chips = calloc((size_t) k, sizeof(*chips));
        if (!chips) {
                r = -ENOMEM;
                goto out;
        }

        for (int i = 0; i < k; i++) {
                const char *name = entries[i]->d_name;
                struct gpio_chip_info *c = &chips[n];
                int len, q;

                *c = (struct gpio_chip_info) { 0 };
                len = snprintf(c->path, sizeof(c->path), "%s/%s", dir, name);
                if (len < 0 || (size_t) len >= sizeof(c->path) || strlen(name) >= sizeof(c->name))
                        continue; /* not a name the kernel gives a chip */
                memcpy(c->name, name, strlen(name) + 1);

                q = read_info(c->path, c);
                if (q == -ENODEV || q == -ENOTTY)
                        continue;
                if (q < 0) {
                        c->error = q;
                        c->label[0] = '\0';
                        c->num_lines = 0;
                }
                n++;
        }

out:
        for (int i = 0; i < k; i++)
                free(entries[i]);
        free(entries);
        if (r < 0 || n == 0) {
                free(chips);
                return r;
        }
        *ret = chips;
        *ret_n = n;
        return 0;
}

int gpio_chip_find(const char *dir, const char *want, gpio_chip_read_info_t read_info,
                   struct gpio_chip_info *ret)
{
        struct gpio_chip_info *chips = NULL;
        char canonical[PATH_MAX], message[2048];
        const char *key = want;
        size_t n = 0, index = 0, other = 0;
        int r;

        /* "/dev/gpiochip-modem" (a udev symlink) is the chip it points to. A path that does not
         * resolve stays as written: it matches nothing and the error lists what exists. */
        if (strchr(want, '/') && realpath(want, canonical))
                key = canonical;

        r = gpio_chip_scan(dir, read_info, &chips, &n);
        if (r < 0)
                return log_errno(LOG_ERR, r, "Failed to list the GPIO chips in %s to find [gpio] "
                                 "chip '%s'", dir, want);

        r = gpio_chip_match(key, chips, n, &index, &other);
        if (r == 0 && chips[index].error < 0)
                r = chips[index].error;
        if (r < 0) {
                gpio_chip_lookup_error(message, sizeof(message), r, want, chips, n, index, other);
                log_error("%s", message);
                goto out;
        }

        *ret = chips[index];
        log_debug("[gpio] chip '%s' is %s [%s] (%u lines) at %s", want, ret->name, ret->label,
                  ret->num_lines, ret->path);
out:
        free(chips);
        return r;
}
