/* stats.h - counters in the segment: histogram buckets, the per-slot
 * seqlock, and consistent snapshots for readers (pp_status, shmdump).
 *
 * Writers never take a lock: workers bump their own slot's `leases` and,
 * on the slow path only, the pool's lease-wait figures; each slot's daemon
 * thread is the only writer of that slot's daemon line, and brackets its
 * multi-field updates with stats_seq so a reader sees all of one exchange
 * or none of it. */
#ifndef PP_STATS_H
#define PP_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

/* Histogram bucket of a duration: b such that the duration in microseconds
 * lies in [2^b, 2^(b+1)); under 2 us is bucket 0; the last bucket takes
 * everything longer. */
static inline unsigned pp_hist_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned b = us < 2 ? 0 : 63 - (unsigned)__builtin_clzll(us);
	return b < PP_HIST_BUCKETS ? b : PP_HIST_BUCKETS - 1;
}

/* Upper bound, in microseconds, of bucket b (for Prometheus "le"). */
static inline uint64_t pp_hist_upper_us(unsigned b)
{
	return 2ull << b;
}

/* Raise *max to v if v is larger (lock-free running maximum). */
static inline void pp_stat_max(_Atomic uint64_t *max, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(max, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(max, &cur, v, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

/* Daemon, around a multi-field update of one slot's counters.  The
 * release fence in end pairs with the acquire loads in pp_slot_snapshot. */
static inline void pp_stats_begin(struct pp_slot *s)
{
	atomic_fetch_add_explicit(&s->stats_seq, 1, memory_order_relaxed); /* odd: writing */
	atomic_thread_fence(memory_order_release);
}

static inline void pp_stats_end(struct pp_slot *s)
{
	atomic_fetch_add_explicit(&s->stats_seq, 1, memory_order_release); /* even: done */
}

/* Estimate the q-quantile (0..1) in ns of a log2 microsecond histogram
 * plus `zero` observations of 0, interpolating within a bucket; clamped to
 * max_ns when that is not 0.  0 for an empty histogram.  Counts may be
 * untrusted: sums saturate. */
uint64_t pp_hist_quantile_ns(const uint64_t hist[PP_HIST_BUCKETS], uint64_t zero, double q, uint64_t max_ns);

/* A private copy of one slot's figures. */
struct pp_slot_snapshot {
	uint32_t state, conn_state, leak_flag;
	int32_t owner_pid;
	uint64_t lease_start_ns, leases;
	uint64_t reclaims, requests, errors, errors_by_kind[PP_ERRKIND_N];
	uint64_t bytes_in, bytes_out, connects, reconnects, health_checks, health_failures;
	uint64_t conn_since_ns, last_latency_ns, latency_sum_ns;
	uint64_t latency_hist[PP_HIST_BUCKETS];
	bool consistent; /* false if the daemon kept writing through every retry */
};

/* Copy slot s's figures, retrying (a bounded number of times) until the
 * daemon line was read between two equal, even stats_seq values. */
void pp_slot_snapshot(const struct pp_slot *s, struct pp_slot_snapshot *out);

#endif
