/* dump_json.c - see dump_json.h. */
#include "dump_json.h"

#include <stdint.h>

#include "dump_fields.h"

/* A JSON integer for an unsigned counter: values above 2^63 - 1 (only a
 * corrupt segment has them) are clamped there. */
static json_t *json_u64(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* o[key] = v, taking v's reference.  Returns 0, or -1 when v is NULL (an
 * earlier allocation failed) or the set failed. */
static int put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

/* One table row's value: true/false for DUMP_UNIT_BOOL, else a number. */
static json_t *field_json(const struct dump_field *f, const void *base)
{
	uint64_t v = dump_field_value(f, base);
	return f->unit == DUMP_UNIT_BOOL ? json_boolean(v != 0) : json_u64(v);
}

/* Put every row of a field table (only its DUMP_COUNTER rows when
 * counters_only) from the record at base into o.  Returns 0 or -1. */
static int put_fields(json_t *o, const struct dump_field *t, size_t n, const void *base,
		      bool counters_only)
{
	int err = 0;
	for (size_t i = 0; i < n; i++)
		if (!counters_only || t[i].type == DUMP_COUNTER)
			err |= put(o, t[i].json, field_json(&t[i], base));
	return err;
}

/* A histogram as an array of PP_HIST_BUCKETS plain (not cumulative)
 * counts, or NULL when out of memory. */
static json_t *hist_json(const uint64_t hist[PP_HIST_BUCKETS])
{
	json_t *a = json_array();
	for (int b = 0; a && b < PP_HIST_BUCKETS; b++)
		if (json_array_append_new(a, json_u64(hist[b])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* {"backend": n, "timeout": n, ...} from errors_by_kind, or NULL. */
static json_t *errkinds_json(const uint64_t by_kind[PP_ERRKIND_N])
{
	json_t *o = json_object();
	int err = !o;
	for (int k = 0; o && k < PP_ERRKIND_N; k++)
		err |= put(o, dump_errkind_names[k], json_u64(by_kind[k]));
	if (err)
		json_decref(o);
	return err ? NULL : o;
}

/* {"free": n, ..., "unknown": n}: slots per state, or NULL. */
static json_t *by_state_json(const struct dump_snapshot *s)
{
	json_t *o = json_object();
	int err = !o;
	for (uint32_t st = 0; o && st <= PP_SLOT_NSTATES; st++)
		err |= put(o, dump_slot_state_name(st), json_integer(s->by_state[st]));
	if (err)
		json_decref(o);
	return err ? NULL : o;
}

/* The "pool" object, or NULL when out of memory. */
static json_t *pool_json(const struct dump_snapshot *s)
{
	char gen[24];
	snprintf(gen, sizeof gen, "%016llx", (unsigned long long)s->h.generation);
	json_t *o = json_object();
	int err = !o;
	if (o) {
		err |= put(o, "name", json_string(s->h.pool_name));
		err |= put(o, "shm_name", json_string(s->shm_name));
		err |= put(o, "generation", json_string(gen));
		err |= put(o, "daemon_state", json_string(dump_daemon_state_name(s->h.daemon_state)));
		err |= put(o, "backend", json_string(s->h.backend));
		err |= put_fields(o, dump_pool_fields, dump_pool_nfields, &s->pool_figs, false);
		err |= put(o, "slots_by_state", by_state_json(s));
		err |= put(o, "lease_wait_buckets", hist_json(s->h.lease_wait_hist));
	}
	if (err)
		json_decref(o);
	return err ? NULL : o;
}

/* The "totals" object (the slot counters summed), or NULL. */
static json_t *totals_json(const struct dump_snapshot *s)
{
	json_t *o = json_object();
	int err = !o;
	if (o) {
		err |= put_fields(o, dump_slot_fields, dump_slot_nfields, &s->totals, true);
		err |= put(o, "errors_by_kind", errkinds_json(s->totals.s.errors_by_kind));
	}
	if (err)
		json_decref(o);
	return err ? NULL : o;
}

/* One entry of "slots", or NULL. */
static json_t *slot_json(const struct dump_slot *d, uint32_t index)
{
	json_t *o = json_object();
	int err = !o;
	if (o) {
		err |= put(o, "index", json_integer(index));
		err |= put(o, "state", json_string(dump_slot_state_name(d->s.state)));
		err |= put(o, "conn_state", json_string(dump_conn_state_name(d->s.conn_state)));
		err |= put(o, "consistent", json_boolean(d->s.consistent));
		err |= put_fields(o, dump_slot_fields, dump_slot_nfields, d, false);
		err |= put(o, "errors_by_kind", errkinds_json(d->s.errors_by_kind));
		err |= put(o, "latency_buckets", hist_json(d->s.latency_hist));
	}
	if (err)
		json_decref(o);
	return err ? NULL : o;
}

/* The "slots" array, or NULL. */
static json_t *slots_json(const struct dump_snapshot *s)
{
	json_t *a = json_array();
	for (uint32_t i = 0; a && i < s->nslots; i++)
		if (json_array_append_new(a, slot_json(&s->slots[i], i)) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* See dump_json.h; members in the order of docs/shmdump.md. */
json_t *dump_json_build(const struct dump_snapshot *s)
{
	json_t *doc = json_object();
	int err = !doc;
	if (doc) {
		err |= put(doc, "schema_version", json_integer(DUMP_JSON_SCHEMA_VERSION));
		err |= put(doc, "time_unix_ns", json_u64(s->wall_ns));
		err |= put(doc, "pool", pool_json(s));
		err |= put(doc, "totals", totals_json(s));
		err |= put(doc, "slots", slots_json(s));
	}
	if (err)
		json_decref(doc);
	return err ? NULL : doc;
}

/* See dump_json.h. */
int dump_json_write(FILE *f, const struct dump_snapshot *s)
{
	json_t *doc = dump_json_build(s);
	if (!doc)
		return -1;
	int r = json_dumpf(doc, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (r == 0 && fputc('\n', f) == EOF)
		r = -1;
	return r;
}
