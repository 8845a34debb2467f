/* jsonlib.c - see jsonlib.h: libjansson.so.4 loaded on first use. */
#include "jsonlib.h"

#include <dlfcn.h>
#include <pthread.h>

#include "phantompool.h"

/* The real functions, filled in by load(): one field per renamed name,
 * each typed by jansson.h's own prototype (json_loads is pp_jl_loads here,
 * declared by jansson.h). */
static struct {
	__typeof__(json_loads) *loads;
	__typeof__(json_loadb) *loadb;
	__typeof__(json_dumps) *dumps;
	__typeof__(json_delete) *delete;
	__typeof__(json_object_get) *object_get;
	__typeof__(json_string_value) *string_value;
	__typeof__(json_array_size) *array_size;
	__typeof__(json_array_get) *array_get;
	__typeof__(json_array_append_new) *array_append_new;
	__typeof__(json_vpack_ex) *vpack_ex;
} J;

/* field, jansson's name */
#define SYMBOLS(X)                                                                                 \
	X(loads, "json_loads")                                                                     \
	X(loadb, "json_loadb")                                                                     \
	X(dumps, "json_dumps")                                                                     \
	X(delete, "json_delete")                                                                   \
	X(object_get, "json_object_get")                                                           \
	X(string_value, "json_string_value")                                                       \
	X(array_size, "json_array_size")                                                           \
	X(array_get, "json_array_get")                                                             \
	X(array_append_new, "json_array_append_new")                                               \
	X(vpack_ex, "json_vpack_ex")

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int outcome = PP_ENOLIB;

static void load(void)
{
	/* RTLD_LOCAL: the program's own symbol lookups never see it (a
	 * program linked with jansson gets this same object back). */
	void *h = dlopen(PP_JSONLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
#define RESOLVE(field, name)                                 \
	if (!(*(void **)&J.field = dlsym(h, name))) {         \
		dlclose(h);                                   \
		return;                                       \
	}
	SYMBOLS(RESOLVE)
#undef RESOLVE
	outcome = 0;
}

int pp_json_lib(void)
{
	/* pthread_once's return synchronises J's stores with this reader. */
	pthread_once(&once, load);
	return outcome;
}

/* ---- the trampolines (jsonlib.h renamed jansson's names to these) ---- */

json_t *json_loads(const char *input, size_t flags, json_error_t *error)
{
	return J.loads(input, flags, error);
}

json_t *json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error)
{
	return J.loadb(buffer, buflen, flags, error);
}

char *json_dumps(const json_t *json, size_t flags)
{
	return J.dumps(json, flags);
}

void json_delete(json_t *json)
{
	J.delete(json);
}

json_t *json_object_get(const json_t *object, const char *key)
{
	return J.object_get(object, key);
}

const char *json_string_value(const json_t *string)
{
	return J.string_value(string);
}

size_t json_array_size(const json_t *array)
{
	return J.array_size(array);
}

json_t *json_array_get(const json_t *array, size_t index)
{
	return J.array_get(array, index);
}

int json_array_append_new(json_t *array, json_t *value)
{
	return J.array_append_new(array, value);
}

json_t *json_vpack_ex(json_error_t *error, size_t flags, const char *fmt, va_list ap)
{
	return J.vpack_ex(error, flags, fmt, ap);
}
