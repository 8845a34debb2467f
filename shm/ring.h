/* ring.h - single-producer single-consumer byte ring in shared memory.
 *
 * A ring is two parts that live in the segment:
 *
 *   struct pp_ring_ctl   the indices: head (bytes ever produced, written only
 *                        by the producer) and tail (bytes ever consumed,
 *                        written only by the consumer), free-running uint32_t,
 *                        each on its own 64-byte cache line next to a
 *                        "waiter" flag word;
 *   data[cap]            the bytes, at an offset the segment layout chooses.
 *
 * and one part that is private to each process:
 *
 *   struct pp_ring       a local view: pointers to ctl and data, the capacity
 *                        (a power of two from the process's own config, never
 *                        read from the segment), and a cached copy of each
 *                        index.
 *
 * Trust: the peer (or any process that can map the segment) may write
 * anything into ctl at any time.  A view therefore keeps its OWN index
 * privately (the producer's head in cached_head, the consumer's tail in
 * cached_tail) and only ever stores it to the segment; the peer's index is
 * re-read and checked: head - tail > cap is reported as -EPROTO, and no copy
 * ever touches bytes outside data[0, cap).  A hostile peer can only make its
 * own ring unusable (or make us wait until our deadline).
 *
 * Byte positions are free-running: position p lives at data[p & mask], and
 * head - tail (mod 2^32) is the number of readable bytes.
 *
 * Threads: one producer and one consumer per ring, each using its own view.
 * A single view may be used for both roles by one thread (tests do).
 *
 * Barriers: see the diagram at the top of ring.c and docs/rings-and-frames.md.
 */
#ifndef PP_RING_H
#define PP_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PP_CACHELINE 64u

/* Capacity limits (bytes, powers of two). */
#define PP_RING_CAP_MIN 64u
#define PP_RING_CAP_MAX (1u << 30)

/* The shared index block.  Lives in the segment; 128 bytes, 64-aligned.
 * The sleeping flag next to each index says "someone sleeps on this word":
 * it sits on the line of the side that has to READ it after every publish
 * (the producer checks head_waiter right after storing head), so the common
 * case - nobody sleeps - touches no line of the other side. */
struct pp_ring_ctl {
	/* --- line 0: written by the producer --- */
	/* Bytes ever produced (free-running).  Writer: producer.  Reader:
	 * consumer (load-acquire; untrusted).  The consumer futex-waits on it. */
	alignas(PP_CACHELINE) _Atomic uint32_t head;
	/* 1 while the consumer sleeps (or is about to) on head; >=
	 * PP_BELL_WAITER while a daemon serving loop sleeps and wants to be
	 * rung instead (bell.h).  Writer: consumer (the producer clears a
	 * bell value when it rings).  Reader: producer, after publishing head. */
	_Atomic uint32_t head_waiter;
	uint8_t pad_head[PP_CACHELINE - 2 * sizeof(uint32_t)];

	/* --- line 1: written by the consumer --- */
	/* Bytes ever consumed (free-running).  Writer: consumer.  Reader:
	 * producer (load-acquire; untrusted).  The producer futex-waits on it. */
	alignas(PP_CACHELINE) _Atomic uint32_t tail;
	/* 1 while the producer sleeps (or is about to) on tail; >=
	 * PP_BELL_WAITER while a daemon serving loop waits for room and wants
	 * to be rung instead (bell.h).  Writer: producer (the consumer clears
	 * a bell value when it rings).  Reader: consumer, after publishing
	 * tail. */
	_Atomic uint32_t tail_waiter;
	uint8_t pad_tail[PP_CACHELINE - 2 * sizeof(uint32_t)];
};

_Static_assert(offsetof(struct pp_ring_ctl, head) == 0, "head on line 0");
_Static_assert(offsetof(struct pp_ring_ctl, head_waiter) == 4, "head_waiter next to head");
_Static_assert(offsetof(struct pp_ring_ctl, tail) == PP_CACHELINE, "tail on line 1");
_Static_assert(offsetof(struct pp_ring_ctl, tail_waiter) == PP_CACHELINE + 4,
	       "tail_waiter next to tail");
_Static_assert(sizeof(struct pp_ring_ctl) == 2 * PP_CACHELINE, "two cache lines");
_Static_assert(alignof(struct pp_ring_ctl) == PP_CACHELINE, "cache-line aligned");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "futex words are 32-bit");

/* A process-private view of one ring. */
struct pp_bell;

struct pp_ring {
	struct pp_ring_ctl *ctl; /* in the segment */
	uint8_t *data;           /* in the segment, cap bytes */
	uint32_t cap, mask;      /* trusted: from the caller's config */
	uint32_t cached_head;    /* producer: its own head; consumer: last head seen */
	uint32_t cached_tail;    /* consumer: its own tail; producer: last tail seen */
	/* Producer: where to ring when the consumer's head_waiter asks for a
	 * bell (bell.h); NULL: futex wake only.  Set by the caller after
	 * pp_ring_init_view. */
	struct pp_bell *bell;
};

/* Set up a view of the ring ctl/data with capacity cap (a power of two in
 * [PP_RING_CAP_MIN, PP_RING_CAP_MAX], trusted).  Loads the current indices.
 * Returns 0, -EINVAL for a bad cap or NULL pointer, or -EPROTO if the
 * indices in the segment are inconsistent (head - tail > cap); the view is
 * filled in either way (cached indices equal, i.e. an empty ring). */
int pp_ring_init_view(struct pp_ring *r, struct pp_ring_ctl *ctl, void *data, uint32_t cap);

/* Empty the ring (head = tail = 0, flags cleared) and wake any sleeper.
 * Daemon side, when a slot is reset; neither side may be using the ring
 * (a stale user sees -EPROTO or a reset stream).  Views must be re-inited. */
void pp_ring_reset(struct pp_ring_ctl *ctl);

/* Producer: bytes that can be written now (rereads tail), or -EPROTO. */
ssize_t pp_ring_writable(struct pp_ring *r);

/* Consumer: bytes that can be read now (rereads head), or -EPROTO. */
ssize_t pp_ring_readable(struct pp_ring *r);

/* Producer: copy up to n bytes in and publish them.  Returns the number of
 * bytes written (0 when full), or -EPROTO. */
ssize_t pp_ring_write(struct pp_ring *r, const void *buf, size_t n);

/* Consumer: copy up to n bytes out and consume them.  Returns the number of
 * bytes read (0 when empty), or -EPROTO. */
ssize_t pp_ring_read(struct pp_ring *r, void *buf, size_t n);

/* Consumer: like pp_ring_read() but consumes nothing. */
ssize_t pp_ring_peek(struct pp_ring *r, void *buf, size_t n);

/* Consumer: consume n bytes already seen readable.  Returns 0, -EINVAL if
 * fewer than n bytes are readable, or -EPROTO. */
int pp_ring_consume(struct pp_ring *r, uint32_t n);

/* Producer, two-step write: copy n bytes to position head + off WITHOUT
 * publishing them (the consumer cannot see them yet).  off + n must not
 * exceed the free space last seen (pp_ring_writable()); returns 0 or
 * -EINVAL if it does. */
int pp_ring_stage(struct pp_ring *r, uint32_t off, const void *buf, size_t n);

/* Producer: publish n staged bytes (head += n) and wake the consumer if it
 * sleeps.  Returns 0, or -EINVAL if n exceeds the free space last seen. */
int pp_ring_publish(struct pp_ring *r, uint32_t n);

/* Consumer: wait until at least min_bytes (<= cap) are readable, or a
 * wakeup, or deadline_ns (absolute CLOCK_MONOTONIC; UINT64_MAX = forever).
 * Spins up to spin iterations (a pause each) before sleeping.
 * Returns 0 when the bytes are there OR on any wakeup (pp_ring_wake_all, a
 * signal, a partial publish): callers re-check the ring and their own abort
 * conditions and call again.  -ETIMEDOUT when the deadline passed without
 * the bytes, -EPROTO for corrupt indices, -EINVAL for min_bytes > cap. */
int pp_ring_wait_readable(struct pp_ring *r, uint32_t min_bytes, uint64_t deadline_ns,
			  unsigned spin);

/* Producer: the same, waiting for min_bytes (<= cap) of free space. */
int pp_ring_wait_writable(struct pp_ring *r, uint32_t min_bytes, uint64_t deadline_ns,
			  unsigned spin);

/* Wake whoever sleeps on either index of ctl (a third party, e.g. the
 * daemon's reaper; or pp_ring_reset).  Sleepers return 0. */
void pp_ring_wake_all(struct pp_ring_ctl *ctl);

/* Consumer: map the page its next read starts in, by loading one byte
 * there (the value is not used; nothing changes).  A consumer about to
 * wait for a producer calls it first, so that a fresh process's page
 * fault on the ring (5 us on this VM) happens while the producer works,
 * not after the wakeup.  cached_tail is the consumer's own: in range. */
void pp_ring_prefault_read(const struct pp_ring *r);

#endif
