/* soak.c - the long run of issue 4: 1,000,000 requests through the pool
 * with 1,000 forced reconnects (every 1,000th request asks the backend to
 * close its connection), checking that the daemon's threads, file
 * descriptors and memory do not grow.  Run by `make soak` (and by
 * `make bench` when BENCH_SOAK=1).  Prints `name value unit` lines; exits
 * non-zero on growth or on any failed request.
 *   SOAK_REQUESTS (default 1000000), SOAK_WORKERS (default 8) */
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"
#include "daemon_proc.h"
#include "phantompool.h"
#include "testutil.h"

struct usage {
	int threads, fds;
	long rss_kb;
};

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static struct usage sample(pid_t pid)
{
	return (struct usage){ pp_test_proc_entries(pid, "task"), pp_test_proc_entries(pid, "fd"), rss_kb(pid) };
}

struct shared {
	_Atomic long next, ok, failed;
};

static void worker(pp_pool *p, struct shared *sh, long total)
{
	long i;
	while ((i = atomic_fetch_add(&sh->next, 1)) < total) {
		pp_req req = { .method = "GET", .path = i % 1000 == 999 ? "/health?close=1" : "/health" };
		pp_resp resp;
		int r = pp_do(p, &req, &resp);
		atomic_fetch_add(r == 0 && resp.status == 200 ? &sh->ok : &sh->failed, 1);
		pp_resp_free(&resp);
	}
	_exit(0);
}

/* Run n workers over the shared counter and wait for exactly them (the
 * daemon and the backend are children too). */
static void run_workers(pp_pool *p, struct shared *sh, long n, long total)
{
	pid_t kids[256];
	if (n > 256)
		n = 256;
	for (long k = 0; k < n; k++)
		if ((kids[k] = fork()) == 0)
			worker(p, sh, total);
	for (long k = 0; k < n; k++)
		waitpid(kids[k], NULL, 0);
}

static long env_long(const char *name, long dflt)
{
	const char *e = getenv(name);
	return e && atol(e) > 0 ? atol(e) : dflt;
}

int main(void)
{
	long total = env_long("SOAK_REQUESTS", 1000000), nworkers = env_long("SOAK_WORKERS", 8);
	struct pp_backend be;
	struct pp_daemon_proc d;
	char pool[48];
	snprintf(pool, sizeof pool, "soak%ld", (long)getpid());
	if (pp_backend_start(&be, NULL) != 0)
		return 2;
	const char *args[] = { "-b", be.url, "--max", "8", "--min", "2", NULL };
	if (pp_daemon_start(&d, pool, args) != 0)
		return 2;
	pp_pool *p;
	if (pp_attach(pool, &p) != 0)
		return 2;
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(sh, 0, sizeof *sh);
	pp_pool_status st0, st1;
	/* Warm up 1% so the first sample sees the steady state. */
	long warm = total / 100;
	atomic_store(&sh->next, total - warm);
	run_workers(p, sh, nworkers, total);
	struct usage u0 = sample(d.pid);
	(void)!pp_status(p, &st0);
	atomic_store(&sh->next, 0);
	atomic_store(&sh->ok, 0);
	uint64_t t0 = pp_now_ns();
	run_workers(p, sh, nworkers, total - warm);
	double secs = (double)(pp_now_ns() - t0) / 1e9;
	usleep(300 * 1000);
	struct usage u1 = sample(d.pid);
	(void)!pp_status(p, &st1);
	long reconnects = (long)(st1.connects - st0.connects);
	printf("soak_requests %ld count\nsoak_failed %ld count\nsoak_seconds %.1f s\nsoak_rate %.0f req/s\n",
	       (long)sh->ok, (long)sh->failed, secs, (double)sh->ok / secs);
	printf("soak_reconnects %ld count\nsoak_threads_start %d count\nsoak_threads_end %d count\n", reconnects,
	       u0.threads, u1.threads);
	printf("soak_fds_start %d count\nsoak_fds_end %d count\nsoak_rss_start %ld KiB\nsoak_rss_end %ld KiB\n",
	       u0.fds, u1.fds, u0.rss_kb, u1.rss_kb);
	bool grew = u1.threads != u0.threads || u1.fds > u0.fds + 2 || u1.rss_kb > u0.rss_kb + u0.rss_kb / 10 + 1024;
	pp_detach(p);
	pp_daemon_stop(&d);
	pp_backend_stop(&be);
	if (grew || sh->failed)
		fprintf(stderr, "soak: %s\n", sh->failed ? "requests failed" : "the daemon grew");
	return grew || sh->failed ? 1 : 0;
}
