/* addon.c - the Node-API face of the binding: argument checks, jobs for
 * the seat threads (seat.h), promises settled on the main thread, errors
 * as PhantomPoolError objects (lib/errors.js), pool status.
 *
 * Every exported function runs on the JavaScript thread and never blocks:
 * anything that can wait (a lease, a request, a release) is a job for a
 * seat thread, answered by a promise.  lib/index.js is the public API;
 * the functions here are its private plumbing:
 *
 *   init(ErrorClass)                       once, at load
 *   attach(name|null, spinUs) -> pool      pp_attach (throws)
 *   lease(pool, timeoutMs) -> Promise<[seat, ticket]> | null (no seat thread free)
 *   request(seat, ticket, method, path, headers|null, body|null, timeoutMs, asBuffer)
 *        -> Promise<[status, body, contentType, requestId]>
 *   release(seat, ticket) -> Promise<rc>
 *   doRequest(pool, leaseTimeoutMs, method, path, headers|null, body|null, timeoutMs, asBuffer)
 *        -> Promise<[...]> | null (no seat thread free)
 *   doRequestSync(pool, leaseTimeoutMs, method, path, headers|null, body|null, timeoutMs, asBuffer)
 *        -> [...] (throws): the one exception to "never blocks", for
 *        pool.requestSync(): pp_do on the calling thread
 *   status(pool) -> object                 pp_status (throws)
 *   close(pool) -> Promise | null          null while jobs are in flight
 *   strerror(code), version(), abiSizes()
 */

#include <node_api.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seat.h"

/* Per-environment data (main thread, worker threads). */
struct addon {
	napi_ref error_ctor; /* PhantomPoolError, set by init() */
};

#define NAPI_CALL(env, call)                                                   \
	do {                                                                   \
		if ((call) != napi_ok) {                                       \
			throw_last_error(env, #call);                          \
			return NULL;                                           \
		}                                                              \
	} while (0)

static void throw_last_error(napi_env env, const char *what)
{
	const napi_extended_error_info *info = NULL;
	bool pending = false;

	napi_is_exception_pending(env, &pending);
	if (pending)
		return;
	napi_get_last_error_info(env, &info);
	char msg[256];
	snprintf(msg, sizeof msg, "phantompool native: %s failed: %s", what,
		 info && info->error_message ? info->error_message : "unknown Node-API error");
	napi_throw_error(env, NULL, msg);
}

/* A PhantomPoolError for code rc from op (errno text added for PP_ESYS,
 * detail: pp_error_detail() of the thread that made the failing call, may
 * be NULL); NULL (with an exception pending) if even that failed. */
static napi_value make_error(napi_env env, int rc, const char *op, int sys_errno, const char *detail)
{
	struct addon *a = NULL;
	napi_value ctor, args[4], err;

	if (napi_get_instance_data(env, (void **)&a) != napi_ok || !a || !a->error_ctor ||
	    napi_get_reference_value(env, a->error_ctor, &ctor) != napi_ok ||
	    napi_create_int32(env, rc, &args[0]) != napi_ok ||
	    napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &args[1]) != napi_ok ||
	    napi_create_int32(env, sys_errno, &args[2]) != napi_ok ||
	    napi_create_string_utf8(env, detail ? detail : "", NAPI_AUTO_LENGTH, &args[3]) != napi_ok ||
	    napi_new_instance(env, ctor, 4, args, &err) != napi_ok) {
		char msg[1200];
		snprintf(msg, sizeof msg, "%s: %s (%d)%s%s", op, pp_strerror(rc), rc, detail ? ": " : "",
			 detail ? detail : "");
		napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &args[1]);
		if (napi_create_error(env, NULL, args[1], &err) != napi_ok)
			return NULL;
	}
	return err;
}

static void throw_pp(napi_env env, int rc, const char *op)
{
	/* PP_EDAEMON comes only from the library (pp_status here), which
	 * left its detail on this thread. */
	napi_value err = make_error(env, rc, op, 0, rc == PP_EDAEMON ? pp_error_detail() : NULL);
	if (err)
		napi_throw(env, err);
}

/* ---- pool handle lifetime ---------------------------------------------- */

static struct job *take_done(struct pool *p);
static void settle_done(struct pool *p);

/* A pool is freed when both its JS handle (pool_handle_finalize) and its
 * thread-safe function (pool_tsfn_finalize: every seat thread gone) are
 * done with it. */
struct pool_box {
	struct pool pool;
	int holders;
};

/* Drop one holder; the last frees the seats (their threads are gone by
 * then: the thread-safe function only finalizes after each released it)
 * and the pool.  Seats live as long as the JS handle, so a stale client
 * (which keeps its Pool, and so the handle, reachable) reads valid memory
 * and is refused with PP_ERELEASED. */
static void pool_unhold(struct pool *p)
{
	struct pool_box *b = (struct pool_box *)p;

	/* With the environment torn down, seat threads may still run (a job
	 * in flight as a worker thread ended): leave the pool to them. */
	if (--b->holders || p->env_gone)
		return;
	for (size_t i = 0; i < p->nseats; i++) {
		pthread_mutex_destroy(&p->seats[i]->mu);
		pthread_cond_destroy(&p->seats[i]->cv);
		free(p->seats[i]);
	}
	free(p->seats);
	pthread_mutex_destroy(&p->tsfn_mu);
	free(b);
}

/* The environment is being torn down (registered after the pool's
 * thread-safe function, so it runs before Node frees that): from now on
 * no seat thread touches the thread-safe function.  Seat threads are told
 * to stop: each releases its lease as it leaves. */
static void pool_env_gone(void *arg)
{
	struct pool *p = arg;
	struct job *j, *next;

	pthread_mutex_lock(&p->tsfn_mu);
	p->env_gone = 1;
	pthread_mutex_unlock(&p->tsfn_mu);
	pool_shutdown(p);
	/* No seat thread pushes or wakes any more (env_gone, under tsfn_mu):
	 * drop what is left unsettled and close the wake-up handle, so the
	 * loop can close.  The pool's memory stays (see pool_unhold). */
	for (j = take_done(p); j; j = next) {
		next = j->next;
		job_free(j);
	}
	uv_close((uv_handle_t *)&p->done_async, NULL);
}

/* The completion handle is closed: its holder lets go of the pool. */
static void done_async_closed(uv_handle_t *h)
{
	pool_unhold(h->data);
}

/* Every seat thread has left and the main thread let go: detach, and
 * settle close()'s promise (so a process that exits after `await
 * pool.close()` has no seat thread left touching the environment). */
static void pool_tsfn_finalize(napi_env env, void *data, void *hint)
{
	struct pool *p = data;
	napi_value undef;

	if (p->env_gone) {
		pool_unhold(p);
		return;
	}
	napi_remove_env_cleanup_hook(env, pool_env_gone, p);
	/* Every seat thread has left: settle what the last ones handed back
	 * and the loop has not run yet, then close the wake-up handle (the
	 * pool is freed once it is closed). */
	settle_done(p);
	pp_detach(p->pp);
	p->pp = NULL;
	if (p->closed_deferred && env && napi_get_undefined(env, &undef) == napi_ok)
		napi_resolve_deferred(env, p->closed_deferred, undef);
	p->closed_deferred = NULL;
	if (p->resource)
		napi_delete_reference(p->env, p->resource);
	p->resource = NULL;
	if (p->async_ctx)
		napi_async_destroy(p->env, p->async_ctx);
	p->async_ctx = NULL;
	uv_close((uv_handle_t *)&p->done_async, done_async_closed);
}

static void pool_handle_finalize(napi_env env, void *data, void *hint)
{
	struct pool *p = data;

	pool_shutdown(p);
	if (p->self) {
		napi_delete_reference(env, p->self);
		p->self = NULL;
	}
	pool_unhold(p);
}

/* Count a job in flight: the first one keeps the event loop and the
 * pool's JS handle alive until the last one is settled. */
static void outstanding_inc(napi_env env, struct pool *p)
{
	if (p->outstanding++ == 0) {
		napi_ref_threadsafe_function(env, p->tsfn);
		napi_reference_ref(env, p->self, NULL);
	}
}

static void outstanding_dec(napi_env env, struct pool *p)
{
	if (--p->outstanding == 0) {
		napi_unref_threadsafe_function(env, p->tsfn);
		napi_reference_unref(env, p->self, NULL);
	}
}

/* ---- arguments ---------------------------------------------------------- */

static void *get_external(napi_env env, napi_value v, const char *what)
{
	napi_valuetype t;
	void *data = NULL;

	if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
	    napi_get_value_external(env, v, &data) != napi_ok || !data) {
		char msg[96];
		snprintf(msg, sizeof msg, "phantompool native: expected a %s handle", what);
		napi_throw_type_error(env, NULL, msg);
		return NULL;
	}
	return data;
}

/* The pool behind v, or NULL with an exception (bad handle, or closed). */
static struct pool *get_pool(napi_env env, napi_value v)
{
	struct pool *p = get_external(env, v, "pool");
	if (p && p->closed) {
		throw_pp(env, PP_ESHUTDOWN, "pool closed");
		return NULL;
	}
	return p;
}

static int get_int(napi_env env, napi_value v, int *out)
{
	if (napi_get_value_int32(env, v, out) != napi_ok) {
		napi_throw_type_error(env, NULL, "phantompool native: expected an integer");
		return -1;
	}
	return 0;
}

/* A byte run in a JS value: a string (UTF-8 length) or a typed array. */
struct bytes {
	napi_value str; /* set for a string: copied later */
	const void *data;
	size_t len;
};

static int get_bytes(napi_env env, napi_value v, struct bytes *b, int allow_null)
{
	napi_valuetype t;
	bool is_ta = false;

	memset(b, 0, sizeof *b);
	if (napi_typeof(env, v, &t) != napi_ok)
		return -1;
	if (allow_null && (t == napi_null || t == napi_undefined))
		return 0;
	if (t == napi_string) {
		b->str = v;
		return napi_get_value_string_utf8(env, v, NULL, 0, &b->len) == napi_ok ? 0 : -1;
	}
	if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta) {
		napi_typedarray_type tt;
		size_t n, off;
		void *data;
		napi_value ab;
		if (napi_get_typedarray_info(env, v, &tt, &n, &data, &ab, &off) != napi_ok)
			return -1;
		size_t elem = (tt == napi_int16_array || tt == napi_uint16_array) ? 2
			: (tt == napi_int32_array || tt == napi_uint32_array || tt == napi_float32_array) ? 4
			: (tt == napi_float64_array || tt == napi_bigint64_array || tt == napi_biguint64_array) ? 8
			: 1;
		b->data = data;
		b->len = n * elem;
		return 0;
	}
	napi_throw_type_error(env, NULL, "phantompool native: expected a string or a Buffer");
	return -1;
}

/* Copy b into dst (room for b->len + 1); returns the end of the copy,
 * which is NUL-terminated. */
static char *put_bytes(napi_env env, const struct bytes *b, char *dst)
{
	size_t got = 0;

	if (b->str)
		napi_get_value_string_utf8(env, b->str, dst, b->len + 1, &got);
	else if (b->len)
		memcpy(dst, b->data, b->len);
	dst[b->len] = '\0';
	return dst + b->len + 1;
}

/* Build a request job from (method, path, headers|null, body|null,
 * timeoutMs, asBuffer) = argv[0..5].  NULL with an exception pending. */
static struct job *job_from_args(napi_env env, enum job_kind kind, napi_value *argv)
{
	struct bytes method, path, body, hdr[2 * SEAT_MAX_HEADERS];
	uint32_t nh = 0;
	bool is_array = false;
	napi_valuetype t;
	int timeout_ms;
	bool as_buffer = false;
	size_t total = 0;

	if (get_bytes(env, argv[0], &method, 0) || get_bytes(env, argv[1], &path, 0))
		return NULL;
	if (napi_typeof(env, argv[2], &t) != napi_ok)
		return NULL;
	if (t != napi_null && t != napi_undefined) {
		if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array ||
		    napi_get_array_length(env, argv[2], &nh) != napi_ok || nh % 2 ||
		    nh > 2 * SEAT_MAX_HEADERS) {
			napi_throw_type_error(env, NULL, "phantompool native: headers: a flat [name, value, ...] array of at most 8 pairs");
			return NULL;
		}
		for (uint32_t i = 0; i < nh; i++) {
			napi_value e;
			if (napi_get_element(env, argv[2], i, &e) != napi_ok || get_bytes(env, e, &hdr[i], 0))
				return NULL;
			total += hdr[i].len + 1;
		}
	}
	if (get_bytes(env, argv[3], &body, 1) || get_int(env, argv[4], &timeout_ms) ||
	    napi_get_value_bool(env, argv[5], &as_buffer) != napi_ok)
		return NULL;
	total += method.len + 1 + path.len + 1 + body.len + 1;

	struct job *j = calloc(1, sizeof *j + total);
	if (!j) {
		throw_pp(env, PP_ENOMEM, "request");
		return NULL;
	}
	char *w = j->data;
	j->kind = kind;
	j->as_buffer = as_buffer;
	j->req.method = w;
	w = put_bytes(env, &method, w);
	j->req.path = w;
	w = put_bytes(env, &path, w);
	for (uint32_t i = 0; i < nh; i += 2) {
		j->headers[i / 2].name = w;
		w = put_bytes(env, &hdr[i], w);
		j->headers[i / 2].value = w;
		w = put_bytes(env, &hdr[i + 1], w);
	}
	j->req.headers = nh ? j->headers : NULL;
	j->req.nheaders = nh / 2;
	j->req.body = body.len ? w : NULL;
	j->req.body_len = body.len;
	put_bytes(env, &body, w);
	j->req.timeout_ms = timeout_ms;
	/* A NUL inside a string would make C cut it there: a different
	 * method, path or header than the caller gave.  Refuse it. */
	int bad = strlen(j->req.method) != method.len ? PP_EBADMETHOD
		: strlen(j->req.path) != path.len ? PP_EBADPATH : 0;
	for (uint32_t i = 0; !bad && i < nh; i += 2)
		if (strlen(j->headers[i / 2].name) != hdr[i].len ||
		    strlen(j->headers[i / 2].value) != hdr[i + 1].len)
			bad = PP_EBADHEADER;
	if (bad) {
		job_free(j);
		throw_pp(env, bad, "request"); /* a NUL byte in the method, path or a header */
		return NULL;
	}
	return j;
}

/* Hand j to seat s and return its promise. */
static napi_value job_start(napi_env env, struct seat *s, struct job *j)
{
	napi_value promise;

	if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
		job_free(j);
		throw_last_error(env, "napi_create_promise");
		return NULL;
	}
	outstanding_inc(env, s->pool);
	seat_submit(s, j);
	return promise;
}

/* ---- settling (main thread, from the thread-safe function) -------------- */

static const char *job_op(const struct job *j)
{
	static const char *const ops[] = {
		[JOB_LEASE] = "acquire", [JOB_REQUEST] = "request",
		[JOB_RELEASE] = "release", [JOB_DO] = "request",
	};
	return j->lease_failed ? "request (acquiring a seat)" : ops[j->kind];
}

/* [status, body, contentType, requestId] of a finished request. */
static napi_value response_value(napi_env env, const struct job *j)
{
	napi_value arr, v;
	const pp_resp *r = &j->resp;
	const char *body = r->body ? r->body : "";

	if (napi_create_array_with_length(env, 4, &arr) != napi_ok)
		return NULL;
	napi_create_int32(env, r->status, &v);
	napi_set_element(env, arr, 0, v);
	if (j->as_buffer)
		napi_create_buffer_copy(env, r->body_len, body, NULL, &v);
	else
		napi_create_string_utf8(env, body, r->body_len, &v);
	napi_set_element(env, arr, 1, v);
	napi_create_string_utf8(env, r->content_type, NAPI_AUTO_LENGTH, &v);
	napi_set_element(env, arr, 2, v);
	napi_create_string_utf8(env, r->request_id, NAPI_AUTO_LENGTH, &v);
	napi_set_element(env, arr, 3, v);
	return arr;
}

static napi_value lease_value(napi_env env, struct seat *s)
{
	napi_value arr, v;

	if (napi_create_array_with_length(env, 2, &arr) != napi_ok)
		return NULL;
	napi_create_external(env, s, NULL, NULL, &v);
	napi_set_element(env, arr, 0, v);
	napi_create_uint32(env, s->ticket, &v);
	napi_set_element(env, arr, 1, v);
	return arr;
}

static void settle(napi_env env, struct job *j)
{
	struct seat *s = j->seat;
	napi_value v = NULL;

	switch (j->kind) {
	case JOB_LEASE:
		if (j->rc == 0) {
			s->ticket++;
			v = lease_value(env, s);
		} else {
			s->leased = 0;
			seat_put_idle(s);
		}
		break;
	case JOB_RELEASE:
		seat_put_idle(s);
		napi_create_int32(env, j->rc, &v);
		napi_resolve_deferred(env, j->deferred, v);
		return;
	case JOB_DO:
		seat_put_idle(s);
		/* fall through */
	case JOB_REQUEST:
		if (j->rc == 0)
			v = response_value(env, j);
		break;
	}
	if (j->rc == 0 && v) {
		napi_resolve_deferred(env, j->deferred, v);
		return;
	}
	v = make_error(env, j->rc ? j->rc : PP_ENOMEM, job_op(j), j->sys_errno, j->detail);
	if (!v) {
		napi_get_and_clear_last_exception(env, &v);
	}
	napi_reject_deferred(env, j->deferred, v);
}

/* The finished jobs on p->done, oldest first (the stack is newest first). */
static struct job *take_done(struct pool *p)
{
	/* Acquire: pairs with pool_deliver's release push. */
	struct job *j = atomic_exchange_explicit(&p->done, NULL, memory_order_acquire), *fifo = NULL;

	while (j) {
		struct job *next = j->next;
		j->next = fifo;
		fifo = j;
		j = next;
	}
	return fifo;
}

/* Settle every finished job: one wake-up may bring several (one-shots of
 * many callers, a client's queued requests).  The callback scope runs the
 * promise reactions (microtasks) once, after the last. */
static void settle_done(struct pool *p)
{
	napi_env env = p->env;
	napi_handle_scope outer, scope;
	napi_callback_scope cs = NULL;
	napi_value resource, exc;
	bool pending = false;
	struct job *j = take_done(p), *next;

	if (!j)
		return;
	napi_open_handle_scope(env, &outer);
	if (napi_get_reference_value(env, p->resource, &resource) != napi_ok ||
	    napi_open_callback_scope(env, resource, p->async_ctx, &cs) != napi_ok)
		cs = NULL;
	for (; j; j = next) {
		next = j->next;
		napi_open_handle_scope(env, &scope);
		settle(env, j);
		job_free(j);
		outstanding_dec(env, p);
		napi_close_handle_scope(env, scope);
	}
	/* Settling only fails if Node-API does (out of memory): report it as
	 * an uncaught exception, as a thread-safe function's call would. */
	if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
	    napi_get_and_clear_last_exception(env, &exc) == napi_ok)
		napi_fatal_exception(env, exc);
	if (cs)
		napi_close_callback_scope(env, cs);
	napi_close_handle_scope(env, outer);
}

void pool_done_cb(uv_async_t *h)
{
	settle_done(h->data);
}

/* The thread-safe function carries no calls (seat.h): never called. */
static void tsfn_call_unused(napi_env env, napi_value js_cb, void *context, void *data)
{
}

/* ---- exported functions ------------------------------------------------- */

static void addon_free(napi_env env, void *data, void *hint)
{
	struct addon *a = data;
	if (a->error_ctor)
		napi_delete_reference(env, a->error_ctor);
	free(a);
}

static napi_value fn_init(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	struct addon *a;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	NAPI_CALL(env, napi_get_instance_data(env, (void **)&a));
	if (a->error_ctor)
		napi_delete_reference(env, a->error_ctor);
	NAPI_CALL(env, napi_create_reference(env, argv[0], 1, &a->error_ctor));
	return NULL;
}

static napi_value fn_attach(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], handle, name, resource;
	uv_loop_t *loop;
	char buf[128];
	const char *pool_name = NULL;
	napi_valuetype t;
	int spin_us = 0, r;
	struct pool_box *b;
	pp_pool *pp;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	NAPI_CALL(env, napi_typeof(env, argv[0], &t));
	if (t == napi_string) {
		size_t len;
		NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], buf, sizeof buf, &len));
		if (len >= sizeof buf - 1 || strlen(buf) != len) {
			throw_pp(env, PP_ENAME, "attach");
			return NULL;
		}
		pool_name = buf;
	}
	if (get_int(env, argv[1], &spin_us))
		return NULL;
	if ((r = pp_attach(pool_name, &pp)) != 0) {
		napi_value err = make_error(env, r, "attach", 0, pp_error_detail());
		if (err)
			napi_throw(env, err);
		return NULL;
	}
	if (!(b = calloc(1, sizeof *b))) {
		pp_detach(pp);
		throw_pp(env, PP_ENOMEM, "attach");
		return NULL;
	}
	struct pool *p = &b->pool;
	p->pp = pp;
	pthread_mutex_init(&p->tsfn_mu, NULL);
	p->spin_us = spin_us < 0 ? 0 : spin_us;
	p->cap_seats = pool_seat_count(pp);
	p->env = env;
	atomic_init(&p->done, NULL);
	if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_async_init(loop, &p->done_async, pool_done_cb) != 0) {
		pp_detach(pp);
		pthread_mutex_destroy(&p->tsfn_mu);
		free(b);
		throw_pp(env, PP_ENOMEM, "attach: the completion handle");
		return NULL;
	}
	p->done_async.data = p;
	uv_unref((uv_handle_t *)&p->done_async); /* the thread-safe function's ref keeps the loop alive */
	if (napi_create_string_utf8(env, "phantompool", NAPI_AUTO_LENGTH, &name) != napi_ok ||
	    napi_create_object(env, &resource) != napi_ok ||
	    napi_create_reference(env, resource, 1, &p->resource) != napi_ok ||
	    napi_async_init(env, resource, name, &p->async_ctx) != napi_ok ||
	    napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, p, pool_tsfn_finalize, p,
					    tsfn_call_unused, &p->tsfn) != napi_ok) {
		throw_last_error(env, "attach: napi_create_threadsafe_function");
		if (p->async_ctx)
			napi_async_destroy(env, p->async_ctx);
		if (p->resource)
			napi_delete_reference(env, p->resource);
		pp_detach(pp);
		/* The handle's close callback frees the pool. */
		b->holders = 1;
		uv_close((uv_handle_t *)&p->done_async, done_async_closed);
		return NULL;
	}
	b->holders = 2; /* the JS handle and the thread-safe function (then the completion handle) */
	napi_unref_threadsafe_function(env, p->tsfn);
	napi_add_env_cleanup_hook(env, pool_env_gone, p);
	NAPI_CALL(env, napi_create_external(env, p, pool_handle_finalize, NULL, &handle));
	NAPI_CALL(env, napi_create_reference(env, handle, 0, &p->self));
	return handle;
}

static napi_value fn_lease(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], nul;
	struct pool *p;
	struct seat *s;
	struct job *j;
	int timeout_ms, err;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!(p = get_pool(env, argv[0])) || get_int(env, argv[1], &timeout_ms))
		return NULL;
	if (!(s = seat_take(p, &err))) {
		if (err) {
			throw_pp(env, err, "acquire: starting a seat thread");
			return NULL;
		}
		NAPI_CALL(env, napi_get_null(env, &nul));
		return nul;
	}
	if (!(j = calloc(1, sizeof *j))) {
		seat_put_idle(s);
		throw_pp(env, PP_ENOMEM, "acquire");
		return NULL;
	}
	j->kind = JOB_LEASE;
	j->timeout_ms = timeout_ms;
	s->leased = 1;
	return job_start(env, s, j);
}

/* The seat of (seat, ticket) if it still holds that lease; else NULL with
 * a PP_ERELEASED exception. */
static struct seat *get_leased_seat(napi_env env, napi_value *argv)
{
	struct seat *s = get_external(env, argv[0], "client");
	uint32_t ticket;

	if (!s)
		return NULL;
	if (napi_get_value_uint32(env, argv[1], &ticket) != napi_ok) {
		napi_throw_type_error(env, NULL, "phantompool native: expected a ticket");
		return NULL;
	}
	if (!s->leased || s->ticket != ticket || s->pool->closed) {
		throw_pp(env, PP_ERELEASED, "request");
		return NULL;
	}
	return s;
}

static napi_value fn_request(napi_env env, napi_callback_info info)
{
	size_t argc = 8;
	napi_value argv[8];
	struct seat *s;
	struct job *j;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!(s = get_leased_seat(env, argv)) || !(j = job_from_args(env, JOB_REQUEST, argv + 2)))
		return NULL;
	return job_start(env, s, j);
}

static napi_value fn_release(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	struct seat *s;
	struct job *j;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!(s = get_leased_seat(env, argv)))
		return NULL;
	if (!(j = calloc(1, sizeof *j))) {
		throw_pp(env, PP_ENOMEM, "release");
		return NULL;
	}
	j->kind = JOB_RELEASE;
	s->leased = 0; /* later requests on this ticket are refused at once */
	return job_start(env, s, j);
}

static napi_value fn_do_request(napi_env env, napi_callback_info info)
{
	size_t argc = 8;
	napi_value argv[8], nul;
	struct pool *p;
	struct seat *s;
	struct job *j;
	int err, lease_timeout_ms;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!(p = get_pool(env, argv[0])) || get_int(env, argv[1], &lease_timeout_ms) ||
	    !(j = job_from_args(env, JOB_DO, argv + 2)))
		return NULL;
	j->timeout_ms = lease_timeout_ms;
	if (!(s = seat_take(p, &err))) {
		job_free(j);
		if (err) {
			throw_pp(env, err, "request: starting a seat thread");
			return NULL;
		}
		NAPI_CALL(env, napi_get_null(env, &nul));
		return nul;
	}
	return job_start(env, s, j);
}

/* doRequestSync: doRequest's work on the calling (JavaScript) thread: the
 * lease is taken, used and released within this call, so the thread rule
 * holds.  Blocks the event loop until the answer (or the lease timeout). */
static napi_value fn_do_request_sync(napi_env env, napi_callback_info info)
{
	size_t argc = 8;
	napi_value argv[8], v;
	struct pool *p;
	struct job *j;
	int lease_timeout_ms;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!(p = get_pool(env, argv[0])) || get_int(env, argv[1], &lease_timeout_ms) ||
	    !(j = job_from_args(env, JOB_DO, argv + 2)))
		return NULL;
	j->timeout_ms = lease_timeout_ms;
	job_run_do(p->pp, j);
	if (j->rc == 0 && (v = response_value(env, j))) {
		job_free(j);
		return v;
	}
	v = make_error(env, j->rc ? j->rc : PP_ENOMEM, job_op(j), j->sys_errno, j->detail);
	job_free(j);
	if (v)
		napi_throw(env, v);
	return NULL;
}

/* close(pool) -> Promise, settled once every seat thread has left and
 * the pool is detached; null while jobs are still in flight (the caller
 * waits for them first). */
static napi_value fn_close(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], v;
	struct pool *p;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!(p = get_external(env, argv[0], "pool")))
		return NULL;
	if (p->closed) {
		throw_pp(env, PP_ESHUTDOWN, "close");
		return NULL;
	}
	if (p->outstanding) {
		NAPI_CALL(env, napi_get_null(env, &v));
		return v;
	}
	NAPI_CALL(env, napi_create_promise(env, &p->closed_deferred, &v));
	/* Keep the event loop alive until the seat threads are gone. */
	napi_ref_threadsafe_function(env, p->tsfn);
	pool_shutdown(p);
	return v;
}

/* The status fields, in pp_pool_status order (lib/index.d.ts PoolStatus). */
#define STATUS_FIELDS(X)                                                                     \
	X(available) X(used) X(min) X(max) X(waiting) X(leases) X(lease_timeouts) X(reclaims) \
	X(lease_waits) X(lease_wait_p50_ns) X(lease_wait_p99_ns) X(lease_wait_max_ns)         \
	X(requests) X(errors) X(bytes_in) X(bytes_out) X(connects) X(reconnects)              \
	X(health_checks) X(health_failures) X(backend_failovers) X(backend_index)             \
	X(backend_up) X(uptime_ns) X(conns_max) X(conns_open) X(conns_busy) X(queued) \
	X(queue_waits) X(queue_wait_p50_ns) X(queue_wait_p99_ns) X(queue_wait_max_ns)

static napi_value fn_status(napi_env env, napi_callback_info info)
{
	size_t argc = 1, size = pp_abi_size(PP_ABI_STATUS);
	napi_value argv[1], obj, v;
	struct pool *p;
	pp_pool_status *st;
	int r;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!(p = get_pool(env, argv[0])))
		return NULL;
	/* A newer library may have a longer struct: its size, our prefix. */
	if (size < sizeof *st)
		size = sizeof *st;
	if (!(st = calloc(1, size))) {
		throw_pp(env, PP_ENOMEM, "getStatus");
		return NULL;
	}
	if ((r = pp_status(p->pp, st)) != 0) {
		free(st);
		throw_pp(env, r, "getStatus");
		return NULL;
	}
	if (napi_create_object(env, &obj) != napi_ok)
		goto fail;
#define X(f)                                                                     \
	if (napi_create_double(env, (double)st->f, &v) != napi_ok ||            \
	    napi_set_named_property(env, obj, #f, v) != napi_ok)                 \
		goto fail;
	STATUS_FIELDS(X)
#undef X
	if (napi_create_int32(env, st->daemon_pid, &v) != napi_ok ||
	    napi_set_named_property(env, obj, "daemon_pid", v) != napi_ok ||
	    napi_create_bigint_uint64(env, st->generation, &v) != napi_ok ||
	    napi_set_named_property(env, obj, "generation", v) != napi_ok)
		goto fail;
	free(st);
	return obj;
fail:
	free(st);
	throw_last_error(env, "getStatus");
	return NULL;
}

static napi_value fn_strerror(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], v;
	int code;

	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (get_int(env, argv[0], &code))
		return NULL;
	NAPI_CALL(env, napi_create_string_utf8(env, pp_strerror(code), NAPI_AUTO_LENGTH, &v));
	return v;
}

static napi_value fn_version(napi_env env, napi_callback_info info)
{
	napi_value v;
	NAPI_CALL(env, napi_create_int32(env, pp_version(), &v));
	return v;
}

/* Refuse to load against a library whose structs differ from the header
 * this addon was built with (pp_abi_size).  pp_pool_status may only grow
 * at its end: fn_status reads our prefix from a buffer of the library's
 * size.  Returns 0, or -1 with an exception pending. */
static int abi_check(napi_env env)
{
	static const struct { int which; size_t ours; int may_grow; const char *name; } abi[] = {
		{ PP_ABI_REQ, sizeof(pp_req), 0, "pp_req" },
		{ PP_ABI_RESP, sizeof(pp_resp), 0, "pp_resp" },
		{ PP_ABI_HEADER, sizeof(pp_header), 0, "pp_header" },
		{ PP_ABI_STATUS, sizeof(pp_pool_status), 1, "pp_pool_status" },
	};
	char msg[256];

	if (pp_version() / 10000 != PP_VERSION_MAJOR) {
		snprintf(msg, sizeof msg, "phantompool: libphantompool %d is not major version %d",
			 pp_version(), PP_VERSION_MAJOR);
		napi_throw_error(env, "PP_EVERSION", msg);
		return -1;
	}
	for (size_t i = 0; i < sizeof abi / sizeof abi[0]; i++) {
		size_t lib = pp_abi_size(abi[i].which);
		if (lib == abi[i].ours || (abi[i].may_grow && lib > abi[i].ours))
			continue;
		snprintf(msg, sizeof msg,
			 "phantompool: libphantompool's %s is %zu bytes, this addon was built for %zu: rebuild the addon",
			 abi[i].name, lib, abi[i].ours);
		napi_throw_error(env, "PP_EVERSION", msg);
		return -1;
	}
	return 0;
}

NAPI_MODULE_INIT()
{
	static const struct { const char *name; napi_callback fn; } fns[] = {
		{ "init", fn_init }, { "attach", fn_attach }, { "lease", fn_lease },
		{ "request", fn_request }, { "release", fn_release },
		{ "doRequest", fn_do_request }, { "doRequestSync", fn_do_request_sync },
		{ "close", fn_close },
		{ "status", fn_status }, { "strerror", fn_strerror }, { "version", fn_version },
	};
	struct addon *a;
	napi_value f;

	if (abi_check(env))
		return NULL;
	if (!(a = calloc(1, sizeof *a)) || napi_set_instance_data(env, a, addon_free, NULL) != napi_ok) {
		free(a);
		napi_throw_error(env, NULL, "phantompool: out of memory at load");
		return NULL;
	}
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok ||
		    napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
			return NULL;
	}
	return exports;
}
