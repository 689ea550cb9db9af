/* test-deadline-timer.c - Check suite for the loop's deadline timer (src/deadline-timer.c): it is a
 * timerfd on CLOCK_BOOTTIME (the clock of every deadline, issue 9), armed at absolute times; a
 * deadline in the past fires at once, UINT64_MAX disarms, re-arming replaces. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "deadline-timer.h"

struct fx {
        struct event_base *base;
        struct deadline_timer *t;
        int fired;
        uint64_t fired_at;
};

static void on_fire(void *ud)
{
        struct fx *f = ud;

        f->fired++;
        f->fired_at = clock_boottime_usec();
        event_base_loopbreak(f->base);
}

static void setup(struct fx *f)
{
        memset(f, 0, sizeof(*f));
        f->base = event_base_new();
        ck_assert_ptr_nonnull(f->base);
        ck_assert_int_eq(deadline_timer_new(f->base, on_fire, f, &f->t), 0);
}

static void teardown(struct fx *f)
{
        deadline_timer_free(f->t);
        event_base_free(f->base);
}

/* Run the loop until the timer fired or limit_ms passed (a guard, not an assertion on time). */
static void run(struct fx *f, int limit_ms)
{
        struct timeval tv = { limit_ms / 1000, (limit_ms % 1000) * 1000 };

        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
}

/* The kernel says which clock the timerfd counts: CLOCK_BOOTTIME (7), not CLOCK_MONOTONIC (1). */
START_TEST(test_clock_is_boottime)
{
        struct fx f;
        char path[64], line[128];
        int clockid = -1;
        FILE *fp;

        setup(&f);
        for (int fd = 3; fd < 1024 && clockid < 0; fd++) {
                snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
                fp = fopen(path, "r");
                if (!fp)
                        continue;
                while (fgets(line, sizeof(line), fp))
                        if (sscanf(line, "clockid: %d", &clockid) == 1)
                                break;
                fclose(fp);
        }
        ck_assert_int_eq(clockid, CLOCK_BOOTTIME);
        teardown(&f);
}
END_TEST

START_TEST(test_fires_at_absolute_deadline)
{
        struct fx f;
        uint64_t deadline;

        setup(&f);
        deadline = clock_boottime_usec() + 30 * 1000;
        ck_assert_int_eq(deadline_timer_set(f.t, deadline), 0);
        run(&f, 5000);
        ck_assert_int_eq(f.fired, 1);
        ck_assert_uint_ge(f.fired_at, deadline);        /* never early */
        teardown(&f);
}
END_TEST

START_TEST(test_past_fires_and_max_disarms)
{
        struct fx f;

        setup(&f);
        ck_assert_int_eq(deadline_timer_set(f.t, 0), 0);        /* long past: at once */
        run(&f, 5000);
        ck_assert_int_eq(f.fired, 1);
        /* Re-armed far away, then disarmed: nothing fires within the guard. */
        ck_assert_int_eq(deadline_timer_set(f.t, clock_boottime_usec() + 10 * 1000), 0);
        ck_assert_int_eq(deadline_timer_set(f.t, UINT64_MAX), 0);
        run(&f, 100);
        ck_assert_int_eq(f.fired, 1);
        teardown(&f);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("deadline-timer");
        TCase *tc = tcase_create("timer");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_clock_is_boottime);
        tcase_add_test(tc, test_fires_at_absolute_deadline);
        tcase_add_test(tc, test_past_fires_and_max_disarms);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
