/* cgi.c - a CGI server's work per request: fork, exec the CGI program
 * with its environment, read its whole stdout through a pipe, reap it.
 * The program is one of bench/cgi/: cgi_noop (the floor), cgi_curl (one
 * libcurl GET), cgi_pool (pp_attach + pp_do).  cgi_side runs the floor,
 * both pool CGI programs and a keep-alive GET in turn (harness.h). */
#include "../harness.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* How the worker starts the CGI program: posix_spawn (glibc: clone with
 * CLONE_VM|CLONE_VFORK, so the launcher's own size costs nothing, as in a
 * lean CGI launcher such as fcgiwrap or mod_cgid) by default, or a plain
 * fork() of this worker with BENCH_CGI_SPAWN=fork. */
static int use_fork;

/* BENCH_CGI_SPAWN, and is prog there to run?  0, or -1 (errbuf set). */
static int cgi_setup(struct wctx *w, const char *prog)
{
	const char *how = getenv("BENCH_CGI_SPAWN");
	use_fork = how && !strcmp(how, "fork");
	if (access(prog, X_OK) != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "%.200s: %s", prog, strerror(errno));
		return -1;
	}
	return 0;
}

int cgi_init(struct wctx *w)
{
	return cgi_setup(w, w->t->cgi_prog);
}

/* Start prog with stdout on fd; its pid, or -1 (errbuf set). */
static pid_t cgi_start(struct wctx *w, const char *prog, int fd)
{
	char *argv[] = { (char *)prog, NULL };
	char *const *envp = (char *const *)w->t->cgi_env;
	pid_t pid;
	if (use_fork) {
		pid = fork();
		if (pid == 0) {
			dup2(fd, STDOUT_FILENO);
			execve(argv[0], argv, envp);
			_exit(127);
		}
		if (pid < 0)
			snprintf(w->errbuf, sizeof w->errbuf, "fork: %s", strerror(errno));
		return pid;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "posix_spawn: %s", strerror(rc));
		return -1;
	}
	return pid;
}

/* One CGI run of prog, as a CGI server makes it: 0 when it exited 0
 * and answered "Status: 200", else -1 with errbuf set. */
static int cgi_run(struct wctx *w, const char *prog)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = cgi_start(w, prog, p[1]);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	char buf[4096];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(p[0], buf + got, sizeof buf - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got + 1 >= sizeof buf)
			got = 0; /* keep draining; only the head matters */
	}
	buf[got] = 0;
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "CGI exit %d: %.180s",
			 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), buf);
		return -1;
	}
	if (strncmp(buf, "Status: 200", 11) != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "CGI answered: %.180s", buf);
		return -1;
	}
	return 0;
}

int cgi_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	(void)lease_wait_ns;
	return cgi_run(w, w->t->cgi_prog);
}

void cgi_fini(struct wctx *w)
{
	(void)w;
}

const char *const side_part_names[SIDE_PARTS] = { "cgi_noop", "cgi_static", "cgi_pool", "direct" };

int cgi_side_init(struct wctx *w)
{
	for (int i = 0; i < SIDE_DIRECT; i++)
		if (cgi_setup(w, w->t->side_prog[i]) != 0)
			return -1;
	return curl_ka_open(w);
}

/* Part k (0..3) of the order numbered r (0..23): the r-th permutation of
 * the four parts, decoded from its factorial-base digits. */
_Static_assert(SIDE_PARTS == 4, "side_order_part and its 24 orders assume four parts");
static int side_order_part(unsigned r, int k)
{
	int left[SIDE_PARTS] = { 0, 1, 2, 3 }, n = SIDE_PARTS, pick = 0;
	unsigned f = 6; /* (n - 1)! */
	for (int i = 0; i <= k; i++) {
		unsigned d = r / f;
		r %= f;
		pick = left[d];
		for (unsigned j = d; j + 1 < (unsigned)n; j++)
			left[j] = left[j + 1];
		n--;
		if (n > 1)
			f /= (unsigned)n;
	}
	return pick;
}

int cgi_side_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	unsigned s = w->step++;
	int part = side_order_part((s / SIDE_PARTS) % 24, (int)(s % SIDE_PARTS));
	w->part = part;
	if (part == SIDE_DIRECT)
		return curl_request(w, lease_wait_ns);
	return cgi_run(w, w->t->side_prog[part]);
}

void cgi_side_fini(struct wctx *w)
{
	curl_fini(w);
}
