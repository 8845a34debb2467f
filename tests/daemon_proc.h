/* daemon_proc.h - start and stop a real phantompoold for a test. */
#ifndef PP_DAEMON_PROC_H
#define PP_DAEMON_PROC_H

#include <sys/types.h>

struct pp_daemon_proc {
	pid_t pid;
	char pool[48];
	char pidfile[128];
};

/* Start build/phantompoold -f -p pool --pidfile /tmp/... plus extra_args
 * (NULL-terminated, may be NULL), and wait (at most 5 s) until the daemon
 * reports ready (its min connections are warm) and the pool accepts
 * pp_attach.  Returns 0, or -1 (the daemon is killed). */
int pp_daemon_start(struct pp_daemon_proc *d, const char *pool, const char *const *extra_args);

/* The same, with the daemon's stderr (its log) appended to log_path. */
int pp_daemon_start_logged(struct pp_daemon_proc *d, const char *pool, const char *const *extra_args,
			   const char *log_path);

/* SIGTERM, wait up to 5 s (then SIGKILL).  Returns the daemon's exit
 * status as pp_test_wait_child does. */
int pp_daemon_stop(struct pp_daemon_proc *d);

/* Daemons started by pp_daemon_start* are remembered until stopped or
 * killed, and stopped at exit (so a FATAL assertion or a failed suite
 * setup leaves none running).  track/untrack do the same for a daemon
 * started some other way. */
void pp_daemon_track(pid_t pid);
void pp_daemon_untrack(pid_t pid);

/* SIGKILL the daemon and reap it. */
void pp_daemon_kill(struct pp_daemon_proc *d);

#endif
