/* urc.h - classify one module line and decode typed results and URCs (table-driven).
 * Pure: no I/O, no clock, no globals. Knows the BC26's text formats, not what to do about them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum at_line_class {
        AT_LINE_OK,             /* final result OK */
        AT_LINE_ERROR,          /* final result ERROR */
        AT_LINE_CME_ERROR,      /* final result +CME ERROR: <n> (also +CMS ERROR: <n>) */
        AT_LINE_ASYNC,          /* deferred LwM2M result: CONNECT OK, SEND FAIL, ... */
        AT_LINE_URC,            /* typed unsolicited result (also RDY) */
        AT_LINE_BOOT,           /* boot-ROM preamble noise: evidence of a module reboot */
        AT_LINE_ECHO,           /* the module echoing the host's own command (until ATE0) */
        AT_LINE_RESPONSE,       /* intermediate response line of the pending command */
        AT_LINE_UNKNOWN,        /* anything else: logged at debug, never fatal */
};

enum at_async {
        AT_ASYNC_CONNECT_OK,
        AT_ASYNC_CONNECT_FAIL,
        AT_ASYNC_SEND_OK,
        AT_ASYNC_SEND_FAIL,
        AT_ASYNC_UPDATE_OK,
        AT_ASYNC_UPDATE_FAIL,
        AT_ASYNC_CLOSE_OK,
        AT_ASYNC_CLOSE_FAIL,
};

enum urc_type {
        URC_RDY,                /* RDY: boot complete */
        URC_FOTA,               /* +QIND: "FOTA",... */
        URC_QLWOBSERVE,         /* +QLWOBSERVE: <flag>,<obj>,<inst>,<res> */
        URC_QLWDATARECV,        /* +QLWDATARECV: <obj>,<inst>,<res>,<len>[,<data>] */
        URC_CEREG,              /* +CEREG: <stat>[,...] */
        URC_CSCON,              /* +CSCON: <mode> */
        URC_CPIN,               /* +CPIN: <code> */
        URC_CFUN,               /* +CFUN: <fun> */
        URC_IP,                 /* +IP: <addr> */
};

enum fota_urc_kind {
        FOTA_URC_COAPSTART,     /* download started */
        FOTA_URC_COAPEND,       /* download ended, code 0 = ok */
        FOTA_URC_START,         /* update (flashing) started */
        FOTA_URC_UPDATING,      /* update progress, percent */
        FOTA_URC_END,           /* update ended, code 0 = ok */
        FOTA_URC_HTTPSTART,     /* HTTP method: download started (also the guide's typo HTTPTART) */
        FOTA_URC_DOWNLOADING,   /* HTTP method: download progress, percent */
        FOTA_URC_HTTPEND,       /* HTTP method: download ended, code 0 = ok */
        FOTA_URC_UNKNOWN,       /* any other +QIND: "FOTA" line: treat as an upgrade in progress */
};

struct fota_urc {
        enum fota_urc_kind kind;
        int code;               /* COAPEND/HTTPEND/END code; -1 when absent */
        int progress;           /* UPDATING/DOWNLOADING percent 0..100; -1 when absent */
};

#define URC_TEXT_MAX 64

struct urc {
        enum urc_type type;
        union {
                struct fota_urc fota;
                struct { int flag; unsigned obj, inst; int res; } observe;     /* res -1: all */
                struct { unsigned obj, inst, res, len; } datarecv;
                struct {
                        int stat;       /* <stat> 0..10 */
                        char tac[5];    /* <tac>: 1..4 hex digits, upper case, as given; "" absent */
                        char ci[9];     /* <ci>: 1..8 hex digits, upper case, as given; "" absent */
                        int act;        /* <AcT> 0..15 (9 = NB-IoT); -1 absent */
                } cereg;
                struct { int mode; } cscon;
                struct { char code[URC_TEXT_MAX]; } cpin;
                struct { int fun; } cfun;
                struct { char addr[URC_TEXT_MAX]; } ip;
        };
};

struct at_line {
        enum at_line_class cls;
        union {
                int cme;                /* AT_LINE_CME_ERROR */
                enum at_async async;    /* AT_LINE_ASYNC */
                struct urc urc;         /* AT_LINE_URC */
        };
};

/* What the channel knows when a line arrives: the command in flight decides echo and whether
 * +CFUN:/+CPIN:/+CEREG:/+CSCON: lines are its read response or URCs. */
struct at_classify_ctx {
        const char *pending;    /* command text in flight (without CR), NULL if none */
        const char *expect;     /* prefix of its information response, e.g. "+CGSN:", or NULL */
        bool bare;              /* it also answers with bare text lines (ATI, the AT+QLWRD data line) */
};

/* Classify a line (leading/trailing blanks ignored; the space after ':' optional). A line is the
 * pending command's response only by shape: it starts with ctx->expect, or it is bare text (no
 * leading '+', not a command) and the command has bare lines (ctx->bare); anything else is a
 * URC, a result or AT_LINE_UNKNOWN, never "the next line, so it must be ours".
 * A line that names a known URC but does not parse is AT_LINE_UNKNOWN, except any
 * +QIND: "FOTA" line, which is always URC_FOTA (FOTA_URC_UNKNOWN if not understood). */
void at_classify(const char *line, const struct at_classify_ctx *ctx, struct at_line *out);

/* Decode the fields of a +CEREG: URC after the prefix, "<stat>[,[<tac>],[<ci>],[<AcT>][,[<cause_type>],
 * [<reject_cause>][,[<Active-Time>],[<Periodic-TAU>]]]]" (n=1..5), into out (type URC_CEREG). Also the
 * tail of the AT+CEREG? read response after its "<n>,". 0, or -EINVAL with out untouched. */
int urc_decode_cereg(const char *fields, struct urc *out);

/* Names for logs and tests. */
const char *at_line_class_to_string(enum at_line_class c);
const char *at_async_to_string(enum at_async a);
const char *urc_type_to_string(enum urc_type t);
const char *fota_urc_kind_to_string(enum fota_urc_kind k);
