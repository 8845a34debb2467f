/* sys.h - the system calls of a worker's attach and detach, made through
 * syscall(2) instead of libc's wrappers.
 *
 * Why: a fresh process (a CGI run) pays for every distinct libc function
 * it calls for the first time: the function's code page and the dynamic
 * linker's symbol lookup are page faults in that process.  Measured on
 * the benchmark host (docs/BENCHMARKS.md, "Runs 21 and 22"): ten
 * distinct wrappers (getuid, getppid, ...) cost a fresh process 113-130
 * us more than none, the same ten system calls through syscall(2) 19 us.
 * pp_attach, pp_detach and pp_do already need syscall(2) for the futex,
 * so routing their other calls through it adds no function at all.
 *
 * Each wrapper behaves as the libc call it stands for: -1 (MAP_FAILED for
 * pp_sys_mmap) with errno set on failure.  Used where a worker attaches,
 * checks its daemon and detaches (segment.c, pool.c); the daemon's own
 * set-up calls libc as usual.  fstat and mmap (and clock.h's clock reads)
 * go straight to the kernel only where its structures and arguments are
 * glibc's (PP_SYS_DIRECT: x86-64); elsewhere they stay libc calls. */
#ifndef PP_SYS_H
#define PP_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__) && defined(__x86_64__) && !defined(__ILP32__)
#define PP_SYS_DIRECT 1
#else
#define PP_SYS_DIRECT 0
#endif

/* The directory glibc's shm_open uses (fixed since glibc 2.34): where the
 * segment /phantompool-<pool> and its doorbells live as files. */
#define PP_SHM_DIR "/dev/shm"

/* PP_SHM_DIR, shm_name and suffix pasted into buf (cap bytes with the
 * NUL; pasted, not printf'd: every attach runs this).  0, or -1 when it
 * does not fit. */
static inline int pp_shm_path(char *buf, size_t cap, const char *shm_name, const char *suffix)
{
	size_t d = sizeof PP_SHM_DIR - 1, n = strlen(shm_name), x = strlen(suffix);
	if (d + n + x >= cap)
		return -1;
	memcpy(buf, PP_SHM_DIR, d);
	memcpy(buf + d, shm_name, n);
	memcpy(buf + d + n, suffix, x + 1);
	return 0;
}

static inline pid_t pp_sys_getpid(void)
{
	return (pid_t)syscall(SYS_getpid);
}

/* The calling thread's id: the TID a robust lock word names. */
static inline pid_t pp_sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static inline int pp_sys_kill(pid_t pid, int sig)
{
	return (int)syscall(SYS_kill, pid, sig);
}

/* shm_open(name, flags) for a name checked already (pp_seg_shm_name: a
 * leading '/', no other): opens PP_SHM_DIR/name with O_NOFOLLOW and
 * O_CLOEXEC, as glibc does. */
static inline int pp_sys_shm_open(const char *name, int flags)
{
	char path[sizeof PP_SHM_DIR + 256];
	if (pp_shm_path(path, sizeof path, name, "") < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* O_NONBLOCK: a FIFO put at the name (anyone may create files in
	 * /dev/shm) must not block the open for want of a writer; it is then
	 * refused as not a regular file (pp_seg_attach).  No effect on a
	 * shared memory object. */
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
}

static inline int pp_sys_fstat(int fd, struct stat *st)
{
#if PP_SYS_DIRECT
	return (int)syscall(SYS_fstat, fd, st);
#else
	return fstat(fd, st);
#endif
}

static inline int pp_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

/* mmap(NULL, len, prot, flags, fd, 0). */
static inline void *pp_sys_mmap(size_t len, int prot, int flags, int fd)
{
#if PP_SYS_DIRECT
	long r = syscall(SYS_mmap, NULL, len, prot, flags, fd, 0L);
	return r == -1 ? MAP_FAILED : (void *)r;
#else
	return mmap(NULL, len, prot, flags, fd, 0);
#endif
}

static inline int pp_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

#endif
