/* client.h - private definitions of libphantompool (not installed). */
#ifndef PP_CLIENT_H
#define PP_CLIENT_H

#include <pthread.h>
#include <sys/types.h>

#include "phantompool.h"
#include "segment.h"

/* A lease: one per slot per handle, so the record of slot i is only ever
 * used by the thread holding slot i.  token 0 means released. */
struct pp_lease {
	pp_pool *pool;
	uint32_t slot;
	pid_t pid;            /* process that took it */
	pthread_t thread;     /* thread that took it (holds owner_lock) */
	uint64_t token;
	uint64_t generation;
};

struct pp_pool {
	struct pp_seg seg;    /* immutable after attach */
	char name[PP_POOL_NAME_MAX + 1];
	struct pp_lease *leases; /* [seg.nslots] */
};

/* This process's pid, kept without a system call (updated at fork). */
pid_t pp_client_pid(void);

/* Once per process: install the fork handler behind pp_client_pid(). */
void pp_client_init_once(void);

#endif
