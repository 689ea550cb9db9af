/* ctl-history.h - `bc26ctl history` output: the entries of Fota1.GetHistory() printed as a table
 * or as JSON. Pure formatting (no bus); times are shown in the local time zone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One GetHistory() dict; a key the reply lacks keeps its zero value (strings: NULL = ""). The
 * strings point into the reply message. */
struct ctl_history_entry {
        uint64_t started, finished;     /* usec since the epoch; finished 0 while running */
        const char *result;
        int32_t code;
        const char *revision_before, *revision_after;
        uint32_t resets, max_progress;
        bool interrupted;
};

/* A span of s seconds as bc26ctl shows durations (history, queue): "45s", "12m31s", "1h02m03s",
 * "2d03h04m". */
void ctl_history_span(uint64_t s, char *buf, size_t size);

/* finished - started as ctl_history_span shows it; "running" while finished is 0; "?" if the
 * clock went backwards (finished < started). */
void ctl_history_duration(uint64_t started, uint64_t finished, char *buf, size_t size);

/* The table (a header line and one line per entry, newest first as given), or "No upgrades
 * recorded." when n is 0. */
void ctl_history_print_text(FILE *f, const struct ctl_history_entry *e, size_t n);

/* A JSON array of objects with GetHistory()'s keys, on one line. */
void ctl_history_print_json(FILE *f, const struct ctl_history_entry *e, size_t n);
