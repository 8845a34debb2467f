/* db_routes.c - /health, /databases, /databases/{db} and
 * /databases/{db}/query (routes.h).  Handlers run under the store lock. */
#include "routes.h"
#include "schema.h"
#include "sqljson.h"
#include "store.h"

#include <string.h>

/* The database named by the first capture, or NULL after a 404 answer. */
static struct pdb_database *db_from_path(struct req *r)
{
	struct pdb_database *d = store_find(r->cap[0]);

	if (!d)
		reply_error(r, 404, "database '%s' not found", r->cap[0]);
	return d;
}

/* GET /health -> 200 {"status": "healthy"}. */
void h_health(struct req *r)
{
	reply_json(r, 200, json_pack("{s:s}", "status", "healthy"));
}

/* GET /databases -> 200 {"databases": [Database...]} in name order. */
void h_db_list(struct req *r)
{
	json_t *list = json_array();

	for (struct pdb_database *d = store_first(); d; d = d->next)
		json_array_append_new(list, schema_database_json(d));
	reply_json(r, 200, json_pack("{s:o}", "databases", list));
}

/* POST /databases {"name": s, "options": {}} -> 201 Database; 409 if it
 * exists; 400 without a non-empty name. */
void h_db_create(struct req *r)
{
	json_t *body = req_body_object(r);
	const char *name;
	struct pdb_database *d;
	int exists;

	if (!body)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (!name || !*name || strchr(name, '/')) {
		reply_error(r, 400, "\"name\" must be a non-empty string without '/'");
	} else if ((d = store_create(name, &exists))) {
		reply_json(r, 201, schema_database_json(d));
	} else if (exists) {
		reply_error(r, 409, "database '%s' already exists", name);
	} else {
		reply_error(r, 500, "cannot create database '%s'", name);
	}
	json_decref(body);
}

/* GET /databases/{db} -> 200 Database; 404. */
void h_db_get(struct req *r)
{
	struct pdb_database *d = db_from_path(r);

	if (d)
		reply_json(r, 200, schema_database_json(d));
}

/* DELETE /databases/{db} -> 204; 404. */
void h_db_delete(struct req *r)
{
	if (store_drop(r->cap[0]) < 0)
		reply_error(r, 404, "database '%s' not found", r->cap[0]);
	else
		reply_json(r, 204, NULL);
}

/* Bind the JSON array params (may be NULL) to st; 0, or -1 after a 400. */
static int bind_params(struct req *r, sqlite3_stmt *st, json_t *params)
{
	size_t i;
	json_t *v;

	if (params && !json_is_array(params)) {
		reply_error(r, 400, "\"parameters\" must be an array");
		return -1;
	}
	if ((int)json_array_size(params) > sqlite3_bind_parameter_count(st)) {
		reply_error(r, 400, "%zu parameters for %d placeholders",
			    json_array_size(params), sqlite3_bind_parameter_count(st));
		return -1;
	}
	json_array_foreach(params, i, v)
		sql_bind_json(st, (int)i + 1, v);
	return 0;
}

/* Step st to the end, collecting rows; answers r with the query result.
 * affectedRows is sqlite3_changes() when the statement changed rows, 0
 * otherwise (DDL and SELECT leave the previous statement's count). */
static void run_query(struct req *r, sqlite3 *db, sqlite3_stmt *st)
{
	json_t *cols = json_array(), *rows = json_array();
	int rc, ncol = sqlite3_column_count(st);
	sqlite3_int64 total_before = sqlite3_total_changes64(db);

	for (int i = 0; i < ncol; i++)
		json_array_append_new(cols, json_string(sqlite3_column_name(st, i)));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(rows, sql_row_array(st));
	if (rc != SQLITE_DONE) {
		reply_sql_error(r, db);
		json_decref(cols);
		json_decref(rows);
		return;
	}
	reply_json(r, 200, json_pack("{s:o, s:o, s:I, s:I}", "columns", cols,
				     "rows", rows, "rowCount",
				     (json_int_t)json_array_size(rows), "affectedRows",
				     (json_int_t)(sqlite3_total_changes64(db) == total_before
						  ? 0 : sqlite3_changes64(db))));
}

/* POST /databases/{db}/query {"query": sql, "parameters": [...]} ->
 * 200 {"columns", "rows": [[...]], "rowCount", "affectedRows"}; one
 * statement only; 400 on SQL errors, 409 on constraint violations. */
void h_db_query(struct req *r)
{
	struct pdb_database *d = db_from_path(r);
	json_t *body = d ? req_body_object(r) : NULL;
	const char *sql;
	sqlite3_stmt *st;

	if (!body)
		return;
	sql = json_string_value(json_object_get(body, "query"));
	if (!sql) {
		reply_error(r, 400, "\"query\" must be a string");
	} else if ((st = sql_prepare_one(r, d->db, sql))) {
		if (bind_params(r, st, json_object_get(body, "parameters")) == 0)
			run_query(r, d->db, st);
		sqlite3_finalize(st);
	}
	json_decref(body);
}
