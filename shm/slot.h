/* slot.h - slot helpers shared by the client (lease/release) and the
 * daemon (reaper): the owner-lock futex word and the semaphore's wakeups. */
#ifndef PP_SLOT_H
#define PP_SLOT_H

#include <linux/futex.h>
#include <stdbool.h>
#include <stdint.h>

#include "segment.h"

/* The futex word of a slot's robust owner_lock (glibc keeps it first in
 * pthread_mutex_t: TID of the holder | FUTEX_WAITERS | FUTEX_OWNER_DIED).
 * The daemon only loads and CASes it, never calls pthread functions on it,
 * so a worker scribbling over the mutex cannot make the daemon follow the
 * robust-list pointers stored there. */
static inline _Atomic uint32_t *pp_slot_lock_word(struct pp_slot *s)
{
	_Static_assert(sizeof(pthread_mutex_t) >= sizeof(uint32_t), "mutex word");
	return (_Atomic uint32_t *)(void *)&s->owner_lock;
}

/* The glibc "kind" word of a robust, process-shared, error-checking mutex
 * as pp_seg_create initialises them.  A claimer compares it before
 * pthread_mutex_trylock: glibc aborts the process on some scribbled kinds,
 * so a slot whose mutex was overwritten is skipped (and reset by the
 * daemon) instead. */
int pp_owner_lock_kind(void);

static inline bool pp_owner_lock_sane(const pthread_mutex_t *m, int kind)
{
	return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == kind;
}

/* Initialise a slot or waiter lock (robust, process-shared,
 * error-checking).  Returns 0 or an errno value. */
int pp_owner_lock_init(pthread_mutex_t *m);

/* True when the kernel has marked the holder of this lock word dead and
 * nobody has taken the lock since. */
static inline bool pp_lock_word_owner_died(uint32_t w)
{
	return (w & FUTEX_OWNER_DIED) && (w & FUTEX_TID_MASK) == 0;
}

/* Wake one worker sleeping in pp_lease, if any sleeps.  Called after a slot
 * became FREE.  The seq_cst fence orders the caller's store of FREE before
 * the loads of waiter_bits; it pairs with the fence in the lease sleep
 * path between setting its bit and its re-scan, so either the releaser
 * sees the sleeper or the sleeper sees the free slot (no lost wakeup). */
void pp_sem_post_wake(struct pp_seg *seg);

/* How a released slot finds its next holder when workers outnumber slots.
 * Strict first-come-first-served hand-over makes every request sleep
 * twice (a lock convoy: the releaser wakes the oldest sleeper and then
 * sleeps itself), which with 64 workers on 16 slots cost the workers five
 * times the CPU per request of 16 on 16 (bench_crowd).  So:
 *  - while the oldest sleeper has waited less than PP_HANDOFF_AFTER_MS, a
 *    released slot goes back FREE without a wakeup: a worker that leases
 *    again at once (pp_do in a loop) keeps running instead of trading
 *    places with a sleeper;
 *  - once the oldest sleeper has waited that long, each release hands the
 *    slot straight to it (HANDOFF, newcomers cannot take it first): no
 *    sleeper waits much beyond PP_HANDOFF_AFTER_MS plus the queue ahead of
 *    it.  A sleeper that does not take its slot within PP_QUEUE_HOLE_MS
 *    (stopped, or not scheduled) loses it: the daemon makes it FREE, and
 *    the sleeper joins the queue again once it runs;
 *  - the oldest sleeper (the queue's head) looks for a FREE slot every
 *    PP_HEAD_POLL_MS, so a slot freed by a worker that does not lease again
 *    is taken within that (the daemon's tick also wakes a sleeper when a
 *    slot is FREE); a sleeper leaving the head wakes the next one. */
#define PP_HANDOFF_AFTER_MS 20u
#define PP_HEAD_POLL_MS 1u

/* Return slot i (the caller owns it: it holds its owner lock, passed as
 * `unlock` to be released at the right moment, or the daemon has it in
 * RESETTING) to the pool: straight to the oldest sleeper if it has waited
 * PP_HANDOFF_AFTER_MS or more (state HANDOFF), else FREE (woken: sleepers
 * without a queue entry only).  The owner stamp must already be cleared.
 * Returns true if it was handed over. */
bool pp_slot_hand_over(struct pp_seg *seg, uint32_t i, pthread_mutex_t *unlock);

/* The queue's head: drop entries of sleepers that left from its front and
 * return true with the record of the oldest sleeper still waiting (and
 * its ticket), false if there is none (or its entry is not written yet). */
bool pp_queue_head(struct pp_seg *seg, uint32_t *rec, uint64_t *ticket);

/* A sleeper left the queue (with a slot or not): if it was at or past the
 * head (ticket <= q_head), wake the new head so that it starts polling. */
void pp_queue_left(struct pp_seg *seg, uint64_t ticket);

/* A sleeper killed between taking its ticket (q_tail) and writing its
 * queue entry leaves a hole at the head that reads "not written yet"
 * for ever: no hand-over, no polling head, until the queue wraps.  The
 * daemon's tick calls pp_queue_skip_hole with its own watch: a hole that
 * stays at the same q_head for PP_QUEUE_HOLE_MS is stepped over and the
 * next head woken.  A live sleeper stalled that long in the same window
 * is stepped over too: no slot is handed to it, and it gets one only by
 * its own scans (every PP_WAIT_SLICE_MS) until its timeout.  (Joining
 * again at the back would race with a releaser assigning to its old
 * entry: a test caught that.) */
#define PP_QUEUE_HOLE_MS 100u

/* The daemon's look, tick after tick, at one word of the queue (q_head
 * for a hole, a slot's hand-over entry for an unclaimed hand-over). */
struct pp_queue_watch {
	uint64_t value;    /* the value seen */
	uint64_t since_ns; /* when it was first seen, 0 for none */
};

/* Has `value` been the same at each look for PP_QUEUE_HOLE_MS?  A new
 * value (or since_ns cleared) starts the clock; a true answer clears it. */
bool pp_queue_watch_stuck(struct pp_queue_watch *w, uint64_t value, uint64_t now_ns);

/* See above.  `w` starts zeroed.  Returns true when it stepped over a
 * hole. */
bool pp_queue_skip_hole(struct pp_seg *seg, struct pp_queue_watch *w, uint64_t now_ns);

/* True if any waiter bit is set (a relaxed read). */
bool pp_sem_has_waiters(const struct pp_shm_header *h);

/* Number of waiter bits set: workers sleeping in pp_lease right now
 * (dead ones included until the daemon's next tick clears them). */
uint32_t pp_sem_waiting(const struct pp_shm_header *h);

/* Wake every worker sleeping in pp_lease (daemon shutdown, drain). */
void pp_sem_wake_all(struct pp_seg *seg);

/* Number of FREE slots: the semaphore's count, derived from the table. */
uint32_t pp_slots_free(const struct pp_seg *seg);

/* Display name of a slot state / connection state ("?" when out of range:
 * the value came from the segment and is untrusted). */
const char *pp_slot_state_name(uint32_t state);
const char *pp_conn_state_name(uint32_t state);

#endif
