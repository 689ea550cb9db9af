/* harness.h - one helper for integration tests (and the demo's shape): a temp dir, the BC26
 * simulator on a pty, the real bc26d with a small-timeout config, and polling helpers that wait
 * for conditions (never for fixed times). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct harness {
        char dir[256];
        char link[320];         /* the simulator's pty symlink: the daemon's [serial] device */
        char control[320];      /* simulator control socket */
        char simlog[320];       /* simulator command log */
        char daemonlog[320];    /* daemon stdout+stderr */
        char conf[320];
        char gpiolog[320];      /* fake GPIO record */
        char statedir[320];
        pid_t sim_pid, daemon_pid;
        const char *log_level;  /* for the daemon; NULL = debug */
};

/* Make the temp dir; start the simulator with extra arguments (space separated, may be NULL). */
void harness_init(struct harness *h);
void harness_start_sim(struct harness *h, const char *extra_args);
/* Write a config: device = the sim link, small timeouts, plus extra INI text appended. */
void harness_write_config(struct harness *h, const char *extra_ini);
void harness_start_daemon(struct harness *h);
/* Send one control request to the simulator; returns its reply line (static buffer). */
const char *harness_sim(struct harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wait until file contains needle at least count times; false on timeout. */
bool harness_wait_file(const char *path, const char *needle, int count, int timeout_ms);
int harness_count_file(const char *path, const char *needle);
/* Read a whole file into a malloc'ed string (tests free it). */
char *harness_read_file(const char *path);
/* Is the daemon still running? */
bool harness_daemon_alive(struct harness *h);
/* SIGTERM the daemon and return its exit status (as from waitpid), -1 on timeout. */
int harness_stop_daemon(struct harness *h);
/* Stop everything and remove the temp dir. */
void harness_cleanup(struct harness *h);
