/* store.h - the databases of the reference backend.
 *
 * Each PhantomDB database is its own in-memory SQLite connection, kept in a
 * list sorted by name.  One global mutex (store_lock) guards the list and
 * every connection: the server holds it around each ROUTE_STORE handler, so
 * handlers call the functions below without locking themselves.
 */
#ifndef PDB_STORE_H
#define PDB_STORE_H

#include <sqlite3.h>
#include <time.h>

/* The hidden per-database table that remembers when tables were created. */
#define STORE_META_TABLE "__phantom_meta"

struct pdb_database {
	char *name;
	sqlite3 *db;
	time_t created;
	struct pdb_database *next;
};

void store_lock(void);
void store_unlock(void);

/* The database called name (exact match), or NULL. */
struct pdb_database *store_find(const char *name);

/* The first database in name order (walk with ->next), or NULL. */
struct pdb_database *store_first(void);

/* Create database name.  Returns it, or NULL with *exists set to 1 when
 * the name is taken, 0 on allocation/SQLite failure. */
struct pdb_database *store_create(const char *name, int *exists);

/* Drop database name; returns 0, or -1 if there is no such database. */
int store_drop(const char *name);

/* Close every database (at exit). */
void store_close_all(void);

#endif
