/* bus.c - the D-Bus edge: one static vtable per interface over a property snapshot, method calls
 * forwarded to the manager's handlers (SendData replies later, on SEND OK), signals, and the
 * sd-bus <-> libevent glue. Getters never touch the module. */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "bus.h"
#include "counters.h"
#include "history.h"
#include "log.h"
#include "outbox.h"

#define BUS_INTERFACES 4        /* Modem1, Lwm2m1, Fota1, Network1 */
#define PENDING_MAX 257
#define BUS_TTL_MAX 31536000    /* Enqueue's "ttl": a year, as [outbox] default_ttl_s */         /* SendData calls waiting for SEND OK: the largest [lwm2m] send_queue + 1 */

struct pending {
        uint64_t cookie;
        sd_bus_message *call;
};

struct bus {
        struct event_base *base;
        sd_bus *bus;
        struct event *ev;
        const struct bus_handlers *h;
        void *ud;
        struct bus_snapshot snap;
        sd_bus_vtable *vtables[BUS_INTERFACES];
        uint64_t next_cookie;
        struct pending pending[PENDING_MAX];
        size_t n_pending;
};

static void rearm(struct bus *b);

/* ---- properties: one table per interface ------------------------------------------------- */

/* A property is one row: its name, D-Bus type and the snapshot field it shows. Every property
 * emits PropertiesChanged (with its value) when bus_update finds the field changed. */
struct bus_property {
        const char *name;
        char type;              /* 's', 'b', 'u', 'i' or 't' */
        size_t offset;          /* of the field in struct bus_snapshot */
        size_t size;            /* of the field */
};

#define PROP(name, type, field) \
        { name, type, offsetof(struct bus_snapshot, field), sizeof(((struct bus_snapshot *) 0)->field) }

static const struct bus_property modem_properties[] = {
        PROP("State", 's', state),
        PROP("Manufacturer", 's', manufacturer),
        PROP("Model", 's', model),
        PROP("Revision", 's', revision),
        PROP("Imei", 's', imei),
};

static const struct bus_property lwm2m_properties[] = {
        PROP("Registered", 'b', registered),
        PROP("Server", 's', server),
        PROP("Endpoint", 's', endpoint),
        PROP("Queued", 'u', queued),
        PROP("QueuedBytes", 't', queued_bytes),
};

static const struct bus_property fota_properties[] = {
        PROP("Phase", 's', phase),
        PROP("Progress", 'u', progress),
        PROP("Deadline", 't', deadline),
        PROP("LastResult", 's', last_result),
        PROP("LastResultCode", 'i', last_result_code),
};

static const struct bus_property network_properties[] = {
        PROP("Registration", 's', registration),
        PROP("Tac", 's', tac),
        PROP("CellId", 's', cell_id),
        PROP("Act", 'u', act),
        PROP("Rsrp", 'i', rsrp),
        PROP("Rsrq", 'i', rsrq),
        PROP("Sinr", 'i', sinr),
        PROP("Rssi", 'i', rssi),
        PROP("CoverageClass", 'u', coverage_class),
        PROP("Earfcn", 'u', earfcn),
        PROP("Pci", 'u', pci),
        PROP("Band", 'u', band),
        PROP("Updated", 't', updated),
};

#define LIVE SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
#define BUS_PROPERTIES_MAX 16   /* per interface: sizes bus_update's name list */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(ARRAY_SIZE(modem_properties) <= BUS_PROPERTIES_MAX &&
               ARRAY_SIZE(lwm2m_properties) <= BUS_PROPERTIES_MAX &&
               ARRAY_SIZE(fota_properties) <= BUS_PROPERTIES_MAX &&
               ARRAY_SIZE(network_properties) <= BUS_PROPERTIES_MAX,
               "raise BUS_PROPERTIES_MAX");

/* sd-bus hands a getter the object's userdata plus the row's offset: the field itself. */
static int get_string(sd_bus *bus, const char *path, const char *iface, const char *prop,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append_basic(reply, 's', userdata);
}

static int get_bool(sd_bus *bus, const char *path, const char *iface, const char *prop,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        int v = *(bool *) userdata;

        return sd_bus_message_append_basic(reply, 'b', &v);
}

/* The row as an sd-bus vtable entry. */
static sd_bus_vtable property_entry(const struct bus_property *p)
{
        size_t offset = offsetof(struct bus, snap) + p->offset;

        switch (p->type) {
        case 's':
                return (sd_bus_vtable) SD_BUS_PROPERTY(p->name, "s", get_string, offset, LIVE);
        case 'b':
                return (sd_bus_vtable) SD_BUS_PROPERTY(p->name, "b", get_bool, offset, LIVE);
        case 'u':       /* fixed-size types: sd-bus reads the field itself */
                return (sd_bus_vtable) SD_BUS_PROPERTY(p->name, "u", NULL, offset, LIVE);
        case 'i':
                return (sd_bus_vtable) SD_BUS_PROPERTY(p->name, "i", NULL, offset, LIVE);
        default:
                assert(p->type == 't');
                return (sd_bus_vtable) SD_BUS_PROPERTY(p->name, "t", NULL, offset, LIVE);
        }
}

static bool property_differs(const struct bus_property *p, const struct bus_snapshot *a, const struct bus_snapshot *b)
{
        const char *x = (const char *) a + p->offset, *y = (const char *) b + p->offset;

        if (p->type == 's')
                return strncmp(x, y, p->size) != 0;
        return memcmp(x, y, p->size) != 0;
}

/* ---- methods -------------------------------------------------------------------------------- */

static int method_reset(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        int r = b->h->reset(b->ud);

        if (r == -EBUSY)
                return sd_bus_error_set(error, BUS_ERROR_UPGRADE_IN_PROGRESS,
                                        "A firmware upgrade is in progress; the module must not be reset now. "
                                        "Wait until Phase is idle (bc26ctl monitor).");
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "The reset could not start: %s", strerror(-r));
        return sd_bus_reply_method_return(m, NULL);
}

/* Take a waiting call out of the table; returns it (a reference the caller owns) or NULL. */
static sd_bus_message *take_pending(struct bus *b, uint64_t cookie)
{
        for (size_t i = 0; i < b->n_pending; i++)
                if (b->pending[i].cookie == cookie) {
                        sd_bus_message *call = b->pending[i].call;

                        b->pending[i] = b->pending[--b->n_pending];
                        return call;
                }
        return NULL;
}

static void forget_pending(struct bus *b, uint64_t cookie)
{
        sd_bus_message_unref(take_pending(b, cookie));
}

/* What SendData and Enqueue both refuse as InvalidArgs. */
static int check_target(uint32_t obj, uint32_t inst, uint32_t res, size_t len, sd_bus_error *error)
{
        if (obj > 65535 || inst > 65535 || res > 65535)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Object, instance and resource must be 0..65535 (got %u/%u/%u).",
                                         obj, inst, res);
        if (len == 0 || len > 512)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "The payload must be 1..512 bytes, the module's limit (got %zu).", len);
        return 0;
}

static int method_send_data(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        uint32_t obj, inst, res;
        const void *data;
        size_t len;
        uint64_t cookie;
        int r;

        r = sd_bus_message_read(m, "uuu", &obj, &inst, &res);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &data, &len);
        if (r < 0)
                return r;
        r = check_target(obj, inst, res, len, error);
        if (r < 0)
                return r;
        /* Keep the call before handing the data over: the send may also finish at once (the tty
         * just went away), and bus_send_done must find it then. The send queue ([lwm2m] send_queue
         * <= 256) bounds the calls waiting here, plus this one. */
        assert(b->n_pending < PENDING_MAX);
        cookie = ++b->next_cookie;
        b->pending[b->n_pending++] = (struct pending) { cookie, sd_bus_message_ref(m) };
        r = b->h->send(b->ud, obj, inst, res, data, len, cookie);
        if (r < 0)
                forget_pending(b, cookie);
        switch (r) {
        case 0:
                return 1;       /* the reply comes with SEND OK (or has come already) */
        case -EBUSY:
                return sd_bus_error_set(error, BUS_ERROR_UPGRADE_IN_PROGRESS,
                                        "A firmware upgrade is in progress; data is refused until it ends. "
                                        "Retry when Phase is idle.");
        case -ENOTCONN:
                return sd_bus_error_setf(error, BUS_ERROR_NOT_READY,
                                         "The module is not ready for data (state: %s); retry when State is ready.",
                                         b->snap.state);
        case -ENOBUFS:
                return sd_bus_error_set(error, BUS_ERROR_QUEUE_FULL,
                                        "The send queue is full ([lwm2m] send_queue); retry when earlier sends complete.");
        case -EINVAL:
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid object, instance, resource or payload.");
        default:
                return sd_bus_error_set_errnof(error, -r, "SendData failed: %s", strerror(-r));
        }
}

static int method_refresh(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        int r = b->h->refresh(b->ud);

        if (r == -EBUSY)
                return sd_bus_error_set(error, BUS_ERROR_UPGRADE_IN_PROGRESS,
                                        "A firmware upgrade is in progress: no command may reach the module, so the "
                                        "readings keep their last values (Updated tells their age). Retry when "
                                        "Phase is idle.");
        if (r == -ENOTCONN)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_READY,
                                         "The module cannot be asked now (state: %s); retry when State is ready.",
                                         b->snap.state);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "The refresh could not start: %s", strerror(-r));
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_counters(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        const struct counters *c = b->h->counters(b->ud);
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{st}");
        for (int i = 0; r >= 0 && i < _COUNTER_MAX; i++)
                r = sd_bus_message_append(reply, "{st}", counter_name(i), c->v[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

/* One upgrade as a{sv}; doc/dbus-api.md describes every key (clients skip keys they do not know). */
static int append_history_entry(sd_bus_message *reply, const struct history_entry *e)
{
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");

        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
                                          "started", "t", e->started,
                                          "finished", "t", e->finished,
                                          "result", "s", e->result,
                                          "code", "i", e->code,
                                          "revision_before", "s", e->revision_before,
                                          "revision_after", "s", e->revision_after,
                                          "resets", "u", e->resets,
                                          "max_progress", "u", e->max_progress,
                                          "interrupted", "b", (int) e->interrupted);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* A method return of n dicts (aa{sv}), the i-th appended by append(reply, ctx, i). */
static int reply_dicts(sd_bus_message *m, size_t n, int (*append)(sd_bus_message *, const void *, size_t),
                       const void *ctx)
{
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = append(reply, ctx, i);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int append_history(sd_bus_message *reply, const void *ctx, size_t i)
{
        return append_history_entry(reply, history_get(ctx, i));
}

static int method_get_history(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        const struct history *h = b->h->history(b->ud);

        return reply_dicts(m, history_count(h), append_history, h);
}

/* ---- the outbox (store and forward) ----------------------------------------------------------- */

/* Enqueue's options: "ttl" (u) and "confirmable" (b); anything else is InvalidArgs. */
static int read_enqueue_options(sd_bus_message *m, struct bus_enqueue *e, sd_bus_error *error)
{
        const char *key, *type;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &type);
                if (r < 0)
                        return r;
                if (strcmp(key, "ttl") == 0 && strcmp(type, "u") == 0) {
                        r = sd_bus_message_read(m, "v", "u", &e->ttl_s);
                        e->has_ttl = true;
                        if (r >= 0 && e->ttl_s > BUS_TTL_MAX)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option \"ttl\" must be 0..%u seconds (a year; 0: no expiry), "
                                                         "got %u.", BUS_TTL_MAX, e->ttl_s);
                } else if (strcmp(key, "confirmable") == 0 && strcmp(type, "b") == 0) {
                        int v;

                        r = sd_bus_message_read(m, "v", "b", &v);
                        e->confirmable = v;
                } else if (strcmp(key, "ttl") == 0 || strcmp(key, "confirmable") == 0) {
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option \"%s\" must be of type %s (got %s).", key,
                                                 strcmp(key, "ttl") == 0 ? "u" : "b", type);
                } else {
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unknown option \"%s\" (known: ttl, confirmable).", key);
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int caller_uid(sd_bus_message *m, uint32_t *uid)
{
        sd_bus_creds *creds = NULL;
        uid_t u;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &u);
        sd_bus_creds_unref(creds);
        if (r >= 0)
                *uid = (uint32_t) u;
        return r;
}

static int method_enqueue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        struct bus_enqueue e = { .confirmable = true };
        uint32_t obj, inst, res;
        const void *data;
        char why[512] = "";
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "uuu", &obj, &inst, &res);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &data, &e.len);
        if (r < 0)
                return r;
        r = check_target(obj, inst, res, e.len, error);
        if (r < 0)
                return r;
        r = read_enqueue_options(m, &e, error);
        if (r < 0)
                return r;
        r = caller_uid(m, &e.uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "Could not tell who is calling (their Unix user "
                                               "counts against a share of the queue): %s", strerror(-r));
        e.obj = obj;
        e.inst = inst;
        e.res = res;
        e.data = data;
        r = b->h->enqueue(b->ud, &e, &id, why, sizeof(why));
        switch (r) {
        case 0:
                return sd_bus_reply_method_return(m, "t", id);
        case -EOPNOTSUPP:
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                        "The outbox is disabled ([outbox] enabled = no); use SendData.");
        case -ENOBUFS:
                return sd_bus_error_setf(error, BUS_ERROR_QUEUE_FULL, "The outbox is full: %s.", why);
        default:
                return sd_bus_error_setf(error, BUS_ERROR_STORAGE_FAILED, "%s",
                                         why[0] ? why : strerror(-r));
        }
}

static int method_clear_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        char why[512] = "";
        uint32_t dropped = 0;
        int r = b->h->clear_queue(b->ud, &dropped, why, sizeof(why));

        if (r == -EOPNOTSUPP)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                        "The outbox is disabled ([outbox] enabled = no).");
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_STORAGE_FAILED, "%s", why[0] ? why : strerror(-r));
        return sd_bus_reply_method_return(m, "u", dropped);
}

static int append_queue_entry(sd_bus_message *reply, const struct outbox_message *q)
{
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");

        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
                                          "id", "t", q->id,
                                          "enqueued", "t", q->enqueued,
                                          "expires", "t", q->expires,
                                          "size", "u", (uint32_t) q->len,
                                          "attempts", "u", q->attempts,
                                          "object", "u", (uint32_t) q->obj,
                                          "instance", "u", (uint32_t) q->inst,
                                          "resource", "u", (uint32_t) q->res,
                                          "confirmable", "b", (int) q->confirmable,
                                          "next_attempt", "t", q->retry_at);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int append_queue(sd_bus_message *reply, const void *ctx, size_t i)
{
        return append_queue_entry(reply, outbox_get(ctx, i));
}

static int method_get_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        const struct outbox *o = b->h->outbox(b->ud);

        if (!o)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                        "The outbox is disabled ([outbox] enabled = no).");
        return reply_dicts(m, outbox_count(o), append_queue, o);
}

/* Methods and signals of each interface; its properties come from its table above. */
static const sd_bus_vtable modem_members[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Reset", "", "", method_reset, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetCounters", "", , "a{st}", SD_BUS_PARAM(counters), method_get_counters,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("ModuleRebooted", "s", SD_BUS_PARAM(cause), 0),
        SD_BUS_SIGNAL_WITH_NAMES("ModuleReset", "sb", SD_BUS_PARAM(rung) SD_BUS_PARAM(recovered), 0),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable lwm2m_members[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("SendData", "uuuay",
                                 SD_BUS_PARAM(object) SD_BUS_PARAM(instance) SD_BUS_PARAM(resource) SD_BUS_PARAM(data),
                                 "", , method_send_data, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Enqueue", "uuuaya{sv}",
                                 SD_BUS_PARAM(object) SD_BUS_PARAM(instance) SD_BUS_PARAM(resource) SD_BUS_PARAM(data)
                                 SD_BUS_PARAM(options),
                                 "t", SD_BUS_PARAM(id), method_enqueue, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ClearQueue", "", , "u", SD_BUS_PARAM(dropped), method_clear_queue,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("GetQueue", "", , "aa{sv}", SD_BUS_PARAM(messages), method_get_queue,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("DataReceived", "uuuay",
                                 SD_BUS_PARAM(object) SD_BUS_PARAM(instance) SD_BUS_PARAM(resource) SD_BUS_PARAM(data), 0),
        SD_BUS_SIGNAL_WITH_NAMES("DataDelivered", "t", SD_BUS_PARAM(id), 0),
        SD_BUS_SIGNAL_WITH_NAMES("DataDropped", "ts", SD_BUS_PARAM(id) SD_BUS_PARAM(reason), 0),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable fota_members[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("GetHistory", "", , "aa{sv}", SD_BUS_PARAM(upgrades), method_get_history,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL("UpgradeStarted", "", 0),
        SD_BUS_SIGNAL_WITH_NAMES("UpgradeFinished", "si", SD_BUS_PARAM(result) SD_BUS_PARAM(code), 0),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable network_members[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Refresh", "", "", method_refresh, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static const struct bus_interface {
        const char *name;
        const struct bus_property *properties;
        size_t n_properties;
        const sd_bus_vtable *members;   /* START, methods and signals, END */
} interfaces[BUS_INTERFACES] = {
        { BUS_IFACE_MODEM, modem_properties, ARRAY_SIZE(modem_properties), modem_members },
        { BUS_IFACE_LWM2M, lwm2m_properties, ARRAY_SIZE(lwm2m_properties), lwm2m_members },
        { BUS_IFACE_FOTA, fota_properties, ARRAY_SIZE(fota_properties), fota_members },
        { BUS_IFACE_NETWORK, network_properties, ARRAY_SIZE(network_properties), network_members },
};

/* START, the property rows, then the members after START (END included). */
static sd_bus_vtable *build_vtable(const struct bus_interface *iface)
{
        size_t n_members = 0, k = 0;
        sd_bus_vtable *v;

        while (iface->members[n_members].type != _SD_BUS_VTABLE_END)
                n_members++;
        v = calloc(iface->n_properties + n_members + 1, sizeof(*v));
        if (!v)
                return NULL;
        v[k++] = iface->members[0];
        for (size_t i = 0; i < iface->n_properties; i++)
                v[k++] = property_entry(&iface->properties[i]);
        for (size_t i = 1; i <= n_members; i++)
                v[k++] = iface->members[i];
        return v;
}

/* ---- sd-bus <-> libevent --------------------------------------------------------------------- */

static void on_io(evutil_socket_t fd, short what, void *arg)
{
        struct bus *b = arg;
        int r;

        /* Bounded: a flood of calls cannot starve the tty and the timers. sd-bus may hold read
         * messages in memory that the fd no longer announces, so come back at once if we stopped
         * early. */
        for (int i = 0; i < 64; i++) {
                r = sd_bus_process(b->bus, NULL);
                if (r < 0) {
                        log_errno(LOG_ERR, r, "Lost the connection to the system bus; stopping");
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

static void rearm(struct bus *b)
{
        int fd = sd_bus_get_fd(b->bus);
        int events = sd_bus_get_events(b->bus);
        uint64_t until = UINT64_MAX;
        short what = EV_PERSIST;
        struct timeval tv, *tvp = NULL;

        if (fd < 0 || events < 0)
                return;
        if (events & POLLIN)
                what |= EV_READ;
        if (events & POLLOUT)
                what |= EV_WRITE;
        /* sd_bus_get_timeout() gives an absolute CLOCK_MONOTONIC time, not a relative one. */
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
        event_assign(b->ev, b->base, fd, what, on_io, b);
        event_add(b->ev, tvp);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

int bus_new(struct event_base *base, const struct bus_snapshot *initial, const struct bus_handlers *h,
            void *ud, struct bus **out)
{
        struct bus *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;
        b->base = base;
        b->h = h;
        b->ud = ud;
        b->snap = *initial;
        r = sd_bus_open_system(&b->bus);
        if (r < 0) {
                log_errno(LOG_ERR, r, "Failed to connect to the system bus (%s)",
                          getenv("DBUS_SYSTEM_BUS_ADDRESS") ? getenv("DBUS_SYSTEM_BUS_ADDRESS") :
                          "unix:path=/run/dbus/system_bus_socket; is dbus running?");
                goto fail;
        }
        for (size_t i = 0; i < BUS_INTERFACES && r >= 0; i++) {
                b->vtables[i] = build_vtable(&interfaces[i]);
                r = b->vtables[i] ? sd_bus_add_object_vtable(b->bus, NULL, BUS_PATH, interfaces[i].name,
                                                             b->vtables[i], b) : -ENOMEM;
        }
        if (r < 0) {
                log_errno(LOG_ERR, r, "Failed to register the D-Bus object %s", BUS_PATH);
                goto fail;
        }
        b->ev = event_new(base, -1, 0, on_io, b);
        if (!b->ev) {
                r = -ENOMEM;
                goto fail;
        }
        rearm(b);
        *out = b;
        return 0;
fail:
        bus_free(b);
        return r;
}

struct bus *bus_free(struct bus *b)
{
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_pending; i++) {
                (void) sd_bus_reply_method_errorf(b->pending[i].call, BUS_ERROR_SEND_FAILED,
                                                  "bc26d is shutting down; the data was not confirmed as sent.");
                sd_bus_message_unref(b->pending[i].call);
        }
        if (b->ev)
                event_free(b->ev);
        if (b->bus) {
                (void) sd_bus_flush(b->bus);
                sd_bus_flush_close_unref(b->bus);
        }
        for (size_t i = 0; i < BUS_INTERFACES; i++)
                free(b->vtables[i]);    /* after the connection that used them */
        free(b);
        return NULL;
}

sd_bus *bus_connection(struct bus *b)
{
        return b->bus;
}

int bus_request_name(struct bus *b)
{
        int r = sd_bus_request_name(b->bus, BUS_NAME, 0);

        if (r < 0) {
                struct passwd *pw = getpwuid(geteuid());

                if (r == -EACCES || r == -EPERM)
                        log_error("The system bus refused to let user %s own the name %s: the D-Bus policy "
                                  "(%s) allows only users bc26d and root; install it or run bc26d as the bc26d user",
                                  pw ? pw->pw_name : "(unknown)", BUS_NAME, BC26_DBUS_POLICY_FILE);
                else if (r == -EEXIST || r == -EALREADY)
                        log_error("Another process already owns %s on the system bus: is bc26d already running?",
                                  BUS_NAME);
                else
                        log_errno(LOG_ERR, r, "Failed to own the name %s on the system bus", BUS_NAME);
                return r;
        }
        log_info("Serving %s %s on the system bus", BUS_NAME, BUS_PATH);
        rearm(b);
        return 0;
}

/* ---- changes and signals --------------------------------------------------------------------- */

static void changed(struct bus *b, const char *iface, char **names)
{
        if (!names[0])
                return;
        (void) sd_bus_emit_properties_changed_strv(b->bus, BUS_PATH, iface, names);
}

void bus_update(struct bus *b, const struct bus_snapshot *s)
{
        char *names[BUS_INTERFACES][BUS_PROPERTIES_MAX + 1] = {};
        bool any = false;

        for (size_t i = 0; i < BUS_INTERFACES; i++)
                for (size_t j = 0, n = 0; j < interfaces[i].n_properties; j++)
                        if (property_differs(&interfaces[i].properties[j], &b->snap, s)) {
                                names[i][n++] = (char *) interfaces[i].properties[j].name;
                                any = true;
                        }
        if (!any)
                return;
        b->snap = *s;
        for (size_t i = 0; i < BUS_INTERFACES; i++)
                changed(b, interfaces[i].name, names[i]);
        rearm(b);
}

void bus_send_done(struct bus *b, uint64_t cookie, int result, const char *why)
{
        sd_bus_message *call = take_pending(b, cookie);

        if (!call)
                return;
        if (result == 0)
                (void) sd_bus_reply_method_return(call, NULL);
        else if (result == -EBUSY)
                (void) sd_bus_reply_method_errorf(call, BUS_ERROR_UPGRADE_IN_PROGRESS, "%s", why);
        else if (result == -ENOTCONN)
                (void) sd_bus_reply_method_errorf(call, BUS_ERROR_NOT_READY, "%s", why);
        else
                (void) sd_bus_reply_method_errorf(call, BUS_ERROR_SEND_FAILED, "%s", why);
        sd_bus_message_unref(call);
        rearm(b);
}

static void emit(struct bus *b, const char *iface, const char *member, const char *types, ...)
{
        sd_bus_message *msg = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_signal(b->bus, &msg, BUS_PATH, iface, member);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(msg, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_send(b->bus, msg, NULL);
        if (r < 0)
                log_errno(LOG_WARNING, r, "Failed to emit %s.%s", iface, member);
        sd_bus_message_unref(msg);
        rearm(b);
}

void bus_emit_module_rebooted(struct bus *b, const char *cause)
{
        emit(b, BUS_IFACE_MODEM, "ModuleRebooted", "s", cause);
}

void bus_emit_module_reset(struct bus *b, const char *rung, bool recovered)
{
        emit(b, BUS_IFACE_MODEM, "ModuleReset", "sb", rung, (int) recovered);
}

void bus_emit_data_received(struct bus *b, unsigned obj, unsigned inst, unsigned res, const uint8_t *data, size_t len)
{
        sd_bus_message *msg = NULL;
        int r;

        r = sd_bus_message_new_signal(b->bus, &msg, BUS_PATH, BUS_IFACE_LWM2M, "DataReceived");
        if (r >= 0)
                r = sd_bus_message_append(msg, "uuu", (uint32_t) obj, (uint32_t) inst, (uint32_t) res);
        if (r >= 0)
                r = sd_bus_message_append_array(msg, 'y', data, len);
        if (r >= 0)
                r = sd_bus_send(b->bus, msg, NULL);
        if (r < 0)
                log_errno(LOG_WARNING, r, "Failed to emit DataReceived");
        sd_bus_message_unref(msg);
        rearm(b);
}

void bus_emit_data_delivered(struct bus *b, uint64_t id)
{
        emit(b, BUS_IFACE_LWM2M, "DataDelivered", "t", id);
}

void bus_emit_data_dropped(struct bus *b, uint64_t id, const char *reason)
{
        emit(b, BUS_IFACE_LWM2M, "DataDropped", "ts", id, reason);
}

void bus_emit_upgrade_started(struct bus *b)
{
        emit(b, BUS_IFACE_FOTA, "UpgradeStarted", NULL);
}

void bus_emit_upgrade_finished(struct bus *b, const char *result, int32_t code)
{
        emit(b, BUS_IFACE_FOTA, "UpgradeFinished", "si", result, code);
}
