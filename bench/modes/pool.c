/* pool.c - the modes through phantompoold (the handle is attached once in
 * the harness, before fork, as a pre-fork server would):
 *   pool_do     pp_do per request (lease + request + release)
 *   pool_lease  pp_lease, pp_request, pp_release per request, timing the
 *               lease wait (the fairness figure)
 *   pool_held   one lease held by the worker, pp_request per request
 *   pool_web    a "web request": pp_lease, WEB_QUERIES pp_request calls
 *               with WEB_WORK_US of work between them, pp_release (the
 *               lease wait is timed)
 *   pool_side   pp_do and a direct keep-alive GET, in blocks (harness.h) */
#include "../harness.h"

#include <stdio.h>
#include <unistd.h>

#include "clock.h"

static const pp_req health = { .method = "GET", .path = "/health" };

static int check(struct wctx *w, int rc, pp_resp *r, const char *what)
{
	if (rc != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "%s: %s", what, pp_strerror(rc));
		return -1;
	}
	int st = r->status;
	pp_resp_free(r);
	if (st != 200) {
		snprintf(w->errbuf, sizeof w->errbuf, "%s: HTTP status %d", what, st);
		return -1;
	}
	return 0;
}

int pool_init(struct wctx *w)
{
	if (!w->t->pool) {
		snprintf(w->errbuf, sizeof w->errbuf, "no pool attached");
		return -1;
	}
	return 0;
}

int pool_do_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	(void)lease_wait_ns;
	pp_resp r = { 0 };
	return check(w, pp_do(w->t->pool, &health, &r), &r, "pp_do");
}

int pool_lease_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	struct pp_lease *l;
	uint64_t t0 = pp_now_ns();
	int rc = pp_lease(w->t->pool, 30000, &l);
	*lease_wait_ns = pp_now_ns() - t0;
	if (rc != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "pp_lease: %s", pp_strerror(rc));
		return -1;
	}
	pp_resp r = { 0 };
	rc = check(w, pp_request(l, &health, &r), &r, "pp_request");
	int rr = pp_release(l);
	if (rr != 0 && rc == 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "pp_release: %s", pp_strerror(rr));
		rc = -1;
	}
	return rc;
}

int pool_web_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	struct pp_lease *l;
	uint64_t t0 = pp_now_ns();
	int rc = pp_lease(w->t->pool, 30000, &l);
	*lease_wait_ns = pp_now_ns() - t0;
	if (rc != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "pp_lease: %s", pp_strerror(rc));
		return -1;
	}
	for (int q = 0; q < WEB_QUERIES && rc == 0; q++) {
		if (q)
			usleep(WEB_WORK_US);
		pp_resp r = { 0 };
		rc = check(w, pp_request(l, &health, &r), &r, "pp_request");
	}
	int rr = pp_release(l);
	if (rr != 0 && rc == 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "pp_release: %s", pp_strerror(rr));
		rc = -1;
	}
	return rc;
}

int pool_held_init(struct wctx *w)
{
	if (pool_init(w) != 0)
		return -1;
	int rc = pp_lease(w->t->pool, 30000, &w->held);
	if (rc != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "pp_lease: %s", pp_strerror(rc));
		w->held = NULL;
		return -1;
	}
	return 0;
}

int pool_held_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	(void)lease_wait_ns;
	pp_resp r = { 0 };
	return check(w, pp_request(w->held, &health, &r), &r, "pp_request");
}

void pool_fini(struct wctx *w)
{
	if (w->held && pp_release(w->held) != 0)
		fprintf(stderr, "bench: pp_release of the held lease failed\n");
	w->held = NULL;
}

const char *const pool_side_part_names[PSIDE_PARTS] = { "pool_do", "direct" };

int pool_side_init(struct wctx *w)
{
	return pool_init(w) != 0 ? -1 : curl_ka_open(w);
}

int pool_side_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	w->part = (int)(w->step++ / POOL_SIDE_BLOCK % PSIDE_PARTS);
	return w->part == PSIDE_DIRECT ? curl_request(w, lease_wait_ns) : pool_do_request(w, lease_wait_ns);
}

void pool_side_fini(struct wctx *w)
{
	curl_fini(w);
	pool_fini(w);
}
