/* loop.h - serving loops: the threads that run the pool's exchanges.
 *
 * A daemon runs one loop per CPU (--loops).  Loop k owns seats k, k +
 * nloops, ... and connection objects k, k + nloops, ... (with their
 * exchange objects): only it touches them, so nothing of an exchange
 * needs a lock.  A step of a loop:
 *   - its seats: abort the exchange of a seat being reset; reset seats
 *     the reaper handed over or whose rings broke (upkeep.h); a BUSY seat
 *     with a request waiting takes an idle connection of the loop and
 *     starts an exchange (exchange.h), or joins the loop's FIFO queue when
 *     none is idle (bytes in the request ring of a seat that is not BUSY
 *     were written by a worker that does not hold it: the seat is reset
 *     instead);
 *   - exchanges waiting for a ring or a timer run again;
 *   - idle connections get their chores when due (upkeep.h), and a
 *     connection that becomes idle serves the oldest queued seat first;
 *   - nothing moved: sleep.
 *
 * Sleeping.  Before it sleeps a loop writes a bell value (bell.h) into the
 * waiter word of each ring it waits on: the request ring of each idle
 * seat and of each exchange waiting for the worker's next frame, the
 * response ring of each exchange waiting for the worker to make room.
 * With no exchange in flight it sleeps on its wake word in the segment
 * header (a futex), until its next chore and at most PD_QUIET_MS;
 * otherwise in poll(2) on its doorbell socket and the sockets its
 * exchanges wait for, at most PD_SLICE_MS or until the next deadline.  Right after an exchange it may spin
 * first (shm/spin.h).
 *
 * The loop never calls HTTP or touches a ring's bytes: exchange and seat
 * do. */
#ifndef PD_LOOP_H
#define PD_LOOP_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "daemon.h"
#include "layout.h"
#include "spin.h"

#define PD_LOOPS_MAX PP_LOOPS_MAX
#define PD_SLICE_MS 50   /* longest sleep with exchanges in flight */
#define PD_QUIET_MS 250  /* longest sleep of an idle loop: a doorbell lost to a scribbled waiter word costs at most this (bell.h) */

struct pd_loop {
	struct pd_daemon *d;
	uint32_t idx;
	pthread_t thread;
	bool started;
	int bell;                      /* bound doorbell socket */
	_Atomic uint64_t epoch;        /* bumped every step (reload.c) */
	struct pp_spin spin;           /* waiting for the next request */
	uint32_t spin_avg_ns;
	struct pp_yield yield;         /* its yields to a worker on its CPU (spin.h) */
	uint64_t idle_since_ns;        /* when the current wait began, 0: not waiting */
	bool after_exchange;           /* the next wait is the first since an exchange */
	uint64_t upkeep_ns;            /* when idle connections next need a look */
	uint32_t upkeep_active;        /* exchanges in flight at the last look */
	CURLM *multi;                  /* drives the handshakes of its connections (conn.h) */
	uint64_t curl_timer_ns;        /* libcurl's next timeout on it, 0 none */
	/* Seats waiting for a connection, oldest first (a ring of seat
	 * indices, as many places as the loop has seats). */
	uint32_t *queue;
	uint32_t qcap, qhead, qlen;
	struct pollfd *pfd;            /* [1 + its connections] */
	uint32_t *pfd_conn;            /* exchange index of pfd[j], j >= 1 */
};

/* How many loops a daemon with nseats seats and nconns connections runs:
 * `wanted` (the loops setting), or one per online CPU when it is 0; at
 * most PD_LOOPS_MAX, nseats and nconns. */
uint32_t pd_loops_count(uint32_t nseats, uint32_t nconns, uint32_t wanted);

/* Set up the seats, connections and exchanges, bind the doorbells, start
 * the loops, and wait (at most the connect timeout + 1 s) until the first
 * `min` connections have been tried.  Returns 0, or -1 after logging. */
int pd_loops_start(struct pd_daemon *d);

/* Stop and join the loops (requests in flight end with PP_ESHUTDOWN),
 * close every connection, close and remove the doorbells, free it all.
 * Safe on a partly started set. */
void pd_loops_stop(struct pd_daemon *d);

/* Wake loop k wherever it sleeps (a reset is due, the daemon stops). */
void pd_loop_wake(struct pd_daemon *d, uint32_t k);

#endif
