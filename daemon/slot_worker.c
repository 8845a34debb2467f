/* slot_worker.c - see slot_worker.h.
 *
 * One exchange, as the slot's thread sees it:
 *   take REQ_HEAD -> check it -> set up the easy handle -> run the transfer
 *   (read callback: BODY..END frames out of the request ring; write
 *   callback: RESP_HEAD then BODY frames into the response ring) -> END,
 *   or ERROR after draining what is left of the request.
 * The transfer runs on the slot's own multi handle, polled in slices of
 * SLICE_MS, so a reset or shutdown interrupts it even while the backend
 * stalls.  Every byte taken from the segment is untrusted.
 */
#include "slot_worker.h"

#include <errno.h>
#include <stdint.h>
#include <strings.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "futex.h"
#include "log.h"
#include "phantompool.h"
#include "policy.h"
#include "slot.h"
#include "url.h"
#include "xfer.h"

#define SLICE_MS 50
#define SPIN 0

struct pd_exchange {
	struct pd_slot_worker *w;
	bool internal;         /* a health check: no rings involved */
	int64_t declared;      /* request body length, -1 unknown */
	uint64_t body_seen;
	bool req_end;          /* END taken from the request ring */
	const uint8_t *pend;   /* unread part of the last BODY frame (in scratch) */
	uint32_t pend_len;
	bool head_sent;
	int err;               /* PP_E* code that made a callback stop the transfer */
	uint64_t deadline_ns;
	char errbuf[CURL_ERROR_SIZE];
};

static struct pp_slot *wslot(struct pd_slot_worker *w)
{
	return pp_seg_slot(&w->d->seg, w->idx);
}

/* The check run between waits: stop on shutdown or when the reaper has
 * asked for a reset. */
static int worker_abort_reason(void *ctx)
{
	struct pd_slot_worker *w = ctx;
	if (atomic_load_explicit(&w->d->stopping, memory_order_relaxed))
		return PP_ESHUTDOWN;
	if (atomic_load_explicit(&wslot(w)->state, memory_order_acquire) == PP_SLOT_RESETTING)
		return PP_ELOST;
	return 0;
}

static struct pp_xfer worker_xfer(struct pd_exchange *x, struct pp_ring *ring)
{
	return (struct pp_xfer){ .ring = ring, .deadline_ns = x->deadline_ns,
				 .slice_ns = SLICE_MS * PP_NS_PER_MS, .spin = SPIN,
				 .check = worker_abort_reason, .ctx = x->w };
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
	int r = pp_xfer_add(&xf, &x->w->out, &f);
	x->head_sent = r == 0;
	return r;
}

/* libcurl write callback: the response body, chunked into BODY frames;
 * waits (sliced) while the worker has not read enough. */
static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct pd_exchange *x = ud;
	size_t total = size * nmemb;
	if (x->internal)
		return total;
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
	curl_off_t clen = -1, got = 0;
	curl_easy_getinfo(x->w->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	curl_easy_getinfo(x->w->easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
	if ((clen < 0 || got < clen) && (x->err = pp_xfer_flush(&xf, &x->w->out)) != 0)
		return 0;
	return total;
}

/* ---- request side ------------------------------------------------- */

/* Take the next request frame for the body: BODY sets pend, END sets
 * req_end.  Returns 0 or a PP_E* code. */
static int take_body_frame(struct pd_exchange *x)
{
	struct pd_slot_worker *w = x->w;
	struct pp_frame f;
	struct pp_xfer xf = worker_xfer(x, &w->req);
	int r = pp_xfer_take(&xf, w->scratch, pp_frame_max(w->d->seg.ring_size), &f);
	if (r)
		return r;
	if (f.type == PP_FRAME_END) {
		x->req_end = true;
		return x->declared >= 0 && x->body_seen != (uint64_t)x->declared ? PP_EPROTO : 0;
	}
	if (f.type != PP_FRAME_BODY)
		return PP_EPROTO;
	x->body_seen += f.body.len;
	uint64_t max = w->d->opt.max_body;
	if ((x->declared >= 0 && x->body_seen > (uint64_t)x->declared) || (max && x->body_seen > max))
		return PP_ETOOBIG;
	x->pend = f.body.data;
	x->pend_len = f.body.len;
	return 0;
}

/* libcurl read callback: the request body, out of the request ring. */
static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct pd_exchange *x = ud;
	size_t cap = size * nmemb;
	while (!x->pend_len) {
		if (x->req_end || x->internal)
			return 0;
		if ((x->err = take_body_frame(x)) != 0)
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
			return r;
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

/* Run the configured transfer on the slot's multi handle, checking for a
 * reset or shutdown every slice.  Returns the transfer's result;
 * *interrupted says whether we stopped it ourselves. */
static CURLcode run_transfer(struct pd_slot_worker *w, struct pd_exchange *x, bool *interrupted)
{
	CURLcode res = CURLE_OK;
	int running = 1;
	*interrupted = false;
	curl_multi_add_handle(w->multi, w->easy);
	while (running) {
		if (curl_multi_perform(w->multi, &running) != CURLM_OK) {
			res = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		if (!x->internal && (x->err = worker_abort_reason(w)) != 0) {
			*interrupted = true;
			res = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		curl_multi_poll(w->multi, NULL, 0, SLICE_MS, NULL);
	}
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(w->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			res = m->data.result;
	curl_multi_remove_handle(w->multi, w->easy);
	return res;
}

/* Method and body options for this request (the handle is reused, so
 * every request sets all of them). */
static void set_method(CURL *e, const char *method, int64_t body_len)
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
	const char *ours[] = { "Expect:", has_ctype ? NULL : "Content-Type:", d->auth_header };
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

/* Check a request head from the ring.  Returns 0 or the PP_E* code to
 * answer with. */
static int check_head(const struct pp_frame_req_head *h, uint64_t max_body)
{
	if (!pp_frame_method_ok(h->method.ptr, h->method.len))
		return PP_EBADMETHOD;
	if (!pp_frame_path_ok(h->path.ptr, h->path.len) || !pp_path_segments_safe(h->path.ptr, h->path.len))
		return PP_EBADPATH;
	for (uint32_t i = 0; i < h->nheaders; i++)
		if (!pp_header_allowed(h->headers[i].name.ptr, h->headers[i].name.len) ||
		    !pp_frame_header_ok(h->headers[i].name.ptr, h->headers[i].name.len,
					h->headers[i].value.ptr, h->headers[i].value.len))
			return PP_EBADHEADER;
	if (h->body_len < -1 || (max_body && h->body_len > (int64_t)max_body))
		return PP_ETOOBIG;
	return 0;
}

/* The request's URL: the last one again when the path repeats (a worker
 * polling one route is the common case), else built anew.  NULL on error. */
static CURLU *cached_url(struct pd_slot_worker *w, const struct pp_str *path)
{
	struct pd_req_cache *c = &w->cache;
	if (c->url && c->path_len == path->len && !memcmp(c->path, path->ptr, path->len))
		return c->url;
	curl_url_cleanup(c->url);
	c->url = pd_url_join(w->d->base_url, path->ptr, path->len);
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
	if (c->hdrs && k == c->hdr_key_len && !memcmp(key, c->hdr_key, k))
		return c->hdrs;
	curl_slist_free_all(c->hdrs);
	c->hdrs = build_headers(w->d, h);
	c->hdr_key_len = c->hdrs && k != SIZE_MAX ? k : SIZE_MAX;
	if (c->hdr_key_len != SIZE_MAX)
		memcpy(c->hdr_key, key, k);
	return c->hdrs;
}

static void cache_clear(struct pd_req_cache *c)
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
	uint32_t tmo = h->timeout_ms ? h->timeout_ms : w->d->opt.request_timeout_ms;
	x->deadline_ns = pp_now_ns() + (uint64_t)tmo * PP_NS_PER_MS;
	CURL *e = w->easy;
	set_method(e, method, h->body_len);
	curl_easy_setopt(e, CURLOPT_CURLU, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)tmo);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_READDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	return 0;
}

static void put_error(struct pd_exchange *x, int code, const char *msg)
{
	size_t n = strlen(msg);
	struct pp_frame f = { .type = PP_FRAME_ERROR,
			      .error = { code, { msg, (uint32_t)(n < PP_FRAME_MESSAGE_MAX ? n : PP_FRAME_MESSAGE_MAX) } } };
	struct pp_xfer xf = worker_xfer(x, &x->w->resp);
	/* After whatever part of the response is already batched. */
	if (pp_xfer_add(&xf, &x->w->out, &f) == 0)
		pp_xfer_flush(&xf, &x->w->out);
	x->w->out.len = 0;
}

static void set_conn_state(struct pd_slot_worker *w, uint32_t st)
{
	atomic_store_explicit(&wslot(w)->conn_state, st, memory_order_relaxed);
}

/* Finish an exchange: END after success; after a failure, drain the
 * request and send ERROR.  Returns false when the slot must wait for a
 * reset (the ring is unusable or a reset is due). */
static bool finish_exchange(struct pd_slot_worker *w, struct pd_exchange *x, CURLcode res, bool interrupted)
{
	struct pp_slot *s = wslot(w);
	if (res == CURLE_OK) {
		set_conn_state(w, PP_CONN_UP);
		struct pp_frame end = { .type = PP_FRAME_END };
		struct pp_xfer xf = worker_xfer(x, &w->resp);
		/* A bodiless request never ran the read callback: take its END. */
		int r = drain_request(x);
		if (!r && !x->head_sent)
			r = send_resp_head(x);
		if (!r)
			r = pp_xfer_add(&xf, &w->out, &end);
		if (!r)
			r = pp_xfer_flush(&xf, &w->out);
		return r == 0;
	}
	if (interrupted || x->err == PP_ELOST || x->err == PP_ESHUTDOWN)
		return false;
	int code = x->err ? x->err : map_curl_error(res);
	if (!x->err && (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST))
		set_conn_state(w, PP_CONN_DOWN);
	atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
	pd_debug("slot %u: request failed: %s (%s)", w->idx, pp_strerror(code), x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
	if (code == PP_EPROTO || drain_request(x) != 0) {
		put_error(x, PP_EPROTO, "malformed request frames");
		return false;
	}
	put_error(x, code, x->errbuf[0] ? x->errbuf : pp_strerror(code));
	return true;
}

/* Serve one request whose head is in *h (pointing into scratch).
 * Returns false when the slot needs a reset before serving again. */
static bool serve_request(struct pd_slot_worker *w, const struct pp_frame_req_head *h)
{
	struct pd_exchange x = { .w = w, .declared = h->body_len };
	x.deadline_ns = pp_now_ns() + (uint64_t)w->d->opt.request_timeout_ms * PP_NS_PER_MS;
	atomic_fetch_add_explicit(&wslot(w)->requests, 1, memory_order_relaxed);
	int r = check_head(h, w->d->opt.max_body);
	if (!r)
		r = setup_request(w, &x, h);
	bool ok;
	if (r) {
		/* Rejected before sending: drain the body, answer with the reason. */
		atomic_fetch_add_explicit(&wslot(w)->errors, 1, memory_order_relaxed);
		ok = drain_request(&x) == 0;
		put_error(&x, ok ? r : PP_EPROTO, pp_strerror(ok ? r : PP_EPROTO));
	} else {
		bool interrupted;
		w->x = &x;
		CURLcode res = run_transfer(w, &x, &interrupted);
		w->x = NULL;
		ok = finish_exchange(w, &x, res, interrupted);
		/* A transfer we cut short may have left bytes on the wire: the
		 * reset that follows drops the connection. */
		w->conn_dirty |= interrupted || !ok;
	}
	return ok;
}

/* ---- handles, reset, thread ------------------------------------------ */

/* Fresh easy + multi handles with the options every request shares. */
static int open_handles(struct pd_slot_worker *w)
{
	CURLM *m = curl_multi_init();
	CURL *e = curl_easy_init();
	if (!m || !e) {
		curl_multi_cleanup(m);
		curl_easy_cleanup(e);
		return -1;
	}
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)w->d->opt.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	pthread_mutex_lock(&w->multi_lock);
	w->multi = m;
	w->easy = e;
	pthread_mutex_unlock(&w->multi_lock);
	return 0;
}

static void close_handles(struct pd_slot_worker *w)
{
	cache_clear(&w->cache);
	pthread_mutex_lock(&w->multi_lock);
	CURLM *m = w->multi;
	CURL *e = w->easy;
	w->multi = NULL;
	w->easy = NULL;
	pthread_mutex_unlock(&w->multi_lock);
	curl_easy_cleanup(e);
	curl_multi_cleanup(m);
}

static void init_views(struct pd_slot_worker *w)
{
	struct pp_seg *seg = &w->d->seg;
	struct pp_slot *s = wslot(w);
	pp_ring_init_view(&w->req, &s->req, pp_seg_req_data(seg, w->idx), seg->ring_size);
	pp_ring_init_view(&w->resp, &s->resp, pp_seg_resp_data(seg, w->idx), seg->ring_size);
}

/* The reaper moved the slot to RESETTING: empty the rings, drop the
 * connection if an exchange was cut short, clear the stamp, publish FREE,
 * then clear the dead owner's lock word. */
static void slot_reset(struct pd_slot_worker *w)
{
	struct pp_slot *s = wslot(w);
	int32_t pid = atomic_load_explicit(&s->owner_pid, memory_order_relaxed);
	pp_ring_reset(&s->req);
	pp_ring_reset(&s->resp);
	init_views(w);
	w->out.len = 0;
	if (w->conn_dirty) {
		close_handles(w);
		if (open_handles(w) < 0)
			pd_err("slot %u: cannot recreate its libcurl handles", w->idx);
		set_conn_state(w, PP_CONN_NONE);
	}
	bool dropped = w->conn_dirty;
	w->conn_dirty = false;
	w->broken = false;
	atomic_store_explicit(&s->owner_pid, 0, memory_order_relaxed);
	atomic_store_explicit(&s->token, 0, memory_order_relaxed);
	/* Pairs with the acquire re-check of state in claim_slot: empty rings
	 * and a cleared stamp are visible before FREE is. */
	atomic_store_explicit(&s->state, PP_SLOT_FREE, memory_order_release);
	uint32_t lw = atomic_exchange(&w->reset_lock_word, 0);
	if (pp_lock_word_owner_died(lw))
		atomic_compare_exchange_strong(pp_slot_lock_word(s), &lw, 0);
	atomic_fetch_add_explicit(&s->reclaims, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->d->seg.hdr->reclaims, 1, memory_order_relaxed);
	pd_info("slot %u reclaimed (holder pid %d)%s", w->idx, (int)pid, dropped ? ", connection reset" : "");
	pp_sem_post_wake(w->d->seg.hdr);
}

/* GET <base>/health on this slot's handle: opens its connection. */
static void warm_connection(struct pd_slot_worker *w)
{
	struct pd_exchange x = { .w = w, .internal = true };
	CURLU *url = pd_url_join(w->d->base_url, "/health", 7);
	if (!url)
		return;
	set_conn_state(w, PP_CONN_CONNECTING);
	set_method(w->easy, "GET", 0);
	curl_easy_setopt(w->easy, CURLOPT_CURLU, url);
	curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, (long)w->d->opt.connect_timeout_ms);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(w->easy, CURLOPT_ERRORBUFFER, x.errbuf);
	bool interrupted;
	CURLcode res = run_transfer(w, &x, &interrupted);
	long status = 0;
	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(w->easy, CURLOPT_CURLU, NULL);
	curl_url_cleanup(url);
	cache_clear(&w->cache); /* the handle no longer points at the cached URL */
	set_conn_state(w, res == CURLE_OK ? PP_CONN_UP : PP_CONN_DOWN);
	if (res != CURLE_OK)
		pd_warn("slot %u: backend not reachable: %s", w->idx, x.errbuf[0] ? x.errbuf : curl_easy_strerror(res));
	else if (status != 200)
		pd_warn("slot %u: GET /health answered %ld", w->idx, status);
}

/* Wait for the next request head and serve it, or reset the slot. */
static void worker_step(struct pd_slot_worker *w)
{
	struct pp_slot *s = wslot(w);
	if (atomic_load_explicit(&s->state, memory_order_acquire) == PP_SLOT_RESETTING) {
		slot_reset(w);
		return;
	}
	uint64_t slice = pp_now_ns() + SLICE_MS * PP_NS_PER_MS;
	if (w->broken) {
		/* Nothing to read until the reaper resets us (it wakes this word). */
		pp_futex_wait(&s->state, atomic_load(&s->state), slice);
		return;
	}
	struct pp_frame f;
	int r = pp_frame_take(&w->req, w->scratch, pp_frame_max(w->d->seg.ring_size), &f);
	if (r == 0) {
		pp_frame_wait(&w->req, slice, SPIN);
		return;
	}
	if (r < 0 || f.type != PP_FRAME_REQ_HEAD) {
		struct pd_exchange x = { .w = w, .deadline_ns = slice };
		pd_warn("slot %u: garbage in the request ring (%d, type %d); waiting for a reset", w->idx, r, r > 0 ? (int)f.type : 0);
		put_error(&x, PP_EPROTO, "malformed request frames");
		w->broken = true;
		return;
	}
	if (!serve_request(w, &f.req))
		w->broken = true;
}

static void *worker_main(void *arg)
{
	struct pd_slot_worker *w = arg;
	if (w->idx < w->d->opt.min_conns)
		warm_connection(w);
	atomic_store(&w->warm_done, true);
	while (!atomic_load_explicit(&w->d->stopping, memory_order_relaxed))
		worker_step(w);
	return NULL;
}

/* Wake the slot's thread wherever it waits. */
static void slot_wake(struct pd_slot_worker *w)
{
	struct pp_slot *s = wslot(w);
	pp_futex_wake(&s->state, INT32_MAX);
	/* The thread sleeps on one of these rings or in curl_multi_poll. */
	pp_ring_wake_all(&s->req);
	pp_ring_wake_all(&s->resp);
	pthread_mutex_lock(&w->multi_lock);
	if (w->multi)
		curl_multi_wakeup(w->multi);
	pthread_mutex_unlock(&w->multi_lock);
}

void pd_slot_request_reset(struct pd_slot_worker *w, uint32_t lock_word)
{
	atomic_store(&w->reset_lock_word, lock_word);
	slot_wake(w);
}

int pd_slots_start(struct pd_daemon *d)
{
	uint32_t n = d->seg.nslots;
	d->workers = calloc(n, sizeof *d->workers);
	if (!d->workers)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		struct pd_slot_worker *w = &d->workers[i];
		w->d = d;
		w->idx = i;
		pthread_mutex_init(&w->multi_lock, NULL);
		w->scratch = malloc(pp_frame_max(d->seg.ring_size));
		w->out.cap = pp_frame_max(d->seg.ring_size);
		w->out.buf = malloc(w->out.cap);
		init_views(w);
		if (!w->scratch || !w->out.buf || open_handles(w) < 0 || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			pd_err("slot %u: cannot start its thread", i);
			return -1;
		}
		w->started = true;
	}
	/* Ready only when the min connections are warm (or failed). */
	uint64_t until = pp_now_ns() + (d->opt.connect_timeout_ms + 1000ull) * PP_NS_PER_MS;
	for (uint32_t i = 0; i < n; i++)
		while (!atomic_load(&d->workers[i].warm_done) && pp_now_ns() < until) {
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
	return 0;
}

void pd_slots_stop(struct pd_daemon *d)
{
	if (!d->workers)
		return;
	atomic_store(&d->stopping, true);
	for (uint32_t i = 0; i < d->seg.nslots; i++)
		if (d->workers[i].started)
			slot_wake(&d->workers[i]);
	for (uint32_t i = 0; i < d->seg.nslots; i++) {
		struct pd_slot_worker *w = &d->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		close_handles(w);
		free(w->scratch);
		free(w->out.buf);
		pthread_mutex_destroy(&w->multi_lock);
	}
	free(d->workers);
	d->workers = NULL;
}
