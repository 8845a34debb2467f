/* bench_outage.c - what a daemon outage costs the workers (issue 15,
 * defects 4 and 5): the price of a call that finds no daemon, and how soon
 * workers succeed again once a new daemon starts.
 *
 * Prints `name value unit` lines:
 *   outage_call_killed_cpu    CPU (user + system) per failing pp_do, daemon
 *                             SIGKILLed (its segment left behind), 1 process
 *   outage_call_killed_wall   wall time per such call
 *   outage_call_stopped_cpu   the same with the daemon stopped cleanly (its
 *   outage_call_stopped_wall  segment removed)
 *   restart_first_ok_tight    32 workers (pre-fork, one handle) call pp_do
 *   restart_all_ok_tight      in a tight loop; the daemon is SIGKILLed, 0.5 s
 *                             later a new one is started: ms from its exec to
 *                             the first success of any worker, and until every
 *                             worker has had one (median of RESTARTS cycles;
 *                             _max: the worst cycle)
 *   restart_first_ok_1ms      the same with workers pausing 1 ms after a
 *   restart_all_ok_1ms        failed call (retrying every millisecond)
 *   restart_first_ok_10ms     ... and 10 ms
 *   restart_all_ok_10ms
 *   outage_detect_max         ms from the SIGKILL until the last of 8 workers
 *                             waiting for a slow response has its PP_EDAEMON
 *
 * The reference backend answers; the daemon has 8 slots.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"
#include "daemon_proc.h"
#include "phantompool.h"
#include "segment.h"
#include "testutil.h"

#define WORKERS 32
#define RESTARTS 5
#define FAIL_CALLS 20000

static struct pp_backend backend;
static const char *pool_name;
static const char *daemon_args[8];

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Start a daemon and return at once (no wait for it to be ready). */
static pid_t spawn_daemon(struct pp_daemon_proc *d)
{
	const char *argv[24];
	int n = 0;
	static char exe[512];
	snprintf(exe, sizeof exe, "%s", pp_test_build_path("phantompoold"));
	snprintf(d->pool, sizeof d->pool, "%s", pool_name);
	snprintf(d->pidfile, sizeof d->pidfile, "/tmp/phantompool-bench-%s.pid", pool_name);
	argv[n++] = exe;
	argv[n++] = "-f";
	argv[n++] = "-p";
	argv[n++] = d->pool;
	argv[n++] = "--pidfile";
	argv[n++] = d->pidfile;
	argv[n++] = "--log-level";
	argv[n++] = "error";
	for (int i = 0; daemon_args[i]; i++)
		argv[n++] = daemon_args[i];
	argv[n] = NULL;
	d->pid = fork();
	if (d->pid == 0) {
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	if (d->pid > 0)
		pp_daemon_track(d->pid);
	return d->pid;
}

static const pp_req health = { .method = "GET", .path = "/health" };

/* Per-call cost of pp_do while no daemon serves the pool. */
static void failing_calls(pp_pool *p, const char *tag)
{
	pp_resp resp;
	/* The first calls may wait until the death is noticed. */
	for (int i = 0; i < 100000 && pp_do(p, &health, &resp) == 0; i++)
		pp_resp_free(&resp);
	int bad = 0;
	double c0 = cpu_us();
	uint64_t t0 = pp_now_ns();
	for (int i = 0; i < FAIL_CALLS; i++) {
		int r = pp_do(p, &health, &resp);
		bad += r == 0;
		pp_resp_free(&resp);
	}
	double wall = (double)(pp_now_ns() - t0) / 1e3 / FAIL_CALLS, cpu = (cpu_us() - c0) / FAIL_CALLS;
	if (bad)
		fprintf(stderr, "bench: %d calls succeeded with no daemon\n", bad);
	int r = pp_do(p, &health, &resp);
	printf("# %s: pp_do returns %d (%s)\n", tag, r, pp_strerror(r));
	printf("outage_call_%s_cpu %.2f us\n", tag, cpu);
	printf("outage_call_%s_wall %.2f us\n", tag, wall);
}

static void bench_failing_calls(void)
{
	struct pp_daemon_proc d;
	if (pp_daemon_start(&d, pool_name, daemon_args) != 0) {
		fprintf(stderr, "bench: daemon did not start\n");
		exit(1);
	}
	pp_pool *p;
	pp_resp resp;
	if (pp_attach(pool_name, &p) != 0 || pp_do(p, &health, &resp) != 0) {
		fprintf(stderr, "bench: no answer from the pool\n");
		exit(1);
	}
	pp_resp_free(&resp);
	pp_daemon_kill(&d);
	failing_calls(p, "killed");
	pp_detach(p);
	if (pp_daemon_start(&d, pool_name, daemon_args) != 0 || pp_attach(pool_name, &p) != 0) {
		fprintf(stderr, "bench: daemon did not start again\n");
		exit(1);
	}
	pp_daemon_stop(&d);
	failing_calls(p, "stopped");
	pp_detach(p);
}

/* ---- restart under a crowd of retrying workers --------------------------- */

struct crowd {
	_Atomic int stop;
	_Atomic int pause_us;             /* sleep this long after a failure */
	_Atomic uint64_t since_ns;        /* successes count from here (0: not yet) */
	_Atomic uint64_t first_ok_ns[WORKERS];
};

static void crowd_worker(pp_pool *p, struct crowd *c, int k)
{
	pp_resp resp;
	while (!atomic_load(&c->stop)) {
		int r = pp_do(p, &health, &resp);
		pp_resp_free(&resp);
		uint64_t since = atomic_load(&c->since_ns);
		if (r == 0 && since && !atomic_load(&c->first_ok_ns[k]))
			atomic_store(&c->first_ok_ns[k], pp_now_ns());
		if (r != 0 && atomic_load(&c->pause_us))
			usleep((useconds_t)atomic_load(&c->pause_us));
	}
	_exit(0);
}

/* One kill/restart cycle; *first and *all in ms, -1 on a timeout. */
static void restart_cycle(struct crowd *c, struct pp_daemon_proc *d, double *first, double *all, double *ready_ms)
{
	pp_daemon_kill(d);
	usleep(500 * 1000);
	for (int k = 0; k < WORKERS; k++)
		atomic_store(&c->first_ok_ns[k], 0);
	uint64_t t0 = pp_now_ns();
	atomic_store(&c->since_ns, t0);
	spawn_daemon(d);
	uint64_t lo = UINT64_MAX, hi = 0, ready = 0;
	int done = 0;
	while (!done && pp_now_ns() - t0 < 20 * PP_NS_PER_S) {
		usleep(2000);
		struct pp_seg seg;
		if (!ready && pp_seg_attach(pool_name, false, &seg) == 0) {
			if (seg.daemon_pid == d->pid && atomic_load(&seg.hdr->daemon_state) == PP_DAEMON_READY)
				ready = pp_now_ns();
			pp_seg_unmap(&seg);
		}
		done = 1;
		for (int k = 0; k < WORKERS; k++) {
			uint64_t v = atomic_load(&c->first_ok_ns[k]);
			done &= v != 0;
			if (v && v < lo)
				lo = v;
			if (v > hi)
				hi = v;
		}
	}
	atomic_store(&c->since_ns, 0);
	*first = lo == UINT64_MAX ? -1 : (double)(lo - t0) / 1e6;
	*ready_ms = ready ? (double)(ready - t0) / 1e6 : -1;
	*all = done ? (double)(hi - t0) / 1e6 : -1;
}

static void bench_restart(const char *mode, int pause_us)
{
	struct crowd *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		exit(1);
	memset(c, 0, sizeof *c);
	atomic_store(&c->pause_us, pause_us);
	struct pp_daemon_proc d;
	pp_pool *p;
	if (pp_daemon_start(&d, pool_name, daemon_args) != 0 || pp_attach(pool_name, &p) != 0) {
		fprintf(stderr, "bench: daemon did not start\n");
		exit(1);
	}
	pid_t kids[WORKERS];
	for (int k = 0; k < WORKERS; k++)
		if ((kids[k] = fork()) == 0)
			crowd_worker(p, c, k);
	usleep(300 * 1000);
	double first[RESTARTS], all[RESTARTS], ready[RESTARTS];
	for (int i = 0; i < RESTARTS; i++) {
		restart_cycle(c, &d, &first[i], &all[i], &ready[i]);
		printf("# %s restart %d: daemon ready %.1f ms, first success %.1f ms, every worker %.1f ms\n", mode, i + 1,
		       ready[i], first[i], all[i]);
		usleep(300 * 1000);
	}
	atomic_store(&c->stop, 1);
	for (int k = 0; k < WORKERS; k++)
		pp_test_wait_child(kids[k]);
	pp_daemon_stop(&d);
	pp_detach(p);
	qsort(first, RESTARTS, sizeof first[0], cmp_double);
	qsort(all, RESTARTS, sizeof all[0], cmp_double);
	printf("restart_first_ok_%s %.1f ms\n", mode, first[RESTARTS / 2]);
	printf("restart_first_ok_%s_max %.1f ms\n", mode, first[0] < 0 ? -1 : first[RESTARTS - 1]);
	printf("restart_all_ok_%s %.1f ms\n", mode, all[RESTARTS / 2]);
	printf("restart_all_ok_%s_max %.1f ms\n", mode, all[0] < 0 ? -1 : all[RESTARTS - 1]);
	munmap(c, sizeof *c);
}

/* ---- detection: workers waiting for an answer when the daemon dies ------- */

static void bench_detect(void)
{
	enum { N = 8 };
	struct pp_daemon_proc d;
	pp_pool *p;
	if (pp_daemon_start(&d, pool_name, daemon_args) != 0 || pp_attach(pool_name, &p) != 0)
		exit(1);
	_Atomic uint64_t *done = mmap(NULL, N * sizeof *done, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t kids[N];
	for (int k = 0; k < N; k++) {
		done[k] = 0;
		if ((kids[k] = fork()) == 0) {
			pp_req slow = { .method = "GET", .path = "/health?delay_ms=5000" };
			pp_resp resp;
			int r = pp_do(p, &slow, &resp);
			atomic_store(&done[k], r == PP_EDAEMON ? pp_now_ns() : 1);
			_exit(0);
		}
	}
	usleep(300 * 1000);
	uint64_t t0 = pp_now_ns();
	pp_daemon_kill(&d);
	double worst = 0;
	int bad = 0;
	for (int k = 0; k < N; k++) {
		pp_test_wait_child(kids[k]);
		uint64_t v = atomic_load(&done[k]);
		if (v <= 1)
			bad++;
		else if ((double)(v - t0) / 1e6 > worst)
			worst = (double)(v - t0) / 1e6;
	}
	if (bad)
		fprintf(stderr, "bench: %d waiting workers did not get PP_EDAEMON\n", bad);
	printf("outage_detect_max %.1f ms\n", worst);
	pp_detach(p);
	munmap((void *)done, N * sizeof *done);
}

/* Arguments name the parts to run (calls, detect, tight, 1ms, 10ms); none:
 * all of them. */
static int wanted(int argc, char **argv, const char *part)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], part))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pp_backend_start(&backend, NULL) != 0) {
		fprintf(stderr, "bench: backend did not start\n");
		return 1;
	}
	pool_name = strdup(pp_test_pool_name("outage"));
	const char *args[] = { "-b", backend.url, "--max", "8", "--min", "2", NULL };
	memcpy(daemon_args, args, sizeof args);
	if (wanted(argc, argv, "calls"))
		bench_failing_calls();
	if (wanted(argc, argv, "detect"))
		bench_detect();
	if (wanted(argc, argv, "tight"))
		bench_restart("tight", 0);
	if (wanted(argc, argv, "1ms"))
		bench_restart("1ms", 1000);
	if (wanted(argc, argv, "10ms"))
		bench_restart("10ms", 10000);
	pp_backend_stop(&backend);
	return 0;
}
