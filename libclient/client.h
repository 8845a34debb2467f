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
#include "clock.h"
#include "segment.h"

/* Where a lease's exchange stands (the order of the streaming calls). */
enum pp_stage {
	PP_STAGE_IDLE = 0,  /* no exchange: pp_request / pp_stream_begin allowed */
	PP_STAGE_SENDING,   /* head sent; body via pp_stream_write */
	PP_STAGE_HEAD,      /* END sent; pp_stream_read_head next */
	PP_STAGE_BODY,      /* head read; pp_stream_read until 0 */
	PP_STAGE_BROKEN,    /* failed mid-exchange: release the lease (the daemon resets the slot) */
};

/* First size of a lease's two private buffers (frames taken, frames to
 * publish).  Small exchanges (a head, a small body, the end: most of
 * them, and a CGI program's one) fit; a larger frame grows a buffer to
 * the ring's largest frame for the rest of the attachment.  Starting at
 * the largest size (64 KiB each by default) made a fresh process grow its
 * heap past malloc's trim threshold and shrink it again at pp_detach:
 * 23-31 us of a CGI run; 1 KiB instead of 4 KiB saves a fresh process two
 * page faults of its heap, 8 us (docs/BENCHMARKS.md, runs 14 to 16). */
#define PP_LEASE_BUF_INIT 1024u

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
	uint64_t pid_checked_ns; /* this exchange's last daemon pid check (coarse clock) */
	struct pp_ring req, resp;  /* worker side: producer of req, consumer of resp */
	struct pp_buf scratch; /* frames taken; PP_LEASE_BUF_INIT bytes on first use,
				  grown to pp_frame_max(ring_size) by a larger frame (xfer.h) */
	struct pp_batch out;  /* request frames not yet published (the same) */
	const uint8_t *pend;  /* unread rest of the last BODY frame (in scratch) */
	int64_t resp_len;     /* the answer's Content-Length as the daemon saw it, -1 unknown */
	uint32_t pend_len;
	struct pp_spin spin;  /* waiting for the response (spin.h) */
};

/* The client's one liveness policy (pool.c: pp_att_check_daemon), and its
 * times.  A daemon is gone when it marked itself STOPPED, when its
 * heartbeat is older than PP_DAEMON_STALE_MS (layout.h), or when its pid
 * no longer exists.  The first two are loads from the segment, looked at
 * on every call and after every wakeup of a waiting call; the pid needs a
 * system call (kill(pid, 0)), so it is asked at most every
 * PP_PID_CHECK_MS per attachment (calls) and per wait.  A waiting call
 * sleeps at most PP_WAIT_SLICE_MS between looks.  So a call made after a
 * daemon died fails at once when its heartbeat is stale, and a waiting
 * call notices within PP_PID_CHECK_MS + PP_WAIT_SLICE_MS of the kill (pid
 * gone), or PP_DAEMON_STALE_MS + one tick + PP_WAIT_SLICE_MS at worst:
 * docs/failure-model.md. */
#define PP_PID_CHECK_MS 100u
#define PP_WAIT_SLICE_MS 100u

/* One mapping of the pool's segment, i.e. one daemon generation.  When a
 * daemon dies and a new one replaces the segment, the handle attaches to
 * the new one and keeps the old mapping (leases may still point into it)
 * until pp_detach. */
struct pp_att {
	struct pp_seg seg;       /* immutable after attach */
	struct pp_bell bell;     /* the daemon loops' doorbells (bell.h) */
	struct pp_lease *leases; /* [seg.nslots] */
	_Atomic(pp_pool *) pool; /* NULL once pp_detach kept it for another thread's lease */
	_Atomic bool stale;      /* a call saw its daemon gone */
	_Atomic uint64_t next_pid_check_ns; /* next pid check of calls (coarse clock) */
	struct pp_att *older;
	int lock_kind;           /* pp_owner_lock_kind(), cached */
};

struct pp_pool {
	char name[PP_POOL_NAME_MAX + 1];
	_Atomic(struct pp_att *) cur;    /* the newest attachment */
	pthread_mutex_t reattach_lock;   /* one re-attach at a time */
	/* The last segment found under the name whose daemon was dead (or
	 * which failed validation): not mapped again before retry_ns. */
	_Atomic uint64_t dead_dev, dead_ino, dead_retry_ns;
};

/* Slow part of pp_pool_current: the attachment is stale, its daemon
 * looks gone, or a pid check is due. */
struct pp_att *pp_pool_current_slow(pp_pool *p, struct pp_att *a, int *err);

/* The attachment calls should use now: the current one, if its daemon
 * looks alive (policy above: the heartbeat and the stopped mark on every
 * call, the pid every PP_PID_CHECK_MS); else a new daemon's segment if one
 * has replaced it (found by its inode: an open and an fstat while there is
 * none, no mapping).  Returns NULL with *err = PP_EDAEMON (or the attach
 * error) if no live daemon serves the pool. */
static inline struct pp_att *pp_pool_current(pp_pool *p, int *err)
{
	/* Pairs with the release store of a new attachment in pool_replace. */
	struct pp_att *a = atomic_load_explicit(&p->cur, memory_order_acquire);
	uint64_t now = pp_now_coarse_ns();
	if (__builtin_expect(atomic_load_explicit(&a->stale, memory_order_relaxed) ||
			     now >= atomic_load_explicit(&a->next_pid_check_ns, memory_order_relaxed) ||
			     !pp_seg_daemon_fresh(&a->seg, PP_DAEMON_STALE_MS, now), 0))
		return pp_pool_current_slow(p, a, err);
	return a;
}

/* The liveness policy for a waiting call: 0 if the daemon of a still
 * looks alive, else PP_EDAEMON (and a is marked stale).  *pid_checked_ns
 * is the caller's last pid check (coarse clock), updated when it asks
 * again; pass a zeroed one to ask now. */
int pp_att_check_daemon(struct pp_att *a, uint64_t *pid_checked_ns);

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
