/* exchange.h - serving one request/response exchange on a slot (the
 * slot thread's main job), and the transfer machinery health checks share. */
#ifndef PD_EXCHANGE_H
#define PD_EXCHANGE_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "slot_worker.h"

struct pd_exchange {
	struct pd_slot_worker *w;
	bool internal;         /* a health check: no rings involved */
	int64_t declared;      /* request body length, -1 unknown */
	uint64_t body_seen;
	uint64_t resp_bytes;   /* response body bytes received */
	bool req_end;          /* END taken from the request ring */
	const uint8_t *pend;   /* unread part of the last BODY frame (in scratch) */
	uint32_t pend_len;
	bool head_sent;
	int err;               /* PP_E* code that made a callback stop the transfer */
	uint64_t deadline_ns;
	char errbuf[CURL_ERROR_SIZE];
};

/* Serve the request whose head is *h (pointing into the slot's scratch):
 * run it on the slot's connection and answer in the response ring.
 * Returns false when the slot must wait for a reset before serving again
 * (its request ring is unusable, or a reset or shutdown cut it short). */
bool pd_exchange_serve(struct pd_slot_worker *w, const struct pp_frame_req_head *h);

/* Answer the exchange with an ERROR frame (after anything batched). */
void pd_exchange_put_error(struct pd_exchange *x, int code, const char *msg);

/* Run the transfer the easy handle is set up for on the slot's multi
 * handle, checking every PD_SLICE_MS for a reset or shutdown (not for
 * internal exchanges).  *interrupted says whether we stopped it. */
CURLcode pd_run_transfer(struct pd_slot_worker *w, struct pd_exchange *x, bool *interrupted);

/* Install the exchange's read and write callbacks on a new easy handle. */
void pd_exchange_setup_handle(CURL *e);

/* Set the method and body options on a reused easy handle. */
void pd_set_method(CURL *e, const char *method, int64_t body_len);

/* Forget the cached URL and header list (the handle is going away, or
 * points elsewhere now). */
void pd_req_cache_clear(struct pd_req_cache *c);

/* The slot thread's abort check (ctx: the worker): PP_ESHUTDOWN when the
 * daemon stops, PP_ELOST when the reaper wants the slot reset, else 0. */
int pd_worker_abort_reason(void *ctx);

/* Whether a failed transfer means the backend was not reached at all
 * (connect, resolve or TLS handshake failure) as opposed to a failure of
 * this one request. */
bool pd_curl_unreachable(CURL *e, CURLcode res);

/* After a transfer on node `backend`: count (and log) a new connection
 * if libcurl opened one. */
void pd_note_connection(struct pd_slot_worker *w, uint32_t backend);

#endif
