/* test_liveness.c - how workers find out that their daemon died, and what
 * a call costs while there is none (issue 15, defects 4 and 5).
 *
 * The client's liveness policy (libclient/client.h): the daemon is gone
 * when it marked itself stopped, when its heartbeat is older than
 * PP_DAEMON_STALE_MS, or when its pid is gone (asked at most every
 * PP_PID_CHECK_MS).  What must hold, against a real phantompoold:
 *
 *  1. A call made after the daemon's heartbeat went stale fails with
 *     PP_EDAEMON at once, however long the worker was idle: it does not
 *     lease a slot of the dead daemon and wait for an answer first.
 *  2. Failing calls while no daemon runs are cheap: no mapping per call
 *     (a few microseconds of CPU, not ~100).
 *  3. A worker asleep in pp_lease that is woken again and again (here a
 *     process wakes every waiter word every 10 ms) still notices a killed
 *     daemon: detection goes by the clock, not by whether a wait timed
 *     out.  Bound: PP_PID_CHECK_MS + PP_WAIT_SLICE_MS for a reaped daemon.
 *  4. A daemon that only looked dead (stopped by SIGSTOP for longer than
 *     the staleness bound) keeps its workers: once it runs again, the same
 *     handle works again without a new daemon.
 *  5. A new daemon under the same name is found by the same handle on its
 *     next call.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"
#include "daemon_proc.h"
#include "futex.h"
#include "layout.h"
#include "phantompool.h"
#include "segment.h"
#include "testutil.h"

static struct pp_backend backend;
static const char *const daemon_args_1[] = { "-b", NULL, "--max", "1", "--min", "1", NULL };
static const char *daemon_args[8];

static int suite_setup(void)
{
	if (pp_backend_start(&backend, NULL) != 0)
		return -1;
	memcpy(daemon_args, daemon_args_1, sizeof daemon_args_1);
	daemon_args[1] = backend.url;
	return 0;
}

static int suite_teardown(void)
{
	pp_backend_stop(&backend);
	return backend.exit_status == 0 ? 0 : -1;
}

static double ms_since(uint64_t t0)
{
	return (double)(pp_now_ns() - t0) / 1e6;
}

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int health(pp_pool *p)
{
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp;
	int r = pp_do(p, &req, &resp);
	if (r == 0 && resp.status != 200)
		r = -1000;
	pp_resp_free(&resp);
	return r;
}

/* 1, 2 and 5. */
static void test_call_after_death_fails_at_once(void)
{
	struct pp_daemon_proc d;
	pp_pool *p;
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("live1"), daemon_args) == 0);
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	CU_ASSERT_EQUAL(health(p), 0);
	pp_daemon_kill(&d);
	/* Idle past the staleness bound, as a worker between two requests. */
	usleep((PP_DAEMON_STALE_MS + 100) * 1000);
	uint64_t t0 = pp_now_ns();
	CU_ASSERT_EQUAL(health(p), PP_EDAEMON);
	double ms = ms_since(t0);
	printf("\n    first call %.0f ms after the kill: PP_EDAEMON after %.3f ms", (double)PP_DAEMON_STALE_MS + 100, ms);
	CU_ASSERT(ms < 20);
	struct pp_lease *l = NULL;
	CU_ASSERT_EQUAL(pp_lease(p, 1000, &l), PP_EDAEMON);
	/* Cheap while there is none: no mapping per call. */
	const int n = 2000;
	double c0 = cpu_us();
	t0 = pp_now_ns();
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad += health(p) != PP_EDAEMON;
	double cpu = (cpu_us() - c0) / n, wall = ms_since(t0) * 1000 / n;
	printf("; then %.1f us CPU, %.1f us wall per failing call", cpu, wall);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(cpu < 30);
	/* A new daemon: the same handle finds it on its next call. */
	CU_ASSERT_FATAL(pp_daemon_start(&d, d.pool, daemon_args) == 0);
	CU_ASSERT_EQUAL(health(p), 0);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	CU_ASSERT_EQUAL(health(p), PP_EDAEMON);
	pp_detach(p);
}

/* 3: a child keeps waking every waiter word while the test waits. */
static pid_t start_waker(const char *pool)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	struct pp_seg seg;
	if (pp_seg_attach(pool, true, &seg) != 0)
		_exit(1);
	for (;;) {
		for (uint32_t i = 0; i < PP_MAX_WAITERS; i++)
			pp_futex_wake(&seg.waiters[i].futex, INT32_MAX);
		pp_futex_wake(&seg.hdr->wake_seq, INT32_MAX);
		usleep(10 * 1000);
	}
}

static void test_waiter_woken_over_and_over_sees_the_death(void)
{
	struct pp_daemon_proc d;
	pp_pool *p;
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("live3"), daemon_args) == 0);
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	struct pp_lease *held;
	CU_ASSERT_FATAL(pp_lease(p, 1000, &held) == 0); /* the only slot */
	int fds[2];
	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid_t waiter = fork();
	if (waiter == 0) {
		/* Waits for a slot that never comes; reports code and time. */
		struct pp_lease *l;
		uint64_t t = pp_now_ns();
		int r = pp_lease(p, 8000, &l);
		double out[2] = { r, ms_since(t) };
		if (write(fds[1], out, sizeof out) != sizeof out)
			_exit(2);
		_exit(0);
	}
	pid_t waker = start_waker(d.pool);
	usleep(300 * 1000);
	uint64_t t_kill = pp_now_ns();
	pp_daemon_kill(&d);
	double out[2] = { 0, 0 };
	CU_ASSERT_EQUAL(read(fds[0], out, sizeof out), (ssize_t)sizeof out);
	double detect = ms_since(t_kill);
	kill(waker, SIGKILL);
	pp_test_wait_child(waker);
	CU_ASSERT_EQUAL(pp_test_wait_child(waiter), 0);
	printf("\n    waiter woken every 10 ms: %s %.0f ms after the kill", pp_strerror((int)out[0]), detect);
	CU_ASSERT_EQUAL((int)out[0], PP_EDAEMON);
	/* PP_PID_CHECK_MS + PP_WAIT_SLICE_MS, with room for a loaded machine. */
	CU_ASSERT(detect < 600);
	close(fds[0]);
	close(fds[1]);
	pp_release(held);
	pp_detach(p);
	/* The killed daemon left its segment and doorbell in /dev/shm (one
	 * pair per run of this test piled up there): a new daemon takes the
	 * name over and removes both when it stops. */
	CU_ASSERT_FATAL(pp_daemon_start(&d, d.pool, daemon_args) == 0);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
}

/* 4. */
static void test_stalled_daemon_keeps_its_workers(void)
{
	struct pp_daemon_proc d;
	pp_pool *p;
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("live4"), daemon_args) == 0);
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	CU_ASSERT_EQUAL(health(p), 0);
	kill(d.pid, SIGSTOP);
	usleep((PP_DAEMON_STALE_MS + 200) * 1000);
	CU_ASSERT_EQUAL(health(p), PP_EDAEMON); /* looks dead: heartbeat stale */
	kill(d.pid, SIGCONT);
	uint64_t t0 = pp_now_ns();
	int r;
	while ((r = health(p)) != 0 && ms_since(t0) < 2000)
		usleep(5000);
	printf("\n    daemon stopped %u ms, then continued: the same handle answers again after %.0f ms",
	       PP_DAEMON_STALE_MS + 200, ms_since(t0));
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	pp_detach(p);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "a call after the heartbeat went stale fails at once, and cheaply; a new daemon is found",
		  test_call_after_death_fails_at_once },
		{ "a waiter woken over and over still sees the daemon die", test_waiter_woken_over_and_over_sees_the_death },
		{ "a daemon stopped for longer than the staleness bound keeps its workers",
		  test_stalled_daemon_keeps_its_workers },
	};
	return pp_test_main("liveness", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
