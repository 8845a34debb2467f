/* bell.h - the doorbell a worker rings to wake a daemon serving loop.
 *
 * A serving loop (daemon/loop.h) that has exchanges in flight waits for
 * their backend sockets and for new requests at once, so it cannot sleep
 * on a futex.  It sleeps in poll(2) instead, on a unix datagram socket
 * bound next to the segment:
 *
 *     /dev/shm/phantompool-<pool>.bell<k>     (k: the loop's number)
 *
 * A loop with nothing in flight sleeps on its wake word in the segment
 * header (loop_wake[k]) instead: a futex wake is cheaper than a datagram,
 * above all for a fresh process (a CGI program), where creating and
 * connecting the socket costs some 40 µs.
 *
 * Before it sleeps, a loop writes into the head_waiter word of each
 * request ring it watches PP_BELL_WAITER + k (socket) or
 * PP_BELL_WAITER + PP_LOOPS_MAX + k (wake word); a worker that publishes a
 * request and finds such a value clears it and rings, instead of a plain
 * futex wake.  The socket lives on the filesystem (not the abstract
 * namespace) so that workers in another network namespace reach it and so
 * that the segment's mode and group guard it.
 *
 * Lost rings cost latency, never data: a loop rescans every ring it
 * watches at least every 250 ms (50 ms with exchanges in flight), and a
 * ring carries no meaning.
 */
#ifndef PP_BELL_H
#define PP_BELL_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"

/* head_waiter values: PP_BELL_WAITER + k: send to bell socket k;
 * PP_BELL_WAITER + PP_LOOPS_MAX + k: bump and wake loop_wake[k]. */
#define PP_BELL_WAITER 8u
#define PP_BELL_MAX PP_LOOPS_MAX
#define PP_BELL_WORD (PP_BELL_WAITER + PP_LOOPS_MAX)

/* Where a segment's bells live: the path prefix, bell k being
 * "<prefix><k>".  Filled by pp_bell_init from the segment's shm name. */
struct pp_bell {
	char prefix[96];
	/* Sockets connected to each bell, opened on first ring (-1: not yet);
	 * connected, so a ring skips the path lookup.  Shared by the threads
	 * of a process and inherited by forked children. */
	_Atomic int fd[PP_BELL_MAX];
	/* The segment header's loop wake words ([PP_LOOPS_MAX]); NULL: use
	 * the sockets only. */
	struct pp_shm_header *hdr;
};

/* Set b up for the segment named shm_name ("/phantompool-<pool>").
 * Returns 0, or PP_ENAME when the path would not fit a socket address. */
int pp_bell_init(struct pp_bell *b, const char *shm_name);

/* Worker: send one byte to bell k.  Never blocks, never raises SIGPIPE;
 * failures (no daemon, queue full: a wake is pending anyway) are ignored.
 * Connects a socket to bell k on first use (close-on-exec), and again
 * once if the daemon's socket was replaced. */
void pp_bell_ring(struct pp_bell *b, uint32_t k);

/* Worker: bump loop k's wake word and futex-wake it (no-op without
 * b->hdr). */
void pp_bell_wake_word(struct pp_bell *b, uint32_t k);

/* Ring as a head_waiter value >= PP_BELL_WAITER asks: the wake word or
 * the socket. */
void pp_bell_answer(struct pp_bell *b, uint32_t waiter);

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
