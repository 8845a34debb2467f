/* xfer.c - see xfer.h. */
#include "xfer.h"

#include <errno.h>

#include "clock.h"
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
	if (r == -EPROTO)
		return PP_EPROTO;
	if (r == -EINVAL)
		return PP_ETOOBIG;
	if (x->check) {
		int c = x->check(x->ctx);
		if (c)
			return c;
	}
	return 0;
}

static int wait_space(const struct pp_xfer *x, uint64_t until)
{
	return pp_frame_wait_space(x->ring, 0, until, x->spin);
}

static int wait_frame(const struct pp_xfer *x, uint64_t until)
{
	return pp_frame_wait(x->ring, until, x->spin);
}

int pp_xfer_put(const struct pp_xfer *x, const struct pp_frame *f)
{
	for (;;) {
		int r = pp_frame_put(x->ring, f);
		if (r == 0)
			return 0;
		if (r == -EMSGSIZE)
			return PP_ETOOBIG;
		if (r == -EINVAL)
			return PP_EINVAL;
		if (r != -EAGAIN)
			return PP_EPROTO;
		r = xfer_wait_step(x, wait_space);
		if (r)
			return r;
	}
}

int pp_xfer_take(const struct pp_xfer *x, uint8_t *scratch, size_t scratch_len, struct pp_frame *f)
{
	for (;;) {
		int r = pp_frame_take(x->ring, scratch, scratch_len, f);
		if (r == 1)
			return 0;
		if (r < 0)
			return PP_EPROTO;
		r = xfer_wait_step(x, wait_frame);
		if (r)
			return r;
	}
}
