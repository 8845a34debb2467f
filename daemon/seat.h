/* seat.h - the daemon's side of one seat (a slot record and its two
 * rings): take request frames, publish response frames, never wait.
 * Knows nothing of connections or HTTP.
 *
 * A seat belongs to one serving loop (seat i to loop i % nloops), which
 * alone touches its ring views.  The main thread's reaper reads the slot
 * record and asks for resets (pd_seat_request_reset); the reaper's own
 * bookkeeping lives here too, touched by the main thread only. */
#ifndef PD_SEAT_H
#define PD_SEAT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "layout.h"
#include "ring.h"
#include "segment.h"
#include "slot.h"

struct pd_daemon;
struct pd_exchange;

struct pd_seat {
	struct pd_daemon *d;
	uint32_t idx;
	uint32_t loop;                 /* the serving loop that owns it */
	struct pp_ring req, resp;      /* daemon side: consumer of req, producer of resp */
	struct pd_exchange *x;         /* the exchange in progress, or NULL (loop only) */
	bool queued;                   /* waiting for a connection (loop only) */
	uint64_t queued_ns;            /* since when */
	bool broken;                   /* rings unusable until a reset (loop only) */
	/* Set by the reaper before it wakes the loop for a reset. */
	_Atomic uint32_t reset_lock_word; /* dead lock word to clear after the reset */
	_Atomic bool reinit_lock;      /* re-initialise owner_lock in the reset */
	/* The reaper's bookkeeping (main thread only). */
	bool anomaly_logged;
	bool suspect_seen;
	uint64_t suspect_key;
	uint64_t next_tid_check_ns;
	pid_t gone_tid;
	struct pp_queue_watch handoff_watch; /* the hand-over entry watched (reaper.c, handoff_unclaimed) */
	uint64_t leak_token;
	int32_t leak_pid;
	uint64_t leak_since_ns;
	/* The last request target built for this seat (a worker polling one
	 * route is the common case). */
	uint32_t target_gen, target_backend, path_len;
	char path[PP_FRAME_PATH_MAX];
	char *target;                  /* malloc'd "prefix/path?query", or NULL */
};

/* The seat's slot record. */
struct pp_slot *pd_seat_slot(const struct pd_seat *s);

/* Set up seat i's views (at start, and after a reset). */
void pd_seat_init_views(struct pd_seat *s);

/* Whether a whole frame waits in the request ring (or garbage the next
 * take reports). */
bool pd_seat_request_waiting(struct pd_seat *s);

/* Whether the request ring held any byte when pd_seat_request_waiting
 * last looked (part of a frame too).  No load of the segment: the view's
 * indices that call left. */
bool pd_seat_request_bytes(const struct pd_seat *s);

/* Take the next request frame into scratch (pp_frame_max(ring) bytes)
 * without waiting.  Returns 1 (a frame), 0 (none yet), or PP_EPROTO
 * (garbage, or a frame type we do not know). */
int pd_seat_take(struct pd_seat *s, uint8_t *scratch, struct pp_frame *f);

/* Free bytes in the response ring now, or PP_EPROTO. */
ssize_t pd_seat_room(struct pd_seat *s);

/* Publish len encoded bytes (they fit: the caller checked pd_seat_room)
 * in one step.  Returns 0 or PP_EPROTO. */
int pd_seat_publish(struct pd_seat *s, const uint8_t *buf, uint32_t len);

/* Ask to be rung when the worker publishes a request frame (req) or
 * frees response space (resp): write `mine` (a bell value, bell.h) into
 * the ring's waiter word; off clears it where it still holds mine. */
void pd_seat_want_bell(struct pd_seat *s, bool resp, bool on, uint32_t mine);

/* Empty the rings, clear the stamp, re-initialise a scribbled lock,
 * return the seat to the pool (FREE or the oldest sleeper) and clear a
 * dead owner's lock word.  The seat must be RESETTING (or held by the
 * daemon otherwise) and have no exchange. */
void pd_seat_reset(struct pd_seat *s);

/* The reaper moved the seat to RESETTING: note the dead owner's lock word
 * and wake its loop. */
void pd_seat_request_reset(struct pd_seat *s, uint32_t lock_word);

#endif
