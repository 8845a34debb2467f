/* test_badinput.c - every bad argument the public request API can receive
 * is refused with its own code and changes nothing (issue 15, defect 1).
 *
 * After each refused call the same lease (or, for pp_do and the typed
 * helpers, the same pool) serves a good request and gets its own answer:
 * an echo of its own body and its own X-Request-Id.  A refused pp_do must
 * not even cost a slot reset: the pool's reclaim and connection counters
 * stay where they were.  Mid-exchange refusals (a bad pp_stream_write or
 * pp_stream_read) leave the exchange where it was: it then finishes and
 * answers correctly.
 *
 * The daemon runs with 4 KiB rings and a 100,000-byte body limit, so that
 * a request head too large for the ring and a body over the limit are
 * reachable from the API.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_proc.h"
#include "daemon_proc.h"
#include "phantompool.h"
#include "testutil.h"

#define MAX_BODY 100000

static struct pp_backend backend;
static struct pp_daemon_proc daemon_;
static pp_pool *pool;

static int suite_setup(void)
{
	if (pp_backend_start(&backend, NULL) != 0)
		return -1;
	const char *args[] = { "-b", backend.url, "--max", "2", "--min", "1", "--ring-size", "4096",
			       "--max-body", "100000", NULL };
	if (pp_daemon_start(&daemon_, pp_test_pool_name("badin"), args) != 0) {
		pp_backend_stop(&backend);
		return -1;
	}
	return pp_attach(daemon_.pool, &pool);
}

static int suite_teardown(void)
{
	pp_detach(pool);
	int r = pp_daemon_stop(&daemon_);
	pp_backend_stop(&backend);
	return r == 0 && backend.exit_status == 0 ? 0 : -1;
}

/* ---- the good request, and its check ---------------------------------- */

static unsigned seq;

/* Send a good request (an echo with a fresh id and body) on l, or through
 * pp_do when l is NULL, and assert that the answer is its own. */
static void own_answer_impl(struct pp_lease *l, const char *after, unsigned line)
{
	char id[64], body[64], msg[256];
	snprintf(id, sizeof id, "own-%u", ++seq);
	snprintf(body, sizeof body, "body of request %u", seq);
	pp_header h = { "X-Request-Id", id };
	pp_req req = { .method = "POST", .path = "/_debug/echo", .headers = &h, .nheaders = 1,
		       .body = body, .body_len = strlen(body) };
	pp_resp resp;
	int rc = l ? pp_request(l, &req, &resp) : pp_do(pool, &req, &resp);
	snprintf(msg, sizeof msg, "after %s: good request -> %d (%s), HTTP %d, id '%s', body '%.40s'", after, rc,
		 pp_strerror(rc), resp.status, resp.request_id, resp.body ? resp.body : "");
	CU_assertImplementation(rc == 0 && resp.status == 200 && !strcmp(resp.request_id, id) &&
					resp.body_len == strlen(body) && !memcmp(resp.body, body, resp.body_len),
				line, msg, __FILE__, "", CU_FALSE);
	pp_resp_free(&resp);
}
#define OWN_ANSWER(l, after) own_answer_impl((l), (after), __LINE__)

/* Assert rc == want, naming the case on failure. */
static void expect_code_impl(int rc, int want, const char *what, unsigned line)
{
	char msg[256];
	snprintf(msg, sizeof msg, "%s -> %d (%s), want %d (%s)", what, rc, pp_strerror(rc), want, pp_strerror(want));
	CU_assertImplementation(rc == want, line, msg, __FILE__, "", CU_FALSE);
}
#define EXPECT_CODE(rc, want, what) expect_code_impl((rc), (want), (what), __LINE__)

/* ---- the table of bad requests ---------------------------------------- */

static char long_method[18], long_path[4100], long_value[1030], big_value[1001];
static char *over_limit; /* MAX_BODY + 1 bytes: pointed at, never sent */
static pp_header forbidden_auth = { "Authorization", "Bearer mine" };
static pp_header forbidden_host = { "Host", "evil.example" };
static pp_header null_name = { NULL, "x" };
static pp_header null_value = { "Accept", NULL };
static pp_header crlf_value = { "Accept", "a\r\nX-Injected: 1" };
static pp_header bad_name = { "Bad Name", "x" };
static pp_header long_val = { "Accept", long_value };
static pp_header many[33];
static pp_header two_ctypes[2] = { { "Content-Type", "application/json" }, { "content-type", "text/plain" } };
static pp_header two_ids[2] = { { "X-Request-Id", "a" }, { "X-REQUEST-ID", "b" } };
static pp_header ring_fill[32]; /* 32 x 1000 bytes: a head no 4 KiB ring takes */

struct bad_req {
	const char *name;
	pp_req req;
	int want;
	int streamable; /* 1: pp_stream_begin refuses it too (it ignores body) */
};

static struct bad_req bad_reqs[] = {
	{ "method NULL", { .path = "/health" }, PP_EINVAL, 1 },
	{ "path NULL", { .method = "GET" }, PP_EINVAL, 1 },
	{ "nheaders 1, headers NULL", { .method = "GET", .path = "/health", .nheaders = 1 }, PP_EINVAL, 1 },
	{ "body NULL, body_len 10", { .method = "POST", .path = "/_debug/echo", .body_len = 10 }, PP_EINVAL, 0 },
	{ "timeout_ms -1", { .method = "GET", .path = "/health", .timeout_ms = -1 }, PP_EINVAL, 1 },
	{ "method with a space", { .method = "GE T", .path = "/health" }, PP_EBADMETHOD, 1 },
	{ "method empty", { .method = "", .path = "/health" }, PP_EBADMETHOD, 1 },
	{ "method CR LF", { .method = "GET\r\n", .path = "/health" }, PP_EBADMETHOD, 1 },
	{ "method 17 bytes", { .method = long_method, .path = "/health" }, PP_EBADMETHOD, 1 },
	{ "method CONNECT", { .method = "CONNECT", .path = "/health" }, PP_EBADMETHOD, 1 },
	{ "method connect", { .method = "connect", .path = "/health" }, PP_EBADMETHOD, 1 },
	{ "path empty", { .method = "GET", .path = "" }, PP_EBADPATH, 1 },
	{ "path relative", { .method = "GET", .path = "health" }, PP_EBADPATH, 1 },
	{ "path with a space", { .method = "GET", .path = "/a b" }, PP_EBADPATH, 1 },
	{ "path CR LF", { .method = "GET", .path = "/a\r\nX-Evil: 1" }, PP_EBADPATH, 1 },
	{ "path network reference", { .method = "GET", .path = "//evil.example/x" }, PP_EBADPATH, 1 },
	{ "path dot-dot", { .method = "GET", .path = "/a/../../admin" }, PP_EBADPATH, 1 },
	{ "path DEL", { .method = "GET", .path = "/\x7f" }, PP_EBADPATH, 1 },
	{ "path 4097 bytes", { .method = "GET", .path = long_path }, PP_EBADPATH, 1 },
	{ "header Authorization", { .method = "GET", .path = "/health", .headers = &forbidden_auth, .nheaders = 1 },
	  PP_EBADHEADER, 1 },
	{ "header Host", { .method = "GET", .path = "/health", .headers = &forbidden_host, .nheaders = 1 },
	  PP_EBADHEADER, 1 },
	{ "header name NULL", { .method = "GET", .path = "/health", .headers = &null_name, .nheaders = 1 },
	  PP_EBADHEADER, 1 },
	{ "header value NULL", { .method = "GET", .path = "/health", .headers = &null_value, .nheaders = 1 },
	  PP_EBADHEADER, 1 },
	{ "header value CR LF", { .method = "GET", .path = "/health", .headers = &crlf_value, .nheaders = 1 },
	  PP_EBADHEADER, 1 },
	{ "header name with a space", { .method = "GET", .path = "/health", .headers = &bad_name, .nheaders = 1 },
	  PP_EBADHEADER, 1 },
	{ "header value 1025 bytes", { .method = "GET", .path = "/health", .headers = &long_val, .nheaders = 1 },
	  PP_EBADHEADER, 1 },
	{ "33 headers", { .method = "GET", .path = "/health", .headers = many, .nheaders = 33 }, PP_EBADHEADER, 1 },
	{ "two Content-Type", { .method = "GET", .path = "/health", .headers = two_ctypes, .nheaders = 2 },
	  PP_EBADHEADER, 1 },
	{ "two X-Request-Id", { .method = "GET", .path = "/health", .headers = two_ids, .nheaders = 2 },
	  PP_EBADHEADER, 1 },
	{ "head larger than the ring", { .method = "GET", .path = "/health", .headers = ring_fill, .nheaders = 32 },
	  PP_ETOOBIG, 1 },
	/* (int64_t)SIZE_MAX is -1, the length of a chunked stream: the body
	 * went out as one, refused mid-exchange (PP_ETOOBIG, the lease stuck
	 * in PP_ESTATE) or, without --max-body, read past the buffer. */
	{ "body_len SIZE_MAX", { .method = "POST", .path = "/_debug/echo", .body = "x", .body_len = SIZE_MAX },
	  PP_EINVAL, 0 },
	{ "body over --max-body", { .method = "POST", .path = "/_debug/echo", .body_len = MAX_BODY + 1 },
	  PP_ETOOBIG, 1 },
};

static void fill_table(void)
{
	memset(long_method, 'M', 17);
	long_path[0] = '/';
	memset(long_path + 1, 'p', 4096);
	memset(long_value, 'v', 1025);
	memset(big_value, 'a', 1000);
	for (size_t i = 0; i < PP_ARRAY_LEN(many); i++)
		many[i] = (pp_header){ "Accept", "x" };
	for (size_t i = 0; i < PP_ARRAY_LEN(ring_fill); i++)
		ring_fill[i] = (pp_header){ "Accept", big_value };
	if (!over_limit)
		over_limit = calloc(1, MAX_BODY + 1);
	bad_reqs[PP_ARRAY_LEN(bad_reqs) - 1].req.body = over_limit;
}

/* The pool's counters that a refused call must not move. */
struct marks {
	uint64_t reclaims, connects, errors;
};

static struct marks marks_now(void)
{
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(pool, &st), 0);
	return (struct marks){ st.reclaims, st.connects + st.reconnects, st.errors };
}

static void assert_marks_unchanged(struct marks a, const char *what)
{
	struct marks b = marks_now();
	char msg[256];
	snprintf(msg, sizeof msg, "%s: reclaims %llu -> %llu, connections %llu -> %llu, errors %llu -> %llu", what,
		 (unsigned long long)a.reclaims, (unsigned long long)b.reclaims, (unsigned long long)a.connects,
		 (unsigned long long)b.connects, (unsigned long long)a.errors, (unsigned long long)b.errors);
	CU_assertImplementation(a.reclaims == b.reclaims && a.connects == b.connects && a.errors == b.errors,
				__LINE__, msg, __FILE__, "", CU_FALSE);
}

/* ---- the tests ---------------------------------------------------------- */

static void test_pp_request(void)
{
	fill_table();
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	struct marks m = marks_now();
	pp_resp resp;
	for (size_t i = 0; i < PP_ARRAY_LEN(bad_reqs); i++) {
		memset(&resp, 0x5a, sizeof resp); /* must come back zeroed */
		EXPECT_CODE(pp_request(l, &bad_reqs[i].req, &resp), bad_reqs[i].want, bad_reqs[i].name);
		CU_ASSERT(resp.status == 0 && resp.body == NULL && resp.body_len == 0);
		OWN_ANSWER(l, bad_reqs[i].name);
	}
	memset(&resp, 0x5a, sizeof resp);
	EXPECT_CODE(pp_request(l, NULL, &resp), PP_EINVAL, "req NULL");
	CU_ASSERT(resp.status == 0 && resp.body == NULL);
	OWN_ANSWER(l, "req NULL");
	EXPECT_CODE(pp_request(l, &bad_reqs[0].req, NULL), PP_EINVAL, "resp NULL");
	pp_req good = { .method = "GET", .path = "/health" };
	EXPECT_CODE(pp_request(l, &good, NULL), PP_EINVAL, "good request, resp NULL");
	OWN_ANSWER(l, "resp NULL");
	assert_marks_unchanged(m, "pp_request");
	CU_ASSERT_EQUAL(pp_release(l), 0);
}

static void test_pp_do(void)
{
	fill_table();
	struct marks m = marks_now();
	pp_resp resp;
	for (size_t i = 0; i < PP_ARRAY_LEN(bad_reqs); i++) {
		memset(&resp, 0x5a, sizeof resp);
		EXPECT_CODE(pp_do(pool, &bad_reqs[i].req, &resp), bad_reqs[i].want, bad_reqs[i].name);
		CU_ASSERT(resp.status == 0 && resp.body == NULL && resp.body_len == 0);
		OWN_ANSWER(NULL, bad_reqs[i].name);
	}
	memset(&resp, 0x5a, sizeof resp);
	EXPECT_CODE(pp_do(pool, NULL, &resp), PP_EINVAL, "pp_do req NULL");
	CU_ASSERT(resp.status == 0 && resp.body == NULL);
	EXPECT_CODE(pp_do(NULL, &bad_reqs[0].req, &resp), PP_EINVAL, "pp_do pool NULL");
	pp_req good = { .method = "GET", .path = "/health" };
	EXPECT_CODE(pp_do(pool, &good, NULL), PP_EINVAL, "pp_do resp NULL");
	OWN_ANSWER(NULL, "pp_do NULL arguments");
	assert_marks_unchanged(m, "pp_do");
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(pool, &st), 0);
	CU_ASSERT_EQUAL(st.used, 0);
}

static void test_stream_begin(void)
{
	fill_table();
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	struct marks m = marks_now();
	for (size_t i = 0; i < PP_ARRAY_LEN(bad_reqs); i++) {
		if (!bad_reqs[i].streamable)
			continue;
		EXPECT_CODE(pp_stream_begin(l, &bad_reqs[i].req, (int64_t)bad_reqs[i].req.body_len), bad_reqs[i].want,
			    bad_reqs[i].name);
		OWN_ANSWER(l, bad_reqs[i].name);
	}
	pp_req post = { .method = "POST", .path = "/_debug/echo" };
	EXPECT_CODE(pp_stream_begin(l, NULL, 0), PP_EINVAL, "stream_begin req NULL");
	OWN_ANSWER(l, "stream_begin req NULL");
	EXPECT_CODE(pp_stream_begin(l, &post, -2), PP_EINVAL, "stream_begin body_len -2");
	OWN_ANSWER(l, "stream_begin body_len -2");
	EXPECT_CODE(pp_stream_begin(l, &post, INT64_MIN), PP_EINVAL, "stream_begin body_len INT64_MIN");
	OWN_ANSWER(l, "stream_begin body_len INT64_MIN");
	EXPECT_CODE(pp_stream_begin(NULL, &post, 0), PP_EINVAL, "stream_begin lease NULL");
	assert_marks_unchanged(m, "pp_stream_begin");
	CU_ASSERT_EQUAL(pp_release(l), 0);
}

/* Refusals in the middle of a streamed exchange: the exchange goes on and
 * answers with the right bytes. */
static void test_stream_mid_exchange(void)
{
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	struct marks m = marks_now();
	pp_header h = { "X-Request-Id", "streamed-1" };
	pp_req post = { .method = "POST", .path = "/_debug/echo", .headers = &h, .nheaders = 1 };
	char buf[64];
	pp_resp resp;
	CU_ASSERT_EQUAL_FATAL(pp_stream_begin(l, &post, 10), 0);
	EXPECT_CODE(pp_stream_write(l, NULL, 5), PP_EINVAL, "write NULL, 5");
	EXPECT_CODE(pp_stream_write(l, "01234567890", 11), PP_ETOOBIG, "write 11 of 10 declared");
	EXPECT_CODE(pp_stream_read_head(l, &resp), PP_ESTATE, "read_head before the body");
	EXPECT_CODE((int)pp_stream_read(l, buf, sizeof buf), PP_ESTATE, "read while sending");
	EXPECT_CODE(pp_stream_begin(l, &post, 0), PP_ESTATE, "begin while sending");
	EXPECT_CODE(pp_request(l, &post, &resp), PP_ESTATE, "pp_request while sending");
	CU_ASSERT_EQUAL(pp_stream_write(l, "01234", 5), 0);
	CU_ASSERT_EQUAL(pp_stream_write(l, NULL, 0), 0);
	EXPECT_CODE(pp_stream_write(l, "567890", 6), PP_ETOOBIG, "write 11 of 10 declared, in two steps");
	CU_ASSERT_EQUAL(pp_stream_write(l, "56789", 5), 0);
	EXPECT_CODE(pp_stream_read_head(l, NULL), PP_EINVAL, "read_head resp NULL");
	CU_ASSERT_EQUAL_FATAL(pp_stream_read_head(l, &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_STRING_EQUAL(resp.request_id, "streamed-1");
	EXPECT_CODE(pp_stream_write(l, "x", 1), PP_ESTATE, "write after the head was read");
	EXPECT_CODE((int)pp_stream_read(l, NULL, 5), PP_EINVAL, "read NULL, 5");
	EXPECT_CODE((int)pp_stream_read(l, buf, 0), PP_EINVAL, "read 0 bytes");
	size_t got = 0;
	long r;
	while ((r = pp_stream_read(l, buf + got, 3)) > 0)
		got += (size_t)r;
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(got, 10);
	CU_ASSERT(got == 10 && !memcmp(buf, "0123456789", 10));
	OWN_ANSWER(l, "a streamed exchange with refused calls");

	/* Unknown length: the body limit is checked as bytes arrive. */
	CU_ASSERT_EQUAL_FATAL(pp_stream_begin(l, &post, -1), 0);
	EXPECT_CODE(pp_stream_write(l, over_limit, MAX_BODY + 1), PP_ETOOBIG, "chunked write over --max-body");
	CU_ASSERT_EQUAL(pp_stream_write(l, "abc", 3), 0);
	CU_ASSERT_EQUAL_FATAL(pp_stream_read_head(l, &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	got = 0;
	while ((r = pp_stream_read(l, buf + got, sizeof buf - got)) > 0)
		got += (size_t)r;
	CU_ASSERT(r == 0 && got == 3 && !memcmp(buf, "abc", 3));
	OWN_ANSWER(l, "a chunked exchange with a refused write");
	EXPECT_CODE(pp_stream_write(NULL, "x", 1), PP_EINVAL, "write lease NULL");
	EXPECT_CODE(pp_stream_read_head(NULL, &resp), PP_EINVAL, "read_head lease NULL");
	EXPECT_CODE((int)pp_stream_read(NULL, buf, 1), PP_EINVAL, "read lease NULL");
	assert_marks_unchanged(m, "streaming");
	CU_ASSERT_EQUAL(pp_release(l), 0);
}

/* The typed helpers go through pp_do: a name that makes the path too long
 * is refused before any lease. */
static void test_typed_helpers(void)
{
	fill_table();
	struct marks m = marks_now();
	static char name[5000];
	memset(name, 't', sizeof name - 1);
	pp_resp resp;
	EXPECT_CODE(pp_get_table(pool, "db", name, &resp), PP_EBADPATH, "pp_get_table, 4999-byte name");
	CU_ASSERT(resp.status == 0 && resp.body == NULL);
	OWN_ANSWER(NULL, "pp_get_table, 4999-byte name");
	EXPECT_CODE(pp_get_rows(pool, "db", "t", NULL, NULL, -1, 0, &resp), PP_EINVAL, "pp_get_rows limit -1");
	OWN_ANSWER(NULL, "pp_get_rows limit -1");
	assert_marks_unchanged(m, "typed helpers");
}

/* pp_detach while another thread of the process holds a lease of the
 * handle: that lease stays valid (only its thread can release it), so
 * the thread's request and release work and the seat comes back.  The
 * segment used to be unmapped under it: the release crashed. */
struct held {
	pp_pool *h;
	struct pp_lease *l;
	int leased, request, released;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool detached;
};

static void *hold_across_detach(void *arg)
{
	struct held *t = arg;
	pthread_mutex_lock(&t->mu);
	t->leased = pp_lease(t->h, 2000, &t->l);
	pthread_cond_broadcast(&t->cv);
	while (!t->detached)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	if (t->leased == 0) {
		pp_req req = { .method = "GET", .path = "/health" };
		pp_resp resp;
		t->request = pp_request(t->l, &req, &resp);
		if (t->request == 0)
			pp_resp_free(&resp);
		t->released = pp_release(t->l);
	}
	return NULL;
}

static void test_detach_with_another_threads_lease(void)
{
	struct held t = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .leased = 1 };
	CU_ASSERT_FATAL(pp_attach(daemon_.pool, &t.h) == 0);
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, hold_across_detach, &t) == 0);
	pthread_mutex_lock(&t.mu);
	while (t.leased == 1)
		pthread_cond_wait(&t.cv, &t.mu);
	pp_detach(t.h); /* the other thread's lease stays */
	t.detached = true;
	pthread_cond_broadcast(&t.cv);
	pthread_mutex_unlock(&t.mu);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(t.leased, 0);
	CU_ASSERT_EQUAL(t.request, 0);
	CU_ASSERT_EQUAL(t.released, 0);
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(pool, &st), 0);
	CU_ASSERT_EQUAL(st.available, st.max); /* the seat came back */
	printf("\n    lease %d, request %d, release %d after the detach; %u of %u seats free", t.leased, t.request,
	       t.released, st.available, st.max);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "pp_request: each bad request refused, the lease answers the next", test_pp_request },
		{ "pp_do: each bad request refused before any lease, nothing reset", test_pp_do },
		{ "pp_stream_begin: each bad head refused, the lease answers the next", test_stream_begin },
		{ "streaming: refused calls mid-exchange leave it going", test_stream_mid_exchange },
		{ "typed helpers: refused without a lease", test_typed_helpers },
		{ "pp_detach while another thread holds a lease: that lease still works", test_detach_with_another_threads_lease },
	};
	int r = pp_test_main("badinput", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
	free(over_limit);
	return r;
}
