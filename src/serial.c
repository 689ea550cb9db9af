/* serial.c - the tty edge. Real UARTs are opened with libserialport (8N1, no flow control);
 * pseudo-terminals (socat/ser2net bridges, the simulator) with raw termios, because
 * libserialport 0.1.1 refuses them (measured: sp_get_port_by_name needs /sys/class/tty/NAME and
 * sp_open fails on TIOCMGET with ENOTTY). The device is resolved with realpath() before every
 * open: /dev/serial0 and /dev/serial/by-id/ are symlinks and libserialport wants the real name. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <libserialport.h>

#include "log.h"
#include "serial.h"

#define OUTPUT_BACKLOG_MAX (64 * 1024)

struct serial {
        struct event_base *base;
        char *device;
        unsigned baudrate;
        const struct serial_ops *ops;
        void *ud;

        int fd;
        struct sp_port *port;           /* libserialport handle, NULL for a pty */
        struct event *ev_read, *ev_write, *ev_reopen;
        struct evbuffer *out;
        unsigned backoff_ms;
        bool warned;                    /* an open failure was logged at warning already */
};

static void schedule_reopen(struct serial *s);

static speed_t speed_of(unsigned baud)
{
        switch (baud) {
        case 4800:   return B4800;
        case 9600:   return B9600;
        default:     return B115200;
        }
}

/* Unix98 pty slaves have majors 136..143. */
static bool is_pty(const struct stat *st)
{
        unsigned maj = major(st->st_rdev);

        return S_ISCHR(st->st_mode) && maj >= 136 && maj <= 143;
}

static int open_pty(struct serial *s, const char *path)
{
        struct termios t;
        int fd;

        fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (tcgetattr(fd, &t) < 0)
                goto fail;
        cfmakeraw(&t);
        t.c_cflag &= ~(CSTOPB | PARENB | CRTSCTS | CSIZE);
        t.c_cflag |= CS8 | CLOCAL | CREAD;
        t.c_iflag &= ~(IXON | IXOFF | IXANY);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        cfsetispeed(&t, speed_of(s->baudrate));
        cfsetospeed(&t, speed_of(s->baudrate));
        if (tcsetattr(fd, TCSANOW, &t) < 0)
                goto fail;
        return fd;
fail:
        {
                int r = -errno;

                close(fd);
                return r;
        }
}

static int sp_errno(enum sp_return r)
{
        if (r == SP_ERR_FAIL) {
                int e = sp_last_error_code();

                return e > 0 ? -e : -EIO;
        }
        return r == SP_ERR_MEM ? -ENOMEM : r == SP_ERR_SUPP ? -EOPNOTSUPP : -EINVAL;
}

static int open_uart(struct serial *s, const char *path)
{
        enum sp_return r;
        int fd, flags;

        r = sp_get_port_by_name(path, &s->port);
        if (r != SP_OK) {
                s->port = NULL;
                return sp_errno(r);
        }
        r = sp_open(s->port, SP_MODE_READ_WRITE);
        if (r == SP_OK)
                r = sp_set_baudrate(s->port, (int) s->baudrate);
        if (r == SP_OK)
                r = sp_set_bits(s->port, 8);
        if (r == SP_OK)
                r = sp_set_parity(s->port, SP_PARITY_NONE);
        if (r == SP_OK)
                r = sp_set_stopbits(s->port, 1);
        if (r == SP_OK)
                r = sp_set_flowcontrol(s->port, SP_FLOWCONTROL_NONE);
        if (r == SP_OK)
                r = sp_get_port_handle(s->port, &fd);
        if (r != SP_OK) {
                int err = sp_errno(r);

                sp_close(s->port);
                sp_free_port(s->port);
                s->port = NULL;
                return err;
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                int err = -errno;

                sp_close(s->port);
                sp_free_port(s->port);
                s->port = NULL;
                return err;
        }
        return fd;
}

static void close_port(struct serial *s)
{
        if (s->ev_read) {
                event_free(s->ev_read);
                s->ev_read = NULL;
        }
        if (s->ev_write) {
                event_free(s->ev_write);
                s->ev_write = NULL;
        }
        if (s->port) {
                sp_close(s->port);      /* closes the fd too */
                sp_free_port(s->port);
                s->port = NULL;
        } else if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
        evbuffer_drain(s->out, evbuffer_get_length(s->out));
}

static void lost(struct serial *s, const char *why, int err)
{
        if (err)
                log_warning("Lost the module's tty %s: %s: %s; reopening", s->device, why, strerror(-err));
        else
                log_warning("Lost the module's tty %s: %s; reopening", s->device, why);
        close_port(s);
        s->backoff_ms = SERIAL_REOPEN_MIN_MSEC;
        s->ops->disconnected(s->ud);
        schedule_reopen(s);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
        struct serial *s = arg;
        char buf[4096];

        /* Bounded: one event handles at most a few buffers, so a byte storm cannot starve the
         * rest of the loop (D-Bus, timers). */
        for (int i = 0; i < 16; i++) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n > 0) {
                        s->ops->data(s->ud, buf, (size_t) n);
                        if (s->fd < 0)
                                return;         /* the data handler closed us */
                        continue;
                }
                if (n == 0)
                        return lost(s, "end of file (hang-up)", 0);
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN)
                        return;
                return lost(s, "read failed", -errno);
        }
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
        struct serial *s = arg;
        int n = evbuffer_write(s->out, fd);

        if (n < 0 && errno != EAGAIN && errno != EINTR)
                return lost(s, "write failed", -errno);
        if (evbuffer_get_length(s->out) == 0)
                event_del(s->ev_write);
}

static int take_exclusively(int fd, const char *path, bool pty)
{
        /* flock: cooperating programs (other daemons, minicom with locking) see it is taken; the
         * kernel drops it when we die. TIOCEXCL: further open()s fail with EBUSY (root excepted),
         * on a UART only. A pty's slave outlives our close while the bridge holds the master, and
         * so would the flag: a bc26d killed by SIGKILL would lock its own restart (an unprivileged
         * service) out of the bridge's pty for good. */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;

                if (r == -EWOULDBLOCK)
                        log_error("The module's tty %s is locked by another program; stop it (see 'fuser -v %s') "
                                  "so that bc26d is the only one talking to the module", path, path);
                return r;
        }
        if (!pty && ioctl(fd, TIOCEXCL) < 0)
                return -errno;
        return 0;
}

static int try_open(struct serial *s)
{
        char resolved[PATH_MAX];
        struct stat st;
        bool pty;
        int fd, r;

        if (!realpath(s->device, resolved))
                return -errno;
        if (stat(resolved, &st) < 0)
                return -errno;
        if (!S_ISCHR(st.st_mode))
                return -ENOTTY;
        pty = is_pty(&st);
        fd = pty ? open_pty(s, resolved) : open_uart(s, resolved);
        if (fd < 0)
                return fd;
        s->fd = fd;
        r = take_exclusively(fd, resolved, pty);
        if (r < 0) {
                close_port(s);
                return r;
        }
        s->ev_read = event_new(s->base, fd, EV_READ | EV_PERSIST, on_read, s);
        s->ev_write = event_new(s->base, fd, EV_WRITE | EV_PERSIST, on_write, s);
        if (!s->ev_read || !s->ev_write || event_add(s->ev_read, NULL) < 0) {
                close_port(s);
                return -ENOMEM;
        }
        log_info("Opened the module's tty %s (resolved to %s) as a %s at %u baud, 8N1, exclusively",
                 s->device, resolved, pty ? "pseudo-terminal (raw termios)" : "UART (libserialport)",
                 s->baudrate);
        return 0;
}

static void on_reopen(evutil_socket_t fd, short what, void *arg)
{
        serial_start(arg);
}

static void schedule_reopen(struct serial *s)
{
        struct timeval tv = { .tv_sec = s->backoff_ms / 1000, .tv_usec = (s->backoff_ms % 1000) * 1000 };

        evtimer_add(s->ev_reopen, &tv);
        s->backoff_ms = s->backoff_ms * 2 > SERIAL_REOPEN_MAX_MSEC ? SERIAL_REOPEN_MAX_MSEC : s->backoff_ms * 2;
}

void serial_start(struct serial *s)
{
        int r;

        if (s->fd >= 0)
                return;
        r = try_open(s);
        if (r >= 0) {
                s->backoff_ms = SERIAL_REOPEN_MIN_MSEC;
                s->warned = false;
                s->ops->connected(s->ud);
                return;
        }
        if (!s->warned)
                log_warning("Cannot open the module's tty %s: %s; retrying with back-off up to %u s",
                            s->device, strerror(-r), SERIAL_REOPEN_MAX_MSEC / 1000);
        else
                log_debug("Still cannot open %s: %s", s->device, strerror(-r));
        s->warned = true;
        schedule_reopen(s);
}

struct serial *serial_new(struct event_base *base, const char *device, unsigned baudrate,
                          const struct serial_ops *ops, void *ud)
{
        struct serial *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->base = base;
        s->fd = -1;
        s->baudrate = baudrate;
        s->ops = ops;
        s->ud = ud;
        s->backoff_ms = SERIAL_REOPEN_MIN_MSEC;
        s->device = strdup(device);
        s->out = evbuffer_new();
        s->ev_reopen = evtimer_new(base, on_reopen, s);
        if (!s->device || !s->out || !s->ev_reopen)
                return serial_free(s);
        return s;
}

struct serial *serial_free(struct serial *s)
{
        if (!s)
                return NULL;
        if (s->out)
                close_port(s);
        if (s->ev_reopen)
                event_free(s->ev_reopen);
        if (s->out)
                evbuffer_free(s->out);
        free(s->device);
        free(s);
        return NULL;
}

int serial_write(struct serial *s, const void *buf, size_t n)
{
        if (s->fd < 0)
                return -ENOTCONN;
        if (evbuffer_get_length(s->out) + n > OUTPUT_BACKLOG_MAX)
                return -ENOBUFS;
        if (evbuffer_get_length(s->out) == 0) {
                ssize_t w = write(s->fd, buf, n);

                if (w < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                return -errno;  /* the read side will see the hang-up */
                        w = 0;
                }
                buf = (const char *) buf + w;
                n -= (size_t) w;
                if (n == 0)
                        return 0;
        }
        if (evbuffer_add(s->out, buf, n) < 0)
                return -ENOMEM;
        event_add(s->ev_write, NULL);
        return 0;
}

size_t serial_discard_output(struct serial *s)
{
        size_t n = evbuffer_get_length(s->out);
        int queued = 0;

        evbuffer_drain(s->out, n);
        if (s->fd < 0)
                return n;
        event_del(s->ev_write);
        /* The kernel's output queue too: a slow UART may hold a whole command. A pty cannot be
         * recalled: a write passes straight into the master's input queue, which no flush on this
         * side reaches (measured on Linux 6.18), so what a stalled bridge has not read yet still
         * reaches the module. The channel keeps at most one command in the kernel's hands. */
        if (s->port) {
                int w = sp_output_waiting(s->port);

                queued = w > 0 ? w : 0;
                (void) sp_flush(s->port, SP_BUF_OUTPUT);
        } else {
                if (ioctl(s->fd, TIOCOUTQ, &queued) < 0 || queued < 0)
                        queued = 0;
                (void) tcflush(s->fd, TCOFLUSH);
        }
        return n + (size_t) queued;
}

bool serial_is_open(const struct serial *s)
{
        return s->fd >= 0;
}
