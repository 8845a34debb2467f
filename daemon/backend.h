/* backend.h - the PhantomDB nodes the pool talks to: their parsed base
 * URLs, which one is in use, and whether it answers.
 *
 * A node fails when a connect to it fails, or a health check connected to
 * it gets no HTTP answer; it answers with any HTTP answer, or a request's
 * connect.
 *
 * When requests cannot reach the node in use and there is another node
 * not yet tried since the last success, the pool moves to it (failover)
 * and requests go to it at once: an untried node is not down.  When every
 * node has failed in a row (the only one, with a single node), the pool is
 * down: requests then fail at once with PP_EBACKEND (no connect timeout
 * per request), and one idle connection at a time probes GET /health, node
 * after node, with a backoff that doubles from BACKOFF_MIN to BACKOFF_MAX.
 * While a later node is in use, the first one is probed now and then and
 * taken back when it answers. */
#ifndef PD_BACKEND_H
#define PD_BACKEND_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "options.h"

#define PD_BACKOFF_MIN_MS 50
#define PD_BACKOFF_MAX_MS 500  /* so a returning node is found within ~0.5 s */
#define PD_PRIMARY_RETRY_MS 2000
#define PD_REOPEN_MAX_MS 30000 /* longest pause before reopening a min connection (conn.h reopen_ms), without health checks */

struct pd_backends {
	CURLU *urls[PD_MAX_BACKENDS];
	char names[PD_MAX_BACKENDS][128]; /* for logs: scheme://host:port/path */
	uint32_t n;
	_Atomic uint32_t current;        /* index in use */
	/* Every node failed in a row (failed_run == n): fail fast, probe.  Kept
	 * as a flag of its own for the readers that take no lock (fail fast,
	 * settled, the report fast path): n changes under the lock (SIGHUP). */
	_Atomic bool down;
	_Atomic uint32_t failed_run;     /* nodes that failed in a row since the last success, up to n */
	_Atomic uint64_t next_probe_ns;  /* while down: when the next probe may run */
	_Atomic uint32_t backoff_ms;
	_Atomic uint64_t primary_probe_ns; /* while current != 0: next probe of node 0 */
	_Atomic uint32_t gen;            /* bumped when current or the list changes */
	_Atomic uint32_t list;           /* bumped when the list is replaced (SIGHUP) */
	pthread_mutex_t lock;            /* guards urls[] and the transitions */
	struct pp_shm_header *hdr;       /* where the state is published; may be NULL */
};

/* Parse the backend URLs of o (o->backends[0..nbackends)).  Returns 0,
 * or -1 after logging which URL is bad. */
int pd_backends_init(struct pd_backends *b, const struct pd_options *o);

/* Replace the URL list with o's (SIGHUP).  Connections move over as slots
 * use the new list.  Returns 0, or -1 (the old list stays) after logging. */
int pd_backends_replace(struct pd_backends *b, const struct pd_options *o);

void pd_backends_free(struct pd_backends *b);

/* Write the node in use (index, and URL without credentials) and whether
 * it is up into b->hdr (if set).  Takes b->lock: call without it. */
void pd_backends_publish(struct pd_backends *b);

/* A new URL for path on the node in use (or on node *want if it is not
 * UINT32_MAX: probes).  Sets *idx to the node and *gen to the list's
 * generation, which changes whenever the node in use or the list does,
 * and *list (if not NULL) to the list's own (b->list), which changes only
 * when the list is replaced.  The caller owns the result.  NULL on a bad
 * path or no memory. */
CURLU *pd_backend_join(struct pd_backends *b, const char *path, size_t len, uint32_t want,
		       uint32_t *idx, uint32_t *gen, uint32_t *list);

/* The current generation (see pd_backend_join). */
static inline uint32_t pd_backend_gen(struct pd_backends *b)
{
	return atomic_load_explicit(&b->gen, memory_order_acquire);
}

/* True when there is nothing to probe: the first node is in use and
 * answers.  Slot threads then sleep long (PD_QUIET_MS); otherwise they
 * wake every PD_SLICE_MS so probes run on their backoff schedule. */
static inline bool pd_backends_settled(struct pd_backends *b)
{
	return !atomic_load_explicit(&b->down, memory_order_relaxed) &&
	       atomic_load_explicit(&b->current, memory_order_relaxed) == 0;
}

/* True while the node in use is down and no probe is due: fail requests
 * fast with PP_EBACKEND. */
bool pd_backend_fail_fast(struct pd_backends *b);

/* Whether this thread should probe now, and which node.  At most one
 * caller wins each due probe. */
bool pd_backend_probe_due(struct pd_backends *b, uint32_t *idx);

/* Report the outcome of a request or probe on node idx of the list `list`
 * (b->list when its node was picked): reached it (any HTTP answer) or not
 * (why: libcurl's error text, for the log).  Drives down/up, backoff and
 * failover; logs each transition once.  The outcome on a node of a list
 * since replaced says nothing of the new list's node idx: ignored. */
void pd_backend_report(struct pd_backends *b, uint32_t idx, uint32_t list, bool reached, const char *why);

#endif
