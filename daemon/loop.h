/* loop.h - serving loops: the threads that run the pool's exchanges.
 *
 * A serving loop watches the request rings of its share of the slots
 * (slot i belongs to loop i % nloops; one loop per CPU) and runs every
 * exchange it finds on the slot's own libcurl handles through libcurl's
 * socket interface, all of them from one poll(2).  A loop runs every
 * exchange that is ready when it wakes before it sleeps again, so it
 * sleeps at most once per request (less under heavy load), where a thread
 * per slot slept twice.
 *
 * A loop never waits for a worker.  When an exchange would (the request
 * body is not in the ring yet, the response does not fit the ring, an
 * error has to be drained) the loop pauses it and hands the slot to its
 * slot thread (slot_worker.h), which finishes it with sliced waits.  The
 * slot thread also does what is not an exchange: resets, health checks,
 * closing idle connections.  pd_slot_worker.owner says which of the two
 * may touch the slot's handles.
 *
 * A loop with exchanges in flight sleeps in poll on its doorbell socket
 * (shm/bell.h) and their sockets; one with none sleeps on its wake word
 * in the segment header; either for at most PD_SLICE_MS.  Right
 * after an exchange it may spin first (shm/spin.h), as the slot threads
 * did. */
#ifndef PD_LOOP_H
#define PD_LOOP_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "layout.h"
#include "spin.h"
#include "slot_worker.h"

#define PD_LOOPS_MAX PP_LOOPS_MAX

struct pd_loop {
	struct pd_daemon *d;
	uint32_t idx;                  /* serves slots idx, idx + nloops, ... */
	pthread_t thread;
	bool started;
	int bell;                      /* bound doorbell socket */
	_Atomic uint64_t epoch;        /* bumped every step (reload.c) */
	struct pp_spin spin;           /* waiting for the next request */
	uint32_t spin_avg_ns;
	uint64_t idle_since_ns;        /* when the current wait began, 0: not waiting */
	bool after_exchange;           /* the next wait is the first since an exchange */
	struct pollfd *pfd;            /* [1 + its slots] */
	uint32_t *pfd_slot;            /* slot of pfd[j], j >= 1 */
};

/* How many loops a daemon with nslots slots runs: `wanted` (the loops
 * setting), or one per online CPU when it is 0; at most PD_LOOPS_MAX and
 * at most nslots. */
uint32_t pd_loops_count(uint32_t nslots, uint32_t wanted);

/* Bind the doorbells and start the loops (the slot threads run already).
 * Returns 0, or -1 after logging. */
int pd_loops_start(struct pd_daemon *d);

/* Stop and join the loops (d->stopping is set), close and remove their
 * doorbells.  Safe on a partly started set. */
void pd_loops_stop(struct pd_daemon *d);

/* Install the loop's socket and timer callbacks on a new multi handle of
 * slot w. */
void pd_loop_setup_multi(struct pd_slot_worker *w, CURLM *m);

/* Wake slot w's loop wherever it sleeps (a slot thread gave the handles
 * back with a request waiting, a reset or shutdown is due). */
void pd_loop_wake(struct pd_slot_worker *w);

#endif
