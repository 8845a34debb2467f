/* detach.c - the daemon's start without -f: fork, wait for readiness. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "detach.h"

#define READY_BYTE 'R'

/* The parent's side: wait for the ready byte or the end of the child. */
static _Noreturn void wait_for_child(pid_t kid, int rfd)
{
	char b = 0;
	ssize_t n;
	do
		n = read(rfd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && b == READY_BYTE)
		_exit(0);
	/* The pipe closed without the byte: the child gave up (or, far less
	 * likely, closed it and runs on; it is never waited for then). */
	int ws = 0;
	pid_t w;
	do
		w = waitpid(kid, &ws, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w == 0) {
		do
			w = waitpid(kid, &ws, 0);
		while (w < 0 && errno == EINTR);
	}
	int st = w == kid && WIFEXITED(ws) && WEXITSTATUS(ws) != 0 ? WEXITSTATUS(ws) : 1;
	fprintf(stderr, "phantompoold: the pool did not start (exit status %d)\n", st);
	_exit(st);
}

int pd_detach_begin(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t kid = fork();
	if (kid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (kid > 0) {
		close(p[1]);
		wait_for_child(kid, p[0]);
	}
	close(p[0]);
	(void)setsid(); /* a new session: no controlling terminal, no SIGHUP from the shell */
	int rc = chdir("/"); /* hold no directory busy; "/" always exists */
	(void)rc;
	return p[1];
}

void pd_detach_ready(int fd)
{
	if (fd < 0)
		return;
	char b = READY_BYTE;
	ssize_t n;
	do
		n = write(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return;
	for (int i = 0; i <= 2; i++)
		dup2(null, i); /* dup2 clears FD_CLOEXEC on the copies */
	if (null > 2)
		close(null);
}
