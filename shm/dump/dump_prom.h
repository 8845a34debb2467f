/* dump_prom.h - phantompool-shmdump --prometheus: the snapshot in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * Every family has # HELP and # TYPE lines before its samples; metric
 * names start with "phantompool_"; counters end in _total; durations are
 * in seconds; pool-level samples carry pool="...", per-slot samples also
 * slot="N".  Lease wait (pool) and request latency (per slot) are real
 * histograms: cumulative _bucket{le="..."} series with +Inf, _sum and
 * _count.  Label values are escaped (backslash, double quote, newline). */
#ifndef PP_DUMP_PROM_H
#define PP_DUMP_PROM_H

#include <stdio.h>

#include "dump_snapshot.h"

/* Write the exposition for snapshot s to f.  Returns 0, or -1 when a
 * write failed. */
int dump_prom_write(FILE *f, const struct dump_snapshot *s);

#endif
