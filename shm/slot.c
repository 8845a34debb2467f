/* slot.c - see slot.h. */
#include "slot.h"

#include <limits.h>

#include "clock.h"

#include "futex.h"

int pp_owner_lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int r = pthread_mutexattr_init(&a);
	if (!r)
		r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	if (!r)
		r = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return r;
}

int pp_owner_lock_kind(void)
{
	static int kind = -1;
	if (kind == -1) {
		pthread_mutex_t m;
		pp_owner_lock_init(&m);
		kind = m.__data.__kind;
		pthread_mutex_destroy(&m);
	}
	return kind;
}

bool pp_sem_has_waiters(const struct pp_shm_header *h)
{
	for (unsigned i = 0; i < PP_WAITER_WORDS; i++)
		if (atomic_load_explicit(&((struct pp_shm_header *)h)->waiter_bits[i], memory_order_relaxed))
			return true;
	return false;
}

uint32_t pp_sem_waiting(const struct pp_shm_header *h)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < PP_WAITER_WORDS; i++)
		n += (uint32_t)__builtin_popcountll(
			atomic_load_explicit(&((struct pp_shm_header *)h)->waiter_bits[i], memory_order_relaxed));
	return n;
}

#define TICKET_MASK ((1ull << 48) - 1)

/* Wake the sleeper of waiter record rec. */
static void wake_record(struct pp_seg *seg, uint32_t rec)
{
	struct pp_waiter *w = &seg->waiters[rec];
	atomic_fetch_add_explicit(&w->futex, 1, memory_order_release);
	pp_futex_wake(&w->futex, 1);
}

/* The record of the queue entry at q_head, if that entry is written. */
static bool queue_peek(struct pp_seg *seg, uint32_t *rec)
{
	struct pp_shm_header *h = seg->hdr;
	uint64_t hd = atomic_load_explicit(&h->q_head, memory_order_acquire);
	if (hd >= atomic_load_explicit(&h->q_tail, memory_order_acquire))
		return false;
	uint64_t e = atomic_load_explicit(&h->queue[hd % PP_MAX_WAITERS], memory_order_acquire);
	*rec = (uint32_t)(e & 0xffff) - 1;
	return (e >> 16) == (hd & TICKET_MASK) && *rec < PP_MAX_WAITERS;
}

/* Is the sleeper of record r, queued with ticket hd, still waiting for a
 * slot (not left, not dead, not handed one)? */
static bool sleeper_waiting(struct pp_seg *seg, uint32_t r, uint64_t hd)
{
	struct pp_waiter *w = &seg->waiters[r];
	uint32_t lw = atomic_load_explicit((_Atomic uint32_t *)(void *)&w->lock, memory_order_acquire);
	return (lw & FUTEX_TID_MASK) != 0 && !(lw & FUTEX_OWNER_DIED) &&
	       atomic_load_explicit(&w->ticket, memory_order_acquire) == hd &&
	       atomic_load_explicit(&w->assigned, memory_order_acquire) == 0;
}

bool pp_queue_head(struct pp_seg *seg, uint32_t *rec, uint64_t *ticket)
{
	struct pp_shm_header *h = seg->hdr;
	for (unsigned guard = 0; guard < 4 * PP_MAX_WAITERS; guard++) {
		uint64_t hd = atomic_load_explicit(&h->q_head, memory_order_acquire);
		if (hd >= atomic_load_explicit(&h->q_tail, memory_order_acquire))
			return false;
		uint64_t e = atomic_load_explicit(&h->queue[hd % PP_MAX_WAITERS], memory_order_acquire);
		uint64_t tk = e >> 16;
		uint32_t r = (uint32_t)(e & 0xffff) - 1;
		if (tk < (hd & TICKET_MASK))
			return false; /* not written yet */
		if (tk == (hd & TICKET_MASK) && r < PP_MAX_WAITERS && sleeper_waiting(seg, r, hd)) {
			*rec = r;
			*ticket = hd;
			return true;
		}
		/* Left, died, handed a slot, or overwritten: skip it (as queue_take does). */
		atomic_compare_exchange_weak(&h->q_head, &hd, hd + 1);
	}
	return false;
}

bool pp_queue_watch_stuck(struct pp_queue_watch *w, uint64_t value, uint64_t now_ns)
{
	if (!w->since_ns || w->value != value) {
		w->value = value;
		w->since_ns = now_ns;
		return false;
	}
	if (now_ns - w->since_ns < (uint64_t)PP_QUEUE_HOLE_MS * PP_NS_PER_MS)
		return false;
	w->since_ns = 0;
	return true;
}

bool pp_queue_skip_hole(struct pp_seg *seg, struct pp_queue_watch *w, uint64_t now_ns)
{
	struct pp_shm_header *h = seg->hdr;
	uint64_t hd = atomic_load_explicit(&h->q_head, memory_order_acquire);
	uint64_t e = atomic_load_explicit(&h->queue[hd % PP_MAX_WAITERS], memory_order_acquire);
	if (hd >= atomic_load_explicit(&h->q_tail, memory_order_acquire) || (e >> 16) >= (hd & TICKET_MASK)) {
		w->since_ns = 0; /* empty, or its entry is written */
		return false;
	}
	if (!pp_queue_watch_stuck(w, hd, now_ns))
		return false;
	if (!atomic_compare_exchange_strong(&h->q_head, &hd, hd + 1))
		return false; /* moved meanwhile: not a hole any more */
	pp_sem_post_wake(seg); /* the next head starts polling */
	return true;
}

void pp_queue_left(struct pp_seg *seg, uint64_t ticket)
{
	uint32_t rec;
	uint64_t t;
	if (ticket <= atomic_load_explicit(&seg->hdr->q_head, memory_order_acquire) && pp_queue_head(seg, &rec, &t))
		wake_record(seg, rec);
}

/* Has the oldest sleeper waited PP_HANDOFF_AFTER_MS?  A head whose entry
 * is not written yet has not: it scans for a FREE slot after writing it. */
static bool head_starving(struct pp_seg *seg)
{
	uint32_t rec;
	uint64_t t;
	if (!pp_queue_head(seg, &rec, &t))
		return false;
	uint64_t since = atomic_load_explicit(&seg->waiters[rec].since_ns, memory_order_relaxed);
	return pp_now_ns() - since >= (uint64_t)PP_HANDOFF_AFTER_MS * PP_NS_PER_MS;
}

/* Take the oldest sleeper off the queue and assign it slot i.  Entries of
 * sleepers that left (record ticket changed, or `assigned` not 0) are
 * dropped.  Returns true with its entry and record; false when the queue
 * is empty or its head entry is not written yet (that sleeper will see
 * the slot FREE: it scans after writing its entry). */
static bool queue_take(struct pp_seg *seg, uint32_t i, uint64_t *entry, uint32_t *rec)
{
	struct pp_shm_header *h = seg->hdr;
	for (unsigned guard = 0; guard < 4 * PP_MAX_WAITERS; guard++) {
		uint64_t hd = atomic_load_explicit(&h->q_head, memory_order_acquire);
		if (hd >= atomic_load_explicit(&h->q_tail, memory_order_acquire))
			return false;
		uint64_t e = atomic_load_explicit(&h->queue[hd % PP_MAX_WAITERS], memory_order_acquire);
		uint64_t tk = e >> 16;
		if (tk < (hd & TICKET_MASK))
			return false; /* not written yet */
		if (!atomic_compare_exchange_weak(&h->q_head, &hd, hd + 1))
			continue;
		uint32_t r = (uint32_t)(e & 0xffff) - 1;
		if (tk != (hd & TICKET_MASK) || r >= PP_MAX_WAITERS)
			continue; /* overwritten, or garbage */
		struct pp_waiter *w = &seg->waiters[r];
		uint32_t lw = atomic_load_explicit((_Atomic uint32_t *)(void *)&w->lock, memory_order_acquire);
		uint32_t zero = 0;
		if ((lw & FUTEX_TID_MASK) == 0 || (lw & FUTEX_OWNER_DIED) || /* left, or died */
		    atomic_load_explicit(&w->ticket, memory_order_acquire) != hd ||
		    !atomic_compare_exchange_strong(&w->assigned, &zero, i + 1))
			continue; /* that sleeper left */
		*entry = e;
		*rec = r;
		return true;
	}
	return false;
}

bool pp_slot_hand_over(struct pp_seg *seg, uint32_t i, pthread_mutex_t *unlock)
{
	struct pp_shm_header *h = seg->hdr;
	struct pp_slot *s = &seg->slots[i];
	uint64_t e;
	uint32_t rec;
	/* Pairs with the seq_cst ticket and entry stores of a joining sleeper:
	 * either we see its ticket, or its scan sees the slot FREE. */
	atomic_thread_fence(memory_order_seq_cst);
	bool queued = atomic_load_explicit(&h->q_head, memory_order_relaxed) <
		      atomic_load_explicit(&h->q_tail, memory_order_relaxed);
	bool starving = queued && head_starving(seg);
	if (starving && queue_take(seg, i, &e, &rec)) {
		atomic_store_explicit(&s->handoff, e, memory_order_relaxed);
		/* Pairs with the acquire re-check in the sleeper's claim. */
		atomic_store_explicit(&s->state, PP_SLOT_HANDOFF, memory_order_release);
		if (unlock)
			pthread_mutex_unlock(unlock);
		wake_record(seg, rec);
		return true;
	}
	atomic_store_explicit(&s->state, PP_SLOT_FREE, memory_order_release);
	if (unlock)
		pthread_mutex_unlock(unlock);
	/* Nobody queued, or the head has not waited long (slot.h): no system
	 * call.  The head polls for FREE slots every PP_HEAD_POLL_MS; sleepers
	 * without a record (more than PP_MAX_WAITERS) are woken by the
	 * daemon's tick. */
	if (starving)
		pp_sem_post_wake(seg); /* its entry was not written yet: it scans after */
	return false;
}

void pp_sem_post_wake(struct pp_seg *seg)
{
	struct pp_shm_header *h = seg->hdr;
	/* Pairs with the fence after a sleeper sets its bit and writes its
	 * queue entry (libclient lease_sleep). */
	atomic_thread_fence(memory_order_seq_cst);
	if (!pp_sem_has_waiters(h))
		return;
	uint32_t rec;
	if (queue_peek(seg, &rec))
		wake_record(seg, rec); /* the oldest sleeper looks at the free slot */
	atomic_fetch_add_explicit(&h->wake_seq, 1, memory_order_release);
	pp_futex_wake(&h->wake_seq, 1); /* a sleeper without a record, if any */
}

void pp_sem_wake_all(struct pp_seg *seg)
{
	struct pp_shm_header *h = seg->hdr;
	for (uint32_t i = 0; i < PP_MAX_WAITERS; i++)
		if (atomic_load_explicit(&h->waiter_bits[i / 64], memory_order_relaxed) & (1ull << (i % 64)))
			wake_record(seg, i);
	atomic_fetch_add_explicit(&h->wake_seq, 1, memory_order_seq_cst);
	pp_futex_wake(&h->wake_seq, INT_MAX);
}

uint32_t pp_slots_free(const struct pp_seg *seg)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < seg->nslots; i++)
		n += atomic_load_explicit(&seg->slots[i].state, memory_order_relaxed) == PP_SLOT_FREE;
	return n;
}

static const char *const slot_state_names[PP_SLOT_NSTATES] = {
	[PP_SLOT_FREE] = "free",       [PP_SLOT_LEASED] = "leased",
	[PP_SLOT_BUSY] = "busy",       [PP_SLOT_RECLAIM] = "reclaim",
	[PP_SLOT_RESETTING] = "resetting", [PP_SLOT_DISABLED] = "disabled",
	[PP_SLOT_HANDOFF] = "handoff",
};

static const char *const conn_state_names[PP_CONN_NSTATES] = {
	[PP_CONN_NONE] = "none", [PP_CONN_CONNECTING] = "connecting",
	[PP_CONN_UP] = "up",     [PP_CONN_DOWN] = "down",
};

const char *pp_slot_state_name(uint32_t state)
{
	return state < PP_SLOT_NSTATES ? slot_state_names[state] : "?";
}

const char *pp_conn_state_name(uint32_t state)
{
	return state < PP_CONN_NSTATES ? conn_state_names[state] : "?";
}
