/* server.c - libmicrohttpd daemon, request life cycle and the hooks that
 * apply to every route (server.h).
 *
 * Hooks on every route: X-Request-Id is echoed; ?delay_ms=N sleeps N ms
 * (0..600000) before the route runs; ?status=N (200..599) replaces the
 * status code of the answer (the body stays the route's JSON, "{}" if it
 * had none); ?close=1 adds "Connection: close" so the server closes the
 * connection after the answer.
 */
#include "server.h"
#include "routes.h"
#include "store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FNV1A64_BASIS 0xcbf29ce484222325ULL
#define FNV1A64_PRIME 0x100000001b3ULL

static const struct server_opts *opts;
static struct MHD_Daemon *daemon_handle;
static atomic_int stopping;
static atomic_long accepted_all, open_all, accepted_probe, open_probe;

/* Per-TCP-connection state (MHD socket context). */
struct conn_state {
	int probe;
};

int server_stopping(void)
{
	return atomic_load(&stopping);
}

/* MHD_OPTION_NOTIFY_CONNECTION: count connections as they open/close. */
static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct conn_state *s = *ctx;

	(void)cls;
	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&accepted_all, 1);
		atomic_fetch_add(&open_all, 1);
		*ctx = calloc(1, sizeof(struct conn_state));
		return;
	}
	atomic_fetch_sub(&open_all, 1);
	if (s && s->probe)
		atomic_fetch_sub(&open_probe, 1);
	free(s);
	*ctx = NULL;
}

void server_connection_stats(struct req *r, int mark_probe, long *accepted,
			     long *open, long *accepted_total, long *open_total)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_state *s = ci ? ci->socket_context : NULL;

	if (mark_probe && s && !s->probe) {
		s->probe = 1;
		atomic_fetch_add(&accepted_probe, 1);
		atomic_fetch_add(&open_probe, 1);
	}
	*accepted_total = atomic_load(&accepted_all);
	*open_total = atomic_load(&open_all);
	*accepted = *accepted_total - atomic_load(&accepted_probe);
	*open = *open_total - atomic_load(&open_probe);
}

/* A new request for url: resolve its route and body mode.  NULL when out
 * of memory (the connection is then closed). */
static struct req *req_new(struct MHD_Connection *c, const char *url,
			   const char *method)
{
	struct req *r = calloc(1, sizeof *r);

	if (!r || !(r->path = strdup(url))) {
		free(r);
		return NULL;
	}
	r->conn = c;
	r->method = method;
	r->sum_hash = FNV1A64_BASIS;
	route_resolve(r);
	r->body_mode = r->route ? r->route->body : BODY_IGNORE;
	return r;
}

/* Free a request and whatever answer it still holds. */
static void req_free(struct req *r)
{
	if (!r)
		return;
	json_decref(r->json);
	if (r->resp)
		MHD_destroy_response(r->resp);
	free(r->body);
	free(r->path);
	free(r);
}

/* Append n bytes to the buffered body, up to limit; beyond it the body
 * is dropped and body_too_big set (the rest is read and discarded). */
static void body_append(struct req *r, const char *data, size_t n, size_t limit)
{
	if (r->body_too_big)
		return;
	if (r->body_len + n > limit) {
		r->body_too_big = 1;
		free(r->body);
		r->body = NULL;
		r->body_len = 0;
		return;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b) {
			r->body_too_big = 1;
			return;
		}
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

/* Take one chunk of request body according to r->body_mode. */
static void req_feed(struct req *r, const char *data, size_t n)
{
	uint64_t h = r->sum_hash;

	switch (r->body_mode) {
	case BODY_SUM:
		for (size_t i = 0; i < n; i++)
			h = (h ^ (uint8_t)data[i]) * FNV1A64_PRIME;
		r->sum_hash = h;
		r->sum_bytes += n;
		break;
	case BODY_JSON:
		body_append(r, data, n, BODY_JSON_MAX);
		break;
	case BODY_ECHO:
		body_append(r, data, n, BODY_ECHO_MAX);
		break;
	case BODY_IGNORE:
		break;
	}
}

/* 1 if no token is configured or the request carries "Bearer <token>". */
static int authorized(const struct req *r)
{
	const char *auth;

	if (!opts->token)
		return 1;
	auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_AUTHORIZATION);
	return auth && !strncasecmp(auth, "Bearer ", 7) && !strcmp(auth + 7, opts->token);
}

/* Sleep ms milliseconds in 10 ms steps, ending early on shutdown. */
static void delay_ms(long ms)
{
	while (ms > 0 && !server_stopping()) {
		long step = ms < 10 ? ms : 10;
		struct timespec ts = { 0, step * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Run the route (or the 404/405/401/413 answer that replaces it). */
static void dispatch(struct req *r)
{
	if (!r->route) {
		reply_error(r, r->path_known ? 405 : 404, "%s: %s", r->method,
			    r->path_known ? "method not allowed here" : "no such route");
	} else if (!(r->route->flags & ROUTE_PUBLIC) && !authorized(r)) {
		reply_error(r, 401, "missing or wrong bearer token");
	} else if (r->body_too_big) {
		reply_error(r, 413, "request body too large");
	} else if (r->route->flags & ROUTE_STORE) {
		store_lock();
		r->route->fn(r);
		store_unlock();
	} else {
		r->route->fn(r);
	}
	if (!r->status)
		reply_error(r, 500, "the route gave no answer");
}

/* Build the response for r's JSON answer ("{}" if forced and empty). */
static struct MHD_Response *json_response(struct req *r, int forced)
{
	char *text = r->json ? json_dumps(r->json, JSON_COMPACT) : NULL;
	struct MHD_Response *resp;

	if (!text && forced)
		text = strdup("{}");
	if (!text)
		return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return resp;
}

/* Queue r's answer with the per-route hooks applied. */
static enum MHD_Result req_answer(struct req *r, long forced_status, long close_conn)
{
	struct MHD_Response *resp = r->resp ? r->resp : json_response(r, forced_status > 0);
	const char *rid = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Request-Id");
	unsigned status = forced_status > 0 ? (unsigned)forced_status : r->status;
	enum MHD_Result rc;

	r->resp = NULL;
	if (!resp)
		return MHD_NO;
	if (rid)
		MHD_add_response_header(resp, "X-Request-Id", rid);
	if (close_conn)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	rc = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	if (!opts->quiet)
		fprintf(stderr, "phantomdb-ref: %s %s -> %u\n", r->method,
			r->route ? r->route->pattern : "?", status);
	return rc;
}

/* The whole request has arrived: apply the hooks, run the route, answer. */
static enum MHD_Result req_finish(struct req *r)
{
	long delay, forced = 0, close_conn = 0;

	if (req_arg_long(r, "delay_ms", 0, 600000, 0, &delay) == 0 &&
	    req_arg_long(r, "status", 200, 599, 0, &forced) == 0 &&
	    req_arg_long(r, "close", 0, 1, 0, &close_conn) == 0) {
		delay_ms(delay);
		dispatch(r);
	}
	return req_answer(r, forced, close_conn);
}

/* MHD access handler: called once with the headers, once per body chunk,
 * and once more when the body is complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)version;
	if (!r) {
		*con_cls = r = req_new(c, url, method);
		return r ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		req_feed(r, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return req_finish(r);
}

/* MHD_OPTION_NOTIFY_COMPLETED: free the request state. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	req_free(*con_cls);
	*con_cls = NULL;
}

int server_start(const struct server_opts *o, unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | (o->quiet ? 0 : MHD_USE_ERROR_LOG);
	const union MHD_DaemonInfo *info;

	opts = o;
	if (inet_pton(AF_INET, o->bind, &sa.sin_addr) != 1) {
		fprintf(stderr, "phantomdb-ref: bad bind address %s\n", o->bind);
		return -1;
	}
	daemon_handle = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout,
		MHD_OPTION_CONNECTION_LIMIT, 4096u,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
		MHD_OPTION_END);
	if (!daemon_handle) {
		fprintf(stderr, "phantomdb-ref: cannot listen on %s:%u\n", o->bind, o->port);
		return -1;
	}
	info = MHD_get_daemon_info(daemon_handle, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : o->port;
	return 0;
}

void server_stop(void)
{
	atomic_store(&stopping, 1);
	if (daemon_handle)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
}
