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

/* A private buffer that starts small and grows (realloc) to the largest
 * frame of a ring, pp_frame_max(cap), the first time a frame needs more:
 * a small exchange (most of them, and a CGI program's one) then touches a
 * few KiB of heap instead of two buffers of the largest frame's size.
 * buf is malloc'd (or NULL with cap 0) while cap < pp_frame_max of the ring
 * it serves; one of pp_frame_max bytes or more never grows and may be any
 * memory.  Both the scratch a take copies into and a batch's memory. */
struct pp_buf {
	uint8_t *buf;
	uint32_t cap;
};

/* Take one whole frame into scratch (grown when the frame needs more),
 * waiting for it.  Returns 0 with *f filled (fields point into
 * scratch->buf), PP_ETIMEDOUT, PP_EPROTO (corrupt ring or undecodable
 * frame), PP_ENOMEM (scratch could not grow; the frame stays in the ring),
 * or the check function's code. */
int pp_xfer_take(const struct pp_xfer *x, struct pp_buf *scratch, struct pp_frame *f);

/* A batch: frames encoded back to back in private memory and published
 * to the ring in one step, so the peer is woken once for a whole small
 * exchange (head, body, end) instead of once per frame.  mem is a pp_buf
 * (at most pp_frame_max(ring capacity) bytes: a flush always fits). */
struct pp_batch {
	struct pp_buf mem;
	uint32_t len;
};

/* Encode one frame after what b holds, without publishing anything: an
 * empty batch too small for the frame first grows to the largest frame of
 * a ring of ring_cap bytes.  Returns 0, PP_ETOOBIG (it does not fit: a
 * batch holding frames may take it once flushed; an empty one never, or a
 * field is over its limit), PP_EINVAL (a bad field) or PP_ENOMEM. */
int pp_batch_add(struct pp_batch *b, uint32_t ring_cap, const struct pp_frame *f);

/* Append one frame (pp_batch_add), flushing first if it does not fit,
 * and growing the batch's memory if it does not fit an empty batch.
 * Returns 0, PP_ETOOBIG (a field over its limit, a BODY over the ring's
 * chunk, or a frame the ring can never carry), PP_EINVAL (a bad field),
 * PP_ENOMEM (the batch could not grow), or what pp_xfer_flush returns.
 * The one way frames are put into a ring, on both sides (the daemon's
 * loops use pp_frame_encode and pp_xfer_flush the same way without
 * waiting, on batches of the largest size). */
int pp_xfer_add(const struct pp_xfer *x, struct pp_batch *b, const struct pp_frame *f);

/* Publish everything batched (waiting for space).  Returns 0,
 * PP_ETIMEDOUT, PP_EPROTO (corrupt ring), or the check function's code;
 * the batch is empty afterwards either way. */
int pp_xfer_flush(const struct pp_xfer *x, struct pp_batch *b);

#endif
