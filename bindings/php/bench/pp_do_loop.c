/* pp_do_loop.c - the C baseline of bench.php: the same request as the PHP
 * loop, N times, through the C library alone.
 *
 *   pp_do_loop do N PATH      N x pp_do (lease, request, release)
 *   pp_do_loop lease N PATH   one lease, N x pp_request on it
 *
 * Prints "wall_ns X" and "cpu_ns Y": per request, wall-clock time and this
 * process's CPU time (user + system, getrusage), after 500 warm-up
 * requests.  The pool is pp_attach(NULL)'s ($PHANTOMPOOL). */
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
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static int one(pp_pool *p, struct pp_lease *l, const pp_req *req)
{
	pp_resp resp;
	int rc = l ? pp_request(l, req, &resp) : pp_do(p, req, &resp);
	if (rc == 0 && resp.status != 200)
		rc = PP_EPROTO;
	pp_resp_free(&resp);
	return rc;
}

int main(int argc, char **argv)
{
	pp_pool *p;
	struct pp_lease *l = NULL;
	int rc;

	if (argc != 4 || (strcmp(argv[1], "do") != 0 && strcmp(argv[1], "lease") != 0)) {
		fprintf(stderr, "usage: pp_do_loop do|lease N PATH\n");
		return 2;
	}
	long n = atol(argv[2]);
	pp_req req = { .method = "GET", .path = argv[3] };
	if ((rc = pp_attach(NULL, &p)) != 0 ||
	    (strcmp(argv[1], "lease") == 0 && (rc = pp_lease(p, 5000, &l)) != 0)) {
		fprintf(stderr, "pp_do_loop: %s\n", pp_strerror(rc));
		return 1;
	}
	for (int i = 0; i < 500; i++)
		if ((rc = one(p, l, &req)) != 0)
			goto fail;
	double t0 = now_ns(), c0 = cpu_ns();
	for (long i = 0; i < n; i++)
		if ((rc = one(p, l, &req)) != 0)
			goto fail;
	double t1 = now_ns(), c1 = cpu_ns();
	printf("wall_ns %.0f\ncpu_ns %.0f\n", (t1 - t0) / n, (c1 - c0) / n);
	if (l)
		(void)pp_release(l);
	pp_detach(p);
	return 0;
fail:
	fprintf(stderr, "pp_do_loop: %s\n", pp_strerror(rc));
	return 1;
}
