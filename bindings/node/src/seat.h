/* seat.h - seat threads: the native threads that hold the Node binding's
 * leases.
 *
 * The C library's thread rule: a lease (struct pp_lease *) belongs to the
 * OS thread that took it; pp_request and pp_release must run there.  Node
 * runs JavaScript on one thread and its thread pool on any thread, so the
 * binding gives every lease a thread of its own, a *seat thread*: the
 * thread runs a queue of jobs (lease, requests, release) one after the
 * other, and hands each finished job back to the main thread on the
 * pool's completion stack (pool->done), waking it with one uv_async_send
 * (pool_done_cb settles every job found there, on the main thread).
 *
 * Why not napi_call_threadsafe_function for that hand-back: Node calls
 * uv_async_send while it holds the thread-safe function's mutex.  On a
 * busy 2-CPU host the main thread it wakes preempts the seat thread inside
 * that write, then blocks on the same mutex in its async callback, and the
 * seat thread's unlock wakes it again: four context switches per request
 * instead of two (perf sched_switch stacks: README.md, "Per-request cost").  The
 * completion stack is lock-free and the main thread takes no lock that a
 * seat thread holds while it wakes it.
 *
 * A seat thread outlives its lease: after the release it goes back to the
 * pool's idle list and serves the next acquire (or a one-shot).  A
 * pool has at most as many seat threads as the pool has seats (slots):
 * one process can never hold more leases than that.
 *
 * Who touches what:
 *   seat->lease                  its seat thread only
 *   seat->mu, cv, head, tail, stop, sleeping   under seat->mu
 *   seat->pending                atomic (the seat thread's spin reads it)
 *   everything marked "main"     the JavaScript thread only
 *   pool->env_gone               under pool->tsfn_mu
 *   pool->done                   atomic: pushed by seat threads, taken whole by the main thread
 *   pool->done_async             uv_async_send from seat threads under tsfn_mu (unless
 *                                env_gone); everything else on the main thread
 *
 * Lifetime: each seat thread holds the pool's thread-safe function
 * (acquired for it when it starts, released as it leaves), the main thread
 * holds it until close() or the handle's finalizer; when the last holder
 * lets go, the thread-safe function's finalizer detaches the pool (addon.c).
 * The thread-safe function carries no calls: it is the count of threads
 * still using the pool and, ref'ed while jobs are in flight, what keeps
 * the event loop alive (done_async itself is unref'ed).
 */
#ifndef PPNODE_SEAT_H
#define PPNODE_SEAT_H

#include <node_api.h>
#include <phantompool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Headers a request may carry (the daemon allows three names; the library
 * rejects the others with PP_EBADHEADER, so a few spare are enough). */
#define SEAT_MAX_HEADERS 8

enum job_kind {
	JOB_LEASE,   /* pp_lease(timeout_ms) */
	JOB_REQUEST, /* pp_request on the seat's lease */
	JOB_RELEASE, /* pp_release of the seat's lease */
	JOB_DO,      /* a one-shot: lease (timeout_ms), request, release */
};

struct seat;
struct pool;

/* One unit of work for a seat thread.  Allocated by the main thread in
 * one block (strings and body copied into data[]), run by the seat
 * thread, settled and freed by the main thread. */
struct job {
	struct job *next;       /* the seat's queue, then the pool's done stack */
	enum job_kind kind;
	struct seat *seat;
	napi_deferred deferred; /* main: the promise this job settles */
	int timeout_ms;         /* JOB_LEASE, JOB_DO: pp_lease's timeout */
	int as_buffer;          /* JOB_REQUEST/DO: body as a Buffer, not a string */
	pp_req req;             /* JOB_REQUEST/DO: points into data[] */
	pp_header headers[SEAT_MAX_HEADERS];
	int rc;                 /* seat thread: the call's outcome */
	int sys_errno;          /* seat thread: errno when rc is PP_ESYS */
	int lease_failed;       /* seat thread: JOB_DO failed in pp_lease */
	char *detail;           /* seat thread: pp_error_detail() for PP_EDAEMON (malloc'ed), or NULL */
	pp_resp resp;           /* seat thread: the response (rc == 0) */
	char data[];
};

struct seat {
	struct pool *pool;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail; /* under mu */
	int stop;                /* under mu: leave once the queue is empty */
	int sleeping;            /* under mu: the thread waits on cv */
	atomic_uint pending;     /* jobs queued and not yet taken */
	struct pp_lease *lease;  /* seat thread only */
	/* main thread only */
	uint32_t ticket;         /* bumped at every lease: names one client */
	int leased;              /* a lease is held (or being released) */
	struct seat *next_idle;
};

struct pool {
	pp_pool *pp;
	napi_threadsafe_function tsfn;
	/* Guards every use of tsfn off the main thread against the
	 * environment's teardown (a worker thread or the process exiting with
	 * seat threads alive): once env_gone is set, Node may have freed the
	 * thread-safe function and no seat thread touches it again. */
	pthread_mutex_t tsfn_mu;
	int env_gone;            /* under tsfn_mu */
	int spin_us;             /* a seat thread polls its queue this long before sleeping */
	/* Finished jobs, newest first (a lock-free stack: seat threads push
	 * one at a time, the main thread takes them all at once). */
	_Atomic(struct job *) done;
	uv_async_t done_async;   /* wakes the main thread: pool_done_cb */
	/* main thread only */
	struct seat **seats;
	size_t nseats, cap_seats;
	struct seat *idle;
	napi_env env;
	napi_ref resource;       /* the async resource jobs are settled under */
	napi_async_context async_ctx;
	size_t outstanding;      /* jobs handed out and not yet settled */
	napi_ref self;           /* the pool's JS handle: strong while jobs are out */
	napi_deferred closed_deferred; /* close()'s promise: settled once every seat thread is gone */
	int closed;
};

/* Main thread, pool->done_async's callback: settles every finished job on
 * pool->done, oldest first, in one callback scope (addon.c). */
void pool_done_cb(uv_async_t *h);

/* Main thread.  An idle seat thread, or a new one if the pool has fewer
 * than it may have.  Returns NULL when none is free (all busy, or a thread
 * could not be started: *err says which: 0 or PP_ESYS/PP_ENOMEM). */
struct seat *seat_take(struct pool *p, int *err);

/* Main thread.  Put a seat thread back on the idle list. */
void seat_put_idle(struct seat *s);

/* Main thread.  Queue j on s (the seat thread runs it and hands it back
 * through the pool's thread-safe function). */
void seat_submit(struct seat *s, struct job *j);

/* Main thread.  Stop every seat thread of p (each releases the lease it
 * still holds, on its own thread) and drop the main thread's reference:
 * the last thread to leave detaches the pool and frees it. */
void pool_shutdown(struct pool *p);

/* Any thread.  Hand a finished job to the main thread (push it on
 * pool->done, wake the loop), or free it when the environment is gone. */
void pool_deliver(struct pool *p, struct job *j);

/* Any thread.  Let go of the thread-safe function (unless the environment
 * is gone: then Node has already). */
void pool_tsfn_release(struct pool *p);

/* Any thread.  Run a JOB_DO on the calling thread: pp_lease (j->timeout_ms),
 * pp_request, pp_release; the outcome in j->rc, j->resp, j->lease_failed,
 * j->sys_errno and j->detail.  Blocks for as long as the lease and the
 * request take.  A seat thread runs it for pool.request(); the main thread
 * for pool.requestSync(). */
void job_run_do(pp_pool *pp, struct job *j);

/* The calling thread's errno (PP_ESYS) and pp_error_detail() (PP_EDAEMON)
 * for j->rc, copied into j. */
void job_note_error(struct job *j);

/* Free a job and its response. */
void job_free(struct job *j);

/* How many seats the pool's segment has (available + used), at least 1. */
size_t pool_seat_count(pp_pool *pp);

#endif
