/* store.h - the persisted DFOTA state: encode/decode (pure) and atomic save/load (edge).
 * Deadlines are CLOCK_BOOTTIME values tagged with the kernel boot id, since gateways often have
 * no RTC and no NTP; wall-clock time is written for people only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "fota.h"

#define STORE_FILE_NAME "fota.state"
#define STORE_BOOT_ID_MAX 40

struct store_record {
        struct fota_state st;
        char boot_id[STORE_BOOT_ID_MAX];   /* /proc/sys/kernel/random/boot_id at save time */
        uint64_t saved_realtime_usec;      /* for display only */
};

/* Text form ("key=value" lines, versioned). Returns the length written, -ENOSPC, or -EINVAL if
 * rec could not be decoded back (enum out of range, progress > 100, boot_id not a uuid). */
int store_encode(const struct store_record *rec, char *buf, size_t size);

/* Parse the text form; -EBADMSG (with a reason in why) if anything is missing or malformed. */
int store_decode(const char *text, size_t len, struct store_record *rec, char *why, size_t why_size);

/* Write dir/fota.state atomically: temp file, fsync, rename, fsync of the directory. */
int store_save(const char *dir, const struct store_record *rec);

/* Read dir/fota.state. -ENOENT if there is none; -EBADMSG if corrupt (the file is then renamed
 * to fota.state.corrupt-<realtime>, and why names the problem and the new name). */
int store_load(const char *dir, struct store_record *rec, char *why, size_t why_size);

/* This boot's id, from /proc/sys/kernel/random/boot_id. */
int store_read_boot_id(char *buf, size_t size);
