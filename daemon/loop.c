/* loop.c - see loop.h.  Kept apart as in redis's ae.c: the step
 * (dispatch), the sleep (poll, futex, timers) and start/stop; the
 * handlers it dispatches to (exchange, upkeep, seat) never call back in. */
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bell.h"
#include "clock.h"
#include "conn.h"
#include "exchange.h"
#include "futex.h"
#include "log.h"
#include "phantompool.h"
#include "seat.h"
#include "slot.h"
#include "stats.h"
#include "upkeep.h"

#define EACH_SEAT(L, i) for (uint32_t i = (L)->idx; i < (L)->d->seg.nslots; i += (L)->d->nloops)
#define EACH_CONN(L, k) for (uint32_t k = (L)->idx; k < (L)->d->nconns; k += (L)->d->nloops)

uint32_t pd_loops_count(uint32_t nseats, uint32_t nconns, uint32_t wanted)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long n = wanted ? (long)wanted : cpus;
	n = n < 1 ? 1 : n > (long)PD_LOOPS_MAX ? (long)PD_LOOPS_MAX : n;
	if ((uint32_t)n > nseats)
		n = nseats;
	if ((uint32_t)n > nconns)
		n = nconns;
	return (uint32_t)n;
}

void pd_loop_wake(struct pd_daemon *d, uint32_t k)
{
	/* It sleeps on one or the other. */
	pp_bell_wake_word(&d->bell, k);
	pp_bell_ring(&d->bell, k);
}

/* ---- the queue of seats waiting for a connection ------------------------- */

static void queue_push(struct pd_loop *L, struct pd_seat *s)
{
	L->queue[(L->qhead + L->qlen++) % L->qcap] = s->idx;
	s->queued = true;
	s->queued_ns = pp_now_ns();
	atomic_fetch_add_explicit(&L->d->seg.hdr->queued, 1, memory_order_relaxed);
}

/* A queued seat leaves the queue (served, or reset): count its wait. */
static void queue_leave(struct pd_loop *L, struct pd_seat *s)
{
	struct pp_shm_header *h = L->d->seg.hdr;
	uint64_t ns = pp_now_ns() - s->queued_ns;
	s->queued = false;
	atomic_fetch_sub_explicit(&h->queued, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->queue_waits, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->queue_wait_sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->queue_wait_hist[pp_hist_bucket(ns)], 1, memory_order_relaxed);
	pp_stat_max(&h->queue_wait_max_ns, ns);
}

/* Take s out of the middle of the queue (rare: its seat is reset). */
static void queue_remove(struct pd_loop *L, struct pd_seat *s)
{
	uint32_t k = 0;
	for (uint32_t j = 0; j < L->qlen; j++) {
		uint32_t v = L->queue[(L->qhead + j) % L->qcap];
		if (v != s->idx)
			L->queue[(L->qhead + k++) % L->qcap] = v;
	}
	L->qlen = k;
	queue_leave(L, s);
}

static struct pd_seat *queue_pop(struct pd_loop *L)
{
	while (L->qlen) {
		struct pd_seat *s = &L->d->seats[L->queue[L->qhead]];
		L->qhead = (L->qhead + 1) % L->qcap;
		L->qlen--;
		if (s->queued) {
			queue_leave(L, s);
			return s;
		}
	}
	return NULL;
}

/* ---- one step ------------------------------------------------------------ */

/* An idle exchange object of this loop for seat s: its own connection
 * (seat i and connection i share a loop) when that one is idle, else one
 * with an open connection, else any; NULL when every connection is busy.
 * With as many seats as connections a seat so keeps its connection, as
 * slots did: a connection reset by a worker's death is the one reopened. */
static struct pd_exchange *idle_exchange(struct pd_loop *L, const struct pd_seat *s)
{
	if (s && s->idx < L->d->nconns && !L->d->xs[s->idx].active)
		return &L->d->xs[s->idx];
	struct pd_exchange *closed = NULL;
	EACH_CONN(L, k) {
		struct pd_exchange *x = &L->d->xs[k];
		if (x->active)
			continue;
		if (x->conn->state == PD_CONN_OPEN)
			return x;
		if (!closed)
			closed = x;
	}
	return closed;
}

/* Start seat s's exchange on x. */
static void start(struct pd_loop *L, struct pd_exchange *x, struct pd_seat *s)
{
	struct pp_slot *sl = pd_seat_slot(s);
	if (L->idle_since_ns) {
		pp_spin_note(&L->spin, pp_now_ns() - L->idle_since_ns);
		L->idle_since_ns = 0;
	}
	/* The worker spins for our answer only if we run on another CPU. */
	pp_spin_publish_cpu(&sl->daemon_cpu);
	L->spin.peer_cpu = &sl->worker_cpu;
	L->after_exchange = true;
	pd_exchange_start(x, s);
}

/* Bytes in the request ring of a seat that is not BUSY: a worker turns its
 * slot BUSY before it publishes a request (libclient, exchange_begin), so
 * they were written by one that does not hold it (after its release, or
 * into another's slot).  Served, a whole request's answer would reach the
 * slot's next holder as that holder's own; left there, part of a frame
 * made that holder's own exchange fail (its ring not empty).  The seat is
 * reset instead:
 * at once when free (pd_upkeep_seat), else when its holder lets go (the
 * holder's exchange finds the ring not empty and fails). */
static bool stray_request(struct pd_seat *s, uint32_t st)
{
	/* RECLAIM, RESETTING: its holder gave up or died after publishing;
	 * the reset is on its way. */
	if (st != PP_SLOT_RECLAIM && st != PP_SLOT_RESETTING)
		pd_warn("slot %u: bytes in the request ring of a slot that is not busy (state %s): written by a "
			"worker that does not hold it; not served, the slot is reset", s->idx, pp_slot_state_name(st));
	s->broken = true;
	return true;
}

/* What seat s needs from this step.  Returns whether anything moved. */
static bool tend_seat(struct pd_loop *L, struct pd_seat *s)
{
	uint32_t st = atomic_load_explicit(&pd_seat_slot(s)->state, memory_order_acquire);
	if (s->x) {
		if (st != PP_SLOT_RESETTING)
			return false;
		pd_exchange_abort(s->x, PP_ELOST);
		return true;
	}
	if (st == PP_SLOT_RESETTING && s->queued)
		queue_remove(L, s); /* its request died with its holder */
	if (pd_upkeep_seat(s))
		return true;
	if (s->queued || s->broken)
		return false;
	bool whole = pd_seat_request_waiting(s);
	if (!whole && !pd_seat_request_bytes(s))
		return false;
	/* Read again, after the bytes (acquire, in pd_seat_request_waiting):
	 * a holder turns its slot BUSY before it publishes, so its own
	 * request is always seen BUSY here. */
	st = atomic_load_explicit(&pd_seat_slot(s)->state, memory_order_acquire);
	if (st != PP_SLOT_BUSY)
		return stray_request(s, st);
	if (!whole)
		return false; /* the holder's frame announces more than is there: its own wait */
	/* First come, first served: while other requests wait for a
	 * connection, a new one joins the end of the queue, even when a
	 * connection has just come back idle (serve_queue hands idle
	 * connections out in queue order).  Taking it at once would let a
	 * worker that asks again right after its answer overtake every queued
	 * request: at 256 seats on 8 connections the queued ones then waited
	 * a median 52 ms and up to 207 ms while most requests never queued
	 * (bench, G5). */
	struct pd_exchange *x = L->qlen ? NULL : idle_exchange(L, s);
	if (x)
		start(L, x, s);
	else
		queue_push(L, s);
	return true;
}

/* After exchanges ran: give idle connections to queued seats. */
static bool serve_queue(struct pd_loop *L)
{
	bool moved = false;
	while (L->qlen && idle_exchange(L, NULL)) {
		struct pd_seat *s = queue_pop(L);
		if (!s)
			break;
		start(L, idle_exchange(L, s), s);
		moved = true;
	}
	return moved;
}

/* Exchanges not waiting on a socket alone: rings, timers, or runnable. */
static void run_due(struct pd_loop *L, uint64_t now)
{
	EACH_CONN(L, k) {
		struct pd_exchange *x = &L->d->xs[k];
		if (!x->active)
			continue;
		struct pd_wants w;
		pd_exchange_wants(x, &w);
		if (w.req_ring || w.resp_ring || w.deadline_ns <= now)
			pd_exchange_run(x, 0);
	}
}

/* Chores of idle connections, when due. */
static void upkeep(struct pd_loop *L, uint64_t now)
{
	/* Due, or a connection came back from an exchange (its chores are
	 * timed from the end of that exchange). */
	uint32_t active = 0;
	EACH_CONN(L, k)
		active += L->d->xs[k].active;
	bool freed = active < L->upkeep_active;
	L->upkeep_active = active;
	if (now < L->upkeep_ns && !freed)
		return;
	uint64_t next = now + 1000 * PP_NS_PER_MS; /* look at least every second */
	EACH_CONN(L, k) {
		struct pd_exchange *x = &L->d->xs[k];
		if (x->active)
			continue;
		uint64_t t = pd_upkeep_conn(x);
		if (t < next)
			next = t;
	}
	if (!pd_backends_settled(&L->d->backends) && next > now + PD_SLICE_MS * PP_NS_PER_MS)
		next = now + PD_SLICE_MS * PP_NS_PER_MS; /* probes run on their backoff */
	L->upkeep_ns = next;
}

/* ---- sleeping ------------------------------------------------------------ */

/* Is there anything to do without waiting: a new request on a seat, or
 * a ring an exchange waits for that has moved? */
static bool any_ready(void *ctx)
{
	struct pd_loop *L = ctx;
	EACH_SEAT(L, i) {
		struct pd_seat *s = &L->d->seats[i];
		if (s->x) {
			struct pd_wants w;
			pd_exchange_wants(s->x, &w);
			/* Room: half the ring, and at least what the exchange
			 * needs to go on (else this loop would spin on it and
			 * never poll its other exchanges' sockets). */
			uint32_t room = L->d->seg.ring_size / 2;
			room = w.resp_room > room ? w.resp_room : room;
			if ((w.req_ring && pd_seat_request_waiting(s)) ||
			    (w.resp_ring && pd_seat_room(s) >= (ssize_t)room))
				return true;
		} else if (!s->queued && !s->broken && pd_seat_request_waiting(s)) {
			return true;
		}
	}
	return false;
}

/* Raise (on) or clear our bell value in the waiter words of the rings we
 * wait on. */
static void want_bells(struct pd_loop *L, bool on, uint32_t mine)
{
	EACH_SEAT(L, i) {
		struct pd_seat *s = &L->d->seats[i];
		bool req = !s->x && !s->queued && !s->broken, resp = false;
		if (s->x) {
			struct pd_wants w;
			pd_exchange_wants(s->x, &w);
			req = w.req_ring;
			resp = w.resp_ring;
		}
		if (req || !on)
			pd_seat_want_bell(s, false, on, mine);
		if (resp || !on)
			pd_seat_want_bell(s, true, on, mine);
	}
}

/* Sleep until a bell, a socket or a timer needs us. */
static void sleep_step(struct pd_loop *L)
{
	struct pd_daemon *d = L->d;
	uint64_t now = pp_now_ns();
	if (!L->idle_since_ns)
		L->idle_since_ns = now;
	/* A worker that sends its next request soon finds us spinning: no
	 * bell, no wakeup.  Only right after an exchange.  A worker on our
	 * own CPU gets the CPU once instead (before we raise any bell, so its
	 * publish rings nobody): see spin.h. */
	bool first = L->after_exchange;
	L->after_exchange = false;
	if (first && (pp_spin_wait(&L->spin, any_ready, L) || pp_spin_yield(&L->spin, any_ready, L)))
		return;
	/* Idle, a loop sleeps until its next chore (at most PD_QUIET_MS):
	 * everything else wakes it (a worker's request, a reset, the stop).
	 * With exchanges in flight it looks every PD_SLICE_MS. */
	uint64_t until = now + PD_QUIET_MS * PP_NS_PER_MS;
	if (L->upkeep_ns < until)
		until = L->upkeep_ns > now ? L->upkeep_ns : now;
	nfds_t k = 1;
	bool idle = true;
	EACH_CONN(L, c) {
		struct pd_exchange *x = &d->xs[c];
		if (!x->active)
			continue;
		if (idle && until > now + PD_SLICE_MS * PP_NS_PER_MS)
			until = now + PD_SLICE_MS * PP_NS_PER_MS;
		idle = false;
		struct pd_wants w;
		pd_exchange_wants(x, &w);
		if (w.deadline_ns < until)
			until = w.deadline_ns;
		if (w.fd >= 0) {
			L->pfd_conn[k] = c;
			L->pfd[k++] = (struct pollfd){ .fd = w.fd, .events = w.events };
		}
	}
	_Atomic uint32_t *word = &d->seg.hdr->loop_wake[L->idx].word;
	uint32_t seen = atomic_load_explicit(word, memory_order_acquire);
	uint32_t mine = (idle ? PP_BELL_WORD : PP_BELL_WAITER) + L->idx;
	want_bells(L, true, mine);
	/* Pairs with the fence after the worker's index store (ring.c [S'] /
	 * [T']): either it sees our bell value and rings, or we see its move. */
	atomic_thread_fence(memory_order_seq_cst);
	if (any_ready(L) || atomic_load_explicit(&d->stopping, memory_order_relaxed)) {
		want_bells(L, false, mine);
		return;
	}
	uint64_t t = pp_now_ns();
	if (idle) {
		/* A bump after `seen` makes the wait return at once. */
		if (until > t)
			pp_futex_wait(word, seen, until);
		want_bells(L, false, mine);
		return;
	}
	L->pfd[0] = (struct pollfd){ .fd = L->bell, .events = POLLIN };
	int ms = until > t ? (int)((until - t + PP_NS_PER_MS - 1) / PP_NS_PER_MS) : 0;
	int n = poll(L->pfd, k, ms);
	want_bells(L, false, mine);
	if (n <= 0)
		return;
	if (L->pfd[0].revents)
		pp_bell_drain(L->bell);
	for (nfds_t j = 1; j < k; j++) {
		if (!L->pfd[j].revents)
			continue;
		struct pd_exchange *x = &d->xs[L->pfd_conn[j]];
		bool was = x->seat != NULL;
		pd_exchange_run(x, L->pfd[j].revents);
		if (was && !x->active)
			L->after_exchange = true;
	}
}

static void loop_step(struct pd_loop *L)
{
	/* A quiescent point: settings read before this step may be freed. */
	atomic_fetch_add_explicit(&L->epoch, 1, memory_order_release);
	bool moved = false;
	EACH_SEAT(L, i)
		moved |= tend_seat(L, &L->d->seats[i]);
	uint64_t now = pp_now_ns();
	run_due(L, now);
	upkeep(L, now);
	moved |= serve_queue(L);
	if (!moved)
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
	/* Shutdown: stop what is in flight (its workers see the daemon go). */
	EACH_CONN(L, k) {
		pd_exchange_abort(&L->d->xs[k], PP_ESHUTDOWN);
		pd_conn_close(&L->d->conns[k], NULL);
	}
	return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

static int setup_objects(struct pd_daemon *d)
{
	uint32_t ns = d->seg.nslots, nc = d->nconns;
	d->seats = calloc(ns, sizeof *d->seats);
	d->conns = calloc(nc, sizeof *d->conns);
	d->xs = calloc(nc, sizeof *d->xs);
	if (!d->seats || !d->conns || !d->xs)
		return -1;
	for (uint32_t i = 0; i < ns; i++) {
		struct pd_seat *s = &d->seats[i];
		s->d = d;
		s->idx = i;
		s->loop = i % d->nloops;
		pd_seat_init_views(s);
	}
	for (uint32_t k = 0; k < nc; k++) {
		/* Connection k publishes its figures in slot record k for now
		 * (as many connections as slots). */
		struct pd_loop *L = &d->loops[k % d->nloops];
		pd_conn_init(&d->conns[k], k, pp_seg_slot(&d->seg, k), L->multi, &L->curl_timer_ns, &d->seg.hdr->conns_open);
		if (pd_exchange_init(&d->xs[k], d, &d->conns[k]) < 0)
			return -1;
	}
	return 0;
}

static int start_loop(struct pd_daemon *d, uint32_t k)
{
	struct pd_loop *L = &d->loops[k];
	uint32_t per_seat = d->seg.nslots / d->nloops + 1, per_conn = d->nconns / d->nloops + 1;
	L->qcap = per_seat;
	L->spin = (struct pp_spin){ .hdr = d->seg.hdr, .claims = d->seg.spin_claims,
				    .peer_cpu = NULL, .avg_ns = &L->spin_avg_ns, .inflight_max = 0,
				    .yield = &L->yield };
	L->queue = calloc(per_seat, sizeof *L->queue);
	L->pfd = calloc(per_conn + 1, sizeof *L->pfd);
	L->pfd_conn = calloc(per_conn + 1, sizeof *L->pfd_conn);
	L->bell = pp_bell_bind(&d->bell, k, d->opt.mode, d->shm_gid);
	if (L->bell < 0) {
		pd_err("cannot bind the doorbell %s%u: %s", d->bell.prefix, k, strerror(-L->bell));
		return -1;
	}
	if (!L->queue || !L->pfd || !L->pfd_conn || pthread_create(&L->thread, NULL, loop_main, L) != 0) {
		pd_err("cannot start serving loop %u", k);
		return -1;
	}
	L->started = true;
	/* Opens the daemon's own sending socket now, not at the first internal
	 * wake, so the daemon's fd count is steady from here. */
	pp_bell_ring(&d->bell, k);
	return 0;
}

int pd_loops_start(struct pd_daemon *d)
{
	const struct pd_options *o = &pd_live(d)->opt;
	d->nconns = o->max_conns < d->seg.nslots ? o->max_conns : d->seg.nslots;
	d->nloops = pd_loops_count(d->seg.nslots, d->nconns, o->loops);
	d->loops = calloc(d->nloops, sizeof *d->loops);
	for (uint32_t k = 0; d->loops && k < d->nloops; k++) {
		struct pd_loop *L = &d->loops[k];
		*L = (struct pd_loop){ .d = d, .idx = k, .bell = -1 }; /* bell: a failed start closes only what was opened */
		L->multi = pd_conn_multi_new(&L->curl_timer_ns);
		if (!L->multi)
			break;
	}
	if (!d->loops || !d->loops[d->nloops - 1].multi || setup_objects(d) < 0) {
		pd_err("out of memory setting up %u slots", d->seg.nslots);
		return -1;
	}
	atomic_store_explicit(&d->seg.hdr->loops, d->nloops, memory_order_relaxed);
	for (uint32_t k = 0; k < d->nloops; k++)
		if (start_loop(d, k) < 0)
			return -1;
	/* Ready only when the min connections are warm (or failed). */
	uint32_t want = o->min_conns < d->nconns ? o->min_conns : d->nconns;
	uint64_t until = pp_now_ns() + (o->connect_timeout_ms + 1000ull) * PP_NS_PER_MS;
	while (atomic_load_explicit(&d->warmed, memory_order_acquire) < want && pp_now_ns() < until) {
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

void pd_loops_stop(struct pd_daemon *d)
{
	atomic_store(&d->stopping, true);
	for (uint32_t k = 0; d->loops && k < d->nloops; k++) {
		struct pd_loop *L = &d->loops[k];
		if (L->started) {
			pd_loop_wake(d, k);
			pthread_join(L->thread, NULL);
		}
		if (L->bell >= 0) {
			close(L->bell);
			pp_bell_unlink(&d->bell, k);
		}
		free(L->queue);
		free(L->pfd);
		free(L->pfd_conn);
	}
	pp_bell_close(&d->bell);
	for (uint32_t k = 0; d->xs && k < d->nconns; k++) {
		pd_conn_destroy(&d->conns[k]);
		pd_exchange_free(&d->xs[k]);
	}
	for (uint32_t k = 0; d->loops && k < d->nloops; k++)
		curl_multi_cleanup(d->loops[k].multi);
	for (uint32_t i = 0; d->seats && i < d->seg.nslots; i++)
		free(d->seats[i].target);
	free(d->loops);
	free(d->seats);
	free(d->conns);
	free(d->xs);
	d->loops = NULL;
	d->seats = NULL;
	d->conns = NULL;
	d->xs = NULL;
}
