/* exchange.h - serving one request/response exchange on a slot (the
 * slot thread's main job), and the transfer machinery health checks share. */
#ifndef PD_EXCHANGE_H
#define PD_EXCHANGE_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "slot_worker.h"

/* struct pd_exchange and enum pd_esc: slot_worker.h. */

/* Begin the exchange whose head is *h (pointing into the slot's scratch)
 * in w->x: check the head and point the easy handle at the request.
 * nonblock: a serving loop runs it.  Returns 0 (ready to run: add the
 * easy handle to the slot's multi), or the PP_E* code it must be refused
 * with (see pd_exchange_resume(PD_ESC_REJECT)). */
int pd_exchange_open(struct pd_slot_worker *w, const struct pp_frame_req_head *h, bool nonblock);

/* A serving loop's transfer is done (res): record its outcome and finish
 * the exchange if that needs no wait.  Returns PD_ESC_NONE when the
 * exchange is closed, else what the slot thread must still do. */
enum pd_esc pd_exchange_done(struct pd_slot_worker *w, CURLcode res);

/* The slot thread carries on what a loop left (esc).  Returns false when
 * the slot must wait for a reset before serving again. */
bool pd_exchange_resume(struct pd_slot_worker *w, enum pd_esc esc);

/* A serving loop stops its transfer (code: PP_ELOST for a reset,
 * PP_ESHUTDOWN): the connection is dropped at the reset that follows. */
void pd_exchange_abort(struct pd_slot_worker *w, int code);

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
