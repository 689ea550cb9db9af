/* metrics.c - formats bc26d's values as the Prometheus text exposition format 0.0.4 for
 * `bc26ctl metrics`. Pure: writes to the caller's FILE or buffer, never reads bus or clock.
 * Every family gets # HELP and # TYPE, even when its sample is "not known" and omitted, and the
 * order is fixed, so two runs on the same values give the same bytes. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "metrics.h"

/* Where the text goes: a FILE, or a bounded buffer that counts what did not fit. */
struct sink {
        FILE *f;
        char *buf;
        size_t size;
        size_t len;                     /* buffer: what the text needs so far */
        bool failed;                    /* FILE: a write failed */
};

static void sink_printf(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sink_printf(struct sink *s, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        if (s->f) {
                if (vfprintf(s->f, fmt, ap) < 0)
                        s->failed = true;
        } else {
                n = vsnprintf(s->len < s->size ? s->buf + s->len : NULL,
                              s->len < s->size ? s->size - s->len : 0, fmt, ap);
                if (n > 0)
                        s->len += (size_t) n;
        }
        va_end(ap);
}

/* A label value with \, " and newline escaped as the format requires (D-Bus strings are UTF-8,
 * which the format takes as is). */
static void sink_label_value(struct sink *s, const char *v)
{
        for (const char *p = v; *p; p++) {
                if (*p == '\\')
                        sink_printf(s, "\\\\");
                else if (*p == '"')
                        sink_printf(s, "\\\"");
                else if (*p == '\n')
                        sink_printf(s, "\\n");
                else
                        sink_printf(s, "%c", *p);
        }
}

static void family(struct sink *s, const char *name, const char *type, const char *help)
{
        sink_printf(s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One-hot over the values the API documents; a value it does not (a newer daemon) gets a
 * sample of its own, so the family still sums to 1 and the value is visible. NULL: no sample. */
static void one_hot(struct sink *s, const char *name, const char *label,
                    const char *const *values, size_t n, const char *value)
{
        bool matched = false;

        if (!value)
                return;
        for (size_t i = 0; i < n; i++) {
                bool on = strcmp(values[i], value) == 0;

                sink_printf(s, "%s{%s=\"%s\"} %d\n", name, label, values[i], on ? 1 : 0);
                matched = matched || on;
        }
        if (!matched) {
                sink_printf(s, "%s{%s=\"", name, label);
                sink_label_value(s, value);
                sink_printf(s, "\"} 1\n");
        }
}

static const char *const states[] = {
        "disconnected", "initializing", "registering", "ready", "upgrading",
};
static const char *const phases[] = {
        "idle", "downloading", "downloaded", "updating", "reporting",
};
static const char *const registrations[] = {
        "unknown", "not-registered", "searching", "home", "roaming", "denied",
};

/* Each counter goes to the family of its name's prefix ("upgrades." -> bc26_upgrades_total), with
 * the rest of the name as the label; tests/test-metrics.c checks that every counter has one. */
static const struct counter_family {
        const char *prefix;
        const char *name;
        const char *label;
        const char *help;
} counter_families[] = {
        { "upgrades.", "bc26_upgrades_total", "result",
          "Firmware upgrades (DFOTA) that bc26d saw finish, by result, since its state dir was created." },
        { "module_reboots.", "bc26_module_reboots_total", "cause",
          "Reboots of the BC26 module that bc26d saw, by cause, since its state dir was created." },
        { "send.", "bc26_send_total", "result",
          "LwM2M uplinks (SendData) by result, since bc26d's state dir was created." },
};

void metrics_values_init(struct metrics_values *v)
{
        memset(v, 0, sizeof(*v));
        v->fota_progress = METRICS_UINT_UNKNOWN;
        v->rsrp_dbm = METRICS_INT_UNKNOWN;
        v->sinr_db = METRICS_INT_UNKNOWN;
}

int metrics_counter_from_key(const char *key)
{
        for (unsigned i = 0; i < _COUNTER_MAX; i++)
                if (strcmp(counter_name((enum counter_id) i), key) == 0)
                        return (int) i;
        return -ENOENT;
}

#define N(t) (sizeof(t) / sizeof((t)[0]))

static void format(struct sink *s, const struct metrics_values *v)
{
        family(s, "bc26_up", "gauge", "Whether bc26d answered on the system bus (1) or not (0).");
        sink_printf(s, "bc26_up %d\n", v->up ? 1 : 0);
        if (!v->up)
                return;         /* nothing else is known: no families that could mislead */

        family(s, "bc26_state", "gauge", "bc26d's modem state (org.bc26d.Modem1.State), one-hot.");
        one_hot(s, "bc26_state", "state", states, N(states), v->state);

        family(s, "bc26_fota_phase", "gauge",
               "Phase of the module's firmware upgrade (org.bc26d.Fota1.Phase), one-hot.");
        one_hot(s, "bc26_fota_phase", "phase", phases, N(phases), v->fota_phase);

        family(s, "bc26_fota_progress_percent", "gauge",
               "Progress of the running firmware upgrade in percent (org.bc26d.Fota1.Progress).");
        if (v->fota_progress != METRICS_UINT_UNKNOWN)
                sink_printf(s, "bc26_fota_progress_percent %" PRIu32 "\n", v->fota_progress);

        for (size_t k = 0; k < N(counter_families); k++) {
                const struct counter_family *c = &counter_families[k];

                size_t n = strlen(c->prefix);

                family(s, c->name, "counter", c->help);
                for (unsigned i = 0; i < _COUNTER_MAX; i++) {
                        const char *key = counter_name((enum counter_id) i);

                        if (!v->counter_known[i] || strncmp(key, c->prefix, n) != 0)
                                continue;
                        sink_printf(s, "%s{%s=\"%s\"} %" PRIu64 "\n", c->name, c->label, key + n,
                                    v->counters[i]);
                }
        }

        family(s, "bc26_rsrp_dbm", "gauge",
               "Reference signal received power of the serving cell in dBm (org.bc26d.Network1.Rsrp).");
        if (v->rsrp_dbm != METRICS_INT_UNKNOWN)
                sink_printf(s, "bc26_rsrp_dbm %" PRId32 "\n", v->rsrp_dbm);

        family(s, "bc26_sinr_db", "gauge",
               "Signal to interference plus noise ratio in dB (org.bc26d.Network1.Sinr).");
        if (v->sinr_db != METRICS_INT_UNKNOWN)
                sink_printf(s, "bc26_sinr_db %" PRId32 "\n", v->sinr_db);

        family(s, "bc26_registration", "gauge",
               "Network registration of the module (org.bc26d.Network1.Registration), one-hot.");
        one_hot(s, "bc26_registration", "state", registrations, N(registrations), v->registration);

        family(s, "bc26_last_reading_timestamp_seconds", "gauge",
               "When bc26d last read the radio status, in seconds since the epoch (org.bc26d.Network1.Updated).");
        /* Integer arithmetic: exact microseconds, no rounding through a double. */
        if (v->updated_usec != 0)
                sink_printf(s, "bc26_last_reading_timestamp_seconds %" PRIu64 ".%06" PRIu64 "\n",
                            v->updated_usec / 1000000, v->updated_usec % 1000000);
}

int metrics_write(FILE *f, const struct metrics_values *v)
{
        struct sink s = { .f = f };

        format(&s, v);
        return s.failed || ferror(f) ? -EIO : 0;
}

int metrics_format(char *buf, size_t size, const struct metrics_values *v, size_t *len)
{
        struct sink s = { .buf = buf, .size = size };

        if (size > 0)
                buf[0] = '\0';
        format(&s, v);
        if (len)
                *len = s.len;
        return s.len < size ? 0 : -ENOBUFS;
}
