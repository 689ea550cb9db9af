/* config.h - the bc26d.conf keys, their defaults and validation (INI, parsed with inih).
 * config_parse_text() is pure (text in, struct and error lines out); config_load() reads the
 * file. Errors are reported as "FILE:LINE: what is wrong, what is allowed". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_PATH_DEFAULT     "/etc/bc26d/bc26d.conf"
/* Longest line accepted, in characters without the line end ("\n" or "\r\n"). Longer lines are
 * an error, never silently truncated. 198 because Debian's libinih (55) is built with a 200-byte
 * line buffer (INI_MAX_LINE) that must hold the line, its '\n' and the terminating NUL. */
#define CONFIG_LINE_MAX         198
#define CONFIG_OBJECTS_MAX      16
#define CONFIG_SERVER_MAX       63
#define CONFIG_ENDPOINT_MAX     64
#define CONFIG_RES_IDS_MAX      128     /* "<ids>" text of an obj/inst/count/ids entry */

struct config_object {
        unsigned obj, inst;             /* 0..65535 */
        unsigned count;                 /* third AT+QLWADDOBJ field (0 for the plain form) */
        char ids[CONFIG_RES_IDS_MAX + 1]; /* fourth field, without quotes ("0" for the plain form) */
};

struct gpio_line_config {
        char name[64];                  /* offset or line name; empty = not configured */
        bool active_low;
        unsigned pulse_ms;
};

/* [outbox]: the store-and-forward queue behind Lwm2m1.Enqueue (issue 12). */
struct config_outbox {
        bool enabled;                   /* no: Enqueue answers NotSupported */
        unsigned default_ttl_s;         /* 0..31536000; 0 = no expiry */
        unsigned max_attempts;          /* 1..1000 failed sends before a message is dropped */
        unsigned max_messages;          /* 1..16384 */
        uint64_t max_bytes;             /* 1024..67108864, payload bytes counted */
        unsigned max_share_percent;     /* 1..100: one Unix user's share of both limits */
        unsigned retry_min_s;           /* 1..3600: back-off after the first failure */
        unsigned retry_max_s;           /* retry_min_s..86400: the back-off's cap */
};

struct config {
        /* [serial] */
        char device[4096];              /* required */
        unsigned baudrate;              /* 4800, 9600, 115200 */
        /* [modem] */
        unsigned command_timeout_ms;    /* 100..60000 */
        unsigned boot_timeout_s;        /* 1..120 */
        unsigned probe_interval_s;      /* 0 or 5..3600 */
        bool fix_baudrate;
        /* [lwm2m] */
        char server[CONFIG_SERVER_MAX + 1];
        unsigned port;                  /* 1..65535 */
        char endpoint[CONFIG_ENDPOINT_MAX + 1]; /* empty: the IMEI */
        struct config_object objects[CONFIG_OBJECTS_MAX];
        size_t n_objects;               /* 1..16; objects[0] is the uplink object */
        unsigned connect_timeout_s;     /* 1..600 */
        unsigned send_timeout_s;        /* 1..600 */
        unsigned send_queue;            /* 1..256 */
        /* [fota] */
        unsigned timeout_s;             /* 1..86400 */
        unsigned download_max_s;        /* timeout_s..864000; default 2 x timeout_s */
        unsigned history;               /* upgrades kept in the history, 0..HISTORY_LIMIT_MAX */
        /* [gpio] */
        char gpio_chip[256];            /* empty: no GPIO */
        struct gpio_line_config reset, pwrkey;
        /* [outbox] */
        struct config_outbox outbox;
};

/* Receives each error line ("FILE:LINE: ...", no newline). */
typedef void (*config_error_t)(void *userdata, const char *message);

/* Fill cfg with every default (device empty). */
void config_init_defaults(struct config *cfg);

/* Parse and validate text as file "name". Returns 0, or -EINVAL after reporting every error. */
int config_parse_text(struct config *cfg, const char *name, const char *text, size_t len,
                      config_error_t err, void *userdata);

/* Read and parse a file. Returns 0, -EINVAL (errors reported), or -errno if it cannot be read
 * (reported as "FILE: cannot read: ..."). */
int config_load(struct config *cfg, const char *path, config_error_t err, void *userdata);

/* Build the AT+QLWADDOBJ command for an object entry into buf. */
int config_object_command(const struct config_object *o, char *buf, size_t size);
