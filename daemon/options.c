/* options.c - command-line options as a table: name, kind, field, range. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "log.h"
#include "phantompool.h"
#include "segment.h"

enum opt_kind { OPT_STR, OPT_U32, OPT_MODE, OPT_FLAG, OPT_LEVEL, OPT_POOL };

struct opt_def {
	const char *name;
	int short_name;       /* 0: long only */
	enum opt_kind kind;
	size_t off;           /* field in struct pd_options */
	size_t size;          /* for strings */
	uint32_t lo, hi;      /* for numbers */
	const char *arg;
	const char *help;
};

#define F(field) offsetof(struct pd_options, field), sizeof(((struct pd_options *)0)->field)

static const struct opt_def opt_table[] = {
	{ "foreground", 'f', OPT_FLAG, F(foreground), 0, 0, NULL, "stay in the foreground, log to stderr" },
	{ "pool", 'p', OPT_POOL, F(pool), 0, 0, "POOL", "pool name (default $PHANTOMPOOL or \"default\")" },
	{ "backend", 'b', OPT_STR, F(backend_url), 0, 0, "URL", "PhantomDB base URL, path prefix allowed" },
	{ "min", 0, OPT_U32, F(min_conns), 0, PP_MAX_SLOTS, "N", "connections kept warm (default 2)" },
	{ "max", 0, OPT_U32, F(max_conns), 1, PP_MAX_SLOTS, "N", "slots = most connections (default 10)" },
	{ "ring-size", 0, OPT_U32, F(ring_size), PP_RING_MIN, PP_RING_MAX, "BYTES", "bytes per ring, power of two (default 65536)" },
	{ "lease-timeout", 0, OPT_U32, F(lease_timeout_ms), 0, 3600000, "MS", "default acquire timeout (default 30000)" },
	{ "request-timeout", 0, OPT_U32, F(request_timeout_ms), 1, 3600000, "MS", "per-request timeout (default 30000)" },
	{ "connect-timeout", 0, OPT_U32, F(connect_timeout_ms), 1, 600000, "MS", "backend connect timeout (default 2000)" },
	{ "max-body", 0, OPT_U32, F(max_body), 0, UINT32_MAX, "BYTES", "largest request body, 0 = no limit (default 0)" },
	{ "mode", 0, OPT_MODE, F(mode), 0, 0777, "OCTAL", "segment mode (default 0600)" },
	{ "group", 0, OPT_STR, F(group), 0, 0, "GROUP", "segment group (use with --mode 0660)" },
	{ "pidfile", 0, OPT_STR, F(pidfile), 0, 0, "PATH", "pidfile (default /run/phantompool/POOL.pid)" },
	{ "token-file", 0, OPT_STR, F(token_file), 0, 0, "PATH", "file holding the bearer token" },
	{ "log-level", 0, OPT_LEVEL, F(log_level), 0, 0, "LEVEL", "error, warning, info or debug (default info)" },
};

#define NOPTS (sizeof opt_table / sizeof opt_table[0])

void pd_options_defaults(struct pd_options *o)
{
	memset(o, 0, sizeof *o);
	pp_pool_resolve(NULL, o->pool, sizeof o->pool);
	strlcpy(o->backend_url, "http://127.0.0.1:8080", sizeof o->backend_url);
	o->min_conns = 2;
	o->max_conns = 10;
	o->ring_size = PP_RING_DEFAULT;
	o->lease_timeout_ms = 30000;
	o->request_timeout_ms = 30000;
	o->connect_timeout_ms = 2000;
	o->mode = 0600;
	o->log_level = PD_LOG_INFO;
}

void pd_options_default_pidfile(const char *pool, char *buf, size_t len)
{
	if (geteuid() == 0) {
		snprintf(buf, len, "/run/phantompool/%s.pid", pool);
		return;
	}
	const char *dir = getenv("XDG_RUNTIME_DIR");
	snprintf(buf, len, "%s/phantompool-%s.pid", dir && *dir ? dir : "/tmp", pool);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: phantompoold [-f] [-p POOL] [-b URL] [--min N] [--max N] [options]\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		char lhs[64];
		if (d->short_name)
			snprintf(lhs, sizeof lhs, "-%c, --%s%s%s", d->short_name, d->name, d->arg ? " " : "", d->arg ? d->arg : "");
		else
			snprintf(lhs, sizeof lhs, "    --%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
		fprintf(f, "  %-30s %s\n", lhs, d->help);
	}
	fprintf(f, "  %-30s %s\n  %-30s %s\n", "-h, --help", "this text", "-V, --version", "print the version");
}

static int parse_u32(const char *s, unsigned base, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, (int)base);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };

/* Store one option's argument.  Returns 0 or -1 after printing why. */
static int opt_apply(struct pd_options *o, const struct opt_def *d, const char *arg)
{
	char *field = (char *)o + d->off;
	switch (d->kind) {
	case OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case OPT_POOL:
		if (pp_pool_resolve(arg, field, d->size) != 0 || !*arg) {
			fprintf(stderr, "phantompoold: --%s: invalid pool name '%s' (1..40 of A-Z a-z 0-9 . _ -)\n", d->name, arg);
			return -1;
		}
		return 0;
	case OPT_STR:
		if (strlcpy(field, arg, d->size) >= d->size) {
			fprintf(stderr, "phantompoold: --%s: value too long\n", d->name);
			return -1;
		}
		return 0;
	case OPT_U32:
	case OPT_MODE:
		if (parse_u32(arg, d->kind == OPT_MODE ? 8 : 10, d->lo, d->hi, (uint32_t *)field) == 0)
			return 0;
		fprintf(stderr, "phantompoold: --%s: '%s' is not a number in %u..%u\n", d->name, arg, d->lo, d->hi);
		return -1;
	case OPT_LEVEL:
		for (int i = 0; i < 4; i++)
			if (strcmp(arg, level_names[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		fprintf(stderr, "phantompoold: --%s: unknown level '%s'\n", d->name, arg);
		return -1;
	}
	return -1;
}

/* Cross-field checks after parsing. */
static int opt_validate(struct pd_options *o, bool min_given)
{
	if (!min_given && o->min_conns > o->max_conns)
		o->min_conns = o->max_conns; /* the default min yields to a small --max */
	if (o->min_conns > o->max_conns) {
		fprintf(stderr, "phantompoold: --min %u is more than --max %u\n", o->min_conns, o->max_conns);
		return -1;
	}
	if (o->ring_size & (o->ring_size - 1)) {
		fprintf(stderr, "phantompoold: --ring-size %u is not a power of two\n", o->ring_size);
		return -1;
	}
	if (!*o->pidfile)
		pd_options_default_pidfile(o->pool, o->pidfile, sizeof o->pidfile);
	return 0;
}

int pd_options_parse(struct pd_options *o, int argc, char **argv)
{
	struct option longopts[NOPTS + 3];
	char shortopts[2 * NOPTS + 8] = "hV";
	size_t sl = strlen(shortopts);
	pd_options_defaults(o);
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		longopts[i] = (struct option){ d->name, d->kind == OPT_FLAG ? no_argument : required_argument, NULL, 256 + (int)i };
		if (d->short_name) {
			shortopts[sl++] = (char)d->short_name;
			if (d->kind != OPT_FLAG)
				shortopts[sl++] = ':';
		}
	}
	shortopts[sl] = 0;
	longopts[NOPTS] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[NOPTS + 1] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[NOPTS + 2] = (struct option){ 0 };
	optind = 1;
	int c;
	bool min_given = false;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct opt_def *d = NULL;
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == 'V') {
			printf("phantompoold %d.%d.%d\n", PP_VERSION_MAJOR, PP_VERSION_MINOR, PP_VERSION_PATCH);
			return 1;
		}
		if (c >= 256 && c < 256 + (int)NOPTS)
			d = &opt_table[c - 256];
		for (size_t i = 0; !d && i < NOPTS; i++)
			if (opt_table[i].short_name == c)
				d = &opt_table[i];
		if (!d) {
			usage(stderr);
			return -1;
		}
		if (opt_apply(o, d, optarg) < 0)
			return -1;
		min_given |= d->off == offsetof(struct pd_options, min_conns);
	}
	if (optind < argc) {
		fprintf(stderr, "phantompoold: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return opt_validate(o, min_given);
}
