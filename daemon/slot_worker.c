/* slot_worker.c - see slot_worker.h: the slot threads, their libcurl
 * handles, and slot resets. */
#include "slot_worker.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <bsd/stdlib.h>

#include "clock.h"
#include "exchange.h"
#include "futex.h"
#include "log.h"
#include "loop.h"
#include "maintain.h"
#include "phantompool.h"
#include "slot.h"

/* ---- handles, reset, thread ------------------------------------------ */

/* Connection options from the settings in force: timeouts, lifetime,
 * TLS.  Applied to a new handle, and again after a reload (affecting the
 * connections opened from then on; the open one stays as it is). */
static void apply_conn_options(struct pd_slot_worker *w, CURL *e, const struct pd_live *lv)
{
	const struct pd_options *o = &lv->opt;
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	/* Recycle the connection after max_lifetime, with up to 20% jitter so
	 * the slots do not all reconnect at once; libcurl checks it only when
	 * reusing the connection, i.e. between requests. */
	long life = 0;
	if (o->max_lifetime_ms) {
		uint64_t ms = o->max_lifetime_ms;
		ms -= ms / 5 * arc4random_uniform(1000) / 1000;
		life = (long)(ms / 1000 ? ms / 1000 : 1);
	}
	curl_easy_setopt(e, CURLOPT_MAXLIFETIME_CONN, life);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->tls_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->tls_verify ? 2L : 0L);
	if (*o->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	/* Without a configured CA directory, no CAPATH: libcurl then keeps the
	 * parsed CA store cached instead of loading it for every new
	 * connection (~20 ms each with Debian's bundle). */
	curl_easy_setopt(e, CURLOPT_CAPATH, *o->ca_path ? o->ca_path : NULL);
	curl_easy_setopt(e, CURLOPT_SSLCERT, *o->tls_cert ? o->tls_cert : NULL);
	curl_easy_setopt(e, CURLOPT_SSLKEY, *o->tls_key ? o->tls_key : NULL);
	atomic_store_explicit(&w->applied_gen, lv->gen, memory_order_relaxed);
}

/* Does the environment name a proxy setting (any variable whose name ends
 * in _proxy, in any case: http_proxy, no_proxy, ALL_PROXY, ...)?  Nothing
 * in the daemon changes its environment, so the answer holds for its whole
 * life. */
static bool env_names_a_proxy(void)
{
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
		if (n >= 6 && strncasecmp(*e + n - 6, "_proxy", 6) == 0)
			return true;
	}
	return false;
}

/* Fresh easy + multi handles with the options every request shares. */
static int open_handles(struct pd_slot_worker *w)
{
	CURLM *m = curl_multi_init();
	CURL *e = curl_easy_init();
	if (!m || !e) {
		curl_multi_cleanup(m);
		curl_easy_cleanup(e);
		return -1;
	}
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	pd_exchange_setup_handle(e);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* libcurl reads the proxy variables (no_proxy, http_proxy, all_proxy,
	 * ...) again for every transfer: five getenv calls a request here.  With
	 * none set, saying "no proxy" outright is the same answer without the
	 * lookups; with any set, libcurl keeps reading them as always. */
	if (!env_names_a_proxy()) {
		curl_easy_setopt(e, CURLOPT_PROXY, "");
		curl_easy_setopt(e, CURLOPT_NOPROXY, "");
	}
	apply_conn_options(w, e, pd_live(w->d));
	pd_loop_setup_multi(w, m);
	pthread_mutex_lock(&w->multi_lock);
	w->multi = m;
	w->easy = e;
	pthread_mutex_unlock(&w->multi_lock);
	return 0;
}

static void close_handles(struct pd_slot_worker *w)
{
	pd_req_cache_clear(&w->cache);
	pthread_mutex_lock(&w->multi_lock);
	CURLM *m = w->multi;
	CURL *e = w->easy;
	w->multi = NULL;
	w->easy = NULL;
	pthread_mutex_unlock(&w->multi_lock);
	curl_easy_cleanup(e);
	curl_multi_cleanup(m);
}

static void init_views(struct pd_slot_worker *w)
{
	struct pp_seg *seg = &w->d->seg;
	struct pp_slot *s = pd_wslot(w);
	pp_ring_init_view(&w->req, &s->req, pp_seg_req_data(seg, w->idx), seg->ring_size);
	pp_ring_init_view(&w->resp, &s->resp, pp_seg_resp_data(seg, w->idx), seg->ring_size);
}

/* The reaper moved the slot to RESETTING: empty the rings, drop the
 * connection if an exchange was cut short, clear the stamp, publish FREE,
 * then clear the dead owner's lock word. */
static void slot_reset(struct pd_slot_worker *w)
{
	struct pp_slot *s = pd_wslot(w);
	int32_t pid = atomic_load_explicit(&s->owner_pid, memory_order_relaxed);
	pp_ring_reset(&s->req);
	pp_ring_reset(&s->resp);
	init_views(w);
	w->out.len = 0;
	if (w->conn_dirty)
		pd_slot_drop_connection(w);
	bool dropped = w->conn_dirty;
	w->conn_dirty = false;
	atomic_store_explicit(&w->broken, false, memory_order_relaxed);
	if (atomic_exchange(&w->reinit_lock, false)) {
		/* The lock was scribbled on; no live thread holds it (checked by
		 * the reaper).  Make it a fresh robust mutex. */
		pp_owner_lock_init(&s->owner_lock);
	}
	atomic_store_explicit(&s->owner_pid, 0, memory_order_relaxed);
	atomic_store_explicit(&s->token, 0, memory_order_relaxed);
	uint32_t lw = atomic_exchange(&w->reset_lock_word, 0);
	if (pp_lock_word_owner_died(lw))
		atomic_compare_exchange_strong(pp_slot_lock_word(s), &lw, 0);
	/* Back to the pool: to the oldest sleeper, or FREE.  Empty rings and a
	 * cleared stamp are published before (release store inside). */
	pp_slot_hand_over(&w->d->seg, w->idx, NULL);
	atomic_fetch_add_explicit(&s->reclaims, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->d->seg.hdr->reclaims, 1, memory_order_relaxed);
	pd_info("slot %u reclaimed (holder pid %d)%s", w->idx, (int)pid, dropped ? ", connection reset" : "");
}

void pd_slot_drop_connection(struct pd_slot_worker *w)
{
	close_handles(w);
	if (open_handles(w) < 0)
		pd_err("slot %u: cannot recreate its libcurl handles", w->idx);
	pd_set_conn_state(w, PP_CONN_NONE);
	atomic_store_explicit(&pd_wslot(w)->conn_since_ns, 0, memory_order_relaxed);
}

void pd_slot_apply_options(struct pd_slot_worker *w)
{
	const struct pd_live *lv = pd_live(w->d);
	if (atomic_load_explicit(&w->applied_gen, memory_order_relaxed) != lv->gen)
		apply_conn_options(w, w->easy, lv);
}

bool pd_request_waiting(struct pd_slot_worker *w)
{
	struct pp_seg *seg = &w->d->seg;
	struct pp_ring v; /* a throwaway view: the owner's caches its indices */
	if (pp_ring_init_view(&v, &pd_wslot(w)->req, pp_seg_req_data(seg, w->idx), seg->ring_size) != 0)
		return true; /* inconsistent indices: the owner's take reports them */
	return pp_frame_ready(&v);
}

void pd_slot_kick(struct pd_slot_worker *w)
{
	atomic_fetch_add_explicit(&w->kick, 1, memory_order_release);
	pp_futex_wake(&w->kick, 1);
}

/* Carry on what the loop handed over (we own the handles). */
static void serve_escalated(struct pd_slot_worker *w)
{
	enum pd_esc esc = w->esc;
	w->esc = PD_ESC_NONE;
	bool ok = false;
	if (esc == PD_ESC_GARBAGE) {
		struct pd_exchange x = { .w = w, .deadline_ns = pp_now_ns() + PD_SLICE_MS * PP_NS_PER_MS };
		pd_exchange_put_error(&x, PP_EPROTO, "malformed request frames");
	} else {
		ok = pd_exchange_resume(w, esc);
	}
	if (!ok)
		atomic_store_explicit(&w->broken, true, memory_order_relaxed);
}

/* Housekeeping that needs the handles: a reset, a broken ring, health
 * checks and idle connections.  Sets *due to 0 after a reset, to what
 * pd_maintain returns for a free slot, else leaves it.  Returns the state
 * word to sleep on when the slot waits for its holder to let go (broken),
 * else NULL. */
static _Atomic uint32_t *housekeep(struct pd_slot_worker *w, uint32_t *expect, uint64_t *due)
{
	struct pp_slot *s = pd_wslot(w);
	pd_slot_apply_options(w);
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
	if (st == PP_SLOT_RESETTING) {
		*due = 0;
		slot_reset(w);
		return NULL;
	}
	if (atomic_load_explicit(&w->broken, memory_order_relaxed)) {
		/* Nobody holds the slot: reset it ourselves (no claimer can take
		 * it while it shows RESETTING). */
		st = PP_SLOT_FREE;
		*due = 0;
		if (atomic_compare_exchange_strong(&s->state, &st, PP_SLOT_RESETTING)) {
			slot_reset(w);
			return NULL;
		}
		/* Held: wait until its holder releases it and the reaper resets
		 * it (it wakes this word). */
		*expect = st;
		return &s->state;
	}
	if (st == PP_SLOT_FREE && !pp_frame_ready(&w->req))
		*due = pd_maintain(w);
	return NULL;
}

/* The thread gives the handles back; if a request came while it held
 * them, ring the loop (which skipped the slot meanwhile). */
static void thread_release(struct pd_slot_worker *w)
{
	atomic_store_explicit(&w->owner, PD_OWN_NONE, memory_order_seq_cst);
	if (pd_request_waiting(w))
		pd_loop_wake(w);
}

/* Whether housekeeping may have work: a reset, a broken ring, new
 * settings, or a free slot (health checks, idle connections). */
static bool housekeeping_due(struct pd_slot_worker *w)
{
	uint32_t st = atomic_load_explicit(&pd_wslot(w)->state, memory_order_relaxed);
	return st == PP_SLOT_RESETTING || st == PP_SLOT_FREE ||
	       atomic_load_explicit(&w->broken, memory_order_relaxed) ||
	       atomic_load_explicit(&w->applied_gen, memory_order_relaxed) != pd_live(w->d)->gen;
}

/* How long a slot thread may sleep when nothing kicks it.  Everything
 * that needs it promptly kicks it: an escalation, a reset, a broken ring
 * or a lost connection (exchange.c), a reload, the stop.  So a quiet slot
 * sleeps until its next upkeep (`due`, see pd_maintain), at most
 * PD_QUIET_MS; while a node is down or being probed, or the upkeep is
 * pending, it wakes every PD_SLICE_MS. */
static uint64_t wake_at(struct pd_slot_worker *w, uint64_t now, uint64_t due)
{
	uint64_t soon = now + PD_SLICE_MS * PP_NS_PER_MS;
	if (!pd_backends_settled(&w->d->backends))
		return soon;
	uint64_t t = now + PD_QUIET_MS * PP_NS_PER_MS;
	if (due < t)
		t = due;
	return t > soon ? t : soon;
}

/* One step of the slot thread: finish what the loop handed over, or do
 * housekeeping when the handles are free, then sleep until kicked (at
 * most until wake_at). */
static void worker_step(struct pd_slot_worker *w)
{
	/* A quiescent point: settings read before this step may be freed. */
	atomic_fetch_add_explicit(&w->epoch, 1, memory_order_release);
	uint32_t kick = atomic_load_explicit(&w->kick, memory_order_acquire);
	/* Acquire: pairs with the loop's release in hand_to_thread (loop.c). */
	if (atomic_load_explicit(&w->owner, memory_order_acquire) == PD_OWN_THREAD) {
		serve_escalated(w);
		thread_release(w);
		return;
	}
	uint64_t now = pp_now_ns(), due = pd_upkeep_due(w);
	_Atomic uint32_t *word = &w->kick;
	uint32_t expect = kick;
	uint32_t own = PD_OWN_NONE;
	if (housekeeping_due(w)) {
		if (atomic_compare_exchange_strong_explicit(&w->owner, &own, PD_OWN_THREAD, memory_order_acquire,
							    memory_order_relaxed)) {
			_Atomic uint32_t *held = housekeep(w, &expect, &due);
			thread_release(w);
			if (held) {
				word = held; /* and expect is the state housekeep saw */
				due = 0;
			}
		} else {
			due = 0; /* the loop holds the handles: look again soon */
		}
	}
	if (!atomic_load_explicit(&w->d->stopping, memory_order_relaxed))
		pp_futex_wait(word, expect, wake_at(w, now, due));
}

static void *worker_main(void *arg)
{
	struct pd_slot_worker *w = arg;
	char name[16];
	snprintf(name, sizeof name, "pp-slot%u", w->idx);
	pthread_setname_np(pthread_self(), name); /* for top -H, ps -L */
	if (w->idx < pd_live(w->d)->opt.min_conns)
		pd_health_check(w, UINT32_MAX); /* warm before the daemon reports ready */
	atomic_store(&w->warm_done, true);
	while (!atomic_load_explicit(&w->d->stopping, memory_order_relaxed))
		worker_step(w);
	return NULL;
}

/* Wake the slot's thread wherever it waits. */
static void slot_wake(struct pd_slot_worker *w)
{
	struct pp_slot *s = pd_wslot(w);
	pd_slot_kick(w);
	pp_futex_wake(&s->state, INT32_MAX);
	/* The thread sleeps on one of these rings or in curl_multi_poll. */
	pp_ring_wake_all(&s->req);
	pp_ring_wake_all(&s->resp);
	pthread_mutex_lock(&w->multi_lock);
	if (w->multi)
		curl_multi_wakeup(w->multi);
	pthread_mutex_unlock(&w->multi_lock);
	/* Or its loop runs the exchange. */
	if (w->d->loops)
		pd_loop_wake(w);
}

void pd_slots_kick_all(struct pd_daemon *d)
{
	for (uint32_t i = 0; d->workers && i < d->seg.nslots; i++)
		if (d->workers[i].started)
			pd_slot_kick(&d->workers[i]);
}

void pd_slot_request_reset(struct pd_slot_worker *w, uint32_t lock_word)
{
	atomic_store(&w->reset_lock_word, lock_word);
	slot_wake(w);
}

int pd_slots_start(struct pd_daemon *d)
{
	uint32_t n = d->seg.nslots;
	d->workers = calloc(n, sizeof *d->workers);
	if (!d->workers)
		return -1;
	d->nloops = pd_loops_count(n, pd_live(d)->opt.loops);
	for (uint32_t i = 0; i < n; i++) {
		struct pd_slot_worker *w = &d->workers[i];
		w->d = d;
		w->idx = i;
		w->loop = i % d->nloops;
		w->sock = CURL_SOCKET_BAD;
		pthread_mutex_init(&w->multi_lock, NULL);
		w->scratch = malloc(pp_frame_max(d->seg.ring_size));
		w->out.cap = pp_frame_max(d->seg.ring_size);
		w->out.buf = malloc(w->out.cap);
		init_views(w);
		if (!w->scratch || !w->out.buf || open_handles(w) < 0 || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			pd_err("slot %u: cannot start its thread", i);
			return -1;
		}
		w->started = true;
	}
	/* Ready only when the min connections are warm (or failed). */
	uint64_t until = pp_now_ns() + (pd_live(d)->opt.connect_timeout_ms + 1000ull) * PP_NS_PER_MS;
	for (uint32_t i = 0; i < n; i++)
		while (!atomic_load(&d->workers[i].warm_done) && pp_now_ns() < until) {
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
	/* The slot threads hold no handles now: the loops take over. */
	return pd_loops_start(d);
}

void pd_slots_stop(struct pd_daemon *d)
{
	if (!d->workers)
		return;
	atomic_store(&d->stopping, true);
	pd_loops_stop(d); /* first: they hand nothing to the threads any more */
	for (uint32_t i = 0; i < d->seg.nslots; i++)
		if (d->workers[i].started)
			slot_wake(&d->workers[i]);
	for (uint32_t i = 0; i < d->seg.nslots; i++) {
		struct pd_slot_worker *w = &d->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		close_handles(w);
		free(w->scratch);
		free(w->out.buf);
		pthread_mutex_destroy(&w->multi_lock);
	}
	free(d->workers);
	d->workers = NULL;
}
