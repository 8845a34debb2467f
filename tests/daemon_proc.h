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
 * (NULL-terminated, may be NULL), and wait (at most 5 s) until the pool
 * accepts pp_attach.  Returns 0, or -1 (the daemon is killed). */
int pp_daemon_start(struct pp_daemon_proc *d, const char *pool, const char *const *extra_args);

/* The same, with the daemon's stderr (its log) appended to log_path. */
int pp_daemon_start_logged(struct pp_daemon_proc *d, const char *pool, const char *const *extra_args,
			   const char *log_path);

/* SIGTERM, wait up to 5 s (then SIGKILL).  Returns the daemon's exit
 * status as pp_test_wait_child does. */
int pp_daemon_stop(struct pp_daemon_proc *d);

/* SIGKILL the daemon and reap it. */
void pp_daemon_kill(struct pp_daemon_proc *d);

#endif
