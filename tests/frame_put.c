/* frame_put.c - see frame_put.h. */
#include "frame_put.h"

#include "xfer.h"

int pp_test_put_frame(struct pp_ring *r, const struct pp_frame *f, uint64_t deadline_ns)
{
	static __thread uint8_t buf[PP_FRAME_MAX_ABS];
	struct pp_batch b = { .mem = { .buf = buf, .cap = pp_frame_max(r->cap) } };
	struct pp_xfer x = { .ring = r, .deadline_ns = deadline_ns, .slice_ns = 0 };
	int rc = pp_xfer_add(&x, &b, f);
	if (rc == 0)
		rc = pp_xfer_flush(&x, &b);
	return rc;
}
