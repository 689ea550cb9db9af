/* gpio.c - dispatch of the RESET_N/PWRKEY lines to a backend (fake for tests, libgpiod v1), line
 * presence and last driven level. No libgpiod calls here (see gpio-libgpiod.c). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "gpio-backend.h"
#include "gpio.h"
#include "log.h"

struct gpio {
        struct gpio_backend backend;
        bool present[_GPIO_LINE_MAX];
        bool active_low[_GPIO_LINE_MAX];        /* applied by the backend; kept for logs */
        bool active[_GPIO_LINE_MAX];            /* last logical level driven */
};

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

static bool gpio_line_id_valid(enum gpio_line_id id)
{
        return (unsigned) id < _GPIO_LINE_MAX;
}

int gpio_open(const struct config *cfg, struct gpio **out)
{
        const struct gpio_line_config *lines[_GPIO_LINE_MAX] = {
                [GPIO_LINE_RESET] = cfg->reset.name[0] ? &cfg->reset : NULL,
                [GPIO_LINE_PWRKEY] = cfg->pwrkey.name[0] ? &cfg->pwrkey : NULL,
        };
        const char *fake = getenv(GPIO_FAKE_ENV);
        struct gpio *g;
        int r;

        *out = NULL;

        if (!fake || !*fake) {
                if (!cfg->gpio_chip[0])
                        return 0; /* no [gpio] chip: AT reset only */
        }

        /* A chip with no line to drive is no GPIO at all: nothing to request or hold. The same
         * holds for the fake, which provides exactly the configured lines. */
        if (!lines[GPIO_LINE_RESET] && !lines[GPIO_LINE_PWRKEY]) {
                if (cfg->gpio_chip[0])
                        log_warning("[gpio] chip '%s' is set but neither reset_line nor "
                                    "pwrkey_line is; not using GPIO", cfg->gpio_chip);
                return 0;
        }

        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++) {
                g->present[i] = lines[i] != NULL;
                g->active_low[i] = lines[i] && lines[i]->active_low;
        }

        if (fake && *fake) {
                /* Test seam (gpio.h): overrides the configured chip, never used in production. */
                log_notice("Using the fake GPIO backend, recording to %s ($%s)", fake,
                           GPIO_FAKE_ENV);
                r = gpio_fake_open(fake, lines, &g->backend);
        } else {
#ifdef HAVE_LIBGPIOD
                r = gpio_libgpiod_open(cfg->gpio_chip, lines, &g->backend);
#else
                log_error("[gpio] chip '%s' is configured, but bc26d was built without libgpiod "
                          "(--without-libgpiod); remove the [gpio] section to use AT reset only, "
                          "or rebuild with libgpiod", cfg->gpio_chip);
                r = -EOPNOTSUPP;
#endif
        }
        if (r < 0) {
                free(g);
                return r;
        }

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++)
                if (g->present[i])
                        log_debug("GPIO %s line '%s' requested (%s), inactive",
                                  gpio_line_to_string((enum gpio_line_id) i), lines[i]->name,
                                  g->active_low[i] ? "active low" : "active high");

        *out = g;
        return 0;
}

struct gpio *gpio_close(struct gpio *g)
{
        if (!g)
                return NULL;

        /* Never leave the module held in reset or with PWRKEY pressed once we stop holding the
         * line: what a released line does is up to the GPIO driver. */
        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++)
                if (g->present[i] && g->active[i]) {
                        log_warning("GPIO %s line still active at close, driving it inactive",
                                    gpio_line_to_string((enum gpio_line_id) i));
                        (void) g->backend.ops->set(g->backend.data, (enum gpio_line_id) i, false);
                }

        g->backend.ops->close(g->backend.data);
        free(g);
        return NULL;
}

bool gpio_has_line(const struct gpio *g, enum gpio_line_id id)
{
        return g && gpio_line_id_valid(id) && g->present[id];
}

int gpio_set(struct gpio *g, enum gpio_line_id id, bool active)
{
        int r;

        if (!gpio_line_id_valid(id))
                return -EINVAL;
        /* -ENODEV: no GPIO, or this line is not configured; callers fall back to AT commands. */
        if (!gpio_has_line(g, id))
                return -ENODEV;

        r = g->backend.ops->set(g->backend.data, id, active);
        if (r < 0)
                return r;

        g->active[id] = active;
        return 0;
}
