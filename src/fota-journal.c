/* fota-journal.c - turns DFOTA notes into journal records with structured fields. It decides
 * wording and priority only; the state machine (fota.c) decides what happened, and each record
 * shows the state of its own step (fota_output.note_state), not the state after the event. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fota-journal.h"
#include "log.h"
#include "message-ids.h"

struct record {
        int priority;
        const char *message_id;         /* NULL: no MESSAGE_ID for this note */
};

static struct record record_of(enum fota_note n, const struct fota_state *st)
{
        switch (n) {
        case FOTA_NOTE_UPGRADE_STARTED:   return (struct record) { LOG_NOTICE, BC26_MESSAGE_UPGRADE_STARTED };
        case FOTA_NOTE_PHASE_CHANGED:     return (struct record) { LOG_INFO, BC26_MESSAGE_PHASE_CHANGED };
        case FOTA_NOTE_FINISHED_OK:       return (struct record) { LOG_NOTICE, BC26_MESSAGE_FINISHED_OK };
        case FOTA_NOTE_DOWNLOAD_FAILED:   return (struct record) { LOG_WARNING, BC26_MESSAGE_DOWNLOAD_FAILED };
        case FOTA_NOTE_UPDATE_FAILED:     return (struct record) { LOG_WARNING, BC26_MESSAGE_UPDATE_FAILED };
        case FOTA_NOTE_TIMED_OUT:         return (struct record) { LOG_CRIT, BC26_MESSAGE_TIMED_OUT };
        case FOTA_NOTE_MODULE_RESET:      return (struct record) { LOG_WARNING, BC26_MESSAGE_MODULE_RESET };
        case FOTA_NOTE_WINDOW_EXPIRED:    return (struct record) { LOG_WARNING, NULL };
        case FOTA_NOTE_OUT_OF_ORDER:      return (struct record) { LOG_NOTICE, NULL };
        case FOTA_NOTE_UNKNOWN_URC:       return (struct record) { LOG_WARNING, NULL };
        case FOTA_NOTE_REPORTING_GAVE_UP: return (struct record) { LOG_WARNING, NULL };
        case FOTA_NOTE_PROGRESS:
                return (struct record) { st->progress % 10 == 0 ? LOG_INFO : LOG_DEBUG, NULL };
        case FOTA_NOTE_RESTORED:          return (struct record) { LOG_NOTICE, NULL };
        }
        return (struct record) { LOG_INFO, NULL };
}

/* A finished upgrade's record names the firmware before and after it (catalog: bc26d.catalog). */
static bool is_finish(enum fota_note n)
{
        return n == FOTA_NOTE_FINISHED_OK || n == FOTA_NOTE_DOWNLOAD_FAILED || n == FOTA_NOTE_UPDATE_FAILED ||
               n == FOTA_NOTE_TIMED_OUT;
}

static void emit(const struct fota_state *st, struct record rec, const struct fota_journal_firmware *fw,
                 const char *message)
{
        char id[64], phase[64], result[64], code[32], progress[32], before[96], after[96];
        const char *fields[8];
        size_t n = 0;
        enum fota_result r = st->phase == FOTA_PHASE_REPORTING ? st->pending_result : st->last_result;
        int c = st->phase == FOTA_PHASE_REPORTING ? st->pending_code : st->last_code;

        if (rec.message_id) {
                snprintf(id, sizeof(id), "MESSAGE_ID=%s", rec.message_id);
                fields[n++] = id;
        }
        snprintf(phase, sizeof(phase), "BC26_FOTA_PHASE=%s", fota_phase_to_string(st->phase));
        snprintf(result, sizeof(result), "BC26_FOTA_RESULT=%s", fota_result_to_string(r));
        snprintf(code, sizeof(code), "BC26_FOTA_CODE=%d", c);
        snprintf(progress, sizeof(progress), "BC26_FOTA_PROGRESS=%u", st->progress);
        fields[n++] = phase;
        fields[n++] = result;
        fields[n++] = code;
        fields[n++] = progress;
        if (fw) {
                snprintf(before, sizeof(before), "BC26_FIRMWARE_BEFORE=%s", fw->before[0] ? fw->before : "unknown");
                snprintf(after, sizeof(after), "BC26_FIRMWARE_AFTER=%s", fw->after[0] ? fw->after : "unknown");
                fields[n++] = before;
                fields[n++] = after;
        }
        fields[n] = NULL;
        log_full(rec.priority, fields, "%s", message);
}

void fota_journal(const struct fota *f, const struct fota_output *out, const char *urc,
                  const struct fota_journal_firmware *fw)
{
        unsigned timeout_s = (unsigned) (f->cfg.timeout_usec / 1000000);

        for (size_t i = 0; i < out->n_notes; i++) {
                const struct fota_state *st = &out->note_state[i];
                const char *phase = fota_phase_to_string(st->phase);
                char msg[512];

                switch (out->notes[i]) {
                case FOTA_NOTE_UPGRADE_STARTED:
                        snprintf(msg, sizeof(msg), "Firmware upgrade started (%s): the module is protected, no AT "
                                 "commands, resets or sleep until it ends (guide 4.2, table 1)", urc ? urc : "restored");
                        break;
                case FOTA_NOTE_PHASE_CHANGED:
                        snprintf(msg, sizeof(msg), "DFOTA phase %s -> %s", fota_phase_to_string(out->note_from[i]), phase);
                        break;
                case FOTA_NOTE_FINISHED_OK:
                        snprintf(msg, sizeof(msg), "Firmware upgrade finished successfully; normal business resumes");
                        break;
                case FOTA_NOTE_DOWNLOAD_FAILED:
                        snprintf(msg, sizeof(msg), "Firmware download failed (COAPEND,%d); normal business resumes",
                                 st->last_code);
                        break;
                case FOTA_NOTE_UPDATE_FAILED:
                        snprintf(msg, sizeof(msg), "Firmware update failed (END,%d); the module keeps its previous "
                                 "firmware; normal business resumes", st->last_code);
                        break;
                case FOTA_NOTE_TIMED_OUT:
                        snprintf(msg, sizeof(msg), "Firmware upgrade timed out: no END from the module in time "
                                 "(guide table 2); leaving upgrade protection, normal business resumes");
                        break;
                case FOTA_NOTE_MODULE_RESET:
                        snprintf(msg, sizeof(msg), "No END %u s after the upgrade window opened in phase %s: resetting "
                                 "the module as guide table 2 orders, then waiting up to %u s more for END",
                                 timeout_s, phase, timeout_s);
                        break;
                case FOTA_NOTE_WINDOW_EXPIRED:
                        snprintf(msg, sizeof(msg), "Still downloading %u s after COAPSTART: keeping the module powered "
                                 "until COAPEND as guide table 2 says, and waiting", timeout_s);
                        break;
                case FOTA_NOTE_OUT_OF_ORDER:
                        snprintf(msg, sizeof(msg), "FOTA notice out of order (%s): now in phase %s",
                                 urc ? urc : "-", phase);
                        break;
                case FOTA_NOTE_UNKNOWN_URC:
                        snprintf(msg, sizeof(msg), "Unrecognised FOTA notice from the module, treated as an upgrade "
                                 "in progress: %s", urc ? urc : "-");
                        break;
                case FOTA_NOTE_REPORTING_GAVE_UP:
                        snprintf(msg, sizeof(msg), "Re-registration after the upgrade did not complete within %u s; "
                                 "leaving upgrade protection anyway with result %s", timeout_s,
                                 fota_result_to_string(st->last_result));
                        break;
                case FOTA_NOTE_PROGRESS:
                        snprintf(msg, sizeof(msg), "Firmware upgrade progress %u%%", st->progress);
                        break;
                case FOTA_NOTE_RESTORED:
                        snprintf(msg, sizeof(msg), "Restored DFOTA state: phase %s; staying in upgrade protection",
                                 phase);
                        break;
                }
                if (is_finish(out->notes[i]) && fw) {
                        size_t len = strlen(msg);

                        snprintf(msg + len, sizeof(msg) - len, " (firmware %s -> %s)",
                                 fw->before[0] ? fw->before : "unknown", fw->after[0] ? fw->after : "unknown");
                }
                emit(st, record_of(out->notes[i], st), is_finish(out->notes[i]) ? fw : NULL, msg);
        }
}

void fota_journal_reset(const struct fota *f, int priority, const char *message)
{
        emit(&f->st, (struct record) { priority, BC26_MESSAGE_MODULE_RESET }, NULL, message);
}
