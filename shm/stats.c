/* stats.c - see stats.h. */
#include "stats.h"

#include <string.h>

#define SNAPSHOT_TRIES 100

#define LD(field) atomic_load_explicit(&((struct pp_slot *)s)->field, memory_order_relaxed)

/* One unsynchronised copy of the daemon line's counters. */
static void copy_counters(const struct pp_slot *s, struct pp_slot_snapshot *o)
{
	o->conn_state = LD(conn_state);
	o->reclaims = LD(reclaims);
	o->requests = LD(requests);
	o->errors = LD(errors);
	for (int k = 0; k < PP_ERRKIND_N; k++)
		o->errors_by_kind[k] = LD(errors_by_kind[k]);
	o->bytes_in = LD(bytes_in);
	o->bytes_out = LD(bytes_out);
	o->connects = LD(connects);
	o->reconnects = LD(reconnects);
	o->health_checks = LD(health_checks);
	o->health_failures = LD(health_failures);
	o->conn_since_ns = LD(conn_since_ns);
	o->last_latency_ns = LD(last_latency_ns);
	o->latency_sum_ns = LD(latency_sum_ns);
	for (int b = 0; b < PP_HIST_BUCKETS; b++)
		o->latency_hist[b] = LD(latency_hist[b]);
}

void pp_slot_snapshot(const struct pp_slot *s, struct pp_slot_snapshot *out)
{
	memset(out, 0, sizeof *out);
	_Atomic uint32_t *seq = (_Atomic uint32_t *)&s->stats_seq;
	for (int i = 0; i < SNAPSHOT_TRIES && !out->consistent; i++) {
		/* Pairs with the release in pp_stats_end. */
		uint32_t a = atomic_load_explicit(seq, memory_order_acquire);
		copy_counters(s, out);
		atomic_thread_fence(memory_order_acquire);
		uint32_t b = atomic_load_explicit(seq, memory_order_relaxed);
		out->consistent = !(a & 1) && a == b;
	}
	/* The lease line has one writer at a time but no seqlock: read the
	 * state last, with acquire, after the stamp it publishes. */
	out->owner_pid = LD(owner_pid);
	out->lease_start_ns = LD(lease_start_ns);
	out->leases = LD(leases);
	out->leak_flag = LD(leak_flag);
	out->state = atomic_load_explicit(&((struct pp_slot *)s)->state, memory_order_acquire);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* See stats.h.  Works in doubles: ranks of untrusted counts may
 * exceed 2^53, where a rank a few counts off does not matter. */
uint64_t pp_hist_quantile_ns(const uint64_t hist[PP_HIST_BUCKETS], uint64_t zero, double q,
			       uint64_t max_ns)
{
	uint64_t n = zero;
	for (int b = 0; b < PP_HIST_BUCKETS; b++)
		n = sat_add(n, hist[b]);
	if (n == 0)
		return 0;
	double rank = q * (double)n; /* rounded up to a whole rank, without libm */
	if ((double)(uint64_t)rank < rank)
		rank = (double)((uint64_t)rank + 1);
	if (rank < 1)
		rank = 1;
	double below = (double)zero;
	if (rank <= below)
		return 0;
	double est_us = 0;
	for (int b = 0; b < PP_HIST_BUCKETS; b++) {
		double c = (double)hist[b];
		if (c > 0 && below + c >= rank) {
			double lo = b == 0 ? 0 : (double)(1ull << b), hi = (double)pp_hist_upper_us((unsigned)b);
			est_us = lo + (hi - lo) * ((rank - below) / c);
			break;
		}
		below += c;
	}
	uint64_t est = (uint64_t)(est_us * 1000.0);
	return max_ns && est > max_ns ? max_ns : est;
}

