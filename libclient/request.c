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

#include "client.h"
#include "clock.h"
#include "errdetail.h"
#include "errors.h"
#include "policy.h"
#include "slot.h"
#include "xfer.h"

#define GRACE_MS 2000         /* beyond the daemon's own request timeout */

/* Check run after every wakeup of a wait: the daemon must still be there
 * (the liveness policy, client.h), and the slot still ours. */
static int client_abort_reason(void *ctx)
{
	struct pp_lease *l = ctx;
	struct pp_seg *seg = &l->att->seg;
	int r = pp_att_check_daemon(l->att, &l->pid_checked_ns);
	if (r)
		return r;
	struct pp_slot *s = pp_seg_slot(seg, l->slot);
	if (atomic_load_explicit(&s->token, memory_order_relaxed) != l->token)
		return PP_ELOST;
	return 0;
}

static struct pp_xfer client_xfer(struct pp_lease *l, struct pp_ring *ring)
{
	return (struct pp_xfer){ .ring = ring, .deadline_ns = l->deadline_ns,
				 .slice_ns = PP_WAIT_SLICE_MS * PP_NS_PER_MS,
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

/* A C string as a pp_str.  A length past UINT32_MAX is clamped (every
 * field's limit is far smaller, so it is refused as over its limit). */
static struct pp_str str_of(const char *s)
{
	size_t n = strlen(s);
	return (struct pp_str){ s, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n };
}

/* Every check of a new exchange's arguments, run before anything changes:
 * the API's own (pointers, body_len, timeout and, for a buffered request
 * (with_body), the body pointer), then the shared checks of the head that
 * the daemon runs again (pp_req_head_check, policy.h).  On success *head
 * is the REQ_HEAD frame, pointing into req.  Returns 0 or PP_EINVAL,
 * PP_EBADMETHOD, PP_EBADPATH, PP_EBADHEADER, PP_ETOOBIG. */
static int check_req(const struct pp_seg *seg, const pp_req *req, int64_t body_len, bool with_body,
		     struct pp_frame *head)
{
	if (!req || !req->method || !req->path || (req->nheaders && !req->headers))
		return PP_EINVAL;
	if (body_len < -1 || req->timeout_ms < 0 || (with_body && req->body_len && !req->body))
		return PP_EINVAL;
	/* A buffered body has a length: (int64_t)SIZE_MAX would be -1, a
	 * chunked stream of any length. */
	if (with_body && (uint64_t)req->body_len > (uint64_t)INT64_MAX)
		return PP_EINVAL;
	if (req->nheaders > PP_FRAME_HEADERS_MAX)
		return PP_EBADHEADER;
	*head = (struct pp_frame){ .type = PP_FRAME_REQ_HEAD };
	struct pp_frame_req_head *h = &head->req;
	for (size_t i = 0; i < req->nheaders; i++) {
		const pp_header *hd = &req->headers[i];
		if (!hd->name || !hd->value)
			return PP_EBADHEADER;
		h->headers[h->nheaders++] = (struct pp_hdr){ str_of(hd->name), str_of(hd->value) };
	}
	h->method = str_of(req->method);
	h->path = str_of(req->path);
	h->body_len = body_len;
	h->timeout_ms = (uint32_t)req->timeout_ms;
	return pp_req_head_check(h, seg->max_body);
}

/* This thread's recent response waits (spin.h): the worker's own
 * experience, whichever slot it leases.  None yet in a new thread (or
 * process): its first wait does not spin. */
static __thread uint32_t resp_wait_avg_ns = PP_SPIN_AVG_UNKNOWN;

/* A private buffer's first allocation (client.h: PP_LEASE_BUF_INIT, at
 * most the ring's largest frame).  Returns 0 or PP_ENOMEM. */
static int buf_first(struct pp_buf *b, uint32_t ring_size)
{
	if (b->buf)
		return 0;
	uint32_t max = pp_frame_max(ring_size), n = PP_LEASE_BUF_INIT < max ? PP_LEASE_BUF_INIT : max;
	if (!(b->buf = malloc(n)))
		return PP_ENOMEM;
	b->cap = n;
	return 0;
}

/* The lease's private buffers (scratch for frames taken, the batch of
 * frames to publish), allocated on first use and grown by larger frames
 * (xfer.h).  Changes nothing shared.  Returns 0 or PP_ENOMEM. */
static int lease_buffers(struct pp_lease *l)
{
	uint32_t rs = l->att->seg.ring_size;
	if (buf_first(&l->scratch, rs) || buf_first(&l->out.mem, rs))
		return PP_ENOMEM;
	l->out.len = 0;
	return 0;
}

/* Ring views for this lease's exchange (the slot is BUSY: ours).  Returns
 * 0 or PP_EPROTO. */
static int lease_rings(struct pp_lease *l)
{
	struct pp_seg *seg = &l->att->seg;
	/* The call looked at the daemon just now (pp_pool_current, at most
	 * PP_PID_CHECK_MS ago for the pid): the first wait does not ask for
	 * the pid again (a kill() costs a CGI program ~40 us). */
	l->pid_checked_ns = pp_now_coarse_ns();
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

/* Start an exchange on an idle lease.  Everything that can be refused
 * (every argument, a head too large for the ring, no memory) is refused
 * before the slot turns BUSY, so a refusal leaves the lease as it was.
 * The head is encoded into the lease's batch, published with the first
 * body bytes or the END.  Returns 0 or a PP_E* code. */
static int exchange_begin(struct pp_lease *l, const pp_req *req, int64_t body_len, bool with_body)
{
	struct pp_seg *seg = &l->att->seg;
	struct pp_frame f;
	int r = check_req(seg, req, body_len, with_body, &f);
	if (r || (r = lease_buffers(l)) != 0)
		return r;
	/* Into the empty batch (grown if the head needs it); nothing is
	 * published yet. */
	if ((r = pp_batch_add(&l->out, seg->ring_size, &f)) != 0)
		return r; /* PP_ETOOBIG: the head cannot fit the ring */
	struct pp_slot *s = pp_seg_slot(seg, l->slot);
	uint32_t st = PP_SLOT_LEASED;
	/* The token first: a record that outlived its thread (lease.c,
	 * owner_lock_held) must not start an exchange on a slot leased again
	 * meanwhile, by another worker (its LEASED would take the CAS).  Same
	 * cache line as the state. */
	if (atomic_load_explicit(&s->token, memory_order_relaxed) != l->token ||
	    !atomic_compare_exchange_strong(&s->state, &st, PP_SLOT_BUSY)) {
		l->out.len = 0; /* the lease as it was */
		return PP_ELOST;
	}
	/* From here a failure leaves the slot BUSY: releasing it hands it to
	 * the daemon for a reset. */
	if ((r = lease_rings(l)) != 0)
		return broken(l, r);
	uint32_t tmo = req->timeout_ms ? (uint32_t)req->timeout_ms : seg->request_timeout_ms;
	l->deadline_ns = pp_now_ns() + ((uint64_t)tmo + GRACE_MS) * PP_NS_PER_MS;
	l->stage = PP_STAGE_SENDING;
	l->declared = body_len;
	l->sent = 0;
	return 0;
}

static int stream_begin_run(struct pp_lease *l, const pp_req *req, int64_t body_len)
{
	int r = pp_lease_check(l);
	if (r)
		return r;
	if (l->stage != PP_STAGE_IDLE)
		return PP_ESTATE;
	return exchange_begin(l, req, body_len, false);
}

static int stream_write_run(struct pp_lease *l, const void *buf, size_t n)
{
	int r = pp_lease_check(l);
	if (r)
		return r;
	if (l->stage != PP_STAGE_SENDING)
		return PP_ESTATE;
	if (n && !buf)
		return PP_EINVAL;
	/* sent <= declared and sent <= max hold, so these cannot wrap. */
	uint64_t max = l->att->seg.max_body;
	if ((l->declared >= 0 && n > (uint64_t)l->declared - l->sent) || (max && n > max - l->sent))
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

/* Is header name n `lower` (lower case, 12 bytes), in any case?  Not
 * strncasecmp: two names per response do not earn a CGI program the page
 * fault of loading its code. */
static bool name_is(const struct pp_str *n, const char lower[static 12])
{
	if (n->len != 12)
		return false;
	for (uint32_t i = 0; i < 12; i++) {
		char c = n->ptr[i];
		if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != lower[i])
			return false;
	}
	return true;
}

/* Copy a response header value (bounded, NUL-terminated). */
static void copy_value(char *dst, size_t len, const struct pp_str *v)
{
	size_t n = v->len < len - 1 ? v->len : len - 1;
	memcpy(dst, v->ptr, n);
	dst[n] = 0;
}

/* An ERROR frame ends the exchange with its code (a known PP_E* code:
 * the decoder accepts no other, see frame.h). */
static int take_error(struct pp_lease *l, const struct pp_frame *f)
{
	int code = f->error.code;
	if (code == PP_EPROTO)
		return broken(l, code); /* the daemon gave up on this ring */
	exchange_done(l);
	return code;
}

static int stream_read_head_run(struct pp_lease *l, pp_resp *resp)
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
	/* While the daemon works: the page the answer will be read from. */
	pp_ring_prefault_read(&l->resp);
	l->stage = PP_STAGE_HEAD;
	if ((r = pp_xfer_take(&in, &l->scratch, &f)) != 0)
		return broken(l, r);
	if (f.type == PP_FRAME_ERROR)
		return take_error(l, &f);
	if (f.type != PP_FRAME_RESP_HEAD)
		return broken(l, PP_EPROTO);
	resp->status = f.resp.status;
	l->resp_len = f.resp.content_len;
	for (uint32_t i = 0; i < f.resp.nheaders; i++) {
		const struct pp_hdr *h = &f.resp.headers[i];
		if (name_is(&h->name, "content-type"))
			copy_value(resp->content_type, sizeof resp->content_type, &h->value);
		else if (name_is(&h->name, "x-request-id"))
			copy_value(resp->request_id, sizeof resp->request_id, &h->value);
	}
	l->stage = PP_STAGE_BODY;
	return 0;
}

static long stream_read_run(struct pp_lease *l, void *buf, size_t n)
{
	int r = pp_lease_check(l);
	if (r)
		return r;
	if (l->stage != PP_STAGE_BODY)
		return PP_ESTATE;
	if (!buf || !n)
		return PP_EINVAL; /* 0 bytes read would look like the end of the body */
	while (!l->pend_len) {
		struct pp_frame f;
		struct pp_xfer in = client_xfer(l, &l->resp);
		if ((r = pp_xfer_take(&in, &l->scratch, &f)) != 0)
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

/* Bodies up to this size whose length the answer gave are read into one
 * allocation of exactly that size. */
#define READ_ALL_EXACT_MAX (1u << 20)

/* Read the rest of the body into resp->body: one allocation of the
 * answer's Content-Length (plus the NUL) when it gave one up to
 * READ_ALL_EXACT_MAX, else 4 KiB doubled as needed.  A full buffer reads
 * into a one-byte spare first, so an answer that ends exactly there costs
 * no growth; a byte beyond it (an answer longer than it said) grows it. */
static int read_all(struct pp_lease *l, pp_resp *resp)
{
	int64_t cl = l->resp_len;
	size_t cap = cl >= 0 && cl <= READ_ALL_EXACT_MAX ? (size_t)cl + 1 : 4096, len = 0;
	char *b = malloc(cap);
	if (!b)
		return broken(l, PP_ENOMEM);
	for (;;) {
		size_t room = cap - len - 1;
		char spare;
		long r = stream_read_run(l, room ? b + len : &spare, room ? room : 1);
		if (r < 0) {
			free(b);
			return (int)r;
		}
		if (r == 0)
			break;
		if (!room) {
			size_t ncap = cap < 4096 ? 4096 : cap;
			char *nb = ncap < SIZE_MAX / 2 ? realloc(b, ncap * 2) : NULL;
			if (!nb) {
				free(b);
				return broken(l, PP_ENOMEM);
			}
			b = nb;
			cap = ncap * 2;
			b[len] = spare;
		}
		len += (size_t)r;
	}
	b[len] = 0;
	resp->body = b;
	resp->body_len = len;
	return 0;
}

static int request_run(struct pp_lease *l, const pp_req *req, pp_resp *resp)
{
	if (!resp)
		return PP_EINVAL;
	memset(resp, 0, sizeof *resp);
	int r = pp_lease_check(l);
	if (r)
		return r;
	if (l->stage != PP_STAGE_IDLE)
		return PP_ESTATE;
	if ((r = exchange_begin(l, req, req ? (int64_t)req->body_len : 0, true)) != 0)
		return r;
	if (req->body_len)
		r = stream_write_run(l, req->body, req->body_len);
	if (!r)
		r = stream_read_head_run(l, resp);
	if (!r)
		r = read_all(l, resp);
	return r;
}

/* The public calls on a lease: on failure, leave this thread's detail
 * (errdetail.h) for a gone daemon, or clear it. */
static int lease_failed(const struct pp_lease *l, int r)
{
	return pp_detail_after(r == PP_EDAEMON ? atomic_load_explicit(&l->att->pool, memory_order_relaxed) : NULL, r);
}

/* Before a public stream call in the middle of an exchange: is the slot
 * still this lease's?  A record that outlived its thread (lease.c,
 * owner_lock_held) passes pp_lease_check in a later thread with the same
 * pthread_t; without this it would write into the request ring of the
 * slot's next holder.  exchange_begin checks the same at the start;
 * pp_request's own steps need no more (one call, one thread). */
static int stream_slot_ours(const struct pp_lease *l)
{
	int r = pp_lease_check(l);
	if (r || l->stage == PP_STAGE_IDLE)
		return r;
	const struct pp_slot *s = pp_seg_slot(&l->att->seg, l->slot);
	return atomic_load_explicit(&s->token, memory_order_relaxed) == l->token ? 0 : PP_ELOST;
}

int pp_stream_begin(struct pp_lease *l, const pp_req *req, int64_t body_len)
{
	int r = stream_begin_run(l, req, body_len);
	return r ? lease_failed(l, r) : 0;
}

int pp_stream_write(struct pp_lease *l, const void *buf, size_t n)
{
	int r = stream_slot_ours(l);
	if (!r)
		r = stream_write_run(l, buf, n);
	return r ? lease_failed(l, r) : 0;
}

int pp_stream_read_head(struct pp_lease *l, pp_resp *resp)
{
	int r = stream_slot_ours(l);
	if (!r)
		r = stream_read_head_run(l, resp);
	return r ? lease_failed(l, r) : 0;
}

long pp_stream_read(struct pp_lease *l, void *buf, size_t n)
{
	long r = stream_slot_ours(l);
	if (!r)
		r = stream_read_run(l, buf, n);
	return r < 0 ? lease_failed(l, (int)r) : r;
}

int pp_request(struct pp_lease *l, const pp_req *req, pp_resp *resp)
{
	int r = request_run(l, req, resp);
	return r ? lease_failed(l, r) : 0;
}

static int do_run(pp_pool *p, const pp_req *req, pp_resp *resp)
{
	if (!resp)
		return PP_EINVAL;
	memset(resp, 0, sizeof *resp);
	if (!p)
		return PP_EINVAL;
	int r;
	struct pp_att *a = pp_pool_current(p, &r);
	if (!a)
		return r;
	/* Refuse bad arguments before taking a slot (pp_request checks them
	 * again, against the segment the lease comes from). */
	struct pp_frame head;
	if ((r = check_req(&a->seg, req, req ? (int64_t)req->body_len : 0, true, &head)) != 0)
		return r;
	struct pp_lease *l;
	if ((r = pp_lease(p, (int)(a->seg.lease_timeout_ms > INT32_MAX ? INT32_MAX : a->seg.lease_timeout_ms), &l)) != 0)
		return r;
	r = pp_request(l, req, resp);
	int rr = pp_release(l);
	return r ? r : rr;
}

int pp_do(pp_pool *p, const pp_req *req, pp_resp *resp)
{
	int r = do_run(p, req, resp);
	return r ? pp_detail_after(p, r) : 0;
}

void pp_resp_free(pp_resp *resp)
{
	if (!resp)
		return;
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}
