/* test_lease.c - leases over a real segment served by a real phantompoold:
 * mutual exclusion under 64 forked processes, timeouts, wakeups, reclaim of
 * SIGKILLed holders, fork and thread rules, and every bad input. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "backend_proc.h"
#include "daemon_proc.h"
#include "futex.h"
#include "layout.h"
#include "phantompool.h"
#include "segment.h"
#include "slot.h"
#include "testutil.h"

#define NSLOTS 8
static struct pp_daemon_proc daemon8;
static pp_pool *pool8;

static int suite_setup(void)
{
	const char *args[] = { "--max", "8", "--min", "2", NULL };
	if (pp_daemon_start(&daemon8, pp_test_pool_name("lease"), args) != 0)
		return -1;
	return pp_attach(daemon8.pool, &pool8) == 0 ? 0 : -1;
}

static int suite_teardown(void)
{
	pp_detach(pool8);
	return pp_daemon_stop(&daemon8) == 0 ? 0 : -1;
}

static uint32_t available(void)
{
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(pool8, &st), 0);
	return st.available;
}

static double ms_since(uint64_t t0)
{
	return (double)(pp_now_ns() - t0) / 1e6;
}

/* Shared between forked workers: current and highest holder counts. */
struct shared_counts {
	_Atomic int holders;
	_Atomic int max_holders;
	_Atomic int errors;
};

static void stress_worker(struct shared_counts *c, int cycles)
{
	for (int i = 0; i < cycles; i++) {
		struct pp_lease *l;
		int r = pp_lease(pool8, 10000, &l);
		if (r) {
			atomic_fetch_add(&c->errors, 1);
			continue;
		}
		int h = atomic_fetch_add(&c->holders, 1) + 1;
		int m = atomic_load(&c->max_holders);
		while (h > m && !atomic_compare_exchange_weak(&c->max_holders, &m, h))
			;
		if (i % 8 == 0)
			sched_yield(); /* hold across a reschedule now and then */
		atomic_fetch_sub(&c->holders, 1);
		if (pp_release(l) != 0)
			atomic_fetch_add(&c->errors, 1);
	}
}

static void test_64_processes_never_more_than_8_holders(void)
{
	struct shared_counts *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(c != MAP_FAILED);
	memset(c, 0, sizeof *c);
	pp_pool_status st0;
	CU_ASSERT_EQUAL(pp_status(pool8, &st0), 0);
	pid_t kids[64];
	for (int k = 0; k < 64; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			stress_worker(c, 10000);
			_exit(0);
		}
	}
	int bad_exits = 0;
	for (int k = 0; k < 64; k++)
		bad_exits += pp_test_wait_child(kids[k]) != 0;
	printf("\n    max holders seen %d, errors %d\n", c->max_holders, c->errors);
	CU_ASSERT_EQUAL(bad_exits, 0);
	CU_ASSERT_EQUAL(c->errors, 0);
	CU_ASSERT(c->max_holders <= NSLOTS);
	CU_ASSERT(c->max_holders >= 4); /* the test really contended */
	CU_ASSERT_EQUAL(available(), NSLOTS);
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(pool8, &st), 0);
	CU_ASSERT_EQUAL(st.used, 0);
	CU_ASSERT_EQUAL(st.waiting, 0);
	/* Nobody died: no slot needed a reset (a slot handed over to a sleeper
	 * that gave up on it, because its releaser had not unlocked it yet,
	 * was one). */
	printf("    slot resets: %llu\n", (unsigned long long)(st.reclaims - st0.reclaims));
	CU_ASSERT_EQUAL(st.reclaims, st0.reclaims);
	munmap(c, sizeof *c);
}

static void *stress_thread(void *arg)
{
	stress_worker(arg, 5000);
	return NULL;
}

static void test_threads_share_one_handle(void)
{
	enum { THREADS = 16 };
	static struct shared_counts c;
	memset(&c, 0, sizeof c);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CU_ASSERT_EQUAL(pthread_create(&t[i], NULL, stress_thread, &c), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(c.errors, 0);
	CU_ASSERT(c.max_holders <= NSLOTS);
	CU_ASSERT_EQUAL(available(), NSLOTS);
}

/* Lease every slot; returns how many were taken. */
static int lease_all(struct pp_lease **ls)
{
	int n = 0;
	while (n < NSLOTS && pp_lease(pool8, 0, &ls[n]) == 0)
		n++;
	return n;
}

static void release_all(struct pp_lease **ls, int n)
{
	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL(pp_release(ls[i]), 0);
}

static void test_timeout_is_honoured(void)
{
	struct pp_lease *ls[NSLOTS], *extra;
	CU_ASSERT_EQUAL_FATAL(lease_all(ls), NSLOTS);
	CU_ASSERT_EQUAL(pp_lease(pool8, 0, &extra), PP_ETIMEDOUT);
	int waits[] = { 50, 300 };
	for (size_t k = 0; k < PP_ARRAY_LEN(waits); k++) {
		uint64_t t0 = pp_now_ns();
		CU_ASSERT_EQUAL(pp_lease(pool8, waits[k], &extra), PP_ETIMEDOUT);
		double took = ms_since(t0);
		printf("\n    timeout %d ms took %.1f ms", waits[k], took);
		CU_ASSERT(took >= waits[k] - 1);
		CU_ASSERT(took < waits[k] + 100);
	}
	CU_ASSERT_PTR_NULL(extra);
	release_all(ls, NSLOTS);
	CU_ASSERT_EQUAL(available(), NSLOTS);
}

static void test_waiter_woken_by_release(void)
{
	struct pp_lease *ls[NSLOTS];
	CU_ASSERT_EQUAL_FATAL(lease_all(ls), NSLOTS);
	int fds[2];
	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid_t kid = fork();
	if (kid == 0) {
		struct pp_lease *l;
		uint64_t t0 = pp_now_ns();
		int r = pp_lease(pool8, 5000, &l);
		double waited = ms_since(t0);
		if (write(fds[1], &waited, sizeof waited) != sizeof waited)
			_exit(3);
		_exit(r == 0 && pp_release(l) == 0 ? 0 : 1);
	}
	usleep(200 * 1000); /* the child is asleep in pp_lease by now */
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(pool8, &st), 0);
	CU_ASSERT_EQUAL(st.waiting, 1);
	CU_ASSERT_EQUAL(pp_release(ls[0]), 0);
	double waited = 0;
	CU_ASSERT_EQUAL(read(fds[0], &waited, sizeof waited), (ssize_t)sizeof waited);
	printf("\n    woken after %.1f ms (release at ~200 ms)", waited);
	CU_ASSERT(waited >= 190 && waited < 400);
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 0);
	release_all(ls + 1, NSLOTS - 1);
	close(fds[0]);
	close(fds[1]);
	CU_ASSERT_EQUAL(available(), NSLOTS);
}

/* A slot released before the sleeper has waited PP_HANDOFF_AFTER_MS goes
 * back FREE without a wakeup (slot.h); the sleeper at the queue's head
 * polls and takes it within about PP_HEAD_POLL_MS. */
static void test_waiter_takes_a_slot_freed_early(void)
{
	struct pp_lease *ls[NSLOTS];
	CU_ASSERT_EQUAL_FATAL(lease_all(ls), NSLOTS);
	int fds[2];
	CU_ASSERT_FATAL(pipe(fds) == 0);
	uint64_t t0 = pp_now_ns();
	pid_t kid = fork();
	if (kid == 0) {
		struct pp_lease *l;
		int r = pp_lease(pool8, 5000, &l);
		uint64_t got = pp_now_ns();
		if (write(fds[1], &got, sizeof got) != sizeof got)
			_exit(3);
		_exit(r == 0 && pp_release(l) == 0 ? 0 : 1);
	}
	usleep(5 * 1000); /* less than PP_HANDOFF_AFTER_MS */
	uint64_t t_rel = pp_now_ns();
	CU_ASSERT_EQUAL(pp_release(ls[0]), 0);
	uint64_t got = 0;
	CU_ASSERT_EQUAL(read(fds[0], &got, sizeof got), (ssize_t)sizeof got);
	double after = got > t_rel ? (double)(got - t_rel) / 1e6 : 0;
	printf("\n    released %.1f ms into the wait; the sleeper had it %.1f ms later (poll every %u ms)",
	       (double)(t_rel - t0) / 1e6, after, PP_HEAD_POLL_MS);
	CU_ASSERT(got >= t_rel && after < 50);
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 0);
	release_all(ls + 1, NSLOTS - 1);
	close(fds[0]);
	close(fds[1]);
	CU_ASSERT_EQUAL(available(), NSLOTS);
}

/* Releasers that lease again at once keep their slots only until the
 * oldest sleeper has waited PP_HANDOFF_AFTER_MS: then the next release is
 * handed to it.  NSLOTS processes lease and release in a tight loop while
 * 8 more each take a lease now and then; no lease waits much beyond the
 * bound. */
static void test_sleepers_served_within_the_bound(void)
{
	_Atomic int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	_Atomic uint64_t *worst_ns = (_Atomic uint64_t *)(void *)(stop + 16);
	CU_ASSERT_FATAL((void *)stop != MAP_FAILED);
	*stop = 0;
	*worst_ns = 0;
	pid_t kids[NSLOTS + 8];
	for (int k = 0; k < NSLOTS + 8; k++) {
		if ((kids[k] = fork()) != 0)
			continue;
		int greedy = k < NSLOTS, leases = 0;
		while (!atomic_load(stop) || leases < 3) {
			struct pp_lease *l;
			uint64_t t0 = pp_now_ns();
			if (pp_lease(pool8, 5000, &l) != 0)
				_exit(1);
			uint64_t w = pp_now_ns() - t0, cur = atomic_load(worst_ns);
			while (w > cur && !atomic_compare_exchange_weak(worst_ns, &cur, w))
				;
			leases++;
			if (!greedy)
				usleep(200); /* hold it a little */
			if (pp_release(l) != 0)
				_exit(2);
			if (!greedy)
				usleep(2000);
		}
		_exit(0);
	}
	usleep(1500 * 1000);
	atomic_store(stop, 1);
	int bad = 0;
	for (int k = 0; k < NSLOTS + 8; k++)
		bad += pp_test_wait_child(kids[k]) != 0;
	double worst = (double)atomic_load(worst_ns) / 1e6;
	printf("\n    longest lease wait with %d greedy releasers: %.1f ms (bound %u ms + the queue ahead)", NSLOTS, worst,
	       PP_HANDOFF_AFTER_MS);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(worst < 500); /* generous for a loaded machine: starvation would be the whole run */
	CU_ASSERT_EQUAL(available(), NSLOTS);
	munmap((void *)stop, 4096);
}

/* Fork a child that leases one slot, reports, then sleeps until killed. */
static pid_t fork_holder(void)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t kid = fork();
	if (kid == 0) {
		struct pp_lease *l;
		char ok = pp_lease(pool8, 1000, &l) == 0 ? 'y' : 'n';
		if (write(fds[1], &ok, 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	char ok = 0;
	if (read(fds[0], &ok, 1) != 1 || ok != 'y') {
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
		kid = -1;
	}
	close(fds[0]);
	close(fds[1]);
	return kid;
}

static void test_sigkilled_holder_reclaimed_within_100ms(void)
{
	double worst = 0;
	for (int round = 0; round < 5; round++) {
		pid_t kid = fork_holder();
		CU_ASSERT_FATAL(kid > 0);
		CU_ASSERT_EQUAL(available(), NSLOTS - 1);
		uint64_t t0 = pp_now_ns();
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
		while (available() != NSLOTS && ms_since(t0) < 1000)
			usleep(500);
		double took = ms_since(t0);
		worst = took > worst ? took : worst;
	}
	printf("\n    worst reclaim after SIGKILL: %.1f ms", worst);
	CU_ASSERT(worst <= 100);
	CU_ASSERT_EQUAL(available(), NSLOTS);
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(pool8, &st), 0);
	CU_ASSERT(st.reclaims >= 5);
}

static void test_waiter_gets_slot_of_killed_holder(void)
{
	struct pp_lease *ls[NSLOTS];
	CU_ASSERT_EQUAL_FATAL(lease_all(ls), NSLOTS);
	CU_ASSERT_EQUAL(pp_release(ls[NSLOTS - 1]), 0);
	pid_t holder = fork_holder();
	CU_ASSERT_FATAL(holder > 0);
	struct pp_lease *l = NULL;
	uint64_t t0 = pp_now_ns();
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	CU_ASSERT_EQUAL(pp_lease(pool8, 2000, &l), 0);
	double took = ms_since(t0);
	printf("\n    waiter got the dead holder's slot after %.1f ms", took);
	CU_ASSERT(took < 100);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	release_all(ls, NSLOTS - 1);
	CU_ASSERT_EQUAL(available(), NSLOTS);
}

/* A sleeper stopped (SIGSTOP; a frozen cgroup alike) at the head of the
 * queue is handed the next released slot, which it cannot take while it
 * is stopped: the slot stayed out of use for as long as it was stopped,
 * and a live worker timed out on a pool with a slot released.  The daemon
 * takes back a hand-over not claimed within PP_QUEUE_HOLE_MS; the
 * stopped sleeper, once continued, joins the queue again and is served. */
static void test_stopped_sleeper_keeps_no_slot(void)
{
	struct pp_daemon_proc d;
	const char *args[] = { "--max", "1", "--min", "1", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("stopw"), args) == 0);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	struct pp_lease *l, *l2 = NULL;
	CU_ASSERT_FATAL(pp_lease(p, 0, &l) == 0);
	pid_t kid = fork();
	if (kid == 0) {
		struct pp_lease *x;
		int r = pp_lease(p, 10000, &x);
		_exit(r == 0 && pp_release(x) == 0 ? 0 : 1);
	}
	pp_pool_status st = { 0 };
	uint64_t t0 = pp_now_ns();
	while (ms_since(t0) < 2000 && (pp_status(p, &st) != 0 || st.waiting != 1))
		usleep(1000);
	CU_ASSERT_EQUAL(st.waiting, 1);
	usleep(50000); /* the queue's head, waiting past PP_HANDOFF_AFTER_MS */
	kill(kid, SIGSTOP);
	CU_ASSERT_EQUAL(pp_release(l), 0); /* handed to the stopped sleeper */
	t0 = pp_now_ns();
	int r = pp_lease(p, 2000, &l2);
	double took = ms_since(t0);
	printf("\n    the queue's head stopped when a slot was handed to it: lease %d after %.0f ms", r, took);
	CU_ASSERT_EQUAL(r, 0);
	if (!r)
		CU_ASSERT_EQUAL(pp_release(l2), 0);
	kill(kid, SIGCONT);
	int ex = pp_test_wait_child(kid);
	printf("; continued, the sleeper got a lease: %s", ex == 0 ? "yes" : "no");
	CU_ASSERT_EQUAL(ex, 0);
	CU_ASSERT_EQUAL(pp_status(p, &st), 0);
	CU_ASSERT_EQUAL(st.available, 1);
	pp_detach(p);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
}

/* A one-slot pool of its own (--max 1 --min 1), attached through the
 * library (p) and as a raw view of its segment (seg), for the queue
 * tests below. */
struct one_slot {
	struct pp_daemon_proc d;
	pp_pool *p;
	struct pp_seg seg;
};

static void one_slot_start(struct one_slot *o, const char *name)
{
	const char *args[] = { "--max", "1", "--min", "1", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&o->d, pp_test_pool_name(name), args) == 0);
	CU_ASSERT_FATAL(pp_attach(o->d.pool, &o->p) == 0);
	CU_ASSERT_FATAL(pp_seg_attach(o->d.pool, true, &o->seg) == 0);
}

static void one_slot_stop(struct one_slot *o)
{
	pp_seg_unmap(&o->seg);
	pp_detach(o->p);
	CU_ASSERT_EQUAL(pp_daemon_stop(&o->d), 0);
}

/* A sleeper stopped at the head of the queue while slots are released
 * before it has waited PP_HANDOFF_AFTER_MS: the slots go back FREE with
 * no hand-over, for the head to take on its next poll, which a stopped
 * head never makes.  The sleepers behind it sleep in PP_WAIT_SLICE_MS
 * slices, and the daemon's backstop (slots free while someone sleeps)
 * woke only the head again.  So a worker behind it timed out with a slot
 * free for its whole wait.  The release comes right after the head's
 * join time is set to now, so that it is not handed over. */
static void test_free_slot_behind_a_stopped_head(void)
{
	struct one_slot o;
	one_slot_start(&o, "stoph");
	pp_pool *p = o.p;
	struct pp_seg seg = o.seg; /* a copy of the view: one_slot_stop unmaps it */
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(p, 0, &l) == 0);
	pp_pool_status st = { 0 };
	pid_t head = fork();
	if (head == 0) {
		struct pp_lease *x;
		int r = pp_lease(p, 10000, &x);
		_exit(r == 0 && pp_release(x) == 0 ? 0 : 1);
	}
	uint64_t t0 = pp_now_ns();
	while (ms_since(t0) < 2000 && (pp_status(p, &st) != 0 || st.waiting != 1))
		usleep(1000);
	CU_ASSERT_EQUAL(st.waiting, 1);
	kill(head, SIGSTOP);
	uint64_t q = atomic_load(&seg.hdr->q_head);
	uint32_t rec = (uint32_t)(atomic_load(&seg.hdr->queue[q % PP_MAX_WAITERS]) & 0xffff) - 1;
	CU_ASSERT_FATAL(rec < PP_MAX_WAITERS);
	int fds[2];
	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid_t behind = fork();
	if (behind == 0) {
		struct pp_lease *x;
		int r = pp_lease(p, 80, &x); /* less than PP_WAIT_SLICE_MS */
		if (write(fds[1], &r, sizeof r) != sizeof r)
			_exit(3);
		_exit(r == 0 && pp_release(x) == 0 ? 0 : 1);
	}
	t0 = pp_now_ns();
	while (ms_since(t0) < 2000 && (pp_status(p, &st) != 0 || st.waiting != 2))
		usleep(500);
	CU_ASSERT_EQUAL(st.waiting, 2);
	atomic_store(&seg.waiters[rec].since_ns, pp_now_ns()); /* the head has not waited long */
	CU_ASSERT_EQUAL(pp_release(l), 0);
	uint64_t t_rel = pp_now_ns();
	int r = -100;
	CU_ASSERT_EQUAL(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
	printf("\n    slot released behind a stopped head: the sleeper behind it got %d after %.0f ms (timeout 80 ms)", r,
	       ms_since(t_rel));
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(behind), 0);
	kill(head, SIGCONT);
	CU_ASSERT_EQUAL(pp_test_wait_child(head), 0);
	close(fds[0]);
	close(fds[1]);
	CU_ASSERT_EQUAL(pp_status(p, &st), 0);
	CU_ASSERT_EQUAL(st.available, 1);
	one_slot_stop(&o);
}

/* The sleepers' queue is a ring of PP_MAX_WAITERS entries, and a sleeper
 * that leaves (a timeout) leaves its entry behind until the head passes
 * it.  While one sleeper waits at the head (all slots held), others that
 * join and time out behind it fill the ring: the PP_MAX_WAITERS + 1th
 * ticket overwrote the head's own entry.  The head then was in the queue
 * no longer: the release that should have been handed to it went FREE,
 * and against a worker that leases again at once it got a slot only if
 * one of its scans (every PP_WAIT_SLICE_MS) found one, and timed out. */
static void test_queue_full_of_leavers_keeps_its_head(void)
{
	struct one_slot o;
	one_slot_start(&o, "qwrap");
	pp_pool *p = o.p;
	struct pp_seg seg = o.seg; /* a copy of the view: one_slot_stop unmaps it */
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(p, 0, &l) == 0);
	int fds[2];
	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid_t head = fork();
	if (head == 0) {
		struct pp_lease *x;
		int r = pp_lease(p, 4000, &x);
		if (write(fds[1], &r, sizeof r) != sizeof r)
			_exit(3);
		_exit(r == 0 && pp_release(x) == 0 ? 0 : 1);
	}
	pp_pool_status st = { 0 };
	uint64_t t0 = pp_now_ns();
	while (ms_since(t0) < 2000 && (pp_status(p, &st) != 0 || st.waiting != 1))
		usleep(1000);
	CU_ASSERT_EQUAL(st.waiting, 1);
	int timeouts = 0;
	for (unsigned i = 0; i < PP_MAX_WAITERS + 64; i++) {
		struct pp_lease *x;
		timeouts += pp_lease(p, 1, &x) == PP_ETIMEDOUT;
	}
	CU_ASSERT_EQUAL(timeouts, PP_MAX_WAITERS + 64);
	uint64_t span = atomic_load(&seg.hdr->q_tail) - atomic_load(&seg.hdr->q_head);
	/* Now lease again at once after each release, holding 2 ms. */
	CU_ASSERT_EQUAL(pp_release(l), 0);
	int r = -100, cycles = 0;
	t0 = pp_now_ns();
	while (ms_since(t0) < 3000) {
		struct pp_lease *x;
		if (pp_lease(p, 100, &x) == 0) {
			cycles++;
			usleep(2000);
			CU_ASSERT(pp_release(x) == 0);
		}
		struct pollfd pf = { .fd = fds[0], .events = POLLIN };
		if (poll(&pf, 1, 0) == 1)
			break;
	}
	CU_ASSERT_EQUAL(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
	printf("\n    %u sleepers timed out behind the head (queue span %llu): the head got %d after %.0f ms, "
	       "%d leases of a releaser leasing again meanwhile",
	       PP_MAX_WAITERS + 64, (unsigned long long)span, r, ms_since(t0), cycles);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(head), 0);
	close(fds[0]);
	close(fds[1]);
	CU_ASSERT_EQUAL(pp_status(p, &st), 0);
	CU_ASSERT_EQUAL(st.available, 1);
	CU_ASSERT_EQUAL(st.waiting, 0);
	one_slot_stop(&o);
}

/* A sleeper that finds the queue full (a head waiting, PP_MAX_WAITERS
 * entries of sleepers that left behind it) waits without a place, and no
 * release hands it a slot: the daemon's tick must wake it for a slot
 * that goes FREE, or it sleeps out its PP_WAIT_SLICE_MS. */
static void test_unqueued_sleeper_woken_for_a_free_slot(void)
{
	struct one_slot o;
	one_slot_start(&o, "qfull");
	pp_pool *p = o.p;
	struct pp_seg seg = o.seg; /* a copy of the view: one_slot_stop unmaps it */
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(p, 0, &l) == 0);
	pid_t head = fork();
	if (head == 0) {
		struct pp_lease *x;
		int r = pp_lease(p, 4000, &x);
		_exit(r == 0 && pp_release(x) == 0 ? 0 : 1); /* at once: the slot goes FREE */
	}
	pp_pool_status st = { 0 };
	uint64_t t0 = pp_now_ns();
	while (ms_since(t0) < 2000 && (pp_status(p, &st) != 0 || st.waiting != 1))
		usleep(1000);
	CU_ASSERT_EQUAL(st.waiting, 1);
	for (unsigned i = 0; i < PP_MAX_WAITERS + 64; i++) {
		struct pp_lease *x;
		CU_ASSERT(pp_lease(p, 1, &x) == PP_ETIMEDOUT);
	}
	CU_ASSERT_EQUAL(atomic_load(&seg.hdr->q_tail) - atomic_load(&seg.hdr->q_head), PP_MAX_WAITERS);
	int fds[2];
	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid_t late = fork();
	if (late == 0) {
		struct pp_lease *x;
		int r = pp_lease(p, 80, &x); /* less than PP_WAIT_SLICE_MS */
		if (write(fds[1], &r, sizeof r) != sizeof r)
			_exit(3);
		_exit(r == 0 && pp_release(x) == 0 ? 0 : 1);
	}
	t0 = pp_now_ns();
	while (ms_since(t0) < 2000 && (pp_status(p, &st) != 0 || st.waiting != 2))
		usleep(500);
	CU_ASSERT_EQUAL(st.waiting, 2);
	CU_ASSERT_EQUAL(pp_release(l), 0); /* to the head, which releases it at once */
	uint64_t t_rel = pp_now_ns();
	int r = -100;
	CU_ASSERT_EQUAL(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
	printf("\n    a sleeper that found the queue full got %d %.0f ms after the slot was released (timeout 80 ms)", r,
	       ms_since(t_rel));
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(late), 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(head), 0);
	close(fds[0]);
	close(fds[1]);
	one_slot_stop(&o);
}

/* A releaser preempted (or stopped) between publishing a hand-over
 * (HANDOFF) and unlocking the slot's owner lock: the sleeper it handed
 * the slot to cannot take the lock, gives up after 5 ms and queues again,
 * and the hand-over then names a queue entry nobody waits on.  The
 * reaper reset such a slot as "handed to a sleeper that is gone" while
 * the live releaser still held the lock, and re-initialised the mutex
 * under it: the releaser's unlock failed (EPERM), leaving the mutex on
 * its thread's robust list while the next holder's glibc linked it into
 * its own.  The releaser is played by hand in a child (the steps of
 * pp_slot_hand_over up to the unlock), as no signal lands on that
 * instruction; the sleeper is a real pp_lease. */
static void test_handoff_waits_for_its_releaser(void)
{
	struct one_slot o;
	one_slot_start(&o, "relstop");
	pp_pool *p = o.p;
	struct pp_seg seg = o.seg; /* a copy of the view: one_slot_stop unmaps it */
	struct pp_slot *s = &seg.slots[0];
	int go[2], res[2];
	CU_ASSERT_FATAL(pipe(go) == 0 && pipe(res) == 0);
	pid_t rel = fork();
	if (rel == 0) {
		/* The holder: the slot's owner lock, then LEASED. */
		char c;
		if (pthread_mutex_trylock(&s->owner_lock) != 0)
			_exit(10);
		atomic_store(&s->state, PP_SLOT_LEASED);
		if (write(res[1], "L", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(11);
		/* The release, up to the unlock (pp_slot_hand_over). */
		struct pp_shm_header *h = seg.hdr;
		uint64_t hd = atomic_load(&h->q_head);
		uint64_t e = atomic_load(&h->queue[hd % PP_MAX_WAITERS]);
		uint32_t rec = (uint32_t)(e & 0xffff) - 1, zero = 0;
		if (rec >= PP_MAX_WAITERS || !atomic_compare_exchange_strong(&h->q_head, &hd, hd + 1) ||
		    !atomic_compare_exchange_strong(&seg.waiters[rec].assigned, &zero, 1))
			_exit(12);
		atomic_store(&s->handoff, e);
		atomic_store(&s->state, PP_SLOT_HANDOFF);
		atomic_fetch_add(&seg.waiters[rec].futex, 1);
		pp_futex_wake(&seg.waiters[rec].futex, 1);
		if (write(res[1], "H", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(13);
		/* Scheduled again: the unlock. */
		int r = pthread_mutex_unlock(&s->owner_lock);
		_exit(r == 0 ? 0 : r == EPERM ? 20 : 21);
	}
	char c = 0;
	CU_ASSERT_FATAL(read(res[0], &c, 1) == 1 && c == 'L');
	pid_t kid = fork();
	if (kid == 0) {
		struct pp_lease *x;
		int r = pp_lease(p, 3000, &x);
		_exit(r == 0 && pp_release(x) == 0 ? 0 : 1);
	}
	pp_pool_status st = { 0 };
	uint64_t t0 = pp_now_ns();
	while (ms_since(t0) < 2000 && (pp_status(p, &st) != 0 || st.waiting != 1))
		usleep(1000);
	CU_ASSERT_EQUAL(st.waiting, 1);
	usleep(30000); /* the sleeper is the queue's head */
	CU_ASSERT(write(go[1], "g", 1) == 1);
	CU_ASSERT(read(res[0], &c, 1) == 1 && c == 'H');
	usleep(150000); /* the sleeper gave up on the slot and the reaper looked, many times */
	uint32_t mid = atomic_load(&s->state);
	CU_ASSERT(write(go[1], "g", 1) == 1);
	int rex = pp_test_wait_child(rel), kex = pp_test_wait_child(kid);
	printf("\n    slot state 150 ms into a releaser's stall: %s; its unlock: %s; the sleeper's lease: %s",
	       pp_slot_state_name(mid), rex == 0 ? "ok" : rex == 20 ? "EPERM (the lock was re-initialised)" : "?",
	       kex == 0 ? "ok" : "failed");
	CU_ASSERT_EQUAL(rex, 0);
	CU_ASSERT_EQUAL(kex, 0);
	t0 = pp_now_ns();
	while (ms_since(t0) < 1000 && (pp_status(p, &st) != 0 || st.available != 1))
		usleep(1000);
	CU_ASSERT_EQUAL(st.available, 1);
	close(go[0]);
	close(go[1]);
	close(res[0]);
	close(res[1]);
	one_slot_stop(&o);
}

static void test_fork_after_attach(void)
{
	struct pp_lease *mine;
	CU_ASSERT_EQUAL_FATAL(pp_lease(pool8, 0, &mine), 0);
	pid_t kid = fork();
	if (kid == 0) {
		/* The handle works in the child, its leases stamped with the
		 * child's pid (pool.c: cached_pid, reset at fork); the parent's
		 * lease does not cross. */
		struct pp_lease *l;
		struct pp_seg seg;
		int ok = pp_lease(pool8, 1000, &l) == 0 && pp_seg_attach(daemon8.pool, false, &seg) == 0;
		ok = ok && atomic_load(&pp_seg_slot(&seg, (uint32_t)pp_lease_slot(l))->owner_pid) == getpid();
		ok = ok && pp_release(l) == 0;
		ok = ok && pp_release(mine) == PP_ENOTOWNER;
		_exit(ok ? 0 : 1);
	}
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 0);
	CU_ASSERT_EQUAL(available(), NSLOTS - 1); /* still the parent's */
	CU_ASSERT_EQUAL(pp_release(mine), 0);
	CU_ASSERT_EQUAL(available(), NSLOTS);
}

static void *release_other_thread(void *arg)
{
	return (void *)(intptr_t)pp_release(arg);
}

static void test_release_errors(void)
{
	struct pp_lease *l;
	CU_ASSERT_EQUAL_FATAL(pp_lease(pool8, 0, &l), 0);
	pthread_t t;
	void *ret;
	pthread_create(&t, NULL, release_other_thread, l);
	pthread_join(t, &ret);
	CU_ASSERT_EQUAL((intptr_t)ret, PP_ENOTOWNER);
	CU_ASSERT_EQUAL(available(), NSLOTS - 1);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	CU_ASSERT_EQUAL(pp_release(l), PP_ERELEASED);
	CU_ASSERT_EQUAL(available(), NSLOTS);
	CU_ASSERT_EQUAL(pp_release(NULL), PP_EINVAL);
}

/* A thread that ends holding a lease: the kernel marks its owner lock and
 * the daemon reclaims the slot, but the process's lease record stays
 * stamped with that thread's pthread_t, and glibc gives the next thread
 * it creates the same pthread_t (its cached stack).  That thread is not
 * the holder: whatever it does with the stale record (pp_detach releases
 * every lease of the calling thread) must answer PP_ELOST and leave the
 * slot alone, now another process's lease. */
struct stale_ctx {
	pp_pool *pool;
	struct pp_lease *l;
	pthread_t first;
	bool streaming; /* the first thread ends in the middle of a stream */
	bool same_thread_id;
	int begin, release;
};

static void *lease_and_exit(void *arg)
{
	struct stale_ctx *c = arg;
	pp_req req = { .method = "POST", .path = "/_debug/sum" };
	if (pp_lease(c->pool, 1000, &c->l) != 0)
		c->l = NULL;
	else if (c->streaming && pp_stream_begin(c->l, &req, -1) != 0)
		c->l = NULL;
	return NULL; /* the lease is never released */
}

static void *use_stale(void *arg)
{
	struct stale_ctx *c = arg;
	c->same_thread_id = pthread_equal(pthread_self(), c->first);
	pp_req req = { .method = "POST", .path = "/_debug/sum" };
	if (c->streaming)
		c->begin = pp_stream_write(c->l, "GARBAGE", 7); /* would land in the holder's request ring */
	else
		c->begin = pp_stream_begin(c->l, &req, -1);
	c->release = pp_release(c->l);
	return NULL;
}

/* The next holder's exchange, in a forked child: 0 if it got its answer. */
static int holder_request(struct pp_lease *l)
{
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp;
	int r = pp_request(l, &req, &resp);
	int ok = r == 0 && resp.status == 200;
	pp_resp_free(&resp);
	return ok ? 0 : 1;
}

static void run_stale_lease_case(bool streaming)
{
	struct pp_backend be;
	CU_ASSERT_FATAL(pp_backend_start(&be, NULL) == 0);
	struct pp_daemon_proc d;
	const char *args[] = { "-b", be.url, "--max", "1", "--min", "1", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("stale"), args) == 0);
	struct stale_ctx c = { .streaming = streaming };
	CU_ASSERT_FATAL(pp_attach(d.pool, &c.pool) == 0);
	struct pp_seg seg;
	CU_ASSERT_FATAL(pp_seg_attach(d.pool, false, &seg) == 0);
	CU_ASSERT_FATAL(pthread_create(&c.first, NULL, lease_and_exit, &c) == 0);
	pthread_join(c.first, NULL);
	CU_ASSERT_FATAL(c.l != NULL);
	/* The daemon takes the slot back, and another process leases it. */
	uint64_t t0 = pp_now_ns();
	pp_pool_status st = { 0 };
	while (ms_since(t0) < 2000 && (pp_status(c.pool, &st) != 0 || st.available != 1))
		usleep(1000);
	CU_ASSERT_EQUAL_FATAL(st.available, 1);
	int up[2], down[2];
	CU_ASSERT_FATAL(pipe(up) == 0 && pipe(down) == 0);
	pid_t kid = fork();
	if (kid == 0) {
		struct pp_lease *l;
		char ok = pp_lease(c.pool, 1000, &l) == 0 ? 'y' : 'n', go;
		if (write(up[1], &ok, 1) != 1 || read(down[0], &go, 1) != 1)
			_exit(100);
		if (holder_request(l) != 0)
			_exit(101); /* its exchange read what the stale record wrote */
		_exit(-pp_release(l)); /* 0: its lease was left alone */
	}
	char ok = 0;
	CU_ASSERT_FATAL(read(up[0], &ok, 1) == 1 && ok == 'y');
	const struct pp_slot *s = pp_seg_slot(&seg, 0);
	uint64_t token = atomic_load(&s->token);
	pthread_t second;
	CU_ASSERT_FATAL(pthread_create(&second, NULL, use_stale, &c) == 0);
	pthread_join(second, NULL);
	printf("\n    same pthread_t: %s; stale lease: %s %d, pp_release %d; holder's stamp %s",
	       c.same_thread_id ? "yes" : "no", streaming ? "pp_stream_write" : "pp_stream_begin", c.begin, c.release,
	       atomic_load(&s->owner_pid) == kid && atomic_load(&s->token) == token &&
			       atomic_load(&s->state) == PP_SLOT_LEASED ? "kept" : "changed");
	CU_ASSERT(c.same_thread_id); /* else this run did not test the case */
	CU_ASSERT_EQUAL(c.begin, PP_ELOST);
	CU_ASSERT_EQUAL(c.release, PP_ELOST);
	CU_ASSERT_EQUAL(atomic_load(&s->owner_pid), kid);
	CU_ASSERT_EQUAL(atomic_load(&s->token), token);
	CU_ASSERT_EQUAL(atomic_load(&s->state), PP_SLOT_LEASED);
	CU_ASSERT_EQUAL(write(down[1], "g", 1), 1);
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 0); /* the holder's exchange and release worked */
	for (int i = 0; i < 2; i++) {
		close(up[i]);
		close(down[i]);
	}
	pp_seg_unmap(&seg);
	pp_detach(c.pool);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	pp_backend_stop(&be);
}

static void test_stale_lease_of_an_ended_thread(void)
{
	run_stale_lease_case(false);
}

/* The same with the first thread ended in the middle of a stream: the
 * stale record's pp_stream_write must not write into the ring of the
 * slot's next holder. */
static void test_stale_stream_of_an_ended_thread(void)
{
	run_stale_lease_case(true);
}

static void test_null_handles(void)
{
	struct pp_lease *l = (void *)1;
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_attach(NULL, NULL), PP_EINVAL);
	CU_ASSERT_EQUAL(pp_lease(NULL, 0, &l), PP_EINVAL);
	CU_ASSERT_EQUAL(pp_lease(pool8, 0, NULL), PP_EINVAL);
	CU_ASSERT_EQUAL(pp_status(NULL, &st), PP_EINVAL);
	CU_ASSERT_EQUAL(pp_status(pool8, NULL), PP_EINVAL);
	CU_ASSERT_EQUAL(pp_lease_slot(NULL), -1);
	pp_detach(NULL);
	CU_ASSERT_EQUAL(available(), NSLOTS);
}

static void test_unknown_and_invalid_pools(void)
{
	pp_pool *p = (void *)1;
	CU_ASSERT_EQUAL(pp_attach("no-such-pool-here", &p), PP_ENOPOOL);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_EQUAL(pp_attach("bad/name", &p), PP_ENAME);
	CU_ASSERT_EQUAL(pp_attach("..", &p), PP_ENAME);
	CU_ASSERT_EQUAL(pp_attach("this-name-is-far-too-long-for-a-pool-name-really", &p), PP_ENAME);
	for (int e = 0; e >= PP_ENOLIB; e--)
		CU_ASSERT(strcmp(pp_strerror(e), "unknown error") != 0);
	CU_ASSERT_STRING_EQUAL(pp_strerror(-999), "unknown error");
	CU_ASSERT_STRING_EQUAL(pp_strerror(5), "unknown error");
}

/* Write a fake segment /phantompool-<pool> by hand. */
static void write_fake_segment(const char *pool, void (*mutate)(struct pp_shm_header *, size_t), size_t size)
{
	char name[96];
	snprintf(name, sizeof name, "/phantompool-%s", pool);
	int fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, (off_t)size) == 0);
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	CU_ASSERT_FATAL(m != MAP_FAILED);
	mutate(m, size);
	munmap(m, size);
}

static void fake_valid_header(struct pp_shm_header *h, size_t size)
{
	h->magic = PP_SHM_MAGIC;
	h->layout_version = PP_LAYOUT_VERSION;
	h->header_size = sizeof *h;
	h->segment_size = size;
	h->nslots = 1;
	h->ring_size = PP_RING_MIN;
	h->slot_size = sizeof(struct pp_slot);
	h->slots_off = PP_SLOTS_OFF;
	h->rings_off = pp_layout_rings_off(1);
	h->daemon_pid = getpid();
	h->daemon_state = PP_DAEMON_READY;
	h->heartbeat_ns = pp_now_ns();
}

static void fake_other_version(struct pp_shm_header *h, size_t size)
{
	fake_valid_header(h, size);
	h->layout_version = PP_LAYOUT_VERSION + 1;
}

static void fake_garbage(struct pp_shm_header *h, size_t size)
{
	unsigned char *b = (unsigned char *)h;
	srand(7);
	for (size_t i = 0; i < size; i++)
		b[i] = (unsigned char)rand();
}

static void fake_bad_offsets(struct pp_shm_header *h, size_t size)
{
	fake_valid_header(h, size);
	h->nslots = 100000;
}

static void fake_dead_daemon(struct pp_shm_header *h, size_t size)
{
	fake_valid_header(h, size);
	h->daemon_state = PP_DAEMON_STOPPED;
}

static void test_bad_segments(void)
{
	size_t size = pp_layout_size(1, PP_RING_MIN);
	struct {
		void (*mutate)(struct pp_shm_header *, size_t);
		int expect;
	} cases[] = {
		{ fake_other_version, PP_EVERSION },
		{ fake_garbage, PP_ECORRUPT },
		{ fake_bad_offsets, PP_ECORRUPT },
		{ fake_dead_daemon, PP_EDAEMON },
	};
	const char *pool = pp_test_pool_name("fake");
	char name[64];
	snprintf(name, sizeof name, "%s", pool);
	for (size_t i = 0; i < PP_ARRAY_LEN(cases); i++) {
		pp_pool *p = (void *)1;
		write_fake_segment(name, cases[i].mutate, size);
		CU_ASSERT_EQUAL(pp_attach(name, &p), cases[i].expect);
		CU_ASSERT_PTR_NULL(p);
	}
	/* A segment of the wrong size for its header. */
	write_fake_segment(name, fake_valid_header, size);
	char shm[96];
	snprintf(shm, sizeof shm, "/phantompool-%s", name);
	int fd = shm_open(shm, O_RDWR, 0);
	CU_ASSERT(fd >= 0 && ftruncate(fd, (off_t)size + 4096) == 0);
	close(fd);
	pp_pool *p;
	CU_ASSERT_EQUAL(pp_attach(name, &p), PP_ECORRUPT);
	shm_unlink(shm);
}

static void test_daemon_death_wakes_waiters(void)
{
	struct pp_daemon_proc d;
	const char *args[] = { "--max", "1", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("death"), args) == 0);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	struct pp_lease *l, *l2;
	CU_ASSERT_EQUAL(pp_lease(p, 0, &l), 0);
	pid_t kid = fork();
	if (kid == 0) {
		uint64_t t0 = pp_now_ns();
		int r = pp_lease(p, 10000, &l2);
		_exit(r == PP_EDAEMON && ms_since(t0) < 2500 ? 0 : 1);
	}
	usleep(100 * 1000);
	pp_daemon_kill(&d);
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 0);
	pp_detach(p);
	/* A new daemon replaces the stale segment. */
	CU_ASSERT_FATAL(pp_daemon_start(&d, d.pool, args) == 0);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
}

static void test_second_daemon_refused_and_clean_exit(void)
{
	uint64_t t0 = pp_now_ns();
	pid_t kid = fork();
	if (kid == 0) {
		execl(pp_test_build_path("phantompoold"), "phantompoold", "-f", "-p", daemon8.pool,
		      "--pidfile", daemon8.pidfile, (char *)NULL);
		_exit(127);
	}
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 1);
	CU_ASSERT(ms_since(t0) < 2000);
	CU_ASSERT_EQUAL(available(), NSLOTS); /* the first one is untouched */

	struct pp_daemon_proc d;
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("clean"), NULL) == 0);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	char shm[96];
	snprintf(shm, sizeof shm, "/dev/shm/phantompool-%s", d.pool);
	CU_ASSERT_EQUAL(access(shm, F_OK), -1);
	CU_ASSERT_EQUAL(access(d.pidfile, F_OK), -1);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "64 processes x 10000 cycles on 8 slots", test_64_processes_never_more_than_8_holders },
		{ "16 threads share one handle", test_threads_share_one_handle },
		{ "lease timeout is honoured", test_timeout_is_honoured },
		{ "a waiter is woken by a release", test_waiter_woken_by_release },
		{ "a waiter takes a slot freed before the hand-over bound", test_waiter_takes_a_slot_freed_early },
		{ "sleepers are served within the bound while others lease in a loop",
		  test_sleepers_served_within_the_bound },
		{ "SIGKILLed holder reclaimed within 100 ms", test_sigkilled_holder_reclaimed_within_100ms },
		{ "a waiter gets a killed holder's slot", test_waiter_gets_slot_of_killed_holder },
		{ "a stopped sleeper keeps no slot handed to it from the others", test_stopped_sleeper_keeps_no_slot },
		{ "a slot freed behind a stopped head goes to a sleeper behind it", test_free_slot_behind_a_stopped_head },
		{ "a head keeps its place while more sleepers than the queue holds leave behind it",
		  test_queue_full_of_leavers_keeps_its_head },
		{ "a sleeper that found the queue full is woken for a free slot",
		  test_unqueued_sleeper_woken_for_a_free_slot },
		{ "a hand-over waits for its releaser's unlock", test_handoff_waits_for_its_releaser },
		{ "handle works after fork, lease does not cross", test_fork_after_attach },
		{ "release from another thread, double release", test_release_errors },
		{ "a stale lease of an ended thread leaves the slot's next holder alone", test_stale_lease_of_an_ended_thread },
		{ "a stale stream of an ended thread writes nothing into the next holder's ring", test_stale_stream_of_an_ended_thread },
		{ "NULL handles", test_null_handles },
		{ "unknown and invalid pool names", test_unknown_and_invalid_pools },
		{ "other layout version, garbage, bad sizes", test_bad_segments },
		{ "daemon death wakes waiters; restart replaces segment", test_daemon_death_wakes_waiters },
		{ "second daemon refused; clean exit unlinks", test_second_daemon_refused_and_clean_exit },
	};
	return pp_test_main("lease", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
