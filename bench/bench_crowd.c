/* bench_crowd.c - workers outnumbering slots (issue 16, section 2b): what
 * the lease hand-over costs the workers.
 *
 * N worker processes (forked after one pp_attach, as a pre-fork server
 * does) call pp_do (GET /health on the reference backend) for BENCH_SECS
 * seconds (default 2) on a pool of S slots.  Prints, for 16 workers on 16
 * slots and for 64 on 16:
 *   crowd_wN_sS_rps             requests per second, all workers
 *   crowd_wN_sS_cpu_per_req     the workers' CPU (user + system) per request
 *   crowd_wN_sS_csw_per_req     the workers' context switches per request
 *                               (voluntary: sleeps; involuntary: preempted)
 *   crowd_wN_sS_lease_waits_per_req  leases that had to sleep, per request
 * The daemon's and the backend's CPU are not counted: this is the workers'
 * side of the wait.  BENCH_CROWD=N:S,N:S... picks other cells.
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
#include "testutil.h"

struct tally {
	_Atomic int go, stop;
	_Atomic long ok, failed;
};

static long think_us; /* BENCH_THINK_US: pause after each request (a web request's own work) */

static void worker(pp_pool *p, struct tally *t)
{
	pp_req req = { .method = "GET", .path = "/health" };
	while (!atomic_load(&t->go))
		usleep(1000);
	long ok = 0, failed = 0;
	while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
		pp_resp resp;
		if (pp_do(p, &req, &resp) == 0 && resp.status == 200)
			ok++;
		else
			failed++;
		pp_resp_free(&resp);
		if (think_us)
			usleep((useconds_t)think_us);
	}
	atomic_fetch_add(&t->ok, ok);
	atomic_fetch_add(&t->failed, failed);
	_exit(0);
}

static void cell(const struct pp_backend *be, int nworkers, int nslots, double secs)
{
	char slots[16];
	snprintf(slots, sizeof slots, "%d", nslots);
	const char *args[] = { "-b", be->url, "--max", slots, "--min", slots, NULL };
	struct pp_daemon_proc d;
	pp_pool *p;
	if (pp_daemon_start(&d, pp_test_pool_name("crowd"), args) != 0 || pp_attach(d.pool, &p) != 0) {
		fprintf(stderr, "bench: daemon did not start\n");
		exit(1);
	}
	struct tally *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(t, 0, sizeof *t);
	pid_t kids[1024];
	for (int k = 0; k < nworkers; k++)
		if ((kids[k] = fork()) == 0)
			worker(p, t);
	struct rusage r0, r1;
	getrusage(RUSAGE_CHILDREN, &r0); /* no child reaped yet: zero */
	pp_pool_status s0, s1;
	pp_status(p, &s0);
	uint64_t t0 = pp_now_ns();
	atomic_store(&t->go, 1);
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&t->stop, 1);
	for (int k = 0; k < nworkers; k++)
		pp_test_wait_child(kids[k]);
	double wall = (double)(pp_now_ns() - t0) / 1e9;
	getrusage(RUSAGE_CHILDREN, &r1);
	pp_status(p, &s1);
	long n = t->ok + t->failed;
	double cpu_us = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 +
			(double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
	double vcsw = (double)(r1.ru_nvcsw - r0.ru_nvcsw), icsw = (double)(r1.ru_nivcsw - r0.ru_nivcsw);
	char name[64];
	snprintf(name, sizeof name, "crowd_w%d_s%d", nworkers, nslots);
	double minflt = (double)(r1.ru_minflt - r0.ru_minflt);
	printf("# %s: %ld requests (%ld failed) in %.2f s; voluntary %.2f, involuntary %.2f switches, %.2f page faults per request\n",
	       name, n, (long)t->failed, wall, vcsw / (double)n, icsw / (double)n, minflt / (double)n);
	printf("%s_rps %.0f req/s\n", name, (double)n / wall);
	printf("%s_cpu_per_req %.1f us\n", name, cpu_us / (double)n);
	printf("%s_csw_per_req %.2f count\n", name, (vcsw + icsw) / (double)n);
	printf("%s_lease_waits_per_req %.2f count\n", name, (double)(s1.lease_waits - s0.lease_waits) / (double)n);
	printf("%s_lease_wait_p50 %.0f us\n", name, (double)s1.lease_wait_p50_ns / 1e3);
	printf("%s_lease_wait_p99 %.0f us\n", name, (double)s1.lease_wait_p99_ns / 1e3);
	printf("%s_lease_wait_max %.0f us\n", name, (double)s1.lease_wait_max_ns / 1e3);
	munmap(t, sizeof *t);
	pp_detach(p);
	pp_daemon_stop(&d);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	double secs = getenv("BENCH_SECS") ? atof(getenv("BENCH_SECS")) : 2.0;
	think_us = getenv("BENCH_THINK_US") ? atol(getenv("BENCH_THINK_US")) : 0;
	const char *cells = getenv("BENCH_CROWD") ? getenv("BENCH_CROWD") : "16:16,64:16";
	struct pp_backend be;
	if (pp_backend_start(&be, NULL) != 0) {
		fprintf(stderr, "bench: backend did not start\n");
		return 1;
	}
	for (const char *c = cells; c && *c;) {
		int w = 0, s = 0;
		if (sscanf(c, "%d:%d", &w, &s) == 2 && w > 0 && w <= 1024 && s > 0)
			cell(&be, w, s, secs);
		c = strchr(c, ',');
		c = c ? c + 1 : NULL;
	}
	pp_backend_stop(&be);
	return 0;
}
