/* access_warn.h - at start, say who can attach to the pool's segment, and
 * warn when the group the config names cannot (issue 19: web server
 * workers run as www-data and would otherwise meet a bare PP_EACCES). */
#ifndef PD_ACCESS_WARN_H
#define PD_ACCESS_WARN_H

#include "options.h"

/* Check the segment shm_name ("/phantompool-<pool>") as created against
 * o->mode and o->group; logs (warning or info), never fails. */
void pd_access_warn(const struct pd_options *o, const char *shm_name);

#endif
