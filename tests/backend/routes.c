/* routes.c - the route table and path matching (routes.h). */
#include "routes.h"

#include <string.h>

#define PUB ROUTE_PUBLIC
#define STO ROUTE_STORE

/* Every route of PHANTOMDB-API.md plus the /_debug test hooks.  GET and
 * DELETE on databases/x/tables/y switch on ?condition= in table_routes.c.
 * HEAD is served by the GET route (libmicrohttpd drops the body). */
static const struct route routes[] = {
	{ "GET", "health", h_health, BODY_IGNORE, PUB },
	{ "GET", "databases", h_db_list, BODY_IGNORE, STO },
	{ "POST", "databases", h_db_create, BODY_JSON, STO },
	{ "GET", "databases/*", h_db_get, BODY_IGNORE, STO },
	{ "DELETE", "databases/*", h_db_delete, BODY_IGNORE, STO },
	{ "POST", "databases/*/query", h_db_query, BODY_JSON, STO },
	{ "GET", "databases/*/tables", h_table_list, BODY_IGNORE, STO },
	{ "POST", "databases/*/tables", h_table_create, BODY_JSON, STO },
	{ "GET", "databases/*/tables/*", h_table_get, BODY_IGNORE, STO },
	{ "DELETE", "databases/*/tables/*", h_table_delete, BODY_IGNORE, STO },
	{ "POST", "databases/*/tables/*", h_record_insert, BODY_JSON, STO },
	{ "PUT", "databases/*/tables/*", h_record_update, BODY_JSON, STO },
	{ "GET", "databases/*/tables/*/rows", h_rows_list, BODY_IGNORE, STO },
	{ "POST", "databases/*/tables/*/rows", h_rows_insert, BODY_JSON, STO },
	{ "POST", "transactions", h_txn_begin, BODY_IGNORE, 0 },
	{ "POST", "transactions/*/commit", h_txn_commit, BODY_IGNORE, 0 },
	{ "POST", "transactions/*/rollback", h_txn_rollback, BODY_IGNORE, 0 },
	{ "GET", "_debug/connections", h_debug_connections, BODY_IGNORE, PUB },
	{ "GET", "_debug/bytes", h_debug_bytes, BODY_IGNORE, PUB },
	{ "POST", "_debug/sum", h_debug_sum, BODY_SUM, PUB },
	{ "POST", "_debug/echo", h_debug_echo, BODY_ECHO, PUB },
	{ "GET", "_debug/headers", h_debug_headers, BODY_IGNORE, PUB },
};

/* Split r->path in place on '/' into r->seg[]; drops a leading "api/v1".
 * Empty segments are kept (they never match '*').  Returns -1 when there
 * are more than REQ_MAX_SEGS segments. */
static int split_path(struct req *r)
{
	char *p = r->path;
	size_t skip = 0;

	r->nseg = 0;
	if (*p == '/')
		p++;
	while (*p) {
		if (r->nseg == REQ_MAX_SEGS)
			return -1;
		r->seg[r->nseg++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	if (r->nseg >= 2 && !strcmp(r->seg[0], "api") && !strcmp(r->seg[1], "v1"))
		skip = 2;
	memmove(r->seg, r->seg + skip, (r->nseg - skip) * sizeof r->seg[0]);
	r->nseg -= skip;
	return 0;
}

/* 1 if the segments match pattern; fills r->cap[] from the '*'s. */
static int pattern_match(struct req *r, const char *pattern)
{
	size_t i = 0, ncap = 0;
	const char *p = pattern;

	while (*p) {
		size_t len = strcspn(p, "/");
		if (i == r->nseg)
			return 0;
		if (len == 1 && *p == '*') {
			if (!*r->seg[i] || ncap == REQ_MAX_CAPS)
				return 0;
			r->cap[ncap++] = r->seg[i];
		} else if (strlen(r->seg[i]) != len || memcmp(r->seg[i], p, len)) {
			return 0;
		}
		i++;
		p += len;
		if (*p == '/')
			p++;
	}
	return i == r->nseg;
}

void route_resolve(struct req *r)
{
	r->route = NULL;
	r->path_known = 0;
	if (split_path(r) < 0)
		return;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (!pattern_match(r, routes[i].pattern))
			continue;
		if (!strcmp(routes[i].method, r->method) ||
		    (!strcmp(r->method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
			r->route = &routes[i];
			return;
		}
		r->path_known = 1;
	}
}
