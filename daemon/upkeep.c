/* upkeep.c - see upkeep.h. */
#include "upkeep.h"

#include "backend.h"
#include "clock.h"
#include "conn.h"
#include "daemon.h"
#include "log.h"
#include "slot.h"

bool pd_upkeep_seat(struct pd_seat *s)
{
	struct pp_slot *sl = pd_seat_slot(s);
	uint32_t st = atomic_load_explicit(&sl->state, memory_order_acquire);
	if (st == PP_SLOT_RESETTING) {
		pd_seat_reset(s);
		return true;
	}
	if (!s->broken)
		return false;
	/* Nobody holds it: reset it ourselves (no claimer can take it while it
	 * shows RESETTING).  Held: its holder's release hands it to the
	 * reaper, which asks for the reset. */
	st = PP_SLOT_FREE;
	if (!atomic_compare_exchange_strong(&sl->state, &st, PP_SLOT_RESETTING))
		return false;
	pd_seat_reset(s);
	return true;
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t pd_upkeep_conn(struct pd_exchange *x)
{
	struct pd_daemon *d = x->d;
	struct pd_conn *c = x->conn;
	const struct pd_options *o = &pd_live(d)->opt;
	struct pd_backends *b = &d->backends;
	uint64_t now = pp_now_ns();
	uint32_t probe;
	if (c->state == PD_CONN_CONNECTING)
		return now; /* left over from a stopped exchange: should not happen */
	if (pd_backend_probe_due(b, &probe)) {
		pd_exchange_start_health(x, probe);
		return 0;
	}
	if (c->state == PD_CONN_OPEN) {
		if (c->backend_gen != pd_backend_gen(b)) {
			pd_conn_close(c, "the node in use changed");
			return now;
		}
		/* Reopened while idle (a min one at once, below), not by the
		 * next request. */
		if (now >= c->expire_ns) {
			pd_conn_close(c, "max-lifetime reached");
			return now;
		}
		uint64_t check_at = o->health_interval_ms ? c->last_used_ns + (uint64_t)o->health_interval_ms * PP_NS_PER_MS
							  : UINT64_MAX;
		/* Idle since its last worker's exchange: its health checks kept
		 * it from ever closing when they ran more often than this. */
		uint64_t drop_at = c->idx >= o->min_conns && o->idle_timeout_ms
					   ? c->served_ns + (uint64_t)o->idle_timeout_ms * PP_NS_PER_MS
					   : UINT64_MAX;
		if (now >= drop_at) {
			pd_info("connection %u: closing, idle for %llu ms", c->idx,
				(unsigned long long)((now - c->served_ns) / PP_NS_PER_MS));
			pd_conn_close(c, "idle");
			return now;
		}
		if (now >= check_at) {
			pd_exchange_start_health(x, UINT32_MAX);
			return 0;
		}
		return earlier(earlier(check_at, drop_at), c->expire_ns);
	}
	/* Closed: keep the first `min` open, with a pause between attempts. */
	if (c->idx >= o->min_conns || pd_backend_fail_fast(b))
		return pd_backends_settled(b) ? UINT64_MAX : now + PD_BACKOFF_MIN_MS * PP_NS_PER_MS;
	uint64_t pause = c->reopen_ms > PD_BACKOFF_MIN_MS ? c->reopen_ms : PD_BACKOFF_MIN_MS;
	uint64_t retry_at = c->attempt_ns + pause * PP_NS_PER_MS;
	if (c->attempt_ns && now < retry_at)
		return retry_at;
	pd_exchange_start_health(x, UINT32_MAX);
	return 0;
}
