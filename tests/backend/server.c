/* server.c - libmicrohttpd daemon, request life cycle and the hooks that
 * apply to every route (server.h).
 *
 * Hooks on every route: X-Request-Id is echoed; ?delay_ms=N sleeps N ms
 * (0..600000) before the route runs; ?status=N (200..599) replaces the
 * status code of the answer (the body stays the route's JSON, "{}" if it
 * had none); ?close=1 adds "Connection: close" so the server closes the
 * connection after the answer.
 *
 * TLS (server.h): the main port serves HTTPS when a certificate is given;
 * with a client CA, every request on a connection without a verified
 * client certificate gets 403.  The GnuTLS call that checks the client
 * certificate is looked up at run time (libmicrohttpd has already loaded
 * GnuTLS), so the backend links no TLS library of its own.
 */
#include "server.h"
#include "routes.h"
#include "store.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FNV1A64_BASIS 0xcbf29ce484222325ULL
#define FNV1A64_PRIME 0x100000001b3ULL

static const struct server_opts *opts;
static struct MHD_Daemon *daemon_handle, *debug_handle;
static atomic_int stopping;
/* Connection counters.  conn_lock makes each change and each read of the
 * four a whole: a close updates open_all and open_probe together, so a
 * reader never sees one without the other (a probe connection closing
 * during another's /_debug/connections made "open" read one short). */
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static long accepted_all, open_all, accepted_probe, open_probe;

/* gnutls_certificate_verify_peers2(session, &status), from GnuTLS. */
typedef int (*verify_peers_fn)(void *session, unsigned *status);
static verify_peers_fn verify_peers;

/* The notify_connection closure of the main port; the debug port's is
 * NULL, so its connections are not counted. */
static int main_port_tag;

/* Per-TCP-connection state (MHD socket context). */
struct conn_state {
	int probe;
	int debug;		/* on the debug port */
	int client_cert;	/* 0: not checked yet, 1: verified, -1: not */
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
	int counted = cls == &main_port_tag;

	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		if (counted) {
			pthread_mutex_lock(&conn_lock);
			accepted_all++;
			open_all++;
			pthread_mutex_unlock(&conn_lock);
		}
		*ctx = s = calloc(1, sizeof(struct conn_state));
		if (s)
			s->debug = !counted;
		return;
	}
	if (counted) {
		pthread_mutex_lock(&conn_lock);
		open_all--;
		if (s && s->probe)
			open_probe--;
		pthread_mutex_unlock(&conn_lock);
	}
	free(s);
	*ctx = NULL;
}

void server_connection_stats(struct req *r, int mark_probe, long *accepted,
			     long *open, long *accepted_total, long *open_total)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_state *s = ci ? ci->socket_context : NULL;

	pthread_mutex_lock(&conn_lock);
	if (mark_probe && s && !s->debug && !s->probe) {
		s->probe = 1;
		accepted_probe++;
		open_probe++;
	}
	*accepted_total = accepted_all;
	*open_total = open_all;
	*accepted = accepted_all - accepted_probe;
	*open = open_all - open_probe;
	pthread_mutex_unlock(&conn_lock);
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

/* 1 if r may go on as far as client certificates go: no client CA is
 * configured, r came in on the debug port, or its connection's client
 * certificate verifies against the client CA (checked once per
 * connection). */
static int client_cert_ok(struct req *r)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_state *s;
	unsigned status = ~0u;

	if (!opts->tls_client_ca_pem)
		return 1;
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	s = ci ? ci->socket_context : NULL;
	if (!s)
		return 0;
	if (s->debug)
		return 1;
	if (!s->client_cert) {
		ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		s->client_cert = ci && ci->tls_session &&
				 verify_peers(ci->tls_session, &status) == 0 && status == 0 ? 1 : -1;
	}
	return s->client_cert > 0;
}

/* Run the route (or the 403/404/405/401/413 answer that replaces it). */
static void dispatch(struct req *r)
{
	if (!client_cert_ok(r)) {
		reply_error(r, 403, "client certificate missing or not trusted");
	} else if (!r->route) {
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

/* Start one libmicrohttpd daemon on bind:port with flags; tls_items
 * (ending in MHD_OPTION_END) adds options.  notify_cls: &main_port_tag or
 * NULL (debug port).  Returns the daemon and the bound port, or NULL. */
static struct MHD_Daemon *start_one(const struct server_opts *o, unsigned flags, unsigned port,
				    void *notify_cls, struct MHD_OptionItem *tls_items,
				    unsigned *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;

	if (inet_pton(AF_INET, o->bind, &sa.sin_addr) != 1) {
		fprintf(stderr, "phantomdb-ref: bad bind address %s\n", o->bind);
		return NULL;
	}
	d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, notify_cls,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout,
		MHD_OPTION_CONNECTION_LIMIT, 4096u,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
		MHD_OPTION_ARRAY, tls_items,
		MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "phantomdb-ref: cannot listen on %s:%u%s\n", o->bind, port,
			flags & MHD_USE_TLS ? " with TLS (bad certificate or key?)" : "");
		return NULL;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*bound = info ? info->port : port;
	return d;
}

/* Check that TLS can be served as o asks; 0 or -1 (message on stderr). */
static int tls_check(const struct server_opts *o)
{
	if (!o->tls_cert_pem)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		fprintf(stderr, "phantomdb-ref: this libmicrohttpd was built without TLS "
			"support (MHD_FEATURE_TLS); --tls-cert cannot be served\n");
		return -1;
	}
	if (o->tls_client_ca_pem &&
	    !(verify_peers = (verify_peers_fn)dlsym(RTLD_DEFAULT, "gnutls_certificate_verify_peers2"))) {
		fprintf(stderr, "phantomdb-ref: libmicrohttpd's TLS library is not GnuTLS "
			"(no gnutls_certificate_verify_peers2); --tls-client-ca unsupported\n");
		return -1;
	}
	return 0;
}

int server_start(const struct server_opts *o, unsigned *port, unsigned *debug_port)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | (o->quiet ? 0 : MHD_USE_ERROR_LOG);
	struct MHD_OptionItem tls_items[4], none[1] = { { MHD_OPTION_END, 0, NULL } };
	int n = 0;

	opts = o;
	if (tls_check(o) < 0)
		return -1;
	if (o->tls_cert_pem) {
		tls_items[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
							  (void *)o->tls_cert_pem };
		tls_items[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
							  (void *)o->tls_key_pem };
		if (o->tls_client_ca_pem)
			tls_items[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
								  (void *)o->tls_client_ca_pem };
	}
	tls_items[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	daemon_handle = start_one(o, flags | (o->tls_cert_pem ? MHD_USE_TLS : 0), o->port,
				  &main_port_tag, tls_items, port);
	if (!daemon_handle)
		return -1;
	if (o->debug_port >= 0) {
		debug_handle = start_one(o, flags, (unsigned)o->debug_port, NULL, none, debug_port);
		if (!debug_handle) {
			MHD_stop_daemon(daemon_handle);
			daemon_handle = NULL;
			return -1;
		}
	}
	return 0;
}

void server_stop(void)
{
	atomic_store(&stopping, 1);
	if (debug_handle)
		MHD_stop_daemon(debug_handle);
	if (daemon_handle)
		MHD_stop_daemon(daemon_handle);
	debug_handle = daemon_handle = NULL;
}
