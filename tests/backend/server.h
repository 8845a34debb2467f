/* server.h - the libmicrohttpd side of the reference backend.
 *
 * Thread-per-connection mode: every TCP connection has its own thread, so
 * a handler may block (?delay_ms=) without holding up other connections,
 * and HTTP/1.1 keep-alive is libmicrohttpd's (responses carry a length or
 * are chunked, so connections stay open unless the client says otherwise
 * or ?close=1 is given).
 *
 * TLS: with tls_cert_pem/tls_key_pem set, the main port serves HTTPS
 * (libmicrohttpd's TLS, GnuTLS).  With tls_client_ca_pem also set, the
 * server asks for a client certificate and answers 403 to every request on
 * a connection whose client certificate is missing or does not verify
 * against it.  An optional second port (debug_port >= 0) serves the same
 * routes in plain HTTP; its connections are left out of every connection
 * counter, so GET /_debug/connections on it reports the main port's.
 */
#ifndef PDB_SERVER_H
#define PDB_SERVER_H

#include "http.h"

struct server_opts {
	const char *bind;		/* IPv4 loopback address */
	unsigned port;			/* 0: ephemeral */
	const char *token;		/* bearer token, or NULL */
	int quiet;			/* no request log, no MHD error log */
	unsigned idle_timeout;		/* seconds; 0: keep idle connections */
	const char *tls_cert_pem;	/* PEM text: HTTPS on the main port */
	const char *tls_key_pem;	/* PEM text, with tls_cert_pem */
	const char *tls_client_ca_pem;	/* PEM text: require client certs */
	int debug_port;			/* plain-HTTP debug port; 0 ephemeral, -1 none */
};

/* Start listening.  Returns 0 and the bound port (and the bound debug
 * port in *debug_port when opts->debug_port >= 0), or -1 (message on
 * stderr).  opts must outlive the server. */
int server_start(const struct server_opts *opts, unsigned *port, unsigned *debug_port);

/* Stop: close every connection, join the threads.  Safe if not started. */
void server_stop(void);

/* 1 once server_stop has begun (long sleeps poll it). */
int server_stopping(void);

/* TCP connection counters of the main port (TLS or not).  When
 * mark_probe is set, the connection of r is first marked as a probe: probe
 * connections are left out of *accepted and *open (the raw totals still
 * count them).  Debug-port connections are never counted. */
void server_connection_stats(struct req *r, int mark_probe, long *accepted,
			     long *open, long *accepted_total, long *open_total);

#endif
