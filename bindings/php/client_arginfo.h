/* client_arginfo.h - arginfo and method table of PhantomPool\Client,
 * written by hand to match phantompool.stub.php (gen_stub.php needs a
 * download); tests/api_reflection.phpt checks them against each other. */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_request, 0, 2, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, method, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, path, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, headers, IS_ARRAY, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, body, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeoutMs, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_none, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_createDatabase, 0, 1, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, name, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, options, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_db, 0, 1, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_table, 0, 2, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, table, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_createTable, 0, 3, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, table, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, columns, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_insert, 0, 3, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, table, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, row, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_insertRows, 0, 3, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, table, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, rows, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_select, 0, 2, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, table, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, condition, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_getRows, 0, 2, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, table, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, where, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, orderBy, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, limit, IS_LONG, 0, "0")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, offset, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_update, 0, 4, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, table, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, data, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, condition, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_delete, 0, 3, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, table, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, condition, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_query, 0, 2, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, db, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, sql, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, params, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_beginTransaction, 0, 0, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_tx, 0, 1, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, transactionId, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_release, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_isReleased, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_client_slot, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry client_methods[] = {
	PHP_ME(PhantomPool_Client, request, arginfo_client_request, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, health, arginfo_client_none, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, listDatabases, arginfo_client_none, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, createDatabase, arginfo_client_createDatabase, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, getDatabase, arginfo_client_db, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, dropDatabase, arginfo_client_db, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, listTables, arginfo_client_db, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, createTable, arginfo_client_createTable, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, getTable, arginfo_client_table, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, dropTable, arginfo_client_table, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, insert, arginfo_client_insert, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, insertRows, arginfo_client_insertRows, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, select, arginfo_client_select, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, getRows, arginfo_client_getRows, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, update, arginfo_client_update, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, delete, arginfo_client_delete, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, query, arginfo_client_query, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, beginTransaction, arginfo_client_beginTransaction, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, commitTransaction, arginfo_client_tx, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, rollbackTransaction, arginfo_client_tx, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, release, arginfo_client_release, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, isReleased, arginfo_client_isReleased, ZEND_ACC_PUBLIC)
	PHP_ME(PhantomPool_Client, slot, arginfo_client_slot, ZEND_ACC_PUBLIC)
	PHP_FE_END
};
