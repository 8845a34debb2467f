/* client.h - private definitions of libphantompool (not installed). */
#ifndef PP_CLIENT_H
#define PP_CLIENT_H

#include <pthread.h>
#include <sys/types.h>

#include "phantompool.h"
#include "bell.h"
#include "frame.h"
#include "xfer.h"
#include "spin.h"
#include "segment.h"

/* Where a lease's exchange stands (the order of the streaming calls). */
enum pp_stage {
	PP_STAGE_IDLE = 0,  /* no exchange: pp_request / pp_stream_begin allowed */
	PP_STAGE_SENDING,   /* head sent; body via pp_stream_write */
	PP_STAGE_HEAD,      /* END sent; pp_stream_read_head next */
	PP_STAGE_BODY,      /* head read; pp_stream_read until 0 */
	PP_STAGE_BROKEN,    /* failed mid-exchange: release the lease (the daemon resets the slot) */
};

/* A lease: one per slot per handle, so the record of slot i is only ever
 * used by the thread holding slot i.  token 0 means released. */
struct pp_lease {
	struct pp_att *att;   /* the attachment (segment) it was taken from */
	uint32_t slot;
	pid_t pid;            /* process that took it */
	pthread_t thread;     /* thread that took it (holds owner_lock) */
	uint64_t token;
	uint64_t generation;
	/* the exchange */
	enum pp_stage stage;
	int64_t declared;     /* request body length, -1 unknown */
	uint64_t sent;
	uint64_t deadline_ns;
	uint64_t alive_checked_ns; /* last full daemon liveness check (coarse clock) */
	struct pp_ring req, resp;  /* worker side: producer of req, consumer of resp */
	uint8_t *scratch;     /* pp_frame_max(ring_size) bytes, allocated on first use */
	struct pp_batch out;  /* request frames not yet published (same size) */
	const uint8_t *pend;  /* unread rest of the last BODY frame (in scratch) */
	uint32_t pend_len;
	struct pp_spin spin;  /* waiting for the response (spin.h) */
};

/* One mapping of the pool's segment, i.e. one daemon generation.  When a
 * daemon dies and a new one replaces the segment, the handle attaches to
 * the new one and keeps the old mapping (leases may still point into it)
 * until pp_detach. */
struct pp_att {
	struct pp_seg seg;       /* immutable after attach */
	struct pp_bell bell;     /* the daemon loops' doorbells (bell.h) */
	struct pp_lease *leases; /* [seg.nslots] */
	pp_pool *pool;
	_Atomic bool stale;      /* a call saw its daemon gone */
	_Atomic uint64_t next_check_ns; /* next periodic liveness check (coarse clock) */
	struct pp_att *older;
	int lock_kind;           /* pp_owner_lock_kind(), cached */
};

struct pp_pool {
	char name[PP_POOL_NAME_MAX + 1];
	_Atomic(struct pp_att *) cur;    /* the newest attachment */
	pthread_mutex_t reattach_lock;   /* one re-attach at a time */
};

/* Calls left before this thread looks at the clock for the periodic
 * liveness check (keeps the clock read off the lease fast path). */
extern __thread uint32_t pp_check_countdown;

/* Slow part of pp_pool_current: the flag is set or a check is due. */
struct pp_att *pp_pool_current_slow(pp_pool *p, struct pp_att *a, int *err);

/* The attachment calls should use now: the current one, re-attached to a
 * new daemon's segment first if the current daemon is gone (checked
 * cheaply: a flag set by failed calls, plus a full check at most every
 * 100 ms, looked at every 64 calls).  Returns NULL (and *err = PP_EDAEMON
 * or the attach error) if no live daemon serves the pool. */
static inline struct pp_att *pp_pool_current(pp_pool *p, int *err)
{
	/* Pairs with the release store of a new attachment in pool_refresh. */
	struct pp_att *a = atomic_load_explicit(&p->cur, memory_order_acquire);
	if (__builtin_expect(atomic_load_explicit(&a->stale, memory_order_relaxed) ||
			     pp_check_countdown-- == 0, 0))
		return pp_pool_current_slow(p, a, err);
	return a;
}

/* Mark an attachment's daemon as gone, so the next call re-attaches. */
void pp_att_mark_stale(struct pp_att *a);

/* Check that l is a live lease of the calling process and thread.
 * Returns 0 or PP_EINVAL, PP_ERELEASED, PP_ENOTOWNER. */
int pp_lease_check(const struct pp_lease *l);

/* This process's pid, kept without a system call (updated at fork). */
pid_t pp_client_pid(void);

/* Once per process: install the fork handler behind pp_client_pid(). */
void pp_client_init_once(void);

#endif
