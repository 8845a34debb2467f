/* sqljson.h - SQLite <-> JSON helpers shared by the data routes.
 *
 * Note: "condition", "where" and "orderBy" are raw SQL expressions handed
 * to SQLite.  That is SQL injection by design; acceptable for a test
 * backend that only listens on loopback.  Identifiers (database, table and
 * column names) are always quoted with sql_ident, never pasted raw.
 */
#ifndef PDB_SQLJSON_H
#define PDB_SQLJSON_H

#include "http.h"

#include <jansson.h>
#include <sqlite3.h>
#include <time.h>

/* "name" quoted as an SQL identifier (embedded quotes doubled); free with
 * sqlite3_free.  NULL on allocation failure. */
char *sql_ident(const char *name);

/* Column col of the current row as a new JSON value (integer, real,
 * string, null; blobs as a lower-case hex string). */
json_t *sql_column_json(sqlite3_stmt *st, int col);

/* The current row as {"column": value, ...}. */
json_t *sql_row_object(sqlite3_stmt *st);

/* The current row as [value, ...]. */
json_t *sql_row_array(sqlite3_stmt *st);

/* Bind JSON value v to parameter idx (1-based): numbers, strings, null;
 * true/false as 1/0; arrays and objects as their JSON text.  Returns an
 * SQLite result code. */
int sql_bind_json(sqlite3_stmt *st, int idx, json_t *v);

/* Prepare exactly one statement from sql.  On failure answers r (400, or
 * 409 for constraint errors) and returns NULL. */
sqlite3_stmt *sql_prepare_one(struct req *r, sqlite3 *db, const char *sql);

/* Answer r with the error SQLite reported on db: 409 for constraint
 * violations, 500 for out-of-memory, 400 otherwise. */
void reply_sql_error(struct req *r, sqlite3 *db);

/* Run one parameterless statement; 0, or -1 after answering r. */
int sql_exec(struct req *r, sqlite3 *db, const char *sql);

/* 1 if table name exists in db (case-insensitive, like SQLite). */
int sql_table_exists(sqlite3 *db, const char *name);

/* t as an ISO-8601 UTC string ("2024-01-02T03:04:05Z") in buf. */
const char *iso_time(time_t t, char buf[32]);

#endif
