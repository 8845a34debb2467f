/* fuzz_http.c - libFuzzer target for the daemon's response parser
 * (daemon/http.c over llhttp), the path every byte from the backend takes.
 *
 * Build and run (from the top of the tree): `make fuzz` (mk/llhttp.mk), or
 *   build/fuzz/fuzz_http -max_total_time=60 build/fuzz/work-fuzz_http fuzz/corpus/http
 *
 * Input: byte 0 chooses how the rest is cut into reads (1..64 bytes, or
 * all at once) and whether the request was HEAD; the rest is what the
 * backend sent, then EOF.  The sink frames the head and body as the
 * exchange does.  Checks: no crash or out-of-bounds access (ASan), every
 * result is one of the four, a read never "uses" more than it was given,
 * a complete response had its head delivered first, body bytes never
 * exceed the input, every RESP_HEAD and BODY frame encodes and decodes
 * back, and after DONE or ERROR nothing more is delivered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	bool head, closed;
	uint64_t body;
};

static uint8_t enc[PP_FRAME_MAX_ABS];

static void roundtrip(const struct pp_frame *f)
{
	ssize_t n = pp_frame_encode(f, enc, sizeof enc);
	struct pp_frame g;
	if (n <= 0 || pp_frame_decode(enc, (size_t)n, &g) != 1 || g.type != f->type)
		abort();
}

static int on_head(void *ctx, int status, int64_t clen, const struct pp_str *ct, const struct pp_str *id)
{
	struct seen *s = ctx;
	if (s->head || s->closed || status < 100 || status > 999 || clen < -1)
		abort();
	s->head = true;
	struct pp_frame f = { .type = PP_FRAME_RESP_HEAD };
	f.resp.status = status;
	f.resp.content_len = clen;
	if (ct)
		f.resp.headers[f.resp.nheaders++] = (struct pp_hdr){ PP_STR_LIT("content-type"), *ct };
	if (id)
		f.resp.headers[f.resp.nheaders++] = (struct pp_hdr){ PP_STR_LIT("x-request-id"), *id };
	roundtrip(&f);
	return 0;
}

static int on_body(void *ctx, const uint8_t *p, size_t n)
{
	struct seen *s = ctx;
	if (!s->head || s->closed)
		abort();
	s->body += n;
	for (size_t off = 0; off < n; off += PP_FRAME_CHUNK_MAX) {
		size_t k = n - off < PP_FRAME_CHUNK_MAX ? n - off : PP_FRAME_CHUNK_MAX;
		struct pp_frame f = { .type = PP_FRAME_BODY, .body = { p + off, (uint32_t)k } };
		roundtrip(&f);
	}
	return 0;
}

static const struct pd_http_sink sink = { on_head, on_body };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] & 63 ? (data[0] & 63) : SIZE_MAX;
	bool head = data[0] & 64;
	data++;
	size--;
	struct seen s = { 0 };
	struct pd_http_resp r;
	pd_http_resp_init(&r, head, &sink, &s);
	enum pd_http_result res = PD_HTTP_MORE;
	for (size_t off = 0; off < size && res == PD_HTTP_MORE;) {
		size_t n = size - off < step ? size - off : step, used = 0;
		res = pd_http_resp_feed(&r, data + off, n, &used);
		if (used > n || (res == PD_HTTP_MORE && used != n))
			abort();
		off += n;
	}
	if (res == PD_HTTP_MORE)
		res = pd_http_resp_eof(&r);
	if (res != PD_HTTP_DONE && res != PD_HTTP_ERROR && res != PD_HTTP_MORE)
		abort(); /* the sink never fails here */
	if (res == PD_HTTP_DONE && (!s.head || !r.complete))
		abort();
	if (res == PD_HTTP_ERROR && !r.why)
		abort();
	if (s.body > size)
		abort();
	s.closed = true;
	/* Once over, feeding more delivers nothing. */
	size_t used;
	pd_http_resp_feed(&r, (const uint8_t *)"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 38, &used);
	return 0;
}
