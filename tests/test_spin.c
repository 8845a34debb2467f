/* test_spin.c - the adaptive spin before a futex sleep (shm/spin.c): when
 * it must not spin at all, that it stops at the budget, the claim limit
 * (including a dead spinner's claim lapsing), a busy pool, the average of
 * recent waits,
 * the cap on a scribbled budget, a real two-process hand-off through a
 * shared mapping where the waiter finds the peer's publish while spinning,
 * and the yield to a peer on the waiter's own CPU (pp_spin_yield): when it
 * must not yield, and that a yield looks once and is counted. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "layout.h"
#include "spin.h"
#include "testutil.h"

#define US 1000ull

static struct pp_shm_header *hdr;
static _Atomic int32_t peer;
static uint32_t avg;

/* ready() that turns true at its n-th call (never when n is 0), counting. */
struct counter {
	unsigned calls, ready_at;
};

static bool count_ready(void *ctx)
{
	struct counter *c = ctx;
	c->calls++;
	return c->ready_at && c->calls >= c->ready_at;
}

/* Pin to the current CPU so sched_getcpu() cannot change under a test;
 * returns that CPU. */
static int pin_here(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
	return sched_getcpu();
}

/* A fresh header and a spin view whose peer is on another CPU number. */
static struct pp_spin fresh(uint64_t budget_ns, uint32_t claims)
{
	memset(hdr, 0, sizeof *hdr);
	atomic_store(&hdr->spin_ns, (uint32_t)budget_ns);
	atomic_store(&peer, pin_here() + 1);
	avg = 0;
	return (struct pp_spin){ .hdr = hdr, .claims = claims, .peer_cpu = &peer, .avg_ns = &avg };
}

static void test_no_spin_cases(void)
{
	struct counter c = { 0, 1 };
	struct pp_spin s = fresh(0, 1);
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c)); /* budget 0 */
	s = fresh(100 * US, 0);
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c)); /* no claims: one CPU */
	s = fresh(100 * US, 1);
	atomic_store(&peer, sched_getcpu());
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c)); /* peer on our CPU */
	atomic_store(&peer, -1);
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c)); /* peer unknown */
	CU_ASSERT_FALSE(pp_spin_wait(NULL, count_ready, &c));
	s = fresh(100 * US, 1);
	s.peer_cpu = NULL;
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c));
	s = fresh(100 * US, 1);
	s.inflight_max = 1;
	atomic_store(&hdr->inflight, 2); /* busy pool: the CPUs have work */
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c));
	CU_ASSERT_EQUAL(c.calls, 0); /* never even looked */
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_hits) + atomic_load(&hdr->spin_misses), 0); /* not spins */
	atomic_store(&hdr->inflight, 1);
	CU_ASSERT_TRUE(pp_spin_wait(&s, count_ready, &c));
}

static void test_spins_until_ready(void)
{
	struct pp_spin s = fresh(1000 * US, 1);
	struct counter c = { 0, 500 };
	CU_ASSERT_TRUE(pp_spin_wait(&s, count_ready, &c));
	CU_ASSERT_EQUAL(c.calls, 500);
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_until_ns[0]), 0); /* claim given back */
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_hits), 1);
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_misses), 0);
}

static void test_stops_at_budget(void)
{
	struct pp_spin s = fresh(300 * US, 1);
	struct counter c = { 0, 0 };
	uint64_t t0 = pp_now_ns();
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c));
	uint64_t took = pp_now_ns() - t0;
	CU_ASSERT(took >= 300 * US);
	CU_ASSERT(took < 2 * PP_NS_PER_S);
	CU_ASSERT(c.calls > 0);
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_until_ns[0]), 0);
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_hits), 0);
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_misses), 1);
}

/* A scribbled budget is capped at PP_SPIN_MAX_NS. */
static void test_budget_capped(void)
{
	struct pp_spin s = fresh(0, 1);
	atomic_store(&hdr->spin_ns, UINT32_MAX); /* ~4.3 s */
	struct counter c = { 0, 0 };
	uint64_t t0 = pp_now_ns();
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c));
	uint64_t took = pp_now_ns() - t0;
	CU_ASSERT(took >= PP_SPIN_MAX_NS);
	CU_ASSERT(took < 2 * PP_NS_PER_S);
}

static void test_claims(void)
{
	struct pp_spin s = fresh(1000 * US, 1);
	struct counter c = { 0, 1 };
	/* Held by another spinner: watch a short while for a claim, then sleep. */
	atomic_store(&hdr->spin_until_ns[0], pp_now_ns() + PP_NS_PER_S);
	struct counter never = { 0, 0 };
	uint64_t t0 = pp_now_ns();
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &never));
	CU_ASSERT(pp_now_ns() - t0 >= PP_SPIN_CLAIM_WAIT_NS);
	CU_ASSERT(pp_now_ns() - t0 < PP_NS_PER_S); /* not the spin budget */
	CU_ASSERT(never.calls > 0);
	/* What it waits for, arriving meanwhile, ends the wait. */
	CU_ASSERT_TRUE(pp_spin_wait(&s, count_ready, &c));
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_until_ns[0]) > pp_now_ns(), 1); /* still the other's */
	/* Two claims: the second is free. */
	s.claims = 2;
	CU_ASSERT_TRUE(pp_spin_wait(&s, count_ready, &c));
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_until_ns[1]), 0);
	/* A dead spinner's claim (deadline passed) lapses by itself. */
	s.claims = 1;
	c.calls = 0;
	atomic_store(&hdr->spin_until_ns[0], pp_now_ns() - 1);
	CU_ASSERT_TRUE(pp_spin_wait(&s, count_ready, &c));
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_until_ns[0]), 0);
	/* More claims than the header holds are clamped, not overrun. */
	for (unsigned i = 0; i < PP_SPIN_CLAIMS; i++)
		atomic_store(&hdr->spin_until_ns[i], pp_now_ns() + PP_NS_PER_S);
	s.claims = 1000;
	never.calls = 0;
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &never));
	CU_ASSERT_EQUAL(atomic_load(&hdr->inflight), 0); /* the word after the claims */
}

/* Long recent waits stop the spinning; short ones bring it back. */
static void test_average(void)
{
	struct pp_spin s = fresh(100 * US, 1);
	struct counter c = { 0, 1 };
	for (int i = 0; i < 100; i++)
		pp_spin_note(&s, 10 * PP_NS_PER_S); /* clamped: a few budgets */
	CU_ASSERT(avg > PP_SPIN_AVG_FACTOR * 100 * US);
	CU_ASSERT(avg <= 2 * PP_SPIN_AVG_FACTOR * 100 * US);
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &c));
	CU_ASSERT_EQUAL(c.calls, 0);
	int n = 0;
	while (avg > PP_SPIN_AVG_FACTOR * 100 * US && n < 100) {
		pp_spin_note(&s, 5 * US);
		n++;
	}
	CU_ASSERT(n > 0 && n < 20);
	CU_ASSERT_TRUE(pp_spin_wait(&s, count_ready, &c));
	pp_spin_note(NULL, 1); /* harmless */
}

/* pp_spin_yield: only for a peer on our own CPU, under the spin's rules
 * (budget on, short recent waits, pool not busy), claims not needed; one
 * look after the yield, counted as a hit or a miss. */
static void test_yield(void)
{
	struct counter c = { 0, 1 };
	struct pp_yield y = { 0, 0 };
	struct pp_spin s = fresh(100 * US, 1);
	s.yield = &y;
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &c)); /* peer on another CPU: spin instead */
	atomic_store(&peer, -1);
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &c)); /* peer unknown */
	CU_ASSERT_FALSE(pp_spin_yield(NULL, count_ready, &c));
	s = fresh(0, 1);
	s.yield = &y;
	atomic_store(&peer, sched_getcpu());
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &c)); /* budget 0: never */
	s = fresh(100 * US, 1);
	atomic_store(&peer, sched_getcpu());
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &c)); /* no yield record: never */
	s.yield = &y;
	avg = 3 * PP_SPIN_AVG_FACTOR * 100 * US;
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &c)); /* recent waits long */
	avg = 0;
	atomic_store(&hdr->inflight, 1);
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &c)); /* busy pool (inflight_max 0) */
	atomic_store(&hdr->inflight, 0);
	y = (struct pp_yield){ 200 * US, pp_now_ns() + PP_NS_PER_S };
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &c)); /* recent yields slow, no probe due */
	CU_ASSERT_EQUAL(c.calls, 0); /* never even looked */
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_hits) + atomic_load(&hdr->spin_misses), 0);
	y = (struct pp_yield){ 0, 0 };
	s.claims = 0; /* one CPU: no spin claims, a yield all the same */
	CU_ASSERT_TRUE(pp_spin_yield(&s, count_ready, &c));
	CU_ASSERT_EQUAL(c.calls, 1);
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_hits), 1);
	struct counter never = { 0, 0 };
	y = (struct pp_yield){ 0, 0 }; /* a busy test machine may have made that yield slow */
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &never)); /* one look, not a spin */
	CU_ASSERT_EQUAL(never.calls, 1);
	CU_ASSERT_EQUAL(atomic_load(&hdr->spin_misses), 1);
	CU_ASSERT_FALSE(pp_spin_wait(&s, count_ready, &never)); /* and no spin on our CPU */
	CU_ASSERT_EQUAL(never.calls, 1);
	/* Slow recent yields: one probe, then none until the next is due. */
	y = (struct pp_yield){ 200 * US, 0 };
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &never));
	CU_ASSERT_EQUAL(never.calls, 2);
	CU_ASSERT(y.probe_ns > pp_now_ns() + PP_SPIN_YIELD_PROBE_NS / 2);
	y.avg_ns = 200 * US; /* still slow, whatever the probe measured */
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &never));
	CU_ASSERT_EQUAL(never.calls, 2);
	/* A probe that finds the publish within the budget (1 ms here: a
	 * yield with nothing else runnable takes microseconds) ends it. */
	s = fresh(PP_SPIN_MAX_NS, 1);
	s.yield = &y;
	atomic_store(&peer, sched_getcpu());
	y = (struct pp_yield){ 3 * PP_SPIN_MAX_NS, 0 };
	struct counter at_once = { 0, 1 };
	CU_ASSERT_TRUE(pp_spin_yield(&s, count_ready, &at_once));
	CU_ASSERT(y.avg_ns <= PP_SPIN_MAX_NS);
	CU_ASSERT_TRUE(pp_spin_yield(&s, count_ready, &at_once)); /* no probe wait now */
	CU_ASSERT_EQUAL(at_once.calls, 2);
}

/* Yields that a CPU-bound task on the same CPU holds up (a yielder queues
 * behind it) raise the average over the budget, and the yields stop but
 * for a probe every PP_SPIN_YIELD_PROBE_NS.  The child spins on our CPU
 * for 300 ms; the budget is 1 us, so a yield that lets it run is slow.
 * Only yields that find the publish count: one that finds nothing leaves
 * the average alone. */
static void test_yield_backs_off(void)
{
	struct pp_yield y = { 0, 0 };
	struct pp_spin s = fresh(1 * US, 1);
	s.yield = &y;
	atomic_store(&peer, sched_getcpu());
	pid_t pid = fork();
	if (pid == 0) {
		uint64_t end = pp_now_ns() + 300 * PP_NS_PER_MS;
		while (pp_now_ns() < end)
			;
		_exit(0);
	}
	CU_ASSERT_FATAL(pid > 0);
	struct counter never = { 0, 0 };
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &never));
	CU_ASSERT_EQUAL(y.avg_ns, 0); /* found nothing: not counted */
	struct counter always = { 0, 1 };
	uint64_t t0 = pp_now_ns();
	while (y.avg_ns <= 1 * US && pp_now_ns() - t0 < 250 * PP_NS_PER_MS)
		pp_spin_yield(&s, count_ready, &always);
	CU_ASSERT(y.avg_ns > 1 * US);
	CU_ASSERT(always.calls >= 1);
	pp_spin_yield(&s, count_ready, &always); /* the probe */
	CU_ASSERT(y.probe_ns > pp_now_ns() + PP_SPIN_YIELD_PROBE_NS / 2);
	unsigned looked = always.calls;
	CU_ASSERT_FALSE(pp_spin_yield(&s, count_ready, &always)); /* none until the next probe */
	CU_ASSERT_EQUAL(always.calls, looked);
	int st;
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
}

/* Two processes on two CPUs: the child publishes a word after a short
 * delay; the parent's spin sees it without sleeping. */
static bool word_set(void *ctx)
{
	return atomic_load_explicit((_Atomic uint32_t *)ctx, memory_order_acquire) == 2;
}


static void test_two_processes(void)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || sched_getcpu() < 0) {
		fprintf(stderr, "(one CPU: two-process spin skipped) ");
		return;
	}
	struct pp_spin s = fresh(PP_SPIN_MAX_NS, 1);
	int me = sched_getcpu();
	int other = me == 0 ? 1 : 0;
	_Atomic uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(word != MAP_FAILED);
	cpu_set_t on_me, on_other;
	CPU_ZERO(&on_me);
	CPU_SET(me, &on_me);
	CPU_ZERO(&on_other);
	CPU_SET(other, &on_other);
	int ok = 0;
	for (int round = 0; round < 20; round++) {
		atomic_store(word, 0);
		/* The child must start on the other CPU: one inheriting ours
		 * could not run while we spin (the rule spin.h enforces). */
		sched_setaffinity(0, sizeof on_other, &on_other);
		pid_t pid = fork();
		if (pid == 0) {
			atomic_store_explicit(word, 1, memory_order_release); /* running */
			uint64_t until = pp_now_ns() + 50 * US;
			while (pp_now_ns() < until)
				;
			atomic_store_explicit(word, 2, memory_order_release);
			_exit(0);
		}
		sched_setaffinity(0, sizeof on_me, &on_me);
		atomic_store(&peer, other);
		/* Once the child runs, its publish comes 50 us later: well inside
		 * the budget, so only a descheduled child makes the spin miss. */
		while (atomic_load(word) == 0)
			usleep(10);
		ok += pp_spin_wait(&s, word_set, (void *)word);
		CU_ASSERT_EQUAL(pp_test_wait_child(pid), 0);
	}
	/* A loaded machine may deschedule the child now and then, not every
	 * time. */
	if (ok < 20)
		fprintf(stderr, "(%d of 20 spins saw the publish) ", ok);
	CU_ASSERT(ok > 0);
	munmap((void *)word, 4096);
}

int main(void)
{
	hdr = aligned_alloc(PP_CACHELINE, sizeof *hdr);
	if (!hdr)
		return 1;
	static const struct pp_test tests[] = {
		{ "no_spin_cases", test_no_spin_cases },
		{ "spins_until_ready", test_spins_until_ready },
		{ "stops_at_budget", test_stops_at_budget },
		{ "budget_capped", test_budget_capped },
		{ "claims", test_claims },
		{ "average", test_average },
		{ "two_processes", test_two_processes },
		{ "yield", test_yield },
		{ "yield_backs_off", test_yield_backs_off },
	};
	int r = pp_test_main("spin", tests, PP_ARRAY_LEN(tests), NULL, NULL);
	free(hdr);
	return r;
}
