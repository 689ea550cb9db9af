/* test-fota.c - Check suite for the DFOTA state machine (fota.c): scripted scenarios of URCs,
 * ticks and re-registrations on a fake clock, covering the guide's sequence and table 2, and
 * which steps ask to persist (recovery state) and which do not (progress alone). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fota.h"
#include "transcript.h"

#define SEC(s) ((uint64_t) (s) * 1000000ULL)
#define T 2100          /* fota.timeout_s: the guide's 35 minutes */
#define DM 5000         /* fota.download_max_s */

static const struct fota_config cfg = { .timeout_usec = SEC(T), .download_max_usec = SEC(DM) };

enum ev { EV_NONE, EV_URC, EV_TICK, EV_REREG };

struct step {
        enum ev ev;
        enum fota_urc_kind kind;
        int code, pct;
        uint64_t t;             /* seconds */
        /* expected after the step */
        enum fota_phase phase;
        unsigned actions;       /* exact */
        const char *signals;    /* exact, 'S' STARTED, 'F' FINISHED; NULL = none */
        int note;               /* FOTA_NOTE_* + 1 that must be present; 0: no check */
        int no_note;            /* FOTA_NOTE_* + 1 that must be absent; 0: no check */
        uint64_t deadline;      /* seconds; 0: no check */
        uint64_t ddl;           /* download deadline, seconds; 0: no check */
        int progress;           /* percent + 1; 0: no check */
};

struct scenario {
        const char *name;
        struct step steps[16];
        enum fota_result result;
        int code;
        unsigned started, finished;
};

#define URC(k, c, p, time) .ev = EV_URC, .kind = FOTA_URC_##k, .code = (c), .pct = (p), .t = (time)
#define TICK(time) .ev = EV_TICK, .t = (time)
#define REREG(time) .ev = EV_REREG, .t = (time)
#define NOTE(n) .note = FOTA_NOTE_##n + 1
#define NO_NOTE(n) .no_note = FOTA_NOTE_##n + 1
#define PROG(n) .progress = (n) + 1
#define IDLE FOTA_PHASE_IDLE
#define DL FOTA_PHASE_DOWNLOADING
#define DLD FOTA_PHASE_DOWNLOADED
#define UPD FOTA_PHASE_UPDATING
#define REP FOTA_PHASE_REPORTING
#define P FOTA_ACTION_PERSIST
#define RS FOTA_ACTION_RESET
#define RR FOTA_ACTION_REREGISTER

/* The standard download-and-flash prefix: COAPSTART@1000, COAPEND,0@1200, START@1400. */
#define FLASH_PREFIX \
        { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S", .deadline = 1000 + T, .ddl = 1000 + DM }, \
        { URC(COAPEND, 0, -1, 1200), .phase = DLD, .actions = P, .deadline = 1000 + T }, \
        { URC(START, -1, -1, 1400), .phase = UPD, .actions = P, .deadline = 1000 + T }

static const struct scenario scenarios[] = {
        { "guide sequence", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S", NOTE(UPGRADE_STARTED),
                  .deadline = 1000 + T, .ddl = 1000 + DM, PROG(0) },
                { URC(COAPEND, 0, -1, 1300), .phase = DLD, .actions = P, NOTE(PHASE_CHANGED), .deadline = 1000 + T },
                { URC(START, -1, -1, 1400), .phase = UPD, .actions = P, NOTE(PHASE_CHANGED), NO_NOTE(OUT_OF_ORDER),
                  .deadline = 1000 + T },
                /* progress alone is not recovery state: no PERSIST, no fsync before Progress */
                { URC(UPDATING, -1, 20, 1500), .phase = UPD, .actions = 0, NOTE(PROGRESS), PROG(20), .deadline = 1000 + T },
                { URC(UPDATING, -1, 100, 1600), .phase = UPD, .actions = 0, NOTE(PROGRESS), PROG(100) },
                { URC(END, 0, -1, 1700), .phase = REP, .actions = P | RR, NOTE(PHASE_CHANGED), NO_NOTE(FINISHED_OK),
                  .deadline = 1700 + T, PROG(100) },
                { REREG(1750), .phase = IDLE, .actions = P, .signals = "F", NOTE(FINISHED_OK) },
          }, FOTA_RESULT_SUCCESS, 0, 1, 1 },
        { "download fails", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPEND, 5, -1, 1200), .phase = IDLE, .actions = P, .signals = "F", NOTE(DOWNLOAD_FAILED),
                  NO_NOTE(OUT_OF_ORDER) },
          }, FOTA_RESULT_DOWNLOAD_FAILED, 5, 1, 1 },
        { "update fails, still reported", {
                FLASH_PREFIX,
                { URC(END, 3, -1, 1500), .phase = REP, .actions = P | RR, NO_NOTE(UPDATE_FAILED), .deadline = 1500 + T },
                { REREG(1600), .phase = IDLE, .actions = P, .signals = "F", NOTE(UPDATE_FAILED) },
          }, FOTA_RESULT_UPDATE_FAILED, 3, 1, 1 },
        { "table 2 row 1: stall in downloading", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S", .deadline = 1000 + T },
                { TICK(1000 + T - 1), .phase = DL, .actions = 0, .deadline = 1000 + T },
                { TICK(1000 + T), .phase = DL, .actions = P, NOTE(WINDOW_EXPIRED), NO_NOTE(MODULE_RESET),
                  .deadline = 1000 + 2 * T, .ddl = 1000 + DM },
                /* the next window would end past the download limit: it is cut there */
                { TICK(1000 + 2 * T), .phase = DL, .actions = P, NOTE(WINDOW_EXPIRED), .deadline = 1000 + DM,
                  .ddl = 1000 + DM },
                { TICK(1000 + DM - 1), .phase = DL, .actions = 0 },
                { TICK(1000 + DM), .phase = IDLE, .actions = P, .signals = "F", NOTE(TIMED_OUT), NO_NOTE(MODULE_RESET) },
          }, FOTA_RESULT_TIMEOUT, 0, 1, 1 },
        { "table 2 row 1: late COAPEND,y after a window", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { TICK(1000 + T), .phase = DL, .actions = P, NOTE(WINDOW_EXPIRED) },
                { URC(COAPEND, 2, -1, 4000), .phase = IDLE, .actions = P, .signals = "F", NOTE(DOWNLOAD_FAILED) },
          }, FOTA_RESULT_DOWNLOAD_FAILED, 2, 1, 1 },
        { "late COAPEND,0 opens a new first window", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { TICK(1000 + T), .phase = DL, .actions = P, NOTE(WINDOW_EXPIRED), .deadline = 1000 + 2 * T },
                { URC(COAPEND, 0, -1, 4000), .phase = DLD, .actions = P, .deadline = 4000 + T },
                { TICK(4000 + T - 1), .phase = DLD, .actions = 0 },
                { TICK(4000 + T), .phase = DLD, .actions = P | RS, NOTE(MODULE_RESET), .deadline = 4000 + 2 * T },
                { URC(END, 0, -1, 7000), .phase = REP, .actions = P | RR, .deadline = 7000 + T },
                { REREG(7100), .phase = IDLE, .actions = P, .signals = "F", NOTE(FINISHED_OK) },
          }, FOTA_RESULT_SUCCESS, 0, 1, 1 },
        { "table 2 row 2: stall in downloaded", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPEND, 0, -1, 1200), .phase = DLD, .actions = P, .deadline = 1000 + T },
                { TICK(1000 + T), .phase = DLD, .actions = P | RS, NOTE(MODULE_RESET), .deadline = 1000 + 2 * T },
                { TICK(1000 + 2 * T - 1), .phase = DLD, .actions = 0 },
                { TICK(1000 + 2 * T), .phase = IDLE, .actions = P, .signals = "F", NOTE(TIMED_OUT),
                  NO_NOTE(MODULE_RESET) },
          }, FOTA_RESULT_TIMEOUT, 0, 1, 1 },
        { "table 2 row 2: END after the reset", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPEND, 0, -1, 1200), .phase = DLD, .actions = P },
                { TICK(1000 + T), .phase = DLD, .actions = P | RS, .deadline = 1000 + 2 * T },
                { URC(START, -1, -1, 3500), .phase = UPD, .actions = P, .deadline = 1000 + 2 * T },
                { URC(UPDATING, -1, 50, 3600), .phase = UPD, .actions = 0, PROG(50) },
                { URC(END, 0, -1, 4000), .phase = REP, .actions = P | RR, .deadline = 4000 + T },
                { REREG(4100), .phase = IDLE, .actions = P, .signals = "F" },
                { TICK(1000 + 2 * T), .phase = IDLE, .actions = 0 },
          }, FOTA_RESULT_SUCCESS, 0, 1, 1 },
        { "table 2 row 3: stall in updating", {
                FLASH_PREFIX,
                { TICK(1000 + T), .phase = UPD, .actions = P | RS, NOTE(MODULE_RESET), .deadline = 1000 + 2 * T },
                { TICK(1000 + 2 * T), .phase = IDLE, .actions = P, .signals = "F", NOTE(TIMED_OUT) },
          }, FOTA_RESULT_TIMEOUT, 0, 1, 1 },
        { "table 2 row 3: END,x in the second window", {
                FLASH_PREFIX,
                { TICK(1000 + T), .phase = UPD, .actions = P | RS },
                { URC(END, 4, -1, 4000), .phase = REP, .actions = P | RR, .deadline = 4000 + T },
                { REREG(4100), .phase = IDLE, .actions = P, .signals = "F", NOTE(UPDATE_FAILED) },
          }, FOTA_RESULT_UPDATE_FAILED, 4, 1, 1 },
        { "window not re-armed at COAPEND,0 or START", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPEND, 0, -1, 2000), .phase = DLD, .actions = P, .deadline = 1000 + T },
                { URC(START, -1, -1, 3000), .phase = UPD, .actions = P, .deadline = 1000 + T },
                { TICK(1000 + T), .phase = UPD, .actions = P | RS },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "reporting gives up, keeps success", {
                FLASH_PREFIX,
                { URC(END, 0, -1, 2000), .phase = REP, .actions = P | RR, .deadline = 2000 + T },
                { TICK(2000 + T - 1), .phase = REP, .actions = 0 },
                { TICK(2000 + T), .phase = IDLE, .actions = P, .signals = "F", NOTE(REPORTING_GAVE_UP) },
          }, FOTA_RESULT_SUCCESS, 0, 1, 1 },
        { "reporting gives up, keeps failure", {
                FLASH_PREFIX,
                { URC(END, 6, -1, 2000), .phase = REP, .actions = P | RR },
                { TICK(2000 + T), .phase = IDLE, .actions = P, .signals = "F", NOTE(UPDATE_FAILED) },
          }, FOTA_RESULT_UPDATE_FAILED, 6, 1, 1 },
        { "long suspend in downloaded: one reset, then a full window", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPEND, 0, -1, 1200), .phase = DLD, .actions = P },
                { TICK(100000), .phase = DLD, .actions = P | RS, .deadline = 100000 + T },
                { TICK(100000 + T), .phase = IDLE, .actions = P, .signals = "F", NOTE(TIMED_OUT) },
          }, FOTA_RESULT_TIMEOUT, 0, 1, 1 },
        { "long suspend in downloading: straight to the limit", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { TICK(100000), .phase = IDLE, .actions = P, .signals = "F", NOTE(TIMED_OUT), NO_NOTE(WINDOW_EXPIRED) },
          }, FOTA_RESULT_TIMEOUT, 0, 1, 1 },
        { "START while idle", {
                { URC(START, -1, -1, 1000), .phase = UPD, .actions = P, .signals = "S", NOTE(OUT_OF_ORDER),
                  .deadline = 1000 + T, PROG(0) },
                { URC(UPDATING, -1, 30, 1100), .phase = UPD, .actions = 0, NO_NOTE(OUT_OF_ORDER), PROG(30) },
                { URC(END, 0, -1, 1200), .phase = REP, .actions = P | RR, NO_NOTE(OUT_OF_ORDER) },
                { REREG(1300), .phase = IDLE, .actions = P, .signals = "F" },
          }, FOTA_RESULT_SUCCESS, 0, 1, 1 },
        { "UPDATING while idle (resumed after power loss)", {
                { URC(UPDATING, -1, 40, 1000), .phase = UPD, .actions = P, .signals = "S", NOTE(OUT_OF_ORDER),
                  .deadline = 1000 + T, PROG(40) },
                { TICK(1000 + T), .phase = UPD, .actions = P | RS },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "COAPEND,0 while idle", {
                { URC(COAPEND, 0, -1, 1000), .phase = DLD, .actions = P, .signals = "S", NOTE(OUT_OF_ORDER),
                  .deadline = 1000 + T },
                { TICK(1000 + T), .phase = DLD, .actions = P | RS },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "END,0 while idle", {
                { URC(END, 0, -1, 1000), .phase = REP, .actions = P | RR, .signals = "S", NOTE(OUT_OF_ORDER),
                  .deadline = 1000 + T, PROG(100) },
                { REREG(1100), .phase = IDLE, .actions = P, .signals = "F", NOTE(FINISHED_OK) },
          }, FOTA_RESULT_SUCCESS, 0, 1, 1 },
        { "END,9 while idle", {
                { URC(END, 9, -1, 1000), .phase = REP, .actions = P | RR, .signals = "S", NOTE(OUT_OF_ORDER) },
                { REREG(1100), .phase = IDLE, .actions = P, .signals = "F", NOTE(UPDATE_FAILED) },
          }, FOTA_RESULT_UPDATE_FAILED, 9, 1, 1 },
        { "COAPEND,7 while idle: only FINISHED", {
                { URC(COAPEND, 7, -1, 1000), .phase = IDLE, .actions = P, .signals = "F", NOTE(OUT_OF_ORDER) },
          }, FOTA_RESULT_DOWNLOAD_FAILED, 7, 0, 1 },
        { "unknown FOTA URC while idle: cautious downloading", {
                { URC(UNKNOWN, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S", NOTE(UNKNOWN_URC),
                  .deadline = 1000 + T, .ddl = 1000 + DM },
                { TICK(1000 + T), .phase = DL, .actions = P, NOTE(WINDOW_EXPIRED) },
                { URC(COAPEND, 0, -1, 3200), .phase = DLD, .actions = P, .deadline = 3200 + T },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "unknown FOTA URC while updating changes nothing", {
                FLASH_PREFIX,
                { URC(UNKNOWN, -1, -1, 1500), .phase = UPD, .actions = 0, NOTE(UNKNOWN_URC), .deadline = 1000 + T },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "unknown FOTA URC while reporting changes nothing", {
                FLASH_PREFIX,
                { URC(END, 0, -1, 1500), .phase = REP, .actions = P | RR },
                { URC(UNKNOWN, -1, -1, 1600), .phase = REP, .actions = 0, NOTE(UNKNOWN_URC), .deadline = 1500 + T },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "COAPEND without a code is unknown", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPEND, -1, -1, 1100), .phase = DL, .actions = 0, NOTE(UNKNOWN_URC) },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "COAPSTART while reporting: old finishes, new starts", {
                FLASH_PREFIX,
                { URC(END, 0, -1, 1500), .phase = REP, .actions = P | RR },
                { URC(COAPSTART, -1, -1, 1600), .phase = DL, .actions = P, .signals = "FS", NOTE(FINISHED_OK),
                  NO_NOTE(OUT_OF_ORDER), .deadline = 1600 + T, .ddl = 1600 + DM, PROG(0) },
          }, FOTA_RESULT_SUCCESS, 0, 2, 1 },
        { "COAPSTART while updating: fresh download window", {
                FLASH_PREFIX,
                { URC(COAPSTART, -1, -1, 2000), .phase = DL, .actions = P, NOTE(OUT_OF_ORDER),
                  .deadline = 2000 + T, .ddl = 2000 + DM },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "COAPSTART while downloaded after a reset", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPEND, 0, -1, 1200), .phase = DLD, .actions = P },
                { TICK(1000 + T), .phase = DLD, .actions = P | RS },
                { URC(COAPSTART, -1, -1, 3500), .phase = DL, .actions = P, NOTE(OUT_OF_ORDER),
                  .deadline = 3500 + T, .ddl = 3500 + DM },
                /* back in row 1: an expiry warns, it does not reset again */
                { TICK(3500 + T), .phase = DL, .actions = P, NOTE(WINDOW_EXPIRED) },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "duplicate COAPSTART keeps the timers", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPSTART, -1, -1, 2000), .phase = DL, .actions = 0, NO_NOTE(OUT_OF_ORDER),
                  .deadline = 1000 + T, .ddl = 1000 + DM },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "duplicate START changes nothing", {
                FLASH_PREFIX,
                { URC(START, -1, -1, 1500), .phase = UPD, .actions = 0, .deadline = 1000 + T },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "UPDATING while downloaded (START missed)", {
                { URC(COAPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(COAPEND, 0, -1, 1200), .phase = DLD, .actions = P },
                { URC(UPDATING, -1, 10, 1300), .phase = UPD, .actions = P, NOTE(OUT_OF_ORDER), PROG(10),
                  .deadline = 1000 + T },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "HTTP method", {
                { URC(HTTPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S", .deadline = 1000 + T,
                  .ddl = 1000 + DM },
                { URC(DOWNLOADING, -1, 30, 1100), .phase = DL, .actions = 0, NOTE(PROGRESS), NO_NOTE(OUT_OF_ORDER),
                  PROG(30), .deadline = 1000 + T },
                { URC(HTTPEND, 0, -1, 1200), .phase = DLD, .actions = P, .deadline = 1000 + T },
                { URC(START, -1, -1, 1300), .phase = UPD, .actions = P },
                { URC(END, 0, -1, 1400), .phase = REP, .actions = P | RR },
                { REREG(1500), .phase = IDLE, .actions = P, .signals = "F" },
          }, FOTA_RESULT_SUCCESS, 0, 1, 1 },
        { "DOWNLOADING while idle", {
                { URC(DOWNLOADING, -1, 10, 1000), .phase = DL, .actions = P, .signals = "S", NOTE(OUT_OF_ORDER),
                  PROG(10), .deadline = 1000 + T, .ddl = 1000 + DM },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        { "HTTPEND failure", {
                { URC(HTTPSTART, -1, -1, 1000), .phase = DL, .actions = P, .signals = "S" },
                { URC(HTTPEND, 9, -1, 1100), .phase = IDLE, .actions = P, .signals = "F", NOTE(DOWNLOAD_FAILED) },
          }, FOTA_RESULT_DOWNLOAD_FAILED, 9, 1, 1 },
        { "re-registration outside reporting changes nothing", {
                { REREG(1000), .phase = IDLE, .actions = 0 },
                { URC(COAPSTART, -1, -1, 1100), .phase = DL, .actions = P, .signals = "S" },
                { REREG(1200), .phase = DL, .actions = 0 },
          }, FOTA_RESULT_NONE, 0, 1, 0 },
        /* Finding 8: a failed download's end starts no upgrade; it ends the reported one, once,
         * with that upgrade's result. */
        { "COAPEND,x while reporting: one result, the reported one", {
                FLASH_PREFIX,
                { URC(END, 0, -1, 1500), .phase = REP, .actions = P | RR },
                { URC(COAPEND, 7, -1, 1600), .phase = IDLE, .actions = P, .signals = "F", NOTE(OUT_OF_ORDER),
                  NO_NOTE(DOWNLOAD_FAILED) },
          }, FOTA_RESULT_SUCCESS, 0, 1, 1 },
        /* Finding 7: the module downloads again after the table-2 reset (COAPSTART repeat): the
         * upgrade stays in window 2, so its expiry is the final timeout, never a second reset. */
        { "COAPSTART again after the table-2 reset: one reset per upgrade", {
                FLASH_PREFIX,
                { TICK(1000 + T), .phase = UPD, .actions = P | RS, NOTE(MODULE_RESET), .deadline = 1000 + 2 * T },
                { URC(COAPSTART, -1, -1, 3200), .phase = DL, .actions = P, .signals = NULL, NOTE(OUT_OF_ORDER),
                  .deadline = 3200 + T, .ddl = 3200 + DM },
                { URC(DOWNLOADING, -1, 30, 3300), .phase = DL, .actions = 0, PROG(30) },
                { URC(COAPEND, 0, -1, 3400), .phase = DLD, .actions = P, .deadline = 3200 + T },
                { URC(START, -1, -1, 3500), .phase = UPD, .actions = P, .deadline = 3200 + T },
                { TICK(3200 + T), .phase = IDLE, .actions = P, .signals = "F", NOTE(TIMED_OUT),
                  NO_NOTE(MODULE_RESET) },
          }, FOTA_RESULT_TIMEOUT, 0, 1, 1 },
        { "repeated END while reporting: latest code, same deadline", {
                FLASH_PREFIX,
                { URC(END, 0, -1, 1500), .phase = REP, .actions = P | RR, .deadline = 1500 + T },
                { URC(END, 2, -1, 1600), .phase = REP, .actions = P, .deadline = 1500 + T },
                { REREG(1700), .phase = IDLE, .actions = P, .signals = "F", NOTE(UPDATE_FAILED) },
          }, FOTA_RESULT_UPDATE_FAILED, 2, 1, 1 },
};

static bool has_note(const struct fota_output *out, int note_plus_one)
{
        for (size_t i = 0; i < out->n_notes; i++)
                if ((int) out->notes[i] + 1 == note_plus_one)
                        return true;
        return false;
}

static void signals_string(const struct fota_output *out, char *buf, size_t size)
{
        size_t i;

        for (i = 0; i < out->n_signals && i + 1 < size; i++)
                buf[i] = out->signals[i] == FOTA_SIGNAL_STARTED ? 'S' : 'F';
        buf[i] = '\0';
}

/* The test's own idea of what a restart depends on: every field of struct fota_state but
 * progress, compared one by one (kept apart from fota.c's on purpose, so that a change fota.c
 * forgets to persist fails here). A new field goes here unless losing it in a crash is harmless. */
static bool recovery_same(const struct fota_state *a, const struct fota_state *b)
{
        return a->phase == b->phase && a->window == b->window && a->window_expired == b->window_expired &&
               a->deadline_usec == b->deadline_usec && a->download_deadline_usec == b->download_deadline_usec &&
               a->pending_result == b->pending_result && a->pending_code == b->pending_code &&
               a->last_result == b->last_result && a->last_code == b->last_code;
}

/* The invariants that hold after every step, whatever happened. */
static void check_invariants(const struct fota *f, const char *what)
{
        if (f->st.phase == FOTA_PHASE_IDLE) {
                ck_assert_msg(f->st.deadline_usec == 0 && f->st.download_deadline_usec == 0,
                              "%s: idle with a deadline armed", what);
                ck_assert_msg(fota_next_deadline(f) == UINT64_MAX, "%s: idle has a next deadline", what);
                ck_assert_msg(!fota_active(f), "%s: idle but active", what);
                ck_assert_msg(f->st.pending_result == FOTA_RESULT_NONE, "%s: idle with a pending result", what);
        } else {
                ck_assert_msg(f->st.deadline_usec != 0, "%s: phase %s without a deadline", what,
                              fota_phase_to_string(f->st.phase));
                ck_assert_msg(fota_next_deadline(f) <= f->st.deadline_usec, "%s: next deadline too late", what);
                ck_assert_msg(fota_active(f), "%s: not active in %s", what, fota_phase_to_string(f->st.phase));
        }
        if (f->st.phase == FOTA_PHASE_DOWNLOADING) {
                ck_assert_msg(f->st.download_deadline_usec != 0, "%s: downloading without a limit", what);
                ck_assert_msg(f->st.deadline_usec <= f->st.download_deadline_usec,
                              "%s: window ends past the download limit", what);
        }
        ck_assert_msg(f->st.progress <= 100, "%s: progress %u", what, f->st.progress);
}

static void run_step(struct fota *f, const struct step *s, struct fota_output *out)
{
        struct fota_urc u = { .kind = s->kind, .code = s->code, .progress = s->pct };

        switch (s->ev) {
        case EV_URC:
                fota_on_urc(f, &u, SEC(s->t), out);
                break;
        case EV_TICK:
                fota_on_tick(f, SEC(s->t), out);
                break;
        case EV_REREG:
                fota_on_reregistered(f, SEC(s->t), out);
                break;
        case EV_NONE:
                ck_abort_msg("EV_NONE is the end marker");
                break;
        }
}

START_TEST(test_scenario)
{
        const struct scenario *sc = &scenarios[_i];
        unsigned started = 0, finished = 0;
        struct fota f;

        fota_init(&f, &cfg);
        check_invariants(&f, sc->name);
        for (size_t i = 0; i < 16 && sc->steps[i].ev != EV_NONE; i++) {
                const struct step *s = &sc->steps[i];
                struct fota_state before = f.st;
                struct fota_output out;
                char what[160], sig[FOTA_OUTPUT_MAX + 1];

                snprintf(what, sizeof(what), "%s, step %zu", sc->name, i + 1);
                memset(&out, 0xa5, sizeof(out));        /* the machine must set every field */
                run_step(&f, s, &out);

                ck_assert_msg(f.st.phase == s->phase, "%s: phase %s, expected %s", what,
                              fota_phase_to_string(f.st.phase), fota_phase_to_string(s->phase));
                ck_assert_msg(out.old_phase == before.phase && out.new_phase == f.st.phase,
                              "%s: old/new phase in the output", what);
                ck_assert_msg(out.actions == s->actions, "%s: actions %#x, expected %#x", what, out.actions,
                              s->actions);
                ck_assert_msg(((out.actions & FOTA_ACTION_PERSIST) != 0) == !recovery_same(&before, &f.st),
                              "%s: PERSIST does not match a change of recovery state", what);
                ck_assert_msg(out.n_notes <= FOTA_OUTPUT_MAX && out.n_signals <= FOTA_OUTPUT_MAX,
                              "%s: output overflow", what);
                signals_string(&out, sig, sizeof(sig));
                ck_assert_msg(strcmp(sig, s->signals ? s->signals : "") == 0, "%s: signals \"%s\", expected \"%s\"",
                              what, sig, s->signals ? s->signals : "");
                for (size_t k = 0; k < out.n_signals; k++)
                        out.signals[k] == FOTA_SIGNAL_STARTED ? started++ : finished++;
                if (s->note)
                        ck_assert_msg(has_note(&out, s->note), "%s: note %s missing", what,
                                      fota_note_to_string((enum fota_note) (s->note - 1)));
                if (s->no_note)
                        ck_assert_msg(!has_note(&out, s->no_note), "%s: unexpected note %s", what,
                                      fota_note_to_string((enum fota_note) (s->no_note - 1)));
                if (s->deadline)
                        ck_assert_msg(f.st.deadline_usec == SEC(s->deadline), "%s: deadline %llu, expected %llu s",
                                      what, (unsigned long long) (f.st.deadline_usec / 1000000),
                                      (unsigned long long) s->deadline);
                if (s->ddl)
                        ck_assert_msg(f.st.download_deadline_usec == SEC(s->ddl), "%s: download deadline %llu s",
                                      what, (unsigned long long) (f.st.download_deadline_usec / 1000000));
                if (s->progress)
                        ck_assert_msg(f.st.progress == (unsigned) (s->progress - 1), "%s: progress %u, expected %d",
                                      what, f.st.progress, s->progress - 1);
                ck_assert_msg(has_note(&out, FOTA_NOTE_PHASE_CHANGED + 1) == (before.phase != f.st.phase),
                              "%s: PHASE_CHANGED does not match a phase change", what);
                check_invariants(&f, what);
        }
        ck_assert_msg(f.st.last_result == sc->result, "%s: last result %s, expected %s", sc->name,
                      fota_result_to_string(f.st.last_result), fota_result_to_string(sc->result));
        ck_assert_int_eq(f.st.last_code, sc->code);
        ck_assert_uint_eq(started, sc->started);
        ck_assert_uint_eq(finished, sc->finished);
}
END_TEST

/* The guide's section 3.2 transcript, every progress line: phases in order, one STARTED, one
 * FINISHED, success. */
START_TEST(test_guide_transcript)
{
        static const enum fota_phase expected[] = { DL, DLD, UPD, REP, IDLE };
        enum fota_phase seen[8];
        size_t n_seen = 0;
        unsigned started = 0, finished = 0;
        struct fota_output out;
        struct fota f;
        uint64_t t = SEC(100);
        struct fota_urc u;

#define FEED(call) do { \
                call; \
                check_invariants(&f, "transcript"); \
                for (size_t k = 0; k < out.n_signals; k++) \
                        out.signals[k] == FOTA_SIGNAL_STARTED ? started++ : finished++; \
                if (out.new_phase != out.old_phase) { \
                        ck_assert(n_seen < 8); \
                        seen[n_seen++] = out.new_phase; \
                } \
                t += SEC(5); \
        } while (0)

        fota_init(&f, &cfg);
        u = (struct fota_urc) { FOTA_URC_COAPSTART, -1, -1 };
        FEED(fota_on_urc(&f, &u, t, &out));
        u = (struct fota_urc) { FOTA_URC_COAPEND, 0, -1 };
        FEED(fota_on_urc(&f, &u, t, &out));
        u = (struct fota_urc) { FOTA_URC_START, -1, -1 };
        FEED(fota_on_urc(&f, &u, t, &out));
        for (int pct = 20; pct <= 100; pct++) {
                u = (struct fota_urc) { FOTA_URC_UPDATING, -1, pct };
                FEED(fota_on_urc(&f, &u, t, &out));
                ck_assert_uint_eq(f.st.progress, (unsigned) pct);
                ck_assert(has_note(&out, FOTA_NOTE_PROGRESS + 1));
                ck_assert_uint_eq(out.actions, 0);      /* progress only: no fsync */
        }
        u = (struct fota_urc) { FOTA_URC_END, 0, -1 };
        FEED(fota_on_urc(&f, &u, t, &out));
        ck_assert_uint_eq(out.actions, FOTA_ACTION_PERSIST | FOTA_ACTION_REREGISTER);
        FEED(fota_on_reregistered(&f, t, &out));
#undef FEED

        ck_assert_uint_eq(n_seen, sizeof(expected) / sizeof(expected[0]));
        for (size_t i = 0; i < n_seen; i++)
                ck_assert_str_eq(fota_phase_to_string(seen[i]), fota_phase_to_string(expected[i]));
        ck_assert_uint_eq(started, 1);
        ck_assert_uint_eq(finished, 1);
        ck_assert_int_eq(f.st.last_result, FOTA_RESULT_SUCCESS);
        ck_assert_int_eq(f.st.last_code, 0);
        ck_assert_uint_eq(f.st.progress, 100);
}
END_TEST

/* Issue 11 part 4: the guide's section 3.2 transcript (tests/transcript.c), line by line through
 * at_classify() and the machine, in variants that add the deadlines of table 2. For every step,
 * PERSIST iff a recovery field changed (compared here, before/after); every phase change, window
 * change and deadline change carries PERSIST, and the table-2 reset comes with it in the same
 * output; an n% line that moves only progress carries none. A fake state file follows PERSIST:
 * it never lags the machine in a recovery field, and a restore from it at any step resumes the
 * same phase and window with the last persisted progress. */
struct transcript_variant {
        const char *name;
        enum fota_urc_kind tick_before; /* tick just before the first line of this kind... */
        unsigned n_ticks;               /* ...at COAPSTART + k * T, k = 1..n_ticks */
        unsigned resets;                /* table-2 resets expected */
        enum fota_result result;
};

static const struct transcript_variant transcript_variants[] = {
        { "as in the guide", FOTA_URC_UNKNOWN, 0, 0, FOTA_RESULT_SUCCESS },
        { "window expires while downloading", FOTA_URC_COAPEND, 1, 0, FOTA_RESULT_SUCCESS },
        { "table-2 reset in downloaded", FOTA_URC_START, 1, 1, FOTA_RESULT_SUCCESS },
        { "table-2 reset while updating", FOTA_URC_END, 1, 1, FOTA_RESULT_SUCCESS },
        { "table-2 reset, then the final timeout", FOTA_URC_END, 2, 1, FOTA_RESULT_SUCCESS },
};

struct persist_check {
        struct fota_state file;         /* what the state file holds: written on PERSIST only */
        bool written;
        unsigned steps, persisted, progress_only, resets;
};

static void check_persist_step(struct persist_check *pc, const struct fota *f, const struct fota_state *before,
                               const struct fota_output *out, uint64_t now, const char *what)
{
        bool persist = (out->actions & FOTA_ACTION_PERSIST) != 0;
        bool changed = !recovery_same(before, &f->st);

        pc->steps++;
        ck_assert_msg(persist == changed, "%s: PERSIST %d but recovery state %s", what, persist,
                      changed ? "changed" : "did not change");
        if (before->phase != f->st.phase || before->window != f->st.window ||
            before->deadline_usec != f->st.deadline_usec ||
            before->download_deadline_usec != f->st.download_deadline_usec)
                ck_assert_msg(persist, "%s: phase, window or deadline changed without PERSIST", what);
        if (out->actions & FOTA_ACTION_RESET) {
                ck_assert_msg(persist && f->st.window == 2, "%s: table-2 reset without persisting window 2", what);
                pc->resets++;
        }
        if (out->n_signals > 0)
                ck_assert_msg(persist, "%s: a signal announced without PERSIST", what);
        if (!changed && before->progress != f->st.progress) {
                ck_assert_msg(!persist, "%s: progress alone asked for PERSIST", what);
                pc->progress_only++;
        }
        check_invariants(f, what);
        if (persist) {
                pc->file = f->st;
                pc->written = true;
                pc->persisted++;
        }
        if (!pc->written)
                return;
        /* The file holds every recovery field as it is now; only progress may lag. */
        ck_assert_msg(recovery_same(&pc->file, &f->st), "%s: the state file lags in a recovery field", what);
        if (f->st.phase != FOTA_PHASE_IDLE) {
                struct fota g;
                struct fota_output rout;

                ck_assert_msg(pc->file.progress <= f->st.progress, "%s: saved progress %u ahead of %u", what,
                              pc->file.progress, f->st.progress);
                fota_restore(&g, &cfg, &pc->file, true, now, &rout);
                ck_assert_msg(g.st.phase == f->st.phase && g.st.window == f->st.window &&
                              g.st.progress == pc->file.progress, "%s: restore from the file resumes %s/%u/%u%%",
                              what, fota_phase_to_string(g.st.phase), g.st.window, g.st.progress);
                check_invariants(&g, what);
        }
}

START_TEST(test_transcript_persist)
{
        const struct transcript_variant *v = &transcript_variants[_i];
        struct persist_check pc = { .steps = 0 };
        uint64_t t = SEC(1000), coapstart = 0;
        unsigned ticks_done = 0, fota_lines = 0;
        struct fota_output out;
        struct fota f;
        char what[160];

        fota_init(&f, &cfg);
        for (size_t i = 0; i < transcript_len; i++) {
                const struct transcript_line *tl = &transcript[i];
                struct at_classify_ctx ctx = { .pending = tl->pending };
                struct at_line l;
                struct fota_state before;

                at_classify(tl->text, &ctx, &l);
                if (l.cls != AT_LINE_URC || l.urc.type != URC_FOTA)
                        continue;
                fota_lines++;
                if (l.urc.fota.kind == v->tick_before)
                        for (; ticks_done < v->n_ticks; ticks_done++) {
                                t = coapstart + (ticks_done + 1) * SEC(T);
                                before = f.st;
                                fota_on_tick(&f, t, &out);
                                snprintf(what, sizeof(what), "%s, tick %u", v->name, ticks_done + 1);
                                check_persist_step(&pc, &f, &before, &out, t, what);
                        }
                t += SEC(1);
                if (l.urc.fota.kind == FOTA_URC_COAPSTART)
                        coapstart = t;
                before = f.st;
                fota_on_urc(&f, &l.urc.fota, t, &out);
                snprintf(what, sizeof(what), "%s, line %zu (%s)", v->name, i + 1, tl->text);
                check_persist_step(&pc, &f, &before, &out, t, what);
                if (l.urc.fota.kind == FOTA_URC_UPDATING && before.phase == FOTA_PHASE_UPDATING)
                        ck_assert_msg(!(out.actions & FOTA_ACTION_PERSIST), "%s: an n%% line persisted", what);
        }
        if (f.st.phase == FOTA_PHASE_REPORTING) {
                struct fota_state before = f.st;

                t += SEC(1);
                fota_on_reregistered(&f, t, &out);
                snprintf(what, sizeof(what), "%s, re-registered", v->name);
                check_persist_step(&pc, &f, &before, &out, t, what);
        }
        ck_assert_uint_eq(fota_lines, 3 + 81 + 1);
        ck_assert_uint_eq(ticks_done, v->n_ticks);
        ck_assert_uint_eq(pc.resets, v->resets);
        ck_assert_int_eq(f.st.phase, FOTA_PHASE_IDLE);
        ck_assert_int_eq(f.st.last_result, v->result);
        /* START put the machine in updating: all 81 UPDATING lines (20%..100%) move progress only. */
        ck_assert_msg(pc.progress_only == 81, "%s: %u progress-only steps", v->name, pc.progress_only);
        ck_assert_msg(pc.persisted <= pc.steps - pc.progress_only, "%s: persisted %u of %u steps", v->name,
                      pc.persisted, pc.steps);
        /* Progress reached the file with the next persisted change: END,0 wrote 100. */
        ck_assert_uint_eq(pc.file.progress, 100);
}
END_TEST

static struct fota_state saved_state(enum fota_phase phase, unsigned window, uint64_t deadline_s, uint64_t ddl_s)
{
        return (struct fota_state) {
                .phase = phase, .window = window, .deadline_usec = SEC(deadline_s),
                .download_deadline_usec = SEC(ddl_s), .progress = 40,
                .pending_result = FOTA_RESULT_NONE, .last_result = FOTA_RESULT_SUCCESS, .last_code = 0,
        };
}

START_TEST(test_restore_same_boot_keeps_deadlines)
{
        struct fota_state s = saved_state(DLD, 2, 5000, 0);
        struct fota_output out;
        struct fota f;

        fota_restore(&f, &cfg, &s, true, SEC(4000), &out);
        ck_assert_int_eq(f.st.phase, DLD);
        ck_assert_uint_eq(f.st.window, 2);
        ck_assert_uint_eq(f.st.deadline_usec, SEC(5000));
        ck_assert_uint_eq(f.st.progress, 40);
        ck_assert_uint_eq(out.actions, 0);
        ck_assert_uint_eq(out.n_signals, 0);
        ck_assert(has_note(&out, FOTA_NOTE_RESTORED + 1));
        check_invariants(&f, "restore same boot");

        /* window 2 already: its expiry is the final timeout, not another reset */
        fota_on_tick(&f, SEC(5000), &out);
        ck_assert_int_eq(f.st.phase, IDLE);
        ck_assert_uint_eq(out.actions, FOTA_ACTION_PERSIST);
        ck_assert_int_eq(f.st.last_result, FOTA_RESULT_TIMEOUT);
        ck_assert_uint_eq(out.n_signals, 1);
        ck_assert_int_eq(out.signals[0], FOTA_SIGNAL_FINISHED);
}
END_TEST

START_TEST(test_restore_same_boot_past_deadline)
{
        struct fota_state s = saved_state(UPD, 1, 3100, 0);
        struct fota_output out;
        struct fota f;

        fota_restore(&f, &cfg, &s, true, SEC(9000), &out);
        ck_assert_uint_eq(f.st.deadline_usec, SEC(3100));
        ck_assert_uint_eq(fota_next_deadline(&f), SEC(3100));
        fota_on_tick(&f, SEC(9000), &out);
        ck_assert_uint_eq(out.actions, FOTA_ACTION_PERSIST | FOTA_ACTION_RESET);
        ck_assert_uint_eq(f.st.window, 2);
        ck_assert_uint_eq(f.st.deadline_usec, SEC(9000 + T));
        check_invariants(&f, "restore past deadline");
}
END_TEST

START_TEST(test_restore_other_boot_fresh_window)
{
        struct fota_state s = saved_state(DL, 1, 900000, 990000);
        struct fota_output out;
        struct fota f;

        s.window_expired = true;
        fota_restore(&f, &cfg, &s, false, SEC(10), &out);
        ck_assert_int_eq(f.st.phase, DL);
        ck_assert_uint_eq(f.st.window, 1);
        ck_assert(!f.st.window_expired);
        ck_assert_uint_eq(f.st.deadline_usec, SEC(10 + T));
        ck_assert_uint_eq(f.st.download_deadline_usec, SEC(10 + DM));
        ck_assert_uint_eq(f.st.progress, 40);
        ck_assert_uint_eq(out.actions, FOTA_ACTION_PERSIST);
        ck_assert_uint_eq(out.n_signals, 0);
        ck_assert(has_note(&out, FOTA_NOTE_RESTORED + 1));
        check_invariants(&f, "restore other boot");

        /* Finding 7: updating in window 2 on another boot: a fresh deadline, but still window 2
         * (the table-2 reset was done before the host rebooted); download limit not used */
        s = saved_state(UPD, 2, 900000, 0);
        fota_restore(&f, &cfg, &s, false, SEC(10), &out);
        ck_assert_uint_eq(f.st.window, 2);
        ck_assert_uint_eq(f.st.deadline_usec, SEC(10 + T));
        ck_assert_uint_eq(f.st.download_deadline_usec, 0);
        ck_assert_uint_eq(out.n_signals, 0);
        check_invariants(&f, "restore other boot, updating");
}
END_TEST

/* A restored deadline is never later than one window from now (a state file from a clock that
 * jumped, or a shorter timeout_s since), nor a download limit later than download_max_s. */
START_TEST(test_restore_clamps_deadlines)
{
        struct fota_state s = saved_state(DL, 1, 900000, 990000);
        struct fota_output out;
        struct fota f;

        fota_restore(&f, &cfg, &s, true, SEC(10), &out);
        ck_assert_uint_eq(f.st.deadline_usec, SEC(10 + T));
        ck_assert_uint_eq(f.st.download_deadline_usec, SEC(10 + DM));
        check_invariants(&f, "restore clamped");
        s = saved_state(UPD, 2, 900000, 0);
        fota_restore(&f, &cfg, &s, true, SEC(10), &out);
        ck_assert_uint_eq(f.st.window, 2);
        ck_assert_uint_eq(f.st.deadline_usec, SEC(10 + T));
        fota_on_tick(&f, SEC(10 + T), &out);
        ck_assert_int_eq(f.st.phase, IDLE);
        ck_assert(!(out.actions & FOTA_ACTION_RESET));
}
END_TEST

/* Finding 8: every note and signal carries its own step's state. COAPSTART while reporting ends
 * the reported upgrade (success) and starts another: the finish record and UpgradeFinished say
 * success/idle, the start record says downloading. */
START_TEST(test_output_per_step_state)
{
        struct fota f;
        struct fota_output out;
        struct fota_urc u = { .kind = FOTA_URC_END, .code = 0, .progress = -1 };
        bool finished = false, started = false;

        fota_init(&f, &cfg);
        fota_on_urc(&f, &u, SEC(1000), &out);
        ck_assert_int_eq(f.st.phase, REP);
        u = (struct fota_urc) { .kind = FOTA_URC_COAPSTART, .code = -1, .progress = -1 };
        fota_on_urc(&f, &u, SEC(1100), &out);
        ck_assert_int_eq(f.st.phase, DL);
        for (size_t i = 0; i < out.n_notes; i++) {
                if (out.notes[i] == FOTA_NOTE_FINISHED_OK) {
                        finished = true;
                        ck_assert_int_eq(out.note_state[i].phase, IDLE);
                        ck_assert_int_eq(out.note_state[i].last_result, FOTA_RESULT_SUCCESS);
                        ck_assert_uint_eq(out.note_state[i].progress, 100);
                }
                if (out.notes[i] == FOTA_NOTE_UPGRADE_STARTED) {
                        started = true;
                        ck_assert_int_eq(out.note_state[i].phase, DL);
                        ck_assert_uint_eq(out.note_state[i].progress, 0);
                }
                if (out.notes[i] == FOTA_NOTE_PHASE_CHANGED)
                        ck_assert_int_ne(out.note_from[i], out.note_state[i].phase);
        }
        ck_assert(finished && started);
        ck_assert_uint_eq(out.n_signals, 2);
        ck_assert_int_eq(out.signals[0], FOTA_SIGNAL_FINISHED);
        ck_assert_int_eq(out.signal_result[0], FOTA_RESULT_SUCCESS);
        ck_assert_int_eq(out.signals[1], FOTA_SIGNAL_STARTED);
        /* The failed download of the new upgrade finishes it with its own result. */
        u = (struct fota_urc) { .kind = FOTA_URC_COAPEND, .code = 3, .progress = -1 };
        fota_on_urc(&f, &u, SEC(1200), &out);
        ck_assert_uint_eq(out.n_signals, 1);
        ck_assert_int_eq(out.signal_result[0], FOTA_RESULT_DOWNLOAD_FAILED);
        ck_assert_int_eq(out.signal_code[0], 3);
}
END_TEST

START_TEST(test_restore_reporting_reregisters)
{
        struct fota_state s = saved_state(REP, 1, 3000, 0);
        struct fota_output out;
        struct fota f;

        s.pending_result = FOTA_RESULT_UPDATE_FAILED;
        s.pending_code = 3;
        fota_restore(&f, &cfg, &s, _i == 1, SEC(2000), &out);
        ck_assert_int_eq(f.st.phase, REP);
        ck_assert(out.actions & FOTA_ACTION_REREGISTER);
        ck_assert(!(out.actions & FOTA_ACTION_RESET));
        ck_assert_uint_eq(out.n_signals, 0);
        ck_assert_uint_eq(f.st.deadline_usec, _i == 1 ? SEC(3000) : SEC(2000 + T));
        check_invariants(&f, "restore reporting");

        fota_on_reregistered(&f, SEC(2100), &out);
        ck_assert_int_eq(f.st.phase, IDLE);
        ck_assert_int_eq(f.st.last_result, FOTA_RESULT_UPDATE_FAILED);
        ck_assert_int_eq(f.st.last_code, 3);
        ck_assert_uint_eq(out.n_signals, 1);
        ck_assert_int_eq(out.signals[0], FOTA_SIGNAL_FINISHED);
}
END_TEST

START_TEST(test_restore_idle)
{
        struct fota_state s = saved_state(IDLE, 0, 0, 0);
        struct fota_output out;
        struct fota f;

        s.last_result = FOTA_RESULT_DOWNLOAD_FAILED;
        s.last_code = 4;
        fota_restore(&f, &cfg, &s, false, SEC(10), &out);
        ck_assert_int_eq(f.st.phase, IDLE);
        ck_assert_uint_eq(out.actions, 0);
        ck_assert_uint_eq(out.n_signals, 0);
        ck_assert_int_eq(f.st.last_result, FOTA_RESULT_DOWNLOAD_FAILED);
        ck_assert_int_eq(f.st.last_code, 4);
        check_invariants(&f, "restore idle");
}
END_TEST

START_TEST(test_start_cautious)
{
        struct fota_output out;
        struct fota f;

        fota_start_cautious(&f, &cfg, SEC(50), &out);
        ck_assert_int_eq(f.st.phase, DL);
        ck_assert_uint_eq(f.st.window, 1);
        ck_assert_uint_eq(f.st.deadline_usec, SEC(50 + T));
        ck_assert_uint_eq(f.st.download_deadline_usec, SEC(50 + DM));
        ck_assert_uint_eq(f.st.progress, 0);
        ck_assert_int_eq(f.st.last_result, FOTA_RESULT_NONE);
        ck_assert_uint_eq(out.actions, FOTA_ACTION_PERSIST);
        ck_assert_uint_eq(out.n_signals, 0);
        ck_assert(has_note(&out, FOTA_NOTE_RESTORED + 1));
        check_invariants(&f, "cautious");

        /* gated as a download: the window expiry warns and never resets */
        fota_on_tick(&f, SEC(50 + T), &out);
        ck_assert_uint_eq(out.actions, FOTA_ACTION_PERSIST);
        ck_assert(has_note(&out, FOTA_NOTE_WINDOW_EXPIRED + 1));
        ck_assert(f.st.window_expired);
}
END_TEST

START_TEST(test_next_deadline)
{
        struct fota_output out;
        struct fota_urc u = { FOTA_URC_COAPSTART, -1, -1 };
        struct fota f;
        struct fota_config c = { .timeout_usec = SEC(100), .download_max_usec = SEC(150) };

        fota_init(&f, &c);
        ck_assert_uint_eq(fota_next_deadline(&f), UINT64_MAX);
        fota_on_urc(&f, &u, SEC(10), &out);
        ck_assert_uint_eq(fota_next_deadline(&f), SEC(110));
        fota_on_tick(&f, SEC(110), &out);
        /* re-armed window cut at the download limit */
        ck_assert_uint_eq(fota_next_deadline(&f), SEC(160));
        fota_on_tick(&f, SEC(159), &out);
        ck_assert_uint_eq(out.actions, 0);
        fota_on_tick(&f, SEC(160), &out);
        ck_assert_int_eq(f.st.phase, IDLE);
        ck_assert_uint_eq(fota_next_deadline(&f), UINT64_MAX);
}
END_TEST

START_TEST(test_names)
{
        for (unsigned p = 0; p < _FOTA_PHASE_MAX; p++) {
                enum fota_phase back;

                ck_assert_int_eq(fota_phase_from_string(fota_phase_to_string(p), &back), 0);
                ck_assert_uint_eq(back, p);
        }
        for (unsigned r = 0; r <= FOTA_RESULT_TIMEOUT; r++) {
                enum fota_result back;

                ck_assert_int_eq(fota_result_from_string(fota_result_to_string(r), &back), 0);
                ck_assert_uint_eq(back, r);
        }
        ck_assert_str_eq(fota_phase_to_string(FOTA_PHASE_DOWNLOADED), "downloaded");
        ck_assert_str_eq(fota_result_to_string(FOTA_RESULT_DOWNLOAD_FAILED), "download-failed");
        enum fota_phase p;
        enum fota_result r;
        ck_assert_int_eq(fota_phase_from_string("Idle", &p), -EINVAL);
        ck_assert_int_eq(fota_result_from_string("", &r), -EINVAL);
        for (unsigned n = 0; n <= FOTA_NOTE_RESTORED; n++) {
                ck_assert_str_ne(fota_note_to_string(n), "invalid");
                for (unsigned m = 0; m < n; m++)
                        ck_assert_str_ne(fota_note_to_string(n), fota_note_to_string(m));
        }
}
END_TEST

/* The gate each phase implies (guide 4.2, table 1): the manager and the fuzzer use this one. */
START_TEST(test_gate_of_phase)
{
        ck_assert_int_eq(fota_gate(FOTA_PHASE_IDLE), AT_GATE_OPEN);
        ck_assert_int_eq(fota_gate(FOTA_PHASE_DOWNLOADING), AT_GATE_CLOSED);
        ck_assert_int_eq(fota_gate(FOTA_PHASE_DOWNLOADED), AT_GATE_CLOSED);
        ck_assert_int_eq(fota_gate(FOTA_PHASE_UPDATING), AT_GATE_CLOSED);
        ck_assert_int_eq(fota_gate(FOTA_PHASE_REPORTING), AT_GATE_REPORTING);
}
END_TEST

static Suite *fota_suite(void)
{
        Suite *s = suite_create("fota");
        TCase *tc = tcase_create("scenarios");

        tcase_add_loop_test(tc, test_scenario, 0, (int) (sizeof(scenarios) / sizeof(scenarios[0])));
        tcase_add_test(tc, test_guide_transcript);
        tcase_add_loop_test(tc, test_transcript_persist, 0,
                            (int) (sizeof(transcript_variants) / sizeof(transcript_variants[0])));
        suite_add_tcase(s, tc);

        tc = tcase_create("restore");
        tcase_add_test(tc, test_restore_same_boot_keeps_deadlines);
        tcase_add_test(tc, test_restore_same_boot_past_deadline);
        tcase_add_test(tc, test_restore_other_boot_fresh_window);
        tcase_add_test(tc, test_restore_clamps_deadlines);
        tcase_add_test(tc, test_output_per_step_state);
        tcase_add_loop_test(tc, test_restore_reporting_reregisters, 0, 2);
        tcase_add_test(tc, test_restore_idle);
        tcase_add_test(tc, test_start_cautious);
        suite_add_tcase(s, tc);

        tc = tcase_create("misc");
        tcase_add_test(tc, test_next_deadline);
        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_gate_of_phase);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(fota_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
