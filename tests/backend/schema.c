/* schema.c - Database/Table/Column JSON from SQLite (schema.h). */
#include "schema.h"
#include "sqljson.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Run sql with text parameter arg (may be NULL) and return the first column
 * of every row as a JSON array. */
static json_t *column_list(sqlite3 *db, const char *sql, const char *arg)
{
	json_t *out = json_array();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return out;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(out, sql_column_json(st, 0));
	sqlite3_finalize(st);
	return out;
}

/* First column of the first row of sql(arg) as an integer; dflt if none. */
static long long scalar_int(sqlite3 *db, const char *sql, const char *arg,
			    long long dflt)
{
	sqlite3_stmt *st;
	long long v = dflt;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return dflt;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

json_t *schema_table_names(struct pdb_database *d)
{
	return column_list(d->db,
			   "SELECT name FROM sqlite_master WHERE type = 'table'"
			   " AND substr(name, 1, 7) <> 'sqlite_'"
			   " AND name <> '" STORE_META_TABLE "' ORDER BY name", NULL);
}

json_t *schema_database_json(struct pdb_database *d)
{
	char when[32];
	long long pages = scalar_int(d->db, "PRAGMA page_count", NULL, 0);
	long long psize = scalar_int(d->db, "PRAGMA page_size", NULL, 0);

	return json_pack("{s:s, s:s, s:o, s:I}", "name", d->name, "createdAt",
			 iso_time(d->created, when), "tables", schema_table_names(d),
			 "size", (json_int_t)(pages * psize));
}

/* A column's stored DEFAULT expression back as JSON: numbers, unquoted
 * strings, null; anything else (an expression) as its SQL text. */
static json_t *default_json(const char *sql)
{
	char *end;
	size_t n;

	if (!sql || !strcasecmp(sql, "NULL"))
		return json_null();
	long long i = strtoll(sql, &end, 10);
	if (*sql && !*end)
		return json_integer(i);
	double d = strtod(sql, &end);
	if (*sql && !*end)
		return json_real(d);
	n = strlen(sql);
	if (n < 2 || sql[0] != '\'' || sql[n - 1] != '\'')
		return json_string(sql);
	char *s = malloc(n), *o = s;
	if (!s)
		return json_null();
	for (size_t k = 1; k + 1 < n; k++) {
		*o++ = sql[k];
		if (sql[k] == '\'' && sql[k + 1] == '\'')
			k++;
	}
	*o = '\0';
	json_t *j = json_string(s);
	free(s);
	return j ? j : json_null();
}

/* The Column objects of table name (exists); primary-key columns are
 * reported as not nullable. */
static json_t *table_columns(sqlite3 *db, const char *name)
{
	json_t *cols = json_array();
	sqlite3_stmt *st;
	const char *sql = "SELECT name, type, \"notnull\", dflt_value, pk"
			  " FROM pragma_table_info(?1) ORDER BY cid";

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return cols;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_array_append_new(cols, json_pack(
			"{s:s, s:s, s:b, s:b, s:o}",
			"name", (const char *)sqlite3_column_text(st, 0),
			"type", (const char *)sqlite3_column_text(st, 1),
			"nullable", !sqlite3_column_int(st, 2) &&
				    !sqlite3_column_int(st, 4),
			"primaryKey", sqlite3_column_int(st, 4) > 0,
			"defaultValue",
			default_json((const char *)sqlite3_column_text(st, 3))));
	}
	sqlite3_finalize(st);
	return cols;
}

json_t *schema_table_json(struct pdb_database *d, const char *name)
{
	char when[32], *count_sql, *ident;
	const char *real_name;
	json_t *names, *out;
	long long created, rows;

	if (!sql_table_exists(d->db, name))
		return NULL;
	names = column_list(d->db, "SELECT name FROM sqlite_master WHERE type = 'table'"
				   " AND name = ?1 COLLATE NOCASE", name);
	real_name = json_string_value(json_array_get(names, 0));
	if (!real_name)
		real_name = name;
	ident = sql_ident(real_name);
	count_sql = sqlite3_mprintf("SELECT count(*) FROM %s", ident);
	rows = count_sql ? scalar_int(d->db, count_sql, NULL, 0) : 0;
	created = scalar_int(d->db, "SELECT created_at FROM " STORE_META_TABLE
				    " WHERE name = ?1", real_name, (long long)d->created);
	out = json_pack("{s:s, s:o, s:I, s:s, s:o}", "name", real_name,
			"columns", table_columns(d->db, real_name),
			"rowCount", (json_int_t)rows,
			"createdAt", iso_time((time_t)created, when),
			"indexes", column_list(d->db, "SELECT name FROM"
				   " pragma_index_list(?1) ORDER BY name", real_name));
	sqlite3_free(count_sql);
	sqlite3_free(ident);
	json_decref(names);
	return out;
}

/* 1 if type is a plausible SQL type name: letters, digits, '_', ' ',
 * '(', ')', ',' and non-empty. */
static int type_name_ok(const char *type)
{
	return *type && type[strspn(type, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ (),")] == '\0';
}

/* Append " DEFAULT <literal of v>" to s. */
static void append_default(sqlite3_str *s, json_t *v)
{
	char *text;

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		sqlite3_str_appendf(s, " DEFAULT %lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		sqlite3_str_appendf(s, " DEFAULT %.17g", json_real_value(v));
		break;
	case JSON_STRING:
		sqlite3_str_appendf(s, " DEFAULT %Q", json_string_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		sqlite3_str_appendf(s, " DEFAULT %d", json_is_true(v));
		break;
	case JSON_NULL:
		sqlite3_str_appendall(s, " DEFAULT NULL");
		break;
	default:
		text = json_dumps(v, JSON_COMPACT);
		sqlite3_str_appendf(s, " DEFAULT %Q", text ? text : "");
		free(text);
	}
}

/* Append one column definition; 0, or -1 after answering r. */
static int append_column(struct req *r, sqlite3_str *s, json_t *col, int inline_pk)
{
	const char *name = json_string_value(json_object_get(col, "name"));
	json_t *type = json_object_get(col, "type");
	json_t *nullable = json_object_get(col, "nullable");
	json_t *dflt = json_object_get(col, "defaultValue");

	if (!json_is_object(col) || !name || !*name) {
		reply_error(r, 400, "every column needs a non-empty \"name\"");
		return -1;
	}
	if (type && (!json_is_string(type) || !type_name_ok(json_string_value(type)))) {
		reply_error(r, 400, "column %s: bad \"type\"", name);
		return -1;
	}
	sqlite3_str_appendf(s, "\"%w\" %s", name, type ? json_string_value(type) : "TEXT");
	if (inline_pk)
		sqlite3_str_appendall(s, " PRIMARY KEY");
	if (json_is_false(nullable))
		sqlite3_str_appendall(s, " NOT NULL");
	if (dflt)
		append_default(s, dflt);
	return 0;
}

/* Append ", PRIMARY KEY (a, b)" for the primaryKey columns of cols. */
static void append_table_pk(sqlite3_str *s, json_t *cols)
{
	size_t i, n = 0;
	json_t *col;

	sqlite3_str_appendall(s, ", PRIMARY KEY (");
	json_array_foreach(cols, i, col) {
		if (!json_is_true(json_object_get(col, "primaryKey")))
			continue;
		sqlite3_str_appendf(s, "%s\"%w\"", n++ ? ", " : "",
				    json_string_value(json_object_get(col, "name")));
	}
	sqlite3_str_appendall(s, ")");
}

char *schema_create_sql(struct req *r, const char *name, json_t *columns)
{
	size_t i, npk = 0;
	json_t *col;
	sqlite3_str *s;

	if (!json_is_array(columns) || json_array_size(columns) == 0) {
		reply_error(r, 400, "\"columns\" must be a non-empty array");
		return NULL;
	}
	json_array_foreach(columns, i, col)
		npk += json_is_true(json_object_get(col, "primaryKey"));
	s = sqlite3_str_new(NULL);
	sqlite3_str_appendf(s, "CREATE TABLE \"%w\" (", name);
	json_array_foreach(columns, i, col) {
		if (i)
			sqlite3_str_appendall(s, ", ");
		if (append_column(r, s, col, npk == 1 &&
				  json_is_true(json_object_get(col, "primaryKey"))) < 0) {
			sqlite3_free(sqlite3_str_finish(s));
			return NULL;
		}
	}
	if (npk > 1)
		append_table_pk(s, columns);
	sqlite3_str_appendall(s, ")");
	return sqlite3_str_finish(s);
}
