/* txn.c - /transactions, /transactions/{id}/commit and /rollback.
 *
 * Bookkeeping only: the backend keeps the set of open transaction ids so
 * that clients (and the pool) see the documented ids, 200s and 404s, but
 * requests are not isolated or grouped: every data request autocommits.
 * True isolation is not required of this test backend.
 */
#include "routes.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TXN_ID_LEN 40

struct txn {
	char id[TXN_ID_LEN];
	struct txn *next;
};

static pthread_mutex_t txn_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct txn *open_txns;
static unsigned long txn_counter;

/* POST /transactions -> 200 {"transaction_id": "tx-<pid>-<n>-<hex>"}. */
void h_txn_begin(struct req *r)
{
	struct txn *t = calloc(1, sizeof *t);
	struct timespec ts;
	char id[TXN_ID_LEN];

	if (!t) {
		reply_error(r, 500, "out of memory");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&txn_mutex);
	snprintf(t->id, sizeof t->id, "tx-%ld-%lu-%08lx", (long)getpid(),
		 ++txn_counter, (unsigned long)(ts.tv_nsec ^ ts.tv_sec) & 0xffffffffUL);
	t->next = open_txns;
	open_txns = t;
	memcpy(id, t->id, sizeof id);
	pthread_mutex_unlock(&txn_mutex);
	reply_json(r, 200, json_pack("{s:s}", "transaction_id", id));
}

/* Close the open transaction id; 0, or -1 if it is not open. */
static int txn_close(const char *id)
{
	int rc = -1;

	pthread_mutex_lock(&txn_mutex);
	for (struct txn **pos = &open_txns; *pos; pos = &(*pos)->next) {
		if (strcmp((*pos)->id, id))
			continue;
		struct txn *t = *pos;
		*pos = t->next;
		free(t);
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&txn_mutex);
	return rc;
}

/* Answer commit/rollback of cap[0]: 200 {"transaction_id", "status"} or
 * 404 when the id is unknown or already closed. */
static void txn_finish(struct req *r, const char *status)
{
	if (txn_close(r->cap[0]) < 0)
		reply_error(r, 404, "transaction '%s' not found", r->cap[0]);
	else
		reply_json(r, 200, json_pack("{s:s, s:s}", "transaction_id", r->cap[0],
					     "status", status));
}

/* POST /transactions/{id}/commit -> 200 {"status": "committed"}; 404. */
void h_txn_commit(struct req *r)
{
	txn_finish(r, "committed");
}

/* POST /transactions/{id}/rollback -> 200 {"status": "rolled_back"}; 404. */
void h_txn_rollback(struct req *r)
{
	txn_finish(r, "rolled_back");
}
