/* transcript.c - the guide's section 3.2 transcript (Quectel BC26 China Telecom DFOTA guide V1.0)
 * as test data, and the byte stream a tty would carry for it. Shared by test-line and test-urc. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "transcript.h"

#define SERV    "AT+QLWSERV=\"180.101.147.115\",5683"
#define CONF    "AT+QLWCONF=\"866971030399922\""
#define ADDOBJ0 "AT+QLWADDOBJ=19,0,0,\"0\""
#define ADDOBJ1 "AT+QLWADDOBJ=19,1,0,\"0\""
#define OPEN    "AT+QLWOPEN=1"
#define CFG     "AT+QLWCFG=\"dataformat\",1,1"
#define SEND    "AT+QLWDATASEND=19,0,0,1,01,0x0100"

/* The module echoes the command (echo is on: the guide never sends ATE0), then answers OK. */
#define COMMAND(cmd) \
        { cmd,  TRANSCRIPT_ECHO,     cmd, { .cls = AT_LINE_ECHO } }, \
        { "OK", TRANSCRIPT_RESPONSE, cmd, { .cls = AT_LINE_OK } }

#define ASYNC(text, a) \
        { text, TRANSCRIPT_RESPONSE, NULL, { .cls = AT_LINE_ASYNC, .async = (a) } }

#define URC(text, ...) \
        { text, TRANSCRIPT_RESPONSE, NULL, { .cls = AT_LINE_URC, .urc = { __VA_ARGS__ } } }

#define FOTA(text, k, c, p) \
        URC("+QIND: \"FOTA\"," text, .type = URC_FOTA, \
            .fota = { .kind = (k), .code = (c), .progress = (p) })

#define UPDATING(n) FOTA("\"UPDATING\"," #n "%,1,1", FOTA_URC_UPDATING, -1, n)

#define BOOT(text) { text, TRANSCRIPT_BOOT, NULL, { .cls = AT_LINE_BOOT } }

/* Printed by the MT2625 boot ROM at every restart (guide 3.2, twice during the upgrade). */
#define PREAMBLE \
        BOOT("F1: 0000 0000"), \
        BOOT("V0: 0000 0000 [0001]"), \
        BOOT("00: 0006 000C"), \
        BOOT("01: 0000 0000"), \
        BOOT("U0: 0000 0001 [0000]"), \
        BOOT("T0: 0000 00B4"), \
        BOOT("Leaving the BROM")

const struct transcript_line transcript[] = {
        COMMAND(SERV),
        COMMAND(CONF),
        COMMAND(ADDOBJ0),
        COMMAND(ADDOBJ1),
        COMMAND(OPEN),
        ASYNC("CONNECT OK", AT_ASYNC_CONNECT_OK),
        URC("+QLWOBSERVE: 0,19,0,0", .type = URC_QLWOBSERVE,
            .observe = { .flag = 0, .obj = 19, .inst = 0, .res = 0 }),
        COMMAND(CFG),
        COMMAND(SEND),
        ASYNC("SEND OK", AT_ASYNC_SEND_OK),
        URC("+QLWOBSERVE: 0,5,0,3", .type = URC_QLWOBSERVE,
            .observe = { .flag = 0, .obj = 5, .inst = 0, .res = 3 }),
        FOTA("\"COAPSTART\"", FOTA_URC_COAPSTART, -1, -1),
        FOTA("\"COAPEND\",0", FOTA_URC_COAPEND, 0, -1),
        FOTA("\"START\"", FOTA_URC_START, -1, -1),
        PREAMBLE,
        /* The guide elides 22%..99% with dots; the module prints one line per percent. */
        UPDATING(20), UPDATING(21), UPDATING(22), UPDATING(23),
        UPDATING(24), UPDATING(25), UPDATING(26), UPDATING(27),
        UPDATING(28), UPDATING(29), UPDATING(30), UPDATING(31),
        UPDATING(32), UPDATING(33), UPDATING(34), UPDATING(35),
        UPDATING(36), UPDATING(37), UPDATING(38), UPDATING(39),
        UPDATING(40), UPDATING(41), UPDATING(42), UPDATING(43),
        UPDATING(44), UPDATING(45), UPDATING(46), UPDATING(47),
        UPDATING(48), UPDATING(49), UPDATING(50), UPDATING(51),
        UPDATING(52), UPDATING(53), UPDATING(54), UPDATING(55),
        UPDATING(56), UPDATING(57), UPDATING(58), UPDATING(59),
        UPDATING(60), UPDATING(61), UPDATING(62), UPDATING(63),
        UPDATING(64), UPDATING(65), UPDATING(66), UPDATING(67),
        UPDATING(68), UPDATING(69), UPDATING(70), UPDATING(71),
        UPDATING(72), UPDATING(73), UPDATING(74), UPDATING(75),
        UPDATING(76), UPDATING(77), UPDATING(78), UPDATING(79),
        UPDATING(80), UPDATING(81), UPDATING(82), UPDATING(83),
        UPDATING(84), UPDATING(85), UPDATING(86), UPDATING(87),
        UPDATING(88), UPDATING(89), UPDATING(90), UPDATING(91),
        UPDATING(92), UPDATING(93), UPDATING(94), UPDATING(95),
        UPDATING(96), UPDATING(97), UPDATING(98), UPDATING(99),
        UPDATING(100),
        PREAMBLE,
        URC("RDY", .type = URC_RDY),
        URC("+CFUN: 1", .type = URC_CFUN, .cfun = { .fun = 1 }),
        FOTA("\"END\",0", FOTA_URC_END, 0, -1),
        URC("+CPIN: READY", .type = URC_CPIN, .cpin = { .code = "READY" }),
        URC("+IP: 100.96.44.128", .type = URC_IP, .ip = { .addr = "100.96.44.128" }),
        /* Register again so the platform learns the result (guide 4.1.3). */
        COMMAND(SERV),
        COMMAND(CONF),
        COMMAND(ADDOBJ0),
        COMMAND(ADDOBJ1),
        COMMAND(OPEN),
};

const size_t transcript_len = sizeof(transcript) / sizeof(transcript[0]);

struct out {
        unsigned char *buf;
        size_t size, len;
};

static void put(struct out *o, const char *data, size_t n)
{
        if (o->len <= o->size && n <= o->size - o->len)
                memcpy(o->buf + o->len, data, n);
        o->len += n;            /* keep counting past the end to report overflow */
}

static void put_str(struct out *o, const char *s)
{
        put(o, s, strlen(s));
}

/* Garbage seen around restarts: a stray byte before "F1:" on the same line (bc26-at.md 5.3,
 * MT7682 logs) and line noise while the UART comes back up. */
static const char garbage_before[] = { '\x00', '\xff' };
static const char garbage_after[] = { '\xff', '\x00', '\xff' };

int transcript_bytes(unsigned char *buf, size_t size, size_t *len, size_t *garbage)
{
        struct out o = { .buf = buf, .size = size };
        size_t g = 0;

        for (size_t i = 0; i < transcript_len; i++) {
                const struct transcript_line *t = &transcript[i];
                bool first = t->frame == TRANSCRIPT_BOOT &&
                        (i == 0 || transcript[i - 1].frame != TRANSCRIPT_BOOT);
                bool last = t->frame == TRANSCRIPT_BOOT &&
                        (i + 1 == transcript_len || transcript[i + 1].frame != TRANSCRIPT_BOOT);

                switch (t->frame) {
                case TRANSCRIPT_ECHO:
                        /* The echo ends with the CR the host sent, no LF (bc26-at.md 2). */
                        put_str(&o, t->text);
                        put_str(&o, "\r");
                        break;
                case TRANSCRIPT_RESPONSE:
                        /* <CR><LF><response><CR><LF> (AT manual 1.2). */
                        put_str(&o, "\r\n");
                        put_str(&o, t->text);
                        put_str(&o, "\r\n");
                        break;
                case TRANSCRIPT_BOOT:
                        /* The boot ROM frames with LF CR: "\n\rF1: ...\n\rLeaving the BROM\n\r". */
                        put_str(&o, "\n\r");
                        if (first) {
                                put(&o, garbage_before, sizeof(garbage_before));
                                g += sizeof(garbage_before);
                        }
                        put_str(&o, t->text);
                        put_str(&o, "\n\r");
                        if (last) {
                                put(&o, garbage_after, sizeof(garbage_after));
                                g += sizeof(garbage_after);
                        }
                        break;
                }
        }
        *len = o.len;
        *garbage = g;
        return o.len <= size ? 0 : -ENOBUFS;
}
