/* dump_snapshot.c - see dump_snapshot.h. */
#include "dump_snapshot.h"
#include "stats.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "dump_fields.h"
#include "slot.h"

#define HLD(h, field) atomic_load_explicit(&((struct pp_shm_header *)(h))->field, memory_order_relaxed)

const char *const dump_daemon_state_names[DUMP_DAEMON_NSTATES] = {
	[0] = "unknown",
	[PP_DAEMON_STARTING] = "starting",
	[PP_DAEMON_READY] = "ready",
	[PP_DAEMON_DRAINING] = "draining",
	[PP_DAEMON_STOPPED] = "stopped",
};

const char *const dump_errkind_names[PP_ERRKIND_N] = {
	[PP_ERRKIND_BACKEND] = "backend",   [PP_ERRKIND_TIMEOUT] = "timeout",
	[PP_ERRKIND_REJECTED] = "rejected", [PP_ERRKIND_PROTOCOL] = "protocol",
	[PP_ERRKIND_OTHER] = "other",
};

/* See dump_snapshot.h (the three name functions below too). */
const char *dump_daemon_state_name(uint32_t st)
{
	return st < DUMP_DAEMON_NSTATES ? dump_daemon_state_names[st] : "unknown";
}

const char *dump_slot_state_name(uint32_t st)
{
	return st < PP_SLOT_NSTATES ? pp_slot_state_name(st) : "unknown";
}

const char *dump_conn_state_name(uint32_t st)
{
	return st < PP_CONN_NSTATES ? pp_conn_state_name(st) : "unknown";
}

/* Length (1..4) of the well-formed UTF-8 sequence at p (n bytes
 * available), or 0 if it is malformed, overlong, a surrogate or beyond
 * U+10FFFF (RFC 3629, table 3-7 of the Unicode standard). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	static const struct { unsigned char lead_lo, lead_hi, second_lo, second_hi, len; } forms[] = {
		{ 0x00, 0x7f, 0x00, 0x00, 1 }, { 0xc2, 0xdf, 0x80, 0xbf, 2 },
		{ 0xe0, 0xe0, 0xa0, 0xbf, 3 }, { 0xe1, 0xec, 0x80, 0xbf, 3 },
		{ 0xed, 0xed, 0x80, 0x9f, 3 }, { 0xee, 0xef, 0x80, 0xbf, 3 },
		{ 0xf0, 0xf0, 0x90, 0xbf, 4 }, { 0xf1, 0xf3, 0x80, 0xbf, 4 },
		{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};
	for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
		if (p[0] < forms[f].lead_lo || p[0] > forms[f].lead_hi)
			continue;
		size_t len = forms[f].len;
		if (len > n)
			return 0;
		if (len > 1 && (p[1] < forms[f].second_lo || p[1] > forms[f].second_hi))
			return 0;
		for (size_t k = 2; k < len; k++)
			if (p[k] < 0x80 || p[k] > 0xbf)
				return 0;
		return len;
	}
	return 0;
}

/* Copy the untrusted string field src (n bytes, maybe without a NUL) into
 * dst (at least n + 1 bytes): up to the first NUL, every byte that is not
 * part of a well-formed UTF-8 sequence replaced by '?'.  The bytes are
 * copied out of the segment first, so a writer cannot change them between
 * the check and the use. */
static void copy_untrusted_string(char *dst, const char *src, size_t n)
{
	unsigned char raw[256];
	if (n > sizeof raw)
		n = sizeof raw;
	memcpy(raw, src, n);
	size_t len = strnlen((const char *)raw, n), i = 0, o = 0;
	while (i < len) {
		size_t k = utf8_seq_len(raw + i, len - i);
		if (k == 0) {
			dst[o++] = '?';
			i++;
			continue;
		}
		memcpy(dst + o, raw + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

/* Identity, limits and strings: written once by the daemon before it
 * published magic, so plain loads. */
static void read_header_identity(const struct pp_shm_header *h, struct dump_header *o)
{
	o->layout_version = h->layout_version;
	o->segment_size = h->segment_size;
	o->generation = h->generation;
	o->daemon_pid = h->daemon_pid;
	o->min_conns = h->min_conns;
	o->max_conns = h->max_conns;
	o->ring_size = h->ring_size;
	o->lease_timeout_ms = h->lease_timeout_ms;
	o->request_timeout_ms = h->request_timeout_ms;
	o->spin_ns = atomic_load_explicit(&((struct pp_shm_header *)h)->spin_ns, memory_order_relaxed);
	o->max_body = h->max_body;
	o->start_wall_ns = h->start_wall_ns;
	copy_untrusted_string(o->pool_name, h->pool_name, sizeof h->pool_name);
	copy_untrusted_string(o->backend, h->backend, sizeof h->backend);
}

/* Liveness, semaphore and counters: atomics, each loaded once. */
static void read_header_live(const struct pp_shm_header *h, struct dump_header *o)
{
	o->daemon_state = atomic_load_explicit(&((struct pp_shm_header *)h)->daemon_state,
					       memory_order_acquire);
	o->heartbeat_ns = HLD(h, heartbeat_ns);
	o->waiters = 0; /* live sleepers: the waiter bits, not the daemon's per-tick copy */
	for (unsigned i = 0; i < PP_WAITER_WORDS; i++)
		o->waiters += (uint32_t)__builtin_popcountll(HLD(h, waiter_bits[i]));
	o->lease_timeouts = HLD(h, lease_timeouts);
	o->lease_waits = HLD(h, lease_waits);
	o->reclaims = HLD(h, reclaims);
	o->lease_wait_max_ns = HLD(h, lease_wait_max_ns);
	o->lease_wait_sum_ns = HLD(h, lease_wait_sum_ns);
	for (int b = 0; b < PP_HIST_BUCKETS; b++)
		o->lease_wait_hist[b] = HLD(h, lease_wait_hist[b]);
	o->backend_failovers = HLD(h, backend_failovers);
	o->spin_hits = HLD(h, spin_hits);
	o->spin_misses = HLD(h, spin_misses);
	o->escalations = HLD(h, escalations);
	o->conns_open = HLD(h, conns_open);
	o->conns_busy = HLD(h, conns_busy);
	o->queued = HLD(h, queued);
	o->queue_waits = HLD(h, queue_waits);
	o->queue_wait_sum_ns = HLD(h, queue_wait_sum_ns);
	o->queue_wait_max_ns = HLD(h, queue_wait_max_ns);
	for (int b = 0; b < PP_HIST_BUCKETS; b++)
		o->queue_wait_hist[b] = HLD(h, queue_wait_hist[b]);
	o->loops = HLD(h, loops);
	o->backend_index = HLD(h, backend_index);
	o->backend_up = HLD(h, backend_up);
}

/* now - then, or 0 when then is 0 or in the future. */
static uint64_t age_ns(uint64_t now, uint64_t then)
{
	return then && now > then ? now - then : 0;
}

/* Fill the ages of one slot copied at monotonic time now. */
static void derive_slot(struct dump_slot *d, uint64_t now)
{
	const struct pp_slot_snapshot *s = &d->s;
	bool held = s->state == PP_SLOT_LEASED || s->state == PP_SLOT_BUSY;
	d->owner_pid = s->owner_pid > 0 ? (uint64_t)s->owner_pid : 0;
	d->leak = s->leak_flag != 0;
	d->lease_age_ns = held ? age_ns(now, s->lease_start_ns) : 0;
	d->conn_age_ns = age_ns(now, s->conn_since_ns);
	d->latency_count = 0;
	for (int b = 0; b < PP_HIST_BUCKETS; b++)
		d->latency_count = dump_sat_add(d->latency_count, s->latency_hist[b]);
}

/* totals += one slot's counters: the DUMP_COUNTER rows of the slot field
 * table, the errors by kind and the latency histogram (states, stamps and
 * ages are not summed). */
static void add_to_totals(struct dump_slot *t, const struct dump_slot *d)
{
	for (size_t i = 0; i < dump_slot_nfields; i++) {
		const struct dump_field *f = &dump_slot_fields[i];
		if (f->type != DUMP_COUNTER)
			continue;
		uint64_t *to = (uint64_t *)(void *)((char *)t + f->off);
		*to = dump_sat_add(*to, dump_field_value(f, d));
	}
	for (int k = 0; k < PP_ERRKIND_N; k++)
		t->s.errors_by_kind[k] = dump_sat_add(t->s.errors_by_kind[k], d->s.errors_by_kind[k]);
	for (int b = 0; b < PP_HIST_BUCKETS; b++)
		t->s.latency_hist[b] = dump_sat_add(t->s.latency_hist[b], d->s.latency_hist[b]);
}

/* Identity and limits, widened for the output field tables. */
static void derive_pool_identity(struct dump_snapshot *s)
{
	const struct dump_header *h = &s->h;
	struct dump_pool *p = &s->pool_figs;
	p->daemon_pid = h->daemon_pid > 0 ? (uint64_t)h->daemon_pid : 0;
	p->daemon_alive = s->alive;
	p->layout_version = h->layout_version;
	p->segment_bytes = h->segment_size;
	p->start_unix_ns = h->start_wall_ns;
	p->backend_index = h->backend_index;
	p->backend_up = h->backend_up != 0;
	p->slots = s->nslots;
	p->min_conns = h->min_conns;
	p->max_conns = h->max_conns;
	p->ring_bytes = h->ring_size;
	p->lease_timeout_ms = h->lease_timeout_ms;
	p->request_timeout_ms = h->request_timeout_ms;
	p->spin_us = h->spin_ns / 1000u;
	p->max_body_bytes = h->max_body;
}

/* Pool figures from the header copy and the slot totals. */
static void derive_pool(struct dump_snapshot *s)
{
	const struct dump_header *h = &s->h;
	struct dump_pool *p = &s->pool_figs;
	derive_pool_identity(s);
	p->uptime_ns = age_ns(s->wall_ns, h->start_wall_ns);
	p->heartbeat_age_ns = age_ns(s->now_ns, h->heartbeat_ns);
	p->waiting_workers = h->waiters;
	p->leases = s->totals.s.leases;
	p->lease_waits = h->lease_waits;
	p->lease_timeouts = h->lease_timeouts;
	p->reclaims = h->reclaims;
	p->backend_failovers = h->backend_failovers;
	p->spin_hits = h->spin_hits;
	p->spin_misses = h->spin_misses;
	p->escalations = h->escalations;
	p->loops = h->loops;
	p->conns_open = h->conns_open;
	p->conns_busy = h->conns_busy;
	p->conns_idle = h->conns_open > h->conns_busy ? h->conns_open - h->conns_busy : 0; /* read apart: a display figure */
	p->queued = h->queued;
	p->queue_waits = h->queue_waits;
	p->queue_wait_sum_ns = h->queue_wait_sum_ns;
	p->queue_wait_max_ns = h->queue_wait_max_ns;
	p->queue_wait_p50_ns = pp_hist_quantile_ns(h->queue_wait_hist, 0, 0.50, h->queue_wait_max_ns);
	p->queue_wait_p99_ns = pp_hist_quantile_ns(h->queue_wait_hist, 0, 0.99, h->queue_wait_max_ns);
	p->lease_wait_slept = 0;
	for (int b = 0; b < PP_HIST_BUCKETS; b++)
		p->lease_wait_slept = dump_sat_add(p->lease_wait_slept, h->lease_wait_hist[b]);
	p->lease_wait_zero = p->leases > p->lease_wait_slept ? p->leases - p->lease_wait_slept : 0;
	p->lease_wait_count = dump_sat_add(p->lease_wait_zero, p->lease_wait_slept);
	p->lease_wait_max_ns = h->lease_wait_max_ns;
	p->lease_wait_sum_ns = h->lease_wait_sum_ns;
	p->lease_wait_p50_ns = pp_hist_quantile_ns(h->lease_wait_hist, p->lease_wait_zero, 0.50,
						     h->lease_wait_max_ns);
	p->lease_wait_p99_ns = pp_hist_quantile_ns(h->lease_wait_hist, p->lease_wait_zero, 0.99,
						     h->lease_wait_max_ns);
}

/* See dump_snapshot.h.  All segment reads happen in the first half (the
 * header, liveness, the slot copies); the second half only derives. */
void dump_snapshot_take(const struct pp_seg *seg, struct dump_snapshot *out)
{
	struct dump_slot *slots = out->slots;
	memset(out, 0, sizeof *out);
	out->slots = slots;
	out->nslots = seg->nslots;
	memcpy(out->shm_name, seg->shm_name, sizeof out->shm_name);
	out->shm_name[sizeof out->shm_name - 1] = '\0';
	read_header_identity(seg->hdr, &out->h);
	read_header_live(seg->hdr, &out->h);
	out->alive = pp_seg_daemon_alive(seg, PP_DAEMON_STALE_MS);
	for (uint32_t i = 0; i < seg->nslots; i++)
		pp_slot_snapshot(pp_seg_slot(seg, i), &slots[i].s);
	out->now_ns = pp_now_ns();
	out->wall_ns = pp_wall_ns();
	for (uint32_t i = 0; i < out->nslots; i++) {
		derive_slot(&slots[i], out->now_ns);
		add_to_totals(&out->totals, &slots[i]);
		uint32_t st = slots[i].s.state;
		out->by_state[st < PP_SLOT_NSTATES ? st : PP_SLOT_NSTATES]++;
		out->inconsistent += !slots[i].s.consistent;
	}
	derive_pool(out);
}
