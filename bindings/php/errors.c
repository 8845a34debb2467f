/* errors.c - PhantomPool\Exception and its subclasses.
 *
 *   PhantomPool\Exception extends RuntimeException
 *       a libphantompool error: getCode() is the negative PP_E* code,
 *       getErrorName() its name ("PP_EDAEMON"), the message carries
 *       pp_strerror()'s text.  One class constant per code
 *       (Exception::EDAEMON === -6).
 *   PhantomPool\TimeoutException extends Exception
 *       PP_ETIMEDOUT: no seat within the acquire timeout, or a request
 *       that ran out of time.
 *   PhantomPool\HttpException extends Exception
 *       PhantomDB answered with a status outside 2xx to a typed method:
 *       getCode() and getStatus() are the HTTP status (positive, so never
 *       mistaken for a PP_E* code), getErrorName() PhantomDB's error code
 *       ("NOT_FOUND", or "HTTP_404" when the body has none), getBody() the
 *       raw body, getError() the decoded {"code","message","details"}.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <php.h>
#include <zend_exceptions.h>
#include <ext/spl/spl_exceptions.h>
#include <ext/json/php_json.h>

#include "php_phantompool.h"

zend_class_entry *ppx_ce_exception;
zend_class_entry *ppx_ce_timeout;
zend_class_entry *ppx_ce_http;

/* Index: -code.  The names of include/phantompool.h's enum pp_error. */
static const char *const error_names[] = {
	"PP_OK", "PP_EINVAL", "PP_ENOPOOL", "PP_EACCES", "PP_EVERSION", "PP_ECORRUPT",
	"PP_EDAEMON", "PP_ETIMEDOUT", "PP_ERELEASED", "PP_ENOTOWNER", "PP_ENOMEM",
	"PP_ESHUTDOWN", "PP_ESYS", "PP_ELOST", "PP_EBACKEND", "PP_EBADPATH",
	"PP_EBADHEADER", "PP_ETOOBIG", "PP_EPROTO", "PP_EBADMETHOD", "PP_ESTATE",
	"PP_ENAME", "PP_ENOLIB",
};
#define N_ERROR_NAMES (int)(sizeof error_names / sizeof error_names[0])
_Static_assert(-PP_ENOLIB == N_ERROR_NAMES - 1, "error_names must list every code of enum pp_error");

const char *ppx_error_name(int err)
{
	return err <= 0 && -err < N_ERROR_NAMES ? error_names[-err] : NULL;
}

void ppx_throw(int err, const char *what, const char *detail)
{
	const char *name = ppx_error_name(err);
	zend_class_entry *ce = err == PP_ETIMEDOUT ? ppx_ce_timeout : ppx_ce_exception;
	zend_object *ex;
	zval tmp;
	/* PP_EDAEMON always comes from the library, which leaves its detail
	 * (the pool, the daemon pid gone: pp_error_detail) on this thread. */
	const char *lib = err == PP_EDAEMON ? pp_error_detail() : NULL;

	ex = zend_throw_exception_ex(ce, err, "%s: %s (%d): %s%s%s%s%s", what, name ? name : "PP_E?", err,
				     pp_strerror(err), detail ? ": " : "", detail ? detail : "",
				     lib ? (detail ? "; " : ": ") : "", lib ? lib : "");
	ZVAL_STRING(&tmp, name ? name : "PP_E?");
	zend_update_property(ce, ex, "errorName", sizeof "errorName" - 1, &tmp);
	zval_ptr_dtor(&tmp);
}

void ppx_throw_http(const char *what, int status, const char *body, size_t body_len)
{
	zval error, tmp;
	zend_object *ex;
	const char *code = NULL, *message = NULL;
	char fallback[16];

	ZVAL_NULL(&error);
	if (body_len > 0 && php_json_decode_ex(&error, body, body_len, PHP_JSON_OBJECT_AS_ARRAY,
					       PHP_JSON_PARSER_DEFAULT_DEPTH) == SUCCESS &&
	    Z_TYPE(error) == IS_ARRAY) {
		zval *c = zend_hash_str_find(Z_ARRVAL(error), "code", 4);
		zval *m = zend_hash_str_find(Z_ARRVAL(error), "message", 7);
		code = c && Z_TYPE_P(c) == IS_STRING ? Z_STRVAL_P(c) : NULL;
		message = m && Z_TYPE_P(m) == IS_STRING ? Z_STRVAL_P(m) : NULL;
	} else {
		zval_ptr_dtor(&error);
		ZVAL_NULL(&error);
	}
	snprintf(fallback, sizeof fallback, "HTTP_%d", status);
	ex = zend_throw_exception_ex(ppx_ce_http, status, "%s: PhantomDB answered %d %s%s%s", what, status,
				     code ? code : fallback, message ? ": " : "", message ? message : "");
	ZVAL_STRING(&tmp, code ? code : fallback);
	zend_update_property(ppx_ce_http, ex, "errorName", sizeof "errorName" - 1, &tmp);
	zval_ptr_dtor(&tmp);
	zend_update_property_stringl(ppx_ce_http, ex, "body", sizeof "body" - 1, body ? body : "", body_len);
	zend_update_property(ppx_ce_http, ex, "error", sizeof "error" - 1, &error);
	zval_ptr_dtor(&error);
}

/* ------------------------------------------------------------------ */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_get_string, 0, 0, IS_STRING, 0)
ZEND_END_ARG_INFO()
ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_get_long, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()
ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_get_array_or_null, 0, 0, IS_ARRAY, 1)
ZEND_END_ARG_INFO()

static zval *read_prop(zval *self, const char *name, size_t len)
{
	zval rv;
	return zend_read_property(Z_OBJCE_P(self), Z_OBJ_P(self), name, len, 1, &rv);
}

/* Exception::getErrorName(): string */
static PHP_METHOD(PhantomPool_Exception, getErrorName)
{
	ZEND_PARSE_PARAMETERS_NONE();
	RETURN_COPY_DEREF(read_prop(ZEND_THIS, "errorName", sizeof "errorName" - 1));
}

/* HttpException::getStatus(): int */
static PHP_METHOD(PhantomPool_HttpException, getStatus)
{
	ZEND_PARSE_PARAMETERS_NONE();
	RETURN_COPY_DEREF(read_prop(ZEND_THIS, "code", sizeof "code" - 1));
}

/* HttpException::getBody(): string */
static PHP_METHOD(PhantomPool_HttpException, getBody)
{
	ZEND_PARSE_PARAMETERS_NONE();
	RETURN_COPY_DEREF(read_prop(ZEND_THIS, "body", sizeof "body" - 1));
}

/* HttpException::getError(): ?array */
static PHP_METHOD(PhantomPool_HttpException, getError)
{
	ZEND_PARSE_PARAMETERS_NONE();
	RETURN_COPY_DEREF(read_prop(ZEND_THIS, "error", sizeof "error" - 1));
}

static const zend_function_entry exception_methods[] = {
	PHP_ME(PhantomPool_Exception, getErrorName, arginfo_get_string, ZEND_ACC_PUBLIC)
	PHP_FE_END
};

static const zend_function_entry http_exception_methods[] = {
	PHP_ME(PhantomPool_HttpException, getStatus, arginfo_get_long, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_HttpException, getBody, arginfo_get_string, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_HttpException, getError, arginfo_get_array_or_null, ZEND_ACC_PUBLIC)
	PHP_FE_END
};

void ppx_errors_minit(void)
{
	zend_class_entry ce;

	INIT_NS_CLASS_ENTRY(ce, "PhantomPool", "Exception", exception_methods);
	ppx_ce_exception = zend_register_internal_class_ex(&ce, spl_ce_RuntimeException);
	zend_declare_property_string(ppx_ce_exception, "errorName", sizeof "errorName" - 1, "",
				     ZEND_ACC_PROTECTED);
	/* Exception::EINVAL = -1 ... one constant per code. */
	for (int i = 1; i < N_ERROR_NAMES; i++)
		zend_declare_class_constant_long(ppx_ce_exception, error_names[i] + 3, strlen(error_names[i] + 3),
						 -i);

	INIT_NS_CLASS_ENTRY(ce, "PhantomPool", "TimeoutException", NULL);
	ppx_ce_timeout = zend_register_internal_class_ex(&ce, ppx_ce_exception);

	INIT_NS_CLASS_ENTRY(ce, "PhantomPool", "HttpException", http_exception_methods);
	ppx_ce_http = zend_register_internal_class_ex(&ce, ppx_ce_exception);
	zend_declare_property_string(ppx_ce_http, "body", sizeof "body" - 1, "", ZEND_ACC_PROTECTED);
	zend_declare_property_null(ppx_ce_http, "error", sizeof "error" - 1, ZEND_ACC_PROTECTED);
}
