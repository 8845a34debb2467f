/* servers.c - spawn, pin, measure and stop the servers the harness starts;
 * the cleanup that runs on every exit path; loopback probes. */
#include "../harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 32
#define MAX_WORKERS 1024
#define MAX_POOLS 64

static struct server *servers[MAX_SERVERS];
static pid_t workers[MAX_WORKERS];
static int nworkers;
static char pools[MAX_POOLS][48];
static int npools;
static volatile sig_atomic_t cleaning;
char bench_tmpdir[256];

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void register_server(struct server *s)
{
	for (int i = 0; i < MAX_SERVERS; i++)
		if (servers[i] == s)
			return;
	for (int i = 0; i < MAX_SERVERS; i++)
		if (!servers[i]) {
			servers[i] = s;
			return;
		}
}

int srv_spawn(struct server *s, const char *name, char *const argv[], const cpu_set_t *cpus,
	      const char *log, int stdout_fd)
{
	pid_t parent = getpid();
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->log, sizeof s->log, "%s", log);
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(logfd);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (cpus)
			sched_setaffinity(0, sizeof *cpus, cpus);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(stdout_fd >= 0 ? stdout_fd : logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* both sides, so it holds before either runs on */
	close(logfd);
	s->pid = pid;
	register_server(s);
	return 0;
}

int srv_alive(struct server *s)
{
	if (s->pid <= 0)
		return 0;
	if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
		s->pid = 0;
		return 0;
	}
	return 1;
}

void srv_stop(struct server *s)
{
	if (!s || s->pid <= 0)
		return;
	pid_t pid = s->pid;
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	int done = 0;
	for (int i = 0; i < 300 && !done; i++) {
		pid_t w = waitpid(pid, NULL, WNOHANG);
		if (w == pid || (w < 0 && errno == ECHILD))
			done = 1;
		else
			sleep_ms(10);
	}
	kill(-pid, SIGKILL); /* the group's leftovers (nginx workers) too */
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	s->pid = 0;
	for (int i = 0; i < MAX_SERVERS; i++)
		if (servers[i] == s)
			servers[i] = NULL;
}

/* utime+stime in clock ticks and the process group of /proc/<pid>/stat. */
static int read_stat(const char *pid, long *pgrp, unsigned long long *ticks)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	char state;
	long ppid, pg;
	unsigned long long ut, st;
	if (sscanf(p + 2, "%c %ld %ld %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &state, &ppid, &pg,
		   &ut, &st) != 5)
		return -1;
	*pgrp = pg;
	*ticks = ut + st;
	return 0;
}

uint64_t srv_cpu_ns(const struct server *s)
{
	if (!s || s->pid <= 0)
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	static long tick;
	if (!tick)
		tick = sysconf(_SC_CLK_TCK);
	unsigned long long total = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		long pg;
		unsigned long long t;
		if (read_stat(e->d_name, &pg, &t) == 0 && pg == s->pid)
			total += t;
	}
	closedir(d);
	return (uint64_t)(total * (1000000000ull / (unsigned long long)tick));
}

void srv_dump_log(const struct server *s)
{
	FILE *f = fopen(s->log, "r");
	if (!f)
		return;
	char lines[20][256];
	int n = 0;
	while (fgets(lines[n % 20], sizeof lines[0], f))
		n++;
	fclose(f);
	fprintf(stderr, "--- last lines of %s (%s)\n", s->name, s->log);
	for (int i = n > 20 ? n - 20 : 0; i < n; i++)
		fputs(lines[i % 20], stderr);
}

void bench_track_worker(pid_t pid)
{
	if (nworkers < MAX_WORKERS)
		workers[nworkers++] = pid;
}

void bench_untrack_workers(void)
{
	nworkers = 0;
}

void bench_track_pool(const char *pool)
{
	if (npools < MAX_POOLS)
		snprintf(pools[npools++], sizeof pools[0], "%s", pool);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? 0 : 0;
}

void bench_cleanup(void)
{
	if (cleaning)
		return;
	cleaning = 1;
	for (int i = 0; i < nworkers; i++)
		if (workers[i] > 0)
			kill(workers[i], SIGKILL);
	for (int i = 0; i < nworkers; i++)
		if (workers[i] > 0)
			waitpid(workers[i], NULL, 0);
	nworkers = 0;
	for (int i = 0; i < MAX_SERVERS; i++)
		if (servers[i])
			srv_stop(servers[i]);
	/* A daemon that was SIGKILLed leaves its segment behind. */
	for (int i = 0; i < npools; i++) {
		char name[sizeof pools[0] + 16];
		snprintf(name, sizeof name, "/phantompool-%.47s", pools[i]);
		shm_unlink(name);
	}
	npools = 0;
	if (bench_tmpdir[0] && !getenv("BENCH_KEEP_TMP"))
		nftw(bench_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	cleaning = 0;
}

static void on_signal(int sig)
{
	signal(sig, SIG_DFL);
	fprintf(stderr, "\nbench: signal %d, stopping everything we started\n", sig);
	bench_cleanup();
	raise(sig);
}

void bench_install_cleanup(void)
{
	atexit(bench_cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGQUIT, on_signal);
	signal(SIGPIPE, SIG_IGN);
}

int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A connected socket to 127.0.0.1:port or the unix path, or -1. */
static int dial(int port, const char *unix_path)
{
	int fd;
	if (unix_path) {
		struct sockaddr_un u = { .sun_family = AF_UNIX };
		snprintf(u.sun_path, sizeof u.sun_path, "%s", unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&u, sizeof u) == 0)
			return fd;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
			return fd;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

int wait_listening(int port, const char *unix_path, int ms)
{
	for (int waited = 0; waited <= ms; waited += 10) {
		int fd = dial(port, unix_path);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		sleep_ms(10);
	}
	return -1;
}

int http_get_raw(int port, const char *unix_path, const char *path, char *buf, size_t len)
{
	int fd = dial(port, unix_path);
	if (fd < 0)
		return -1;
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	size_t got = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) <= 0)
			break;
		ssize_t r = read(fd, buf + got, len - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got + 1 >= len)
			break;
	}
	close(fd);
	buf[got] = 0;
	int status;
	if (sscanf(buf, "HTTP/%*s %d", &status) != 1)
		return -1;
	char *body = strstr(buf, "\r\n\r\n");
	if (body)
		memmove(buf, body + 4, strlen(body + 4) + 1);
	return status;
}
