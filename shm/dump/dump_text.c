/* dump_text.c - see dump_text.h. */
#include "dump_text.h"

#include <string.h>

#include "clock.h"

#define LINE_MAX_LEN 512

/* See dump_text.h; the scales table picks the unit. */
void dump_fmt_duration(char *buf, size_t len, uint64_t ns)
{
	static const struct { uint64_t below, unit; const char *suffix; } scales[] = {
		{ PP_NS_PER_MS, 1000, "us" },
		{ PP_NS_PER_S, PP_NS_PER_MS, "ms" },
		{ 3600 * PP_NS_PER_S, PP_NS_PER_S, "s" },
		{ 48 * 3600 * PP_NS_PER_S, 3600 * PP_NS_PER_S, "h" },
		{ UINT64_MAX, 24 * 3600 * PP_NS_PER_S, "d" },
	};
	if (ns == 0) {
		snprintf(buf, len, "0");
		return;
	}
	for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
		if (ns >= scales[i].below && i + 1 < sizeof scales / sizeof scales[0])
			continue;
		if (i == 0)
			snprintf(buf, len, "%llu%s", (unsigned long long)(ns / 1000), scales[i].suffix);
		else
			snprintf(buf, len, "%.1f%s", (double)ns / (double)scales[i].unit, scales[i].suffix);
		return;
	}
}

/* Copy the (valid UTF-8) string src into dst for a terminal: C0 controls,
 * DEL and C1 controls (U+0080..U+009F) become '?'.  dst has len bytes. */
static void text_safe(char *dst, size_t len, const char *src)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)src; *p && o + 1 < len; p++) {
		bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
		if (*p < 0x20 || *p == 0x7f || c1) {
			dst[o++] = '?';
			p += c1;
		} else {
			dst[o++] = (char)*p;
		}
	}
	dst[o] = '\0';
}

/* --- the pool summary: one formatter per line. */

/* A summary line: writes the text after the line's label into buf (len
 * bytes, always NUL-terminated, cut if longer). */
typedef void line_fmt(char *buf, size_t len, const struct dump_snapshot *s);

static void line_pool(char *buf, size_t len, const struct dump_snapshot *s)
{
	char name[sizeof s->h.pool_name];
	text_safe(name, sizeof name, s->h.pool_name);
	snprintf(buf, len, "%s (%s)", name, s->shm_name);
}

static void line_daemon(char *buf, size_t len, const struct dump_snapshot *s)
{
	char hb[32], up[32];
	dump_fmt_duration(hb, sizeof hb, s->pool_figs.heartbeat_age_ns);
	dump_fmt_duration(up, sizeof up, s->pool_figs.uptime_ns);
	snprintf(buf, len, "pid %d, %s%s, heartbeat %s ago, up %s", (int)s->h.daemon_pid,
		 dump_daemon_state_name(s->h.daemon_state),
		 s->alive ? "" : " (DEAD: stale segment, the daemon is gone)", hb, up);
}

static void line_generation(char *buf, size_t len, const struct dump_snapshot *s)
{
	snprintf(buf, len, "%016llx   layout v%u   %llu bytes", (unsigned long long)s->h.generation,
		 s->h.layout_version, (unsigned long long)s->h.segment_size);
}

static void line_backend(char *buf, size_t len, const struct dump_snapshot *s)
{
	char url[sizeof s->h.backend];
	text_safe(url, sizeof url, s->h.backend);
	snprintf(buf, len, "%s  [#%u %s]  failovers %llu", url[0] ? url : "-", s->h.backend_index,
		 s->h.backend_up ? "up" : "down", (unsigned long long)s->h.backend_failovers);
}

static void line_slots(char *buf, size_t len, const struct dump_snapshot *s)
{
	uint32_t nfree = s->by_state[PP_SLOT_FREE];
	int n = snprintf(buf, len, "%u: %u free, %u used:", s->nslots, nfree, s->nslots - nfree);
	for (uint32_t st = 1; st <= PP_SLOT_NSTATES && n > 0 && (size_t)n < len; st++)
		if (st < PP_SLOT_NSTATES || s->by_state[st])
			n += snprintf(buf + n, len - (size_t)n, "%s %u %s", st > 1 ? "," : "", s->by_state[st],
				      dump_slot_state_name(st));
}

static void line_connections(char *buf, size_t len, const struct dump_snapshot *s)
{
	const struct dump_pool *p = &s->pool_figs;
	char p50[24], p99[24], mx[24];
	dump_fmt_duration(p50, sizeof p50, p->queue_wait_p50_ns);
	dump_fmt_duration(p99, sizeof p99, p->queue_wait_p99_ns);
	dump_fmt_duration(mx, sizeof mx, p->queue_wait_max_ns);
	snprintf(buf, len, "%llu open (min %u, max %u): %llu busy, %llu idle; %llu queued, %llu waited (p50 %s  p99 %s  max %s)",
		 (unsigned long long)p->conns_open, s->h.min_conns, s->h.max_conns, (unsigned long long)p->conns_busy,
		 (unsigned long long)p->conns_idle, (unsigned long long)p->queued, (unsigned long long)p->queue_waits,
		 p50, p99, mx);
}

static void line_leases(char *buf, size_t len, const struct dump_snapshot *s)
{
	const struct dump_pool *p = &s->pool_figs;
	snprintf(buf, len, "%llu (%llu without waiting, %llu slept), %llu timeouts, %llu reclaims, "
			   "%llu waiting now",
		 (unsigned long long)p->leases, (unsigned long long)p->lease_wait_zero,
		 (unsigned long long)p->lease_wait_slept, (unsigned long long)p->lease_timeouts,
		 (unsigned long long)p->reclaims, (unsigned long long)p->waiting_workers);
}

static void line_lease_wait(char *buf, size_t len, const struct dump_snapshot *s)
{
	char p50[32], p99[32], max[32];
	dump_fmt_duration(p50, sizeof p50, s->pool_figs.lease_wait_p50_ns);
	dump_fmt_duration(p99, sizeof p99, s->pool_figs.lease_wait_p99_ns);
	dump_fmt_duration(max, sizeof max, s->pool_figs.lease_wait_max_ns);
	snprintf(buf, len, "p50 %s  p99 %s  max %s  (percentiles estimated from log2 buckets)", p50,
		 p99, max);
}

static void line_requests(char *buf, size_t len, const struct dump_snapshot *s)
{
	const struct pp_slot_snapshot *t = &s->totals.s;
	snprintf(buf, len, "%llu, %llu errors, %llu body bytes sent, %llu received, %llu connects",
		 (unsigned long long)t->requests, (unsigned long long)t->errors,
		 (unsigned long long)t->bytes_in, (unsigned long long)t->bytes_out,
		 (unsigned long long)t->connects);
}

static void line_serving(char *buf, size_t len, const struct dump_snapshot *s)
{
	const struct dump_pool *p = &s->pool_figs;
	snprintf(buf, len, "%llu loops, %llu exchanges escalated (waited for their worker); spin %llu us: %llu hits, %llu misses",
		 (unsigned long long)p->loops, (unsigned long long)p->escalations, (unsigned long long)p->spin_us,
		 (unsigned long long)p->spin_hits, (unsigned long long)p->spin_misses);
}

static const struct {
	const char *label;
	line_fmt *fmt;
} summary_lines[] = {
	{ "pool", line_pool },         { "daemon", line_daemon },
	{ "generation", line_generation }, { "backend", line_backend },
	{ "seats", line_slots },       { "connections", line_connections },
	{ "leases", line_leases },
	{ "lease wait", line_lease_wait }, { "requests", line_requests },
	{ "serving", line_serving },
};

/* --- the two tables: one formatter per column.  A seat's row reads its
 * lease and exchange figures; connection k's state and counters live in
 * the record of the seat with the same index (k < max connections). */

/* A column: writes the cell of record `index` (copy d) into buf (len
 * bytes, always NUL-terminated, cut if longer). */
typedef void col_fmt(char *buf, size_t len, const struct dump_slot *d, uint32_t index);

struct col {
	const char *title;
	int width; /* negative: left-aligned */
	col_fmt *fmt;
};

static void col_index(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	snprintf(buf, len, "%u", index);
}

static void col_state(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	snprintf(buf, len, "%s", dump_slot_state_name(d->s.state));
}

static void col_conn(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	snprintf(buf, len, "%s", dump_conn_state_name(d->s.conn_state));
}

static void col_owner(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	snprintf(buf, len, d->owner_pid ? "%llu" : "-", (unsigned long long)d->owner_pid);
}

/* A duration column: "-" when the figure does not apply (0). */
static void fmt_age_or_dash(char *buf, size_t len, uint64_t ns)
{
	if (ns)
		dump_fmt_duration(buf, len, ns);
	else
		snprintf(buf, len, "-");
}

static void col_lease_age(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	bool held = d->s.state == PP_SLOT_LEASED || d->s.state == PP_SLOT_BUSY;
	if (held && !d->lease_age_ns)
		snprintf(buf, len, "0");
	else
		fmt_age_or_dash(buf, len, d->lease_age_ns);
}

static void fmt_count(char *buf, size_t len, uint64_t n)
{
	snprintf(buf, len, "%llu", (unsigned long long)n);
}

static void col_leases(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	fmt_count(buf, len, d->s.leases);
}

static void col_requests(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	fmt_count(buf, len, d->s.requests);
}

static void col_errors(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	fmt_count(buf, len, d->s.errors);
}

static void col_conn_age(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	fmt_age_or_dash(buf, len, d->conn_age_ns);
}

static void col_connects(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	fmt_count(buf, len, d->s.connects);
}

static void col_reconnects(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	fmt_count(buf, len, d->s.reconnects);
}

static void col_health(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	snprintf(buf, len, "%llu/%llu", (unsigned long long)d->s.health_checks,
		 (unsigned long long)d->s.health_failures);
}

static void col_last_latency(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	fmt_age_or_dash(buf, len, d->s.last_latency_ns);
}

static void col_leak(char *buf, size_t len, const struct dump_slot *d, uint32_t index)
{
	snprintf(buf, len, "%s%s", d->leak ? "LEAK" : "", d->s.consistent ? "" : " ~");
}

#define COLS_MAX 9

static const struct col seat_cols[] = {
	{ "seat", 5, col_index },          { "state", -9, col_state },
	{ "owner", 8, col_owner },         { "lease age", 9, col_lease_age },
	{ "leases", 10, col_leases },      { "requests", 10, col_requests },
	{ "errors", 8, col_errors },       { "last lat", 9, col_last_latency },
	{ "", -4, col_leak },
};

static const struct col conn_cols[] = {
	{ "conn", 5, col_index },          { "state", -10, col_conn },
	{ "age", 9, col_conn_age },        { "connects", 9, col_connects },
	{ "reconnects", 10, col_reconnects }, { "health/failed", 13, col_health },
};

_Static_assert(sizeof seat_cols / sizeof seat_cols[0] <= COLS_MAX, "seat columns");
_Static_assert(sizeof conn_cols / sizeof conn_cols[0] <= COLS_MAX, "connection columns");

/* Write one table row of cells (ncols strings), trailing blanks dropped. */
static void put_row(FILE *f, const struct col *cols, size_t ncols, const char *const *cells)
{
	char line[LINE_MAX_LEN];
	int n = 0;
	for (size_t c = 0; c < ncols && n >= 0 && (size_t)n < sizeof line; c++)
		n += snprintf(line + n, sizeof line - (size_t)n, "%s%*s", c ? "  " : "", cols[c].width, cells[c]);
	size_t end = strnlen(line, sizeof line);
	while (end > 0 && line[end - 1] == ' ')
		end--;
	fprintf(f, "%.*s\n", (int)end, line);
}

/* A table: a title row, then one row for each of the first nrows records. */
static void put_table(FILE *f, const struct col *cols, size_t ncols, const struct dump_snapshot *s,
		      uint32_t nrows)
{
	const char *cells[COLS_MAX];
	char buf[COLS_MAX][40];
	for (size_t c = 0; c < ncols; c++)
		cells[c] = cols[c].title;
	put_row(f, cols, ncols, cells);
	for (uint32_t i = 0; i < nrows; i++) {
		for (size_t c = 0; c < ncols; c++) {
			cols[c].fmt(buf[c], sizeof buf[c], &s->slots[i], i);
			cells[c] = buf[c];
		}
		put_row(f, cols, ncols, cells);
	}
}

/* See dump_text.h: the summary lines, then the seat and the connection
 * tables, each after a blank line. */
int dump_text_write(FILE *f, const struct dump_snapshot *s)
{
	for (size_t i = 0; i < sizeof summary_lines / sizeof summary_lines[0]; i++) {
		char line[LINE_MAX_LEN];
		summary_lines[i].fmt(line, sizeof line, s);
		fprintf(f, "%-11s %s\n", summary_lines[i].label, line);
	}
	fputc('\n', f);
	put_table(f, seat_cols, sizeof seat_cols / sizeof seat_cols[0], s, s->nslots);
	fputc('\n', f);
	uint32_t nconns = s->h.max_conns < s->nslots ? s->h.max_conns : s->nslots;
	put_table(f, conn_cols, sizeof conn_cols / sizeof conn_cols[0], s, nconns);
	if (s->inconsistent)
		fprintf(f, "~ %u seat(s) kept changing through every read retry: their counters may "
			   "be mid-update\n", s->inconsistent);
	return ferror(f) ? -1 : 0;
}
