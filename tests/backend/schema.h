/* schema.h - the Database, Table and Column JSON shapes of PHANTOMDB-API.md,
 * read from (and, for CREATE TABLE, written to) SQLite.  Callers hold the
 * store lock.
 */
#ifndef PDB_SCHEMA_H
#define PDB_SCHEMA_H

#include "http.h"
#include "store.h"

#include <jansson.h>

/* The user tables of d, sorted by name, as a JSON array of strings. */
json_t *schema_table_names(struct pdb_database *d);

/* Database {name, createdAt, tables: [names], size: bytes}. */
json_t *schema_database_json(struct pdb_database *d);

/* Table {name, columns: [Column], rowCount, createdAt, indexes: [names]},
 * or NULL when d has no table called name. */
json_t *schema_table_json(struct pdb_database *d, const char *name);

/* CREATE TABLE statement for name from a JSON array of Column objects
 * {name, type, nullable, primaryKey, defaultValue}; free with sqlite3_free.
 * NULL (and a 400 answer on r) if the columns are invalid. */
char *schema_create_sql(struct req *r, const char *name, json_t *columns);

#endif
