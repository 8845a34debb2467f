/* seat.c - seat threads (seat.h): each runs its queue of jobs with the C
 * library, on its own OS thread, so a lease is taken, used and released
 * on one thread as the library requires. */
#include "seat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void job_free(struct job *j)
{
	if (!j)
		return;
	pp_resp_free(&j->resp);
	free(j->detail);
	free(j);
}

size_t pool_seat_count(pp_pool *pp)
{
	pp_pool_status *st;
	size_t n = 0, size = pp_abi_size(PP_ABI_STATUS);

	/* The library may be newer, with a longer status struct: give it a
	 * buffer of its own size and read our (older) prefix. */
	if (size < sizeof *st)
		size = sizeof *st;
	st = calloc(1, size);
	if (st && pp_status(pp, st) == 0)
		n = (size_t)st->available + st->used;
	free(st);
	return n;
}

/* The next job of s, waiting for one; NULL once s is told to stop (jobs
 * still queued then are dropped: only a pool torn down with work in
 * flight has any, and nobody waits for their answers). */
static struct job *seat_next(struct seat *s)
{
	struct job *j;
	int spin_us = s->pool->spin_us;

	/* A client's next request usually follows the previous answer within
	 * microseconds: polling for it a little while saves the futex sleep
	 * and wake-up on both sides. */
	if (spin_us > 0 && !atomic_load_explicit(&s->pending, memory_order_acquire)) {
		uint64_t end = now_ns() + (uint64_t)spin_us * 1000u;
		while (!atomic_load_explicit(&s->pending, memory_order_acquire) && now_ns() < end)
			cpu_relax();
	}
	pthread_mutex_lock(&s->mu);
	while (!s->head && !s->stop) {
		s->sleeping = 1;
		pthread_cond_wait(&s->cv, &s->mu);
		s->sleeping = 0;
	}
	if (s->stop) {
		while ((j = s->head)) {
			s->head = j->next;
			job_free(j);
		}
		s->tail = NULL;
		pthread_mutex_unlock(&s->mu);
		return NULL;
	}
	j = s->head;
	s->head = j->next;
	if (!s->head)
		s->tail = NULL;
	atomic_fetch_sub_explicit(&s->pending, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->mu);
	return j;
}

/* Run j with the C library, on this seat thread. */
static void seat_run(struct seat *s, struct job *j)
{
	errno = 0;
	switch (j->kind) {
	case JOB_LEASE:
		j->rc = pp_lease(s->pool->pp, j->timeout_ms, &s->lease);
		if (j->rc)
			s->lease = NULL;
		break;
	case JOB_REQUEST:
		j->rc = s->lease ? pp_request(s->lease, &j->req, &j->resp) : PP_ERELEASED;
		break;
	case JOB_RELEASE:
		/* Whatever the outcome (PP_ELOST: the daemon took it back), the
		 * lease is gone from this thread. */
		j->rc = s->lease ? pp_release(s->lease) : PP_ERELEASED;
		s->lease = NULL;
		break;
	case JOB_DO:
		job_run_do(s->pool->pp, j);
		return;
	}
	job_note_error(j);
}

void job_run_do(pp_pool *pp, struct job *j)
{
	struct pp_lease *l = NULL;

	/* pp_do() with the caller's acquire timeout (pp_do waits for the
	 * daemon's own). */
	errno = 0;
	j->rc = pp_lease(pp, j->timeout_ms, &l);
	if (j->rc) {
		j->lease_failed = 1;
	} else {
		j->rc = pp_request(l, &j->req, &j->resp);
		(void)pp_release(l);
	}
	job_note_error(j);
}

void job_note_error(struct job *j)
{
	j->sys_errno = j->rc == PP_ESYS ? errno : 0;
	/* The library's detail is this thread's: copy it for the main thread
	 * (PP_EDAEMON: the pool and the daemon pid that is gone). */
	if (j->rc == PP_EDAEMON && pp_error_detail())
		j->detail = strdup(pp_error_detail());
}

void pool_deliver(struct pool *p, struct job *j)
{
	struct job *head;

	/* tsfn_mu only orders this against the environment's teardown
	 * (pool_env_gone sets env_gone under it, then closes done_async): the
	 * main thread never takes it to settle jobs, so the wake-up below
	 * cannot make it wait for this thread. */
	pthread_mutex_lock(&p->tsfn_mu);
	if (p->env_gone) {
		pthread_mutex_unlock(&p->tsfn_mu);
		job_free(j); /* nobody is left to settle it */
		return;
	}
	/* Release: the job's results (rc, resp, detail) are visible to the
	 * main thread's acquire exchange in pool_done_cb. */
	head = atomic_load_explicit(&p->done, memory_order_relaxed);
	do
		j->next = head;
	while (!atomic_compare_exchange_weak_explicit(&p->done, &head, j, memory_order_release,
						      memory_order_relaxed));
	/* libuv coalesces sends: one wake-up for all the jobs pushed before
	 * the main thread runs pool_done_cb. */
	uv_async_send(&p->done_async);
	pthread_mutex_unlock(&p->tsfn_mu);
}

void pool_tsfn_release(struct pool *p)
{
	pthread_mutex_lock(&p->tsfn_mu);
	if (!p->env_gone)
		napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
	pthread_mutex_unlock(&p->tsfn_mu);
}

static void *seat_main(void *arg)
{
	struct seat *s = arg;
	struct pool *p = s->pool;
	struct job *j;

	while ((j = seat_next(s))) {
		seat_run(s, j);
		pool_deliver(p, j);
	}
	if (s->lease)
		(void)pp_release(s->lease);
	s->lease = NULL;
	/* The last touch of the pool: once every seat thread and the main
	 * thread have let go, the thread-safe function's finalizer detaches
	 * and frees the pool (addon.c).  With the environment gone, the pool
	 * is left allocated: a seat thread may still be inside this call. */
	pool_tsfn_release(p);
	return NULL;
}

static struct seat *seat_start(struct pool *p, int *err)
{
	struct seat *s = calloc(1, sizeof *s);
	struct seat **grown;
	pthread_attr_t attr;
	int r;

	*err = PP_ENOMEM;
	if (!s)
		return NULL;
	grown = realloc(p->seats, (p->nseats + 1) * sizeof *grown);
	if (!grown) {
		free(s);
		return NULL;
	}
	p->seats = grown;
	s->pool = p;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	atomic_init(&s->pending, 0);
	if (napi_acquire_threadsafe_function(p->tsfn) != napi_ok) {
		*err = PP_ESHUTDOWN;
		goto fail;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&s->thread, &attr, seat_main, s);
	pthread_attr_destroy(&attr);
	if (r) {
		pool_tsfn_release(p);
		errno = r;
		*err = PP_ESYS;
		goto fail;
	}
	p->seats[p->nseats++] = s;
	*err = 0;
	return s;
fail:
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	return NULL;
}

struct seat *seat_take(struct pool *p, int *err)
{
	struct seat *s = p->idle;

	*err = 0;
	if (s) {
		p->idle = s->next_idle;
		s->next_idle = NULL;
		return s;
	}
	if (p->nseats >= p->cap_seats) {
		/* The daemon may have restarted with more seats. */
		size_t n = pool_seat_count(p->pp);
		if (n > p->cap_seats)
			p->cap_seats = n;
		if (p->nseats >= p->cap_seats)
			return NULL;
	}
	return seat_start(p, err);
}

void seat_put_idle(struct seat *s)
{
	struct pool *p = s->pool;

	s->next_idle = p->idle;
	p->idle = s;
}

void seat_submit(struct seat *s, struct job *j)
{
	j->seat = s;
	j->next = NULL;
	int wake;

	pthread_mutex_lock(&s->mu);
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	atomic_fetch_add_explicit(&s->pending, 1, memory_order_release);
	/* A spinning thread sees `pending` without a system call.  The
	 * signal goes after the unlock, so the thread it wakes does not
	 * block again at once on the mutex we still hold. */
	wake = s->sleeping;
	pthread_mutex_unlock(&s->mu);
	if (wake)
		pthread_cond_signal(&s->cv);
}

void pool_shutdown(struct pool *p)
{
	if (p->closed)
		return;
	p->closed = 1;
	for (size_t i = 0; i < p->nseats; i++) {
		struct seat *s = p->seats[i];
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	pool_tsfn_release(p);
}
