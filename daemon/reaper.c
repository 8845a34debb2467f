/* reaper.c - see reaper.h. */
#include "reaper.h"

#include "log.h"
#include "slot_worker.h"
#include "slot.h"

/* Hand a slot whose holder died (or gave it up mid-exchange) to its
 * thread for a reset: RESETTING stops any transfer in flight, and the
 * thread empties the rings, drops a half-used connection, and publishes
 * FREE.  `st` is the state the caller saw; losing the CAS means a worker
 * changed it meanwhile, and the next tick looks again. */
static bool slot_reclaim(struct pd_daemon *d, uint32_t i, uint32_t st, uint32_t lock_word)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	if (!atomic_compare_exchange_strong(&s->state, &st, PP_SLOT_RESETTING))
		return false;
	pd_debug("slot %u: holder pid %d gone (state %s); resetting", i,
		 (int)atomic_load_explicit(&s->owner_pid, memory_order_relaxed), pp_slot_state_name(st));
	pd_slot_request_reset(&d->workers[i], lock_word);
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
		pp_sem_post_wake(d->seg.hdr);
	}
}

/* Decide what one slot needs.  Every value read here is untrusted. */
static bool reaper_check_slot(struct pd_daemon *d, uint32_t i)
{
	struct pp_slot *s = pp_seg_slot(&d->seg, i);
	uint32_t w = atomic_load_explicit(pp_slot_lock_word(s), memory_order_acquire);
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
	switch (st) {
	case PP_SLOT_FREE:
		if (pp_lock_word_owner_died(w))
			slot_clear_dead_lock(d, i, w);
		return false;
	case PP_SLOT_LEASED:
	case PP_SLOT_BUSY:
		return pp_lock_word_owner_died(w) && slot_reclaim(d, i, st, w);
	case PP_SLOT_RECLAIM:
		/* Handed over by a releaser or claimer: wait until unlocked. */
		return (w & FUTEX_TID_MASK) == 0 && slot_reclaim(d, i, st, w);
	case PP_SLOT_RESETTING:
	case PP_SLOT_DISABLED:
		return false;
	default:
		pd_warn("slot %u: garbage state %u in the segment; resetting it", i, st);
		return (w & FUTEX_TID_MASK) == 0 && slot_reclaim(d, i, st, w);
	}
}

unsigned pd_reaper_scan(struct pd_daemon *d)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < d->seg.nslots; i++)
		n += reaper_check_slot(d, i);
	/* Backstop for a wakeup lost to a waiter killed right after it was
	 * woken: if slots are free while someone sleeps, wake one. */
	struct pp_shm_header *h = d->seg.hdr;
	if (atomic_load_explicit(&h->waiters, memory_order_relaxed) && pp_slots_free(&d->seg))
		pp_sem_post_wake(h);
	return n;
}
