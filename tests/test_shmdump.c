/* test_shmdump.c - phantompool-shmdump against a live pool after a known
 * workload (exact counters in the table, JSON and Prometheus views), the
 * JSON schema of docs/shmdump.md, a strict Prometheus format check (and
 * `promtool check metrics` when installed), untrusted strings, stale,
 * corrupt, torn and randomly mutated segments in every output mode, and
 * --watch.  Every run ends with a documented exit code, never a crash. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"
#include "daemon_proc.h"
#include "layout.h"
#include "phantompool.h"
#include "stats.h"
#include "testutil.h"

/* Output files and fake pool names are per test process: several test
 * runs may share the machine. */
static char out_path[64], err_path[64];
#define OUT_PATH out_path
#define ERR_PATH err_path
#define WORK_SLOTS 4

static struct pp_backend backend;
static struct pp_daemon_proc work; /* the pool of the workload tests */

/* The three output modes: the extra argument each needs (NULL: none). */
static const char *const modes[] = { NULL, "--json", "--prometheus" };
#define NMODES PP_ARRAY_LEN(modes)

/* ---------------------------------------------------------------- helpers */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Start shmdump with args (NULL-terminated, after the program name),
 * stdout to out and stderr to err (NULL: /dev/null).  Returns the pid. */
static pid_t spawn_dump(const char *const *args, const char *out, const char *err)
{
	pid_t kid = fork();
	if (kid == 0) {
		const char *argv[16];
		int n = 0;
		argv[n++] = "phantompool-shmdump";
		for (int i = 0; args[i] && n < 15; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		int fo = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(pp_test_build_path("phantompool-shmdump"), (char *const *)argv);
		_exit(127);
	}
	return kid;
}

/* Run shmdump -p pool [mode] and wait; returns its exit code or
 * 128+signal. */
static int run_dump_mode(const char *pool, const char *mode, const char *out, const char *err)
{
	const char *args[] = { "-p", pool, mode, NULL };
	return pp_test_wait_child(spawn_dump(args, out, err));
}

/* The table view of pool, stdout to out. */
static int run_dump(const char *pool, const char *out)
{
	return run_dump_mode(pool, NULL, out, NULL);
}

/* The whole file at path, NUL-terminated (malloc'd), or NULL. */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
		n += got;
		if (cap - n - 1 == 0) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* Run shmdump -p pool --json and parse its output.  Returns the document
 * (json_decref it) and the exit code in *code, or NULL. */
static json_t *dump_json(const char *pool, int *code)
{
	*code = run_dump_mode(pool, "--json", OUT_PATH, NULL);
	json_error_t e;
	json_t *doc = json_load_file(OUT_PATH, 0, &e);
	if (!doc)
		fprintf(stderr, "shmdump --json output does not parse: %s (line %d)\n", e.text, e.line);
	return doc;
}

/* Integer at a dotted path ("pool.leases"), or -1 when absent. */
static long long jint(json_t *doc, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	json_t *v = doc;
	for (char *save, *k = strtok_r(buf, ".", &save); v && k; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* Sum of one integer field over the "slots" array. */
static long long jslots_sum(json_t *doc, const char *key)
{
	long long sum = 0;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(doc, "slots"), i, s)
		sum += json_integer_value(json_object_get(s, key));
	return sum;
}

/* ------------------------------------------------- strict Prometheus check */

struct prom_family {
	char name[128];
	char type[16];
	bool help, typed, sampled;
};

struct prom_checker {
	const char *pool;
	struct prom_family fam[128];
	int nfam;
	char **series; /* "name{labels}" of every sample, to find duplicates */
	int nseries;
	/* histogram state of the current label set */
	char hist_labels[512];
	double hist_prev_le, hist_prev_count, hist_inf;
	int hist_stage; /* 0 buckets, 1 after +Inf, 2 after _sum */
	char why[512];
};

/* Record why the check failed (line number, rule, the line); false. */
static bool prom_fail(struct prom_checker *c, int line, const char *what, const char *text)
{
	snprintf(c->why, sizeof c->why, "line %d: %s: %.200s", line, what, text);
	return false;
}

/* n bytes of s form a metric name [a-zA-Z_:][a-zA-Z0-9_:]* (metric) or a
 * label name [a-zA-Z_][a-zA-Z0-9_]*. */
static bool name_ok(const char *s, size_t n, bool metric)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
			     (metric && ch == ':');
		if (!alpha && !(i > 0 && ch >= '0' && ch <= '9'))
			return false;
	}
	return n > 0;
}

/* The declared family of that name, or NULL. */
static struct prom_family *prom_find(struct prom_checker *c, const char *name)
{
	for (int i = 0; i < c->nfam; i++)
		if (strcmp(c->fam[i].name, name) == 0)
			return &c->fam[i];
	return NULL;
}

/* "# HELP name text" / "# TYPE name type": families are declared once,
 * HELP then TYPE, before any sample. */
static bool prom_comment(struct prom_checker *c, int ln, const char *line)
{
	char kind[8], name[128], rest[256] = "";
	if (sscanf(line, "# %7s %127s %255[^\n]", kind, name, rest) < 3)
		return prom_fail(c, ln, "comment is not # HELP/# TYPE with text", line);
	if (!name_ok(name, strlen(name), true) || strncmp(name, "phantompool_", 12) != 0)
		return prom_fail(c, ln, "bad family name", line);
	struct prom_family *f = prom_find(c, name);
	if (strcmp(kind, "HELP") == 0) {
		if (f || c->nfam == (int)PP_ARRAY_LEN(c->fam))
			return prom_fail(c, ln, "family declared twice", line);
		if (c->hist_labels[0] && c->hist_stage != 3)
			return prom_fail(c, ln, "previous histogram incomplete", line);
		c->hist_labels[0] = '\0';
		f = &c->fam[c->nfam++];
		memset(f, 0, sizeof *f);
		snprintf(f->name, sizeof f->name, "%s", name);
		f->help = true;
		return true;
	}
	if (strcmp(kind, "TYPE") != 0 || !f || f->typed || f->sampled)
		return prom_fail(c, ln, "TYPE without HELP, twice, or after samples", line);
	static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };
	for (size_t i = 0; i < PP_ARRAY_LEN(types); i++)
		if (strcmp(rest, types[i]) == 0)
			snprintf(f->type, sizeof f->type, "%s", types[i]);
	if (!f->type[0])
		return prom_fail(c, ln, "unknown type", line);
	if (strcmp(f->type, "counter") == 0 && strlen(name) > 6 &&
	    strcmp(name + strlen(name) - 6, "_total") != 0)
		return prom_fail(c, ln, "counter name does not end in _total", line);
	f->typed = true;
	return true;
}

/* Parse `{k="v",...}` at *pp: checks names and escapes; the labels
 * without le go to key (for duplicates/histograms), le's value to le,
 * pool's and slot's decoded values to pool/slot. */
static bool prom_labels(const char **pp, char *key, size_t klen, char *le, char *pool, char *slot)
{
	const char *p = *pp;
	size_t kn = 0;
	key[0] = le[0] = pool[0] = slot[0] = '\0';
	if (*p++ != '{')
		return false;
	while (*p != '}') {
		const char *n0 = p;
		while (*p && *p != '=')
			p++;
		size_t nlen = (size_t)(p - n0);
		if (*p++ != '=' || *p++ != '"' || !name_ok(n0, nlen, false))
			return false;
		char val[512];
		size_t vn = 0;
		for (; *p && *p != '"' && vn + 1 < sizeof val; p++) {
			if (*p == '\n')
				return false;
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					return false;
				val[vn++] = *p == 'n' ? '\n' : *p;
			} else {
				val[vn++] = *p;
			}
		}
		val[vn] = '\0';
		if (*p++ != '"')
			return false;
		char *dst = nlen == 2 && !strncmp(n0, "le", 2) ? le :
			    nlen == 4 && !strncmp(n0, "pool", 4) ? pool :
			    nlen == 4 && !strncmp(n0, "slot", 4) ? slot : NULL;
		if (dst)
			snprintf(dst, 512, "%s", val);
		if (dst != le)
			kn += (size_t)snprintf(key + kn, klen > kn ? klen - kn : 0, "%.*s=%s;", (int)nlen, n0, val);
		if (*p == ',')
			p++;
		else if (*p != '}')
			return false;
	}
	*pp = p + 1;
	return true;
}

/* Histogram rules for one sample of family f: per label set, buckets in
 * increasing le with non-decreasing counts, then +Inf, _sum, _count, with
 * _count equal to the +Inf bucket. */
static bool prom_hist_sample(struct prom_checker *c, int ln, const char *line, const char *suffix,
			     const char *key, const char *le, double v)
{
	if (strcmp(suffix, "_bucket") == 0) {
		if (!le[0])
			return prom_fail(c, ln, "bucket without le", line);
		if (strcmp(key, c->hist_labels) != 0) {
			if (c->hist_stage != 3 && c->hist_labels[0])
				return prom_fail(c, ln, "previous histogram incomplete", line);
			snprintf(c->hist_labels, sizeof c->hist_labels, "%s", key);
			c->hist_stage = 0;
			c->hist_prev_le = -1;
			c->hist_prev_count = 0;
		}
		if (c->hist_stage != 0)
			return prom_fail(c, ln, "bucket after +Inf", line);
		double lev = strcmp(le, "+Inf") == 0 ? 1e308 : strtod(le, NULL);
		if (lev <= c->hist_prev_le || v < c->hist_prev_count)
			return prom_fail(c, ln, "buckets not increasing in le / not cumulative", line);
		c->hist_prev_le = lev;
		c->hist_prev_count = v;
		if (strcmp(le, "+Inf") == 0)
			c->hist_stage = 1, c->hist_inf = v;
		return true;
	}
	if (strcmp(key, c->hist_labels) != 0)
		return prom_fail(c, ln, "_sum/_count for another label set", line);
	if (strcmp(suffix, "_sum") == 0 && c->hist_stage == 1) {
		c->hist_stage = 2;
		return true;
	}
	if (strcmp(suffix, "_count") == 0 && c->hist_stage == 2) {
		c->hist_stage = 3;
		return v == c->hist_inf ? true : prom_fail(c, ln, "_count != +Inf bucket", line);
	}
	return prom_fail(c, ln, "histogram series out of order (buckets, +Inf, _sum, _count)", line);
}

/* The family a sample belongs to: the current (last declared) one, by
 * its name or, for a histogram, name + _bucket/_sum/_count. */
static struct prom_family *prom_owner(struct prom_checker *c, const char *name, const char **suffix)
{
	if (c->nfam == 0)
		return NULL;
	struct prom_family *f = &c->fam[c->nfam - 1];
	size_t n = strlen(f->name);
	*suffix = name + n;
	if (strncmp(name, f->name, n) != 0)
		return NULL;
	if (!**suffix)
		return strcmp(f->type, "histogram") ? f : NULL;
	static const char *const hs[] = { "_bucket", "_sum", "_count" };
	for (size_t i = 0; i < PP_ARRAY_LEN(hs); i++)
		if (strcmp(*suffix, hs[i]) == 0 && strcmp(f->type, "histogram") == 0)
			return f;
	return NULL;
}

/* One sample line: `name{labels} value`, nothing else. */
static bool prom_sample(struct prom_checker *c, int ln, const char *line)
{
	const char *p = line;
	while (*p && *p != '{' && *p != ' ')
		p++;
	char name[160];
	snprintf(name, sizeof name, "%.*s", (int)(p - line), line);
	if (!name_ok(line, (size_t)(p - line), true))
		return prom_fail(c, ln, "bad metric name", line);
	const char *suffix;
	struct prom_family *f = prom_owner(c, name, &suffix);
	if (!f || !f->help || !f->typed)
		return prom_fail(c, ln, "sample outside its family, or before HELP/TYPE", line);
	char key[512], le[512], pool[512], slot[512];
	if (!prom_labels(&p, key, sizeof key, le, pool, slot))
		return prom_fail(c, ln, "bad labels", line);
	if (strcmp(pool, c->pool) != 0)
		return prom_fail(c, ln, "pool label missing or wrong", line);
	if (strncmp(name, "phantompool_slot_", 17) == 0 && (!slot[0] || strspn(slot, "0123456789") != strlen(slot)))
		return prom_fail(c, ln, "per-slot sample without a numeric slot label", line);
	char *end;
	if (*p++ != ' ' || !strchr("0123456789+-.NI", *p) || !*p)
		return prom_fail(c, ln, "not one space, then the value", line);
	double v = strtod(p, &end);
	if (end == p || *end || v < 0 || v != v)
		return prom_fail(c, ln, "value not a non-negative number, or trailing text", line);
	char series[1300]; /* name 160 + key 512 + le 512 + punctuation */
	snprintf(series, sizeof series, "%s{%s le=%s}", name, key, le);
	for (int i = 0; i < c->nseries; i++)
		if (strcmp(c->series[i], series) == 0)
			return prom_fail(c, ln, "duplicate series", line);
	char **ns = realloc(c->series, (size_t)(c->nseries + 1) * sizeof *ns);
	if (!ns)
		return prom_fail(c, ln, "out of memory", line);
	c->series = ns;
	c->series[c->nseries++] = strdup(series);
	f->sampled = true;
	if (strcmp(f->type, "histogram") == 0)
		return prom_hist_sample(c, ln, line, suffix, key, le, v);
	return true;
}

/* Check a whole exposition.  Returns true, or false with the reason in
 * why (at least 512 bytes). */
static bool prom_check(const char *text, const char *pool, char *why)
{
	struct prom_checker *c = calloc(1, sizeof *c);
	if (!c)
		return false;
	c->pool = pool;
	char *copy = strdup(text), *save = NULL;
	bool ok = copy && *text && text[strlen(text) - 1] == '\n';
	if (!ok)
		snprintf(c->why, sizeof c->why, "empty, or no final newline");
	int ln = 0;
	for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; ok && line;
	     line = strtok_r(NULL, "\n", &save)) {
		ln++;
		ok = line[0] == '#' ? prom_comment(c, ln, line) : prom_sample(c, ln, line);
	}
	for (int i = 0; ok && i < c->nfam; i++)
		if (!c->fam[i].sampled)
			ok = prom_fail(c, 0, "family without samples", c->fam[i].name);
	if (ok && c->hist_labels[0] && c->hist_stage != 3)
		ok = prom_fail(c, ln, "last histogram incomplete", "");
	snprintf(why, 512, "%s", c->why);
	for (int i = 0; i < c->nseries; i++)
		free(c->series[i]);
	free(c->series);
	free(copy);
	free(c);
	return ok;
}

/* Path of promtool, or NULL when it is not installed. */
static const char *promtool_path(void)
{
	static const char *const paths[] = { "/usr/bin/promtool", "/usr/local/bin/promtool" };
	for (size_t i = 0; i < PP_ARRAY_LEN(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* `promtool check metrics < path`: its exit code, or -2 when promtool is
 * not installed (the caller skips, saying so). */
static int promtool_check(const char *path)
{
	const char *tool = promtool_path();
	if (!tool)
		return -2;
	pid_t kid = fork();
	if (kid == 0) {
		int in = open(path, O_RDONLY);
		dup2(in, 0);
		execl(tool, "promtool", "check", "metrics", (char *)NULL);
		_exit(127);
	}
	return pp_test_wait_child(kid);
}

/* Value of the sample whose line starts with `prefix` (name and labels
 * up to and including "} "), or -1. */
static double prom_value(const char *text, const char *prefix)
{
	for (const char *p = text; (p = strstr(p, prefix)); p++)
		if (p == text || p[-1] == '\n')
			return strtod(p + strlen(prefix), NULL);
	return -1;
}

/* Sum of the values of every sample line starting with prefix. */
static double prom_sum(const char *text, const char *prefix)
{
	double sum = 0;
	for (const char *p = text; (p = strstr(p, prefix)); p++)
		if (p == text || p[-1] == '\n')
			sum += strtod(strchr(p, ' ') + 1, NULL);
	return sum;
}

/* --------------------------------------------------------- fake segments */

static void *map_fake(const char *pool, size_t size)
{
	char name[96];
	snprintf(name, sizeof name, "/phantompool-%s", pool);
	int fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
		return NULL;
	void *m = size ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

/* A pool name for a fake segment, unique to this process ("t<pid>-tag"),
 * copied into buf (at least 48 bytes). */
static const char *fake_pool(char *buf, const char *tag)
{
	snprintf(buf, 48, "%s", pp_test_pool_name(tag));
	return buf;
}

/* Remove a fake segment. */
static void unlink_fake(const char *pool)
{
	char name[96];
	snprintf(name, sizeof name, "/phantompool-%s", pool);
	shm_unlink(name);
}

/* Write a valid header for nslots slots (zeroing size bytes first), of a
 * ready daemon `pid` whose heartbeat is fresh: it passes validation. */
static void fill_valid(void *m, uint32_t nslots, size_t size, int32_t pid)
{
	struct pp_shm_header *h = m;
	memset(m, 0, size);
	h->magic = PP_SHM_MAGIC;
	h->layout_version = PP_LAYOUT_VERSION;
	h->header_size = sizeof *h;
	h->segment_size = size;
	h->nslots = nslots;
	h->ring_size = PP_RING_MIN;
	h->slot_size = sizeof(struct pp_slot);
	h->slots_off = PP_SLOTS_OFF;
	h->rings_off = pp_layout_rings_off(nslots);
	h->daemon_pid = pid;
	h->daemon_state = PP_DAEMON_READY;
	h->heartbeat_ns = pp_now_ns();
	snprintf(h->pool_name, sizeof h->pool_name, "fake");
}

/* Refresh a fake segment's heartbeat: it stays "alive" for the next second
 * however slow the machine was so far. */
static void beat(void *m)
{
	((struct pp_shm_header *)m)->heartbeat_ns = pp_now_ns();
}

/* ------------------------------------------------------------------ suite */

/* The reference backend, and the pool of the workload tests in front of
 * it (fresh: all its counters start at 0). */
static int suite_setup(void)
{
	if (pp_backend_start(&backend, NULL) != 0)
		return -1;
	char url[128], slots[8];
	snprintf(url, sizeof url, "%s/api/v1", backend.url);
	snprintf(slots, sizeof slots, "%d", WORK_SLOTS);
	const char *args[] = { "-b", url, "--max", slots, "--min", "1", "--leak-threshold", "200",
			       "--log-level", "error", NULL };
	return pp_daemon_start(&work, pp_test_pool_name("work"), args);
}

/* Stop both; a daemon that does not exit cleanly fails the suite. */
static int suite_teardown(void)
{
	int r = pp_daemon_stop(&work);
	pp_backend_stop(&backend);
	unlink(OUT_PATH);
	unlink(ERR_PATH);
	return r == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ tests */

static void test_usage(void)
{
	static const struct {
		const char *args[4];
		int code;
	} cases[] = {
		{ { "--help" }, 0 },
		{ { "-h" }, 0 },
		{ { "--json", "--prometheus" }, 1 },
		{ { "--watch" }, 1 },
		{ { "--watch", "0" }, 1 },
		{ { "--watch", "abc" }, 1 },
		{ { "--watch", "1e9" }, 1 },
		{ { "--bogus" }, 1 },
		{ { "extra-argument" }, 1 },
		{ { "-p", "bad/name" }, 2 },
		{ { "-p", "pp-no-such-pool-here" }, 2 },
	};
	for (size_t i = 0; i < PP_ARRAY_LEN(cases); i++) {
		int code = pp_test_wait_child(spawn_dump(cases[i].args, OUT_PATH, NULL));
		if (code != cases[i].code)
			fprintf(stderr, "shmdump %s %s: exit %d, want %d\n", cases[i].args[0],
				cases[i].args[1] ? cases[i].args[1] : "", code, cases[i].code);
		CU_ASSERT_EQUAL(code, cases[i].code);
	}
	const char *help[] = { "--help", NULL };
	CU_ASSERT_EQUAL(pp_test_wait_child(spawn_dump(help, OUT_PATH, NULL)), 0);
	char *text = read_all(OUT_PATH);
	CU_ASSERT_FATAL(text != NULL);
	static const char *const needles[] = { "--json", "--prometheus", "--watch SECONDS", "-p, --pool",
					       "0  shown", "1  usage", "2  no such pool", "3  daemon dead",
					       "4  segment corrupt" };
	for (size_t i = 0; i < PP_ARRAY_LEN(needles); i++)
		CU_ASSERT_PTR_NOT_NULL(strstr(text, needles[i]));
	free(text);
}

static void test_live_pool(void)
{
	struct pp_daemon_proc d;
	const char *args[] = { "-b", backend.url, "--max", "3", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("live"), args) == 0);
	pp_pool *p;
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	CU_ASSERT_FATAL(pp_lease(p, 0, &l) == 0);
	CU_ASSERT_EQUAL(run_dump(d.pool, OUT_PATH), 0);
	char *buf = read_all(OUT_PATH);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "leased"));
	char pid[32];
	snprintf(pid, sizeof pid, " %d ", (int)getpid());
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, pid)); /* our pid owns the lease */
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "2 free, 1 used"));
	free(buf);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	pp_detach(p);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	for (size_t m = 0; m < NMODES; m++)
		CU_ASSERT_EQUAL(run_dump_mode(d.pool, modes[m], NULL, NULL), 2); /* gone */
}

/* The workload of test_workload_counters, counted by hand. */
enum {
	W_LEASES = 5,    /* pp_lease + pp_release, nothing sent */
	W_DO = 7,        /* pp_do GET /health: a lease and a request each */
	W_HELD_REQS = 2, /* requests on one explicit lease */
	W_WAITS = 1,     /* one lease that had to sleep (all slots held) */
	W_WAIT_MS = 120, /* at least this long */
	W_TOTAL_LEASES = W_LEASES + W_DO + 1 + WORK_SLOTS + W_WAITS,
	W_TOTAL_REQS = W_DO + W_HELD_REQS,
};

/* GET /health on lease l, or with pp_do when l is NULL: the HTTP status,
 * or the negative PP_E* error. */
static int health(pp_pool *p, struct pp_lease *l)
{
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp = { 0 };
	int r = l ? pp_request(l, &req, &resp) : pp_do(p, &req, &resp);
	int status = r ? r : resp.status;
	pp_resp_free(&resp);
	return status;
}

/* Hold every slot; a child waits in pp_lease until we release one
 * W_WAIT_MS after it is seen waiting. */
static void one_waited_lease(pp_pool *p)
{
	struct pp_lease *held[WORK_SLOTS];
	for (int i = 0; i < WORK_SLOTS; i++)
		CU_ASSERT_FATAL(pp_lease(p, 1000, &held[i]) == 0);
	pid_t kid = fork();
	if (kid == 0) {
		struct pp_lease *l;
		int r = pp_lease(p, 10000, &l);
		_exit(r == 0 && pp_release(l) == 0 ? 0 : 1);
	}
	pp_pool_status st = { 0 };
	for (int i = 0; i < 500 && st.waiting == 0; i++) {
		sleep_ms(10);
		CU_ASSERT(pp_status(p, &st) == 0);
	}
	CU_ASSERT_EQUAL(st.waiting, 1);
	sleep_ms(W_WAIT_MS);
	CU_ASSERT_EQUAL(pp_release(held[0]), 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 0);
	for (int i = 1; i < WORK_SLOTS; i++)
		CU_ASSERT_EQUAL(pp_release(held[i]), 0);
}

/* The workload counted by the W_* constants. */
static void run_workload(pp_pool *p)
{
	for (int i = 0; i < W_LEASES; i++) {
		struct pp_lease *l;
		CU_ASSERT_FATAL(pp_lease(p, 1000, &l) == 0);
		CU_ASSERT_EQUAL(pp_release(l), 0);
	}
	for (int i = 0; i < W_DO; i++)
		CU_ASSERT_EQUAL(health(p, NULL), 200);
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(p, 1000, &l) == 0);
	for (int i = 0; i < W_HELD_REQS; i++)
		CU_ASSERT_EQUAL(health(p, l), 200);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	one_waited_lease(p);
}

/* The JSON view after the workload: exact lease, wait and request counts. */
static void check_workload_json(json_t *doc, const pp_pool_status *st)
{
	CU_ASSERT_EQUAL(jint(doc, "schema_version"), 1);
	CU_ASSERT_EQUAL(jint(doc, "pool.leases"), W_TOTAL_LEASES);
	CU_ASSERT_EQUAL(jint(doc, "pool.leases"), (long long)st->leases); /* as pp_status sees it */
	/* pp_status carries the same figures for programs. */
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_waits"), (long long)st->lease_waits);
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_wait_max_ns"), (long long)st->lease_wait_max_ns);
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_wait_p50_ns"), (long long)st->lease_wait_p50_ns);
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_wait_p99_ns"), (long long)st->lease_wait_p99_ns);
	CU_ASSERT_EQUAL(jint(doc, "totals.requests"), (long long)st->requests);
	CU_ASSERT_EQUAL(jint(doc, "totals.errors"), (long long)st->errors);
	CU_ASSERT_EQUAL(jint(doc, "totals.bytes_out"), (long long)st->bytes_out);
	CU_ASSERT_EQUAL(jint(doc, "totals.connects"), (long long)st->connects);
	CU_ASSERT_EQUAL(st->backend_up, 1);
	CU_ASSERT_EQUAL(jint(doc, "totals.leases"), W_TOTAL_LEASES);
	CU_ASSERT_EQUAL(jslots_sum(doc, "leases"), W_TOTAL_LEASES);
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_waits"), W_WAITS);
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_wait_slept"), W_WAITS);
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_wait_zero"), W_TOTAL_LEASES - W_WAITS);
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_timeouts"), 0);
	CU_ASSERT_EQUAL(jint(doc, "pool.reclaims"), 0);
	CU_ASSERT_EQUAL(jint(doc, "pool.waiting_workers"), 0);
	CU_ASSERT_EQUAL(jint(doc, "pool.slots_by_state.free"), WORK_SLOTS);
	long long max = jint(doc, "pool.lease_wait_max_ns");
	CU_ASSERT(max >= (W_WAIT_MS - 10) * 1000000LL && max < 5000000000LL);
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_wait_sum_ns"), max); /* one wait */
	CU_ASSERT_EQUAL(jint(doc, "pool.lease_wait_p50_ns"), 0);   /* most leases did not wait */
	long long p99 = jint(doc, "pool.lease_wait_p99_ns");       /* rank 18 of 18: the wait */
	CU_ASSERT(p99 >= (long long)(1ull << pp_hist_bucket((uint64_t)max)) * 1000 && p99 <= max);
	json_t *b = json_object_get(json_object_get(doc, "pool"), "lease_wait_buckets");
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(b, pp_hist_bucket((uint64_t)max))), 1);
	/* Daemon-side counters of each exchange. */
	CU_ASSERT_EQUAL(jint(doc, "totals.requests"), W_TOTAL_REQS);
	CU_ASSERT_EQUAL(jslots_sum(doc, "requests"), W_TOTAL_REQS);
	CU_ASSERT_EQUAL(jint(doc, "totals.errors"), 0);
	CU_ASSERT_EQUAL(jint(doc, "totals.latency_count"), W_TOTAL_REQS);
	CU_ASSERT(jint(doc, "totals.latency_sum_ns") > 0);
	CU_ASSERT(jint(doc, "totals.bytes_out") > 0); /* {"status":"healthy"} each */
	CU_ASSERT_EQUAL(jint(doc, "totals.bytes_in"), 0); /* GETs have no body */
	CU_ASSERT(jint(doc, "totals.connects") >= 1);
}

/* The Prometheus view after the workload: the same figures. */
static void check_workload_prom(const char *pool)
{
	const char *args[] = { "-p", pool, "--prometheus", NULL };
	CU_ASSERT_EQUAL(pp_test_wait_child(spawn_dump(args, OUT_PATH, NULL)), 0);
	char *t = read_all(OUT_PATH), line[256];
	CU_ASSERT_FATAL(t != NULL);
	snprintf(line, sizeof line, "phantompool_leases_total{pool=\"%s\"} ", pool);
	CU_ASSERT_EQUAL(prom_value(t, line), W_TOTAL_LEASES);
	snprintf(line, sizeof line, "phantompool_lease_wait_seconds_count{pool=\"%s\"} ", pool);
	CU_ASSERT_EQUAL(prom_value(t, line), W_TOTAL_LEASES);
	snprintf(line, sizeof line, "phantompool_lease_wait_seconds_bucket{pool=\"%s\",le=\"0.000002\"} ", pool);
	CU_ASSERT_EQUAL(prom_value(t, line), W_TOTAL_LEASES - W_WAITS);
	snprintf(line, sizeof line, "phantompool_lease_waits_total{pool=\"%s\"} ", pool);
	CU_ASSERT_EQUAL(prom_value(t, line), W_WAITS);
	CU_ASSERT_EQUAL(prom_sum(t, "phantompool_slot_requests_total{"), W_TOTAL_REQS);
	CU_ASSERT_EQUAL(prom_sum(t, "phantompool_slot_request_duration_seconds_count{"), W_TOTAL_REQS);
	CU_ASSERT_EQUAL(prom_sum(t, "phantompool_slot_leases_total{"), W_TOTAL_LEASES);
	free(t);
}

/* The table after the workload. */
static void check_workload_text(const char *pool)
{
	CU_ASSERT_EQUAL(run_dump(pool, OUT_PATH), 0);
	char *t = read_all(OUT_PATH), want[128];
	CU_ASSERT_FATAL(t != NULL);
	snprintf(want, sizeof want, "leases      %d (%d without waiting, %d slept), 0 timeouts", W_TOTAL_LEASES,
		 W_TOTAL_LEASES - W_WAITS, W_WAITS);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
	snprintf(want, sizeof want, "requests    %d, 0 errors", W_TOTAL_REQS);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "lease wait  p50 0  p99 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "estimated"));
	/* The daemon's loops (>= 1) and its escalations (small requests: 0). */
	unsigned loops = 0, esc = 1;
	const char *sv = strstr(t, "\nserving     ");
	CU_ASSERT_FATAL(sv != NULL);
	CU_ASSERT_EQUAL(sscanf(sv, "\nserving     %u loops, %u exchanges escalated", &loops, &esc), 2);
	CU_ASSERT(loops >= 1);
	CU_ASSERT_EQUAL(esc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, backend.url));
	if (!strstr(t, want))
		fprintf(stderr, "%s", t);
	free(t);
}

static void test_workload_counters(void)
{
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(work.pool, &p) == 0);
	run_workload(p);
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(p, &st), 0);
	int code;
	json_t *doc = dump_json(work.pool, &code);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_FATAL(doc != NULL);
	check_workload_json(doc, &st);
	json_decref(doc);
	check_workload_prom(work.pool);
	check_workload_text(work.pool);
	pp_detach(p);
}

/* ---- the JSON schema of docs/shmdump.md, field by field. */

enum jtype { J_INT, J_STR, J_BOOL, J_OBJ, J_ARR };

struct jfield {
	const char *key;
	enum jtype type;
	const char *const *subkeys; /* J_OBJ: its integer members; J_ARR of ints: NULL */
};

static const char *const state_keys[] = { "free", "leased", "busy", "reclaim", "resetting", "handoff",
					  "disabled", "unknown", NULL };
static const char *const errkind_keys[] = { "backend", "timeout", "rejected", "protocol", "other", NULL };

static const struct jfield top_schema[] = {
	{ "schema_version", J_INT, NULL }, { "time_unix_ns", J_INT, NULL }, { "pool", J_OBJ, NULL },
	{ "totals", J_OBJ, NULL },         { "slots", J_ARR, NULL },
};

static const struct jfield pool_schema[] = {
	{ "name", J_STR, NULL },          { "shm_name", J_STR, NULL },
	{ "generation", J_STR, NULL },    { "daemon_state", J_STR, NULL },
	{ "backend", J_STR, NULL },       { "daemon_pid", J_INT, NULL },
	{ "daemon_alive", J_BOOL, NULL }, { "layout_version", J_INT, NULL },
	{ "segment_bytes", J_INT, NULL }, { "start_unix_ns", J_INT, NULL },
	{ "uptime_ns", J_INT, NULL },     { "heartbeat_age_ns", J_INT, NULL },
	{ "backend_index", J_INT, NULL }, { "backend_up", J_BOOL, NULL },
	{ "backend_failovers", J_INT, NULL }, { "slots", J_INT, NULL },
	{ "min_conns", J_INT, NULL },     { "max_conns", J_INT, NULL },
	{ "ring_bytes", J_INT, NULL },    { "lease_timeout_ms", J_INT, NULL },
	{ "request_timeout_ms", J_INT, NULL }, { "spin_us", J_INT, NULL },
	{ "spin_hits", J_INT, NULL },     { "spin_misses", J_INT, NULL },
	{ "loops", J_INT, NULL },         { "escalations", J_INT, NULL },
	{ "conns_open", J_INT, NULL },    { "conns_busy", J_INT, NULL },
	{ "conns_idle", J_INT, NULL },    { "queued", J_INT, NULL },
	{ "queue_waits", J_INT, NULL },   { "queue_wait_p50_ns", J_INT, NULL },
	{ "queue_wait_p99_ns", J_INT, NULL }, { "queue_wait_max_ns", J_INT, NULL },
	{ "queue_wait_sum_ns", J_INT, NULL },
	{ "max_body_bytes", J_INT, NULL },
	{ "waiting_workers", J_INT, NULL }, { "leases", J_INT, NULL },
	{ "lease_waits", J_INT, NULL },   { "lease_timeouts", J_INT, NULL },
	{ "reclaims", J_INT, NULL },      { "lease_wait_slept", J_INT, NULL },
	{ "lease_wait_zero", J_INT, NULL }, { "lease_wait_p50_ns", J_INT, NULL },
	{ "lease_wait_p99_ns", J_INT, NULL }, { "lease_wait_max_ns", J_INT, NULL },
	{ "lease_wait_sum_ns", J_INT, NULL }, { "slots_by_state", J_OBJ, state_keys },
	{ "lease_wait_buckets", J_ARR, NULL },
};

#define SLOT_COUNTERS                                                                              \
	{ "leases", J_INT, NULL }, { "requests", J_INT, NULL }, { "errors", J_INT, NULL },         \
	{ "bytes_in", J_INT, NULL }, { "bytes_out", J_INT, NULL }, { "connects", J_INT, NULL },     \
	{ "reconnects", J_INT, NULL }, { "health_checks", J_INT, NULL },                           \
	{ "health_failures", J_INT, NULL }, { "reclaims", J_INT, NULL },                           \
	{ "latency_count", J_INT, NULL }, { "latency_sum_ns", J_INT, NULL },                       \
	{ "errors_by_kind", J_OBJ, errkind_keys }

static const struct jfield totals_schema[] = { SLOT_COUNTERS };

static const struct jfield slot_schema[] = {
	SLOT_COUNTERS,
	{ "index", J_INT, NULL },         { "state", J_STR, NULL },
	{ "conn_state", J_STR, NULL },    { "consistent", J_BOOL, NULL },
	{ "owner_pid", J_INT, NULL },     { "leak", J_BOOL, NULL },
	{ "lease_age_ns", J_INT, NULL },  { "conn_age_ns", J_INT, NULL },
	{ "last_latency_ns", J_INT, NULL }, { "latency_buckets", J_ARR, NULL },
};

/* v is of type t (integers: non-negative, as every number in the schema). */
static bool jtype_ok(json_t *v, enum jtype t)
{
	switch (t) {
	case J_INT: return json_is_integer(v) && json_integer_value(v) >= 0;
	case J_STR: return json_is_string(v);
	case J_BOOL: return json_is_boolean(v);
	case J_OBJ: return json_is_object(v);
	case J_ARR: return json_is_array(v);
	}
	return false;
}

/* o has exactly the members of schema, each of its type (and J_OBJ
 * members with subkeys exactly those integer members).  Counts problems. */
static int check_schema(json_t *o, const struct jfield *schema, size_t n, const char *where)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(o, schema[i].key);
		if (!jtype_ok(v, schema[i].type)) {
			fprintf(stderr, "JSON %s.%s: missing or not of its type\n", where, schema[i].key);
			bad++;
			continue;
		}
		size_t nsub = 0;
		for (const char *const *k = schema[i].subkeys; k && *k; k++, nsub++)
			bad += !jtype_ok(json_object_get(v, *k), J_INT);
		if (schema[i].subkeys && json_object_size(v) != nsub)
			bad++;
	}
	if (json_object_size(o) != n) {
		fprintf(stderr, "JSON %s: %zu members, the schema lists %zu\n", where, json_object_size(o), n);
		bad++;
	}
	return bad;
}

/* An array of PP_HIST_BUCKETS non-negative integers. */
static bool is_hist(json_t *a)
{
	size_t i;
	json_t *v;
	bool ok = json_array_size(a) == PP_HIST_BUCKETS;
	json_array_foreach(a, i, v)
		ok = ok && jtype_ok(v, J_INT);
	return ok;
}

/* Every key of a schema table is written `key` in docs/shmdump.md. */
static int check_documented(const char *doc, const struct jfield *schema, size_t n)
{
	int missing = 0;
	for (size_t i = 0; i < n; i++) {
		char k[64];
		snprintf(k, sizeof k, "`%s`", schema[i].key);
		if (!strstr(doc, k)) {
			fprintf(stderr, "docs/shmdump.md does not document %s\n", k);
			missing++;
		}
	}
	return missing;
}

/* The document's whole shape: members, types, histogram arrays. */
static int check_document(json_t *doc, uint32_t nslots)
{
	int bad = check_schema(doc, top_schema, PP_ARRAY_LEN(top_schema), "document");
	json_t *pool = json_object_get(doc, "pool");
	bad += check_schema(pool, pool_schema, PP_ARRAY_LEN(pool_schema), "pool");
	bad += !is_hist(json_object_get(pool, "lease_wait_buckets"));
	bad += check_schema(json_object_get(doc, "totals"), totals_schema, PP_ARRAY_LEN(totals_schema), "totals");
	json_t *slots = json_object_get(doc, "slots"), *s;
	bad += json_array_size(slots) != nslots;
	size_t i;
	json_array_foreach(slots, i, s) {
		bad += check_schema(s, slot_schema, PP_ARRAY_LEN(slot_schema), "slots[]");
		bad += !is_hist(json_object_get(s, "latency_buckets"));
		bad += json_integer_value(json_object_get(s, "index")) != (json_int_t)i;
	}
	const char *gen = json_string_value(json_object_get(pool, "generation"));
	bad += !gen || strlen(gen) != 16 || strspn(gen, "0123456789abcdef") != 16;
	return bad;
}

static void test_json_schema(void)
{
	int code;
	json_t *doc = dump_json(work.pool, &code);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_FATAL(doc != NULL);
	CU_ASSERT_EQUAL(check_document(doc, WORK_SLOTS), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(doc, "pool"), "name")), work.pool);
	CU_ASSERT(json_is_true(json_object_get(json_object_get(doc, "pool"), "daemon_alive")));
	json_decref(doc);
	/* The schema tables above are the documented ones: docs/shmdump.md
	 * (found from the source tree, where make check runs) names each key. */
	char *md = read_all("docs/shmdump.md");
	if (!md) {
		fprintf(stderr, "docs/shmdump.md not found from %s: documentation check skipped\n", getcwd(NULL, 0));
		return;
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(md, "\"schema_version\": 1"));
	CU_ASSERT_EQUAL(check_documented(md, top_schema, PP_ARRAY_LEN(top_schema)), 0);
	CU_ASSERT_EQUAL(check_documented(md, pool_schema, PP_ARRAY_LEN(pool_schema)), 0);
	CU_ASSERT_EQUAL(check_documented(md, slot_schema, PP_ARRAY_LEN(slot_schema)), 0);
	CU_ASSERT_EQUAL(check_documented(md, totals_schema, PP_ARRAY_LEN(totals_schema)), 0);
	free(md);
}

/* Check a Prometheus exposition file strictly, and with promtool when
 * installed.  Returns true if both passed (promtool absent: skipped). */
static bool prom_file_ok(const char *path, const char *pool)
{
	char *t = read_all(path), why[512] = "";
	bool ok = t && prom_check(t, pool, why);
	if (!ok)
		fprintf(stderr, "Prometheus format: %s\n", t ? why : "no output");
	free(t);
	int pt = promtool_check(path);
	if (pt != 0 && pt != -2)
		fprintf(stderr, "promtool check metrics %s: exit %d\n", path, pt);
	return ok && (pt == 0 || pt == -2);
}

/* Every family of the exposition t is listed `name` in docs/shmdump.md
 * (skipped when the doc is not found from the working directory). */
static int families_undocumented(const char *t)
{
	char *md = read_all("docs/shmdump.md");
	if (!md)
		return 0;
	int missing = 0;
	for (const char *p = t; (p = strstr(p, "# TYPE ")); p++) {
		char name[128], k[132];
		if (sscanf(p, "# TYPE %127s", name) != 1)
			continue;
		snprintf(k, sizeof k, "`%s`", name);
		if (!strstr(md, k)) {
			fprintf(stderr, "docs/shmdump.md does not document %s\n", k);
			missing++;
		}
	}
	free(md);
	return missing;
}

static void test_prometheus_format(void)
{
	const char *args[] = { "-p", work.pool, "--prometheus", NULL };
	CU_ASSERT_EQUAL(pp_test_wait_child(spawn_dump(args, OUT_PATH, NULL)), 0);
	CU_ASSERT(prom_file_ok(OUT_PATH, work.pool));
	char *t = read_all(OUT_PATH);
	CU_ASSERT_EQUAL(t ? families_undocumented(t) : 1, 0);
	free(t);
	if (!promtool_path())
		fprintf(stderr, "\n  promtool not installed (Debian package prometheus): promtool check skipped\n");
	/* The checker itself rejects what it must. */
	static const char *const bad[] = {
		"phantompool_x{pool=\"p\"} 1\n",                                      /* no HELP/TYPE */
		"# HELP phantompool_x h\n# TYPE phantompool_x counter\nphantompool_x{pool=\"p\"} 1\n", /* _total */
		"# HELP phantompool_x h\n# TYPE phantompool_x gauge\nphantompool_x{pool=\"p\"}  1\n",
		"# HELP phantompool_x h\n# TYPE phantompool_x gauge\nphantompool_x{pool=\"a\\q\"} 1\n",
		"# HELP phantompool_x h\n# TYPE phantompool_x gauge\nphantompool_x{pool=\"p\"} 1 2\n",
		"# HELP phantompool_h h\n# TYPE phantompool_h histogram\n"
		"phantompool_h_bucket{pool=\"p\",le=\"1\"} 2\nphantompool_h_bucket{pool=\"p\",le=\"+Inf\"} 1\n"
		"phantompool_h_sum{pool=\"p\"} 0\nphantompool_h_count{pool=\"p\"} 1\n",
		"# HELP phantompool_h h\n# TYPE phantompool_h histogram\n"
		"phantompool_h_bucket{pool=\"p\",le=\"+Inf\"} 1\n"
		"phantompool_h_sum{pool=\"p\"} 0\nphantompool_h_count{pool=\"p\"} 2\n",
	};
	for (size_t i = 0; i < PP_ARRAY_LEN(bad); i++) {
		char why[512];
		CU_ASSERT_FALSE(prom_check(bad[i], "p", why));
	}
	char why[512];
	CU_ASSERT_TRUE(prom_check("# HELP phantompool_x h\n# TYPE phantompool_x gauge\n"
				  "phantompool_x{pool=\"a\\\\b\\\"c\\nd\"} 1\n", "a\\b\"c\nd", why));
}

/* Slot `slot`'s "leak" in a fresh --json dump of the work pool (-1 when
 * unreadable). */
static int leak_of(int slot)
{
	int code;
	json_t *doc = dump_json(work.pool, &code);
	json_t *v = json_object_get(json_array_get(json_object_get(doc, "slots"), (size_t)slot), "leak");
	int r = json_is_boolean(v) ? json_is_true(v) : -1;
	json_decref(doc);
	return r;
}

/* A lease held past the daemon's --leak-threshold (200 ms) is flagged:
 * LEAK in the table, "leak": true, phantompool_slot_leak 1; the flag goes
 * when the lease ends. */
static void test_live_leak_marker(void)
{
	pp_pool *p;
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_attach(work.pool, &p) == 0);
	CU_ASSERT_FATAL(pp_lease(p, 1000, &l) == 0);
	int slot = -1;
	for (int i = 0; i < 60 && slot < 0; i++) {
		sleep_ms(50);
		for (int k = 0; k < WORK_SLOTS && slot < 0; k++)
			slot = leak_of(k) == 1 ? k : -1;
	}
	CU_ASSERT_FATAL(slot >= 0);
	CU_ASSERT_EQUAL(run_dump(work.pool, OUT_PATH), 0);
	char *t = read_all(OUT_PATH), row[32], pid[16];
	CU_ASSERT_FATAL(t != NULL);
	snprintf(row, sizeof row, "\n%5d  leased", slot);
	snprintf(pid, sizeof pid, " %d ", (int)getpid());
	const char *r = strstr(t, row), *eol = r ? strchr(r + 1, '\n') : NULL;
	CU_ASSERT(r && eol && eol - r > 6 && strncmp(eol - 4, "LEAK", 4) == 0);
	CU_ASSERT(r && strstr(r, pid) && strstr(r, pid) < eol);
	free(t);
	CU_ASSERT_EQUAL(run_dump_mode(work.pool, "--prometheus", OUT_PATH, NULL), 0);
	t = read_all(OUT_PATH);
	char line[160];
	snprintf(line, sizeof line, "phantompool_slot_leak{pool=\"%s\",slot=\"%d\"} ", work.pool, slot);
	CU_ASSERT(t && prom_value(t, line) == 1);
	free(t);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	int leak = 1;
	for (int i = 0; i < 40 && leak != 0; i++) {
		sleep_ms(50);
		leak = leak_of(slot);
	}
	CU_ASSERT_EQUAL(leak, 0);
	pp_detach(p);
}

/* A valid fake segment whose strings hold quotes, backslashes, newlines,
 * terminal escapes and invalid UTF-8, and whose slot 1 is flagged as a leak. */
static void test_untrusted_strings(void)
{
	char name_buf[48];
	const char *pool = fake_pool(name_buf, "strings");
	size_t size = pp_layout_size(2, PP_RING_MIN);
	void *m = map_fake(pool, size);
	CU_ASSERT_FATAL(m != NULL);
	fill_valid(m, 2, size, getpid());
	struct pp_shm_header *h = m;
	const char *name = "we\"ird\\po\nol", *url = "http://db/\"x\"\\y\nz\033[2J\xff\xfe";
	snprintf(h->pool_name, sizeof h->pool_name, "%s", name);
	snprintf(h->backend, sizeof h->backend, "%s", url);
	struct pp_slot *slots = (struct pp_slot *)(void *)((char *)m + PP_SLOTS_OFF);
	slots[1].state = PP_SLOT_LEASED;
	slots[1].owner_pid = 4242;
	slots[1].lease_start_ns = pp_now_ns() - 5 * PP_NS_PER_S;
	slots[1].leak_flag = 1;
	int code;
	beat(m);
	json_t *doc = dump_json(pool, &code);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_FATAL(doc != NULL);
	json_t *jp = json_object_get(doc, "pool");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(jp, "name")), name);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(jp, "backend")), "http://db/\"x\"\\y\nz\033[2J??");
	json_t *s1 = json_array_get(json_object_get(doc, "slots"), 1);
	CU_ASSERT(json_is_true(json_object_get(s1, "leak")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(s1, "owner_pid")), 4242);
	CU_ASSERT(json_integer_value(json_object_get(s1, "lease_age_ns")) >= (json_int_t)(4 * PP_NS_PER_S));
	CU_ASSERT_EQUAL(check_document(doc, 2), 0);
	json_decref(doc);
	beat(m);
	CU_ASSERT_EQUAL(run_dump_mode(pool, "--prometheus", OUT_PATH, NULL), 0);
	CU_ASSERT(prom_file_ok(OUT_PATH, name));
	char *t = read_all(OUT_PATH);
	CU_ASSERT(t && strstr(t, "pool=\"we\\\"ird\\\\po\\nol\""));
	CU_ASSERT(t && strstr(t, "phantompool_slot_leak{pool=\"we\\\"ird\\\\po\\nol\",slot=\"1\"} 1"));
	free(t);
	beat(m);
	CU_ASSERT_EQUAL(run_dump(pool, OUT_PATH), 0);
	t = read_all(OUT_PATH);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_PTR_NULL(strchr(t, '\033')); /* no escape sequence reaches a terminal */
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "LEAK"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "4242"));
	free(t);
	munmap(m, size);
	unlink_fake(pool);
}

/* Expect exit code `want` in every mode; for 4 (and 2) nothing on stdout
 * and a reason on stderr; for 3 a document that is still valid.  For 0,
 * the fake segment m gets a fresh heartbeat before each run. */
static void expect_all_modes(void *m, const char *pool, int want, const char *what)
{
	for (size_t i = 0; i < NMODES; i++) {
		if (want == 0)
			beat(m);
		int code = run_dump_mode(pool, modes[i], OUT_PATH, ERR_PATH);
		if (code != want)
			fprintf(stderr, "%s, mode %s: exit %d, want %d\n", what, modes[i] ? modes[i] : "table", code, want);
		CU_ASSERT_EQUAL(code, want);
		char *out = read_all(OUT_PATH), *err = read_all(ERR_PATH);
		CU_ASSERT(out && err);
		if (want == 4 || want == 2)
			CU_ASSERT(out && out[0] == '\0' && err && strstr(err, "phantompool-shmdump: pool"));
		if (want == 3 && modes[i] && strcmp(modes[i], "--json") == 0 && out && out[0]) {
			json_t *doc = json_loads(out, 0, NULL);
			CU_ASSERT(doc && json_is_false(json_object_get(json_object_get(doc, "pool"), "daemon_alive")));
			json_decref(doc);
		}
		free(out);
		free(err);
	}
}

static void test_stale_and_corrupt(void)
{
	char name_buf[48];
	const char *pool = fake_pool(name_buf, "fake");
	size_t size = pp_layout_size(4, PP_RING_MIN);
	void *m = map_fake(pool, size);
	CU_ASSERT_FATAL(m != NULL);
	fill_valid(m, 4, size, getpid());
	expect_all_modes(m, pool, 0, "valid"); /* looks alive: we are its "daemon" */
	struct pp_slot *slots = (struct pp_slot *)(void *)((char *)m + PP_SLOTS_OFF);
	memset(slots, 0xA5, 4 * sizeof *slots); /* garbage in every slot field: still shown */
	expect_all_modes(m, pool, 0, "garbage slots");
	fill_valid(m, 4, size, 999999999); /* no such pid */
	expect_all_modes(m, pool, 3, "dead daemon pid");
	fill_valid(m, 4, size, getpid());
	((struct pp_shm_header *)m)->heartbeat_ns = pp_now_ns() - 10 * PP_NS_PER_S;
	expect_all_modes(m, pool, 3, "old heartbeat");
	fill_valid(m, 4, size, getpid());
	((struct pp_shm_header *)m)->daemon_state = PP_DAEMON_STOPPED;
	expect_all_modes(m, pool, 3, "stopped daemon");
	fill_valid(m, 4, size, getpid());
	((struct pp_shm_header *)m)->layout_version = 77;
	expect_all_modes(m, pool, 4, "other layout version");
	fill_valid(m, 4, size, getpid());
	((struct pp_shm_header *)m)->nslots = 5;
	expect_all_modes(m, pool, 4, "slot count does not match the size");
	memset(m, 0x5A, size);
	expect_all_modes(m, pool, 4, "garbage header");
	munmap(m, size);
	m = map_fake(pool, 100); /* shorter than a header */
	expect_all_modes(m, pool, 4, "truncated");
	munmap(m, 100);
	map_fake(pool, 0); /* empty: the daemon is still initialising, or died doing so */
	expect_all_modes(m, pool, 3, "empty");
	unlink_fake(pool);
}

/* Wait at most ms for child kid; SIGKILL it if it has not ended.  Returns
 * its exit code (as pp_test_wait_child), or -1 when it had to be killed. */
static int wait_child_for(pid_t kid, long ms)
{
	for (long waited = 0; waited < ms; waited += 10) {
		int st;
		if (waitpid(kid, &st, WNOHANG) == kid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		sleep_ms(10);
	}
	kill(kid, SIGKILL);
	pp_test_wait_child(kid);
	return -1;
}

/* A FIFO (anyone may create one in /dev/shm) or a directory at the
 * segment's name: refused as corrupt (exit 4) in every mode, not a hang
 * in open() waiting for a FIFO writer. */
static void test_not_a_segment(void)
{
	char name_buf[48], path[128];
	const char *pool = fake_pool(name_buf, "fifo");
	snprintf(path, sizeof path, "/dev/shm/phantompool-%s", pool);
	for (int kind = 0; kind < 2; kind++) {
		unlink(path);
		rmdir(path);
		CU_ASSERT_FATAL((kind == 0 ? mkfifo(path, 0600) : mkdir(path, 0700)) == 0);
		for (size_t i = 0; i < NMODES; i++) {
			const char *args[] = { "-p", pool, modes[i], NULL };
			int code = wait_child_for(spawn_dump(args, OUT_PATH, ERR_PATH), 5000);
			char *err = read_all(ERR_PATH);
			if (code != 4)
				fprintf(stderr, "\n  %s, mode %s: exit %d (-1: hung, killed)", kind ? "directory" : "FIFO",
					modes[i] ? modes[i] : "table", code);
			CU_ASSERT_EQUAL(code, 4);
			CU_ASSERT(err && strstr(err, "corrupt"));
			free(err);
		}
	}
	rmdir(path);
}

/* A child keeps truncating and restoring a big segment while shmdump reads
 * it: SIGBUS must come out as "torn" (exit 4), never as a crash. */
static void test_torn_while_reading(void)
{
	char name_buf[48];
	const char *pool = fake_pool(name_buf, "torn");
	uint32_t n = PP_MAX_SLOTS;
	size_t size = pp_layout_size(n, PP_RING_MIN);
	void *m = map_fake(pool, size);
	CU_ASSERT_FATAL(m != NULL);
	fill_valid(m, n, size, getpid());
	pid_t flipper = fork();
	if (flipper == 0) {
		char name[96];
		snprintf(name, sizeof name, "/phantompool-%s", pool);
		int fd = shm_open(name, O_RDWR, 0);
		for (;;) { /* the header (first page) survives each cut */
			if (ftruncate(fd, PP_PAGE) != 0)
				_exit(1);
			sleep_ms(1);
			if (ftruncate(fd, (off_t)size) != 0)
				_exit(1);
			sleep_ms(2);
		}
	}
	int torn = 0, crashes = 0, runs = 0;
	uint64_t until = pp_now_ns() + 20 * PP_NS_PER_S;
	for (; runs < 3000 && (torn < 3 || runs < 60) && pp_now_ns() < until; runs++) {
		int code = run_dump_mode(pool, modes[runs % NMODES], NULL, ERR_PATH);
		crashes += !(code == 0 || code == 3 || code == 4);
		char *err = read_all(ERR_PATH);
		torn += code == 4 && err && strstr(err, "torn") != NULL;
		free(err);
	}
	kill(flipper, SIGKILL);
	pp_test_wait_child(flipper);
	fprintf(stderr, "\n  %d runs, %d saw the segment torn (SIGBUS), %d crashed\n", runs, torn, crashes);
	CU_ASSERT_EQUAL(crashes, 0);
	CU_ASSERT(torn > 0);
	munmap(m, size);
	unlink_fake(pool);
}

static int count_of(const char *s, const char *needle);

/* Mappings of the segment of `pool` in process pid (lines of its maps). */
static int segment_mappings(pid_t pid, const char *pool)
{
	char path[64], name[96], line[512];
	snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
	snprintf(name, sizeof name, "/dev/shm/phantompool-%s", pool);
	FILE *f = fopen(path, "r");
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, name) != NULL;
	if (f)
		fclose(f);
	return n;
}

/* A child keeps cutting a segment to nothing and putting it back while
 * --watch reads it every 10 ms: a SIGBUS inside pp_seg_attach (the header
 * gone between fstat and its first read) must not leave that mapping
 * behind, so the watcher never holds more than the one it reads. */
static void test_torn_attach_no_leak(void)
{
	char name_buf[48];
	const char *pool = fake_pool(name_buf, "tornat");
	size_t size = pp_layout_size(2, PP_RING_MIN);
	void *m = map_fake(pool, size);
	CU_ASSERT_FATAL(m != NULL);
	fill_valid(m, 2, size, getpid());
	static unsigned char hdr[PP_PAGE];
	memcpy(hdr, m, sizeof hdr);
	munmap(m, size);
	pid_t flipper = fork();
	if (flipper == 0) {
		char name[96];
		snprintf(name, sizeof name, "/phantompool-%s", pool);
		int fd = shm_open(name, O_RDWR, 0);
		for (;;) { /* nothing, then a valid header again */
			if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)size) != 0 ||
			    pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
				_exit(1);
		}
	}
	const char *args[] = { "-p", pool, "--json", "--watch", "0.01", NULL };
	pid_t kid = spawn_dump(args, NULL, ERR_PATH);
	int most = 0;
	for (int i = 0; i < 30 && most < 2; i++) {
		sleep_ms(100);
		int n = segment_mappings(kid, pool);
		most = n > most ? n : most;
	}
	kill(flipper, SIGKILL);
	pp_test_wait_child(flipper);
	kill(kid, SIGTERM);
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 0);
	char *err = read_all(ERR_PATH);
	fprintf(stderr, "\n  %d torn reads; at most %d mappings of the segment at once\n",
		err ? count_of(err, "torn") : 0, most);
	free(err);
	CU_ASSERT(most <= 1);
	unlink_fake(pool);
}

/* Random bytes in the header and the slots: every mode ends with 0, 3 or
 * 4, and whatever is shown is still valid JSON / valid Prometheus text. */
static void test_random_mutations_never_crash(void)
{
	char name_buf[48];
	const char *pool = fake_pool(name_buf, "fuzz");
	size_t size = pp_layout_size(2, PP_RING_MIN);
	void *m = map_fake(pool, size);
	CU_ASSERT_FATAL(m != NULL);
	srand(42);
	int crashes = 0, invalid = 0;
	for (int i = 0; i < 300; i++) {
		fill_valid(m, 2, size, getpid());
		int flips = 1 + rand() % 16;
		for (int k = 0; k < flips; k++) {
			size_t off = (size_t)rand() % (PP_SLOTS_OFF + 2 * sizeof(struct pp_slot));
			((unsigned char *)m)[off] = (unsigned char)rand();
		}
		const char *mode = modes[i % NMODES];
		int r = run_dump_mode(pool, mode, OUT_PATH, NULL);
		crashes += !(r == 0 || r == 3 || r == 4);
		if ((r == 0 || r == 3) && mode && strcmp(mode, "--json") == 0) {
			json_t *doc = json_load_file(OUT_PATH, 0, NULL);
			invalid += !doc || check_document(doc, 2) != 0;
			json_decref(doc);
		} else if ((r == 0 || r == 3) && mode) {
			char *t = read_all(OUT_PATH), why[512];
			const char *pn = ((struct pp_shm_header *)m)->pool_name;
			/* the checker compares the pool label with the header's name:
			 * only when that name is plain (not mutated into odd bytes) */
			if (t && strspn(pn, "abcdefghijklmnopqrstuvwxyz") == strlen(pn) && strlen(pn) < 40 &&
			    !prom_check(t, pn, why)) {
				fprintf(stderr, "mutation %d: %s\n", i, why);
				invalid++;
			}
			free(t);
		}
	}
	CU_ASSERT_EQUAL(crashes, 0);
	CU_ASSERT_EQUAL(invalid, 0);
	munmap(m, size);
	unlink_fake(pool);
}

/* Count non-overlapping occurrences of needle in s. */
static int count_of(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Run shmdump with args; once its first output is out (so it has blocked
 * SIGINT/SIGTERM to take them itself), let it run ms more and send sig.
 * Returns its exit code and the output in *out (malloc'd). */
static int watch_for(const char *const *args, long ms, int sig, char **out)
{
	unlink(OUT_PATH); /* so that an earlier run's output is not taken for this one's */
	pid_t kid = spawn_dump(args, OUT_PATH, ERR_PATH);
	struct stat st = { 0 };
	for (int i = 0; i < 500 && (stat(OUT_PATH, &st) != 0 || st.st_size == 0); i++)
		sleep_ms(10);
	sleep_ms(ms);
	kill(kid, sig);
	int code = pp_test_wait_child(kid);
	*out = read_all(OUT_PATH);
	return code;
}

static void test_watch(void)
{
	char *out;
	const char *human[] = { "-p", work.pool, "--watch", "0.1", NULL };
	CU_ASSERT_EQUAL(watch_for(human, 600, SIGTERM, &out), 0);
	CU_ASSERT_FATAL(out != NULL);
	int frames = count_of(out, "\033[H\033[2J");
	CU_ASSERT(frames >= 3);
	CU_ASSERT_EQUAL(count_of(out, "\nseats       "), frames); /* a whole view per frame */
	free(out);
	CU_ASSERT_EQUAL(watch_for(human, 300, SIGINT, &out), 0);
	free(out);
	const char *json[] = { "-p", work.pool, "--json", "--watch", "0.1", NULL };
	CU_ASSERT_EQUAL(watch_for(json, 500, SIGTERM, &out), 0);
	CU_ASSERT_FATAL(out != NULL);
	int docs = 0, bad = 0;
	for (char *save, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *doc = json_loads(line, 0, NULL);
		docs++;
		bad += !doc;
		json_decref(doc);
	}
	CU_ASSERT(docs >= 2);
	CU_ASSERT_EQUAL(bad, 0);
	free(out);
	/* A pool that is not there: the frames say so, and SIGTERM still ends it with 0. */
	const char *gone[] = { "-p", "pp-shmdump-never-there", "--watch", "0.1", NULL };
	CU_ASSERT_EQUAL(watch_for(gone, 300, SIGTERM, &out), 0);
	CU_ASSERT(out && strstr(out, "no such pool"));
	free(out);
}

int main(void)
{
	snprintf(out_path, sizeof out_path, "/tmp/pp-shmdump-test-%ld.out", (long)getpid());
	snprintf(err_path, sizeof err_path, "/tmp/pp-shmdump-test-%ld.err", (long)getpid());
	static const struct pp_test tests[] = {
		{ "usage, --help and exit codes", test_usage },
		{ "a live pool: header and slot rows", test_live_pool },
		{ "exact counters after a known workload (JSON, Prometheus, table)", test_workload_counters },
		{ "JSON: every documented field with its type", test_json_schema },
		{ "Prometheus: strict format check, promtool", test_prometheus_format },
		{ "a lease past --leak-threshold: LEAK, leak true, slot_leak 1", test_live_leak_marker },
		{ "untrusted strings: escaped, terminal-safe; LEAK marker", test_untrusted_strings },
		{ "stale, other version, garbage, truncated: exit codes in every mode", test_stale_and_corrupt },
		{ "a FIFO or a directory at the segment's name: exit 4, no hang", test_not_a_segment },
		{ "torn while reading (SIGBUS): exit 4, never a crash", test_torn_while_reading },
		{ "torn inside attach (SIGBUS) under --watch: no mapping left behind", test_torn_attach_no_leak },
		{ "300 random mutations: no crash, outputs stay valid", test_random_mutations_never_crash },
		{ "--watch redraws, exits 0 on SIGTERM/SIGINT", test_watch },
	};
	return pp_test_main("shmdump", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
