/* policy.h - what a worker may put in a request: checked by the client
 * library before sending and again by the daemon (the ring is untrusted). */
#ifndef PP_POLICY_H
#define PP_POLICY_H

#include <stddef.h>

/* 1 if a worker may set this header (Content-Type, Accept, X-Request-Id,
 * any case), else 0.  Everything else (Authorization, Host, Connection,
 * Transfer-Encoding, Content-Length...) is the daemon's to set. */
int pp_header_allowed(const char *name, size_t len);

/* 1 if the path has no "." or ".." segment (which could climb out of the
 * base URL's path prefix), else 0. */
int pp_path_segments_safe(const char *path, size_t len);

#endif
