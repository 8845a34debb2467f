/* lease.c - pp_lease / pp_release: claim a slot, sleep on the semaphore.
 *
 * Claiming slot i: see it FREE, trylock its robust owner_lock, see it FREE
 * again, stamp owner and token, store LEASED.  Releasing: clear the stamp,
 * store FREE, unlock, wake a sleeper if one sleeps.  No system call on
 * either path unless someone sleeps.  A holder killed at any point leaves
 * owner_lock marked FUTEX_OWNER_DIED by the kernel, and the daemon's reaper
 * (or the next claimer, for a slot still FREE) takes it back.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "client.h"
#include "errdetail.h"
#include "clock.h"
#include "futex.h"
#include "slot.h"
#include "stats.h"
#include "sys.h"

/* Where this thread starts its next scan: its last slot, so a worker tends
 * to reuse the same slot (and cache lines) when uncontended. */
static __thread uint32_t scan_hint;

/* A slot that looked FREE turned out to hold a dead owner's half-done
 * exchange: hand it to the daemon for a reset. */
static void claim_abandon_dead(struct pp_slot *s)
{
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
	if (st == PP_SLOT_LEASED || st == PP_SLOT_BUSY)
		atomic_compare_exchange_strong(&s->state, &st, PP_SLOT_RECLAIM);
}

/* Stamp the claimed slot i (owner lock held) as our lease. */
static void stamp_lease(struct pp_att *p, uint32_t i, struct pp_lease **out)
{
	struct pp_slot *s = pp_seg_slot(&p->seg, i);
	uint64_t seq = ++s->lease_seq;
	uint64_t token = ((seq << 12) | i) ^ (p->seg.generation & ~0xfffull);
	struct pp_lease *l = &p->leases[i];
	l->att = p;
	l->slot = i;
	l->pid = pp_client_pid();
	l->thread = pthread_self();
	l->token = token ? token : 1;
	l->generation = p->seg.generation;
	l->stage = PP_STAGE_IDLE;
	l->pend_len = 0;
	atomic_store_explicit(&s->owner_pid, l->pid, memory_order_relaxed);
	atomic_store_explicit(&s->token, l->token, memory_order_relaxed);
	atomic_store_explicit(&s->lease_start_ns, pp_now_coarse_ns(), memory_order_relaxed);
	atomic_fetch_add_explicit(&s->leases, 1, memory_order_relaxed);
	/* Pairs with readers (daemon, shmdump) that load state with acquire
	 * and then read the owner stamp. */
	atomic_store_explicit(&s->state, PP_SLOT_LEASED, memory_order_release);
	scan_hint = i;
	*out = l;
}

/* Try to claim slot i in state `want` (FREE; or HANDOFF with
 * handoff == entry, a slot handed to us).  Returns true with the lease. */
static bool claim_slot_as(struct pp_att *p, uint32_t i, uint32_t want, uint64_t entry, struct pp_lease **out)
{
	struct pp_slot *s = pp_seg_slot(&p->seg, i);
	if (atomic_load_explicit(&s->state, memory_order_relaxed) != want ||
	    !pp_owner_lock_sane(&s->owner_lock, p->lock_kind))
		return false;
	int r = pthread_mutex_trylock(&s->owner_lock);
	if (r == EOWNERDEAD) {
		pthread_mutex_consistent(&s->owner_lock);
	} else if (r != 0) {
		return false;
	}
	/* The lock's acquire orders this load after the previous holder's
	 * release store of FREE (or HANDOFF). */
	if (atomic_load_explicit(&s->state, memory_order_acquire) != want ||
	    (want == PP_SLOT_HANDOFF && atomic_load_explicit(&s->handoff, memory_order_relaxed) != entry)) {
		if (r == EOWNERDEAD)
			claim_abandon_dead(s);
		pthread_mutex_unlock(&s->owner_lock);
		return false;
	}
	stamp_lease(p, i, out);
	return true;
}

static bool claim_slot(struct pp_att *p, uint32_t i, struct pp_lease **out)
{
	return claim_slot_as(p, i, PP_SLOT_FREE, 0, out);
}

/* One pass over the slot table starting at this thread's hint. */
static bool scan_slots(struct pp_att *p, struct pp_lease **out)
{
	uint32_t n = p->seg.nslots, start = scan_hint < n ? scan_hint : 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = start + k < n ? start + k : start + k - n;
		if (claim_slot(p, i, out))
			return true;
	}
	return false;
}

/* Why a waiter must stop waiting, or 0 to go on: the pool draining, or
 * its daemon gone (the liveness policy, client.h; *pid_checked_ns is the
 * wait's last pid check). */
static int lease_wait_verdict(struct pp_att *p, uint64_t *pid_checked_ns)
{
	uint32_t st = atomic_load_explicit(&p->seg.hdr->daemon_state, memory_order_acquire);
	if (st == PP_DAEMON_DRAINING)
		return PP_ESHUTDOWN;
	return pp_att_check_daemon(p, pid_checked_ns);
}

/* Where this thread starts looking for a free waiter record. */
static __thread uint32_t waiter_hint;

/* Take a waiter record and set its bit: from now on a release wakes us.
 * Returns the record index, or -1 if all are taken (then we still wait,
 * re-checking every slice). */
static int waiter_register(struct pp_att *p)
{
	struct pp_seg *seg = &p->seg;
	for (uint32_t k = 0; k < PP_MAX_WAITERS; k++) {
		uint32_t i = (waiter_hint + k) % PP_MAX_WAITERS;
		pthread_mutex_t *m = &seg->waiters[i].lock;
		if (!pp_owner_lock_sane(m, p->lock_kind))
			continue;
		int r = pthread_mutex_trylock(m);
		if (r == EOWNERDEAD)
			pthread_mutex_consistent(m);
		else if (r != 0)
			continue;
		waiter_hint = i;
		atomic_fetch_or_explicit(&seg->hdr->waiter_bits[i / 64], 1ull << (i % 64), memory_order_seq_cst);
		return (int)i;
	}
	return -1;
}

static void waiter_unregister(struct pp_att *p, int i)
{
	if (i < 0)
		return;
	struct pp_seg *seg = &p->seg;
	atomic_fetch_and_explicit(&seg->hdr->waiter_bits[i / 64], ~(1ull << (i % 64)), memory_order_seq_cst);
	pthread_mutex_unlock(&seg->waiters[i].lock);
}

/* The ticket of a record that holds no place in the queue. */
#define NOT_QUEUED UINT64_MAX

/* Take the next ticket unless it is PP_MAX_WAITERS or more past q_head:
 * the entries between are those of sleepers still waiting or of sleepers
 * that left behind a head that still waits, and that ticket's entry would
 * overwrite one of them (the head's own first), putting its sleeper out
 * of the queue for good.  q_head only grows, so the room seen holds at
 * the CAS. */
static bool queue_ticket(struct pp_shm_header *h, uint64_t *ticket)
{
	uint64_t t = atomic_load_explicit(&h->q_tail, memory_order_relaxed);
	do {
		uint64_t hd = atomic_load_explicit(&h->q_head, memory_order_acquire);
		if (hd <= t && t - hd >= PP_MAX_WAITERS)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&h->q_tail, &t, t + 1, memory_order_seq_cst,
							memory_order_relaxed));
	*ticket = t;
	return true;
}

/* Join the FIFO: take a ticket and publish our queue entry.  The seq_cst
 * store pairs with the fence in pp_slot_hand_over: a releaser either sees
 * the entry, or our scan that follows sees the slot it made FREE.  With
 * the queue full (queue_ticket) the record holds no place (NOT_QUEUED):
 * the sleeper waits in slices and tries again at its next look. */
static void queue_join(struct pp_att *p, int rec)
{
	struct pp_shm_header *h = p->seg.hdr;
	struct pp_waiter *w = &p->seg.waiters[rec];
	atomic_store_explicit(&w->assigned, 0, memory_order_relaxed);
	uint64_t t;
	if (!queue_ticket(h, &t)) {
		atomic_store_explicit(&w->ticket, NOT_QUEUED, memory_order_release);
		return;
	}
	atomic_store_explicit(&w->since_ns, pp_now_ns(), memory_order_relaxed);
	atomic_store_explicit(&w->ticket, t, memory_order_release);
	uint64_t e = (t << 16) | (uint64_t)(rec + 1);
	atomic_store_explicit(&h->queue[t % PP_MAX_WAITERS], e, memory_order_seq_cst);
}

/* Could slot i, assigned to queue entry `entry`, still become ours?  A
 * releaser assigns the slot to our record first, then stores the entry in
 * s->handoff and HANDOFF in s->state, then unlocks the slot's owner lock,
 * then wakes us: between those steps the slot is ours but not claimable
 * yet.  It is not ours once it shows another entry, or went FREE (reset
 * meanwhile). */
static bool handoff_coming(struct pp_att *p, uint32_t i, uint64_t entry)
{
	struct pp_slot *s = pp_seg_slot(&p->seg, i);
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
	if (st == PP_SLOT_HANDOFF)
		return atomic_load_explicit(&s->handoff, memory_order_relaxed) == entry;
	return st != PP_SLOT_FREE;
}

/* Claim slot i assigned to `entry`, yielding while its releaser finishes
 * the hand-over (handoff_coming), for at most 5 ms.  Returns true with the
 * lease; false when the slot is not ours after all, or its lock stays
 * unavailable (scribbled, or held by someone else): the caller then leaves
 * the hand-over, which the reaper finds orphaned and resets. */
static bool claim_handed(struct pp_att *p, uint32_t i, uint64_t entry, struct pp_lease **out)
{
	uint64_t until = 0;
	for (;;) {
		if (claim_slot_as(p, i, PP_SLOT_HANDOFF, entry, out))
			return true;
		if (!handoff_coming(p, i, entry))
			return false;
		uint64_t now = pp_now_ns();
		if (!until)
			until = now + 5 * PP_NS_PER_MS;
		else if (now >= until)
			return false;
		sched_yield();
	}
}

/* A releaser handed us a slot (w->assigned): take it.  If it is no longer
 * ours to take (reset meanwhile, or its lock unusable), rejoin the queue
 * at the back. */
static bool take_assigned(struct pp_att *p, int rec, uint32_t a, struct pp_lease **out)
{
	struct pp_waiter *w = &p->seg.waiters[rec];
	uint64_t t = atomic_load_explicit(&w->ticket, memory_order_relaxed);
	uint64_t entry = (t << 16) | (uint64_t)(rec + 1);
	if (a - 1 < p->seg.nslots && claim_handed(p, a - 1, entry, out))
		return true;
	queue_join(p, rec);
	return false;
}

/* Leaving the queue without a lease from it: close our record so no
 * releaser assigns to it; if one already did, take that slot (when we
 * have none and may still lease) or pass it on.  Returns the verdict. */
static int queue_leave(struct pp_att *p, int rec, int v, struct pp_lease **out)
{
	struct pp_waiter *w = &p->seg.waiters[rec];
	uint32_t a = 0;
	if (atomic_compare_exchange_strong(&w->assigned, &a, PP_WAITER_CLOSED) || a == PP_WAITER_CLOSED)
		return v;
	if (*out && (*out)->slot == a - 1)
		return v; /* the slot handed to us is the one we took */
	uint64_t entry = (atomic_load(&w->ticket) << 16) | (uint64_t)(rec + 1);
	struct pp_lease *l = NULL;
	if (a - 1 >= p->seg.nslots || !claim_handed(p, a - 1, entry, &l))
		return v;
	if (v == 0 || v == PP_ETIMEDOUT) {
		if (v == 0 && *out) {
			pp_release(l); /* we got one by scanning meanwhile: pass this one on */
			return 0;
		}
		*out = l;
		return 0;
	}
	pp_release(l); /* shutting down or daemon gone: pass it on */
	return v;
}

/* The slow path: join the queue of sleepers, then wait until a releaser
 * hands us a slot or a free one appears.  Returns 0 or the verdict. */
static int lease_sleep(struct pp_att *p, uint64_t deadline, struct pp_lease **out)
{
	struct pp_shm_header *h = p->seg.hdr;
	atomic_fetch_add_explicit(&h->lease_waits, 1, memory_order_relaxed);
	int rec = waiter_register(p);
	_Atomic uint32_t *word = rec >= 0 ? &p->seg.waiters[rec].futex : &h->wake_seq;
	if (rec >= 0)
		queue_join(p, rec);
	int v = 0;
	*out = NULL;
	/* pp_pool_current looked at the daemon just now: the pid again after
	 * PP_PID_CHECK_MS, whatever wakes us meanwhile. */
	uint64_t pid_checked = pp_now_coarse_ns();
	for (;;) {
		if ((v = lease_wait_verdict(p, &pid_checked)) != 0)
			break;
		if (rec >= 0 && atomic_load_explicit(&p->seg.waiters[rec].ticket, memory_order_relaxed) == NOT_QUEUED)
			queue_join(p, rec); /* the queue was full: room now? */
		uint32_t seq = atomic_load_explicit(word, memory_order_seq_cst);
		uint32_t a = rec >= 0 ? atomic_load_explicit(&p->seg.waiters[rec].assigned, memory_order_acquire) : 0;
		if (a && a != PP_WAITER_CLOSED && take_assigned(p, rec, a, out))
			break;
		/* Pairs with the fences in pp_slot_hand_over / pp_sem_post_wake:
		 * a slot made FREE before this point is seen by the scan; one
		 * made FREE after finds our bit (and entry) and wakes us. */
		atomic_thread_fence(memory_order_seq_cst);
		if (scan_slots(p, out))
			break;
		/* The queue's head polls for a slot freed without a hand-over
		 * (slot.h); the others sleep until handed one. */
		uint32_t head;
		uint64_t head_ticket;
		bool polling = rec >= 0 && pp_queue_head(&p->seg, &head, &head_ticket) && head == (uint32_t)rec;
		uint64_t slice = pp_now_ns() + (polling ? PP_HEAD_POLL_MS : PP_WAIT_SLICE_MS) * PP_NS_PER_MS;
		pp_futex_wait(word, seq, slice < deadline ? slice : deadline);
		if (pp_now_ns() >= deadline) {
			v = PP_ETIMEDOUT;
			break;
		}
	}
	uint64_t ticket = rec >= 0 ? atomic_load_explicit(&p->seg.waiters[rec].ticket, memory_order_relaxed) : 0;
	if (rec >= 0)
		v = queue_leave(p, rec, v, out);
	waiter_unregister(p, rec);
	if (rec >= 0)
		pp_queue_left(&p->seg, ticket); /* the next head starts polling */
	return v;
}

/* Record how long a lease slept (slow path only). */
static void note_wait(struct pp_shm_header *h, uint64_t t0)
{
	uint64_t ns = pp_now_ns() - t0;
	atomic_fetch_add_explicit(&h->lease_wait_hist[pp_hist_bucket(ns)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->lease_wait_sum_ns, ns, memory_order_relaxed);
	pp_stat_max(&h->lease_wait_max_ns, ns);
}

/* Lease from one attachment: fast scan, else wait until *deadline
 * (computed here on first need: UINT64_MAX-1 means "not yet"). */
static int lease_from(struct pp_att *a, int timeout_ms, uint64_t *deadline, struct pp_lease **out)
{
	uint64_t now_please = 0; /* a lease that does not wait asks for the pid now */
	int r = timeout_ms == 0 ? lease_wait_verdict(a, &now_please) : 0;
	if (!r && timeout_ms == 0) {
		r = scan_slots(a, out) ? 0 : PP_ETIMEDOUT;
	} else if (!r) {
		uint64_t t0 = pp_now_ns();
		if (*deadline == UINT64_MAX - 1)
			*deadline = pp_deadline_ms(timeout_ms);
		r = lease_sleep(a, *deadline, out);
		if (r == 0)
			note_wait(a->seg.hdr, t0); /* the histogram holds leases that slept */
	}
	if (r == PP_ETIMEDOUT) {
		atomic_fetch_add_explicit(&a->seg.hdr->lease_timeouts, 1, memory_order_relaxed);
		/* We may have been the one waiter woken for a slot we now leave:
		 * pass the wakeup on so it is not lost. */
		if (pp_slots_free(&a->seg))
			pp_sem_post_wake(&a->seg);
	}
	return r;
}

static int lease_run(pp_pool *p, int timeout_ms, struct pp_lease **out)
{
	if (!p || !out)
		return PP_EINVAL;
	*out = NULL;
	int r;
	uint64_t deadline = UINT64_MAX - 1; /* set by the slow path only */
	struct pp_att *a = pp_pool_current(p, &r);
	if (!a)
		return r;
	/* Fast path: a free slot, no system call. */
	if (__builtin_expect(atomic_load_explicit(&a->seg.hdr->daemon_state, memory_order_relaxed) == PP_DAEMON_READY, 1) &&
	    scan_slots(a, out))
		return 0;
	r = lease_from(a, timeout_ms, &deadline, out);
	if (r == PP_EDAEMON) {
		/* The daemon went away while we waited: a new one may already
		 * serve the pool.  Try once on its segment, in the time left. */
		pp_att_mark_stale(a);
		if ((a = pp_pool_current(p, &r)) != NULL) {
			uint64_t now = pp_now_ns();
			bool forever = timeout_ms < 0;
			int left = forever ? -1 : deadline == UINT64_MAX - 1 || now >= deadline ? 0 :
				   (int)((deadline - now) / PP_NS_PER_MS);
			r = lease_from(a, left, &deadline, out);
		}
	}
	return r;
}

int pp_lease(pp_pool *p, int timeout_ms, struct pp_lease **out)
{
	int r = lease_run(p, timeout_ms, out);
	return r ? pp_detail_after(p, r) : 0;
}

int pp_lease_check(const struct pp_lease *l)
{
	if (!l || !l->att)
		return PP_EINVAL;
	if (!l->token)
		return PP_ERELEASED;
	if (l->pid != pp_client_pid() || !pthread_equal(l->thread, pthread_self()))
		return PP_ENOTOWNER;
	return 0;
}

/* Does this thread hold slot s's owner lock?  A lease record can outlive
 * its thread: the thread ended holding it, the daemon reclaimed the slot
 * (the kernel marked the lock), and glibc gave a later thread of this
 * process the same pthread_t, which then passes pp_lease_check.  Such a
 * thread holds nothing, and the slot may be another worker's lease now.
 * A system call: only for a lease that is no longer ours. */
static bool owner_lock_held(struct pp_slot *s)
{
	uint32_t w = atomic_load_explicit(pp_slot_lock_word(s), memory_order_relaxed);
	return (pid_t)(w & FUTEX_TID_MASK) == pp_sys_gettid();
}

int pp_release(struct pp_lease *l)
{
	int c = pp_lease_check(l);
	if (c)
		return c;
	struct pp_att *p = l->att;
	struct pp_slot *s = pp_seg_slot(&p->seg, l->slot);
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
	bool mine = atomic_load_explicit(&s->token, memory_order_relaxed) == l->token &&
		    (st == PP_SLOT_LEASED || st == PP_SLOT_BUSY);
	l->token = 0;
	l->stage = PP_STAGE_IDLE;
	l->pend_len = 0;
	if (!mine && !owner_lock_held(s))
		return PP_ELOST; /* not ours to touch: the stamp and state are another's */
	atomic_store_explicit(&s->owner_pid, 0, memory_order_relaxed);
	atomic_store_explicit(&s->token, 0, memory_order_relaxed);
	/* An exchange left half done (BUSY) or a slot that is no longer ours
	 * goes to the daemon for a connection reset instead of back to FREE. */
	uint32_t next = (mine && st == PP_SLOT_LEASED) ? PP_SLOT_FREE : PP_SLOT_RECLAIM;
	/* Pairs with the acquire in claim_slot (via the mutex) and in readers:
	 * the stamp cleared above is visible before the slot shows FREE. */
	if (!pp_owner_lock_sane(&s->owner_lock, p->lock_kind)) {
		/* Scribbled on while we held it: glibc may abort on unlocking it.
		 * Leave it to the daemon, which re-initialises such locks. */
		atomic_store_explicit(&s->state, PP_SLOT_RECLAIM, memory_order_release);
		return PP_ELOST;
	}
	if (next == PP_SLOT_FREE) {
		/* To the oldest sleeper if it has waited long enough, else FREE (slot.h). */
		pp_slot_hand_over(&p->seg, l->slot, &s->owner_lock);
	} else {
		atomic_store_explicit(&s->state, next, memory_order_release);
		pthread_mutex_unlock(&s->owner_lock);
	}
	return mine ? 0 : PP_ELOST;
}

int pp_lease_slot(const struct pp_lease *l)
{
	return l ? (int)l->slot : -1;
}
