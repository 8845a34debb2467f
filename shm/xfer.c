/* xfer.c - see xfer.h. */
#include "xfer.h"

#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "errors.h"
#include "phantompool.h"

/* One wait step: sleep at most a slice, then consult the check.  Returns 0
 * to try again, or the code to give up with. */
static int xfer_wait_step(const struct pp_xfer *x, int (*wait)(const struct pp_xfer *, uint64_t))
{
	uint64_t now = pp_now_ns();
	if (now >= x->deadline_ns)
		return PP_ETIMEDOUT;
	uint64_t until = x->slice_ns && now + x->slice_ns < x->deadline_ns ? now + x->slice_ns : x->deadline_ns;
	int r = wait(x, until);
	if (r != 0 && r != -ETIMEDOUT && r != -EINTR)
		return pp_error_from_errno(r); /* -EPROTO: corrupt ring */
	if (x->check) {
		int c = x->check(x->ctx);
		if (c)
			return c;
	}
	return 0;
}

/* The batch being flushed, for wait_batch_space (one flush per thread at
 * a time). */
static __thread uint32_t flush_need;

static int wait_batch_space(const struct pp_xfer *x, uint64_t until)
{
	return pp_frame_wait_space(x->ring, flush_need, until, 0);
}

static bool frame_ready(void *ring)
{
	return pp_frame_ready(ring);
}

/* Spin first when the policy allows it (spin.h), then sleep. */
static int wait_frame(const struct pp_xfer *x, uint64_t until)
{
	if (pp_spin_wait(x->spin, frame_ready, x->ring))
		return 0;
	return pp_frame_wait(x->ring, until, 0);
}

/* Grow b to pp_frame_max(ring_cap) bytes if it is smaller (realloc).
 * Returns 0, or PP_ENOMEM with b unchanged. */
static int buf_grow(struct pp_buf *b, uint32_t ring_cap)
{
	uint32_t max = pp_frame_max(ring_cap);
	if (b->cap >= max)
		return 0;
	uint8_t *n = realloc(b->buf, max);
	if (!n)
		return PP_ENOMEM;
	b->buf = n;
	b->cap = max;
	return 0;
}

int pp_xfer_take(const struct pp_xfer *x, struct pp_buf *scratch, struct pp_frame *f)
{
	uint64_t t0 = 0; /* when this take started waiting, if it did */
	for (;;) {
		int r = pp_frame_take(x->ring, scratch->buf, scratch->cap, f);
		if (r == 1) {
			if (t0)
				pp_spin_note(x->spin, pp_now_ns() - t0);
			return 0;
		}
		if (r == -ENOBUFS && scratch->cap < pp_frame_max(x->ring->cap)) {
			if ((r = buf_grow(scratch, x->ring->cap)) != 0)
				return r;
			continue; /* the frame is still there: take it into the larger scratch */
		}
		if (r < 0)
			return PP_EPROTO; /* -EPROTO, -EBADMSG (unknown type), -ENOMEM: the stream is lost */
		if (x->spin && !t0)
			t0 = pp_now_ns();
		r = xfer_wait_step(x, wait_frame);
		if (r)
			return r;
	}
}

int pp_xfer_flush(const struct pp_xfer *x, struct pp_batch *b)
{
	uint32_t n = b->len;
	b->len = 0;
	while (n) {
		ssize_t room = pp_ring_writable(x->ring);
		if (room < 0)
			return PP_EPROTO;
		if ((size_t)room >= n) {
			/* One copy, one publish (and at most one wake). */
			return pp_ring_write(x->ring, b->mem.buf, n) == (ssize_t)n ? 0 : PP_EPROTO;
		}
		if (n > x->ring->cap)
			return PP_ETOOBIG; /* cannot happen: b->len <= pp_frame_max(cap) */
		flush_need = n;
		int r = xfer_wait_step(x, wait_batch_space);
		if (r)
			return r;
	}
	return 0;
}

int pp_batch_add(struct pp_batch *b, uint32_t ring_cap, const struct pp_frame *f)
{
	ssize_t n = pp_frame_encode(f, b->mem.buf + b->len, b->mem.cap - b->len);
	if (n == -EMSGSIZE && !b->len && b->mem.cap < pp_frame_max(ring_cap)) {
		int r = buf_grow(&b->mem, ring_cap);
		if (r)
			return r;
		n = pp_frame_encode(f, b->mem.buf, b->mem.cap);
	}
	if (n < 0)
		return pp_error_from_errno((int)n); /* -EMSGSIZE: PP_ETOOBIG */
	b->len += (uint32_t)n;
	return 0;
}

int pp_xfer_add(const struct pp_xfer *x, struct pp_batch *b, const struct pp_frame *f)
{
	/* The consumer takes BODY frames up to the ring's chunk only. */
	if (f->type == PP_FRAME_BODY && f->body.len > pp_frame_chunk(x->ring->cap))
		return PP_ETOOBIG;
	int r = pp_batch_add(b, x->ring->cap, f);
	if (r == PP_ETOOBIG && b->len) {
		/* Then it may fit the empty batch (grown if need be). */
		if ((r = pp_xfer_flush(x, b)) != 0)
			return r;
		r = pp_batch_add(b, x->ring->cap, f);
	}
	return r;
}
