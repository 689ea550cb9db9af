/* lwm2m.h - the LwM2M session on the module (guide 3.2): registration (QLWSERV, QLWCONF,
 * QLWADDOBJ..., QLWOPEN=1 -> CONNECT OK, QLWCFG dataformat), readiness (the platform observes
 * the uplink object), the bounded send queue (one send at a time, confirmable or not), and the downlink
 * drain (buffer mode: +QLWDATARECV announces, AT+QLWRD=512 reads until "+QLWRD: 0").
 * Talks to the module only through the AT channel; time is an argument. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at-channel.h"
#include "config.h"

#define LWM2M_PAYLOAD_MAX 512           /* the module's limit for AT+QLWDATASEND and AT+QLWRD */
#define LWM2M_RETRY_MIN_USEC (2ULL * 1000 * 1000)
#define LWM2M_RETRY_MAX_USEC (300ULL * 1000 * 1000)

enum lwm2m_state {
        LWM2M_STATE_STOPPED,            /* module not initialised: nothing to do */
        LWM2M_STATE_CONFIGURING,        /* QLWDEL (retries), QLWSERV, QLWCONF, QLWADDOBJ... */
        LWM2M_STATE_CONNECTING,         /* QLWOPEN=1 sent: waiting for CONNECT OK */
        LWM2M_STATE_FORMATTING,         /* CONNECT OK: QLWCFG="dataformat",1,1 */
        LWM2M_STATE_WAIT_OBSERVE,       /* registered, format set: waiting for the uplink observe */
        LWM2M_STATE_READY,              /* uplink allowed */
        LWM2M_STATE_BACKOFF,            /* a step failed: register again at the retry deadline */
};

struct lwm2m_config {
        char server[CONFIG_SERVER_MAX + 1];
        unsigned port;
        char endpoint[CONFIG_ENDPOINT_MAX + 1]; /* empty: the IMEI given to lwm2m_start */
        struct config_object objects[CONFIG_OBJECTS_MAX];
        size_t n_objects;                       /* objects[0] is the uplink object */
        uint64_t command_timeout_usec;
        uint64_t connect_timeout_usec;
        uint64_t send_timeout_usec;
        unsigned send_queue;                    /* counting the request in flight */
};

/* Fill an lwm2m_config from the daemon's config. */
void lwm2m_config_from(struct lwm2m_config *lc, const struct config *cfg);

struct lwm2m_ops {
        void (*state_changed)(void *ud, enum lwm2m_state old, enum lwm2m_state new_state);
        /* CONNECT OK seen and the data format set (the re-registration a DFOTA report needs). */
        void (*registered)(void *ud);
        /* A chunk of downlink data, with the object/instance/resource of the announcing URC. */
        void (*data_received)(void *ud, unsigned obj, unsigned inst, unsigned res,
                              const uint8_t *data, size_t len);
        /* A send finished: 0 (delivered: SEND OK, or OK for a non-confirmable send) or negative
         * errno, with a sentence saying why, and a short token of what the module said (never
         * NULL): "SEND OK", "OK", "SEND FAIL", "ERROR", "+CME ERROR: <n>", "no SEND OK within
         * <n> s" (send_timeout_s), "no answer within <n> ms" (the command timed out),
         * "no OK before the module was lost" / "no SEND OK before the module was lost" (written,
         * then the module rebooted or the tty went away), or "" when nothing was written to the
         * module (gate closed, session not ready or stopped, module gone before the write). */
        void (*send_done)(void *ud, uint64_t cookie, int result, const char *why, const char *said);
};

struct lwm2m;

struct lwm2m *lwm2m_new(const struct lwm2m_config *cfg, struct at_channel *ch,
                        const struct lwm2m_ops *ops, void *ud);
struct lwm2m *lwm2m_free(struct lwm2m *s);

/* The module is initialised: register (endpoint from config, else imei). */
void lwm2m_start(struct lwm2m *s, const char *imei, uint64_t now);
/* The module is gone (reboot, tty lost, upgrade): the session is lost. A send written and
 * waiting for SEND OK fails ("module rebooted"); queued sends fail too (-ENOTCONN). A send whose
 * AT+QLWDATASEND the channel still holds (written or queued) finishes when the channel completes
 * that command: said "" (-ENOTCONN) if it was never written, else what the module answered
 * ("no OK before the module was lost" when the module went away first). */
void lwm2m_stop(struct lwm2m *s, const char *why, uint64_t now);

/* Lines the channel did not consume: CONNECT OK/FAIL, SEND OK/FAIL, +QLWOBSERVE, +QLWDATARECV.
 * A SEND OK/FAIL completes the confirmable send written only after that send's OK (any other is
 * credited to nobody: a non-confirmable send never has one); one that comes after a
 * send timed out settles that send (the next is held until then, or send_timeout_s more) and is
 * credited to nobody. */
void lwm2m_on_line(struct lwm2m *s, const struct at_line *l, uint64_t now);
/* The channel's gate changed from old (the session asks the channel for the gate, it keeps no
 * copy): closing it fails queued, unwritten sends with -EBUSY; opening it drains any downlink
 * announced meanwhile and resumes. */
void lwm2m_on_gate(struct lwm2m *s, enum at_gate old, uint64_t now);

/* Queue a send: confirmable (mode 0x0100, delivered on SEND OK) or not (0x0000, delivered on the
 * command's OK; the module prints no SEND OK for it, bc26-at.md 1.2, and a SEND OK/FAIL that
 * comes anyway is credited to no send). Sends go one at a time in queue order, whatever their
 * mode. Returns 0 (send_done follows) or, checked in this order: -EINVAL (ids > 65535, len 0
 * or > 512), -EBUSY (gate not open: upgrade), -ENOTCONN (not ready), -ENOBUFS (queue full). */
int lwm2m_send(struct lwm2m *s, unsigned obj, unsigned inst, unsigned res, const uint8_t *data,
               size_t len, bool confirmable, uint64_t cookie, uint64_t now);

void lwm2m_tick(struct lwm2m *s, uint64_t now);
uint64_t lwm2m_next_deadline(const struct lwm2m *s);

enum lwm2m_state lwm2m_get_state(const struct lwm2m *s);
bool lwm2m_registered(const struct lwm2m *s);   /* CONNECT OK seen and not lost since */
bool lwm2m_ready(const struct lwm2m *s);        /* data allowed */
size_t lwm2m_queue_length(const struct lwm2m *s);       /* queued + the one written */
const char *lwm2m_endpoint(const struct lwm2m *s);      /* as sent in QLWCONF, "" before */

const char *lwm2m_state_to_string(enum lwm2m_state s);
