/* options.h - the daemon's settings: one table (daemon/options.c) serves
 * the command line, the config file (daemon/config.c reads its INI text),
 * --help, --print-config and the SIGHUP reload.
 *
 * Precedence: defaults, then the config file (-c FILE), then the command
 * line.  A config key is its long option's name with '_' for '-'
 * ("ring_size" for --ring-size).  phantompoold(8) documents every option;
 * tests/test_config.c checks that the table, etc/phantompoold.conf and the
 * man page name the same options. */
#ifndef PD_OPTIONS_H
#define PD_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "layout.h"

#define PD_MAX_BACKENDS 8  /* backend URLs in one pool */
#define PD_URL_MAX 1024    /* bytes of a backend URL, NUL included */

struct pd_options {
	char pool[PP_POOL_NAME_MAX + 1];
	char backend_url[PD_URL_MAX]; /* = backends[0], for code that uses one */
	char backends[PD_MAX_BACKENDS][PD_URL_MAX];
	uint32_t nbackends;        /* 1..PD_MAX_BACKENDS */
	uint32_t min_conns;
	uint32_t max_conns;        /* backend connections at most */
	uint32_t seats;            /* slots (seats) in the segment; 0: as many as max_conns */
	uint32_t ring_size;
	uint32_t lease_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t connect_timeout_ms;
	uint32_t idle_timeout_ms;    /* close a connection above min idle this long; 0 = never */
	uint32_t max_lifetime_ms;    /* reopen a connection this old; 0 = unlimited */
	uint32_t health_interval_ms; /* GET /health on an idle connection; 0 = off */
	uint32_t leak_threshold_ms;  /* log a lease held longer; 0 = off */
	uint32_t spin_us;            /* spin budget per wait (spin.h); 0 = never spin */
	uint32_t loops;              /* serving loops (daemon/loop.h); 0 = one per CPU */
	uint32_t drain_timeout_ms;   /* SIGTERM: wait this long for leases to end */
	uint32_t max_body;         /* bytes a request body may have; 0 = unlimited */
	unsigned mode;             /* segment mode */
	char group[64];            /* segment group, "" = creator's */
	char pidfile[PATH_MAX];    /* after loading: always set (absolute) */
	char token_file[PATH_MAX]; /* "" = no bearer token */
	char ca_file[PATH_MAX];    /* "" = libcurl's default CA bundle */
	char ca_path[PATH_MAX];    /* "" = none */
	char tls_cert[PATH_MAX];   /* client certificate (PEM), "" = none */
	char tls_key[PATH_MAX];    /* its private key, "" = in tls_cert */
	bool tls_verify;           /* verify the backend's certificate and name */
	bool foreground;
	int log_level;             /* enum pd_log_level */
	char log_target[16];       /* "auto", "stderr" or "syslog" */
	char config_file[PATH_MAX]; /* absolute path of -c FILE, "" = none */
	bool check_config;         /* --check-config: validate, print "ok", exit */
	bool print_config;         /* --print-config: print the settings, exit */
};

/* Every option at its default (no file, no flags): pool $PHANTOMPOOL or
 * "default", backend http://127.0.0.1:8080, min 2, max 10, ...; pidfile is
 * left "" (pd_options_load chooses it from the pool). */
void pd_options_defaults(struct pd_options *o);

/* Defaults, then the file of -c (if given), then the other flags, then
 * the checks across options.  Fills *o only on success (on error *o is
 * unchanged).  Returns 0, 1 after printing --help or --version (stdout),
 * or -1 after reporting every error (see pd_options_set_reporter).
 * Never exits, leaks nothing, resets getopt: a SIGHUP reload calls it
 * again with the saved argv.  Relative paths are made absolute: those on
 * the command line against the working directory of the FIRST call (the
 * daemon chdirs to / when it detaches, a reload still finds them), those
 * in the file against the file's directory. */
int pd_options_load(struct pd_options *o, int argc, char **argv);

/* What the settings name and only a start can check (the token file, the
 * group): 0, or -1 after reporting. */
typedef int pd_options_check_fn(const struct pd_options *o);

/* main's entry point: pd_options_load, then the actions: --check-config
 * prints "FILE: ok" (or "ok"), --print-config the settings as a config
 * file, each only after check (if not NULL) passed, so that an "ok" means
 * the start would not refuse them.  Returns 0 to run, 1 when it printed
 * help, the version or an action's output (exit 0), -1 after reporting an
 * error (exit 2). */
int pd_options_parse(struct pd_options *o, int argc, char **argv, pd_options_check_fn *check);

/* Defaults, then INI text (name is used in messages), then the checks; no
 * command line.  Same return and reporting as pd_options_load.  For the
 * tests and the fuzzer. */
int pd_options_load_text(struct pd_options *o, const char *text, size_t len, const char *name);

/* Where errors go: each is one line without a newline, "FILE:LINE: reason"
 * for the config file, "phantompoold: reason" for the command line.
 * fn NULL (the default) writes them to stderr.  The daemon points this at
 * its log before a reload (stderr is gone after it detached). */
typedef void pd_options_report_fn(const char *msg, void *ctx);
void pd_options_set_reporter(pd_options_report_fn *fn, void *ctx);

/* May a SIGHUP reload apply a new value of this option?  name: a config
 * key ("ring_size") or long option ("ring-size").  Yes for limits,
 * timeouts, backends, token file, TLS and log level; no for max (the slot
 * count), ring_size, pool, mode, group, pidfile, log_target (fixed when
 * the segment is created or the daemon starts).  false for unknown names. */
bool pd_options_live_changeable(const char *name);

/* Call report(name, live, ctx) for every option whose value differs
 * between old and new (name: the config key, e.g. "backend"; live: as
 * pd_options_live_changeable(name)), in table order. */
void pd_options_diff(const struct pd_options *old, const struct pd_options *new,
		     void (*report)(const char *name, bool live, void *ctx), void *ctx);

/* Print o as a config file ("[pool]" then "key = value" for every key,
 * one backend line per URL) to f. */
void pd_options_print(const struct pd_options *o, FILE *f);

/* One row of the option table, for tests and tools (see pd_options_info). */
struct pd_option_info {
	const char *name;    /* long option, e.g. "ring-size" */
	char key[32];        /* its config key, e.g. "ring_size" */
	int short_name;      /* e.g. 'p'; 0: none */
	bool cli;            /* a command-line option */
	bool file;           /* a config-file key */
	bool live;           /* a SIGHUP reload applies a new value */
	bool alias;          /* another spelling of an earlier option */
	const char *def;     /* default as the file spells it; NULL: none or computed */
};

/* Row i of the option table (0, 1, ... in --help order) into *out.
 * Returns false past the last row. */
bool pd_options_info(size_t i, struct pd_option_info *out);

/* true when log lines go to stderr: log_target "stderr", or "auto" with -f. */
bool pd_options_log_to_stderr(const struct pd_options *o);

/* Default pidfile for a pool: /run/phantompool/<pool>.pid as root or when
 * that directory is writable (systemd's RuntimeDirectory for a service
 * user), else $XDG_RUNTIME_DIR (or /tmp)/phantompool-<pool>.pid. */
void pd_options_default_pidfile(const char *pool, char *buf, size_t len);

#endif
