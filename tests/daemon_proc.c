/* daemon_proc.c - see daemon_proc.h. */
#include "daemon_proc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "phantompool.h"
#include "segment.h"
#include "testutil.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static pid_t live_daemons[32];

/* At exit: stop every daemon still remembered. */
static void stop_leftover_daemons(void)
{
	for (size_t i = 0; i < sizeof live_daemons / sizeof live_daemons[0]; i++) {
		struct pp_daemon_proc d = { .pid = live_daemons[i] };
		if (d.pid > 0 && waitpid(d.pid, NULL, WNOHANG) == 0) {
			kill(d.pid, SIGTERM); /* the second SIGTERM in pp_daemon_stop skips a drain */
			sleep_ms(100);
			pp_daemon_stop(&d);
		}
	}
}

void pp_daemon_track(pid_t pid)
{
	static int registered;
	if (!registered && atexit(stop_leftover_daemons) == 0)
		registered = 1;
	for (size_t i = 0; i < sizeof live_daemons / sizeof live_daemons[0]; i++)
		if (live_daemons[i] == pid)
			return;
	for (size_t i = 0; i < sizeof live_daemons / sizeof live_daemons[0]; i++)
		if (!live_daemons[i]) {
			live_daemons[i] = pid;
			return;
		}
}

void pp_daemon_untrack(pid_t pid)
{
	for (size_t i = 0; i < sizeof live_daemons / sizeof live_daemons[0]; i++)
		if (live_daemons[i] == pid)
			live_daemons[i] = 0;
}

/* True once the pool's daemon reports ready (its min connections warm)
 * and a client can attach. */
static int daemon_ready(const char *pool)
{
	struct pp_seg seg;
	if (pp_seg_attach(pool, false, &seg) != 0)
		return 0;
	int ready = atomic_load(&seg.hdr->daemon_state) == PP_DAEMON_READY;
	pp_seg_unmap(&seg);
	pp_pool *p;
	if (!ready || pp_attach(pool, &p) != 0)
		return 0;
	pp_detach(p);
	return 1;
}

int pp_daemon_start(struct pp_daemon_proc *d, const char *pool, const char *const *extra_args)
{
	return pp_daemon_start_logged(d, pool, extra_args, NULL);
}

int pp_daemon_start_logged(struct pp_daemon_proc *d, const char *pool, const char *const *extra_args,
			   const char *log_path)
{
	const char *argv[64];
	int n = 0;
	char name[sizeof d->pool];
	snprintf(name, sizeof name, "%s", pool); /* pool may be d->pool itself */
	snprintf(d->pool, sizeof d->pool, "%s", name);
	snprintf(d->pidfile, sizeof d->pidfile, "/tmp/phantompool-test-%s.pid", pool);
	char exe[512];
	snprintf(exe, sizeof exe, "%s", pp_test_build_path("phantompoold"));
	argv[n++] = exe;
	argv[n++] = "-f";
	argv[n++] = "-p";
	argv[n++] = d->pool;
	argv[n++] = "--pidfile";
	argv[n++] = d->pidfile;
	argv[n++] = "--log-level";
	argv[n++] = "warning";
	for (int i = 0; extra_args && extra_args[i] && n < 63; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		if (log_path) {
			int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
			if (fd >= 0)
				dup2(fd, 2);
		}
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	pp_daemon_track(d->pid);
	for (int i = 0; i < 500; i++) {
		if (daemon_ready(d->pool))
			return 0;
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	pp_daemon_kill(d);
	return -1;
}

int pp_daemon_stop(struct pp_daemon_proc *d)
{
	if (d->pid <= 0)
		return -1;
	pp_daemon_untrack(d->pid);
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		int st;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		sleep_ms(10);
	}
	pp_daemon_kill(d);
	return -1;
}

void pp_daemon_kill(struct pp_daemon_proc *d)
{
	if (d->pid <= 0)
		return;
	pp_daemon_untrack(d->pid);
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
}
