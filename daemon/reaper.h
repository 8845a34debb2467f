/* reaper.h - returns the slots of dead lease holders to the pool.
 *
 * Death is detected by the kernel, not guessed: every lease holder holds
 * its slot's robust owner_lock, and when it dies the kernel marks the lock
 * word FUTEX_OWNER_DIED.  The reaper only reads and CASes those words (it
 * never locks them), so pid reuse cannot fool it and a hostile worker
 * cannot make it follow pointers. */
#ifndef PD_REAPER_H
#define PD_REAPER_H

#include "daemon.h"

#define PD_REAPER_TICK_MS 10 /* reclaim latency bound: one tick + the reset */

/* Scan every slot once; reclaim the dead, reset RECLAIM slots, wake a
 * sleeper if slots are free while workers wait.  Returns the number of
 * slots reclaimed.  Called from the daemon's main loop every tick. */
unsigned pd_reaper_scan(struct pd_daemon *d);

#endif
