/* maintain.h - what a slot thread does while its slot is free: probe a
 * down backend, health-check an idle connection, keep the first `min`
 * connections open, close connections idle past idle_timeout. */
#ifndef PD_MAINTAIN_H
#define PD_MAINTAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "slot_worker.h"

/* GET /health on w's handle (node `backend`, or the node in use when
 * UINT32_MAX), counting it as a health check.  Opens a connection if w
 * has none.  Returns true if the node answered 2xx. */
bool pd_health_check(struct pd_slot_worker *w, uint32_t backend);

/* When w's connection next needs upkeep (a health check or an idle
 * close), from the settings in force and the end of its last exchange;
 * UINT64_MAX if it needs none (no connection, or neither is set).  Reads
 * only atomics: callable while a serving loop holds the handles. */
uint64_t pd_upkeep_due(struct pd_slot_worker *w);

/* One round of upkeep for a free slot; returns quickly when there is
 * nothing to do.  Returns when the next round may have something to do:
 * the next health check or idle close of this slot's connection,
 * UINT64_MAX for nothing scheduled, or 0 for "soon" (it just did
 * something, or a reconnect or probe is pending). */
uint64_t pd_maintain(struct pd_slot_worker *w);

#endif
