/* bus.h - the D-Bus object /org/bc26d/Modem on the system bus (sd-bus, driven by libevent):
 * properties from a snapshot the manager pushes, methods forwarded to handlers, signals.
 * It never touches the module; every value it serves is already in memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct sd_bus sd_bus;

#define BUS_NAME        "org.bc26d"
#define BUS_PATH        "/org/bc26d/Modem"
#define BUS_IFACE_MODEM "org.bc26d.Modem1"
#define BUS_IFACE_LWM2M "org.bc26d.Lwm2m1"
#define BUS_IFACE_FOTA  "org.bc26d.Fota1"
#define BUS_IFACE_NETWORK "org.bc26d.Network1"

#define BUS_ERROR_UPGRADE_IN_PROGRESS   "org.bc26d.Error.UpgradeInProgress"
#define BUS_ERROR_NOT_READY             "org.bc26d.Error.NotReady"
#define BUS_ERROR_SEND_FAILED           "org.bc26d.Error.SendFailed"
#define BUS_ERROR_QUEUE_FULL            "org.bc26d.Error.QueueFull"
#define BUS_ERROR_STORAGE_FAILED        "org.bc26d.Error.StorageFailed"

/* Every property value, as the manager sees it now. */
struct bus_snapshot {
        /* org.bc26d.Modem1 */
        char state[16];
        char manufacturer[64], model[64], revision[64], imei[64];
        /* org.bc26d.Lwm2m1 */
        bool registered;
        char server[96];
        char endpoint[72];
        uint32_t queued;                /* outbox: messages waiting */
        uint64_t queued_bytes;          /* outbox: their payload bytes */
        /* org.bc26d.Fota1 */
        char phase[16];
        uint32_t progress;
        uint64_t deadline;              /* usec since the epoch, 0 when no timer runs */
        char last_result[20];
        int32_t last_result_code;
        /* org.bc26d.Network1: values not known are INT32_MIN (i) and UINT32_MAX (u, except Act),
         * Tac/CellId "" and Act 0 (doc/dbus-api.md) */
        char registration[16];
        char tac[8], cell_id[12];
        uint32_t act;
        int32_t rsrp, rsrq, sinr, rssi;
        uint32_t coverage_class, earfcn, pci, band;
        uint64_t updated;               /* usec since the epoch of the last reading, 0 never */
};

struct counters;
struct history;
struct outbox;

/* An Enqueue call, validated (ids, payload size, option types). */
struct bus_enqueue {
        unsigned obj, inst, res;
        const uint8_t *data;
        size_t len;
        bool has_ttl;                   /* the "ttl" option was given */
        uint32_t ttl_s;
        bool confirmable;
        uint32_t uid;                   /* the caller's effective Unix user */
};

struct bus_handlers {
        /* Reset(): 0, or -EBUSY while upgrading. */
        int (*reset)(void *ud);
        /* SendData: queue it; 0 (bus_send_done follows with cookie), or -EBUSY (upgrade),
         * -ENOTCONN (not ready), -ENOBUFS (queue full). Arguments are already validated. */
        int (*send)(void *ud, unsigned obj, unsigned inst, unsigned res, const uint8_t *data, size_t len,
                    uint64_t cookie);
        /* Network1.Refresh(): 0 (the readings follow as PropertiesChanged), -EBUSY while the gate is
         * not open (nothing sent), -ENOTCONN (no module). */
        int (*refresh)(void *ud);
        /* Modem1.GetCounters() and Fota1.GetHistory(): what the manager keeps. */
        const struct counters *(*counters)(void *ud);
        const struct history *(*history)(void *ud);
        /* Lwm2m1.Enqueue: 0 with *id once the message is durable; -EOPNOTSUPP ([outbox] enabled =
         * no), -ENOBUFS (QueueFull), other negative errno (StorageFailed); why says more. */
        int (*enqueue)(void *ud, const struct bus_enqueue *e, uint64_t *id, char *why, size_t why_size);
        /* Lwm2m1.ClearQueue: 0 with *dropped, -EOPNOTSUPP, or negative errno (why). */
        int (*clear_queue)(void *ud, uint32_t *dropped, char *why, size_t why_size);
        /* Lwm2m1.GetQueue: the waiting messages; NULL when the outbox is disabled. */
        const struct outbox *(*outbox)(void *ud);
};

struct bus;

/* Connect to the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured) and register the object. */
int bus_new(struct event_base *base, const struct bus_snapshot *initial, const struct bus_handlers *h,
            void *ud, struct bus **out);
struct bus *bus_free(struct bus *b);

/* The connection, for other users of the system bus (logind). */
sd_bus *bus_connection(struct bus *b);

/* Take the well-known name; call once the loop runs. Logs a plain reason on failure. */
int bus_request_name(struct bus *b);

/* New values: emits PropertiesChanged for what differs from the last snapshot. */
void bus_update(struct bus *b, const struct bus_snapshot *s);

/* A SendData finished: 0 replies success, else SendFailed/UpgradeInProgress/NotReady with why. */
void bus_send_done(struct bus *b, uint64_t cookie, int result, const char *why);

void bus_emit_module_rebooted(struct bus *b, const char *cause);
void bus_emit_module_reset(struct bus *b, const char *rung, bool recovered);
void bus_emit_data_delivered(struct bus *b, uint64_t id);
void bus_emit_data_dropped(struct bus *b, uint64_t id, const char *reason);
void bus_emit_data_received(struct bus *b, unsigned obj, unsigned inst, unsigned res, const uint8_t *data, size_t len);
void bus_emit_upgrade_started(struct bus *b);
void bus_emit_upgrade_finished(struct bus *b, const char *result, int32_t code);
