/* phantompool.c - the extension's module: php.ini settings, the ABI check
 * at load, the process's attached pools and the request's held leases.
 *
 * A PHP-FPM master or Apache prefork parent runs MINIT and forks; no pool
 * is attached there.  Each child attaches on its first use of a pool and
 * keeps the handle for every later web request (like a persistent
 * connection): one pp_attach per pool per process.  Leases are per web
 * request: RSHUTDOWN releases every lease still held, whatever ended the
 * request (normal end, exit, uncaught exception, fatal error, time limit).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <pthread.h>
#include <unistd.h>

#include <php.h>
#include <php_ini.h>
#include <ext/standard/info.h>

#include "php_phantompool.h"

ZEND_DECLARE_MODULE_GLOBALS(phantompool)

PHP_INI_BEGIN()
	STD_PHP_INI_ENTRY("phantompool.default_pool", "", PHP_INI_ALL, OnUpdateString,
			  default_pool, zend_phantompool_globals, phantompool_globals)
	STD_PHP_INI_ENTRY("phantompool.acquire_timeout_ms", "30000", PHP_INI_ALL, OnUpdateLong,
			  acquire_timeout_ms, zend_phantompool_globals, phantompool_globals)
PHP_INI_END()

/* ------------------------------------------------------------------ */
/* The process's pools: one pp_pool per name, attached on first use and
 * kept until the process ends.  A pp_pool is thread-safe, so in a ZTS
 * build every thread shares the process's handle; the mutex guards the
 * list only.  A handle inherited across fork() keeps working in the child
 * (the library's promise), so a child never attaches a pool its parent
 * already had. */
struct attached {
	struct attached *next;
	pp_pool *pool;
	char name[];
};

static struct attached *attached_pools;
static pthread_mutex_t attached_lock = PTHREAD_MUTEX_INITIALIZER;
static zend_long attach_calls;          /* successful pp_attach in this process */
static zend_long attach_failures;       /* failed pp_attach in this process */
static zend_long shutdown_releases;     /* leases RSHUTDOWN released */
static pid_t attach_pid;                /* the process that made attach_calls */

static void count_attach_in_this_process(void)
{
	/* A forked child starts its own counts (its handles are inherited). */
	if (attach_pid != getpid()) {
		attach_pid = getpid();
		attach_calls = attach_failures = shutdown_releases = 0;
	}
}

int ppx_pool_get(const char *name, pp_pool **out)
{
	struct attached *a;
	int rc = 0;

	pthread_mutex_lock(&attached_lock);
	count_attach_in_this_process();
	for (a = attached_pools; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			break;
	if (!a) {
		pp_pool *p;
		rc = pp_attach(name, &p);
		if (rc == 0) {
			a = malloc(sizeof *a + strlen(name) + 1);
			if (!a) {
				pp_detach(p);
				rc = PP_ENOMEM;
			} else {
				a->pool = p;
				strcpy(a->name, name);
				a->next = attached_pools;
				attached_pools = a;
				attach_calls++;
			}
		} else {
			attach_failures++;
		}
	}
	if (a)
		*out = a->pool;
	pthread_mutex_unlock(&attached_lock);
	return rc;
}

void ppx_process_stats(zval *rv)
{
	zval names;
	struct attached *a;

	array_init(rv);
	array_init(&names);
	pthread_mutex_lock(&attached_lock);
	count_attach_in_this_process();
	for (a = attached_pools; a; a = a->next)
		add_next_index_string(&names, a->name);
	add_assoc_long(rv, "pid", (zend_long)getpid());
	add_assoc_long(rv, "attaches", attach_calls);
	add_assoc_long(rv, "attach_failures", attach_failures);
	add_assoc_long(rv, "shutdown_releases", shutdown_releases);
	pthread_mutex_unlock(&attached_lock);
	add_assoc_zval(rv, "pools", &names);
}

static void detach_all(void)
{
	pthread_mutex_lock(&attached_lock);
	while (attached_pools) {
		struct attached *a = attached_pools;
		attached_pools = a->next;
		pp_detach(a->pool);
		free(a);
	}
	pthread_mutex_unlock(&attached_lock);
}

/* ------------------------------------------------------------------ */
/* The request's held leases: a list through the Client objects.  An
 * object is on it exactly while it holds a lease. */

void ppx_held_add(ppx_client *c)
{
	c->prev = NULL;
	c->next = PPX_G(held);
	if (c->next)
		c->next->prev = c;
	PPX_G(held) = c;
}

void ppx_held_remove(ppx_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (PPX_G(held) == c)
		PPX_G(held) = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* Release every lease still held.  The objects themselves are freed later
 * (shutdown_executor) and then find their lease already gone.  A release
 * that fails (PP_ELOST: the daemon reclaimed it; PP_ENOTOWNER: a lease
 * inherited across pcntl_fork) leaves nothing to do. */
static void release_held_leases(void)
{
	while (PPX_G(held)) {
		ppx_client *c = PPX_G(held);
		(void)ppx_client_release(c);
		pthread_mutex_lock(&attached_lock);
		count_attach_in_this_process();
		shutdown_releases++;
		pthread_mutex_unlock(&attached_lock);
	}
}

/* ------------------------------------------------------------------ */
/* The ABI check: this extension was compiled against phantompool.h; the
 * library loaded at run time must agree on every struct the extension
 * passes to it.  pp_pool_status may only grow at its end, so a larger
 * library size is accepted: getStatus() hands the library a buffer of the
 * library's size and reads this header's fields from its start. */
static int abi_check(void)
{
	static const struct {
		int which;
		size_t ours;
		const char *name;
		int may_grow;
	} structs[] = {
		{ PP_ABI_REQ, sizeof(pp_req), "pp_req", 0 },
		{ PP_ABI_RESP, sizeof(pp_resp), "pp_resp", 0 },
		{ PP_ABI_HEADER, sizeof(pp_header), "pp_header", 0 },
		{ PP_ABI_STATUS, sizeof(pp_pool_status), "pp_pool_status", 1 },
	};
	int v = pp_version();

	if (v / 10000 != PP_VERSION_MAJOR || v < PP_VERSION_NUMBER) {
		php_error_docref(NULL, E_CORE_WARNING,
				 "phantompool: libphantompool version %d loaded, this extension needs %d.%d or later "
				 "of the same major version; refusing to load",
				 v, PP_VERSION_MAJOR, PP_VERSION_MINOR);
		return FAILURE;
	}
	for (size_t i = 0; i < sizeof structs / sizeof structs[0]; i++) {
		size_t lib = pp_abi_size(structs[i].which);
		if (lib == structs[i].ours || (structs[i].may_grow && lib > structs[i].ours))
			continue;
		php_error_docref(NULL, E_CORE_WARNING,
				 "phantompool: libphantompool's %s is %zu bytes, this extension was built for %zu; "
				 "rebuild the extension against the installed phantompool.h; refusing to load",
				 structs[i].name, lib, structs[i].ours);
		return FAILURE;
	}
	return SUCCESS;
}

static PHP_GINIT_FUNCTION(phantompool)
{
#if defined(COMPILE_DL_PHANTOMPOOL) && defined(ZTS)
	ZEND_TSRMLS_CACHE_UPDATE();
#endif
	memset(phantompool_globals, 0, sizeof *phantompool_globals);
}

static PHP_MINIT_FUNCTION(phantompool)
{
	if (abi_check() != SUCCESS)
		return FAILURE;
	REGISTER_INI_ENTRIES();
	REGISTER_NS_LONG_CONSTANT("PhantomPool", "LIBRARY_VERSION", pp_version(), CONST_CS | CONST_PERSISTENT);
	REGISTER_NS_STRING_CONSTANT("PhantomPool", "VERSION", PHP_PHANTOMPOOL_VERSION, CONST_CS | CONST_PERSISTENT);
	ppx_errors_minit();
	ppx_client_minit();
	ppx_pool_minit();
	return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(phantompool)
{
	UNREGISTER_INI_ENTRIES();
	detach_all();
	return SUCCESS;
}

static PHP_RINIT_FUNCTION(phantompool)
{
#if defined(COMPILE_DL_PHANTOMPOOL) && defined(ZTS)
	ZEND_TSRMLS_CACHE_UPDATE();
#endif
	PPX_G(held) = NULL;
	return SUCCESS;
}

static PHP_RSHUTDOWN_FUNCTION(phantompool)
{
	release_held_leases();
	return SUCCESS;
}

static PHP_MINFO_FUNCTION(phantompool)
{
	char lib[32];
	int v = pp_version();

	snprintf(lib, sizeof lib, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
	php_info_print_table_start();
	php_info_print_table_header(2, "phantompool support", "enabled");
	php_info_print_table_row(2, "extension version", PHP_PHANTOMPOOL_VERSION);
	php_info_print_table_row(2, "libphantompool version", lib);
	php_info_print_table_end();
	DISPLAY_INI_ENTRIES();
}

static const zend_module_dep phantompool_deps[] = {
	ZEND_MOD_REQUIRED("json")
	ZEND_MOD_END
};

zend_module_entry phantompool_module_entry = {
	STANDARD_MODULE_HEADER_EX, NULL,
	phantompool_deps,
	"phantompool",
	NULL, /* functions: the API is the classes */
	PHP_MINIT(phantompool),
	PHP_MSHUTDOWN(phantompool),
	PHP_RINIT(phantompool),
	PHP_RSHUTDOWN(phantompool),
	PHP_MINFO(phantompool),
	PHP_PHANTOMPOOL_VERSION,
	PHP_MODULE_GLOBALS(phantompool),
	PHP_GINIT(phantompool),
	NULL,
	NULL,
	STANDARD_MODULE_PROPERTIES_EX
};

#ifdef COMPILE_DL_PHANTOMPOOL
#ifdef ZTS
ZEND_TSRMLS_CACHE_DEFINE()
#endif
ZEND_GET_MODULE(phantompool)
#endif
