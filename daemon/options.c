/* options.c - the daemon's settings as ONE table: name, kind, field,
 * range, default, reload class and help.  The command line (getopt_long),
 * the config file (config.c), --help, --print-config and the reload diff
 * all walk this table; nothing else lists the options. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <bsd/string.h>

#include "config.h"
#include "log.h"
#include "url.h"
#include "phantompool.h"
#include "segment.h"

enum opt_kind {
	OPT_FLAG,   /* no argument: sets a bool (command line only) */
	OPT_NOFLAG, /* no argument: clears a bool (command line only) */
	OPT_BOOL,   /* yes/no, true/false, on/off, 1/0 */
	OPT_U32,    /* decimal number in lo..hi */
	OPT_MODE,   /* octal number in lo..hi */
	OPT_STR,    /* text that fits the field */
	OPT_PATH,   /* a file name, made absolute; "" = unset */
	OPT_POOL,   /* a pool name */
	OPT_ENUM,   /* one of words[], stored as its index (int) */
	OPT_WORD,   /* one of words[], stored as the word */
	OPT_URLS,   /* backend URLs: the key repeats, values are comma lists */
};

enum opt_flag {
	OF_CLI = 1 << 0,    /* a command-line option */
	OF_FILE = 1 << 1,   /* a config-file key */
	OF_LIVE = 1 << 2,   /* a SIGHUP reload may apply a new value */
	OF_ALIAS = 1 << 3,  /* another spelling of an earlier option's field */
	OF_ACTION = 1 << 4, /* a command-line action, not a setting */
	OF_POW2 = 1 << 5,   /* the number must be a power of two */
};
#define CF (OF_CLI | OF_FILE)
#define CFL (OF_CLI | OF_FILE | OF_LIVE)

struct opt_def {
	const char *name;     /* long option; the config key has '_' for '-' */
	int short_name;       /* 0: long only */
	enum opt_kind kind;
	unsigned flags;       /* enum opt_flag */
	size_t off;           /* field in struct pd_options */
	size_t size;
	uint32_t lo, hi;      /* for numbers */
	const char *const *words; /* for OPT_ENUM / OPT_WORD, NULL-terminated */
	const char *def;      /* default, as the file would spell it; NULL: none */
	const char *arg;      /* argument name in --help */
	const char *help;
};

#define F(field) offsetof(struct pd_options, field), sizeof(((struct pd_options *)0)->field)
#define NONUM 0, 0

static const char *const level_words[] = { "error", "warning", "info", "debug", NULL };
static const char *const target_words[] = { "auto", "stderr", "syslog", NULL };

/* clang-format off */
static const struct opt_def opt_table[] = {
/*	  name               short kind        flags      field                 range                       words         default                  arg       help */
	{ "config",          'c', OPT_PATH,   OF_CLI,    F(config_file),        NONUM,                      NULL,         NULL,                    "FILE",   "read settings from FILE (flags override it)" },
	{ "foreground",      'f', OPT_FLAG,   OF_CLI,    F(foreground),         NONUM,                      NULL,         NULL,                    NULL,     "stay in the foreground" },
	{ "pool",            'p', OPT_POOL,   CF,        F(pool),               NONUM,                      NULL,         NULL,                    "POOL",   "pool name (default $PHANTOMPOOL or \"default\")" },
	{ "backend",         'b', OPT_URLS,   CFL,       F(backends),           NONUM,                      NULL,         "http://127.0.0.1:8080", "URL",    "PhantomDB base URL, path prefix allowed; repeat for more nodes" },
	{ "min",             0,   OPT_U32,    CFL,       F(min_conns),          0, PP_MAX_SLOTS,            NULL,         "2",                     "N",      "connections kept warm" },
	{ "max",             0,   OPT_U32,    CF,        F(max_conns),          1, PP_MAX_SLOTS,            NULL,         "10",                    "N",      "most backend connections" },
	{ "seats",           0,   OPT_U32,    CF,        F(seats),              0, PP_MAX_SLOTS,            NULL,         "0",                     "N",      "seats workers lease, at least max; 0 = as many as max" },
	{ "ring-size",       0,   OPT_U32,    CF | OF_POW2, F(ring_size),       PP_RING_MIN, PP_RING_MAX,   NULL,         "65536",                 "BYTES",  "bytes per ring, a power of two" },
	{ "lease-timeout",   0,   OPT_U32,    CFL,       F(lease_timeout_ms),   0, 3600000,                 NULL,         "30000",                 "MS",     "default acquire timeout" },
	{ "request-timeout", 0,   OPT_U32,    CFL,       F(request_timeout_ms), 1, 3600000,                 NULL,         "30000",                 "MS",     "per-request timeout" },
	{ "connect-timeout", 0,   OPT_U32,    CFL,       F(connect_timeout_ms), 1, 600000,                  NULL,         "2000",                  "MS",     "backend connect timeout" },
	{ "idle-timeout",    0,   OPT_U32,    CFL,       F(idle_timeout_ms),    0, 86400000,                NULL,         "60000",                 "MS",     "close connections above min idle this long, 0 = never" },
	{ "max-lifetime",    0,   OPT_U32,    CFL,       F(max_lifetime_ms),    0, 604800000,               NULL,         "1800000",               "MS",     "reopen a connection this old, 0 = unlimited" },
	{ "health-interval", 0,   OPT_U32,    CFL,       F(health_interval_ms), 0, 86400000,                NULL,         "30000",                 "MS",     "GET /health on idle connections this often, 0 = off" },
	{ "leak-threshold",  0,   OPT_U32,    CFL,       F(leak_threshold_ms),  0, 86400000,                NULL,         "0",                     "MS",     "log leases held longer than this, 0 = off" },
	{ "spin-us",         0,   OPT_U32,    CFL,       F(spin_us),            0, 1000,                    NULL,         "100",                   "US",     "spin this long for a peer on another CPU before sleeping (a loop yields once to a worker on its own CPU), 0 = never" },
	{ "loops",           0,   OPT_U32,    CF,        F(loops),              0, PP_LOOPS_MAX,            NULL,         "0",                     "N",      "serving loops (threads running the exchanges), 0 = one per CPU" },
	{ "drain-timeout",   0,   OPT_U32,    CFL,       F(drain_timeout_ms),   0, 3600000,                 NULL,         "10000",                 "MS",     "on SIGTERM, wait this long for leases to end" },
	{ "max-body",        0,   OPT_U32,    CFL,       F(max_body),           0, UINT32_MAX,              NULL,         "0",                     "BYTES",  "largest request body, 0 = no limit" },
	{ "mode",            0,   OPT_MODE,   CF,        F(mode),               0, 0777,                    NULL,         "0600",                  "OCTAL",  "segment mode" },
	{ "group",           0,   OPT_STR,    CF,        F(group),              NONUM,                      NULL,         NULL,                    "GROUP",  "segment group (with mode 0660)" },
	{ "pidfile",         0,   OPT_PATH,   CF,        F(pidfile),            NONUM,                      NULL,         NULL,                    "PATH",   "pidfile (default /run/phantompool/POOL.pid as root, else $XDG_RUNTIME_DIR/phantompool-POOL.pid)" },
	{ "token-file",      0,   OPT_PATH,   CFL,       F(token_file),         NONUM,                      NULL,         NULL,                    "PATH",   "file holding the bearer token" },
	{ "ca-file",         0,   OPT_PATH,   CFL,       F(ca_file),            NONUM,                      NULL,         NULL,                    "PATH",   "CA certificates to verify the backend (PEM)" },
	{ "ca-path",         0,   OPT_PATH,   CFL,       F(ca_path),            NONUM,                      NULL,         NULL,                    "DIR",    "directory of CA certificates" },
	{ "tls-cert",        0,   OPT_PATH,   CFL,       F(tls_cert),           NONUM,                      NULL,         NULL,                    "PATH",   "client certificate (PEM)" },
	{ "tls-key",         0,   OPT_PATH,   CFL,       F(tls_key),            NONUM,                      NULL,         NULL,                    "PATH",   "client certificate's private key (PEM)" },
	{ "tls-verify",      0,   OPT_BOOL,   CFL,       F(tls_verify),         NONUM,                      NULL,         "yes",                   "BOOL",   "verify the backend's certificate and name" },
	{ "no-tls-verify",   0,   OPT_NOFLAG, OF_CLI | OF_ALIAS, F(tls_verify), NONUM,                      NULL,         NULL,                    NULL,     "same as --tls-verify no" },
	{ "log-level",       0,   OPT_ENUM,   CFL,       F(log_level),          NONUM,                      level_words,  "info",                  "LEVEL",  "error, warning, info or debug" },
	{ "log-target",      0,   OPT_WORD,   CF,        F(log_target),         NONUM,                      target_words, "auto",                  "TARGET", "auto (stderr with -f, else syslog), stderr or syslog" },
	{ "check-config",    0,   OPT_FLAG,   OF_CLI | OF_ACTION, F(check_config), NONUM,                   NULL,         NULL,                    NULL,     "check the settings, print ok or the errors, exit" },
	{ "print-config",    0,   OPT_FLAG,   OF_CLI | OF_ACTION, F(print_config), NONUM,                   NULL,         NULL,                    NULL,     "print the resulting settings as a config file, exit" },
};
/* clang-format on */

#define NOPTS (sizeof opt_table / sizeof opt_table[0])
#define OPT_INDEX(field) opt_index(offsetof(struct pd_options, field))

/* ---- reporting ------------------------------------------------------ */

static pd_options_report_fn *reporter;
static void *reporter_ctx;

void pd_options_set_reporter(pd_options_report_fn *fn, void *ctx)
{
	reporter = fn;
	reporter_ctx = ctx;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	char msg[PATH_MAX + 512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (reporter)
		reporter(msg, reporter_ctx);
	else
		fprintf(stderr, "%s\n", msg);
}

/* ---- the table ------------------------------------------------------ */

/* The config key of an option: its name with '_' for '-'. */
static void opt_key(const struct opt_def *d, char *buf, size_t len)
{
	size_t i = 0;
	for (; d->name[i] && i + 1 < len; i++)
		buf[i] = d->name[i] == '-' ? '_' : d->name[i];
	buf[i] = 0;
}

/* Does name spell this option, as a long option or as a config key? */
static bool opt_named(const struct opt_def *d, const char *name, bool allow_dash)
{
	size_t i = 0;
	for (; d->name[i] && name[i]; i++) {
		char c = name[i];
		if (c != d->name[i] && !(c == '_' && d->name[i] == '-'))
			return false;
		if (c == '-' && !allow_dash)
			return false;
	}
	return !d->name[i] && !name[i];
}

static const struct opt_def *opt_find(const char *name, bool allow_dash)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opt_named(&opt_table[i], name, allow_dash))
			return &opt_table[i];
	return NULL;
}

/* Index of the (non-alias) option stored at offset off. */
static size_t opt_index(size_t off)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opt_table[i].off == off && !(opt_table[i].flags & OF_ALIAS))
			return i;
	abort(); /* a field the table does not know: a bug here */
}

static size_t opt_canon(const struct opt_def *d)
{
	return opt_index(d->off);
}

/* ---- values --------------------------------------------------------- */

static int parse_u32(const char *s, int base, uint32_t *out, bool *range)
{
	char *end;
	*range = false;
	if (!(s[0] >= '0' && s[0] <= (base == 8 ? '7' : '9')))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (*end)
		return -1;
	if (errno == ERANGE || v > UINT32_MAX) {
		*range = true;
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*out = strcasecmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

static int word_index(const char *const *words, const char *s)
{
	for (int i = 0; words[i]; i++)
		if (strcmp(words[i], s) == 0)
			return i;
	return -1;
}

/* path made absolute against base (unless base is ""); -1 if too long. */
static int make_abs(const char *base, const char *path, char *out, size_t len)
{
	if (!*path || *path == '/' || !*base)
		return strlcpy(out, path, len) < len ? 0 : -1;
	size_t bl = strlen(base);
	const char *sep = base[bl - 1] == '/' ? "" : "/";
	return (size_t)snprintf(out, len, "%s%s%s", base, sep, path) < len ? 0 : -1;
}

/* One URL of a backend list: http(s)://, no blanks or control bytes, and
 * one libcurl parses. */
static int url_check(const char *u, size_t n, char *why, size_t wl)
{
	if (n == 0) {
		snprintf(why, wl, "empty URL in the list");
		return -1;
	}
	if (n >= PD_URL_MAX) {
		snprintf(why, wl, "URL longer than %d bytes", PD_URL_MAX - 1);
		return -1;
	}
	bool ok = (n > 7 && strncasecmp(u, "http://", 7) == 0) || (n > 8 && strncasecmp(u, "https://", 8) == 0);
	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)u[i] > 0x20 && u[i] != 0x7f;
	if (!ok) {
		snprintf(why, wl, "'%.*s' is not an http:// or https:// URL", n > 80 ? 80 : (int)n, u);
		return -1;
	}
	char one[PD_URL_MAX];
	memcpy(one, u, n);
	one[n] = 0;
	const char *bad = pd_url_parse(one, NULL); /* as the start and reload parse it */
	if (bad) {
		snprintf(why, wl, "'%.*s' is not a valid URL: %s", n > 80 ? 80 : (int)n, u, bad);
		return -1;
	}
	return 0;
}

/* Backend list: a comma-separated value; the first value of a layer
 * replaces the list before it (the file's replaces the default, the
 * command line's replaces the file's). */
static int set_urls(struct pd_options *o, const char *v, bool first, char *why, size_t wl)
{
	if (first) {
		o->nbackends = 0;
		memset(o->backends, 0, sizeof o->backends); /* comparable with memcmp */
	}
	for (;;) {
		while (*v == ' ' || *v == '\t')
			v++;
		size_t n = strcspn(v, ",");
		size_t t = n;
		while (t > 0 && (v[t - 1] == ' ' || v[t - 1] == '\t'))
			t--;
		if (url_check(v, t, why, wl) < 0)
			return -1;
		if (o->nbackends == PD_MAX_BACKENDS) {
			snprintf(why, wl, "more than %d backends", PD_MAX_BACKENDS);
			return -1;
		}
		memcpy(o->backends[o->nbackends], v, t);
		o->backends[o->nbackends++][t] = 0;
		if (!v[n])
			return 0;
		v += n + 1;
	}
}

/* A number option: decimal (or octal for OPT_MODE) in d->lo..d->hi. */
static int set_number(const struct opt_def *d, const char *v, uint32_t *field, char *why, size_t wl)
{
	uint32_t u;
	bool range;
	if (parse_u32(v, d->kind == OPT_MODE ? 8 : 10, &u, &range) < 0 && !range) {
		snprintf(why, wl, "'%.64s' is not %s number", v, d->kind == OPT_MODE ? "an octal" : "a");
		return -1;
	}
	if (range || u < d->lo || u > d->hi) {
		if (d->kind == OPT_MODE)
			snprintf(why, wl, "%.64s is out of range (%04o..%04o)", v, d->lo, d->hi);
		else
			snprintf(why, wl, "%.64s is out of range (%u..%u)", v, d->lo, d->hi);
		return -1;
	}
	if ((d->flags & OF_POW2) && (u & (u - 1))) {
		snprintf(why, wl, "%u is not a power of two", u);
		return -1;
	}
	*field = u;
	return 0;
}

/* A word option: one of d->words, stored as its index or as the word. */
static int set_word(const struct opt_def *d, const char *v, char *field, char *why, size_t wl)
{
	int i = word_index(d->words, v);
	if (i < 0) {
		int n = snprintf(why, wl, "'%.64s' is not one of:", v);
		for (int w = 0; d->words[w] && n > 0 && (size_t)n < wl; w++)
			n += snprintf(why + n, wl - (size_t)n, "%s %s", w ? "," : "", d->words[w]);
		return -1;
	}
	if (d->kind == OPT_ENUM)
		*(int *)field = i;
	else
		strlcpy(field, d->words[i], d->size);
	return 0;
}

/* Store one option's value.  base: directory for relative paths; first:
 * the first value of this option in this layer (lists restart).
 * Returns 0, or -1 with the reason in why. */
static int opt_apply(struct pd_options *o, const struct opt_def *d, const char *v, const char *base,
		     bool first, char *why, size_t wl)
{
	char *field = (char *)o + d->off;
	if (d->kind == OPT_STR || d->kind == OPT_PATH || d->kind == OPT_POOL || d->kind == OPT_WORD)
		memset(field, 0, d->size); /* no stale bytes after the NUL: memcmp works */
	switch (d->kind) {
	case OPT_FLAG:
	case OPT_NOFLAG:
		*(bool *)field = d->kind == OPT_FLAG;
		return 0;
	case OPT_BOOL:
		if (parse_bool(v, (bool *)field) == 0)
			return 0;
		snprintf(why, wl, "'%.64s' is not a boolean (yes/no, true/false, on/off, 1/0)", v);
		return -1;
	case OPT_U32:
	case OPT_MODE:
		return set_number(d, v, (uint32_t *)field, why, wl);
	case OPT_STR:
		if (strlcpy(field, v, d->size) < d->size)
			return 0;
		snprintf(why, wl, "value too long (at most %zu bytes)", d->size - 1);
		return -1;
	case OPT_PATH:
		if (make_abs(base, v, field, d->size) == 0)
			return 0;
		snprintf(why, wl, "path too long (at most %zu bytes)", d->size - 1);
		return -1;
	case OPT_POOL:
		if (*v && pp_pool_resolve(v, field, d->size) == 0)
			return 0;
		snprintf(why, wl, "invalid pool name '%.64s' (1..%d of A-Z a-z 0-9 . _ -)", v, PP_POOL_NAME_MAX);
		return -1;
	case OPT_ENUM:
	case OPT_WORD:
		return set_word(d, v, field, why, wl);
	case OPT_URLS:
		return set_urls(o, v, first, why, wl);
	}
	snprintf(why, wl, "internal error: kind %d", (int)d->kind);
	return -1;
}

void pd_options_defaults(struct pd_options *o)
{
	memset(o, 0, sizeof *o);
	pp_pool_resolve(NULL, o->pool, sizeof o->pool); /* invalid $PHANTOMPOOL: "" */
	for (size_t i = 0; i < NOPTS; i++) {
		char why[128];
		if (opt_table[i].def && opt_apply(o, &opt_table[i], opt_table[i].def, "", true, why, sizeof why) < 0)
			abort(); /* a default the table itself refuses: a bug here */
	}
	strlcpy(o->backend_url, o->backends[0], sizeof o->backend_url);
}

void pd_options_default_pidfile(const char *pool, char *buf, size_t len)
{
	if (geteuid() == 0 || access("/run/phantompool", W_OK) == 0) { /* root, or the unit's RuntimeDirectory */
		snprintf(buf, len, "/run/phantompool/%s.pid", pool);
		return;
	}
	const char *dir = getenv("XDG_RUNTIME_DIR");
	snprintf(buf, len, "%s/phantompool-%s.pid", dir && *dir ? dir : "/tmp", pool);
}

/* ---- loading: defaults, file, flags, checks --------------------------- */

struct load_ctx {
	struct pd_options o;   /* built here; copied out on success */
	const char *file;      /* the config file, for messages */
	char dir[PATH_MAX];    /* its directory: base of its relative paths */
	int errors;
	int line[NOPTS];       /* > 0: set on this line of the file */
	bool cli[NOPTS];       /* set on the command line */
};

/* Working directory at the first load: base of relative paths on the
 * command line, also at a reload after the daemon chdir'ed to /. */
static char start_cwd[PATH_MAX];

static void remember_cwd(void)
{
	static bool done;
	if (!done && !getcwd(start_cwd, sizeof start_cwd))
		start_cwd[0] = 0; /* leave relative paths relative */
	done = true;
}

/* Option i as its source spells it: "--name" (command line) or "key". */
static void opt_label(const struct load_ctx *c, size_t i, char *buf, size_t len)
{
	if (c->cli[i])
		snprintf(buf, len, "--%s", opt_table[i].name);
	else
		opt_key(&opt_table[i], buf, len);
}

/* "FILE:LINE: key" or "phantompoold: --name": where option i was set. */
static void opt_where(const struct load_ctx *c, size_t i, char *buf, size_t len)
{
	char label[40];
	opt_label(c, i, label, sizeof label);
	if (c->line[i] > 0 && !c->cli[i])
		snprintf(buf, len, "%s:%d: %s", c->file, c->line[i], label);
	else
		snprintf(buf, len, "phantompoold: %s", label);
}

static int file_key(void *ctx, const char *key, const char *value, int line)
{
	struct load_ctx *c = ctx;
	const struct opt_def *d = opt_find(key, false);
	char why[256];
	if (!d || !(d->flags & OF_FILE)) {
		const struct opt_def *near = opt_find(key, true);
		if (near && (near->flags & OF_FILE)) {
			opt_key(near, why, sizeof why);
			report("%s:%d: unknown key '%s' (did you mean %s?)", c->file, line, key, why);
		} else if (d && d->short_name) {
			report("%s:%d: '%s' is a command-line option only (-%c)", c->file, line, key, d->short_name);
		} else if (d) {
			report("%s:%d: '%s' is a command-line option only (--%s)", c->file, line, key, d->name);
		} else {
			report("%s:%d: unknown key '%.64s'", c->file, line, key);
		}
		return -1;
	}
	size_t i = opt_canon(d);
	if (c->line[i] > 0 && d->kind != OPT_URLS) {
		report("%s:%d: duplicate key '%s' (first set on line %d)", c->file, line, key, c->line[i]);
		return -1;
	}
	if (opt_apply(&c->o, d, value, c->dir, c->line[i] == 0, why, sizeof why) < 0) {
		report("%s:%d: %s: %s", c->file, line, key, why);
		return -1;
	}
	c->line[i] = line;
	return 0;
}

static void file_error(void *ctx, int line, const char *reason)
{
	struct load_ctx *c = ctx;
	if (line > 0)
		report("%s:%d: %s", c->file, line, reason);
	else
		report("%s: %s", c->file, reason);
}

static const struct pd_config_reader file_reader_proto = {
	.section = "pool",
	.on_key = file_key,
	.on_error = file_error,
};

static void set_file(struct load_ctx *c, const char *name)
{
	c->file = name;
	strlcpy(c->dir, name, sizeof c->dir);
	char *slash = strrchr(c->dir, '/');
	if (!slash)
		strlcpy(c->dir, start_cwd, sizeof c->dir);
	else
		slash[slash == c->dir] = 0; /* "/x.conf": "/" */
}

static int load_file(struct load_ctx *c)
{
	struct pd_config_reader r = file_reader_proto;
	r.ctx = c;
	set_file(c, c->o.config_file);
	return pd_config_read_file(c->o.config_file, &r);
}

/* The checks across options, and what follows from them. */
static int opt_validate(struct load_ctx *c)
{
	struct pd_options *o = &c->o;
	size_t imin = OPT_INDEX(min_conns), imax = OPT_INDEX(max_conns);
	char a[PATH_MAX + 64], b[40];
	if (!*o->pool) {
		report("phantompoold: $PHANTOMPOOL '%.64s' is not a valid pool name", getenv("PHANTOMPOOL"));
		return -1;
	}
	bool min_set = c->line[imin] || c->cli[imin];
	if (!min_set && o->min_conns > o->max_conns)
		o->min_conns = o->max_conns; /* the default min yields to a small max */
	if (o->seats && o->seats < o->max_conns) {
		opt_where(c, OPT_INDEX(seats), a, sizeof a);
		opt_label(c, imax, b, sizeof b);
		report("%s %u is fewer than %s %u (every connection serves a seat)", a, o->seats, b, o->max_conns);
		return -1;
	}
	if (o->min_conns > o->max_conns) {
		opt_where(c, imin, a, sizeof a);
		opt_label(c, imax, b, sizeof b);
		report("%s %u is more than %s %u", a, o->min_conns, b, o->max_conns);
		return -1;
	}
	if (*o->tls_key && !*o->tls_cert) {
		opt_where(c, OPT_INDEX(tls_key), a, sizeof a);
		report("%s is set but tls_cert is not", a);
		return -1;
	}
	strlcpy(o->backend_url, o->backends[0], sizeof o->backend_url);
	if (!*o->pidfile)
		pd_options_default_pidfile(o->pool, o->pidfile, sizeof o->pidfile);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: phantompoold [-c FILE] [-f] [-p POOL] [-b URL] [--min N] [--max N] [options]\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		char lhs[64], def[64] = "";
		if (!(d->flags & OF_CLI))
			continue;
		snprintf(lhs, sizeof lhs, "%c%c%c --%s%s%s", d->short_name ? '-' : ' ', d->short_name ? d->short_name : ' ',
			 d->short_name ? ',' : ' ', d->name, d->arg ? " " : "", d->arg ? d->arg : "");
		if (d->def)
			snprintf(def, sizeof def, " (default %s)", d->def);
		fprintf(f, "  %-30s %s%s\n", lhs, d->help, def);
	}
	fprintf(f, "  %-30s %s\n  %-30s %s\n", "-h, --help", "this text", "-V, --version", "print the version");
	fprintf(f, "\nConfig file keys are the long names with '_' for '-' (ring_size); see phantompoold(8).\n");
}

struct cli {
	struct option longopts[NOPTS + 3];
	char shortopts[2 * NOPTS + 8];
};

static void cli_init(struct cli *g)
{
	size_t n = 0, sl = 0;
	g->shortopts[sl++] = ':'; /* first: a missing argument returns ':', not '?' */
	g->shortopts[sl++] = 'h';
	g->shortopts[sl++] = 'V';
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		bool arg = d->kind != OPT_FLAG && d->kind != OPT_NOFLAG;
		if (!(d->flags & OF_CLI))
			continue;
		g->longopts[n++] = (struct option){ d->name, arg ? required_argument : no_argument, NULL, 256 + (int)i };
		if (d->short_name) {
			g->shortopts[sl++] = (char)d->short_name;
			if (arg)
				g->shortopts[sl++] = ':';
		}
	}
	g->shortopts[sl] = 0;
	g->longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	g->longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	g->longopts[n] = (struct option){ 0 };
}

/* Option character c (from getopt_long) to its table entry, or NULL. */
static const struct opt_def *cli_def(int c)
{
	if (c >= 256 && c < 256 + (int)NOPTS)
		return &opt_table[c - 256];
	for (size_t i = 0; c > 0 && i < NOPTS; i++)
		if (opt_table[i].short_name == c)
			return &opt_table[i];
	return NULL;
}

static bool cli_apply(struct load_ctx *c, const struct opt_def *d, const char *arg)
{
	char why[256];
	size_t i = opt_canon(d);
	if (opt_apply(&c->o, d, arg, start_cwd, !c->cli[i], why, sizeof why) < 0) {
		report("phantompoold: --%s: %s", d->name, why);
		return false;
	}
	c->cli[i] = true;
	return true;
}

/* Walk argv.  Pass 1 (config_only) reports unknown options and missing
 * arguments, answers -h/-V, and takes -c; pass 2 applies the others.
 * Returns 0, 1 (printed help or version) or -1. */
static int cli_pass(struct load_ctx *c, struct cli *g, int argc, char **argv, bool config_only)
{
	int ch, bad = 0;
	optind = 0; /* GNU: full re-initialisation, argv may be walked again */
	opterr = 0; /* errors are ours to report (the reporter, not stderr) */
	while ((ch = getopt_long(argc, argv, g->shortopts, g->longopts, NULL)) != -1) {
		const struct opt_def *d = cli_def(ch);
		if (ch == 'h' || ch == 'V') {
			if (!config_only)
				continue;
			if (ch == 'h')
				usage(stdout);
			else
				printf("phantompoold %d.%d.%d\n", PP_VERSION_MAJOR, PP_VERSION_MINOR, PP_VERSION_PATCH);
			return 1;
		}
		if (ch == '?' || ch == ':') {
			if (!config_only)
				continue;
			const char *what = argv[optind - 1];
			char shortbuf[3] = { '-', (char)optopt, 0 };
			if (optopt > 0 && optopt < 256 && strncmp(what, "--", 2) != 0)
				what = shortbuf;
			report("phantompoold: %s '%s' (see --help)",
			       ch == ':' ? "missing argument for option" : "unknown option", what);
			bad++;
			continue;
		}
		bool is_config = d && d->off == offsetof(struct pd_options, config_file);
		if (d && is_config == config_only && !cli_apply(c, d, optarg))
			bad++;
	}
	if (config_only && optind < argc) {
		report("phantompoold: unexpected argument '%s'", argv[optind]);
		bad++;
	}
	return bad ? -1 : 0;
}

static struct load_ctx *ctx_new(void)
{
	struct load_ctx *c = calloc(1, sizeof *c);
	if (!c) {
		report("phantompoold: out of memory");
		return NULL;
	}
	remember_cwd();
	pd_options_defaults(&c->o);
	return c;
}

static int ctx_finish(struct load_ctx *c, struct pd_options *o, int rc)
{
	if (rc == 0 && c->errors == 0 && opt_validate(c) == 0)
		memcpy(o, &c->o, sizeof *o);
	else if (rc == 0)
		rc = -1;
	free(c);
	return rc;
}

int pd_options_load(struct pd_options *o, int argc, char **argv)
{
	struct load_ctx *c = ctx_new();
	struct cli g;
	if (!c)
		return -1;
	cli_init(&g);
	int rc = cli_pass(c, &g, argc, argv, true);
	if (rc == 0 && *c->o.config_file && load_file(c) < 0)
		c->errors++;
	if (rc == 0 && cli_pass(c, &g, argc, argv, false) < 0)
		c->errors++;
	optind = 0;
	return ctx_finish(c, o, rc);
}

int pd_options_load_text(struct pd_options *o, const char *text, size_t len, const char *name)
{
	struct load_ctx *c = ctx_new();
	if (!c)
		return -1;
	struct pd_config_reader r = file_reader_proto;
	r.ctx = c;
	set_file(c, name);
	if (pd_config_read_text(text, len, &r) < 0)
		c->errors++;
	return ctx_finish(c, o, 0);
}

int pd_options_parse(struct pd_options *o, int argc, char **argv, pd_options_check_fn *check)
{
	int r = pd_options_load(o, argc, argv);
	if (r)
		return r;
	if ((o->print_config || o->check_config) && check && check(o) < 0)
		return -1;
	if (o->print_config)
		pd_options_print(o, stdout);
	else if (o->check_config && *o->config_file)
		printf("%s: ok\n", o->config_file);
	else if (o->check_config)
		printf("ok\n");
	return o->print_config || o->check_config ? 1 : 0;
}

/* ---- reload, printing ------------------------------------------------ */

bool pd_options_live_changeable(const char *name)
{
	const struct opt_def *d = name ? opt_find(name, true) : NULL;
	return d && (opt_table[opt_canon(d)].flags & OF_LIVE);
}

static bool opt_equal(const struct opt_def *d, const struct pd_options *a, const struct pd_options *b)
{
	const char *fa = (const char *)a + d->off, *fb = (const char *)b + d->off;
	switch (d->kind) {
	case OPT_URLS:
		if (a->nbackends != b->nbackends)
			return false;
		for (uint32_t i = 0; i < a->nbackends && i < PD_MAX_BACKENDS; i++)
			if (strncmp(a->backends[i], b->backends[i], PD_URL_MAX) != 0)
				return false;
		return true;
	case OPT_STR:
	case OPT_PATH:
	case OPT_POOL:
	case OPT_WORD:
		return strncmp(fa, fb, d->size) == 0;
	case OPT_FLAG:
	case OPT_NOFLAG:
	case OPT_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case OPT_U32:
	case OPT_MODE:
	case OPT_ENUM:
		return memcmp(fa, fb, d->size) == 0;
	}
	return false;
}

void pd_options_diff(const struct pd_options *old, const struct pd_options *new,
		     void (*report_fn)(const char *name, bool live, void *ctx), void *ctx)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		char key[32];
		if ((d->flags & (OF_ALIAS | OF_ACTION)) || opt_equal(d, old, new))
			continue;
		opt_key(d, key, sizeof key);
		report_fn(key, d->flags & OF_LIVE, ctx);
	}
}

void pd_options_print(const struct pd_options *o, FILE *f)
{
	fprintf(f, "; phantompoold %d.%d.%d settings (--print-config)\n[pool]\n", PP_VERSION_MAJOR,
		PP_VERSION_MINOR, PP_VERSION_PATCH);
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		const char *field = (const char *)o + d->off;
		char key[32];
		if (!(d->flags & OF_FILE))
			continue;
		opt_key(d, key, sizeof key);
		switch (d->kind) {
		case OPT_URLS:
			for (uint32_t b = 0; b < o->nbackends && b < PD_MAX_BACKENDS; b++)
				fprintf(f, "%s = %s\n", key, o->backends[b]);
			break;
		case OPT_BOOL:
			fprintf(f, "%s = %s\n", key, *(const bool *)field ? "yes" : "no");
			break;
		case OPT_U32:
			fprintf(f, "%s = %u\n", key, *(const uint32_t *)field);
			break;
		case OPT_MODE:
			fprintf(f, "%s = %04o\n", key, *(const unsigned *)field);
			break;
		case OPT_ENUM: {
			int v = *(const int *)field, n = 0;
			while (d->words[n])
				n++;
			fprintf(f, "%s = %s\n", key, v >= 0 && v < n ? d->words[v] : "?");
			break;
		}
		default: /* text; no trailing blank when empty */
			fprintf(f, "%s =%s%.*s\n", key, *field ? " " : "", (int)d->size, field);
			break;
		}
	}
}

bool pd_options_info(size_t i, struct pd_option_info *out)
{
	if (i >= NOPTS)
		return false;
	const struct opt_def *d = &opt_table[i];
	*out = (struct pd_option_info){
		.name = d->name,
		.short_name = d->short_name,
		.cli = d->flags & OF_CLI,
		.file = d->flags & OF_FILE,
		.live = opt_table[opt_canon(d)].flags & OF_LIVE,
		.alias = d->flags & OF_ALIAS,
		.def = d->def,
	};
	opt_key(d, out->key, sizeof out->key);
	return true;
}

bool pd_options_log_to_stderr(const struct pd_options *o)
{
	return strcmp(o->log_target, "stderr") == 0 || (strcmp(o->log_target, "auto") == 0 && o->foreground);
}
