/* log.c - the one logging helper: level filter, journal (structured fields) or stderr sink, and
 * redaction of identifiers. Its state (max priority, sink) is the daemon's one process global. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1 /* CODE_FILE= etc. would always name log.c: useless */
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_IDENTIFIER_FIELD "SYSLOG_IDENTIFIER=bc26d"
#define LOG_MESSAGE_MAX      2048 /* longer messages are truncated, never split */
#define LOG_FIELDS_MAX       16   /* caller's extra KEY=value fields; more are dropped */
#define LOG_REDACT_KEEP      4    /* characters kept in clear at each end of an identifier */

/* The one allowed piece of process-global state (see style.md: cores have none; this edge is
 * shared by every file). Single-threaded daemon, so no locking. */
static struct {
        int max_priority;
        bool journal;
} log_state = {
        .max_priority = LOG_INFO,
        .journal = false,
};

/* systemd sets $JOURNAL_STREAM="<dev>:<ino>" for services whose stdout/stderr is connected to
 * the journal; it is only ours if it matches stderr (systemd.exec(5), "JOURNAL_STREAM"). A child
 * that inherited the variable but has stderr redirected must keep using stderr. */
static bool log_stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        char *end;

        if (!e || !*e)
                return false;

        errno = 0;
        dev = strtoull(e, &end, 10);
        if (errno != 0 || end == e || *end != ':')
                return false;
        e = end + 1;
        ino = strtoull(e, &end, 10);
        if (errno != 0 || end == e || *end != '\0')
                return false;

        if (fstat(STDERR_FILENO, &st) < 0)
                return false;

        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(int max_priority)
{
        /* The daemon's useful range is LOG_ERR (quiet) .. LOG_DEBUG (everything). */
        if (max_priority < LOG_ERR)
                max_priority = LOG_ERR;
        if (max_priority > LOG_DEBUG)
                max_priority = LOG_DEBUG;

        log_state.max_priority = max_priority;
        log_state.journal = log_stderr_is_journal();
}

int log_get_max_priority(void)
{
        return log_state.max_priority;
}

void log_use_journal(bool journal)
{
        log_state.journal = journal;
}

int log_priority_from_string(const char *s)
{
        static const struct {
                const char *name;
                int priority;
        } table[] = {
                /* The names journalctl -p and syslog.h use; "error" because people type it. */
                { "debug",   LOG_DEBUG },
                { "info",    LOG_INFO },
                { "notice",  LOG_NOTICE },
                { "warning", LOG_WARNING },
                { "err",     LOG_ERR },
                { "error",   LOG_ERR },
        };

        if (!s)
                return -EINVAL;

        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (strcmp(s, table[i].name) == 0)
                        return table[i].priority;

        return -EINVAL;
}

static const char *log_priority_to_string(int priority)
{
        /* syslog priorities are plain ints, not our enum, hence the range check instead of a
         * switch without default. */
        static const char *const names[] = {
                [LOG_EMERG]   = "emergency",
                [LOG_ALERT]   = "alert",
                [LOG_CRIT]    = "critical",
                [LOG_ERR]     = "error",
                [LOG_WARNING] = "warning",
                [LOG_NOTICE]  = "notice",
                [LOG_INFO]    = "info",
                [LOG_DEBUG]   = "debug",
        };

        if (priority < 0 || (size_t) priority >= sizeof(names) / sizeof(names[0]))
                return "unknown";
        return names[priority];
}

static void log_write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* nowhere left to report a logging failure */
                }
                p += k;
                n -= (size_t) k;
        }
}

static void log_to_stderr(int priority, const char *message)
{
        char line[LOG_MESSAGE_MAX + 32];
        int n;

        /* One write(2) per line so lines from concurrent writers never interleave. */
        n = snprintf(line, sizeof(line), "%s: %s\n", log_priority_to_string(priority), message);
        if (n < 0)
                return;
        if ((size_t) n >= sizeof(line)) {
                n = (int) sizeof(line) - 1;
                line[n - 1] = '\n';
        }
        log_write_all(STDERR_FILENO, line, (size_t) n);
}

static int log_to_journal(int priority, const char *const *fields, const char *message)
{
        char msg_field[LOG_MESSAGE_MAX + sizeof("MESSAGE=")];
        char prio_field[sizeof("PRIORITY=") + 3];
        struct iovec iov[3 + LOG_FIELDS_MAX];
        size_t n = 0;

        (void) snprintf(msg_field, sizeof(msg_field), "MESSAGE=%s", message);
        (void) snprintf(prio_field, sizeof(prio_field), "PRIORITY=%d", priority);

        iov[n++] = (struct iovec) { .iov_base = msg_field, .iov_len = strlen(msg_field) };
        iov[n++] = (struct iovec) { .iov_base = prio_field, .iov_len = strlen(prio_field) };
        iov[n++] = (struct iovec) {
                .iov_base = (char *) LOG_IDENTIFIER_FIELD,
                .iov_len = sizeof(LOG_IDENTIFIER_FIELD) - 1,
        };

        for (size_t i = 0; fields && fields[i] && n < sizeof(iov) / sizeof(iov[0]); i++) {
                /* A field without '=' would make sd_journal_sendv() reject the whole entry. */
                if (!strchr(fields[i], '='))
                        continue;
                iov[n++] = (struct iovec) {
                        .iov_base = (char *) fields[i],
                        .iov_len = strlen(fields[i]),
                };
        }

        return sd_journal_sendv(iov, (int) n);
}

void log_fullv(int priority, const char *const *fields, const char *fmt, va_list ap)
{
        char message[LOG_MESSAGE_MAX];
        int saved_errno = errno;

        priority &= LOG_PRIMASK;
        if (priority > log_state.max_priority)
                return;

        /* Callers may use %m: give vsnprintf() their errno, and hand it back untouched. */
        errno = saved_errno;
        (void) vsnprintf(message, sizeof(message), fmt, ap);

        if (!log_state.journal || log_to_journal(priority, fields, message) < 0)
                log_to_stderr(priority, message);

        errno = saved_errno;
}

void log_full(int priority, const char *const *fields, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_fullv(priority, fields, fmt, ap);
        va_end(ap);
}

int log_errno(int priority, int err, const char *fmt, ...)
{
        char message[LOG_MESSAGE_MAX];
        int saved_errno = errno;
        int e = err < 0 ? -err : err;
        va_list ap;

        /* Accept errno either sign; always hand back the negative one for "return log_errno()". */
        if ((priority & LOG_PRIMASK) <= log_state.max_priority) {
                va_start(ap, fmt);
                errno = saved_errno;
                (void) vsnprintf(message, sizeof(message), fmt, ap);
                va_end(ap);

                if (e == 0) {
                        log_full(priority, NULL, "%s", message);
                } else {
                        errno = e;
                        log_full(priority, NULL, "%s: %m", message);
                }
        }

        errno = saved_errno;
        return -e;
}

const char *log_redact(const char *id, char *buf, size_t size)
{
        size_t len, out;

        if (!id || !*id || !buf || size == 0)
                return "";

        /* Full identifiers (IMEI, endpoint = IMEI) are personal data: debug level only
         * (style.md, "Journal"). */
        if (log_state.max_priority >= LOG_DEBUG)
                return id;

        len = strlen(id);
        out = len < size ? len : size - 1;

        if (len <= 2 * LOG_REDACT_KEEP || out < 2 * LOG_REDACT_KEEP) {
                /* Too short to show both ends without revealing most of it. */
                memset(buf, '*', out);
        } else {
                memcpy(buf, id, LOG_REDACT_KEEP);
                memset(buf + LOG_REDACT_KEEP, '*', out - 2 * LOG_REDACT_KEEP);
                memcpy(buf + out - LOG_REDACT_KEEP, id + len - LOG_REDACT_KEEP, LOG_REDACT_KEEP);
        }
        buf[out] = '\0';

        return buf;
}
