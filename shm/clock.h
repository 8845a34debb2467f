/* clock.h - monotonic and wall-clock time in nanoseconds.
 *
 * All deadlines in phantompool are absolute CLOCK_MONOTONIC nanoseconds,
 * the clock FUTEX_WAIT_BITSET is told to use; wall time is only shown to
 * people (shmdump).  clock_gettime() goes through the vDSO: no system call.
 *
 * Except for a process's first PP_CLOCK_FRESH_READS reads: those are
 * system calls.  The vDSO's first read maps its two data pages (vvar and
 * the hypervisor's clock page), page faults that cost a fresh process such
 * as a CGI program 30-40 us on the benchmark host, more than its 13 reads
 * (attach 2, one pp_do 11) cost as system calls (about 1 us each; net
 * -22 us: docs/BENCHMARKS.md, "Runs 21 and 22").  A long-lived process
 * pays the system call only for its first reads; a forked child inherits
 * the parent's count and mapping.
 */
#ifndef PP_CLOCK_H
#define PP_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "sys.h"

#define PP_NS_PER_MS 1000000ull
#define PP_NS_PER_S 1000000000ull

#define PP_CLOCK_FRESH_READS 48u

/* Reads left to make as system calls (clock.c); counts down to 0. */
extern _Atomic uint32_t pp_clock_fresh_left;

/* clock_gettime(id), through the system call while the process is
 * fresh (above), else through the vDSO; only the vDSO where the kernel's
 * timespec may not be glibc's (sys.h: PP_SYS_DIRECT). */
static inline void pp_clock_read(clockid_t id, struct timespec *ts)
{
#if PP_SYS_DIRECT
	uint32_t left = atomic_load_explicit(&pp_clock_fresh_left, memory_order_relaxed);
	/* A compare-and-swap, not a decrement: two threads taking the last
	 * read would otherwise wrap the count.  One that loses the race reads
	 * through the vDSO. */
	if (__builtin_expect(left != 0, 0) &&
	    atomic_compare_exchange_strong_explicit(&pp_clock_fresh_left, &left, left - 1, memory_order_relaxed,
						    memory_order_relaxed) &&
	    syscall(SYS_clock_gettime, id, ts) == 0)
		return;
#endif
	clock_gettime(id, ts);
}

/* Current CLOCK_MONOTONIC time in ns. */
static inline uint64_t pp_now_ns(void)
{
	struct timespec ts;
	pp_clock_read(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * PP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC_COARSE in ns: the same clock, at most a few ms behind,
 * for a few ns instead of ~20.  Good enough for lease ages. */
static inline uint64_t pp_now_coarse_ns(void)
{
	struct timespec ts;
	pp_clock_read(CLOCK_MONOTONIC_COARSE, &ts);
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
