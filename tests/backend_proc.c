/* backend_proc.c - start/stop/query the reference backend (backend_proc.h). */
#include "backend_proc.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKEND_MAX_ARGS 64
#define BACKEND_START_MS 5000
#define BACKEND_STOP_MS 5000
#define PROBE_TIMEOUT_S 2

/* Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Child side of pp_backend_start: stdout to out_fd, default signal
 * handling, then exec argv.  Never returns. */
static void exec_backend(int out_fd, pid_t parent, char **argv)
{
	sigset_t none;
	int devnull = open("/dev/null", O_RDONLY);

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	if (dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(127);
	execv(argv[0], argv);
	_exit(127);
}

/* The port after the last ':' of the text after prefix in line, or -1. */
static int line_port(const char *line, const char *prefix)
{
	const char *colon;

	if (strncmp(line, prefix, strlen(prefix)) || !(colon = strrchr(line, ':')))
		return -1;
	return atoi(colon + 1);
}

/* Read the backend's startup lines from fd until deadline_ms: "listening
 * [https://]ADDR:PORT" (sets b->port, b->tls), then, if want_debug,
 * "debug listening ADDR:PORT" (sets b->debug_port).  0 or -1. */
static int read_listening_lines(int fd, long long deadline_ms, int want_debug,
				struct pp_backend *b)
{
	char buf[512];
	size_t len = 0;

	for (;;) {
		char *nl;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			if (!b->port && (b->port = line_port(buf, "listening ")) > 0)
				b->tls = !strncmp(buf + 10, "https://", 8);
			else if (want_debug && !b->debug_port)
				b->debug_port = line_port(buf, "debug listening ");
			if (b->port <= 0 || b->port > 65535 ||
			    (b->debug_port && (b->debug_port < 0 || b->debug_port > 65535)))
				return -1;
			if (!want_debug || b->debug_port)
				return 0;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline_ms - now_ms();
		if (len + 1 >= sizeof buf || left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			return -1;	/* the child exited */
		len += (size_t)n;
	}
}

/* 1 if the NULL-terminated list has the string s. */
static int has_arg(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

/* argv for the backend in out[]: binary, defaults, extra_args, NULL.
 * *debug: whether the backend will have a debug port. */
static int build_argv(char **out, const char *const *extra, int *debug)
{
	int n = 0;

	out[n++] = strdup(pp_test_build_path("phantomdb-ref"));
	out[n++] = "--port";
	out[n++] = "0";
	if (!getenv("PP_BACKEND_VERBOSE"))
		out[n++] = "--quiet";
	*debug = has_arg(extra, "--debug-port");
	if (!*debug && has_arg(extra, "--tls-cert")) {
		out[n++] = "--debug-port";	/* so that the probe needs no TLS */
		out[n++] = "0";
		*debug = 1;
	}
	for (; extra && *extra; extra++) {
		if (n + 1 >= BACKEND_MAX_ARGS)
			return -1;
		out[n++] = (char *)*extra;
	}
	out[n] = NULL;
	return out[0] ? 0 : -1;
}

int pp_backend_start(struct pp_backend *b, const char *const *extra_args)
{
	char *argv[BACKEND_MAX_ARGS];
	int fds[2], ok, want_debug;
	pid_t parent = getpid();

	memset(b, 0, sizeof *b);
	b->exit_status = -1;
	if (build_argv(argv, extra_args, &want_debug) < 0 || pipe2(fds, O_CLOEXEC) < 0) {
		free(argv[0]);
		return -1;
	}
	b->pid = fork();
	if (b->pid == 0)
		exec_backend(fds[1], parent, argv);
	free(argv[0]);
	close(fds[1]);
	ok = b->pid > 0 &&
	     read_listening_lines(fds[0], now_ms() + BACKEND_START_MS, want_debug, b) == 0;
	close(fds[0]);
	if (!ok) {
		if (b->pid > 0) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, NULL, 0);
		}
		memset(b, 0, sizeof *b);
		b->exit_status = -1;
		return -1;
	}
	snprintf(b->url, sizeof b->url, "%s://127.0.0.1:%d", b->tls ? "https" : "http", b->port);
	return 0;
}

/* waitpid(pid) for up to ms; returns the wait status or -1 on timeout. */
static int wait_bounded(pid_t pid, long ms)
{
	long long deadline = now_ms() + ms;
	int st;

	do {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return st;
		if (w < 0 && errno != EINTR)
			return -1;
		usleep(5000);
	} while (now_ms() < deadline);
	return -1;
}

void pp_backend_stop(struct pp_backend *b)
{
	int st;

	if (!b || b->pid <= 0)
		return;
	kill(b->pid, SIGTERM);
	st = wait_bounded(b->pid, BACKEND_STOP_MS);
	if (st == -1) {
		kill(b->pid, SIGKILL);
		if (waitpid(b->pid, &st, 0) < 0)
			st = -1;
	}
	b->exit_status = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st)
			 : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
	b->pid = 0;
}

/* Connect to 127.0.0.1:port with 2 s send/receive timeouts; fd or -1. */
static int connect_loopback(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { PROBE_TIMEOUT_S, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The integer after "key": in s, into *out (if out); 0 or -1. */
static int json_long_field(const char *s, const char *key, long *out)
{
	const char *p = strstr(s, key);
	char *end;
	long v;

	if (!p)
		return -1;
	v = strtol(p + strlen(key), &end, 10);
	if (end == p + strlen(key))
		return -1;
	if (out)
		*out = v;
	return 0;
}

int pp_backend_connections(const struct pp_backend *b, long *accepted, long *open)
{
	static const char request[] = "GET /_debug/connections?probe=1 HTTP/1.0\r\n"
				      "Host: 127.0.0.1\r\n\r\n";
	char buf[2048];
	size_t len = 0;
	ssize_t n;
	int fd;
	const char *body;

	if (b->tls && !b->debug_port)
		return -1;	/* the raw probe speaks no TLS */
	fd = connect_loopback(b->debug_port ? b->debug_port : b->port);
	if (fd < 0)
		return -1;
	if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) {
		close(fd);
		return -1;
	}
	while (len + 1 < sizeof buf && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200", 4) || !body)
		return -1;
	if (json_long_field(body, "\"accepted\":", accepted) < 0 ||
	    json_long_field(body, "\"open\":", open) < 0)
		return -1;
	return 0;
}
