/* pool.c - class PhantomPool\Pool: a name and the process's handle for it.
 *
 * new Pool($name) finds the handle this process attached for $name, or
 * attaches now (phantompool.c's ppx_pool_get): the first Pool of a name in
 * a PHP-FPM child attaches, every later one (in that web request or any
 * later one) reuses the attachment.  The handle survives a daemon restart:
 * libphantompool re-attaches to the new segment by itself.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <limits.h>
#include <stdlib.h>

#include <php.h>
#include <zend_exceptions.h>

#include "php_phantompool.h"

zend_class_entry *ppx_ce_pool;
static zend_object_handlers pool_handlers;

typedef struct ppx_pool {
	pp_pool *pool;          /* the process's handle (owned by phantompool.c) */
	zend_string *name;
	zend_object std;
} ppx_pool;

static inline ppx_pool *pool_from(zend_object *obj)
{
	return (ppx_pool *)((char *)obj - XtOffsetOf(ppx_pool, std));
}

static zend_object *pool_create(zend_class_entry *ce)
{
	ppx_pool *p = zend_object_alloc(sizeof(ppx_pool), ce);

	zend_object_std_init(&p->std, ce);
	object_properties_init(&p->std, ce);
	p->std.handlers = &pool_handlers;
	return &p->std;
}

static void pool_free(zend_object *obj)
{
	ppx_pool *p = pool_from(obj);

	if (p->name)
		zend_string_release(p->name);
	zend_object_std_dtor(obj);
}

/* The Pool of $this, constructed; else throw. */
static ppx_pool *live_pool(zval *self, const char *what)
{
	ppx_pool *p = pool_from(Z_OBJ_P(self));

	if (!p->pool) {
		ppx_throw(PP_EINVAL, what, "this Pool was not constructed");
		return NULL;
	}
	return p;
}

#define WHAT(m) "PhantomPool\\Pool::" m

/* __construct(?string $name = null) */
static PHP_METHOD(PhantomPool_Pool, __construct)
{
	zend_string *name = NULL;
	ppx_pool *p = pool_from(Z_OBJ_P(ZEND_THIS));
	const char *n;
	char msg[1200];
	int rc;

	ZEND_PARSE_PARAMETERS_START(0, 1)
		Z_PARAM_OPTIONAL
		Z_PARAM_STR_OR_NULL(name)
	ZEND_PARSE_PARAMETERS_END();

	if (p->pool) {
		zend_throw_error(NULL, "PhantomPool\\Pool is already constructed");
		RETURN_THROWS();
	}
	/* The name: the argument, else php.ini (FPM's clear_env leaves no
	 * environment), else $PHANTOMPOOL, else "default": pp_attach(NULL)'s
	 * rule, resolved here so the process's table is keyed by real names. */
	if (name && ZSTR_LEN(name))
		n = ZSTR_VAL(name);
	else if (PPX_G(default_pool) && *PPX_G(default_pool))
		n = PPX_G(default_pool);
	else if ((n = getenv("PHANTOMPOOL")) == NULL || !*n)
		n = "default";
	if (name && strlen(ZSTR_VAL(name)) != ZSTR_LEN(name)) {
		ppx_throw(PP_ENAME, WHAT("__construct"), "the name contains a NUL byte");
		RETURN_THROWS();
	}
	if ((rc = ppx_pool_get(n, &p->pool)) < 0) {
		/* pp_attach's own detail (pp_error_detail): the segment, its
		 * mode and owner, the fix.  Same thread, right after the call. */
		const char *d = pp_error_detail();
		snprintf(msg, sizeof msg, "pool \"%.48s\"%s%s", n, d ? "; " : "", d ? d : "");
		ppx_throw(rc, WHAT("__construct"), msg);
		RETURN_THROWS();
	}
	p->name = zend_string_init(n, strlen(n), 0);
}

/* getName(): string */
static PHP_METHOD(PhantomPool_Pool, getName)
{
	ppx_pool *p;

	ZEND_PARSE_PARAMETERS_NONE();
	if (!(p = live_pool(ZEND_THIS, WHAT("getName"))))
		RETURN_THROWS();
	RETURN_STR_COPY(p->name);
}

/* acquire(?int $timeoutMs = null): Client */
static PHP_METHOD(PhantomPool_Pool, acquire)
{
	zend_long timeout;
	bool timeout_null = 1;
	ppx_pool *p;

	ZEND_PARSE_PARAMETERS_START(0, 1)
		Z_PARAM_OPTIONAL
		Z_PARAM_LONG_OR_NULL(timeout, timeout_null)
	ZEND_PARSE_PARAMETERS_END();

	if (!(p = live_pool(ZEND_THIS, WHAT("acquire"))))
		RETURN_THROWS();
	if (timeout_null)
		timeout = PPX_G(acquire_timeout_ms);
	if (timeout > INT_MAX)
		timeout = INT_MAX;   /* 24 days: as good as forever */
	if (timeout < 0)
		timeout = -1;        /* forever */
	ppx_client_acquire(p->pool, (int)timeout, return_value);
}

/* release(Client $client): void */
static PHP_METHOD(PhantomPool_Pool, release)
{
	zval *client;
	int rc;

	ZEND_PARSE_PARAMETERS_START(1, 1)
		Z_PARAM_OBJECT_OF_CLASS(client, ppx_ce_client)
	ZEND_PARSE_PARAMETERS_END();

	rc = ppx_client_release(ppx_client_from(Z_OBJ_P(client)));
	if (rc < 0)
		ppx_throw(rc, WHAT("release"), NULL);
}

/* request(string $method, string $path, ?array $headers = null,
 *         ?string $body = null, int $timeoutMs = 0): array   (pp_do) */
static PHP_METHOD(PhantomPool_Pool, request)
{
	zend_string *method, *path, *body = NULL;
	HashTable *headers = NULL;
	zend_long timeout_ms = 0;
	ppx_pool *p;
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

	if (!(p = live_pool(ZEND_THIS, WHAT("request"))))
		RETURN_THROWS();
	if (ppx_raw_parse(&raw, method, path, headers, body, timeout_ms, WHAT("request")) != SUCCESS)
		RETURN_THROWS();
	rc = pp_do(p->pool, &raw.req, &resp);
	ppx_raw_free(&raw);
	if (rc < 0) {
		ppx_throw(rc, WHAT("request"), NULL);
		RETURN_THROWS();
	}
	ppx_resp_to_array(&resp, return_value);
	pp_resp_free(&resp);
}

/* getStatus(): array.  The library may be newer than the header this was
 * built with and fill a longer pp_pool_status (fields are only added at
 * its end; phantompool.c checked the size at load): hand it a buffer of
 * the library's size and read this header's fields from the start. */
static PHP_METHOD(PhantomPool_Pool, getStatus)
{
	size_t size = pp_abi_size(PP_ABI_STATUS);
	pp_pool_status st;
	char gen[20];
	ppx_pool *p;
	void *buf;
	int rc;

	ZEND_PARSE_PARAMETERS_NONE();
	if (!(p = live_pool(ZEND_THIS, WHAT("getStatus"))))
		RETURN_THROWS();
	buf = ecalloc(1, size > sizeof st ? size : sizeof st);
	rc = pp_status(p->pool, buf);
	memcpy(&st, buf, sizeof st);
	efree(buf);
	if (rc < 0) {
		ppx_throw(rc, WHAT("getStatus"), NULL);
		RETURN_THROWS();
	}
	snprintf(gen, sizeof gen, "%016llx", (unsigned long long)st.generation);
	array_init_size(return_value, 26);
#define U(f) add_assoc_long(return_value, #f, (zend_long)st.f)
	U(available); U(used); U(min); U(max); U(waiting); U(daemon_pid);
	add_assoc_string(return_value, "generation", gen);
	U(leases); U(lease_timeouts); U(reclaims); U(lease_waits); U(lease_wait_p50_ns);
	U(lease_wait_p99_ns); U(lease_wait_max_ns); U(requests); U(errors); U(bytes_in);
	U(bytes_out); U(connects); U(reconnects); U(health_checks); U(health_failures);
	U(backend_failovers); U(backend_index); U(backend_up); U(uptime_ns);
	U(conns_max); U(conns_open); U(conns_busy); U(queued);
	U(queue_waits); U(queue_wait_p50_ns); U(queue_wait_p99_ns); U(queue_wait_max_ns);
#undef U
}

/* static processStats(): array */
static PHP_METHOD(PhantomPool_Pool, processStats)
{
	ZEND_PARSE_PARAMETERS_NONE();
	ppx_process_stats(return_value);
}

#include "pool_arginfo.h"

void ppx_pool_minit(void)
{
	zend_class_entry ce;

	INIT_NS_CLASS_ENTRY(ce, "PhantomPool", "Pool", pool_methods);
	ppx_ce_pool = zend_register_internal_class(&ce);
	ppx_ce_pool->ce_flags |= ZEND_ACC_FINAL | ZEND_ACC_NO_DYNAMIC_PROPERTIES | ZEND_ACC_NOT_SERIALIZABLE;
	ppx_ce_pool->create_object = pool_create;
	memcpy(&pool_handlers, zend_get_std_object_handlers(), sizeof pool_handlers);
	pool_handlers.offset = XtOffsetOf(ppx_pool, std);
	pool_handlers.free_obj = pool_free;
	pool_handlers.clone_obj = NULL;
}
