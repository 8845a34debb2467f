/* errors.h - the PP_E* codes as values that cross the segment.
 *
 * pp_strerror() (errors.c, exported by the client library) names every
 * code; pp_error_known() says whether a number is one of them.  It is the
 * one check applied wherever a code crosses the segment: the frame
 * encoder and decoder accept an ERROR frame only with a known code
 * (frame.c), so a worker never sees a number it cannot name, and a code
 * added to the enum (and to errors.c's table) is carried as itself from
 * then on, without a second list to update.
 */
#ifndef PP_ERRORS_H
#define PP_ERRORS_H

#include <stdbool.h>

/* True if err is a PP_E* error code of this build (negative, with a
 * pp_strerror text); false for 0, positive numbers and unknown codes. */
bool pp_error_known(int err);

/* The one errno-to-PP_E mapper.  The layers under the API (ring.c,
 * frame.c, segment creation, futexes) return 0 or a negative errno; a
 * caller that hands a result on as a PP_E* code maps it here:
 *   -EMSGSIZE                    PP_ETOOBIG   (over a limit; never fits)
 *   -EINVAL                      PP_EINVAL    (a bad field or argument)
 *   -EPROTO, -EBADMSG            PP_EPROTO    (corrupt ring or frame)
 *   -ETIMEDOUT                   PP_ETIMEDOUT
 *   -ENOMEM                      PP_ENOMEM
 *   -ENOENT                      PP_ENOPOOL   (the files named are the pool's)
 *   -EACCES, -EPERM              PP_EACCES
 *   0                            0
 *   anything else                PP_ESYS
 * (-EAGAIN, "not now", is for the caller to wait on, never a result.)
 * Takes a negative errno; a positive one is mapped the same way. */
int pp_error_from_errno(int neg_errno);

#endif
