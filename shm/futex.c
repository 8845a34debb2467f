/* futex.c - see futex.h. */
#include "futex.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

int pp_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;

	if (deadline_ns != UINT64_MAX) {
		if (pp_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		ts.tv_sec = (time_t)(deadline_ns / PP_NS_PER_S);
		ts.tv_nsec = (long)(deadline_ns % PP_NS_PER_S);
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET without FUTEX_CLOCK_REALTIME: absolute timeout on
	 * CLOCK_MONOTONIC.  Not FUTEX_PRIVATE_FLAG: the word is shared. */
	long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, expected,
			 tsp, NULL, FUTEX_BITSET_MATCH_ANY);
	if (r == 0)
		return 0;
	if (errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR)
		return -errno;
	return -errno;
}

int pp_futex_wake(_Atomic uint32_t *word, int n)
{
	long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
	return r < 0 ? -errno : (int)r;
}
