/* shmdump.c - phantompool-shmdump: the pool as its segment shows it.
 *
 *   phantompool-shmdump [-p POOL] [--json | --prometheus] [--watch SECONDS]
 *
 * Reads the segment read-only and never trusts it: the header is validated
 * before any offset is used (pp_seg_attach), the segment is copied once
 * into a private snapshot (dump_snapshot.c: header fields read once, slots
 * through the seqlocked pp_slot_snapshot) and every output is rendered
 * from that copy (dump_text.c, dump_json.c, dump_prom.c), into memory
 * first, so a failure never leaves half a document on stdout.  A segment
 * truncated while we read it raises SIGBUS: the handler jumps back here
 * and the tool reports a torn segment instead of crashing, in every mode.
 *
 * Exit codes (also in --help and docs/shmdump.md):
 *   0  shown, daemon alive (and --watch ended by SIGINT/SIGTERM)
 *   1  usage
 *   2  no such pool, or no access to it (or an invalid pool name)
 *   3  segment shown but its daemon is dead or stopped (stale), or the
 *      segment exists but was never published (daemon died starting)
 *   4  segment corrupt, torn while reading, of another layout version, or
 *      any other failure
 */
#include <errno.h>
#include <getopt.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dump_json.h"
#include "dump_prom.h"
#include "dump_snapshot.h"
#include "dump_text.h"
#include "phantompool.h"
#include "segment.h"

enum { EXIT_SHOWN = 0, EXIT_USAGE = 1, EXIT_NOPOOL = 2, EXIT_STALE = 3, EXIT_CORRUPT = 4 };

#define WATCH_MIN_S 0.01
#define WATCH_MAX_S 86400.0
#define CLEAR_SCREEN "\033[H\033[2J" /* cursor home, erase the display */

enum dump_mode { MODE_TEXT, MODE_JSON, MODE_PROM };

typedef int render_fn(FILE *f, const struct dump_snapshot *s);

/* The renderer of each output mode. */
static render_fn *const renderers[] = {
	[MODE_TEXT] = dump_text_write,
	[MODE_JSON] = dump_json_write,
	[MODE_PROM] = dump_prom_write,
};

struct dump_opts {
	const char *pool; /* NULL: $PHANTOMPOOL, else "default" */
	enum dump_mode mode;
	double watch_s;   /* 0: print once */
	bool help;
};

/* --- reading the segment, guarded against SIGBUS. */

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;
/* The mapping being read: file-static so it is still known after the
 * siglongjmp out of the SIGBUS handler. */
static struct pp_seg reading;

/* SIGBUS while reading the segment: jump back to read_pool().  Anywhere
 * else it is a real fault: die of it. */
static void on_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Exit code and explanation for an error of pp_seg_attach. */
static int attach_exit_code(int err, const char **why)
{
	static const struct {
		int err, code;
		const char *why;
	} table[] = {
		{ PP_ENOPOOL, EXIT_NOPOOL, NULL },
		{ PP_EACCES, EXIT_NOPOOL, NULL },
		{ PP_ENAME, EXIT_NOPOOL, NULL },
		{ PP_EDAEMON, EXIT_STALE, "segment never published: its daemon is starting or died starting" },
		{ PP_EVERSION, EXIT_CORRUPT, NULL },
		{ PP_ECORRUPT, EXIT_CORRUPT, "segment fails validation (corrupt)" },
	};
	*why = pp_strerror(err);
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].err == err) {
			if (table[i].why)
				*why = table[i].why;
			return table[i].code;
		}
	return EXIT_CORRUPT;
}

/* Attach to `pool` read-only and copy it into *snap; snap->slots is
 * allocated here (free it with free()).  Returns 0 with *snap filled (its
 * daemon may be dead: snap->alive), or the exit code of the failure
 * (EXIT_NOPOOL, EXIT_STALE for a segment never published, EXIT_CORRUPT)
 * with snap->slots NULL and the reason in why[len]. */
static int read_pool(const char *pool, struct dump_snapshot *snap, char *why, size_t len)
{
	snap->slots = NULL;
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		pp_seg_unmap(&reading);
		free(snap->slots);
		snap->slots = NULL;
		snprintf(why, len, "segment was truncated while reading it (torn)");
		return EXIT_CORRUPT;
	}
	bus_armed = 1;
	int r = pp_seg_attach(pool, false, &reading);
	if (r) {
		bus_armed = 0;
		const char *msg;
		int code = attach_exit_code(r, &msg);
		snprintf(why, len, "%s", msg);
		return code;
	}
	snap->slots = calloc(reading.nslots, sizeof *snap->slots);
	if (snap->slots)
		dump_snapshot_take(&reading, snap);
	bus_armed = 0;
	pp_seg_unmap(&reading);
	if (!snap->slots) {
		snprintf(why, len, "%s", pp_strerror(PP_ENOMEM));
		return EXIT_CORRUPT;
	}
	return 0;
}

/* --- one document. */

/* Render snapshot s in mode m into a malloc'd buffer (*buf, *len).
 * Returns 0, or -1 when out of memory. */
static int render(enum dump_mode m, const struct dump_snapshot *s, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	if (!f)
		return -1;
	int r = renderers[m](f, s);
	if (fclose(f) != 0)
		r = -1;
	if (r) {
		free(*buf);
		*buf = NULL;
	}
	return r;
}

/* Read the pool once and render it.  Returns the exit code; on
 * EXIT_SHOWN / EXIT_STALE *out (malloc'd) holds the document, else *out
 * is NULL; why[len] says what is wrong ("" when nothing is). */
static int dump_document(const struct dump_opts *o, char **out, size_t *out_len, char *why, size_t len)
{
	struct dump_snapshot snap;
	why[0] = '\0';
	*out = NULL;
	int code = read_pool(o->pool, &snap, why, len);
	if (code)
		return code;
	code = snap.alive ? EXIT_SHOWN : EXIT_STALE;
	if (!snap.alive)
		snprintf(why, len, "daemon pid %d is dead or stopped: the segment is stale",
			 (int)snap.h.daemon_pid);
	if (render(o->mode, &snap, out, out_len) != 0) {
		snprintf(why, len, "%s", pp_strerror(PP_ENOMEM));
		code = EXIT_CORRUPT;
	}
	free(snap.slots);
	return code;
}

/* The pool name for messages. */
static const char *pool_label(const struct dump_opts *o)
{
	const char *env = getenv("PHANTOMPOOL");
	return o->pool && *o->pool ? o->pool : env && *env ? env : "default";
}

/* Write n bytes to stdout and flush.  Returns 0 or -1. */
static int put_stdout(const char *buf, size_t n)
{
	return fwrite(buf, 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : -1;
}

/* Print the pool once.  Returns the exit code. */
static int dump_once(const struct dump_opts *o)
{
	char why[256], *doc;
	size_t n = 0;
	int code = dump_document(o, &doc, &n, why, sizeof why);
	if (doc && put_stdout(doc, n) != 0) {
		snprintf(why, sizeof why, "writing the output: %s", strerror(errno));
		code = EXIT_CORRUPT;
	}
	free(doc);
	if (why[0])
		fprintf(stderr, "phantompool-shmdump: pool '%s': %s\n", pool_label(o), why);
	return code;
}

/* --- --watch. */

/* One watch frame: the human view redrawn in place (the reason shown in
 * the frame when the pool cannot be shown), or one more document for
 * --json / --prometheus (reasons to stderr). */
static void watch_frame(const struct dump_opts *o)
{
	char why[256], *doc, stamp[32] = "";
	size_t n = 0;
	dump_document(o, &doc, &n, why, sizeof why);
	if (o->mode != MODE_TEXT) {
		if (doc)
			put_stdout(doc, n);
		if (why[0])
			fprintf(stderr, "phantompool-shmdump: pool '%s': %s\n", pool_label(o), why);
		free(doc);
		return;
	}
	time_t t = time(NULL);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
	printf(CLEAR_SCREEN "phantompool-shmdump -p %s   every %gs   %s\n\n", pool_label(o), o->watch_s,
	       stamp);
	if (why[0])
		printf("%s%s\n", why, doc ? "\n" : "");
	if (doc)
		fwrite(doc, 1, n, stdout);
	fflush(stdout);
	free(doc);
}

/* Redraw every o->watch_s seconds until SIGINT or SIGTERM.  The two are
 * blocked and taken with sigtimedwait, which is also the sleep: no signal
 * is lost between a check and a sleep.  Returns EXIT_SHOWN, or
 * EXIT_CORRUPT if the signals cannot be managed. */
static int dump_watch(const struct dump_opts *o)
{
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop, NULL) != 0)
		return EXIT_CORRUPT;
	time_t whole = (time_t)o->watch_s; /* >= WATCH_MIN_S > 0: truncation is floor */
	struct timespec every = { whole, (long)((o->watch_s - (double)whole) * 1e9) };
	for (;;) {
		watch_frame(o);
		int sig = sigtimedwait(&stop, NULL, &every);
		if (sig == SIGINT || sig == SIGTERM)
			return EXIT_SHOWN;
	}
}

/* --- the command line. */

/* Option handlers (see cli_opts): apply one option to *o; 0, or -1 with
 * a message printed. */
static int opt_pool(struct dump_opts *o, const char *arg)
{
	o->pool = arg;
	return 0;
}

/* Select an output mode; --json and --prometheus exclude each other. */
static int set_mode(struct dump_opts *o, enum dump_mode m)
{
	if (o->mode != MODE_TEXT && o->mode != m) {
		fprintf(stderr, "phantompool-shmdump: --json and --prometheus exclude each other\n");
		return -1;
	}
	o->mode = m;
	return 0;
}

static int opt_json(struct dump_opts *o, const char *arg)
{
	return set_mode(o, MODE_JSON);
}

static int opt_prom(struct dump_opts *o, const char *arg)
{
	return set_mode(o, MODE_PROM);
}

static int opt_watch(struct dump_opts *o, const char *arg)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < WATCH_MIN_S || v > WATCH_MAX_S) {
		fprintf(stderr, "phantompool-shmdump: --watch wants seconds, %g to %g: '%s'\n", WATCH_MIN_S,
			WATCH_MAX_S, arg);
		return -1;
	}
	o->watch_s = v;
	return 0;
}

static int opt_help(struct dump_opts *o, const char *arg)
{
	o->help = true;
	return 0;
}

static const struct cli_opt {
	const char *name;
	char short_name; /* 0: long form only */
	const char *arg; /* name of the argument in --help, NULL: takes none */
	int (*apply)(struct dump_opts *o, const char *arg); /* 0, or -1 (message printed) */
	const char *help;
} cli_opts[] = {
	{ "pool", 'p', "POOL", opt_pool, "the pool (default: $PHANTOMPOOL, else \"default\")" },
	{ "json", 0, NULL, opt_json, "one JSON document (schema: docs/shmdump.md)" },
	{ "prometheus", 0, NULL, opt_prom, "Prometheus text exposition format" },
	{ "watch", 0, "SECONDS", opt_watch, "redraw every SECONDS until SIGINT/SIGTERM (then exit 0)" },
	{ "help", 'h', NULL, opt_help, "this text" },
};

#define NOPTS (sizeof cli_opts / sizeof cli_opts[0])

/* The synopsis, every option of cli_opts, the exit codes (--help). */
static void usage(FILE *f)
{
	fprintf(f, "usage: phantompool-shmdump [-p POOL] [--json | --prometheus] [--watch SECONDS]\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct cli_opt *c = &cli_opts[i];
		char flags[48], prefix[8] = "    ";
		if (c->short_name)
			snprintf(prefix, sizeof prefix, "-%c, ", c->short_name);
		snprintf(flags, sizeof flags, "%s--%s%s%s", prefix, c->name, c->arg ? " " : "",
			 c->arg ? c->arg : "");
		fprintf(f, "  %-22s %s\n", flags, c->help);
	}
	fprintf(f, "\nexit status:\n"
		   "  0  shown, daemon alive (--watch: stopped by SIGINT/SIGTERM)\n"
		   "  1  usage error\n"
		   "  2  no such pool, or no access to it\n"
		   "  3  daemon dead or stopped: the segment is stale (still shown)\n"
		   "  4  segment corrupt, torn while reading, or of another layout version\n");
}

/* Parse argv into *o with getopt_long over cli_opts.  Returns 0, or
 * EXIT_USAGE (message printed). */
static int parse_args(int argc, char **argv, struct dump_opts *o)
{
	struct option longopts[NOPTS + 1];
	char shorts[2 * NOPTS + 1];
	size_t ns = 0;
	for (size_t i = 0; i < NOPTS; i++) {
		int val = cli_opts[i].short_name ? cli_opts[i].short_name : 256 + (int)i;
		longopts[i] = (struct option){ cli_opts[i].name, cli_opts[i].arg ? required_argument : no_argument,
					       NULL, val };
		if (cli_opts[i].short_name) {
			shorts[ns++] = cli_opts[i].short_name;
			if (cli_opts[i].arg)
				shorts[ns++] = ':';
		}
	}
	longopts[NOPTS] = (struct option){ 0 };
	shorts[ns] = '\0';
	int c;
	while ((c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		size_t i = 0;
		while (i < NOPTS && longopts[i].val != c)
			i++;
		if (i == NOPTS || cli_opts[i].apply(o, optarg) != 0)
			return EXIT_USAGE;
	}
	return optind < argc ? EXIT_USAGE : 0;
}

/* Parse, install the SIGBUS guard, print once or watch; the exit codes
 * are those at the top of this file. */
int main(int argc, char **argv)
{
	struct dump_opts o = { .mode = MODE_TEXT };
	if (parse_args(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: phantompool-shmdump [-p POOL] [--json | --prometheus] "
				"[--watch SECONDS]   (--help for more)\n");
		return EXIT_USAGE;
	}
	if (o.help) {
		usage(stdout);
		return EXIT_SHOWN;
	}
	struct sigaction sa = { .sa_handler = on_sigbus };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	return o.watch_s > 0 ? dump_watch(&o) : dump_once(&o);
}
