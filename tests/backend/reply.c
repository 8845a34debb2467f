/* reply.c - answers and request-argument helpers for handlers (http.h). */
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	unsigned status;
	const char *code;
} status_codes[] = {
	{ 400, "BAD_REQUEST" },
	{ 401, "UNAUTHORIZED" },
	{ 403, "FORBIDDEN" },
	{ 404, "NOT_FOUND" },
	{ 405, "METHOD_NOT_ALLOWED" },
	{ 409, "CONFLICT" },
	{ 413, "PAYLOAD_TOO_LARGE" },
	{ 500, "INTERNAL_ERROR" },
	{ 503, "SERVICE_UNAVAILABLE" },
};

/* Clears any earlier answer so the last reply_* call wins. */
static void reply_reset(struct req *r)
{
	json_decref(r->json);
	r->json = NULL;
	if (r->resp)
		MHD_destroy_response(r->resp);
	r->resp = NULL;
}

const char *status_code_name(unsigned status)
{
	for (size_t i = 0; i < sizeof status_codes / sizeof status_codes[0]; i++)
		if (status_codes[i].status == status)
			return status_codes[i].code;
	return status >= 500 ? "SERVER_ERROR" : status >= 400 ? "CLIENT_ERROR" : "OK";
}

void reply_json(struct req *r, unsigned status, json_t *body)
{
	reply_reset(r);
	r->status = status;
	r->json = body;
}

void reply_error(struct req *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	reply_json(r, status, json_pack("{s:s, s:s, s:{}}", "code",
					status_code_name(status), "message", msg,
					"details"));
}

void reply_response(struct req *r, unsigned status, struct MHD_Response *resp)
{
	reply_reset(r);
	r->status = status;
	r->resp = resp;
}

const char *req_arg(const struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int req_has_arg(const struct req *r, const char *name)
{
	const char *v;
	size_t n;

	return MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name,
					     strlen(name), &v, &n) == MHD_YES;
}

int req_arg_long(struct req *r, const char *name, long lo, long hi,
		 long dflt, long *out)
{
	const char *v = req_arg(r, name);
	char *end;
	long x;

	*out = dflt;
	if (!req_has_arg(r, name))
		return 0;
	errno = 0;
	x = v ? strtol(v, &end, 10) : 0;
	if (!v || !*v || *end || errno || x < lo || x > hi) {
		reply_error(r, 400, "query argument %s must be an integer in %ld..%ld",
			    name, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

json_t *req_body_object(struct req *r)
{
	json_error_t err;
	json_t *j;

	if (!r->body || r->body_len == 0) {
		reply_error(r, 400, "a JSON object body is required");
		return NULL;
	}
	j = json_loadb(r->body, r->body_len, 0, &err);
	if (!j) {
		reply_error(r, 400, "bad JSON: %s (line %d)", err.text, err.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(r, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}
