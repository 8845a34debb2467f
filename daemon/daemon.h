/* daemon.h - the supervisor's state, shared by its modules. */
#ifndef PD_DAEMON_H
#define PD_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <curl/curl.h>

#include "options.h"
#include "segment.h"

struct pd_daemon {
	struct pd_options opt;
	struct pp_seg seg;           /* private, trusted layout numbers */
	struct pidfh *pidfile;
	atomic_bool stopping;
	struct pd_slot_worker *workers; /* [seg.nslots] */
	CURLU *base_url;             /* parsed --backend */
	char auth_header[4096];      /* "Authorization: Bearer ..." or "" (never in the segment) */
};

#endif
