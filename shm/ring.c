/* ring.c - see ring.h.
 *
 * Barrier pairs (P = producer, C = consumer; "->" = program order):
 *
 *   P: copy bytes into data -> [A] store-release head
 *   C: [A'] load-acquire head -> copy bytes out of data
 *      A/A': the consumer sees the bytes the head it loaded covers.
 *
 *   C: copy bytes out of data -> [B] store-release tail
 *   P: [B'] load-acquire tail -> copy bytes into data
 *      B/B': the producer never overwrites bytes the consumer is still
 *      copying out.
 *
 *   Sleeping on head (the consumer waits for bytes):
 *   C: head_waiter = 1 -> [S] fence seq_cst -> reload head -> futex_wait(head)
 *   P: store head      -> [S'] fence seq_cst -> load head_waiter -> wake(head)
 *      S/S' (Dekker): at least one side sees the other's store, so either
 *      C's reload sees the new head and does not sleep, or P sees the flag
 *      and wakes C.  futex_wait compares head under the futex bucket lock,
 *      so a wake that lands before C is queued makes the wait return
 *      -EAGAIN instead of sleeping.
 *
 *   Sleeping on tail (the producer waits for space) is the mirror image:
 *   P: tail_waiter = 1 -> [T] fence seq_cst -> reload tail -> futex_wait(tail)
 *   C: store tail      -> [T'] fence seq_cst -> load tail_waiter -> wake(tail)
 *
 * Every barrier is one of the helpers just below; each names its pair.
 */
#include "ring.h"

#include <errno.h>
#include <string.h>

#include "bell.h"
#include "clock.h"
#include "cpu.h"
#include "futex.h"

/* ---- barrier helpers -------------------------------------------------- */

/* [A] Producer publishes head; pairs with [A'] cons_load_head(). */
static inline void prod_store_head(struct pp_ring_ctl *c, uint32_t v)
{
	atomic_store_explicit(&c->head, v, memory_order_release);
}

/* [A'] Consumer reads head; pairs with [A] prod_store_head(). */
static inline uint32_t cons_load_head(struct pp_ring_ctl *c)
{
	return atomic_load_explicit(&c->head, memory_order_acquire);
}

/* [B] Consumer publishes tail; pairs with [B'] prod_load_tail(). */
static inline void cons_store_tail(struct pp_ring_ctl *c, uint32_t v)
{
	atomic_store_explicit(&c->tail, v, memory_order_release);
}

/* [B'] Producer reads tail; pairs with [B] cons_store_tail(). */
static inline uint32_t prod_load_tail(struct pp_ring_ctl *c)
{
	return atomic_load_explicit(&c->tail, memory_order_acquire);
}

/* [S'] / [T'] After publishing an index, before reading the peer's waiter
 * flag: orders the index store before the flag load (store->load needs a
 * full fence).  Pairs with waiter_fence_before_recheck() in the sleeper. */
static inline void publish_fence_before_waiter_check(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

/* [S] / [T] After raising our waiter flag, before re-reading the peer's
 * index: orders the flag store before the index load.  Pairs with
 * publish_fence_before_waiter_check() in the peer. */
static inline void waiter_fence_before_recheck(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

/* ---- copies (bounded by cap whatever the indices say) ----------------- */

/* Copy n (<= cap) bytes into the ring at free-running position pos. */
static void copy_in(const struct pp_ring *r, uint32_t pos, const uint8_t *src, uint32_t n)
{
	uint32_t off = pos & r->mask;
	uint32_t first = r->cap - off;
	if (first > n)
		first = n;
	memcpy(r->data + off, src, first);
	if (n > first)
		memcpy(r->data, src + first, n - first);
}

/* Copy n (<= cap) bytes out of the ring from free-running position pos. */
static void copy_out(const struct pp_ring *r, uint32_t pos, uint8_t *dst, uint32_t n)
{
	uint32_t off = pos & r->mask;
	uint32_t first = r->cap - off;
	if (first > n)
		first = n;
	memcpy(dst, r->data + off, first);
	if (n > first)
		memcpy(dst + first, r->data, n - first);
}

/* ---- index refresh ---------------------------------------------------- */

/* Consumer: readable bytes according to the cached head; -EPROTO if the
 * producer's head is more than cap ahead of our tail (or behind it). */
static inline int64_t cons_cached_avail(const struct pp_ring *r)
{
	uint32_t used = r->cached_head - r->cached_tail;
	return used > r->cap ? -EPROTO : (int64_t)used;
}

/* Consumer: reread head from the segment, validate, cache. */
static int64_t cons_refresh(struct pp_ring *r)
{
	uint32_t h = cons_load_head(r->ctl);
	if ((uint32_t)(h - r->cached_tail) > r->cap)
		return -EPROTO; /* keep the old cached_head: it was valid */
	r->cached_head = h;
	return (int64_t)(h - r->cached_tail);
}

/* Producer: free bytes according to the cached tail. */
static inline int64_t prod_cached_free(const struct pp_ring *r)
{
	uint32_t used = r->cached_head - r->cached_tail;
	return used > r->cap ? -EPROTO : (int64_t)(r->cap - used);
}

/* Producer: reread tail from the segment, validate, cache. */
static int64_t prod_refresh(struct pp_ring *r)
{
	uint32_t t = prod_load_tail(r->ctl);
	uint32_t used = r->cached_head - t;
	if (used > r->cap)
		return -EPROTO;
	r->cached_tail = t;
	return (int64_t)(r->cap - used);
}

/* ---- setup ------------------------------------------------------------ */

int pp_ring_init_view(struct pp_ring *r, struct pp_ring_ctl *ctl, void *data, uint32_t cap)
{
	if (!r || !ctl || !data || cap < PP_RING_CAP_MIN || cap > PP_RING_CAP_MAX ||
	    (cap & (cap - 1)) != 0)
		return -EINVAL;
	r->ctl = ctl;
	r->data = data;
	r->cap = cap;
	r->mask = cap - 1;
	r->bell = NULL;
	uint32_t t = atomic_load_explicit(&ctl->tail, memory_order_acquire);
	uint32_t h = atomic_load_explicit(&ctl->head, memory_order_acquire);
	r->cached_tail = t;
	if ((uint32_t)(h - t) > cap) {
		r->cached_head = t;
		return -EPROTO;
	}
	r->cached_head = h;
	return 0;
}

void pp_ring_reset(struct pp_ring_ctl *ctl)
{
	atomic_store_explicit(&ctl->head, 0, memory_order_relaxed);
	atomic_store_explicit(&ctl->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&ctl->head_waiter, 0, memory_order_relaxed);
	atomic_store_explicit(&ctl->tail_waiter, 0, memory_order_relaxed);
	/* The futex syscalls below are full barriers: the stores are visible
	 * before any sleeper runs again. */
	pp_ring_wake_all(ctl);
}

void pp_ring_wake_all(struct pp_ring_ctl *ctl)
{
	pp_futex_wake(&ctl->head, INT32_MAX);
	pp_futex_wake(&ctl->tail, INT32_MAX);
}

/* ---- producer --------------------------------------------------------- */

ssize_t pp_ring_writable(struct pp_ring *r)
{
	return (ssize_t)prod_refresh(r);
}

int pp_ring_stage(struct pp_ring *r, uint32_t off, const void *buf, size_t n)
{
	int64_t room = prod_cached_free(r);
	if (room < 0 || off > (uint64_t)room || n > (uint64_t)room - off)
		return -EINVAL;
	if (n)
		copy_in(r, r->cached_head + off, buf, (uint32_t)n);
	return 0;
}

int pp_ring_publish(struct pp_ring *r, uint32_t n)
{
	int64_t room = prod_cached_free(r);
	if (room < 0 || n > (uint64_t)room)
		return -EINVAL;
	if (n == 0)
		return 0;
	r->cached_head += n;
	prod_store_head(r->ctl, r->cached_head);
	publish_fence_before_waiter_check();
	uint32_t hw = atomic_load_explicit(&r->ctl->head_waiter, memory_order_relaxed);
	if (hw >= PP_BELL_WAITER && r->bell) {
		/* A serving loop sleeps in poll (bell.h): ring it once, however
		 * many frames follow before it wakes. */
		hw = atomic_exchange_explicit(&r->ctl->head_waiter, 0, memory_order_relaxed);
		pp_bell_answer(r->bell, hw);
	} else if (hw) {
		pp_futex_wake(&r->ctl->head, INT32_MAX);
	}
	return 0;
}

ssize_t pp_ring_write(struct pp_ring *r, const void *buf, size_t n)
{
	int64_t room = prod_cached_free(r);
	if (room < 0 || (uint64_t)room < n) {
		room = prod_refresh(r);
		if (room < 0)
			return (ssize_t)room;
	}
	uint32_t k = n < (uint64_t)room ? (uint32_t)n : (uint32_t)room;
	if (k == 0)
		return 0;
	pp_ring_stage(r, 0, buf, k);   /* cannot fail: k <= room */
	pp_ring_publish(r, k);
	return k;
}

/* ---- consumer --------------------------------------------------------- */

ssize_t pp_ring_readable(struct pp_ring *r)
{
	return (ssize_t)cons_refresh(r);
}

ssize_t pp_ring_peek(struct pp_ring *r, void *buf, size_t n)
{
	int64_t avail = cons_cached_avail(r);
	if (avail < 0 || (uint64_t)avail < n) {
		avail = cons_refresh(r);
		if (avail < 0)
			return (ssize_t)avail;
	}
	uint32_t k = n < (uint64_t)avail ? (uint32_t)n : (uint32_t)avail;
	if (k)
		copy_out(r, r->cached_tail, buf, k);
	return k;
}

int pp_ring_consume(struct pp_ring *r, uint32_t n)
{
	int64_t avail = cons_cached_avail(r);
	if (avail < 0)
		return -EPROTO;
	if (n > (uint64_t)avail)
		return -EINVAL;
	if (n == 0)
		return 0;
	r->cached_tail += n;
	cons_store_tail(r->ctl, r->cached_tail);
	publish_fence_before_waiter_check();
	uint32_t tw = atomic_load_explicit(&r->ctl->tail_waiter, memory_order_relaxed);
	if (tw >= PP_BELL_WAITER && r->bell) {
		/* A serving loop waits for room to go on with a response
		 * (bell.h): ring it once, however much more we read. */
		tw = atomic_exchange_explicit(&r->ctl->tail_waiter, 0, memory_order_relaxed);
		pp_bell_answer(r->bell, tw);
	} else if (tw) {
		pp_futex_wake(&r->ctl->tail, INT32_MAX);
	}
	return 0;
}

ssize_t pp_ring_read(struct pp_ring *r, void *buf, size_t n)
{
	ssize_t k = pp_ring_peek(r, buf, n);
	if (k > 0)
		pp_ring_consume(r, (uint32_t)k); /* cannot fail: k <= avail */
	return k;
}

/* ---- waiting ---------------------------------------------------------- */

/* What one side of a wait needs: the word it sleeps on, its flag, and how
 * to reread the amount it waits for. */
struct wait_side {
	_Atomic uint32_t *word;
	_Atomic uint32_t *flag;
	int64_t (*refresh)(struct pp_ring *r);
};

/* Shared body of both waits: see the contract in ring.h and [S]/[T] above. */
static int ring_wait(struct pp_ring *r, const struct wait_side *w, uint32_t min_bytes,
		     uint64_t deadline_ns, unsigned spin)
{
	if (min_bytes > r->cap)
		return -EINVAL;
	int64_t have = w->refresh(r);
	for (unsigned i = 0; have >= 0 && have < min_bytes && i < spin; i++) {
		pp_cpu_relax();
		have = w->refresh(r);
	}
	if (have < 0)
		return -EPROTO;
	if (have >= min_bytes)
		return 0;
	if (deadline_ns != UINT64_MAX && pp_now_ns() >= deadline_ns)
		return -ETIMEDOUT;

	atomic_store_explicit(w->flag, 1, memory_order_relaxed);
	waiter_fence_before_recheck();
	/* The value we sleep on is read once, here; refresh() rereads it,
	 * and if it moved between the two reads the futex returns -EAGAIN. */
	uint32_t seen = atomic_load_explicit(w->word, memory_order_relaxed);
	have = w->refresh(r);
	int rc = 0;
	if (have >= 0 && have < min_bytes)
		rc = pp_futex_wait(w->word, seen, deadline_ns);
	atomic_store_explicit(w->flag, 0, memory_order_relaxed);

	if (rc == -ETIMEDOUT || have >= 0) {
		have = w->refresh(r);
		if (have < 0)
			return -EPROTO;
		if (rc == -ETIMEDOUT && have < min_bytes)
			return -ETIMEDOUT;
		return 0;
	}
	return -EPROTO;
}

static int64_t wait_refresh_cons(struct pp_ring *r)
{
	return cons_refresh(r);
}

static int64_t wait_refresh_prod(struct pp_ring *r)
{
	return prod_refresh(r);
}

int pp_ring_wait_readable(struct pp_ring *r, uint32_t min_bytes, uint64_t deadline_ns,
			  unsigned spin)
{
	const struct wait_side w = { &r->ctl->head, &r->ctl->head_waiter, wait_refresh_cons };
	return ring_wait(r, &w, min_bytes, deadline_ns, spin);
}

int pp_ring_wait_writable(struct pp_ring *r, uint32_t min_bytes, uint64_t deadline_ns,
			  unsigned spin)
{
	const struct wait_side w = { &r->ctl->tail, &r->ctl->tail_waiter, wait_refresh_prod };
	return ring_wait(r, &w, min_bytes, deadline_ns, spin);
}

void pp_ring_prefault_read(const struct pp_ring *r)
{
	/* Relaxed: the byte may be the producer's next write; only the
	 * mapping matters. */
	(void)atomic_load_explicit((const _Atomic uint8_t *)(const void *)(r->data + (r->cached_tail & r->mask)),
				   memory_order_relaxed);
}
