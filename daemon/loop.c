/* loop.c - see loop.h.
 *
 * One step of a loop:
 *   for each of its slots: an exchange in flight -> abort it on a reset or
 *     shutdown, fire libcurl's timer when due; else a request waiting ->
 *     take the handles (owner NONE -> LOOP), open the exchange, start it;
 *   nothing moved -> sleep: spin briefly, or ask for the bell and poll.
 * An exchange ends in the loop (END published), or is handed to the slot
 * thread with owner = THREAD and esc saying what is left.
 */
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bell.h"
#include "clock.h"
#include "exchange.h"
#include "futex.h"
#include "log.h"
#include "phantompool.h"
#include "slot.h"

/* ---- libcurl's socket and timer callbacks -------------------------- */

/* Called while the loop (or the slot thread, which ignores them) drives
 * the slot's multi handle: remember the socket and what to wait for. */
static int on_socket(CURL *e, curl_socket_t sock, int what, void *userp, void *socketp)
{
	(void)e;
	(void)socketp;
	struct pd_slot_worker *w = userp;
	w->sock = what == CURL_POLL_REMOVE ? CURL_SOCKET_BAD : sock;
	w->sock_what = what == CURL_POLL_REMOVE ? 0 : what;
	return 0;
}

static int on_timer(CURLM *m, long ms, void *userp)
{
	(void)m;
	struct pd_slot_worker *w = userp;
	w->timer_ns = ms < 0 ? 0 : pp_now_ns() + (uint64_t)ms * PP_NS_PER_MS;
	return 0;
}

void pd_loop_setup_multi(struct pd_slot_worker *w, CURLM *m)
{
	w->sock = CURL_SOCKET_BAD;
	w->sock_what = 0;
	w->timer_ns = 0;
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(m, CURLMOPT_TIMERDATA, w);
}

uint32_t pd_loops_count(uint32_t nslots, uint32_t wanted)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long n = wanted ? (long)wanted : cpus;
	n = n < 1 ? 1 : n > (long)PD_LOOPS_MAX ? (long)PD_LOOPS_MAX : n;
	return (uint32_t)n < nslots ? (uint32_t)n : nslots;
}

void pd_loop_wake(struct pd_slot_worker *w)
{
	/* It sleeps on one or the other. */
	pp_bell_wake_word(&w->d->bell, w->loop);
	pp_bell_ring(&w->d->bell, w->loop);
}

/* ---- handing the handles over ------------------------------------- */

/* The loop gives the handles back.  No bell: the loop itself looks at
 * the ring again in its next step. */
static void release(struct pd_slot_worker *w)
{
	atomic_store_explicit(&w->owner, PD_OWN_NONE, memory_order_release);
}

/* Leave the rest of the exchange to the slot thread. */
static void hand_to_thread(struct pd_slot_worker *w, enum pd_esc esc)
{
	w->active = false;
	w->esc = esc;
	atomic_fetch_add_explicit(&w->d->seg.hdr->escalations, 1, memory_order_relaxed);
	/* Release: the thread sees x, esc and the handles as we left them. */
	atomic_store_explicit(&w->owner, PD_OWN_THREAD, memory_order_release);
	pd_slot_kick(w);
}

/* After libcurl ran the slot's transfer: done, or escalated?  Returns
 * whether the exchange left the loop. */
static bool after_action(struct pd_slot_worker *w)
{
	CURLMsg *m;
	int left;
	bool done = false;
	CURLcode res = CURLE_OK;
	while ((m = curl_multi_info_read(w->multi, &left)))
		if (m->msg == CURLMSG_DONE) {
			done = true;
			res = m->data.result;
		}
	if (done) {
		w->active = false;
		enum pd_esc esc = pd_exchange_done(w, res);
		if (esc != PD_ESC_NONE)
			hand_to_thread(w, esc);
		else
			release(w);
		return true;
	}
	if (w->x.escalate) {
		hand_to_thread(w, PD_ESC_TRANSFER);
		return true;
	}
	return false;
}

/* Let libcurl act on w's socket (ev: CURL_CSELECT_*) or, with
 * CURL_SOCKET_TIMEOUT, on its due timer; then see where the exchange is.
 * Returns whether it left the loop. */
static bool drive(struct pd_slot_worker *w, curl_socket_t sock, int ev)
{
	int running;
	curl_multi_socket_action(w->multi, sock, ev, &running);
	return after_action(w);
}

/* ---- one step ------------------------------------------------------ */

/* Whether the loop may take a request from w now. */
static bool takeable(struct pd_slot_worker *w)
{
	return !w->active && !atomic_load_explicit(&w->broken, memory_order_relaxed) &&
	       atomic_load_explicit(&w->owner, memory_order_relaxed) == PD_OWN_NONE &&
	       atomic_load_explicit(&pd_wslot(w)->state, memory_order_relaxed) != PP_SLOT_RESETTING;
}

/* A request waits on w: take the handles and start the exchange.
 * Returns whether anything happened. */
static bool intake(struct pd_loop *L, struct pd_slot_worker *w)
{
	if (!takeable(w) || !pd_request_waiting(w))
		return false;
	uint32_t own = PD_OWN_NONE;
	/* Acquire: the thread's last use of the handles happened before. */
	if (!atomic_compare_exchange_strong_explicit(&w->owner, &own, PD_OWN_LOOP, memory_order_acquire,
						     memory_order_relaxed))
		return false;
	struct pp_slot *s = pd_wslot(w);
	struct pp_frame f;
	int r = pp_frame_take(&w->req, w->scratch, pp_frame_max(w->d->seg.ring_size), &f);
	if (r == 0) {
		release(w);
		return false;
	}
	if (L->idle_since_ns) {
		pp_spin_note(&L->spin, pp_now_ns() - L->idle_since_ns);
		L->idle_since_ns = 0;
	}
	/* The worker spins for our answer only if we run on another CPU. */
	pp_spin_publish_cpu(&s->daemon_cpu);
	L->spin.peer_cpu = &s->worker_cpu;
	pd_slot_apply_options(w);
	/* A new exchange starts with an empty response ring; anything else
	 * means two parties used the slot: never hand out a stale answer. */
	bool resp_dirty = r == 1 && f.type == PP_FRAME_REQ_HEAD &&
			  pp_ring_writable(&w->resp) != (ssize_t)w->d->seg.ring_size;
	if (r < 0 || f.type != PP_FRAME_REQ_HEAD || resp_dirty) {
		pd_warn("slot %u: %s in the request ring (%d, type %d); resetting it", w->idx,
			resp_dirty ? "a request over an unread response" : "garbage", r, r > 0 ? (int)f.type : 0);
		hand_to_thread(w, PD_ESC_GARBAGE);
		return true;
	}
	if (pd_exchange_open(w, &f.req, true) != 0) {
		hand_to_thread(w, PD_ESC_REJECT);
		return true;
	}
	w->active = true;
	w->timer_ns = 0;
	curl_multi_add_handle(w->multi, w->easy);
	drive(w, CURL_SOCKET_TIMEOUT, 0); /* starts it: adding set a 0 timeout */
	return true;
}

/* An exchange in flight on w: stop it on a reset or shutdown, fire its
 * timer when due.  Returns whether anything happened. */
static bool tend(struct pd_slot_worker *w, uint64_t now)
{
	int why = pd_worker_abort_reason(w);
	if (why) {
		w->active = false;
		pd_exchange_abort(w, why);
		release(w);
		pd_slot_kick(w); /* the thread resets the slot */
		return true;
	}
	if (!w->timer_ns || w->timer_ns > now)
		return false;
	w->timer_ns = 0;
	drive(w, CURL_SOCKET_TIMEOUT, 0);
	return true;
}

#define EACH_SLOT(L, i) for (uint32_t i = (L)->idx; i < (L)->d->seg.nslots; i += (L)->d->nloops)

static bool any_ready(void *ctx)
{
	struct pd_loop *L = ctx;
	EACH_SLOT(L, i) {
		struct pd_slot_worker *w = &L->d->workers[i];
		if (takeable(w) && pd_request_waiting(w))
			return true;
	}
	return false;
}

/* Ask the workers of our idle slots to ring (on: with the head_waiter
 * value mine) or not any more (off: clear mine where it still stands). */
static void want_bell(struct pd_loop *L, bool on, uint32_t mine)
{
	EACH_SLOT(L, i) {
		struct pd_slot_worker *w = &L->d->workers[i];
		/* The segment's word, not through w->req: that view belongs to
		 * whoever holds the handles (a reset rebuilds it). */
		_Atomic uint32_t *hw = &pd_wslot(w)->req.head_waiter;
		if (on && takeable(w)) {
			atomic_store_explicit(hw, mine, memory_order_relaxed);
		} else if (!on) {
			uint32_t v = mine; /* only ours: a slot thread may wait on the ring */
			atomic_compare_exchange_strong_explicit(hw, &v, 0, memory_order_relaxed, memory_order_relaxed);
		}
	}
}

/* Sleep until a bell, a socket or a timer needs us (at most a slice). */
static void sleep_step(struct pd_loop *L)
{
	struct pd_daemon *d = L->d;
	uint64_t now = pp_now_ns();
	if (!L->idle_since_ns)
		L->idle_since_ns = now;
	/* A worker that sends its next request soon finds us spinning: no
	 * bell, no wakeup.  Only right after an exchange. */
	bool first = L->after_exchange;
	L->after_exchange = false;
	if (first && pp_spin_wait(&L->spin, any_ready, L))
		return;
	/* Nothing in flight: no socket to watch, so sleep on the wake word
	 * (a futex wake is cheaper for the worker than a datagram). */
	bool idle = true;
	EACH_SLOT(L, i)
		idle &= !d->workers[i].active;
	_Atomic uint32_t *word = &d->seg.hdr->loop_wake[L->idx].word;
	uint32_t seen = atomic_load_explicit(word, memory_order_acquire);
	uint32_t mine = (idle ? PP_BELL_WORD : PP_BELL_WAITER) + L->idx;
	want_bell(L, true, mine);
	/* Pairs with the fence after the worker's head store (ring.c [S']):
	 * either it sees our waiter value and rings, or we see its request. */
	atomic_thread_fence(memory_order_seq_cst);
	if (any_ready(L)) {
		want_bell(L, false, mine);
		return;
	}
	if (idle) {
		/* A bump after `seen` makes the wait return at once. */
		pp_futex_wait(word, seen, now + PD_SLICE_MS * PP_NS_PER_MS);
		want_bell(L, false, mine);
		return;
	}
	nfds_t k = 0;
	L->pfd[k++] = (struct pollfd){ .fd = L->bell, .events = POLLIN };
	uint64_t until = now + PD_SLICE_MS * PP_NS_PER_MS;
	EACH_SLOT(L, i) {
		struct pd_slot_worker *w = &d->workers[i];
		if (!w->active)
			continue;
		if (w->timer_ns && w->timer_ns < until)
			until = w->timer_ns;
		if (w->sock == CURL_SOCKET_BAD)
			continue;
		L->pfd_slot[k] = i;
		L->pfd[k++] = (struct pollfd){ .fd = w->sock,
					       .events = (short)((w->sock_what & CURL_POLL_IN ? POLLIN : 0) |
								 (w->sock_what & CURL_POLL_OUT ? POLLOUT : 0)) };
	}
	uint64_t t = pp_now_ns();
	int ms = until > t ? (int)((until - t + PP_NS_PER_MS - 1) / PP_NS_PER_MS) : 0;
	int n = poll(L->pfd, k, ms);
	want_bell(L, false, mine);
	if (n <= 0)
		return;
	if (L->pfd[0].revents)
		pp_bell_drain(L->bell);
	for (nfds_t j = 1; j < k; j++) {
		short re = L->pfd[j].revents;
		struct pd_slot_worker *w = &d->workers[L->pfd_slot[j]];
		if (!re || !w->active || w->sock != L->pfd[j].fd)
			continue;
		int ev = (re & (POLLIN | POLLHUP) ? CURL_CSELECT_IN : 0) | (re & POLLOUT ? CURL_CSELECT_OUT : 0) |
			 (re & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0);
		if (drive(w, w->sock, ev))
			L->after_exchange = true;
	}
}

static void loop_step(struct pd_loop *L)
{
	/* A quiescent point: settings read before this step may be freed. */
	atomic_fetch_add_explicit(&L->epoch, 1, memory_order_release);
	uint64_t now = pp_now_ns();
	bool moved = false;
	EACH_SLOT(L, i) {
		struct pd_slot_worker *w = &L->d->workers[i];
		moved |= w->active ? tend(w, now) : intake(L, w);
	}
	if (moved)
		L->after_exchange = true;
	else
		sleep_step(L);
}

static void *loop_main(void *arg)
{
	struct pd_loop *L = arg;
	char name[16];
	snprintf(name, sizeof name, "pp-loop%u", L->idx);
	pthread_setname_np(pthread_self(), name); /* for top -H, ps -L */
	while (!atomic_load_explicit(&L->d->stopping, memory_order_relaxed))
		loop_step(L);
	/* Shutdown: stop what is in flight; the slot threads answer nothing
	 * more (their workers see the daemon go). */
	EACH_SLOT(L, i) {
		struct pd_slot_worker *w = &L->d->workers[i];
		if (w->active) {
			w->active = false;
			pd_exchange_abort(w, PP_ESHUTDOWN);
			release(w);
		}
	}
	return NULL;
}

/* ---- start and stop ------------------------------------------------ */

int pd_loops_start(struct pd_daemon *d)
{
	uint32_t n = d->nloops;
	d->loops = calloc(n, sizeof *d->loops);
	if (!d->loops)
		return -1;
	for (uint32_t k = 0; k < n; k++)
		d->loops[k].bell = -1; /* so a stop after a failed start closes only what was opened */
	uint32_t per = d->seg.nslots / n + 1;
	atomic_store_explicit(&d->seg.hdr->loops, n, memory_order_relaxed);
	for (uint32_t k = 0; k < n; k++) {
		struct pd_loop *L = &d->loops[k];
		*L = (struct pd_loop){ .d = d, .idx = k, .bell = -1 };
		L->spin = (struct pp_spin){ .hdr = d->seg.hdr, .claims = d->seg.spin_claims,
					    .peer_cpu = NULL, .avg_ns = &L->spin_avg_ns, .inflight_max = 0 };
		L->pfd = calloc(per + 1, sizeof *L->pfd);
		L->pfd_slot = calloc(per + 1, sizeof *L->pfd_slot);
		L->bell = pp_bell_bind(&d->bell, k, d->opt.mode, d->shm_gid);
		if (L->bell < 0) {
			pd_err("cannot bind the doorbell %s%u: %s", d->bell.prefix, k, strerror(-L->bell));
			return -1;
		}
		if (!L->pfd || !L->pfd_slot || pthread_create(&L->thread, NULL, loop_main, L) != 0) {
			pd_err("cannot start serving loop %u", k);
			return -1;
		}
		L->started = true;
		/* Opens the daemon's own sending socket now, not at the first
		 * internal wake, so the daemon's fd count is steady from here. */
		pp_bell_ring(&d->bell, k);
	}
	return 0;
}

void pd_loops_stop(struct pd_daemon *d)
{
	if (!d->loops)
		return;
	atomic_store(&d->stopping, true);
	for (uint32_t k = 0; k < d->nloops; k++) {
		struct pd_loop *L = &d->loops[k];
		if (L->started) {
			pp_bell_wake_word(&d->bell, k);
			pp_bell_ring(&d->bell, k);
			pthread_join(L->thread, NULL);
		}
		if (L->bell >= 0) {
			close(L->bell);
			pp_bell_unlink(&d->bell, k);
		}
		free(L->pfd);
		free(L->pfd_slot);
	}
	pp_bell_close(&d->bell);
	free(d->loops);
	d->loops = NULL;
}
