/* pool.c - attach, detach, status, errors: the pool handle. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "errdetail.h"
#include "clock.h"
#include "slot.h"
#include "stats.h"
#include "sys.h"

/* This process's pid, reset in a forked child by the atfork handler.  (A
 * page of its own marked MADV_WIPEONFORK instead cost a fresh process as
 * much: an mmap, a madvise and a page fault, 24 us against pthread_atfork's
 * ~30 on the benchmark host.) */
static _Atomic pid_t cached_pid;
/* 0: not yet, 1: one thread runs client_init, 2: done.  Not pthread_once:
 * glibc's ends with a futex wake system call, paid by every CGI run. */
static _Atomic int init_state;

static void on_fork_child(void)
{
	atomic_store_explicit(&cached_pid, pp_sys_getpid(), memory_order_relaxed);
}

static void client_init(void)
{
	atomic_store_explicit(&cached_pid, pp_sys_getpid(), memory_order_relaxed);
	pthread_atfork(NULL, NULL, on_fork_child);
}

void pp_client_init_once(void)
{
	/* Pairs with the release store below: cached_pid is set. */
	if (atomic_load_explicit(&init_state, memory_order_acquire) == 2)
		return;
	int expected = 0;
	if (atomic_compare_exchange_strong_explicit(&init_state, &expected, 1, memory_order_acquire,
						    memory_order_acquire)) {
		client_init();
		atomic_store_explicit(&init_state, 2, memory_order_release);
		return;
	}
	while (atomic_load_explicit(&init_state, memory_order_acquire) != 2)
		sched_yield(); /* another thread is in client_init: a few microseconds */
}

pid_t pp_client_pid(void)
{
	return atomic_load_explicit(&cached_pid, memory_order_relaxed);
}

#define PID_CHECK_NS ((uint64_t)PP_PID_CHECK_MS * PP_NS_PER_MS)

/* Map the pool's segment and check its daemon.  Returns the new
 * attachment, or NULL with *err set; *dead (may be NULL) says whether a
 * segment was there but is no use (its daemon gone, or it failed
 * validation), as opposed to one still being created. */
static struct pp_att *att_open(pp_pool *p, int *err, bool *dead)
{
	struct pp_att *a = calloc(1, sizeof *a);
	if (dead)
		*dead = false;
	if (!a) {
		*err = PP_ENOMEM;
		return NULL;
	}
	int r = pp_seg_attach(p->name, true, &a->seg);
	if (dead)
		*dead = r == PP_ECORRUPT || r == PP_EVERSION;
	if (!r && !pp_seg_daemon_alive(&a->seg, PP_DAEMON_STALE_MS)) {
		r = PP_EDAEMON;
		if (dead)
			*dead = true;
	}
	if (!r && !(a->leases = calloc(a->seg.nslots, sizeof *a->leases)))
		r = PP_ENOMEM;
	if (!r && (r = pp_bell_init(&a->bell, a->seg.shm_name)) == 0)
		a->bell.hdr = a->seg.hdr;
	if (r) {
		pp_seg_unmap(&a->seg);
		free(a->leases);
		free(a);
		*err = r;
		return NULL;
	}
	atomic_init(&a->pool, p);
	a->lock_kind = pp_owner_lock_kind();
	atomic_store(&a->next_pid_check_ns, pp_now_coarse_ns() + PID_CHECK_NS);
	return a;
}

static void att_free(struct pp_att *a)
{
	pp_bell_close(&a->bell);
	pp_seg_unmap(&a->seg);
	for (uint32_t i = 0; i < a->seg.nslots; i++) {
		free(a->leases[i].scratch.buf);
		free(a->leases[i].out.mem.buf);
	}
	free(a->leases);
	free(a);
}

int pp_attach(const char *pool, pp_pool **out)
{
	pp_detail_clear();
	if (!out)
		return PP_EINVAL;
	*out = NULL;
	pp_client_init_once();
	pp_pool *p = calloc(1, sizeof *p);
	if (!p)
		return PP_ENOMEM;
	int r = pp_pool_resolve(pool, p->name, sizeof p->name);
	struct pp_att *a = r ? NULL : att_open(p, &r, NULL);
	if (!a) {
		int e = errno;
		free(p);
		pp_detail_attach(pool, r, e);
		return r;
	}
	pthread_mutex_init(&p->reattach_lock, NULL);
	atomic_store(&p->cur, a);
	*out = p;
	return 0;
}

void pp_att_mark_stale(struct pp_att *a)
{
	atomic_store_explicit(&a->stale, true, memory_order_relaxed);
}

int pp_att_check_daemon(struct pp_att *a, uint64_t *pid_checked_ns)
{
	uint64_t now = pp_now_coarse_ns();
	bool alive = pp_seg_daemon_fresh(&a->seg, PP_DAEMON_STALE_MS, now);
	if (alive && now - *pid_checked_ns >= PID_CHECK_NS) {
		alive = pp_seg_daemon_pid_exists(&a->seg);
		*pid_checked_ns = now;
	}
	if (alive)
		return 0;
	pp_att_mark_stale(a);
	return PP_EDAEMON;
}

/* A new daemon's segment under the pool's name, if one has replaced that
 * of a (whose daemon is gone): attach to it and make it current.  While
 * there is none this costs an open and an fstat (pp_seg_identity), no
 * mapping: the same inode is the dead daemon's own segment, and a segment
 * found dead before is looked at again only every PP_PID_CHECK_MS.  A
 * segment still being created (not yet published) is tried again on the
 * next call.
 * Returns the attachment to use, or NULL with *err set. */
static struct pp_att *pool_replace(pp_pool *p, struct pp_att *a, int *err)
{
	dev_t dev;
	ino_t ino;
	*err = PP_EDAEMON;
	if (pp_seg_identity(a->seg.shm_name, &dev, &ino) != 0 || (dev == a->seg.dev && ino == a->seg.ino)) {
		/* No daemon: nothing for this call to do.  Give the CPU away once,
		 * so workers that retry in a tight loop do not starve a daemon
		 * that is starting (bench_outage: restart_first_ok_tight). */
		sched_yield();
		return NULL;
	}
	uint64_t now = pp_now_coarse_ns();
	if (dev == atomic_load(&p->dead_dev) && ino == atomic_load(&p->dead_ino) &&
	    now < atomic_load(&p->dead_retry_ns))
		return NULL;
	pthread_mutex_lock(&p->reattach_lock);
	struct pp_att *cur = atomic_load(&p->cur);
	if (cur == a) {
		bool dead = false;
		struct pp_att *n = att_open(p, err, &dead);
		if (n && n->seg.generation == a->seg.generation) {
			att_free(n); /* cannot happen: a new object is a new generation */
			n = NULL;
			*err = PP_EDAEMON;
		}
		if (n) {
			n->older = a;
			/* Pairs with the acquire load in pp_pool_current. */
			atomic_store_explicit(&p->cur, n, memory_order_release);
		} else if (dead) {
			atomic_store(&p->dead_dev, dev);
			atomic_store(&p->dead_ino, ino);
			atomic_store(&p->dead_retry_ns, now + PID_CHECK_NS);
		}
		cur = n;
	}
	pthread_mutex_unlock(&p->reattach_lock);
	if (!cur && *err != PP_ENOMEM)
		*err = PP_EDAEMON;
	return cur;
}

struct pp_att *pp_pool_current_slow(pp_pool *p, struct pp_att *a, int *err)
{
	/* A due pid check: one thread takes it (moves the time on), the
	 * others go ahead with what the heartbeat says. */
	uint64_t now = pp_now_coarse_ns(), due = atomic_load(&a->next_pid_check_ns);
	uint64_t checked = 0; /* ask for the pid when it is our turn */
	if (now < due || !atomic_compare_exchange_strong(&a->next_pid_check_ns, &due, now + PID_CHECK_NS))
		checked = now;
	if (!atomic_load_explicit(&a->stale, memory_order_relaxed) && pp_att_check_daemon(a, &checked) == 0)
		return a;
	/* Gone, or only looked gone (stalled longer than the staleness bound,
	 * stopped by a signal): a daemon back to life keeps its workers. */
	if (pp_seg_daemon_fresh(&a->seg, PP_DAEMON_STALE_MS, now) && pp_seg_daemon_pid_exists(&a->seg)) {
		atomic_store_explicit(&a->stale, false, memory_order_relaxed);
		return a;
	}
	return pool_replace(p, a, err);
}

/* Attachments pp_detach could not free: another thread still held a lease
 * of each (its owner lock is on that thread's robust list, its pp_lease in
 * a->leases), so neither the mapping nor the record may go away under it.
 * They stay for the life of the process, listed here (still reachable),
 * and no longer point at the freed handle. */
static _Atomic(struct pp_att *) kept_atts;

static void keep_att(struct pp_att *a)
{
	atomic_store_explicit(&a->pool, NULL, memory_order_relaxed);
	struct pp_att *head = atomic_load(&kept_atts);
	do
		a->older = head;
	while (!atomic_compare_exchange_weak(&kept_atts, &head, a));
}

void pp_detach(pp_pool *p)
{
	if (!p)
		return;
	pid_t me = pp_client_pid();
	struct pp_att *a = atomic_load(&p->cur);
	while (a) {
		bool held_elsewhere = false;
		for (uint32_t i = 0; i < a->seg.nslots; i++) {
			struct pp_lease *l = &a->leases[i];
			if (!l->token || l->pid != me)
				continue;
			if (pthread_equal(l->thread, pthread_self()))
				pp_release(l);
			else
				held_elsewhere = true; /* only its own thread can unlock it */
		}
		struct pp_att *older = a->older;
		if (held_elsewhere)
			keep_att(a);
		else
			att_free(a);
		a = older;
	}
	pthread_mutex_destroy(&p->reattach_lock);
	free(p);
}

/* Sum the slots' counters (each slot read as one consistent snapshot). */
static void status_add_slots(const struct pp_seg *seg, pp_pool_status *out)
{
	for (uint32_t i = 0; i < seg->nslots; i++) {
		struct pp_slot_snapshot sn;
		pp_slot_snapshot(&seg->slots[i], &sn);
		out->leases += sn.leases;
		out->requests += sn.requests;
		out->errors += sn.errors;
		out->bytes_in += sn.bytes_in;
		out->bytes_out += sn.bytes_out;
		out->connects += sn.connects;
		out->reconnects += sn.reconnects;
		out->health_checks += sn.health_checks;
		out->health_failures += sn.health_failures;
	}
}

/* Lease-wait figures: the slept leases' histogram plus the leases that did
 * not sleep, counted as waits of 0.  Needs out->leases. */
static void status_lease_waits(struct pp_shm_header *h, pp_pool_status *out)
{
	uint64_t hist[PP_HIST_BUCKETS], slept = 0;
	for (int b = 0; b < PP_HIST_BUCKETS; b++) {
		hist[b] = atomic_load_explicit(&h->lease_wait_hist[b], memory_order_relaxed);
		slept += hist[b];
	}
	uint64_t zero = out->leases > slept ? out->leases - slept : 0;
	out->lease_waits = atomic_load_explicit(&h->lease_waits, memory_order_relaxed);
	out->lease_wait_max_ns = atomic_load_explicit(&h->lease_wait_max_ns, memory_order_relaxed);
	out->lease_wait_p50_ns = pp_hist_quantile_ns(hist, zero, 0.50, out->lease_wait_max_ns);
	out->lease_wait_p99_ns = pp_hist_quantile_ns(hist, zero, 0.99, out->lease_wait_max_ns);
}

/* The connection figures (display only: read without a common snapshot). */
static void status_connections(struct pp_shm_header *h, pp_pool_status *out)
{
	uint64_t hist[PP_HIST_BUCKETS];
	for (int b = 0; b < PP_HIST_BUCKETS; b++)
		hist[b] = atomic_load_explicit(&h->queue_wait_hist[b], memory_order_relaxed);
	out->conns_max = h->max_conns;
	out->conns_open = atomic_load_explicit(&h->conns_open, memory_order_relaxed);
	out->conns_busy = atomic_load_explicit(&h->conns_busy, memory_order_relaxed);
	out->queued = atomic_load_explicit(&h->queued, memory_order_relaxed);
	out->queue_waits = atomic_load_explicit(&h->queue_waits, memory_order_relaxed);
	out->queue_wait_max_ns = atomic_load_explicit(&h->queue_wait_max_ns, memory_order_relaxed);
	out->queue_wait_p50_ns = pp_hist_quantile_ns(hist, 0, 0.50, out->queue_wait_max_ns);
	out->queue_wait_p99_ns = pp_hist_quantile_ns(hist, 0, 0.99, out->queue_wait_max_ns);
}

int pp_status(pp_pool *p, pp_pool_status *out)
{
	if (!p || !out)
		return pp_detail_after(NULL, PP_EINVAL);
	memset(out, 0, sizeof *out);
	int err = 0;
	uint64_t now_please = 0; /* pp_status asks for the pid every time */
	struct pp_att *a = pp_pool_current(p, &err);
	if (a && pp_att_check_daemon(a, &now_please) != 0)
		a = pp_pool_current(p, &err);
	if (!a)
		return pp_detail_after(p, err);
	const struct pp_seg *seg = &a->seg;
	struct pp_shm_header *h = seg->hdr;
	status_add_slots(seg, out);
	status_lease_waits(h, out);
	out->backend_failovers = atomic_load_explicit(&h->backend_failovers, memory_order_relaxed);
	out->backend_index = atomic_load_explicit(&h->backend_index, memory_order_relaxed);
	out->backend_up = atomic_load_explicit(&h->backend_up, memory_order_relaxed);
	uint64_t wall = pp_wall_ns();
	out->uptime_ns = wall > h->start_wall_ns ? wall - h->start_wall_ns : 0;
	out->available = pp_slots_free(seg);
	out->used = seg->nslots - out->available;
	out->min = h->min_conns;
	out->max = seg->nslots;
	out->waiting = pp_sem_waiting(h);
	out->daemon_pid = seg->daemon_pid;
	out->generation = seg->generation;
	out->lease_timeouts = atomic_load_explicit(&h->lease_timeouts, memory_order_relaxed);
	out->reclaims = atomic_load_explicit(&h->reclaims, memory_order_relaxed);
	status_connections(h, out);
	return 0;
}

int pp_version(void)
{
	return PP_VERSION_NUMBER;
}

size_t pp_abi_size(int which)
{
	switch (which) {
	case PP_ABI_REQ: return sizeof(pp_req);
	case PP_ABI_RESP: return sizeof(pp_resp);
	case PP_ABI_HEADER: return sizeof(pp_header);
	case PP_ABI_STATUS: return sizeof(pp_pool_status);
	case PP_ABI_COLUMN: return sizeof(pp_column);
	default: return 0;
	}
}
