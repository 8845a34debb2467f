/* test_badbackend.c - a misbehaving PhantomDB: a raw TCP server on
 * loopback, in a process of its own forked by this test, in front of a
 * real phantompoold.
 *
 * The request path names the misbehaviour: /t/<case>/<token>.  Each case
 * must reach the worker as its own error (PP_EBACKEND, PP_EPROTO or
 * PP_ETIMEDOUT) or as a correct answer, the daemon must survive, and the
 * bytes of a bad answer must reach nobody else.  The second test mixes the
 * cases with normal requests from 8 processes and counts answers that are
 * that carry another worker's token ("crossed"): there must be none.  The
 * cases that used to cross answers are "extra" (a second response glued
 * to the first) and "late" (an unsolicited response written 1 ms after
 * the answer, before the backend reads the next request): both leave bytes the next request on that
 * connection would read; the daemon must retire the connection instead.
 *
 * What no HTTP/1.1 client can tell apart: an unsolicited response that
 * arrives only after the next request went out looks like its answer.
 * With workers back to back that shifts every later answer by one (the
 * bug of issue 15).  The daemon sends an X-Request-Id with every request
 * (the worker's, or its own) and refuses a response that echoes another
 * one (PP_EPROTO, connection closed), so the shift ends at once; this
 * server echoes ids as request-id middleware does.  The unsolicited
 * response itself carries no id: a "stale" answer (the backend's own
 * bytes, never another worker's) is counted apart and printed.
 *
 * The server runs a thread per connection, in its own process: this test
 * forks workers, and a fork taken while another thread holds an allocator
 * lock leaves the child that lock held forever (CI at a7e73ba: a mixing
 * worker hung in AddressSanitizer's allocator for the whole 600 s bound).
 * The test process itself starts no thread.
 *
 * PP_BADBACKEND_SECS sets the mixed run's length (default 6 s);
 * PP_BADBACKEND_CASE=<case> mixes only that case with normal requests. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "daemon_proc.h"
#include "phantompool.h"
#include "testutil.h"

#define TMO_MS 400 /* per-request timeout of the cases that hang */

/* ---- the bad backend ------------------------------------------------------ */

static int listen_fd = -1, port;
static pid_t server_pid;
static _Atomic long *accepted; /* a shared page: counted by the server process */
static _Atomic long *once_hits; /* "once": odd arrivals are dropped unanswered */

static void put(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		s += k;
		n -= (size_t)k;
	}
}
#define PUTS(fd, s) put(fd, s, strlen(s))

/* The X-Request-Id of the request being answered ("" none): echoed, as a
 * backend with request-id middleware does (the reference backend too). */
static __thread char rid[128];
#define RID() *rid ? "X-Request-Id: " : "", rid, *rid ? "\r\n" : ""

static void ok_response(int fd, const char *token, const char *extra_headers)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n%s%s%s%sContent-Length: %zu\r\n\r\n%s",
			 extra_headers, RID(), strlen(token), token);
	put(fd, buf, (size_t)n);
}

static void ms(int n)
{
	usleep((useconds_t)n * 1000);
}

/* 1.1 MiB of byte c (18 writes of 64 KiB), from a buffer of this
 * connection's own: server threads answer at once.  False if out of
 * memory. */
static bool put_mib(int fd, char c)
{
	size_t n = 64 << 10;
	char *a = malloc(n);
	if (!a)
		return false;
	memset(a, c, n);
	for (int i = 0; i < 18; i++)
		put(fd, a, n);
	free(a);
	return true;
}

/* Answer one request; returns false when the connection must close. */
static bool answer(int fd, const char *method, const char *cas, const char *token)
{
	static const char stale[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTALE";
	char buf[512];
	if (!strcmp(cas, "ok")) {
		ok_response(fd, token, "");
	} else if (!strcmp(cas, "chunked")) {
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s%s%sTransfer-Encoding: chunked\r\n\r\n1\r\n%c\r\n%zx\r\n%s\r\n0\r\n\r\n",
				 RID(), token[0], strlen(token + 1), token + 1);
		put(fd, buf, (size_t)n);
	} else if (!strcmp(cas, "extra")) {
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s%s%sContent-Length: %zu\r\n\r\n%s%s", RID(), strlen(token), token, stale);
		put(fd, buf, (size_t)n);
	} else if (!strcmp(cas, "late")) {
		ok_response(fd, token, "");
		ms(1);
		PUTS(fd, stale); /* unsolicited: a response before the next request */
	} else if (!strcmp(cas, "interim")) {
		PUTS(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n");
		ok_response(fd, token, "");
	} else if (!strcmp(cas, "close")) {
		ok_response(fd, token, "Connection: close\r\n");
		return false;
	} else if (!strcmp(cas, "eofbody")) {
		snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s%s%sContent-Type: text/plain\r\n\r\n%s", RID(), token);
		PUTS(fd, buf);
		return false;
	} else if (!strcmp(cas, "nocontent")) {
		PUTS(fd, "HTTP/1.1 204 No Content\r\n\r\n");
	} else if (!strcmp(cas, "head")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"); /* HEAD: no body follows */
		(void)method;
	} else if (!strcmp(cas, "trunchead")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nContent-Ty");
		return false;
	} else if (!strcmp(cas, "bighead")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nX-Big: ");
		if (!put_mib(fd, 'a'))
			return false;
		PUTS(fd, "\r\nContent-Length: 0\r\n\r\n");
	} else if (!strcmp(cas, "wshead")) {
		/* All of it the white space before a value. */
		PUTS(fd, "HTTP/1.1 200 OK\r\nX-Big:");
		if (!put_mib(fd, ' '))
			return false;
		PUTS(fd, "v\r\nContent-Length: 0\r\n\r\n");
	} else if (!strcmp(cas, "lyingcl")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
		return false;
	} else if (!strcmp(cas, "lyingclhang")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
		ms(TMO_MS + 300);
		return false;
	} else if (!strcmp(cas, "dupcl")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\nhiSTALE");
	} else if (!strcmp(cas, "badchunk")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
	} else if (!strcmp(cas, "noend")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
		ms(TMO_MS + 300);
		return false;
	} else if (!strcmp(cas, "garbage")) {
		PUTS(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
	} else if (!strcmp(cas, "reset")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial");
		ms(10);
		struct linger lg = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* close sends RST */
		return false;
	} else if (!strcmp(cas, "drip")) {
		PUTS(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
		for (int i = 0; i < (TMO_MS + 300) / 20; i++) {
			if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
				break;
			ms(20);
		}
		return false;
	} else if (!strcmp(cas, "early")) {
		/* A POST answered as soon as its head is read (as a server
		 * refusing an upload does), then its body read and dropped
		 * until the pool closes the connection. */
		ok_response(fd, token, "Connection: close\r\n");
		shutdown(fd, SHUT_WR);
		while (recv(fd, buf, sizeof buf, 0) > 0)
			;
		return false;
	} else if (!strcmp(cas, "earlyclose")) {
		/* The same answer, then a close at once: the body left unread
		 * makes it a reset, which can reach the pool while it is still
		 * sending. */
		ok_response(fd, token, "Connection: close\r\n");
		return false;
	} else if (!strcmp(cas, "once")) {
		if (atomic_fetch_add(once_hits, 1) % 2 == 0) {
			struct linger lg = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			return false; /* read it, drop it: RST */
		}
		ok_response(fd, token, "Connection: close\r\n");
		return false;
	} else if (!strcmp(cas, "twoids")) {
		ok_response(fd, token, "X-Request-Id: someone-else\r\n"); /* the echo comes second */
	} else if (!strcmp(cas, "silent")) {
		return false; /* read the request, close without a word */
	} else if (!strcmp(cas, "tegzip") || !strcmp(cas, "techunkgzip") || !strcmp(cas, "tegzipchunk")) {
		/* A transfer coding the pool does not decode, over the same
		 * chunked bytes: under "gzip" or "chunked, gzip" the body runs
		 * to the close (RFC 9112 6.3) and is still coded, under "gzip,
		 * chunked" the chunks hold gzip'ed content: never the content. */
		const char *te = !strcmp(cas, "tegzip") ? "gzip" : !strcmp(cas, "techunkgzip") ? "chunked, gzip" : "gzip, chunked";
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s%s%sTransfer-Encoding: %s\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
				 RID(), te, strlen(token), token);
		put(fd, buf, (size_t)n);
		return !strcmp(te, "gzip, chunked"); /* the others end at the close */
	} else if (!strcmp(cas, "interimclose") || !strcmp(cas, "interim10")) {
		/* An interim answer that says close (or is HTTP/1.0), then the
		 * final one on the same connection, kept open. */
		PUTS(fd, !strcmp(cas, "interim10") ? "HTTP/1.0 100 Continue\r\n\r\n"
						   : "HTTP/1.1 103 Early Hints\r\nConnection: close\r\n\r\n");
		ok_response(fd, token, "");
	} else if (!strcmp(cas, "cegzip")) {
		/* A content coding (RFC 9110 12.5.3 lets a server use one when
		 * the request has no Accept-Encoding): the worker, who sees no
		 * Content-Encoding, would take the coded bytes for the content. */
		ok_response(fd, token, "Content-Encoding: gzip\r\n");
	} else if (!strcmp(cas, "ceidentity")) {
		ok_response(fd, token, "Content-Encoding: identity\r\n"); /* no coding */
	} else if (!strcmp(cas, "crstatus")) {
		/* A bare CR in the reason phrase (RFC 9112 2.2: invalid, or
		 * read as a space); the byte after it is not a LF. */
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 O\rK\r\n%s%s%sContent-Length: %zu\r\n\r\n%s", RID(),
				 strlen(token), token);
		put(fd, buf, (size_t)n);
		return false;
	} else if (!strcmp(cas, "chunknocrlf")) {
		/* A chunk size two short, and no CRLF after the chunk's data. */
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s%s%sTransfer-Encoding: chunked\r\n\r\n%zx\r\n%s0\r\n\r\n",
				 RID(), strlen(token) - 2, token);
		put(fd, buf, (size_t)n);
	} else if (!strcmp(cas, "spacerid") || !strcmp(cas, "spacece")) {
		/* White space before the colon (RFC 9112 5.1): the header must
		 * count as its name, or be refused; here the answer's only id
		 * is another request's, or its content is coded. */
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s : %s\r\nContent-Length: %zu\r\n\r\n%s",
				 !strcmp(cas, "spacerid") ? "X-Request-Id" : "Content-Encoding",
				 !strcmp(cas, "spacerid") ? "someone-else" : "gzip", strlen(token), token);
		put(fd, buf, (size_t)n);
	} else if (!strcmp(cas, "tetab")) {
		/* "chunked" with a tab after it (OWS, RFC 9110 5.6.1), which
		 * llhttp does not take for chunked: it reads to the close. */
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s%s%sTransfer-Encoding:\tchunked\t\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
				 RID(), strlen(token), token);
		put(fd, buf, (size_t)n);
		return false;
	} else if (!strcmp(cas, "techunked2")) {
		/* Chunked twice (RFC 9112 6.1: a sender must not), and so it is:
		 * one decoding leaves the inner chunks' framing. */
		char inner[256];
		int k = snprintf(inner, sizeof inner, "%zx\r\n%s\r\n0\r\n\r\n", strlen(token), token);
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s%s%sTransfer-Encoding: chunked, chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
				 RID(), k, inner);
		put(fd, buf, (size_t)n);
	} else if (!strcmp(cas, "chunkext")) {
		/* Chunk sizes with leading zeros, upper-case hex and extensions
		 * (one quoted, with a ';' in it), and trailers.  (llhttp 8.1
		 * refuses white space around a ';' and an extension without a
		 * value after one with a value ("5;a=b;c"), which RFC 9112
		 * 7.1.1 allows: PP_EPROTO for such a response.) */
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s%s%sTransfer-Encoding: Chunked\r\n\r\n"
				 "001;a=b\r\n%c\r\n000%zX;q=\"x;y\";r\r\n%s\r\n000;end\r\nX-Trailer: t\r\n\r\n",
				 RID(), token[0], strlen(token + 1), token + 1);
		put(fd, buf, (size_t)n);
	} else if (!strcmp(cas, "headbody")) {
		ok_response(fd, token, ""); /* HEAD answered with a body anyway: it answers nothing */
	} else if (!strcmp(cas, "nocontentcl")) {
		PUTS(fd, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nSTALE");
	} else if (!strcmp(cas, "tecl")) {
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
				 strlen(token), token);
		put(fd, buf, (size_t)n);
	} else if (!strcmp(cas, "interim101")) {
		PUTS(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n");
		ok_response(fd, token, "");
	} else if (!strcmp(cas, "status999") || !strcmp(cas, "status1000")) {
		/* 600-999: not HTTP's, yet three digits (RFC 9110 15: a client
		 * treats them as 5xx); the worker sees the code itself. */
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 %s Odd\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
				 cas + 6, RID(), strlen(token), token);
		put(fd, buf, (size_t)n);
	} else {
		PUTS(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	}
	return true;
}

/* One connection: read request heads (GET/HEAD, no bodies), answer each. */
static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	size_t len = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
			if (len == sizeof buf)
				goto out;
			ssize_t k = recv(fd, buf + len, sizeof buf - len, 0);
			if (k <= 0)
				goto out;
			len += (size_t)k;
		}
		char method[16] = "", path[512] = "", cas[32] = "", token[128] = "";
		sscanf(buf, "%15s %511s", method, path);
		sscanf(path, "/t/%31[^/]/%127s", cas, token);
		rid[0] = 0;
		char *h = memmem(buf, (size_t)(end - buf), "\r\nX-Request-Id: ", 16);
		if (h)
			sscanf(h + 16, "%127[^\r]", rid);
		size_t used = (size_t)(end + 4 - buf);
		memmove(buf, buf + used, len - used);
		len -= used;
		if (!answer(fd, method, cas, token))
			break;
	}
out:
	close(fd);
	return NULL;
}

static void *accept_loop(void *arg)
{
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		atomic_fetch_add(accepted, 1);
		pthread_t t;
		if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}

/* Listen on a loopback port, then fork the server process (it exits with
 * this test: PR_SET_PDEATHSIG, and stop_server's SIGKILL). */
static int start_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	accepted = mmap(NULL, 2 * sizeof *accepted, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (accepted == MAP_FAILED)
		return -1;
	once_hits = accepted + 1;
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 256) != 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	port = ntohs(a.sin_port);
	pid_t parent = getpid();
	if ((server_pid = fork()) < 0)
		return -1;
	if (server_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		accept_loop(NULL); /* returns only if accept fails for good */
		_exit(1);
	}
	close(listen_fd);
	listen_fd = -1;
	return 0;
}

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		pp_test_wait_child(server_pid);
		server_pid = 0;
	}
}

/* ---- the pool in front of it ---------------------------------------------- */

static struct pp_daemon_proc daemon_;
static pp_pool *pool;
static char log_path[128];

static int suite_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (start_server() != 0)
		return -1;
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	snprintf(log_path, sizeof log_path, "/tmp/pp-test-%d-badbackend.log", (int)getpid());
	const char *args[] = { "-b", url, "--max", "4", "--min", "0", "--health-interval", "0", "--request-timeout", "3000", NULL };
	if (pp_daemon_start_logged(&daemon_, pp_test_pool_name("badbe"), args, log_path) != 0)
		return -1;
	return pp_attach(daemon_.pool, &pool);
}

static int suite_teardown(void)
{
	pp_detach(pool);
	int st = pp_daemon_stop(&daemon_);
	stop_server();
	if (st == 0)
		unlink(log_path);
	else {
		printf("\n    daemon exit status %d; its log: %s", st, log_path);
		pp_test_print_tail(log_path, 40);
	}
	return st == 0 ? 0 : -1;
}

struct outcome {
	int code;    /* pp_do's return */
	int status;
	bool own;    /* the body is exactly the token (for answers) */
	char body[64];
};

static struct outcome ask(const char *method, const char *cas, const char *token, int timeout_ms)
{
	char path[256];
	snprintf(path, sizeof path, "/t/%s/%s", cas, token);
	pp_req req = { .method = method, .path = path, .timeout_ms = timeout_ms };
	pp_resp resp;
	struct outcome o = { .code = pp_do(pool, &req, &resp) };
	o.status = resp.status;
	if (resp.body)
		snprintf(o.body, sizeof o.body, "%.*s", (int)(resp.body_len < 60 ? resp.body_len : 60), resp.body);
	o.own = resp.body && resp.body_len == strlen(token) && !memcmp(resp.body, token, resp.body_len);
	pp_resp_free(&resp);
	return o;
}

struct bad_case {
	const char *name;
	const char *method;
	int code;    /* what the worker must get */
	int status;  /* when code is 0 */
	bool body;   /* when code is 0: the body is the token */
};

static const struct bad_case cases[] = {
	{ "ok", "GET", 0, 200, true },
	{ "chunked", "GET", 0, 200, true },
	{ "extra", "GET", 0, 200, true },
	{ "late", "GET", 0, 200, true },
	{ "interim", "GET", 0, 200, true },
	{ "close", "GET", 0, 200, true },
	{ "eofbody", "GET", 0, 200, true },
	{ "nocontent", "GET", 0, 204, false },
	{ "head", "HEAD", 0, 200, false },
	{ "trunchead", "GET", PP_EBACKEND, 0, false },
	{ "bighead", "GET", PP_EPROTO, 0, false },
	{ "wshead", "GET", PP_EPROTO, 0, false },
	{ "twoids", "GET", PP_EPROTO, 0, false },
	{ "lyingcl", "GET", PP_EBACKEND, 0, false },
	{ "lyingclhang", "GET", PP_ETIMEDOUT, 0, false },
	{ "dupcl", "GET", PP_EPROTO, 0, false },
	{ "badchunk", "GET", PP_EPROTO, 0, false },
	{ "noend", "GET", PP_ETIMEDOUT, 0, false },
	{ "garbage", "GET", PP_EPROTO, 0, false },
	{ "reset", "GET", PP_EBACKEND, 0, false },
	{ "drip", "GET", PP_ETIMEDOUT, 0, false },
	{ "silent", "GET", PP_EBACKEND, 0, false },
	{ "tegzip", "GET", PP_EPROTO, 0, false },
	{ "techunkgzip", "GET", PP_EPROTO, 0, false },
	{ "tegzipchunk", "GET", PP_EPROTO, 0, false },
	{ "interimclose", "GET", 0, 200, true },
	{ "interim10", "GET", 0, 200, true },
	{ "cegzip", "GET", PP_EPROTO, 0, false },
	{ "ceidentity", "GET", 0, 200, true },
	{ "crstatus", "GET", PP_EPROTO, 0, false },
	{ "chunknocrlf", "GET", PP_EPROTO, 0, false },
	{ "spacerid", "GET", PP_EPROTO, 0, false },
	{ "spacece", "GET", PP_EPROTO, 0, false },
	{ "tetab", "GET", PP_EPROTO, 0, false },
	{ "techunked2", "GET", PP_EPROTO, 0, false },
	{ "chunkext", "GET", 0, 200, true },
	{ "headbody", "HEAD", 0, 200, false },
	{ "nocontentcl", "GET", 0, 204, false },
	{ "tecl", "GET", PP_EPROTO, 0, false },
	{ "interim101", "GET", PP_EPROTO, 0, false },
	{ "status999", "GET", 0, 999, true },
	{ "status1000", "GET", PP_EPROTO, 0, false },
};

static bool as_expected(const struct bad_case *c, const struct outcome *o)
{
	if (c->code)
		return o->code == c->code;
	return o->code == 0 && o->status == c->status && (!c->body || o->own);
}

/* Each case on its own, then a normal request: its own error or answer,
 * and the next one unharmed; no descriptor left behind by any of them
 * (the pool may end with more connections open than it began with, at
 * most its 4). */
static void test_each_case(void)
{
	int fds0 = pp_test_proc_entries(daemon_.pid, "fd");
	char token[32];
	for (size_t i = 0; i < PP_ARRAY_LEN(cases); i++) {
		const struct bad_case *c = &cases[i];
		snprintf(token, sizeof token, "tok%zu", i);
		uint64_t t0 = pp_now_ns();
		struct outcome o = ask(c->method, c->name, token, TMO_MS);
		double took = (double)(pp_now_ns() - t0) / 1e6;
		bool good = as_expected(c, &o);
		printf("\n    %-12s %-22s %.0f ms%s", c->name, o.code ? pp_strerror(o.code) : "answer", took,
		       good ? "" : "  <-- unexpected");
		if (!good)
			printf(" (code %d status %d body '%s')", o.code, o.status, o.body);
		CU_ASSERT(good);
		CU_ASSERT(took < TMO_MS + 1000);
		/* The connection that misbehaved must not hand its leftovers on
		 * (given the time to show them: see "stale" above). */
		ms(50);
		for (int k = 0; k < 4; k++) {
			snprintf(token, sizeof token, "next%zu-%d", i, k);
			struct outcome n = ask("GET", "ok", token, 0);
			CU_ASSERT(n.code == 0 && n.own);
			if (n.code || !n.own)
				printf("\n      after %s: code %d body '%s'", c->name, n.code, n.body);
		}
	}
	int fds1 = pp_test_proc_entries(daemon_.pid, "fd");
	printf("\n    daemon fds before %d after %d", fds0, fds1);
	CU_ASSERT(fds0 > 0 && fds1 > 0 && fds1 <= fds0 + 4);
}

/* A POST whose outcome comes before its body has gone: an answer ("early")
 * or a connection closed after the head ("silent": PP_EBACKEND).  The
 * worker finishes its upload, reads the outcome and at once sends the next
 * request on the same lease.  The exchange's last frame (END or ERROR)
 * must not reach the worker before the daemon has taken the worker's own
 * END from the request ring: else the next request finds that ring not
 * empty and fails (PP_EPROTO, "malformed frame in a ring"), as one chaos
 * run in CI did (97235ba); before the daemon held that frame back, 176
 * ("early") and 183 ("silent") of 200 rounds here failed so.
 * "earlyclose" answers and closes at once, its body unread, so the pool's
 * next send fails (a reset): the answer waiting in the socket is still
 * the outcome.  The pool called that "closed the connection without
 * answering" (PP_EBACKEND) in 190 of 200 rounds here before it
 * read on after a failed send. */
#define EARLY_ROUNDS 200
#define EARLY_BODY (256 * 1024) /* four 64 KiB rings: the head goes out first */

/* One POST of case `cas`; returns 0 (with the body in got) or its code. */
static int early_post(struct pp_lease *l, const char *cas, const char *token, char *got, size_t cap)
{
	static uint8_t body[EARLY_BODY];
	memset(body, 'b', sizeof body);
	char path[64];
	snprintf(path, sizeof path, "/t/%s/%s", cas, token);
	pp_req req = { .method = "POST", .path = path, .timeout_ms = 3000 };
	pp_resp resp;
	long n = 0, k = 0;
	int r = pp_stream_begin(l, &req, sizeof body);
	for (size_t off = 0; !r && off < sizeof body; off += 40000)
		r = pp_stream_write(l, body + off, sizeof body - off < 40000 ? sizeof body - off : 40000);
	if (!r)
		r = pp_stream_read_head(l, &resp);
	while (!r && (k = pp_stream_read(l, got + n, cap - 1 - (size_t)n)) > 0)
		n += k;
	got[n] = 0;
	return r ? r : k < 0 ? (int)k : resp.status == 200 ? 0 : -1000;
}

static void early_rounds(const char *cas, int want)
{
	int bad_first = 0, bad_next = 0, first_code = 0, next_code = 0;
	for (int i = 0; i < EARLY_ROUNDS; i++) {
		char token[32], next[32], got[64], path[64];
		snprintf(token, sizeof token, "%s%d", cas, i);
		struct pp_lease *l;
		CU_ASSERT_FATAL(pp_lease(pool, 5000, &l) == 0);
		int r = early_post(l, cas, token, got, sizeof got);
		if (r != want || (!want && strcmp(got, token) != 0)) {
			bad_first++;
			first_code = first_code ? first_code : r ? r : -1000;
		}
		snprintf(next, sizeof next, "next%d", i);
		snprintf(path, sizeof path, "/t/ok/%s", next);
		pp_req req = { .method = "GET", .path = path };
		pp_resp resp;
		r = pp_request(l, &req, &resp);
		if (r || !resp.body || resp.body_len != strlen(next) || memcmp(resp.body, next, resp.body_len) != 0) {
			bad_next++;
			next_code = next_code ? next_code : r ? r : -1000;
		}
		if (!r)
			pp_resp_free(&resp);
		CU_ASSERT(pp_release(l) == 0);
	}
	printf("\n    %-6s %d rounds: outcome not %s %d (first %d), the next request on the lease failed %d (first: %s)",
	       cas, EARLY_ROUNDS, want ? pp_strerror(want) : "the answer", bad_first, first_code, bad_next,
	       next_code ? next_code == -1000 ? "a wrong answer" : pp_strerror(next_code) : "none");
	CU_ASSERT_EQUAL(bad_first, 0);
	CU_ASSERT_EQUAL(bad_next, 0);
}

/* A request dropped unanswered on a reused connection: sent again on a
 * fresh one only when idempotent. */
static void once_round(const char *method, long want_hits, int want_code)
{
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 5000, &l) == 0);
	pp_req req = { .method = "GET", .path = "/t/ok/warm" };
	pp_resp resp;
	CU_ASSERT(pp_request(l, &req, &resp) == 0);
	pp_resp_free(&resp);
	long h0 = atomic_load(once_hits);
	req = (pp_req){ .method = method, .path = "/t/once/oncetok", .body = "0123456789", .body_len = 10 };
	int r = pp_request(l, &req, &resp);
	if (!r)
		pp_resp_free(&resp);
	long hits = atomic_load(once_hits) - h0;
	printf("\n    %-6s on a reused connection, dropped once: %s, the backend saw it %ld time(s)", method,
	       r ? pp_strerror(r) : "answer", hits);
	CU_ASSERT_EQUAL(r, want_code);
	CU_ASSERT_EQUAL(hits, want_hits);
	CU_ASSERT(pp_release(l) == 0);
	if (hits % 2)
		atomic_fetch_add(once_hits, 1);
}

static void test_retry_rules(void)
{
	once_round("GET", 2, 0);
	once_round("PUT", 2, 0);
	once_round("POST", 1, PP_EBACKEND);
	once_round("PATCH", 1, PP_EBACKEND);
}

static void test_early_outcome(void)
{
	early_rounds("early", 0);
	early_rounds("earlyclose", 0);
	early_rounds("silent", PP_EBACKEND);
}

/* ---- many workers, hostile and normal requests mixed ----------------------- */

struct tally {
	_Atomic long asked, own, crossed, stale, errors, wrong_code;
};

static void mixer(struct tally *t, int w, uint64_t until)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(w + 1) * 7919;
	char token[48];
	for (long i = 0; pp_now_ns() < until; i++) {
		uint64_t r = pp_test_xorshift(&rng);
		/* Half normal requests, half from the whole list. */
		const struct bad_case *c = r % 2 ? &cases[0] : &cases[(r >> 8) % PP_ARRAY_LEN(cases)];
		const char *only = getenv("PP_BADBACKEND_CASE");
		if (only && r % 2 == 0)
			for (size_t k = 0; k < PP_ARRAY_LEN(cases); k++)
				if (!strcmp(cases[k].name, only))
					c = &cases[k];
		snprintf(token, sizeof token, "w%d-%ld-%llx", w, i, (unsigned long long)(r >> 20));
		struct outcome o = ask(c->method, c->name, token, TMO_MS);
		atomic_fetch_add(&t->asked, 1);
		if (o.code) {
			atomic_fetch_add(&t->errors, 1);
			if (o.code != PP_EBACKEND && o.code != PP_EPROTO && o.code != PP_ETIMEDOUT)
				atomic_fetch_add(&t->wrong_code, 1);
		} else if (o.own) {
			atomic_fetch_add(&t->own, 1);
		} else if (o.body[0] == 'w') {
			atomic_fetch_add(&t->crossed, 1); /* another worker's token */
			printf("\n      crossed: asked %s %s, got %s", c->name, token, o.body);
		} else if (o.body[0]) {
			atomic_fetch_add(&t->stale, 1); /* the backend's unsolicited bytes */
		}
	}
}

static void test_mixed_processes(void)
{
	const int workers = 8;
	int secs = getenv("PP_BADBACKEND_SECS") ? atoi(getenv("PP_BADBACKEND_SECS")) : 6;
	struct tally *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(t != MAP_FAILED);
	memset(t, 0, sizeof *t);
	uint64_t until = pp_now_ns() + (uint64_t)secs * PP_NS_PER_S;
	pid_t kids[8];
	for (int w = 0; w < workers; w++)
		if ((kids[w] = fork()) == 0) {
			mixer(t, w, until);
			_exit(0);
		}
	int bad_exit = 0;
	for (int w = 0; w < workers; w++)
		bad_exit += pp_test_wait_child(kids[w]) != 0;
	printf("\n    %d processes, %d s: %ld requests, %ld own answers, %ld errors (%ld with another code), %ld crossed,"
	       " %ld stale; the backend accepted %ld connections",
	       workers, secs, t->asked, t->own, t->errors, t->wrong_code, t->crossed, t->stale, atomic_load(accepted));
	CU_ASSERT_EQUAL(bad_exit, 0);
	CU_ASSERT_EQUAL(t->crossed, 0);
	CU_ASSERT_EQUAL(t->wrong_code, 0);
	CU_ASSERT(t->own > t->asked / 3);
	/* The daemon is still there and serves. */
	struct outcome o = ask("GET", "ok", "after-all", 0);
	CU_ASSERT(o.code == 0 && o.own);
	munmap(t, sizeof *t);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "each misbehaviour: its own error or a correct answer; the next request unharmed", test_each_case },
		{ "an answer or error before the request body: the next request on the lease unharmed", test_early_outcome },
		{ "retry on a fresh connection: idempotent methods only", test_retry_rules },
		{ "8 processes mixing bad and normal requests: 0 crossed answers", test_mixed_processes },
	};
	return pp_test_main("badbackend", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
