/* xfer.h - whole-frame put/take on a ring with bounded, sliced waits.
 *
 * Both sides of an exchange move frames the same way: try, and if the ring
 * is full (put) or has no whole frame (take), sleep on the ring for at most
 * one slice, ask the caller's check function whether to give up (peer
 * dead, slot reset, daemon stopping), and try again until the deadline. */
#ifndef PP_XFER_H
#define PP_XFER_H

#include <stdint.h>

#include "frame.h"
#include "spin.h"

/* Returns 0 to keep waiting, or a negative PP_E* code to give up with. */
typedef int (*pp_xfer_check_fn)(void *ctx);

struct pp_xfer {
	struct pp_ring *ring;
	uint64_t deadline_ns;     /* absolute CLOCK_MONOTONIC; UINT64_MAX: none */
	uint64_t slice_ns;        /* longest single sleep between checks */
	/* Adaptive spin before sleeping for a frame (spin.h); NULL: sleep at
	 * once.  Takes that waited also record their wait in it. */
	const struct pp_spin *spin;
	pp_xfer_check_fn check;   /* may be NULL */
	void *ctx;
};

/* Take one whole frame into scratch (>= pp_frame_max(cap) bytes), waiting
 * for it.  Returns 0 with *f filled (fields point into scratch),
 * PP_ETIMEDOUT, PP_EPROTO (corrupt ring or undecodable frame), or the
 * check function's code. */
int pp_xfer_take(const struct pp_xfer *x, uint8_t *scratch, size_t scratch_len, struct pp_frame *f);

/* A batch: frames encoded back to back in private memory and published
 * to the ring in one step, so the peer is woken once for a whole small
 * exchange (head, body, end) instead of once per frame. */
struct pp_batch {
	uint8_t *buf;
	uint32_t cap;   /* pp_frame_max(ring capacity): a flush always fits */
	uint32_t len;
};

/* Append one frame (pp_frame_encode), flushing first if it does not fit.
 * Returns 0, PP_ETOOBIG (a field over its limit, a BODY over the ring's
 * chunk, or a frame the ring can never carry), PP_EINVAL (a bad field),
 * or what pp_xfer_flush returns.  The one way frames are put into a ring,
 * on both sides (the daemon's loops use pp_frame_encode and pp_xfer_flush
 * the same way without waiting). */
int pp_xfer_add(const struct pp_xfer *x, struct pp_batch *b, const struct pp_frame *f);

/* Publish everything batched (waiting for space).  Returns 0,
 * PP_ETIMEDOUT, PP_EPROTO (corrupt ring), or the check function's code;
 * the batch is empty afterwards either way. */
int pp_xfer_flush(const struct pp_xfer *x, struct pp_batch *b);

#endif
