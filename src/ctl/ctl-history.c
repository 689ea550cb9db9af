/* ctl-history.c - `bc26ctl history` formatting: the upgrade table and its JSON form. Pure: it
 * only writes to the FILE it is given (times in the local time zone, as `status` shows them). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl-history.h"

#define COL_GAP "  "
#define FIELD_MAX 160                   /* one cell: a revision pair is at most 2 x 63 + 4 */

static const char *str(const char *s)
{
        return s ? s : "";
}

void ctl_history_span(uint64_t s, char *buf, size_t size)
{
        if (s < 60)
                (void) snprintf(buf, size, "%" PRIu64 "s", s);
        else if (s < 3600)
                (void) snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
        else if (s < 86400)
                (void) snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", s / 3600,
                                s / 60 % 60, s % 60);
        else
                (void) snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m", s / 86400,
                                s / 3600 % 24, s / 60 % 60);
}

void ctl_history_duration(uint64_t started, uint64_t finished, char *buf, size_t size)
{
        if (finished == 0) {
                (void) snprintf(buf, size, "running");
                return;
        }
        if (finished < started) {
                (void) snprintf(buf, size, "?");
                return;
        }
        ctl_history_span((finished - started) / 1000000, buf, size);
}

/* Local "2026-12-05 10:00:00" of a CLOCK_REALTIME usec count; "?" for 0 (never known). */
static void format_started(uint64_t usec, char *buf, size_t size)
{
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec == 0) {
                (void) snprintf(buf, size, "?");
                return;
        }
        if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                (void) snprintf(buf, size, "%" PRIu64, usec);
}

struct row {
        char started[32], duration[32], result[64], code[16], firmware[FIELD_MAX];
};

static void make_row(const struct ctl_history_entry *e, struct row *r)
{
        const char *before = str(e->revision_before), *after = str(e->revision_after);
        const char *result = str(e->result);

        format_started(e->started, r->started, sizeof(r->started));
        ctl_history_duration(e->started, e->finished, r->duration, sizeof(r->duration));
        (void) snprintf(r->result, sizeof(r->result), "%s%s", result[0] ? result : "-",
                        e->interrupted ? " (interrupted)" : "");
        if (e->finished == 0)
                (void) snprintf(r->code, sizeof(r->code), "-");
        else
                (void) snprintf(r->code, sizeof(r->code), "%" PRId32, e->code);
        (void) snprintf(r->firmware, sizeof(r->firmware), "%.63s -> %.63s", before[0] ? before : "?",
                        after[0] ? after : "?");
}

static int width(int w, const char *s)
{
        int n = (int) strlen(s);

        return n > w ? n : w;
}

void ctl_history_print_text(FILE *f, const struct ctl_history_entry *e, size_t n)
{
        int w_started = (int) strlen("STARTED"), w_duration = (int) strlen("DURATION");
        int w_result = (int) strlen("RESULT"), w_code = (int) strlen("CODE");
        struct row r;

        if (n == 0) {
                fputs("No upgrades recorded.\n", f);
                return;
        }
        /* Two passes: the widths first, so the columns line up whatever the entries hold. */
        for (size_t i = 0; i < n; i++) {
                make_row(&e[i], &r);
                w_started = width(w_started, r.started);
                w_duration = width(w_duration, r.duration);
                w_result = width(w_result, r.result);
                w_code = width(w_code, r.code);
        }
        fprintf(f, "%-*s" COL_GAP "%-*s" COL_GAP "%-*s" COL_GAP "%*s" COL_GAP "%s\n", w_started,
                "STARTED", w_duration, "DURATION", w_result, "RESULT", w_code, "CODE", "FIRMWARE");
        for (size_t i = 0; i < n; i++) {
                make_row(&e[i], &r);
                fprintf(f, "%-*s" COL_GAP "%-*s" COL_GAP "%-*s" COL_GAP "%*s" COL_GAP "%s\n",
                        w_started, r.started, w_duration, r.duration, w_result, r.result, w_code,
                        r.code, r.firmware);
        }
}

static void print_json_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) str(s); *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);   /* D-Bus strings are valid UTF-8: pass it through */
        }
        fputc('"', f);
}

void ctl_history_print_json(FILE *f, const struct ctl_history_entry *e, size_t n)
{
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s{\"started\":%" PRIu64 ",\"finished\":%" PRIu64 ",\"result\":",
                        i > 0 ? "," : "", e[i].started, e[i].finished);
                print_json_string(f, e[i].result);
                fprintf(f, ",\"code\":%" PRId32 ",\"revision_before\":", e[i].code);
                print_json_string(f, e[i].revision_before);
                fputs(",\"revision_after\":", f);
                print_json_string(f, e[i].revision_after);
                fprintf(f, ",\"resets\":%" PRIu32 ",\"max_progress\":%" PRIu32 ",\"interrupted\":%s}",
                        e[i].resets, e[i].max_progress, e[i].interrupted ? "true" : "false");
        }
        fputs("]\n", f);
}
