/* seg_guard.h - keep the daemon alive when a process that may attach
 * shrinks the segment.  Every worker opens the shm object read-write (it
 * writes its seat), so it can also ftruncate it; the daemon's next touch
 * of a page past the new end would raise SIGBUS and kill it.  The guard
 * keeps a descriptor of the object and, on a SIGBUS inside the segment,
 * puts the size back and lets the access run again: the lost pages come
 * back zeroed, which the reaper already treats as a scribbled segment.
 * Workers are not guarded (a library cannot own its callers' signals):
 * docs/failure-model.md. */
#ifndef PD_SEG_GUARD_H
#define PD_SEG_GUARD_H

#include <stdbool.h>

#include "segment.h"

/* Install the guard for seg (once, after the segment is created).
 * Returns 0, or -1 with errno when the object cannot be opened or the
 * handler installed (the daemon then runs unguarded, as before). */
int pd_seg_guard_start(const struct pp_seg *seg);

/* Whether the guard restored the size since the last call (for a log
 * line outside the signal handler). */
bool pd_seg_guard_restored(void);

#endif
