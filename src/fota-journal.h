/* fota-journal.h - the DFOTA history in the journal: one record per note of a fota_output, with
 * MESSAGE_ID and BC26_FOTA_* fields, so "journalctl -u bc26d MESSAGE_ID=..." gives the history. */
#pragma once

#include "fota.h"

/* The module's firmware revision before the upgrade and now ("" unknown). */
struct fota_journal_firmware {
        const char *before, *after;
};

/* Log every note of out; urc is the module's line that caused it (NULL for timers). The record of
 * a finished upgrade also carries BC26_FIRMWARE_BEFORE/BC26_FIRMWARE_AFTER from fw (if not NULL). */
void fota_journal(const struct fota *f, const struct fota_output *out, const char *urc,
                  const struct fota_journal_firmware *fw);

/* A module reset (any rung, any trigger), with the FOTA fields of the moment. */
void fota_journal_reset(const struct fota *f, int priority, const char *message);
