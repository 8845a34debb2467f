/* bench_lease.c - lease + release microbenchmark over a real segment.
 *
 * Prints `name value unit` lines:
 *   lease_release_uncontended   ns per lease+release, one process, median of runs
 *   lease_release_2proc         cycles/s summed over 2 processes on 8 slots
 *   lease_release_64proc        cycles/s summed over 64 processes on 8 slots
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "daemon_proc.h"
#include "phantompool.h"

#define RUNS 7

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

/* ns per cycle of `iters` lease+release cycles in this process. */
static double uncontended_ns(pp_pool *p, long iters)
{
	struct pp_lease *l;
	uint64_t t0 = pp_now_ns();
	for (long i = 0; i < iters; i++) {
		if (pp_lease(p, 0, &l) != 0 || pp_release(l) != 0) {
			fprintf(stderr, "bench: lease failed\n");
			exit(1);
		}
	}
	return (double)(pp_now_ns() - t0) / (double)iters;
}

/* Total cycles/s with nproc processes each doing iters cycles. */
static double contended_rate(pp_pool *p, int nproc, long iters)
{
	uint64_t t0 = pp_now_ns();
	for (int k = 0; k < nproc; k++) {
		if (fork() == 0) {
			struct pp_lease *l;
			for (long i = 0; i < iters; i++)
				if (pp_lease(p, 10000, &l) != 0 || pp_release(l) != 0)
					_exit(1);
			_exit(0);
		}
	}
	int bad = 0;
	for (int k = 0; k < nproc; k++) {
		int st;
		wait(&st);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st);
	}
	if (bad) {
		fprintf(stderr, "bench: a contending process failed\n");
		exit(1);
	}
	double s = (double)(pp_now_ns() - t0) / 1e9;
	return (double)nproc * (double)iters / s;
}

int main(void)
{
	struct pp_daemon_proc d;
	char pool[48];
	snprintf(pool, sizeof pool, "bench%ld", (long)getpid());
	const char *args[] = { "--max", "8", "--min", "0", NULL };
	if (pp_daemon_start(&d, pool, args) != 0) {
		fprintf(stderr, "bench: cannot start phantompoold\n");
		return 1;
	}
	pp_pool *p;
	if (pp_attach(pool, &p) != 0)
		return 1;
	double v[RUNS];
	uncontended_ns(p, 100000); /* warm up */
	for (int i = 0; i < RUNS; i++)
		v[i] = uncontended_ns(p, 1000000);
	printf("lease_release_uncontended %.1f ns\n", median(v, RUNS));
	for (int i = 0; i < 3; i++)
		v[i] = contended_rate(p, 2, 500000);
	printf("lease_release_2proc %.0f cycles/s\n", median(v, 3));
	for (int i = 0; i < 3; i++)
		v[i] = contended_rate(p, 64, 20000);
	printf("lease_release_64proc %.0f cycles/s\n", median(v, 3));
	pp_detach(p);
	pp_daemon_stop(&d);
	return 0;
}
