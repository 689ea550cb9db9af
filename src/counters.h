/* counters.h - the daemon's event counters (Modem1.GetCounters, bc26ctl metrics): names, the
 * mappings from upgrade results and reboot causes, a strict checksummed text form, and a
 * load/save edge over durable.c (file "counters" in the state dir). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define COUNTERS_FILE_NAME      "counters"
#define COUNTERS_RECORDS_MAX    256     /* records in a file, names a newer bc26d adds included */
#define COUNTERS_LINE_MAX       128     /* longest record line, '\n' included */
#define COUNTERS_FILE_MAX       (64 + COUNTERS_RECORDS_MAX * COUNTERS_LINE_MAX)

enum counter_id {
        COUNTER_UPGRADES_SUCCESS,
        COUNTER_UPGRADES_DOWNLOAD_FAILED,
        COUNTER_UPGRADES_UPDATE_FAILED,
        COUNTER_UPGRADES_TIMEOUT,
        COUNTER_UPGRADES_UNKNOWN,
        COUNTER_REBOOTS_AT_RESET,
        COUNTER_REBOOTS_GPIO_RESET,
        COUNTER_REBOOTS_PWRKEY,
        COUNTER_REBOOTS_UPGRADE,
        COUNTER_REBOOTS_UNEXPECTED,
        COUNTER_SEND_OK,
        COUNTER_SEND_FAILED,
        COUNTER_SEND_REFUSED,
        _COUNTER_MAX,
};

struct counters {
        uint64_t v[_COUNTER_MAX];
};

/* "upgrades.success", ..., "send.refused": these exact strings are the D-Bus contract. NULL for
 * an id out of range. */
const char *counter_name(enum counter_id id);
/* The counter of an upgrade result as LastResult spells it ("success", "download-failed",
 * "update-failed", "timeout", "unknown"), or -EINVAL. */
int counter_from_upgrade_result(const char *result);
/* The counter of a ModuleRebooted cause ("at-reset", "gpio-reset", "pwrkey", "upgrade",
 * "unexpected"), or -EINVAL. */
int counter_from_reboot_cause(const char *cause);

/* Text form: header "bc26d-counters 1 <records>", then "<crc32 hex> name=value" lines. Length
 * or -ENOSPC. */
int counters_encode(const struct counters *c, char *buf, size_t size);
/* Parse text into c (names this version does not know are skipped; names missing are 0).
 * -EBADMSG with "line N: ..." in why if malformed, truncated or a checksum fails; c is then all
 * zero. */
int counters_decode(struct counters *c, const char *text, size_t len, char *why, size_t why_size);

/* Edge: load dir/counters. 0 (all zero when there is no file); -EBADMSG if corrupt: moved aside,
 * why names the new file and the line, c all zero; other negative errno with c all zero. */
int counters_load(struct counters *c, const char *dir, char *why, size_t why_size);
/* Edge: write dir/counters atomically and durably. 0 or negative errno. */
int counters_save(const struct counters *c, const char *dir);
