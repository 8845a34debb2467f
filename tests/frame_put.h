/* frame_put.h - put one frame into a ring the way the client and the
 * daemon do: encoded into a private batch (pp_xfer_add, which runs
 * pp_frame_encode) and published in one step (pp_xfer_flush).  For tests
 * that feed rings by hand; there is no other encode path to test. */
#ifndef PP_TEST_FRAME_PUT_H
#define PP_TEST_FRAME_PUT_H

#include <stdint.h>

#include "frame.h"

/* Put f into r, waiting for room until deadline_ns (absolute
 * CLOCK_MONOTONIC; 0: do not wait).  Returns 0 or, as pp_xfer_add /
 * pp_xfer_flush do: PP_ETOOBIG (a field over its limit, or a frame the ring
 * can never take), PP_EINVAL (a bad field), PP_ETIMEDOUT (no room in time;
 * nothing was written), PP_EPROTO (corrupt ring indices). */
int pp_test_put_frame(struct pp_ring *r, const struct pp_frame *f, uint64_t deadline_ns);

#endif
