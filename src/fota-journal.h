/* fota-journal.h - the DFOTA history in the journal: one record per note of a fota_output, with
 * MESSAGE_ID and BC26_FOTA_* fields, so "journalctl -u bc26d MESSAGE_ID=..." gives the history. */
#pragma once

#include "fota.h"

/* Log every note of out; urc is the module's line that caused it (NULL for timers). */
void fota_journal(const struct fota *f, const struct fota_output *out, const char *urc);

/* A module reset (any rung, any trigger), with the FOTA fields of the moment. */
void fota_journal_reset(const struct fota *f, int priority, const char *message);
