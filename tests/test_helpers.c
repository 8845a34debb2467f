/* test_helpers.c - the typed PhantomDB helpers (pp_health ... pp_tx_rollback)
 * end to end: reference backend (phantomdb-ref) <- phantompoold <- pp_do.
 *
 * Every helper is run against the reference backend and the returned JSON
 * is checked, not just the status.  Each test uses its own database so the
 * tests do not depend on one another's order.  The last tests check the
 * argument rules: invalid JSON text, wrong JSON kinds, NULL/empty names
 * give PP_EINVAL without any request reaching the pool (the pool's lease
 * counter does not move).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../libclient/urlpath.h"
#include "backend_proc.h"
#include "daemon_proc.h"
#include "phantompool.h"
#include "testutil.h"

static struct pp_backend backend;
static struct pp_daemon_proc daemon4;
static pp_pool *pool;

static int suite_setup(void)
{
	if (pp_backend_start(&backend, NULL) != 0)
		return -1;
	const char *args[] = { "-b", backend.url, "--max", "4", "--min", "1", NULL };
	if (pp_daemon_start(&daemon4, pp_test_pool_name("helpers"), args) != 0) {
		pp_backend_stop(&backend);
		return -1;
	}
	if (pp_attach(daemon4.pool, &pool) != 0) {
		pp_daemon_kill(&daemon4);
		pp_backend_stop(&backend);
		return -1;
	}
	return 0;
}

static int suite_teardown(void)
{
	pp_detach(pool);
	int rc = pp_daemon_stop(&daemon4);
	pp_backend_stop(&backend);
	return rc == 0 && backend.exit_status == 0 ? 0 : -1;
}

/* ---- assertion helpers ---------------------------------------------- */

/* Check that a helper returned 0 with HTTP status want (reporting the
 * caller's line, the call's text and the body on failure), free the
 * response and return its body parsed as JSON (NULL if none or not JSON;
 * the caller decrefs). */
static json_t *expect_impl(int rc, pp_resp *resp, int want, const char *call, unsigned line)
{
	char msg[768];
	json_t *body = NULL;

	snprintf(msg, sizeof msg, "%s -> rc %d (%s), HTTP %d, want 0 / HTTP %d; body %.300s",
		 call, rc, pp_strerror(rc), resp->status, want, resp->body ? resp->body : "");
	CU_assertImplementation(rc == 0 && resp->status == want, line, msg, __FILE__, "", CU_FALSE);
	if (rc == 0 && resp->body && resp->body_len)
		body = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (rc == 0 && resp->body_len) {
		snprintf(msg, sizeof msg, "%s: JSON body with content type %s", call, resp->content_type);
		CU_assertImplementation(body && !strncmp(resp->content_type, "application/json", 16),
					line, msg, __FILE__, "", CU_FALSE);
	}
	pp_resp_free(resp);
	return body;
}

/* EXPECT(status, helper call using &resp): assert, return the JSON body. */
#define EXPECT(want, call) expect_impl((call), &resp, (want), #call, __LINE__)
/* As EXPECT, for calls whose body is not looked at. */
#define EXPECT_ONLY(want, call) json_decref(EXPECT(want, call))

/* Check that a helper refused its arguments: PP_EINVAL, resp left zeroed. */
static void einval_impl(int rc, const pp_resp *resp, const char *call, unsigned line)
{
	char msg[512];

	snprintf(msg, sizeof msg, "%s -> rc %d (%s), HTTP %d; want PP_EINVAL, no response",
		 call, rc, pp_strerror(rc), resp->status);
	CU_assertImplementation(rc == PP_EINVAL && resp->status == 0 && !resp->body, line, msg,
				__FILE__, "", CU_FALSE);
}

#define EXPECT_EINVAL(call)                                   \
	do {                                                  \
		resp.status = 777; /* must be zeroed */       \
		einval_impl((call), &resp, #call, __LINE__);  \
	} while (0)

static int streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static const char *jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static long long jint(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* 1 if array holds an object whose "name" is name. */
static int has_named(const json_t *array, const char *name)
{
	size_t i;
	json_t *item;

	json_array_foreach(array, i, item)
		if (streq(jstr(item, "name"), name))
			return 1;
	return 0;
}

/* The "name" values of rows (objects) joined with ',' into buf. */
static const char *row_names(const json_t *rows, char *buf, size_t len)
{
	size_t i, used = 0;
	json_t *row;

	buf[0] = '\0';
	json_array_foreach(rows, i, row) {
		const char *n = jstr(row, "name");
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
					 i ? "," : "", n ? n : "?");
	}
	return buf;
}

static uint64_t leases_granted(void)
{
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(pool, &st), 0);
	return st.leases;
}

/* Drop db, ignoring whether it exists (cleanup at the end of a test). */
static void drop_quietly(const char *db)
{
	pp_resp resp;
	if (pp_drop_database(pool, db, &resp) == 0)
		pp_resp_free(&resp);
}

static const pp_column people_cols[] = {
	{ "id", "INTEGER", 0, 1, NULL },
	{ "name", "TEXT", 0, 0, NULL },
	{ "age", "INTEGER", 1, 0, "0" },
};

static const char people_rows[] =
	"[{\"id\": 1, \"name\": \"ann\", \"age\": 25}, {\"id\": 2, \"name\": \"bob\", \"age\": 30},"
	" {\"id\": 3, \"name\": \"cid\", \"age\": 35}, {\"id\": 4, \"name\": \"dan\", \"age\": 40},"
	" {\"id\": 5, \"name\": \"eve\", \"age\": 45}]";

/* Create database db with table "people" holding the five people_rows. */
static void make_people(const char *db)
{
	pp_resp resp;

	drop_quietly(db);
	EXPECT_ONLY(201, pp_create_database(pool, db, &resp));
	EXPECT_ONLY(201, pp_create_table(pool, db, "people", people_cols, PP_ARRAY_LEN(people_cols), &resp));
	json_t *b = EXPECT(201, pp_insert_rows(pool, db, "people", people_rows, &resp));
	CU_ASSERT_EQUAL(jint(b, "inserted"), 5);
	json_decref(b);
}

/* ---- tests ------------------------------------------------------------ */

/* The escaping rule itself: only ALPHA DIGIT - . _ ~ pass, everything else
 * is %XX upper-case; "." and ".." segments are escaped whole. */
static void test_escape_rule(void)
{
	char in[256], out[3 * 256 + 1];
	for (int c = 0; c < 256; c++)
		in[c] = (char)c;
	size_t n = urlpath_escape(out, in, sizeof in);
	CU_ASSERT_EQUAL(n, strlen(out));
	CU_ASSERT_EQUAL(n, 66 + 3 * (256 - 66)); /* 26 + 26 + 10 + 4 unreserved */
	char one[4];
	for (int c = 1; c < 256; c++) {
		urlpath_escape(one, &in[c], 1);
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '.' || c == '_' || c == '~';
		char want[4];
		snprintf(want, sizeof want, plain ? "%c" : "%%%02X", c);
		CU_ASSERT_STRING_EQUAL(one, want);
	}

	struct urlpath u;
	urlpath_init(&u);
	urlpath_lit(&u, "/databases");
	urlpath_seg(&u, "my db/x?y");
	urlpath_seg(&u, "..");
	urlpath_seg(&u, ".");
	urlpath_seg(&u, "a.b~c");
	urlpath_query(&u, "where", "a = 'b&c=d+e#f%'");
	urlpath_query(&u, "skipped", NULL);
	urlpath_query_long(&u, "limit", 10);
	CU_ASSERT_STRING_EQUAL(urlpath_str(&u), "/databases/my%20db%2Fx%3Fy/%2E%2E/%2E/a.b~c"
			       "?where=a%20%3D%20%27b%26c%3Dd%2Be%23f%25%27&limit=10");
	urlpath_free(&u);
}

static void test_health(void)
{
	pp_resp resp;
	json_t *b = EXPECT(200, pp_health(pool, &resp));
	CU_ASSERT(streq(jstr(b, "status"), "healthy"));
	json_decref(b);
}

static void test_database_lifecycle(void)
{
	const char *db = "hdb_life";
	pp_resp resp;
	json_t *b;

	drop_quietly(db);
	b = EXPECT(201, pp_create_database(pool, db, &resp));
	CU_ASSERT(streq(jstr(b, "name"), db));
	CU_ASSERT(json_is_array(json_object_get(b, "tables")));
	CU_ASSERT(jstr(b, "createdAt") != NULL);
	json_decref(b);

	b = EXPECT(409, pp_create_database(pool, db, &resp));
	CU_ASSERT(streq(jstr(b, "code"), "CONFLICT"));
	json_decref(b);

	b = EXPECT(200, pp_list_databases(pool, &resp));
	CU_ASSERT(has_named(json_object_get(b, "databases"), db));
	json_decref(b);

	b = EXPECT(200, pp_get_database(pool, db, &resp));
	CU_ASSERT(streq(jstr(b, "name"), db));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(b, "tables")), 0);
	CU_ASSERT(jint(b, "size") >= 0);
	json_decref(b);

	b = EXPECT(204, pp_drop_database(pool, db, &resp));
	CU_ASSERT_PTR_NULL(b);
	b = EXPECT(404, pp_get_database(pool, db, &resp));
	CU_ASSERT(streq(jstr(b, "code"), "NOT_FOUND"));
	json_decref(b);
	EXPECT_ONLY(404, pp_drop_database(pool, db, &resp));

	b = EXPECT(200, pp_list_databases(pool, &resp));
	CU_ASSERT(!has_named(json_object_get(b, "databases"), db));
	json_decref(b);
}

static void test_tables(void)
{
	const char *db = "hdb_tables";
	const pp_column cols[] = {
		{ "id", "INTEGER", 0, 1, NULL },
		{ "name", "TEXT", 0, 0, NULL },
		{ "age", "INTEGER", 1, 0, "0" },
		{ "note", NULL, 1, 0, "\"n/a\"" }, /* no type: the backend's default */
	};
	pp_resp resp;
	json_t *b, *c;

	drop_quietly(db);
	EXPECT_ONLY(404, pp_create_table(pool, db, "people", cols, PP_ARRAY_LEN(cols), &resp));
	EXPECT_ONLY(201, pp_create_database(pool, db, &resp));

	b = EXPECT(201, pp_create_table(pool, db, "people", cols, PP_ARRAY_LEN(cols), &resp));
	CU_ASSERT(streq(jstr(b, "name"), "people"));
	CU_ASSERT_EQUAL(jint(b, "rowCount"), 0);
	c = json_object_get(b, "columns");
	CU_ASSERT_EQUAL_FATAL(json_array_size(c), 4);
	CU_ASSERT(streq(jstr(json_array_get(c, 0), "name"), "id"));
	CU_ASSERT(streq(jstr(json_array_get(c, 0), "type"), "INTEGER"));
	CU_ASSERT(json_is_true(json_object_get(json_array_get(c, 0), "primaryKey")));
	CU_ASSERT(json_is_false(json_object_get(json_array_get(c, 1), "nullable")));
	CU_ASSERT(json_is_false(json_object_get(json_array_get(c, 1), "primaryKey")));
	CU_ASSERT(json_is_true(json_object_get(json_array_get(c, 2), "nullable")));
	CU_ASSERT_EQUAL(jint(json_array_get(c, 2), "defaultValue"), 0);
	CU_ASSERT(streq(jstr(json_array_get(c, 3), "type"), "TEXT"));
	CU_ASSERT(streq(jstr(json_array_get(c, 3), "defaultValue"), "n/a"));
	json_decref(b);

	b = EXPECT(409, pp_create_table(pool, db, "people", cols, PP_ARRAY_LEN(cols), &resp));
	CU_ASSERT(streq(jstr(b, "code"), "CONFLICT"));
	json_decref(b);
	EXPECT_ONLY(400, pp_create_table(pool, db, "empty", NULL, 0, &resp)); /* backend: columns required */
	EXPECT_ONLY(201, pp_create_table(pool, db, "pets", cols, 2, &resp));

	b = EXPECT(200, pp_list_tables(pool, db, &resp));
	c = json_object_get(b, "tables");
	CU_ASSERT_EQUAL(json_array_size(c), 2);
	CU_ASSERT(streq(jstr(json_array_get(c, 0), "name"), "people"));
	CU_ASSERT(streq(jstr(json_array_get(c, 1), "name"), "pets"));
	json_decref(b);

	b = EXPECT(200, pp_get_table(pool, db, "people", &resp));
	CU_ASSERT(streq(jstr(b, "name"), "people"));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(b, "columns")), 4);
	CU_ASSERT_EQUAL(jint(b, "rowCount"), 0);
	json_decref(b);
	b = EXPECT(200, pp_get_database(pool, db, &resp));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(b, "tables")), 2);
	json_decref(b);

	EXPECT_ONLY(204, pp_drop_table(pool, db, "pets", &resp));
	EXPECT_ONLY(404, pp_get_table(pool, db, "pets", &resp));
	EXPECT_ONLY(404, pp_drop_table(pool, db, "pets", &resp));
	b = EXPECT(200, pp_list_tables(pool, db, &resp));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(b, "tables")), 1);
	json_decref(b);
	EXPECT_ONLY(204, pp_drop_database(pool, db, &resp));
	EXPECT_ONLY(404, pp_list_tables(pool, db, &resp));
}

static void test_insert_and_get_rows(void)
{
	const char *db = "hdb_rows";
	char names[128];
	pp_resp resp;
	json_t *b;

	make_people(db);
	b = EXPECT(200, pp_get_rows(pool, db, "people", NULL, NULL, 0, 0, &resp));
	CU_ASSERT_EQUAL(jint(b, "count"), 5);
	CU_ASSERT_STRING_EQUAL(row_names(json_object_get(b, "rows"), names, sizeof names),
			       "ann,bob,cid,dan,eve");
	CU_ASSERT_EQUAL(jint(json_array_get(json_object_get(b, "rows"), 4), "age"), 45);
	json_decref(b);

	b = EXPECT(200, pp_get_rows(pool, db, "people", "age >= 35", NULL, 0, 0, &resp));
	CU_ASSERT_EQUAL(jint(b, "count"), 3);
	CU_ASSERT_STRING_EQUAL(row_names(json_object_get(b, "rows"), names, sizeof names), "cid,dan,eve");
	json_decref(b);

	b = EXPECT(200, pp_get_rows(pool, db, "people", NULL, "age DESC", 2, 1, &resp));
	CU_ASSERT_EQUAL(jint(b, "count"), 2);
	CU_ASSERT_STRING_EQUAL(row_names(json_object_get(b, "rows"), names, sizeof names), "dan,cid");
	json_decref(b);

	b = EXPECT(200, pp_get_rows(pool, db, "people", "age < 40 AND name <> 'ann'", "name DESC", 2, 0, &resp));
	CU_ASSERT_STRING_EQUAL(row_names(json_object_get(b, "rows"), names, sizeof names), "cid,bob");
	json_decref(b);

	b = EXPECT(200, pp_get_rows(pool, db, "people", "", "id", 0, 3, &resp)); /* "" = no where */
	CU_ASSERT_STRING_EQUAL(row_names(json_object_get(b, "rows"), names, sizeof names), "dan,eve");
	json_decref(b);

	b = EXPECT(201, pp_insert_rows(pool, db, "people", "[]", &resp));
	CU_ASSERT_EQUAL(jint(b, "inserted"), 0);
	json_decref(b);
	/* All or nothing: the second row names a missing column. */
	EXPECT_ONLY(400, pp_insert_rows(pool, db, "people", "[{\"name\": \"zed\"}, {\"nope\": 1}]", &resp));
	EXPECT_ONLY(409, pp_insert_rows(pool, db, "people", "[{\"id\": 1, \"name\": \"dup\"}]", &resp));
	EXPECT_ONLY(404, pp_insert_rows(pool, db, "nobody", "[{\"id\": 9}]", &resp));
	EXPECT_ONLY(400, pp_get_rows(pool, db, "people", "no_such_column = 1", NULL, 0, 0, &resp));
	EXPECT_ONLY(404, pp_get_rows(pool, db, "nobody", NULL, NULL, 0, 0, &resp));

	b = EXPECT(200, pp_get_table(pool, db, "people", &resp));
	CU_ASSERT_EQUAL(jint(b, "rowCount"), 5);
	json_decref(b);
	drop_quietly(db);
}

static void test_query_with_parameters(void)
{
	const char *db = "hdb_query";
	pp_resp resp;
	json_t *b;

	make_people(db);
	b = EXPECT(200, pp_query(pool, db, "SELECT name, age FROM people WHERE age > ? AND name <> ? ORDER BY age",
				 "[30, \"dan\"]", &resp));
	json_t *want = json_loads("{\"columns\": [\"name\", \"age\"], \"rows\": [[\"cid\", 35], [\"eve\", 45]],"
				  " \"rowCount\": 2, \"affectedRows\": 0}", 0, NULL);
	CU_ASSERT(json_equal(b, want));
	json_decref(want);
	json_decref(b);

	b = EXPECT(200, pp_query(pool, db, "SELECT count(*) AS n FROM people", NULL, &resp));
	CU_ASSERT(streq(json_string_value(json_array_get(json_object_get(b, "columns"), 0)), "n"));
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(json_array_get(json_object_get(b, "rows"), 0), 0)), 5);
	CU_ASSERT_EQUAL(jint(b, "rowCount"), 1);
	json_decref(b);

	b = EXPECT(200, pp_query(pool, db, "UPDATE people SET age = age + 1 WHERE age >= ?", "[40]", &resp));
	CU_ASSERT_EQUAL(jint(b, "affectedRows"), 2);
	CU_ASSERT_EQUAL(jint(b, "rowCount"), 0);
	json_decref(b);

	/* A parameter is bound, never pasted: quotes and SQL survive as data. */
	const char *tricky = "it's \"quoted\" & 100% '); DROP TABLE people; --";
	json_t *params = json_pack("[s]", tricky);
	char *params_text = json_dumps(params, 0);
	b = EXPECT(200, pp_query(pool, db, "SELECT ? AS s", params_text, &resp));
	CU_ASSERT(streq(json_string_value(json_array_get(json_array_get(json_object_get(b, "rows"), 0), 0)),
			tricky));
	json_decref(b);
	free(params_text);
	json_decref(params);

	b = EXPECT(200, pp_query(pool, db, "SELECT age FROM people WHERE name = ?", "[\"eve\"]", &resp));
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(json_array_get(json_object_get(b, "rows"), 0), 0)), 46);
	json_decref(b);

	EXPECT_ONLY(400, pp_query(pool, db, "SELEKT nothing", NULL, &resp));
	EXPECT_ONLY(400, pp_query(pool, db, "SELECT ?", "[1, 2]", &resp)); /* too many parameters */
	EXPECT_ONLY(404, pp_query(pool, "hdb_query_nope", "SELECT 1", NULL, &resp));
	drop_quietly(db);
}

/* The existing clients' calls: insert one row, select/update/delete by
 * condition, checking the records after each step. */
static void test_records(void)
{
	const char *db = "hdb_records";
	const pp_column cols[] = {
		{ "id", "INTEGER", 0, 1, NULL },
		{ "name", "TEXT", 0, 0, NULL },
		{ "qty", "INTEGER", 1, 0, NULL },
	};
	char names[128];
	pp_resp resp;
	json_t *b, *recs;

	drop_quietly(db);
	EXPECT_ONLY(201, pp_create_database(pool, db, &resp));
	EXPECT_ONLY(201, pp_create_table(pool, db, "items", cols, PP_ARRAY_LEN(cols), &resp));

	b = EXPECT(201, pp_insert(pool, db, "items", "{\"name\": \"apple\", \"qty\": 3}", &resp));
	CU_ASSERT_EQUAL(jint(b, "inserted"), 1);
	CU_ASSERT_EQUAL(jint(b, "id"), 1);
	json_decref(b);
	b = EXPECT(201, pp_insert(pool, db, "items", "{\"name\": \"pear\", \"qty\": 5}", &resp));
	CU_ASSERT_EQUAL(jint(b, "id"), 2);
	json_decref(b);
	EXPECT_ONLY(201, pp_insert(pool, db, "items", "{\"name\": \"fig & date\", \"qty\": 7}", &resp));

	b = EXPECT(200, pp_select(pool, db, "items", NULL, &resp)); /* NULL: every record */
	CU_ASSERT_STRING_EQUAL(row_names(json_object_get(b, "records"), names, sizeof names),
			       "apple,pear,fig & date");
	json_decref(b);

	b = EXPECT(200, pp_select(pool, db, "items", "name = 'pear'", &resp));
	recs = json_object_get(b, "records");
	CU_ASSERT_EQUAL(json_array_size(recs), 1);
	CU_ASSERT_EQUAL(jint(json_array_get(recs, 0), "id"), 2);
	CU_ASSERT_EQUAL(jint(json_array_get(recs, 0), "qty"), 5);
	json_decref(b);

	b = EXPECT(200, pp_select(pool, db, "items", "name = 'fig & date'", &resp)); /* '&' escaped */
	CU_ASSERT_EQUAL(json_array_size(json_object_get(b, "records")), 1);
	json_decref(b);

	b = EXPECT(200, pp_update(pool, db, "items", "{\"qty\": 9, \"name\": \"green apple\"}", "name = 'apple'", &resp));
	CU_ASSERT_EQUAL(jint(b, "updated"), 1);
	json_decref(b);
	b = EXPECT(200, pp_select(pool, db, "items", "qty = 9", &resp));
	recs = json_object_get(b, "records");
	CU_ASSERT_EQUAL(json_array_size(recs), 1);
	CU_ASSERT(streq(jstr(json_array_get(recs, 0), "name"), "green apple"));
	json_decref(b);

	b = EXPECT(200, pp_update(pool, db, "items", "{\"qty\": 0}", "qty > 100", &resp));
	CU_ASSERT_EQUAL(jint(b, "updated"), 0);
	json_decref(b);

	b = EXPECT(200, pp_delete(pool, db, "items", "qty > 6", &resp));
	CU_ASSERT_EQUAL(jint(b, "deleted"), 2);
	json_decref(b);
	b = EXPECT(200, pp_select(pool, db, "items", "", &resp));
	CU_ASSERT_STRING_EQUAL(row_names(json_object_get(b, "records"), names, sizeof names), "pear");
	json_decref(b);

	/* Without ?condition the same path is the table itself: still there. */
	b = EXPECT(200, pp_get_table(pool, db, "items", &resp));
	CU_ASSERT_EQUAL(jint(b, "rowCount"), 1);
	json_decref(b);

	EXPECT_ONLY(400, pp_insert(pool, db, "items", "{\"nope\": 1}", &resp));
	EXPECT_ONLY(404, pp_insert(pool, db, "nothing", "{\"qty\": 1}", &resp));
	EXPECT_ONLY(404, pp_select(pool, db, "nothing", NULL, &resp));
	EXPECT_ONLY(400, pp_delete(pool, db, "items", "no_such_column = 1", &resp));
	drop_quietly(db);
}

static void test_transactions(void)
{
	char id[64], id2[64];
	pp_resp resp;
	json_t *b;

	b = EXPECT(200, pp_tx_begin(pool, id, sizeof id, &resp));
	CU_ASSERT(strlen(id) > 0);
	CU_ASSERT(streq(jstr(b, "transaction_id"), id));
	json_decref(b);
	CU_ASSERT_EQUAL(pp_tx_begin(pool, id2, sizeof id2, &resp), 0);
	pp_resp_free(&resp);
	CU_ASSERT(strcmp(id, id2) != 0);

	b = EXPECT(200, pp_tx_commit(pool, id, &resp));
	CU_ASSERT(streq(jstr(b, "transaction_id"), id));
	CU_ASSERT(streq(jstr(b, "status"), "committed"));
	json_decref(b);
	EXPECT_ONLY(404, pp_tx_commit(pool, id, &resp));   /* already closed */
	EXPECT_ONLY(404, pp_tx_rollback(pool, id, &resp));

	b = EXPECT(200, pp_tx_rollback(pool, id2, &resp));
	CU_ASSERT(streq(jstr(b, "status"), "rolled_back"));
	json_decref(b);
	EXPECT_ONLY(404, pp_tx_commit(pool, id2, &resp));

	EXPECT_ONLY(404, pp_tx_commit(pool, "tx-unknown", &resp));
	EXPECT_ONLY(404, pp_tx_rollback(pool, "no such tx/../?x", &resp));

	/* An id that does not fit: PP_ETOOBIG, the response is still there. */
	char small[4] = "xyz";
	CU_ASSERT_EQUAL(pp_tx_begin(pool, small, sizeof small, &resp), PP_ETOOBIG);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_STRING_EQUAL(small, "");
	b = resp.body ? json_loads(resp.body, 0, NULL) : NULL;
	pp_resp_free(&resp);
	const char *full = jstr(b, "transaction_id");
	CU_ASSERT(full && strlen(full) >= sizeof small);
	if (full)
		EXPECT_ONLY(200, pp_tx_rollback(pool, full, &resp)); /* it was opened */
	json_decref(b);
}

/* Names that need escaping reach the backend intact.  The reference
 * backend accepts any non-empty database/table name without '/' (it
 * decodes the path before splitting it on '/', so "%2F" cannot work;
 * creating such a name gives 400). */
static void test_escaped_names(void)
{
	const char *db = "my db?x&y=z#50%+\xc3\xa9~.-_";
	const char *table = "odd table?&=#%+";
	const char *note = "a+b&c=d#e%f g";
	const pp_column cols[] = { { "note", "TEXT", 1, 0, NULL }, { "n", "INTEGER", 1, 0, NULL } };
	pp_resp resp;
	json_t *b;

	drop_quietly(db);
	b = EXPECT(201, pp_create_database(pool, db, &resp));
	CU_ASSERT(streq(jstr(b, "name"), db));
	json_decref(b);
	b = EXPECT(200, pp_get_database(pool, db, &resp));
	CU_ASSERT(streq(jstr(b, "name"), db));
	json_decref(b);

	b = EXPECT(201, pp_create_table(pool, db, table, cols, PP_ARRAY_LEN(cols), &resp));
	CU_ASSERT(streq(jstr(b, "name"), table));
	json_decref(b);
	b = EXPECT(200, pp_get_table(pool, db, table, &resp));
	CU_ASSERT(streq(jstr(b, "name"), table));
	json_decref(b);
	b = EXPECT(200, pp_list_tables(pool, db, &resp));
	CU_ASSERT(has_named(json_object_get(b, "tables"), table));
	json_decref(b);

	json_t *rows = json_pack("[{s:s, s:i}, {s:s, s:i}]", "note", note, "n", 1, "note", "plain", "n", 2);
	char *rows_text = json_dumps(rows, 0);
	b = EXPECT(201, pp_insert_rows(pool, db, table, rows_text, &resp));
	CU_ASSERT_EQUAL(jint(b, "inserted"), 2);
	json_decref(b);
	free(rows_text);
	json_decref(rows);

	char where[128];
	snprintf(where, sizeof where, "note = '%s'", note);
	b = EXPECT(200, pp_get_rows(pool, db, table, where, "n + 0", 1, 0, &resp));
	CU_ASSERT_EQUAL(jint(b, "count"), 1);
	CU_ASSERT(streq(jstr(json_array_get(json_object_get(b, "rows"), 0), "note"), note));
	json_decref(b);
	b = EXPECT(200, pp_select(pool, db, table, where, &resp));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(b, "records")), 1);
	json_decref(b);
	b = EXPECT(200, pp_query(pool, db, "SELECT count(*) FROM \"odd table?&=#%+\"", NULL, &resp));
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(json_array_get(json_object_get(b, "rows"), 0), 0)), 2);
	json_decref(b);
	b = EXPECT(200, pp_delete(pool, db, table, where, &resp));
	CU_ASSERT_EQUAL(jint(b, "deleted"), 1);
	json_decref(b);
	EXPECT_ONLY(204, pp_drop_table(pool, db, table, &resp));
	EXPECT_ONLY(204, pp_drop_database(pool, db, &resp));
	EXPECT_ONLY(404, pp_get_database(pool, db, &resp));

	/* "." and "..": the dots are escaped, so they are names, not dot
	 * segments (which pp_request refuses with PP_EBADPATH). */
	const char *dots[] = { ".", ".." };
	for (size_t i = 0; i < PP_ARRAY_LEN(dots); i++) {
		drop_quietly(dots[i]);
		EXPECT_ONLY(201, pp_create_database(pool, dots[i], &resp));
		b = EXPECT(200, pp_get_database(pool, dots[i], &resp));
		CU_ASSERT(streq(jstr(b, "name"), dots[i]));
		json_decref(b);
		EXPECT_ONLY(204, pp_drop_database(pool, dots[i], &resp));
	}

	/* '/' in a name: escaped as %2F by the helper, but refused by the
	 * reference backend (400 on create, so every later use is a 404). */
	EXPECT_ONLY(400, pp_create_database(pool, "a/b", &resp));
	EXPECT_ONLY(404, pp_get_database(pool, "a/b", &resp));
}

/* Bad arguments: PP_EINVAL, resp zeroed, and no request reaches the pool
 * (the lease counter stays put). */
static void test_invalid_arguments(void)
{
	const pp_column no_name[] = { { NULL, "TEXT", 1, 0, NULL } };
	const pp_column empty_name[] = { { "", "TEXT", 1, 0, NULL } };
	const pp_column bad_default[] = { { "a", "TEXT", 1, 0, "not json" } };
	const pp_column two_defaults[] = { { "a", "TEXT", 1, 0, "1 2" } };
	const char *db = "hdb_invalid";
	char id[64];
	pp_resp resp;

	uint64_t before = leases_granted();
	/* rows_json: an array of objects */
	EXPECT_EINVAL(pp_insert_rows(pool, db, "t", "not json", &resp));
	EXPECT_EINVAL(pp_insert_rows(pool, db, "t", "{\"rows\": []}", &resp));
	EXPECT_EINVAL(pp_insert_rows(pool, db, "t", "[1, 2]", &resp));
	EXPECT_EINVAL(pp_insert_rows(pool, db, "t", "[{}, 3]", &resp));
	EXPECT_EINVAL(pp_insert_rows(pool, db, "t", "[{}] trailing", &resp));
	EXPECT_EINVAL(pp_insert_rows(pool, db, "t", "", &resp));
	EXPECT_EINVAL(pp_insert_rows(pool, db, "t", NULL, &resp));
	/* row_json / data_json: objects */
	EXPECT_EINVAL(pp_insert(pool, db, "t", "[]", &resp));
	EXPECT_EINVAL(pp_insert(pool, db, "t", "42", &resp));
	EXPECT_EINVAL(pp_insert(pool, db, "t", "{\"a\": }", &resp));
	EXPECT_EINVAL(pp_insert(pool, db, "t", NULL, &resp));
	EXPECT_EINVAL(pp_update(pool, db, "t", "[{\"a\": 1}]", "a = 1", &resp));
	EXPECT_EINVAL(pp_update(pool, db, "t", "{", "a = 1", &resp));
	EXPECT_EINVAL(pp_update(pool, db, "t", NULL, "a = 1", &resp));
	/* update/delete need a condition (use "1=1" for every row) */
	EXPECT_EINVAL(pp_update(pool, db, "t", "{\"a\": 1}", NULL, &resp));
	EXPECT_EINVAL(pp_update(pool, db, "t", "{\"a\": 1}", "", &resp));
	EXPECT_EINVAL(pp_delete(pool, db, "t", NULL, &resp));
	EXPECT_EINVAL(pp_delete(pool, db, "t", "", &resp));
	/* params_json: an array */
	EXPECT_EINVAL(pp_query(pool, db, "SELECT 1", "{}", &resp));
	EXPECT_EINVAL(pp_query(pool, db, "SELECT 1", "7", &resp));
	EXPECT_EINVAL(pp_query(pool, db, "SELECT 1", "[1,", &resp));
	EXPECT_EINVAL(pp_query(pool, db, NULL, NULL, &resp));
	EXPECT_EINVAL(pp_query(pool, db, "", "[]", &resp));
	/* columns */
	EXPECT_EINVAL(pp_create_table(pool, db, "t", no_name, 1, &resp));
	EXPECT_EINVAL(pp_create_table(pool, db, "t", empty_name, 1, &resp));
	EXPECT_EINVAL(pp_create_table(pool, db, "t", bad_default, 1, &resp));
	EXPECT_EINVAL(pp_create_table(pool, db, "t", two_defaults, 1, &resp));
	EXPECT_EINVAL(pp_create_table(pool, db, "t", NULL, 2, &resp));
	EXPECT_EINVAL(pp_create_table(pool, db, NULL, people_cols, 1, &resp));
	EXPECT_EINVAL(pp_create_table(pool, db, "", people_cols, 1, &resp));
	/* names: NULL or empty */
	EXPECT_EINVAL(pp_create_database(pool, NULL, &resp));
	EXPECT_EINVAL(pp_create_database(pool, "", &resp));
	EXPECT_EINVAL(pp_create_database(pool, "\xff\xfe", &resp)); /* not UTF-8: no JSON string */
	EXPECT_EINVAL(pp_get_database(pool, "", &resp));
	EXPECT_EINVAL(pp_drop_database(pool, NULL, &resp));
	EXPECT_EINVAL(pp_list_tables(pool, "", &resp));
	EXPECT_EINVAL(pp_create_table(pool, NULL, "t", people_cols, 1, &resp));
	EXPECT_EINVAL(pp_get_table(pool, db, NULL, &resp));
	EXPECT_EINVAL(pp_drop_table(pool, "", "t", &resp));
	EXPECT_EINVAL(pp_get_rows(pool, db, "", NULL, NULL, 0, 0, &resp));
	EXPECT_EINVAL(pp_select(pool, NULL, "t", NULL, &resp));
	EXPECT_EINVAL(pp_insert(pool, db, "", "{}", &resp));
	EXPECT_EINVAL(pp_tx_commit(pool, NULL, &resp));
	EXPECT_EINVAL(pp_tx_rollback(pool, "", &resp));
	/* numbers, buffers, handles */
	EXPECT_EINVAL(pp_get_rows(pool, db, "t", NULL, NULL, -1, 0, &resp));
	EXPECT_EINVAL(pp_get_rows(pool, db, "t", NULL, NULL, 0, -5, &resp));
	EXPECT_EINVAL(pp_tx_begin(pool, NULL, 64, &resp));
	EXPECT_EINVAL(pp_tx_begin(pool, id, 0, &resp));
	EXPECT_EINVAL(pp_health(NULL, &resp));
	EXPECT_EINVAL(pp_list_databases(NULL, &resp));
	EXPECT_EINVAL(pp_get_database(NULL, db, &resp));
	CU_ASSERT_EQUAL(pp_health(pool, NULL), PP_EINVAL);
	CU_ASSERT_EQUAL(pp_tx_begin(pool, id, sizeof id, NULL), PP_EINVAL);
	CU_ASSERT_EQUAL(leases_granted(), before); /* nothing was sent */

	/* Valid but unusual JSON is accepted: scalars as defaults, [] rows. */
	const pp_column null_default[] = { { "a", "TEXT", 1, 0, "null" }, { "b", "REAL", 1, 0, " 1.5 " } };
	drop_quietly(db);
	EXPECT_ONLY(201, pp_create_database(pool, db, &resp));
	json_t *b = EXPECT(201, pp_create_table(pool, db, "t", null_default, 2, &resp));
	json_t *c = json_object_get(b, "columns");
	CU_ASSERT(json_is_null(json_object_get(json_array_get(c, 0), "defaultValue")));
	CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(json_array_get(c, 1), "defaultValue")), 1.5, 1e-9);
	json_decref(b);
	CU_ASSERT(leases_granted() > before);
	drop_quietly(db);
}

static const struct pp_test tests[] = {
	{ "escape rule (RFC 3986 unreserved)", test_escape_rule },
	{ "health", test_health },
	{ "database create/409/list/get/drop/404", test_database_lifecycle },
	{ "tables create/409/list/get/drop", test_tables },
	{ "insert rows, get rows with where/orderBy/limit/offset", test_insert_and_get_rows },
	{ "query with parameters", test_query_with_parameters },
	{ "records insert/select/update/delete", test_records },
	{ "transactions begin/commit/rollback/404", test_transactions },
	{ "names that need escaping", test_escaped_names },
	{ "invalid arguments: PP_EINVAL, nothing sent", test_invalid_arguments },
};

int main(void)
{
	return pp_test_main("helpers", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
