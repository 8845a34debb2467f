/* seat.c - see seat.h. */
#include "seat.h"

#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "phantompool.h"
#include "slot.h"

struct pp_slot *pd_seat_slot(const struct pd_seat *s)
{
	return pp_seg_slot(&s->d->seg, s->idx);
}

void pd_seat_init_views(struct pd_seat *s)
{
	struct pp_seg *seg = &s->d->seg;
	struct pp_slot *sl = pd_seat_slot(s);
	pp_ring_init_view(&s->req, &sl->req, pp_seg_req_data(seg, s->idx), seg->ring_size);
	pp_ring_init_view(&s->resp, &sl->resp, pp_seg_resp_data(seg, s->idx), seg->ring_size);
}

bool pd_seat_request_waiting(struct pd_seat *s)
{
	return pp_frame_ready(&s->req);
}

bool pd_seat_request_bytes(const struct pd_seat *s)
{
	return s->req.cached_head != s->req.cached_tail;
}

int pd_seat_take(struct pd_seat *s, uint8_t *scratch, struct pp_frame *f)
{
	int r = pp_frame_take(&s->req, scratch, pp_frame_max(s->d->seg.ring_size), f);
	if (r == 1)
		return 1;
	return r == 0 ? 0 : PP_EPROTO; /* -EBADMSG (unknown type) too: no worker sends one */
}

ssize_t pd_seat_room(struct pd_seat *s)
{
	ssize_t n = pp_ring_writable(&s->resp);
	return n < 0 ? PP_EPROTO : n;
}

int pd_seat_publish(struct pd_seat *s, const uint8_t *buf, uint32_t len)
{
	return pp_ring_write(&s->resp, buf, len) == (ssize_t)len ? 0 : PP_EPROTO;
}

void pd_seat_want_bell(struct pd_seat *s, bool resp, bool on, uint32_t mine)
{
	/* The segment's words, written whatever the worker does with them: a
	 * wrong value costs a lost or spurious wakeup, never data (bell.h). */
	struct pp_slot *sl = pd_seat_slot(s);
	_Atomic uint32_t *w = resp ? &sl->resp.tail_waiter : &sl->req.head_waiter;
	if (on) {
		atomic_store_explicit(w, mine, memory_order_relaxed);
	} else {
		uint32_t v = mine;
		atomic_compare_exchange_strong_explicit(w, &v, 0, memory_order_relaxed, memory_order_relaxed);
	}
}

/* ThreadSanitizer's dynamic annotations (its runtime defines them); no-ops
 * in every other build. */
#ifdef __SANITIZE_THREAD__
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);
#define tsan_ignore_writes_begin() AnnotateIgnoreWritesBegin(__FILE__, __LINE__)
#define tsan_ignore_writes_end() AnnotateIgnoreWritesEnd(__FILE__, __LINE__)
#else
#define tsan_ignore_writes_begin() ((void)0)
#define tsan_ignore_writes_end() ((void)0)
#endif

void pd_seat_reset(struct pd_seat *s)
{
	struct pp_slot *sl = pd_seat_slot(s);
	int32_t pid = atomic_load_explicit(&sl->owner_pid, memory_order_relaxed);
	pp_ring_reset(&sl->req);
	pp_ring_reset(&sl->resp);
	pd_seat_init_views(s);
	s->broken = false;
	if (atomic_exchange(&s->reinit_lock, false)) {
		/* The lock was scribbled on; no live thread holds it (checked by
		 * the reaper).  Make it a fresh robust mutex.  pthread_mutex_init
		 * writes the lock word with plain stores while the reaper thread
		 * may load it (atomically) for its scan: the same word other
		 * processes write all the time, which is why the reaper reads
		 * state, word, state and acts on nothing while the state is
		 * RESETTING (it is, here).  ThreadSanitizer sees only this
		 * process's half of that and is told to ignore these writes. */
		tsan_ignore_writes_begin();
		pp_owner_lock_init(&sl->owner_lock);
		tsan_ignore_writes_end();
	}
	atomic_store_explicit(&sl->owner_pid, 0, memory_order_relaxed);
	atomic_store_explicit(&sl->token, 0, memory_order_relaxed);
	uint32_t lw = atomic_exchange(&s->reset_lock_word, 0);
	if (pp_lock_word_owner_died(lw))
		atomic_compare_exchange_strong(pp_slot_lock_word(sl), &lw, 0);
	/* Back to the pool: to the oldest sleeper, or FREE.  Empty rings and a
	 * cleared stamp are published before (release store inside). */
	pp_slot_hand_over(&s->d->seg, s->idx, NULL);
	atomic_fetch_add_explicit(&sl->reclaims, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->d->seg.hdr->reclaims, 1, memory_order_relaxed);
	pd_info("slot %u reclaimed (holder pid %d)", s->idx, (int)pid);
}

void pd_seat_request_reset(struct pd_seat *s, uint32_t lock_word)
{
	atomic_store(&s->reset_lock_word, lock_word);
	struct pp_slot *sl = pd_seat_slot(s);
	/* A worker may sleep on either ring meanwhile: let it look again. */
	pp_ring_wake_all(&sl->req);
	pp_ring_wake_all(&sl->resp);
	pd_loop_wake(s->d, s->loop);
}
