/* errdetail.h - the detail behind this thread's last error
 * (pp_error_detail, include/phantompool.h): what the failing call found,
 * in words, and the fix.  Private to libclient. */
#ifndef PP_ERRDETAIL_H
#define PP_ERRDETAIL_H

#include "phantompool.h"

/* Forget this thread's detail: pp_error_detail() returns NULL. */
void pp_detail_clear(void);

/* pp_attach(pool) failed with code: describe what it found under the
 * pool's name (the segment's path, its mode and owner, the caller's ids,
 * the header it read) and the fix.  sys_errno is errno right after the
 * failure (used for PP_ESYS).  Runs only on attach failures: it makes the
 * system calls it needs (stat, open, pread, getpwuid_r). */
void pp_detail_attach(const char *pool, int code, int sys_errno);

/* The failure path of the calls on a pool (pp_lease, pp_do, pp_status,
 * pp_request, pp_stream_*): for PP_EDAEMON, note that the daemon of p
 * (NULL: none known) is gone; for any other code, clear the detail.
 * Cheap: copies the pool name and the daemon pid, and formats the text
 * only when pp_error_detail() asks.  Returns code. */
int pp_detail_after(const pp_pool *p, int code);

#endif
