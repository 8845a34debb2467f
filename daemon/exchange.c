/* exchange.c - see exchange.h.  Every byte from the segment and from the
 * network is untrusted. */
#include "exchange.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "clock.h"
#include "daemon.h"
#include "errors.h"
#include "log.h"
#include "phantompool.h"
#include "policy.h"
#include "stats.h"

/* Room kept in the response ring for a RESP_HEAD frame (two forwarded
 * headers of at most PP_FRAME_HVALUE_MAX bytes), an END and an ERROR
 * frame, beyond the body frames of one read. */
#define HEAD_RESERVE (2u * (PP_FRAME_HNAME_MAX + PP_FRAME_HVALUE_MAX) + 2u * PP_FRAME_MESSAGE_MAX + 128u)
#define RECV_MIN 64u         /* read nothing smaller: wait for ring room instead */
#define RECV_CAP (16u << 10) /* bytes per read */
#define SEND_CAP (80u << 10) /* the request head (<= ~45 KiB) plus one chunked BODY frame */
#define DRAIN_GRACE_MS 1000  /* after a failure, how long the worker has to send its END */

/* ---- set-up -------------------------------------------------------------- */

int pd_exchange_init(struct pd_exchange *x, struct pd_daemon *d, struct pd_conn *conn)
{
	uint32_t fmax = pp_frame_max(d->seg.ring_size);
	memset(x, 0, sizeof *x);
	x->d = d;
	x->conn = conn;
	x->chunk = pp_frame_chunk(d->seg.ring_size);
	x->send_cap = SEND_CAP;
	x->recv_cap = RECV_CAP;
	x->out.mem.cap = fmax;
	x->scratch = malloc(fmax);
	x->sendbuf = malloc(x->send_cap);
	x->recvbuf = malloc(x->recv_cap);
	x->out.mem.buf = malloc(fmax);
	x->stage = malloc(x->chunk);
	return x->scratch && x->sendbuf && x->recvbuf && x->out.mem.buf && x->stage ? 0 : -1;
}

void pd_exchange_free(struct pd_exchange *x)
{
	free(x->scratch);
	free(x->sendbuf);
	free(x->recvbuf);
	free(x->out.mem.buf);
	free(x->stage);
	x->scratch = NULL;
	x->sendbuf = NULL;
	x->recvbuf = NULL;
	x->out.mem.buf = NULL;
	x->stage = NULL;
}

/* ---- frames into the batch ----------------------------------------------- */

/* Encode f after what is batched.  The read budget guarantees room; a
 * failure here is a bug or a bad field: -1. */
static int batch(struct pd_exchange *x, const struct pp_frame *f)
{
	ssize_t n = pp_frame_encode(f, x->out.mem.buf + x->out.len, x->out.mem.cap - x->out.len);
	if (n < 0)
		return -1;
	x->out.len += (uint32_t)n;
	return 0;
}

static int flush_stage(struct pd_exchange *x)
{
	if (!x->stage_len)
		return 0;
	struct pp_frame f = { .type = PP_FRAME_BODY, .body = { x->stage, x->stage_len } };
	x->stage_len = 0;
	return batch(x, &f);
}

/* The parser's sink for a seat's exchange. */
static int sink_head(void *ctx, int status, int64_t clen, const struct pp_str *ct, const struct pp_str *id)
{
	struct pd_exchange *x = ctx;
	x->status = status;
	if (!x->seat || !x->rid_len)
		return 0;
	struct pp_frame f = { .type = PP_FRAME_RESP_HEAD };
	f.resp.status = status < PP_FRAME_STATUS_MIN || status > PP_FRAME_STATUS_MAX ? 502 : status;
	f.resp.content_len = clen;
	if (ct)
		f.resp.headers[f.resp.nheaders++] = (struct pp_hdr){ PP_STR_LIT("content-type"), *ct };
	if (id && (id->len != x->rid_len || memcmp(id->ptr, x->rid, x->rid_len))) {
		x->rid_mismatch = true; /* the answer to another request */
		return -1;
	}
	if (id && !x->rid_ours)
		f.resp.headers[f.resp.nheaders++] = (struct pp_hdr){ PP_STR_LIT("x-request-id"), *id };
	return batch(x, &f);
}

static int sink_body(void *ctx, const uint8_t *data, size_t n)
{
	struct pd_exchange *x = ctx;
	x->resp_bytes += n;
	if (!x->seat)
		return 0; /* a health check reads and drops */
	while (n) {
		uint32_t k = x->chunk - x->stage_len;
		k = n < k ? (uint32_t)n : k;
		memcpy(x->stage + x->stage_len, data, k);
		x->stage_len += k;
		data += k;
		n -= k;
		if (x->stage_len == x->chunk && flush_stage(x) != 0)
			return -1;
	}
	return 0;
}

static const struct pd_http_sink sink = { sink_head, sink_body };

/* ---- outcome ------------------------------------------------------------- */

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

/* Count one finished exchange on its seat (one seqlocked update). */
static void count_exchange(struct pd_exchange *x)
{
	struct pp_slot *s = pd_seat_slot(x->seat);
	uint64_t ns = pp_now_ns() - x->t0;
	pp_stats_begin(s);
	atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
	if (x->code) {
		atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->errors_by_kind[errkind_of(x->code)], 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&s->bytes_in, x->body_seen, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes_out, x->resp_bytes, memory_order_relaxed);
	atomic_store_explicit(&s->last_latency_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->latency_sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->latency_hist[pp_hist_bucket(ns)], 1, memory_order_relaxed);
	pp_stats_end(s);
}

/* A min connection's first attempt ended (by a health check or a
 * worker's request): the daemon reports ready once all have. */
static void note_warm(struct pd_exchange *x)
{
	if (x->conn->idx < pd_live(x->d)->opt.min_conns && !x->conn->warm) {
		x->conn->warm = true;
		atomic_fetch_add_explicit(&x->d->warmed, 1, memory_order_release);
	}
}

/* Answered, and the connection cannot be kept (the node closes after
 * each answer): reopening a min connection every 50 ms only to lose it
 * again is no use; the pause (upkeep.c) doubles up to the health
 * interval, and ends once a health check leaves it open. */
static void pace_reopen(struct pd_exchange *x)
{
	struct pd_conn *c = x->conn;
	uint32_t hi = pd_live(x->d)->opt.health_interval_ms, most = hi ? hi : PD_REOPEN_MAX_MS;
	if (c->state == PD_CONN_OPEN)
		c->reopen_ms = 0;
	else if (x->status > 0)
		c->reopen_ms = !c->reopen_ms ? PD_BACKOFF_MIN_MS : c->reopen_ms * 2 > most ? most : c->reopen_ms * 2;
}

/* A health check is over: count it, tell the backend tracker (finish
 * reports an HTTP answer; the failed connect reported itself). */
static void finish_health(struct pd_exchange *x)
{
	struct pp_slot *s = x->conn->rec;
	bool healthy = !x->failed && x->status >= 200 && x->status < 300;
	/* Connected, then no HTTP answer: closed, reset, garbage or silence.
	 * The node is not answering (a stopped exchange is not its fault). */
	if (x->failed && !x->status && !x->connect_failed &&
	    (x->code == PP_EBACKEND || x->code == PP_ETIMEDOUT || x->code == PP_EPROTO))
		pd_backend_report(&x->d->backends, x->node, x->conn->backend_list, false, x->why);
	pace_reopen(x);
	pp_stats_begin(s);
	atomic_fetch_add_explicit(&s->health_checks, 1, memory_order_relaxed);
	if (!healthy)
		atomic_fetch_add_explicit(&s->health_failures, 1, memory_order_relaxed);
	pp_stats_end(s);
	note_warm(x);
	if (!healthy)
		pd_debug("connection %u: health check of backend %u: %s (HTTP %d)", x->conn->idx, x->node,
			 x->failed ? x->why : "unhealthy", x->status);
}

/* The exchange is over. */
static void finish(struct pd_exchange *x)
{
	struct pd_conn *c = x->conn;
	if (x->conn_used && c->state != PD_CONN_CLOSED && !x->keep_conn)
		pd_conn_close(c, x->failed ? x->why : "not reusable after this response");
	if (x->conn_used)
		c->last_used_ns = pp_now_ns();
	if (x->conn_used && x->seat)
		c->served_ns = c->last_used_ns;
	/* Any HTTP answer: the node is reachable (the node of the list its
	 * connection was opened from: a reload may have replaced it since). */
	if (x->status > 0)
		pd_backend_report(&x->d->backends, x->node, c->backend_list, true, NULL);
	if (x->seat) {
		count_exchange(x);
		atomic_fetch_sub_explicit(&x->d->seg.hdr->inflight, 1, memory_order_relaxed);
		x->seat->x = NULL;
		x->seat = NULL;
	} else {
		finish_health(x);
	}
	x->active = false;
	atomic_fetch_sub_explicit(&x->d->seg.hdr->conns_busy, 1, memory_order_relaxed);
}

/* Fail the exchange with code (why: for the log and the worker).  The
 * connection is closed unless `keep` (nothing was sent on it). */
static void fail(struct pd_exchange *x, int code, const char *why, bool keep)
{
	if (x->failed)
		return;
	x->failed = true;
	x->code = pp_error_known(code) ? code : PP_ESYS; /* never happens; the frame would be refused */
	x->keep_conn = false;
	snprintf(x->why, sizeof x->why, "%s", why);
	if (!keep && x->conn->state != PD_CONN_CLOSED)
		pd_conn_close(x->conn, why);
	x->req_discard = true;
	x->error_pending = x->seat != NULL;
	x->end_held = false; /* the ERROR ends the exchange instead */
	x->resp_done = true;
	x->stage_len = 0;
	/* A deadline for the rest: the worker's END, room for the ERROR. */
	uint64_t grace = pp_now_ns() + DRAIN_GRACE_MS * PP_NS_PER_MS;
	if (x->deadline_ns < grace)
		x->deadline_ns = grace;
	if (!x->seat)
		return;
	uint32_t si = x->seat->idx;
	switch (code) {
	case PP_EPROTO:
		pd_warn("slot %u: PhantomDB sent a malformed response (%s); connection %u dropped", si, why, x->conn->idx);
		break;
	case PP_ETIMEDOUT:
		pd_info("slot %u: request timed out (%s)", si, why);
		break;
	case PP_EBACKEND:
		pd_info("slot %u: request failed: %s", si, why);
		break;
	default:
		pd_debug("slot %u: request refused: %s (%s)", si, pp_strerror(code), why);
	}
}

/* The request ring (or the frames in it) cannot be trusted any more:
 * answer PP_EPROTO if the ring lets us, and leave the seat for a reset. */
static void ring_broken(struct pd_exchange *x, const char *why)
{
	pd_warn("slot %u: %s; the slot is reset when its holder lets go", x->seat->idx, why);
	fail(x, PP_EPROTO, why, x->conn->state != PD_CONN_OPEN || !x->sent_any);
	x->req_end = true; /* no more frames taken from this ring */
	x->seat->broken = true;
}

/* ---- connection ---------------------------------------------------------- */

/* Open x's connection to node (the URL of the node from the list of
 * generation gen).  Returns 0 or fails the exchange. */
static int open_conn(struct pd_exchange *x, uint32_t node)
{
	struct pd_backends *b = &x->d->backends;
	uint32_t idx, gen, list;
	CURLU *u = pd_backend_join(b, "/", 1, node, &idx, &gen, &list);
	int r = u ? pd_conn_open(x->conn, u, idx, gen, &pd_live(x->d)->opt) : -1;
	curl_url_cleanup(u);
	x->conn->backend_list = list;
	if (r < 0) {
		fail(x, PP_ENOMEM, "cannot open a connection: out of memory", true);
		return -1;
	}
	x->reused = false;
	x->conn_used = true;
	return 0;
}

/* Get x's connection ready for a request to node: reuse it if it is open
 * to that node and clean, else (re)open it. */
static int ready_conn(struct pd_exchange *x, uint32_t node, uint32_t gen)
{
	struct pd_conn *c = x->conn;
	if (c->state == PD_CONN_OPEN) {
		const char *why = NULL;
		if (c->backend != node || c->backend_gen != gen)
			why = "the node in use changed";
		else if (pp_now_ns() >= c->expire_ns)
			why = "max-lifetime reached";
		else {
			enum pd_conn_idle st = pd_conn_idle_check(c);
			if (st == PD_IDLE_BYTES) {
				pd_warn("connection %u: the backend sent bytes nobody asked for; closing it", c->idx);
				why = "unsolicited bytes";
			} else if (st == PD_IDLE_CLOSED) {
				why = "closed by the backend while idle";
			}
		}
		if (!why) {
			x->reused = true;
			x->conn_used = true;
			return 0;
		}
		pd_conn_close(c, why);
	}
	if (c->state == PD_CONN_CONNECTING)
		pd_conn_close(c, "a new request");
	return open_conn(x, node);
}

/* The connect finished, well or not. */
static void connect_outcome(struct pd_exchange *x, enum pd_connect_result r)
{
	struct pd_conn *c = x->conn;
	struct pd_backends *b = &x->d->backends;
	/* A connect begun before a reload replaced the node list names a node
	 * of the old list: its outcome says nothing about the new one's. */
	bool current = c->backend_gen == pd_backend_gen(b);
	note_warm(x);
	if (r == PD_CONNECT_DONE) {
		pd_info("connection %u: connected to backend %u", c->idx, c->backend);
		/* A health check reports its answer instead: a node that accepts
		 * connections and never answers on them is not up. */
		if (current && x->seat)
			pd_backend_report(b, c->backend, c->backend_list, true, NULL);
		return;
	}
	x->connect_failed = true;
	/* Whatever the cause (refused, TLS, a CA file that cannot be read):
	 * no HTTP answer came, and every connect to the node would fail the
	 * same way; reported as reached, it kept the pool up and its min
	 * connections reconnecting every 50 ms, without a warning. */
	if (current)
		pd_backend_report(b, c->backend, c->backend_list, false, c->errbuf);
	char why[300];
	snprintf(why, sizeof why, "cannot connect to PhantomDB: %s", c->errbuf);
	fail(x, c->curl_res == CURLE_OPERATION_TIMEDOUT ? PP_ETIMEDOUT : PP_EBACKEND, why, true);
}

/* ---- starting ------------------------------------------------------------ */

static bool method_is(struct pp_str m, const char *s)
{
	size_t n = strlen(s);
	return m.len == n && !memcmp(m.ptr, s, n);
}

/* The request target ("prefix/path?query") on node, built with libcurl's
 * URL API and kept per seat while the path and node repeat.  NULL on a
 * bad path or no memory. */
static const char *seat_target(struct pd_seat *s, struct pd_backends *b, const struct pp_str *path, uint32_t *node,
			       uint32_t *gen)
{
	uint32_t g = pd_backend_gen(b), cur = atomic_load_explicit(&b->current, memory_order_relaxed);
	if (s->target && s->target_gen == g && s->target_backend == cur && s->path_len == path->len &&
	    !memcmp(s->path, path->ptr, path->len)) {
		*node = cur;
		*gen = g;
		return s->target;
	}
	free(s->target);
	s->target = NULL;
	CURLU *u = pd_backend_join(b, path->ptr, path->len, UINT32_MAX, node, gen, NULL);
	char *p = NULL, *q = NULL;
	if (u && curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_QUERY, &q, 0);
		size_t n = strlen(p) + (q ? strlen(q) + 1 : 0) + 1;
		if ((s->target = malloc(n)))
			snprintf(s->target, n, "%s%s%s", p, q ? "?" : "", q ? q : "");
	}
	curl_free(p);
	curl_free(q);
	curl_url_cleanup(u);
	s->target_gen = *gen;
	s->target_backend = *node;
	s->path_len = s->target ? path->len : 0;
	memcpy(s->path, path->ptr, s->path_len);
	return s->target;
}

/* Reset the per-exchange state of x. */
static void begin(struct pd_exchange *x, struct pd_seat *s, uint64_t timeout_ms)
{
	x->seat = s;
	x->active = true;
	atomic_fetch_add_explicit(&x->d->seg.hdr->conns_busy, 1, memory_order_relaxed);
	x->send_len = x->send_pos = 0;
	x->replayable = true;
	x->req_end = x->req_discard = x->sent_any = false;
	x->idempotent = x->head_method = false;
	x->body_mode = PD_HTTP_BODY_NONE;
	x->declared = 0;
	x->body_seen = 0;
	x->attempts = 1;
	x->reused = false;
	x->conn_used = false;
	x->connect_failed = false;
	x->waited_worker = false;
	x->rid_len = 0;
	x->rid_ours = x->rid_mismatch = false;
	x->out.len = 0;
	x->stage_len = 0;
	x->resp_started = x->resp_done = x->keep_conn = x->end_held = false;
	x->resp_bytes = 0;
	x->status = 0;
	x->code = 0;
	x->failed = x->error_pending = false;
	x->why[0] = 0;
	x->t0 = pp_now_ns();
	x->deadline_ns = x->t0 + timeout_ms * PP_NS_PER_MS;
	x->want_read = x->want_write = x->want_req = x->want_resp = false;
}

/* Lower-case hex digits of v at p (no NUL); returns how many. */
static size_t put_hex(char *p, uint64_t v)
{
	char t[16];
	size_t n = 0;
	do
		t[n++] = "0123456789abcdef"[v & 15];
	while (v >>= 4);
	for (size_t i = 0; i < n; i++)
		p[i] = t[n - 1 - i];
	return n;
}

/* The request's X-Request-Id, into x->rid: the worker's, or one of ours
 * (so that an answer the backend meant for another request is recognised
 * when the backend echoes ids; pd_http_write_head sends ours).  Built by
 * hand, not with snprintf: this runs for every request. */
static void request_id(struct pd_exchange *x, const struct pp_frame_req_head *h)
{
	static _Atomic uint64_t seq;
	for (uint32_t i = 0; i < h->nheaders; i++)
		if (h->headers[i].name.len == 12 && !strncasecmp(h->headers[i].name.ptr, "x-request-id", 12)) {
			/* The first one counts, as the backend sees it: without
			 * the optional white space around it (RFC 9110 5.5). */
			const char *v = h->headers[i].value.ptr;
			uint32_t n = h->headers[i].value.len;
			while (n && (*v == ' ' || *v == '\t'))
				v++, n--;
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			x->rid_len = n; /* <= PP_FRAME_HVALUE_MAX (pp_req_head_check) */
			memcpy(x->rid, v, x->rid_len);
			break;
		}
	if (!x->rid_len) { /* none, or an empty one: ours goes out too */
		/* "pp-" generation "-" sequence: at most 3 + 8 + 1 + 16 bytes. */
		char *r = x->rid;
		memcpy(r, "pp-", 3);
		size_t n = 3 + put_hex(r + 3, x->d->seg.generation & 0xffffffffu);
		r[n++] = '-';
		n += put_hex(r + n, atomic_fetch_add(&seq, 1) + 1);
		x->rid_ours = true;
		x->rid_len = (uint32_t)n;
	}
}

/* Take and check the seat's REQ_HEAD and write the request head.  Returns
 * 0 when the request may go out, else the exchange has failed. */
static int take_head(struct pd_exchange *x, struct pd_seat *s)
{
	struct pp_frame f;
	int r = pd_seat_take(s, x->scratch, &f);
	if (r != 1 || f.type != PP_FRAME_REQ_HEAD) {
		ring_broken(x, r == 0 ? "no request in the ring" : "garbage in the request ring");
		return -1;
	}
	/* A new exchange starts with an empty response ring; anything else
	 * means two parties used the slot: never hand out a stale answer. */
	if (pd_seat_room(s) != (ssize_t)x->d->seg.ring_size) {
		ring_broken(x, "a request over an unread response");
		return -1;
	}
	const struct pp_frame_req_head *h = &f.req;
	const struct pd_live *lv = pd_live(x->d);
	x->declared = h->body_len;
	if (h->timeout_ms)
		x->deadline_ns = x->t0 + (uint64_t)h->timeout_ms * PP_NS_PER_MS;
	if ((r = pp_req_head_check(h, lv->opt.max_body)) != 0) {
		fail(x, r, pp_strerror(r), true);
		return -1;
	}
	if (pd_backend_fail_fast(&x->d->backends)) {
		fail(x, PP_EBACKEND, "PhantomDB backend is down", true);
		return -1;
	}
	uint32_t node, gen;
	const char *target = seat_target(s, &x->d->backends, &h->path, &node, &gen);
	if (!target) {
		fail(x, PP_EBADPATH, "the path does not make a URL with the base URL", true);
		return -1;
	}
	x->node = node;
	x->head_method = method_is(h->method, "HEAD");
	x->idempotent = x->head_method || method_is(h->method, "GET") || method_is(h->method, "PUT") ||
			method_is(h->method, "DELETE") || method_is(h->method, "OPTIONS");
	x->body_mode = pd_http_body_mode(h->method.ptr, h->method.len, h->body_len);
	if (ready_conn(x, node, gen) < 0)
		return -1;
	request_id(x, h);
	struct pp_str own = { x->rid, x->rid_ours ? x->rid_len : 0 };
	x->send_len = (uint32_t)pd_http_write_head(x->sendbuf, x->send_cap, h->method, target, x->conn->host,
						   h->headers, h->nheaders, x->body_mode, h->body_len,
						   lv->auth_header, own);
	if (!x->send_len) {
		fail(x, PP_ETOOBIG, "request head too large", true);
		return -1;
	}
	pd_http_resp_init(&x->parser, x->head_method, &sink, x);
	return 0;
}

void pd_exchange_start(struct pd_exchange *x, struct pd_seat *s)
{
	begin(x, s, pd_live(x->d)->opt.request_timeout_ms);
	s->x = x;
	/* In flight from now until finish (spin.h reads it). */
	atomic_fetch_add_explicit(&x->d->seg.hdr->inflight, 1, memory_order_relaxed);
	take_head(x, s);
	pd_exchange_run(x, 0);
}

void pd_exchange_start_health(struct pd_exchange *x, uint32_t node)
{
	const struct pd_live *lv = pd_live(x->d);
	begin(x, NULL, 2ull * lv->opt.connect_timeout_ms);
	x->req_end = true;
	x->idempotent = true;
	struct pd_backends *b = &x->d->backends;
	uint32_t idx, gen;
	CURLU *u = pd_backend_join(b, "/health", 7, node, &idx, &gen, NULL);
	char *p = NULL;
	if (!u || curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		fail(x, PP_ENOMEM, "out of memory", true);
		finish(x);
		return;
	}
	curl_url_cleanup(u);
	x->node = idx;
	if (ready_conn(x, idx, gen) == 0) {
		x->send_len = (uint32_t)pd_http_write_head(x->sendbuf, x->send_cap, PP_STR_LIT("GET"), p, x->conn->host,
							   NULL, 0, PD_HTTP_BODY_NONE, 0, lv->auth_header,
							   (struct pp_str){ NULL, 0 });
		pd_http_resp_init(&x->parser, false, &sink, x);
	}
	curl_free(p);
	pd_exchange_run(x, 0);
}

/* ---- the request side ---------------------------------------------------- */

static bool append(struct pd_exchange *x, const void *p, size_t n)
{
	if (n > x->send_cap - x->send_len)
		return false;
	memcpy(x->sendbuf + x->send_len, p, n);
	x->send_len += (uint32_t)n;
	return true;
}

/* One request frame after the head. */
static void body_frame(struct pd_exchange *x, const struct pp_frame *f)
{
	if (f->type == PP_FRAME_END) {
		x->req_end = true;
		if (x->declared >= 0 && x->body_seen != (uint64_t)x->declared) {
			ring_broken(x, "request body shorter than its declared length");
			return;
		}
		if (x->body_mode == PD_HTTP_BODY_CHUNKED && !x->req_discard)
			append(x, PD_HTTP_LAST_CHUNK, strlen(PD_HTTP_LAST_CHUNK));
		return;
	}
	if (f->type != PP_FRAME_BODY) {
		ring_broken(x, "a request frame out of order");
		return;
	}
	x->body_seen += f->body.len;
	uint64_t max = pd_live(x->d)->opt.max_body;
	if ((x->declared >= 0 && x->body_seen > (uint64_t)x->declared) || (max && x->body_seen > max)) {
		fail(x, PP_ETOOBIG, "request body over its declared length or max-body", !x->sent_any);
		return;
	}
	if (x->req_discard || !f->body.len)
		return;
	if (x->body_mode == PD_HTTP_BODY_CHUNKED) {
		char line[24];
		size_t n = pd_http_chunk_line(line, f->body.len);
		append(x, line, n);
		append(x, f->body.data, f->body.len);
		append(x, PD_HTTP_CRLF, 2);
	} else {
		append(x, f->body.data, f->body.len);
	}
}

static void conn_broke(struct pd_exchange *x, const char *what);
static bool retryable(const struct pd_exchange *x, bool before_any_byte);

/* Sending failed (the backend closed or reset the connection).  A backend
 * may answer before it has read the whole request (a 413 as soon as it
 * saw the head) and close at once: that answer waits in our socket, and
 * is the request's outcome.  So unless the request goes out again, stop
 * sending (the rest of the body is taken and dropped) and read on: the
 * answer, or the EOF or error that makes the connection broken. */
static void send_failed(struct pd_exchange *x)
{
	if (!x->sent_any || retryable(x, false)) {
		conn_broke(x, "send");
		return;
	}
	x->req_discard = true;
	x->replayable = false;
	x->send_pos = x->send_len = 0;
}

/* Send what is buffered and take more request frames.  Returns whether
 * anything moved. */
static bool pump_request(struct pd_exchange *x, bool *writable)
{
	bool moved = false;
	for (;;) {
		if (x->send_pos < x->send_len) {
			if (x->req_discard || x->conn->state == PD_CONN_CLOSED) {
				x->send_pos = x->send_len = 0; /* nobody to send it to */
				x->replayable = false;
				continue;
			}
			if (x->conn->state != PD_CONN_OPEN)
				return moved; /* still connecting */
			ssize_t n = pd_conn_send(x->conn, x->sendbuf + x->send_pos, x->send_len - x->send_pos);
			if (n == PD_CONN_AGAIN) {
				x->want_write = true;
				*writable = false;
				return moved;
			}
			if (n < 0) {
				send_failed(x);
				return true;
			}
			x->send_pos += (uint32_t)n;
			x->sent_any = true;
			moved = true;
			continue;
		}
		if (x->req_end || !x->seat)
			return moved;
		/* Room for one more BODY frame with its chunk framing? */
		if (x->send_cap - x->send_len < x->chunk + 32) {
			x->send_len = x->send_pos = 0;
			x->replayable = false; /* the start of the request is gone */
		}
		struct pp_frame f;
		int r = pd_seat_take(x->seat, x->scratch, &f);
		if (r == 0) {
			x->want_req = true;
			return moved;
		}
		if (r < 0) {
			ring_broken(x, "garbage in the request ring");
			return true;
		}
		body_frame(x, &f);
		moved = true;
	}
}

/* ---- the response side --------------------------------------------------- */

/* Publish the batch if it fits now.  Returns false when it must wait. */
static bool publish(struct pd_exchange *x)
{
	if (!x->out.len || !x->seat)
		return true;
	ssize_t room = pd_seat_room(x->seat);
	if (room < 0) {
		x->out.len = 0;
		x->seat->broken = true;
		x->error_pending = x->end_held = false;
		return true;
	}
	if ((size_t)room < x->out.len) {
		x->want_resp = true;
		x->resp_need = x->out.len; /* <= pp_frame_max: fits the ring */
		return false;
	}
	if (pd_seat_publish(x->seat, x->out.mem.buf, x->out.len) != 0)
		x->seat->broken = true;
	x->out.len = 0;
	return true;
}

/* How many bytes one read may take so that its frames fit the response
 * ring now; 0: wait for the worker to read. */
static size_t read_budget(struct pd_exchange *x)
{
	if (!x->seat)
		return x->recv_cap;
	ssize_t room = pd_seat_room(x->seat);
	if (room < 0)
		return 0;
	size_t r = (size_t)room, frames = r / x->chunk + 3;
	size_t over = HEAD_RESERVE + frames * PP_FRAME_BODY_OVERHEAD;
	if (r < over + RECV_MIN)
		return 0;
	r -= over;
	return r < x->recv_cap ? r : x->recv_cap;
}

/* The room read_budget needs to read RECV_MIN bytes, whatever the room
 * (its frames counted for a whole ring), at most the ring.  The loop must
 * not run the exchange again for less (pd_wants.resp_room): it would find
 * nothing to do, and a loop that always has something to run never polls
 * the sockets of its other exchanges. */
static uint32_t read_room_min(const struct pd_exchange *x)
{
	uint32_t cap = x->d->seg.ring_size;
	uint32_t need = HEAD_RESERVE + (cap / x->chunk + 3) * PP_FRAME_BODY_OVERHEAD + RECV_MIN;
	return need < cap ? need : cap;
}

/* The response is complete; `extra` bytes followed it in the same read. */
static void resp_complete(struct pd_exchange *x, size_t extra)
{
	x->resp_done = true;
	x->keep_conn = x->parser.keep_alive && !extra && x->req_end && !x->req_discard &&
		       x->send_pos == x->send_len;
	if (extra)
		pd_warn("connection %u: %zu byte(s) after a complete response; closing it", x->conn->idx, extra);
	if (!x->req_end)
		x->req_discard = true; /* answered before the request was all sent: drop the rest */
	if (!x->seat)
		return;
	struct pp_frame end = { .type = PP_FRAME_END };
	if (flush_stage(x) != 0 || (x->req_end && batch(x, &end) != 0))
		fail(x, PP_EPROTO, "cannot frame the response", false);
	else if (!x->req_end)
		x->end_held = true; /* batched by pump_response once req_end (see end_held) */
}

/* May this attempt go out again on a fresh connection? */
static bool retryable(const struct pd_exchange *x, bool before_any_byte)
{
	return x->reused && x->attempts == 1 && !x->resp_started && x->replayable && !x->req_discard &&
	       !x->failed && (before_any_byte || x->idempotent);
}

/* The connection failed under us (reset, EOF before an answer, TLS). */
static void conn_broke(struct pd_exchange *x, const char *what)
{
	bool before = !x->sent_any;
	char why[300];
	snprintf(why, sizeof why, "connection %u: %s: %s", x->conn->idx, what, x->conn->errbuf[0] ? x->conn->errbuf : "closed");
	if (retryable(x, before)) {
		pd_debug("%s on a reused connection; sending the request again on a new one", why);
		pd_conn_close(x->conn, why);
		x->attempts++;
		x->send_pos = 0;
		x->sent_any = false;
		open_conn(x, x->node);
		return;
	}
	fail(x, PP_EBACKEND, x->resp_started ? "PhantomDB connection broke in the middle of the response"
					     : "PhantomDB closed the connection without answering", false);
	(void)why;
}

/* Feed one read's bytes to the parser. */
static void parse(struct pd_exchange *x, size_t n)
{
	size_t used;
	x->resp_started = true;
	enum pd_http_result r = pd_http_resp_feed(&x->parser, x->recvbuf, n, &used);
	if (r == PD_HTTP_MORE && flush_stage(x) != 0)
		r = PD_HTTP_SINK;
	if (r == PD_HTTP_DONE)
		resp_complete(x, n - used);
	else if (r == PD_HTTP_ERROR)
		fail(x, PP_EPROTO, x->parser.why, false);
	else if (r == PD_HTTP_SINK && x->rid_mismatch)
		fail(x, PP_EPROTO, "the response carries another request's X-Request-Id", false);
	else if (r == PD_HTTP_SINK)
		fail(x, PP_EPROTO, "cannot frame the response", false);
}

/* EOF on the connection. */
static void at_eof(struct pd_exchange *x)
{
	if (!x->resp_started) {
		snprintf(x->conn->errbuf, sizeof x->conn->errbuf, "closed by the backend");
		conn_broke(x, "recv");
		return;
	}
	enum pd_http_result r = pd_http_resp_eof(&x->parser);
	if (r == PD_HTTP_DONE) {
		resp_complete(x, 0);
		x->keep_conn = false;
	} else if (r == PD_HTTP_SINK) {
		fail(x, PP_EPROTO, "cannot frame the response", false);
	} else {
		fail(x, PP_EBACKEND, x->parser.why, false);
	}
}

/* Read, parse and frame what the connection has.  Returns whether
 * anything moved. */
static bool pump_response(struct pd_exchange *x, bool *readable)
{
	/* The exchange's last frame (END or ERROR) goes out only after the
	 * request's END was taken (see end_held): a backend may answer before
	 * the whole request went out, and its ring must be empty by the time
	 * the worker sees the exchange end. */
	if (x->end_held && x->req_end) {
		struct pp_frame end = { .type = PP_FRAME_END };
		if (batch(x, &end) != 0 && (!publish(x) || batch(x, &end) != 0))
			return false; /* no room in `out` yet: publish() waits for the ring */
		x->end_held = false;
	}
	if (x->error_pending && x->req_end) {
		struct pp_frame f = { .type = PP_FRAME_ERROR, .error = { x->code, { x->why, (uint32_t)strlen(x->why) } } };
		if (f.error.message.len > PP_FRAME_MESSAGE_MAX)
			f.error.message.len = PP_FRAME_MESSAGE_MAX;
		/* After what the worker already has of the response. */
		if (x->out.mem.cap - x->out.len < PP_FRAME_MESSAGE_MAX + 64 && !publish(x))
			return false;
		x->error_pending = false;
		if (batch(x, &f) != 0)
			x->seat->broken = true;
	}
	if (x->out.len && !publish(x))
		return false;
	if (x->resp_done || x->conn->state != PD_CONN_OPEN)
		return false;
	if (x->conn->read_blocked && !*readable) {
		x->want_read = true;
		return false;
	}
	size_t budget = read_budget(x);
	if (!budget) {
		x->want_resp = true;
		x->resp_need = read_room_min(x);
		return false;
	}
	ssize_t n = pd_conn_recv(x->conn, x->recvbuf, budget);
	if (n == PD_CONN_AGAIN) {
		*readable = false;
		x->want_read = true;
		return false;
	}
	if (n == PD_CONN_ERROR)
		conn_broke(x, "recv");
	else if (n == 0)
		at_eof(x);
	else
		parse(x, (size_t)n);
	publish(x);
	return true;
}

/* ---- running ------------------------------------------------------------- */

static bool over(const struct pd_exchange *x)
{
	return x->resp_done && !x->error_pending && !x->end_held && !x->out.len && (x->req_end || !x->seat);
}

/* The deadline passed. */
static void expire(struct pd_exchange *x)
{
	if (!x->failed && x->resp_done) {
		/* Answered in full; the worker has not sent its END yet. */
		x->failed = true;
		x->deadline_ns = pp_now_ns() + DRAIN_GRACE_MS * PP_NS_PER_MS;
		return;
	}
	if (!x->failed) {
		char why[96];
		snprintf(why, sizeof why, "no complete answer within %llu ms",
			 (unsigned long long)((x->deadline_ns - x->t0) / PP_NS_PER_MS));
		fail(x, PP_ETIMEDOUT, why, false);
		return;
	}
	/* Failed, and the worker neither sent its END nor read its answer in
	 * time: the rings cannot be used again until the slot is reset. */
	if (x->seat) {
		pd_warn("slot %u: the worker did not finish the failed exchange; the slot is reset when its holder lets go",
			x->seat->idx);
		x->seat->broken = true;
	}
	x->out.len = 0;
	x->error_pending = x->end_held = false; /* nothing more goes to these rings */
	x->req_end = true;
}

/* The first time an exchange waits for its worker (the next request
 * frame, room in the response ring), the pool's `escalations` counts it. */
static void note_worker_wait(struct pd_exchange *x)
{
	if ((x->want_req || x->want_resp) && x->seat && !x->waited_worker) {
		x->waited_worker = true;
		atomic_fetch_add_explicit(&x->d->seg.hdr->escalations, 1, memory_order_relaxed);
	}
}

void pd_exchange_run(struct pd_exchange *x, short revents)
{
	if (!x->active)
		return;
	struct pd_conn *c = x->conn;
	x->want_read = x->want_write = x->want_req = x->want_resp = false;
	bool readable = revents & (POLLIN | POLLHUP | POLLERR), writable = revents & (POLLOUT | POLLERR);
	if (c->state == PD_CONN_CONNECTING && !x->failed) {
		int ev = (revents & POLLIN ? CURL_CSELECT_IN : 0) | (revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
			 (revents & (POLLERR | POLLHUP) ? CURL_CSELECT_ERR : 0);
		enum pd_connect_result r = pd_conn_connect_step(c, ev);
		if (r != PD_CONNECT_PENDING)
			connect_outcome(x, r);
		readable = writable = false;
	}
	if (pp_now_ns() >= x->deadline_ns)
		expire(x);
	for (int guard = 0; guard < 256; guard++) {
		x->want_read = x->want_write = x->want_req = x->want_resp = false;
		bool moved = pump_request(x, &writable);
		moved |= pump_response(x, &readable);
		if (over(x)) {
			finish(x);
			return;
		}
		if (c->state == PD_CONN_CONNECTING && !x->failed) {
			enum pd_connect_result r = pd_conn_connect_step(c, 0);
			if (r == PD_CONNECT_PENDING)
				return;
			connect_outcome(x, r);
			moved = true;
		}
		if (!moved) {
			note_worker_wait(x);
			return;
		}
	}
	/* A long run of work (a big body): let the loop serve others; it
	 * comes back at once (wants: nothing to wait for). */
	x->want_read = x->want_write = x->want_req = x->want_resp = false;
}

void pd_exchange_wants(const struct pd_exchange *x, struct pd_wants *w)
{
	*w = (struct pd_wants){ .fd = -1, .deadline_ns = x->deadline_ns };
	const struct pd_conn *c = x->conn;
	if (c->state == PD_CONN_CONNECTING) {
		w->fd = pd_conn_poll_fd(c, &w->events);
		if (*c->timer_ns && *c->timer_ns < w->deadline_ns)
			w->deadline_ns = *c->timer_ns;
		if (c->connect_deadline_ns < w->deadline_ns)
			w->deadline_ns = c->connect_deadline_ns;
		if (c->connect_done)
			w->deadline_ns = 0; /* another connection's step saw it end */
	} else if (c->state == PD_CONN_OPEN && (x->want_read || x->want_write)) {
		w->fd = (int)c->sock;
		w->events = (short)((x->want_read ? POLLIN : 0) | (x->want_write ? POLLOUT : 0));
	}
	w->req_ring = x->want_req;
	w->resp_ring = x->want_resp;
	w->resp_room = x->want_resp ? x->resp_need : 0;
	/* Neither a socket nor a ring to wait for, yet not over: run again now. */
	if (w->fd < 0 && !w->req_ring && !w->resp_ring && c->state != PD_CONN_CONNECTING)
		w->deadline_ns = 0;
}

void pd_exchange_abort(struct pd_exchange *x, int code)
{
	if (!x->active)
		return;
	if (x->conn_used && x->conn->state != PD_CONN_CLOSED)
		pd_conn_close(x->conn, code == PP_ESHUTDOWN ? "daemon stopping" : "slot reset mid-exchange");
	x->failed = true;
	x->code = code;
	x->keep_conn = false;
	x->out.len = 0;
	x->error_pending = false;
	finish(x);
}
