/* history.h - the upgrade history (Fota1.GetHistory): a bounded list of upgrades, newest first,
 * kept up to date by pure calls that take times as arguments, a strict text form with a checksum
 * per record, and a load/save edge over durable.c (file "history" in the state dir). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HISTORY_LIMIT_MAX       1024
#define HISTORY_FILE_NAME       "history"
#define HISTORY_RESULT_MAX      24      /* sizeof(result), NUL included */
#define HISTORY_REVISION_MAX    64      /* sizeof(revision_*), NUL included */
/* Longest record line, '\n' included; a file holds a header and at most HISTORY_LIMIT_MAX. */
#define HISTORY_LINE_MAX        384
#define HISTORY_FILE_MAX        (64 + HISTORY_LIMIT_MAX * HISTORY_LINE_MAX)

struct history_entry {
        uint64_t started, finished;     /* usec since the epoch; finished 0 while running */
        char result[HISTORY_RESULT_MAX]; /* as Fota1.LastResult ("success", "download-failed",
                                           "update-failed", "timeout"), "unknown" if it ended
                                           while bc26d was not running, "" while running */
        int32_t code;                   /* as LastResultCode; 0 while running */
        char revision_before[HISTORY_REVISION_MAX], revision_after[HISTORY_REVISION_MAX]; /* "" until known */
        uint32_t resets;                /* table-2 resets used */
        uint32_t max_progress;          /* highest UPDATING/DOWNLOADING percent seen, 0..100 */
        bool interrupted;               /* bc26d was restarted while it ran */
};

struct history;

/* A history keeping the newest limit entries (0..HISTORY_LIMIT_MAX; 0 keeps nothing).
 * 0, -EINVAL or -ENOMEM. */
int history_new(unsigned limit, struct history **out);
/* Free h (NULL is fine); returns NULL. */
struct history *history_free(struct history *h);
/* How many entries are kept (0..limit). */
size_t history_count(const struct history *h);
/* Entry i, 0 = newest; NULL past the end. */
const struct history_entry *history_get(const struct history *h, size_t i);
/* The newest entry if it is still running (finished == 0), else NULL. */
struct history_entry *history_running(struct history *h);

/* Each of these returns true if the history changed (the caller then saves it). */

/* An upgrade started. If one is still running: with interrupted (bc26d restarted and resumes an
 * upgrade) that entry is the same upgrade, marked interrupted, and no entry is added (an
 * upgrade interrupted by a restart is recorded once); without, the old one ended unseen: it is
 * finished as "unknown" at started and a new entry is added. The oldest entry beyond the limit
 * is dropped. A revision that is not 1..63 printable ASCII characters without spaces is kept as
 * "" (not known). */
bool history_begin(struct history *h, uint64_t started, const char *revision_before, bool interrupted);
/* The running upgrade reported percent (capped at 100): raises max_progress. Callers may save
 * lazily (the next phase change or finish), since a lost percent costs nothing. */
bool history_progress(struct history *h, unsigned percent);
/* The running upgrade used a table-2 reset. */
bool history_reset_used(struct history *h);
/* The running upgrade ended: result (a lowercase token such as "success"; anything else is
 * recorded as "unknown") and code. finished 0 is recorded as started (or 1), so the entry is
 * never mistaken for a running one. False if nothing runs. */
bool history_finish(struct history *h, uint64_t finished, const char *result, int32_t code);
/* bc26d restarted while the running upgrade ran. */
bool history_mark_interrupted(struct history *h);
/* The module is back and re-registered after the newest finished upgrade: fill revision_after
 * of the newest entry if it is finished and revision_after is still "" (so only once). */
bool history_set_revision_after(struct history *h, const char *revision);

/* Text form: header "bc26d-history 1 <count>", then one line per entry, oldest first, each
 * "<crc32 hex> key=value ..." with the CRC over the rest of the line. Length, -ENOSPC, or
 * -EINVAL if an entry could not be decoded back (e.g. edited through history_running()). */
int history_encode(const struct history *h, char *buf, size_t size);
/* Replace h's entries with those of text, keeping the newest limit. -EBADMSG with "line N: ..."
 * in why if anything is malformed, truncated or fails its checksum; h is then empty. */
int history_decode(struct history *h, const char *text, size_t len, char *why, size_t why_size);

/* Edge: load dir/history. 0 (also when there is no file: empty history); -EBADMSG if corrupt:
 * the file is moved aside, why names the new file and the line, and the history is empty;
 * other negative errno (why says which file) with an empty history. */
int history_load(struct history *h, const char *dir, char *why, size_t why_size);
/* Edge: write dir/history atomically and durably. 0 or negative errno. */
int history_save(const struct history *h, const char *dir);
