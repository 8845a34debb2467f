/* upkeep.h - the chores of a serving loop between exchanges, in one
 * module: resetting a seat (the reaper's request, or rings a worker
 * broke), and for idle connections: probing a down node, health checks,
 * closing connections idle past idle-timeout, keeping the first `min`
 * connections open, dropping connections to a node no longer in use.
 * Health checks run as exchanges (exchange.h) without a seat. */
#ifndef PD_UPKEEP_H
#define PD_UPKEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "exchange.h"
#include "seat.h"

/* A seat with no exchange: reset it if the reaper asked (RESETTING) or
 * its rings are broken and nobody holds it.  Returns whether it did. */
bool pd_upkeep_seat(struct pd_seat *s);

/* An idle exchange object x (no exchange in flight): do what its
 * connection needs now (start a health check, close it).  Returns when it
 * next needs a look: a CLOCK_MONOTONIC time, UINT64_MAX for never, or 0
 * when it just started something. */
uint64_t pd_upkeep_conn(struct pd_exchange *x);

#endif
