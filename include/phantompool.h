/* phantompool.h - client library for the phantompool shared-memory pool.
 *
 * A worker process attaches to a pool served by phantompoold on the same
 * host, leases a slot (one of the daemon's warm PhantomDB connections),
 * uses it, and releases it.  Every function returns 0 or a negative PP_E*
 * code; pp_strerror() names each code.  Handles are opaque; every destroy
 * function accepts NULL.
 *
 * Threads and fork:
 *  - A pp_pool handle is thread-safe: any number of threads may lease
 *    through one handle at once.
 *  - A lease belongs to the thread that took it: release it from that
 *    thread.  If that thread (or its process) dies, the daemon reclaims the
 *    slot within 100 ms.
 *  - A handle attached before fork() works in the children (pre-fork
 *    servers attach in the parent).  A lease never crosses a fork: in the
 *    child, the parent's leases are refused with PP_ENOTOWNER and stay the
 *    parent's.
 */
#ifndef PHANTOMPOOL_H
#define PHANTOMPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PP_VERSION_MAJOR 0
#define PP_VERSION_MINOR 1
#define PP_VERSION_PATCH 0
#define PP_VERSION_NUMBER (PP_VERSION_MAJOR * 10000 + PP_VERSION_MINOR * 100 + PP_VERSION_PATCH)

#if defined(__GNUC__)
#define PP_EXPORT __attribute__((visibility("default")))
#define PP_NODISCARD __attribute__((warn_unused_result))
#else
#define PP_EXPORT
#define PP_NODISCARD
#endif

/* Error codes: 0 is success, every error is negative.  Append-only: a
 * code's number never changes once released. */
enum pp_error {
	PP_OK = 0,
	PP_EINVAL = -1,     /* invalid argument: NULL handle, bad value */
	PP_ENOPOOL = -2,    /* no such pool: no segment of that name */
	PP_EACCES = -3,     /* permission denied on the pool's segment */
	PP_EVERSION = -4,   /* segment has another layout version */
	PP_ECORRUPT = -5,   /* segment fails validation (magic, size, layout) */
	PP_EDAEMON = -6,    /* daemon not running, died, or was replaced */
	PP_ETIMEDOUT = -7,  /* the time allowed ran out */
	PP_ERELEASED = -8,  /* lease already released (double release) */
	PP_ENOTOWNER = -9,  /* lease belongs to another process or thread */
	PP_ENOMEM = -10,    /* out of memory */
	PP_ESHUTDOWN = -11, /* pool is draining: no new leases */
	PP_ESYS = -12,      /* unexpected system error; errno tells more */
	PP_ELOST = -13,     /* lease was reclaimed (slot reset by the daemon) */
	PP_EBACKEND = -14,  /* PhantomDB unreachable or connection failed */
	PP_EBADPATH = -15,  /* path empty, not starting with '/', or has CR/LF/space/NUL */
	PP_EBADHEADER = -16, /* header not allowed, or malformed */
	PP_ETOOBIG = -17,   /* body or field over a configured limit */
	PP_EPROTO = -18,    /* malformed response from PhantomDB, or frame in a ring */
	PP_EBADMETHOD = -19, /* method is not an HTTP token, or is CONNECT */
	PP_ESTATE = -20,    /* call out of order for this lease's exchange */
	PP_ENAME = -21,     /* pool name invalid (allowed: [A-Za-z0-9._-], 1..40) */
	PP_ENOLIB = -22,    /* a library the call needs is missing: libjansson.so.4 (typed helpers with JSON) */
};

typedef struct pp_pool pp_pool;
/* A lease is a `struct pp_lease *` (the name pp_lease is the function). */
struct pp_lease;

/* Pool status, the fields of the PhantomDB client pools' get_status(). */
typedef struct pp_pool_status {
	uint32_t available;    /* slots free to lease now */
	uint32_t used;         /* slots leased (or being reclaimed) */
	uint32_t min;          /* connections the daemon keeps warm */
	uint32_t max;          /* seats (--seats): most leases held at once;
	                        * conns_max below counts connections */
	uint32_t waiting;      /* workers waiting for a lease now */
	int32_t daemon_pid;    /* pid of the serving phantompoold */
	uint64_t generation;   /* changes at every daemon start */
	uint64_t leases;       /* leases granted since the daemon started */
	uint64_t lease_timeouts; /* pp_lease calls that timed out */
	uint64_t reclaims;     /* slots reclaimed from dead holders */
	/* The figures phantompool-shmdump shows (all since the daemon started;
	 * counters are free-running: compare two readings by difference). */
	uint64_t lease_waits;        /* leases that had to sleep */
	uint64_t lease_wait_p50_ns;  /* estimates from a log2 histogram, */
	uint64_t lease_wait_p99_ns;  /*   counting leases that did not sleep as 0 */
	uint64_t lease_wait_max_ns;
	uint64_t requests;           /* exchanges served */
	uint64_t errors;             /* exchanges that ended in an error */
	uint64_t bytes_in;           /* request body bytes sent to PhantomDB */
	uint64_t bytes_out;          /* response body bytes received */
	uint64_t connects;           /* backend connections opened */
	uint64_t reconnects;         /* ... opened again (failure, reset, idle close, lifetime, node change) */
	uint64_t health_checks;
	uint64_t health_failures;
	uint64_t backend_failovers;  /* moves to another backend URL */
	uint32_t backend_index;      /* which configured backend is in use */
	uint32_t backend_up;         /* 0 while every backend failed its last attempt (requests fail fast) */
	uint64_t uptime_ns;          /* since the daemon started */
	/* Seats apart from connections (appended: the fields above keep their
	 * offsets).  `max` above counts seats (slots, --seats); the daemon
	 * opens at most conns_max backend connections (--max). */
	uint32_t conns_max;          /* backend connections at most */
	uint32_t conns_open;         /* open now */
	uint32_t conns_busy;         /* serving an exchange or a health check now */
	uint32_t queued;             /* exchanges waiting for an idle connection now */
	uint64_t queue_waits;        /* exchanges that waited for a connection */
	uint64_t queue_wait_p50_ns;  /* estimates from a log2 histogram of those waits */
	uint64_t queue_wait_p99_ns;
	uint64_t queue_wait_max_ns;
} pp_pool_status;

/* Attach to a pool.  pool NULL or "" means $PHANTOMPOOL, else "default".
 * On success *out is a handle for pp_detach().  Returns PP_ENAME,
 * PP_ENOPOOL (no daemon has created it), PP_EACCES, PP_EVERSION,
 * PP_ECORRUPT, PP_EDAEMON (segment left by a dead daemon, or the daemon
 * is still starting), PP_ENOMEM, PP_ESYS (a system call on the segment
 * or the doorbells failed: pp_error_detail() names the cause), PP_EINVAL
 * (out NULL). */
PP_EXPORT PP_NODISCARD int pp_attach(const char *pool, pp_pool **out);

/* Detach and free the handle.  Leases still held by the calling thread
 * are released first.  A lease another thread of this process holds
 * stays valid (only its thread can release it): its segment stays mapped
 * and that thread's pp_release still works, but the mapping is never
 * unmapped.  Accepts NULL.  In a forked child, frees only the child's
 * copy; the parent's leases are left alone. */
PP_EXPORT void pp_detach(pp_pool *p);

/* Lease a slot, waiting up to timeout_ms (0: don't wait; negative: wait
 * forever).  On success *out is the lease, valid until pp_release().
 * Returns PP_ETIMEDOUT, PP_EDAEMON (daemon died or stopped while waiting),
 * PP_ESHUTDOWN (pool draining), PP_EINVAL, PP_ENOMEM (following a
 * restarted daemon to its new segment).  The uncontended path makes no
 * system call.  Waiting is fair within a bound: once the longest-waiting
 * caller has waited 20 ms, each released slot goes straight to it (first
 * come, first served; a caller that does not take it within 100 ms, being
 * stopped for instance, loses it and queues again); before that, a caller that releases and leases
 * again at once may keep its slot (no hand-over sleep for every request
 * when workers outnumber slots), and a slot freed meanwhile is taken by
 * the longest-waiting caller within about a millisecond. */
PP_EXPORT PP_NODISCARD int pp_lease(pp_pool *p, int timeout_ms, struct pp_lease **out);

/* Return a lease to the pool.  After success the pointer is dead.
 * Returns PP_EINVAL (NULL), PP_ERELEASED (already released),
 * PP_ENOTOWNER (taken by another process or thread: nothing changes),
 * PP_ELOST (the daemon had already reclaimed it). */
PP_EXPORT int pp_release(struct pp_lease *l);

/* Index of the slot a lease holds (for logs), or -1 for NULL. */
PP_EXPORT int pp_lease_slot(const struct pp_lease *l);

/* Fill *out with the pool's current figures, read from the segment
 * without locks.  Returns PP_EINVAL, PP_EDAEMON (daemon gone). */
PP_EXPORT int pp_status(pp_pool *p, pp_pool_status *out);

/* A static English description of an error code (never NULL). */
PP_EXPORT const char *pp_strerror(int err);

/* The detail behind the calling thread's last error, like dlerror(): what
 * the failing call found and how to fix it, in one English sentence or
 * two, e.g. for PP_EACCES "pool \"app\" (given by the caller): permission
 * denied opening /dev/shm/phantompool-app read-write: mode 0600, owner
 * root (uid 0), group root (gid 0); this process runs as uid 33
 * (www-data), gid 33 (www-data), groups 33. Fix: set group = www-data,
 * mode = 0660 in phantompoold's config (see phantompoold(8): mode, group)".
 * Returns NULL when the last failing call left no detail.
 *
 * Which calls set and clear it: pp_attach clears it on entry and, when it
 * fails, leaves a detail for PP_ENAME, PP_ENOPOOL, PP_EACCES, PP_EVERSION,
 * PP_ECORRUPT, PP_EDAEMON and PP_ESYS (the pool name and where it came
 * from, the segment's path, mode, owner and group, the caller's uid and
 * groups, the header found).  pp_lease, pp_do, every helper built on it,
 * pp_status, pp_request and the pp_stream_* calls, when they fail, leave a
 * detail for PP_EDAEMON (the pool and the daemon pid that is gone) and
 * clear it for any other code.  A successful call leaves it unchanged, as
 * errno: read it right after a call that returned an error.  No other
 * function touches it.
 *
 * Thread-safety and lifetime: one detail per thread, never shared; the
 * string belongs to the library and stays valid until the calling thread
 * next calls one of the functions above, or exits.  Formatting happens on
 * the failure path of pp_attach, and for the calls on a pool only when
 * pp_error_detail() is called (their failure path copies the pool name). */
PP_EXPORT const char *pp_error_detail(void);

/* PP_VERSION_NUMBER of the library actually loaded. */
PP_EXPORT int pp_version(void);

/* For bindings that declare the public structs by hand (ctypes, cgo, Rust
 * FFI, Node-API): the size the loaded library gives each struct.  Compare
 * it with your own declaration when you load the library and refuse to run
 * on a mismatch.  Returns 0 for an unknown `which`. */
enum pp_abi_struct {
	PP_ABI_REQ = 1,     /* pp_req */
	PP_ABI_RESP = 2,    /* pp_resp */
	PP_ABI_HEADER = 3,  /* pp_header */
	PP_ABI_STATUS = 4,  /* pp_pool_status */
	PP_ABI_COLUMN = 5,  /* pp_column */
};
PP_EXPORT size_t pp_abi_size(int which);

/* ------------------------------------------------------------------ */
/* Requests.  A request is forwarded to PhantomDB on the slot's own warm
 * keep-alive connection; the daemon adds the bearer token, Host and
 * keep-alive.  Workers may set only these headers: Content-Type, Accept,
 * X-Request-Id (any other, or a second Content-Type or X-Request-Id,
 * gives PP_EBADHEADER). */

typedef struct pp_header {
	const char *name;
	const char *value;
} pp_header;

typedef struct pp_req {
	const char *method;        /* "GET", "POST", ... (an HTTP token) */
	const char *path;          /* "/databases/x?limit=3", relative to the
	                              daemon's base URL (which may carry a
	                              prefix such as /api/v1); must start with
	                              '/', no CR, LF, space, NUL or controls */
	const pp_header *headers;  /* may be NULL */
	size_t nheaders;
	const void *body;          /* may be NULL when body_len is 0 */
	size_t body_len;
	int timeout_ms;            /* 0: the daemon's request timeout;
	                              negative: PP_EINVAL */
} pp_req;

typedef struct pp_resp {
	int status;                /* HTTP status, e.g. 200 */
	char content_type[128];    /* "" when the backend sent none */
	char request_id[128];      /* X-Request-Id of the response, "" if none */
	char *body;                /* malloc'd, NUL-terminated (not counted in
	                              body_len); free with pp_resp_free() */
	size_t body_len;
} pp_resp;

/* Send one request on a lease and read the whole response into *resp.
 * Returns 0 when a response arrived (whatever its status), or
 * PP_EINVAL, PP_EBADMETHOD, PP_EBADPATH, PP_EBADHEADER, PP_ETOOBIG (the
 * body over the pool's max_body, or a head larger than the ring can
 * carry; a response has no size limit: it is read whole into memory),
 * PP_EBACKEND (PhantomDB unreachable or the connection broke),
 * PP_ETIMEDOUT, PP_EDAEMON, PP_EPROTO, PP_ENOMEM, PP_ENOTOWNER,
 * PP_ERELEASED, PP_ESTATE.  After an error the lease stays valid, and
 * usable for the next request unless the error left the rings in doubt:
 * after PP_EPROTO (a malformed response or frame), PP_EDAEMON, PP_ELOST,
 * PP_ENOMEM in the middle of the exchange, or PP_ETIMEDOUT when even the
 * daemon's error did not come (2 s past the request timeout), every call
 * on the lease but pp_release returns PP_ESTATE: release it (the daemon
 * resets its seat) and lease again.  Every argument (req's pointers, method,
 * path, headers, body against body_len, the limits) is checked before
 * anything is sent: a refused request changes nothing.  *resp (if not
 * NULL) is zeroed first, so pp_resp_free() is safe after any return. */
PP_EXPORT PP_NODISCARD int pp_request(struct pp_lease *l, const pp_req *req, pp_resp *resp);

/* Lease (waiting up to the pool's acquire timeout), pp_request, release.
 * Bad arguments are refused before a slot is taken. */
PP_EXPORT PP_NODISCARD int pp_do(pp_pool *p, const pp_req *req, pp_resp *resp);

/* Free a response's body and zero it.  Accepts NULL. */
PP_EXPORT void pp_resp_free(pp_resp *resp);

/* Streaming, for bodies of any size through the fixed-size rings:
 *   pp_stream_begin(l, req, body_len)  head of the request; req->body is
 *        ignored; body_len is the exact length, or -1 for "unknown"
 *   pp_stream_write(l, buf, n)         request body bytes (any number of calls)
 *   pp_stream_read_head(l, resp)       finishes the request, waits for the
 *        response head: fills status, content_type, request_id (body NULL)
 *   pp_stream_read(l, buf, n)          response body bytes (n >= 1): returns
 *        the count (> 0), 0 at the end of the body, or a negative PP_E* code
 * Each returns 0 or a PP_E* code as pp_request does (and, as there, an
 * error that leaves the rings in doubt leaves only pp_release); PP_ESTATE
 * when called out of this order.  A call refused for its arguments (PP_EINVAL,
 * PP_EBADMETHOD, PP_EBADPATH, PP_EBADHEADER, PP_ETOOBIG for bytes beyond
 * body_len or the body limit, PP_ESTATE) changes nothing: the exchange
 * goes on from where it was.  Releasing the lease mid-exchange is
 * allowed: the daemon resets the connection. */
PP_EXPORT PP_NODISCARD int pp_stream_begin(struct pp_lease *l, const pp_req *req, int64_t body_len);
PP_EXPORT PP_NODISCARD int pp_stream_write(struct pp_lease *l, const void *buf, size_t n);
PP_EXPORT PP_NODISCARD int pp_stream_read_head(struct pp_lease *l, pp_resp *resp);
PP_EXPORT PP_NODISCARD long pp_stream_read(struct pp_lease *l, void *buf, size_t n);

/* ------------------------------------------------------------------ */
/* Typed helpers for the PhantomDB routes.  Each runs one pp_do() and
 * returns as pp_do does (0 when a response arrived: check resp->status;
 * the JSON body is in resp->body).  Names are URL-escaped into the path;
 * JSON bodies are built with a JSON library.  Arguments documented as
 * "JSON" must be valid JSON text of the stated kind, else PP_EINVAL. */

typedef struct pp_column {
	const char *name;
	const char *type;          /* e.g. "INTEGER", "TEXT" */
	int nullable;
	int primary_key;
	const char *default_json;  /* JSON value text, or NULL for none */
} pp_column;

PP_EXPORT PP_NODISCARD int pp_health(pp_pool *p, pp_resp *resp);                          /* GET /health */
PP_EXPORT PP_NODISCARD int pp_list_databases(pp_pool *p, pp_resp *resp);                  /* GET /databases */
PP_EXPORT PP_NODISCARD int pp_create_database(pp_pool *p, const char *db, pp_resp *resp); /* POST /databases */
PP_EXPORT PP_NODISCARD int pp_get_database(pp_pool *p, const char *db, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_drop_database(pp_pool *p, const char *db, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_list_tables(pp_pool *p, const char *db, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_create_table(pp_pool *p, const char *db, const char *table,
					   const pp_column *cols, size_t ncols, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_get_table(pp_pool *p, const char *db, const char *table, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_drop_table(pp_pool *p, const char *db, const char *table, pp_resp *resp);
/* POST .../rows {"rows": rows_json}; rows_json: a JSON array of objects. */
PP_EXPORT PP_NODISCARD int pp_insert_rows(pp_pool *p, const char *db, const char *table,
					  const char *rows_json, pp_resp *resp);
/* GET .../rows?where=&orderBy=&limit=&offset= (NULL / limit 0 / offset 0: omitted). */
PP_EXPORT PP_NODISCARD int pp_get_rows(pp_pool *p, const char *db, const char *table, const char *where,
				       const char *order_by, int limit, int offset, pp_resp *resp);
/* POST /databases/{db}/query; params_json: a JSON array, or NULL for []. */
PP_EXPORT PP_NODISCARD int pp_query(pp_pool *p, const char *db, const char *sql,
				    const char *params_json, pp_resp *resp);
/* The existing clients' calls: insert one row object, select/update/delete by condition. */
PP_EXPORT PP_NODISCARD int pp_insert(pp_pool *p, const char *db, const char *table,
				     const char *row_json, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_select(pp_pool *p, const char *db, const char *table,
				     const char *condition, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_update(pp_pool *p, const char *db, const char *table,
				     const char *data_json, const char *condition, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_delete(pp_pool *p, const char *db, const char *table,
				     const char *condition, pp_resp *resp);
/* POST /transactions; on a 2xx the id is copied to id_out (NUL-terminated;
 * PP_ETOOBIG if it does not fit). */
PP_EXPORT PP_NODISCARD int pp_tx_begin(pp_pool *p, char *id_out, size_t id_len, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_tx_commit(pp_pool *p, const char *tx_id, pp_resp *resp);
PP_EXPORT PP_NODISCARD int pp_tx_rollback(pp_pool *p, const char *tx_id, pp_resp *resp);

#ifdef __cplusplus
}
#endif

#endif
