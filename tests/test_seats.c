/* test_seats.c - seats apart from connections (--seats > --max): every
 * worker holds a seat for its whole "web request" while the backend sees
 * at most --max connections; exchanges queue for an idle connection and
 * each worker gets its own answers. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"
#include "daemon_proc.h"
#include "phantompool.h"
#include "segment.h"
#include "testutil.h"

#define SEATS 12
#define CONNS 3

static struct pp_backend backend;
static struct pp_daemon_proc daemon_;

static int suite_setup(void)
{
	if (pp_backend_start(&backend, NULL) != 0)
		return -1;
	const char *args[] = { "-b", backend.url, "--max", "3", "--seats", "12", "--min", "1", NULL };
	return pp_daemon_start(&daemon_, pp_test_pool_name("seats"), args);
}

static int suite_teardown(void)
{
	int st = pp_daemon_stop(&daemon_);
	pp_backend_stop(&backend);
	return st == 0 ? 0 : -1;
}

/* The segment has SEATS slots and says CONNS connections at most. */
static void test_segment_counts(void)
{
	struct pp_seg seg;
	CU_ASSERT_FATAL(pp_seg_attach(daemon_.pool, false, &seg) == 0);
	CU_ASSERT_EQUAL(seg.nslots, SEATS);
	CU_ASSERT_EQUAL(seg.hdr->max_conns, CONNS);
	pp_seg_unmap(&seg);
}

/* SEATS processes each hold a lease for a "web request" of three queries
 * with 2 ms of work between them, again and again; every answer carries
 * the worker's own X-Request-Id; the backend never sees more than CONNS
 * connections at once. */
static void test_workers_hold_seats(void)
{
	struct tally {
		_Atomic long ok, wrong, failed;
	} *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(t != MAP_FAILED);
	memset(t, 0, sizeof *t);
	long acc0 = 0;
	CU_ASSERT_FATAL(pp_backend_connections(&backend, &acc0, NULL) == 0);
	uint64_t until = pp_now_ns() + 2 * PP_NS_PER_S;
	pid_t kids[SEATS];
	for (int w = 0; w < SEATS; w++) {
		if ((kids[w] = fork()) != 0)
			continue;
		pp_pool *p;
		if (pp_attach(daemon_.pool, &p) != 0)
			_exit(2);
		for (int i = 0; pp_now_ns() < until; i++) {
			struct pp_lease *l;
			if (pp_lease(p, 5000, &l) != 0) {
				atomic_fetch_add(&t->failed, 1);
				continue;
			}
			for (int q = 0; q < 3; q++) {
				char id[48];
				snprintf(id, sizeof id, "w%d-%d-%d", w, i, q);
				pp_header h = { "X-Request-Id", id };
				pp_req req = { .method = "GET", .path = "/health", .headers = &h, .nheaders = 1 };
				pp_resp resp;
				int r = pp_request(l, &req, &resp);
				if (r)
					atomic_fetch_add(&t->failed, 1);
				else if (resp.status == 200 && !strcmp(resp.request_id, id))
					atomic_fetch_add(&t->ok, 1);
				else
					atomic_fetch_add(&t->wrong, 1);
				pp_resp_free(&resp);
				usleep(2000);
			}
			pp_release(l);
		}
		pp_detach(p);
		_exit(0);
	}
	/* Meanwhile: the backend's open connections, sampled. */
	long most_open = 0;
	while (pp_now_ns() < until) {
		long open = 0;
		if (pp_backend_connections(&backend, NULL, &open) == 0 && open > most_open)
			most_open = open;
		usleep(20000);
	}
	int bad = 0;
	for (int w = 0; w < SEATS; w++)
		bad += pp_test_wait_child(kids[w]) != 0;
	long acc1 = 0;
	CU_ASSERT(pp_backend_connections(&backend, &acc1, NULL) == 0);
	printf("\n    %d workers holding seats, %d connections: %ld answers own, %ld wrong, %ld failed;"
	       " backend: at most %ld open, %ld accepted during the run",
	       SEATS, CONNS, t->ok, t->wrong, t->failed, most_open, acc1 - acc0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(t->ok > SEATS * 10);
	CU_ASSERT_EQUAL(t->wrong, 0);
	CU_ASSERT_EQUAL(t->failed, 0);
	CU_ASSERT(most_open <= CONNS);
	CU_ASSERT(acc1 - acc0 <= CONNS);
	/* pp_status shows seats and connections apart; exchanges queued. */
	pp_pool *p;
	pp_pool_status st;
	CU_ASSERT_FATAL(pp_attach(daemon_.pool, &p) == 0);
	CU_ASSERT_EQUAL(pp_status(p, &st), 0);
	printf("\n    pp_status: %u seats, %u connections at most, %u open, %u busy, %u queued;"
	       " %llu exchanges waited for a connection (p50 %llu us, max %llu us)",
	       st.max, st.conns_max, st.conns_open, st.conns_busy, st.queued, (unsigned long long)st.queue_waits,
	       (unsigned long long)st.queue_wait_p50_ns / 1000, (unsigned long long)st.queue_wait_max_ns / 1000);
	CU_ASSERT_EQUAL(st.max, SEATS);
	CU_ASSERT_EQUAL(st.conns_max, CONNS);
	CU_ASSERT(st.conns_open >= 1 && st.conns_open <= CONNS);
	CU_ASSERT_EQUAL(st.conns_busy, 0);
	CU_ASSERT_EQUAL(st.queued, 0);
	CU_ASSERT(st.queue_waits > 0);
	CU_ASSERT(st.queue_wait_max_ns >= st.queue_wait_p50_ns);
	pp_detach(p);
	munmap(t, sizeof *t);
}

/* A child that makes one request on its own attachment to pool and
 * writes when its answer came (ns, CLOCK_MONOTONIC) into *done. */
static pid_t timed_request(const char *pool, const char *path, _Atomic uint64_t *done)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	pp_pool *p;
	if (pp_attach(pool, &p) != 0)
		_exit(2);
	pp_req req = { .method = "GET", .path = path };
	pp_resp resp;
	int r = pp_do(p, &req, &resp);
	atomic_store(done, pp_now_ns());
	int ok = r == 0 && resp.status == 200;
	if (r == 0)
		pp_resp_free(&resp);
	pp_detach(p);
	_exit(ok ? 0 : 1);
}

/* First come, first served: with the one connection busy, B's request
 * queues; the daemon is then stopped while the busy exchange's answer
 * arrives and C's request comes in, and continued: the connection is
 * idle again in the same step that first sees C's request.  B, queued
 * first, must get it; C must not overtake the queue. */
static void test_fifo_queue(void)
{
	struct pp_daemon_proc d;
	const char *pool = pp_test_pool_name("fifo");
	const char *args[] = { "-b", backend.url, "--max", "1", "--seats", "4", "--min", "1", "--loops", "1", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pool, args) == 0);
	_Atomic uint64_t *done = mmap(NULL, 3 * sizeof *done, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(done != MAP_FAILED);
	memset((void *)done, 0, 3 * sizeof *done);
	pid_t a = timed_request(pool, "/health?delay_ms=400", &done[0]); /* holds the connection */
	usleep(100000);
	pid_t b = timed_request(pool, "/health?delay_ms=100", &done[1]); /* queues behind it */
	usleep(150000);
	CU_ASSERT_FATAL(kill(d.pid, SIGSTOP) == 0);
	usleep(250000); /* A's answer arrives at the stopped daemon */
	pid_t c = timed_request(pool, "/health?delay_ms=100", &done[2]);
	usleep(100000); /* C's request is in its ring */
	CU_ASSERT_FATAL(kill(d.pid, SIGCONT) == 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(a), 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(b), 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(c), 0);
	printf("\n    answers after A's: B (queued first) +%.1f ms, C (came while stopped) +%.1f ms",
	       (double)(done[1] - done[0]) / 1e6, (double)(done[2] - done[0]) / 1e6);
	CU_ASSERT(done[0] && done[1] && done[2]);
	CU_ASSERT(done[1] < done[2]);
	munmap((void *)done, 3 * sizeof *done);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "segment: --seats slots, --max connections", test_segment_counts },
		{ "12 workers hold seats, 3 connections serve them: own answers only", test_workers_hold_seats },
		{ "requests wait for a connection first come, first served", test_fifo_queue },
	};
	return pp_test_main("seats", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
