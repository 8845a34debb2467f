/* http.h - HTTP/1.1 on the wire, without sockets: the request bytes the
 * daemon writes, and the response parser (llhttp, from Debian's
 * node-llhttp) with the framing rules the pool enforces.
 *
 * The parser is fed whatever bytes the connection read and says, for each
 * call, whether the response needs more bytes, is complete (and how many
 * of the bytes belonged to it), or is broken (and why).  It never sees a
 * socket; conn.c never sees HTTP (STYLE.md: llhttp's parser/connection
 * split).
 *
 * Rules on top of llhttp's own (built in strict mode, mk/llhttp.mk: it
 * rejects duplicate or conflicting Content-Length, Content-Length with
 * chunked, bad chunk sizes, a chunk's data without its CRLF, bad status
 * lines, a CR without its LF, white space before a colon and bad header
 * characters):
 *   - the status line and headers together are at most PD_HTTP_HEADER_MAX
 *     bytes; a longer block is a protocol error (not a memory error);
 *   - interim 1xx responses (100, 102, 103) are skipped, at most
 *     PD_HTTP_INTERIM_MAX of them, the final answer read after them even
 *     when one said "Connection: close" or was HTTP/1.0 (the connection
 *     is then not kept); 101 (an upgrade we never asked for) is a
 *     protocol error;
 *   - a response to HEAD has no body whatever its headers say; 204, 304
 *     and 1xx have none either (llhttp);
 *   - a body under a transfer coding other than chunked (gzip, or chunked
 *     then gzip: RFC 9112 6.3 reads it until close; chunked twice; a
 *     "chunked" llhttp did not read as such) is a protocol error: the
 *     pool decodes none, and its bytes are not the content; so is a
 *     body under a content coding (Content-Encoding: gzip, which a server
 *     may send to a request without Accept-Encoding, RFC 9110 12.5.3):
 *     only Content-Type reaches the worker, which could not tell;
 *   - a response without length or chunking is read until the connection
 *     closes (pd_http_resp_eof completes it);
 *   - whatever follows a complete response in the same bytes is reported
 *     (the caller retires the connection: those bytes answer nothing it
 *     asked).
 */
#ifndef PD_HTTP_H
#define PD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "frame.h"

#define PD_HTTP_HEADER_MAX (64u << 10) /* status line + headers, bytes */
#define PD_HTTP_INTERIM_MAX 16         /* 1xx responses before the final one */
#define PD_HTTP_CODING_MAX 32          /* a longer Transfer- or Content-Encoding value names other codings */

/* ---- request ------------------------------------------------------------ */

/* How the request body travels. */
enum pd_http_body {
	PD_HTTP_BODY_NONE,    /* no body, no Content-Length (GET, HEAD, DELETE without one) */
	PD_HTTP_BODY_LENGTH,  /* Content-Length: body_len */
	PD_HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked (length unknown) */
};

/* The body mode for a method and the worker's declared length (-1:
 * unknown): POST, PUT and PATCH always carry one (Content-Length: 0 for
 * an empty one), other methods only when a length other than 0 is given. */
enum pd_http_body pd_http_body_mode(const char *method, size_t mlen, int64_t body_len);

/* Write the request line and headers into buf (cap bytes):
 *   METHOD TARGET HTTP/1.1, Host, the worker's headers (already checked
 *   against the allow list), Content-Length or Transfer-Encoding, then the
 *   daemon's own lines: `auth` (the Authorization line without CRLF, ""
 *   for none) and, when rid.len, "X-Request-Id: rid"; and the blank line.
 * Returns the length, or 0 if it does not fit. */
size_t pd_http_write_head(char *buf, size_t cap, struct pp_str method, const char *target,
			  const char *host, const struct pp_hdr *headers, uint32_t nheaders,
			  enum pd_http_body mode, int64_t body_len, const char *auth, struct pp_str rid);

/* Chunk framing for a chunked body: the size line before n bytes of data
 * ("%x\r\n"), written into buf (>= 12 bytes); returns its length.  The
 * data is followed by "\r\n"; the body ends with PD_HTTP_LAST_CHUNK. */
size_t pd_http_chunk_line(char *buf, size_t n);
#define PD_HTTP_CRLF "\r\n"
#define PD_HTTP_LAST_CHUNK "0\r\n\r\n"

/* ---- response ----------------------------------------------------------- */

/* Where the parser hands what it found (ctx: pd_http_resp.ctx).  Each
 * returns 0, or -1 to stop the parse (the caller's own failure). */
struct pd_http_sink {
	/* The final response's head: status, Content-Length (-1: none), and
	 * the two headers the pool forwards (NULL when absent or invalid). */
	int (*head)(void *ctx, int status, int64_t content_len, const struct pp_str *ctype,
		    const struct pp_str *request_id);
	int (*body)(void *ctx, const uint8_t *data, size_t len);
};

/* Result of feeding bytes. */
enum pd_http_result {
	PD_HTTP_MORE = 0, /* all bytes taken; the response goes on */
	PD_HTTP_DONE,     /* the response is complete (see `used`) */
	PD_HTTP_ERROR,    /* broken: pd_http_resp.why says how */
	PD_HTTP_SINK,     /* a sink callback returned -1 */
};

struct pd_http_resp {
	llhttp_t parser;
	const struct pd_http_sink *sink;
	void *ctx;
	bool head_request;   /* the request was HEAD: no body */
	bool started;        /* a byte of a response arrived */
	bool headers_done;   /* the final response's head went to the sink */
	bool complete;
	bool keep_alive;     /* valid once complete */
	bool sink_failed;
	uint32_t interim;    /* 1xx responses skipped */
	bool interim_close;  /* one of them said close (or was HTTP/1.0): the connection is not kept */
	uint64_t head_bytes; /* bytes of the current header block so far */
	uint64_t raw_head;   /* every byte fed before the final head was done */
	const char *why;     /* static text for PD_HTTP_ERROR */
	bool te_other;       /* Transfer-Encoding names a coding but chunked (or one after it) */
	bool te_chunked;     /* ...names chunked */
	bool ce_other;       /* Content-Encoding names a coding */
	/* The header being read (only the two forwarded ones are kept, and
	 * Transfer- and Content-Encoding checked). */
	enum { HF_OTHER, HF_CTYPE, HF_REQID, HF_TE, HF_CE } field;
	char coding[PD_HTTP_CODING_MAX]; /* the Transfer- or Content-Encoding value being read */
	char name[PP_FRAME_HNAME_MAX];
	uint32_t name_len;   /* > PP_FRAME_HNAME_MAX: too long to be one we keep */
	char ctype[PP_FRAME_HVALUE_MAX], reqid[PP_FRAME_HVALUE_MAX];
	uint32_t ctype_len, reqid_len; /* UINT32_MAX: absent or unusable */
	bool reqid_seen;     /* an X-Request-Id came in this head (a second one is refused) */
	uint32_t value_len;  /* of the header value being read */
};

/* Start parsing one response (to a HEAD request if head_request). */
void pd_http_resp_init(struct pd_http_resp *r, bool head_request, const struct pd_http_sink *sink, void *ctx);

/* Feed n bytes.  *used is set to how many belonged to the response (all
 * of them unless DONE: then bytes from *used on are not part of it).
 * Once DONE or broken, it stays so: later bytes are not parsed. */
enum pd_http_result pd_http_resp_feed(struct pd_http_resp *r, const uint8_t *buf, size_t n, size_t *used);

/* The connection reached EOF: DONE if that completes a read-until-close
 * body, else ERROR (why: a truncated response, or none at all). */
enum pd_http_result pd_http_resp_eof(struct pd_http_resp *r);

#endif
