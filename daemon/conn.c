/* conn.c - see conn.h. */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "clock.h"
#include "log.h"
#include "stats.h"

/* ---- TLS sessions and DNS shared by every connection ------------------ */

/* One share for the daemon, so a new connection resumes a TLS session
 * and skips a DNS lookup another connection already made.  The loops run
 * in several threads: libcurl locks it through these. */
#define PD_CA_CACHE_MAX_S 86400L /* libcurl's default CA cache lifetime */

static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static CURLSH *share;

static void share_lock(CURL *e, curl_lock_data data, curl_lock_access a, void *u)
{
	pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *e, curl_lock_data data, void *u)
{
	pthread_mutex_unlock(&share_locks[data]);
}

static pthread_once_t share_once = PTHREAD_ONCE_INIT;

static void share_init(void)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	share = curl_share_init();
	if (!share)
		return;
	curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

bool pd_conn_env_has_proxy(void)
{
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
		if (n >= 6 && strncasecmp(*e + n - 6, "_proxy", 6) == 0)
			return true;
	}
	return false;
}

/* ---- the published figures --------------------------------------------- */

static void set_state(struct pd_conn *c, uint32_t st)
{
	atomic_store_explicit(&c->rec->conn_state, st, memory_order_relaxed);
}

/* The TCP handshake completed (whatever came after): count it once. */
static void count_open(struct pd_conn *c)
{
	if (c->tcp_counted)
		return;
	c->tcp_counted = true;
	struct pp_slot *s = c->rec;
	bool again = atomic_load_explicit(&s->connects, memory_order_relaxed) != 0;
	pp_stats_begin(s);
	if (again)
		atomic_fetch_add_explicit(&s->reconnects, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->connects, 1, memory_order_relaxed);
	pp_stats_end(s);
}

/* Did the TCP handshake complete?  libcurl (7.88) leaves CONNECT_TIME at 0
 * when the TLS handshake after it fails or times out; the local port is
 * known once the socket connected (newer libcurl also records it for a
 * refused connect, which fails with CURLE_COULDNT_CONNECT). */
static bool tcp_connected(struct pd_conn *c)
{
	curl_off_t t = 0;
	long port = 0;
	if (!c->easy)
		return false;
	if (curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &t) == CURLE_OK && t > 0)
		return true;
	return c->curl_res != CURLE_COULDNT_CONNECT &&
	       curl_easy_getinfo(c->easy, CURLINFO_LOCAL_PORT, &port) == CURLE_OK && port > 0;
}

/* ---- libcurl's socket and timer callbacks, while connecting ------------ */

static int on_socket(CURL *e, curl_socket_t sock, int what, void *userp, void *socketp)
{
	struct pd_conn *c = NULL;
	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c);
	if (!c || c->state != PD_CONN_CONNECTING)
		return 0;
	c->sock = what == CURL_POLL_REMOVE ? CURL_SOCKET_BAD : sock;
	c->connect_what = what == CURL_POLL_REMOVE ? 0 : what;
	return 0;
}

static int on_timer(CURLM *m, long ms, void *userp)
{
	uint64_t *timer_ns = userp;
	*timer_ns = ms < 0 ? 0 : pp_now_ns() + (uint64_t)ms * PP_NS_PER_MS;
	return 0;
}

CURLM *pd_conn_multi_new(uint64_t *timer_ns)
{
	CURLM *m = curl_multi_init();
	if (!m)
		return NULL;
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(m, CURLMOPT_TIMERDATA, timer_ns);
	return m;
}

/* ---- open, step, close -------------------------------------------------- */

void pd_conn_init(struct pd_conn *c, uint32_t idx, struct pp_slot *rec, CURLM *multi, const uint64_t *timer_ns,
		  _Atomic uint32_t *open_count)
{
	memset(c, 0, sizeof *c);
	c->open_count = open_count;
	c->idx = idx;
	c->rec = rec;
	c->multi = multi;
	c->timer_ns = timer_ns;
	c->sock = CURL_SOCKET_BAD;
	c->expire_ns = UINT64_MAX;
}

/* Host header and path prefix of the node. */
static int node_names(struct pd_conn *c, CURLU *url)
{
	char *host = NULL, *port = NULL, *path = NULL;
	int r = -1;
	if (curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(url, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
		curl_url_get(url, CURLUPART_PORT, &port, 0); /* only when the URL names one */
		snprintf(c->host, sizeof c->host, "%s%s%s", host, port ? ":" : "", port ? port : "");
		size_t n = strlcpy(c->base_path, path, sizeof c->base_path);
		while (n > 0 && c->base_path[n - 1] == '/')
			c->base_path[--n] = 0;
		r = 0;
	}
	curl_free(host);
	curl_free(port);
	curl_free(path);
	return r;
}

/* When the last reload read the settings (pp_now_ns), 0 before any. */
static _Atomic uint64_t reloaded_ns;

void pd_conn_settings_reloaded(void)
{
	atomic_store_explicit(&reloaded_ns, pp_now_ns(), memory_order_relaxed);
}

/* libcurl keeps each multi handle's parsed CA store for this many seconds
 * (24 hours by default).  Whole seconds since the last reload: a store
 * parsed before it is older than that and is parsed again; one parsed
 * after it is kept, as before (no parse per connection). */
static long ca_cache_seconds(void)
{
	uint64_t at = atomic_load_explicit(&reloaded_ns, memory_order_relaxed), now = pp_now_ns();
	if (!at)
		return PD_CA_CACHE_MAX_S;
	uint64_t s = now > at ? (now - at) / (1000 * PP_NS_PER_MS) : 0;
	return s < (uint64_t)PD_CA_CACHE_MAX_S ? (long)s : PD_CA_CACHE_MAX_S;
}

/* The options of every connect. */
static void set_options(struct pd_conn *c, CURL *e, const struct pd_options *o)
{
	curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1); /* ALPN offers http/1.1 only */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	if (!pd_conn_env_has_proxy()) {
		/* Nothing to read from the environment: say "no proxy" outright. */
		curl_easy_setopt(e, CURLOPT_PROXY, "");
		curl_easy_setopt(e, CURLOPT_NOPROXY, "");
	}
	/* Through a proxy (http_proxy, all_proxy...), always a CONNECT tunnel:
	 * the daemon then writes the same origin-form requests to the node
	 * whatever is in between. */
	curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->tls_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->tls_verify ? 2L : 0L);
	if (*o->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	/* No CAPATH unless configured: libcurl then keeps the parsed CA store
	 * cached instead of loading it for every new connection. */
	curl_easy_setopt(e, CURLOPT_CAPATH, *o->ca_path ? o->ca_path : NULL);
	curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, ca_cache_seconds());
	curl_easy_setopt(e, CURLOPT_SSLCERT, *o->tls_cert ? o->tls_cert : NULL);
	curl_easy_setopt(e, CURLOPT_SSLKEY, *o->tls_key ? o->tls_key : NULL);
	if (share)
		curl_easy_setopt(e, CURLOPT_SHARE, share);
}

int pd_conn_open(struct pd_conn *c, CURLU *url, uint32_t backend, uint32_t gen, const struct pd_options *o)
{
	pthread_once(&share_once, share_init);
	char *full = NULL;
	c->errbuf[0] = 0;
	c->curl_res = CURLE_OK;
	CURL *e = curl_easy_init();
	if (!e || node_names(c, url) < 0 || curl_url_get(url, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		curl_free(full);
		curl_easy_cleanup(e);
		snprintf(c->errbuf, sizeof c->errbuf, "out of memory opening a connection");
		return -1;
	}
	curl_easy_setopt(e, CURLOPT_URL, full);
	curl_free(full);
	set_options(c, e, o);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)c);
	c->easy = e;
	c->sock = CURL_SOCKET_BAD;
	c->connect_what = 0;
	c->connect_done = false;
	c->tcp_counted = false;
	c->read_blocked = false;
	c->backend = backend;
	c->backend_gen = gen;
	c->uses = 0;
	c->attempt_ns = pp_now_ns();
	c->connect_deadline_ns = c->attempt_ns + ((uint64_t)o->connect_timeout_ms + 1000) * PP_NS_PER_MS;
	uint64_t life = (uint64_t)o->max_lifetime_ms * PP_NS_PER_MS;
	/* Up to 20% less, so connections opened together do not all expire
	 * together. */
	c->expire_ns = life ? c->attempt_ns + life - life / 5 * arc4random_uniform(1000) / 1000 : UINT64_MAX;
	c->state = PD_CONN_CONNECTING;
	set_state(c, PP_CONN_CONNECTING);
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		c->easy = NULL;
		c->state = PD_CONN_CLOSED;
		snprintf(c->errbuf, sizeof c->errbuf, "cannot add a connection to libcurl");
		return -1;
	}
	return 0;
}

enum pd_connect_result pd_conn_connect_step(struct pd_conn *c, int ev)
{
	if (c->state != PD_CONN_CONNECTING)
		return c->state == PD_CONN_OPEN ? PD_CONNECT_DONE : PD_CONNECT_FAILED;
	int running = 0;
	if (!c->connect_done) {
		curl_socket_t s = ev && c->sock != CURL_SOCKET_BAD ? c->sock : CURL_SOCKET_TIMEOUT;
		curl_multi_socket_action(c->multi, s, s == CURL_SOCKET_TIMEOUT ? 0 : ev, &running);
	}
	/* The messages of every connection of the multi: each goes to its own. */
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct pd_conn *o = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&o);
		if (m->msg == CURLMSG_DONE && o && o->state == PD_CONN_CONNECTING) {
			o->connect_done = true;
			o->connect_res = m->data.result;
		}
	}
	bool done = c->connect_done;
	CURLcode res = c->connect_res;
	if (!done && pp_now_ns() >= c->connect_deadline_ns) {
		done = true; /* libcurl's own timeout should have fired: a backstop */
		res = CURLE_OPERATION_TIMEDOUT;
	}
	if (!done)
		return PD_CONNECT_PENDING;
	if (res == CURLE_OK) {
		curl_socket_t sock = CURL_SOCKET_BAD;
		if (curl_easy_getinfo(c->easy, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK || sock == CURL_SOCKET_BAD)
			res = CURLE_COULDNT_CONNECT;
		c->sock = sock;
	}
	if (res != CURLE_OK) {
		c->curl_res = res;
		if (!c->errbuf[0])
			snprintf(c->errbuf, sizeof c->errbuf, "%s", curl_easy_strerror(res));
		pd_conn_close(c, NULL);
		set_state(c, PP_CONN_DOWN);
		return PD_CONNECT_FAILED;
	}
	c->state = PD_CONN_OPEN;
	atomic_fetch_add_explicit(c->open_count, 1, memory_order_relaxed);
	c->opened_ns = pp_now_ns();
	c->served_ns = c->opened_ns;
	count_open(c);
	atomic_store_explicit(&c->rec->conn_since_ns, c->opened_ns, memory_order_relaxed);
	set_state(c, PP_CONN_UP);
	return PD_CONNECT_DONE;
}

int pd_conn_poll_fd(const struct pd_conn *c, short *events)
{
	*events = (short)((c->connect_what & CURL_POLL_IN ? POLLIN : 0) | (c->connect_what & CURL_POLL_OUT ? POLLOUT : 0));
	return c->state == PD_CONN_CONNECTING && c->sock != CURL_SOCKET_BAD ? (int)c->sock : -1;
}

ssize_t pd_conn_send(struct pd_conn *c, const void *buf, size_t n)
{
	size_t sent = 0;
	CURLcode r = curl_easy_send(c->easy, buf, n, &sent);
	if (r == CURLE_OK)
		return sent ? (ssize_t)sent : PD_CONN_AGAIN;
	if (r == CURLE_AGAIN)
		return PD_CONN_AGAIN;
	snprintf(c->errbuf, sizeof c->errbuf, "send: %s", curl_easy_strerror(r));
	return PD_CONN_ERROR;
}

ssize_t pd_conn_recv(struct pd_conn *c, void *buf, size_t n)
{
	size_t got = 0;
	CURLcode r = curl_easy_recv(c->easy, buf, n, &got);
	c->read_blocked = r == CURLE_AGAIN;
	if (r == CURLE_OK)
		return (ssize_t)got;
	if (r == CURLE_AGAIN)
		return PD_CONN_AGAIN;
	snprintf(c->errbuf, sizeof c->errbuf, "recv: %s", curl_easy_strerror(r));
	return PD_CONN_ERROR;
}

enum pd_conn_idle pd_conn_idle_check(struct pd_conn *c)
{
	uint8_t b[64];
	if (c->state != PD_CONN_OPEN)
		return PD_IDLE_CLOSED;
	ssize_t n = pd_conn_recv(c, b, sizeof b);
	return n == PD_CONN_AGAIN ? PD_IDLE_CLEAN : n > 0 ? PD_IDLE_BYTES : PD_IDLE_CLOSED;
}

void pd_conn_close(struct pd_conn *c, const char *why)
{
	if (c->state == PD_CONN_CLOSED)
		return;
	if (c->state == PD_CONN_CONNECTING && tcp_connected(c))
		count_open(c); /* the backend accepted it: it counts */
	if (why)
		pd_debug("connection %u to backend %u closed: %s", c->idx, c->backend, why);
	if (c->state == PD_CONN_OPEN)
		atomic_fetch_sub_explicit(c->open_count, 1, memory_order_relaxed);
	curl_multi_remove_handle(c->multi, c->easy); /* closes a connect-only connection */
	curl_easy_cleanup(c->easy);
	c->easy = NULL;
	c->sock = CURL_SOCKET_BAD;
	c->state = PD_CONN_CLOSED;
	c->connect_done = false;
	c->expire_ns = UINT64_MAX;
	atomic_store_explicit(&c->rec->conn_since_ns, 0, memory_order_relaxed);
	set_state(c, PP_CONN_NONE);
}

void pd_conn_destroy(struct pd_conn *c)
{
	pd_conn_close(c, NULL);
}
