/* mock-logind.c - a stand-in for systemd-logind on a private test bus: Inhibit(ssss) returns the
 * write end of a pipe and logs "inhibit what=... who=... mode=... why=..."; when every copy of
 * that end is closed (the lock released) it logs "release what=...". ListInhibitors() lists the
 * locks still held. Usage: mock-logind LOGFILE (bus from $DBUS_SYSTEM_BUS_ADDRESS). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define LOCKS_MAX 64

struct lock {
        char what[64], who[64], why[256], mode[32];
        sd_event_source *source;
        bool used;
};

static struct lock locks[LOCKS_MAX];
static FILE *log_file;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vfprintf(log_file, fmt, ap);
        va_end(ap);
        fflush(log_file);
}

static int on_release(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct lock *l = userdata;
        char buf[64];

        if (read(fd, buf, sizeof(buf)) > 0)
                return 0;
        say("release what=%s who=%s\n", l->what, l->who);
        l->source = sd_event_source_disable_unref(l->source);
        close(fd);
        l->used = false;
        return 0;
}

static int method_inhibit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *what, *who, *why, *mode;
        struct lock *l = NULL;
        int fds[2], r;

        r = sd_bus_message_read(m, "ssss", &what, &who, &why, &mode);
        if (r < 0)
                return r;
        for (size_t i = 0; i < LOCKS_MAX && !l; i++)
                if (!locks[i].used)
                        l = &locks[i];
        if (!l)
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "too many locks");
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        snprintf(l->what, sizeof(l->what), "%s", what);
        snprintf(l->who, sizeof(l->who), "%s", who);
        snprintf(l->why, sizeof(l->why), "%s", why);
        snprintf(l->mode, sizeof(l->mode), "%s", mode);
        r = sd_event_add_io(sd_bus_get_event(sd_bus_message_get_bus(m)), &l->source, fds[0], EPOLLIN, on_release, l);
        if (r < 0)
                return r;
        l->used = true;
        fprintf(log_file, "inhibit what=%s who=%s mode=%s why=%s\n", what, who, mode, why);
        fflush(log_file);
        r = sd_bus_reply_method_return(m, "h", fds[1]);
        close(fds[1]);
        return r;
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssssuu)");
        for (size_t i = 0; i < LOCKS_MAX && r >= 0; i++)
                if (locks[i].used)
                        r = sd_bus_message_append(reply, "(ssssuu)", locks[i].what, locks[i].who, locks[i].why,
                                                  locks[i].mode, 0u, 0u);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Inhibit", "ssss", "h", method_inhibit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("ListInhibitors", "", "a(ssssuu)", method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int main(int argc, char *argv[])
{
        sd_event *e = NULL;
        sd_bus *bus = NULL;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: mock-logind LOGFILE\n");
                return 2;
        }
        log_file = fopen(argv[1], "a");
        if (!log_file)
                return 1;
        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, e, 0);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                             manager_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.freedesktop.login1", 0);
        if (r < 0) {
                fprintf(stderr, "mock-logind: %s\n", strerror(-r));
                return 1;
        }
        say("ready\n");
        r = sd_event_loop(e);
        sd_bus_flush_close_unref(bus);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}
