/* bench_cgi_floor.c - how far a CGI program through the pool is from the
 * least any design with a separate connection owner needs (goal G4).
 *
 * Starts the reference backend and a daemon (4 connections), and forks a
 * minimal connection owner: one keep-alive TCP connection, one shared page
 * (cgi/floor.h), a futex each way, the recv check any pool makes before it
 * reuses a connection, a fixed GET, the answer read by its Content-Length.
 * Then ROUNDS times, each round in its own shuffled order (a fixed order
 * would always run one part right after the same other one, which warms
 * the daemon or nginx for it), from this process (a CGI server's spawn:
 * posix_spawn, stdout through a pipe, waitpid):
 *   cgi_noop    the fork+exec floor (libc only)
 *   cgi_floor   the same plus the minimal hand-off above (libc only)
 *   cgi_static  pp_attach + pp_do + pp_detach (libphantompool.a)
 *   direct      one libcurl keep-alive GET by this long-lived process
 * Prints `name value unit` lines: the p50 of each, and
 *   cgi_floor_ratio       (cgi_floor - cgi_noop) / direct
 *   cgi_pool_ratio        (cgi_static - cgi_noop) / direct   (G4's form)
 *   cgi_pool_over_floor   cgi_static - cgi_floor, us
 * The CGI programs come from $PP_BUILD/bench/cgi ("build" by default).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_proc.h"
#include "cgi/floor.h"
#include "clock.h"
#include "daemon_proc.h"
#include "testutil.h"

#define ROUNDS 300
#define PARTS 4

extern char **environ;

static void die(const char *what)
{
	fprintf(stderr, "bench_cgi_floor: %s\n", what);
	exit(1);
}

/* The owner's answer to one request on s into m: 0, or -1 (the
 * connection is no use any more). */
static int owner_exchange(int s, struct floor_page *m, const char *get, size_t getlen)
{
	char buf[8192], c;
	/* Bytes waiting on an idle connection, or its end: not reusable. */
	if (recv(s, &c, 1, MSG_DONTWAIT) != -1 || (errno != EAGAIN && errno != EWOULDBLOCK))
		return -1;
	if (send(s, get, getlen, MSG_NOSIGNAL) != (ssize_t)getlen)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t k = recv(s, buf + n, sizeof buf - 1 - n, 0);
		if (k <= 0)
			return -1;
		n += (size_t)k;
		buf[n] = 0;
		char *end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		char *cl = strcasestr(buf, "\r\ncontent-length:");
		long len = cl && cl < end ? atol(cl + 17) : -1;
		char *body = end + 4;
		if (len < 0 || len > (long)FLOOR_BODY_MAX)
			return -1;
		if ((size_t)(body - buf) + (size_t)len > n)
			continue;
		memcpy(m->body, body, (size_t)len);
		m->len = (uint32_t)len;
		m->status = (uint32_t)atoi(buf + 9);
		return 0;
	}
}

/* The connection owner (a child): serves requests until killed. */
static void owner_main(struct floor_page *m, int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0)
		_exit(3);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char get[128];
	int gl = snprintf(get, sizeof get, "GET /health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
	uint32_t seen = atomic_load(&m->req);
	for (;;) {
		uint32_t r;
		while ((r = atomic_load(&m->req)) == seen)
			syscall(SYS_futex, &m->req, FUTEX_WAIT, seen, NULL, NULL, 0);
		seen = r;
		if (owner_exchange(s, m, get, (size_t)gl) != 0)
			m->status = 0;
		atomic_store(&m->resp, seen);
		syscall(SYS_futex, &m->resp, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
}

/* One CGI run of prog: its wall time in ns, or dies. */
static uint64_t cgi_run(const char *prog)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	char *argv[] = { (char *)prog, NULL };
	pid_t pid;
	uint64_t t0 = pp_now_ns();
	if (posix_spawn(&pid, prog, &fa, NULL, argv, environ) != 0)
		die(prog);
	close(p[1]);
	char buf[4096];
	size_t got = 0;
	ssize_t k;
	while ((k = read(p[0], buf + got, sizeof buf - 1 - got)) > 0 && got + (size_t)k < sizeof buf - 1)
		got += (size_t)k;
	int st = 0;
	waitpid(pid, &st, 0);
	uint64_t ns = pp_now_ns() - t0;
	close(p[0]);
	posix_spawn_file_actions_destroy(&fa);
	buf[got] = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(buf, "Status: 200"))
		die(prog);
	return ns;
}

int main(void)
{
	static uint64_t lat[PARTS][ROUNDS];
	static const char *const names[PARTS] = { "noop", "floor", "static", "direct" };
	const char *b = getenv("PP_BUILD");
	char prog[3][512];
	static const char *const progs[3] = { "cgi_noop", "cgi_floor", "cgi_static" };
	for (int i = 0; i < 3; i++) {
		snprintf(prog[i], sizeof prog[i], "%s/bench/cgi/%s", b && *b ? b : "build", progs[i]);
		if (access(prog[i], X_OK) != 0)
			die("CGI programs not built (make bench-build)");
	}
	struct pp_backend be;
	struct pp_daemon_proc d;
	if (pp_backend_start(&be, NULL) != 0)
		die("cannot start the backend");
	char pool[48], shm[48];
	snprintf(pool, sizeof pool, "benchfloor%ld", (long)getpid());
	snprintf(shm, sizeof shm, "/pp-bench-floor-%ld", (long)getpid());
	const char *args[] = { "-b", be.url, "--max", "4", "--min", "4", NULL };
	if (pp_daemon_start(&d, pool, args) != 0)
		die("cannot start phantompoold");
	int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(struct floor_page)) != 0)
		die("shm_open");
	struct floor_page *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		die("mmap");
	pid_t owner = fork();
	if (owner == 0)
		owner_main(m, be.port);
	setenv("PHANTOMPOOL", pool, 1);
	setenv("PP_FLOOR_SHM", shm, 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	char url[128];
	snprintf(url, sizeof url, "%s/health", be.url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pp_test_discard);
	for (int w = 0; w < 20; w++) { /* connections open, code paths warm */
		for (int i = 0; i < 3; i++)
			cgi_run(prog[i]);
		if (curl_easy_perform(c) != CURLE_OK)
			die("direct request failed");
	}
	uint32_t seed = 12345;
	for (int r = 0; r < ROUNDS; r++) {
		int order[PARTS];
		for (int j = 0; j < PARTS; j++)
			order[j] = j;
		for (int j = PARTS - 1; j > 0; j--) { /* Fisher-Yates, a fixed LCG: reproducible */
			seed = seed * 1103515245u + 12345u;
			int k = (int)((seed >> 16) % (uint32_t)(j + 1)), t = order[j];
			order[j] = order[k];
			order[k] = t;
		}
		for (int j = 0; j < PARTS; j++) {
			int part = order[j];
			if (part < 3) {
				lat[part][r] = cgi_run(prog[part]);
				continue;
			}
			uint64_t t0 = pp_now_ns();
			if (curl_easy_perform(c) != CURLE_OK)
				die("direct request failed");
			lat[part][r] = pp_now_ns() - t0;
		}
	}
	kill(owner, SIGKILL);
	waitpid(owner, NULL, 0);
	shm_unlink(shm);
	double p50[PARTS];
	for (int i = 0; i < PARTS; i++) {
		qsort(lat[i], ROUNDS, sizeof lat[i][0], pp_test_cmp_u64);
		p50[i] = (double)lat[i][ROUNDS / 2] / 1000.0;
		printf("cgi_%s_p50 %.1f us\n", names[i], p50[i]);
	}
	printf("cgi_floor_ratio %.2f ratio\n", (p50[1] - p50[0]) / p50[3]);
	printf("cgi_pool_ratio %.2f ratio\n", (p50[2] - p50[0]) / p50[3]);
	printf("cgi_pool_over_floor %.1f us\n", p50[2] - p50[1]);
	curl_easy_cleanup(c);
	pp_daemon_stop(&d);
	pp_backend_stop(&be);
	return 0;
}
