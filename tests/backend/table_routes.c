/* table_routes.c - /databases/{db}/tables and /databases/{db}/tables/{t}
 * (routes.h).  Handlers run under the store lock.
 *
 * GET and DELETE on /databases/{db}/tables/{t} serve two tables of
 * PHANTOMDB-API.md: with a ?condition= argument (even an empty one) they
 * select / delete rows (row_routes.c); without it they describe / drop the
 * table.
 */
#include "routes.h"
#include "schema.h"
#include "sqljson.h"
#include "store.h"

#include <string.h>
#include <strings.h>

/* The database named by the first capture, or NULL after a 404 answer. */
static struct pdb_database *db_from_path(struct req *r)
{
	struct pdb_database *d = store_find(r->cap[0]);

	if (!d)
		reply_error(r, 404, "database '%s' not found", r->cap[0]);
	return d;
}

/* GET /databases/{db}/tables -> 200 {"tables": [Table...]}; 404. */
void h_table_list(struct req *r)
{
	struct pdb_database *d = db_from_path(r);
	json_t *names, *name, *tables;
	size_t i;

	if (!d)
		return;
	names = schema_table_names(d);
	tables = json_array();
	json_array_foreach(names, i, name)
		json_array_append_new(tables, schema_table_json(d, json_string_value(name)));
	json_decref(names);
	reply_json(r, 200, json_pack("{s:o}", "tables", tables));
}

/* Record the creation time of table name in the meta table. */
static void remember_created(struct pdb_database *d, const char *name)
{
	sqlite3_stmt *st;
	const char *sql = "INSERT OR REPLACE INTO " STORE_META_TABLE
			  " (name, created_at) VALUES (?1, ?2)";

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_step(st);
	sqlite3_finalize(st);
}

/* POST /databases/{db}/tables {"name", "columns": [Column...]} -> 201
 * Table; 409 if it exists; 400 on bad columns; 404 without the db. */
void h_table_create(struct req *r)
{
	struct pdb_database *d = db_from_path(r);
	json_t *body = d ? req_body_object(r) : NULL;
	const char *name;
	char *sql;

	if (!body)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (!name || !*name || strchr(name, '/') || !strncasecmp(name, "sqlite_", 7) ||
	    !strcasecmp(name, STORE_META_TABLE)) {
		reply_error(r, 400, "\"name\" must be a non-empty string, not reserved,"
			    " without '/'");
	} else if (sql_table_exists(d->db, name)) {
		reply_error(r, 409, "table '%s' already exists", name);
	} else if ((sql = schema_create_sql(r, name, json_object_get(body, "columns")))) {
		if (sql_exec(r, d->db, sql) == 0) {
			remember_created(d, name);
			reply_json(r, 201, schema_table_json(d, name));
		}
		sqlite3_free(sql);
	}
	json_decref(body);
}

/* GET /databases/{db}/tables/{t} -> 200 Table; 404.  With ?condition=:
 * select rows instead (row_routes.c). */
void h_table_get(struct req *r)
{
	struct pdb_database *d;
	json_t *t;

	if (req_has_arg(r, "condition")) {
		rows_select_records(r);
		return;
	}
	if (!(d = db_from_path(r)))
		return;
	if ((t = schema_table_json(d, r->cap[1])))
		reply_json(r, 200, t);
	else
		reply_error(r, 404, "table '%s' not found", r->cap[1]);
}

/* DELETE /databases/{db}/tables/{t} -> 204 (table dropped); 404.  With
 * ?condition=: delete matching rows instead (row_routes.c). */
void h_table_delete(struct req *r)
{
	struct pdb_database *d;
	char *sql;

	if (req_has_arg(r, "condition")) {
		rows_delete_records(r);
		return;
	}
	if (!(d = db_from_path(r)))
		return;
	if (!sql_table_exists(d->db, r->cap[1])) {
		reply_error(r, 404, "table '%s' not found", r->cap[1]);
		return;
	}
	sql = sqlite3_mprintf("DROP TABLE \"%w\"", r->cap[1]);
	if (sql && sql_exec(r, d->db, sql) == 0) {
		sqlite3_free(sql);
		sql = sqlite3_mprintf("DELETE FROM " STORE_META_TABLE " WHERE name = %Q",
				      r->cap[1]);
		sqlite3_exec(d->db, sql, NULL, NULL, NULL);
		reply_json(r, 204, NULL);
	}
	sqlite3_free(sql);
}
