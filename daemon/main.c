/* main.c - phantompoold: owns the pool's segment (and, from the slot
 * module on, its PhantomDB connections), refreshes the heartbeat, reaps
 * dead lease holders, and exits cleanly on SIGTERM/SIGINT. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bsd/libutil.h>
#include <bsd/string.h>

#include "access_warn.h"
#include "clock.h"
#include "daemon.h"
#include "detach.h"
#include "log.h"
#include "phantompool.h"
#include "reaper.h"
#include "reload.h"
#include "seg_guard.h"
#include "slot.h"
#include "loop.h"
#include "url.h"

/* Take the pool's pidfile lock: one daemon per pool.  Returns 0, or -1
 * after logging why (another daemon, or an unusable path). */
static int take_pidfile(struct pd_daemon *d)
{
	char dir[PATH_MAX];
	strlcpy(dir, d->opt.pidfile, sizeof dir);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755); /* /run/phantompool may not exist yet */
	}
	pid_t other = 0;
	d->pidfile = pidfile_open(d->opt.pidfile, 0644, &other);
	if (d->pidfile)
		return 0;
	if (errno == EEXIST)
		pd_err("pool '%s' is already served by phantompoold pid %d (pidfile %s); not starting",
		       d->opt.pool, (int)other, d->opt.pidfile);
	else
		pd_err("cannot open pidfile %s: %s", d->opt.pidfile, strerror(errno));
	return -1;
}

static int resolve_group(const char *name, gid_t *gid)
{
	*gid = (gid_t)-1;
	if (!*name)
		return 0;
	struct group *g = getgrnam(name);
	if (!g) {
		pd_err("unknown group '%s'", name);
		return -1;
	}
	*gid = g->gr_gid;
	return 0;
}

/* --check-config's checks of what only the start reads: the token file
 * and the group, as pd_live_init and create_segment take them. */
static int check_named(const struct pd_options *o)
{
	gid_t gid;
	int r = resolve_group(o->group, &gid);
	return pd_token_check(o) < 0 ? -1 : r;
}

static int create_segment(struct pd_daemon *d)
{
	struct pp_seg_config cfg = {
		.pool = d->opt.pool,
		.nslots = d->opt.seats ? d->opt.seats : d->opt.max_conns,
		.max_conns = d->opt.max_conns,
		.min_conns = d->opt.min_conns,
		.ring_size = d->opt.ring_size,
		.lease_timeout_ms = d->opt.lease_timeout_ms,
		.request_timeout_ms = d->opt.request_timeout_ms,
		.max_body = d->opt.max_body,
		.spin_ns = d->opt.spin_us * 1000u,
		.mode = d->opt.mode,
		.backend = d->backends.names[0], /* without the URL's user:password@ */
	};
	if (resolve_group(d->opt.group, &cfg.gid) < 0)
		return -1;
	int r = pp_seg_create(&cfg, &d->seg);
	if (r == -EADDRINUSE) {
		pd_err("pool '%s' is served by a running phantompoold (the segment /phantompool-%s has a live "
		       "daemon; its pidfile may be another path): stop it first", d->opt.pool, d->opt.pool);
		return -1;
	}
	if (r) {
		pd_err("cannot create segment /phantompool-%s: %s", d->opt.pool, strerror(-r));
		return -1;
	}
	d->shm_gid = cfg.gid;
	if (pd_seg_guard_start(&d->seg) < 0)
		pd_warn("segment %s: no guard against a worker shrinking it (%s): the daemon would die of SIGBUS",
			d->seg.shm_name, strerror(errno));
	pd_access_warn(&d->opt, d->seg.shm_name);
	if (pp_bell_init(&d->bell, d->seg.shm_name) != 0) {
		pd_err("segment name %s too long for its doorbell path", d->seg.shm_name);
		return -1;
	}
	d->bell.hdr = d->seg.hdr;
	return 0;
}

/* One tick of housekeeping: heartbeat, reaper, retired settings. */
static void tick(struct pd_daemon *d)
{
	atomic_store_explicit(&d->seg.hdr->heartbeat_ns, pp_now_ns(), memory_order_relaxed);
	pd_reaper_scan(d);
	pd_reload_collect(d);
	if (pd_seg_guard_restored())
		pd_warn("segment %s was shrunk by a process that may attach (ftruncate): its size is restored, "
			"the lost pages are zero and are reset as scribbled", d->seg.shm_name);
}

/* SIGTERM/SIGINT: refuse new leases (waiters get PP_ESHUTDOWN), let the
 * leases and requests in flight finish for up to drain_timeout, keep
 * reaping meanwhile.  A second signal ends the wait. */
static void drain(struct pd_daemon *d, const sigset_t *sigs)
{
	struct timespec ts = { 0, PD_REAPER_TICK_MS * 1000000L };
	uint64_t until = pp_now_ns() + (uint64_t)pd_live(d)->opt.drain_timeout_ms * PP_NS_PER_MS;
	atomic_store_explicit(&d->seg.hdr->daemon_state, PP_DAEMON_DRAINING, memory_order_release);
	pp_sem_wake_all(&d->seg);
	uint32_t busy;
	while ((busy = d->seg.nslots - pp_slots_free(&d->seg)) > 0 && pp_now_ns() < until) {
		tick(d);
		siginfo_t si;
		int sig = sigtimedwait(sigs, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			pd_warn("signal %d again: not waiting for %u slot(s) in use", sig, busy);
			return;
		}
	}
	if (busy)
		pd_warn("drain timeout: %u slot(s) still in use; stopping anyway", busy);
}

/* Main loop: one tick every PD_REAPER_TICK_MS; SIGHUP reloads;
 * SIGTERM/SIGINT drain and end it. */
static void run_loop(struct pd_daemon *d, const sigset_t *sigs)
{
	struct timespec ts = { 0, PD_REAPER_TICK_MS * 1000000L };
	for (;;) {
		tick(d);
		siginfo_t si;
		int sig = sigtimedwait(sigs, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			pd_info("signal %d: draining (up to %u ms), then stopping", sig, pd_live(d)->opt.drain_timeout_ms);
			drain(d, sigs);
			return;
		}
		if (sig == SIGHUP) {
			pd_info("SIGHUP: reloading");
			pd_reload(d);
		}
	}
}

/* Tell waiters the daemon is gone, remove the name, drop the pidfile. */
static void shutdown_daemon(struct pd_daemon *d)
{
	atomic_store_explicit(&d->seg.hdr->daemon_state, PP_DAEMON_STOPPED, memory_order_release);
	pp_sem_wake_all(&d->seg);
	pd_loops_stop(d);
	dev_t dev;
	ino_t ino;
	if (pp_seg_identity(d->seg.shm_name, &dev, &ino) == 0 && dev == d->seg.dev && ino == d->seg.ino)
		pp_seg_unlink(d->opt.pool); /* still ours: not a newer daemon's */
	pp_seg_unmap(&d->seg);
	pidfile_remove(d->pidfile);
	pd_info("stopped");
}

int main(int argc, char **argv)
{
	static struct pd_daemon d;
	int r = pd_options_parse(&d.opt, argc, argv, check_named);
	if (r)
		return r > 0 ? 0 : 2;
	d.argc = argc;
	d.argv = argv;
	d.lock_kind = pp_owner_lock_kind();
	pd_log_init(pd_options_log_to_stderr(&d.opt), d.opt.log_level, "phantompoold");
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* threads inherit the mask */
	signal(SIGPIPE, SIG_IGN);
	int ready_fd = -1; /* with -f there is no parent waiting */
	if (!d.opt.foreground && (ready_fd = pd_detach_begin()) < 0) {
		pd_err("cannot detach: %s", strerror(errno));
		return 1;
	}
	pd_log_echo_errors(ready_fd >= 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pd_backends_init(&d.backends, &d.opt) < 0 || pd_live_init(&d) < 0)
		return 1;
	if (take_pidfile(&d) < 0)
		return 1;
	if (create_segment(&d) < 0) {
		pidfile_remove(d.pidfile);
		return 1;
	}
	pidfile_write(d.pidfile);
	d.backends.hdr = d.seg.hdr; /* publish the backend's state from now on */
	pd_backends_publish(&d.backends);
	if (pd_loops_start(&d) < 0) {
		shutdown_daemon(&d);
		return 1;
	}
	atomic_store_explicit(&d.seg.hdr->daemon_state, PP_DAEMON_READY, memory_order_release);
	pd_info("pool '%s' ready: %u seats, at most %u connections (min %u), rings %u B, backend %s, segment %s",
		d.opt.pool, d.seg.nslots, d.nconns, d.opt.min_conns, d.seg.ring_size, d.backends.names[0],
		d.seg.shm_name);
	pd_log_echo_errors(false);
	pd_detach_ready(ready_fd);
	run_loop(&d, &sigs);
	shutdown_daemon(&d);
	pd_backends_free(&d.backends);
	pd_live_free(&d);
	curl_global_cleanup();
	return 0;
}
