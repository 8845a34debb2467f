/* errors.c - pp_strerror: a name for every PP_E* code, and the validity
 * check of a code (errors.h).  Lives in shm/ so the dump tool and the
 * daemon share the texts with the client library.  The table below is the
 * one list of codes: a new code gets its text here and is known
 * everywhere. */
#include "errors.h"

#include <errno.h>

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
	[-PP_EPROTO] = "malformed response from PhantomDB, or a malformed frame in a ring",
	[-PP_EBADMETHOD] = "invalid HTTP method",
	[-PP_ESTATE] = "call out of order for this exchange",
	[-PP_ENAME] = "invalid pool name",
	[-PP_ENOLIB] = "a library the call needs is missing (libjansson.so.4)",
};

#define ERROR_TEXTS (sizeof error_text / sizeof error_text[0])

/* The text of a code 0 or below, or NULL when the table has none. */
static const char *text_of(int err)
{
	if (err > 0 || -(long)err >= (long)ERROR_TEXTS)
		return NULL;
	return error_text[-err];
}

int pp_error_from_errno(int neg_errno)
{
	switch (neg_errno < 0 ? -neg_errno : neg_errno) {
	case 0: return 0;
	case EMSGSIZE: return PP_ETOOBIG;
	case EINVAL: return PP_EINVAL;
	case EPROTO: case EBADMSG: return PP_EPROTO;
	case ETIMEDOUT: return PP_ETIMEDOUT;
	case ENOMEM: return PP_ENOMEM;
	case ENOENT: return PP_ENOPOOL;
	case EACCES: case EPERM: return PP_EACCES;
	default: return PP_ESYS;
	}
}

bool pp_error_known(int err)
{
	return err < 0 && text_of(err) != NULL;
}

const char *pp_strerror(int err)
{
	const char *t = text_of(err);
	return t ? t : "unknown error";
}
