/* sqljson.c - SQLite <-> JSON helpers (sqljson.h). */
#include "sqljson.h"
#include "store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

char *sql_ident(const char *name)
{
	return sqlite3_mprintf("\"%w\"", name);
}

/* A blob as a lower-case hex JSON string. */
static json_t *blob_json(const unsigned char *p, int n)
{
	static const char hex[] = "0123456789abcdef";
	char *s = malloc((size_t)n * 2 + 1);
	json_t *j;

	if (!s)
		return json_null();
	for (int i = 0; i < n; i++) {
		s[2 * i] = hex[p[i] >> 4];
		s[2 * i + 1] = hex[p[i] & 15];
	}
	s[2 * n] = '\0';
	j = json_string(s);
	free(s);
	return j ? j : json_null();
}

json_t *sql_column_json(sqlite3_stmt *st, int col)
{
	json_t *j = NULL;
	double d;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, col));
	case SQLITE_FLOAT:
		d = sqlite3_column_double(st, col);
		return isfinite(d) ? json_real(d) : json_null();
	case SQLITE_TEXT:
		j = json_stringn((const char *)sqlite3_column_text(st, col),
				 (size_t)sqlite3_column_bytes(st, col));
		return j ? j : json_null();	/* not UTF-8 */
	case SQLITE_BLOB:
		return blob_json(sqlite3_column_blob(st, col),
				 sqlite3_column_bytes(st, col));
	default:
		return json_null();
	}
}

json_t *sql_row_object(sqlite3_stmt *st)
{
	json_t *o = json_object();

	for (int i = 0; i < sqlite3_column_count(st); i++) {
		const char *name = sqlite3_column_name(st, i);
		json_object_set_new(o, name ? name : "?", sql_column_json(st, i));
	}
	return o;
}

json_t *sql_row_array(sqlite3_stmt *st)
{
	json_t *a = json_array();

	for (int i = 0; i < sqlite3_column_count(st); i++)
		json_array_append_new(a, sql_column_json(st, i));
	return a;
}

int sql_bind_json(sqlite3_stmt *st, int idx, json_t *v)
{
	char *text;
	int rc;

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		return sqlite3_bind_int64(st, idx, json_integer_value(v));
	case JSON_REAL:
		return sqlite3_bind_double(st, idx, json_real_value(v));
	case JSON_STRING:
		return sqlite3_bind_text(st, idx, json_string_value(v),
					 (int)json_string_length(v), SQLITE_TRANSIENT);
	case JSON_TRUE:
		return sqlite3_bind_int(st, idx, 1);
	case JSON_FALSE:
		return sqlite3_bind_int(st, idx, 0);
	case JSON_NULL:
		return sqlite3_bind_null(st, idx);
	default:
		text = json_dumps(v, JSON_COMPACT);
		if (!text)
			return SQLITE_NOMEM;
		rc = sqlite3_bind_text(st, idx, text, -1, SQLITE_TRANSIENT);
		free(text);
		return rc;
	}
}

void reply_sql_error(struct req *r, sqlite3 *db)
{
	int rc = sqlite3_errcode(db) & 0xff;
	unsigned status = rc == SQLITE_CONSTRAINT ? 409 : rc == SQLITE_NOMEM ? 500 : 400;

	reply_error(r, status, "SQLite: %s", sqlite3_errmsg(db));
}

/* 1 if s holds only whitespace and semicolons. */
static int sql_tail_empty(const char *s)
{
	return s[strspn(s, " \t\r\n;")] == '\0';
}

sqlite3_stmt *sql_prepare_one(struct req *r, sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK) {
		reply_sql_error(r, db);
		return NULL;
	}
	if (!st) {
		reply_error(r, 400, "empty SQL statement");
		return NULL;
	}
	if (tail && !sql_tail_empty(tail)) {
		sqlite3_finalize(st);
		reply_error(r, 400, "only one SQL statement per request");
		return NULL;
	}
	return st;
}

int sql_exec(struct req *r, sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	reply_sql_error(r, db);
	return -1;
}

int sql_table_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int found;
	const char *sql = "SELECT 1 FROM sqlite_master WHERE type = 'table'"
			  " AND name = ?1 COLLATE NOCASE AND name <> '" STORE_META_TABLE "'";

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

const char *iso_time(time_t t, char buf[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}
