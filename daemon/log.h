/* log.h - the daemon's log: stderr in the foreground, syslog otherwise.
 * One line per notable event; never pass a secret to it. */
#ifndef PD_LOG_H
#define PD_LOG_H

#include <stdbool.h>

enum pd_log_level { PD_LOG_ERROR = 0, PD_LOG_WARN, PD_LOG_INFO, PD_LOG_DEBUG };

/* Choose the target and the most verbose level printed. */
void pd_log_init(bool to_stderr, int level, const char *ident);

/* While `on`, errors logged to syslog are also printed on standard
 * error: a daemon starting without -f says why it gave up to the shell
 * that started it (its parent waits; see detach.h). */
void pd_log_echo_errors(bool on);

/* Change the most verbose level printed (SIGHUP). */
void pd_log_set_level(int level);

/* Log one line (no trailing newline needed) at `level`. */
void pd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pd_err(...) pd_log(PD_LOG_ERROR, __VA_ARGS__)
#define pd_warn(...) pd_log(PD_LOG_WARN, __VA_ARGS__)
#define pd_info(...) pd_log(PD_LOG_INFO, __VA_ARGS__)
#define pd_debug(...) pd_log(PD_LOG_DEBUG, __VA_ARGS__)

#endif
