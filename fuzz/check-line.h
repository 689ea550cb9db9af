/* check-line.h - invariants of one at_classify() result, shared by fuzz-line-classify.c and
 * fuzz-urc.c: every field in its documented range, echo/response only with a command in flight,
 * any +QIND: "FOTA" line a FOTA URC, blanks around a line irrelevant, and decoded FOTA URCs
 * surviving a round trip through their canonical text. */
#pragma once

#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "urc.h"

static inline bool fuzz_text_ok(const char *s, size_t size, bool (*charset)(char))
{
        size_t n = strnlen(s, size);

        if (n == 0 || n == size)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!charset(s[i]))
                        return false;
        return true;
}

static inline bool fuzz_is_printable(char c)
{
        return c >= 0x20 && c <= 0x7e;
}

static inline bool fuzz_is_addr_char(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == '.' || c == ':';
}

static inline bool fuzz_at_line_equal(const struct at_line *a, const struct at_line *b)
{
        if (a->cls != b->cls)
                return false;
        switch (a->cls) {
        case AT_LINE_CME_ERROR:
                return a->cme == b->cme;
        case AT_LINE_ASYNC:
                return a->async == b->async;
        case AT_LINE_URC:
                if (a->urc.type != b->urc.type)
                        return false;
                switch (a->urc.type) {
                case URC_RDY:
                        return true;
                case URC_FOTA:
                        return a->urc.fota.kind == b->urc.fota.kind && a->urc.fota.code == b->urc.fota.code &&
                               a->urc.fota.progress == b->urc.fota.progress;
                case URC_QLWOBSERVE:
                        return a->urc.observe.flag == b->urc.observe.flag && a->urc.observe.obj == b->urc.observe.obj &&
                               a->urc.observe.inst == b->urc.observe.inst && a->urc.observe.res == b->urc.observe.res;
                case URC_QLWDATARECV:
                        return a->urc.datarecv.obj == b->urc.datarecv.obj && a->urc.datarecv.inst == b->urc.datarecv.inst &&
                               a->urc.datarecv.res == b->urc.datarecv.res && a->urc.datarecv.len == b->urc.datarecv.len;
                case URC_CEREG:
                        return a->urc.cereg.stat == b->urc.cereg.stat;
                case URC_CSCON:
                        return a->urc.cscon.mode == b->urc.cscon.mode;
                case URC_CPIN:
                        return strcmp(a->urc.cpin.code, b->urc.cpin.code) == 0;
                case URC_CFUN:
                        return a->urc.cfun.fun == b->urc.cfun.fun;
                case URC_IP:
                        return strcmp(a->urc.ip.addr, b->urc.ip.addr) == 0;
                }
                return false;
        default:
                return true;
        }
}

static inline const char *fuzz_fota_name(enum fota_urc_kind k)
{
        switch (k) {
        case FOTA_URC_COAPSTART:        return "COAPSTART";
        case FOTA_URC_COAPEND:          return "COAPEND";
        case FOTA_URC_START:            return "START";
        case FOTA_URC_UPDATING:         return "UPDATING";
        case FOTA_URC_END:              return "END";
        case FOTA_URC_HTTPSTART:        return "HTTPSTART";
        case FOTA_URC_DOWNLOADING:      return "DOWNLOADING";
        case FOTA_URC_HTTPEND:          return "HTTPEND";
        case FOTA_URC_UNKNOWN:          break;
        }
        return NULL;
}

static inline void fuzz_check_fota_urc(const struct fota_urc *f)
{
        fuzz_check((unsigned) f->kind <= FOTA_URC_UNKNOWN, "kind %d", (int) f->kind);
        switch (f->kind) {
        case FOTA_URC_COAPEND:
        case FOTA_URC_HTTPEND:
        case FOTA_URC_END:
                fuzz_check(f->code >= 0 && f->code <= 65535 && f->progress == -1, "code %d progress %d",
                           f->code, f->progress);
                break;
        case FOTA_URC_UPDATING:
        case FOTA_URC_DOWNLOADING:
                fuzz_check(f->progress >= 0 && f->progress <= 100 && f->code == -1, "code %d progress %d",
                           f->code, f->progress);
                break;
        default:
                fuzz_check(f->code == -1 && f->progress == -1, "code %d progress %d", f->code, f->progress);
                break;
        }
}

/* Trimmed line starts with +QIND:, optional blanks, "FOTA" (the URC that must never be dropped). */
static inline bool fuzz_is_fota_qind(const char *line)
{
        while (*line == ' ' || *line == '\t')
                line++;
        if (strncmp(line, "+QIND:", 6) != 0)
                return false;
        line += 6;
        while (*line == ' ' || *line == '\t')
                line++;
        return strncmp(line, "\"FOTA\"", 6) == 0;
}

/* Check one classification of line under ctx (ctx may be NULL), and its invariances. */
static inline void fuzz_check_at_line(const char *line, const struct at_classify_ctx *ctx)
{
        const char *pending = ctx ? ctx->pending : NULL;
        const char *expect = ctx ? ctx->expect : NULL;
        struct at_line l, again;
        size_t n = strlen(line);
        char *padded;

        at_classify(line, ctx, &l);
        fuzz_check((unsigned) l.cls <= AT_LINE_UNKNOWN, "class %d", (int) l.cls);
        switch (l.cls) {
        case AT_LINE_CME_ERROR:
                fuzz_check(l.cme >= -1, "cme %d", l.cme);
                break;
        case AT_LINE_ASYNC:
                fuzz_check((unsigned) l.async <= AT_ASYNC_CLOSE_FAIL, "async %d", (int) l.async);
                break;
        case AT_LINE_ECHO:
                fuzz_check(pending != NULL, "echo without a pending command: \"%s\"", line);
                break;
        case AT_LINE_RESPONSE:
                fuzz_check(pending != NULL || (expect && expect[0]), "response without a command: \"%s\"", line);
                break;
        case AT_LINE_URC:
                switch (l.urc.type) {
                case URC_RDY:
                        break;
                case URC_FOTA:
                        fuzz_check_fota_urc(&l.urc.fota);
                        break;
                case URC_QLWOBSERVE:
                        fuzz_check(l.urc.observe.flag >= 0 && l.urc.observe.flag <= 1 &&
                                   l.urc.observe.obj <= 65535 && l.urc.observe.inst <= 65535 &&
                                   l.urc.observe.res >= -1 && l.urc.observe.res <= 65535, "observe");
                        break;
                case URC_QLWDATARECV:
                        fuzz_check(l.urc.datarecv.obj <= 65535 && l.urc.datarecv.inst <= 65535 &&
                                   l.urc.datarecv.res <= 65535 && l.urc.datarecv.len <= 512, "datarecv");
                        break;
                case URC_CEREG:
                        fuzz_check(l.urc.cereg.stat >= 0 && l.urc.cereg.stat <= 10, "cereg");
                        break;
                case URC_CSCON:
                        fuzz_check(l.urc.cscon.mode >= 0 && l.urc.cscon.mode <= 1, "cscon");
                        break;
                case URC_CPIN:
                        fuzz_check(fuzz_text_ok(l.urc.cpin.code, sizeof(l.urc.cpin.code), fuzz_is_printable), "cpin");
                        break;
                case URC_CFUN:
                        fuzz_check(l.urc.cfun.fun >= 0 && l.urc.cfun.fun <= 127, "cfun");
                        break;
                case URC_IP:
                        fuzz_check(fuzz_text_ok(l.urc.ip.addr, sizeof(l.urc.ip.addr), fuzz_is_addr_char), "ip");
                        break;
                default:
                        fuzz_check(false, "urc type %d", (int) l.urc.type);
                }
                break;
        default:
                break;
        }

        /* Any +QIND: "FOTA" line keeps the gate shut: it is a FOTA URC, understood or not (only
         * a reboot, our own echo or the pending command's expected response outrank it). */
        if (fuzz_is_fota_qind(line) && l.cls != AT_LINE_BOOT && l.cls != AT_LINE_ECHO &&
            l.cls != AT_LINE_RESPONSE)
                fuzz_check(l.cls == AT_LINE_URC && l.urc.type == URC_FOTA, "FOTA line classified %s: \"%s\"",
                           at_line_class_to_string(l.cls), line);

        /* Deterministic, and blind to blanks around the line. */
        at_classify(line, ctx, &again);
        fuzz_check(fuzz_at_line_equal(&l, &again), "not deterministic: \"%s\"", line);
        padded = malloc(n + 4);
        if (!padded)
                abort();
        memcpy(padded, " \t", 2);
        memcpy(padded + 2, line, n);
        memcpy(padded + 2 + n, " ", 2);
        at_classify(padded, ctx, &again);
        fuzz_check(fuzz_at_line_equal(&l, &again), "blanks change \"%s\": %s vs %s", line,
                   at_line_class_to_string(l.cls), at_line_class_to_string(again.cls));
        free(padded);

        /* A decoded FOTA URC reads back the same from its canonical text. */
        if (l.cls == AT_LINE_URC && l.urc.type == URC_FOTA && fuzz_fota_name(l.urc.fota.kind)) {
                const struct fota_urc *f = &l.urc.fota;
                char canon[96];

                if (f->code >= 0)
                        snprintf(canon, sizeof(canon), "+QIND: \"FOTA\",\"%s\",%d", fuzz_fota_name(f->kind), f->code);
                else if (f->progress >= 0)
                        snprintf(canon, sizeof(canon), "+QIND: \"FOTA\",\"%s\",%d%%", fuzz_fota_name(f->kind), f->progress);
                else
                        snprintf(canon, sizeof(canon), "+QIND: \"FOTA\",\"%s\"", fuzz_fota_name(f->kind));
                at_classify(canon, NULL, &again);
                fuzz_check(fuzz_at_line_equal(&l, &again), "round trip of \"%s\" via \"%s\"", line, canon);
        }
}
