/* gpio-fake.c - test backend: records every level driven as "<boottime_usec> <line> <level>"
 * lines in the file named by $BC26D_TEST_FAKE_GPIO. Never touches hardware or libgpiod. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "gpio-backend.h"
#include "log.h"

struct gpio_fake {
        int fd;
        char path[4096];
};

static int gpio_fake_set(void *data, enum gpio_line_id id, bool active)
{
        struct gpio_fake *f = data;
        char line[64];
        ssize_t k;
        int n;

        n = snprintf(line, sizeof(line), "%" PRIu64 " %s %s\n", clock_boottime_usec(),
                     gpio_line_to_string(id), active ? "active" : "inactive");
        if (n < 0 || (size_t) n >= sizeof(line))
                return -EOVERFLOW;

        /* One write(2) on an O_APPEND fd: the line lands whole and is visible to the test at
         * once (no stdio buffer to flush). */
        do
                k = write(f->fd, line, (size_t) n);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return log_errno(LOG_ERR, -errno, "Failed to record fake GPIO %s in %s",
                                 gpio_line_to_string(id), f->path);
        if (k != n)
                return log_errno(LOG_ERR, -EIO, "Short write recording fake GPIO %s in %s",
                                 gpio_line_to_string(id), f->path);

        return 0;
}

static void gpio_fake_close(void *data)
{
        struct gpio_fake *f = data;

        (void) close(f->fd);
        free(f);
}

static const struct gpio_backend_ops gpio_fake_ops = {
        .name = "fake",
        .set = gpio_fake_set,
        .close = gpio_fake_close,
};

int gpio_fake_open(const char *path, const struct gpio_line_request *const lines[_GPIO_LINE_MAX],
                   struct gpio_backend *out)
{
        struct gpio_fake *f;
        int n;

        /* Which lines exist is gpio.c's business (it never calls set() for a missing one). */
        (void) lines;

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;

        n = snprintf(f->path, sizeof(f->path), "%s", path);
        if (n < 0 || (size_t) n >= sizeof(f->path)) {
                free(f);
                return log_errno(LOG_ERR, -ENAMETOOLONG, "Fake GPIO file name too long");
        }

        /* Lines start inactive, as a real request would leave them: nothing is recorded yet. */
        f->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (f->fd < 0) {
                int r = -errno;

                free(f);
                return log_errno(LOG_ERR, r, "Failed to open fake GPIO file %s", path);
        }

        *out = (struct gpio_backend) { .ops = &gpio_fake_ops, .data = f };
        return 0;
}
