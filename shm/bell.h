/* bell.h - the doorbell a worker rings to wake a daemon serving loop.
 *
 * A serving loop (daemon/loop.h) waits for backend sockets and for new
 * requests at once, so it cannot sleep on a futex.  It sleeps in poll(2)
 * instead, on a unix datagram socket bound next to the segment:
 *
 *     /dev/shm/phantompool-<pool>.bell<k>     (k: the loop's number)
 *
 * Before it sleeps, a loop writes PP_BELL_WAITER + k into the head_waiter
 * word of each request ring it watches (ring.h); a worker that publishes a
 * request and finds such a value sends one byte to bell k instead of a
 * futex wake.  The socket lives on the filesystem (not the abstract
 * namespace) so that workers in another network namespace reach it and so
 * that the segment's mode and group guard it.
 *
 * Lost bells cost latency, never data: a loop rescans every ring it
 * watches at least every 50 ms, and the byte carries no meaning.
 */
#ifndef PP_BELL_H
#define PP_BELL_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/* head_waiter values >= PP_BELL_WAITER mean "ring bell (value - 8)". */
#define PP_BELL_WAITER 8u
#define PP_BELL_MAX 64u /* loops per daemon */

/* Where a segment's bells live: the path prefix, bell k being
 * "<prefix><k>".  Filled by pp_bell_init from the segment's shm name. */
struct pp_bell {
	char prefix[96];
	/* Sockets connected to each bell, opened on first ring (-1: not yet);
	 * connected, so a ring skips the path lookup.  Shared by the threads
	 * of a process and inherited by forked children. */
	_Atomic int fd[PP_BELL_MAX];
};

/* Set b up for the segment named shm_name ("/phantompool-<pool>").
 * Returns 0, or PP_ENAME when the path would not fit a socket address. */
int pp_bell_init(struct pp_bell *b, const char *shm_name);

/* Worker: send one byte to bell k.  Never blocks, never raises SIGPIPE;
 * failures (no daemon, queue full: a wake is pending anyway) are ignored.
 * Connects a socket to bell k on first use (close-on-exec), and again
 * once if the daemon's socket was replaced. */
void pp_bell_ring(struct pp_bell *b, uint32_t k);

/* Close the sockets pp_bell_ring opened. */
void pp_bell_close(struct pp_bell *b);

/* Daemon: bind bell k (replacing a stale socket file), with the segment's
 * mode and group ((gid_t)-1: keep).  Returns the non-blocking socket, or
 * -errno. */
int pp_bell_bind(const struct pp_bell *b, uint32_t k, unsigned mode, gid_t gid);

/* Daemon: read and discard every byte queued on a bound bell. */
void pp_bell_drain(int fd);

/* Daemon: remove bell k's socket file. */
void pp_bell_unlink(const struct pp_bell *b, uint32_t k);

#endif
