/* pp_fcgi.c - a FastCGI worker (libfcgi) that reaches PhantomDB through
 * phantompool: the application of examples/common/ppapp.h.
 *
 *   pp_fcgi [POOL]          POOL: the pool's name (else $PHANTOMPOOL as
 *                           the process got it, else "default")
 *
 * Run it under a process manager that opens the listening socket and
 * execs the workers: spawn-fcgi (behind nginx: docs/deploy/nginx-spawn-fcgi.md)
 * or lighttpd's own fastcgi.server "bin-path" (docs/deploy/lighttpd.md).
 * Either way every worker is a fresh exec, not a fork of a parent that
 * attached: so each worker attaches once, here, before its accept loop,
 * and keeps the handle for its whole life.  If the pool is not there yet
 * (the web server started before phantompoold), it tries again on the
 * next request instead of exiting, and writes why to the request's
 * FastCGI error stream, which the server logs (spawn-fcgi sends the
 * worker's own stderr to /dev/null).
 *
 * Pass the pool name explicitly (an argument, or the server's setting for
 * the worker's environment: lighttpd's "bin-environment"): servers do not
 * hand their own environment to the workers they spawn.  The workers run
 * as the server's user (www-data), so phantompoold must make the segment
 * reachable for it: mode = 0660, group = www-data.
 *
 * Each worker serves one request at a time on one thread, so a lease never
 * crosses threads (the library's rule). */
#include <fcgi_stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ppapp.h"

static const char *status_text(int status)
{
	return status == 200 ? "OK" : status == 502 ? "Bad Gateway" : "Service Unavailable";
}

int main(int argc, char **argv)
{
	/* The name is fixed here, before the first FCGI_Accept(): from then on
	 * getenv() reads the current request's FastCGI parameters, so a retry
	 * with NULL would look for $PHANTOMPOOL among them, not in the
	 * environment the server gave the worker (lighttpd's bin-environment). */
	const char *env = getenv("PHANTOMPOOL");
	const char *name = argc > 1 ? argv[1] : env && *env ? strdup(env) : NULL;
	pp_pool *pool = NULL;
	static char body[65536];

	if (ppapp_attach(name, &pool) != 0)
		pool = NULL;		/* retried on the first request */
	while (FCGI_Accept() >= 0) {
		if (!pool && ppapp_attach(name, &pool) != 0) {
			pool = NULL;
			/* stderr is the request's FastCGI error stream here: the
			 * server logs it (nginx's error_log, lighttpd's errorlog) */
			fputs(ppapp_attach_error(), stderr);
		}
		int status = ppapp_handle(pool, getenv("QUERY_STRING"), body, sizeof body);
		printf("Status: %d %s\r\nContent-Type: application/json\r\n\r\n%s",
		       status, status_text(status), body);
	}
	pp_detach(pool);
	return 0;
}
