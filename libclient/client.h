/* client.h - private definitions of libphantompool (not installed). */
#ifndef PP_CLIENT_H
#define PP_CLIENT_H

#include <pthread.h>
#include <sys/types.h>

#include "phantompool.h"
#include "frame.h"
#include "xfer.h"
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
	pp_pool *pool;
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
};

struct pp_pool {
	struct pp_seg seg;    /* immutable after attach */
	char name[PP_POOL_NAME_MAX + 1];
	struct pp_lease *leases; /* [seg.nslots] */
};

/* Check that l is a live lease of the calling process and thread.
 * Returns 0 or PP_EINVAL, PP_ERELEASED, PP_ENOTOWNER. */
int pp_lease_check(const struct pp_lease *l);

/* This process's pid, kept without a system call (updated at fork). */
pid_t pp_client_pid(void);

/* Once per process: install the fork handler behind pp_client_pid(). */
void pp_client_init_once(void);

#endif
