/* ppdo_loop.c - the C side of bench_python.py: the same request the Python
 * benchmark sends, N times, straight through libphantompool.
 *
 *   ppdo_loop do|lease N PATH
 *
 * "do": pp_do per request (lease, request, release: what Pool.request
 * calls); "lease": one lease, pp_request per request (what a held
 * Client.request calls).  Prints "wall_ns_per_request cpu_ns_per_request"
 * (CPU: this process's user + system time).  Exits 1 on any error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <phantompool.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static int one(pp_pool *p, struct pp_lease *l, const pp_req *req)
{
	pp_resp resp;
	int r = l ? pp_request(l, req, &resp) : pp_do(p, req, &resp);
	if (r == 0 && resp.status != 200)
		r = -1000 - resp.status;
	pp_resp_free(&resp);
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "do") && strcmp(argv[1], "lease"))) {
		fprintf(stderr, "usage: ppdo_loop do|lease N PATH\n");
		return 2;
	}
	long n = atol(argv[2]);
	pp_pool *p;
	struct pp_lease *l = NULL;
	int r = pp_attach(NULL, &p);
	if (r) {
		fprintf(stderr, "pp_attach: %s\n", pp_strerror(r));
		return 1;
	}
	if (!strcmp(argv[1], "lease") && (r = pp_lease(p, 10000, &l)) != 0) {
		fprintf(stderr, "pp_lease: %s\n", pp_strerror(r));
		return 1;
	}
	pp_header accept = { "Accept", "application/json" };
	pp_req req = { .method = "GET", .path = argv[3], .headers = &accept, .nheaders = 1 };
	for (long i = 0; i < n / 10 + 1; i++) /* warm-up */
		if ((r = one(p, l, &req)) != 0)
			goto fail;
	double w0 = now_ns(), c0 = cpu_ns();
	for (long i = 0; i < n; i++)
		if ((r = one(p, l, &req)) != 0)
			goto fail;
	printf("%.1f %.1f\n", (now_ns() - w0) / n, (cpu_ns() - c0) / n);
	if (l && pp_release(l) != 0)
		return 1;
	pp_detach(p);
	return 0;
fail:
	fprintf(stderr, "request: %d %s\n", r, r > -1000 ? pp_strerror(r) : "unexpected status");
	return 1;
}
