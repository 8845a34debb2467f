/* clock.c - see clock.h: the count of a fresh process's clock reads made
 * as system calls. */
#include "clock.h"

_Atomic uint32_t pp_clock_fresh_left = PP_CLOCK_FRESH_READS;
