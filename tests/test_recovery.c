/* test_recovery.c - the pool recovers by itself: a daemon killed under
 * load (workers get PP_EDAEMON fast, then re-attach to its replacement),
 * a backend stopped under load or while the pool idles (requests fail
 * fast with PP_EBACKEND, and succeed again soon after it returns), with no
 * thread or fd leaks. */
#include <signal.h>
#include <stdbool.h>
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
#include "testutil.h"

#define WORKERS 16

/* Shared by the forked workers. */
struct board {
	_Atomic int stop;
	_Atomic uint64_t kill_ns;        /* when the daemon/backend was killed */
	_Atomic uint64_t restart_ns;     /* when it was back */
	_Atomic uint64_t worst_fail_ns;  /* latest first-failure after kill_ns */
	_Atomic uint64_t worst_recover_ns; /* latest first-success after restart_ns */
	_Atomic long ok, failed, wrong_code, slow_fail;
	_Atomic int last_wrong; /* the last unexpected code, for the report */
	_Atomic uint64_t max_fail_latency_ns;
};

static struct board *board_new(void)
{
	struct board *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(b, 0, sizeof *b);
	return b;
}

static void raise_max(_Atomic uint64_t *m, uint64_t v)
{
	uint64_t c = atomic_load(m);
	while (v > c && !atomic_compare_exchange_weak(m, &c, v))
		;
}

/* One long-lived worker: loops pp_do on its own handle (attached before
 * the fork, as a pre-fork server does) and notes when it first failed
 * after the kill and first succeeded after the restart. */
static void worker(pp_pool *p, struct board *b, int expect_code, const char *path)
{
	bool failed_since_kill = false, recovered = false;
	while (!atomic_load(&b->stop)) {
		pp_req req = { .method = "GET", .path = path };
		pp_resp resp;
		uint64_t t0 = pp_now_ns();
		int r = pp_do(p, &req, &resp);
		uint64_t t1 = pp_now_ns();
		uint64_t k = atomic_load(&b->kill_ns), s = atomic_load(&b->restart_ns);
		if (r == 0 && resp.status == 200) {
			atomic_fetch_add(&b->ok, 1);
			if (s && t0 > s && !recovered) {
				recovered = true;
				raise_max(&b->worst_recover_ns, t1 - s);
			}
		} else {
			atomic_fetch_add(&b->failed, 1);
			if (r != expect_code && r != 0) {
				atomic_fetch_add(&b->wrong_code, 1);
				atomic_store(&b->last_wrong, r);
			}
			if (k && !s)
				raise_max(&b->max_fail_latency_ns, t1 - t0);
			if (k && !failed_since_kill) {
				failed_since_kill = true;
				raise_max(&b->worst_fail_ns, t1 - k);
			}
			usleep(1000);
		}
		pp_resp_free(&resp);
	}
	_exit(recovered ? 0 : 3);
}

/* Fork WORKERS long-lived workers on p, let them run 300 ms, then mark
 * the moment of the failure the test is about to cause.  Returns the
 * requests done before it. */
static long start_workers(pp_pool *p, struct board *b, pid_t *kids, int expect, const char *path)
{
	for (int i = 0; i < WORKERS; i++)
		if ((kids[i] = fork()) == 0)
			worker(p, b, expect, path);
	usleep(300 * 1000);
	long before = atomic_load(&b->ok);
	atomic_store(&b->kill_ns, pp_now_ns());
	return before;
}

/* Stop the workers; returns how many never succeeded after the repair. */
static int stop_workers(struct board *b, const pid_t *kids)
{
	atomic_store(&b->stop, 1);
	int not_recovered = 0;
	for (int i = 0; i < WORKERS; i++)
		not_recovered += pp_test_wait_child(kids[i]) != 0;
	return not_recovered;
}

static void test_daemon_killed_under_load_then_replaced(void)
{
	struct pp_backend be;
	CU_ASSERT_FATAL(pp_backend_start(&be, NULL) == 0);
	struct pp_daemon_proc d;
	const char *args[] = { "-b", be.url, "--max", "4", "--min", "1", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("dkill"), args) == 0);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	struct board *b = board_new();
	pid_t kids[WORKERS];
	long before = start_workers(p, b, kids, PP_EDAEMON, "/health?delay_ms=5");
	pp_daemon_kill(&d);
	usleep(1500 * 1000); /* every worker has seen the loss by now */
	CU_ASSERT_FATAL(pp_daemon_start(&d, d.pool, args) == 0);
	atomic_store(&b->restart_ns, pp_now_ns());
	usleep(1500 * 1000);
	int not_recovered = stop_workers(b, kids);
	printf("\n    ok before kill %ld, total ok %ld, failed %ld; worst time to an error after kill %.0f ms;"
	       " worst time to success after restart %.0f ms; workers not recovered %d; wrong codes %ld",
	       before, b->ok, b->failed, b->worst_fail_ns / 1e6, b->worst_recover_ns / 1e6, not_recovered, b->wrong_code);
	if (b->wrong_code)
		printf(" (last: %s)", pp_strerror(b->last_wrong));
	CU_ASSERT(before > 0);
	CU_ASSERT(b->worst_fail_ns < 1500 * PP_NS_PER_MS);
	CU_ASSERT_EQUAL(not_recovered, 0);
	CU_ASSERT_EQUAL(b->wrong_code, 0);
	CU_ASSERT(b->worst_recover_ns < 1000 * PP_NS_PER_MS);
	pp_detach(p);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	pp_backend_stop(&be);
}

static void test_backend_down_fails_fast_and_recovers(void)
{
	struct pp_backend be;
	CU_ASSERT_FATAL(pp_backend_start(&be, NULL) == 0);
	struct pp_daemon_proc d;
	const char *args[] = { "-b", be.url, "--max", "4", "--min", "2", "--connect-timeout", "1000", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("bdown"), args) == 0);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	usleep(200 * 1000);
	int threads0 = pp_test_proc_entries(d.pid, "task"), fds0 = pp_test_proc_entries(d.pid, "fd");
	struct board *b = board_new();
	pid_t kids[WORKERS];
	long before = start_workers(p, b, kids, PP_EBACKEND, "/health");
	char port[16];
	snprintf(port, sizeof port, "%d", be.port);
	pp_backend_stop(&be);
	usleep(1000 * 1000);
	long failed_while_down = atomic_load(&b->failed);
	const char *again[] = { "--port", port, NULL };
	CU_ASSERT_FATAL(pp_backend_start(&be, again) == 0);
	atomic_store(&b->restart_ns, pp_now_ns());
	usleep(1500 * 1000);
	int not_recovered = stop_workers(b, kids);
	usleep(200 * 1000);
	int threads1 = pp_test_proc_entries(d.pid, "task"), fds1 = pp_test_proc_entries(d.pid, "fd");
	printf("\n    ok before %ld; failed while down %ld (slowest failure %.1f ms); worst time to an error %.0f ms;"
	       " worst recovery after the backend returned %.0f ms; threads %d -> %d, fds %d -> %d",
	       before, failed_while_down, b->max_fail_latency_ns / 1e6, b->worst_fail_ns / 1e6,
	       b->worst_recover_ns / 1e6, threads0, threads1, fds0, fds1);
	if (b->wrong_code)
		printf("; wrong codes %ld (last: %s)", b->wrong_code, pp_strerror(b->last_wrong));
	CU_ASSERT(before > 0);
	CU_ASSERT(failed_while_down > 0);
	CU_ASSERT_EQUAL(b->wrong_code, 0);
	CU_ASSERT(b->max_fail_latency_ns < 1000 * PP_NS_PER_MS); /* within the connect timeout */
	CU_ASSERT_EQUAL(not_recovered, 0);
	CU_ASSERT(b->worst_recover_ns < 1000 * PP_NS_PER_MS);
	CU_ASSERT_EQUAL(threads0, threads1);
	CU_ASSERT(fds1 <= fds0 + 2);
	pp_detach(p);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	pp_backend_stop(&be);
}

/* GET /health once: the pp_do result, the HTTP status in *status. */
static int get_health(pp_pool *p, int *status)
{
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp;
	int rc = pp_do(p, &req, &resp);
	*status = rc == 0 ? resp.status : 0;
	if (rc == 0)
		pp_resp_free(&resp);
	return rc;
}

/* The same with an idle pool, whose slot threads are in their long sleep
 * (up to 1 s): requests fail fast while the node is down, and succeed
 * within the probe backoff (at most 500 ms) once it is back. */
static void test_backend_down_while_idle_recovers(void)
{
	struct pp_backend be;
	CU_ASSERT_FATAL(pp_backend_start(&be, NULL) == 0);
	struct pp_daemon_proc d;
	const char *args[] = { "-b", be.url, "--max", "4", "--min", "2", "--connect-timeout", "1000", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("bidle"), args) == 0);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	int status;
	CU_ASSERT_EQUAL(get_health(p, &status), 0);
	CU_ASSERT_EQUAL(status, 200);
	usleep(1500 * 1000); /* every slot thread is in its long sleep now */
	char port[16];
	snprintf(port, sizeof port, "%d", be.port);
	pp_backend_stop(&be);
	int failures = 0;
	for (int i = 0; i < 3; i++)
		failures += get_health(p, &status) != 0;
	const char *again[] = { "--port", port, NULL };
	CU_ASSERT_FATAL(pp_backend_start(&be, again) == 0);
	uint64_t back = pp_now_ns(), ok_after = 0;
	while (pp_now_ns() - back < 3000 * PP_NS_PER_MS) {
		if (get_health(p, &status) == 0 && status == 200) {
			ok_after = pp_now_ns() - back;
			break;
		}
		usleep(10 * 1000);
	}
	printf("\n    idle pool, node stopped: %d of 3 requests failed; first success %.0f ms after it returned",
	       failures, ok_after / 1e6);
	CU_ASSERT_EQUAL(failures, 3);
	CU_ASSERT(ok_after > 0);
	CU_ASSERT(ok_after < 1000 * PP_NS_PER_MS); /* the probe backoff tops out at 500 ms */
	pp_detach(p);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	pp_backend_stop(&be);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "daemon SIGKILLed under load, then replaced", test_daemon_killed_under_load_then_replaced },
		{ "backend stopped under load: fail fast, recover", test_backend_down_fails_fast_and_recovers },
		{ "backend stopped while the pool idles: fail fast, recover", test_backend_down_while_idle_recovers },
	};
	return pp_test_main("recovery", tests, PP_ARRAY_LEN(tests), NULL, NULL);
}
