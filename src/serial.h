/* serial.h - the tty edge: resolve, open (libserialport for real UARTs, raw termios for
 * pseudo-terminals), take exclusively, read/write in the libevent loop, reopen with back-off.
 * It does not interpret bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct event_base;

struct serial_ops {
        void (*data)(void *ud, const void *buf, size_t n);      /* bytes from the module */
        void (*connected)(void *ud);                            /* the tty is open */
        void (*disconnected)(void *ud);                         /* EOF, error or hang-up */
};

struct serial;

/* Back-off between reopen attempts: 0.5 s doubling to 30 s. */
#define SERIAL_REOPEN_MIN_MSEC 500
#define SERIAL_REOPEN_MAX_MSEC 30000

struct serial *serial_new(struct event_base *base, const char *device, unsigned baudrate,
                          const struct serial_ops *ops, void *ud);
struct serial *serial_free(struct serial *s);

/* Try to open now; on failure keep retrying with back-off. */
void serial_start(struct serial *s);

/* Queue bytes for the tty (never blocks). 0, -ENOTCONN, -ENOBUFS (output backlog bound). */
int serial_write(struct serial *s, const void *buf, size_t n);

/* Drop every byte queued for the tty that has not left yet (ours and the kernel's); returns how
 * many were dropped, as far as the driver can tell. */
size_t serial_discard_output(struct serial *s);

bool serial_is_open(const struct serial *s);
