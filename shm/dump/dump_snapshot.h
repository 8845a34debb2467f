/* dump_snapshot.h - phantompool-shmdump's private copy of a segment.
 *
 * dump_snapshot_take() is the ONLY code of the dump tool that reads the
 * shared segment: it copies the header once, field by field, and every slot
 * through the seqlocked pp_slot_snapshot(), then derives the figures the
 * outputs show (states counted, totals, lease-wait percentiles).  The
 * renderers (dump_text, dump_json, dump_prom) read only this copy, so a
 * segment truncated under us can raise SIGBUS only inside
 * dump_snapshot_take(), and nothing a writer does later can change a
 * figure half-way through an output.
 *
 * Everything in the segment is untrusted: strings are copied bounded,
 * NUL-terminated and made valid UTF-8; states are range-checked by the
 * renderers; sums saturate instead of wrapping.
 */
#ifndef PP_DUMP_SNAPSHOT_H
#define PP_DUMP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "segment.h"
#include "stats.h"

/* The header, read once: plain copies of the segment's fields. */
struct dump_header {
	uint32_t layout_version;
	uint64_t segment_size;
	uint64_t generation;
	int32_t daemon_pid;
	uint32_t min_conns, max_conns, ring_size;
	uint32_t lease_timeout_ms, request_timeout_ms;
	uint32_t spin_ns;            /* live setting (spin.h) */
	uint64_t max_body;
	uint64_t start_wall_ns;
	uint32_t daemon_state;
	uint64_t heartbeat_ns;
	uint32_t waiters;        /* waiter bits set: workers sleeping in pp_lease */
	uint64_t lease_timeouts, lease_waits, reclaims;
	uint64_t lease_wait_max_ns, lease_wait_sum_ns;
	uint64_t lease_wait_hist[PP_HIST_BUCKETS];
	uint64_t backend_failovers;
	uint64_t spin_hits, spin_misses;
	uint64_t escalations;
	uint32_t loops;
	uint32_t backend_index, backend_up;
	uint32_t conns_open, conns_busy, queued;
	uint64_t queue_waits, queue_wait_sum_ns, queue_wait_max_ns;
	uint64_t queue_wait_hist[PP_HIST_BUCKETS];
	char pool_name[sizeof(((struct pp_shm_header *)0)->pool_name) + 1]; /* valid UTF-8 */
	char backend[sizeof(((struct pp_shm_header *)0)->backend) + 1];     /* valid UTF-8 */
};

/* One slot: its seqlocked snapshot plus figures derived from it, the
 * derived ones as uint64 so the output field tables can address them. */
struct dump_slot {
	struct pp_slot_snapshot s;
	uint64_t owner_pid;     /* s.owner_pid, 0 when it is not positive */
	uint64_t leak;          /* 1 when s.leak_flag is set, else 0 */
	uint64_t lease_age_ns;  /* now - lease_start_ns while LEASED/BUSY, else 0 */
	uint64_t conn_age_ns;   /* now - conn_since_ns while a connection is open, else 0 */
	uint64_t latency_count; /* total of s.latency_hist (saturating) */
};

/* Pool figures derived from the header and the slots, all uint64 so the
 * output field tables (dump_fields.h) can address them by offset. */
struct dump_pool {
	uint64_t daemon_pid;         /* 0 when the segment holds a non-positive pid */
	uint64_t daemon_alive;       /* 1 / 0: pp_seg_daemon_alive */
	uint64_t layout_version;
	uint64_t segment_bytes;
	uint64_t start_unix_ns;      /* daemon start, CLOCK_REALTIME */
	uint64_t backend_index;
	uint64_t backend_up;         /* 1 / 0 (any non-zero header value is 1) */
	uint64_t slots;              /* the validated slot count */
	uint64_t min_conns, max_conns;
	uint64_t ring_bytes;
	uint64_t lease_timeout_ms, request_timeout_ms;
	uint64_t spin_us;
	uint64_t max_body_bytes;
	uint64_t uptime_ns;          /* wall now - start_wall_ns (0 if in the future) */
	uint64_t heartbeat_age_ns;   /* monotonic now - heartbeat_ns */
	uint64_t waiting_workers;    /* waiter bits set in the header */
	uint64_t leases;             /* sum of the slots' leases */
	uint64_t lease_waits;        /* header: pp_lease calls that slept */
	uint64_t lease_timeouts;
	uint64_t reclaims;
	uint64_t backend_failovers;
	uint64_t spin_hits, spin_misses;
	uint64_t escalations, loops;
	uint64_t conns_open, conns_busy, conns_idle, queued; /* connections now */
	uint64_t queue_waits, queue_wait_sum_ns, queue_wait_max_ns;
	uint64_t queue_wait_p50_ns, queue_wait_p99_ns; /* of the exchanges that waited */
	uint64_t lease_wait_slept;   /* total of the lease-wait histogram */
	uint64_t lease_wait_zero;    /* leases - lease_wait_slept (0 if negative) */
	uint64_t lease_wait_count;   /* lease_wait_zero + lease_wait_slept */
	uint64_t lease_wait_p50_ns;  /* estimates, see pp_hist_quantile_ns */
	uint64_t lease_wait_p99_ns;
	uint64_t lease_wait_max_ns;
	uint64_t lease_wait_sum_ns;
};

struct dump_snapshot {
	char shm_name[PP_POOL_NAME_MAX + 16]; /* "/phantompool-<pool>", validated */
	uint64_t now_ns;                      /* CLOCK_MONOTONIC when read */
	uint64_t wall_ns;                     /* CLOCK_REALTIME when read */
	bool alive;                           /* pp_seg_daemon_alive */
	struct dump_header h;
	uint32_t nslots;                      /* the validated count, not the header's */
	struct dump_slot *slots;              /* nslots records, caller-provided */
	struct dump_slot totals;              /* every slot counter summed (saturating) */
	uint32_t by_state[PP_SLOT_NSTATES + 1]; /* slots per state; last: out of range */
	uint32_t inconsistent;                /* slots whose seqlock never settled */
	struct dump_pool pool_figs;
};

/* Copy the attached, validated segment `seg` into *out, whose `slots`
 * must point at seg->nslots records owned by the caller.  Reads the
 * segment (a truncated segment raises SIGBUS here and nowhere else in the
 * tool's output path), then fills every derived figure.  Never fails;
 * inconsistent slot copies are counted in out->inconsistent. */
void dump_snapshot_take(const struct pp_seg *seg, struct dump_snapshot *out);

/* a + b, saturating at UINT64_MAX (sums of untrusted counters). */
static inline uint64_t dump_sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* Display name of a daemon state; "unknown" when out of range. */
const char *dump_daemon_state_name(uint32_t st);

/* Slot / connection state names for machine outputs: the shm/slot.c names,
 * "unknown" where those say "?". */
const char *dump_slot_state_name(uint32_t st);
const char *dump_conn_state_name(uint32_t st);

/* Names of enum pp_errkind values ("backend", "timeout", ...). */
extern const char *const dump_errkind_names[PP_ERRKIND_N];

/* Names of the daemon states, indexed by enum pp_daemon_state (index 0
 * unused), and their count + 1. */
#define DUMP_DAEMON_NSTATES 5
extern const char *const dump_daemon_state_names[DUMP_DAEMON_NSTATES];

#endif
