/* backend.c - see backend.h. */
#include "backend.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "url.h"

/* A display name without credentials: scheme://host[:port][path]. */
static void backend_name(CURLU *u, char *buf, size_t len)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	snprintf(buf, len, "%s://%s%s%s%s", scheme ? scheme : "?", host ? host : "?", port ? ":" : "",
		 port ? port : "", path && strcmp(path, "/") ? path : "");
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
}

/* Parse o's backend URLs into fresh arrays.  Returns 0 or -1. */
static int parse_all(const struct pd_options *o, CURLU **out, char (*names)[128])
{
	uint32_t n = o->nbackends;
	if (n < 1 || n > PD_MAX_BACKENDS)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (!(out[i] = pd_url_base(o->backends[i]))) {
			while (i--)
				curl_url_cleanup(out[i]);
			return -1;
		}
		backend_name(out[i], names[i], sizeof names[i]);
	}
	return 0;
}

void pd_backends_publish(struct pd_backends *b)
{
	if (!b->hdr)
		return;
	/* The lock: names[] and n change with a reload's list. */
	pthread_mutex_lock(&b->lock);
	uint32_t cur = atomic_load(&b->current);
	atomic_store_explicit(&b->hdr->backend_index, cur, memory_order_relaxed);
	atomic_store_explicit(&b->hdr->backend_up, !atomic_load(&b->down), memory_order_relaxed);
	/* The URL in use, without credentials, for phantompool-shmdump.
	 * Display only: a reader racing this copy may see a mix of the old
	 * and the new name once. */
	if (cur < b->n && strncmp(b->hdr->backend, b->names[cur], sizeof b->hdr->backend) != 0)
		snprintf(b->hdr->backend, sizeof b->hdr->backend, "%s", b->names[cur]);
	pthread_mutex_unlock(&b->lock);
}

int pd_backends_init(struct pd_backends *b, const struct pd_options *o)
{
	uint32_t n = o->nbackends;
	struct pp_shm_header *hdr = b->hdr;
	memset(b, 0, sizeof *b);
	b->hdr = hdr;
	if (parse_all(o, b->urls, b->names) < 0)
		return -1;
	b->n = n;
	atomic_store(&b->backoff_ms, PD_BACKOFF_MIN_MS);
	pthread_mutex_init(&b->lock, NULL);
	pd_backends_publish(b);
	return 0;
}

int pd_backends_replace(struct pd_backends *b, const struct pd_options *o)
{
	CURLU *nu[PD_MAX_BACKENDS];
	char names[PD_MAX_BACKENDS][128];
	uint32_t n = o->nbackends;
	if (parse_all(o, nu, names) < 0)
		return -1;
	pthread_mutex_lock(&b->lock);
	for (uint32_t i = 0; i < b->n; i++)
		curl_url_cleanup(b->urls[i]);
	memcpy(b->urls, nu, sizeof nu[0] * n);
	memcpy(b->names, names, sizeof names[0] * n);
	b->n = n;
	atomic_store(&b->current, 0);
	atomic_fetch_add(&b->gen, 1);
	atomic_fetch_add(&b->list, 1);
	atomic_store(&b->down, false);
	atomic_store(&b->failed_run, 0);
	atomic_store(&b->backoff_ms, PD_BACKOFF_MIN_MS);
	pthread_mutex_unlock(&b->lock);
	pd_backends_publish(b);
	return 0;
}

void pd_backends_free(struct pd_backends *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		curl_url_cleanup(b->urls[i]);
	b->n = 0;
	pthread_mutex_destroy(&b->lock);
}

CURLU *pd_backend_join(struct pd_backends *b, const char *path, size_t len, uint32_t want,
		       uint32_t *idx, uint32_t *gen, uint32_t *list)
{
	pthread_mutex_lock(&b->lock);
	uint32_t i = want != UINT32_MAX ? want : atomic_load(&b->current);
	if (i >= b->n)
		i = 0;
	*idx = i;
	*gen = atomic_load(&b->gen);
	if (list)
		*list = atomic_load(&b->list);
	CURLU *u = pd_url_join(b->urls[i], path, len);
	pthread_mutex_unlock(&b->lock);
	return u;
}

bool pd_backend_fail_fast(struct pd_backends *b)
{
	return atomic_load_explicit(&b->down, memory_order_relaxed) &&
	       pp_now_ns() < atomic_load_explicit(&b->next_probe_ns, memory_order_relaxed);
}

bool pd_backend_probe_due(struct pd_backends *b, uint32_t *idx)
{
	uint64_t now = pp_now_ns();
	bool down = atomic_load_explicit(&b->down, memory_order_relaxed);
	_Atomic uint64_t *when = down ? &b->next_probe_ns : &b->primary_probe_ns;
	uint64_t due = atomic_load_explicit(when, memory_order_relaxed);
	if (!down && atomic_load(&b->current) == 0)
		return false; /* on the first node and it answers: nothing to probe */
	if (now < due)
		return false;
	/* Win the probe: push the due time out so nobody else probes now. */
	uint64_t later = now + (uint64_t)(down ? atomic_load(&b->backoff_ms) : PD_PRIMARY_RETRY_MS) * PP_NS_PER_MS;
	if (!atomic_compare_exchange_strong(when, &due, later))
		return false;
	*idx = down ? atomic_load(&b->current) : 0;
	return true;
}

/* Move to the node after cur (the lock is held). */
static void fail_over(struct pd_backends *b, uint32_t cur)
{
	uint32_t next = (cur + 1) % b->n;
	atomic_store(&b->current, next);
	atomic_fetch_add(&b->gen, 1);
	if (b->hdr)
		atomic_fetch_add_explicit(&b->hdr->backend_failovers, 1, memory_order_relaxed);
	pd_warn("failing over from backend %s to %s", b->names[cur], b->names[next]);
}

/* Node idx failed.  Another node not tried since the last success: move
 * to it, and requests go there at once (not down).  Every node failed in
 * a row: mark down (once), double the backoff, and probe the next node
 * when it is due. */
static void report_failure(struct pd_backends *b, uint32_t idx, const char *why)
{
	uint32_t cur = atomic_load(&b->current);
	if (idx != cur)
		return; /* a probe of the first node, or a node already left behind */
	uint32_t run = atomic_load(&b->failed_run) + 1;
	if (run <= b->n)
		atomic_store(&b->failed_run, run); /* counts up to n: "all failed" */
	if (run < b->n) {
		pd_warn("backend %s unreachable (%s)", b->names[cur], why && *why ? why : "no answer");
		fail_over(b, cur);
		return;
	}
	uint32_t bo = atomic_load(&b->backoff_ms);
	if (!atomic_exchange(&b->down, true)) {
		pd_warn("backend %s down (%s); failing requests fast, probing with backoff", b->names[cur],
			why && *why ? why : "unreachable");
		bo = PD_BACKOFF_MIN_MS;
	} else {
		bo = bo * 2 > PD_BACKOFF_MAX_MS ? PD_BACKOFF_MAX_MS : bo * 2;
	}
	atomic_store(&b->backoff_ms, bo);
	if (b->n > 1)
		fail_over(b, cur); /* the next probe tries the next node */
	atomic_store(&b->next_probe_ns, pp_now_ns() + (uint64_t)bo * PP_NS_PER_MS);
}

/* Node idx answered: up again, or back to the first node. */
static void report_success(struct pd_backends *b, uint32_t idx)
{
	uint32_t cur = atomic_load(&b->current);
	if (idx != cur) {
		if (idx == 0) {
			atomic_store(&b->failed_run, 0);
			atomic_store(&b->current, 0);
			atomic_fetch_add(&b->gen, 1);
			atomic_store(&b->primary_probe_ns, 0);
			atomic_store(&b->down, false);
			pd_info("backend %s answers again; moving back to it", b->names[0]);
		}
		return;
	}
	atomic_store(&b->failed_run, 0);
	if (atomic_exchange(&b->down, false)) {
		atomic_store(&b->backoff_ms, PD_BACKOFF_MIN_MS);
		pd_info("backend %s up", b->names[cur]);
	}
	if (cur != 0 && !atomic_load(&b->primary_probe_ns))
		atomic_store(&b->primary_probe_ns, pp_now_ns() + PD_PRIMARY_RETRY_MS * PP_NS_PER_MS);
}

void pd_backend_report(struct pd_backends *b, uint32_t idx, uint32_t list, bool reached, const char *why)
{
	/* The common case, a working node reporting success, takes no lock. */
	if (reached && !atomic_load_explicit(&b->down, memory_order_relaxed) &&
	    !atomic_load_explicit(&b->failed_run, memory_order_relaxed) &&
	    idx == atomic_load_explicit(&b->current, memory_order_relaxed))
		return;
	pthread_mutex_lock(&b->lock);
	/* Under the lock: pd_backends_replace holds it while it swaps lists. */
	bool stale = list != atomic_load(&b->list);
	if (!stale && reached)
		report_success(b, idx);
	else if (!stale)
		report_failure(b, idx, why);
	pthread_mutex_unlock(&b->lock);
	pd_backends_publish(b);
}
