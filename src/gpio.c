/* gpio.c - dispatch of the RESET_N/PWRKEY lines to a backend (gpio-backend.h: the fake for tests,
 * else this build's chip backend), line presence and last driven level. No libgpiod here. */
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

static bool gpio_line_id_valid(enum gpio_line_id id)
{
        return (unsigned) id < _GPIO_LINE_MAX;
}

int gpio_open(const struct config *cfg, struct gpio **out)
{
        const struct gpio_line_config *conf[_GPIO_LINE_MAX] = {
                [GPIO_LINE_RESET] = &cfg->reset,
                [GPIO_LINE_PWRKEY] = &cfg->pwrkey,
        };
        struct gpio_line_request req[_GPIO_LINE_MAX];
        const struct gpio_line_request *lines[_GPIO_LINE_MAX];
        const char *fake = getenv(GPIO_FAKE_ENV);
        struct gpio *g;
        int r;

        *out = NULL;

        /* Backends see only what they request (gpio-backend.h), not the config. */
        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++) {
                req[i] = (struct gpio_line_request) { .name = conf[i]->name,
                                                      .active_low = conf[i]->active_low };
                lines[i] = conf[i]->name[0] ? &req[i] : NULL;
        }

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
                r = gpio_hw_open(cfg->gpio_chip, lines, &g->backend);
        }
        if (r < 0) {
                free(g);
                return r;
        }

        for (unsigned i = 0; i < _GPIO_LINE_MAX; i++)
                if (g->present[i])
                        log_debug("GPIO %s line '%s' requested through %s (%s), inactive",
                                  gpio_line_to_string((enum gpio_line_id) i), lines[i]->name,
                                  g->backend.ops->name,
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
