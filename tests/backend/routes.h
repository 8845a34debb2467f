/* routes.h - the route table of the reference backend and its handlers.
 *
 * A pattern is a '/'-separated list of literal segments and '*' (any one
 * non-empty segment, captured in req->cap[] in order).  An optional
 * "api/v1" prefix is accepted in front of every route.
 */
#ifndef PDB_ROUTES_H
#define PDB_ROUTES_H

#include "http.h"

typedef void (*route_fn)(struct req *r);

enum route_flags {
	ROUTE_PUBLIC = 1,	/* no bearer token needed */
	ROUTE_STORE = 2,	/* handler runs under the store lock */
};

struct route {
	const char *method;
	const char *pattern;
	route_fn fn;
	enum body_mode body;
	unsigned flags;
};

/* Split r->path into r->seg[] (dropping an "api/v1" prefix) and find the
 * route for r->method.  Sets r->route (NULL if none), r->cap[] and
 * r->path_known (the path exists for another method). */
void route_resolve(struct req *r);

/* db_routes.c */
void h_health(struct req *r);
void h_db_list(struct req *r);
void h_db_create(struct req *r);
void h_db_get(struct req *r);
void h_db_delete(struct req *r);
void h_db_query(struct req *r);

/* table_routes.c */
void h_table_list(struct req *r);
void h_table_create(struct req *r);
void h_table_get(struct req *r);
void h_table_delete(struct req *r);

/* row_routes.c */
void h_record_insert(struct req *r);
void h_record_update(struct req *r);
void h_rows_list(struct req *r);
void h_rows_insert(struct req *r);
void rows_select_records(struct req *r);
void rows_delete_records(struct req *r);

/* txn.c */
void h_txn_begin(struct req *r);
void h_txn_commit(struct req *r);
void h_txn_rollback(struct req *r);

/* debug_routes.c */
void h_debug_connections(struct req *r);
void h_debug_bytes(struct req *r);
void h_debug_sum(struct req *r);
void h_debug_echo(struct req *r);
void h_debug_headers(struct req *r);

#endif
