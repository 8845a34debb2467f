/* options.h - the daemon's settings and its command line. */
#ifndef PD_OPTIONS_H
#define PD_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

struct pd_options {
	char pool[PP_POOL_NAME_MAX + 1];
	char backend_url[1024];
	uint32_t min_conns;
	uint32_t max_conns;
	uint32_t ring_size;
	uint32_t lease_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t connect_timeout_ms;
	uint32_t max_body;         /* bytes a request body may have; 0 = unlimited */
	unsigned mode;             /* segment mode */
	char group[64];            /* segment group, "" = creator's */
	char pidfile[PATH_MAX];    /* "" = default location */
	char token_file[PATH_MAX]; /* "" = no bearer token */
	bool foreground;
	int log_level;
};

/* Defaults: pool "default" (or $PHANTOMPOOL), http://127.0.0.1:8080,
 * min 2, max 10, 64 KiB rings, lease timeout 30 s, mode 0600. */
void pd_options_defaults(struct pd_options *o);

/* Parse argv into o (defaults first).  Returns 0 to run, 1 when it printed
 * help or the version (exit 0), -1 after printing an error (exit 2). */
int pd_options_parse(struct pd_options *o, int argc, char **argv);

/* Default pidfile for a pool: /run/phantompool/<pool>.pid as root,
 * else $XDG_RUNTIME_DIR (or /tmp)/phantompool-<pool>.pid. */
void pd_options_default_pidfile(const char *pool, char *buf, size_t len);

#endif
