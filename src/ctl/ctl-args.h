/* ctl-args.h - bc26ctl's command line, parsed without touching the bus: the command, its
 * options, and SendData's/Enqueue's OBJ/INST/RES and HEX (and Enqueue's ttl) checked exactly as
 * bc26d would (InvalidArgs). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_ID_MAX 65535U               /* LwM2M object/instance/resource ids are 16 bit */
#define CTL_PAYLOAD_MAX 512U            /* the module's AT+QLWDATASEND limit (lwm2m.h) */
#define CTL_ERROR_MAX 160U              /* room for any message below, user input included */
#define CTL_TTL_MAX 31536000U           /* Enqueue's "ttl" option: at most a year, in seconds */

enum ctl_command {
        CTL_COMMAND_HELP,
        CTL_COMMAND_VERSION,
        CTL_COMMAND_STATUS,
        CTL_COMMAND_MONITOR,
        CTL_COMMAND_SEND,
        CTL_COMMAND_RESET,
        CTL_COMMAND_METRICS,
        CTL_COMMAND_HISTORY,
        CTL_COMMAND_QUEUE,
};

struct ctl_args {
        enum ctl_command command;
        bool json;                      /* --json: status, monitor, history and queue only */
        unsigned obj, inst, res;        /* send */
        uint8_t data[CTL_PAYLOAD_MAX];  /* send */
        size_t len;                     /* send: 1..CTL_PAYLOAD_MAX */
        bool queue;                     /* send --queue: Enqueue instead of SendData */
        bool has_ttl;                   /* send --queue --ttl S given */
        uint32_t ttl;                   /* its S, 0..CTL_TTL_MAX (0: no expiry) */
        bool non_confirmable;           /* send --queue --non-confirmable */
        bool clear;                     /* queue --clear: ClearQueue instead of GetQueue */
        const char *output;             /* metrics --output FILE (points into argv); NULL stdout */
};

/* Parse "OBJ/INST/RES" (three decimal ids 0..65535). 0 or -EINVAL with a sentence in err. */
int ctl_parse_path(const char *s, unsigned *obj, unsigned *inst, unsigned *res,
                   char *err, size_t errsz);

/* Parse HEX (an even number of hex digits, 1..max bytes, no prefix or separators) into out.
 * 0 or -EINVAL with a sentence in err; out is only written on success. */
int ctl_parse_hex(const char *s, uint8_t *out, size_t max, size_t *len, char *err, size_t errsz);

/* Parse SECONDS of --ttl (decimal digits only, 0..CTL_TTL_MAX). 0 or -EINVAL with a sentence in
 * err; out is only written on success. */
int ctl_parse_ttl(const char *s, uint32_t *out, char *err, size_t errsz);

/* Parse a whole command line (argv[0] is skipped). --help wins over --version, which wins over
 * everything else. 0 or -EINVAL with a sentence in err (a usage error: exit 2). */
int ctl_args_parse(int argc, char *const argv[], struct ctl_args *a, char *err, size_t errsz);

const char *ctl_command_to_string(enum ctl_command c);
