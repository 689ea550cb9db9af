/* test-at-cmd.c - Check suite for the AT command table and the DFOTA gate (src/at-cmd.c):
 * every command has exactly its row, and the gate's full truth table. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "at-cmd.h"

/* The table as the design states it, written out independently of src/at-cmd.c. */
static const struct at_cmd_spec want_rows[] = {
        { AT_CMD_SYNC,        "AT",              AT_CLASS_INIT },
        { AT_CMD_ECHO_OFF,    "ATE0",            AT_CLASS_INIT },
        { AT_CMD_CMEE,        "AT+CMEE=",        AT_CLASS_INIT },
        { AT_CMD_QSCLK,       "AT+QSCLK=0",      AT_CLASS_INIT },
        { AT_CMD_ATI,         "ATI",             AT_CLASS_IDENTITY },
        { AT_CMD_CGMR,        "AT+CGMR",         AT_CLASS_IDENTITY },
        { AT_CMD_CGSN,        "AT+CGSN=1",       AT_CLASS_IDENTITY },
        { AT_CMD_IPR_READ,    "AT+IPR?",         AT_CLASS_BAUD },
        { AT_CMD_IPR_SET,     "AT+IPR=",         AT_CLASS_BAUD },
        { AT_CMD_SAVE,        "AT&W",            AT_CLASS_BAUD },
        { AT_CMD_QLWSERV,     "AT+QLWSERV=",     AT_CLASS_REGISTRATION },
        { AT_CMD_QLWCONF,     "AT+QLWCONF=",     AT_CLASS_REGISTRATION },
        { AT_CMD_QLWADDOBJ,   "AT+QLWADDOBJ=",   AT_CLASS_REGISTRATION },
        { AT_CMD_QLWOPEN,     "AT+QLWOPEN=",     AT_CLASS_REGISTRATION },
        { AT_CMD_QLWCFG,      "AT+QLWCFG=",      AT_CLASS_REGISTRATION },
        { AT_CMD_QLWCLOSE,    "AT+QLWCLOSE",     AT_CLASS_REGISTRATION },
        { AT_CMD_QLWDEL,      "AT+QLWDEL",       AT_CLASS_REGISTRATION },
        { AT_CMD_QLWDATASEND, "AT+QLWDATASEND=", AT_CLASS_DATA },
        { AT_CMD_QLWRD,       "AT+QLWRD=",       AT_CLASS_DATA },
        { AT_CMD_PROBE,       "AT",              AT_CLASS_PROBE },
        { AT_CMD_QRST,        "AT+QRST=1",       AT_CLASS_RESET },
        { AT_CMD_RESYNC,      "AT+CMEE?",        AT_CLASS_INIT },
        { AT_CMD_CEREG_SET,   "AT+CEREG=",       AT_CLASS_INIT },
        { AT_CMD_CEREG_READ,  "AT+CEREG?",       AT_CLASS_STATUS },
        { AT_CMD_CESQ,        "AT+CESQ",         AT_CLASS_STATUS },
        { AT_CMD_CSQ,         "AT+CSQ",          AT_CLASS_STATUS },
        { AT_CMD_QENG,        "AT+QENG=0",       AT_CLASS_STATUS },
};

#define N_ROWS ((int) (sizeof(want_rows) / sizeof(want_rows[0])))

START_TEST(test_row)
{
        const struct at_cmd_spec *w = &want_rows[_i];
        const struct at_cmd_spec *got = at_cmd_spec(w->id);

        ck_assert_ptr_nonnull(got);
        ck_assert_int_eq(got->id, w->id);
        ck_assert_ptr_nonnull(got->prefix);
        ck_assert_str_eq(got->prefix, w->prefix);
        ck_assert_int_eq(got->cls, w->cls);
}
END_TEST

/* Exactly one row per enum value, each with its own id, and nothing past the end. */
START_TEST(test_table_complete)
{
        ck_assert_int_eq(N_ROWS, _AT_CMD_MAX);
        for (int id = 0; id < _AT_CMD_MAX; id++) {
                const struct at_cmd_spec *s = at_cmd_spec((enum at_cmd) id);
                int seen = 0;

                ck_assert_ptr_nonnull(s);
                ck_assert_int_eq(s->id, id);
                ck_assert_ptr_nonnull(s->prefix);
                ck_assert_msg(strncmp(s->prefix, "AT", 2) == 0, "row %d: \"%s\"", id, s->prefix);
                ck_assert_str_ne(at_cmd_class_to_string(s->cls), "invalid");
                for (int j = 0; j < N_ROWS; j++)
                        seen += want_rows[j].id == (enum at_cmd) id;
                ck_assert_int_eq(seen, 1);
        }
        ck_assert_ptr_null(at_cmd_spec(_AT_CMD_MAX));
        ck_assert_ptr_null(at_cmd_spec((enum at_cmd) -1));
}
END_TEST

/* Only the sync AT and the probe AT share their text; they differ in class, which is the point. */
START_TEST(test_prefixes_distinct)
{
        for (int a = 0; a < _AT_CMD_MAX; a++)
                for (int b = a + 1; b < _AT_CMD_MAX; b++) {
                        const struct at_cmd_spec *x = at_cmd_spec((enum at_cmd) a);
                        const struct at_cmd_spec *y = at_cmd_spec((enum at_cmd) b);

                        if (a == AT_CMD_SYNC && b == AT_CMD_PROBE) {
                                ck_assert_str_eq(x->prefix, y->prefix);
                                ck_assert_int_ne(x->cls, y->cls);
                                continue;
                        }
                        ck_assert_msg(strcmp(x->prefix, y->prefix) != 0, "rows %d and %d: \"%s\"",
                                      a, b, x->prefix);
                }
}
END_TEST

#define N_CLASSES (AT_CLASS_STATUS + 1)
#define N_GATES (AT_GATE_CLOSED + 1)

/* want_gate[gate][class] = { without table-2 reset, with it }. Guide 4.2: during DFOTA nothing at
 * all but the reset table 2 orders; while reporting only what re-registration needs. Status reads
 * only while the gate is open (issue 11: never while gated). */
static const bool want_gate[N_GATES][N_CLASSES][2] = {
        [AT_GATE_OPEN] = {
                [AT_CLASS_INIT] = { true, true },
                [AT_CLASS_IDENTITY] = { true, true },
                [AT_CLASS_REGISTRATION] = { true, true },
                [AT_CLASS_DATA] = { true, true },
                [AT_CLASS_PROBE] = { true, true },
                [AT_CLASS_BAUD] = { true, true },
                [AT_CLASS_RESET] = { true, true },
                [AT_CLASS_STATUS] = { true, true },
        },
        [AT_GATE_REPORTING] = {
                [AT_CLASS_INIT] = { true, true },
                [AT_CLASS_IDENTITY] = { true, true },
                [AT_CLASS_REGISTRATION] = { true, true },
                [AT_CLASS_DATA] = { false, false },
                [AT_CLASS_PROBE] = { false, false },
                [AT_CLASS_BAUD] = { false, false },
                [AT_CLASS_RESET] = { false, true },
                [AT_CLASS_STATUS] = { false, false },
        },
        [AT_GATE_CLOSED] = {
                [AT_CLASS_INIT] = { false, false },
                [AT_CLASS_IDENTITY] = { false, false },
                [AT_CLASS_REGISTRATION] = { false, false },
                [AT_CLASS_DATA] = { false, false },
                [AT_CLASS_PROBE] = { false, false },
                [AT_CLASS_BAUD] = { false, false },
                [AT_CLASS_RESET] = { false, true },
                [AT_CLASS_STATUS] = { false, false },
        },
};

/* Loop index enumerates every (gate, class, table2_reset) combination. */
START_TEST(test_gate)
{
        enum at_gate gate = (enum at_gate) (_i / (N_CLASSES * 2));
        enum at_cmd_class cls = (enum at_cmd_class) (_i / 2 % N_CLASSES);
        bool table2 = _i % 2;

        ck_assert_msg(at_gate_allows(gate, cls, table2) == want_gate[gate][cls][table2],
                      "gate %s, class %s, table2 %d", at_gate_to_string(gate),
                      at_cmd_class_to_string(cls), table2);
}
END_TEST

START_TEST(test_gate_invalid)
{
        ck_assert(!at_gate_allows((enum at_gate) 7, AT_CLASS_INIT, false));
        ck_assert(!at_gate_allows(AT_GATE_REPORTING, (enum at_cmd_class) 42, true));
}
END_TEST

START_TEST(test_names)
{
        ck_assert_str_eq(at_gate_to_string(AT_GATE_OPEN), "open");
        ck_assert_str_eq(at_gate_to_string(AT_GATE_REPORTING), "reporting");
        ck_assert_str_eq(at_gate_to_string(AT_GATE_CLOSED), "closed");
        ck_assert_str_eq(at_cmd_class_to_string(AT_CLASS_RESET), "reset");
        ck_assert_str_eq(at_cmd_class_to_string(AT_CLASS_REGISTRATION), "registration");
        ck_assert_str_eq(at_cmd_class_to_string(AT_CLASS_STATUS), "status");
        for (int a = 0; a < N_CLASSES; a++)
                for (int b = a + 1; b < N_CLASSES; b++)
                        ck_assert_str_ne(at_cmd_class_to_string((enum at_cmd_class) a),
                                         at_cmd_class_to_string((enum at_cmd_class) b));
}
END_TEST

static Suite *at_cmd_suite(void)
{
        Suite *s = suite_create("at-cmd");
        TCase *tc;

        tc = tcase_create("table");
        tcase_add_loop_test(tc, test_row, 0, N_ROWS);
        tcase_add_test(tc, test_table_complete);
        tcase_add_test(tc, test_prefixes_distinct);
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("gate");
        tcase_add_loop_test(tc, test_gate, 0, N_GATES * N_CLASSES * 2);
        tcase_add_test(tc, test_gate_invalid);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(at_cmd_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
