/* log.c - see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static bool log_stderr = true;
static _Atomic int log_level = PD_LOG_INFO;
static _Atomic bool echo_errors;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void pd_log_init(bool to_stderr, int level, const char *ident)
{
	log_stderr = to_stderr;
	log_level = level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void pd_log_echo_errors(bool on)
{
	echo_errors = on;
}

void pd_log_set_level(int level)
{
	log_level = level;
}

void pd_log(int level, const char *fmt, ...)
{
	if (level > log_level || level < 0)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!log_stderr) {
		syslog(syslog_prio[level], "%s", msg);
		if (level == PD_LOG_ERROR && echo_errors)
			fprintf(stderr, "phantompoold: %s\n", msg);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ phantompoold[%s] %s\n",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, level_names[level], msg);
	pthread_mutex_unlock(&log_lock);
}
