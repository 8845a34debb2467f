/* test_tls.c - the pool in front of an HTTPS backend: the reference backend
 * serving TLS with a self-signed certificate made at test time
 * (tls_certs.h), phantompoold verifying it with --ca-file, keep-alive TLS
 * connections reused per slot, verification failures (untrusted
 * certificate, wrong name) failing fast with PP_EBACKEND and logged,
 * --no-tls-verify, a client certificate (--tls-cert/--tls-key), and what
 * the pool does with nodes that misbehave below HTTP: a CA file that
 * cannot be read, a TLS handshake never answered or cut short (counted in
 * connects), a node that closes or never answers (down, probed with
 * backoff), a node that closes after each answer (no reopen churn).
 *
 * Connections of the TLS backend are counted through its plain-HTTP debug
 * port (backend_proc.h: the launcher adds --debug-port 0 for TLS). */
#include <curl/curl.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend_proc.h"
#include "daemon_proc.h"
#include "phantompool.h"
#include "testutil.h"
#include "tls_certs.h"

#define MAXC 8
#define WORKERS 8
#define PER_WORKER 25		/* 8 x 25 = 200 requests per round */
#define FAIL_FAST_MS 5000	/* a failed handshake must not take longer */

static struct pp_tls_certs certs;
static struct pp_backend backend;	/* HTTPS, certs.server */
static char log_dir[64];

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int start_tls_backend(struct pp_backend *b, const struct pp_tls_pair *p,
			     const char *client_ca)
{
	const char *args[] = { "--tls-cert", p->cert, "--tls-key", p->key,
			       client_ca ? "--tls-client-ca" : NULL, client_ca, NULL };
	return pp_backend_start(b, args);
}

static int suite_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(log_dir, sizeof log_dir, "/tmp/pp-test-tls.XXXXXX");
	if (!mkdtemp(log_dir))
		return -1;
	if (pp_tls_certs_make(&certs) != 0)
		return -1;
	return start_tls_backend(&backend, &certs.server, NULL);
}

static int suite_teardown(void)
{
	pp_backend_stop(&backend);
	pp_tls_certs_remove(&certs);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", log_dir);
	if (log_dir[0] && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", log_dir);
	curl_global_cleanup();
	return backend.exit_status == 0 ? 0 : -1;
}

/* Start phantompoold for pool tag with args, its stderr (the log, with
 * -f) going to log_dir/<tag>.log, whose path is put in log (if log). */
static int start_daemon(struct pp_daemon_proc *d, const char *tag, const char *const *args,
			char *log, size_t log_size)
{
	char path[128];
	int saved = dup(STDERR_FILENO), fd, rc;

	snprintf(path, sizeof path, "%s/%s.log", log_dir, tag);
	if (log)
		snprintf(log, log_size, "%s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (saved < 0 || fd < 0)
		return -1;
	fflush(stderr);
	dup2(fd, STDERR_FILENO);	/* the daemon inherits it */
	rc = pp_daemon_start(d, pp_test_pool_name(tag), args);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	return rc;
}

/* 1 if the file at path contains needle (case-insensitive). */
static int file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int found = 0;

	while (f && !found && fgets(line, sizeof line, f))
		found = strcasestr(line, needle) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* Print the lines of the file at path that mention needle. */
static void show_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0;

	while (f && n < 3 && fgets(line, sizeof line, f))
		if (strcasestr(line, needle)) {
			printf("\n    log: %s", line);
			n++;
		}
	if (f)
		fclose(f);
}

/* One GET through a fresh pool handle; the HTTP status, or the PP_E code. */
static int pool_get(const char *pool_name, const char *path, long long *ms)
{
	pp_pool *p;
	pp_resp resp;
	pp_req req = { .method = "GET", .path = path };
	long long t0 = now_ms();
	int rc;

	if (pp_attach(pool_name, &p) != 0)
		return -1000;
	rc = pp_do(p, &req, &resp);
	if (rc == 0)
		rc = resp.status;
	pp_resp_free(&resp);
	pp_detach(p);
	if (ms)
		*ms = now_ms() - t0;
	return rc;
}

/* GET url with plain libcurl; CURLcode, *status set on CURLE_OK. */
static CURLcode curl_get(const char *url, const char *cainfo, const struct pp_tls_pair *client,
			 long *status)
{
	CURL *e = curl_easy_init();
	CURLcode rc;

	if (!e)
		return CURLE_FAILED_INIT;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, pp_test_discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (cainfo)
		curl_easy_setopt(e, CURLOPT_CAINFO, cainfo);
	if (client) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, client->cert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, client->key);
	}
	rc = curl_easy_perform(e);
	*status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(e);
	return rc;
}

/* Wait (up to 2 s) until b has no open connection; 0 or -1. */
static int wait_no_open(const struct pp_backend *b)
{
	for (int i = 0; i < 200; i++) {
		long open = -1;
		if (pp_backend_connections(b, NULL, &open) == 0 && open == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* The backend side alone, with plain libcurl: HTTPS with the certificate
 * as CA file answers 200, the default CA store rejects it, and both TCP
 * connections are counted through the debug port (which counts none of
 * its own). */
static void test_backend_serves_https(void)
{
	long acc0 = -1, acc1 = -1, acc2 = -1, status = 0;
	char url[128];

	CU_ASSERT_EQUAL(backend.tls, 1);
	CU_ASSERT(backend.debug_port > 0);
	CU_ASSERT_EQUAL(strncmp(backend.url, "https://127.0.0.1:", 18), 0);
	CU_ASSERT_EQUAL_FATAL(pp_backend_connections(&backend, &acc0, NULL), 0);
	snprintf(url, sizeof url, "%s/health", backend.url);
	CU_ASSERT_EQUAL(curl_get(url, certs.server.cert, NULL, &status), CURLE_OK);
	CU_ASSERT_EQUAL(status, 200);
	CU_ASSERT_EQUAL(curl_get(url, NULL, NULL, &status), CURLE_PEER_FAILED_VERIFICATION);
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &acc1, NULL), 0);
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &acc2, NULL), 0);
	CU_ASSERT_EQUAL(acc1, acc0 + 2);
	CU_ASSERT_EQUAL(acc2, acc1);	/* probes are not counted */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/health", backend.port);
	CU_ASSERT(!(curl_get(url, NULL, NULL, &status) == CURLE_OK && status == 200));
	CU_ASSERT_EQUAL(wait_no_open(&backend), 0);
}

/* Shared between forked workers. */
struct tally {
	_Atomic long ok, failed;
};

static void worker(const char *pool_name, struct tally *t, int n)
{
	pp_pool *p;

	if (pp_attach(pool_name, &p) != 0) {
		atomic_fetch_add(&t->failed, n);
		return;
	}
	for (int i = 0; i < n; i++) {
		pp_req req = { .method = "GET", .path = "/health" };
		pp_resp resp;
		if (pp_do(p, &req, &resp) == 0 && resp.status == 200)
			atomic_fetch_add(&t->ok, 1);
		else
			atomic_fetch_add(&t->failed, 1);
		pp_resp_free(&resp);
	}
	pp_detach(p);
}

/* WORKERS forked processes x PER_WORKER GETs; the number that failed. */
static long run_round(const char *pool_name)
{
	struct tally *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t kids[WORKERS];
	long failed;

	if (t == MAP_FAILED)
		return -1;
	memset(t, 0, sizeof *t);
	for (int k = 0; k < WORKERS; k++)
		if ((kids[k] = fork()) == 0) {
			worker(pool_name, t, PER_WORKER);
			_exit(0);
		}
	for (int k = 0; k < WORKERS; k++)
		CU_ASSERT_EQUAL(kids[k] > 0 ? pp_test_wait_child(kids[k]) : -1, 0);
	failed = t->failed + (WORKERS * PER_WORKER - t->ok - t->failed);
	munmap(t, sizeof *t);
	return failed;
}

/* Verification on, --ca-file the self-signed certificate: requests
 * succeed; 400 requests by 8 processes open at most MAXC TLS connections;
 * one lease's connection (and TLS session) serves many requests; and a
 * second round opens no connection the first round's slots had. */
static void test_pool_over_tls_reuses_connections(void)
{
	struct pp_daemon_proc d;
	char url[128], log[160];
	long acc0 = -1, open0 = -1, acc1 = -1, open1 = -1, acc2 = -1, open2 = -1;
	long acc3 = -1, acc4 = -1;

	CU_ASSERT_EQUAL(wait_no_open(&backend), 0);
	CU_ASSERT_EQUAL_FATAL(pp_backend_connections(&backend, &acc0, &open0), 0);
	snprintf(url, sizeof url, "%s/api/v1", backend.url);
	const char *args[] = { "-b", url, "--min", "2", "--max", "8", "--ca-file",
			       certs.server.cert, "--request-timeout", "5000", NULL };
	CU_ASSERT_EQUAL_FATAL(start_daemon(&d, "ok", args, log, sizeof log), 0);
	int st = pool_get(d.pool, "/health", NULL);
	CU_ASSERT_EQUAL(st, 200);
	if (st != 200) {
		printf("\n    GET /health through the pool: %d (%s)", st,
		       st < 0 ? pp_strerror(st) : "HTTP");
		show_lines(log, "slot");
	}

	/* One lease: its connection serves 50 requests, no new connection. */
	pp_pool *p;
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	CU_ASSERT_FATAL(pp_lease(p, 5000, &l) == 0);
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp;
	CU_ASSERT_EQUAL(pp_request(l, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	pp_resp_free(&resp);
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &acc3, NULL), 0);
	int ok = 0;
	for (int i = 0; i < 50; i++) {
		if (pp_request(l, &req, &resp) == 0 && resp.status == 200)
			ok++;
		pp_resp_free(&resp);
	}
	CU_ASSERT_EQUAL(ok, 50);
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &acc4, NULL), 0);
	CU_ASSERT_EQUAL(acc4, acc3);
	pp_release(l);
	pp_detach(p);

	/* Two rounds of 200 requests by 8 forked workers. */
	CU_ASSERT_EQUAL(run_round(d.pool), 0);
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &acc1, &open1), 0);
	CU_ASSERT_EQUAL(run_round(d.pool), 0);
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &acc2, &open2), 0);
	printf("\n    TLS backend connections: before %ld; one lease x51 %ld -> %ld; "
	       "after 200 requests accepted %ld open %ld; after 400 accepted %ld open %ld",
	       acc0, acc3 - acc0, acc4 - acc0, acc1 - acc0, open1 - open0, acc2 - acc0,
	       open2 - open0);
	CU_ASSERT(acc1 - acc0 >= 1);
	CU_ASSERT(acc1 - acc0 <= MAXC);
	CU_ASSERT(acc2 - acc0 <= MAXC);
	/* No connection was closed and reopened: every accepted one is open. */
	CU_ASSERT_EQUAL(open1 - open0, acc1 - acc0);
	CU_ASSERT_EQUAL(open2 - open0, acc2 - acc0);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
}

/* A daemon for tag against backend b with args (after -b URL); GET
 * /health through it; returns the status or PP_E code, *ms its time. */
static int one_get_via(const struct pp_backend *b, const char *tag, const char *const *more,
		       char *log, size_t log_size, long long *ms)
{
	struct pp_daemon_proc d;
	const char *args[24] = { "-b", b->url, "--min", "1", "--max", "2",
				 "--request-timeout", "5000", "--log-level", "debug" };
	int n = 10, rc;

	for (; more && *more && n < 23; more++)
		args[n++] = *more;
	args[n] = NULL;
	if (start_daemon(&d, tag, args, log, log_size) != 0)
		return -2000;
	rc = pool_get(d.pool, "/health", ms);
	if (pp_daemon_stop(&d) != 0)
		rc = -3000;
	return rc;
}

/* Verification on, no --ca-file: the self-signed certificate is not in
 * the default CA store, so requests fail with PP_EBACKEND, fast, and the
 * daemon's log says why. */
static void test_untrusted_certificate_fails_fast(void)
{
	char log[160];
	long long ms = -1;
	int rc = one_get_via(&backend, "untrusted", NULL, log, sizeof log, &ms);

	printf("\n    no --ca-file: %d (%s) in %lld ms", rc, rc < 0 ? pp_strerror(rc) : "HTTP", ms);
	CU_ASSERT_EQUAL(rc, PP_EBACKEND);
	CU_ASSERT(ms >= 0 && ms < FAIL_FAST_MS);
	CU_ASSERT(file_has(log, "certificate"));
	show_lines(log, "certificate");
}

/* --ca-file trusts the certificate but its name is wrong.invalid, not
 * 127.0.0.1: name verification fails the same way. */
static void test_wrong_name_fails(void)
{
	struct pp_backend wrong;
	char log[160];
	long long ms = -1;

	CU_ASSERT_FATAL(start_tls_backend(&wrong, &certs.wrong_name, NULL) == 0);
	const char *more[] = { "--ca-file", certs.wrong_name.cert, NULL };
	int rc = one_get_via(&wrong, "wrongname", more, log, sizeof log, &ms);
	printf("\n    wrong name: %d (%s) in %lld ms", rc, rc < 0 ? pp_strerror(rc) : "HTTP", ms);
	CU_ASSERT_EQUAL(rc, PP_EBACKEND);
	CU_ASSERT(ms >= 0 && ms < FAIL_FAST_MS);
	CU_ASSERT(file_has(log, "host name"));	/* libcurl: "... target host name '127.0.0.1'" */
	show_lines(log, "host name");
	pp_backend_stop(&wrong);
	CU_ASSERT_EQUAL(wrong.exit_status, 0);
}

/* A CA file that cannot be read: every connect fails after its TCP
 * handshake, on every node.  The pool is down (requests fail at once,
 * the warning names the cause) and probes with its backoff instead of
 * reconnecting its min connections every 50 ms. */
static void test_bad_ca_file_backs_off(void)
{
	struct pp_daemon_proc d;
	char log[160], missing[128];
	long before = -1, after = -1;

	snprintf(missing, sizeof missing, "%s/no-such-ca.pem", log_dir);
	const char *args[] = { "-b", backend.url, "--min", "2", "--max", "4", "--ca-file", missing, NULL };
	CU_ASSERT_FATAL(start_daemon(&d, "badca", args, log, sizeof log) == 0);
	usleep(100 * 1000);
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &before, NULL), 0);
	usleep(1000 * 1000);
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &after, NULL), 0);
	long long ms = -1;
	int rc = pool_get(d.pool, "/health", &ms);
	printf("\n    unreadable --ca-file: %ld connects in 1 s; a request: %d (%s)", after - before, rc,
	       rc < 0 ? pp_strerror(rc) : "HTTP");
	/* Probes at 50, 100, 200, 400, 500 ms: a handful (every 50 ms for
	 * each of the 2 min connections: about 40). */
	CU_ASSERT(after - before <= 12);
	CU_ASSERT_EQUAL(rc, PP_EBACKEND);
	CU_ASSERT(file_has(log, "down (error setting certificate"));
	show_lines(log, "down");
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
}

/* A listener that completes TCP handshakes and then never answers the
 * TLS one: it holds each connection (hold) or reads the ClientHello and
 * closes (!hold).  With answer (plain HTTP), it answers the first request
 * of each connection 200 with "Connection: close", then closes.  It
 * counts what it accepted. */
struct mute_listener {
	int fd, port;
	bool hold, answer;
	_Atomic bool stop;
	_Atomic long accepted;
	int held[256];
	int nheld;
	pthread_t thread;
};

static void *mute_main(void *arg)
{
	struct mute_listener *m = arg;
	while (!atomic_load(&m->stop)) {
		struct pollfd pf = { .fd = m->fd, .events = POLLIN };
		if (poll(&pf, 1, 20) <= 0)
			continue;
		int c = accept(m->fd, NULL, NULL);
		if (c < 0)
			continue;
		atomic_fetch_add(&m->accepted, 1);
		if (m->hold && m->nheld < 256) {
			m->held[m->nheld++] = c;
			continue;
		}
		char b[512];
		struct pollfd pc = { .fd = c, .events = POLLIN };
		if (poll(&pc, 1, 500) > 0 && read(c, b, sizeof b) < 0)
			b[0] = 0;
		static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
		if (m->answer && write(c, ok, sizeof ok - 1) < 0)
			b[0] = 0;
		close(c);
	}
	return NULL;
}

static int mute_start(struct mute_listener *m, bool hold, bool answer)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	memset(m, 0, sizeof *m);
	m->hold = hold;
	m->answer = answer;
	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || bind(m->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(m->fd, 64) < 0 ||
	    getsockname(m->fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	m->port = ntohs(a.sin_port);
	return pthread_create(&m->thread, NULL, mute_main, m) == 0 ? 0 : -1;
}

static void mute_stop(struct mute_listener *m)
{
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
	for (int i = 0; i < m->nheld; i++)
		close(m->held[i]);
	close(m->fd);
}

/* Connections whose TCP handshake completed but whose TLS handshake
 * never did (timed out, or closed by the backend) are counted in the
 * segment's connects, as conn.h says: the count matches what the
 * backend accepted (give or take the one probe in flight). */
static void mute_case(bool hold)
{
	struct mute_listener m;
	struct pp_daemon_proc d;
	char url[64];
	CU_ASSERT_FATAL(mute_start(&m, hold, false) == 0);
	snprintf(url, sizeof url, "https://127.0.0.1:%d", m.port);
	const char *args[] = { "-b", url, "--min", "1", "--max", "2", "--connect-timeout", "200", NULL };
	CU_ASSERT_FATAL(start_daemon(&d, hold ? "mutehold" : "muteclose", args, NULL, 0) == 0);
	usleep(800 * 1000);
	pp_pool *p;
	pp_pool_status st = { 0 };
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	long before = atomic_load(&m.accepted);
	CU_ASSERT_EQUAL(pp_status(p, &st), 0);
	long after = atomic_load(&m.accepted);
	printf("\n    TLS handshake %s: backend accepted %ld, the pool counted %llu connects", hold ? "never answered" : "closed",
	       after, (unsigned long long)st.connects);
	CU_ASSERT(before >= 1);
	CU_ASSERT((long)st.connects <= after);
	CU_ASSERT((long)st.connects >= before - 1);
	pp_detach(p);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	mute_stop(&m);
}

static void test_tls_handshake_cut_counted(void)
{
	mute_case(true);
	mute_case(false);
}

/* A plain-HTTP node that accepts connections and closes them without a
 * word (or holds them and never answers): its health checks get no
 * answer, so it is down (warned once), requests fail at once and probes
 * back off; it is not reconnected every 50 ms for each min connection
 * with an info line "connected" each time. */
static void mute_http_case(bool hold)
{
	struct mute_listener m;
	struct pp_daemon_proc d;
	char url[64], log[160];
	CU_ASSERT_FATAL(mute_start(&m, hold, false) == 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", m.port);
	const char *args[] = { "-b", url, "--min", "2", "--max", "4", "--connect-timeout", "100", NULL };
	CU_ASSERT_FATAL(start_daemon(&d, hold ? "httphold" : "httpclose", args, log, sizeof log) == 0);
	usleep(300 * 1000);
	long before = atomic_load(&m.accepted);
	usleep(1000 * 1000);
	long after = atomic_load(&m.accepted);
	int rc = pool_get(d.pool, "/health", NULL);
	printf("\n    HTTP node that %s: %ld connects in 1 s; a request: %d (%s)", hold ? "never answers" : "closes",
	       after - before, rc, rc < 0 ? pp_strerror(rc) : "HTTP");
	CU_ASSERT(after - before <= 12); /* before: about 40 (closes) */
	CU_ASSERT_EQUAL(rc, PP_EBACKEND);
	CU_ASSERT(file_has(log, "down ("));
	show_lines(log, "down (");
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	mute_stop(&m);
}

static void test_mute_http_node_down(void)
{
	mute_http_case(false);
	mute_http_case(true);
}

/* A node that answers and closes every connection (Connection: close):
 * the min connections cannot stay open; they are not reopened (and
 * health-checked) every 50 ms for that, but with a pause that doubles. */
static void test_close_after_answer_no_churn(void)
{
	struct mute_listener m;
	struct pp_daemon_proc d;
	char url[64];
	CU_ASSERT_FATAL(mute_start(&m, false, true) == 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", m.port);
	const char *args[] = { "-b", url, "--min", "2", "--max", "4", NULL };
	CU_ASSERT_FATAL(start_daemon(&d, "closeans", args, NULL, 0) == 0);
	usleep(300 * 1000);
	long before = atomic_load(&m.accepted);
	usleep(1000 * 1000);
	long after = atomic_load(&m.accepted);
	int rc = pool_get(d.pool, "/health", NULL);
	printf("\n    node closing after each answer: %ld connects in 1 s while idle; a request: %d", after - before, rc);
	CU_ASSERT(after - before <= 12); /* before: about 40 */
	CU_ASSERT_EQUAL(rc, 200);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	mute_stop(&m);
}

/* --no-tls-verify: no CA needed, the self-signed certificate (and even
 * the wrong name) is accepted. */
static void test_no_verify_succeeds_without_ca(void)
{
	struct pp_backend wrong;
	const char *more[] = { "--no-tls-verify", NULL };
	int rc = one_get_via(&backend, "noverify", more, NULL, 0, NULL);

	CU_ASSERT_EQUAL(rc, 200);
	CU_ASSERT_FATAL(start_tls_backend(&wrong, &certs.wrong_name, NULL) == 0);
	rc = one_get_via(&wrong, "noverify2", more, NULL, 0, NULL);
	CU_ASSERT_EQUAL(rc, 200);
	pp_backend_stop(&wrong);
	CU_ASSERT_EQUAL(wrong.exit_status, 0);
}

/* A backend that requires a client certificate: 403 without one, 200 with
 * --tls-cert/--tls-key (checked with plain libcurl first). */
static void test_client_certificate(void)
{
	struct pp_backend b;
	char url[128];
	long status = 0;

	CU_ASSERT_FATAL(start_tls_backend(&b, &certs.server, certs.client.cert) == 0);
	snprintf(url, sizeof url, "%s/health", b.url);
	CU_ASSERT_EQUAL(curl_get(url, certs.server.cert, NULL, &status), CURLE_OK);
	CU_ASSERT_EQUAL(status, 403);
	CU_ASSERT_EQUAL(curl_get(url, certs.server.cert, &certs.server, &status), CURLE_OK);
	CU_ASSERT_EQUAL(status, 403);	/* a certificate, but not the trusted one */
	CU_ASSERT_EQUAL(curl_get(url, certs.server.cert, &certs.client, &status), CURLE_OK);
	CU_ASSERT_EQUAL(status, 200);

	const char *without[] = { "--ca-file", certs.server.cert, NULL };
	CU_ASSERT_EQUAL(one_get_via(&b, "nocert", without, NULL, 0, NULL), 403);
	const char *with[] = { "--ca-file", certs.server.cert, "--tls-cert", certs.client.cert,
			       "--tls-key", certs.client.key, NULL };
	char log[160];
	int rc = one_get_via(&b, "clientcert", with, log, sizeof log, NULL);
	CU_ASSERT_EQUAL(rc, 200);
	if (rc != 200) {
		printf("\n    with a client certificate: %d (%s)", rc, rc < 0 ? pp_strerror(rc) : "HTTP");
		show_lines(log, "slot");
	}
	pp_backend_stop(&b);
	CU_ASSERT_EQUAL(b.exit_status, 0);
}

/* Copy the file from to to through a rename (as a certificate rotation
 * does): 0 or -1. */
static int copy_file(const char *from, const char *to)
{
	char tmp[160], buf[16384];
	snprintf(tmp, sizeof tmp, "%s.new", to);
	FILE *in = fopen(from, "r"), *out = fopen(tmp, "w");
	size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
	int ok = in && out && n > 0 && fwrite(buf, 1, n, out) == n;
	if (in)
		fclose(in);
	if (out)
		ok &= fclose(out) == 0;
	return ok && rename(tmp, to) == 0 ? 0 : -1;
}

/* The CA file rotated in place (same path, new certificates), then
 * SIGHUP: new connections verify with the new contents (ca_file is
 * "SIGHUP: applied"), not with a copy libcurl cached from the old ones. */
static void test_ca_file_rotated_then_reload(void)
{
	struct pp_daemon_proc d;
	char log[160], ca[128];
	snprintf(ca, sizeof ca, "%s/rotated-ca.pem", log_dir);
	CU_ASSERT_FATAL(copy_file(certs.wrong_name.cert, ca) == 0); /* does not sign the backend's */
	const char *args[] = { "-b", backend.url, "--min", "1", "--max", "2", "--ca-file", ca, NULL };
	CU_ASSERT_FATAL(start_daemon(&d, "rotca", args, log, sizeof log) == 0);
	int before = pool_get(d.pool, "/health", NULL);
	CU_ASSERT_FATAL(copy_file(certs.server.cert, ca) == 0);
	kill(d.pid, SIGHUP);
	int after = -1;
	for (int i = 0; i < 40 && after != 200; i++) { /* the down pool probes within its 500 ms backoff */
		usleep(100 * 1000);
		after = pool_get(d.pool, "/health", NULL);
	}
	printf("\n    before the rotation: %d, after it and SIGHUP: %d (%s)", before, after,
	       after < 0 ? pp_strerror(after) : "HTTP");
	CU_ASSERT_EQUAL(before, PP_EBACKEND);
	CU_ASSERT_EQUAL(after, 200);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	unlink(ca);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "backend serves HTTPS (plain libcurl), connections counted", test_backend_serves_https },
		{ "pool over TLS with --ca-file: requests succeed, connections reused",
		  test_pool_over_tls_reuses_connections },
		{ "untrusted certificate: PP_EBACKEND, fast, logged", test_untrusted_certificate_fails_fast },
		{ "certificate with the wrong name: PP_EBACKEND", test_wrong_name_fails },
		{ "CA file rotated in place, then SIGHUP: the new CA verifies new connections", test_ca_file_rotated_then_reload },
		{ "unreadable --ca-file: down, probed with backoff, not reconnected every 50 ms",
		  test_bad_ca_file_backs_off },
		{ "TCP accepted, TLS handshake never answered or closed: counted in connects",
		  test_tls_handshake_cut_counted },
		{ "HTTP node that accepts and closes, or never answers: down, probed with backoff",
		  test_mute_http_node_down },
		{ "node that closes after each answer: min connections not reopened every 50 ms",
		  test_close_after_answer_no_churn },
		{ "--no-tls-verify: succeeds without a CA", test_no_verify_succeeds_without_ca },
		{ "client certificate: 403 without, 200 with --tls-cert/--tls-key",
		  test_client_certificate },
	};
	return pp_test_main("tls", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
