/* bench_seats.c - 64 workers on 16 backend connections: seats equal to
 * connections (--max 16: workers wait for a seat, two sleeps a request)
 * against seats to spare (--max 16 --seats 64: workers wait, if at all, in
 * the daemon's queue for a connection), same reference backend, run one
 * after the other in alternating rounds.  Also the "web request" shape of
 * issue 16's G8 at a small scale: each worker holds one lease for 3
 * queries with 2 ms of work between them.
 *
 * Prints `name value unit` lines:
 *   seats_pool_do_rps_<seats>      pp_do back to back, requests/s
 *   seats_daemon_cpu_<seats>       daemon CPU per request (user + system)
 *   seats_webreq_rps_<seats>       web requests/s (lease, 3 queries, release)
 *   seats_pool_do_gain             rps with 64 seats over rps with 16
 * BENCH_SEATS=A,B runs A and B seats instead of 16 and 64.
 * The backend is the reference one (libmicrohttpd), not nginx: the
 * figures compare the two pool shapes, not the pool with a proxy.
 */
#include <stdatomic.h>
#include <stdbool.h>
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

#define WORKERS 64
#define CONNS "16"
#define SECS 2
#define ROUNDS 2

static long daemon_cpu_ticks(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	long ut = 0, st = 0;
	if (f) {
		/* Fields 14 and 15 (utime, stime), after the ")" of comm. */
		char buf[1024];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = 0;
		char *p = strrchr(buf, ')');
		if (p)
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st);
		fclose(f);
	}
	return ut + st;
}

/* WORKERS processes for SECS seconds; returns requests (or web
 * requests) done.  web: lease, 3 x (pp_request + 2 ms), release. */
static long run(const char *pool, bool web)
{
	_Atomic long *done = mmap(NULL, sizeof *done, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*done = 0;
	uint64_t until = pp_now_ns() + SECS * PP_NS_PER_S;
	pid_t kids[WORKERS];
	for (int w = 0; w < WORKERS; w++) {
		if ((kids[w] = fork()) != 0)
			continue;
		pp_pool *p;
		if (pp_attach(pool, &p) != 0)
			_exit(2);
		pp_req req = { .method = "GET", .path = "/health" };
		long n = 0;
		while (pp_now_ns() < until) {
			pp_resp resp;
			if (!web) {
				n += pp_do(p, &req, &resp) == 0;
				pp_resp_free(&resp);
				continue;
			}
			struct pp_lease *l;
			if (pp_lease(p, 5000, &l) != 0)
				continue;
			int ok = 0;
			for (int q = 0; q < 3; q++) {
				ok += pp_request(l, &req, &resp) == 0;
				pp_resp_free(&resp);
				usleep(2000);
			}
			pp_release(l);
			n += ok == 3;
		}
		atomic_fetch_add(done, n);
		_exit(0);
	}
	for (int w = 0; w < WORKERS; w++)
		pp_test_wait_child(kids[w]);
	long r = *done;
	munmap((void *)done, sizeof *done);
	return r;
}

int main(void)
{
	struct pp_backend be;
	if (pp_backend_start(&be, NULL) != 0)
		return 1;
	/* BENCH_SEATS=A,B compares two other seat counts (e.g. 64,256). */
	char spec[64] = "16,64";
	if (getenv("BENCH_SEATS"))
		snprintf(spec, sizeof spec, "%s", getenv("BENCH_SEATS"));
	char *comma = strchr(spec, ',');
	if (!comma)
		return 2;
	*comma = 0;
	const char *seats[] = { spec, comma + 1 };
	double rps[2] = { 0 }, cpu[2] = { 0 }, web[2] = { 0 };
	for (int round = 0; round < ROUNDS; round++)
		for (int k = 0; k < 2; k++) {
			struct pp_daemon_proc d;
			const char *args[] = { "-b", be.url, "--max", CONNS, "--min", CONNS, "--seats", seats[k], NULL };
			if (pp_daemon_start(&d, pp_test_pool_name("bseats"), args) != 0)
				return 1;
			long t0 = daemon_cpu_ticks(d.pid);
			long n = run(d.pool, false);
			long t1 = daemon_cpu_ticks(d.pid);
			rps[k] += (double)n / SECS / ROUNDS;
			cpu[k] += n ? (double)(t1 - t0) / sysconf(_SC_CLK_TCK) * 1e9 / n / ROUNDS : 0;
			web[k] += (double)run(d.pool, true) / SECS / ROUNDS;
			pp_daemon_stop(&d);
		}
	pp_backend_stop(&be);
	for (int k = 0; k < 2; k++) {
		printf("seats_pool_do_rps_%s %.0f req/s\n", seats[k], rps[k]);
		printf("seats_daemon_cpu_%s %.0f ns\n", seats[k], cpu[k]);
		printf("seats_webreq_rps_%s %.0f req/s\n", seats[k], web[k]);
	}
	printf("seats_pool_do_gain %.2f ratio\n", rps[0] > 0 ? rps[1] / rps[0] : 0);
	return 0;
}
