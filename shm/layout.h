/* layout.h - the shared segment /phantompool-<pool>: the one layout header
 * included by the daemon, the client library and the dump tool.
 *
 *   +--------------------------+ 0
 *   | struct pp_shm_header     |  identity, limits, heartbeat, semaphore,
 *   |                          |  pool counters
 *   +--------------------------+ PP_WAITERS_OFF
 *   | struct pp_waiter [1024]  |  sleepers of the free-slot semaphore
 *   +--------------------------+ slots_off  (= PP_SLOTS_OFF)
 *   | struct pp_slot [nslots]  |  one 64-byte-aligned record per slot
 *   +--------------------------+ rings_off  (page aligned)
 *   | ring data [2 * nslots]   |  slot i: request ring 2i, response ring 2i+1,
 *   |   ring_size bytes each   |  ring_size a power of two
 *   +--------------------------+ segment_size
 *
 * Only offsets live here, never pointers (one exception, documented at
 * pp_slot.owner_lock).  Ownership: each field's comment says who writes it
 * (D = daemon, W = worker) and who reads it.  Everything the daemon reads
 * from the segment is untrusted: a buggy or hostile worker can write any
 * byte, so the daemon keeps private copies of the layout (struct pp_seg)
 * and validates every index, length and state it reads.
 *
 * Publication: the daemon initialises the whole segment, then stores
 * `magic` last with release order (pp_seg_create); attachers load it with
 * acquire order before reading anything else (pp_seg_validate).
 */
#ifndef PP_LAYOUT_H
#define PP_LAYOUT_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

#define PP_SHM_MAGIC 0x4c4f4f504d544850ull /* "PHTMPOOL" read little-endian */
#define PP_LAYOUT_VERSION 6u /* 2: waiter table; 3: FIFO handoff queue; 4: spin claims; 5: loop doorbells; 6: seats apart from connections */
#define PP_POOL_NAME_MAX 40 /* characters, without the NUL */
#define PP_MAX_SLOTS 4096u
#define PP_RING_MIN 4096u
#define PP_RING_MAX (16u << 20)
#define PP_RING_DEFAULT (64u << 10)
#define PP_MAX_WAITERS 1024u /* sleepers tracked at once; more still wait, in slices */
#define PP_WAITER_WORDS (PP_MAX_WAITERS / 64)
#define PP_SPIN_CLAIMS 8 /* most spinners at once (spin.h) */
#define PP_LOOPS_MAX 16  /* most serving loops a daemon runs (daemon/loop.h, shm/bell.h) */
#define PP_HIST_BUCKETS 32 /* log2 histograms in microseconds: up to ~35 min */

/* The heartbeat contract: the daemon refreshes heartbeat_ns every tick
 * (10 ms); a heartbeat older than this means the daemon is gone (killed,
 * or stalled for that long).  The one staleness bound of every reader:
 * workers (libclient, see pp_att_check_daemon) and phantompool-shmdump. */
#define PP_DAEMON_STALE_MS 1000u

/* Daemon lifecycle, pp_shm_header.daemon_state. */
enum pp_daemon_state {
	PP_DAEMON_STARTING = 1, /* segment exists, connections warming */
	PP_DAEMON_READY = 2,    /* serving */
	PP_DAEMON_DRAINING = 3, /* SIGTERM: no new leases */
	PP_DAEMON_STOPPED = 4,  /* exited cleanly; segment is being unlinked */
};

/* Lease state of a slot, pp_slot.state: where the slot "lives". */
enum pp_slot_state {
	PP_SLOT_FREE = 0,       /* in the pool; owner_lock unlocked */
	PP_SLOT_LEASED = 1,     /* held by a worker, no exchange in flight */
	PP_SLOT_BUSY = 2,       /* held, a request/response exchange in flight */
	PP_SLOT_RECLAIM = 3,    /* owner died: the daemon must reset it */
	PP_SLOT_RESETTING = 4,  /* the daemon is resetting it */
	PP_SLOT_DISABLED = 5,   /* reserved (never set by the daemon) */
	PP_SLOT_HANDOFF = 6,    /* released straight to the oldest waiter (pp_slot.handoff) */
	PP_SLOT_NSTATES
};

/* Kinds of failed exchanges, pp_slot.errors_by_kind[]. */
enum pp_errkind {
	PP_ERRKIND_BACKEND = 0, /* PhantomDB unreachable, connection broke */
	PP_ERRKIND_TIMEOUT,     /* request timeout */
	PP_ERRKIND_REJECTED,    /* bad method, path, header or size from the worker */
	PP_ERRKIND_PROTOCOL,    /* garbage in the request ring */
	PP_ERRKIND_OTHER,
	PP_ERRKIND_N
};

/* Connection state of a slot's backend connection, pp_slot.conn_state. */
enum pp_conn_state {
	PP_CONN_NONE = 0,       /* not opened yet (opened on first use) */
	PP_CONN_CONNECTING = 1,
	PP_CONN_UP = 2,
	PP_CONN_DOWN = 3,       /* last attempt failed; backing off */
	PP_CONN_NSTATES
};

struct pp_shm_header {
	/* --- identity and layout: D writes once before publishing magic;
	 *     W and shmdump read.  magic is stored last (release). */
	_Atomic uint64_t magic;
	uint32_t layout_version;
	uint32_t header_size;      /* sizeof(struct pp_shm_header) */
	uint64_t segment_size;
	uint64_t generation;       /* random, new for every daemon start */
	int32_t daemon_pid;
	uint32_t nslots;           /* seats (--seats) */
	uint32_t min_conns;
	uint32_t max_conns;        /* backend connections at most (--max), <= nslots */
	uint32_t ring_size;        /* bytes per ring, power of two */
	uint32_t slot_size;        /* sizeof(struct pp_slot) */
	uint64_t slots_off;
	uint64_t rings_off;
	uint64_t start_wall_ns;    /* CLOCK_REALTIME at daemon start */
	uint32_t lease_timeout_ms; /* default acquire timeout */
	uint32_t request_timeout_ms; /* daemon's per-request timeout */
	uint64_t max_body;         /* largest request body, 0 = no limit */
	uint32_t spin_claims;      /* spinners allowed at once: online CPUs - 1, <= PP_SPIN_CLAIMS */
	uint32_t reserved0;
	char pool_name[PP_POOL_NAME_MAX + 8];
	char backend[128];         /* display only: the node in use's base URL, no credentials */

	/* --- liveness: D writes, W and shmdump read. */
	alignas(PP_CACHELINE) _Atomic uint32_t daemon_state; /* pp_daemon_state */
	_Atomic uint32_t spin_ns;  /* D (start, reload): spin budget per wait, 0 = never spin (spin.h) */
	_Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC, refreshed every daemon tick (10 ms);
	                                * older than PP_DAEMON_STALE_MS: the daemon is gone */

	/* --- the free-slot semaphore.  Its count is the number of FREE slots
	 * (derived from the slot table, so it cannot drift when a process dies
	 * mid-operation).  Sleepers are registered in the waiter table: bit i
	 * of waiter_bits is set while waiter record i is held by a sleeping
	 * worker (a robust mutex, so a waiter killed in its sleep is found and
	 * cleared by the daemon, like a dead lease holder). */
	alignas(PP_CACHELINE) _Atomic uint32_t wake_seq; /* futex word, W: bumped by a release that may wake a sleeper */
	_Atomic uint32_t waiters;  /* D: sleeping workers at the last reaper tick (display only) */
	alignas(PP_CACHELINE) _Atomic uint64_t waiter_bits[PP_WAITER_WORDS]; /* W set/clear, D clears the dead */
	/* The FIFO of sleepers: a sleeper takes ticket t = q_tail++ and writes
	 * queue[t % PP_MAX_WAITERS] = t << 16 | (record + 1); a release while
	 * the head has waited PP_HANDOFF_AFTER_MS (slot.h) takes the entry at
	 * q_head and hands its slot to that record (HANDOFF) instead of freeing
	 * it, so sleepers are served in arrival order once they have waited
	 * that long, and newcomers cannot take a handed-over slot.  Entries of
	 * sleepers that left or died are skipped (their record's ticket or
	 * `assigned` no longer matches).  A ticket is taken only while
	 * q_tail - q_head < PP_MAX_WAITERS, so no entry from q_head on is ever
	 * overwritten; a sleeper finding the queue full waits unqueued and
	 * joins later (lease.c, queue_ticket).  W writes all three. */
	alignas(PP_CACHELINE) _Atomic uint64_t q_head;
	alignas(PP_CACHELINE) _Atomic uint64_t q_tail;
	alignas(PP_CACHELINE) _Atomic uint64_t queue[PP_MAX_WAITERS];

	/* --- pool counters, slow paths only (per-slot counters keep the lease
	 * fast path off this shared line): W and D increment, relaxed.  All
	 * counters are free-running uint64: readers take differences modulo
	 * 2^64, so wrapping is harmless. */
	alignas(PP_CACHELINE) _Atomic uint64_t lease_timeouts;
	_Atomic uint64_t lease_waits;      /* pp_lease calls that had to sleep (W) */
	_Atomic uint64_t reclaims;         /* slots reclaimed from dead owners (D) */
	_Atomic uint64_t lease_wait_max_ns; /* running maximum of a lease wait (W, CAS) */
	_Atomic uint64_t lease_wait_sum_ns; /* total time slept for leases (W) */
	/* Leases that slept, by wait: bucket b counts waits in
	 * [2^b, 2^(b+1)) microseconds (bucket 0: under 2 us).  Leases that did
	 * not sleep are the slots' `leases` minus this histogram's total. */
	_Atomic uint64_t lease_wait_hist[PP_HIST_BUCKETS];
	_Atomic uint64_t backend_failovers; /* D: moves to another backend URL */
	_Atomic uint32_t backend_index;     /* D: which --backend is in use */
	_Atomic uint32_t backend_up;        /* D: 0 while every backend failed its last attempt */

	/* --- spin claims (spin.h): entry i holds the CLOCK_MONOTONIC deadline
	 * of the spin holding it, 0 or a past time when free.  W and D CAS. */
	alignas(PP_CACHELINE) _Atomic uint64_t spin_until_ns[PP_SPIN_CLAIMS];
	/* Exchanges the daemon is serving right now (D: its loops and slot threads);
	 * a spin needs the pool nearly idle (spin.h).  Timing only. */
	alignas(PP_CACHELINE) _Atomic uint32_t inflight;
	uint32_t reserved2;
	_Atomic uint64_t spin_hits;   /* W, D: spins that saw the awaited publish */
	_Atomic uint64_t spin_misses; /* W, D: spins that ended in a futex sleep */
	/* Exchanges that had to wait for their worker: its next request frame,
	 * or room in the response ring (daemon/exchange.h).  D. */
	_Atomic uint64_t escalations;
	_Atomic uint32_t loops;       /* D: serving loops (threads) the daemon runs */
	uint32_t reserved3;
	/* Wake words of the serving loops (bell.h): loop k sleeps on
	 * loop_wake[k].word when it has no exchange in flight; a worker bumps
	 * the word and futex-wakes it.  W, D.  Timing only. */
	struct {
		alignas(PP_CACHELINE) _Atomic uint32_t word;
	} loop_wake[PP_LOOPS_MAX];

	/* --- connections (daemon/loop.c, daemon/conn.c).  D writes (relaxed,
	 * from every loop), W and shmdump read.  Display only. */
	alignas(PP_CACHELINE) _Atomic uint32_t conns_open; /* connections open now */
	_Atomic uint32_t conns_busy;  /* connections serving an exchange or health check now */
	_Atomic uint32_t queued;      /* exchanges waiting for an idle connection now */
	uint32_t reserved4;
	_Atomic uint64_t queue_waits; /* exchanges that waited for a connection */
	_Atomic uint64_t queue_wait_sum_ns;
	_Atomic uint64_t queue_wait_max_ns;
	/* Those waits by length: bucket b counts [2^b, 2^(b+1)) microseconds. */
	_Atomic uint64_t queue_wait_hist[PP_HIST_BUCKETS];
};

/* A waiter record: held (robust mutex, process-shared) by a worker while
 * it sleeps in pp_lease.  The daemon only loads and CASes its futex word. */
struct pp_waiter {
	alignas(PP_CACHELINE) pthread_mutex_t lock;
	_Atomic uint32_t futex;    /* W: the sleeper sleeps here; a hand-over bumps it */
	_Atomic uint32_t assigned; /* W: 0, slot + 1 (handed a slot), or PP_WAITER_CLOSED */
	_Atomic uint64_t ticket;   /* W: the sleeper's queue ticket */
	_Atomic uint64_t since_ns; /* W: when it joined the queue (CLOCK_MONOTONIC); W reads (slot.h) */
};
_Static_assert(sizeof(struct pp_waiter) == PP_CACHELINE, "a waiter record is one cache line");
#define PP_WAITER_CLOSED 0xffffffffu

/* One slot record, cache-line aligned. */
struct pp_slot {
	/* --- lease.  owner_lock is a robust, process-shared pthread mutex held
	 * by the lease-holding thread for the whole lease: the kernel marks it
	 * FUTEX_OWNER_DIED when that thread dies, which is how the daemon tells
	 * a dead holder from a live one without trusting pids (no pid-reuse
	 * race).  glibc keeps the holder's robust-list pointers inside it: the
	 * one place the segment holds pointers, used only by the holding
	 * worker's own glibc.  The daemon never locks it: it only loads and CASes
	 * the futex word (pp_slot_lock_word). */
	alignas(PP_CACHELINE) pthread_mutex_t owner_lock;
	_Atomic uint32_t state;       /* pp_slot_state; W on lease/release, D on reclaim */
	_Atomic int32_t owner_pid;    /* W: holder's pid, 0 when free */
	_Atomic uint64_t token;       /* W: lease token, 0 when free */
	_Atomic uint64_t lease_start_ns; /* W: CLOCK_MONOTONIC (coarse) at lease */
	uint64_t lease_seq;           /* W (under owner_lock): leases of this slot */
	_Atomic uint64_t handoff;     /* W/D: the queue entry it was handed to (state HANDOFF) */
	_Atomic uint64_t leases;      /* W: leases granted on this slot */
	_Atomic uint32_t leak_flag;   /* D: 1 while the lease is older than leak_threshold */
	_Atomic int32_t worker_cpu;   /* W: CPU of the worker's last request, -1 unknown (spin.h) */

	/* --- connection and counters: D writes, W and shmdump read.  The
	 * daemon brackets each multi-field update with stats_seq (odd while
	 * writing): a reader copies the counters and retries if stats_seq was
	 * odd or changed (a seqlock).  All counters are free-running uint64. */
	alignas(PP_CACHELINE) _Atomic uint32_t stats_seq;
	_Atomic uint32_t conn_state;  /* pp_conn_state */
	_Atomic int32_t daemon_cpu;   /* D: CPU of the slot's thread, -1 unknown (spin.h); outside the seqlock */
	_Atomic uint64_t reclaims;
	_Atomic uint64_t requests;    /* exchanges served */
	_Atomic uint64_t errors;      /* exchanges that ended in ERROR */
	_Atomic uint64_t errors_by_kind[PP_ERRKIND_N];
	_Atomic uint64_t bytes_in;    /* request body bytes sent to PhantomDB */
	_Atomic uint64_t bytes_out;   /* response body bytes received */
	_Atomic uint64_t connects;    /* new backend connections opened */
	_Atomic uint64_t reconnects;  /* opens after the first (failure, reset, idle close, lifetime, node change) */
	_Atomic uint64_t health_checks;
	_Atomic uint64_t health_failures;
	_Atomic uint64_t conn_since_ns;  /* CLOCK_MONOTONIC when the current connection opened, 0 if none */
	_Atomic uint64_t last_latency_ns; /* of the last exchange */
	_Atomic uint64_t latency_sum_ns;
	/* Exchanges by latency: bucket b counts [2^b, 2^(b+1)) microseconds. */
	_Atomic uint64_t latency_hist[PP_HIST_BUCKETS];

	/* --- the exchange: request ring (W produces, D consumes) and response
	 * ring (D produces, W consumes). */
	struct pp_ring_ctl req;
	struct pp_ring_ctl resp;
};

_Static_assert(offsetof(struct pp_shm_header, magic) == 0, "magic first");
_Static_assert(offsetof(struct pp_shm_header, layout_version) == 8, "version at 8");
_Static_assert(offsetof(struct pp_shm_header, segment_size) == 16, "size at 16");
_Static_assert(offsetof(struct pp_shm_header, daemon_state) % PP_CACHELINE == 0, "liveness line");
_Static_assert(offsetof(struct pp_shm_header, wake_seq) % PP_CACHELINE == 0, "semaphore line");
_Static_assert(sizeof(struct pp_shm_header) % PP_CACHELINE == 0, "header size");
_Static_assert(sizeof(struct pp_slot) % PP_CACHELINE == 0, "slot size");
_Static_assert(offsetof(struct pp_slot, stats_seq) % PP_CACHELINE == 0, "daemon line");
_Static_assert(offsetof(struct pp_slot, req) % PP_CACHELINE == 0, "ring ctl aligned");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8, "atomics");

#define PP_WAITERS_OFF ((uint64_t)sizeof(struct pp_shm_header))
#define PP_SLOTS_OFF (PP_WAITERS_OFF + (uint64_t)PP_MAX_WAITERS * sizeof(struct pp_waiter))
#define PP_PAGE 4096u

/* Offset of the ring data area for a segment of nslots slots. */
static inline uint64_t pp_layout_rings_off(uint32_t nslots)
{
	uint64_t end = PP_SLOTS_OFF + (uint64_t)nslots * sizeof(struct pp_slot);
	return (end + PP_PAGE - 1) & ~(uint64_t)(PP_PAGE - 1);
}

/* Total segment size for nslots slots of ring_size-byte rings. */
static inline uint64_t pp_layout_size(uint32_t nslots, uint32_t ring_size)
{
	return pp_layout_rings_off(nslots) + 2ull * nslots * ring_size;
}

#endif
