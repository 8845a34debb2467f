/* php_phantompool.h - the phantompool PHP extension's shared declarations.
 *
 * Modules (one concern each):
 *   phantompool.c  module entry, php.ini settings, the ABI check at load,
 *                  the process's attached pools, the request's held leases
 *                  (released at the end of every web request)
 *   pool.c         class PhantomPool\Pool
 *   client.c       class PhantomPool\Client: a lease and the PhantomDB routes
 *   errors.c       PhantomPool\Exception and its subclasses
 *
 * Lifetimes: a pp_pool handle is attached once per process, on first use,
 * and kept until the process ends (like a persistent connection); a lease
 * (struct pp_lease *) lives inside one Client object and never outlives the
 * web request that took it.
 */
#ifndef PHP_PHANTOMPOOL_H
#define PHP_PHANTOMPOOL_H

#include <php.h>
#include <phantompool.h>

#define PHP_PHANTOMPOOL_VERSION "0.1.0"

extern zend_module_entry phantompool_module_entry;
#define phpext_phantompool_ptr &phantompool_module_entry

typedef struct ppx_client ppx_client;

ZEND_BEGIN_MODULE_GLOBALS(phantompool)
	char *default_pool;          /* phantompool.default_pool */
	zend_long acquire_timeout_ms; /* phantompool.acquire_timeout_ms */
	ppx_client *held;            /* leases held in this request, newest first */
ZEND_END_MODULE_GLOBALS(phantompool)

ZEND_EXTERN_MODULE_GLOBALS(phantompool)
#define PPX_G(v) ZEND_MODULE_GLOBALS_ACCESSOR(phantompool, v)

#if defined(ZTS) && defined(COMPILE_DL_PHANTOMPOOL)
ZEND_TSRMLS_CACHE_EXTERN()
#endif

/* A Client object: the lease and its place in the request's list. */
struct ppx_client {
	struct pp_lease *lease;      /* NULL once released */
	ppx_client *prev, *next;     /* PPX_G(held), while lease != NULL */
	zend_object std;
};

static inline ppx_client *ppx_client_from(zend_object *obj)
{
	return (ppx_client *)((char *)obj - XtOffsetOf(ppx_client, std));
}

/* phantompool.c: the process's pools.  Finds the handle attached for
 * `name` in this process, or attaches now (the only place pp_attach is
 * called).  Returns 0 and sets *out, or a PP_E* code. */
int ppx_pool_get(const char *name, pp_pool **out);
/* Figures for Pool::processStats(). */
void ppx_process_stats(zval *return_value);

/* phantompool.c: the request's held leases. */
void ppx_held_add(ppx_client *c);
void ppx_held_remove(ppx_client *c);

/* errors.c */
extern zend_class_entry *ppx_ce_exception;
extern zend_class_entry *ppx_ce_timeout;
extern zend_class_entry *ppx_ce_http;
void ppx_errors_minit(void);
/* The name of a PP_E* code ("PP_ETIMEDOUT"), or NULL if unknown. */
const char *ppx_error_name(int err);
/* Throw PhantomPool\Exception (TimeoutException for PP_ETIMEDOUT) with
 * code err and the message "<what>: PP_E... (<err>): <pp_strerror text>"
 * followed by `detail` when it is not NULL. */
void ppx_throw(int err, const char *what, const char *detail);
/* Throw PhantomPool\HttpException for a non-2xx response. */
void ppx_throw_http(const char *what, int status, const char *body, size_t body_len);

/* client.c */
extern zend_class_entry *ppx_ce_client;
void ppx_client_minit(void);
/* Lease from pool and return a new Client in *rv (or throw). */
void ppx_client_acquire(pp_pool *pool, int timeout_ms, zval *rv);
/* Release a Client's lease: 0, PP_ERELEASED, or pp_release's code. */
int ppx_client_release(ppx_client *c);
/* Shared by Client::request and Pool::request: the raw request's
 * arguments and its result array. */
typedef struct ppx_raw {
	pp_req req;
	pp_header *headers;          /* emalloc'd, or NULL */
} ppx_raw;
int ppx_raw_parse(ppx_raw *raw, zend_string *method, zend_string *path, HashTable *headers,
		  zend_string *body, zend_long timeout_ms, const char *what);
void ppx_raw_free(ppx_raw *raw);
void ppx_resp_to_array(pp_resp *resp, zval *rv);

/* pool.c */
extern zend_class_entry *ppx_ce_pool;
void ppx_pool_minit(void);

#endif
