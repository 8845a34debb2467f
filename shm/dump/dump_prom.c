/* dump_prom.c - see dump_prom.h. */
#include "dump_prom.h"

#include <stdint.h>
#include <string.h>

#include "dump_fields.h"

#define PROM_PREFIX "phantompool_"

/* Where the samples go and the labels every sample of the current family
 * carries: pool, and slot for per-slot families. */
struct prom_out {
	FILE *f;
	const char *pool;
	char slot[16]; /* "" for pool-level samples */
};

/* One extra label, e.g. state="free"; key NULL for none. */
struct prom_label {
	const char *key;
	const char *val;
};

static const struct prom_label NO_LABEL = { NULL, NULL };

static const char *const type_names[] = { [DUMP_GAUGE] = "gauge", [DUMP_COUNTER] = "counter" };

/* Write a label value escaped as the format requires: backslash, double
 * quote and line feed become \\, \" and \n; everything else as is. */
static void prom_escape(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f), fputc(*v, f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* v / 10^decimals, exactly, without trailing zeros, into buf (at least
 * 32 bytes): "0.000002", "2147.483648", "3". */
static void fmt_scaled(char *buf, size_t len, uint64_t v, unsigned decimals)
{
	uint64_t div = 1;
	for (unsigned i = 0; i < decimals; i++)
		div *= 10;
	uint64_t frac = v % div;
	int n = snprintf(buf, len, "%llu", (unsigned long long)(v / div));
	if (!frac || n < 0 || (size_t)n >= len)
		return;
	char digits[24];
	snprintf(digits, sizeof digits, "%0*llu", (int)decimals, (unsigned long long)frac);
	size_t d = strlen(digits);
	while (d > 0 && digits[d - 1] == '0')
		d--;
	snprintf(buf + n, len - (size_t)n, ".%.*s", (int)d, digits);
}

/* Decimal places that turn a value of this unit into the base unit
 * (seconds for durations). */
static unsigned unit_decimals(enum dump_unit u)
{
	return u == DUMP_UNIT_NS ? 9 : u == DUMP_UNIT_MS ? 3 : 0;
}

/* # HELP and # TYPE of family PROM_PREFIX name. */
static void prom_family(const struct prom_out *o, const char *name, const char *type,
			const char *help)
{
	fprintf(o->f, "# HELP " PROM_PREFIX "%s %s\n", name, help);
	fprintf(o->f, "# TYPE " PROM_PREFIX "%s %s\n", name, type);
}

/* One sample line: name+suffix{pool,slot?,extra?,le?} value/10^decimals.
 * le may be NULL. */
static void prom_sample(const struct prom_out *o, const char *name, const char *suffix,
			struct prom_label extra, const char *le, uint64_t v, unsigned decimals)
{
	fprintf(o->f, PROM_PREFIX "%s%s{pool=\"", name, suffix);
	prom_escape(o->f, o->pool);
	fputc('"', o->f);
	if (o->slot[0])
		fprintf(o->f, ",slot=\"%s\"", o->slot);
	if (extra.key) {
		fprintf(o->f, ",%s=\"", extra.key);
		prom_escape(o->f, extra.val);
		fputc('"', o->f);
	}
	if (le)
		fprintf(o->f, ",le=\"%s\"", le);
	char num[32];
	fmt_scaled(num, sizeof num, v, decimals);
	fprintf(o->f, "} %s\n", num);
}

/* The samples of one histogram: hist[] (log2 microsecond buckets, the
 * last open-ended) plus `zero` observations of 0, as cumulative buckets
 * with le in seconds, +Inf, _sum (from sum_ns) and _count (= +Inf). */
static void prom_histogram_samples(const struct prom_out *o, const char *name,
				   const uint64_t hist[PP_HIST_BUCKETS], uint64_t zero, uint64_t sum_ns)
{
	uint64_t cum = zero;
	for (unsigned b = 0; b + 1 < PP_HIST_BUCKETS; b++) {
		char le[32];
		fmt_scaled(le, sizeof le, pp_hist_upper_us(b), 6);
		cum = dump_sat_add(cum, hist[b]);
		prom_sample(o, name, "_bucket", NO_LABEL, le, cum, 0);
	}
	cum = dump_sat_add(cum, hist[PP_HIST_BUCKETS - 1]);
	prom_sample(o, name, "_bucket", NO_LABEL, "+Inf", cum, 0);
	prom_sample(o, name, "_sum", NO_LABEL, NULL, sum_ns, 9);
	prom_sample(o, name, "_count", NO_LABEL, NULL, cum, 0);
}

/* phantompool_info: identity as labels, value 1. */
static void prom_info(struct prom_out *o, const struct dump_snapshot *s)
{
	char gen[24], pid[16];
	snprintf(gen, sizeof gen, "%016llx", (unsigned long long)s->h.generation);
	snprintf(pid, sizeof pid, "%llu", (unsigned long long)s->pool_figs.daemon_pid);
	prom_family(o, "info", "gauge",
		    "Identity of the pool's segment: generation, daemon pid, backend URL; value 1.");
	fputs(PROM_PREFIX "info{pool=\"", o->f);
	prom_escape(o->f, o->pool);
	fprintf(o->f, "\",generation=\"%s\",daemon_pid=\"%s\",backend=\"", gen, pid);
	prom_escape(o->f, s->h.backend);
	fputs("\"} 1\n", o->f);
}

/* Every exported row of the pool field table, one sample each. */
static void prom_pool_fields(const struct prom_out *o, const struct dump_snapshot *s)
{
	for (size_t i = 0; i < dump_pool_nfields; i++) {
		const struct dump_field *fd = &dump_pool_fields[i];
		if (!fd->prom)
			continue;
		prom_family(o, fd->prom, type_names[fd->type], fd->help);
		prom_sample(o, fd->prom, "", NO_LABEL, NULL, dump_field_value(fd, &s->pool_figs),
			    unit_decimals(fd->unit));
	}
}

/* Daemon state and slots per state, as state-labelled gauges. */
static void prom_pool_states(const struct prom_out *o, const struct dump_snapshot *s)
{
	prom_family(o, "daemon_state", "gauge", "1 for the daemon's current lifecycle state, else 0.");
	for (uint32_t st = 1; st < DUMP_DAEMON_NSTATES; st++)
		prom_sample(o, "daemon_state", "", (struct prom_label){ "state", dump_daemon_state_names[st] },
			    NULL, s->h.daemon_state == st, 0);
	prom_family(o, "slots_by_state", "gauge", "Slots per lease state.");
	for (uint32_t st = 0; st <= PP_SLOT_NSTATES; st++)
		prom_sample(o, "slots_by_state", "", (struct prom_label){ "state", dump_slot_state_name(st) },
			    NULL, s->by_state[st], 0);
}

/* The lease-wait histogram: slept leases by wait, plus the zero-wait
 * leases in the lowest bucket. */
static void prom_lease_wait(const struct prom_out *o, const struct dump_snapshot *s)
{
	prom_family(o, "lease_wait_seconds", "histogram",
		    "Time pp_lease waited for a free slot (leases that did not wait count as 0).");
	prom_histogram_samples(o, "lease_wait_seconds", s->h.lease_wait_hist,
			       s->pool_figs.lease_wait_zero, s->h.lease_wait_sum_ns);
}

/* Point o at slot i for the next per-slot sample. */
static void prom_at_slot(struct prom_out *o, uint32_t i)
{
	snprintf(o->slot, sizeof o->slot, "%u", i);
}

/* Every exported row of the slot field table: one family, one sample per
 * slot. */
static void prom_slot_fields(struct prom_out *o, const struct dump_snapshot *s)
{
	for (size_t k = 0; k < dump_slot_nfields; k++) {
		const struct dump_field *fd = &dump_slot_fields[k];
		if (!fd->prom)
			continue;
		prom_family(o, fd->prom, type_names[fd->type], fd->help);
		for (uint32_t i = 0; i < s->nslots; i++) {
			prom_at_slot(o, i);
			prom_sample(o, fd->prom, "", NO_LABEL, NULL, dump_field_value(fd, &s->slots[i]),
				    unit_decimals(fd->unit));
		}
		o->slot[0] = '\0';
	}
}

/* A per-slot enum as 0/1 gauges, one per name; value(slot) selects. */
static void prom_slot_enum(struct prom_out *o, const struct dump_snapshot *s, const char *name,
			   const char *help, uint32_t nnames, const char *(*namef)(uint32_t),
			   size_t field_off)
{
	prom_family(o, name, "gauge", help);
	for (uint32_t i = 0; i < s->nslots; i++) {
		prom_at_slot(o, i);
		uint32_t cur = *(const uint32_t *)(const void *)((const char *)&s->slots[i].s + field_off);
		for (uint32_t st = 0; st < nnames; st++)
			prom_sample(o, name, "", (struct prom_label){ "state", namef(st) }, NULL, cur == st, 0);
	}
	o->slot[0] = '\0';
}

/* Errors by kind and the latency histogram of every slot. */
static void prom_slot_errors_latency(struct prom_out *o, const struct dump_snapshot *s)
{
	prom_family(o, "slot_errors_by_kind_total", "counter", "Failed exchanges on the slot, by kind.");
	for (uint32_t i = 0; i < s->nslots; i++) {
		prom_at_slot(o, i);
		for (int k = 0; k < PP_ERRKIND_N; k++)
			prom_sample(o, "slot_errors_by_kind_total", "",
				    (struct prom_label){ "kind", dump_errkind_names[k] }, NULL,
				    s->slots[i].s.errors_by_kind[k], 0);
	}
	prom_family(o, "slot_request_duration_seconds", "histogram",
		    "Latency of the slot's request/response exchanges.");
	for (uint32_t i = 0; i < s->nslots; i++) {
		prom_at_slot(o, i);
		prom_histogram_samples(o, "slot_request_duration_seconds", s->slots[i].s.latency_hist, 0,
				       s->slots[i].s.latency_sum_ns);
	}
	o->slot[0] = '\0';
}

/* See dump_prom.h: pool families first, then the per-slot ones. */
int dump_prom_write(FILE *f, const struct dump_snapshot *s)
{
	struct prom_out o = { .f = f, .pool = s->h.pool_name, .slot = "" };
	prom_info(&o, s);
	prom_pool_fields(&o, s);
	prom_pool_states(&o, s);
	prom_lease_wait(&o, s);
	prom_slot_fields(&o, s);
	prom_slot_enum(&o, s, "slot_state", "1 for the slot's current lease state, else 0.",
		       PP_SLOT_NSTATES, dump_slot_state_name, offsetof(struct pp_slot_snapshot, state));
	prom_slot_enum(&o, s, "slot_connection_state",
		       "1 for the state of the slot's backend connection, else 0.", PP_CONN_NSTATES,
		       dump_conn_state_name, offsetof(struct pp_slot_snapshot, conn_state));
	prom_slot_errors_latency(&o, s);
	return ferror(f) ? -1 : 0;
}
