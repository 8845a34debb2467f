/* dump_fields.h - the numeric output fields of phantompool-shmdump, as
 * tables: one row per figure, giving its JSON key, its Prometheus metric
 * name, type and HELP text, its unit, and where it lives in the snapshot.
 * The JSON and Prometheus writers loop over these tables, so a figure is
 * added in one place (and in docs/shmdump.md, which lists the same rows).
 */
#ifndef PP_DUMP_FIELDS_H
#define PP_DUMP_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "dump_snapshot.h"

enum dump_type {
	DUMP_GAUGE,
	DUMP_COUNTER, /* free-running; Prometheus name ends in _total */
};

enum dump_unit {
	DUMP_UNIT_COUNT, /* a plain number */
	DUMP_UNIT_BYTES,
	DUMP_UNIT_NS,    /* JSON: nanoseconds; Prometheus: seconds */
	DUMP_UNIT_MS,    /* JSON: milliseconds; Prometheus: seconds */
	DUMP_UNIT_BOOL,  /* 0 / 1; JSON: false / true */
};

struct dump_field {
	const char *json;  /* JSON key */
	const char *prom;  /* Prometheus name without "phantompool_"; NULL: JSON only */
	enum dump_type type;
	enum dump_unit unit;
	size_t off;        /* offset of a uint64_t in struct dump_pool / struct dump_slot */
	const char *help;  /* Prometheus HELP text (one line, no backslash) */
};

/* Fields of struct dump_pool (the "pool" object; pool-level metrics). */
extern const struct dump_field dump_pool_fields[];
extern const size_t dump_pool_nfields;

/* Fields of struct dump_slot (each "slots" entry; per-slot metrics).  The
 * DUMP_COUNTER rows are also summed into the "totals" object. */
extern const struct dump_field dump_slot_fields[];
extern const size_t dump_slot_nfields;

/* The value of field f in the record at base (a struct dump_pool or a
 * struct dump_slot, whichever table f belongs to). */
static inline uint64_t dump_field_value(const struct dump_field *f, const void *base)
{
	return *(const uint64_t *)(const void *)((const char *)base + f->off);
}

#endif
