/* conn.h - one backend connection: opened by libcurl (DNS, TCP, proxy
 * tunnel, TLS handshake and verification, session reuse) with
 * CURLOPT_CONNECT_ONLY and HTTP/1.1, then raw bytes with curl_easy_send /
 * curl_easy_recv.  Knows nothing of HTTP messages, seats or frames.
 *
 * A connection object is one unit of the pool's connection budget
 * (--max): it is CLOSED, CONNECTING (libcurl's multi interface drives
 * the handshake without blocking: the owner polls pd_conn_poll_fd /
 * pd_conn_poll_events and calls pd_conn_connect_step), or OPEN.
 *
 * The "wait only after CURLE_AGAIN" rule: TLS may hold decrypted bytes
 * that poll(2) cannot see, so the owner polls the socket for reading only
 * after pd_conn_recv returned PD_CONN_AGAIN (pd_conn.read_blocked).
 *
 * Every connection that completes its TCP handshake is counted in the
 * segment (connects, and reconnects after the first), whatever becomes of
 * the exchange that asked for it; so is one whose handshake completed
 * but whose TLS handshake then failed, was cut short by a close or timed
 * out.
 *
 * One thread (the serving loop that owns it) uses a connection. */
#ifndef PD_CONN_H
#define PD_CONN_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"
#include "options.h"

enum pd_conn_state {
	PD_CONN_CLOSED = 0,
	PD_CONN_CONNECTING,
	PD_CONN_OPEN,
};

/* pd_conn_send / pd_conn_recv results besides a byte count. */
#define PD_CONN_AGAIN (-1) /* would block: poll, then call again */
#define PD_CONN_ERROR (-2) /* the connection broke (reset, TLS error): close it */

/* pd_conn_connect_step results. */
enum pd_connect_result {
	PD_CONNECT_PENDING,
	PD_CONNECT_DONE,
	PD_CONNECT_FAILED, /* pd_conn.errbuf says why, curl_res the code */
};

struct pd_conn {
	uint32_t idx;
	enum pd_conn_state state;
	CURLM *multi;           /* its loop's (pd_conn_multi_new), holding the easy
				 * handle for the connection's life */
	const uint64_t *timer_ns; /* CONNECTING: the multi's timeout (libcurl's timer), 0 none */
	CURL *easy;
	curl_socket_t sock;     /* OPEN: the socket; CONNECTING: libcurl's current one */
	int connect_what;       /* CONNECTING: CURL_POLL_* libcurl waits for */
	bool connect_done;      /* CONNECTING: libcurl reported the end (connect_res) */
	CURLcode connect_res;
	uint64_t connect_deadline_ns;
	bool read_blocked;      /* the last recv said AGAIN: poll may be trusted */
	bool tcp_counted;       /* counted in the segment already */
	uint32_t backend;       /* node index it was opened to */
	uint32_t backend_gen;   /* backend list generation at open */
	uint32_t backend_list;  /* the list it was opened from (pd_backends.list) */
	uint64_t opened_ns;     /* when the handshake completed */
	uint64_t expire_ns;     /* max_lifetime (jittered) reached: reopen; UINT64_MAX never */
	uint64_t last_used_ns;  /* end of its last exchange or health check */
	uint64_t served_ns;     /* end of its last worker's exchange, or its open:
				 * the idle timeout counts from it (a health
				 * check is no use) */
	uint64_t attempt_ns;    /* start of the last connect attempt */
	uint64_t uses;          /* exchanges on this connection */
	bool warm;              /* its first health check ended (min connections) */
	uint32_t reopen_ms;     /* CLOSED, a min connection: pause before reopening it
				 * (doubles while its health checks' answers leave
				 * it closed; 0 once it stays open) */
	char host[300];         /* Host header value of its node */
	char base_path[PD_URL_MAX]; /* its node's path prefix, no trailing '/' */
	CURLcode curl_res;      /* of a failed connect */
	char errbuf[CURL_ERROR_SIZE];
	/* Where its figures are published (a record in the segment), and the
	 * pool's count of open connections. */
	struct pp_slot *rec;
	_Atomic uint32_t *open_count;
};

/* One libcurl multi handle per serving loop drives the handshakes of all
 * its connections (a multi holds a wakeup socket pair: one per loop, not
 * one per connection).  *timer_ns receives libcurl's next timeout.
 * NULL on no memory. */
CURLM *pd_conn_multi_new(uint64_t *timer_ns);

/* Set up a CLOSED connection object publishing into rec, connecting
 * through multi (whose timer is *timer_ns). */
void pd_conn_init(struct pd_conn *c, uint32_t idx, struct pp_slot *rec, CURLM *multi, const uint64_t *timer_ns,
		  _Atomic uint32_t *open_count);

/* Start opening c (CLOSED) to `url` (the node's base URL, node index
 * `backend`, list generation `gen`) with the connection options of o.
 * Returns 0 (CONNECTING: drive it with pd_conn_connect_step) or -1 (no
 * memory; c stays CLOSED, errbuf says so). */
int pd_conn_open(struct pd_conn *c, CURLU *url, uint32_t backend, uint32_t gen, const struct pd_options *o);

/* Let libcurl act on the handshake: ev is CURL_CSELECT_* for the socket,
 * or 0 for a timer tick (or to look whether it ended: another
 * connection's step may have seen it).  Returns where the connect
 * stands. */
enum pd_connect_result pd_conn_connect_step(struct pd_conn *c, int ev);

/* What to poll for while CONNECTING: the fd (or -1) and POLLIN/POLLOUT. */
int pd_conn_poll_fd(const struct pd_conn *c, short *events);

/* Send up to n bytes: the count sent (> 0), PD_CONN_AGAIN, PD_CONN_ERROR. */
ssize_t pd_conn_send(struct pd_conn *c, const void *buf, size_t n);

/* Receive up to n bytes: the count (> 0), 0 at EOF, PD_CONN_AGAIN or
 * PD_CONN_ERROR. */
ssize_t pd_conn_recv(struct pd_conn *c, void *buf, size_t n);

/* Before reusing an OPEN connection: is anything waiting on it?  Bytes
 * answer nothing we asked, EOF means the backend closed it while idle:
 * either way the caller closes it. */
enum pd_conn_idle { PD_IDLE_CLEAN, PD_IDLE_CLOSED, PD_IDLE_BYTES };
enum pd_conn_idle pd_conn_idle_check(struct pd_conn *c);

/* Close c (any state) and log why at debug level (why may be NULL).
 * A connect cut short after its TCP handshake is counted. */
void pd_conn_close(struct pd_conn *c, const char *why);

/* Free everything (daemon exit). */
void pd_conn_destroy(struct pd_conn *c);

/* A reload read the settings again (the main thread, at each SIGHUP):
 * connections opened from now on load the CA file (ca_file, ca_path)
 * afresh instead of using a copy a loop cached from its old contents, so
 * a CA file rotated in place is in force after the SIGHUP. */
void pd_conn_settings_reloaded(void);

/* Whether the environment names a proxy (then libcurl reads it). */
bool pd_conn_env_has_proxy(void);

#endif
