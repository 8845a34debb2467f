/* http.h - one HTTP request as the reference backend's handlers see it.
 *
 * The server module (server.c) owns the libmicrohttpd side: it builds a
 * struct req when the headers arrive, feeds the body into it, and calls the
 * route's handler once the request is complete.  A handler answers by
 * calling exactly one reply_* function (reply.c); the server then adds the
 * test hooks (X-Request-Id echo, ?status=, ?close=) and queues the answer.
 */
#ifndef PDB_HTTP_H
#define PDB_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#define REQ_MAX_SEGS 8
#define REQ_MAX_CAPS 4

/* What the server does with a request body while it arrives. */
enum body_mode {
	BODY_IGNORE,	/* read and discard */
	BODY_JSON,	/* buffer up to BODY_JSON_MAX, parsed by req_body_json */
	BODY_ECHO,	/* buffer up to BODY_ECHO_MAX */
	BODY_SUM,	/* hash as it streams in (FNV-1a 64), never buffered */
};

#define BODY_JSON_MAX (64u << 20)
#define BODY_ECHO_MAX (1u << 20)

struct route;

struct req {
	struct MHD_Connection *conn;
	const char *method;		/* owned by libmicrohttpd */
	char *path;			/* decoded path, split in place */
	const char *seg[REQ_MAX_SEGS];	/* path segments, prefix removed */
	size_t nseg;
	const char *cap[REQ_MAX_CAPS];	/* segments matched by '*' */
	const struct route *route;	/* NULL: no route for the path */
	int path_known;			/* path matched, method did not */
	enum body_mode body_mode;
	char *body;			/* BODY_JSON / BODY_ECHO, NUL-ended */
	size_t body_len, body_cap;
	int body_too_big;
	uint64_t sum_bytes, sum_hash;	/* BODY_SUM */
	/* The answer, set by one reply_* call. */
	unsigned status;
	json_t *json;			/* JSON body, or NULL */
	struct MHD_Response *resp;	/* a ready response (non-JSON) */
};

/* Answer with status and a JSON body; takes ownership of body (NULL: no
 * body, as for 204). */
void reply_json(struct req *r, unsigned status, json_t *body);

/* Answer with the error body {"code","message","details":{}}; the code
 * string follows from status (400 BAD_REQUEST, 404 NOT_FOUND, ...). */
void reply_error(struct req *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Answer with a prepared libmicrohttpd response (takes ownership). */
void reply_response(struct req *r, unsigned status, struct MHD_Response *resp);

/* The error code string for an HTTP status ("NOT_FOUND" for 404). */
const char *status_code_name(unsigned status);

/* Value of query argument name, or NULL when absent or without value. */
const char *req_arg(const struct req *r, const char *name);

/* 1 if query argument name is present at all (even "?name="). */
int req_has_arg(const struct req *r, const char *name);

/* Parse ?name= as a long within [lo, hi]; absent: *out = dflt and 0.
 * Returns -1 (and answers 400) when present but malformed/out of range. */
int req_arg_long(struct req *r, const char *name, long lo, long hi,
		 long dflt, long *out);

/* The body parsed as a JSON object.  NULL (and a 400 answer already set)
 * when it is missing, not JSON, or not an object.  Caller owns the result. */
json_t *req_body_object(struct req *r);

#endif
