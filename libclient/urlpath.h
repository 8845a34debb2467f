/* urlpath.h - build a request path with percent-escaped names and a query
 * string (private to libphantompool; no libcurl).
 *
 * Escaping follows RFC 3986: every byte except the unreserved characters
 * ALPHA / DIGIT / "-" / "." / "_" / "~" becomes "%XX" (upper-case hex).
 * One exception: a path segment that is exactly "." or ".." has its dots
 * escaped too ("%2E"): raw dot segments are resolved by HTTP clients
 * ("/databases/.." would mean "/"), and pp_request refuses them with
 * PP_EBADPATH.
 *
 * Usage:
 *	struct urlpath u;
 *	urlpath_init(&u);
 *	urlpath_lit(&u, "/databases");
 *	urlpath_seg(&u, db);                  -> "/databases/my%20db"
 *	urlpath_query(&u, "where", "a > 1");  -> "?where=a%20%3E%201"
 *	const char *path = urlpath_str(&u);   NULL if out of memory
 *	urlpath_free(&u);
 *
 * Append functions never fail by themselves: an allocation failure is
 * remembered and reported once, by urlpath_str() returning NULL.
 */
#ifndef PP_URLPATH_H
#define PP_URLPATH_H

#include <stddef.h>

struct urlpath {
	char *buf;      /* NUL-terminated once anything was appended */
	size_t len;
	size_t cap;
	int oom;        /* an append ran out of memory */
	int nquery;     /* query arguments appended so far ('?' then '&') */
};

/* An empty path. */
void urlpath_init(struct urlpath *u);

/* Free the buffer and reset u to empty.  Accepts a path never appended to. */
void urlpath_free(struct urlpath *u);

/* Append s as is (the caller's literal route text, e.g. "/databases"). */
void urlpath_lit(struct urlpath *u, const char *s);

/* Append the first n bytes of s as is. */
void urlpath_litn(struct urlpath *u, const char *s, size_t n);

/* Append "/" and the escaped name (one path segment). */
void urlpath_seg(struct urlpath *u, const char *name);

/* Append "?key=value" (first argument) or "&key=value", value escaped.
 * key is the caller's literal and is not escaped.  value NULL: nothing is
 * appended. */
void urlpath_query(struct urlpath *u, const char *key, const char *value);

/* As urlpath_query, with a decimal integer value. */
void urlpath_query_long(struct urlpath *u, const char *key, long value);

/* The path built so far, or NULL after an allocation failure (or when
 * nothing was appended). */
const char *urlpath_str(const struct urlpath *u);

/* Escape n bytes of in into out (room for 3 * n + 1 bytes), NUL-terminated;
 * returns the length written.  The plain RFC 3986 rule, no dot exception. */
size_t urlpath_escape(char *out, const char *in, size_t n);

#endif
