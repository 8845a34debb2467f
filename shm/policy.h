/* policy.h - what a worker may put in a request: checked by the client
 * library before sending and again by the daemon (the ring is untrusted). */
#ifndef PP_POLICY_H
#define PP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* 1 if a worker may set this header (Content-Type, Accept, X-Request-Id,
 * any case), else 0.  Everything else (Authorization, Host, Connection,
 * Transfer-Encoding, Content-Length...) is the daemon's to set. */
int pp_header_allowed(const char *name, size_t len);

/* 1 if the path has no "." or ".." segment (which could climb out of the
 * base URL's path prefix), else 0. */
int pp_path_segments_safe(const char *path, size_t len);

/* The one set of checks of a request head, run by the client library
 * before it sends one and by the daemon on every head it takes from a
 * ring: method (an RFC 9110 token, not CONNECT), path (pp_frame_path_ok and no dot
 * segments), headers (allowed names, no control characters, limits,
 * Content-Type and X-Request-Id at most once each),
 * body_len (-1 or more, at most max_body unless max_body is 0).  Returns 0
 * or PP_EBADMETHOD, PP_EBADPATH, PP_EBADHEADER, PP_EINVAL (body_len < -1),
 * PP_ETOOBIG. */
int pp_req_head_check(const struct pp_frame_req_head *h, uint64_t max_body);

#endif
