/* test_frame.c - msgpack frames: round trips, limits, validation helpers,
 * truncated and hostile input, frames wrapped across the ring's end. */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "frame_put.h"
#include "phantompool.h"
#include "ring.h"
#include "testutil.h"
#include "xfer.h"

#define CAP (64u << 10)

static uint8_t ring_data[CAP];
static struct pp_ring_ctl ring_ctl;
static uint8_t scratch[PP_FRAME_MAX_ABS];

static struct pp_ring fresh_ring(uint32_t cap)
{
	struct pp_ring r;
	pp_ring_reset(&ring_ctl);
	CU_ASSERT_FATAL(pp_ring_init_view(&r, &ring_ctl, ring_data, cap) == 0);
	return r;
}

static struct pp_str cstr(const char *s)
{
	return (struct pp_str){ s, (uint32_t)strlen(s) };
}

static int str_eq(struct pp_str a, const char *b)
{
	return a.len == strlen(b) && memcmp(a.ptr, b, a.len) == 0;
}

/* A string of n copies of c in a static buffer. */
static struct pp_str filled(char c, uint32_t n)
{
	static char buf[8][PP_FRAME_PATH_MAX + 8];
	static int next;
	char *b = buf[next++ % 8];
	memset(b, c, n);
	if (n && c == '/')
		memset(b + 1, 'a', n - 1);
	return (struct pp_str){ b, n };
}

/* The frames of each type, put through the production path (frame_put.h):
 * returns 0 or a PP_E* code. */
static int put(struct pp_ring *r, const struct pp_frame *f)
{
	return pp_test_put_frame(r, f, 0);
}

static int put_req_head(struct pp_ring *r, struct pp_str method, struct pp_str path, const struct pp_hdr *headers,
			uint32_t nheaders, int64_t body_len, uint32_t timeout_ms)
{
	struct pp_frame f = { .type = PP_FRAME_REQ_HEAD };
	f.req.method = method;
	f.req.path = path;
	f.req.nheaders = nheaders; /* over the limit: refused before the headers are read */
	for (uint32_t i = 0; i < nheaders && i < PP_FRAME_HEADERS_MAX; i++)
		f.req.headers[i] = headers[i];
	f.req.body_len = body_len;
	f.req.timeout_ms = timeout_ms;
	return put(r, &f);
}

static int put_resp_head(struct pp_ring *r, int status, const struct pp_hdr *headers, uint32_t nheaders,
			 int64_t content_len)
{
	struct pp_frame f = { .type = PP_FRAME_RESP_HEAD };
	f.resp.status = status;
	f.resp.nheaders = nheaders;
	for (uint32_t i = 0; headers && i < nheaders && i < PP_FRAME_HEADERS_MAX; i++)
		f.resp.headers[i] = headers[i];
	f.resp.content_len = content_len;
	return put(r, &f);
}

static int put_body(struct pp_ring *r, const void *data, size_t len)
{
	struct pp_frame f = { .type = PP_FRAME_BODY, .body = { data, (uint32_t)len } };
	return put(r, &f);
}

static int put_end(struct pp_ring *r)
{
	struct pp_frame f = { .type = PP_FRAME_END };
	return put(r, &f);
}

static int put_error(struct pp_ring *r, int code, struct pp_str message)
{
	struct pp_frame f = { .type = PP_FRAME_ERROR, .error = { code, message } };
	return put(r, &f);
}

/* Put f into a fresh ring and take it back out. */
static int ring_round_trip(const struct pp_frame *f, struct pp_frame *out)
{
	struct pp_ring r = fresh_ring(CAP);
	int rc = put(&r, f);
	if (rc)
		return rc;
	rc = pp_frame_take(&r, scratch, sizeof scratch, out);
	CU_ASSERT_EQUAL(pp_ring_readable(&r), 0);
	return rc;
}

/* ---- round trips --------------------------------------------------------- */

static void test_round_trip_req_head(void)
{
	struct pp_hdr h[2] = { { cstr("Content-Type"), cstr("application/json") },
			       { cstr("X-Empty"), cstr("") } };
	struct pp_ring r = fresh_ring(CAP);
	struct pp_frame f;
	CU_ASSERT_EQUAL(put_req_head(&r, cstr("POST"), cstr("/db/t?x=1&y=%20"), h, 2,
					      -1, 2500),
			0);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &f), 1);
	CU_ASSERT_EQUAL(f.type, PP_FRAME_REQ_HEAD);
	CU_ASSERT(str_eq(f.req.method, "POST"));
	CU_ASSERT(str_eq(f.req.path, "/db/t?x=1&y=%20"));
	CU_ASSERT_EQUAL(f.req.nheaders, 2u);
	CU_ASSERT(str_eq(f.req.headers[0].name, "Content-Type"));
	CU_ASSERT(str_eq(f.req.headers[0].value, "application/json"));
	CU_ASSERT(str_eq(f.req.headers[1].name, "X-Empty"));
	CU_ASSERT_EQUAL(f.req.headers[1].value.len, 0u);
	CU_ASSERT_EQUAL(f.req.body_len, -1);
	CU_ASSERT_EQUAL(f.req.timeout_ms, 2500u);
	CU_ASSERT_EQUAL(f.wire_len, (uint32_t)ring_ctl.head);
	CU_ASSERT_STRING_EQUAL(pp_frame_type_name(f.type), "REQ_HEAD");

	/* big values, max timeout, through the flat encoder/decoder */
	uint8_t buf[PP_FRAME_MAX_ABS];
	struct pp_frame g = { .type = PP_FRAME_REQ_HEAD };
	g.req.method = cstr("GET");
	g.req.path = cstr("/");
	g.req.body_len = INT64_MAX;
	g.req.timeout_ms = UINT32_MAX;
	ssize_t n = pp_frame_encode(&g, buf, sizeof buf);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(pp_frame_decode(buf, (size_t)n, &f), 1);
	CU_ASSERT_EQUAL(f.req.body_len, INT64_MAX);
	CU_ASSERT_EQUAL(f.req.timeout_ms, UINT32_MAX);
	CU_ASSERT_EQUAL(f.req.nheaders, 0u);
	CU_ASSERT_EQUAL(f.wire_len, (uint32_t)n);
}

static void test_round_trip_others(void)
{
	struct pp_frame in, f;
	static uint8_t body[PP_FRAME_CHUNK_MAX];
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (uint8_t)(i * 31);

	/* BODY, every size class of bin */
	static const uint32_t sizes[] = { 0, 1, 255, 256, 65535 & (PP_FRAME_CHUNK_MAX - 1),
					  PP_FRAME_CHUNK_MAX };
	for (size_t i = 0; i < PP_ARRAY_LEN(sizes); i++) {
		in = (struct pp_frame){ .type = PP_FRAME_BODY };
		in.body.data = body;
		in.body.len = sizes[i];
		CU_ASSERT_EQUAL(ring_round_trip(&in, &f), 1);
		CU_ASSERT_EQUAL(f.type, PP_FRAME_BODY);
		CU_ASSERT_EQUAL(f.body.len, sizes[i]);
		CU_ASSERT(f.body.len == 0 || memcmp(f.body.data, body, f.body.len) == 0);
		CU_ASSERT(f.wire_len <= sizes[i] + PP_FRAME_BODY_OVERHEAD);
	}

	in = (struct pp_frame){ .type = PP_FRAME_END };
	CU_ASSERT_EQUAL(ring_round_trip(&in, &f), 1);
	CU_ASSERT_EQUAL(f.type, PP_FRAME_END);
	CU_ASSERT_EQUAL(f.wire_len, 6u); /* prefix + fixarray + fixint */

	struct pp_hdr h[1] = { { cstr("ETag"), cstr("\"abc\"\tx") } };
	struct pp_ring r = fresh_ring(CAP);
	CU_ASSERT_EQUAL(put_resp_head(&r, 204, h, 1, 0), 0);
	CU_ASSERT_EQUAL(put_resp_head(&r, 999, NULL, 0, -1), 0);
	CU_ASSERT_EQUAL(put_error(&r, -7, cstr("backend down")), 0);
	CU_ASSERT_EQUAL(put_error(&r, PP_ENOLIB, cstr("")), 0);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &f), 1);
	CU_ASSERT_EQUAL(f.type, PP_FRAME_RESP_HEAD);
	CU_ASSERT_EQUAL(f.resp.status, 204);
	CU_ASSERT_EQUAL(f.resp.nheaders, 1u);
	CU_ASSERT(str_eq(f.resp.headers[0].value, "\"abc\"\tx"));
	CU_ASSERT_EQUAL(f.resp.content_len, 0);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &f), 1);
	CU_ASSERT_EQUAL(f.resp.status, 999);
	CU_ASSERT_EQUAL(f.resp.content_len, -1);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &f), 1);
	CU_ASSERT_EQUAL(f.type, PP_FRAME_ERROR);
	CU_ASSERT_EQUAL(f.error.code, -7);
	CU_ASSERT(str_eq(f.error.message, "backend down"));
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &f), 1);
	CU_ASSERT_EQUAL(f.error.code, PP_ENOLIB);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &f), 0);

	CU_ASSERT_STRING_EQUAL(pp_frame_type_name(PP_FRAME_ERROR), "ERROR");
	CU_ASSERT_PTR_NULL(pp_frame_type_name(0));
	CU_ASSERT_PTR_NULL(pp_frame_type_name(6));
	CU_ASSERT_PTR_NULL(pp_frame_type_name(-1));
}

/* ---- limits: each limit ok, limit + 1 rejected, by encoder and decoder --- */

/* A raw frame from a msgpack sbuffer (lets tests break the rules). */
struct raw {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void raw_begin(struct raw *w)
{
	msgpack_sbuffer_init(&w->sb);
	msgpack_sbuffer_write(&w->sb, "\0\0\0\0", 4);
	msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
}

/* Fix the prefix, decode, free; returns pp_frame_decode()'s answer. */
static int raw_decode(struct raw *w)
{
	struct pp_frame f;
	uint32_t n = (uint32_t)w->sb.size - 4;
	w->sb.data[0] = (char)n;
	w->sb.data[1] = (char)(n >> 8);
	w->sb.data[2] = (char)(n >> 16);
	w->sb.data[3] = (char)(n >> 24);
	int rc = pp_frame_decode((const uint8_t *)w->sb.data, w->sb.size, &f);
	msgpack_sbuffer_destroy(&w->sb);
	return rc;
}

static void raw_str(struct raw *w, struct pp_str s)
{
	msgpack_pack_str(&w->pk, s.len);
	msgpack_pack_str_body(&w->pk, s.ptr, s.len);
}

/* A REQ_HEAD with the given pieces, packed without any checking. */
static int raw_req_head(struct pp_str method, struct pp_str path, uint32_t nh,
			struct pp_str hname, struct pp_str hvalue)
{
	struct raw w;
	raw_begin(&w);
	msgpack_pack_array(&w.pk, 6);
	msgpack_pack_uint8(&w.pk, PP_FRAME_REQ_HEAD);
	raw_str(&w, method);
	raw_str(&w, path);
	msgpack_pack_array(&w.pk, nh);
	for (uint32_t i = 0; i < nh; i++) {
		msgpack_pack_array(&w.pk, 2);
		raw_str(&w, hname);
		raw_str(&w, hvalue);
	}
	msgpack_pack_int64(&w.pk, 0);
	msgpack_pack_uint32(&w.pk, 0);
	return raw_decode(&w);
}

static int put_req(struct pp_str method, struct pp_str path, uint32_t nh, struct pp_str hname,
		   struct pp_str hvalue)
{
	static struct pp_hdr h[PP_FRAME_HEADERS_MAX + 1];
	for (uint32_t i = 0; i < nh && i < PP_ARRAY_LEN(h); i++)
		h[i] = (struct pp_hdr){ hname, hvalue };
	struct pp_ring r = fresh_ring(CAP);
	return put_req_head(&r, method, path, h, nh, 0, 0);
}

static void test_limits_req_head(void)
{
	struct pp_str m = cstr("GET"), p = cstr("/"), hn = cstr("X"), hv = cstr("v");

	CU_ASSERT_EQUAL(put_req(filled('M', 16), p, 0, hn, hv), 0);
	CU_ASSERT_EQUAL(put_req(filled('M', 17), p, 0, hn, hv), PP_ETOOBIG);
	CU_ASSERT_EQUAL(raw_req_head(filled('M', 16), p, 0, hn, hv), 1);
	CU_ASSERT_EQUAL(raw_req_head(filled('M', 17), p, 0, hn, hv), -EPROTO);

	CU_ASSERT_EQUAL(put_req(m, filled('/', 4096), 0, hn, hv), 0);
	CU_ASSERT_EQUAL(put_req(m, filled('/', 4097), 0, hn, hv), PP_ETOOBIG);
	CU_ASSERT_EQUAL(raw_req_head(m, filled('/', 4096), 0, hn, hv), 1);
	CU_ASSERT_EQUAL(raw_req_head(m, filled('/', 4097), 0, hn, hv), -EPROTO);

	CU_ASSERT_EQUAL(put_req(m, p, 32, hn, hv), 0);
	CU_ASSERT_EQUAL(put_req(m, p, 33, hn, hv), PP_ETOOBIG);
	CU_ASSERT_EQUAL(raw_req_head(m, p, 32, hn, hv), 1);
	CU_ASSERT_EQUAL(raw_req_head(m, p, 33, hn, hv), -EPROTO);

	CU_ASSERT_EQUAL(put_req(m, p, 1, filled('N', 64), hv), 0);
	CU_ASSERT_EQUAL(put_req(m, p, 1, filled('N', 65), hv), PP_ETOOBIG);
	CU_ASSERT_EQUAL(raw_req_head(m, p, 1, filled('N', 64), hv), 1);
	CU_ASSERT_EQUAL(raw_req_head(m, p, 1, filled('N', 65), hv), -EPROTO);

	CU_ASSERT_EQUAL(put_req(m, p, 1, hn, filled('v', 1024)), 0);
	CU_ASSERT_EQUAL(put_req(m, p, 1, hn, filled('v', 1025)), PP_ETOOBIG);
	CU_ASSERT_EQUAL(raw_req_head(m, p, 1, hn, filled('v', 1024)), 1);
	CU_ASSERT_EQUAL(raw_req_head(m, p, 1, hn, filled('v', 1025)), -EPROTO);

	/* everything at its maximum at once still fits a 64 KiB ring */
	CU_ASSERT_EQUAL(put_req(filled('M', 16), filled('/', 4096), 32, filled('N', 64),
				filled('v', 1024)),
			0);
	CU_ASSERT_EQUAL(raw_req_head(filled('M', 16), filled('/', 4096), 32, filled('N', 64),
				     filled('v', 1024)),
			1);

	/* bad content: PP_EINVAL from the encoder, -EPROTO from the decoder */
	CU_ASSERT_EQUAL(put_req(cstr("GE T"), p, 0, hn, hv), PP_EINVAL);
	CU_ASSERT_EQUAL(raw_req_head(cstr("GE T"), p, 0, hn, hv), -EPROTO);
	CU_ASSERT_EQUAL(put_req(m, cstr("/a b"), 0, hn, hv), PP_EINVAL);
	CU_ASSERT_EQUAL(raw_req_head(m, cstr("/a\r\nHost: x"), 0, hn, hv), -EPROTO);
	CU_ASSERT_EQUAL(put_req(m, p, 1, cstr("Bad:Name"), hv), PP_EINVAL);
	CU_ASSERT_EQUAL(put_req(m, p, 1, hn, cstr("v\r\nX-Injected: 1")), PP_EINVAL);
	CU_ASSERT_EQUAL(raw_req_head(m, p, 1, hn, cstr("v\r\nX-Injected: 1")), -EPROTO);
	CU_ASSERT_EQUAL(put_req(m, p, 1, cstr(""), hv), PP_EINVAL);

	struct pp_ring r = fresh_ring(CAP);
	CU_ASSERT_EQUAL(put_req_head(&r, m, p, NULL, 0, -2, 0), PP_EINVAL);
	CU_ASSERT_EQUAL(ring_ctl.head, 0u); /* nothing written on failure */
}

static void test_limits_others(void)
{
	static uint8_t body[PP_FRAME_CHUNK_MAX + 1];
	struct pp_ring r = fresh_ring(CAP);
	CU_ASSERT_EQUAL(put_body(&r, body, PP_FRAME_CHUNK_MAX), 0);
	CU_ASSERT_EQUAL(put_body(&r, body, PP_FRAME_CHUNK_MAX + 1), PP_ETOOBIG);
	CU_ASSERT_EQUAL(put_body(&r, NULL, 1), PP_EINVAL);
	CU_ASSERT_EQUAL(put_body(&r, NULL, 0), 0);
	/* a small ring has a small chunk: cap/4 */
	r = fresh_ring(4096);
	CU_ASSERT_EQUAL(pp_frame_chunk(4096), 1024u);
	CU_ASSERT_EQUAL(put_body(&r, body, 1024), 0);
	CU_ASSERT_EQUAL(put_body(&r, body, 1025), PP_ETOOBIG);

	r = fresh_ring(CAP);
	CU_ASSERT_EQUAL(put_resp_head(&r, 99, NULL, 0, 0), PP_EINVAL);
	CU_ASSERT_EQUAL(put_resp_head(&r, 1000, NULL, 0, 0), PP_EINVAL);
	CU_ASSERT_EQUAL(put_resp_head(&r, 100, NULL, 0, -2), PP_EINVAL);
	CU_ASSERT_EQUAL(put_resp_head(&r, 200, NULL, 33, 0), PP_ETOOBIG);
	CU_ASSERT_EQUAL(put_error(&r, 0, cstr("x")), PP_EINVAL);
	CU_ASSERT_EQUAL(put_error(&r, 5, cstr("x")), PP_EINVAL);
	CU_ASSERT_EQUAL(put_error(&r, INT32_MIN, cstr("x")), PP_EINVAL);
	CU_ASSERT_EQUAL(put_error(&r, PP_ENOLIB - 1, cstr("x")), PP_EINVAL);
	CU_ASSERT_EQUAL(put_error(&r, -1, filled('m', 256)), 0);
	CU_ASSERT_EQUAL(put_error(&r, -1, filled('m', 257)), PP_ETOOBIG);
	struct pp_frame bad = { .type = 9 };
	CU_ASSERT_EQUAL(put(&r, &bad), PP_EINVAL);

	/* decoder side */
	struct raw w;
	raw_begin(&w); /* BODY over the chunk limit */
	msgpack_pack_array(&w.pk, 2);
	msgpack_pack_uint8(&w.pk, PP_FRAME_BODY);
	msgpack_pack_bin(&w.pk, PP_FRAME_CHUNK_MAX + 1);
	msgpack_pack_bin_body(&w.pk, body, PP_FRAME_CHUNK_MAX + 1);
	CU_ASSERT_EQUAL(raw_decode(&w), -EPROTO);
	static const int statuses[][2] = { { 99, -EPROTO }, { 100, 1 }, { 999, 1 }, { 1000, -EPROTO } };
	for (size_t i = 0; i < PP_ARRAY_LEN(statuses); i++) {
		raw_begin(&w);
		msgpack_pack_array(&w.pk, 4);
		msgpack_pack_uint8(&w.pk, PP_FRAME_RESP_HEAD);
		msgpack_pack_int(&w.pk, statuses[i][0]);
		msgpack_pack_array(&w.pk, 0);
		msgpack_pack_int(&w.pk, -1);
		CU_ASSERT_EQUAL(raw_decode(&w), statuses[i][1]);
	}
	raw_begin(&w); /* message 257 */
	msgpack_pack_array(&w.pk, 3);
	msgpack_pack_uint8(&w.pk, PP_FRAME_ERROR);
	msgpack_pack_int(&w.pk, -3);
	raw_str(&w, filled('m', 257));
	CU_ASSERT_EQUAL(raw_decode(&w), -EPROTO);
	raw_begin(&w); /* code 0 */
	msgpack_pack_array(&w.pk, 3);
	msgpack_pack_uint8(&w.pk, PP_FRAME_ERROR);
	msgpack_pack_int(&w.pk, 0);
	raw_str(&w, cstr("x"));
	CU_ASSERT_EQUAL(raw_decode(&w), -EPROTO);
}

/* A frame too large for the ring: PP_ETOOBIG; not enough space now:
 * PP_ETIMEDOUT (put does not wait), and nothing is written. */
static void test_put_space(void)
{
	struct pp_ring r = fresh_ring(256);
	CU_ASSERT_EQUAL(pp_frame_max(256), 256u);
	CU_ASSERT_EQUAL(pp_frame_max(1u << 20), PP_FRAME_MAX_ABS);
	CU_ASSERT_EQUAL(put_req_head(&r, cstr("GET"), filled('/', 300), NULL, 0, 0, 0),
			PP_ETOOBIG);
	CU_ASSERT_EQUAL(put_req_head(&r, cstr("GET"), filled('/', 240), NULL, 0, 0, 0), 0);
	uint32_t used = ring_ctl.head;
	CU_ASSERT(used <= 256 && used > 240);
	CU_ASSERT_EQUAL(put_error(&r, -1, cstr("does not fit now")), PP_ETIMEDOUT);
	CU_ASSERT_EQUAL(ring_ctl.head, used);
	CU_ASSERT_EQUAL(pp_frame_wait_space(&r, 0, 0, 0), -ETIMEDOUT);
	struct pp_frame f;
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, 100, &f), -ENOBUFS); /* scratch too small: left in place */
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, 256, &f), 1);
	CU_ASSERT_EQUAL(pp_frame_wait_space(&r, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(put_error(&r, -1, cstr("does not fit now")), 0);
	CU_ASSERT_EQUAL(pp_frame_encode(&f, scratch, 5), -EMSGSIZE);
}

/* Buffers that start small (xfer.h: struct pp_buf): a batch grows to the
 * ring's largest frame for a frame that does not fit it empty, a take
 * grows its scratch for a frame longer than it (-ENOBUFS from
 * pp_frame_take, the frame left in place), and neither grows past the
 * largest frame: a frame the ring can never carry is still PP_ETOOBIG. */
static void test_growing_buffers(void)
{
	struct pp_ring r = fresh_ring(CAP);
	struct pp_xfer x = { .ring = &r, .deadline_ns = 0 };
	struct pp_batch b = { .mem = { .buf = malloc(16), .cap = 16 } };
	struct pp_buf sc = { .buf = malloc(8), .cap = 8 };
	CU_ASSERT_FATAL(b.mem.buf && sc.buf);
	struct pp_frame f = { .type = PP_FRAME_REQ_HEAD };
	f.req.method = cstr("GET");
	f.req.path = filled('/', 3000);
	f.req.body_len = 0;
	CU_ASSERT_EQUAL(pp_xfer_add(&x, &b, &f), 0);
	CU_ASSERT_EQUAL(b.mem.cap, pp_frame_max(CAP));
	CU_ASSERT(b.len > 3000);
	struct pp_frame end = { .type = PP_FRAME_END };
	CU_ASSERT_EQUAL(pp_xfer_add(&x, &b, &end), 0); /* batched behind it */
	CU_ASSERT_EQUAL(pp_xfer_flush(&x, &b), 0);
	struct pp_frame g;
	CU_ASSERT_EQUAL(pp_frame_take(&r, sc.buf, sc.cap, &g), -ENOBUFS);
	CU_ASSERT(pp_frame_ready(&r)); /* still there */
	CU_ASSERT_EQUAL(pp_xfer_take(&x, &sc, &g), 0);
	CU_ASSERT_EQUAL(sc.cap, pp_frame_max(CAP));
	CU_ASSERT_EQUAL(g.type, PP_FRAME_REQ_HEAD);
	CU_ASSERT_EQUAL(g.req.path.len, 3000);
	CU_ASSERT_EQUAL(pp_xfer_take(&x, &sc, &g), 0);
	CU_ASSERT_EQUAL(g.type, PP_FRAME_END);
	/* Small again: a small frame neither grows a small buffer nor needs a large one. */
	struct pp_batch small = { .mem = { .buf = malloc(64), .cap = 64 } };
	CU_ASSERT_FATAL(small.mem.buf != NULL);
	CU_ASSERT_EQUAL(pp_xfer_add(&x, &small, &end), 0);
	CU_ASSERT_EQUAL(small.mem.cap, 64);
	CU_ASSERT_EQUAL(pp_xfer_flush(&x, &small), 0);
	/* Never past the ring's largest frame. */
	struct pp_ring r2 = fresh_ring(256);
	struct pp_xfer x2 = { .ring = &r2, .deadline_ns = 0 };
	struct pp_batch b2 = { .mem = { .buf = malloc(16), .cap = 16 } };
	CU_ASSERT_FATAL(b2.mem.buf != NULL);
	f.req.path = filled('/', 300);
	CU_ASSERT_EQUAL(pp_xfer_add(&x2, &b2, &f), PP_ETOOBIG);
	CU_ASSERT_EQUAL(b2.mem.cap, pp_frame_max(256));
	CU_ASSERT_EQUAL(b2.len, 0);
	free(b.mem.buf);
	free(sc.buf);
	free(small.mem.buf);
	free(b2.mem.buf);
}

/* ---- validation helpers ---------------------------------------------------- */

static void test_path_method_ok(void)
{
	static const char *good[] = { "/", "/health", "/db/x/rows?where=a%3D1&limit=10",
				      "/a/./b", "/\xc3\xa9", "/~user/#frag" };
	for (size_t i = 0; i < PP_ARRAY_LEN(good); i++)
		CU_ASSERT(pp_frame_path_ok(good[i], strlen(good[i])));
	static const char *bad[] = { "", "health", "//evil.example/x", "/a b", "/a\rb", "/a\nb",
				     "/a\tb", "/a\x7f", "/a\x01", " /a", "http://x/" };
	for (size_t i = 0; i < PP_ARRAY_LEN(bad); i++)
		CU_ASSERT(!pp_frame_path_ok(bad[i], strlen(bad[i])));
	CU_ASSERT(!pp_frame_path_ok("/a\0b", 4)); /* NUL inside */
	CU_ASSERT(!pp_frame_path_ok(NULL, 0));
	CU_ASSERT(pp_frame_path_ok(filled('/', 4096).ptr, 4096));
	CU_ASSERT(!pp_frame_path_ok(filled('/', 4097).ptr, 4097));

	static const char *mgood[] = { "GET", "POST", "PATCH", "M-SEARCH", "X!#$%&'*+.^_`|~9" };
	for (size_t i = 0; i < PP_ARRAY_LEN(mgood); i++)
		CU_ASSERT(pp_frame_method_ok(mgood[i], strlen(mgood[i])));
	static const char *mbad[] = { "", "GE T", "GET\r", "GET\n", "G(ET)", "G:", "G/",
				      "ABCDEFGHIJKLMNOPQ" /* 17 */ };
	for (size_t i = 0; i < PP_ARRAY_LEN(mbad); i++)
		CU_ASSERT(!pp_frame_method_ok(mbad[i], strlen(mbad[i])));
	CU_ASSERT(!pp_frame_method_ok("GE\0T", 4));

	CU_ASSERT(pp_frame_header_ok("Accept", 6, "a/b, c/d;q=0.5", 14));
	CU_ASSERT(pp_frame_header_ok("X", 1, "", 0));
	CU_ASSERT(!pp_frame_header_ok("X Y", 3, "v", 1));
	CU_ASSERT(!pp_frame_header_ok("X", 1, "v\r\n", 3));
	CU_ASSERT(!pp_frame_header_ok("X", 1, "v\0w", 3));
}

/* ---- hostile input ------------------------------------------------------------- */

static void test_truncated(void)
{
	uint8_t buf[512];
	struct pp_frame f = { .type = PP_FRAME_REQ_HEAD }, out;
	f.req.method = cstr("PUT");
	f.req.path = cstr("/tables/t1");
	ssize_t n = pp_frame_encode(&f, buf, sizeof buf);
	CU_ASSERT_FATAL(n > 8);
	for (ssize_t k = 0; k < n; k++) /* any prefix of the frame: incomplete */
		CU_ASSERT_EQUAL(pp_frame_decode(buf, (size_t)k, &out), 0);
	CU_ASSERT_EQUAL(pp_frame_decode(buf, (size_t)n, &out), 1);
	CU_ASSERT_EQUAL(pp_frame_decode(NULL, 0, &out), 0);

	/* a length prefix that cuts the msgpack short: bad msgpack */
	for (uint32_t k = 1; k < (uint32_t)n - 4; k++) {
		buf[0] = (uint8_t)k;
		CU_ASSERT_EQUAL(pp_frame_decode(buf, (size_t)n, &out), -EPROTO);
	}
	/* one that runs past the msgpack: trailing bytes */
	buf[0] = (uint8_t)(n - 4 + 1);
	uint8_t longer[512];
	memcpy(longer, buf, (size_t)n);
	longer[n] = 0x00;
	CU_ASSERT_EQUAL(pp_frame_decode(longer, (size_t)n + 1, &out), -EPROTO);
	/* zero and oversize lengths */
	static const uint8_t zero[] = { 0, 0, 0, 0, 0x91, 3 };
	CU_ASSERT_EQUAL(pp_frame_decode(zero, sizeof zero, &out), -EPROTO);
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0x91, 3 };
	CU_ASSERT_EQUAL(pp_frame_decode(huge, sizeof huge, &out), -EPROTO);
	static const uint8_t justover[] = { 0xfd, 0x0f, 0x01, 0x00 }; /* MAX_ABS - 3 */
	CU_ASSERT_EQUAL(pp_frame_decode(justover, sizeof justover, &out), -EPROTO);

	/* in a ring: a partial frame waits (0), the rest completes it (1) */
	struct pp_ring r = fresh_ring(4096);
	n = pp_frame_encode(&f, buf, sizeof buf);
	CU_ASSERT_EQUAL(pp_ring_write(&r, buf, 2), 2);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &out), 0);
	CU_ASSERT_EQUAL(pp_ring_write(&r, buf + 2, (size_t)n - 3), n - 3);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &out), 0);
	CU_ASSERT_EQUAL(pp_frame_wait(&r, 0, 0), -ETIMEDOUT); /* waits for the whole frame */
	CU_ASSERT_EQUAL(pp_ring_write(&r, buf + n - 1, 1), 1);
	CU_ASSERT_EQUAL(pp_frame_wait(&r, 0, 0), 0);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &out), 1);
	CU_ASSERT(str_eq(out.req.path, "/tables/t1"));
	/* a prefix larger than the ring's frame max: -EPROTO, nothing consumed */
	static const uint8_t big[] = { 0x00, 0x10, 0x00, 0x00 }; /* 4096 > 4096 - 4 */
	CU_ASSERT_EQUAL(pp_ring_write(&r, big, 4), 4);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &out), -EPROTO);
	CU_ASSERT_EQUAL(pp_frame_wait(&r, 0, 0), -EPROTO);
	CU_ASSERT_EQUAL(pp_ring_readable(&r), 4);
}

/* Payloads that are well-delimited but wrong. */
static void test_bad_msgpack(void)
{
	struct pp_frame out;
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
		int want;
	} cases[] = {
		{ "unknown type 99", { 0x91, 99 }, 2, -EBADMSG },
		{ "unknown type 0", { 0x91, 0 }, 2, -EBADMSG },
		{ "type uint64 huge", { 0x91, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 10,
		  -EBADMSG },
		{ "type negative", { 0x91, 0xff }, 2, -EPROTO },
		{ "type as str", { 0x91, 0xa1, '3' }, 3, -EPROTO },
		{ "not an array", { 0x03 }, 1, -EPROTO },
		{ "empty array", { 0x90 }, 1, -EPROTO },
		{ "END with a field", { 0x92, 3, 0 }, 3, -EPROTO },
		{ "BODY without field", { 0x91, 2 }, 2, -EPROTO },
		{ "BODY as str", { 0x92, 2, 0xa1, 'x' }, 4, -EPROTO },
		{ "map", { 0x81, 0x01, 0x02 }, 3, -EPROTO },
		{ "nil", { 0x92, 3, 0xc0 }, 3, -EPROTO },
		{ "float", { 0x92, 2, 0xca, 0, 0, 0, 0 }, 7, -EPROTO },
		{ "ext", { 0x92, 2, 0xd4, 1, 1 }, 5, -EPROTO },
		{ "0xc1", { 0x92, 2, 0xc1 }, 3, -EPROTO },
		{ "array32 of 4G", { 0xdd, 0xff, 0xff, 0xff, 0xff, 3 }, 6, -EPROTO },
		{ "str32 of 4G", { 0x92, 2, 0xdb, 0xff, 0xff, 0xff, 0xff, 0 }, 8, -EPROTO },
		{ "bin16 past end", { 0x92, 2, 0xc5, 0x01, 0x00, 1, 2 }, 7, -EPROTO },
		{ "too deep", { 0x91, 0x91, 0x91, 0x91, 0x01 }, 5, -EPROTO },
		{ "two objects", { 0x91, 3, 0x91, 3 }, 4, -EPROTO },
		{ "END ok", { 0x91, 3 }, 2, 1 },
		{ "END type int8", { 0x91, 0xd0, 3 }, 3, 1 },
	};
	for (size_t i = 0; i < PP_ARRAY_LEN(cases); i++) {
		uint8_t buf[32] = { (uint8_t)cases[i].len };
		memcpy(buf + 4, cases[i].bytes, cases[i].len);
		int rc = pp_frame_decode(buf, 4 + cases[i].len, &out);
		if (rc != cases[i].want)
			printf("\n  case '%s': got %d want %d\n", cases[i].what, rc, cases[i].want);
		CU_ASSERT_EQUAL(rc, cases[i].want);
	}

	/* too many objects: an array of 200 fixints */
	uint8_t many[4 + 3 + 200] = { 203, 0, 0, 0, 0xdc, 0, 200 };
	CU_ASSERT_EQUAL(pp_frame_decode(many, sizeof many, &out), -EPROTO);

	/* -EBADMSG is consumed by pp_frame_take; the stream goes on */
	struct pp_ring r = fresh_ring(4096);
	static const uint8_t unknown[] = { 2, 0, 0, 0, 0x91, 42 };
	CU_ASSERT_EQUAL(pp_ring_write(&r, unknown, sizeof unknown), (ssize_t)sizeof unknown);
	CU_ASSERT_EQUAL(put_end(&r), 0);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &out), -EBADMSG);
	CU_ASSERT_EQUAL(pp_frame_take(&r, scratch, sizeof scratch, &out), 1);
	CU_ASSERT_EQUAL(out.type, PP_FRAME_END);
}

/* Random bytes, random valid-looking prefixes, and mutated valid frames:
 * the decoder answers cleanly, and whatever it accepts re-encodes. */
static void test_random_bytes(void)
{
	static uint8_t buf[4096], again[PP_FRAME_MAX_ABS];
	uint64_t seed = 0x5eed;
	int accepted = 0;
	struct pp_hdr h[3] = { { cstr("A"), cstr("b") }, { cstr("Cc"), cstr("dd") },
			       { cstr("E"), cstr("") } };

	for (int i = 0; i < 20000; i++) {
		size_t len = pp_test_xorshift(&seed) % sizeof buf;
		int mode = i % 3;
		if (mode == 2) { /* mutate a valid frame */
			struct pp_frame f = { .type = (enum pp_frame_type)(1 + i % 5) };
			f.req.method = cstr("GET"); /* harmless for other types: union */
			if (f.type == PP_FRAME_REQ_HEAD) {
				f.req.path = cstr("/x?y=z");
				f.req.nheaders = 3;
				memcpy(f.req.headers, h, sizeof h);
			} else if (f.type == PP_FRAME_RESP_HEAD) {
				f.resp = (struct pp_frame_resp_head){ .status = 200, .nheaders = 2 };
				memcpy(f.resp.headers, h, 2 * sizeof h[0]);
			} else if (f.type == PP_FRAME_ERROR) {
				f.error = (struct pp_frame_error){ -5, cstr("oops") };
			} else if (f.type == PP_FRAME_BODY) {
				f.body = (struct pp_frame_body){ buf + 2048, 100 };
			}
			ssize_t n = pp_frame_encode(&f, buf, 2048);
			CU_ASSERT_FATAL(n > 0);
			len = (size_t)n;
			for (int k = 0, flips = 1 + (int)(pp_test_xorshift(&seed) % 4); k < flips; k++)
				buf[4 + pp_test_xorshift(&seed) % (len - 4)] = (uint8_t)pp_test_xorshift(&seed);
		} else {
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)pp_test_xorshift(&seed);
			if (mode == 1 && len >= 4) { /* a prefix that matches the length */
				uint32_t n = (uint32_t)len - 4;
				memcpy(buf, &n, 4);
				buf[4] = (uint8_t)(0x90 | (pp_test_xorshift(&seed) % 7));
			}
		}
		struct pp_frame out;
		int rc = pp_frame_decode(buf, len, &out);
		CU_ASSERT_FATAL(rc == 1 || rc == 0 || rc == -EPROTO || rc == -EBADMSG);
		if (rc == 1) {
			accepted++;
			CU_ASSERT_FATAL(out.wire_len <= len);
			ssize_t n = pp_frame_encode(&out, again, sizeof again);
			CU_ASSERT_FATAL(n > 0);
		}
	}
	printf("\n  %d of 20000 random/mutated buffers decoded to a valid frame\n", accepted);
}

/* Frames that straddle the end of the data area, at every offset. */
static void test_wrapped_frames(void)
{
	const uint32_t cap = 1024;
	uint8_t filler[1024] = { 0 };
	struct pp_ring r = fresh_ring(cap);
	struct pp_hdr h[4] = { { cstr("A"), cstr("1") },
			       { cstr("B"), cstr("22") },
			       { cstr("C"), cstr("333") },
			       { cstr("D"), cstr("4444") } };
	uint8_t body[200];
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (uint8_t)(i ^ 0x5a);

	for (uint32_t shift = 0; shift < cap; shift += 7) {
		/* move the indices so the next frame starts shift bytes before the end */
		uint32_t pos = ring_ctl.head & (cap - 1);
		uint32_t adv = (cap - shift - pos) & (cap - 1);
		CU_ASSERT_EQUAL_FATAL(pp_ring_write(&r, filler, adv), (ssize_t)adv);
		CU_ASSERT_EQUAL_FATAL(pp_ring_read(&r, filler, adv), (ssize_t)adv);
		CU_ASSERT_EQUAL_FATAL(put_req_head(&r, cstr("DELETE"), cstr("/t/42"), h, 4,
							    (int64_t)shift, shift),
				      0);
		CU_ASSERT_EQUAL_FATAL(put_body(&r, body, 1 + shift % 200), 0);
		struct pp_frame f;
		CU_ASSERT_EQUAL_FATAL(pp_frame_take(&r, scratch, sizeof scratch, &f), 1);
		CU_ASSERT(str_eq(f.req.method, "DELETE"));
		CU_ASSERT_EQUAL(f.req.nheaders, 4u);
		CU_ASSERT(str_eq(f.req.headers[3].value, "4444"));
		CU_ASSERT_EQUAL(f.req.body_len, (int64_t)shift);
		CU_ASSERT_EQUAL_FATAL(pp_frame_take(&r, scratch, sizeof scratch, &f), 1);
		CU_ASSERT_EQUAL(f.body.len, 1 + shift % 200);
		CU_ASSERT(memcmp(f.body.data, body, f.body.len) == 0);
		CU_ASSERT_EQUAL(pp_ring_readable(&r), 0);
	}
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "round_trip_req_head", test_round_trip_req_head },
		{ "round_trip_others", test_round_trip_others },
		{ "limits_req_head", test_limits_req_head },
		{ "limits_others", test_limits_others },
		{ "put_space", test_put_space },
		{ "growing_buffers", test_growing_buffers },
		{ "path_method_header_ok", test_path_method_ok },
		{ "truncated", test_truncated },
		{ "bad_msgpack", test_bad_msgpack },
		{ "random_bytes", test_random_bytes },
		{ "wrapped_frames", test_wrapped_frames },
	};
	return pp_test_main("frame", tests, PP_ARRAY_LEN(tests), NULL, NULL);
}
