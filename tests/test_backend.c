/* test_backend.c - CUnit tests of the reference backend (phantomdb-ref):
 * every route of PHANTOMDB-API.md and every /_debug hook, over libcurl. */
#include "backend_proc.h"
#include "testutil.h"

#include <CUnit/CUnit.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static struct pp_backend be;
static CURL *curl;	/* shared handle: one keep-alive connection */

struct resp {
	long status;
	CURLcode rc;
	char *body;
	size_t len;
	char request_id[128];
	char content_type[128];
};

/* --- helpers ------------------------------------------------------------ */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
	struct resp *r = cls;
	char *b = realloc(r->body, r->len + size * n + 1);

	if (!b)
		return 0;
	memcpy(b + r->len, p, size * n);
	r->body = b;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

/* Copy the value of header "name: value" in line into out if it matches. */
static void grab_header(const char *line, size_t n, const char *name, char *out,
			size_t cap)
{
	size_t k = strlen(name);

	if (n <= k + 1 || strncasecmp(line, name, k) || line[k] != ':')
		return;
	line += k + 1, n -= k + 1;
	while (n && (*line == ' '))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	snprintf(out, cap, "%.*s", (int)n, line);
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
	struct resp *r = cls;

	grab_header(p, size * n, "X-Request-Id", r->request_id, sizeof r->request_id);
	grab_header(p, size * n, "Content-Type", r->content_type, sizeof r->content_type);
	return size * n;
}

/* Perform method url-path (relative to the backend) with an optional body
 * and extra headers on handle h; fills *r (free r->body). */
static void http_on(CURL *h, const char *method, const char *path, const char *body,
		    const char *const *headers, struct resp *r)
{
	char url[4096];
	struct curl_slist *hl = NULL;

	memset(r, 0, sizeof *r);
	snprintf(url, sizeof url, "%s%s", be.url, path);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		hl = curl_slist_append(hl, "Content-Type: application/json");
	}
	for (; headers && *headers; headers++)
		hl = curl_slist_append(hl, *headers);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	r->rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
}

/* http_on the shared handle; asserts the status; returns the parsed JSON
 * body (NULL when empty or not JSON).  Caller json_decref()s. */
static json_t *call(const char *method, const char *path, const char *body,
		    long want_status)
{
	struct resp r;
	json_t *j;

	http_on(curl, method, path, body, NULL, &r);
	CU_ASSERT_EQUAL(r.rc, CURLE_OK);
	CU_ASSERT_EQUAL(r.status, want_status);
	if (r.status != want_status)
		fprintf(stderr, "\n%s %s -> %ld %s\n", method, path, r.status,
			r.body ? r.body : "");
	j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	free(r.body);
	return j;
}

/* Assert that j is an error body {"code": code, "message": s, "details": {}}. */
static void assert_error(json_t *j, const char *code)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "code")), code);
	CU_ASSERT_TRUE(json_is_string(json_object_get(j, "message")));
	CU_ASSERT_TRUE(json_is_object(json_object_get(j, "details")));
}

/* call() that expects an error status and code; frees the body. */
static void call_error(const char *method, const char *path, const char *body,
		       long status, const char *code)
{
	json_t *j = call(method, path, body, status);

	assert_error(j, code);
	json_decref(j);
}

static json_int_t jint(json_t *j, const char *key)
{
	return json_integer_value(json_object_get(j, key));
}

static const char *jstr(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	return s ? s : "";
}

/* Expected byte i of /_debug/bytes. */
static uint8_t pattern_byte(uint64_t i)
{
	return (uint8_t)(i * 31 + 7);
}

/* The connection counters, asserting the probe works. */
static void counters(long *accepted, long *open)
{
	CU_ASSERT_EQUAL_FATAL(pp_backend_connections(&be, accepted, open), 0);
}

/* Wait (at most 2 s) until the backend reports want open connections. */
static long wait_open(long want)
{
	long acc, open = -1;
	long long deadline = now_ms() + 2000;

	do {
		counters(&acc, &open);
		if (open == want)
			break;
		usleep(10000);
	} while (now_ms() < deadline);
	return open;
}

/* --- suite setup ---------------------------------------------------------- */

static int suite_setup(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	if (pp_backend_start(&be, NULL) < 0) {
		fprintf(stderr, "cannot start %s\n", pp_test_build_path("phantomdb-ref"));
		return -1;
	}
	curl = curl_easy_init();
	return curl ? 0 : -1;
}

static int suite_teardown(void)
{
	curl_easy_cleanup(curl);
	pp_backend_stop(&be);
	curl_global_cleanup();
	return be.exit_status == 0 ? 0 : -1;
}

/* --- routes --------------------------------------------------------------- */

static void test_health(void)
{
	struct resp r;
	json_t *j;

	http_on(curl, "GET", "/health", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(r.content_type, "application/json");
	j = json_loads(r.body ? r.body : "", 0, NULL);
	CU_ASSERT_STRING_EQUAL(jstr(j, "status"), "healthy");
	json_decref(j);
	free(r.body);
	j = call("GET", "/api/v1/health", NULL, 200);	/* optional prefix */
	CU_ASSERT_STRING_EQUAL(jstr(j, "status"), "healthy");
	json_decref(j);
}

static void test_databases(void)
{
	json_t *j, *list;

	j = call("POST", "/databases", "{\"name\": \"shop\", \"options\": {}}", 201);
	CU_ASSERT_STRING_EQUAL(jstr(j, "name"), "shop");
	CU_ASSERT_TRUE(json_is_string(json_object_get(j, "createdAt")));
	CU_ASSERT_TRUE(json_is_array(json_object_get(j, "tables")));
	CU_ASSERT_TRUE(json_is_integer(json_object_get(j, "size")));
	json_decref(j);
	call_error("POST", "/databases", "{\"name\": \"shop\"}", 409, "CONFLICT");
	call_error("POST", "/databases", "{\"name\": 5}", 400, "BAD_REQUEST");
	call_error("POST", "/databases", "{not json", 400, "BAD_REQUEST");
	call_error("POST", "/databases", "[1]", 400, "BAD_REQUEST");
	j = call("GET", "/databases", NULL, 200);
	list = json_object_get(j, "databases");
	CU_ASSERT_TRUE(json_array_size(list) >= 1);
	json_decref(j);
	j = call("GET", "/databases/shop", NULL, 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "name"), "shop");
	json_decref(j);
	call_error("GET", "/databases/nope", NULL, 404, "NOT_FOUND");
	j = call("DELETE", "/databases/shop", NULL, 204);
	CU_ASSERT_PTR_NULL(j);
	call_error("DELETE", "/databases/shop", NULL, 404, "NOT_FOUND");
}

/* A database whose name needs URL escaping: path segments are decoded. */
static void test_odd_names(void)
{
	const char *name = "we\"ird db%'x";
	char body[256], path[512];
	char *esc = curl_easy_escape(curl, name, 0);
	json_t *j;

	snprintf(body, sizeof body, "{\"name\": \"we\\\"ird db%%'x\"}");
	j = call("POST", "/databases", body, 201);
	CU_ASSERT_STRING_EQUAL(jstr(j, "name"), name);
	json_decref(j);
	snprintf(path, sizeof path, "/databases/%s/tables", esc);
	j = call("POST", path, "{\"name\": \"t\\\"b l\", \"columns\": [{\"name\": \"c\\\"1\","
				 " \"type\": \"TEXT\"}]}", 201);
	CU_ASSERT_STRING_EQUAL(jstr(j, "name"), "t\"b l");
	json_decref(j);
	snprintf(path, sizeof path, "/databases/%s/tables/t%%22b%%20l", esc);
	json_decref(call("POST", path, "{\"c\\\"1\": \"v\"}", 201));
	snprintf(path, sizeof path, "/databases/%s/tables/t%%22b%%20l?condition=", esc);
	j = call("GET", path, NULL, 200);
	CU_ASSERT_STRING_EQUAL(jstr(json_array_get(json_object_get(j, "records"), 0), "c\"1"), "v");
	json_decref(j);
	snprintf(path, sizeof path, "/databases/%s", esc);
	json_decref(call("DELETE", path, NULL, 204));
	curl_free(esc);
}

static const char users_table[] =
	"{\"name\": \"users\", \"columns\": ["
	"{\"name\": \"id\", \"type\": \"INTEGER\", \"primaryKey\": true},"
	"{\"name\": \"name\", \"type\": \"TEXT\", \"nullable\": false},"
	"{\"name\": \"age\", \"type\": \"INTEGER\", \"defaultValue\": 18},"
	"{\"name\": \"city\", \"type\": \"TEXT\", \"defaultValue\": \"Oslo\"}]}";

/* Fresh database "app" with table "users". */
static void make_users(void)
{
	struct resp r;

	http_on(curl, "DELETE", "/databases/app", NULL, NULL, &r);	/* may not exist */
	free(r.body);
	json_decref(call("POST", "/databases", "{\"name\": \"app\"}", 201));
	json_decref(call("POST", "/databases/app/tables", users_table, 201));
}

static void test_tables(void)
{
	json_t *j, *cols, *c;

	json_decref(call("POST", "/databases", "{\"name\": \"app\"}", 201));
	j = call("POST", "/databases/app/tables", users_table, 201);
	CU_ASSERT_STRING_EQUAL(jstr(j, "name"), "users");
	cols = json_object_get(j, "columns");
	CU_ASSERT_EQUAL(json_array_size(cols), 4);
	c = json_array_get(cols, 0);
	CU_ASSERT_TRUE(json_is_true(json_object_get(c, "primaryKey")));
	c = json_array_get(cols, 1);
	CU_ASSERT_STRING_EQUAL(jstr(c, "type"), "TEXT");
	CU_ASSERT_TRUE(json_is_false(json_object_get(c, "nullable")));
	CU_ASSERT_TRUE(json_is_null(json_object_get(c, "defaultValue")));
	CU_ASSERT_EQUAL(jint(json_array_get(cols, 2), "defaultValue"), 18);
	CU_ASSERT_STRING_EQUAL(jstr(json_array_get(cols, 3), "defaultValue"), "Oslo");
	CU_ASSERT_EQUAL(jint(j, "rowCount"), 0);
	CU_ASSERT_TRUE(json_is_string(json_object_get(j, "createdAt")));
	CU_ASSERT_TRUE(json_is_array(json_object_get(j, "indexes")));
	json_decref(j);
	call_error("POST", "/databases/app/tables", users_table, 409, "CONFLICT");
	call_error("POST", "/databases/app/tables", "{\"name\": \"x\", \"columns\": []}",
		   400, "BAD_REQUEST");
	call_error("POST", "/databases/app/tables", "{\"name\": \"x\", \"columns\":"
		   " [{\"name\": \"a\", \"type\": \"INT); DROP\"}]}", 400, "BAD_REQUEST");
	call_error("POST", "/databases/none/tables", users_table, 404, "NOT_FOUND");
	j = call("GET", "/databases/app/tables", NULL, 200);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "tables")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(json_array_get(json_object_get(j, "tables"), 0), "name"),
			       "users");
	json_decref(j);
	j = call("GET", "/databases/app", NULL, 200);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(j, "tables"), 0)),
			       "users");
	json_decref(j);
	j = call("GET", "/databases/app/tables/users", NULL, 200);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "columns")), 4);
	json_decref(j);
	call_error("GET", "/databases/app/tables/nope", NULL, 404, "NOT_FOUND");
	CU_ASSERT_PTR_NULL(call("DELETE", "/databases/app/tables/users", NULL, 204));
	call_error("DELETE", "/databases/app/tables/users", NULL, 404, "NOT_FOUND");
	json_decref(call("DELETE", "/databases/app", NULL, 204));
}

static void test_rows(void)
{
	json_t *j, *rows;

	make_users();
	j = call("POST", "/databases/app/tables/users/rows",
		 "{\"rows\": [{\"name\": \"ann\", \"age\": 30}, {\"name\": \"bob\"},"
		 " {\"name\": \"cyd\", \"age\": 50, \"city\": \"Rome\"}]}", 201);
	CU_ASSERT_EQUAL(jint(j, "inserted"), 3);
	json_decref(j);
	/* all or nothing: the second row violates NOT NULL */
	call_error("POST", "/databases/app/tables/users/rows",
		   "{\"rows\": [{\"name\": \"dan\"}, {\"age\": 1}]}", 409, "CONFLICT");
	call_error("POST", "/databases/app/tables/users/rows", "{\"rows\": 3}", 400,
		   "BAD_REQUEST");
	j = call("GET", "/databases/app/tables/users/rows", NULL, 200);
	CU_ASSERT_EQUAL(jint(j, "count"), 3);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rows")), 3);
	json_decref(j);
	j = call("GET", "/databases/app/tables/users/rows?where=age%3E20&orderBy=age%20DESC"
		 "&limit=1&offset=1", NULL, 200);
	rows = json_object_get(j, "rows");
	CU_ASSERT_EQUAL(json_array_size(rows), 1);
	CU_ASSERT_STRING_EQUAL(jstr(json_array_get(rows, 0), "name"), "ann");
	json_decref(j);
	j = call("GET", "/databases/app/tables/users/rows?where=name%3D'bob'", NULL, 200);
	rows = json_object_get(j, "rows");
	CU_ASSERT_EQUAL(jint(json_array_get(rows, 0), "age"), 18);	/* default */
	CU_ASSERT_STRING_EQUAL(jstr(json_array_get(rows, 0), "city"), "Oslo");
	json_decref(j);
	call_error("GET", "/databases/app/tables/users/rows?limit=0", NULL, 400, "BAD_REQUEST");
	call_error("GET", "/databases/app/tables/users/rows?limit=10001", NULL, 400,
		   "BAD_REQUEST");
	call_error("GET", "/databases/app/tables/users/rows?offset=-1", NULL, 400,
		   "BAD_REQUEST");
	call_error("GET", "/databases/app/tables/users/rows?where=nosuchcol%3D1", NULL, 400,
		   "BAD_REQUEST");
	call_error("GET", "/databases/app/tables/nope/rows", NULL, 404, "NOT_FOUND");
	j = call("GET", "/databases/app/tables/users", NULL, 200);
	CU_ASSERT_EQUAL(jint(j, "rowCount"), 3);
	json_decref(j);
}

/* The client-library routes on /databases/{db}/tables/{t}. */
static void test_records(void)
{
	json_t *j, *recs;

	make_users();
	j = call("POST", "/databases/app/tables/users", "{\"name\": \"eve\", \"age\": 40}", 201);
	CU_ASSERT_EQUAL(jint(j, "inserted"), 1);
	CU_ASSERT_EQUAL(jint(j, "id"), 1);
	json_decref(j);
	json_decref(call("POST", "/databases/app/tables/users", "{\"name\": \"fay\"}", 201));
	call_error("POST", "/databases/app/tables/users", "{\"id\": 1, \"name\": \"x\"}", 409,
		   "CONFLICT");
	j = call("GET", "/databases/app/tables/users?condition=age%3E30", NULL, 200);
	recs = json_object_get(j, "records");
	CU_ASSERT_EQUAL(json_array_size(recs), 1);
	CU_ASSERT_STRING_EQUAL(jstr(json_array_get(recs, 0), "name"), "eve");
	json_decref(j);
	j = call("PUT", "/databases/app/tables/users",
		 "{\"data\": {\"age\": 41, \"city\": \"Bergen\"}, \"condition\": \"name = 'eve'\"}",
		 200);
	CU_ASSERT_EQUAL(jint(j, "updated"), 1);
	json_decref(j);
	call_error("PUT", "/databases/app/tables/users", "{\"condition\": \"1\"}", 400,
		   "BAD_REQUEST");
	j = call("GET", "/databases/app/tables/users?condition=city%3D'Bergen'", NULL, 200);
	CU_ASSERT_EQUAL(jint(json_array_get(json_object_get(j, "records"), 0), "age"), 41);
	json_decref(j);
	j = call("DELETE", "/databases/app/tables/users?condition=age%3D41", NULL, 200);
	CU_ASSERT_EQUAL(jint(j, "deleted"), 1);
	json_decref(j);
	j = call("GET", "/databases/app/tables/users?condition=", NULL, 200);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "records")), 1);
	json_decref(j);
	/* without ?condition= DELETE drops the table */
	CU_ASSERT_PTR_NULL(call("DELETE", "/databases/app/tables/users", NULL, 204));
	call_error("GET", "/databases/app/tables/users?condition=1", NULL, 404, "NOT_FOUND");
}

static void test_query(void)
{
	json_t *j, *rows;

	make_users();
	j = call("POST", "/databases/app/query", "{\"query\": \"INSERT INTO users (name, age)"
		 " VALUES (?, ?), (?, ?)\", \"parameters\": [\"gus\", 20, \"hal\", null]}", 200);
	CU_ASSERT_EQUAL(jint(j, "affectedRows"), 2);
	CU_ASSERT_EQUAL(jint(j, "rowCount"), 0);
	json_decref(j);
	j = call("POST", "/databases/app/query", "{\"query\": \"CREATE TABLE z (x)\"}", 200);
	CU_ASSERT_EQUAL(jint(j, "affectedRows"), 0);	/* not the INSERT's 2 */
	json_decref(j);
	j = call("POST", "/databases/app/query", "{\"query\": \"SELECT name, age FROM users"
		 " WHERE name = ? OR age IS NULL ORDER BY id\", \"parameters\": [\"gus\"]}", 200);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(j, "columns"), 0)),
			       "name");
	rows = json_object_get(j, "rows");
	CU_ASSERT_EQUAL(jint(j, "rowCount"), 2);
	CU_ASSERT_EQUAL(jint(j, "affectedRows"), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_array_get(rows, 0), 0)), "gus");
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(json_array_get(rows, 0), 1)), 20);
	CU_ASSERT_TRUE(json_is_null(json_array_get(json_array_get(rows, 1), 1)));
	json_decref(j);
	call_error("POST", "/databases/app/query", "{\"query\": \"SELEC 1\"}", 400, "BAD_REQUEST");
	call_error("POST", "/databases/app/query", "{\"query\": \"SELECT 1; SELECT 2\"}", 400,
		   "BAD_REQUEST");
	call_error("POST", "/databases/app/query", "{\"query\": \"INSERT INTO users (id, name)"
		   " VALUES (1, 'dup')\"}", 409, "CONFLICT");
	call_error("POST", "/databases/app/query", "{}", 400, "BAD_REQUEST");
	call_error("POST", "/databases/nope/query", "{\"query\": \"SELECT 1\"}", 404, "NOT_FOUND");
}

static void test_transactions(void)
{
	json_t *j;
	char path[256];
	char id[128];

	j = call("POST", "/transactions", NULL, 200);
	CU_ASSERT_TRUE_FATAL(json_is_string(json_object_get(j, "transaction_id")));
	snprintf(id, sizeof id, "%s", jstr(j, "transaction_id"));
	json_decref(j);
	snprintf(path, sizeof path, "/transactions/%s/commit", id);
	j = call("POST", path, NULL, 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "status"), "committed");
	json_decref(j);
	call_error("POST", path, NULL, 404, "NOT_FOUND");	/* already closed */
	j = call("POST", "/transactions", NULL, 200);
	snprintf(path, sizeof path, "/transactions/%s/rollback", jstr(j, "transaction_id"));
	json_decref(j);
	j = call("POST", path, NULL, 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "status"), "rolled_back");
	json_decref(j);
	call_error("POST", "/transactions/nope/commit", NULL, 404, "NOT_FOUND");
	call_error("POST", "/transactions/nope/rollback", NULL, 404, "NOT_FOUND");
}

static void test_errors(void)
{
	call_error("GET", "/nope", NULL, 404, "NOT_FOUND");
	call_error("GET", "/databases/a/b/c/d/e/f/g/h/i", NULL, 404, "NOT_FOUND");
	call_error("PATCH", "/databases", NULL, 405, "METHOD_NOT_ALLOWED");
	call_error("GET", "/transactions", NULL, 405, "METHOD_NOT_ALLOWED");
	call_error("POST", "/databases", "{\"name\":", 400, "BAD_REQUEST");
	call_error("POST", "/databases", "", 400, "BAD_REQUEST");
}

/* --- hooks ---------------------------------------------------------------- */

static void test_keepalive(void)
{
	long acc0, open0, acc1, open1;
	CURL *h = curl_easy_init();
	struct resp r;
	int ok = 0;

	counters(&acc0, &open0);
	for (int i = 0; i < 100; i++) {
		http_on(h, "GET", i % 2 ? "/health" : "/databases", NULL, NULL, &r);
		ok += r.rc == CURLE_OK && r.status == 200;
		free(r.body);
	}
	CU_ASSERT_EQUAL(ok, 100);
	/* error answers keep the connection too */
	http_on(h, "GET", "/nope", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 404);
	free(r.body);
	http_on(h, "POST", "/databases", "{bad", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 400);
	free(r.body);
	http_on(h, "GET", "/health?status=503", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 503);
	free(r.body);
	counters(&acc1, &open1);
	CU_ASSERT_EQUAL(acc1 - acc0, 1);
	CU_ASSERT_EQUAL(open1 - open0, 1);
	curl_easy_cleanup(h);
	CU_ASSERT_EQUAL(wait_open(open0), open0);
}

/* Probing does not change what the probe reports. */
static void test_probe_invisible(void)
{
	long a0, o0, a1, o1;
	struct resp r;
	json_t *j;

	counters(&a0, &o0);
	counters(&a1, &o1);
	CU_ASSERT_EQUAL(a0, a1);
	CU_ASSERT_EQUAL(o0, o1);
	http_on(curl, "GET", "/_debug/connections", NULL, NULL, &r);
	j = json_loads(r.body ? r.body : "", 0, NULL);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(jint(j, "accepted") >= 1);
	CU_ASSERT_TRUE(jint(j, "open") >= 1);	/* at least this handle */
	CU_ASSERT_TRUE(jint(j, "accepted_total") >= jint(j, "accepted"));
	json_decref(j);
	free(r.body);
}

static void test_request_id(void)
{
	const char *hdr[] = { "X-Request-Id: req-42/abc", NULL };
	const char *paths[] = { "/health", "/nope", "/_debug/bytes?bytes=3",
				"/databases?status=500", "/databases/none" };
	struct resp r;

	for (size_t i = 0; i < PP_ARRAY_LEN(paths); i++) {
		http_on(curl, "GET", paths[i], NULL, hdr, &r);
		CU_ASSERT_STRING_EQUAL(r.request_id, "req-42/abc");
		free(r.body);
	}
	http_on(curl, "GET", "/health", NULL, NULL, &r);
	CU_ASSERT_STRING_EQUAL(r.request_id, "");
	free(r.body);
}

struct delayed {
	long long elapsed_ms;
	long status;
};

static void *delayed_request(void *arg)
{
	struct delayed *d = arg;
	CURL *h = curl_easy_init();
	struct resp r;
	long long t0 = now_ms();

	http_on(h, "GET", "/health?delay_ms=600", NULL, NULL, &r);
	d->elapsed_ms = now_ms() - t0;
	d->status = r.status;
	free(r.body);
	curl_easy_cleanup(h);
	return NULL;
}

static void test_delay(void)
{
	struct delayed d = { 0, 0 };
	pthread_t t;
	long long t0;
	json_t *j;

	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, delayed_request, &d), 0);
	usleep(100000);
	t0 = now_ms();
	json_decref(call("GET", "/health", NULL, 200));	/* not held up */
	CU_ASSERT_TRUE(now_ms() - t0 < 300);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(d.status, 200);
	CU_ASSERT_TRUE(d.elapsed_ms >= 600);
	CU_ASSERT_TRUE(d.elapsed_ms < 3000);
	t0 = now_ms();
	j = call("GET", "/databases?delay_ms=200", NULL, 200);
	CU_ASSERT_TRUE(now_ms() - t0 >= 200);
	CU_ASSERT_TRUE(json_is_array(json_object_get(j, "databases")));
	json_decref(j);
	call_error("GET", "/health?delay_ms=abc", NULL, 400, "BAD_REQUEST");
}

static void test_forced_status(void)
{
	json_t *j;

	j = call("GET", "/health?status=503", NULL, 503);
	CU_ASSERT_STRING_EQUAL(jstr(j, "status"), "healthy");
	json_decref(j);
	j = call("POST", "/transactions?status=500", NULL, 500);
	CU_ASSERT_TRUE(json_is_string(json_object_get(j, "transaction_id")));
	json_decref(j);
	j = call("GET", "/nope?status=200", NULL, 200);
	assert_error(j, "NOT_FOUND");
	json_decref(j);
	j = call("GET", "/health?status=429&delay_ms=10", NULL, 429);
	json_decref(j);
	call_error("GET", "/health?status=42", NULL, 400, "BAD_REQUEST");
}

struct bytes_check {
	uint64_t n;
	uint64_t bad;
};

static size_t on_pattern(char *p, size_t size, size_t n, void *cls)
{
	struct bytes_check *c = cls;

	for (size_t i = 0; i < size * n; i++)
		c->bad += (uint8_t)p[i] != pattern_byte(c->n + i);
	c->n += size * n;
	return size * n;
}

/* GET /_debug/bytes?bytes=n[&drop=1]; returns the curl result. */
static CURLcode get_bytes(uint64_t n, int drop, struct bytes_check *c, long *status,
			  char *ctype, size_t ctype_cap)
{
	char url[256];
	struct resp hdrs;
	CURL *h = curl_easy_init();
	CURLcode rc;

	memset(c, 0, sizeof *c);
	memset(&hdrs, 0, sizeof hdrs);
	snprintf(url, sizeof url, "%s/_debug/bytes?bytes=%llu%s", be.url,
		 (unsigned long long)n, drop ? "&drop=1" : "");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_pattern);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (ctype)
		snprintf(ctype, ctype_cap, "%s", hdrs.content_type);
	curl_easy_cleanup(h);
	return rc;
}

static void test_bytes(void)
{
	static const uint64_t sizes[] = { 0, 1, 255, 256, 65537, 1000003, 256ULL << 20 };
	struct bytes_check c;
	long status;
	char ctype[128];

	for (size_t i = 0; i < PP_ARRAY_LEN(sizes); i++) {
		CU_ASSERT_EQUAL(get_bytes(sizes[i], 0, &c, &status, ctype, sizeof ctype), CURLE_OK);
		CU_ASSERT_EQUAL(status, 200);
		CU_ASSERT_EQUAL(c.n, sizes[i]);
		CU_ASSERT_EQUAL(c.bad, 0);
		CU_ASSERT_STRING_EQUAL(ctype, "application/octet-stream");
	}
	call_error("GET", "/_debug/bytes", NULL, 400, "BAD_REQUEST");
	call_error("GET", "/_debug/bytes?bytes=-1", NULL, 400, "BAD_REQUEST");
}

static void test_drop(void)
{
	struct bytes_check c;
	long status;
	CURLcode rc;

	rc = get_bytes(1 << 20, 1, &c, &status, NULL, 0);
	CU_ASSERT_NOT_EQUAL(rc, CURLE_OK);
	CU_ASSERT_EQUAL(status, 200);		/* headers did arrive */
	CU_ASSERT_TRUE(c.n > 0);		/* and part of the body */
	CU_ASSERT_TRUE(c.n < (1 << 20));
	CU_ASSERT_EQUAL(c.bad, 0);
	/* the server survives */
	json_decref(call("GET", "/health", NULL, 200));
}

struct upload {
	uint64_t sent, total;
};

static size_t on_upload(char *p, size_t size, size_t n, void *cls)
{
	struct upload *u = cls;
	size_t k = size * n;

	if (k > u->total - u->sent)
		k = (size_t)(u->total - u->sent);
	for (size_t i = 0; i < k; i++)
		p[i] = (char)pattern_byte(u->sent + i);
	u->sent += k;
	return k;
}

/* FNV-1a 64 of the first n pattern bytes. */
static uint64_t pattern_fnv(uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < n; i++)
		h = (h ^ pattern_byte(i)) * 0x100000001b3ULL;
	return h;
}

/* POST n pattern bytes to /_debug/sum, streamed; chunked if asked. */
static void check_sum(uint64_t n, int chunked)
{
	char url[256], want[17];
	struct upload u = { 0, n };
	struct resp r;
	struct curl_slist *hl = NULL;
	CURL *h = curl_easy_init();
	json_t *j;

	memset(&r, 0, sizeof r);
	snprintf(url, sizeof url, "%s/_debug/sum", be.url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	if (chunked)
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
	else
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	CU_ASSERT_EQUAL(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	CU_ASSERT_EQUAL(r.status, 200);
	j = json_loads(r.body ? r.body : "", 0, NULL);
	snprintf(want, sizeof want, "%016llx", (unsigned long long)pattern_fnv(n));
	CU_ASSERT_EQUAL(jint(j, "bytes"), (json_int_t)n);
	CU_ASSERT_STRING_EQUAL(jstr(j, "fnv1a64"), want);
	json_decref(j);
	free(r.body);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
}

static void test_sum(void)
{
	json_t *j;

	check_sum(16u << 20, 0);
	check_sum(3u << 20, 1);
	j = call("POST", "/_debug/sum", "hello", 200);	/* known vector */
	CU_ASSERT_STRING_EQUAL(jstr(j, "fnv1a64"), "a430d84680aabd0b");
	CU_ASSERT_EQUAL(jint(j, "bytes"), 5);
	json_decref(j);
	j = call("POST", "/_debug/sum", "", 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "fnv1a64"), "cbf29ce484222325");
	json_decref(j);
}

static void test_echo(void)
{
	size_t n = 1u << 20;
	char *big = malloc(n + 2);
	struct resp r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	http_on(curl, "POST", "/_debug/echo", "{\"x\": 1}", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(r.body ? r.body : "", "{\"x\": 1}");
	CU_ASSERT_STRING_EQUAL(r.content_type, "application/json");
	free(r.body);
	for (size_t i = 0; i < n + 1; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';		/* exactly 1 MiB: accepted */
	http_on(curl, "POST", "/_debug/echo", big, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(r.len, n);
	CU_ASSERT_TRUE(r.body && !memcmp(r.body, big, n));
	free(r.body);
	big[n] = 'x';
	big[n + 1] = '\0';	/* 1 MiB + 1: 413 */
	call_error("POST", "/_debug/echo", big, 413, "PAYLOAD_TOO_LARGE");
	free(big);
}

static void test_headers(void)
{
	const char *hdr[] = { "X-Custom-Thing: Hello World", "Authorization: Bearer zzz",
			      "X-Request-Id: r1", NULL };
	struct resp r;
	json_t *j;

	http_on(curl, "GET", "/_debug/headers", NULL, hdr, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	j = json_loads(r.body ? r.body : "", 0, NULL);
	CU_ASSERT_STRING_EQUAL(jstr(j, "x-custom-thing"), "Hello World");
	CU_ASSERT_STRING_EQUAL(jstr(j, "authorization"), "Bearer zzz");
	CU_ASSERT_STRING_EQUAL(jstr(j, "x-request-id"), "r1");
	CU_ASSERT_TRUE(json_is_string(json_object_get(j, "host")));
	CU_ASSERT_PTR_NULL(json_object_get(j, "X-Custom-Thing"));
	json_decref(j);
	free(r.body);
}

/* ?close=1: the server closes the connection after answering. */
static void test_close_hook(void)
{
	long a0, o0, a1, o1;
	CURL *h = curl_easy_init();
	struct resp r;

	counters(&a0, &o0);
	for (int i = 0; i < 3; i++) {
		http_on(h, "GET", "/health?close=1", NULL, NULL, &r);
		CU_ASSERT_EQUAL(r.status, 200);
		free(r.body);
	}
	counters(&a1, &o1);
	CU_ASSERT_EQUAL(a1 - a0, 3);
	curl_easy_cleanup(h);
	CU_ASSERT_EQUAL(wait_open(o0), o0);
}

static void test_token_and_port_file(void)
{
	char pf[256], buf[32] = "";
	const char *args[] = { "--token", "s3cret", "--port-file", pf, NULL };
	const char *good[] = { "Authorization: Bearer s3cret", NULL };
	const char *bad[] = { "Authorization: Bearer nope", NULL };
	struct pp_backend main_be = be;
	struct resp r;
	FILE *f;

	snprintf(pf, sizeof pf, "/tmp/pp-test-backend-%ld.port", (long)getpid());
	CU_ASSERT_EQUAL_FATAL(pp_backend_start(&be, args), 0);
	f = fopen(pf, "r");
	CU_ASSERT_PTR_NOT_NULL(f);
	if (f) {
		CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof buf, f));
		fclose(f);
	}
	CU_ASSERT_EQUAL(atoi(buf), be.port);
	unlink(pf);
	call_error("GET", "/databases", NULL, 401, "UNAUTHORIZED");
	http_on(curl, "GET", "/databases", NULL, bad, &r);
	CU_ASSERT_EQUAL(r.status, 401);
	free(r.body);
	http_on(curl, "POST", "/transactions", NULL, good, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	free(r.body);
	json_decref(call("GET", "/health", NULL, 200));
	json_decref(call("GET", "/_debug/connections", NULL, 200));
	json_decref(call("GET", "/_debug/bytes?bytes=10", NULL, 200));
	pp_backend_stop(&be);
	CU_ASSERT_EQUAL(be.exit_status, 0);	/* SIGTERM: clean exit */
	be = main_be;
}

static void test_bad_cli(void)
{
	const char *args[] = { "--bind", "0.0.0.0", NULL };
	struct pp_backend b;

	CU_ASSERT_EQUAL(pp_backend_start(&b, args), -1);
	CU_ASSERT_EQUAL(b.pid, 0);
}

static const struct pp_test tests[] = {
	{ "health", test_health },
	{ "databases", test_databases },
	{ "odd_names", test_odd_names },
	{ "tables", test_tables },
	{ "rows", test_rows },
	{ "records", test_records },
	{ "query", test_query },
	{ "transactions", test_transactions },
	{ "errors", test_errors },
	{ "keepalive", test_keepalive },
	{ "probe_invisible", test_probe_invisible },
	{ "request_id", test_request_id },
	{ "delay", test_delay },
	{ "forced_status", test_forced_status },
	{ "bytes", test_bytes },
	{ "drop", test_drop },
	{ "sum", test_sum },
	{ "echo", test_echo },
	{ "headers", test_headers },
	{ "close_hook", test_close_hook },
	{ "token_and_port_file", test_token_and_port_file },
	{ "bad_cli", test_bad_cli },
};

int main(void)
{
	return pp_test_main("backend", tests, PP_ARRAY_LEN(tests), suite_setup,
			    suite_teardown);
}
