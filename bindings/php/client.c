/* client.c - class PhantomPool\Client: one lease (a seat of the pool) and
 * the PhantomDB routes sent on it.
 *
 * A Client comes from Pool::acquire() only.  Its lease is released by
 * release(), when the object is freed (it went out of scope), or at the
 * end of the web request (phantompool.c's RSHUTDOWN), whichever comes
 * first.  Every request of one Client goes through its own seat, on the
 * thread that acquired it (PHP runs a request on one thread).
 *
 * The typed methods build the PhantomDB path (names percent-escaped with
 * PHP's rawurlencode: every byte but A-Z a-z 0-9 - . _ ~; a name that is
 * exactly "." or ".." as %2E / %2E%2E) and the JSON body
 * (PHP's own json encoder), send it with pp_request(), and return the
 * decoded JSON body of a 2xx response as an array ([] for an empty body).
 * A status outside 2xx throws HttpException; a pool error throws
 * Exception with the PP_E* code.  The routes are the ones of
 * docs/helpers.md, sent on the lease instead of through pp_do().
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <limits.h>

#include <php.h>
#include <zend_exceptions.h>
#include <zend_smart_str.h>
#include <ext/json/php_json.h>
#include <ext/standard/url.h>

#include "php_phantompool.h"

zend_class_entry *ppx_ce_client;
static zend_object_handlers client_handlers;

#define JSON_OUT_FLAGS (PHP_JSON_UNESCAPED_SLASHES | PHP_JSON_UNESCAPED_UNICODE | PHP_JSON_PRESERVE_ZERO_FRACTION)

/* ------------------------------------------------------------------ */
/* The object. */

static zend_object *client_create(zend_class_entry *ce)
{
	ppx_client *c = zend_object_alloc(sizeof(ppx_client), ce);

	zend_object_std_init(&c->std, ce);
	object_properties_init(&c->std, ce);
	c->std.handlers = &client_handlers;
	return &c->std;
}

int ppx_client_release(ppx_client *c)
{
	int rc;

	if (!c->lease)
		return PP_ERELEASED;
	rc = pp_release(c->lease);
	/* Whatever pp_release said, this object is done with the lease:
	 * PP_ELOST (the daemon reclaimed it) and PP_ENOTOWNER (a lease
	 * inherited through pcntl_fork, the parent's to release) leave
	 * nothing for this process to release later. */
	c->lease = NULL;
	ppx_held_remove(c);
	return rc;
}

static void client_free(zend_object *obj)
{
	ppx_client *c = ppx_client_from(obj);

	if (c->lease)
		(void)ppx_client_release(c);
	zend_object_std_dtor(obj);
}

static zend_function *client_get_constructor(zend_object *obj)
{
	zend_throw_error(NULL, "PhantomPool\\Client cannot be constructed: use PhantomPool\\Pool::acquire()");
	return NULL;
}

void ppx_client_acquire(pp_pool *pool, int timeout_ms, zval *rv)
{
	struct pp_lease *l;
	ppx_client *c;
	int rc = pp_lease(pool, timeout_ms, &l);

	if (rc < 0) {
		ppx_throw(rc, "PhantomPool\\Pool::acquire", NULL);
		return;
	}
	object_init_ex(rv, ppx_ce_client);
	c = ppx_client_from(Z_OBJ_P(rv));
	c->lease = l;
	ppx_held_add(c);
}

/* The Client of $this if it still holds its lease; else throw. */
static ppx_client *live_client(zval *self, const char *what)
{
	ppx_client *c = ppx_client_from(Z_OBJ_P(self));

	if (!c->lease) {
		ppx_throw(PP_ERELEASED, what, "this Client's lease was released");
		return NULL;
	}
	return c;
}

/* ------------------------------------------------------------------ */
/* The raw request (Client::request and Pool::request). */

int ppx_raw_parse(ppx_raw *raw, zend_string *method, zend_string *path, HashTable *headers,
		  zend_string *body, zend_long timeout_ms, const char *what)
{
	memset(raw, 0, sizeof *raw);
	if (strlen(ZSTR_VAL(method)) != ZSTR_LEN(method)) {
		ppx_throw(PP_EBADMETHOD, what, "the method contains a NUL byte");
		return FAILURE;
	}
	if (strlen(ZSTR_VAL(path)) != ZSTR_LEN(path)) {
		ppx_throw(PP_EBADPATH, what, "the path contains a NUL byte");
		return FAILURE;
	}
	if (timeout_ms < 0 || timeout_ms > INT_MAX) {
		ppx_throw(PP_EINVAL, what, "timeoutMs must be 0 (the daemon's request timeout) or a positive int");
		return FAILURE;
	}
	raw->req.method = ZSTR_VAL(method);
	raw->req.path = ZSTR_VAL(path);
	raw->req.timeout_ms = (int)timeout_ms;
	if (body) {
		raw->req.body = ZSTR_VAL(body);
		raw->req.body_len = ZSTR_LEN(body);
	}
	if (headers && zend_hash_num_elements(headers) > 0) {
		zend_string *name;
		zval *value;
		size_t n = 0;

		raw->headers = ecalloc(zend_hash_num_elements(headers), sizeof(pp_header));
		raw->req.headers = raw->headers;
		ZEND_HASH_FOREACH_STR_KEY_VAL(headers, name, value) {
			ZVAL_DEREF(value);   /* a value held by reference is still a string */
			if (!name || Z_TYPE_P(value) != IS_STRING || strlen(ZSTR_VAL(name)) != ZSTR_LEN(name) ||
			    strlen(Z_STRVAL_P(value)) != Z_STRLEN_P(value)) {
				ppx_throw(PP_EBADHEADER, what,
					  "headers must be an array of name => string value, without NUL bytes");
				ppx_raw_free(raw);
				return FAILURE;
			}
			raw->headers[n].name = ZSTR_VAL(name);
			raw->headers[n].value = Z_STRVAL_P(value);
			raw->req.nheaders = ++n;
		} ZEND_HASH_FOREACH_END();
	}
	return SUCCESS;
}

void ppx_raw_free(ppx_raw *raw)
{
	if (raw->headers)
		efree(raw->headers);
	raw->headers = NULL;
}

void ppx_resp_to_array(pp_resp *resp, zval *rv)
{
	array_init_size(rv, 4);
	add_assoc_long(rv, "status", resp->status);
	add_assoc_string(rv, "contentType", resp->content_type);
	add_assoc_string(rv, "requestId", resp->request_id);
	add_assoc_stringl(rv, "body", resp->body ? resp->body : "", resp->body_len);
}

/* ------------------------------------------------------------------ */
/* The typed routes: one call = method, path, optional JSON body. */

typedef struct route_call {
	const char *what;      /* "PhantomPool\\Client::insert", for messages */
	const char *method;
	smart_str path;
	zval body;             /* IS_UNDEF: no body */
} route_call;

static void call_init(route_call *k, const char *what, const char *method, const char *path)
{
	memset(k, 0, sizeof *k);
	k->what = what;
	k->method = method;
	ZVAL_UNDEF(&k->body);
	smart_str_appends(&k->path, path);
}

static void call_free(route_call *k)
{
	smart_str_free(&k->path);
	zval_ptr_dtor(&k->body);
}

/* Append "/<escaped name>"; a name must not be empty (PP_EINVAL).  A
 * name that is exactly "." or ".." goes out as "%2E" / "%2E%2E", as the C
 * helpers send it (docs/helpers.md): rawurlencode keeps dots, and a raw
 * dot segment is refused by pp_request (PP_EBADPATH). */
static int add_segment(route_call *k, zend_string *name, const char *argname)
{
	zend_string *e;

	if (ZSTR_LEN(name) == 0) {
		char msg[64];
		snprintf(msg, sizeof msg, "%s must not be empty", argname);
		ppx_throw(PP_EINVAL, k->what, msg);
		return FAILURE;
	}
	if (zend_string_equals_literal(name, ".") || zend_string_equals_literal(name, "..")) {
		smart_str_appends(&k->path, ZSTR_LEN(name) == 1 ? "/%2E" : "/%2E%2E");
		return SUCCESS;
	}
	e = php_raw_url_encode(ZSTR_VAL(name), ZSTR_LEN(name));
	smart_str_appendc(&k->path, '/');
	smart_str_append(&k->path, e);
	zend_string_release(e);
	return SUCCESS;
}

/* Append "?key=<escaped value>" or "&key=...". */
static void add_query(route_call *k, int *first, const char *key, const char *v, size_t n)
{
	zend_string *e = php_raw_url_encode(v, n);

	smart_str_appendc(&k->path, *first ? '?' : '&');
	smart_str_appends(&k->path, key);
	smart_str_appendc(&k->path, '=');
	smart_str_append(&k->path, e);
	zend_string_release(e);
	*first = 0;
}

/* dst = ht as a JSON object: an empty array becomes {}, a non-empty list
 * is refused (PP_EINVAL), an associative array is copied. */
static int as_object(route_call *k, zval *dst, HashTable *ht, const char *argname)
{
	char msg[96];

	if (zend_hash_num_elements(ht) == 0) {
		object_init(dst);
		return SUCCESS;
	}
	if (zend_array_is_list(ht)) {
		snprintf(msg, sizeof msg, "%s must be an associative array (a JSON object), not a list", argname);
		ppx_throw(PP_EINVAL, k->what, msg);
		return FAILURE;
	}
	ZVAL_ARR(dst, zend_array_dup(ht));
	return SUCCESS;
}

/* dst = a list of JSON objects, from a list of associative arrays. */
static int as_object_list(route_call *k, zval *dst, HashTable *ht, const char *argname, int allow_empty)
{
	zval *v;
	char msg[96];

	if (!zend_array_is_list(ht) || (!allow_empty && zend_hash_num_elements(ht) == 0)) {
		snprintf(msg, sizeof msg, "%s must be a non-empty list of associative arrays", argname);
		ppx_throw(PP_EINVAL, k->what, msg);
		return FAILURE;
	}
	array_init_size(dst, zend_hash_num_elements(ht));
	ZEND_HASH_FOREACH_VAL(ht, v) {
		zval o;
		ZVAL_DEREF(v);
		if (Z_TYPE_P(v) != IS_ARRAY || as_object(k, &o, Z_ARRVAL_P(v), argname) != SUCCESS) {
			if (!EG(exception)) {
				snprintf(msg, sizeof msg, "every element of %s must be an associative array", argname);
				ppx_throw(PP_EINVAL, k->what, msg);
			}
			zval_ptr_dtor(dst);
			ZVAL_UNDEF(dst);
			return FAILURE;
		}
		add_next_index_zval(dst, &o);
	} ZEND_HASH_FOREACH_END();
	return SUCCESS;
}

/* Decode a 2xx body into rv: an array, [] when empty; else PP_EPROTO. */
static void decode_body(const char *what, pp_resp *resp, zval *rv)
{
	if (resp->body_len == 0) {
		array_init(rv);
		return;
	}
	if (php_json_decode_ex(rv, resp->body, resp->body_len, PHP_JSON_OBJECT_AS_ARRAY,
			       PHP_JSON_PARSER_DEFAULT_DEPTH) != SUCCESS) {
		ZVAL_NULL(rv);
		ppx_throw(PP_EPROTO, what, "PhantomDB's response body is not JSON");
		return;
	}
	if (Z_TYPE_P(rv) != IS_ARRAY) {
		zval_ptr_dtor(rv);
		ZVAL_NULL(rv);
		ppx_throw(PP_EPROTO, what, "PhantomDB's response body is not a JSON object or array");
	}
}

/* Why php_json_encode failed, for the PP_EINVAL message. */
static const char *json_encode_error(void)
{
	switch (JSON_G(error_code)) {
	case PHP_JSON_ERROR_UTF8:
		return "the body cannot be encoded as JSON: a string is not UTF-8";
	case PHP_JSON_ERROR_INF_OR_NAN:
		return "the body cannot be encoded as JSON: INF or NAN";
	case PHP_JSON_ERROR_RECURSION:
		return "the body cannot be encoded as JSON: it contains itself";
	case PHP_JSON_ERROR_DEPTH:
		return "the body cannot be encoded as JSON: nested too deep";
	default:
		return "the body cannot be encoded as JSON (a resource, or a value json_encode() refuses)";
	}
}

/* Send the call on the lease; rv gets the decoded body (or an exception
 * is thrown).  *resp_out, when not NULL, keeps the raw response (the
 * caller frees it). */
static void call_send(ppx_client *c, route_call *k, zval *rv, pp_resp *resp_out)
{
	static const pp_header json_headers[] = {
		{ "Accept", "application/json" },
		{ "Content-Type", "application/json" },
	};
	smart_str body = { 0 };
	pp_resp resp;
	pp_req req = { 0 };
	int rc;

	if (Z_TYPE(k->body) != IS_UNDEF) {
		/* For INF and NAN the encoder writes 0, sets the error and
		 * returns SUCCESS (json_encode() then returns false): check
		 * the error, or a NAN goes out as 0. */
		if (php_json_encode(&body, &k->body, JSON_OUT_FLAGS) != SUCCESS ||
		    JSON_G(error_code) != PHP_JSON_ERROR_NONE || EG(exception)) {
			smart_str_free(&body);
			/* An exception thrown by a JsonSerializable in the body
			 * goes on as it is. */
			if (!EG(exception))
				ppx_throw(PP_EINVAL, k->what, json_encode_error());
			return;
		}
		smart_str_0(&body);
		req.body = ZSTR_VAL(body.s);
		req.body_len = ZSTR_LEN(body.s);
	}
	/* The encoder ran the body's jsonSerialize() methods, which may have
	 * released this Client. */
	if (!c->lease) {
		smart_str_free(&body);
		ppx_throw(PP_ERELEASED, k->what, "this Client's lease was released");
		return;
	}
	smart_str_0(&k->path);
	req.method = k->method;
	req.path = ZSTR_VAL(k->path.s);
	req.headers = json_headers;
	req.nheaders = req.body ? 2 : 1;
	rc = pp_request(c->lease, &req, &resp);
	smart_str_free(&body);
	if (rc < 0) {
		ppx_throw(rc, k->what, NULL);
		return;
	}
	if (resp.status < 200 || resp.status > 299)
		ppx_throw_http(k->what, resp.status, resp.body, resp.body_len);
	else
		decode_body(k->what, &resp, rv);
	if (resp_out)
		*resp_out = resp;
	else
		pp_resp_free(&resp);
}

/* The common tail of a typed method: send if the arguments were good. */
static void call_finish(zval *self, route_call *k, int ok, zval *rv)
{
	ppx_client *c;

	if (ok == SUCCESS && (c = live_client(self, k->what)) != NULL)
		call_send(c, k, rv, NULL);
	call_free(k);
}

#define WHAT(m) "PhantomPool\\Client::" m

/* ------------------------------------------------------------------ */
/* Methods. */

/* request(string $method, string $path, ?array $headers = null,
 *         ?string $body = null, int $timeoutMs = 0): array */
static PHP_METHOD(PhantomPool_Client, request)
{
	zend_string *method, *path, *body = NULL;
	HashTable *headers = NULL;
	zend_long timeout_ms = 0;
	ppx_client *c;
	ppx_raw raw;
	pp_resp resp;
	int rc;

	ZEND_PARSE_PARAMETERS_START(2, 5)
		Z_PARAM_STR(method)
		Z_PARAM_STR(path)
		Z_PARAM_OPTIONAL
		Z_PARAM_ARRAY_HT_OR_NULL(headers)
		Z_PARAM_STR_OR_NULL(body)
		Z_PARAM_LONG(timeout_ms)
	ZEND_PARSE_PARAMETERS_END();

	if (!(c = live_client(ZEND_THIS, WHAT("request"))))
		RETURN_THROWS();
	if (ppx_raw_parse(&raw, method, path, headers, body, timeout_ms, WHAT("request")) != SUCCESS)
		RETURN_THROWS();
	rc = pp_request(c->lease, &raw.req, &resp);
	ppx_raw_free(&raw);
	if (rc < 0) {
		ppx_throw(rc, WHAT("request"), NULL);
		RETURN_THROWS();
	}
	ppx_resp_to_array(&resp, return_value);
	pp_resp_free(&resp);
}

/* health(): array  GET /health */
static PHP_METHOD(PhantomPool_Client, health)
{
	route_call k;

	ZEND_PARSE_PARAMETERS_NONE();
	call_init(&k, WHAT("health"), "GET", "/health");
	call_finish(ZEND_THIS, &k, SUCCESS, return_value);
}

/* listDatabases(): array  GET /databases */
static PHP_METHOD(PhantomPool_Client, listDatabases)
{
	route_call k;

	ZEND_PARSE_PARAMETERS_NONE();
	call_init(&k, WHAT("listDatabases"), "GET", "/databases");
	call_finish(ZEND_THIS, &k, SUCCESS, return_value);
}

/* createDatabase(string $name, array $options = []): array
 * POST /databases {"name": name, "options": {...}} */
static PHP_METHOD(PhantomPool_Client, createDatabase)
{
	zend_string *name;
	HashTable *options = NULL;
	route_call k;
	zval opts;
	int ok = FAILURE;

	ZEND_PARSE_PARAMETERS_START(1, 2)
		Z_PARAM_STR(name)
		Z_PARAM_OPTIONAL
		Z_PARAM_ARRAY_HT(options)
	ZEND_PARSE_PARAMETERS_END();

	call_init(&k, WHAT("createDatabase"), "POST", "/databases");
	if (ZSTR_LEN(name) == 0)
		ppx_throw(PP_EINVAL, k.what, "name must not be empty");
	else if (!options)
		ok = (object_init(&opts), SUCCESS);
	else
		ok = as_object(&k, &opts, options, "options");
	if (ok == SUCCESS) {
		array_init(&k.body);
		add_assoc_str(&k.body, "name", zend_string_copy(name));
		add_assoc_zval(&k.body, "options", &opts);
	}
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* Start a call on /databases/{db}/tables[/{table}]. */
static int table_path(route_call *k, zend_string *db, zend_string *table)
{
	if (add_segment(k, db, "db") != SUCCESS)
		return FAILURE;
	smart_str_appends(&k->path, "/tables");
	return table ? add_segment(k, table, "table") : SUCCESS;
}

/* The routes on one database or one table, no body:
 *   getDatabase($db)      GET    /databases/{db}
 *   dropDatabase($db)     DELETE /databases/{db}
 *   listTables($db)       GET    /databases/{db}/tables
 *   getTable($db, $t)     GET    /databases/{db}/tables/{t}
 *   dropTable($db, $t)    DELETE /databases/{db}/tables/{t} */
static void db_route(INTERNAL_FUNCTION_PARAMETERS, const char *what, const char *method, const char *suffix)
{
	zend_string *db;
	route_call k;

	ZEND_PARSE_PARAMETERS_START(1, 1)
		Z_PARAM_STR(db)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, what, method, "/databases");
	int ok = add_segment(&k, db, "db");
	smart_str_appends(&k.path, suffix);
	call_finish(ZEND_THIS, &k, ok, return_value);
}

static void table_route(INTERNAL_FUNCTION_PARAMETERS, const char *what, const char *method)
{
	zend_string *db, *table;
	route_call k;

	ZEND_PARSE_PARAMETERS_START(2, 2)
		Z_PARAM_STR(db)
		Z_PARAM_STR(table)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, what, method, "/databases");
	call_finish(ZEND_THIS, &k, table_path(&k, db, table), return_value);
}

static PHP_METHOD(PhantomPool_Client, getDatabase)
{
	db_route(INTERNAL_FUNCTION_PARAM_PASSTHRU, WHAT("getDatabase"), "GET", "");
}

static PHP_METHOD(PhantomPool_Client, dropDatabase)
{
	db_route(INTERNAL_FUNCTION_PARAM_PASSTHRU, WHAT("dropDatabase"), "DELETE", "");
}

static PHP_METHOD(PhantomPool_Client, listTables)
{
	db_route(INTERNAL_FUNCTION_PARAM_PASSTHRU, WHAT("listTables"), "GET", "/tables");
}

static PHP_METHOD(PhantomPool_Client, getTable)
{
	table_route(INTERNAL_FUNCTION_PARAM_PASSTHRU, WHAT("getTable"), "GET");
}

static PHP_METHOD(PhantomPool_Client, dropTable)
{
	table_route(INTERNAL_FUNCTION_PARAM_PASSTHRU, WHAT("dropTable"), "DELETE");
}

/* createTable(string $db, string $table, array $columns): array
 * POST /databases/{db}/tables {"name": table, "columns": [...]}; each
 * column an array with a non-empty "name" ("type", "nullable",
 * "primaryKey", "defaultValue" as PhantomDB names them). */
static PHP_METHOD(PhantomPool_Client, createTable)
{
	zend_string *db, *table;
	HashTable *columns;
	route_call k;
	zval cols, *col;
	int ok;

	ZEND_PARSE_PARAMETERS_START(3, 3)
		Z_PARAM_STR(db)
		Z_PARAM_STR(table)
		Z_PARAM_ARRAY_HT(columns)
	ZEND_PARSE_PARAMETERS_END();

	call_init(&k, WHAT("createTable"), "POST", "/databases");
	ok = table_path(&k, db, NULL);
	if (ok == SUCCESS && ZSTR_LEN(table) == 0) {
		ppx_throw(PP_EINVAL, k.what, "table must not be empty");
		ok = FAILURE;
	}
	if (ok == SUCCESS && (ok = as_object_list(&k, &cols, columns, "columns", 0)) == SUCCESS) {
		ZEND_HASH_FOREACH_VAL(Z_ARRVAL(cols), col) {
			zval *name = Z_TYPE_P(col) == IS_ARRAY ? zend_hash_str_find_deref(Z_ARRVAL_P(col), "name", 4) : NULL;
			if (!name || Z_TYPE_P(name) != IS_STRING || Z_STRLEN_P(name) == 0) {
				ppx_throw(PP_EINVAL, k.what, "every column needs a non-empty string \"name\"");
				ok = FAILURE;
				break;
			}
		} ZEND_HASH_FOREACH_END();
		if (ok == SUCCESS) {
			array_init(&k.body);
			add_assoc_str(&k.body, "name", zend_string_copy(table));
			add_assoc_zval(&k.body, "columns", &cols);
		} else {
			zval_ptr_dtor(&cols);
		}
	}
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* insert(string $db, string $table, array $row): array
 * POST /databases/{db}/tables/{t} row-object */
static PHP_METHOD(PhantomPool_Client, insert)
{
	zend_string *db, *table;
	HashTable *row;
	route_call k;
	int ok;

	ZEND_PARSE_PARAMETERS_START(3, 3)
		Z_PARAM_STR(db)
		Z_PARAM_STR(table)
		Z_PARAM_ARRAY_HT(row)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, WHAT("insert"), "POST", "/databases");
	ok = table_path(&k, db, table);
	if (ok == SUCCESS)
		ok = as_object(&k, &k.body, row, "row");
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* insertRows(string $db, string $table, array $rows): array
 * POST /databases/{db}/tables/{t}/rows {"rows": [...]} */
static PHP_METHOD(PhantomPool_Client, insertRows)
{
	zend_string *db, *table;
	HashTable *rows;
	route_call k;
	zval list;
	int ok;

	ZEND_PARSE_PARAMETERS_START(3, 3)
		Z_PARAM_STR(db)
		Z_PARAM_STR(table)
		Z_PARAM_ARRAY_HT(rows)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, WHAT("insertRows"), "POST", "/databases");
	ok = table_path(&k, db, table);
	smart_str_appends(&k.path, "/rows");
	if (ok == SUCCESS && (ok = as_object_list(&k, &list, rows, "rows", 0)) == SUCCESS) {
		array_init(&k.body);
		add_assoc_zval(&k.body, "rows", &list);
	}
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* select(string $db, string $table, ?string $condition = null): array
 * GET /databases/{db}/tables/{t}?condition=  (always sent: without it the
 * same path describes the table) */
static PHP_METHOD(PhantomPool_Client, select)
{
	zend_string *db, *table, *cond = NULL;
	route_call k;
	int ok, first = 1;

	ZEND_PARSE_PARAMETERS_START(2, 3)
		Z_PARAM_STR(db)
		Z_PARAM_STR(table)
		Z_PARAM_OPTIONAL
		Z_PARAM_STR_OR_NULL(cond)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, WHAT("select"), "GET", "/databases");
	ok = table_path(&k, db, table);
	add_query(&k, &first, "condition", cond ? ZSTR_VAL(cond) : "", cond ? ZSTR_LEN(cond) : 0);
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* getRows(string $db, string $table, ?string $where = null,
 *         ?string $orderBy = null, int $limit = 0, int $offset = 0): array
 * GET /databases/{db}/tables/{t}/rows?where=&orderBy=&limit=&offset=
 * (null or "" / 0 leave an argument out) */
static PHP_METHOD(PhantomPool_Client, getRows)
{
	zend_string *db, *table, *where = NULL, *order = NULL;
	zend_long limit = 0, offset = 0;
	route_call k;
	int ok, first = 1;
	char num[24];

	ZEND_PARSE_PARAMETERS_START(2, 6)
		Z_PARAM_STR(db)
		Z_PARAM_STR(table)
		Z_PARAM_OPTIONAL
		Z_PARAM_STR_OR_NULL(where)
		Z_PARAM_STR_OR_NULL(order)
		Z_PARAM_LONG(limit)
		Z_PARAM_LONG(offset)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, WHAT("getRows"), "GET", "/databases");
	ok = table_path(&k, db, table);
	smart_str_appends(&k.path, "/rows");
	if (ok == SUCCESS && (limit < 0 || offset < 0)) {
		ppx_throw(PP_EINVAL, k.what, "limit and offset must not be negative");
		ok = FAILURE;
	}
	if (where && ZSTR_LEN(where))
		add_query(&k, &first, "where", ZSTR_VAL(where), ZSTR_LEN(where));
	if (order && ZSTR_LEN(order))
		add_query(&k, &first, "orderBy", ZSTR_VAL(order), ZSTR_LEN(order));
	if (limit > 0)
		add_query(&k, &first, "limit", num, (size_t)snprintf(num, sizeof num, ZEND_LONG_FMT, limit));
	if (offset > 0)
		add_query(&k, &first, "offset", num, (size_t)snprintf(num, sizeof num, ZEND_LONG_FMT, offset));
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* A condition that changes rows must be given ("1=1" means every row). */
static int need_condition(route_call *k, zend_string *cond)
{
	if (ZSTR_LEN(cond) == 0) {
		ppx_throw(PP_EINVAL, k->what, "condition must not be empty (pass \"1=1\" to mean every row)");
		return FAILURE;
	}
	return SUCCESS;
}

/* update(string $db, string $table, array $data, string $condition): array
 * PUT /databases/{db}/tables/{t} {"data": {...}, "condition": s} */
static PHP_METHOD(PhantomPool_Client, update)
{
	zend_string *db, *table, *cond;
	HashTable *data;
	route_call k;
	zval obj;
	int ok;

	ZEND_PARSE_PARAMETERS_START(4, 4)
		Z_PARAM_STR(db)
		Z_PARAM_STR(table)
		Z_PARAM_ARRAY_HT(data)
		Z_PARAM_STR(cond)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, WHAT("update"), "PUT", "/databases");
	ok = table_path(&k, db, table);
	if (ok == SUCCESS)
		ok = need_condition(&k, cond);
	if (ok == SUCCESS && (ok = as_object(&k, &obj, data, "data")) == SUCCESS) {
		array_init(&k.body);
		add_assoc_zval(&k.body, "data", &obj);
		add_assoc_str(&k.body, "condition", zend_string_copy(cond));
	}
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* delete(string $db, string $table, string $condition): array
 * DELETE /databases/{db}/tables/{t}?condition= */
static PHP_METHOD(PhantomPool_Client, delete)
{
	zend_string *db, *table, *cond;
	route_call k;
	int ok, first = 1;

	ZEND_PARSE_PARAMETERS_START(3, 3)
		Z_PARAM_STR(db)
		Z_PARAM_STR(table)
		Z_PARAM_STR(cond)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, WHAT("delete"), "DELETE", "/databases");
	ok = table_path(&k, db, table);
	if (ok == SUCCESS)
		ok = need_condition(&k, cond);
	add_query(&k, &first, "condition", ZSTR_VAL(cond), ZSTR_LEN(cond));
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* query(string $db, string $sql, array $params = []): array
 * POST /databases/{db}/query {"query": sql, "parameters": [...]} */
static PHP_METHOD(PhantomPool_Client, query)
{
	zend_string *db, *sql;
	HashTable *params = NULL;
	route_call k;
	int ok;

	ZEND_PARSE_PARAMETERS_START(2, 3)
		Z_PARAM_STR(db)
		Z_PARAM_STR(sql)
		Z_PARAM_OPTIONAL
		Z_PARAM_ARRAY_HT(params)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, WHAT("query"), "POST", "/databases");
	ok = add_segment(&k, db, "db");
	smart_str_appends(&k.path, "/query");
	if (ok == SUCCESS && ZSTR_LEN(sql) == 0) {
		ppx_throw(PP_EINVAL, k.what, "sql must not be empty");
		ok = FAILURE;
	}
	if (ok == SUCCESS && params && !zend_array_is_list(params)) {
		ppx_throw(PP_EINVAL, k.what, "params must be a list (a JSON array)");
		ok = FAILURE;
	}
	if (ok == SUCCESS) {
		zval p;
		array_init(&k.body);
		add_assoc_str(&k.body, "query", zend_string_copy(sql));
		if (params)
			ZVAL_ARR(&p, zend_array_dup(params));
		else
			array_init(&p);
		add_assoc_zval(&k.body, "parameters", &p);
	}
	call_finish(ZEND_THIS, &k, ok, return_value);
}

/* beginTransaction(): string  POST /transactions -> transaction_id */
static PHP_METHOD(PhantomPool_Client, beginTransaction)
{
	route_call k;
	zval decoded, *id;
	ppx_client *c;

	ZEND_PARSE_PARAMETERS_NONE();
	if (!(c = live_client(ZEND_THIS, WHAT("beginTransaction"))))
		RETURN_THROWS();
	call_init(&k, WHAT("beginTransaction"), "POST", "/transactions");
	ZVAL_UNDEF(&decoded);
	call_send(c, &k, &decoded, NULL);
	call_free(&k);
	if (EG(exception)) {
		zval_ptr_dtor(&decoded);
		RETURN_THROWS();
	}
	id = zend_hash_str_find(Z_ARRVAL(decoded), "transaction_id", sizeof "transaction_id" - 1);
	if (!id || Z_TYPE_P(id) != IS_STRING || Z_STRLEN_P(id) == 0) {
		zval_ptr_dtor(&decoded);
		ppx_throw(PP_EPROTO, WHAT("beginTransaction"), "the response has no \"transaction_id\" string");
		RETURN_THROWS();
	}
	RETVAL_STR_COPY(Z_STR_P(id));
	zval_ptr_dtor(&decoded);
}

/* commitTransaction($id) / rollbackTransaction($id):
 * POST /transactions/{id}/commit | /rollback */
static void tx_end(INTERNAL_FUNCTION_PARAMETERS, const char *what, const char *verb)
{
	zend_string *id;
	route_call k;
	int ok;

	ZEND_PARSE_PARAMETERS_START(1, 1)
		Z_PARAM_STR(id)
	ZEND_PARSE_PARAMETERS_END();
	call_init(&k, what, "POST", "/transactions");
	ok = add_segment(&k, id, "transactionId");
	smart_str_appends(&k.path, verb);
	call_finish(ZEND_THIS, &k, ok, return_value);
}

static PHP_METHOD(PhantomPool_Client, commitTransaction)
{
	tx_end(INTERNAL_FUNCTION_PARAM_PASSTHRU, WHAT("commitTransaction"), "/commit");
}

static PHP_METHOD(PhantomPool_Client, rollbackTransaction)
{
	tx_end(INTERNAL_FUNCTION_PARAM_PASSTHRU, WHAT("rollbackTransaction"), "/rollback");
}

/* release(): void.  Throws PP_ERELEASED on a second call, PP_ELOST when
 * the daemon had reclaimed the seat (the lease is gone either way). */
static PHP_METHOD(PhantomPool_Client, release)
{
	int rc;

	ZEND_PARSE_PARAMETERS_NONE();
	rc = ppx_client_release(ppx_client_from(Z_OBJ_P(ZEND_THIS)));
	if (rc < 0)
		ppx_throw(rc, WHAT("release"), NULL);
}

/* isReleased(): bool */
static PHP_METHOD(PhantomPool_Client, isReleased)
{
	ZEND_PARSE_PARAMETERS_NONE();
	RETURN_BOOL(ppx_client_from(Z_OBJ_P(ZEND_THIS))->lease == NULL);
}

/* slot(): int  the seat's index (for logs); -1 once released */
static PHP_METHOD(PhantomPool_Client, slot)
{
	ppx_client *c = ppx_client_from(Z_OBJ_P(ZEND_THIS));

	ZEND_PARSE_PARAMETERS_NONE();
	RETURN_LONG(c->lease ? pp_lease_slot(c->lease) : -1);
}

/* ------------------------------------------------------------------ */

#include "client_arginfo.h"

void ppx_client_minit(void)
{
	zend_class_entry ce;

	INIT_NS_CLASS_ENTRY(ce, "PhantomPool", "Client", client_methods);
	ppx_ce_client = zend_register_internal_class(&ce);
	ppx_ce_client->ce_flags |= ZEND_ACC_FINAL | ZEND_ACC_NO_DYNAMIC_PROPERTIES | ZEND_ACC_NOT_SERIALIZABLE;
	ppx_ce_client->create_object = client_create;
	memcpy(&client_handlers, zend_get_std_object_handlers(), sizeof client_handlers);
	client_handlers.offset = XtOffsetOf(ppx_client, std);
	client_handlers.free_obj = client_free;
	client_handlers.clone_obj = NULL;
	client_handlers.get_constructor = client_get_constructor;
}
