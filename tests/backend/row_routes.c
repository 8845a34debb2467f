/* row_routes.c - rows of one table: /databases/{db}/tables/{t}/rows and
 * the record routes of the client libraries on /databases/{db}/tables/{t}
 * (routes.h).  Handlers run under the store lock.
 *
 * "condition", "where" and "orderBy" are SQL expressions pasted into the
 * statement (see sqljson.h): fine for a loopback test backend only.  An
 * empty or absent condition means every row.
 */
#include "routes.h"
#include "sqljson.h"
#include "store.h"

#include <string.h>

/* The database of the path after checking that table cap[1] exists in it;
 * NULL after a 404 answer. */
static struct pdb_database *table_from_path(struct req *r)
{
	struct pdb_database *d = store_find(r->cap[0]);

	if (!d)
		reply_error(r, 404, "database '%s' not found", r->cap[0]);
	else if (!sql_table_exists(d->db, r->cap[1]))
		reply_error(r, 404, "table '%s' not found", r->cap[1]);
	else
		return d;
	return NULL;
}

/* " WHERE (cond)" for a non-empty cond, else ""; the caller frees the
 * result with sqlite3_free (NULL only when out of memory). */
static char *where_clause(const char *cond)
{
	if (!cond || !cond[strspn(cond, " \t\r\n")])
		return sqlite3_mprintf("%s", "");
	return sqlite3_mprintf(" WHERE (%s)", cond);
}

/* Step a SELECT to the end and return its rows as objects, or NULL after
 * answering r with the SQLite error. */
static json_t *collect_objects(struct req *r, sqlite3 *db, sqlite3_stmt *st)
{
	json_t *rows = json_array();
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(rows, sql_row_object(st));
	if (rc == SQLITE_DONE)
		return rows;
	reply_sql_error(r, db);
	json_decref(rows);
	return NULL;
}

/* Run a data-changing statement sql (consumed: sqlite3_free) with the
 * values of obj bound to ?1..?n in key order.  Returns the number of rows
 * changed, or -1 after answering r. */
static long long run_change(struct req *r, sqlite3 *db, char *sql, json_t *obj)
{
	sqlite3_stmt *st = sql ? sql_prepare_one(r, db, sql) : NULL;
	const char *key;
	json_t *v;
	int idx = 1, rc;

	sqlite3_free(sql);
	if (!st)
		return -1;
	json_object_foreach(obj, key, v)
		sql_bind_json(st, idx++, v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		reply_sql_error(r, db);
		return -1;
	}
	return sqlite3_changes64(db);
}

/* INSERT one row object into table; 0, or -1 after answering r. */
static int insert_object(struct req *r, sqlite3 *db, const char *table, json_t *row)
{
	sqlite3_str *s = sqlite3_str_new(db);
	const char *key;
	json_t *v;
	int n = 0;

	if (!json_is_object(row)) {
		sqlite3_free(sqlite3_str_finish(s));
		reply_error(r, 400, "a row must be a JSON object");
		return -1;
	}
	sqlite3_str_appendf(s, "INSERT INTO \"%w\"", table);
	if (json_object_size(row) == 0)
		sqlite3_str_appendall(s, " DEFAULT VALUES");
	json_object_foreach(row, key, v)
		sqlite3_str_appendf(s, "%s\"%w\"", n++ ? ", " : " (", key);
	if (n) {
		sqlite3_str_appendall(s, ") VALUES (");
		for (int i = 1; i <= n; i++)
			sqlite3_str_appendf(s, "%s?%d", i > 1 ? ", " : "", i);
		sqlite3_str_appendall(s, ")");
	}
	return run_change(r, db, sqlite3_str_finish(s), row) < 0 ? -1 : 0;
}

/* GET /databases/{db}/tables/{t}?condition=... -> 200 {"records": [...]}. */
void rows_select_records(struct req *r)
{
	struct pdb_database *d = table_from_path(r);
	char *where, *sql;
	sqlite3_stmt *st;
	json_t *rows;

	if (!d)
		return;
	where = where_clause(req_arg(r, "condition"));
	sql = sqlite3_mprintf("SELECT * FROM \"%w\"%s", r->cap[1], where);
	st = sql ? sql_prepare_one(r, d->db, sql) : NULL;
	if (st && (rows = collect_objects(r, d->db, st)))
		reply_json(r, 200, json_pack("{s:o}", "records", rows));
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_free(where);
}

/* DELETE /databases/{db}/tables/{t}?condition=... -> 200 {"deleted": n}. */
void rows_delete_records(struct req *r)
{
	struct pdb_database *d = table_from_path(r);
	char *where;
	long long n;

	if (!d)
		return;
	where = where_clause(req_arg(r, "condition"));
	n = run_change(r, d->db, sqlite3_mprintf("DELETE FROM \"%w\"%s", r->cap[1],
						 where), NULL);
	if (n >= 0)
		reply_json(r, 200, json_pack("{s:I}", "deleted", (json_int_t)n));
	sqlite3_free(where);
}

/* POST /databases/{db}/tables/{t} row-object -> 201 {"inserted": 1,
 * "id": rowid}; 400 on bad rows/SQL, 409 on constraint violations. */
void h_record_insert(struct req *r)
{
	struct pdb_database *d = table_from_path(r);
	json_t *row = d ? req_body_object(r) : NULL;

	if (!row)
		return;
	if (insert_object(r, d->db, r->cap[1], row) == 0)
		reply_json(r, 201, json_pack("{s:i, s:I}", "inserted", 1, "id",
					     (json_int_t)sqlite3_last_insert_rowid(d->db)));
	json_decref(row);
}

/* PUT /databases/{db}/tables/{t} {"data": {...}, "condition": s} -> 200
 * {"updated": n}; no condition updates every row. */
void h_record_update(struct req *r)
{
	struct pdb_database *d = table_from_path(r);
	json_t *body = d ? req_body_object(r) : NULL, *data, *v;
	const char *key;
	sqlite3_str *s;
	char *where;
	int n = 0;
	long long changed;

	if (!body)
		return;
	data = json_object_get(body, "data");
	if (!json_is_object(data) || json_object_size(data) == 0) {
		reply_error(r, 400, "\"data\" must be a non-empty object");
		json_decref(body);
		return;
	}
	s = sqlite3_str_new(d->db);
	sqlite3_str_appendf(s, "UPDATE \"%w\" SET ", r->cap[1]);
	json_object_foreach(data, key, v) {
		sqlite3_str_appendf(s, "%s\"%w\" = ?%d", n ? ", " : "", key, n + 1);
		n++;
	}
	where = where_clause(json_string_value(json_object_get(body, "condition")));
	sqlite3_str_appendall(s, where);
	changed = run_change(r, d->db, sqlite3_str_finish(s), data);
	if (changed >= 0)
		reply_json(r, 200, json_pack("{s:I}", "updated", (json_int_t)changed));
	sqlite3_free(where);
	json_decref(body);
}

/* GET /databases/{db}/tables/{t}/rows?where=&orderBy=&limit=&offset= ->
 * 200 {"rows": [{...}], "count": rows returned}; limit 1..10000
 * (default 100), offset >= 0. */
void h_rows_list(struct req *r)
{
	struct pdb_database *d = table_from_path(r);
	const char *order = req_arg(r, "orderBy");
	long limit, offset;
	char *where, *sql;
	sqlite3_stmt *st = NULL;
	json_t *rows;

	if (!d || req_arg_long(r, "limit", 1, 10000, 100, &limit) < 0 ||
	    req_arg_long(r, "offset", 0, 0x7fffffffL, 0, &offset) < 0)
		return;
	where = where_clause(req_arg(r, "where"));
	sql = sqlite3_mprintf("SELECT * FROM \"%w\"%s%s%s LIMIT %ld OFFSET %ld",
			      r->cap[1], where, order && *order ? " ORDER BY " : "",
			      order && *order ? order : "", limit, offset);
	if (sql && (st = sql_prepare_one(r, d->db, sql)) &&
	    (rows = collect_objects(r, d->db, st)))
		reply_json(r, 200, json_pack("{s:o, s:I}", "rows", rows, "count",
					     (json_int_t)json_array_size(rows)));
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_free(where);
}

/* POST /databases/{db}/tables/{t}/rows {"rows": [{...}...]} -> 201
 * {"inserted": n}; all rows or none (one SQLite savepoint). */
void h_rows_insert(struct req *r)
{
	struct pdb_database *d = table_from_path(r);
	json_t *body = d ? req_body_object(r) : NULL, *rows, *row;
	size_t i;
	int failed = 0;

	if (!body)
		return;
	rows = json_object_get(body, "rows");
	if (!json_is_array(rows)) {
		reply_error(r, 400, "\"rows\" must be an array of objects");
	} else if (sql_exec(r, d->db, "SAVEPOINT bulk_insert") == 0) {
		json_array_foreach(rows, i, row)
			if (!failed && insert_object(r, d->db, r->cap[1], row) < 0)
				failed = 1;
		sqlite3_exec(d->db, failed ? "ROLLBACK TO bulk_insert; RELEASE bulk_insert"
				: "RELEASE bulk_insert", NULL, NULL, NULL);
		if (!failed)
			reply_json(r, 201, json_pack("{s:I}", "inserted",
						     (json_int_t)json_array_size(rows)));
	}
	json_decref(body);
}
