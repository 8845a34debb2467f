/* clock.h - monotonic and wall-clock time in nanoseconds.
 *
 * All deadlines in phantompool are absolute CLOCK_MONOTONIC nanoseconds,
 * the clock FUTEX_WAIT_BITSET is told to use; wall time is only shown to
 * people (shmdump).  clock_gettime() goes through the vDSO: no system call.
 */
#ifndef PP_CLOCK_H
#define PP_CLOCK_H

#include <stdint.h>
#include <time.h>

#define PP_NS_PER_MS 1000000ull
#define PP_NS_PER_S 1000000000ull

/* Current CLOCK_MONOTONIC time in ns. */
static inline uint64_t pp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * PP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC_COARSE in ns: the same clock, at most a few ms behind,
 * for a few ns instead of ~20.  Good enough for lease ages. */
static inline uint64_t pp_now_coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * PP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Current CLOCK_REALTIME time in ns (for display only). */
static inline uint64_t pp_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * PP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Absolute monotonic deadline timeout_ms from now; timeout_ms < 0 means
 * "forever" and gives UINT64_MAX. */
static inline uint64_t pp_deadline_ms(int timeout_ms)
{
	if (timeout_ms < 0)
		return UINT64_MAX;
	return pp_now_ns() + (uint64_t)timeout_ms * PP_NS_PER_MS;
}

#endif
