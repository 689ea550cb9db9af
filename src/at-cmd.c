/* at-cmd.c - the table of every AT command bc26d sends, its class, and the DFOTA gate.
 * Pure data and one decision; the channel and the GPIO reset path both ask at_gate_allows(). */
#include <stddef.h>

#include "at-cmd.h"

/* Indexed by enum at_cmd; each row repeats its id so a test can prove the table is complete and
 * in order. */
static const struct at_cmd_spec table[] = {
        [AT_CMD_SYNC]        = { AT_CMD_SYNC,        "AT",              AT_CLASS_INIT },
        [AT_CMD_ECHO_OFF]    = { AT_CMD_ECHO_OFF,    "ATE0",            AT_CLASS_INIT },
        [AT_CMD_CMEE]        = { AT_CMD_CMEE,        "AT+CMEE=",        AT_CLASS_INIT },
        [AT_CMD_QSCLK]       = { AT_CMD_QSCLK,       "AT+QSCLK=0",      AT_CLASS_INIT },
        [AT_CMD_ATI]         = { AT_CMD_ATI,         "ATI",             AT_CLASS_IDENTITY },
        [AT_CMD_CGMR]        = { AT_CMD_CGMR,        "AT+CGMR",         AT_CLASS_IDENTITY },
        [AT_CMD_CGSN]        = { AT_CMD_CGSN,        "AT+CGSN=1",       AT_CLASS_IDENTITY },
        [AT_CMD_IPR_READ]    = { AT_CMD_IPR_READ,    "AT+IPR?",         AT_CLASS_BAUD },
        [AT_CMD_IPR_SET]     = { AT_CMD_IPR_SET,     "AT+IPR=",         AT_CLASS_BAUD },
        [AT_CMD_SAVE]        = { AT_CMD_SAVE,        "AT&W",            AT_CLASS_BAUD },
        [AT_CMD_QLWSERV]     = { AT_CMD_QLWSERV,     "AT+QLWSERV=",     AT_CLASS_REGISTRATION },
        [AT_CMD_QLWCONF]     = { AT_CMD_QLWCONF,     "AT+QLWCONF=",     AT_CLASS_REGISTRATION },
        [AT_CMD_QLWADDOBJ]   = { AT_CMD_QLWADDOBJ,   "AT+QLWADDOBJ=",   AT_CLASS_REGISTRATION },
        [AT_CMD_QLWOPEN]     = { AT_CMD_QLWOPEN,     "AT+QLWOPEN=",     AT_CLASS_REGISTRATION },
        [AT_CMD_QLWCFG]      = { AT_CMD_QLWCFG,      "AT+QLWCFG=",      AT_CLASS_REGISTRATION },
        [AT_CMD_QLWCLOSE]    = { AT_CMD_QLWCLOSE,    "AT+QLWCLOSE",     AT_CLASS_REGISTRATION },
        [AT_CMD_QLWDEL]      = { AT_CMD_QLWDEL,      "AT+QLWDEL",       AT_CLASS_REGISTRATION },
        [AT_CMD_QLWDATASEND] = { AT_CMD_QLWDATASEND, "AT+QLWDATASEND=", AT_CLASS_DATA },
        [AT_CMD_QLWRD]       = { AT_CMD_QLWRD,       "AT+QLWRD=",       AT_CLASS_DATA },
        [AT_CMD_PROBE]       = { AT_CMD_PROBE,       "AT",              AT_CLASS_PROBE },
        [AT_CMD_QRST]        = { AT_CMD_QRST,        "AT+QRST=1",       AT_CLASS_RESET },
        [AT_CMD_RESYNC]      = { AT_CMD_RESYNC,      "AT+CMEE?",        AT_CLASS_INIT },
        [AT_CMD_CEREG_SET]   = { AT_CMD_CEREG_SET,   "AT+CEREG=",       AT_CLASS_INIT },
        [AT_CMD_CEREG_READ]  = { AT_CMD_CEREG_READ,  "AT+CEREG?",       AT_CLASS_STATUS },
        [AT_CMD_CESQ]        = { AT_CMD_CESQ,        "AT+CESQ",         AT_CLASS_STATUS },
        [AT_CMD_CSQ]         = { AT_CMD_CSQ,         "AT+CSQ",          AT_CLASS_STATUS },
        [AT_CMD_QENG]        = { AT_CMD_QENG,        "AT+QENG=0",       AT_CLASS_STATUS },
};

/* A row missing at the end would shrink the table; one missing in the middle is caught by the
 * test that every row's id equals its index and its prefix is set. */
_Static_assert(sizeof(table) / sizeof(table[0]) == _AT_CMD_MAX,
               "at-cmd table must have one row per enum at_cmd");

const struct at_cmd_spec *at_cmd_spec(enum at_cmd id)
{
        if ((unsigned) id >= (unsigned) _AT_CMD_MAX)
                return NULL;
        return &table[id];
}

bool at_gate_allows(enum at_gate gate, enum at_cmd_class cls, bool table2_reset)
{
        switch (gate) {
        case AT_GATE_OPEN:
                return true;
        case AT_GATE_REPORTING:
                /* After END the host must re-register so the platform learns the result (guide
                 * 4.1.3); that needs init, identity and registration, nothing that moves data,
                 * sleeps or touches the baud rate. */
                switch (cls) {
                case AT_CLASS_INIT:
                case AT_CLASS_IDENTITY:
                case AT_CLASS_REGISTRATION:
                        return true;
                case AT_CLASS_RESET:
                        return table2_reset;
                case AT_CLASS_DATA:
                case AT_CLASS_PROBE:
                case AT_CLASS_BAUD:
                case AT_CLASS_STATUS:   /* read commands: not needed to re-register (issue 11) */
                        return false;
                }
                return false;
        case AT_GATE_CLOSED:
                /* Guide 4.2: during DFOTA send no AT command and never restart the module; the
                 * only exception is the reset table 2 orders after 35 minutes without END. */
                return cls == AT_CLASS_RESET && table2_reset;
        }
        return false;
}

const char *at_cmd_class_to_string(enum at_cmd_class c)
{
        switch (c) {
        case AT_CLASS_INIT:             return "init";
        case AT_CLASS_IDENTITY:         return "identity";
        case AT_CLASS_REGISTRATION:     return "registration";
        case AT_CLASS_DATA:             return "data";
        case AT_CLASS_PROBE:            return "probe";
        case AT_CLASS_BAUD:             return "baud";
        case AT_CLASS_RESET:            return "reset";
        case AT_CLASS_STATUS:           return "status";
        }
        return "invalid";
}

const char *at_gate_to_string(enum at_gate g)
{
        switch (g) {
        case AT_GATE_OPEN:              return "open";
        case AT_GATE_REPORTING:         return "reporting";
        case AT_GATE_CLOSED:            return "closed";
        }
        return "invalid";
}
