/* pool_arginfo.h - arginfo and method table of PhantomPool\Pool, written
 * by hand to match phantompool.stub.php; tests/api_reflection.phpt checks
 * them against each other. */

ZEND_BEGIN_ARG_INFO_EX(arginfo_pool___construct, 0, 0, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, name, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_pool_getName, 0, 0, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_OBJ_INFO_EX(arginfo_pool_acquire, 0, 0, PhantomPool\\Client, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeoutMs, IS_LONG, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_pool_release, 0, 1, IS_VOID, 0)
	ZEND_ARG_OBJ_INFO(0, client, PhantomPool\\Client, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_pool_request, 0, 2, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, method, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, path, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, headers, IS_ARRAY, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, body, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeoutMs, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_pool_array, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry pool_methods[] = {
	PHP_ME(PhantomPool_Pool, __construct, arginfo_pool___construct, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Pool, getName, arginfo_pool_getName, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Pool, acquire, arginfo_pool_acquire, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Pool, release, arginfo_pool_release, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Pool, request, arginfo_pool_request, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Pool, getStatus, arginfo_pool_array, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Pool, processStats, arginfo_pool_array, ZEND_ACC_PUBLIC | ZEND_ACC_STATIC)
	PHP_FE_END
};
