/* gen-seeds.c - writes the seed corpora in fuzz/corpus/ from the guide's transcript
 * (tests/transcript.c), the shipped conf/bc26d.conf, store_encode() and the outbox log's encoder.
 * Run from the top of the source tree after changing any of them (the corpora are committed):
 *
 *   cc -std=c11 -D_GNU_SOURCE -Isrc -Itests -o /tmp/gen-seeds fuzz/gen-seeds.c tests/transcript.c \
 *      src/store.c src/fota.c src/durable.c src/outbox.c src/outbox-store.c && /tmp/gen-seeds [TARGET...]
 *
 * With TARGETs (corpus names, e.g. "outbox") only those corpora are written.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "at-cmd.h"
#include "outbox-store.h"
#include "store.h"
#include "transcript.h"

static void put(const char *target, const char *name, const void *data, size_t n)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "fuzz/corpus/%s", target);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                perror(path);
                exit(1);
        }
        snprintf(path, sizeof(path), "fuzz/corpus/%s/%s", target, name);
        f = fopen(path, "wb");
        if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
                perror(path);
                exit(1);
        }
}

struct buf {
        uint8_t b[8192];
        size_t n;
};

static void b_u8(struct buf *b, unsigned v)
{
        if (b->n < sizeof(b->b))
                b->b[b->n++] = (uint8_t) v;
}

static void b_str(struct buf *b, const char *s)
{
        while (*s)
                b_u8(b, (uint8_t) *s++);
}

/* ---- fota: events in fuzz-fota.c's encoding ---------------------------------------------- */

/* pick_int selectors: 0 -> -1, 1 -> 0 (code) / (b>>2)%101 (progress), 2 -> 1+(b>>2) / 100 */
#define NONE 0
#define ZERO 1
static void f_urc(struct buf *b, unsigned advance_s, enum fota_urc_kind k, unsigned code_sel, unsigned prog_sel)
{
        b_u8(b, advance_s << 3);        /* op % 8 == 0: a URC */
        b_u8(b, k);
        b_u8(b, code_sel);
        b_u8(b, prog_sel);
}

static unsigned prog(unsigned pct)
{
        return pct << 2 | 1;
}

static void f_tick_deadline(struct buf *b)
{
        b_u8(b, 4);
        b_u8(b, 1);
}

static void f_tick_small(struct buf *b, unsigned s)
{
        b_u8(b, 4);
        b_u8(b, 0);
        b_u8(b, s);
}

static void f_rereg(struct buf *b)
{
        b_u8(b, 5);
}

static void f_restart(struct buf *b, bool new_boot)
{
        b_u8(b, 6);
        b_u8(b, new_boot ? 9 : 0);
}

static void f_header(struct buf *b)
{
        /* timeout_s = 1 + 2099 = 2100 (35 min), download_max_s = 2100 + 2100, now = 1 + 99 s */
        b_u8(b, 2099 >> 8);
        b_u8(b, 2099 & 0xff);
        b_u8(b, 2100 >> 8);
        b_u8(b, 2100 & 0xff);
        b_u8(b, 99);
}

static void seeds_fota(void)
{
        struct buf b;

        /* The guide's sequence (3.2): COAPSTART, COAPEND,0, START, UPDATING 20..100%, END,0, registered. */
        memset(&b, 0, sizeof(b));
        f_header(&b);
        f_urc(&b, 1, FOTA_URC_COAPSTART, NONE, NONE);
        f_urc(&b, 30, FOTA_URC_COAPEND, ZERO, NONE);
        f_urc(&b, 2, FOTA_URC_START, NONE, NONE);
        for (unsigned p = 20; p <= 100; p += 10)
                f_urc(&b, 1, FOTA_URC_UPDATING, NONE, prog(p));
        f_urc(&b, 5, FOTA_URC_END, ZERO, NONE);
        f_rereg(&b);
        put("fota", "guide-sequence", b.b, b.n);

        /* Table 2 rows 2-3: no END after COAPEND,0: window expires, reset, second window, give up. */
        memset(&b, 0, sizeof(b));
        f_header(&b);
        f_urc(&b, 1, FOTA_URC_COAPSTART, NONE, NONE);
        f_urc(&b, 30, FOTA_URC_COAPEND, ZERO, NONE);
        f_tick_deadline(&b);
        f_tick_deadline(&b);
        put("fota", "table2-reset-give-up", b.b, b.n);

        /* Table 2 row 1: the download window expires (no reset), then the download limit. */
        memset(&b, 0, sizeof(b));
        f_header(&b);
        f_urc(&b, 1, FOTA_URC_COAPSTART, NONE, NONE);
        f_tick_deadline(&b);
        f_tick_deadline(&b);
        put("fota", "download-window-expires", b.b, b.n);

        /* Daemon restarts in every phase: same boot, then a new boot. */
        memset(&b, 0, sizeof(b));
        f_header(&b);
        f_urc(&b, 1, FOTA_URC_COAPSTART, NONE, NONE);
        f_restart(&b, false);
        f_urc(&b, 30, FOTA_URC_COAPEND, ZERO, NONE);
        f_restart(&b, true);
        f_urc(&b, 2, FOTA_URC_START, NONE, NONE);
        f_urc(&b, 1, FOTA_URC_UPDATING, NONE, prog(50));
        f_restart(&b, false);
        f_urc(&b, 5, FOTA_URC_END, ZERO, NONE);
        f_restart(&b, true);
        f_tick_small(&b, 10);
        f_rereg(&b);
        put("fota", "restarts", b.b, b.n);

        /* Download fails; HTTP method; unknown FOTA line while idle. */
        memset(&b, 0, sizeof(b));
        f_header(&b);
        f_urc(&b, 1, FOTA_URC_COAPSTART, NONE, NONE);
        f_urc(&b, 1, FOTA_URC_COAPEND, 2 | 4 << 2, NONE);
        f_urc(&b, 1, FOTA_URC_HTTPSTART, NONE, NONE);
        f_urc(&b, 1, FOTA_URC_DOWNLOADING, NONE, prog(40));
        f_urc(&b, 1, FOTA_URC_HTTPEND, ZERO, NONE);
        f_urc(&b, 1, FOTA_URC_START, NONE, NONE);
        f_urc(&b, 1, FOTA_URC_END, 2 | 1 << 2, NONE);
        f_tick_deadline(&b);
        f_urc(&b, 1, FOTA_URC_UNKNOWN, NONE, NONE);
        put("fota", "failures-http-unknown", b.b, b.n);
}

/* ---- at-channel: events in fuzz-at-channel.c's encoding -------------------------------------- */

static void c_submit(struct buf *b, enum at_cmd cmd, unsigned flags)
{
        b_u8(b, 0);
        b_u8(b, cmd);
        b_u8(b, flags);
}

static void c_canned(struct buf *b, unsigned i)
{
        b_u8(b, 3);
        b_u8(b, i);
}

static void c_gate(struct buf *b, enum at_gate g)
{
        b_u8(b, 5);
        b_u8(b, g);
}

static void seeds_at_channel(void)
{
        struct buf b;

        memset(&b, 0, sizeof(b));
        b_u8(&b, 6);                            /* connected */
        c_submit(&b, AT_CMD_SYNC, 0);
        c_canned(&b, 11);                       /* echo "AT;0\r" */
        c_canned(&b, 0);                        /* OK */
        c_submit(&b, AT_CMD_CGSN, 8);           /* expects +CGSN: */
        c_submit(&b, AT_CMD_QLWDATASEND, 0);
        c_submit(&b, AT_CMD_QLWSERV, 0);
        c_canned(&b, 9);
        c_canned(&b, 0);
        c_gate(&b, AT_GATE_CLOSED);             /* queued data/registration now gated */
        c_submit(&b, AT_CMD_QRST, 1);           /* the table-2 reset passes */
        c_submit(&b, AT_CMD_QRST, 0);           /* a plain reset does not */
        c_canned(&b, 4);                        /* the module reboots */
        c_canned(&b, 5);
        c_canned(&b, 3);
        c_gate(&b, AT_GATE_REPORTING);
        c_submit(&b, AT_CMD_ECHO_OFF, 0);
        c_submit(&b, AT_CMD_PROBE, 0);
        b_u8(&b, 4);                            /* time passes: timeout */
        b_u8(&b, 200);
        c_gate(&b, AT_GATE_OPEN);
        b_u8(&b, 2);                            /* raw bytes */
        b_u8(&b, 12);
        b_str(&b, "\r\nSEND OK\r\n\xff");
        b_u8(&b, 6);                            /* tty gone */
        put("at-channel", "session", b.b, b.n);
}

/* ---- line-classify and urc: the transcript ------------------------------------------------- */

static void seeds_lines(void)
{
        static uint8_t stream[16384];
        size_t len, garbage;
        struct buf b;
        char name[64];

        if (transcript_bytes(stream + 1, sizeof(stream) - 1, &len, &garbage) < 0) {
                fprintf(stderr, "transcript too long\n");
                exit(1);
        }
        stream[0] = 0;          /* context: nothing in flight */
        put("line-classify", "transcript", stream, len + 1);
        stream[0] = 5;          /* chunking seed 5, context AT+QLWOPEN=1 */
        put("line-classify", "transcript-chunked", stream, len + 1);

        for (size_t i = 0, n = 0; i < transcript_len; i++) {
                const struct transcript_line *t = &transcript[i];

                /* one UPDATING line stands for all of them */
                if (strstr(t->text, "UPDATING") && !strstr(t->text, "20%"))
                        continue;
                memset(&b, 0, sizeof(b));
                if (t->pending) {
                        b_u8(&b, 1);            /* mode 1: pending command from the input */
                        b_str(&b, t->pending);
                        b_u8(&b, 1);
                } else {
                        b_u8(&b, 0);            /* mode 0, context 0: nothing in flight */
                }
                b_str(&b, t->text);
                snprintf(name, sizeof(name), "transcript-%03zu", n++);
                put("urc", name, b.b, b.n);
        }
        /* The HTTP method's URCs (bc26-at.md 7.2), and the guide's typo. */
        static const char *const http[] = {
                "+QIND: \"FOTA\",\"HTTPSTART\"", "+QIND: \"FOTA\",\"HTTPTART\"",
                "+QIND: \"FOTA\",\"DOWNLOADING\",45%", "+QIND: \"FOTA\",\"HTTPEND\",0",
                "+QLWDATARECV: 19,1,0,4,AAAA0000", "+CEREG: 1", "+CSCON: 1", "+CME ERROR: 50",
        };
        for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++) {
                memset(&b, 0, sizeof(b));
                b_u8(&b, 0);
                b_str(&b, http[i]);
                snprintf(name, sizeof(name), "more-%02zu", i);
                put("urc", name, b.b, b.n);
        }
}

/* ---- config and store ---------------------------------------------------------------------- */

static void seeds_config(void)
{
        static char text[16384];
        static char full[16384];
        size_t n, m = 0;
        FILE *f = fopen("conf/bc26d.conf", "rb");

        if (!f || (n = fread(text, 1, sizeof(text), f)) == 0 || fclose(f) != 0) {
                perror("conf/bc26d.conf");
                exit(1);
        }
        put("config", "shipped", text, n);
        /* Every key set: uncomment "#key = value" lines. */
        for (size_t i = 0; i < n; i++) {
                bool bol = i == 0 || text[i - 1] == '\n';

                if (bol && text[i] == '#' && i + 1 < n && text[i + 1] >= 'a' && text[i + 1] <= 'z')
                        continue;
                full[m++] = text[i];
        }
        put("config", "every-key", full, m);
        static const char small[] = "[serial]\ndevice=/dev/ttyUSB0\n[lwm2m]\nobjects = 3303/0/2/5700;5701, 19/1\n"
                "[fota]\ntimeout_s = 60\ndownload_max_s = 60\n[gpio]\nchip = gpiochip0\nreset_line = 17\n";
        put("config", "small", small, sizeof(small) - 1);
}

static void seeds_store(void)
{
        static const char *const names[] = { "idle", "downloading", "downloaded", "updating", "reporting" };
        char buf[4096];

        for (unsigned p = 0; p <= FOTA_PHASE_REPORTING; p++) {
                struct store_record rec = {
                        .st = {
                                .phase = (enum fota_phase) p,
                                .window = p == 0 ? 0 : p == 3 ? 2 : 1,
                                .window_expired = p == 1,
                                .deadline_usec = p == 0 ? 0 : 2100000000ull + p,
                                .download_deadline_usec = p == 1 ? 4200000000ull : 0,
                                .progress = p == 3 ? 57 : p == 4 ? 100 : 0,
                                .pending_result = p == 4 ? FOTA_RESULT_SUCCESS : FOTA_RESULT_NONE,
                                .last_result = p == 0 ? FOTA_RESULT_UPDATE_FAILED : FOTA_RESULT_DOWNLOAD_FAILED,
                                .last_code = p == 0 ? -3 : 5,
                        },
                        .boot_id = "0f6a1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
                        .saved_realtime_usec = 1717000000000000ull,
                };
                int n = store_encode(&rec, buf, sizeof(buf));

                if (n < 0) {
                        fprintf(stderr, "store_encode: %d\n", n);
                        exit(1);
                }
                put("store", names[p], buf, (size_t) n);
        }
}

/* ---- outbox: logs in outbox-store.c's format ------------------------------------------------ */

static void ob_message(struct buf *b, uint64_t id, uint32_t uid, uint16_t len, uint64_t expires)
{
        struct outbox_message m;
        int n;

        memset(&m, 0, sizeof(m));
        m.id = id;
        m.uid = uid;
        m.obj = 19;
        m.inst = (uint16_t) (id % 2);
        m.res = 0;
        m.confirmable = id % 3 != 0;
        m.enqueued = 1765000000000000ull + id * 1000000ull;
        m.expires = expires;
        m.len = len;
        for (unsigned i = 0; i < len; i++)
                m.data[i] = (uint8_t) (id + i);
        n = outbox_encode_message(&m, b->b + b->n, sizeof(b->b) - b->n);
        if (n < 0) {
                fprintf(stderr, "outbox_encode_message: %d\n", n);
                exit(1);
        }
        b->n += (size_t) n;
}

static void ob_removal(struct buf *b, uint64_t id)
{
        int n = outbox_encode_removal(id, b->b + b->n, sizeof(b->b) - b->n);

        if (n < 0) {
                fprintf(stderr, "outbox_encode_removal: %d\n", n);
                exit(1);
        }
        b->n += (size_t) n;
}

static void ob_header(struct buf *b)
{
        b->n = 0;
        b->n += (size_t) outbox_encode_header(b->b, sizeof(b->b));
}

static void seeds_outbox(void)
{
        struct buf b;
        size_t n;

        ob_header(&b);
        put("outbox", "empty", b.b, b.n);

        /* A day of traffic: sends, deliveries, an expiry, two users. */
        for (uint64_t id = 1; id <= 6; id++) {
                ob_message(&b, id, id % 2 ? 0 : 1000, (uint16_t) (id * 7), id == 4 ? 1765000100000000ull : 0);
                if (id % 2 == 0)
                        ob_removal(&b, id - 1);
        }
        put("outbox", "traffic", b.b, b.n);
        n = b.n;

        /* The same, cut in the middle of its last record, and with a damaged checksum. */
        put("outbox", "truncated", b.b, n - 5);
        b.b[n - 20] ^= 0x40;
        put("outbox", "flipped", b.b, n);

        /* A compacted log: live messages, then the removal of the highest id seen. */
        ob_header(&b);
        ob_message(&b, 8, 1000, 2, 0);
        ob_message(&b, 12, 1001, 512, 0);
        ob_removal(&b, 40);
        put("outbox", "compacted", b.b, b.n);

        /* Emptied and compacted: only the highest id. */
        ob_header(&b);
        ob_removal(&b, 1234567);
        put("outbox", "emptied", b.b, b.n);

        /* Out of order and duplicate ids (not what bc26d writes, but valid records). */
        ob_header(&b);
        ob_message(&b, 5, 1, 1, 0);
        ob_message(&b, 3, 1, 1, 0);
        ob_message(&b, 5, 2, 3, 0);
        ob_removal(&b, 3);
        ob_removal(&b, 77);
        put("outbox", "disorder", b.b, b.n);
}

/* Whether corpus target is to be written: all without arguments, else those named. */
static bool wanted(int argc, char **argv, const char *target)
{
        if (argc < 2)
                return true;
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], target) == 0)
                        return true;
        return false;
}

int main(int argc, char **argv)
{
        if (mkdir("fuzz/corpus", 0755) < 0 && errno != EEXIST) {
                perror("fuzz/corpus");
                return 1;
        }
        /* seeds_lines writes the line-classify and urc corpora. */
        if (wanted(argc, argv, "line-classify") || wanted(argc, argv, "urc"))
                seeds_lines();
        if (wanted(argc, argv, "config"))
                seeds_config();
        if (wanted(argc, argv, "store"))
                seeds_store();
        if (wanted(argc, argv, "fota"))
                seeds_fota();
        if (wanted(argc, argv, "at-channel"))
                seeds_at_channel();
        if (wanted(argc, argv, "outbox"))
                seeds_outbox();
        return 0;
}
