/* spin.h - adaptive spinning before a futex sleep.
 *
 * A request through the pool is two hand-offs (worker -> daemon serving
 * loop -> worker).  When the two parties run on different CPUs, each futex
 * wake of a sleeping peer costs both sides a system call, a context switch
 * and an inter-processor interrupt (tens of microseconds on a VM), while the
 * wait itself is often shorter: the daemon's keep-alive round trip, or a
 * worker's turnaround between two requests.  A waiter that spins through
 * such a wait sees the peer's publish directly, the peer skips the wake
 * (nobody raised the ring's waiter flag), and neither side sleeps.
 *
 * Spinning only pays when it cannot steal the CPU the awaited work needs,
 * so a waiter spins only when all of these hold:
 *   - the pool's spin budget is on (daemon option spin-us; live), at most
 *     PP_SPIN_MAX_NS whatever the segment says;
 *   - the peer last published a CPU, and it is not the waiter's own CPU
 *     (a peer on our CPU cannot run while we spin);
 *   - the waiter's recent waits were short: an average (EWMA, private to the
 *     waiter) of at most PP_SPIN_AVG_FACTOR budgets.  Under load, or against
 *     a slow backend, waits are long and nobody spins.  A waiter with no
 *     wait behind it yet (PP_SPIN_AVG_UNKNOWN: a worker thread's first
 *     request) does not spin either: a one-shot process such as a CGI
 *     program has just woken an idle serving loop, and its answer takes
 *     that wakeup plus a backend round trip, mostly longer than a spin
 *     budget (docs/BENCHMARKS.md, CGI);
 *   - the pool is nearly idle: the daemon serves at most inflight_max
 *     exchanges (the worker's own: 1; a serving loop between two requests:
 *     0).  Under load every CPU has work, and a spinner would only take
 *     its time from the exchanges in flight;
 *   - it gets one of the pool's spin claims: at most (online CPUs - 1)
 *     spinners at once (at most PP_SPIN_CLAIMS), so one CPU is always left
 *     for the work being waited for.  A claim is a deadline in the header,
 *     so the claim of a spinner killed mid-spin lapses by itself.  With
 *     none free, the waiter watches for PP_SPIN_CLAIM_WAIT_NS: the claim
 *     is usually the peer's, given back as soon as our publish reaches it.
 * A spin never lasts longer than the budget; the waiter then sleeps (on the
 * futex, or a loop in poll or on its wake word) exactly as it would have.
 *
 * A peer on the waiter's own CPU cannot run while the waiter spins, but a
 * futex sleep is no better there: the peer's next publish must then wake
 * the waiter, and that wake-up mostly preempts the peer before the peer's
 * own sleep, which costs two more context switches per hand-off (measured
 * on one CPU: 4.65 switches per pp_do against 4.02, docs/BENCHMARKS.md).
 * So, under the same rules except the CPU one, pp_spin_yield gives the CPU
 * to the peer once (sched_yield) and looks again: the peer publishes and
 * goes to sleep itself, and nobody rings.  The serving loops do this right
 * after an exchange for a worker on their CPU.  A yielder queues behind
 * every runnable task of its CPU, so with a CPU-bound neighbour there a
 * yield can cost a whole scheduler slice: while recent yields that found
 * the peer's publish took more than the budget on average, only one is
 * tried every PP_SPIN_YIELD_PROBE_NS, until one is quick again.
 * Spinning and yielding change timing, never results.
 */
#ifndef PP_SPIN_H
#define PP_SPIN_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

#define PP_SPIN_MAX_NS 1000000u  /* cap on any spin, whatever the header says */
#define PP_SPIN_AVG_FACTOR 2u    /* spin while recent waits average <= 2 budgets */
#define PP_SPIN_CLAIM_WAIT_NS 5000u /* how long a waiter watches for a claim to free up */
#define PP_SPIN_YIELD_PROBE_NS 1000000000ull /* after slow yields, one yield this often */
/* A waiter's average before its first measured wait: no history, so no
 * spin (it is above any budget's PP_SPIN_AVG_FACTOR multiple).  The first
 * pp_spin_note replaces it with that wait. */
#define PP_SPIN_AVG_UNKNOWN UINT32_MAX

/* One waiter's view: where the budget and claims live, the peer's CPU
 * word, and the waiter's own average (private memory). */
struct pp_spin {
	struct pp_shm_header *hdr;
	uint32_t claims;               /* usable claims (pp_seg.spin_claims) */
	const _Atomic int32_t *peer_cpu;
	uint32_t *avg_ns;              /* EWMA of this waiter's recent waits, or PP_SPIN_AVG_UNKNOWN */
	uint32_t inflight_max;         /* spin only while hdr->inflight <= this */
	struct pp_yield *yield;        /* the waiter's recent yields (private; NULL: never yield) */
};

/* A waiter's yields to a peer on its CPU (pp_spin_yield): an average (EWMA)
 * of how long the CPU was away, and when slow ones may next be tried. */
struct pp_yield {
	uint32_t avg_ns;
	uint64_t probe_ns;
};

/* Is the awaited thing there?  Called in the spin loop; must be cheap. */
typedef bool (*pp_spin_ready_fn)(void *ctx);

/* Spin until ready(ctx) or the budget runs out, if the rules above allow a
 * spin at all.  Returns true when ready(ctx) returned true (the caller
 * then skips its sleep), false when the caller must sleep.  s may be NULL
 * (never spins). */
bool pp_spin_wait(const struct pp_spin *s, pp_spin_ready_fn ready, void *ctx);

/* The waiter's peer last ran on the waiter's own CPU and the rules above
 * (budget on, recent waits short, the pool nearly idle; claims are not
 * needed) allow a spin: yield the CPU once (sched_yield), then return
 * ready(ctx), counted as a spin hit or miss.  False at once, without a
 * yield, when the rules say no, the peer is elsewhere or s->yield is
 * NULL.  While the average of recent yields that found the peer's publish
 * is over the budget (another task ran during them, and a yielder waits
 * behind it) one yield is tried every PP_SPIN_YIELD_PROBE_NS, and none
 * between; a probe that finds the publish within the budget ends that at
 * once.  s may be NULL. */
bool pp_spin_yield(const struct pp_spin *s, pp_spin_ready_fn ready, void *ctx);

/* Record how long a wait lasted, spun or slept (0 when the thing was
 * already there).  s may be NULL. */
void pp_spin_note(const struct pp_spin *s, uint64_t waited_ns);

/* Publish the calling thread's CPU in *cpu (for the peer's spin rule).
 * Cheap: sched_getcpu() is read from rseq, and the word is written only
 * when it changed. */
static inline void pp_spin_publish_cpu(_Atomic int32_t *cpu)
{
	int32_t c = sched_getcpu();
	if (atomic_load_explicit(cpu, memory_order_relaxed) != c)
		atomic_store_explicit(cpu, c, memory_order_relaxed);
}

#endif
