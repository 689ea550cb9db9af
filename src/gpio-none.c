/* gpio-none.c - the chip backend of a build without libgpiod (configure --without-libgpiod):
 * bc26d resets the module by AT command only, and a configured [gpio] chip is refused at start-up
 * with what to do, rather than silently ignored. */
#include <errno.h>

#include "gpio-backend.h"
#include "log.h"

int gpio_hw_open(const char *chip, const struct gpio_line_request *const lines[_GPIO_LINE_MAX],
                 struct gpio_backend *out)
{
        (void) lines;
        (void) out;
        log_error("[gpio] chip '%s' is configured, but bc26d was built without libgpiod "
                  "(--without-libgpiod); remove the [gpio] section to use AT reset only, or "
                  "rebuild with libgpiod", chip);
        return -EOPNOTSUPP;
}
