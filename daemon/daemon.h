/* daemon.h - the supervisor's state, shared by its modules. */
#ifndef PD_DAEMON_H
#define PD_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <curl/curl.h>

#include "backend.h"
#include "bell.h"
#include "options.h"
#include "segment.h"

/* The settings slot threads read while they run.  A SIGHUP reload builds
 * a new one and publishes it with one pointer store; the old one is freed
 * once every slot thread has passed a quiescent point (reload.c). */
struct pd_live {
	struct pd_options opt;
	char auth_header[4096];  /* "Authorization: Bearer ..." or "" (never in the segment) */
	uint64_t gen;            /* 1, 2, ...: slot threads re-apply connection options on change */
};

struct pd_daemon {
	struct pd_options opt;       /* as loaded at start (main thread only) */
	_Atomic(struct pd_live *) live;
	struct pp_seg seg;           /* private, trusted layout numbers */
	struct pidfh *pidfile;
	atomic_bool stopping;
	struct pd_slot_worker *workers; /* [seg.nslots] */
	struct pd_loop *loops;       /* [nloops] serving loops (loop.h) */
	uint32_t nloops;
	struct pp_bell bell;         /* where the loops' doorbells live */
	gid_t shm_gid;               /* the segment's group, for the bells (mode: opt.mode) */
	struct pd_backends backends; /* the PhantomDB nodes */
	int lock_kind;               /* pp_owner_lock_kind() */
	int argc;                    /* saved for reloads */
	char **argv;
};

/* The settings in force now (slot threads: read once per step or per
 * exchange; the pointer stays valid until the thread's next step). */
static inline const struct pd_live *pd_live(struct pd_daemon *d)
{
	/* Pairs with the release store in pd_reload. */
	return atomic_load_explicit(&d->live, memory_order_acquire);
}

#endif
