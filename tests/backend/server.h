/* server.h - the libmicrohttpd side of the reference backend.
 *
 * Thread-per-connection mode: every TCP connection has its own thread, so
 * a handler may block (?delay_ms=) without holding up other connections,
 * and HTTP/1.1 keep-alive is libmicrohttpd's (responses carry a length or
 * are chunked, so connections stay open unless the client says otherwise
 * or ?close=1 is given).
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
};

/* Start listening.  Returns 0 and the bound port, or -1 (message on
 * stderr).  opts must outlive the server. */
int server_start(const struct server_opts *opts, unsigned *port);

/* Stop: close every connection, join the threads.  Safe if not started. */
void server_stop(void);

/* 1 once server_stop has begun (long sleeps poll it). */
int server_stopping(void);

/* TCP connection counters.  When mark_probe is set, the connection of r
 * is first marked as a probe: probe connections are left out of *accepted
 * and *open (the raw totals still count them). */
void server_connection_stats(struct req *r, int mark_probe, long *accepted,
			     long *open, long *accepted_total, long *open_total);

#endif
