/* bare-daemon.c - the floor for bc26d's benchmarks: a bare sd-bus + libevent daemon. It connects
 * to the system bus ($DBUS_SYSTEM_BUS_ADDRESS), exports one method, org.bc26d.Bare1.Echo(s) -> s,
 * on /org/bc26d/Bare, owns a bus name (default org.bc26d.Bare) and does nothing else: no config,
 * no timers. With a TTY it also reads that tty (non-blocking, as bc26d does) and emits
 * org.bc26d.Bare1.Line(s) for every line: the floor of bc26d's URC -> PropertiesChanged path
 * (tty -> daemon -> dbus-daemon -> client, with no parsing, no state and no file).
 * The sd-bus <-> libevent glue is the same shape as bc26d's (src/bus.c).
 *
 * Usage: bare-daemon [NAME [TTY]]      SIGTERM/SIGINT: exit 0. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

struct bare {
        struct event_base *base;
        struct event *ev;
        sd_bus *bus;
        struct event *tty_ev;
        int tty;
        char line[512];
        size_t len;
};

static int method_echo(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *s;
        int r = sd_bus_message_read(m, "s", &s);

        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "s", s);
}

static const sd_bus_vtable bare_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Echo", "s", "s", method_echo, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL("Line", "s", 0),
        SD_BUS_VTABLE_END
};

static void on_io(evutil_socket_t fd, short what, void *arg);

static void rearm(struct bare *b)
{
        int events = sd_bus_get_events(b->bus);
        uint64_t until = UINT64_MAX;
        short what = EV_PERSIST;
        struct timeval tv, *tvp = NULL;

        if (events < 0)
                return;
        if (events & POLLIN)
                what |= EV_READ;
        if (events & POLLOUT)
                what |= EV_WRITE;
        if (sd_bus_get_timeout(b->bus, &until) >= 0 && until != UINT64_MAX) {
                struct timespec ts;
                uint64_t now;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
                until = until > now ? until - now : 0;
                tv.tv_sec = (time_t) (until / 1000000);
                tv.tv_usec = (suseconds_t) (until % 1000000);
                tvp = &tv;
        }
        event_del(b->ev);
        event_assign(b->ev, b->base, sd_bus_get_fd(b->bus), what, on_io, b);
        event_add(b->ev, tvp);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
        struct bare *b = arg;
        int r;

        for (int i = 0; i < 64; i++) {
                r = sd_bus_process(b->bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "bare-daemon: lost the bus: %s\n", strerror(-r));
                        event_base_loopbreak(b->base);
                        return;
                }
                if (r == 0)
                        break;
        }
        rearm(b);
        if (r > 0)
                event_active(b->ev, EV_TIMEOUT, 0);
}

/* Split what the tty gives at CR/LF and announce each non-empty line (longer ones are cut). */
static void on_tty(evutil_socket_t fd, short what, void *arg)
{
        struct bare *b = arg;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));

        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\r' || buf[i] == '\n') {
                        if (b->len > 0) {
                                b->line[b->len] = '\0';
                                (void) sd_bus_emit_signal(b->bus, "/org/bc26d/Bare", "org.bc26d.Bare1", "Line", "s",
                                                          b->line);
                        }
                        b->len = 0;
                } else if (b->len + 1 < sizeof(b->line)) {
                        b->line[b->len++] = buf[i];
                }
        }
        rearm(b);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
        event_base_loopbreak(arg);
}

int main(int argc, char *argv[])
{
        const char *name = argc > 1 ? argv[1] : "org.bc26d.Bare";
        struct bare b = { .tty = -1 };
        struct event *ev_term, *ev_int;
        int r;

        /* Signals first: a SIGTERM right after the name is taken must end the loop cleanly. */
        b.base = event_base_new();
        if (!b.base)
                return 1;
        ev_term = evsignal_new(b.base, SIGTERM, on_signal, b.base);
        ev_int = evsignal_new(b.base, SIGINT, on_signal, b.base);
        if (!ev_term || !ev_int || evsignal_add(ev_term, NULL) < 0 || evsignal_add(ev_int, NULL) < 0)
                return 1;
        r = sd_bus_open_system(&b.bus);
        if (r < 0) {
                fprintf(stderr, "bare-daemon: cannot connect to the system bus: %s\n", strerror(-r));
                return 1;
        }
        r = sd_bus_add_object_vtable(b.bus, NULL, "/org/bc26d/Bare", "org.bc26d.Bare1", bare_vtable, &b);
        if (r >= 0)
                r = sd_bus_request_name(b.bus, name, 0);
        if (r < 0) {
                fprintf(stderr, "bare-daemon: cannot serve %s: %s\n", name, strerror(-r));
                return 1;
        }
        b.ev = event_new(b.base, -1, 0, on_io, &b);
        if (!b.ev)
                return 1;
        if (argc > 2) {
                b.tty = open(argv[2], O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                if (b.tty < 0) {
                        fprintf(stderr, "bare-daemon: cannot open %s: %m\n", argv[2]);
                        return 1;
                }
                b.tty_ev = event_new(b.base, b.tty, EV_READ | EV_PERSIST, on_tty, &b);
                if (!b.tty_ev || event_add(b.tty_ev, NULL) < 0)
                        return 1;
        }
        rearm(&b);
        event_base_dispatch(b.base);
        if (b.tty_ev)
                event_free(b.tty_ev);
        if (b.tty >= 0)
                close(b.tty);
        event_free(ev_int);
        event_free(ev_term);
        event_free(b.ev);
        sd_bus_flush_close_unref(b.bus);
        event_base_free(b.base);
        return 0;
}
