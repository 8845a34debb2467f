/* debug_routes.c - the /_debug/... test hooks (routes.h).  They need no
 * bearer token and never touch the store. */
#include "routes.h"
#include "server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest body /_debug/bytes serves (4 GiB). */
#define DEBUG_BYTES_MAX (4LL << 30)
#define DEBUG_BYTES_BLOCK (64 * 1024)

/* GET /_debug/connections[?probe=1] -> 200 {"accepted", "open",
 * "accepted_total", "open_total"}.  accepted/open leave out connections
 * that ever asked with ?probe=1 (this one included). */
void h_debug_connections(struct req *r)
{
	long acc, open, acc_all, open_all, probe;

	if (req_arg_long(r, "probe", 0, 1, 0, &probe) < 0)
		return;
	server_connection_stats(r, (int)probe, &acc, &open, &acc_all, &open_all);
	reply_json(r, 200, json_pack("{s:I, s:I, s:I, s:I}", "accepted", (json_int_t)acc,
				     "open", (json_int_t)open, "accepted_total",
				     (json_int_t)acc_all, "open_total", (json_int_t)open_all));
}

struct bytes_stream {
	uint64_t end;		/* bytes to produce before stopping */
	int drop;		/* at end: abort the connection */
};

/* Content reader: byte i of the body is (uint8_t)(i * 31 + 7). */
static ssize_t bytes_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	const struct bytes_stream *s = cls;
	size_t n;

	if (pos >= s->end)
		return s->drop ? MHD_CONTENT_READER_END_WITH_ERROR
			       : MHD_CONTENT_READER_END_OF_STREAM;
	n = s->end - pos < max ? (size_t)(s->end - pos) : max;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(uint8_t)((pos + i) * 31 + 7);
	return (ssize_t)n;
}

/* GET /_debug/bytes?bytes=N[&drop=1][&chunked=1] -> 200, exactly N bytes
 * of application/octet-stream, streamed.  drop=1: Content-Length N is
 * announced, N/2 bytes are sent, then the connection is aborted.
 * chunked=1: no Content-Length, the body in chunked transfer coding (a
 * length the client learns only at its end). */
void h_debug_bytes(struct req *r)
{
	long long n;
	long drop, chunked;
	char *end;
	const char *v = req_arg(r, "bytes");
	struct bytes_stream *s;
	struct MHD_Response *resp;

	n = v ? strtoll(v, &end, 10) : -1;
	if (!v || !*v || *end || n < 0 || n > DEBUG_BYTES_MAX) {
		reply_error(r, 400, "?bytes= must be an integer in 0..%lld", DEBUG_BYTES_MAX);
		return;
	}
	if (req_arg_long(r, "drop", 0, 1, 0, &drop) < 0 || req_arg_long(r, "chunked", 0, 1, 0, &chunked) < 0)
		return;
	if (!(s = malloc(sizeof *s))) {
		reply_error(r, 500, "out of memory");
		return;
	}
	s->drop = (int)drop;
	s->end = drop ? (uint64_t)n / 2 : (uint64_t)n;
	resp = MHD_create_response_from_callback(chunked ? MHD_SIZE_UNKNOWN : (uint64_t)n, DEBUG_BYTES_BLOCK,
						 bytes_reader, s, free);
	if (!resp) {
		free(s);
		reply_error(r, 500, "cannot create response");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/octet-stream");
	reply_response(r, 200, resp);
}

/* POST /_debug/sum -> 200 {"bytes": N, "fnv1a64": "<16 hex>"} of the body,
 * hashed by the server while it streamed in (never buffered). */
void h_debug_sum(struct req *r)
{
	char hex[17];

	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)r->sum_hash);
	reply_json(r, 200, json_pack("{s:I, s:s}", "bytes", (json_int_t)r->sum_bytes,
				     "fnv1a64", hex));
}

/* POST /_debug/echo -> 200 with the request body and its Content-Type
 * (default application/octet-stream); bodies over 1 MiB get 413 (server). */
void h_debug_echo(struct req *r)
{
	const char *type = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : "",
					       r->body ? MHD_RESPMEM_MUST_FREE
						       : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		reply_error(r, 500, "cannot create response");
		return;
	}
	r->body = NULL;		/* now owned by resp */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				type ? type : "application/octet-stream");
	reply_response(r, 200, resp);
}

/* Header iterator: add name (lower-cased) -> value to the object in cls;
 * repeated headers are joined with ", ". */
static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	json_t *obj = cls, *old;
	char name[256];
	size_t i;

	(void)kind;
	for (i = 0; key[i] && i + 1 < sizeof name; i++)
		name[i] = (char)tolower((unsigned char)key[i]);
	name[i] = '\0';
	old = json_object_get(obj, name);
	if (old) {
		char *joined = NULL;
		if (asprintf(&joined, "%s, %s", json_string_value(old), value ? value : "") > 0)
			json_object_set_new(obj, name, json_string(joined));
		free(joined);
	} else {
		json_object_set_new(obj, name, json_string(value ? value : ""));
	}
	return MHD_YES;
}

/* GET /_debug/headers -> 200 {"header-name": "value", ...} of the request
 * headers as received, names lower-cased. */
void h_debug_headers(struct req *r)
{
	json_t *obj = json_object();

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header, obj);
	reply_json(r, 200, obj);
}
