/* http.c - see http.h. */
#include "http.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- request ------------------------------------------------------------ */

static bool method_is(struct pp_str m, const char *name)
{
	size_t n = strlen(name);
	return m.len == n && memcmp(m.ptr, name, n) == 0;
}

enum pd_http_body pd_http_body_mode(const char *method, size_t mlen, int64_t body_len)
{
	struct pp_str m = { method, (uint32_t)mlen };
	bool wants = method_is(m, "POST") || method_is(m, "PUT") || method_is(m, "PATCH");
	if (body_len < 0)
		return PD_HTTP_BODY_CHUNKED;
	return body_len > 0 || wants ? PD_HTTP_BODY_LENGTH : PD_HTTP_BODY_NONE;
}

/* Append to buf[*k, cap); false when it does not fit. */
static bool put(char *buf, size_t cap, size_t *k, const char *s, size_t n)
{
	if (n > cap - *k)
		return false;
	memcpy(buf + *k, s, n);
	*k += n;
	return true;
}

#define PUTS(s) put(buf, cap, &k, (s), strlen(s))
#define PUTN(s, n) put(buf, cap, &k, (s), (n))

size_t pd_http_write_head(char *buf, size_t cap, struct pp_str method, const char *target,
			  const char *host, const struct pp_hdr *headers, uint32_t nheaders,
			  enum pd_http_body mode, int64_t body_len, const char *auth, struct pp_str rid)
{
	size_t k = 0;
	bool ok = PUTN(method.ptr, method.len) && PUTS(" ") && PUTS(target) && PUTS(" HTTP/1.1\r\nHost: ") &&
		  PUTS(host) && PUTS("\r\n");
	for (uint32_t i = 0; ok && i < nheaders; i++)
		ok = PUTN(headers[i].name.ptr, headers[i].name.len) && PUTS(": ") &&
		     PUTN(headers[i].value.ptr, headers[i].value.len) && PUTS("\r\n");
	char len[48];
	if (mode == PD_HTTP_BODY_LENGTH) {
		snprintf(len, sizeof len, "Content-Length: %" PRId64 "\r\n", body_len);
		ok = ok && PUTS(len);
	} else if (mode == PD_HTTP_BODY_CHUNKED) {
		ok = ok && PUTS("Transfer-Encoding: chunked\r\n");
	}
	if (*auth)
		ok = ok && PUTS(auth) && PUTS("\r\n");
	if (rid.len)
		ok = ok && PUTS("X-Request-Id: ") && PUTN(rid.ptr, rid.len) && PUTS("\r\n");
	ok = ok && PUTS("\r\n");
	return ok ? k : 0;
}

size_t pd_http_chunk_line(char *buf, size_t n)
{
	return (size_t)sprintf(buf, "%zx\r\n", n);
}

/* ---- response ----------------------------------------------------------- */

static struct pd_http_resp *of(llhttp_t *p)
{
	return p->data;
}

/* Count bytes of the header block; fail past the limit. */
static int count_head(struct pd_http_resp *r, size_t n)
{
	r->head_bytes += n + 4; /* ": " and CRLF, roughly */
	if (r->head_bytes > PD_HTTP_HEADER_MAX) {
		r->why = "response header block larger than 64 KiB";
		return -1;
	}
	return 0;
}

static int on_message_begin(llhttp_t *p)
{
	struct pd_http_resp *r = of(p);
	r->started = true;
	r->head_bytes = 0;
	r->ctype_len = r->reqid_len = UINT32_MAX;
	r->reqid_seen = false;
	r->te_other = r->te_chunked = r->ce_other = false;
	r->name_len = 0;
	return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
	return count_head(of(p), n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct pd_http_resp *r = of(p);
	if (r->name_len + n <= sizeof r->name)
		memcpy(r->name + r->name_len, at, n);
	r->name_len += (uint32_t)(n < UINT32_MAX / 2 ? n : UINT32_MAX / 2);
	return count_head(r, n);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct pd_http_resp *r = of(p);
	r->field = HF_OTHER;
	if (r->name_len == 12 && !strncasecmp(r->name, "content-type", 12))
		r->field = HF_CTYPE;
	else if (r->name_len == 12 && !strncasecmp(r->name, "x-request-id", 12))
		r->field = HF_REQID;
	else if (r->name_len == 17 && !strncasecmp(r->name, "transfer-encoding", 17))
		r->field = HF_TE;
	else if (r->name_len == 16 && !strncasecmp(r->name, "content-encoding", 16))
		r->field = HF_CE;
	r->name_len = 0;
	r->value_len = 0;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct pd_http_resp *r = of(p);
	bool coding = r->field == HF_TE || r->field == HF_CE;
	char *dst = r->field == HF_CTYPE ? r->ctype : r->field == HF_REQID ? r->reqid : coding ? r->coding : NULL;
	uint32_t cap = coding ? PD_HTTP_CODING_MAX : PP_FRAME_HVALUE_MAX;
	if (dst && r->value_len + n <= cap)
		memcpy(dst + r->value_len, at, n);
	r->value_len += (uint32_t)(n < UINT32_MAX / 2 ? n : UINT32_MAX / 2);
	return count_head(r, n);
}

static bool element_is(const char *v, uint32_t n, const char *name)
{
	return n == strlen(name) && !strncasecmp(v, name, n);
}

/* Read a Transfer- or Content-Encoding list (v, n bytes; the field being
 * read says which).  Only "identity" (no coding) and empty elements pass,
 * and in Transfer-Encoding one "chunked", last (RFC 9112 6.1: never twice,
 * and a coding after it leaves the body's end to the close). */
static void scan_codings(struct pd_http_resp *r, const char *v, uint32_t n)
{
	bool *other = r->field == HF_TE ? &r->te_other : &r->ce_other;
	if (n > PD_HTTP_CODING_MAX) {
		*other = true;
		return;
	}
	for (uint32_t i = 0; i <= n;) {
		uint32_t e = i;
		while (e < n && v[e] != ',')
			e++;
		uint32_t a = i, b = e;
		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		i = e + 1;
		if (b == a)
			continue;
		if (r->te_chunked && r->field == HF_TE)
			*other = true; /* after chunked */
		else if (r->field == HF_TE && element_is(v + a, b - a, "chunked"))
			r->te_chunked = true;
		else if (!element_is(v + a, b - a, "identity"))
			*other = true;
	}
}

static int on_header_value_complete(llhttp_t *p)
{
	struct pd_http_resp *r = of(p);
	const char *v = r->field == HF_CTYPE ? r->ctype : r->reqid;
	uint32_t n = r->value_len;
	if (r->field == HF_OTHER)
		return 0;
	if (r->field == HF_TE || r->field == HF_CE) {
		scan_codings(r, r->coding, n);
		return 0;
	}
	if (r->field == HF_REQID) {
		/* Two ids: which request it answers is ambiguous. */
		if (r->reqid_seen) {
			r->why = "two X-Request-Id headers in one response";
			return -1;
		}
		r->reqid_seen = true;
	}
	if (n > PP_FRAME_HVALUE_MAX) {
		*(r->field == HF_CTYPE ? &r->ctype_len : &r->reqid_len) = UINT32_MAX; /* too long to forward */
		return 0;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	bool ok = pp_frame_header_ok(r->field == HF_CTYPE ? "content-type" : "x-request-id", 12, v, n);
	*(r->field == HF_CTYPE ? &r->ctype_len : &r->reqid_len) = ok ? n : UINT32_MAX;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct pd_http_resp *r = of(p);
	int status = p->status_code;
	if (status < 100 || status > 999) {
		r->why = "invalid status code";
		return -1;
	}
	if (status == 101) {
		r->why = "unexpected 101 Switching Protocols";
		return -1;
	}
	if (status < 200) {
		if (++r->interim > PD_HTTP_INTERIM_MAX) {
			r->why = "too many interim (1xx) responses";
			return -1;
		}
		return 1; /* an interim response: no body whatever it says, the final one follows */
	}
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > (uint64_t)INT64_MAX) {
		r->why = "Content-Length out of range";
		return -1;
	}
	/* Its bytes would reach the worker as the content, still coded (and
	 * no header would tell it so): refuse rather than forward them.  So
	 * too when llhttp did not read chunked where we did ("chunked<TAB>"):
	 * it would take the chunk framing, until the close, for the body. */
	bool te_odd = r->te_other || r->te_chunked != !!(p->flags & F_CHUNKED);
	if ((te_odd || r->ce_other) && !r->head_request && status != 204 && status != 304) {
		r->why = te_odd ? "a transfer coding other than chunked" : "a content coding (Content-Encoding)";
		return -1;
	}
	int64_t clen = (p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED) ? (int64_t)p->content_length : -1;
	if (r->head_request || status == 204 || status == 304)
		clen = r->head_request ? clen : 0;
	struct pp_str ct = { r->ctype, r->ctype_len }, id = { r->reqid, r->reqid_len };
	r->headers_done = true;
	if (r->sink->head(r->ctx, status, clen, r->ctype_len != UINT32_MAX ? &ct : NULL,
			  r->reqid_len != UINT32_MAX ? &id : NULL) != 0) {
		r->sink_failed = true;
		return -1;
	}
	/* 1: no body follows, whatever the headers say (RFC 9112 6.3). */
	return r->head_request || status == 204 || status == 304 ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct pd_http_resp *r = of(p);
	if (r->sink->body(r->ctx, (const uint8_t *)at, n) != 0) {
		r->sink_failed = true;
		return -1;
	}
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct pd_http_resp *r = of(p);
	if (!r->headers_done) {
		/* An interim response ended: read on, even after one that
		 * said close or was HTTP/1.0 (llhttp would take every later
		 * byte unparsed, the final answer's too), but keep nothing. */
		r->interim_close |= !llhttp_should_keep_alive(p);
		llhttp_set_lenient_keep_alive(p, 1);
		return 0;
	}
	r->complete = true;
	r->keep_alive = llhttp_should_keep_alive(p) && !r->interim_close;
	return HPE_PAUSED; /* stop right after it: what follows is not ours */
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void pd_http_resp_init(struct pd_http_resp *r, bool head_request, const struct pd_http_sink *sink, void *ctx)
{
	memset(r, 0, offsetof(struct pd_http_resp, name));
	llhttp_init(&r->parser, HTTP_RESPONSE, &settings);
	r->parser.data = r;
	r->sink = sink;
	r->ctx = ctx;
	r->head_request = head_request;
	r->ctype_len = r->reqid_len = UINT32_MAX;
}

/* Turn a parser error into our result. */
static enum pd_http_result failed(struct pd_http_resp *r, llhttp_errno_t err)
{
	if (r->sink_failed)
		return PD_HTTP_SINK;
	if (!r->why)
		r->why = err == HPE_USER || !llhttp_get_error_reason(&r->parser) ? "malformed response"
										  : llhttp_get_error_reason(&r->parser);
	return PD_HTTP_ERROR;
}

enum pd_http_result pd_http_resp_feed(struct pd_http_resp *r, const uint8_t *buf, size_t n, size_t *used)
{
	*used = 0;
	if (r->complete)
		return PD_HTTP_DONE;
	if (r->why || r->sink_failed)
		return r->sink_failed ? PD_HTTP_SINK : PD_HTTP_ERROR; /* broken stays broken */
	llhttp_errno_t err = llhttp_execute(&r->parser, (const char *)buf, n);
	if (err == HPE_OK) {
		/* The callbacks never see the white space around a value (nor
		 * obs-fold): bound the head by the bytes that carried it too. */
		if (!r->headers_done && (r->raw_head += n) > (uint64_t)(r->interim + 1) * PD_HTTP_HEADER_MAX) {
			r->why = "response header block larger than 64 KiB";
			return PD_HTTP_ERROR;
		}
		*used = n;
		return PD_HTTP_MORE;
	}
	if (err == HPE_PAUSED && r->complete) {
		const char *pos = llhttp_get_error_pos(&r->parser);
		*used = pos && pos >= (const char *)buf && pos <= (const char *)buf + n ? (size_t)(pos - (const char *)buf) : n;
		return PD_HTTP_DONE;
	}
	return failed(r, err);
}

enum pd_http_result pd_http_resp_eof(struct pd_http_resp *r)
{
	if (r->complete)
		return PD_HTTP_DONE;
	if (r->why || r->sink_failed)
		return r->sink_failed ? PD_HTTP_SINK : PD_HTTP_ERROR;
	if (!r->started) {
		r->why = "connection closed before any response";
		return PD_HTTP_ERROR;
	}
	llhttp_errno_t err = llhttp_finish(&r->parser);
	if ((err == HPE_OK || err == HPE_PAUSED) && r->complete)
		return PD_HTTP_DONE;
	if (r->sink_failed)
		return PD_HTTP_SINK;
	r->why = r->headers_done ? "connection closed in the middle of the body"
				 : "connection closed in the middle of the header block";
	return PD_HTTP_ERROR;
}
