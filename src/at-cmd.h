/* at-cmd.h - every AT command bc26d can send, its class, and the DFOTA gate (one table).
 * Pure. The gate lives here so the channel and the GPIO reset path ask the same question. */
#pragma once

#include <stdbool.h>

enum at_cmd_class {
        AT_CLASS_INIT,          /* sync AT, ATE0, AT+CMEE=1, AT+QSCLK=0, AT+CEREG=<n>, the resync */
        AT_CLASS_IDENTITY,      /* ATI, AT+CGMR, AT+CGSN=1 */
        AT_CLASS_REGISTRATION,  /* AT+QLWSERV/CONF/ADDOBJ/OPEN/CFG/CLOSE/DEL */
        AT_CLASS_DATA,          /* AT+QLWDATASEND, AT+QLWRD */
        AT_CLASS_PROBE,         /* liveness AT */
        AT_CLASS_BAUD,          /* AT+IPR?, AT+IPR=, AT&W (power/sleep/baud class) */
        AT_CLASS_RESET,         /* AT+QRST=1 (and the GPIO rungs of the reset ladder) */
        AT_CLASS_STATUS,        /* radio status reads: AT+CEREG?, AT+CESQ, AT+CSQ, AT+QENG=0 */
};

enum at_cmd {
        AT_CMD_SYNC,            /* "AT" until OK after open/boot */
        AT_CMD_ECHO_OFF,        /* "ATE0" */
        AT_CMD_CMEE,            /* "AT+CMEE=1" */
        AT_CMD_QSCLK,           /* "AT+QSCLK=0" */
        AT_CMD_ATI,             /* "ATI" */
        AT_CMD_CGMR,            /* "AT+CGMR" */
        AT_CMD_CGSN,            /* "AT+CGSN=1" */
        AT_CMD_IPR_READ,        /* "AT+IPR?" */
        AT_CMD_IPR_SET,         /* "AT+IPR=<rate>" */
        AT_CMD_SAVE,            /* "AT&W" */
        AT_CMD_QLWSERV,
        AT_CMD_QLWCONF,
        AT_CMD_QLWADDOBJ,
        AT_CMD_QLWOPEN,
        AT_CMD_QLWCFG,
        AT_CMD_QLWCLOSE,
        AT_CMD_QLWDEL,
        AT_CMD_QLWDATASEND,
        AT_CMD_QLWRD,
        AT_CMD_PROBE,           /* "AT" every probe_interval_s while idle and ready */
        AT_CMD_QRST,            /* "AT+QRST=1" */
        AT_CMD_RESYNC,          /* "AT+CMEE?": the channel's own marker after a timeout */
        AT_CMD_CEREG_SET,       /* "AT+CEREG=<n>": registration URCs, during init */
        AT_CMD_CEREG_READ,      /* "AT+CEREG?" */
        AT_CMD_CESQ,            /* "AT+CESQ" */
        AT_CMD_CSQ,             /* "AT+CSQ" */
        AT_CMD_QENG,            /* "AT+QENG=0": serving cell (engineering mode) */
        _AT_CMD_MAX,
};

/* The gate, derived from the DFOTA phase by the caller. */
enum at_gate {
        AT_GATE_OPEN,           /* FOTA idle: everything allowed */
        AT_GATE_REPORTING,      /* FOTA reporting: only what re-registration needs */
        AT_GATE_CLOSED,         /* downloading/downloaded/updating: nothing but a table-2 reset */
};

struct at_cmd_spec {
        enum at_cmd id;
        const char *prefix;     /* the text every instance starts with */
        enum at_cmd_class cls;
};

/* The table entry for a command. */
const struct at_cmd_spec *at_cmd_spec(enum at_cmd id);

/* May a command of this class be written now? table2_reset: the FOTA machine ordered this reset. */
bool at_gate_allows(enum at_gate gate, enum at_cmd_class cls, bool table2_reset);

const char *at_cmd_class_to_string(enum at_cmd_class c);
const char *at_gate_to_string(enum at_gate g);
