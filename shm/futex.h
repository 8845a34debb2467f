/* futex.h - process-shared futex wait/wake on words inside the segment.
 *
 * The words live in a MAP_SHARED mapping used by several processes, so the
 * operations are the shared ones (no FUTEX_PRIVATE_FLAG).  Timed waits take
 * an absolute CLOCK_MONOTONIC deadline (FUTEX_WAIT_BITSET), so a wait that is
 * interrupted and restarted never stretches past the time asked for.
 */
#ifndef PP_FUTEX_H
#define PP_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleep while *word == expected, until woken or until deadline_ns
 * (absolute CLOCK_MONOTONIC ns; UINT64_MAX waits forever).
 * Returns 0 when woken (or spuriously), -EAGAIN when *word != expected on
 * entry, -ETIMEDOUT when the deadline passed, -EINTR on a signal.
 * Callers always re-check their condition: wakeups may be spurious. */
int pp_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns);

/* Wake at most n sleepers on word (INT32_MAX for all).  Returns the number
 * woken, or a negative errno (only -EFAULT/-EINVAL on a bad address). */
int pp_futex_wake(_Atomic uint32_t *word, int n);

#endif
