/* backend_proc.h - start and stop the reference backend (phantomdb-ref)
 * from test and bench programs.
 *
 * The binary is pp_test_build_path("phantomdb-ref") ($PP_BUILD, default
 * "build").  It always gets "--port 0 --quiet" first (set PP_BACKEND_VERBOSE
 * to drop --quiet), then extra_args, so extra_args may override the port.
 *
 * TLS: pass "--tls-cert", FILE, "--tls-key", FILE (PEM; see tls_certs.h)
 * in extra_args.  The backend then prints "listening https://ADDR:PORT",
 * and b->tls is set and b->url is "https://127.0.0.1:PORT".  The launcher
 * also adds "--debug-port 0" (unless extra_args has --debug-port): a
 * second, plain-HTTP port (b->debug_port) whose own connections the
 * backend never counts, so pp_backend_connections() keeps its raw HTTP/1.0
 * probe (no TLS in the launcher) and reports the TLS port's connections.
 * The child gets PR_SET_PDEATHSIG(SIGTERM): it exits when the *thread*
 * that started it exits (so a crashed test leaves no backend behind; start
 * it from a thread that outlives its use, e.g. main).
 */
#ifndef PP_BACKEND_PROC_H
#define PP_BACKEND_PROC_H

#include <sys/types.h>

struct pp_backend {
	pid_t pid;		/* 0 when not running */
	int port;
	char url[64];		/* "http://127.0.0.1:PORT", no trailing '/' */
	int exit_status;	/* after pp_backend_stop: 0..255, 128+signal, -1 */
	/* Added for TLS; zero for a plain-HTTP backend without --debug-port. */
	int tls;		/* 1: the main port serves HTTPS (url is https://) */
	int debug_port;		/* the plain-HTTP debug port, 0 if none */
};

/* Fork/exec the backend and wait (at most 5 s) for its "listening" line
 * (and its "debug listening" line when it has a debug port).
 * extra_args: NULL-terminated list of more arguments, or NULL.  Returns 0
 * with b filled in, or -1 (the child, if any, is killed and reaped). */
int pp_backend_start(struct pp_backend *b, const char *const *extra_args);

/* SIGTERM, wait up to 5 s, then SIGKILL and reap; sets b->exit_status
 * (0 means a clean exit) and b->pid = 0.  No-op if b->pid is 0. */
void pp_backend_stop(struct pp_backend *b);

/* Ask GET /_debug/connections?probe=1 over a fresh plain TCP socket
 * (HTTP/1.0, no libcurl), to b->debug_port if set, else to b->port.
 * *accepted and *open count the backend's TCP connections to its main
 * port (HTTP or HTTPS, whether or not the TLS handshake succeeded) since
 * start / now, leaving out every probe connection (this one included) and
 * every debug-port connection, so calling this does not change what it
 * reports.  Either pointer may be NULL.  Returns 0, or -1 on error/timeout
 * (2 s), or for a TLS backend started without a debug port. */
int pp_backend_connections(const struct pp_backend *b, long *accepted, long *open);

#endif
