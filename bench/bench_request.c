/* bench_request.c - GET /health latency through the pool vs a direct
 * libcurl keep-alive handle in the worker itself, side by side in one run
 * against the same reference backend, one worker.
 *
 * Modes are interleaved in rounds (ROUNDS x BATCH requests each) so that
 * machine noise hits them alike.  Prints `name value unit` lines:
 *   req_direct_p50 / _p99        direct keep-alive libcurl handle
 *   req_pool_do_p50 / _p99       pp_do: lease + request + release per request
 *   req_pool_lease_p50 / _p99    one lease held, pp_request per request
 *   req_pool_vs_direct_p50 / _p99  ratios (pp_do over direct)
 * The label suffix comes from $PP_PLACEMENT (e.g. "free", "cpu0").
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"
#include "daemon_proc.h"
#include "testutil.h"
#include "phantompool.h"

#define ROUNDS 10
#define BATCH 500
#define N (ROUNDS * BATCH)

static double pct(uint64_t *v, int n, double p)
{
	return (double)v[(int)(p * (n - 1))] / 1000.0;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_request: %s\n", what);
	exit(1);
}

int main(void)
{
	static uint64_t lat[3][N];
	struct pp_backend be;
	struct pp_daemon_proc d;
	if (pp_backend_start(&be, NULL) != 0)
		die("cannot start the backend");
	char pool[48];
	snprintf(pool, sizeof pool, "benchreq%ld", (long)getpid());
	const char *args[] = { "-b", be.url, "--max", "8", "--min", "1", NULL };
	if (pp_daemon_start(&d, pool, args) != 0)
		die("cannot start phantompoold");
	pp_pool *p;
	if (pp_attach(pool, &p) != 0)
		die("attach");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	char url[128];
	snprintf(url, sizeof url, "%s/health", be.url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pp_test_discard);
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp;
	struct pp_lease *l;
	/* Warm both paths. */
	for (int i = 0; i < 200; i++) {
		if (curl_easy_perform(c) != CURLE_OK || pp_do(p, &req, &resp) != 0)
			die("warm-up request failed");
		pp_resp_free(&resp);
	}
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < BATCH; i++) {
			uint64_t t0 = pp_now_ns();
			if (curl_easy_perform(c) != CURLE_OK)
				die("direct request failed");
			lat[0][r * BATCH + i] = pp_now_ns() - t0;
		}
		for (int i = 0; i < BATCH; i++) {
			uint64_t t0 = pp_now_ns();
			if (pp_do(p, &req, &resp) != 0 || resp.status != 200)
				die("pool request failed");
			lat[1][r * BATCH + i] = pp_now_ns() - t0;
			pp_resp_free(&resp);
		}
		if (pp_lease(p, 1000, &l) != 0)
			die("lease");
		for (int i = 0; i < BATCH; i++) {
			uint64_t t0 = pp_now_ns();
			if (pp_request(l, &req, &resp) != 0 || resp.status != 200)
				die("pool request failed");
			lat[2][r * BATCH + i] = pp_now_ns() - t0;
			pp_resp_free(&resp);
		}
		if (pp_release(l) != 0)
			die("release");
	}
	const char *tag = getenv("PP_PLACEMENT");
	tag = tag && *tag ? tag : "free";
	const char *names[] = { "direct", "pool_do", "pool_lease" };
	double p50[3], p99[3];
	for (int m = 0; m < 3; m++) {
		qsort(lat[m], N, sizeof lat[m][0], pp_test_cmp_u64);
		p50[m] = pct(lat[m], N, 0.50);
		p99[m] = pct(lat[m], N, 0.99);
		printf("req_%s_p50_%s %.1f us\n", names[m], tag, p50[m]);
		printf("req_%s_p99_%s %.1f us\n", names[m], tag, p99[m]);
	}
	printf("req_pool_vs_direct_p50_%s %.2f ratio\n", tag, p50[1] / p50[0]);
	printf("req_pool_vs_direct_p99_%s %.2f ratio\n", tag, p99[1] / p99[0]);
	curl_easy_cleanup(c);
	pp_detach(p);
	pp_daemon_stop(&d);
	pp_backend_stop(&be);
	return 0;
}
