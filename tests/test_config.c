/* test_config.c - the daemon's settings: the option table against the
 * sample config and the man page (optscan), config files parsed into the
 * right fields, flags over the file, every kind of invalid file refused
 * with its line and reason, the reload helpers (diff, live), loading
 * again (getopt reset, relative paths), and the real binary's
 * --check-config exit codes.
 *
 * Runs from the top of the tree (make check does): it reads
 * etc/phantompoold.conf and docs/phantompoold.8.  Links the daemon's
 * daemon/options.o and daemon/config.o and libinih (see mk/install.mk). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../daemon/config.h"
#include "../daemon/options.h"
#include "testutil.h"

#define SAMPLE_CONF "etc/phantompoold.conf"
#define MAN_PAGE "docs/phantompoold.8"

static char tmpdir[64];

/* ---- helpers ------------------------------------------------------------ */

static char msgs[32768];

static void collect(const char *msg, void *ctx)
{
	(void)ctx;
	size_t n = strlen(msgs);
	snprintf(msgs + n, sizeof msgs - n, "%s\n", msg);
}

static void msgs_reset(void)
{
	msgs[0] = 0;
	pd_options_set_reporter(collect, NULL);
}

static int msgs_lines(void)
{
	int n = 0;
	for (const char *p = msgs; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/* The whole file, NUL-terminated (malloc'd), or NULL. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int c;
	while ((c = getc(f)) != EOF)
		putc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Write text to tmpdir/name; returns the path (static, one at a time). */
static const char *write_tmp(const char *name, const char *text)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

/* pd_options_load with argv "phantompoold", args... (NULL-terminated). */
static int load_args(struct pd_options *o, ...)
{
	char *argv[32] = { "phantompoold" };
	int argc = 1;
	va_list ap;
	va_start(ap, o);
	for (char *a; argc < 31 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return pd_options_load(o, argc, argv);
}

static int load_text(struct pd_options *o, const char *text)
{
	return pd_options_load_text(o, text, strlen(text), "t.conf");
}

/* A set of option names. */
struct names {
	char v[96][40];
	int n;
};

static void names_add(struct names *s, const char *name, size_t len)
{
	if (s->n < 96 && len < sizeof s->v[0]) {
		memcpy(s->v[s->n], name, len);
		s->v[s->n++][len] = 0;
	}
}

static bool names_has(const struct names *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return true;
	return false;
}

/* Names in a but not in b, printed; returns how many. */
static int names_missing(const char *what, const struct names *a, const struct names *b)
{
	int bad = 0;
	for (int i = 0; i < a->n; i++) {
		if (!names_has(b, a->v[i])) {
			fprintf(stderr, "  optscan: '%s' %s\n", a->v[i], what);
			bad++;
		}
	}
	return bad;
}

static void code_names(struct names *file_keys, struct names *cli_names)
{
	struct pd_option_info info;
	memset(file_keys, 0, sizeof *file_keys);
	memset(cli_names, 0, sizeof *cli_names);
	for (size_t i = 0; pd_options_info(i, &info); i++) {
		if (info.file && !info.alias)
			names_add(file_keys, info.key, strlen(info.key));
		if (info.cli)
			names_add(cli_names, info.name, strlen(info.name));
	}
	names_add(cli_names, "help", 4);
	names_add(cli_names, "version", 7);
}

static bool code_live(const char *key)
{
	struct pd_option_info info;
	for (size_t i = 0; pd_options_info(i, &info); i++)
		if (strcmp(info.key, key) == 0)
			return info.live;
	return false;
}

/* Default of key as --print-config prints it for the defaults. */
static void code_default(const char *key, char *buf, size_t len)
{
	static struct pd_options o;
	char *text = NULL;
	size_t tlen = 0;
	buf[0] = 0;
	if (load_text(&o, "") != 0)
		return;
	FILE *f = open_memstream(&text, &tlen);
	pd_options_print(&o, f);
	fclose(f);
	size_t kl = strlen(key);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ' && line[kl + 1] == '=') {
			snprintf(buf, len, "%s", line[kl + 2] == ' ' ? line + kl + 3 : "");
			break;
		}
	}
	free(text);
}

/* ---- optscan: table, sample config, man page ----------------------------- */

/* Keys of the sample config: lines "key = ..." or ";key = ...". */
static void sample_keys(const char *text, struct names *keys, int *marker_errors)
{
	int marker = -1; /* (SIGHUP: ...) seen since the last key: 1 applied, 0 restart */
	memset(keys, 0, sizeof *keys);
	*marker_errors = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)len, p);
		p += len + (nl != NULL);
		if (strstr(line, "(SIGHUP: applied)"))
			marker = 1;
		else if (strstr(line, "(SIGHUP: restart)"))
			marker = 0;
		const char *k = line[0] == ';' ? line + 1 : line;
		size_t kl = strspn(k, "abcdefghijklmnopqrstuvwxyz_");
		const char *rest = k + kl + strspn(k + kl, " ");
		if (kl == 0 || *rest != '=')
			continue;
		char key[40];
		snprintf(key, sizeof key, "%.*s", (int)kl, k);
		if (names_has(keys, key)) {
			fprintf(stderr, "  optscan: '%s' twice in %s\n", key, SAMPLE_CONF);
			(*marker_errors)++;
		}
		names_add(keys, k, kl);
		if (marker != (int)code_live(key)) {
			fprintf(stderr, "  optscan: %s: '%s' is marked %s, the code says %s\n", SAMPLE_CONF, key,
				marker < 0 ? "neither way" : marker ? "(SIGHUP: applied)" : "(SIGHUP: restart)",
				code_live(key) ? "applied" : "restart");
			(*marker_errors)++;
		}
		marker = -1;
	}
}

static void test_optscan_sample(void)
{
	struct names code_keys, cli, conf_keys;
	int marker_errors;
	code_names(&code_keys, &cli);
	char *text = read_text(SAMPLE_CONF);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	sample_keys(text, &conf_keys, &marker_errors);
	free(text);
	int bad = names_missing("is in the code's table but not in " SAMPLE_CONF, &code_keys, &conf_keys) +
		  names_missing("is in " SAMPLE_CONF " but not in the code's table", &conf_keys, &code_keys);
	CU_ASSERT(code_keys.n >= 25);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(marker_errors, 0);
}

/* One section of the man page: from ".SH <title>" to the next ".SH". */
static char *man_section(const char *page, const char *title)
{
	char head[64];
	snprintf(head, sizeof head, "\n.SH %s\n", title);
	const char *s = strstr(page, head);
	if (!s)
		return NULL;
	s += strlen(head);
	const char *e = strstr(s, "\n.SH ");
	return strndup(s, e ? (size_t)(e - s + 1) : strlen(s));
}

/* Long options named in the tag lines (after .TP) of OPTIONS: "\-\-name". */
static void man_cli_names(const char *sec, struct names *out)
{
	memset(out, 0, sizeof *out);
	for (const char *p = sec; (p = strstr(p, "\n.TP\n"));) {
		p += 5;
		const char *eol = strchr(p, '\n');
		for (const char *q = p; q && q < eol && (q = strstr(q, "\\-\\-")) && q < eol;) {
			char name[40];
			size_t n = 0;
			for (q += 4; n + 1 < sizeof name; q++) {
				if (*q >= 'a' && *q <= 'z')
					name[n++] = *q;
				else if (q[0] == '\\' && q[1] == '-')
					name[n++] = '-', q++;
				else
					break;
			}
			names_add(out, name, n);
		}
	}
}

/* Keys of CONFIGURATION FILE: ".TP" then ".B key"; checks each entry's
 * "SIGHUP: applied|restart" and "Default: X" against the code. */
static int man_config_keys(const char *sec, struct names *out)
{
	int bad = 0;
	memset(out, 0, sizeof *out);
	for (const char *p = sec; (p = strstr(p, "\n.TP\n.B "));) {
		p += 8;
		size_t kl = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
		char key[40], want[1100], got[1100] = "";
		snprintf(key, sizeof key, "%.*s", (int)kl, p);
		names_add(out, p, kl);
		const char *end = p + strlen(p);
		const char *stops[] = { "\n.TP\n", "\n.SS ", "\n.SH " };
		for (int i = 0; i < 3; i++) {
			const char *e = strstr(p, stops[i]);
			if (e && e < end)
				end = e;
		}
		char *body = strndup(p, (size_t)(end - p));
		bool live = code_live(key);
		if (!strstr(body, live ? "SIGHUP: applied" : "SIGHUP: restart")) {
			fprintf(stderr, "  optscan: %s: '%s' should say \"SIGHUP: %s\"\n", MAN_PAGE, key,
				live ? "applied" : "restart");
			bad++;
		}
		const char *d = strstr(body, "Default: ");
		if (d)
			snprintf(got, sizeof got, "%.*s", (int)strcspn(d + 9, "; \n"), d + 9);
		code_default(key, want, sizeof want);
		if (!*want)
			snprintf(want, sizeof want, "none");
		bool env_dependent = strcmp(key, "pool") == 0 || strcmp(key, "pidfile") == 0;
		if (!d || (!env_dependent && strcmp(got, want) != 0)) {
			fprintf(stderr, "  optscan: %s: '%s' says \"Default: %s\", the code's default is %s\n",
				MAN_PAGE, key, d ? got : "(nothing)", want);
			bad++;
		}
		free(body);
	}
	return bad;
}

static void test_optscan_man(void)
{
	struct names code_keys, code_cli, man_keys, man_cli;
	code_names(&code_keys, &code_cli);
	char *page = read_text(MAN_PAGE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(page);
	char *opts = man_section(page, "OPTIONS"), *conf = man_section(page, "CONFIGURATION FILE");
	CU_ASSERT_PTR_NOT_NULL_FATAL(opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	man_cli_names(opts, &man_cli);
	int bad = man_config_keys(conf, &man_keys);
	bad += names_missing("is a config key in the code but not in " MAN_PAGE " (CONFIGURATION FILE)",
			     &code_keys, &man_keys);
	bad += names_missing("is in " MAN_PAGE " (CONFIGURATION FILE) but not a config key in the code",
			     &man_keys, &code_keys);
	bad += names_missing("is a command-line option in the code but not in " MAN_PAGE " (OPTIONS)",
			     &code_cli, &man_cli);
	bad += names_missing("is in " MAN_PAGE " (OPTIONS) but not a command-line option in the code",
			     &man_cli, &code_cli);
	CU_ASSERT_EQUAL(bad, 0);
	free(opts);
	free(conf);
	free(page);
}

static void count_difference(const char *name, bool live, void *ctx)
{
	fprintf(stderr, "  differs: %s\n", name);
	(*(int *)ctx)++;
}

/* Uncommenting every ";key = value" of the sample gives the defaults. */
static void test_sample_shows_defaults(void)
{
	char *text = read_text(SAMPLE_CONF);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (line[0] == ';' && line[1] >= 'a' && line[1] <= 'z')
			fprintf(f, "%s\n", line + 1);
	fclose(f);
	static struct pd_options from_sample, defaults;
	msgs_reset();
	CU_ASSERT_EQUAL(load_text(&defaults, ""), 0);
	int differences = 0;
	if (load_text(&from_sample, out) == 0)
		pd_options_diff(&defaults, &from_sample, count_difference, &differences);
	else
		differences = -1;
	CU_ASSERT_EQUAL(differences, 0);
	if (*msgs)
		fprintf(stderr, "%s", msgs);
	free(out);
	free(text);
}

/* ---- loading ------------------------------------------------------------ */

static const char full_conf[] =
	"; every key, none at its default\n"
	"[pool]\n"
	"pool = web-1\n"
	"backend = https://db1.example:8443/api/v1, https://db2.example:8443/api/v1\n"
	"   backend = http://10.0.0.3:8080   ; indented, with a comment\n"
	"min = 4\n"
	"max = 32\n"
	"ring_size = 131072\n"
	"lease_timeout = 5000\n"
	"request_timeout = 10000\n"
	"connect_timeout = 1000\n"
	"idle_timeout = 120000\n"
	"max_lifetime = 0\n"
	"health_interval = 15000\n"
	"leak_threshold = 60000\n"
	"drain_timeout = 20000\n"
	"max_body = 1048576\n"
	"mode = 0660\n"
	"group = www-data\n"
	"# a comment line\n"
	"pidfile = /run/phantompool/web-1.pid\n"
	"token_file = token\n"
	"ca_file = /etc/ssl/certs/ca-certificates.crt\n"
	"ca_path = /etc/ssl/certs\n"
	"tls_cert = client.pem\n"
	"tls_key = client.key\n"
	"tls_verify = off\n"
	"log_level = debug\n"
	"log_target = syslog\n";

static void check_full(const struct pd_options *o)
{
	char path[PATH_MAX];
	CU_ASSERT_STRING_EQUAL(o->pool, "web-1");
	CU_ASSERT_EQUAL(o->nbackends, 3);
	CU_ASSERT_STRING_EQUAL(o->backends[0], "https://db1.example:8443/api/v1");
	CU_ASSERT_STRING_EQUAL(o->backends[1], "https://db2.example:8443/api/v1");
	CU_ASSERT_STRING_EQUAL(o->backends[2], "http://10.0.0.3:8080");
	CU_ASSERT_STRING_EQUAL(o->backend_url, o->backends[0]);
	CU_ASSERT_EQUAL(o->min_conns, 4);
	CU_ASSERT_EQUAL(o->max_conns, 32);
	CU_ASSERT_EQUAL(o->ring_size, 131072);
	CU_ASSERT_EQUAL(o->lease_timeout_ms, 5000);
	CU_ASSERT_EQUAL(o->request_timeout_ms, 10000);
	CU_ASSERT_EQUAL(o->connect_timeout_ms, 1000);
	CU_ASSERT_EQUAL(o->idle_timeout_ms, 120000);
	CU_ASSERT_EQUAL(o->max_lifetime_ms, 0);
	CU_ASSERT_EQUAL(o->health_interval_ms, 15000);
	CU_ASSERT_EQUAL(o->leak_threshold_ms, 60000);
	CU_ASSERT_EQUAL(o->drain_timeout_ms, 20000);
	CU_ASSERT_EQUAL(o->max_body, 1048576);
	CU_ASSERT_EQUAL(o->mode, 0660);
	CU_ASSERT_STRING_EQUAL(o->group, "www-data");
	CU_ASSERT_STRING_EQUAL(o->pidfile, "/run/phantompool/web-1.pid");
	snprintf(path, sizeof path, "%s/token", tmpdir); /* relative to the file */
	CU_ASSERT_STRING_EQUAL(o->token_file, path);
	CU_ASSERT_STRING_EQUAL(o->ca_file, "/etc/ssl/certs/ca-certificates.crt");
	CU_ASSERT_STRING_EQUAL(o->ca_path, "/etc/ssl/certs");
	snprintf(path, sizeof path, "%s/client.pem", tmpdir);
	CU_ASSERT_STRING_EQUAL(o->tls_cert, path);
	snprintf(path, sizeof path, "%s/client.key", tmpdir);
	CU_ASSERT_STRING_EQUAL(o->tls_key, path);
	CU_ASSERT_FALSE(o->tls_verify);
	CU_ASSERT_EQUAL(o->log_level, 3);
	CU_ASSERT_STRING_EQUAL(o->log_target, "syslog");
	CU_ASSERT_FALSE(o->foreground);
}

static void test_valid_file(void)
{
	static struct pd_options o;
	const char *path = write_tmp("full.conf", full_conf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	msgs_reset();
	CU_ASSERT_EQUAL_FATAL(load_args(&o, "-c", path, NULL), 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	CU_ASSERT_STRING_EQUAL(o.config_file, path);
	check_full(&o);
	/* A flat file (no [pool] header) and CRLF line ends work too. */
	CU_ASSERT_EQUAL(load_text(&o, "max = 3\r\nmin = 1\r\n"), 0);
	CU_ASSERT_EQUAL(o.max_conns, 3);
	CU_ASSERT_EQUAL(o.min_conns, 1);
	/* The default min (2) yields to a small max; an explicit one does not. */
	CU_ASSERT_EQUAL(load_text(&o, "[pool]\nmax = 1\n"), 0);
	CU_ASSERT_EQUAL(o.min_conns, 1);
	CU_ASSERT_EQUAL(load_args(&o, "--max", "1", NULL), 0);
	CU_ASSERT_EQUAL(o.min_conns, 1);
}

static void test_flags_override_file(void)
{
	static struct pd_options o;
	const char *path = write_tmp("full.conf", full_conf);
	msgs_reset();
	CU_ASSERT_EQUAL_FATAL(load_args(&o, "--max", "8", "-c", path, "-b", "http://z:1", "--backend",
					"http://y:2,http://x:3", "--no-tls-verify", "--log-level", "error", "-f",
					"--min", "0", "--token-file", "/abs/token", "--tls-verify", "yes", NULL), 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	CU_ASSERT_EQUAL(o.max_conns, 8);
	CU_ASSERT_EQUAL(o.min_conns, 0);
	CU_ASSERT_EQUAL(o.nbackends, 3); /* the first -b replaced the file's list */
	CU_ASSERT_STRING_EQUAL(o.backends[0], "http://z:1");
	CU_ASSERT_STRING_EQUAL(o.backends[2], "http://x:3");
	CU_ASSERT_STRING_EQUAL(o.backend_url, "http://z:1");
	CU_ASSERT_TRUE(o.tls_verify); /* the last of --no-tls-verify, --tls-verify yes */
	CU_ASSERT_EQUAL(o.log_level, 0);
	CU_ASSERT_TRUE(o.foreground);
	CU_ASSERT_STRING_EQUAL(o.token_file, "/abs/token");
	CU_ASSERT_EQUAL(o.ring_size, 131072); /* untouched by flags: the file's */
	CU_ASSERT_STRING_EQUAL(o.group, "www-data");
	/* Relative paths on the command line: against the working directory. */
	char cwd[PATH_MAX], want[PATH_MAX + 16];
	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
	snprintf(want, sizeof want, "%s/tok", cwd);
	CU_ASSERT_EQUAL(load_args(&o, "--token-file", "tok", NULL), 0);
	CU_ASSERT_STRING_EQUAL(o.token_file, want);
	/* Without -c nothing is read; the pidfile follows the pool. */
	CU_ASSERT_EQUAL(load_args(&o, "-p", "abc", NULL), 0);
	CU_ASSERT_STRING_EQUAL(o.config_file, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(o.pidfile, "abc"));
	CU_ASSERT_EQUAL(o.nbackends, 1);
	CU_ASSERT_STRING_EQUAL(o.backend_url, "http://127.0.0.1:8080");
}

struct bad_case {
	const char *text;
	int line;          /* of the first message */
	const char *why;   /* in the first message */
};

static const struct bad_case bad_cases[] = {
	{ "[pool]\nmin = 3\nfoo = 1\n", 3, "unknown key 'foo'" },
	{ "max = ten\n", 1, "max: 'ten' is not a number" },
	{ "min = -1\n", 1, "min: '-1' is not a number" },
	{ "lease_timeout = 0x10\n", 1, "is not a number" },
	{ "max = 5000\n", 1, "max: 5000 is out of range (1..4096)" },
	{ "max = 99999999999999999999\n", 1, "is out of range" },
	{ "[pool]\ntls_verify = maybe\n", 2, "tls_verify: 'maybe' is not a boolean" },
	{ "min = 1\n\nmin = 2\n", 3, "duplicate key 'min' (first set on line 1)" },
	{ "ring_size = 5000\n", 1, "ring_size: 5000 is not a power of two" },
	{ "mode = 0999\n", 1, "mode: '0999' is not an octal number" },
	{ "log_level = loud\n", 1, "log_level: 'loud' is not one of: error, warning, info, debug" },
	{ "log_target = file\n", 1, "log_target: 'file' is not one of: auto, stderr, syslog" },
	{ "backend = ftp://x\n", 1, "backend: 'ftp://x' is not an http:// or https:// URL" },
	{ "backend = http://a,,http://b\n", 1, "empty URL in the list" },
	/* URLs libcurl refuses, as the daemon's start would (url.c): refused
	 * here too, so --check-config and a reload do not pass them. */
	{ "backend = http://[zz\n", 1, "backend: 'http://[zz' is not a valid URL" },
	{ "backend = http://a:8080, http://b:99999\n", 1, "'http://b:99999' is not a valid URL" },
	{ "backend = http://1,http://2,http://3,http://4,http://5\nbackend = http://6,http://7,http://8,http://9\n",
	  2, "more than 8 backends" },
	{ "pool = bad/name\n", 1, "invalid pool name 'bad/name'" },
	{ "[pool]\njust words\n", 2, "expected 'key = value'" },
	{ "min : 5\n", 1, "expected 'key = value'" },
	{ "= 5\n", 1, "no key before '='" },
	{ "[pools]\nmin = 1\n", 1, "unknown section [pools] (the only section is [pool])" },
	{ "[pool\n", 1, "section header without its closing ']'" },
	{ "foreground = yes\n", 1, "'foreground' is a command-line option only (-f)" },
	{ "check_config = yes\n", 1, "is a command-line option only (--check-config)" },
	{ "ring-size = 4096\n", 1, "unknown key 'ring-size' (did you mean ring_size?)" },
	{ "min = 8\nmax = 4\n", 1, "min 8 is more than max 4" },
	{ "tls_key = k.pem\n", 1, "tls_key is set but tls_cert is not" },
};

static void test_invalid_files(void)
{
	static struct pd_options o;
	for (size_t i = 0; i < PP_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		char want[256];
		snprintf(want, sizeof want, "t.conf:%d: ", c->line);
		msgs_reset();
		int rc = load_text(&o, c->text);
		bool ok = rc == -1 && strncmp(msgs, want, strlen(want)) == 0 && strstr(msgs, c->why) &&
			  strstr(msgs, c->why) < strchr(msgs, '\n');
		if (!ok)
			fprintf(stderr, "  case %zu: rc %d, wanted \"%s...%s\", got: %s\n", i, rc, want, c->why, msgs);
		CU_ASSERT(ok);
	}
}

static void test_invalid_lines(void)
{
	static struct pd_options o;
	/* A line libinih could not hold, a NUL byte: refused, not split. */
	char longline[400];
	snprintf(longline, sizeof longline, "min = 1\ngroup = %0300d\n", 7);
	msgs_reset();
	CU_ASSERT_EQUAL(load_text(&o, longline), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "t.conf:2: line longer than"));
	CU_ASSERT_EQUAL(msgs_lines(), 1);
	static const char nul[] = "[pool]\nmin = 1\0 0\nmax = 4\n";
	msgs_reset();
	CU_ASSERT_EQUAL(pd_options_load_text(&o, nul, sizeof nul - 1, "t.conf"), -1);
	CU_ASSERT_STRING_EQUAL(msgs, "t.conf:2: NUL byte in the line\n");
	/* Every error is reported, not just the first. */
	msgs_reset();
	CU_ASSERT_EQUAL(load_text(&o, "a = 1\nmax = x\nmin = 1\nb = 2\n"), -1);
	CU_ASSERT_EQUAL(msgs_lines(), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "t.conf:4: unknown key 'b'"));
	/* Keys under an unknown section are skipped, the section reported once. */
	msgs_reset();
	CU_ASSERT_EQUAL(load_text(&o, "[x]\na = 1\nb = 2\n"), -1);
	CU_ASSERT_EQUAL(msgs_lines(), 1);
	/* A file that is not there, or a directory. */
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "-c", "/nonexistent/phantompoold.conf", NULL), -1);
	CU_ASSERT_STRING_EQUAL(msgs, "/nonexistent/phantompoold.conf: cannot open: No such file or directory\n");
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "-c", "/", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "/: not a regular file (a directory)"));
	/* A device that never ends, or a file past the bound: refused, not
	 * read (a reload would stop the main thread and its heartbeat). */
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "-c", "/dev/zero", NULL), -1);
	CU_ASSERT_STRING_EQUAL(msgs, "/dev/zero: not a regular file (a FIFO, device or socket)\n");
	const char *big = "/tmp/pp-test-config-big.conf";
	FILE *f = fopen(big, "w");
	CU_ASSERT_FATAL(f != NULL);
	for (int i = 0; i <= PD_CONFIG_MAX_BYTES / 64; i++)
		fprintf(f, "; %61s\n", "a comment line of 64 bytes");
	fclose(f);
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "-c", big, NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "pp-test-config-big.conf: larger than 1048576 bytes"));
	unlink(big);
}

/* On any error *o keeps what it had. */
static void test_error_leaves_options_unchanged(void)
{
	static struct pd_options o, before;
	CU_ASSERT_EQUAL_FATAL(load_text(&o, "max = 7\n"), 0);
	memcpy(&before, &o, sizeof o);
	msgs_reset();
	CU_ASSERT_EQUAL(load_text(&o, "max = 9\nmin = x\n"), -1);
	CU_ASSERT_EQUAL(memcmp(&o, &before, sizeof o), 0);
	CU_ASSERT_EQUAL(load_args(&o, "--max", "9", "--bogus", NULL), -1);
	CU_ASSERT_EQUAL(memcmp(&o, &before, sizeof o), 0);
}

static void test_cli_errors(void)
{
	static struct pd_options o;
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "--bogus", "-x", "--min", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "phantompoold: unknown option '--bogus'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "phantompoold: unknown option '-x'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "phantompoold: missing argument for option '--min'"));
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "-f", "extra", NULL), -1);
	CU_ASSERT_STRING_EQUAL(msgs, "phantompoold: unexpected argument 'extra'\n");
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "--max", "0", NULL), -1);
	CU_ASSERT_STRING_EQUAL(msgs, "phantompoold: --max: 0 is out of range (1..4096)\n");
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "--min", "5", "--max", "3", NULL), -1);
	CU_ASSERT_STRING_EQUAL(msgs, "phantompoold: --min 5 is more than --max 3\n");
	msgs_reset();
	CU_ASSERT_EQUAL(load_args(&o, "--tls-verify", "perhaps", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "--tls-verify: 'perhaps' is not a boolean"));
	/* -h and -V print (to stdout) and return 1. */
	fflush(stdout);
	int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 1);
	CU_ASSERT_EQUAL(load_args(&o, "-h", NULL), 1);
	CU_ASSERT_EQUAL(load_args(&o, "--version", NULL), 1);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(devnull);
}

/* ---- reload ------------------------------------------------------------- */

static void note_change(const char *name, bool live, void *ctx)
{
	char *list = ctx;
	size_t n = strlen(list);
	snprintf(list + n, 512 - n, "%s%s%c", n ? " " : "", name, live ? '+' : '-');
}

static void test_reload_diff(void)
{
	static struct pd_options a, b;
	char changes[512] = "";
	CU_ASSERT_EQUAL_FATAL(load_text(&a, "[pool]\nmin = 2\nmax = 10\n"), 0);
	CU_ASSERT_EQUAL_FATAL(load_text(&b, "[pool]\nmin = 2\nmax = 10\n; same\n"), 0);
	pd_options_diff(&a, &b, note_change, changes);
	CU_ASSERT_STRING_EQUAL(changes, "");
	CU_ASSERT_EQUAL_FATAL(load_text(&b, "[pool]\nmin = 3\nmax = 12\nbackend = http://b\nring_size = 4096\n"
					    "tls_verify = no\nlog_target = syslog\ntoken_file = /t\n"
					    "idle_timeout = 1\nmode = 0640\n"),
			      0);
	pd_options_diff(&a, &b, note_change, changes);
	CU_ASSERT_STRING_EQUAL(changes, "backend+ min+ max- ring_size- idle_timeout+ mode- token_file+ "
					"tls_verify+ log_target-");
	/* A second backend, same first one: still a change. */
	changes[0] = 0;
	CU_ASSERT_EQUAL_FATAL(load_text(&b, "[pool]\nbackend = http://127.0.0.1:8080\nbackend = http://c\n"), 0);
	pd_options_diff(&a, &b, note_change, changes);
	CU_ASSERT_STRING_EQUAL(changes, "backend+");
}

static void test_live_changeable(void)
{
	static const char *const live[] = { "min", "backend", "lease_timeout", "request_timeout",
					     "connect_timeout", "idle_timeout", "max_lifetime", "health_interval",
					     "leak_threshold", "drain_timeout", "max_body", "token_file",
					     "ca_file", "ca_path", "tls_cert", "tls_key", "tls_verify",
					     "log_level", "tls-verify", "no-tls-verify", "token-file" };
	static const char *const fixed[] = { "max", "ring_size", "ring-size", "pool", "mode", "group",
					      "pidfile", "log_target", "foreground", "config", "bogus", "" };
	for (size_t i = 0; i < PP_ARRAY_LEN(live); i++)
		CU_ASSERT_TRUE(pd_options_live_changeable(live[i]));
	for (size_t i = 0; i < PP_ARRAY_LEN(fixed); i++)
		CU_ASSERT_FALSE(pd_options_live_changeable(fixed[i]));
	CU_ASSERT_FALSE(pd_options_live_changeable(NULL));
	/* The table and the function agree on every row, both spellings. */
	struct pd_option_info info;
	for (size_t i = 0; pd_options_info(i, &info); i++) {
		CU_ASSERT_EQUAL(pd_options_live_changeable(info.key), info.live);
		CU_ASSERT_EQUAL(pd_options_live_changeable(info.name), info.live);
	}
}

/* Loading again with the same argv (a reload) gives the same settings,
 * also after a chdir (the daemon detaches to /). */
static void test_load_again(void)
{
	static struct pd_options a, b;
	char changes[512] = "";
	char rel[PATH_MAX];
	snprintf(rel, sizeof rel, "%s/again.conf", pp_test_build_path("tests"));
	FILE *f = fopen(rel, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("[pool]\nmax = 6\ntoken_file = tok\n", f);
	fclose(f);
	char *argv[] = { "phantompoold", "--min", "1", "-c", rel, "-b", "http://q", "--mode", "0640", NULL };
	msgs_reset();
	CU_ASSERT_EQUAL_FATAL(pd_options_load(&a, 9, argv), 0);
	char cwd[PATH_MAX];
	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
	CU_ASSERT_EQUAL_FATAL(chdir("/"), 0);
	int rc = pd_options_load(&b, 9, argv); /* argv as getopt left it */
	CU_ASSERT_EQUAL(chdir(cwd), 0);
	CU_ASSERT_EQUAL(rc, 0);
	pd_options_diff(&a, &b, note_change, changes);
	CU_ASSERT_STRING_EQUAL(changes, "");
	CU_ASSERT_EQUAL(b.max_conns, 6);
	CU_ASSERT_EQUAL(b.min_conns, 1);
	CU_ASSERT_EQUAL(b.mode, 0640);
	CU_ASSERT_EQUAL(b.config_file[0], '/');
	CU_ASSERT_EQUAL(b.token_file[0], '/');
	CU_ASSERT_STRING_EQUAL(msgs, "");
	unlink(rel);
}

/* --print-config's output is a config file that loads to the same. */
static void test_print_round_trip(void)
{
	static struct pd_options a, b;
	char changes[512] = "";
	const char *path = write_tmp("full.conf", full_conf);
	CU_ASSERT_EQUAL_FATAL(load_args(&a, "-c", path, NULL), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	pd_options_print(&a, f);
	fclose(f);
	msgs_reset();
	CU_ASSERT_EQUAL(pd_options_load_text(&b, text, len, "printed"), 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	pd_options_diff(&a, &b, note_change, changes);
	CU_ASSERT_STRING_EQUAL(changes, "config-"); /* printed text is not the -c file */
	free(text);
}

/* ---- the binary --------------------------------------------------------- */

/* Run build/phantompoold with args; stdout and stderr into files.
 * Returns the exit status. */
static int run_daemon(const char *const *args, const char *out, const char *err)
{
	pid_t kid = fork();
	if (kid == 0) {
		const char *argv[16] = { "phantompoold" };
		int n = 1;
		for (; args[n - 1] && n < 15; n++)
			argv[n] = args[n - 1];
		argv[n] = NULL;
		int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(pp_test_build_path("phantompoold"), (char *const *)argv);
		_exit(127);
	}
	return pp_test_wait_child(kid);
}

static void test_binary_check_config(void)
{
	char out[PATH_MAX], err[PATH_MAX], want[PATH_MAX + 64];
	snprintf(out, sizeof out, "%s/out", tmpdir);
	snprintf(err, sizeof err, "%s/err", tmpdir);
	char good[PATH_MAX];
	snprintf(good, sizeof good, "%s", write_tmp("good.conf", "[pool]\nmax = 4\n"));
	const char *ok_args[] = { "-c", good, "--check-config", NULL };
	CU_ASSERT_EQUAL(run_daemon(ok_args, out, err), 0);
	char *text = read_text(out);
	snprintf(want, sizeof want, "%s: ok\n", good);
	CU_ASSERT(text && strcmp(text, want) == 0);
	free(text);
	const char *bad = write_tmp("bad.conf", "[pool]\nmax = 4\nmxa = 5\nmin = 9\n");
	const char *bad_args[] = { "-c", bad, "--check-config", NULL };
	CU_ASSERT_EQUAL(run_daemon(bad_args, out, err), 2);
	text = read_text(err);
	snprintf(want, sizeof want, "%s:3: unknown key 'mxa'\n", bad);
	CU_ASSERT(text && strcmp(text, want) == 0);
	free(text);
	/* Refused the same way when starting for real: exit 2, nothing started. */
	const char *start_args[] = { "-f", "-c", bad, NULL };
	CU_ASSERT_EQUAL(run_daemon(start_args, out, err), 2);
	/* --print-config prints the file plus the flags. */
	const char *print_args[] = { "-c", good, "--print-config", "--min", "3", NULL };
	CU_ASSERT_EQUAL(run_daemon(print_args, out, err), 0);
	text = read_text(out);
	CU_ASSERT(text && strstr(text, "\nmax = 4\n") && strstr(text, "\nmin = 3\n"));
	free(text);
	/* What the start reads besides the file: a token file it cannot read
	 * and a group that does not exist fail --check-config (and
	 * --print-config) as they fail the start, not "ok" then exit 1. */
	char tok[PATH_MAX];
	snprintf(tok, sizeof tok, "%s/no-such-token", tmpdir);
	const char *notok_args[] = { "-c", good, "--token-file", tok, "--check-config", NULL };
	CU_ASSERT_EQUAL(run_daemon(notok_args, out, err), 2);
	text = read_text(err);
	CU_ASSERT(text && strstr(text, "cannot read token file") && strstr(text, "no-such-token"));
	free(text);
	const char *notok_print[] = { "-c", good, "--token-file", tok, "--print-config", NULL };
	CU_ASSERT_EQUAL(run_daemon(notok_print, out, err), 2);
	const char *nogroup_args[] = { "-c", good, "--group", "pp-no-such-group", "--check-config", NULL };
	CU_ASSERT_EQUAL(run_daemon(nogroup_args, out, err), 2);
	text = read_text(err);
	CU_ASSERT(text && strstr(text, "unknown group 'pp-no-such-group'"));
	free(text);
	const char *empty_tok = write_tmp("empty.token", "\n");
	const char *empty_args[] = { "-c", good, "--token-file", empty_tok, "--check-config", NULL };
	CU_ASSERT_EQUAL(run_daemon(empty_args, out, err), 2);
	const char *good_tok = write_tmp("good.token", "s3cret\n");
	const char *tok_args[] = { "-c", good, "--token-file", good_tok, "--check-config", NULL };
	CU_ASSERT_EQUAL(run_daemon(tok_args, out, err), 0);
	text = read_text(out);
	CU_ASSERT(text && !strstr(text, "s3cret"));
	free(text);
}

/* Something else holds the path of a serving loop's doorbell: the daemon
 * refuses to start, says why, and leaves no segment or pidfile behind. */
static void test_binary_doorbell_taken(void)
{
	char out[PATH_MAX], err[PATH_MAX], pidfile[PATH_MAX], bell[PATH_MAX], seg[PATH_MAX];
	const char *pool = pp_test_pool_name("bellx");
	snprintf(out, sizeof out, "%s/out", tmpdir);
	snprintf(err, sizeof err, "%s/err", tmpdir);
	snprintf(pidfile, sizeof pidfile, "%s/bellx.pid", tmpdir);
	snprintf(bell, sizeof bell, "/dev/shm/phantompool-%s.bell0", pool);
	snprintf(seg, sizeof seg, "/dev/shm/phantompool-%s", pool);
	CU_ASSERT_FATAL(mkdir(bell, 0700) == 0); /* cannot be unlinked or bound over */
	const char *args[] = { "-f", "-p", pool, "--pidfile", pidfile, "-b", "http://127.0.0.1:1",
			       "--min", "0", "--max", "2", NULL };
	CU_ASSERT_EQUAL(run_daemon(args, out, err), 1);
	char *text = read_text(err);
	CU_ASSERT(text && strstr(text, "cannot bind the doorbell") && strstr(text, bell));
	if (text)
		printf("\n    %.*s", (int)strcspn(strstr(text, "cannot") ? strstr(text, "cannot") : text, "\n"),
		       strstr(text, "cannot") ? strstr(text, "cannot") : text);
	free(text);
	CU_ASSERT_EQUAL(access(seg, F_OK), -1);
	CU_ASSERT_EQUAL(access(pidfile, F_OK), -1);
	rmdir(bell);
}

/* ---- suite -------------------------------------------------------------- */

static int suite_setup(void)
{
	unsetenv("PHANTOMPOOL"); /* defaults must not depend on the caller */
	snprintf(tmpdir, sizeof tmpdir, "/tmp/pp-test-config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_teardown(void)
{
	static const char *const files[] = { "full.conf", "good.conf", "bad.conf", "out", "err", "empty.token", "good.token" };
	char path[PATH_MAX];
	for (size_t i = 0; i < PP_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	pd_options_set_reporter(NULL, NULL);
	return rmdir(tmpdir);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "optscan: table = sample config (keys, reload marks)", test_optscan_sample },
		{ "optscan: table = man page (options, keys, defaults, reload)", test_optscan_man },
		{ "the sample's commented values are the defaults", test_sample_shows_defaults },
		{ "a valid file sets every field", test_valid_file },
		{ "command-line flags override the file", test_flags_override_file },
		{ "invalid files: FILE:LINE: reason", test_invalid_files },
		{ "long lines, NUL bytes, several errors, unreadable files", test_invalid_lines },
		{ "an error leaves the options unchanged", test_error_leaves_options_unchanged },
		{ "command-line errors", test_cli_errors },
		{ "pd_options_diff names changes, live or not", test_reload_diff },
		{ "pd_options_live_changeable", test_live_changeable },
		{ "loading again (reload) gives the same settings", test_load_again },
		{ "--print-config output loads back the same", test_print_round_trip },
		{ "phantompoold --check-config: exit 0 / 2, FILE:LINE on stderr, the token file and group checked", test_binary_check_config },
		{ "doorbell path taken: refuses to start, says why, leaves nothing", test_binary_doorbell_taken },
	};
	return pp_test_main("config", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
