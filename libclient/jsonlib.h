/* jsonlib.h - jansson for the typed helpers, loaded when first needed.
 *
 * libphantompool.so does not link libjansson: a CGI program that never
 * calls a helper with a JSON body loads one shared object fewer (about
 * 0.1 ms a run, docs/BENCHMARKS.md).  Include this instead of <jansson.h>:
 * it renames, before jansson.h declares them, the jansson functions the
 * helpers call (json_decref's inline included, through json_delete) to
 * trampolines in jsonlib.c, which call libjansson.so.4 once pp_json_lib()
 * has loaded it.  jansson.h's prototypes thus type-check every call.
 *
 * Contract: call pp_json_lib() first, and no other function declared here
 * unless it returned 0.  To use another jansson function, add it to the list
 * below and, in jsonlib.c, to the struct J, to SYMBOLS and as a trampoline.
 */
#ifndef PP_JSONLIB_H
#define PP_JSONLIB_H

#define json_loads pp_jl_loads
#define json_loadb pp_jl_loadb
#define json_dumps pp_jl_dumps
#define json_delete pp_jl_delete
#define json_object_get pp_jl_object_get
#define json_string_value pp_jl_string_value
#define json_array_size pp_jl_array_size
#define json_array_get pp_jl_array_get
#define json_array_append_new pp_jl_array_append_new
#define json_vpack_ex pp_jl_vpack_ex

#include <jansson.h>

/* The soname loaded: the ABI of Debian's libjansson4 (jansson 2.x). */
#define PP_JSONLIB_SONAME "libjansson.so.4"

/* Load libjansson.so.4 and resolve the functions above, once per process
 * (thread-safe; later calls return the first outcome).  Returns 0, or
 * PP_ENOLIB when the library or one of the functions is missing. */
int pp_json_lib(void);

#endif
