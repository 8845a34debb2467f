/* exchange.c - one request/response exchange on a slot, as the slot's
 * thread sees it:
 *   take REQ_HEAD -> check it -> set up the easy handle -> run the transfer
 *   (read callback: BODY..END frames out of the request ring; write
 *   callback: RESP_HEAD then BODY frames into the response ring) -> END,
 *   or ERROR after draining what is left of the request.
 * The transfer runs on the slot's own multi handle, polled in slices of
 * PD_SLICE_MS, so a reset or shutdown interrupts it even while the backend
 * stalls.  Every byte taken from the segment is untrusted.
 */
#include "exchange.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "errors.h"
#include "log.h"
#include "phantompool.h"
#include "policy.h"
#include "slot.h"
#include "stats.h"
#include "backend.h"
#include "url.h"
#include "xfer.h"

/* The check run between waits: stop on shutdown or when the reaper has
 * asked for a reset. */
int pd_worker_abort_reason(void *ctx)
{
	struct pd_slot_worker *w = ctx;
	if (atomic_load_explicit(&w->d->stopping, memory_order_relaxed))
		return PP_ESHUTDOWN;
	if (atomic_load_explicit(&pd_wslot(w)->state, memory_order_acquire) == PP_SLOT_RESETTING)
		return PP_ELOST;
	return 0;
}

static struct pp_xfer worker_xfer(struct pd_exchange *x, struct pp_ring *ring)
{
	return (struct pp_xfer){ .ring = ring, .deadline_ns = x->deadline_ns,
				 .slice_ns = PD_SLICE_MS * PP_NS_PER_MS, .spin = NULL,
				 .check = pd_worker_abort_reason, .ctx = x->w };
}

/* Encode f into the batch without publishing (a serving loop never
 * waits for ring space).  Returns 0, PD_WOULD_WAIT when the batch is
 * full, or a PP_E* code. */
#define PD_WOULD_WAIT 1
static int batch_add_nb(struct pp_batch *b, const struct pp_frame *f)
{
	ssize_t n = pp_frame_encode(f, b->buf + b->len, b->cap - b->len);
	if (n == -EMSGSIZE && b->len)
		return PD_WOULD_WAIT;
	if (n < 0)
		return pp_error_from_errno((int)n);
	b->len += (uint32_t)n;
	return 0;
}

/* ---- response side ------------------------------------------------ */

static int send_resp_head(struct pd_exchange *x)
{
	CURL *e = x->w->easy;
	long status = 0;
	char *ctype = NULL;
	curl_off_t clen = -1;
	struct curl_header *rid = NULL;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ctype);
	curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	struct pp_frame f = { .type = PP_FRAME_RESP_HEAD };
	f.resp.status = (int32_t)status;
	f.resp.content_len = clen;
	if (ctype && pp_frame_header_ok("content-type", 12, ctype, strlen(ctype)))
		f.resp.headers[f.resp.nheaders++] = (struct pp_hdr){ PP_STR_LIT("content-type"), { ctype, (uint32_t)strlen(ctype) } };
	if (curl_easy_header(e, "X-Request-Id", 0, CURLH_HEADER, -1, &rid) == CURLHE_OK &&
	    pp_frame_header_ok("x-request-id", 12, rid->value, strlen(rid->value)))
		f.resp.headers[f.resp.nheaders++] = (struct pp_hdr){ PP_STR_LIT("x-request-id"), { rid->value, (uint32_t)strlen(rid->value) } };
	struct pp_xfer xf = worker_xfer(x, &x->w->resp);
	int r = x->nonblock ? batch_add_nb(&x->w->out, &f) : pp_xfer_add(&xf, &x->w->out, &f);
	x->head_sent = r == 0;
	return r;
}

/* Publish the batch if the ring has room for all of it now.  Returns 0
 * (published, or nothing to publish), PD_WOULD_WAIT, or PP_EPROTO. */
static int flush_nb(struct pd_exchange *x)
{
	struct pp_batch *b = &x->w->out;
	if (!b->len)
		return 0;
	ssize_t room = pp_ring_writable(&x->w->resp);
	if (room < 0)
		return PP_EPROTO;
	if ((size_t)room < b->len)
		return PD_WOULD_WAIT;
	struct pp_xfer xf = worker_xfer(x, &x->w->resp);
	return pp_xfer_flush(&xf, b); /* fits: does not wait */
}

/* Whether the response body is complete with what libcurl has passed us. */
static bool body_complete(CURL *e)
{
	curl_off_t clen = -1, got = 0;
	curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &got);
	return clen >= 0 && got >= clen;
}

/* The loop's write callback: take the data only if all of its frames fit
 * the batch now; else pause (libcurl keeps the data and hands it to the
 * slot thread's callback on resume). */
static size_t on_write_nb(struct pd_exchange *x, const char *data, size_t total)
{
	struct pp_batch *b = &x->w->out;
	if (x->escalate)
		return CURL_WRITEFUNC_PAUSE;
	uint32_t mark = b->len;
	bool head_was = x->head_sent;
	int r = 0;
	if (!x->head_sent)
		r = send_resp_head(x);
	uint32_t chunk = pp_frame_chunk(x->w->d->seg.ring_size);
	for (size_t off = 0; !r && off < total;) {
		uint32_t n = total - off < chunk ? (uint32_t)(total - off) : chunk;
		struct pp_frame f = { .type = PP_FRAME_BODY, .body = { (const uint8_t *)data + off, n } };
		r = batch_add_nb(b, &f);
		off += n;
	}
	if (r == PD_WOULD_WAIT) {
		b->len = mark;
		x->head_sent = head_was;
		x->escalate = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (r) {
		x->err = r;
		return 0;
	}
	x->resp_bytes += total;
	/* Hand the worker what we have unless END follows in this publish; a
	 * full ring leaves the batch for the slot thread to publish. */
	if (!body_complete(x->w->easy) && (r = flush_nb(x)) != 0) {
		if (r != PD_WOULD_WAIT) {
			x->err = r;
			return 0;
		}
		x->escalate = true;
	}
	return total;
}

/* libcurl write callback: the response body, chunked into BODY frames;
 * waits (sliced) while the worker has not read enough. */
static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct pd_exchange *x = ud;
	size_t total = size * nmemb;
	if (x->internal) {
		x->resp_bytes += total;
		return total;
	}
	if (x->nonblock)
		return on_write_nb(x, data, total);
	x->resp_bytes += total;
	if (!x->head_sent && (x->err = send_resp_head(x)) != 0)
		return 0;
	uint32_t chunk = pp_frame_chunk(x->w->d->seg.ring_size);
	struct pp_xfer xf = worker_xfer(x, &x->w->resp);
	for (size_t off = 0; off < total;) {
		uint32_t n = total - off < chunk ? (uint32_t)(total - off) : chunk;
		struct pp_frame f = { .type = PP_FRAME_BODY, .body = { (const uint8_t *)data + off, n } };
		if ((x->err = pp_xfer_add(&xf, &x->w->out, &f)) != 0)
			return 0;
		off += n;
	}
	/* Hand the worker what we have now, unless the body is complete (then
	 * END follows in the same publish: one wakeup for the whole answer). */
	if (!body_complete(x->w->easy) && (x->err = pp_xfer_flush(&xf, &x->w->out)) != 0)
		return 0;
	return total;
}

/* ---- request side ------------------------------------------------- */

/* A request frame after the head: BODY sets pend, END sets req_end.
 * Returns 0 or a PP_E* code. */
static int body_frame(struct pd_exchange *x, const struct pp_frame *f)
{
	if (f->type == PP_FRAME_END) {
		x->req_end = true;
		return x->declared >= 0 && x->body_seen != (uint64_t)x->declared ? PP_EPROTO : 0;
	}
	if (f->type != PP_FRAME_BODY)
		return PP_EPROTO;
	x->body_seen += f->body.len;
	uint64_t max = pd_live(x->w->d)->opt.max_body;
	if ((x->declared >= 0 && x->body_seen > (uint64_t)x->declared) || (max && x->body_seen > max))
		return PP_ETOOBIG;
	x->pend = f->body.data;
	x->pend_len = f->body.len;
	return 0;
}

/* Take the next request frame for the body, waiting for it unless the
 * exchange is non-blocking (then PD_WOULD_WAIT when none is there yet).
 * Returns 0 or a PP_E* code. */
static int take_body_frame(struct pd_exchange *x)
{
	struct pd_slot_worker *w = x->w;
	struct pp_frame f;
	uint32_t max = pp_frame_max(w->d->seg.ring_size);
	if (x->nonblock) {
		int r = pp_frame_take(&w->req, w->scratch, max, &f);
		if (r == 0)
			return PD_WOULD_WAIT;
		if (r < 0)
			return PP_EPROTO;
	} else {
		struct pp_xfer xf = worker_xfer(x, &w->req);
		int r = pp_xfer_take(&xf, w->scratch, max, &f);
		if (r)
			return r;
	}
	return body_frame(x, &f);
}

/* libcurl read callback: the request body, out of the request ring. */
static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct pd_exchange *x = ud;
	size_t cap = size * nmemb;
	while (!x->pend_len) {
		if (x->req_end || x->internal)
			return 0;
		int r = take_body_frame(x);
		if (r == PD_WOULD_WAIT) {
			x->escalate = true; /* the slot thread waits for the body */
			return CURL_READFUNC_PAUSE;
		}
		if ((x->err = r) != 0)
			return CURL_READFUNC_ABORT;
	}
	size_t n = cap < x->pend_len ? cap : x->pend_len;
	memcpy(buf, x->pend, n);
	x->pend += n;
	x->pend_len -= (uint32_t)n;
	return n;
}

/* After a failed transfer: consume the rest of the request (to its END) so
 * the next exchange starts clean.  Returns 0 or a PP_E* code. */
static int drain_request(struct pd_exchange *x)
{
	while (!x->req_end) {
		x->pend_len = 0;
		int r = take_body_frame(x);
		if (r && r != PP_ETOOBIG)
			return r; /* PD_WOULD_WAIT too */
	}
	return 0;
}

/* ---- the transfer -------------------------------------------------- */

static int map_curl_error(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT: return PP_ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY: return PP_ENOMEM;
	default: return PP_EBACKEND;
	}
}

/* Drive the transfer already on the slot's multi handle to its end,
 * checking for a reset or shutdown every slice.  Returns the transfer's
 * result; *interrupted says whether we stopped it ourselves. */
static CURLcode drive_transfer(struct pd_slot_worker *w, struct pd_exchange *x, bool *interrupted)
{
	CURLcode res = CURLE_OK;
	int running = 1;
	*interrupted = false;
	while (running) {
		if (curl_multi_perform(w->multi, &running) != CURLM_OK) {
			res = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		if (!x->internal && (x->err = pd_worker_abort_reason(w)) != 0) {
			*interrupted = true;
			res = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		curl_multi_poll(w->multi, NULL, 0, PD_SLICE_MS, NULL);
	}
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(w->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			res = m->data.result;
	curl_multi_remove_handle(w->multi, w->easy);
	return res;
}

CURLcode pd_run_transfer(struct pd_slot_worker *w, struct pd_exchange *x, bool *interrupted)
{
	curl_multi_add_handle(w->multi, w->easy);
	return drive_transfer(w, x, interrupted);
}

/* Method and body options for this request (the handle is reused, so
 * every request sets all of them). */
void pd_set_method(CURL *e, const char *method, int64_t body_len)
{
	curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
	bool has_body = body_len != 0 || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
}

/* Request headers: the worker's allowed ones plus ours.  NULL on ENOMEM. */
static struct curl_slist *build_headers(struct pd_daemon *d, const struct pp_frame_req_head *h)
{
	struct curl_slist *l = NULL, *t;
	char line[PP_FRAME_HNAME_MAX + PP_FRAME_HVALUE_MAX + 4];
	bool has_ctype = false;
	for (uint32_t i = 0; i < h->nheaders; i++) {
		const struct pp_hdr *hd = &h->headers[i];
		has_ctype |= hd->name.len == 12 && !strncasecmp(hd->name.ptr, "content-type", 12);
		snprintf(line, sizeof line, "%.*s: %.*s", (int)hd->name.len, hd->name.ptr, (int)hd->value.len, hd->value.ptr);
		if (!(t = curl_slist_append(l, line)))
			goto fail;
		l = t;
	}
	/* No "Expect: 100-continue" round trip; no default form content type. */
	const char *ours[] = { "Expect:", has_ctype ? NULL : "Content-Type:", pd_live(d)->auth_header };
	for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
		if (!ours[i] || !*ours[i])
			continue;
		if (!(t = curl_slist_append(l, ours[i])))
			goto fail;
		l = t;
	}
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/* The request's URL: the last one again when the path repeats (a worker
 * polling one route is the common case), else built anew.  NULL on error. */
static CURLU *cached_url(struct pd_slot_worker *w, const struct pp_str *path)
{
	struct pd_req_cache *c = &w->cache;
	uint32_t gen = pd_backend_gen(&w->d->backends);
	if (c->url && c->gen == gen && c->path_len == path->len && !memcmp(c->path, path->ptr, path->len))
		return c->url;
	curl_url_cleanup(c->url);
	c->url = pd_backend_join(&w->d->backends, path->ptr, path->len, UINT32_MAX, &c->backend, &c->gen);
	c->path_len = c->url ? path->len : 0;
	memcpy(c->path, path->ptr, c->path_len);
	return c->url;
}

/* The request's header list, reused while the worker's headers repeat.
 * The key is the headers' bytes, name and value each NUL-terminated. */
static struct curl_slist *cached_headers(struct pd_slot_worker *w, const struct pp_frame_req_head *h)
{
	struct pd_req_cache *c = &w->cache;
	char key[sizeof c->hdr_key];
	size_t k = 0;
	for (uint32_t i = 0; i < h->nheaders; i++) {
		const struct pp_hdr *hd = &h->headers[i];
		if (k + hd->name.len + hd->value.len + 2 > sizeof key) {
			k = SIZE_MAX; /* too long to cache: build every time */
			break;
		}
		memcpy(key + k, hd->name.ptr, hd->name.len);
		key[k + hd->name.len] = 0;
		k += hd->name.len + 1;
		memcpy(key + k, hd->value.ptr, hd->value.len);
		key[k + hd->value.len] = 0;
		k += hd->value.len + 1;
	}
	uint64_t live_gen = pd_live(w->d)->gen; /* the token may have changed */
	if (c->hdrs && c->hdr_live_gen == live_gen && k == c->hdr_key_len && !memcmp(key, c->hdr_key, k))
		return c->hdrs;
	curl_slist_free_all(c->hdrs);
	c->hdrs = build_headers(w->d, h);
	c->hdr_live_gen = live_gen;
	c->hdr_key_len = c->hdrs && k != SIZE_MAX ? k : SIZE_MAX;
	if (c->hdr_key_len != SIZE_MAX)
		memcpy(c->hdr_key, key, k);
	return c->hdrs;
}

void pd_req_cache_clear(struct pd_req_cache *c)
{
	curl_url_cleanup(c->url);
	curl_slist_free_all(c->hdrs);
	memset(c, 0, sizeof *c);
	c->hdr_key_len = SIZE_MAX;
}

/* Point the easy handle at this request.  Returns 0 or a PP_E* code. */
static int setup_request(struct pd_slot_worker *w, struct pd_exchange *x, const struct pp_frame_req_head *h)
{
	char method[PP_FRAME_METHOD_MAX + 1];
	snprintf(method, sizeof method, "%.*s", (int)h->method.len, h->method.ptr);
	CURLU *url = cached_url(w, &h->path);
	struct curl_slist *hdrs = cached_headers(w, h);
	if (!url || !hdrs)
		return url ? PP_ENOMEM : PP_EBADPATH;
	uint32_t tmo = h->timeout_ms ? h->timeout_ms : pd_live(w->d)->opt.request_timeout_ms;
	x->deadline_ns = pp_now_ns() + (uint64_t)tmo * PP_NS_PER_MS;
	CURL *e = w->easy;
	pd_set_method(e, method, h->body_len);
	curl_easy_setopt(e, CURLOPT_CURLU, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)tmo);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_READDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	return 0;
}

void pd_exchange_put_error(struct pd_exchange *x, int code, const char *msg)
{
	if (!pp_error_known(code))
		code = PP_ESYS; /* never happens; the frame would be refused */
	size_t n = strlen(msg);
	struct pp_frame f = { .type = PP_FRAME_ERROR,
			      .error = { code, { msg, (uint32_t)(n < PP_FRAME_MESSAGE_MAX ? n : PP_FRAME_MESSAGE_MAX) } } };
	struct pp_xfer xf = worker_xfer(x, &x->w->resp);
	/* After whatever part of the response is already batched. */
	if (pp_xfer_add(&xf, &x->w->out, &f) == 0)
		pp_xfer_flush(&xf, &x->w->out);
	x->w->out.len = 0;
}


/* Finish an exchange: END after success; after a failure, drain the
 * request and send ERROR.  Returns false when the slot must wait for a
 * reset (the ring is unusable or a reset is due). */
static bool finish_exchange(struct pd_slot_worker *w, struct pd_exchange *x, CURLcode res, bool interrupted)
{
	if (res == CURLE_OK) {
		pd_set_conn_state(w, PP_CONN_UP);
		struct pp_frame end = { .type = PP_FRAME_END };
		struct pp_xfer xf = worker_xfer(x, &w->resp);
		/* A bodiless request never ran the read callback: take its END. */
		int r = drain_request(x);
		if (!r && !x->head_sent)
			r = send_resp_head(x);
		if (!r && !x->end_added)
			r = pp_xfer_add(&xf, &w->out, &end);
		if (!r)
			r = pp_xfer_flush(&xf, &w->out);
		return r == 0;
	}
	if (interrupted || x->err == PP_ELOST || x->err == PP_ESHUTDOWN)
		return false;
	int code = x->err ? x->err : map_curl_error(res);
	if (!x->err && (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST))
		pd_set_conn_state(w, PP_CONN_DOWN);
	pd_debug("slot %u: request failed: %s (%s)", w->idx, pp_strerror(code), x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
	if (code == PP_EPROTO || drain_request(x) != 0) {
		pd_exchange_put_error(x, PP_EPROTO, "malformed request frames");
		return false;
	}
	pd_exchange_put_error(x, code, x->errbuf[0] ? x->errbuf : pp_strerror(code));
	return true;
}

void pd_exchange_setup_handle(CURL *e)
{
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
}

static int errkind_of(int code)
{
	switch (code) {
	case PP_EBACKEND: return PP_ERRKIND_BACKEND;
	case PP_ETIMEDOUT: return PP_ERRKIND_TIMEOUT;
	case PP_EBADMETHOD: case PP_EBADPATH: case PP_EBADHEADER: case PP_ETOOBIG: return PP_ERRKIND_REJECTED;
	case PP_EPROTO: return PP_ERRKIND_PROTOCOL;
	default: return PP_ERRKIND_OTHER;
	}
}

/* Count one finished exchange (one seqlocked update of the slot line). */
static void count_exchange(struct pd_slot_worker *w, const struct pd_exchange *x, int code, uint64_t t0)
{
	struct pp_slot *s = pd_wslot(w);
	uint64_t ns = pp_now_ns() - t0;
	pp_stats_begin(s);
	atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
	if (code) {
		atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->errors_by_kind[errkind_of(code)], 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&s->bytes_in, x->body_seen, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes_out, x->resp_bytes, memory_order_relaxed);
	atomic_store_explicit(&s->last_latency_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->latency_sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->latency_hist[pp_hist_bucket(ns)], 1, memory_order_relaxed);
	pp_stats_end(s);
}

bool pd_curl_unreachable(CURL *e, CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return true;
	case CURLE_OPERATION_TIMEDOUT: {
		/* Timed out before the request could be sent (still connecting)?
		 * A reused connection has no connect time, but has a pretransfer
		 * time once the request starts going out. */
		curl_off_t pre_us = 0;
		curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre_us);
		return pre_us == 0;
	}
	default:
		return false;
	}
}

void pd_note_connection(struct pd_slot_worker *w, uint32_t backend)
{
	long opened = 0;
	curl_easy_getinfo(w->easy, CURLINFO_NUM_CONNECTS, &opened);
	if (opened <= 0)
		return;
	struct pp_slot *s = pd_wslot(w);
	bool again = atomic_load_explicit(&s->connects, memory_order_relaxed) != 0;
	pd_info("slot %u: %s to backend %u", w->idx, again ? "reconnected" : "connected", backend);
	pp_stats_begin(s);
	if (again)
		atomic_fetch_add_explicit(&s->reconnects, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->connects, 1, memory_order_relaxed);
	atomic_store_explicit(&s->conn_since_ns, pp_now_ns(), memory_order_relaxed);
	pp_stats_end(s);
	pd_slot_kick(w); /* its thread schedules the new connection's upkeep */
}

/* After a transfer: count a new connection and tell the backend tracker
 * whether the node answered.  Returns the exchange's PP_E* code. */
static int note_outcome(struct pd_slot_worker *w, struct pd_exchange *x, CURLcode res, bool interrupted)
{
	pd_note_connection(w, w->cache.backend);
	if (!interrupted) {
		bool unreachable = pd_curl_unreachable(w->easy, res);
		pd_backend_report(&w->d->backends, w->cache.backend, !unreachable,
				  x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
		if (unreachable || res != CURLE_OK) {
			atomic_store_explicit(&pd_wslot(w)->conn_since_ns, 0, memory_order_relaxed);
			pd_slot_kick(w); /* probe the node, or reopen a min connection */
		}
	}
	return res == CURLE_OK ? 0 : x->err ? x->err : map_curl_error(res);
}

/* The exchange is over: count it and leave the in-flight count. */
static void close_exchange(struct pd_slot_worker *w, int code)
{
	atomic_store_explicit(&w->last_used_ns, pp_now_ns(), memory_order_relaxed);
	count_exchange(w, &w->x, code, w->x.t0);
	atomic_fetch_sub_explicit(&w->d->seg.hdr->inflight, 1, memory_order_relaxed);
}

/* Finish (waiting as needed) and close.  Returns false when the slot
 * must wait for a reset. */
static bool finish_and_close(struct pd_slot_worker *w, CURLcode res, bool interrupted, int code)
{
	bool ok = finish_exchange(w, &w->x, res, interrupted);
	/* A transfer we cut short may have left bytes on the wire: the reset
	 * that follows drops the connection. */
	w->conn_dirty |= interrupted || !ok;
	close_exchange(w, code);
	return ok;
}

int pd_exchange_open(struct pd_slot_worker *w, const struct pp_frame_req_head *h, bool nonblock)
{
	struct pd_exchange *x = &w->x;
	uint64_t t0 = pp_now_ns();
	*x = (struct pd_exchange){ .w = w, .declared = h->body_len, .t0 = t0, .nonblock = nonblock };
	x->deadline_ns = t0 + (uint64_t)pd_live(w->d)->opt.request_timeout_ms * PP_NS_PER_MS;
	/* In flight from now until close_exchange (spin.h reads it). */
	atomic_fetch_add_explicit(&w->d->seg.hdr->inflight, 1, memory_order_relaxed);
	int r = pp_req_head_check(h, pd_live(w->d)->opt.max_body);
	if (!r && pd_backend_fail_fast(&w->d->backends))
		r = PP_EBACKEND; /* down: answer now instead of after a connect timeout */
	if (!r)
		r = setup_request(w, x, h);
	x->code = r; /* what a refused head is answered and counted with */
	return r;
}

/* A refused head: drain the request, answer with the reason. */
static bool reject(struct pd_slot_worker *w)
{
	struct pd_exchange *x = &w->x;
	int r = x->code;
	bool ok = drain_request(x) == 0;
	int code = ok ? r : PP_EPROTO;
	pd_exchange_put_error(x, code, r == PP_EBACKEND ? "PhantomDB backend is down" : pp_strerror(code));
	close_exchange(w, code);
	return ok;
}

/* The request ring or the frames in it are unusable: no answer can be
 * trusted any more; the slot waits for a reset. */
static enum pd_esc done_broken(struct pd_slot_worker *w, int code)
{
	w->conn_dirty = true;
	atomic_store_explicit(&w->broken, true, memory_order_relaxed);
	pd_slot_kick(w); /* its thread resets the slot */
	w->out.len = 0;
	close_exchange(w, code);
	return PD_ESC_NONE;
}

enum pd_esc pd_exchange_done(struct pd_slot_worker *w, CURLcode res)
{
	struct pd_exchange *x = &w->x;
	curl_multi_remove_handle(w->multi, w->easy);
	x->res = res;
	x->code = note_outcome(w, x, res, false);
	if (res != CURLE_OK)
		return PD_ESC_FINISH; /* drain and answer the error: may wait */
	pd_set_conn_state(w, PP_CONN_UP);
	/* What finish_exchange does, without waiting: take the rest of the
	 * request (a bodiless one still has its END), then RESP_HEAD and END
	 * in one publish. */
	int r = drain_request(x);
	if (!r && !x->head_sent)
		r = send_resp_head(x);
	if (!r) {
		struct pp_frame end = { .type = PP_FRAME_END };
		if ((r = batch_add_nb(&w->out, &end)) == 0)
			x->end_added = true;
	}
	if (!r)
		r = flush_nb(x);
	if (r == PD_WOULD_WAIT)
		return PD_ESC_FINISH;
	if (r)
		return done_broken(w, x->code);
	close_exchange(w, x->code);
	return PD_ESC_NONE;
}

bool pd_exchange_resume(struct pd_slot_worker *w, enum pd_esc esc)
{
	struct pd_exchange *x = &w->x;
	x->nonblock = false;
	x->escalate = false;
	if (esc == PD_ESC_REJECT)
		return reject(w);
	if (esc == PD_ESC_FINISH)
		return finish_and_close(w, x->res, false, x->code);
	/* PD_ESC_TRANSFER: publish what the loop could not, then let libcurl
	 * go on (a paused write callback gets its data again, now allowed to
	 * wait). */
	CURLcode res;
	bool interrupted = false;
	struct pp_xfer xf = worker_xfer(x, &w->resp);
	if (w->out.len && (x->err = pp_xfer_flush(&xf, &w->out)) != 0) {
		curl_multi_remove_handle(w->multi, w->easy); /* libcurl closes the connection */
		res = CURLE_WRITE_ERROR;
		interrupted = x->err == PP_ELOST || x->err == PP_ESHUTDOWN;
	} else {
		curl_easy_pause(w->easy, CURLPAUSE_CONT);
		res = drive_transfer(w, x, &interrupted);
	}
	int code = note_outcome(w, x, res, interrupted);
	return finish_and_close(w, res, interrupted, code);
}

void pd_exchange_abort(struct pd_slot_worker *w, int code)
{
	w->x.err = code;
	curl_multi_remove_handle(w->multi, w->easy);
	done_broken(w, code);
}
