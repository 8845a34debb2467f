/* ppapp.c - the deployment examples' shared application (ppapp.h). */
#include "ppapp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOLD_MS_MAX 10000
#define LEASE_TIMEOUT_MS 10000

static int last_attach_err = PP_ENOPOOL;	/* what a NULL pool answers */
static char attach_msg[512];			/* the line of the last failed attach */

int ppapp_attach(const char *name, pp_pool **out)
{
	const char *shown = name && *name ? name : getenv("PHANTOMPOOL");
	int r = pp_attach(name, out);

	last_attach_err = r;
	attach_msg[0] = 0;
	if (r == 0)
		return 0;
	shown = shown && *shown ? shown : "default";
	snprintf(attach_msg, sizeof attach_msg,
		 "phantompool: cannot attach to pool '%s' (/dev/shm/phantompool-%s): %s (%d)%s\n",
		 shown, shown, pp_strerror(r), r,
		 r == PP_EACCES ? "; run phantompoold with mode = 0660 and group = the workers' group"
		 : r == PP_ENOPOOL ? "; is phantompoold running for this pool, and did the server pass the name?"
		 : "");
	fputs(attach_msg, stderr);
	return r;
}

const char *ppapp_attach_error(void)
{
	return attach_msg;
}

/* The integer value of key in a query string "a=1&b=2", or def when it
 * is absent or not a number in [lo, hi]. */
static long query_long(const char *q, const char *key, long lo, long hi, long def)
{
	size_t klen = strlen(key);

	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, key, klen) != 0 || p[klen] != '=')
			continue;
		char *end;
		long v = strtol(p + klen + 1, &end, 10);
		if (end == p + klen + 1 || (*end && *end != '&') || v < lo || v > hi)
			return def;
		return v;
	}
	return def;
}

/* POST the query on the lease; creates the database once if missing. */
static int run_query(struct pp_lease *l, long n, pp_resp *resp)
{
	static const pp_header json[] = { { "Content-Type", "application/json" } };
	char body[128];
	pp_req req = { .method = "POST", .path = "/databases/demo/query", .headers = json,
		       .nheaders = 1, .body = body };

	req.body_len = (size_t)snprintf(body, sizeof body,
					"{\"query\":\"SELECT ? AS n\",\"parameters\":[%ld]}", n);
	int r = pp_request(l, &req, resp);
	if (r != 0 || resp->status != 404)
		return r;
	pp_resp_free(resp);
	pp_req create = { .method = "POST", .path = "/databases", .headers = json, .nheaders = 1,
			  .body = "{\"name\":\"demo\"}", .body_len = 15 };
	if ((r = pp_request(l, &create, resp)) != 0)	/* 201, or 409: created meanwhile */
		return r;
	pp_resp_free(resp);
	return pp_request(l, &req, resp);
}

int ppapp_handle(pp_pool *pool, const char *query, char *out, size_t outsz)
{
	long n = query_long(query, "n", -1000000000L, 1000000000L, 0);
	long hold_ms = query_long(query, "hold_ms", 0, HOLD_MS_MAX, 0);
	struct pp_lease *l;
	pp_resp resp = { 0 };
	int r, status;

	if (!pool)
		r = last_attach_err;
	else if ((r = pp_lease(pool, LEASE_TIMEOUT_MS, &l)) == 0) {
		int slot = pp_lease_slot(l);
		r = run_query(l, n, &resp);
		if (hold_ms > 0) {
			struct timespec ts = { hold_ms / 1000, (hold_ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
		pp_release(l);
		if (r == 0 && resp.status / 100 == 2 && resp.body_len && resp.body[0] == '{') {
			snprintf(out, outsz, "{\"n\":%ld,\"pid\":%ld,\"uid\":%ld,\"gid\":%ld,\"slot\":%d,\"db\":%s}\n",
				 n, (long)getpid(), (long)getuid(), (long)getgid(), slot, resp.body);
			pp_resp_free(&resp);
			return 200;
		}
	}
	if (r == 0) {		/* PhantomDB answered with an error */
		status = 502;
		snprintf(out, outsz, "%s\n", resp.body ? resp.body : "");
	} else {
		status = 503;
		snprintf(out, outsz, "{\"error\":\"%s\",\"code\":%d}\n", pp_strerror(r), r);
	}
	pp_resp_free(&resp);
	return status;
}
