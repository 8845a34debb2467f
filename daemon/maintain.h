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

/* One round of upkeep for a free slot; returns quickly when there is
 * nothing to do. */
void pd_maintain(struct pd_slot_worker *w);

#endif
