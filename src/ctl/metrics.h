/* metrics.h - bc26ctl metrics' pure formatter: a struct of values read from bc26d in, the
 * Prometheus text exposition format (0.0.4) out. No bus, no clock, no globals. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "counters.h"                   /* the counters and their GetCounters names: one list */

/* "Not known" values, as bc26d's D-Bus API uses them (doc/dbus-api.md). */
#define METRICS_INT_UNKNOWN INT32_MIN           /* i properties: Rsrp, Sinr */
#define METRICS_UINT_UNKNOWN UINT32_MAX         /* u properties: Progress */

struct metrics_values {
        bool up;                        /* bc26d answered on the bus; false: only bc26_up 0 */
        const char *state;              /* Modem1.State; NULL not known */
        const char *fota_phase;         /* Fota1.Phase; NULL not known */
        uint32_t fota_progress;         /* Fota1.Progress, percent; METRICS_UINT_UNKNOWN */
        const char *registration;       /* Network1.Registration; NULL not known */
        int32_t rsrp_dbm;               /* Network1.Rsrp; METRICS_INT_UNKNOWN */
        int32_t sinr_db;                /* Network1.Sinr; METRICS_INT_UNKNOWN */
        uint64_t updated_usec;          /* Network1.Updated, us since the epoch; 0 never */
        /* Modem1.GetCounters, by enum counter_id: name "X.Y" is bc26_X_total{LABEL="Y"}. */
        uint64_t counters[_COUNTER_MAX];
        bool counter_known[_COUNTER_MAX];       /* false: the daemon did not give it */
};

/* Everything "not known" and up false. */
void metrics_values_init(struct metrics_values *v);

/* The counter (enum counter_id) a GetCounters key names ("upgrades.success"), or -ENOENT
 * (ignore the key). */
int metrics_counter_from_key(const char *key);

/* Write the exposition text for v to f. 0, or -EIO if a write failed. */
int metrics_write(FILE *f, const struct metrics_values *v);

/* The same into buf (always NUL-terminated when size > 0); *len (may be NULL) gets the length
 * the whole text needs. 0, or -ENOBUFS if it did not fit. */
int metrics_format(char *buf, size_t size, const struct metrics_values *v, size_t *len);
