/* daemon.h - the supervisor's state, shared by its modules.
 *
 * Layers (each calls only the ones below it):
 *   main, reaper, reload          process, signals, the segment's owners
 *   loop                          serving loops: poll, timers, doorbells,
 *                                 which exchange runs next
 *   upkeep                        slot and connection chores: resets,
 *                                 health checks, idle close, min, probes
 *   exchange                      one request/response state machine
 *   conn | http | seat            a backend connection (libcurl connect +
 *                                 send/recv) | HTTP/1.1 bytes and the
 *                                 parser | a slot's rings and frames
 *   backend, options, log, url    shared services
 */
#ifndef PD_DAEMON_H
#define PD_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <curl/curl.h>

#include "backend.h"
#include "bell.h"
#include "options.h"
#include "segment.h"
#include "slot.h"

/* The settings the loops read while they run.  A SIGHUP reload builds
 * a new one and publishes it with one pointer store; the old one is freed
 * once every loop has passed a quiescent point (reload.c). */
struct pd_live {
	struct pd_options opt;
	char auth_header[4096];  /* "Authorization: Bearer ..." or "" (never in the segment) */
	uint64_t gen;            /* 1, 2, ... */
};

struct pd_seat;
struct pd_conn;
struct pd_exchange;
struct pd_loop;

struct pd_daemon {
	struct pd_options opt;       /* as loaded at start (main thread only) */
	_Atomic(struct pd_live *) live;
	struct pp_seg seg;           /* private, trusted layout numbers */
	struct pidfh *pidfile;
	atomic_bool stopping;
	struct pd_seat *seats;       /* [seg.nslots]: seat i belongs to loop i % nloops */
	uint32_t nconns;             /* connection objects (--max) */
	struct pd_conn *conns;       /* [nconns]: connection k belongs to loop k % nloops */
	struct pd_exchange *xs;      /* [nconns]: exchange k runs on connection k */
	struct pd_loop *loops;       /* [nloops] serving loops (loop.h) */
	uint32_t nloops;
	_Atomic uint32_t warmed;     /* min connections whose first attempt ended */
	struct pp_bell bell;         /* where the loops' doorbells live */
	gid_t shm_gid;               /* the segment's group, for the bells (mode: opt.mode) */
	struct pd_backends backends; /* the PhantomDB nodes */
	int lock_kind;               /* pp_owner_lock_kind() */
	struct pp_queue_watch qwatch; /* the reaper's look at the sleepers' queue (slot.h) */
	uint64_t idle_head;          /* head ticket + 1 (UINT64_MAX: no head) at the last tick with slots free, 0 none (reaper.c) */
	bool idle_woke_all;          /* every sleeper was woken for that head (reaper.c) */
	int argc;                    /* saved for reloads */
	char **argv;
};

/* The settings in force now (loops: read once per step or per exchange;
 * the pointer stays valid until the loop's next step). */
static inline const struct pd_live *pd_live(struct pd_daemon *d)
{
	/* Pairs with the release store in pd_reload. */
	return atomic_load_explicit(&d->live, memory_order_acquire);
}

#endif
