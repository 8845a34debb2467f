/* mod_phantompool.c - an Apache httpd module that reaches PhantomDB
 * through phantompool: the application of examples/common/ppapp.h as a
 * content handler.
 *
 *   LoadModule phantompool_module /path/to/mod_phantompool.so
 *   PhantomPoolName demo                 # the pool (else $PHANTOMPOOL, else "default")
 *   <Location /app>
 *       SetHandler phantompool
 *   </Location>
 *
 * Where to attach: in child_init, once per child process, with a cleanup
 * on the child's pool that detaches.  Not in post_config: httpd runs
 * post_config twice at start (and again on every graceful restart), and
 * unloads and reloads the module in between, so a handle taken there
 * leaks and its pointer would be stale.  The children run as User/Group
 * (www-data): phantompoold runs with mode = 0660 and group = www-data.
 * Under prefork a child serves one request at a time on one thread; under
 * worker/event each request's lease is taken and released on its own
 * thread inside the handler, which is what the library requires, each
 * request's answer is built in memory of its own request, and a late
 * attach is made by one thread. */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <pthread.h>

#include "../common/ppapp.h"

module AP_MODULE_DECLARE_DATA phantompool_module;

static const char *pool_name;	/* PhantomPoolName, NULL: $PHANTOMPOOL or "default" */
static pp_pool *pool;		/* this child's handle, from child_init */
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER; /* a late attach, worker/event */

static const char *set_pool_name(cmd_parms *cmd, void *cfg, const char *arg)
{
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
	if (err)
		return err;
	pool_name = apr_pstrdup(cmd->pool, arg);
	return NULL;
}

static apr_status_t detach_pool(void *data)
{
	pp_detach(pool);	/* accepts NULL: never attached */
	pool = NULL;
	return APR_SUCCESS;
}

/* Once per child, after it took on User/Group: attach, and detach when
 * the child's pool is destroyed (the child exits; registered whether or
 * not this attach worked, so that a late one is detached too). */
static void child_init(apr_pool_t *pchild, server_rec *s)
{
	pp_pool *p = NULL;
	int r = ppapp_attach(pool_name, &p);	/* its reason goes to stderr = the ErrorLog */

	if (r != 0)
		ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "phantompool: attach failed: %s (%d)",
			     pp_strerror(r), r);	/* the handler tries again */
	__atomic_store_n(&pool, r == 0 ? p : NULL, __ATOMIC_RELEASE);
	apr_pool_cleanup_register(pchild, NULL, detach_pool, apr_pool_cleanup_null);
}

/* This child's handle, attached now if child_init could not (the daemon
 * started after httpd); NULL if it still cannot.  Under worker/event
 * several threads may come here at once: one attaches, under the lock.
 * The release store publishes the handle the attach filled in. */
static pp_pool *child_handle(void)
{
	pp_pool *p = __atomic_load_n(&pool, __ATOMIC_ACQUIRE);

	if (p)
		return p;
	pthread_mutex_lock(&attach_lock);
	if (!(p = pool) && ppapp_attach(pool_name, &p) == 0)
		__atomic_store_n(&pool, p, __ATOMIC_RELEASE);
	else if (!pool)
		p = NULL;
	pthread_mutex_unlock(&attach_lock);
	return p;
}

static int handler(request_rec *r)
{
	enum { BODY_MAX = 65536 };
	char *body;	/* the request's own: worker/event threads serve requests at once */

	if (!r->handler || strcmp(r->handler, "phantompool") != 0)
		return DECLINED;
	if (r->method_number != M_GET)
		return HTTP_METHOD_NOT_ALLOWED;
	body = apr_palloc(r->pool, BODY_MAX);
	r->status = ppapp_handle(child_handle(), r->args, body, BODY_MAX);
	ap_set_content_type(r, "application/json");
	ap_rputs(body, r);
	return OK;
}

static void register_hooks(apr_pool_t *p)
{
	ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
	ap_hook_handler(handler, NULL, NULL, APR_HOOK_MIDDLE);
}

static const command_rec commands[] = {
	AP_INIT_TAKE1("PhantomPoolName", set_pool_name, NULL, RSRC_CONF,
		      "the phantompool pool to attach to (default $PHANTOMPOOL, else \"default\")"),
	{ NULL }
};

module AP_MODULE_DECLARE_DATA phantompool_module = {
	STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, commands, register_hooks,
	AP_MODULE_FLAG_NONE
};
