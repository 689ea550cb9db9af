/* inhibit.c - logind Inhibit() calls for the upgrade window. The lock is the file descriptor
 * logind returns; closing it releases the lock. Requests in flight when the upgrade ends are
 * released as soon as their reply arrives. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "inhibit.h"
#include "log.h"

#define WHO "bc26d"
#define WHY "BC26 firmware upgrade in progress - do not power off"

struct lock {
        struct inhibit *owner;
        const char *what;
        int fd;                 /* -1: not held */
        sd_bus_slot *pending;   /* Inhibit() call in flight */
};

struct inhibit {
        sd_bus *bus;
        bool hold;
        bool logind_missing_logged;
        struct lock locks[2];
};

static void release(struct lock *l)
{
        if (l->fd >= 0) {
                close(l->fd);
                l->fd = -1;
                log_info("Released the logind %s inhibitor lock", l->what);
        }
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct lock *l = userdata;
        struct inhibit *in = l->owner;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int fd, r;

        l->pending = sd_bus_slot_unref(l->pending);
        if (e) {
                if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                    sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                        if (!in->logind_missing_logged)
                                log_notice("logind is not available (%s): the upgrade cannot block host shutdown or "
                                           "sleep; carrying on", e->message ? e->message : e->name);
                        in->logind_missing_logged = true;
                } else
                        log_warning("logind refused the %s inhibitor lock (%s: %s); the host may be shut down during "
                                    "the upgrade. Install the polkit rule that lets user bc26d take "
                                    "org.freedesktop.login1.inhibit-block-%s (see bc26d(8))",
                                    l->what, e->name, e->message ? e->message : "", l->what);
                return 0;
        }
        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0) {
                log_errno(LOG_WARNING, r, "Unexpected reply to logind Inhibit(%s)", l->what);
                return 0;
        }
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
                log_errno(LOG_WARNING, -errno, "Failed to keep the logind %s inhibitor lock", l->what);
                return 0;
        }
        l->fd = fd;
        if (!in->hold) {
                release(l);     /* the upgrade ended while we asked */
                return 0;
        }
        log_info("Holding a logind %s inhibitor lock (mode block) while the firmware upgrade runs", l->what);
        return 0;
}

static void take(struct inhibit *in, struct lock *l)
{
        int r;

        if (l->fd >= 0 || l->pending)
                return;
        r = sd_bus_call_method_async(in->bus, &l->pending, "org.freedesktop.login1", "/org/freedesktop/login1",
                                     "org.freedesktop.login1.Manager", "Inhibit", on_reply, l, "ssss",
                                     l->what, WHO, WHY, "block");
        if (r < 0)
                log_errno(LOG_WARNING, r, "Failed to ask logind for a %s inhibitor lock", l->what);
}

int inhibit_new(sd_bus *bus, struct inhibit **out)
{
        struct inhibit *in = calloc(1, sizeof(*in));

        if (!in)
                return -ENOMEM;
        in->bus = sd_bus_ref(bus);
        in->locks[0] = (struct lock) { in, "shutdown", -1, NULL };
        in->locks[1] = (struct lock) { in, "sleep", -1, NULL };
        *out = in;
        return 0;
}

struct inhibit *inhibit_free(struct inhibit *in)
{
        if (!in)
                return NULL;
        for (size_t i = 0; i < 2; i++) {
                in->locks[i].pending = sd_bus_slot_unref(in->locks[i].pending);
                release(&in->locks[i]);
        }
        sd_bus_unref(in->bus);
        free(in);
        return NULL;
}

void inhibit_set(struct inhibit *in, bool hold)
{
        if (!in || in->hold == hold)
                return;         /* act on changes only: a refused lock is not asked for again */
        in->hold = hold;
        for (size_t i = 0; i < 2; i++) {
                if (hold)
                        take(in, &in->locks[i]);
                else
                        release(&in->locks[i]);         /* a pending call is released on reply */
        }
}

int inhibit_held(const struct inhibit *in)
{
        return in ? (in->locks[0].fd >= 0) + (in->locks[1].fd >= 0) : 0;
}
