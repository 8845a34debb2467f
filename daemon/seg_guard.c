/* seg_guard.c - see seg_guard.h.  The handler uses only fstat and
 * ftruncate (async-signal-safe) and plain reads of what start() set
 * before installing it. */
#include "seg_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int guard_fd = -1;
static const uint8_t *guard_base;
static size_t guard_size;
static atomic_bool restored;

static atomic_uint restores;          /* sizes restored, by any thread */
static _Thread_local unsigned retried; /* `restores` this thread last retried on */

/* A SIGBUS at an address of the segment because the object is shorter
 * than the mapping: restore the size and return, so the faulting access
 * runs again.  A thread that faulted on the same shrink as another, which
 * restored the size first, finds it right: it retries once per restore.
 * Anything else (another address, a hardware error, a size that is right
 * with no restore this thread has not retried on) is a real SIGBUS: the
 * default action. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	const uint8_t *a = si->si_addr;
	struct stat st;
	int saved = errno;
	if (si->si_code == BUS_ADRERR && a >= guard_base && a < guard_base + guard_size && guard_fd >= 0 &&
	    fstat(guard_fd, &st) == 0) {
		if ((size_t)st.st_size < guard_size && ftruncate(guard_fd, (off_t)guard_size) == 0) {
			retried = atomic_fetch_add(&restores, 1) + 1;
			atomic_store_explicit(&restored, true, memory_order_relaxed);
			errno = saved;
			return;
		}
		unsigned r = atomic_load(&restores);
		if ((size_t)st.st_size == guard_size && r != retried) {
			retried = r;
			errno = saved;
			return;
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

int pd_seg_guard_start(const struct pp_seg *seg)
{
	int fd = shm_open(seg->shm_name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	guard_fd = fd;
	guard_base = seg->base;
	guard_size = seg->size;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) != 0) {
		int e = errno;
		close(fd);
		guard_fd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

bool pd_seg_guard_restored(void)
{
	return atomic_exchange_explicit(&restored, false, memory_order_relaxed);
}
