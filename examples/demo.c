/* demo.c - a pre-fork server in miniature: the parent attaches to the pool,
 * forks workers, and every worker runs a mix of typed helpers through the
 * shared handle.  The program behind `make run`.
 *
 *   demo [-p POOL] [-w WORKERS] [-n REQUESTS_PER_WORKER]
 *
 * It creates a database "demo_<pid>" with a table "events", runs the
 * workers (insert rows, select, query with parameters, update, health, a
 * transaction begin + commit), checks the row count at the end, drops the
 * database and prints a summary.  Results are counted in a MAP_SHARED
 * anonymous page that every worker writes.  Exit status 0 only if every
 * request succeeded with the expected HTTP status.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "phantompool.h"

#define MAX_WORKERS 4096
#define MAX_CODES 32        /* PP_E* codes counted by -code; the last is "other" */
#define ROWS_PER_INSERT 2
#define TX_ID_MAX 128

/* One worker's context for the operations below. */
struct worker {
	pp_pool *pool;
	const char *db;
	int index;
	int seq;                 /* operations run so far */
	char tx_id[TX_ID_MAX];   /* open transaction, "" if none */
};

/* One kind of request: runs one helper and names the HTTP status that
 * counts as success. */
struct op {
	const char *name;
	int (*run)(struct worker *w, pp_resp *resp);
	int want_status;
};

/* The shared results page: workers add, the parent reads after wait(). */
struct results {
	_Atomic uint64_t ok;
	_Atomic uint64_t failed_code[MAX_CODES]; /* by -PP_E* code */
	_Atomic uint64_t failed_status[6];       /* unexpected HTTP status by class (status / 100) */
	_Atomic uint64_t per_op_ok[8];
	_Atomic uint64_t rows_inserted;
};

static int op_insert_rows(struct worker *w, pp_resp *resp)
{
	char rows[256];
	snprintf(rows, sizeof rows,
		 "[{\"worker\": %d, \"seq\": %d, \"note\": \"first & \\\"quoted\\\"\"},"
		 " {\"worker\": %d, \"seq\": %d, \"note\": \"second\"}]",
		 w->index, w->seq, w->index, w->seq);
	return pp_insert_rows(w->pool, w->db, "events", rows, resp);
}

static int op_select(struct worker *w, pp_resp *resp)
{
	char cond[64];
	snprintf(cond, sizeof cond, "worker = %d", w->index);
	return pp_select(w->pool, w->db, "events", cond, resp);
}

static int op_query(struct worker *w, pp_resp *resp)
{
	char params[64];
	snprintf(params, sizeof params, "[%d, %d]", w->index, w->seq);
	return pp_query(w->pool, w->db, "SELECT count(*) AS n, max(seq) AS last FROM events"
			" WHERE worker = ? AND seq <= ?", params, resp);
}

static int op_update(struct worker *w, pp_resp *resp)
{
	char data[64], cond[64];
	snprintf(data, sizeof data, "{\"hits\": %d}", w->seq);
	snprintf(cond, sizeof cond, "worker = %d", w->index);
	return pp_update(w->pool, w->db, "events", data, cond, resp);
}

static int op_health(struct worker *w, pp_resp *resp)
{
	return pp_health(w->pool, resp);
}

static int op_tx_begin(struct worker *w, pp_resp *resp)
{
	return pp_tx_begin(w->pool, w->tx_id, sizeof w->tx_id, resp);
}

/* Commit the transaction the previous operation opened (if it did). */
static int op_tx_commit(struct worker *w, pp_resp *resp)
{
	if (!w->tx_id[0])
		return pp_health(w->pool, resp); /* begin failed: keep the count */
	int r = pp_tx_commit(w->pool, w->tx_id, resp);
	w->tx_id[0] = '\0';
	return r;
}

/* The mix every worker cycles through; tx_begin is always followed by
 * tx_commit (see pick_op). */
static const struct op ops[] = {
	{ "insert_rows", op_insert_rows, 201 },
	{ "select", op_select, 200 },
	{ "query", op_query, 200 },
	{ "tx_begin", op_tx_begin, 200 },
	{ "tx_commit", op_tx_commit, 200 },
	{ "update", op_update, 200 },
	{ "health", op_health, 200 },
};
#define NOPS (sizeof ops / sizeof ops[0])
_Static_assert(NOPS <= sizeof ((struct results *)0)->per_op_ok / sizeof(uint64_t), "per_op_ok too small");
#define OP_INSERT 0
#define OP_TX_BEGIN 3

/* The operation for request i of n: the next in the cycle, except that a
 * transaction is not begun when its commit would not fit (health then). */
static size_t pick_op(int i, int n)
{
	size_t k = (size_t)i % NOPS;
	if (k == OP_TX_BEGIN && i + 1 >= n)
		return NOPS - 1;
	return k;
}

/* Run one request and count its outcome. */
static void run_one(struct worker *w, size_t k, struct results *res)
{
	pp_resp resp;
	int r = ops[k].run(w, &resp);

	if (r) {
		int code = -r > 0 && -r < MAX_CODES ? -r : MAX_CODES - 1;
		atomic_fetch_add(&res->failed_code[code], 1);
	} else if (resp.status != ops[k].want_status) {
		int cls = resp.status / 100;
		atomic_fetch_add(&res->failed_status[cls >= 0 && cls < 6 ? cls : 0], 1);
	} else {
		atomic_fetch_add(&res->ok, 1);
		atomic_fetch_add(&res->per_op_ok[k], 1);
		if (k == OP_INSERT)
			atomic_fetch_add(&res->rows_inserted, ROWS_PER_INSERT);
	}
	pp_resp_free(&resp);
	w->seq++;
}

/* Body of a forked worker: n requests, then exit. */
static void worker_main(pp_pool *pool, const char *db, int index, int n, struct results *res)
{
	struct worker w = { .pool = pool, .db = db, .index = index };

	for (int i = 0; i < n; i++)
		run_one(&w, pick_op(i, n), res);
	pp_detach(pool); /* the child's copy only */
	_exit(0);
}

/* Run one setup/teardown helper; returns 0 when it answered want, else
 * prints why and returns -1. */
static int must(const char *what, int r, pp_resp *resp, int want)
{
	int ok = r == 0 && resp->status == want;
	if (!ok)
		fprintf(stderr, "demo: %s: %s, HTTP %d %s\n", what, r ? pp_strerror(r) : "answered",
			resp->status, resp->body ? resp->body : "");
	pp_resp_free(resp);
	return ok ? 0 : -1;
}

static int setup_database(pp_pool *pool, const char *db)
{
	static const pp_column cols[] = {
		{ "id", "INTEGER", 0, 1, NULL },
		{ "worker", "INTEGER", 0, 0, NULL },
		{ "seq", "INTEGER", 0, 0, NULL },
		{ "note", "TEXT", 1, 0, NULL },
		{ "hits", "INTEGER", 1, 0, "0" },
	};
	pp_resp resp;

	if (must("create database", pp_create_database(pool, db, &resp), &resp, 201) < 0)
		return -1;
	return must("create table", pp_create_table(pool, db, "events", cols,
						    sizeof cols / sizeof cols[0], &resp), &resp, 201);
}

/* Rows in events according to the backend, or -1. */
static long long count_rows(pp_pool *pool, const char *db)
{
	pp_resp resp;
	long long n = -1;

	if (pp_query(pool, db, "SELECT count(*) FROM events", NULL, &resp) == 0 && resp.status == 200) {
		json_t *body = json_loadb(resp.body, resp.body_len, 0, NULL);
		json_t *cell = json_array_get(json_array_get(json_object_get(body, "rows"), 0), 0);
		if (json_is_integer(cell))
			n = (long long)json_integer_value(cell);
		json_decref(body);
	}
	pp_resp_free(&resp);
	return n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fork the workers and wait for all of them; returns how many exited
 * badly (or could not be forked). */
static int run_workers(pp_pool *pool, const char *db, int workers, int n, struct results *res)
{
	static pid_t kids[MAX_WORKERS];
	int bad = 0;

	fflush(NULL);
	for (int i = 0; i < workers; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			worker_main(pool, db, i, n, res);
		if (kids[i] < 0) {
			perror("demo: fork");
			bad++;
		}
	}
	for (int i = 0; i < workers; i++) {
		int st;
		if (kids[i] > 0 && (waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)))
			bad++;
	}
	return bad;
}

/* Print the summary; returns the number of failed requests. */
static uint64_t print_summary(const struct results *res, uint64_t total, double secs, pp_pool *pool)
{
	uint64_t failed = total - res->ok;
	pp_pool_status st;

	printf("requests  %llu done, %llu ok, %llu failed in %.2f s (%.0f requests/s)\n",
	       (unsigned long long)total, (unsigned long long)res->ok, (unsigned long long)failed,
	       secs, secs > 0 ? (double)total / secs : 0.0);
	printf("mix      ");
	for (size_t k = 0; k < NOPS; k++)
		printf(" %s %llu", ops[k].name, (unsigned long long)res->per_op_ok[k]);
	printf("\n");
	for (int c = 1; c < MAX_CODES; c++)
		if (res->failed_code[c])
			printf("error     %-40s %llu\n", c == MAX_CODES - 1 ? "other error code" : pp_strerror(-c),
			       (unsigned long long)res->failed_code[c]);
	for (int s = 0; s < 6; s++)
		if (res->failed_status[s])
			printf("error     unexpected HTTP %dxx                     %llu\n", s,
			       (unsigned long long)res->failed_status[s]);
	if (pp_status(pool, &st) == 0)
		printf("pool      seats %u (available %u, used %u, waiting %u); connections %u open"
		       " (min %u, max %u), %llu exchanges waited for one; leases %llu, lease timeouts %llu,"
		       " reclaims %llu; daemon pid %d\n",
		       st.max, st.available, st.used, st.waiting, st.conns_open, st.min, st.conns_max,
		       (unsigned long long)st.queue_waits, (unsigned long long)st.leases,
		       (unsigned long long)st.lease_timeouts, (unsigned long long)st.reclaims, (int)st.daemon_pid);
	return failed;
}

/* Parse a decimal int in [lo, hi] into *out; -1 if malformed. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: demo [-p POOL] [-w WORKERS (1..%d, default 32)]"
		   " [-n REQUESTS_PER_WORKER (default 50)]\n", MAX_WORKERS);
}

int main(int argc, char **argv)
{
	const char *pool_name = NULL;
	int workers = 32, n = 50, opt, bad, r;
	pp_pool *pool;
	char db[64];

	while ((opt = getopt(argc, argv, "p:w:n:h")) != -1) {
		if ((opt == 'p' && !(pool_name = optarg)) ||
		    (opt == 'w' && parse_int(optarg, 1, MAX_WORKERS, &workers) < 0) ||
		    (opt == 'n' && parse_int(optarg, 1, 10000000, &n) < 0) ||
		    opt == 'h' || opt == '?') {
			usage(opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((r = pp_attach(pool_name, &pool)) != 0) {
		fprintf(stderr, "demo: cannot attach to pool %s: %s\n", pool_name ? pool_name : "(default)",
			pp_strerror(r));
		return 1;
	}
	struct results *res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		perror("demo: mmap");
		return 1;
	}
	snprintf(db, sizeof db, "demo_%ld", (long)getpid());
	if (setup_database(pool, db) < 0) {
		pp_detach(pool);
		return 1;
	}
	printf("demo: %d workers x %d requests, database %s\n", workers, n, db);
	double t0 = now_s();
	bad = run_workers(pool, db, workers, n, res);
	double secs = now_s() - t0;

	uint64_t failed = print_summary(res, (uint64_t)workers * (uint64_t)n, secs, pool);
	long long rows = count_rows(pool, db);
	if (rows != (long long)res->rows_inserted) {
		printf("check     events holds %lld rows, workers inserted %llu\n", rows,
		       (unsigned long long)res->rows_inserted);
		bad++;
	}
	pp_resp resp;
	bad += must("drop database", pp_drop_database(pool, db, &resp), &resp, 204) < 0;
	pp_detach(pool);
	munmap(res, sizeof *res);
	printf("%s\n", failed || bad ? "FAILED" : "OK");
	return failed || bad ? 1 : 0;
}
