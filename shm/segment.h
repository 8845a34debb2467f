/* segment.h - create (daemon), attach (workers, shmdump) and validate the
 * shared segment.  A struct pp_seg is one process's PRIVATE view of a
 * mapped segment: the layout numbers in it were validated once and are
 * trusted from then on; the segment's own copies are not. */
#ifndef PP_SEGMENT_H
#define PP_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"

struct pp_seg {
	void *base;
	size_t size;
	struct pp_shm_header *hdr;
	struct pp_waiter *waiters;  /* [PP_MAX_WAITERS] */
	struct pp_slot *slots;
	uint8_t *rings;
	uint32_t nslots;
	uint32_t ring_size;
	uint64_t generation;
	int32_t daemon_pid;
	/* Limits copied at attach, so scribbles over the header later cannot
	 * change what an attached client does. */
	uint64_t max_body;
	uint32_t lease_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t spin_claims;  /* spinners allowed at once, <= PP_SPIN_CLAIMS (spin.h) */
	char shm_name[PP_POOL_NAME_MAX + 16]; /* "/phantompool-<pool>" */
	/* The shm object mapped (fstat): a daemon that replaces a segment
	 * creates a new object, so a different inode under the same name is a
	 * new segment (pp_seg_identity). */
	dev_t dev;
	ino_t ino;
};

/* What the daemon creates a segment from. */
struct pp_seg_config {
	const char *pool;      /* validated pool name */
	uint32_t nslots;       /* 1..PP_MAX_SLOTS: seats */
	uint32_t max_conns;    /* backend connections, 1..nslots (0: nslots) */
	uint32_t min_conns;
	uint32_t ring_size;    /* power of two, PP_RING_MIN..PP_RING_MAX */
	uint32_t lease_timeout_ms;
	uint32_t request_timeout_ms;
	uint64_t max_body;
	uint32_t spin_ns;      /* spin budget per wait (spin.h), capped at PP_SPIN_MAX_NS */
	unsigned mode;         /* e.g. 0600, or 0660 with a group */
	gid_t gid;             /* (gid_t)-1: keep the creator's group */
	const char *backend;   /* display string, may be NULL */
};

/* Resolve a pool name: NULL/"" means $PHANTOMPOOL, else "default".
 * Writes the chosen name to buf.  Returns 0, or PP_ENAME when the name is
 * not 1..40 characters of [A-Za-z0-9._-]. */
int pp_pool_resolve(const char *pool, char *buf, size_t len);

/* "/phantompool-<pool>" into buf.  Returns 0 or PP_ENAME. */
int pp_seg_shm_name(const char *pool, char *buf, size_t len);

/* Daemon: create and initialise a new segment, replacing a stale one of
 * the same name.  The caller holds the pool's pidfile lock, but another
 * daemon may have been given another pidfile: a segment whose daemon is
 * alive (fresh heartbeat, pid exists) is left alone (-EADDRINUSE).
 * Publishes magic last.  Returns 0, or a negative errno (-EINVAL for a
 * bad config). */
int pp_seg_create(const struct pp_seg_config *cfg, struct pp_seg *out);

/* Attach read-write (writable = true, workers) or read-only (shmdump).
 * Validates the header before trusting any offset.  Returns 0 or
 * PP_ENAME, PP_ENOPOOL, PP_EACCES, PP_EVERSION, PP_ECORRUPT, PP_EDAEMON
 * (not yet published: the daemon is still initialising), PP_ESYS.
 * out->base and out->size are set as soon as the object is mapped, so a
 * caller that leaves a SIGBUS raised inside (the object shrunk under it)
 * by a jump can free the mapping with pp_seg_unmap(out). */
int pp_seg_attach(const char *pool, bool writable, struct pp_seg *out);

/* Check a mapping of `size` bytes: magic, layout version, sizes and
 * offsets, slot count, ring size.  Pure: reads only inside [base, base+size).
 * Returns 0 or PP_EVERSION, PP_ECORRUPT, PP_EDAEMON (magic not yet set). */
int pp_seg_validate(const void *base, size_t size);

/* Unmap (accepts a zeroed struct). */
void pp_seg_unmap(struct pp_seg *seg);

/* Remove the segment's name (daemon, at clean exit).  Returns 0 or -errno. */
int pp_seg_unlink(const char *pool);

/* True if the daemon that published this segment still runs: its pid
 * exists, it has not marked itself stopped, and its heartbeat is fresher
 * than stale_ms.  pp_seg_daemon_fresh() plus pp_seg_daemon_pid_exists(). */
bool pp_seg_daemon_alive(const struct pp_seg *seg, uint64_t stale_ms);

/* The part of pp_seg_daemon_alive() that needs no system call: not marked
 * stopped, and a heartbeat no older than stale_ms at now_ns (a
 * CLOCK_MONOTONIC time; the coarse clock will do). */
bool pp_seg_daemon_fresh(const struct pp_seg *seg, uint64_t stale_ms, uint64_t now_ns);

/* The system-call part: the daemon's pid exists (kill(pid, 0)). */
bool pp_seg_daemon_pid_exists(const struct pp_seg *seg);

/* Which shm object is under the pool's name now: 0 with *dev and *ino,
 * or PP_ENOPOOL (no segment of that name), PP_EACCES, PP_ESYS.  An open,
 * an fstat and a close: a few microseconds, no mapping. */
int pp_seg_identity(const char *shm_name, dev_t *dev, ino_t *ino);

/* Pointers into the segment for slot i (i < seg->nslots, trusted). */
static inline struct pp_slot *pp_seg_slot(const struct pp_seg *seg, uint32_t i)
{
	return &seg->slots[i];
}
static inline uint8_t *pp_seg_req_data(const struct pp_seg *seg, uint32_t i)
{
	return seg->rings + (uint64_t)(2 * i) * seg->ring_size;
}
static inline uint8_t *pp_seg_resp_data(const struct pp_seg *seg, uint32_t i)
{
	return seg->rings + (uint64_t)(2 * i + 1) * seg->ring_size;
}

#endif
