/* errors.c - pp_strerror: a name for every PP_E* code.  Lives in shm/ so
 * the dump tool and the daemon share the texts with the client library. */
#include "phantompool.h"

/* One entry per code, indexed by -code. */
static const char *const error_text[] = {
	[0] = "success",
	[-PP_EINVAL] = "invalid argument",
	[-PP_ENOPOOL] = "no such pool (is phantompoold running?)",
	[-PP_EACCES] = "permission denied on the pool's segment",
	[-PP_EVERSION] = "pool segment has another layout version",
	[-PP_ECORRUPT] = "pool segment is corrupt",
	[-PP_EDAEMON] = "phantompoold is not running or was replaced",
	[-PP_ETIMEDOUT] = "timed out",
	[-PP_ERELEASED] = "lease already released",
	[-PP_ENOTOWNER] = "lease belongs to another process or thread",
	[-PP_ENOMEM] = "out of memory",
	[-PP_ESHUTDOWN] = "pool is shutting down",
	[-PP_ESYS] = "unexpected system error",
	[-PP_ELOST] = "lease was reclaimed by the daemon",
	[-PP_EBACKEND] = "PhantomDB backend unreachable",
	[-PP_EBADPATH] = "invalid request path",
	[-PP_EBADHEADER] = "header not allowed or malformed",
	[-PP_ETOOBIG] = "over a configured size limit",
	[-PP_EPROTO] = "malformed frame in a ring",
	[-PP_EBADMETHOD] = "invalid HTTP method",
	[-PP_ESTATE] = "call out of order for this exchange",
	[-PP_ENAME] = "invalid pool name",
	[-PP_ENOLIB] = "a library the call needs is missing (libjansson.so.4)",
};

const char *pp_strerror(int err)
{
	if (err > 0 || -(long)err >= (long)(sizeof error_text / sizeof error_text[0]) || !error_text[-err])
		return "unknown error";
	return error_text[-err];
}
