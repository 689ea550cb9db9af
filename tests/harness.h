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
        char busconf[320];      /* private "system" bus config */
        char bussock[320];
        char busaddr[360];
        char logindlog[320];    /* mock logind's record of Inhibit calls and releases */      /* DBUS_SYSTEM_BUS_ADDRESS for the daemon and the test's clients */
        pid_t sim_pid, daemon_pid, bus_pid, logind_pid;
        void *client;           /* sd_bus * of harness_bus() */
        const char *log_level;  /* for the daemon; NULL = debug */
        unsigned fota_timeout_s; /* [fota] timeout_s written by harness_write_config; 0 = 5 */
};

/* Make the temp dir; start the simulator with extra arguments (space separated, may be NULL). */
void harness_init(struct harness *h);
void harness_start_sim(struct harness *h, const char *extra_args);
/* Write a config: device = the sim link, small timeouts, plus extra INI text appended. */
void harness_write_config(struct harness *h, const char *extra_ini);
/* Start a private dbus-daemon acting as the system bus; policy_include: an extra <include> file
 * (e.g. dbus/org.bc26d.conf) and then a restrictive default, or NULL for an allow-all bus. */
void harness_start_bus(struct harness *h, const char *policy_include);
/* Start the mock logind (tests/mock-logind) on the private bus; its log is h->logindlog. */
void harness_start_logind(struct harness *h);
/* Copy an executable into the (0755) test dir so that another user can run it; returns the copy. */
const char *harness_public_copy(struct harness *h, const char *path);
/* Starts the private bus first if none runs. */
void harness_start_daemon(struct harness *h);
/* The same, run as user (setpriv: real and effective uid/gid and the user's groups); the caller
 * makes the tty, the state dir and the temp dir accessible to that user. */
void harness_start_daemon_as(struct harness *h, const char *user);
/* CLOCK_MONOTONIC in ms; a sleep only to prove an absence over a short window or pace a poll. */
long harness_now_ms(void);
/* BC26D_TEST_TIME_SCALE: the factor every harness wait is stretched by (1 unless set). */
int harness_time_scale(void);
/* now + ms x the time scale: where a wait of at most ms ends. */
long harness_deadline_ms(long ms);
void harness_msleep(int ms);
/* Simulator, config (plus extra INI), daemon; wait until State is "ready". */
void harness_start_ready(struct harness *h, const char *sim_args, const char *extra_ini);
/* Commands (not "# events") the module received after the first simulator log line containing
 * from and before the first later one containing to (NULL: end of log); newline separated in buf.
 * Returns how many. */
int harness_commands_between(struct harness *h, const char *from, const char *to, char *buf, size_t size);
/* Commands the module received (the simulator log's "<time> <command>" lines, not "# events")
 * equal to cmd, or starting with it when prefix. */
int harness_count_commands(struct harness *h, const char *cmd, bool prefix);
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

/* ---- D-Bus client side (the test process is a real client of the private bus) ---- */
#include <systemd/sd-bus.h>

/* Connect to the private bus (cached per harness). */
sd_bus *harness_bus(struct harness *h);
/* Read a property as text ("ready", "42", "true", ...); static buffer. */
const char *harness_prop(struct harness *h, const char *iface, const char *prop);
/* Wait until a property reads value; false on timeout. */
bool harness_wait_prop(struct harness *h, const char *iface, const char *prop, const char *value, int timeout_ms);

/* Record PropertiesChanged and org.bc26d signals as text events ("Fota1.Phase=downloading",
 * "UpgradeStarted", "UpgradeFinished success 0", "ModuleReset at false", ...). */
#define HARNESS_EVENTS_MAX 4096
struct harness_events {
        sd_bus *bus;
        sd_bus_slot *slot;
        char *ev[HARNESS_EVENTS_MAX];
        size_t n;
};
/* An asynchronous method call's outcome: harness_call_reply (the callback of sd_bus_call_async,
 * userdata = the struct) sets done, and the error's name and message if it failed. */
struct harness_call {
        bool done;
        char error[128];        /* D-Bus error name; "" for a method return */
        char message[512];
};
int harness_call_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

void harness_events_start(struct harness *h, struct harness_events *e);
/* Process incoming messages until an event equal to want has been recorded; false on timeout. */
bool harness_events_wait(struct harness_events *e, const char *want, int timeout_ms);
/* Index of the first event equal to want at or after from, or -1. */
int harness_events_find(const struct harness_events *e, const char *want, size_t from);
void harness_events_stop(struct harness_events *e);
