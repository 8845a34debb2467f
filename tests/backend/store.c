/* store.c - the list of databases (store.h). */
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t store_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct pdb_database *databases;	/* sorted by name */

void store_lock(void)
{
	pthread_mutex_lock(&store_mutex);
}

void store_unlock(void)
{
	pthread_mutex_unlock(&store_mutex);
}

struct pdb_database *store_find(const char *name)
{
	for (struct pdb_database *d = databases; d; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

struct pdb_database *store_first(void)
{
	return databases;
}

/* Open a fresh in-memory SQLite connection with the meta table; NULL on
 * failure. */
static sqlite3 *open_memory_db(void)
{
	sqlite3 *db = NULL;
	const char *meta = "CREATE TABLE " STORE_META_TABLE
			   " (name TEXT PRIMARY KEY COLLATE NOCASE, created_at INTEGER)";

	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db, meta, NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 1000);
	return db;
}

struct pdb_database *store_create(const char *name, int *exists)
{
	struct pdb_database **pos = &databases, *d;

	*exists = 0;
	while (*pos && strcmp((*pos)->name, name) < 0)
		pos = &(*pos)->next;
	if (*pos && !strcmp((*pos)->name, name)) {
		*exists = 1;
		return NULL;
	}
	d = calloc(1, sizeof *d);
	if (!d || !(d->name = strdup(name)) || !(d->db = open_memory_db())) {
		if (d)
			free(d->name);
		free(d);
		return NULL;
	}
	d->created = time(NULL);
	d->next = *pos;
	*pos = d;
	return d;
}

/* Free one database and its SQLite connection. */
static void database_free(struct pdb_database *d)
{
	sqlite3_close_v2(d->db);
	free(d->name);
	free(d);
}

int store_drop(const char *name)
{
	for (struct pdb_database **pos = &databases; *pos; pos = &(*pos)->next) {
		if (strcmp((*pos)->name, name))
			continue;
		struct pdb_database *d = *pos;
		*pos = d->next;
		database_free(d);
		return 0;
	}
	return -1;
}

void store_close_all(void)
{
	while (databases) {
		struct pdb_database *d = databases;
		databases = d->next;
		database_free(d);
	}
}
