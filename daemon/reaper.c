/* reaper.c - see reaper.h. */
#include "reaper.h"

#include <errno.h>
#include <signal.h>

#include "clock.h"
#include "log.h"
#include "seat.h"
#include "slot.h"

/* Hand a slot whose holder died (or gave it up mid-exchange) to its
 * serving loop for a reset: RESETTING stops the exchange in flight (its
 * connection is closed), and the loop empties the rings and publishes
 * FREE.  `st` is the state the caller saw; losing the CAS means a worker
 * changed it meanwhile, and the next tick looks again. */
static bool slot_reclaim(struct pd_daemon *d, uint32_t i, uint32_t st, uint32_t lock_word)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	if (!atomic_compare_exchange_strong(&s->state, &st, PP_SLOT_RESETTING))
		return false;
	pd_debug("slot %u: holder pid %d gone (state %s); resetting", i,
		 (int)atomic_load_explicit(&s->owner_pid, memory_order_relaxed), pp_slot_state_name(st));
	pd_seat_request_reset(&d->seats[i], lock_word);
	return true;
}

/* A FREE slot whose holder died between trylock and LEASED, or between
 * FREE and unlock: nothing to reset, just clear the dead lock word (unless
 * a claimer has taken the lock meanwhile: then the CAS fails, rightly). */
static void slot_clear_dead_lock(struct pd_daemon *d, uint32_t i, uint32_t w)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	if (atomic_compare_exchange_strong(pp_slot_lock_word(s), &w, 0)) {
		pd_debug("slot %u: cleared the lock of a holder that died while free", i);
		pp_sem_post_wake(&d->seg);
	}
}

/* A slot corrupted by a worker (garbage state, a scribbled mutex, a lock
 * word naming a thread that does not exist): quarantine it (RESETTING) and
 * have its loop re-initialise the owner lock and reset it.  Logged once
 * per episode. */
static bool slot_corrupt_reset(struct pd_daemon *d, uint32_t i, uint32_t st, const char *why)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	struct pd_seat *w = &d->seats[i];
	if (!w->anomaly_logged)
		pd_warn("slot %u: %s (state %u); quarantined for a reset", i, why, st);
	w->anomaly_logged = true;
	/* Set before the handover: the loop reads it once it sees RESETTING
	 * (the CAS orders this store before that). */
	atomic_store(&w->reinit_lock, true);
	if (!atomic_compare_exchange_strong(&s->state, &st, PP_SLOT_RESETTING)) {
		atomic_store(&w->reinit_lock, false);
		return false;
	}
	pd_seat_request_reset(w, 0);
	return true;
}

/* Does the lock word name a thread that no longer exists?  Only
 * corruption does that: the kernel marks a dying holder's word
 * FUTEX_OWNER_DIED.  A system call, so at most once a second per slot. */
static bool lock_owner_vanished(struct pd_seat *w, uint32_t word, uint64_t now)
{
	pid_t tid = (pid_t)(word & FUTEX_TID_MASK);
	if (!tid)
		return false;
	if (tid == w->gone_tid)
		return true; /* the verdict of the last check stands */
	if (now < w->next_tid_check_ns)
		return false;
	w->next_tid_check_ns = now + PP_NS_PER_S;
	bool gone = kill(tid, 0) < 0 && errno == ESRCH;
	w->gone_tid = gone ? tid : 0;
	return gone;
}

/* Something looks wrong with slot i: act only if exactly the same picture
 * (state, token, lock word) was seen on the previous tick too, so a lease
 * or release that raced with our reads is never mistaken for corruption. */
static bool anomaly_confirmed(struct pd_seat *w, uint32_t st, uint32_t word, uint64_t token)
{
	uint64_t key = ((uint64_t)st << 32 | word) ^ (token * 0x9e3779b97f4a7c15ull);
	bool same = w->suspect_key == key && w->suspect_seen;
	w->suspect_key = key;
	w->suspect_seen = true;
	return same;
}

/* A slot handed to a sleeper that is no longer there to take it (died,
 * left, or its record was reused). */
static bool handoff_orphaned(struct pd_daemon *d, uint32_t i)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	uint64_t e = atomic_load_explicit(&s->handoff, memory_order_relaxed);
	uint32_t rec = (uint32_t)(e & 0xffff) - 1;
	if (rec >= PP_MAX_WAITERS)
		return true;
	struct pp_waiter *w = &d->seg.waiters[rec];
	uint32_t lw = atomic_load_explicit((_Atomic uint32_t *)(void *)&w->lock, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&w->ticket, memory_order_relaxed);
	if ((lw & FUTEX_TID_MASK) == 0 || (lw & FUTEX_OWNER_DIED) ||
	    atomic_load_explicit(&w->assigned, memory_order_relaxed) != i + 1 ||
	    (t & ((1ull << 48) - 1)) != e >> 16)
		return true;
	/* A sleeper whose thread is gone but whose record the kernel did not
	 * mark (its robust list ran through a mutex someone overwrote): the
	 * slot would wait for it forever.  A system call, only for a slot
	 * that stays HANDOFF (the reset needs the same picture twice). */
	pid_t tid = (pid_t)(lw & FUTEX_TID_MASK);
	return kill(tid, 0) < 0 && errno == ESRCH;
}

/* A slot handed to a live sleeper that does not come for it: stopped
 * (SIGSTOP, a frozen cgroup) or not scheduled.  A woken sleeper claims
 * its slot at once; one that has not after PP_QUEUE_HOLE_MS loses it, as
 * a stalled sleeper loses its place in a hole (slot.h): the slot goes
 * FREE for whoever looks next, and the sleeper, once it runs, finds it
 * gone and joins the queue again (lease.c, take_assigned).  Without this
 * the slot stayed out of use for as long as the sleeper was stopped,
 * while live workers timed out.  The hand-over word is taken first, so
 * the sleeper can no longer claim the slot (it checks that word under
 * the owner lock); a sleeper that claimed it just before makes the state
 * CAS fail.  Returns true when it took the slot back. */
static bool handoff_unclaimed(struct pd_daemon *d, uint32_t i, uint64_t now)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	struct pd_seat *w = &d->seats[i];
	uint64_t e = atomic_load_explicit(&s->handoff, memory_order_relaxed);
	if (!pp_queue_watch_stuck(&w->handoff_watch, e, now))
		return false;
	uint32_t st = PP_SLOT_HANDOFF;
	if (!atomic_compare_exchange_strong(&s->handoff, &e, 0) ||
	    !atomic_compare_exchange_strong(&s->state, &st, PP_SLOT_FREE))
		return false;
	pd_info("slot %u: handed to a sleeper that did not take it within %u ms (stopped?); free again", i,
		PP_QUEUE_HOLE_MS);
	pp_sem_post_wake(&d->seg);
	return true;
}

/* What is wrong with a slot in state st whose lock word is w, or NULL. */
static const char *slot_anomaly(struct pd_daemon *d, uint32_t i, uint32_t st, uint32_t w, uint64_t now)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	struct pd_seat *wk = &d->seats[i];
	uint32_t tid = w & FUTEX_TID_MASK;
	if (!pp_owner_lock_sane(&s->owner_lock, d->lock_kind))
		return "owner lock overwritten";
	/* No holder ever writes such a state: reset whoever holds the lock. */
	if (st >= PP_SLOT_NSTATES || st == PP_SLOT_DISABLED) /* the daemon never sets DISABLED */
		return "garbage state";
	if ((st == PP_SLOT_LEASED || st == PP_SLOT_BUSY) && !tid && !pp_lock_word_owner_died(w))
		return "held but unlocked";
	/* Only once its releaser has unlocked it: a live thread holding the
	 * lock of a HANDOFF slot is a releaser between its HANDOFF store and
	 * its unlock (preempted, stopped), and the reset would re-initialise
	 * the mutex under it (its unlock then fails, the mutex left on its
	 * robust list).  handoff_unclaimed frees such a slot meanwhile. */
	if (st == PP_SLOT_HANDOFF && !tid && handoff_orphaned(d, i))
		return "handed to a sleeper that is gone";
	if (st != PP_SLOT_RESETTING && lock_owner_vanished(wk, w, now))
		return "lock held by a thread that does not exist";
	return NULL;
}

/* Decide what one slot needs.  Every value read here is untrusted; the
 * state is read before and after the lock word, so the word belongs to
 * the state (a lease stores its word before LEASED, a release FREE before
 * unlocking). */
static bool reaper_check_slot(struct pd_daemon *d, uint32_t i, uint64_t now)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
	uint32_t w = atomic_load_explicit(pp_slot_lock_word(s), memory_order_acquire);
	if (atomic_load_explicit(&s->state, memory_order_acquire) != st)
		return false; /* moving: look again next tick */
	if (pp_lock_word_owner_died(w)) {
		if (st == PP_SLOT_FREE) {
			slot_clear_dead_lock(d, i, w);
			return false;
		}
		if (st == PP_SLOT_LEASED || st == PP_SLOT_BUSY || st == PP_SLOT_RECLAIM)
			return slot_reclaim(d, i, st, w);
	}
	if (st == PP_SLOT_RECLAIM && (w & FUTEX_TID_MASK) == 0)
		return slot_reclaim(d, i, st, w); /* handed over by a releaser or claimer */
	const char *why = slot_anomaly(d, i, st, w, now);
	struct pd_seat *wk = &d->seats[i];
	if (!why) {
		wk->suspect_seen = false;
		if (st == PP_SLOT_FREE)
			wk->anomaly_logged = false;
		if (st != PP_SLOT_HANDOFF)
			wk->handoff_watch.since_ns = 0;
		else
			handoff_unclaimed(d, i, now);
		return false;
	}
	uint64_t token = atomic_load_explicit(&s->token, memory_order_relaxed);
	return anomaly_confirmed(wk, st, w, token) && slot_corrupt_reset(d, i, st, why);
}

/* A lock-word owner no thread can have (pid_max is at most 2^22): while
 * it is in the word, a worker's trylock sees the record busy. */
#define REAPER_HOLDS FUTEX_TID_MASK

/* Waiters killed in their sleep: take the record (CAS the dead word to
 * REAPER_HOLDS, so no new waiter can claim it meanwhile), clear its bit,
 * free it.  A waiter that claimed it first (EOWNERDEAD) makes the CAS
 * fail, and keeps its bit.  Then publish the count for display. */
static void reap_dead_waiters(struct pd_daemon *d)
{
	struct pp_shm_header *h = d->seg.hdr;
	for (uint32_t i = 0; i < PP_MAX_WAITERS; i++) {
		_Atomic uint32_t *word = (_Atomic uint32_t *)(void *)&d->seg.waiters[i].lock;
		uint32_t w = atomic_load_explicit(word, memory_order_acquire);
		if (!pp_lock_word_owner_died(w) || !atomic_compare_exchange_strong(word, &w, REAPER_HOLDS))
			continue;
		/* No releaser may hand a slot to it any more. */
		atomic_store_explicit(&d->seg.waiters[i].assigned, PP_WAITER_CLOSED, memory_order_seq_cst);
		atomic_fetch_and_explicit(&h->waiter_bits[i / 64], ~(1ull << (i % 64)), memory_order_seq_cst);
		atomic_store_explicit(word, 0, memory_order_release);
	}
	atomic_store_explicit(&h->waiters, pp_sem_waiting(h), memory_order_relaxed);
}

/* Leak detection (HikariCP's leakDetectionThreshold): a lease held longer
 * than leak_threshold is logged once with its owner and flagged in the
 * segment for shmdump; when that lease ends, that is logged too. */
static void leak_check_slot(struct pd_daemon *d, uint32_t i, uint64_t threshold_ns, uint64_t now)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	struct pd_seat *w = &d->seats[i];
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
	uint64_t token = atomic_load_explicit(&s->token, memory_order_relaxed);
	bool held = st == PP_SLOT_LEASED || st == PP_SLOT_BUSY;
	if (w->leak_token && (!held || token != w->leak_token)) {
		pd_warn("slot %u: leaked lease of pid %d returned after %.1f s", i, (int)w->leak_pid,
			(double)(now - w->leak_since_ns) / 1e9);
		w->leak_token = 0;
		atomic_store_explicit(&s->leak_flag, 0, memory_order_relaxed);
	}
	if (!held || !threshold_ns || w->leak_token)
		return;
	uint64_t since = atomic_load_explicit(&s->lease_start_ns, memory_order_relaxed);
	if (since >= now || now - since < threshold_ns)
		return;
	w->leak_token = token;
	w->leak_pid = atomic_load_explicit(&s->owner_pid, memory_order_relaxed);
	w->leak_since_ns = since;
	atomic_store_explicit(&s->leak_flag, 1, memory_order_relaxed);
	pd_warn("slot %u: lease held by pid %d for %.1f s (leak_threshold %.1f s): possible leak",
		i, (int)w->leak_pid, (double)(now - since) / 1e9, (double)threshold_ns / 1e9);
}

/* Slots are free while someone sleeps: wake the queue's head, which
 * takes one on its next poll.  A head that was already the head with
 * slots free at the last tick did not poll (stopped by SIGSTOP or a
 * frozen cgroup, or not scheduled): a slot released before it had waited
 * PP_HANDOFF_AFTER_MS went FREE for it alone, and the sleepers behind it
 * would sleep out their PP_WAIT_SLICE_MS (a shorter lease timed out with
 * the slot free).  Then wake every sleeper: each scans, and one takes it.
 * With no head at all the sleepers hold no place in the queue (it was
 * full, lease.c queue_ticket) and no release wakes them: every sleeper
 * at once.  Once per such episode (same head, slots free at each tick):
 * slots that stay free after that cannot be taken (a claimer stopped
 * holding the lock), and the sleepers scan every PP_WAIT_SLICE_MS
 * anyway. */
static void reaper_wake_for_free(struct pd_daemon *d)
{
	uint32_t rec;
	uint64_t t;
	bool queued = pp_queue_head(&d->seg, &rec, &t);
	uint64_t key = queued ? t + 1 : UINT64_MAX;
	if (key != d->idle_head) {
		d->idle_head = key;
		d->idle_woke_all = false;
		if (queued) {
			pp_sem_post_wake(&d->seg);
			return;
		}
	}
	if (!d->idle_woke_all) {
		d->idle_woke_all = true;
		pp_sem_wake_all(&d->seg);
		return;
	}
	pp_sem_post_wake(&d->seg);
}

unsigned pd_reaper_scan(struct pd_daemon *d)
{
	unsigned n = 0;
	uint64_t now = pp_now_coarse_ns();
	uint64_t leak_ns = (uint64_t)pd_live(d)->opt.leak_threshold_ms * PP_NS_PER_MS;
	for (uint32_t i = 0; i < d->seg.nslots; i++) {
		n += reaper_check_slot(d, i, now);
		if (d->seats)
			leak_check_slot(d, i, leak_ns, now);
	}
	reap_dead_waiters(d);
	if (pp_queue_skip_hole(&d->seg, &d->qwatch, pp_now_ns()))
		pd_warn("the queue of sleeping workers had a hole for %u ms (a sleeper killed as it joined): "
			"stepped over it", PP_QUEUE_HOLE_MS);
	/* Backstop for a wakeup lost to a waiter killed right after it was
	 * woken: if slots are free while someone sleeps, wake one. */
	struct pp_shm_header *h = d->seg.hdr;
	if (pp_sem_has_waiters(h) && pp_slots_free(&d->seg))
		reaper_wake_for_free(d);
	else
		d->idle_head = 0; /* the next episode starts afresh */
	return n;
}
