/* ppapp.h - the small web application every deployment example serves
 * (examples/fastcgi, examples/cgi, examples/apache): one web request runs
 * one PhantomDB query through the pool.  What differs between the servers
 * is only where the pool is attached and how its name reaches the
 * worker; that part lives in each example, this part is shared.
 *
 *   GET <app>?n=N[&hold_ms=MS]
 *   -> 200 {"n":N,"pid":PID,"uid":UID,"gid":GID,"slot":K,"db":<PhantomDB's answer>}
 *
 * The worker leases a slot, POSTs /databases/demo/query
 * {"query":"SELECT ? AS n","parameters":[N]} on it (creating the database
 * "demo" the first time it is missing), and releases the slot.
 * hold_ms (0..10000, default 0) keeps the lease that long after the answer
 * arrived, before releasing it: the end-to-end tests (tests/deploy/) use it
 * to SIGKILL a worker while it holds a slot.  Errors answer 503 (the pool:
 * {"error":"<pp_strerror>","code":PP_E*}) or 502 (PhantomDB
 * answered with an error status; its body is passed on). */
#ifndef PPAPP_H
#define PPAPP_H

#include <stddef.h>

#include <phantompool.h>

/* Attach to the pool named `name` (NULL or "": $PHANTOMPOOL, else
 * "default").  Returns 0, or the PP_E* code after printing one line on
 * stderr that names the pool, the error and, for the two errors a new
 * deployment meets first, the fix. */
int ppapp_attach(const char *name, pp_pool **out);

/* The line the last ppapp_attach printed on stderr ("" after a success),
 * for a worker whose stderr the server does not log (spawn-fcgi sends it
 * to /dev/null): a FastCGI worker writes it to the request's error
 * stream too, which the web server puts into its error log. */
const char *ppapp_attach_error(void);

/* Answer one request.  query: the URL's query string (may be NULL).
 * pool NULL (the attach failed) answers 503 with the last attach error.
 * Writes a NUL-terminated JSON body into out (truncated to outsz) and
 * returns the HTTP status to send. */
int ppapp_handle(pp_pool *pool, const char *query, char *out, size_t outsz);

#endif
