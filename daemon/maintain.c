/* maintain.c - see maintain.h. */
#include "maintain.h"

#include "backend.h"
#include "clock.h"
#include "exchange.h"
#include "log.h"
#include "stats.h"

bool pd_health_check(struct pd_slot_worker *w, uint32_t backend)
{
	struct pd_exchange x = { .w = w, .internal = true };
	uint32_t idx, gen;
	CURLU *url = pd_backend_join(&w->d->backends, "/health", 7, backend, &idx, &gen);
	if (!url)
		return false;
	struct pp_slot *s = pd_wslot(w);
	if (!atomic_load_explicit(&s->conn_since_ns, memory_order_relaxed))
		pd_set_conn_state(w, PP_CONN_CONNECTING);
	pd_set_method(w->easy, "GET", 0);
	curl_easy_setopt(w->easy, CURLOPT_CURLU, url);
	curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, (long)pd_live(w->d)->opt.connect_timeout_ms);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(w->easy, CURLOPT_ERRORBUFFER, x.errbuf);
	bool interrupted;
	CURLcode res = pd_run_transfer(w, &x, &interrupted);
	long status = 0;
	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
	pd_note_connection(w, idx);
	curl_easy_setopt(w->easy, CURLOPT_CURLU, NULL);
	curl_url_cleanup(url);
	pd_req_cache_clear(&w->cache); /* the handle no longer points at the cached URL */
	bool reached = !pd_curl_unreachable(w->easy, res);
	bool healthy = res == CURLE_OK && status >= 200 && status < 300;
	pd_backend_report(&w->d->backends, idx, reached, x.errbuf[0] ? x.errbuf : curl_easy_strerror(res));
	pd_set_conn_state(w, res == CURLE_OK ? PP_CONN_UP : PP_CONN_DOWN);
	if (res != CURLE_OK)
		atomic_store_explicit(&s->conn_since_ns, 0, memory_order_relaxed);
	pp_stats_begin(s);
	atomic_fetch_add_explicit(&s->health_checks, 1, memory_order_relaxed);
	if (!healthy)
		atomic_fetch_add_explicit(&s->health_failures, 1, memory_order_relaxed);
	pp_stats_end(s);
	if (!healthy)
		pd_debug("slot %u: health check of backend %u: %s (HTTP %ld)", w->idx, idx,
			 res == CURLE_OK ? "unhealthy" : x.errbuf[0] ? x.errbuf : curl_easy_strerror(res), status);
	atomic_store_explicit(&w->last_used_ns, pp_now_ns(), memory_order_relaxed);
	return healthy;
}

/* When a connection last used at `last` is due its next health check, and
 * when it may be closed as idle: UINT64_MAX when never (the setting is
 * off, or the slot keeps one of the min connections). */
static uint64_t health_at(const struct pd_options *o, uint64_t last)
{
	return o->health_interval_ms ? last + (uint64_t)o->health_interval_ms * PP_NS_PER_MS : UINT64_MAX;
}

static uint64_t idle_close_at(const struct pd_slot_worker *w, const struct pd_options *o, uint64_t last)
{
	return w->idx >= o->min_conns && o->idle_timeout_ms ? last + (uint64_t)o->idle_timeout_ms * PP_NS_PER_MS
							    : UINT64_MAX;
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t pd_upkeep_due(struct pd_slot_worker *w)
{
	const struct pd_options *o = &pd_live(w->d)->opt;
	uint64_t last = atomic_load_explicit(&w->last_used_ns, memory_order_relaxed);
	if (!atomic_load_explicit(&pd_wslot(w)->conn_since_ns, memory_order_relaxed))
		return UINT64_MAX;
	return earlier(health_at(o, last), idle_close_at(w, o, last));
}

uint64_t pd_maintain(struct pd_slot_worker *w)
{
	struct pd_daemon *d = w->d;
	const struct pd_options *o = &pd_live(d)->opt;
	struct pp_slot *s = pd_wslot(w);
	uint64_t now = pp_now_ns();
	uint64_t last = atomic_load_explicit(&w->last_used_ns, memory_order_relaxed);
	uint64_t idle = now - last;
	uint32_t probe_idx;
	bool connected = atomic_load_explicit(&s->conn_since_ns, memory_order_relaxed) != 0;
	uint64_t check_at = connected ? health_at(o, last) : UINT64_MAX;
	uint64_t drop_at = connected ? idle_close_at(w, o, last) : UINT64_MAX;
	if (pd_backend_probe_due(&d->backends, &probe_idx)) {
		pd_health_check(w, probe_idx);
	} else if (now >= check_at) {
		pd_health_check(w, UINT32_MAX);
	} else if (!connected && w->idx < o->min_conns && !pd_backend_fail_fast(&d->backends)) {
		if (idle < (uint64_t)PD_BACKOFF_MIN_MS * PP_NS_PER_MS)
			return 0;
		pd_health_check(w, UINT32_MAX); /* keep min connections open */
	} else if (now >= drop_at) {
		pd_info("slot %u: closing connection idle for %llu ms", w->idx,
			(unsigned long long)(idle / PP_NS_PER_MS));
		pd_slot_drop_connection(w);
	} else {
		return earlier(check_at, drop_at); /* pd_upkeep_due, from what we read */
	}
	return 0;
}
