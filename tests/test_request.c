/* test_request.c - requests through the pool against the reference
 * backend: routing of responses to the right process under 64-way load,
 * bodies far larger than the rings, bad input, token handling, timeouts
 * and a backend that drops the connection mid-response. */
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"
#include "daemon_proc.h"
#include "phantompool.h"
#include "segment.h"
#include "testutil.h"

#define MAXC 8
/* The 64 MiB upload runs many times slower under ThreadSanitizer. */
#ifdef __SANITIZE_THREAD__
#define REQUEST_TIMEOUT_MS "60000"
#else
#define REQUEST_TIMEOUT_MS "5000"
#endif

static struct pp_backend backend;
static struct pp_daemon_proc daemon_;
static pp_pool *pool;
static const char *token_path = "/tmp/pp-test-request.token";
static const char *token = "s3cr3t-t0ken-do-not-leak-1234567890";

static int suite_setup(void)
{
	const char *bargs[] = { "--token", token, NULL };
	if (pp_backend_start(&backend, bargs) != 0)
		return -1;
	FILE *f = fopen(token_path, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", token);
	fclose(f);
	char url[128];
	snprintf(url, sizeof url, "%s/api/v1", backend.url);
	const char *args[] = { "-b", url, "--max", "8", "--min", "2", "--token-file", token_path,
			       "--max-body", "100000000", "--request-timeout", REQUEST_TIMEOUT_MS, NULL };
	if (pp_daemon_start(&daemon_, pp_test_pool_name("req"), args) != 0)
		return -1;
	return pp_attach(daemon_.pool, &pool);
}

static int suite_teardown(void)
{
	pp_detach(pool);
	int r = pp_daemon_stop(&daemon_);
	pp_backend_stop(&backend);
	unlink(token_path);
	return r == 0 && backend.exit_status == 0 ? 0 : -1;
}

static int get(struct pp_lease *l, const char *path, pp_resp *resp)
{
	pp_req req = { .method = "GET", .path = path };
	return l ? pp_request(l, &req, resp) : pp_do(pool, &req, resp);
}

static void test_health_and_prefix(void)
{
	pp_resp resp;
	CU_ASSERT_EQUAL_FATAL(get(NULL, "/health", &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp.body, "healthy"));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp.content_type, "application/json"));
	pp_resp_free(&resp);
	CU_ASSERT_EQUAL(get(NULL, "/databases", &resp), 0); /* token needed: the daemon adds it */
	CU_ASSERT_EQUAL(resp.status, 200);
	pp_resp_free(&resp);
	CU_ASSERT_EQUAL(get(NULL, "/health?status=503", &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 503);
	pp_resp_free(&resp);
}

/* The token must never appear in the segment.  (Scanned before the
 * /_debug/headers request below, whose response body echoes it through
 * the response ring on purpose.) */
static void assert_token_not_in_segment(void)
{
	struct pp_seg seg;
	CU_ASSERT_FATAL(pp_seg_attach(daemon_.pool, false, &seg) == 0);
	CU_ASSERT_PTR_NULL(memmem(seg.base, seg.size, token, strlen(token)));
	pp_seg_unmap(&seg);
}

static void test_token_added_and_never_in_segment(void)
{
	pp_resp resp;
	CU_ASSERT_EQUAL_FATAL(get(NULL, "/databases", &resp), 0); /* 401 without the token */
	CU_ASSERT_EQUAL(resp.status, 200);
	pp_resp_free(&resp);
	assert_token_not_in_segment();
	CU_ASSERT_EQUAL_FATAL(get(NULL, "/_debug/headers", &resp), 0);
	char want[128];
	snprintf(want, sizeof want, "Bearer %s", token);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp.body, want));
	CU_ASSERT_PTR_NULL(strstr(resp.body, "100-continue"));
	pp_resp_free(&resp);
}

/* "pp-" hex "-" hex: the id the daemon gives a request that has none. */
static bool is_daemon_rid(const char *id)
{
	if (strncmp(id, "pp-", 3) != 0)
		return false;
	const char *p = id + 3;
	size_t a = strspn(p, "0123456789abcdef");
	if (!a || p[a] != '-')
		return false;
	p += a + 1;
	size_t b = strspn(p, "0123456789abcdef");
	return b && !p[b];
}

/* A request without an X-Request-Id goes out with the daemon's own, a new
 * one each time, beside the token: both header lines whole.  The backend
 * echoes it; the daemon checks the echo and keeps its id to itself. */
static void test_daemon_request_id_with_token(void)
{
	char want[128], first[128] = "";
	snprintf(want, sizeof want, "Bearer %s", token);
	for (int i = 0; i < 2; i++) {
		pp_resp resp;
		CU_ASSERT_EQUAL_FATAL(get(NULL, "/_debug/headers", &resp), 0);
		CU_ASSERT_EQUAL(resp.status, 200);
		CU_ASSERT_STRING_EQUAL(resp.request_id, "");
		json_error_t err;
		json_t *j = json_loads(resp.body ? resp.body : "", 0, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		const char *auth = json_string_value(json_object_get(j, "authorization"));
		const char *rid = json_string_value(json_object_get(j, "x-request-id"));
		CU_ASSERT_STRING_EQUAL(auth ? auth : "", want);
		CU_ASSERT_TRUE(rid && is_daemon_rid(rid));
		if (rid && i == 0)
			snprintf(first, sizeof first, "%s", rid);
		else if (rid)
			CU_ASSERT_STRING_NOT_EQUAL(rid, first);
		json_decref(j);
		pp_resp_free(&resp);
	}
}

/* Shared between forked workers. */
struct tally {
	_Atomic long ok, wrong, failed;
};

static void echo_worker(struct tally *t, int k, int n)
{
	for (int i = 0; i < n; i++) {
		char id[64];
		snprintf(id, sizeof id, "w%d-%d-%ld", k, i, (long)getpid());
		pp_header h = { "X-Request-Id", id };
		pp_req req = { .method = "GET", .path = "/health", .headers = &h, .nheaders = 1 };
		pp_resp resp;
		if (pp_do(pool, &req, &resp) != 0 || resp.status != 200)
			atomic_fetch_add(&t->failed, 1);
		else if (strcmp(resp.request_id, id) != 0)
			atomic_fetch_add(&t->wrong, 1);
		else
			atomic_fetch_add(&t->ok, 1);
		pp_resp_free(&resp);
	}
}

static void test_64_processes_responses_reach_their_sender(void)
{
	struct tally *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(t != MAP_FAILED);
	memset(t, 0, sizeof *t);
	long acc0 = 0, open0 = 0;
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &acc0, &open0), 0);
	uint64_t t0 = pp_now_ns();
	pid_t kids[64];
	for (int k = 0; k < 64; k++)
		if ((kids[k] = fork()) == 0) {
			echo_worker(t, k, 1000);
			_exit(0);
		}
	for (int k = 0; k < 64; k++)
		CU_ASSERT_EQUAL(pp_test_wait_child(kids[k]), 0);
	double s = (double)(pp_now_ns() - t0) / 1e9;
	long acc = 0, open = 0;
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &acc, &open), 0);
	printf("\n    64000 requests in %.2f s (%.0f/s); ok %ld wrong %ld failed %ld; backend accepted %ld, open %ld",
	       s, 64000 / s, t->ok, t->wrong, t->failed, acc, open);
	CU_ASSERT_EQUAL(t->ok, 64000);
	CU_ASSERT_EQUAL(t->wrong, 0);
	CU_ASSERT_EQUAL(t->failed, 0);
	CU_ASSERT(acc <= MAXC);
	CU_ASSERT(open <= MAXC);
	munmap(t, sizeof *t);
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void test_64mib_upload_through_64kib_rings(void)
{
	const size_t total = 64u << 20;
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	pp_header h = { "Content-Type", "application/octet-stream" };
	pp_req req = { .method = "POST", .path = "/_debug/sum", .headers = &h, .nheaders = 1 };
	CU_ASSERT_FATAL(pp_stream_begin(l, &req, (int64_t)total) == 0);
	static uint8_t buf[100000];
	uint64_t hash = 0xcbf29ce484222325ull;
	size_t sent = 0;
	unsigned seed = 1;
	while (sent < total) {
		size_t n = total - sent < sizeof buf ? total - sent : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
		hash = fnv1a(hash, buf, n);
		CU_ASSERT_FATAL(pp_stream_write(l, buf, n) == 0);
		sent += n;
	}
	pp_resp resp;
	CU_ASSERT_FATAL(pp_stream_read_head(l, &resp) == 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	char body[256];
	long n = 0, r;
	while ((r = pp_stream_read(l, body + n, sizeof body - 1 - (size_t)n)) > 0)
		n += r;
	CU_ASSERT_EQUAL(r, 0);
	body[n] = 0;
	char want[64];
	snprintf(want, sizeof want, "\"fnv1a64\": \"%016llx\"", (unsigned long long)hash);
	char want2[64];
	snprintf(want2, sizeof want2, "%016llx", (unsigned long long)hash);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, want2));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "67108864"));
	CU_ASSERT_EQUAL(pp_release(l), 0);
}

static void test_64mib_download_through_64kib_rings(void)
{
	const size_t total = 64u << 20;
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	char path[64];
	snprintf(path, sizeof path, "/_debug/bytes?bytes=%zu", total);
	pp_req req = { .method = "GET", .path = path };
	pp_resp resp;
	CU_ASSERT_FATAL(pp_stream_begin(l, &req, 0) == 0);
	CU_ASSERT_FATAL(pp_stream_read_head(l, &resp) == 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	static uint8_t buf[70000];
	size_t got = 0, bad = 0;
	long r;
	while ((r = pp_stream_read(l, buf, sizeof buf)) > 0) {
		for (long i = 0; i < r; i++)
			bad += buf[i] != (uint8_t)((got + (size_t)i) * 31 + 7);
		got += (size_t)r;
	}
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(got, total);
	CU_ASSERT_EQUAL(bad, 0);
	/* The same lease goes on working: buffered this time. */
	CU_ASSERT_EQUAL(get(l, "/_debug/bytes?bytes=1000000", &resp), 0);
	CU_ASSERT_EQUAL(resp.body_len, 1000000);
	pp_resp_free(&resp);
	CU_ASSERT_EQUAL(pp_release(l), 0);
}

/* The pool's escalation count and loop count, read from the segment. */
static uint64_t escalations(uint32_t *loops)
{
	struct pp_seg seg;
	if (pp_seg_attach(daemon_.pool, false, &seg) != 0)
		return UINT64_MAX;
	uint64_t e = atomic_load(&seg.hdr->escalations);
	*loops = atomic_load(&seg.hdr->loops);
	pp_seg_unmap(&seg);
	return e;
}

/* Requests whose frames fit the rings run on the serving loops alone; a
 * response larger than the ring is handed to the slot's thread. */
static void test_small_exchanges_stay_on_the_loop(void)
{
	uint32_t loops = 0;
	uint64_t e0 = escalations(&loops);
	CU_ASSERT_FATAL(e0 != UINT64_MAX);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	CU_ASSERT(loops >= 1 && loops <= MAXC && (long)loops <= (cpus > 0 ? cpus : 1));
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	static char body[2000];
	memset(body, 'x', sizeof body);
	int ok = 0;
	for (int i = 0; i < 100; i++) {
		pp_resp resp;
		ok += get(l, "/health", &resp) == 0 && resp.status == 200;
		pp_resp_free(&resp);
		pp_req req = { .method = "POST", .path = "/_debug/echo", .body = body, .body_len = sizeof body };
		ok += pp_request(l, &req, &resp) == 0 && resp.status == 200 && resp.body_len == sizeof body;
		pp_resp_free(&resp);
	}
	CU_ASSERT_EQUAL(ok, 200);
	uint64_t e1 = escalations(&loops);
	printf("\n    %u serving loops; escalations: %llu after 200 small exchanges", loops,
	       (unsigned long long)(e1 - e0));
	CU_ASSERT_EQUAL(e1, e0);
	/* The body is read only after a pause, so the ring fills and the loop
	 * must hand the rest over (a worker that drained the ring as fast as
	 * the loop fills it would spare the loop any wait, and the test would
	 * depend on timing). */
	pp_resp resp;
	pp_req big = { .method = "GET", .path = "/_debug/bytes?bytes=1000000" };
	CU_ASSERT_EQUAL_FATAL(pp_stream_begin(l, &big, 0), 0);
	CU_ASSERT_EQUAL_FATAL(pp_stream_read_head(l, &resp), 0);
	usleep(50 * 1000);
	static char buf[65536];
	long n, got = 0;
	while ((n = pp_stream_read(l, buf, sizeof buf)) > 0)
		got += n;
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(got, 1000000);
	uint64_t e2 = escalations(&loops);
	printf(", %llu after a 1 MB download", (unsigned long long)(e2 - e1));
	CU_ASSERT(e2 >= e1 + 1);
	CU_ASSERT_EQUAL(pp_release(l), 0);
}

/* A worker that stops reading a response larger than its ring must not
 * stall the other seats of its serving loop.  With 4 KiB rings the loop
 * needs about 2.9 KiB of room to read on (the room it keeps for a head,
 * an END and an ERROR), but took any room of half the ring as a reason to
 * run again: it spun without sleeping in poll, so an exchange that waited
 * for its socket was never looked at, and another worker's request
 * stayed unanswered until the stalled exchange ended (here: its 2 s
 * timed out, PP_ETIMEDOUT, while the reader sat on its response for 30 s
 * of request timeout). */
static void test_unread_response_does_not_stall_the_loop(void)
{
	struct pp_daemon_proc d;
	const char *args[] = { "-b", backend.url, "--max", "2", "--min", "2", "--loops", "1", "--ring-size", "4096",
			       "--request-timeout", "30000", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("req-stall"), args) == 0);
	pp_daemon_track(d.pid);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	struct pp_lease *slow, *other;
	CU_ASSERT_FATAL(pp_lease(p, 1000, &slow) == 0);
	CU_ASSERT_FATAL(pp_lease(p, 1000, &other) == 0);
	/* The slow reader: its head, then nothing while the ring is full. */
	pp_req big = { .method = "GET", .path = "/_debug/bytes?bytes=1000000" };
	pp_resp head, resp;
	CU_ASSERT_EQUAL_FATAL(pp_stream_begin(slow, &big, 0), 0);
	CU_ASSERT_EQUAL_FATAL(pp_stream_read_head(slow, &head), 0);
	char buf[100];
	CU_ASSERT(pp_stream_read(slow, buf, sizeof buf) > 0);
	usleep(100 * 1000); /* the loop fills the ring and waits for room */
	pp_req small = { .method = "GET", .path = "/health", .timeout_ms = 2000 };
	int r = pp_request(other, &small, &resp);
	printf("\n    a request beside an unread response: %s", r ? pp_strerror(r) : "answer");
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	pp_resp_free(&resp);
	/* The unread response is still whole. */
	long n, got = 100;
	static char rest[65536];
	bool same = true;
	while ((n = pp_stream_read(slow, rest, sizeof rest)) > 0) {
		for (long i = 0; i < n; i++)
			same &= (uint8_t)rest[i] == (uint8_t)((got + i) * 31 + 7);
		got += n;
	}
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(got, 1000000);
	CU_ASSERT(same);
	CU_ASSERT_EQUAL(pp_release(slow), 0);
	CU_ASSERT_EQUAL(pp_release(other), 0);
	pp_detach(p);
	pp_daemon_untrack(d.pid);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
}

/* After each bad request the same lease serves a good one. */
static void assert_lease_still_works(struct pp_lease *l)
{
	pp_resp resp;
	CU_ASSERT_EQUAL(get(l, "/health", &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	pp_resp_free(&resp);
}

static void test_bad_requests_get_their_own_error(void)
{
	struct pp_lease *l;
	pp_resp resp;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	const char *bad_paths[] = { "/a\r\nX-Evil: 1", "/a\nb", "/a b", "health", "", "/a/../../admin", "/\x01" };
	for (size_t i = 0; i < PP_ARRAY_LEN(bad_paths); i++) {
		CU_ASSERT_EQUAL(get(l, bad_paths[i], &resp), PP_EBADPATH);
		assert_lease_still_works(l);
	}
	pp_req req = { .method = "GE T", .path = "/health" };
	CU_ASSERT_EQUAL(pp_request(l, &req, &resp), PP_EBADMETHOD);
	pp_header forbidden[] = { { "Authorization", "Bearer mine" }, { "Host", "evil" }, { "Accept", "a\r\nb" } };
	for (size_t i = 0; i < PP_ARRAY_LEN(forbidden); i++) {
		pp_req hr = { .method = "GET", .path = "/health", .headers = &forbidden[i], .nheaders = 1 };
		CU_ASSERT_EQUAL(pp_request(l, &hr, &resp), PP_EBADHEADER);
		assert_lease_still_works(l);
	}
	static char big[1000];
	pp_req br = { .method = "POST", .path = "/_debug/sum", .body = big, .body_len = sizeof big };
	CU_ASSERT_EQUAL(pp_request(l, &br, &resp), 0); /* under the limit */
	pp_resp_free(&resp);
	CU_ASSERT_EQUAL(pp_stream_begin(l, &br, 100000001), PP_ETOOBIG);
	assert_lease_still_works(l);
	/* Out of order. */
	CU_ASSERT_EQUAL(pp_stream_read(l, big, 10), PP_ESTATE);
	CU_ASSERT_EQUAL(pp_stream_write(l, big, 10), PP_ESTATE);
	CU_ASSERT_EQUAL(pp_request(NULL, &br, &resp), PP_EINVAL);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	CU_ASSERT_EQUAL(pp_request(l, &br, &resp), PP_ERELEASED);
}

static void test_timeout_and_dropped_connection(void)
{
	struct pp_lease *l;
	pp_resp resp;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	pp_req slow = { .method = "GET", .path = "/health?delay_ms=2000", .timeout_ms = 300 };
	uint64_t t0 = pp_now_ns();
	CU_ASSERT_EQUAL(pp_request(l, &slow, &resp), PP_ETIMEDOUT);
	double ms = (double)(pp_now_ns() - t0) / 1e6;
	printf("\n    request timeout 300 ms fired after %.0f ms", ms);
	CU_ASSERT(ms >= 290 && ms < 1000);
	assert_lease_still_works(l);
	CU_ASSERT_EQUAL(get(l, "/_debug/bytes?bytes=1000000&drop=1", &resp), PP_EBACKEND);
	assert_lease_still_works(l);
	CU_ASSERT_EQUAL(pp_release(l), 0);
}

/* Bytes of heap in use, as malloc counts them. */
static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}

/* Does heap_in_use() see allocations?  Not under a sanitizer's allocator
 * (ASan and TSan report 0): the heap's size is then not checked. */
static bool heap_counted(void)
{
	size_t a = heap_in_use();
	void *volatile x = malloc(100000);
	bool seen = x && heap_in_use() >= a + 100000;
	free(x);
	return seen;
}

/* One pp_do of GET path with the headers given on p: 0 if it answered 200
 * and its body holds `want` (NULL: anything). */
static int do_check(pp_pool *p, const char *path, const pp_header *h, size_t nh, const char *want)
{
	pp_req req = { .method = "GET", .path = path, .headers = h, .nheaders = nh };
	pp_resp r;
	int rc = pp_do(p, &req, &r);
	int ok = rc == 0 && r.status == 200 && r.body && (!want || strstr(r.body, want));
	pp_resp_free(&r);
	return ok ? 0 : -1;
}

/* A lease's two private buffers start at 1 KiB and grow only for a
 * larger frame (client.h: PP_LEASE_BUF_INIT): a small exchange in a fresh
 * process keeps its heap within two pages (2.7 KB here; it took two 64 KiB
 * buffers before, then two 4 KiB ones: 10.9 KB); a head
 * and an answer larger than that still go through whole, and small ones
 * after them.  In a child, a fresh process as a CGI program is. */
static void test_lease_buffers_grow_on_demand(void)
{
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		bool counted = heap_counted();
		size_t h0 = heap_in_use();
		pp_pool *p;
		if (pp_attach(daemon_.pool, &p) != 0)
			_exit(100);
		bad |= do_check(p, "/health", NULL, 0, "healthy") ? 1 : 0;
		size_t small = heap_in_use() - h0;
		bad |= counted && small >= 8192 ? 2 : 0;
		/* A head of about 6 KiB (a 4000-byte path, two 1000-byte header
		 * values), then an answer of 12,000 bytes in one BODY frame. */
		static char path[4001], acc[1001], ct[1001];
		snprintf(path, sizeof path, "/_debug/headers?pad=%03980d", 7);
		memset(acc, 'a', 1000);
		memset(ct, 'b', 1000);
		pp_header hs[2] = { { .name = "Accept", .value = acc }, { .name = "Content-Type", .value = ct } };
		bad |= do_check(p, path, hs, 2, acc) ? 4 : 0;
		/* Bodies read whole (pp_do): sized from Content-Length, or (chunked,
		 * no length) grown as they come; each byte checked. */
		static const char *const bodies[] = { "/_debug/bytes?bytes=12000", "/_debug/bytes?bytes=12000&chunked=1",
						      "/_debug/bytes?bytes=4095&chunked=1", "/_debug/bytes?bytes=0&chunked=1",
						      "/_debug/bytes?bytes=1" };
		static const size_t lens[] = { 12000, 12000, 4095, 0, 1 };
		for (size_t i = 0; i < PP_ARRAY_LEN(bodies); i++) {
			pp_req req = { .method = "GET", .path = bodies[i] };
			pp_resp r;
			int rc = pp_do(p, &req, &r);
			bool good = rc == 0 && r.status == 200 && r.body && r.body_len == lens[i] && r.body[r.body_len] == 0;
			for (size_t k = 0; good && k < r.body_len; k++)
				good = (uint8_t)r.body[k] == (uint8_t)(k * 31 + 7);
			bad |= good ? 0 : 32;
			pp_resp_free(&r);
		}
		size_t big = heap_in_use() - h0;
		bad |= counted && big < 2 * 65536 ? 8 : 0; /* both buffers grew to the largest frame */
		bad |= do_check(p, "/health", NULL, 0, "healthy") ? 16 : 0;
		pp_detach(p);
		if (counted)
			printf("\n    heap in use after a small exchange %zu bytes, after larger ones %zu (failures %#x)",
			       small, big, bad);
		else
			printf("\n    heap sizes not counted by this allocator (a sanitizer's): not checked (failures %#x)",
			       bad);
		fflush(stdout);
		_exit(bad);
	}
	int st = 0;
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st));
	CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

/* The fresh process of test_fresh_process_libc_calls (this program run
 * again with PP_TEST_FRESH_POOL set): what a CGI program does, one
 * attach, one request, one detach.  Exit 0 when the answer was right. */
static int fresh_process_main(const char *name)
{
	pp_pool *p;
	if (pp_attach(name, &p) != 0)
		return 100;
	int bad = do_check(p, "/health", NULL, 0, "healthy") ? 1 : 0;
	pp_detach(p);
	return bad;
}

/* Every libc function a fresh process calls for the first time costs it
 * page faults (its code, the dynamic linker's lookup): 10-13 us each on
 * the benchmark host.  So a worker's attach, request and detach make
 * their system calls through syscall(2) (shm/sys.h) and read the first
 * clocks the same way (clock.h).  Checked in a fresh process (this program
 * exec'd again) with the dynamic linker's own record of the functions it
 * bound for the program (LD_DEBUG=bindings): the exchange worked, it went
 * through syscall(2), and none of those wrappers was called. */
static void test_fresh_process_libc_calls(void)
{
	char dir[] = "/tmp/pp-bindings-XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char out[64];
	snprintf(out, sizeof out, "%s/ld", dir);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		setenv("PP_TEST_FRESH_POOL", daemon_.pool, 1);
		setenv("LD_DEBUG", "bindings", 1);
		setenv("LD_DEBUG_OUTPUT", out, 1);
		execl("/proc/self/exe", "test_request", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char path[96];
	snprintf(path, sizeof path, "%s.%ld", out, (long)pid);
	FILE *f = fopen(path, "r");
	CU_ASSERT_FATAL(f != NULL);
	/* fstat, mmap and the clock go to the kernel directly only where its
	 * structures are glibc's (sys.h: PP_SYS_DIRECT). */
	static const char *const banned[] = { "getpid", "kill", "shm_open", "munmap", "close",
#if PP_SYS_DIRECT
					      "fstat", "mmap", "clock_gettime",
#endif
	};
	bool via_syscall = false;
	int found = 0;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		/* "binding file /…/test_request [0] to /…/libc.so.6 [0]: normal symbol `getpid' [GLIBC_2.2.5]" */
		char *from = strstr(line, "binding file "), *to = strstr(line, " to "), *sym = strstr(line, "symbol `");
		if (!from || !to || !sym || !strstr(from, "test_request [0]") || strstr(from, "test_request [0]") > to)
			continue;
		sym += strlen("symbol `");
		char *end = strchr(sym, '\'');
		if (!end)
			continue;
		*end = 0;
		via_syscall |= strcmp(sym, "syscall") == 0;
		for (size_t i = 0; i < PP_ARRAY_LEN(banned); i++)
			if (strcmp(sym, banned[i]) == 0) {
				printf("\n    a fresh process called %s", sym);
				found++;
			}
	}
	fclose(f);
	unlink(path);
	rmdir(dir);
	CU_ASSERT(via_syscall);
	CU_ASSERT_EQUAL(found, 0);
}

/* --- X-Request-Id values a worker may send ---------------------------- */

static int get_with(const pp_header *h, size_t nh, char *echoed, size_t cap)
{
	pp_req req = { .method = "GET", .path = "/health", .headers = h, .nheaders = nh };
	pp_resp resp;
	int r = pp_do(pool, &req, &resp);
	if (!r) {
		snprintf(echoed, cap, "%s", resp.request_id);
		pp_resp_free(&resp);
	} else
		snprintf(echoed, cap, "-");
	return r;
}

static void try_id(const char *label, const char *id, const char *want)
{
	pp_header h[1] = { { "X-Request-Id", id } };
	char echoed[256];
	int r = get_with(h, 1, echoed, sizeof echoed);
	printf("\n    %-26s -> %s (echoed '%.40s%s')", label, r ? pp_strerror(r) : "answer", echoed,
	       strlen(echoed) > 40 ? "..." : "");
	CU_ASSERT_EQUAL(r, 0);
	if (want)
		CU_ASSERT_STRING_EQUAL(echoed, want);
}

/* Any id pp_req_head_check lets through is answered: ids of 80 bytes and
 * more (the daemon kept 79 and added one of its own, which the backend did
 * not echo), white space around the id (the echo comes back trimmed).
 * Each used to end in PP_EPROTO and a dropped connection.  Two ids are
 * refused (PP_EBADHEADER) since ca4c5cb. */
static void test_worker_request_ids(void)
{
	char id79[80], id80[81], id1000[1001];
	memset(id79, 'a', 79), id79[79] = 0;
	memset(id80, 'b', 80), id80[80] = 0;
	memset(id1000, 'c', 1000), id1000[1000] = 0;
	try_id("79-byte id", id79, id79);
	try_id("80-byte id", id80, id80);
	try_id("1000-byte id", id1000, NULL);
	try_id("id with a trailing space", "abc ", "abc");
	try_id("id with a leading tab", "\tabc", "abc");
	try_id("empty id", "", NULL);
	/* Two ids: refused before anything is sent (which one a backend
	 * reads is its choice; test_badinput has the case too). */
	pp_header two[2] = { { "X-Request-Id", "first" }, { "X-Request-Id", "second" } };
	char echoed[256];
	int r = get_with(two, 2, echoed, sizeof echoed);
	printf("\n    %-26s -> %s", "two ids", r ? pp_strerror(r) : "answer");
	CU_ASSERT_EQUAL(r, PP_EBADHEADER);
}

int main(void)
{
	const char *fresh = getenv("PP_TEST_FRESH_POOL");
	if (fresh)
		return fresh_process_main(fresh);
	static const struct pp_test tests[] = {
		{ "health, /api/v1 prefix, forced status", test_health_and_prefix },
		{ "token added by the daemon, never in the segment", test_token_added_and_never_in_segment },
		{ "the daemon's own X-Request-Id beside the token", test_daemon_request_id_with_token },
		{ "64 processes x 1000 requests reach their sender", test_64_processes_responses_reach_their_sender },
		{ "64 MiB upload through 64 KiB rings", test_64mib_upload_through_64kib_rings },
		{ "64 MiB download through 64 KiB rings", test_64mib_download_through_64kib_rings },
		{ "small exchanges stay on the serving loop, large ones escalate", test_small_exchanges_stay_on_the_loop },
		{ "an unread response does not stall the other seats of its loop", test_unread_response_does_not_stall_the_loop },
		{ "bad path, method, header, size: own errors, lease usable", test_bad_requests_get_their_own_error },
		{ "request timeout; connection dropped mid-response", test_timeout_and_dropped_connection },
		{ "lease buffers start small and grow for larger frames", test_lease_buffers_grow_on_demand },
		{ "a fresh process's exchange calls no libc system call wrapper", test_fresh_process_libc_calls },
		{ "worker X-Request-Id values: long, padded, empty, twice", test_worker_request_ids },
	};
	return pp_test_main("request", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
