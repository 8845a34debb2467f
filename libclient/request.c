/* request.c - requests on a lease: frames into the request ring, the
 * response out of the response ring.
 *
 * An exchange is HEAD, BODY*, END from the worker, then RESP_HEAD, BODY*,
 * END (or one ERROR) from the daemon.  Every check that can fail without
 * touching the ring (method, path, headers, sizes, call order) fails first
 * and leaves the lease usable.  A failure in the middle (daemon gone,
 * timeout, garbage) marks the exchange broken: the lease must be released,
 * and the daemon resets the slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "clock.h"
#include "policy.h"
#include "slot.h"
#include "xfer.h"

#define SLICE_MS 200          /* re-check the daemon this often while waiting */
#define GRACE_MS 2000         /* beyond the daemon's own request timeout */
#define DAEMON_STALE_MS 1000

/* Check run between waits: the daemon must still be there.  The full
 * liveness check (a kill(pid, 0) system call) runs at most once a slice;
 * the daemon's own "stopped" mark is read every time. */
static int client_abort_reason(void *ctx)
{
	struct pp_lease *l = ctx;
	struct pp_seg *seg = &l->att->seg;
	uint64_t now = pp_now_coarse_ns();
	if (atomic_load_explicit(&seg->hdr->daemon_state, memory_order_acquire) == PP_DAEMON_STOPPED)
		return PP_EDAEMON;
	if (now - l->alive_checked_ns >= SLICE_MS * PP_NS_PER_MS) {
		if (!pp_seg_daemon_alive(seg, DAEMON_STALE_MS))
			return PP_EDAEMON;
		l->alive_checked_ns = now;
	}
	struct pp_slot *s = pp_seg_slot(seg, l->slot);
	if (atomic_load_explicit(&s->token, memory_order_relaxed) != l->token)
		return PP_ELOST;
	return 0;
}

static struct pp_xfer client_xfer(struct pp_lease *l, struct pp_ring *ring)
{
	return (struct pp_xfer){ .ring = ring, .deadline_ns = l->deadline_ns,
				 .slice_ns = SLICE_MS * PP_NS_PER_MS,
				 .spin = ring == &l->resp ? &l->spin : NULL,
				 .check = client_abort_reason, .ctx = l };
}

/* A failure mid-exchange: the lease can only be released now. */
static int broken(struct pp_lease *l, int code)
{
	l->stage = PP_STAGE_BROKEN;
	if (code == PP_EDAEMON)
		pp_att_mark_stale(l->att);
	return code;
}

/* The exchange is over: the slot is an idle lease again. */
static void exchange_done(struct pp_lease *l)
{
	l->stage = PP_STAGE_IDLE;
	l->pend_len = 0;
	struct pp_slot *s = pp_seg_slot(&l->att->seg, l->slot);
	atomic_store_explicit(&s->state, PP_SLOT_LEASED, memory_order_release);
}

/* Validate a request's head fields.  Returns 0 or the PP_E* code. */
static int check_req(const struct pp_seg *seg, const pp_req *req, int64_t body_len)
{
	if (!req || !req->method || !req->path || (req->nheaders && !req->headers))
		return PP_EINVAL;
	if (!pp_frame_method_ok(req->method, strlen(req->method)))
		return PP_EBADMETHOD;
	size_t plen = strlen(req->path);
	if (!pp_frame_path_ok(req->path, plen) || !pp_path_segments_safe(req->path, plen))
		return PP_EBADPATH;
	if (req->nheaders > PP_FRAME_HEADERS_MAX)
		return PP_EBADHEADER;
	for (size_t i = 0; i < req->nheaders; i++) {
		const pp_header *h = &req->headers[i];
		if (!h->name || !h->value || !pp_header_allowed(h->name, strlen(h->name)) ||
		    !pp_frame_header_ok(h->name, strlen(h->name), h->value, strlen(h->value)))
			return PP_EBADHEADER;
	}
	if (body_len < -1 || req->timeout_ms < 0)
		return PP_EINVAL;
	uint64_t max = seg->max_body;
	if (max && body_len > (int64_t)max)
		return PP_ETOOBIG;
	return 0;
}

/* This thread's recent response waits (spin.h): the worker's own
 * experience, whichever slot it leases. */
static __thread uint32_t resp_wait_avg_ns;

/* Ring views and scratch for this lease's exchange. */
static int prepare_lease(struct pp_lease *l)
{
	struct pp_seg *seg = &l->att->seg;
	uint32_t max = pp_frame_max(seg->ring_size);
	if (!l->scratch && !(l->scratch = malloc(max)))
		return PP_ENOMEM;
	if (!l->out.buf && !(l->out.buf = malloc(max)))
		return PP_ENOMEM;
	l->out.cap = max;
	l->out.len = 0;
	/* The handle checked the daemon at attach or within the last 100 ms:
	 * skip the kill() of the first wait (it costs a CGI program ~40 us). */
	l->alive_checked_ns = pp_now_coarse_ns();
	struct pp_slot *s = pp_seg_slot(seg, l->slot);
	if (pp_ring_init_view(&l->req, &s->req, pp_seg_req_data(seg, l->slot), seg->ring_size) ||
	    pp_ring_init_view(&l->resp, &s->resp, pp_seg_resp_data(seg, l->slot), seg->ring_size))
		return PP_EPROTO;
	/* How to wake a sleeping serving loop (bell.h): it waits for the next
	 * request frame, or for room to go on with a long response. */
	l->req.bell = &l->att->bell;
	l->resp.bell = &l->att->bell;
	/* Between exchanges both rings are empty.  Bytes left over mean the
	 * slot was shared or scribbled on: never read someone else's answer. */
	if (pp_ring_readable(&l->resp) != 0 || pp_ring_writable(&l->req) != (ssize_t)seg->ring_size)
		return PP_EPROTO;
	l->spin = (struct pp_spin){ .hdr = seg->hdr, .claims = seg->spin_claims,
				    .peer_cpu = &s->daemon_cpu, .avg_ns = &resp_wait_avg_ns,
				    .inflight_max = 1 /* ours */ };
	return 0;
}

int pp_stream_begin(struct pp_lease *l, const pp_req *req, int64_t body_len)
{
	int r = pp_lease_check(l);
	if (r)
		return r;
	if (l->stage != PP_STAGE_IDLE)
		return PP_ESTATE;
	if ((r = check_req(&l->att->seg, req, body_len)) != 0)
		return r;
	struct pp_slot *s = pp_seg_slot(&l->att->seg, l->slot);
	uint32_t st = PP_SLOT_LEASED;
	if (!atomic_compare_exchange_strong(&s->state, &st, PP_SLOT_BUSY))
		return PP_ELOST;
	/* From here a failure leaves the slot BUSY: releasing it hands it to
	 * the daemon for a reset. */
	if ((r = prepare_lease(l)) != 0)
		return broken(l, r);
	uint32_t tmo = req->timeout_ms ? (uint32_t)req->timeout_ms : l->att->seg.request_timeout_ms;
	l->deadline_ns = pp_now_ns() + ((uint64_t)tmo + GRACE_MS) * PP_NS_PER_MS;
	struct pp_frame f = { .type = PP_FRAME_REQ_HEAD };
	f.req.method = (struct pp_str){ req->method, (uint32_t)strlen(req->method) };
	f.req.path = (struct pp_str){ req->path, (uint32_t)strlen(req->path) };
	for (size_t i = 0; i < req->nheaders; i++)
		f.req.headers[f.req.nheaders++] = (struct pp_hdr){
			{ req->headers[i].name, (uint32_t)strlen(req->headers[i].name) },
			{ req->headers[i].value, (uint32_t)strlen(req->headers[i].value) } };
	f.req.body_len = body_len;
	f.req.timeout_ms = (uint32_t)req->timeout_ms;
	/* Batched: published with the first body bytes or the END. */
	struct pp_xfer xf = client_xfer(l, &l->req);
	if ((r = pp_xfer_add(&xf, &l->out, &f)) != 0)
		return broken(l, r);
	l->stage = PP_STAGE_SENDING;
	l->declared = body_len;
	l->sent = 0;
	return 0;
}

int pp_stream_write(struct pp_lease *l, const void *buf, size_t n)
{
	int r = pp_lease_check(l);
	if (r)
		return r;
	if (l->stage != PP_STAGE_SENDING)
		return PP_ESTATE;
	if (n && !buf)
		return PP_EINVAL;
	uint64_t max = l->att->seg.max_body;
	if ((l->declared >= 0 && l->sent + n > (uint64_t)l->declared) || (max && l->sent + n > max))
		return PP_ETOOBIG;
	uint32_t chunk = pp_frame_chunk(l->att->seg.ring_size);
	struct pp_xfer xf = client_xfer(l, &l->req);
	for (size_t off = 0; off < n;) {
		uint32_t len = n - off < chunk ? (uint32_t)(n - off) : chunk;
		struct pp_frame f = { .type = PP_FRAME_BODY, .body = { (const uint8_t *)buf + off, len } };
		if ((r = pp_xfer_add(&xf, &l->out, &f)) != 0)
			return broken(l, r);
		off += len;
		l->sent += len;
	}
	return 0;
}

/* Copy a response header value (bounded, NUL-terminated). */
static void copy_value(char *dst, size_t len, const struct pp_str *v)
{
	size_t n = v->len < len - 1 ? v->len : len - 1;
	memcpy(dst, v->ptr, n);
	dst[n] = 0;
}

/* An ERROR frame ends the exchange with its code (validated). */
static int take_error(struct pp_lease *l, const struct pp_frame *f)
{
	int code = f->error.code;
	if (code >= 0 || code < PP_ENAME)
		return broken(l, PP_EPROTO);
	if (code == PP_EPROTO)
		return broken(l, code); /* the daemon gave up on this ring */
	exchange_done(l);
	return code;
}

int pp_stream_read_head(struct pp_lease *l, pp_resp *resp)
{
	int r = pp_lease_check(l);
	if (r)
		return r;
	if (!resp)
		return PP_EINVAL;
	if (l->stage != PP_STAGE_SENDING)
		return PP_ESTATE;
	if (l->declared >= 0 && l->sent != (uint64_t)l->declared)
		return PP_ESTATE; /* fewer body bytes than announced */
	memset(resp, 0, sizeof *resp);
	struct pp_frame f = { .type = PP_FRAME_END };
	struct pp_xfer out = client_xfer(l, &l->req), in = client_xfer(l, &l->resp);
	/* Where we wait for the answer: the daemon's loop spins only if
	 * this is another CPU (spin.h). */
	pp_spin_publish_cpu(&pp_seg_slot(&l->att->seg, l->slot)->worker_cpu);
	if ((r = pp_xfer_add(&out, &l->out, &f)) != 0 || (r = pp_xfer_flush(&out, &l->out)) != 0)
		return broken(l, r);
	l->stage = PP_STAGE_HEAD;
	if ((r = pp_xfer_take(&in, l->scratch, pp_frame_max(l->att->seg.ring_size), &f)) != 0)
		return broken(l, r);
	if (f.type == PP_FRAME_ERROR)
		return take_error(l, &f);
	if (f.type != PP_FRAME_RESP_HEAD)
		return broken(l, PP_EPROTO);
	resp->status = f.resp.status;
	for (uint32_t i = 0; i < f.resp.nheaders; i++) {
		const struct pp_hdr *h = &f.resp.headers[i];
		if (h->name.len == 12 && !strncasecmp(h->name.ptr, "content-type", 12))
			copy_value(resp->content_type, sizeof resp->content_type, &h->value);
		else if (h->name.len == 12 && !strncasecmp(h->name.ptr, "x-request-id", 12))
			copy_value(resp->request_id, sizeof resp->request_id, &h->value);
	}
	l->stage = PP_STAGE_BODY;
	return 0;
}

long pp_stream_read(struct pp_lease *l, void *buf, size_t n)
{
	int r = pp_lease_check(l);
	if (r)
		return r;
	if (l->stage != PP_STAGE_BODY)
		return PP_ESTATE;
	if (!buf && n)
		return PP_EINVAL;
	while (!l->pend_len) {
		struct pp_frame f;
		struct pp_xfer in = client_xfer(l, &l->resp);
		if ((r = pp_xfer_take(&in, l->scratch, pp_frame_max(l->att->seg.ring_size), &f)) != 0)
			return broken(l, r);
		if (f.type == PP_FRAME_END) {
			exchange_done(l);
			return 0;
		}
		if (f.type == PP_FRAME_ERROR)
			return take_error(l, &f);
		if (f.type != PP_FRAME_BODY)
			return broken(l, PP_EPROTO);
		l->pend = f.body.data;
		l->pend_len = f.body.len;
	}
	size_t c = n < l->pend_len ? n : l->pend_len;
	memcpy(buf, l->pend, c);
	l->pend += c;
	l->pend_len -= (uint32_t)c;
	return (long)c;
}

/* Read the rest of the body into resp->body (grown as needed). */
static int read_all(struct pp_lease *l, pp_resp *resp)
{
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
	if (!b)
		return broken(l, PP_ENOMEM);
	for (;;) {
		if (cap - len < 2048) {
			char *nb = cap < SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
			if (!nb) {
				free(b);
				return broken(l, PP_ENOMEM);
			}
			b = nb;
			cap *= 2;
		}
		long r = pp_stream_read(l, b + len, cap - len - 1);
		if (r < 0) {
			free(b);
			return (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	b[len] = 0;
	resp->body = b;
	resp->body_len = len;
	return 0;
}

int pp_request(struct pp_lease *l, const pp_req *req, pp_resp *resp)
{
	if (!resp || !req)
		return PP_EINVAL;
	memset(resp, 0, sizeof *resp);
	int r = pp_stream_begin(l, req, (int64_t)req->body_len);
	if (!r && req->body_len)
		r = pp_stream_write(l, req->body, req->body_len);
	if (!r)
		r = pp_stream_read_head(l, resp);
	if (!r)
		r = read_all(l, resp);
	return r;
}

int pp_do(pp_pool *p, const pp_req *req, pp_resp *resp)
{
	if (!p || !req || !resp)
		return PP_EINVAL;
	memset(resp, 0, sizeof *resp);
	int r;
	struct pp_att *a = pp_pool_current(p, &r);
	if (!a)
		return r;
	if ((r = check_req(&a->seg, req, (int64_t)req->body_len)) != 0)
		return r;
	struct pp_lease *l;
	if ((r = pp_lease(p, (int)(a->seg.lease_timeout_ms > INT32_MAX ? INT32_MAX : a->seg.lease_timeout_ms), &l)) != 0)
		return r;
	r = pp_request(l, req, resp);
	int rr = pp_release(l);
	return r ? r : rr;
}

void pp_resp_free(pp_resp *resp)
{
	if (!resp)
		return;
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}
