/* slot_worker.h - one thread and one libcurl handle per slot.
 *
 * Each slot has its own easy + multi handle, so the TCP connection and its
 * TLS session stay with the slot.  A serving loop (loop.h) runs the slot's
 * exchanges; the slot's thread finishes the ones a loop hands over (those
 * that would have to wait), resets the slot when the reaper hands it over,
 * and does its upkeep (health checks, idle close, min connections, new
 * settings).  It sleeps on its kick word between steps (see wake_at in
 * slot_worker.c). */
#ifndef PD_SLOT_WORKER_H
#define PD_SLOT_WORKER_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "daemon.h"
#include "frame.h"
#include "xfer.h"

#define PD_SLICE_MS 50   /* a slot thread's sleep while something is pending */
#define PD_QUIET_MS 1000 /* its longest sleep when nothing is (and nobody kicks) */

struct pd_slot_worker;

/* One request/response exchange on a slot (exchange.c drives it). */
struct pd_exchange {
	struct pd_slot_worker *w;
	bool internal;         /* a health check: no rings involved */
	/* Run by a serving loop (loop.h): the callbacks never wait.  Where
	 * they would (request body not there yet, response ring full) they
	 * set escalate and pause the transfer; the slot thread resumes it. */
	bool nonblock;
	bool escalate;
	int64_t declared;      /* request body length, -1 unknown */
	uint64_t body_seen;
	uint64_t resp_bytes;   /* response body bytes received */
	bool req_end;          /* END taken from the request ring */
	const uint8_t *pend;   /* unread part of the last BODY frame (in scratch) */
	uint32_t pend_len;
	bool head_sent;
	bool end_added;        /* END is in the batch (a loop left the flush) */
	int err;               /* PP_E* code that made a callback stop the transfer */
	CURLcode res;          /* the transfer's result, once done */
	int code;              /* the PP_E* code it counts as (a refused head: why) */
	uint64_t t0;           /* when the exchange began (latency figures) */
	uint64_t deadline_ns;
	char errbuf[CURL_ERROR_SIZE];
};

/* What a serving loop leaves for the slot thread (pd_slot_worker.esc). */
enum pd_esc {
	PD_ESC_NONE,
	PD_ESC_REJECT,   /* the head was refused: drain the request, answer ERROR */
	PD_ESC_TRANSFER, /* a callback had to wait: flush, resume, finish */
	PD_ESC_FINISH,   /* the transfer is done; finishing it has to wait */
	PD_ESC_GARBAGE,  /* the request ring held no valid head: answer, reset */
};

/* Who drives a slot's libcurl handles (pd_slot_worker.owner). */
enum pd_owner {
	PD_OWN_NONE,   /* nobody: either may take them (compare-and-swap) */
	PD_OWN_LOOP,   /* its serving loop, for an exchange (loop.h) */
	PD_OWN_THREAD, /* its slot thread: a reset, a health check, or an
			* exchange the loop escalated */
};

/* The last request's URL and header list, reused when they repeat. */
struct pd_req_cache {
	CURLU *url;
	uint32_t gen, backend;        /* backend list generation and node of url */
	uint32_t path_len;
	char path[PP_FRAME_PATH_MAX];
	struct curl_slist *hdrs;
	uint64_t hdr_live_gen;        /* settings generation hdrs were built with (token) */
	size_t hdr_key_len;           /* SIZE_MAX: nothing cached */
	char hdr_key[2048];
};

struct pd_slot_worker {
	struct pd_daemon *d;
	uint32_t idx;
	pthread_t thread;
	bool started;
	pthread_mutex_t multi_lock;    /* guards multi against wakeup during replacement */
	CURLM *multi;                  /* holds this slot's one connection */
	CURL *easy;
	struct pp_ring req, resp;      /* daemon side: consumer of req, producer of resp */
	uint8_t *scratch;              /* pp_frame_max(ring_size) bytes */
	struct pp_batch out;           /* response frames not yet published */
	struct pd_req_cache cache;
	bool conn_dirty;               /* the next reset must drop the connection */
	_Atomic bool broken;           /* request ring unusable until a reset */
	_Atomic uint32_t reset_lock_word; /* dead lock word to clear after a reset */
	_Atomic bool warm_done;
	_Atomic uint64_t last_used_ns; /* end of the last exchange or health check (relaxed:
					  read by the thread while the loop serves) */
	/* pd_live generation of the handle's options.  Written by the owner;
	 * the slot thread also reads it unowned, as a hint (relaxed). */
	_Atomic uint64_t applied_gen;
	/* Sharing the handles with the serving loop.  Everything above and
	 * x, esc, sock* and timer_ns belong to whoever holds owner: a CAS
	 * from PD_OWN_NONE (acquire) takes them, a store of PD_OWN_NONE
	 * (release) gives them back. */
	_Atomic uint32_t owner;        /* enum pd_owner */
	_Atomic uint32_t kick;         /* the slot thread sleeps on it; bumped to wake it */
	uint32_t loop;                 /* which serving loop watches the slot */
	struct pd_exchange x;          /* the exchange in progress */
	bool active;                   /* x runs on the loop */
	enum pd_esc esc;               /* what the loop left for the thread */
	curl_socket_t sock;            /* libcurl's socket for x (loop), or CURL_SOCKET_BAD */
	int sock_what;                 /* CURL_POLL_* libcurl wants on it */
	uint64_t timer_ns;             /* libcurl's next timeout for x, 0: none */
	_Atomic uint64_t epoch;        /* bumped every step (reload.c frees old settings) */
	/* Corruption handling (reaper, main thread; reinit_lock read by the
	 * slot thread after the RESETTING handover). */
	_Atomic bool reinit_lock;      /* re-initialise owner_lock in the reset */
	bool anomaly_logged;
	bool suspect_seen;
	uint64_t suspect_key;
	uint64_t next_tid_check_ns;
	pid_t gone_tid;                /* lock-word owner found not to exist */
	/* Leak detection (reaper, main thread only). */
	uint64_t leak_token;           /* token of the lease flagged as leaked, 0 if none */
	int32_t leak_pid;
	uint64_t leak_since_ns;
};

/* The slot record of worker w. */
static inline struct pp_slot *pd_wslot(struct pd_slot_worker *w)
{
	return pp_seg_slot(&w->d->seg, w->idx);
}

/* Publish the state of w's backend connection (for shmdump). */
static inline void pd_set_conn_state(struct pd_slot_worker *w, uint32_t st)
{
	atomic_store_explicit(&pd_wslot(w)->conn_state, st, memory_order_relaxed);
}

/* Drop w's connection: fresh libcurl handles (called by its own thread). */
void pd_slot_drop_connection(struct pd_slot_worker *w);

/* Start every slot's thread; slots below min open their connection (a
 * GET /health) first.  Waits until those are warm or the connect timeout
 * has passed.  Returns 0, or -1 after logging. */
int pd_slots_start(struct pd_daemon *d);

/* Stop and join every thread, free the handles.  Safe on a partly
 * started set. */
void pd_slots_stop(struct pd_daemon *d);

/* Whether a whole frame waits in w's request ring, judged from the
 * segment alone.  For callers that do not hold w's handles: the ring view
 * w->req belongs to the holder (reading through it updates its cached
 * indices).  A hint: the holder may be taking the frame meanwhile. */
bool pd_request_waiting(struct pd_slot_worker *w);

/* Wake w's slot thread (it sleeps on w->kick between steps). */
void pd_slot_kick(struct pd_slot_worker *w);

/* Re-apply the connection options if a reload changed them (the caller
 * owns the handles). */
void pd_slot_apply_options(struct pd_slot_worker *w);

/* Kick every slot thread (a reload: apply the new settings, step past
 * the old ones). */
void pd_slots_kick_all(struct pd_daemon *d);

/* Reaper: the slot was moved to RESETTING; its thread resets it and
 * returns it to FREE, then clears lock_word if it still shows the dead
 * owner.  Wakes the thread wherever it waits. */
void pd_slot_request_reset(struct pd_slot_worker *w, uint32_t lock_word);

#endif
