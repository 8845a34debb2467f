/* reload.h - the settings the serving loops use (struct pd_live), built at
 * start and rebuilt by SIGHUP. */
#ifndef PD_RELOAD_H
#define PD_RELOAD_H

#include "daemon.h"

/* Build the first pd_live from d->opt (reads the token file).  Returns 0,
 * or -1 after logging. */
int pd_live_init(struct pd_daemon *d);

/* Can o's token file be read as the start reads it (--check-config)?
 * Returns 0, or -1 after logging why.  The token is not kept. */
int pd_token_check(const struct pd_options *o);

/* SIGHUP: re-read the file and command line (the saved argv), apply what
 * can change live (limits, timeouts, backends, token, TLS, log level: new
 * connections and new requests use them; in-flight requests finish), and
 * report and keep what cannot (slot count, ring size, pool, segment mode
 * and group, pidfile).  An invalid file changes nothing.  Returns 0 or -1. */
int pd_reload(struct pd_daemon *d);

/* Main loop, every tick: free retired settings no serving loop can still
 * be reading. */
void pd_reload_collect(struct pd_daemon *d);

/* At exit: free the current and retired settings (threads stopped). */
void pd_live_free(struct pd_daemon *d);

#endif
