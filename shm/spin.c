/* spin.c - see spin.h. */
#include "spin.h"

#include "clock.h"
#include "cpu.h"

#define SPIN_CHECK_EVERY 32 /* ready() calls between clock reads */

/* The budget the rules allow for a peer on our own CPU (same_cpu) or on
 * another one: 0 when off, when recent waits were long, when the pool is
 * busy, or when the peer's CPU is unknown or not the one asked for. */
static uint64_t budget_for(const struct pp_spin *s, bool same_cpu)
{
	if (!s || !s->peer_cpu)
		return 0;
	uint64_t budget = atomic_load_explicit(&s->hdr->spin_ns, memory_order_relaxed);
	if (budget > PP_SPIN_MAX_NS)
		budget = PP_SPIN_MAX_NS;
	if (!budget || *s->avg_ns > PP_SPIN_AVG_FACTOR * budget ||
	    atomic_load_explicit(&s->hdr->inflight, memory_order_relaxed) > s->inflight_max)
		return 0;
	int32_t peer = atomic_load_explicit(s->peer_cpu, memory_order_relaxed);
	if (peer < 0 || (peer == sched_getcpu()) != same_cpu)
		return 0;
	return budget;
}

/* Budget for this spin, 0 when the rules say sleep at once. */
static uint64_t spin_budget(const struct pp_spin *s)
{
	return s && s->claims ? budget_for(s, false) : 0;
}

/* Take a spin claim until `until`: an entry whose deadline has passed
 * (free, or left by a dead spinner).  Returns its index or -1. */
static int claim(struct pp_shm_header *h, uint32_t n, uint64_t now, uint64_t until)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t cur = atomic_load_explicit(&h->spin_until_ns[i], memory_order_relaxed);
		if (cur <= now &&
		    atomic_compare_exchange_strong_explicit(&h->spin_until_ns[i], &cur, until,
							    memory_order_relaxed, memory_order_relaxed))
			return (int)i;
	}
	return -1;
}

/* Count a spin's outcome (shown by phantompool-shmdump) and return it. */
static bool count(const struct pp_spin *s, bool hit)
{
	atomic_fetch_add_explicit(hit ? &s->hdr->spin_hits : &s->hdr->spin_misses, 1, memory_order_relaxed);
	return hit;
}

bool pp_spin_wait(const struct pp_spin *s, pp_spin_ready_fn ready, void *ctx)
{
	uint64_t budget = spin_budget(s);
	if (!budget)
		return false;
	uint32_t n = s->claims < PP_SPIN_CLAIMS ? s->claims : PP_SPIN_CLAIMS;
	uint64_t now = pp_now_ns(), until = now + budget;
	int c = claim(s->hdr, n, now, until);
	/* All claims taken: often by the peer, whose spin ends the moment our
	 * publish reaches it (the two alternate).  Watch for a short while:
	 * our own thing may come, or a claim may free up. */
	for (uint64_t give_up = now + PP_SPIN_CLAIM_WAIT_NS; c < 0 && now < give_up;) {
		for (int i = 0; i < SPIN_CHECK_EVERY; i++) {
			if (ready(ctx))
				return count(s, true);
			pp_cpu_relax();
		}
		now = pp_now_ns();
		until = now + budget;
		c = claim(s->hdr, n, now, until);
	}
	if (c < 0)
		return count(s, false);
	bool ok = false;
	do {
		for (int i = 0; i < SPIN_CHECK_EVERY && !ok; i++) {
			ok = ready(ctx);
			pp_cpu_relax();
		}
	} while (!ok && pp_now_ns() < until);
	/* Give the claim back unless it already lapsed and was retaken. */
	uint64_t mine = until;
	atomic_compare_exchange_strong_explicit(&s->hdr->spin_until_ns[c], &mine, 0,
						memory_order_relaxed, memory_order_relaxed);
	return count(s, ok);
}

bool pp_spin_yield(const struct pp_spin *s, pp_spin_ready_fn ready, void *ctx)
{
	uint64_t budget = s && s->yield ? budget_for(s, true) : 0;
	if (!budget)
		return false;
	struct pp_yield *y = s->yield;
	uint64_t t0 = pp_now_ns();
	bool probe = y->avg_ns > budget;
	if (probe) {
		/* Recent yields were slow: a probe now and then. */
		if (t0 < y->probe_ns)
			return false;
		y->probe_ns = t0 + PP_SPIN_YIELD_PROBE_NS;
	}
	sched_yield();
	bool ok = ready(ctx);
	/* How long the CPU was away when the peer did publish: its turn, or
	 * more when some other task ran too (a yielder queues behind every
	 * runnable task).  A yield that finds nothing says nothing: the peer
	 * went on to other work, and we now sleep as we would have.  A probe
	 * back within the budget ends the back-off at once (the neighbour is
	 * gone); otherwise the average moves by an eighth. */
	if (ok) {
		uint64_t took = pp_now_ns() - t0, cap = PP_SPIN_AVG_FACTOR * 2 * budget;
		uint32_t w = (uint32_t)(took < cap ? took : cap);
		y->avg_ns = probe && w <= budget ? w : y->avg_ns - y->avg_ns / 8 + w / 8;
	}
	return count(s, ok);
}

void pp_spin_note(const struct pp_spin *s, uint64_t waited_ns)
{
	if (!s || !s->avg_ns)
		return;
	/* Clamp to a few budgets, so one long idle period does not stop
	 * spinning for long: a few short waits bring the average back. */
	uint64_t budget = atomic_load_explicit(&s->hdr->spin_ns, memory_order_relaxed);
	uint64_t cap = 2ull * PP_SPIN_AVG_FACTOR * (budget < PP_SPIN_MAX_NS ? budget : PP_SPIN_MAX_NS);
	uint32_t w = (uint32_t)(waited_ns < cap ? waited_ns : cap);
	uint32_t a = *s->avg_ns;
	*s->avg_ns = a == PP_SPIN_AVG_UNKNOWN ? w : a - a / 8 + w / 8;
}
