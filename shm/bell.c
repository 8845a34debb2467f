/* bell.c - see bell.h. */
#include "bell.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "futex.h"
#include "phantompool.h"
#include "sys.h"

int pp_bell_init(struct pp_bell *b, const char *shm_name)
{
	for (uint32_t k = 0; k < PP_BELL_MAX; k++)
		atomic_init(&b->fd[k], -1);
	b->hdr = NULL;
	/* PP_SHM_DIR "<shm_name>.bell", with room for the largest k in
	 * sun_path. */
	size_t cap = sizeof b->prefix < sizeof((struct sockaddr_un *)0)->sun_path
	                     ? sizeof b->prefix
	                     : sizeof((struct sockaddr_un *)0)->sun_path;
	if (pp_shm_path(b->prefix, cap - 3, shm_name, ".bell") < 0)
		return PP_ENAME;
	return 0;
}

static socklen_t bell_addr(const struct pp_bell *b, uint32_t k, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof a->sun_path, "%s%u", b->prefix, k % PP_BELL_MAX);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

/* A socket connected to bell k, or -1. */
static int connect_bell(const struct pp_bell *b, uint32_t k)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un a;
	socklen_t len = bell_addr(b, k, &a);
	if (connect(fd, (struct sockaddr *)&a, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The connected socket for bell k: the one in b, or a new one put there
 * (a thread that loses the race uses the winner's). */
static int bell_fd(struct pp_bell *b, uint32_t k)
{
	int fd = atomic_load_explicit(&b->fd[k], memory_order_acquire);
	if (fd >= 0)
		return fd;
	if ((fd = connect_bell(b, k)) < 0)
		return -1;
	int expected = -1;
	if (!atomic_compare_exchange_strong(&b->fd[k], &expected, fd)) {
		close(fd);
		return expected;
	}
	return fd;
}

void pp_bell_ring(struct pp_bell *b, uint32_t k)
{
	k %= PP_BELL_MAX;
	for (int tries = 0; tries < 2; tries++) {
		int fd = bell_fd(b, k);
		if (fd < 0)
			return;
		char byte = 1;
		/* MSG_NOSIGNAL: a dead daemon must never kill the worker. */
		if (send(fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 || errno == EAGAIN)
			return; /* EAGAIN: the queue is full, a wake is pending */
		/* The daemon's socket is gone or was replaced: reconnect once. */
		int expected = fd;
		if (atomic_compare_exchange_strong(&b->fd[k], &expected, -1))
			close(fd);
	}
}

void pp_bell_wake_word(struct pp_bell *b, uint32_t k)
{
	if (!b->hdr)
		return;
	_Atomic uint32_t *w = &b->hdr->loop_wake[k % PP_LOOPS_MAX].word;
	/* The bump makes a loop that is about to sleep on the old value
	 * return at once (futex_wait compares). */
	atomic_fetch_add_explicit(w, 1, memory_order_release);
	pp_futex_wake(w, 1);
}

void pp_bell_answer(struct pp_bell *b, uint32_t waiter)
{
	if (waiter >= PP_BELL_WORD)
		pp_bell_wake_word(b, waiter - PP_BELL_WORD);
	else if (waiter >= PP_BELL_WAITER)
		pp_bell_ring(b, waiter - PP_BELL_WAITER);
}

void pp_bell_close(struct pp_bell *b)
{
	for (uint32_t k = 0; k < PP_BELL_MAX; k++) {
		int fd = atomic_exchange(&b->fd[k], -1);
		if (fd >= 0)
			close(fd);
	}
}

int pp_bell_bind(const struct pp_bell *b, uint32_t k, unsigned mode, gid_t gid)
{
	struct sockaddr_un a;
	socklen_t len = bell_addr(b, k, &a);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(a.sun_path); /* a dead daemon's (we hold the pool's pidfile) */
	if (bind(fd, (struct sockaddr *)&a, len) < 0 || chmod(a.sun_path, mode) < 0 ||
	    (gid != (gid_t)-1 && chown(a.sun_path, (uid_t)-1, gid) < 0)) {
		int e = errno;
		close(fd);
		unlink(a.sun_path);
		return -e;
	}
	return fd;
}

void pp_bell_drain(int fd)
{
	char buf[64];
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

void pp_bell_unlink(const struct pp_bell *b, uint32_t k)
{
	struct sockaddr_un a;
	bell_addr(b, k, &a);
	unlink(a.sun_path);
}
