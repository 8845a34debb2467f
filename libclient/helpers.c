/* helpers.c - the typed PhantomDB helpers of phantompool.h.
 *
 * Every helper describes its request as a struct call (method, route
 * template, names, query arguments, JSON body) and hands it to
 * call_send(), the one place that checks arguments, escapes the names into
 * the path (urlpath.h), serialises the body with jansson, sets the headers
 * and runs pp_do().  Bodies are always built as jansson values, never by
 * pasting strings; JSON text from the caller is parsed and its kind checked
 * before anything is sent.  jansson is loaded on first use (jsonlib.h):
 * the two places that build or parse JSON, pack() and parse_json_arg(),
 * ask pp_json_lib() first, as does pp_tx_begin() before it sends, and fail
 * with PP_ENOLIB, sending nothing, when the library is missing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errdetail.h"
#include "jsonlib.h"
#include "phantompool.h"
#include "urlpath.h"

#define CALL_MAX_NAMES 2
#define CALL_MAX_QUERY 4

/* One helper request, filled in by a helper and consumed by call_send(). */
struct call {
	const char *method;
	/* Path template: literal text, where each "/{}" is replaced by "/" and
	 * the next name, escaped.  Every name must be non-empty. */
	const char *route;
	const char *names[CALL_MAX_NAMES];
	struct {
		const char *key;   /* NULL: unused entry */
		const char *value; /* NULL: argument left out */
	} query[CALL_MAX_QUERY];
	json_t *body;              /* owned by the call; NULL: no body */
	int err;                   /* set by the helper: fail with this code */
};

/* The kinds of caller JSON text the helpers accept. */
enum json_kind {
	KIND_ANY,              /* any JSON value (a column default) */
	KIND_OBJECT,           /* row_json, data_json */
	KIND_ARRAY,            /* params_json */
	KIND_ARRAY_OF_OBJECTS, /* rows_json */
};

static const pp_header json_headers[] = {
	{ "Accept", "application/json" },
	{ "Content-Type", "application/json" }, /* only sent with a body */
};

static int nonempty(const char *s)
{
	return s && *s;
}

/* 1 if v is of kind. */
static int is_kind(const json_t *v, enum json_kind kind)
{
	size_t i;
	json_t *item;

	switch (kind) {
	case KIND_ANY:
		return 1;
	case KIND_OBJECT:
		return json_is_object(v);
	case KIND_ARRAY:
		return json_is_array(v);
	case KIND_ARRAY_OF_OBJECTS:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, item)
			if (!json_is_object(item))
				return 0;
		return 1;
	}
	return 0;
}

/* Parse caller JSON text of the given kind.  Returns a new reference, or
 * NULL with *err set: PP_EINVAL when text is NULL, not JSON (trailing
 * garbage included) or of another kind, PP_ENOMEM when jansson ran out of
 * memory, PP_ENOLIB without jansson. */
static json_t *parse_json_arg(const char *text, enum json_kind kind, int *err)
{
	json_error_t jerr;
	json_t *v;

	*err = PP_EINVAL;
	if (!text)
		return NULL;
	if ((*err = pp_json_lib()) != 0)
		return NULL;
	*err = PP_EINVAL;
	v = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!v) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			*err = PP_ENOMEM;
		return NULL;
	}
	if (!is_kind(v, kind)) {
		json_decref(v);
		return NULL;
	}
	*err = 0;
	return v;
}

/* json_pack() with its outcome as a PP_E* code: returns the new value with
 * *err = 0, or NULL with *err = PP_ENOMEM (out of memory) or PP_EINVAL (a
 * string that is not UTF-8, or a NULL "o"), PP_ENOLIB without jansson
 * (then there can be no "o" reference).  As with json_pack(), "o"
 * references are stolen even on failure. */
static json_t *pack(int *err, const char *fmt, ...)
{
	json_error_t jerr;
	va_list ap;
	json_t *v;

	if ((*err = pp_json_lib()) != 0)
		return NULL;
	va_start(ap, fmt);
	v = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (v)
		*err = 0;
	else
		*err = json_error_code(&jerr) == json_error_out_of_memory ? PP_ENOMEM : PP_EINVAL;
	return v;
}

/* Expand c->route into u: literal text as is, each "/{}" as "/" plus the
 * next name escaped.  Returns 0, or PP_EINVAL when a name is NULL or
 * empty (or the template wants more names than a call holds). */
static int build_route(struct urlpath *u, const struct call *c)
{
	const char *s = c->route;
	size_t k = 0;

	while (*s) {
		if (!strncmp(s, "/{}", 3)) {
			if (k == CALL_MAX_NAMES || !nonempty(c->names[k]))
				return PP_EINVAL;
			urlpath_seg(u, c->names[k++]);
			s += 3;
			continue;
		}
		size_t n = 1 + strcspn(s + 1, "/");
		urlpath_litn(u, s, n);
		s += n;
	}
	return 0;
}

/* Build the whole path of c (route plus query string) into u.  Returns 0,
 * PP_EINVAL (bad name) or PP_ENOMEM. */
static int build_path(struct urlpath *u, const struct call *c)
{
	int r = build_route(u, c);

	if (r)
		return r;
	for (size_t i = 0; i < CALL_MAX_QUERY && c->query[i].key; i++)
		urlpath_query(u, c->query[i].key, c->query[i].value);
	return urlpath_str(u) ? 0 : PP_ENOMEM;
}

/* Send c as one pp_do() and consume it (the body is released whatever
 * happens).  resp is zeroed first, so it is safe to pp_resp_free() after
 * any outcome.  Returns c->err if a helper set it, PP_EINVAL for a NULL
 * pool/resp or a bad name (nothing is sent), PP_ENOMEM, or what pp_do()
 * returns. */
static int call_send(pp_pool *p, struct call *c, pp_resp *resp)
{
	struct urlpath u;
	char *text = NULL;
	int r = c->err;

	if (resp)
		memset(resp, 0, sizeof *resp);
	if (!r && (!p || !resp))
		r = PP_EINVAL;
	urlpath_init(&u);
	if (!r)
		r = build_path(&u, c);
	if (!r && c->body && !(text = json_dumps(c->body, JSON_COMPACT)))
		r = PP_ENOMEM;
	if (!r) {
		pp_req req = {
			.method = c->method,
			.path = urlpath_str(&u),
			.headers = json_headers,
			.nheaders = text ? 2 : 1,
			.body = text,
			.body_len = text ? strlen(text) : 0,
		};
		r = pp_do(p, &req, resp);
	} else {
		pp_detail_clear(); /* pp_do sets or clears it on its own failures */
	}
	free(text);
	urlpath_free(&u);
	json_decref(c->body);
	c->body = NULL;
	return r;
}

/* The Column object of col: {name, type, nullable, primaryKey,
 * defaultValue}; type and defaultValue are left out when NULL.  Returns a
 * new reference, or NULL with *err = PP_EINVAL (no name, default not
 * JSON, text not UTF-8) or PP_ENOMEM. */
static json_t *column_json(const pp_column *col, int *err)
{
	json_t *dflt = NULL;

	*err = PP_EINVAL;
	if (!nonempty(col->name))
		return NULL;
	if (col->default_json && !(dflt = parse_json_arg(col->default_json, KIND_ANY, err)))
		return NULL;
	return pack(err, "{s:s, s:s*, s:b, s:b, s:o*}", "name", col->name, "type", col->type,
		    "nullable", col->nullable != 0, "primaryKey", col->primary_key != 0,
		    "defaultValue", dflt);
}

/* {"name": table, "columns": [Column...]} for pp_create_table.  Returns a
 * new reference, or NULL with *err set (PP_EINVAL, PP_ENOMEM, PP_ENOLIB). */
static json_t *table_json(const char *table, const pp_column *cols, size_t ncols, int *err)
{
	json_t *arr;

	*err = PP_EINVAL;
	if (!nonempty(table) || (ncols && !cols))
		return NULL;
	if (!(arr = pack(err, "[]")))
		return NULL;
	for (size_t i = 0; i < ncols; i++) {
		json_t *col = column_json(&cols[i], err);
		if (!col || json_array_append_new(arr, col) < 0) { /* releases col */
			if (col)
				*err = PP_ENOMEM;
			json_decref(arr);
			return NULL;
		}
	}
	return pack(err, "{s:s, s:o}", "name", table, "columns", arr);
}

/* Copy the "transaction_id" string of a 2xx JSON response into id_out.
 * Returns 0 (also for a non-2xx response: id_out stays ""), PP_EPROTO
 * when a 2xx body has no transaction_id string, PP_ETOOBIG when the id
 * does not fit in id_len bytes with its NUL.  Only called once
 * pp_json_lib() has succeeded (pp_tx_begin asks before sending). */
static int tx_id_from_resp(const pp_resp *resp, char *id_out, size_t id_len)
{
	json_t *body;
	const char *id;
	int r = PP_EPROTO;

	if (resp->status < 200 || resp->status > 299)
		return 0;
	body = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
	id = json_string_value(json_object_get(body, "transaction_id"));
	if (id && strlen(id) < id_len) {
		memcpy(id_out, id, strlen(id) + 1);
		r = 0;
	} else if (id) {
		r = PP_ETOOBIG;
	}
	json_decref(body);
	return r;
}

/* ---- the helpers ---------------------------------------------------- */

int pp_health(pp_pool *p, pp_resp *resp)
{
	struct call c = { .method = "GET", .route = "/health" };
	return call_send(p, &c, resp);
}

int pp_list_databases(pp_pool *p, pp_resp *resp)
{
	struct call c = { .method = "GET", .route = "/databases" };
	return call_send(p, &c, resp);
}

int pp_create_database(pp_pool *p, const char *db, pp_resp *resp)
{
	struct call c = { .method = "POST", .route = "/databases" };

	if (!nonempty(db))
		c.err = PP_EINVAL;
	else
		c.body = pack(&c.err, "{s:s, s:{}}", "name", db, "options");
	return call_send(p, &c, resp);
}

int pp_get_database(pp_pool *p, const char *db, pp_resp *resp)
{
	struct call c = { .method = "GET", .route = "/databases/{}", .names = { db } };
	return call_send(p, &c, resp);
}

int pp_drop_database(pp_pool *p, const char *db, pp_resp *resp)
{
	struct call c = { .method = "DELETE", .route = "/databases/{}", .names = { db } };
	return call_send(p, &c, resp);
}

int pp_list_tables(pp_pool *p, const char *db, pp_resp *resp)
{
	struct call c = { .method = "GET", .route = "/databases/{}/tables", .names = { db } };
	return call_send(p, &c, resp);
}

int pp_create_table(pp_pool *p, const char *db, const char *table, const pp_column *cols,
		    size_t ncols, pp_resp *resp)
{
	struct call c = { .method = "POST", .route = "/databases/{}/tables", .names = { db } };

	c.body = table_json(table, cols, ncols, &c.err);
	return call_send(p, &c, resp);
}

int pp_get_table(pp_pool *p, const char *db, const char *table, pp_resp *resp)
{
	struct call c = { .method = "GET", .route = "/databases/{}/tables/{}", .names = { db, table } };
	return call_send(p, &c, resp);
}

int pp_drop_table(pp_pool *p, const char *db, const char *table, pp_resp *resp)
{
	struct call c = { .method = "DELETE", .route = "/databases/{}/tables/{}", .names = { db, table } };
	return call_send(p, &c, resp);
}

int pp_insert_rows(pp_pool *p, const char *db, const char *table, const char *rows_json, pp_resp *resp)
{
	struct call c = { .method = "POST", .route = "/databases/{}/tables/{}/rows", .names = { db, table } };
	json_t *rows = parse_json_arg(rows_json, KIND_ARRAY_OF_OBJECTS, &c.err);

	if (rows)
		c.body = pack(&c.err, "{s:o}", "rows", rows);
	return call_send(p, &c, resp);
}

int pp_get_rows(pp_pool *p, const char *db, const char *table, const char *where,
		const char *order_by, int limit, int offset, pp_resp *resp)
{
	struct call c = { .method = "GET", .route = "/databases/{}/tables/{}/rows", .names = { db, table } };
	char lim[16], off[16];

	snprintf(lim, sizeof lim, "%d", limit);
	snprintf(off, sizeof off, "%d", offset);
	c.query[0].key = "where";
	c.query[0].value = nonempty(where) ? where : NULL;
	c.query[1].key = "orderBy";
	c.query[1].value = nonempty(order_by) ? order_by : NULL;
	c.query[2].key = "limit";
	c.query[2].value = limit ? lim : NULL;
	c.query[3].key = "offset";
	c.query[3].value = offset ? off : NULL;
	if (limit < 0 || offset < 0)
		c.err = PP_EINVAL;
	return call_send(p, &c, resp);
}

int pp_query(pp_pool *p, const char *db, const char *sql, const char *params_json, pp_resp *resp)
{
	struct call c = { .method = "POST", .route = "/databases/{}/query", .names = { db } };
	json_t *params = NULL;

	if (!nonempty(sql))
		c.err = PP_EINVAL;
	else if (!params_json)
		c.body = pack(&c.err, "{s:s, s:[]}", "query", sql, "parameters");
	else if ((params = parse_json_arg(params_json, KIND_ARRAY, &c.err)) != NULL)
		c.body = pack(&c.err, "{s:s, s:o}", "query", sql, "parameters", params);
	return call_send(p, &c, resp);
}

int pp_insert(pp_pool *p, const char *db, const char *table, const char *row_json, pp_resp *resp)
{
	struct call c = { .method = "POST", .route = "/databases/{}/tables/{}", .names = { db, table } };

	c.body = parse_json_arg(row_json, KIND_OBJECT, &c.err);
	return call_send(p, &c, resp);
}

int pp_select(pp_pool *p, const char *db, const char *table, const char *condition, pp_resp *resp)
{
	/* ?condition= is always sent: without it the route describes the table. */
	struct call c = { .method = "GET", .route = "/databases/{}/tables/{}", .names = { db, table } };

	c.query[0].key = "condition";
	c.query[0].value = condition ? condition : "";
	return call_send(p, &c, resp);
}

int pp_update(pp_pool *p, const char *db, const char *table, const char *data_json,
	      const char *condition, pp_resp *resp)
{
	struct call c = { .method = "PUT", .route = "/databases/{}/tables/{}", .names = { db, table } };
	json_t *data = NULL;

	if (!nonempty(condition))
		c.err = PP_EINVAL;
	else
		data = parse_json_arg(data_json, KIND_OBJECT, &c.err);
	if (data)
		c.body = pack(&c.err, "{s:o, s:s}", "data", data, "condition", condition);
	return call_send(p, &c, resp);
}

int pp_delete(pp_pool *p, const char *db, const char *table, const char *condition, pp_resp *resp)
{
	struct call c = { .method = "DELETE", .route = "/databases/{}/tables/{}", .names = { db, table } };

	c.query[0].key = "condition";
	c.query[0].value = condition;
	if (!nonempty(condition))
		c.err = PP_EINVAL;
	return call_send(p, &c, resp);
}

int pp_tx_begin(pp_pool *p, char *id_out, size_t id_len, pp_resp *resp)
{
	struct call c = { .method = "POST", .route = "/transactions" };
	int r;

	if (!id_out || !id_len)
		c.err = PP_EINVAL;
	else
		id_out[0] = '\0';
	/* The answer is parsed with jansson: without it, do not begin a
	 * transaction whose id could not be returned. */
	if (!c.err)
		c.err = pp_json_lib();
	r = call_send(p, &c, resp);
	if (!r && (r = tx_id_from_resp(resp, id_out, id_len)) != 0)
		pp_detail_clear();
	return r;
}

int pp_tx_commit(pp_pool *p, const char *tx_id, pp_resp *resp)
{
	struct call c = { .method = "POST", .route = "/transactions/{}/commit", .names = { tx_id } };
	return call_send(p, &c, resp);
}

int pp_tx_rollback(pp_pool *p, const char *tx_id, pp_resp *resp)
{
	struct call c = { .method = "POST", .route = "/transactions/{}/rollback", .names = { tx_id } };
	return call_send(p, &c, resp);
}
