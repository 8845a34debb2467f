/* c_loop.c - the C side of bench.js's per-request comparison: N requests
 * GET /health through the pool, one after the other, from C.
 *
 *   c_loop do N        pp_do each time (lease + request + release)
 *   c_loop lease N     one pp_lease, N pp_request, pp_release
 *
 * Prints "<mode> <wall microseconds per request> <CPU microseconds per
 * request>" (CPU: user + system of this process, getrusage) on stdout;
 * exits 1 (with the PP_E* text on stderr) if any call fails. */
#include <phantompool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int fail(const char *what, int r)
{
	fprintf(stderr, "c_loop: %s: %s (%d)\n", what, pp_strerror(r), r);
	return 1;
}

int main(int argc, char **argv)
{
	pp_req req = { .method = "GET", .path = "/health" };
	struct pp_lease *l = NULL;
	pp_resp resp;
	pp_pool *p;
	int r, n, lease_mode;
	double t0, t1, c0, c1;

	if (argc != 3 || (strcmp(argv[1], "do") && strcmp(argv[1], "lease")) || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: c_loop do|lease N\n");
		return 2;
	}
	lease_mode = !strcmp(argv[1], "lease");
	if ((r = pp_attach(NULL, &p)) != 0)
		return fail("pp_attach", r);
	if (lease_mode && (r = pp_lease(p, 30000, &l)) != 0)
		return fail("pp_lease", r);
	t0 = now_us();
	c0 = cpu_us();
	for (int i = 0; i < n; i++) {
		r = lease_mode ? pp_request(l, &req, &resp) : pp_do(p, &req, &resp);
		if (r)
			return fail(lease_mode ? "pp_request" : "pp_do", r);
		if (resp.status != 200)
			return fail("GET /health status", PP_EBACKEND);
		pp_resp_free(&resp);
	}
	t1 = now_us();
	c1 = cpu_us();
	if (l)
		(void)pp_release(l);
	pp_detach(p);
	printf("%s %.2f %.2f\n", argv[1], (t1 - t0) / n, (c1 - c0) / n);
	return 0;
}
