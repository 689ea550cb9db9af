/* test-reboot.c - Check suite for the reboot detector (src/reboot.c): preamble blocks, RDY,
 * the boot window, and the guide's upgrade sequence with its two restarts. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "reboot.h"

#define MS 1000ULL
#define S  1000000ULL
#define WINDOW (10 * S)

/* One input to the detector: B = preamble line, R = RDY, O = other meaningful line. For B and R,
 * fresh is the expected return value (a new reboot). */
struct ev {
        char kind;
        uint64_t t;
        bool fresh;
};

#define EV_MAX 24

static const struct scenario {
        const char *name;
        struct ev ev[EV_MAX];
        unsigned reboots;
} scenarios[] = {
        { "block then RDY is one reboot", {
                { 'B', 0, true }, { 'B', 1 * MS, false }, { 'B', 2 * MS, false },
                { 'B', 3 * MS, false }, { 'B', 4 * MS, false }, { 'B', 5 * MS, false },
                { 'B', 6 * MS, false }, { 'R', 2 * S, false }, { 'O', 2 * S + 1, false },
        }, 1 },
        { "lone RDY is one reboot", {
                { 'O', 0, false }, { 'R', 5 * S, true }, { 'O', 6 * S, false },
        }, 1 },
        { "RDY after the window is a new reboot", {
                { 'B', 0, true }, { 'B', 1 * MS, false }, { 'R', 1 * MS + WINDOW + 1, true },
        }, 2 },
        { "RDY exactly at the window edge belongs to the block", {
                { 'B', 0, true }, { 'R', WINDOW, false },
        }, 1 },
        { "window counts from the last preamble line", {
                { 'B', 0, true }, { 'B', 8 * S, false }, { 'B', 16 * S, false },
                { 'R', 24 * S, false },
        }, 1 },
        { "preamble after the window is a new reboot", {
                { 'B', 0, true }, { 'B', WINDOW + 1, true }, { 'R', WINDOW + 2, false },
        }, 2 },
        { "other line closes the block: later RDY is new", {
                { 'B', 0, true }, { 'O', 1 * S, false }, { 'R', 2 * S, true },
        }, 2 },
        { "other line closes the block: later preamble is new", {
                { 'B', 0, true }, { 'O', 1 * S, false }, { 'B', 2 * S, true },
        }, 2 },
        { "two RDYs are two reboots", {
                { 'R', 0, true }, { 'R', 1 * S, true },
        }, 2 },
        { "RDY closes the block: a second RDY is new", {
                { 'B', 0, true }, { 'R', 1 * S, false }, { 'R', 2 * S, true },
        }, 2 },
        { "clock going backwards stays in the block", {
                { 'B', 5 * S, true }, { 'B', 4 * S, false }, { 'R', 3 * S, false },
        }, 1 },
};

static unsigned run(struct reboot_detector *d, const struct ev *ev, size_t n, const char *name)
{
        unsigned reboots = 0;

        for (size_t i = 0; i < n && ev[i].kind != '\0'; i++) {
                bool fresh = false;

                switch (ev[i].kind) {
                case 'B':
                        fresh = reboot_detector_boot_line(d, ev[i].t);
                        break;
                case 'R':
                        fresh = reboot_detector_rdy(d, ev[i].t);
                        break;
                case 'O':
                        reboot_detector_other_line(d, ev[i].t);
                        break;
                default:
                        ck_abort_msg("%s: bad event kind '%c'", name, ev[i].kind);
                }
                ck_assert_msg(fresh == ev[i].fresh, "%s: event %zu (%c) returned %d",
                              name, i, ev[i].kind, fresh);
                reboots += fresh;
        }
        return reboots;
}

START_TEST(test_scenario)
{
        const struct scenario *sc = &scenarios[_i];
        struct reboot_detector d;

        reboot_detector_init(&d, WINDOW);
        ck_assert_uint_eq(run(&d, sc->ev, EV_MAX, sc->name), sc->reboots);
}
END_TEST

START_TEST(test_init)
{
        struct reboot_detector d;

        reboot_detector_init(&d, 42);
        ck_assert_uint_eq(d.window_usec, 42);
        ck_assert(!d.in_block);
        ck_assert_uint_eq(d.last_usec, 0);
}
END_TEST

/* The guide's section 3.2 transcript from START on: preamble, UPDATING 20%..100%, preamble, RDY,
 * +CFUN: 1, END,0, +CPIN: READY, +IP. The module restarts twice (guide 4.1.2). The loop index
 * scales the spacing between lines, from all-at-once to 2 s per progress line. */
START_TEST(test_guide_upgrade)
{
        static const uint64_t step[] = { 0, 10 * MS, 2 * S };
        struct reboot_detector d;
        uint64_t t = 1000 * S;
        unsigned reboots = 0;

        reboot_detector_init(&d, WINDOW);
        reboot_detector_other_line(&d, t);              /* +QIND: "FOTA","START" */
        for (int i = 0; i < 7; i++)                     /* F1: .. Leaving the BROM */
                reboots += reboot_detector_boot_line(&d, t += step[_i] / 100);
        for (int pct = 20; pct <= 100; pct++)           /* +QIND: "FOTA","UPDATING",<pct>%,1,1 */
                reboot_detector_other_line(&d, t += step[_i]);
        for (int i = 0; i < 7; i++)
                reboots += reboot_detector_boot_line(&d, t += step[_i] / 100);
        reboots += reboot_detector_rdy(&d, t += step[_i]);              /* RDY */
        reboot_detector_other_line(&d, t += step[_i]);                  /* +CFUN: 1 */
        reboot_detector_other_line(&d, t += step[_i]);                  /* END,0 */
        reboot_detector_other_line(&d, t += step[_i]);                  /* +CPIN: READY */
        reboot_detector_other_line(&d, t += step[_i]);                  /* +IP: ... */
        ck_assert_uint_eq(reboots, 2);
        ck_assert(!d.in_block);
}
END_TEST

static Suite *reboot_suite(void)
{
        Suite *s = suite_create("reboot");
        TCase *tc = tcase_create("detector");

        tcase_add_test(tc, test_init);
        tcase_add_loop_test(tc, test_scenario, 0, (int) (sizeof(scenarios) / sizeof(scenarios[0])));
        tcase_add_loop_test(tc, test_guide_upgrade, 0, 3);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(reboot_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
