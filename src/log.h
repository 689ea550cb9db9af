/* log.h - the one logging helper: journal (structured fields) under systemd, stderr otherwise.
 * Owns the level filter and the redaction of personal data (IMEI). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Pick the sink (journal when started by systemd with stderr connected to the journal, else
 * stderr) and the maximum priority shown (LOG_DEBUG .. LOG_ERR). */
void log_setup(int max_priority);
int log_get_max_priority(void);
/* Force a sink (tests, --check-config). */
void log_use_journal(bool journal);

/* "debug", "info", "notice", "warning", "err" -> LOG_*; -EINVAL if unknown. */
int log_priority_from_string(const char *s);

/* Log a message with optional extra journal fields: a NULL-terminated list of "KEY=value"
 * strings (fields may be NULL). Returns -err if err < 0 for "return log_error_errno(r, ...)". */
void log_fullv(int priority, const char *const *fields, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
void log_full(int priority, const char *const *fields, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int log_errno(int priority, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...)   log_full(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, NULL, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, NULL, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, NULL, __VA_ARGS__)
#define log_crit(...)    log_full(LOG_CRIT, NULL, __VA_ARGS__)

/* An identifier (IMEI, endpoint) for a log line: in full only at debug level, else masked as
 * "8669*******9922". buf must hold at least LOG_REDACT_MAX bytes. */
#define LOG_REDACT_MAX 80
const char *log_redact(const char *id, char *buf, size_t size);
