/* harness.c - `make bench`: every way a worker can reach PhantomDB, side by
 * side in one run, under three CPU placements (see harness.h for the map
 * and docs/BENCHMARKS.md for what each figure means).
 *
 * Environment (all optional):
 *   BENCH_QUICK=1         a short subset for development (free placement,
 *                         1 and 16 workers, nginx + TLS backends, 0.3 s cells)
 *   BENCH_SECS, BENCH_WARM   window and warm-up per cell, seconds (1.0, 0.2)
 *   BENCH_PLACEMENTS=free,one,split   BENCH_BACKENDS=nginx,ref,tls,tlsv
 *   BENCH_LOADS=1,16,64,256   BENCH_CGI_LOADS=1,16   BENCH_SLOTS=8,16
 *   BENCH_MODES=direct_ka,...  (mode names as in the table)
 *   BENCH_NGINX_WORKERS=2  worker_processes of both nginx instances
 *   BENCH_OUT=build/bench  where results.csv, results.txt, bench.png go
 *   BENCH_SRC=bench        where nginx/NAME.conf.in are
 *   BENCH_DAEMON_TLS_ARGS / BENCH_DAEMON_TLSV_ARGS  extra phantompoold
 *                         arguments for the TLS / TLS-verified backends
 *                         (default: guessed from phantompoold --help)
 *   BENCH_GOAL_ROUNDS=2   reruns of the cells the goals compare (goals use
 *                         the median of the matrix run and these)
 *   BENCH_BG_MAX=20, BENCH_RETRIES=2, BENCH_RETRY_SECS=150: rerun a cell
 *                         while other processes used more than BG_MAX % of
 *                         the CPUs during it, keeping the quietest run
 *   BENCH_KEEP_TMP=1      keep the temp dir (configs, logs)
 */
#include "harness.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"

const struct mode_def mode_defs[M_COUNT] = {
	[M_DIRECT_KA] = { "direct_ka", "libcurl keep-alive handle per worker (N workers, N connections)", 0, 0, 1,
			  curl_ka_init, curl_request, curl_fini },
	[M_DIRECT_NEW] = { "direct_new", "libcurl, new connection per request (CURLOPT_FORBID_REUSE)", 0, 0, 1,
			   curl_new_init, curl_request, curl_fini },
	[M_CGI_NOOP] = { "cgi_noop", "CGI floor: fork+exec of a program that does nothing", 0, 0, 0, cgi_init,
			 cgi_request, cgi_fini },
	[M_CGI_CURL] = { "cgi_curl", "CGI direct: fork+exec of a libcurl program doing one GET", 0, 0, 1,
			 cgi_init, cgi_request, cgi_fini },
	[M_CGI_POOL] = { "cgi_pool", "CGI pool: fork+exec of a -lphantompool program (pp_attach + pp_do)", 1, 0,
			 1, cgi_init, cgi_request, cgi_fini },
	[M_PROXY] = { "proxy", "libcurl keep-alive on a unix socket to nginx with upstream keep-alive", 0, 1, 1,
		      curl_ka_init, curl_request, curl_fini },
	[M_POOL_DO] = { "pool_do", "phantompool: pp_do per request", 1, 0, 1, pool_init, pool_do_request,
			pool_fini },
	[M_POOL_LEASE] = { "pool_lease", "phantompool: pp_lease + pp_request + pp_release, lease wait timed", 1,
			   0, 1, pool_init, pool_lease_request, pool_fini },
	[M_POOL_HELD] = { "pool_held", "phantompool: one lease held, pp_request per request", 1, 0, 1,
			  pool_held_init, pool_held_request, pool_fini },
	[M_CGI_STATIC] = { "cgi_static", "CGI pool, libphantompool.a linked in: the same program, loading only libc",
			   1, 0, 1, cgi_init, cgi_request, cgi_fini },
	[M_DIRECT_WEB] = { "direct_web", "web request: 3 GETs, 2 ms of work between, one keep-alive handle per worker",
			   0, 0, 1, curl_ka_init, curl_web_request, curl_fini },
	[M_POOL_WEB] = { "pool_web", "web request: pp_lease, 3 pp_request, 2 ms of work between, pp_release", 1, 0,
			 1, pool_init, pool_web_request, pool_fini },
	[M_DIRECT_PACED] = { "direct_paced", "libcurl keep-alive, 1 GET every 2 ms (the CGI cells' pace; only the GET timed)",
			     0, 0, 1, curl_ka_init, curl_request, curl_fini, PACED_US },
	[M_CGI_SIDE] = { "cgi_side", "G4 side by side: cgi_noop, cgi_static, cgi_pool, one keep-alive GET, in turn",
			 1, 0, 1, cgi_side_init, cgi_side_request, cgi_side_fini, 0, SIDE_PARTS, side_part_names },
	[M_POOL_SIDE] = { "pool_side", "G1 side by side: pp_do and a keep-alive GET, 64 of each in turn", 1, 0, 1,
			  pool_side_init, pool_side_request, pool_side_fini, 0, PSIDE_PARTS, pool_side_part_names },
};

/* ---- configuration --------------------------------------------------- */

static struct {
	int quick;
	double secs, warm;
	int placements[PL_COUNT], nplacements;
	int backends[BE_COUNT], nbackends;
	int loads[16], nloads;
	int cgi_loads[16], ncgi_loads;
	int slots[8], nslots;
	int modes[M_COUNT];      /* enabled */
	int nginx_workers;
	double bg_max;           /* rerun a cell when others used more CPU (%) */
	int retries;             /* at most this many reruns per cell */
	double retry_secs;       /* and at most this long in reruns overall */
	int goal_rounds;         /* interleaved reruns of the goals' cells */
	char out[512], src[512], build[512];
} cfg;

static int parse_list(const char *s, int *out, int max)
{
	int n = 0;
	while (s && *s && n < max) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s)
			break;
		out[n++] = (int)v;
		s = *end ? end + 1 : end;
	}
	return n;
}

static int name_index(const char *name, size_t len, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && !strncmp(names[i], name, len))
			return i;
	return -1;
}

static int parse_names(const char *s, const char *const *names, int n, int *out)
{
	int k = 0;
	while (s && *s) {
		size_t len = strcspn(s, ", ");
		int i = name_index(s, len, names, n);
		if (i < 0) {
			fprintf(stderr, "bench: unknown name '%.*s'\n", (int)len, s);
			exit(2);
		}
		out[k++] = i;
		s += len;
		s += strspn(s, ", ");
	}
	return k;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

static void configure(void)
{
	cfg.quick = atoi(env_or("BENCH_QUICK", "0"));
	cfg.secs = atof(env_or("BENCH_SECS", cfg.quick ? "0.3" : "1.0"));
	cfg.warm = atof(env_or("BENCH_WARM", cfg.quick ? "0.1" : "0.2"));
	cfg.nplacements = parse_names(env_or("BENCH_PLACEMENTS", cfg.quick ? "free" : "free,one,split"),
				      placement_names, PL_COUNT, cfg.placements);
	cfg.nbackends = parse_names(env_or("BENCH_BACKENDS", cfg.quick ? "nginx,tls" : "nginx,ref,tls,tlsv"),
				    backend_names, BE_COUNT, cfg.backends);
	cfg.nloads = parse_list(env_or("BENCH_LOADS", cfg.quick ? "1,16" : "1,16,64,256"), cfg.loads, 16);
	cfg.ncgi_loads = parse_list(env_or("BENCH_CGI_LOADS", cfg.quick ? "1" : "1,16"), cfg.cgi_loads, 16);
	cfg.nslots = parse_list(env_or("BENCH_SLOTS", cfg.quick ? "8" : "8,16"), cfg.slots, 8);
	const char *mn[M_COUNT];
	for (int i = 0; i < M_COUNT; i++)
		mn[i] = mode_defs[i].name;
	int ms[M_COUNT];
	int nm = parse_names(env_or("BENCH_MODES", "direct_ka,direct_new,direct_paced,cgi_noop,cgi_curl,cgi_pool,"
						   "cgi_static,cgi_side,proxy,pool_do,pool_side,pool_lease,pool_held"),
			     mn, M_COUNT, ms);
	for (int i = 0; i < nm; i++)
		cfg.modes[ms[i]] = 1;
	cfg.nginx_workers = atoi(env_or("BENCH_NGINX_WORKERS", "2"));
	cfg.bg_max = atof(env_or("BENCH_BG_MAX", "20"));
	cfg.retries = atoi(env_or("BENCH_RETRIES", "2"));
	cfg.goal_rounds = atoi(env_or("BENCH_GOAL_ROUNDS", cfg.quick ? "0" : "2"));
	cfg.retry_secs = atof(env_or("BENCH_RETRY_SECS", cfg.quick ? "20" : "150"));
	snprintf(cfg.build, sizeof cfg.build, "%s", env_or("PP_BUILD", "build"));
	char def_out[600];
	snprintf(def_out, sizeof def_out, "%s/bench", cfg.build);
	snprintf(cfg.out, sizeof cfg.out, "%s", env_or("BENCH_OUT", def_out));
	snprintf(cfg.src, sizeof cfg.src, "%s", env_or("BENCH_SRC", "bench"));
}

/* ---- the servers of one placement ----------------------------------- */

struct placement_servers {
	cpu_set_t workers, servers;
	struct server be_nginx;      /* backend nginx: plain + TLS listeners */
	int be_port, be_tls_port;
	struct server ref;           /* reference backend */
	struct pp_backend ref_info;
	struct server proxy;         /* nginx pooling proxy, per backend */
	char proxy_sock[300];
	struct server daemon;        /* phantompoold, per backend and size */
	char pool[48];
	pp_pool *pool_handle;
};

static struct placement_servers ps;
/* Copies of the programs this run uses, taken at start: the tree may be
 * rebuilt while the bench runs, and a daemon of another layout version
 * than the harness's would not attach. */
static char bindir[300], libdir[300];
static char cert[300];
static const char *nginx;
static char daemon_help[8192];
static int pool_seq;
static int seats_apart; /* seats per pool when more than connections, else 0 */

static struct cell cells[4096];
static int ncells;
static double lease_ns[PL_COUNT];
static char notes[64][300];
static int nnotes;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[300];
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (int i = 0; i < nnotes; i++)
		if (!strcmp(notes[i], buf))
			return;
	if (nnotes < 64)
		snprintf(notes[nnotes++], sizeof notes[0], "%s", buf);
	fprintf(stderr, "bench: note: %s\n", buf);
}

static void set_placement_cpus(int pl)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	CPU_ZERO(&ps.workers);
	CPU_ZERO(&ps.servers);
	switch (pl) {
	case PL_FREE:
		for (long i = 0; i < ncpu; i++) {
			CPU_SET((int)i, &ps.workers);
			CPU_SET((int)i, &ps.servers);
		}
		break;
	case PL_ONE:
		CPU_SET(0, &ps.workers);
		CPU_SET(0, &ps.servers);
		break;
	case PL_SPLIT:
		CPU_SET(0, &ps.workers);
		CPU_SET(1, &ps.servers);
		break;
	}
	/* The harness itself runs with the workers (it mostly sleeps). */
	sched_setaffinity(0, sizeof ps.workers, &ps.workers);
}

static int start_backend_nginx(void)
{
	char conf[400], log[400], port[16], tport[16], workers[16], dir[300];
	ps.be_port = free_port();
	ps.be_tls_port = free_port();
	while (ps.be_tls_port == ps.be_port)
		ps.be_tls_port = free_port();
	snprintf(port, sizeof port, "%d", ps.be_port);
	snprintf(tport, sizeof tport, "%d", ps.be_tls_port);
	snprintf(workers, sizeof workers, "%d", cfg.nginx_workers);
	snprintf(dir, sizeof dir, "%s", bench_tmpdir);
	snprintf(conf, sizeof conf, "%s/backend.conf", bench_tmpdir);
	char tmpl[600];
	snprintf(tmpl, sizeof tmpl, "%s/nginx/backend.conf.in", cfg.src);
	const char *keys[] = { "DIR", "PORT", "TLS_PORT", "WORKERS", NULL };
	const char *vals[] = { dir, port, tport, workers, NULL };
	if (render_template(tmpl, conf, keys, vals) != 0)
		return -1;
	snprintf(log, sizeof log, "%s/backend-nginx.log", bench_tmpdir);
	char *argv[] = { (char *)nginx, "-p", dir, "-c", conf, "-e", log, NULL };
	if (srv_spawn(&ps.be_nginx, "backend-nginx", argv, &ps.servers, log, -1) != 0 ||
	    wait_listening(ps.be_port, NULL, 5000) != 0 || wait_listening(ps.be_tls_port, NULL, 5000) != 0) {
		srv_dump_log(&ps.be_nginx);
		srv_stop(&ps.be_nginx);
		return -1;
	}
	return 0;
}

static int start_ref(void)
{
	int fds[2];
	char log[400];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	snprintf(log, sizeof log, "%s/phantomdb-ref.log", bench_tmpdir);
	char exe[600];
	snprintf(exe, sizeof exe, "%s/phantomdb-ref", bindir);
	char *argv[] = { exe, "--port", "0", "--quiet", NULL };
	int rc = srv_spawn(&ps.ref, "phantomdb-ref", argv, &ps.servers, log, fds[1]);
	close(fds[1]);
	char buf[256] = "";
	size_t len = 0;
	while (rc == 0 && !memchr(buf, '\n', len) && len + 1 < sizeof buf) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0)
			break;
		ssize_t n = read(fds[0], buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
	}
	close(fds[0]);
	char *colon = strrchr(buf, ':');
	if (rc != 0 || strncmp(buf, "listening ", 10) || !colon) {
		srv_dump_log(&ps.ref);
		srv_stop(&ps.ref);
		return -1;
	}
	memset(&ps.ref_info, 0, sizeof ps.ref_info);
	ps.ref_info.pid = ps.ref.pid;
	ps.ref_info.port = atoi(colon + 1);
	snprintf(ps.ref_info.url, sizeof ps.ref_info.url, "http://127.0.0.1:%d", ps.ref_info.port);
	return 0;
}

static int conns_nginx(void *arg, long *acc, long *open)
{
	return nginx_conns(*(int *)arg, acc, open);
}

static int conns_ref(void *arg, long *acc, long *open)
{
	return pp_backend_connections(arg, acc, open);
}

/* The URL a direct client uses for backend be (path /health appended by
 * the caller), and TLS flags. */
static void backend_url(int be, char *buf, size_t len, int *tls, int *verify)
{
	*tls = be == BE_TLS || be == BE_TLSV;
	*verify = be == BE_TLSV;
	if (be == BE_REF)
		snprintf(buf, len, "%s", ps.ref_info.url);
	else if (*tls)
		snprintf(buf, len, "https://127.0.0.1:%d", ps.be_tls_port);
	else
		snprintf(buf, len, "http://127.0.0.1:%d", ps.be_port);
}

static int start_proxy(int be)
{
	char conf[400], log[400], workers[16], dir[300], up[64], scheme[8], tlsopts[700], keepalive[16];
	int tls, verify;
	char base[200];
	backend_url(be, base, sizeof base, &tls, &verify);
	/* Upstream keep-alive for every worker of the largest load (the
	 * template says why), at least 16. */
	int ka = 16;
	for (int i = 0; i < cfg.nloads; i++)
		if (cfg.loads[i] > ka)
			ka = cfg.loads[i];
	snprintf(keepalive, sizeof keepalive, "%d", ka);
	snprintf(dir, sizeof dir, "%s", bench_tmpdir);
	snprintf(conf, sizeof conf, "%s/proxy.conf", bench_tmpdir);
	snprintf(ps.proxy_sock, sizeof ps.proxy_sock, "%s/proxy.sock", bench_tmpdir);
	unlink(ps.proxy_sock);
	snprintf(workers, sizeof workers, "%d", cfg.nginx_workers);
	snprintf(up, sizeof up, "127.0.0.1:%d",
		 be == BE_REF ? ps.ref_info.port : tls ? ps.be_tls_port : ps.be_port);
	snprintf(scheme, sizeof scheme, "%s", tls ? "https" : "http");
	if (!tls)
		tlsopts[0] = 0;
	else if (verify)
		snprintf(tlsopts, sizeof tlsopts,
			 "proxy_ssl_verify on; proxy_ssl_trusted_certificate %s; proxy_ssl_name localhost; "
			 "proxy_ssl_session_reuse on;",
			 cert);
	else
		snprintf(tlsopts, sizeof tlsopts, "proxy_ssl_verify off; proxy_ssl_session_reuse on;");
	char tmpl[600];
	snprintf(tmpl, sizeof tmpl, "%s/nginx/proxy.conf.in", cfg.src);
	const char *keys[] = { "DIR", "WORKERS", "UPSTREAM", "SCHEME", "TLS_OPTS", "SOCKET", "KEEPALIVE", NULL };
	const char *vals[] = { dir, workers, up, scheme, tlsopts, ps.proxy_sock, keepalive, NULL };
	if (render_template(tmpl, conf, keys, vals) != 0)
		return -1;
	snprintf(log, sizeof log, "%s/proxy-nginx.log", bench_tmpdir);
	char *argv[] = { (char *)nginx, "-p", dir, "-c", conf, "-e", log, NULL };
	if (srv_spawn(&ps.proxy, "proxy-nginx", argv, &ps.servers, log, -1) != 0 ||
	    wait_listening(0, ps.proxy_sock, 5000) != 0) {
		srv_dump_log(&ps.proxy);
		srv_stop(&ps.proxy);
		return -1;
	}
	return 0;
}

/* phantompoold's TLS arguments for backend be, into argv from index n.
 * Returns the new n, or -1 when this daemon cannot do it (note set). */
static int daemon_tls_args(int be, char **argv, int n, char *store, size_t storelen)
{
	if (be != BE_TLS && be != BE_TLSV)
		return n;
	const char *env = getenv(be == BE_TLS ? "BENCH_DAEMON_TLS_ARGS" : "BENCH_DAEMON_TLSV_ARGS");
	if (env) {
		snprintf(store, storelen, "%s", env);
		for (char *tok = strtok(store, " "); tok && n < 30; tok = strtok(NULL, " "))
			argv[n++] = tok;
		return n;
	}
	if (!strstr(daemon_help, "--ca-file")) {
		note("phantompoold has no TLS options yet (no --ca-file in --help): pool rows skipped for "
		     "the TLS backends");
		return -1;
	}
	/* Trust exactly the bench's certificate; for "tls" (no verification)
	 * use whichever switch the daemon offers. */
	if (be == BE_TLSV) {
		argv[n++] = "--ca-file";
		argv[n++] = cert;
		if (strstr(daemon_help, "--tls-verify ")) {
			argv[n++] = "--tls-verify";
			argv[n++] = "yes";
		}
		return n;
	}
	if (strstr(daemon_help, "--no-tls-verify")) {
		argv[n++] = "--no-tls-verify";
	} else if (strstr(daemon_help, "--tls-verify ")) {
		argv[n++] = "--tls-verify";
		argv[n++] = "no";
	} else if (strstr(daemon_help, "--insecure")) {
		argv[n++] = "--insecure";
	} else {
		note("phantompoold has --ca-file but no switch to turn verification off: pool rows skipped "
		     "for the unverified TLS backend");
		return -1;
	}
	argv[n++] = "--ca-file";
	argv[n++] = cert;
	return n;
}

static int start_daemon_min(int be, int slots, int min);

static int start_daemon(int be, int slots)
{
	return start_daemon_min(be, slots, slots);
}

static int start_daemon_min(int be, int slots, int min)
{
	char nmin[16];
	snprintf(nmin, sizeof nmin, "%d", min);
	char base[200], exe[600], pidfile[400], log[400], nslots[16], store[1024];
	int tls, verify;
	backend_url(be, base, sizeof base, &tls, &verify);
	snprintf(ps.pool, sizeof ps.pool, "bench%ld-%d", (long)getpid(), ++pool_seq);
	snprintf(exe, sizeof exe, "%s/phantompoold", bindir);
	snprintf(pidfile, sizeof pidfile, "%s/%s.pid", bench_tmpdir, ps.pool);
	snprintf(log, sizeof log, "%s/phantompoold.log", bench_tmpdir);
	snprintf(nslots, sizeof nslots, "%d", slots);
	char *argv[40] = { exe, "-f", "-p", ps.pool, "--pidfile", pidfile, "--log-level", "warning",
			   "-b", base, "--min", nmin, "--max", nslots };
	int n = daemon_tls_args(be, argv, 14, store, sizeof store);
	if (n < 0)
		return -1;
	/* BENCH_DAEMON_ARGS: more daemon options for every pool, e.g.
	 * "--spin-us 0" to measure without spinning. */
	static char extra[512];
	const char *env = getenv("BENCH_DAEMON_ARGS");
	if (env) {
		snprintf(extra, sizeof extra, "%s", env);
		for (char *tok = strtok(extra, " "); tok && n < 38; tok = strtok(NULL, " "))
			argv[n++] = tok;
	}
	argv[n] = NULL;
	bench_track_pool(ps.pool);
	if (srv_spawn(&ps.daemon, "phantompoold", argv, &ps.servers, log, -1) != 0)
		return -1;
	int arc = 0;
	for (int i = 0; i < 500; i++) {
		if ((arc = pp_attach(ps.pool, &ps.pool_handle)) == 0)
			break;
		ps.pool_handle = NULL;
		if (!srv_alive(&ps.daemon))
			break;
		usleep(10000);
	}
	if (!ps.pool_handle) {
		srv_dump_log(&ps.daemon);
		srv_stop(&ps.daemon);
		note("phantompoold did not start for backend %s (last pp_attach: %s; log above)", backend_names[be],
		     pp_strerror(arc));
		if (arc == PP_EVERSION) {
			fprintf(stderr, "bench: phantompoold and this harness have different segment layouts: "
					"rebuild with make bench\n");
			exit(1);
		}
		return -1;
	}
	/* Seats apart from connections (--seats above --max in
	 * BENCH_DAEMON_ARGS): the goals of that pass differ (G3b, G5, G8). */
	pp_pool_status st;
	if (pp_status(ps.pool_handle, &st) == 0 && st.max > st.conns_max && st.conns_max > 0)
		seats_apart = (int)st.max;
	/* Let it open its warm connections (--min = slots) before measuring. */
	for (int i = 0; min > 0 && i < 100; i++) {
		long open = -1;
		int rc = be == BE_REF ? pp_backend_connections(&ps.ref_info, NULL, &open)
				      : nginx_conns(ps.be_port, NULL, &open);
		if (rc != 0 || open >= min)
			break;
		usleep(10000);
	}
	return 0;
}

static void stop_daemon(void)
{
	pp_detach(ps.pool_handle);
	ps.pool_handle = NULL;
	srv_stop(&ps.daemon);
}

/* Median ns of an uncontended pp_lease(…, 0) + pp_release on a real
 * segment (the goal: <= 100 ns). */
static double lease_microbench(pp_pool *p)
{
	double v[8];
	for (int r = 0; r < 8; r++) { /* the first run warms up */
		struct pp_lease *l;
		const long iters = r == 0 ? 100000 : cfg.quick ? 200000 : 1000000;
		uint64_t t0 = pp_now_ns();
		for (long i = 0; i < iters; i++)
			if (pp_lease(p, 0, &l) != 0 || pp_release(l) != 0)
				return -1;
		v[r] = (double)(pp_now_ns() - t0) / (double)iters;
	}
	for (int i = 2; i < 8; i++)
		for (int k = i; k > 1 && v[k] < v[k - 1]; k--) {
			double t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return v[4]; /* median of runs 1..7 */
}

/* ---- running the matrix ---------------------------------------------- */

static struct target tgt;

static void set_cgi_env(int be, const char *url, int verify)
{
	int n = 0;
	const char *path = getenv("PATH");
	snprintf(tgt.cgi_env_buf[n++], sizeof tgt.cgi_env_buf[0], "PATH=%s", path ? path : "/usr/bin:/bin");
	snprintf(tgt.cgi_env_buf[n++], sizeof tgt.cgi_env_buf[0], "GATEWAY_INTERFACE=CGI/1.1");
	snprintf(tgt.cgi_env_buf[n++], sizeof tgt.cgi_env_buf[0], "REQUEST_METHOD=GET");
	snprintf(tgt.cgi_env_buf[n++], sizeof tgt.cgi_env_buf[0], "PP_BENCH_URL=%s", url);
	snprintf(tgt.cgi_env_buf[n++], sizeof tgt.cgi_env_buf[0], "PP_BENCH_VERIFY=%d", verify);
	snprintf(tgt.cgi_env_buf[n++], sizeof tgt.cgi_env_buf[0], "PP_BENCH_CA=%s", cert);
	snprintf(tgt.cgi_env_buf[n++], sizeof tgt.cgi_env_buf[0], "PHANTOMPOOL=%s", ps.pool);
	/* cgi_pool's RUNPATH names build/; this finds the run's copy first */
	snprintf(tgt.cgi_env_buf[n++], sizeof tgt.cgi_env_buf[0], "LD_LIBRARY_PATH=%s", libdir);
	for (int i = 0; i < n; i++)
		tgt.cgi_env[i] = tgt.cgi_env_buf[i];
	tgt.cgi_env[n] = NULL;
	(void)be;
}

static int cur_round; /* 0: the matrix; 1..: goal rounds */

/* What the workers of a cell talk to (tgt), for backend be and a mode. */
static void set_target(int be, int mode)
{
	int tls, verify;
	char base[200];
	backend_url(be, base, sizeof base, &tls, &verify);
	memset(&tgt, 0, sizeof tgt);
	snprintf(tgt.url, sizeof tgt.url, "%s/health", base);
	tgt.tls = tls;
	tgt.verify = verify;
	snprintf(tgt.ca_file, sizeof tgt.ca_file, "%s", cert);
	if (mode == M_PROXY) {
		snprintf(tgt.url, sizeof tgt.url, "http://localhost/health");
		snprintf(tgt.unix_path, sizeof tgt.unix_path, "%s", ps.proxy_sock);
		tgt.tls = tgt.verify = 0;
	}
	if (mode_defs[mode].needs_pool) {
		tgt.pool = ps.pool_handle;
		snprintf(tgt.pool_name, sizeof tgt.pool_name, "%s", ps.pool);
	}
	static const char *const cgi_names[M_COUNT] = { [M_CGI_NOOP] = "cgi_noop", [M_CGI_CURL] = "cgi_curl",
							 [M_CGI_POOL] = "cgi_pool", [M_CGI_STATIC] = "cgi_static" };
	if (cgi_names[mode])
		snprintf(tgt.cgi_prog, sizeof tgt.cgi_prog, "%s/%s", bindir, cgi_names[mode]);
	if (mode == M_CGI_SIDE)
		for (int i = 0; i < SIDE_DIRECT; i++)
			snprintf(tgt.side_prog[i], sizeof tgt.side_prog[i], "%s/%s", bindir, side_part_names[i]);
	set_cgi_env(be, tgt.url, verify);
}

/* Which servers a cell charges CPU to and asks for connection counts. */
static void set_cell_env(struct cell_env *env, int be, int mode)
{
	memset(env, 0, sizeof *env);
	env->t = &tgt;
	/* cgi_side: four parts of ~0.1-1.2 ms each share one worker */
	env->secs = mode == M_CGI_SIDE ? 3 * cfg.secs : cfg.secs;
	env->warm_secs = cfg.warm;
	int k = 0;
	if (mode != M_CGI_NOOP) {
		env->cpu_servers[k++] = be == BE_REF ? &ps.ref : &ps.be_nginx;
		env->conns = be == BE_REF ? conns_ref : conns_nginx;
		env->conns_arg = be == BE_REF ? (void *)&ps.ref_info : (void *)&ps.be_port;
	}
	if (mode == M_PROXY)
		env->cpu_servers[k++] = env->cpu_mid = &ps.proxy;
	if (mode_defs[mode].needs_pool)
		env->cpu_servers[k++] = env->cpu_mid = &ps.daemon;
	env->cpu_servers[k] = NULL;
}

/* With seats apart from connections, a pool_lease cell's wait is the
 * daemon's queue for a connection: its figures since the daemon started
 * (restart_daemon_for_cell, just before the cell). */
static void cell_conn_wait(struct cell *c)
{
	pp_pool_status st;
	if (!c->ran || c->mode != M_POOL_LEASE || !seats_apart || !ps.pool_handle ||
	    pp_status(ps.pool_handle, &st) != 0 || !st.queue_waits)
		return;
	c->qw_n = (unsigned long long)st.queue_waits;
	c->qw_p50 = (double)st.queue_wait_p50_ns / 1000.0;
	c->qw_p99 = (double)st.queue_wait_p99_ns / 1000.0;
	c->qw_max = (double)st.queue_wait_max_ns / 1000.0;
}

/* A fresh daemon for the next cell, so its connection-wait figures are
 * that cell's own.  0 or -1. */
static int restart_daemon_for_cell(int be, int slots)
{
	stop_daemon();
	if (start_daemon(be, slots) != 0)
		return -1;
	tgt.pool = ps.pool_handle;
	snprintf(tgt.pool_name, sizeof tgt.pool_name, "%s", ps.pool);
	return 0;
}

static void run_cell(int pl, int be, int mode, int slots, int workers)
{
	if (!cfg.modes[mode] || ncells >= (int)(sizeof cells / sizeof cells[0]))
		return;
	struct cell *c = &cells[ncells++];
	memset(c, 0, sizeof *c);
	c->round = cur_round;
	c->placement = pl;
	c->backend = mode_defs[mode].per_backend ? be : -1;
	c->mode = mode;
	c->slots = mode_defs[mode].needs_pool ? slots : 0;
	c->workers = workers;
	set_target(be, mode);
	struct cell_env env;
	set_cell_env(&env, be, mode);
	if (cell_run(c, &env) != 0)
		c->ran = 0;
	cell_conn_wait(c);
	c->tries = 1;
	/* Another user of the machine took CPU during the window: run the
	 * cell again (within the retry budget) and keep the quietest run. */
	static double retry_spent;
	while (c->ran && c->bg_pct > cfg.bg_max && c->tries <= cfg.retries && retry_spent < cfg.retry_secs) {
		struct cell again = *c;
		memset(again.note, 0, sizeof again.note);
		uint64_t t0 = pp_now_ns();
		if (mode == M_POOL_LEASE && seats_apart && restart_daemon_for_cell(be, slots) != 0)
			break;
		int rc = cell_run(&again, &env);
		cell_conn_wait(&again);
		retry_spent += (double)(pp_now_ns() - t0) / 1e9;
		c->tries++;
		if (rc == 0 && again.bg_pct < c->bg_pct) {
			again.tries = c->tries;
			*c = again;
		}
	}
	report_cell_line(c);
}

/* Is w one of the configured loads? */
static int in_loads(int w)
{
	for (int i = 0; i < cfg.nloads; i++)
		if (cfg.loads[i] == w)
			return 1;
	return 0;
}

static void run_pool_cells(int pl, int be)
{
	const int *l = cfg.loads;
	for (int si = 0; si < cfg.nslots; si++) {
		int s = cfg.slots[si];
		if (!cfg.modes[M_POOL_DO] && !cfg.modes[M_POOL_LEASE] && !cfg.modes[M_POOL_HELD] && !cfg.modes[M_POOL_WEB] &&
		    !(cfg.modes[M_POOL_SIDE] && si == cfg.nslots - 1) &&
		    !((cfg.modes[M_CGI_POOL] || cfg.modes[M_CGI_STATIC] || cfg.modes[M_CGI_SIDE]) &&
		      si == cfg.nslots - 1))
			continue;
		if (start_daemon(be, s) != 0)
			return;
		for (int i = 0; i < cfg.nloads; i++)
			run_cell(pl, be, M_POOL_DO, s, l[i]);
		for (int i = 0; i < cfg.nloads; i++)
			run_cell(pl, be, M_POOL_WEB, s, l[i]);
		/* fairness: the largest load, where workers queue for slots (or,
		 * seats apart, for a connection: on a daemon of its own) */
		if (seats_apart && cfg.modes[M_POOL_LEASE] && restart_daemon_for_cell(be, s) != 0)
			return;
		run_cell(pl, be, M_POOL_LEASE, s, l[cfg.nloads - 1]);
		if (si == cfg.nslots - 1) {
			run_cell(pl, be, M_POOL_HELD, s, 1);
			for (int i = 0; i < cfg.ncgi_loads; i++)
				run_cell(pl, be, M_CGI_POOL, s, cfg.cgi_loads[i]);
			for (int i = 0; i < cfg.ncgi_loads; i++)
				run_cell(pl, be, M_CGI_STATIC, s, cfg.cgi_loads[i]);
			if (be == BE_NGINX)
				run_cell(pl, be, M_CGI_SIDE, s, 1);
			if (be == BE_NGINX && in_loads(1))
				run_cell(pl, be, M_POOL_SIDE, s, 1);
		}
		stop_daemon();
	}
}

static void run_backend(int pl, int be)
{
	const char *why = NULL;
	if (be == BE_REF && !ps.ref.pid)
		why = "reference backend not running";
	if (be != BE_REF && !ps.be_nginx.pid)
		why = "nginx backend not running";
	if (why) {
		note("%s: backend %s skipped (%s)", placement_names[pl], backend_names[be], why);
		return;
	}
	for (int i = 0; i < cfg.nloads; i++)
		run_cell(pl, be, M_DIRECT_KA, 0, cfg.loads[i]);
	for (int i = 0; i < cfg.nloads; i++)
		run_cell(pl, be, M_DIRECT_NEW, 0, cfg.loads[i]);
	for (int i = 0; i < cfg.nloads; i++)
		run_cell(pl, be, M_DIRECT_WEB, 0, cfg.loads[i]);
	run_cell(pl, be, M_DIRECT_PACED, 0, 1);
	for (int i = 0; i < cfg.ncgi_loads; i++)
		run_cell(pl, be, M_CGI_CURL, 0, cfg.cgi_loads[i]);
	run_pool_cells(pl, be);
	if (cfg.modes[M_PROXY]) {
		if (!nginx)
			note("nginx not installed: proxy rows skipped (make bench-deps)");
		else if (start_proxy(be) != 0)
			note("%s: the nginx proxy did not start for %s", placement_names[pl], backend_names[be]);
		else {
			for (int i = 0; i < cfg.nloads; i++)
				run_cell(pl, be, M_PROXY, 0, cfg.loads[i]);
			srv_stop(&ps.proxy);
		}
	}
}

/* The cells the goals compare, again, interleaved, cfg.goal_rounds times
 * (nginx backend): each goal then uses the median of its matrix run and
 * these, so that one burst of noise does not decide it.  Within a round
 * only one middle server runs at a time (none for the direct cells, then
 * the proxy, then the daemon), so each cell's `open` counts only its own
 * mode's backend connections, as in the matrix.  With seats apart from
 * connections the pass's own goals' cells (G3b, G3c, G5, G8) are rerun. */
static void run_goal_rounds(int pl)
{
	if (cfg.goal_rounds <= 0 || !ps.be_nginx.pid)
		return;
	int s = cfg.slots[cfg.nslots - 1];
	static const int pw[] = { 16, 64, 256 };
	for (cur_round = 1; cur_round <= cfg.goal_rounds; cur_round++) {
		if (!seats_apart) {
			run_cell(pl, BE_NGINX, M_DIRECT_KA, 0, 1);
			run_cell(pl, BE_NGINX, M_DIRECT_KA, 0, 16);
		}
		if (in_loads(256))
			run_cell(pl, BE_NGINX, M_DIRECT_WEB, 0, 256);
		if (!seats_apart) {
			run_cell(pl, BE_NGINX, M_DIRECT_PACED, 0, 1);
			run_cell(pl, BE_NGINX, M_CGI_NOOP, 0, 1);
		}
		if (cfg.modes[M_PROXY] && start_proxy(BE_NGINX) == 0) {
			for (size_t k = 0; k < 2; k++)
				if (in_loads(pw[k]))
					run_cell(pl, BE_NGINX, M_PROXY, 0, pw[k]);
			srv_stop(&ps.proxy);
		}
		if (seats_apart && cfg.nslots > 1 && in_loads(256) && start_daemon(BE_NGINX, cfg.slots[0]) == 0) {
			run_cell(pl, BE_NGINX, M_POOL_LEASE, cfg.slots[0], 256);
			stop_daemon();
		}
		if (start_daemon(BE_NGINX, s) == 0) {
			if (in_loads(1))
				run_cell(pl, BE_NGINX, M_POOL_DO, s, 1);
			for (size_t k = 0; k < 2; k++)
				if (in_loads(pw[k]))
					run_cell(pl, BE_NGINX, M_POOL_DO, s, pw[k]);
			if (in_loads(256))
				run_cell(pl, BE_NGINX, M_POOL_WEB, s, 256);
			if (!seats_apart) {
				run_cell(pl, BE_NGINX, M_CGI_POOL, s, 1);
				run_cell(pl, BE_NGINX, M_CGI_STATIC, s, 1);
				run_cell(pl, BE_NGINX, M_CGI_SIDE, s, 1);
				if (in_loads(1))
					run_cell(pl, BE_NGINX, M_POOL_SIDE, s, 1);
			}
			stop_daemon();
		}
	}
	cur_round = 0;
}

static void run_placement(int pl)
{
	set_placement_cpus(pl);
	fprintf(stderr, "bench: placement %s: %s\n", placement_names[pl], placement_desc[pl]);
	if (nginx && start_backend_nginx() != 0)
		note("%s: the nginx backend did not start", placement_names[pl]);
	if (start_ref() != 0)
		note("%s: the reference backend did not start", placement_names[pl]);
	/* lease + release, uncontended, on a real segment */
	int be0 = ps.be_nginx.pid ? BE_NGINX : BE_REF;
	if (start_daemon_min(be0, 8, 0) == 0) {
		lease_ns[pl] = lease_microbench(ps.pool_handle);
		stop_daemon();
	}
	for (int i = 0; i < cfg.ncgi_loads; i++)
		run_cell(pl, be0, M_CGI_NOOP, 0, cfg.cgi_loads[i]);
	for (int i = 0; i < cfg.nbackends; i++)
		run_backend(pl, cfg.backends[i]);
	run_goal_rounds(pl);
	srv_stop(&ps.be_nginx);
	srv_stop(&ps.ref);
}

/* ---- goals ------------------------------------------------------------ */

static FILE *goal_files[2];
static FILE *goal_values; /* name-value lines, printed after the table */
static char *goal_values_buf;
static size_t goal_values_len;

static void goal_line(const char *id, int pl, const char *what, double ratio, const char *op, double target,
		      int extra_ok, const char *extra)
{
	int known = ratio > 0;
	int pass = known && extra_ok && (op[0] == '<' ? ratio <= target : ratio >= target);
	char r[32];
	snprintf(r, sizeof r, known ? "%.2f" : "n/a", ratio);
	for (int i = 0; i < 2; i++)
		if (goal_files[i])
			fprintf(goal_files[i], "%-6s %-5s %-62s %7s  %s %-5.2f %s%s\n", id, placement_names[pl],
				what, r, op, target, known ? (pass ? "PASS" : "MISS") : "----",
				extra ? extra : "");
	if (known && goal_values)
		fprintf(goal_values, "goal_%s_%s %.3f ratio\ngoal_%s_%s_pass %d bool\n", id,
			placement_names[pl], ratio, id, placement_names[pl], pass);
}

enum fig { FIG_P50, FIG_RPS, FIG_CPU, FIG_WCPU };

/* The median of v[0..n) (sorts v); 0 if n is 0. */
static double median_of(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && v[k] < v[k - 1]; k--) {
			double t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

/* Median of a figure over the matrix cell and its goal-round reruns;
 * *runs gets how many there were.  0 when none ran. */
static double goal_fig(int pl, int be, int mode, int slots, int workers, enum fig f, int *runs)
{
	double v[16];
	int n = 0;
	for (int i = 0; i < ncells && n < 16; i++) {
		const struct cell *c = &cells[i];
		if (!c->ran || c->placement != pl || c->mode != mode || c->workers != workers ||
		    (c->backend != be && c->backend != -1) || (mode_defs[mode].needs_pool && c->slots != slots))
			continue;
		v[n++] = f == FIG_P50 ? c->p50 : f == FIG_RPS ? c->rps : f == FIG_CPU ? c->cpu_us_req
										       : c->cpu_workers_us_req;
	}
	if (runs)
		*runs = n;
	return median_of(v, n);
}

static double ratio_of(double a, double b)
{
	return a > 0 && b > 0 ? a / b : 0;
}

/* A goal from the side-by-side cells (cgi_side, pool_side) of placement
 * pl, the matrix's and the goal rounds': per cell (p50 of part a - p50
 * of part b) / p50 of part d (b < 0: p50 a / p50 d), all timed in the
 * same seconds; the median over the cells, with the parts' medians in
 * *fa, *fb, *fd (*fb 0 when b < 0).  0 if no cell ran. */
static double side_ratio(int pl, int mode, int a, int b, int d, double *fa, double *fb, double *fd, int *runs)
{
	double r[16], va[16], vb[16], vd[16];
	int n = 0;
	for (int i = 0; i < ncells && n < 16; i++) {
		const struct cell *c = &cells[i];
		if (!c->ran || c->placement != pl || c->mode != mode || c->backend != BE_NGINX)
			continue;
		va[n] = c->part_p50[a];
		vb[n] = b >= 0 ? c->part_p50[b] : 0;
		vd[n] = c->part_p50[d];
		if (va[n] <= 0 || (b >= 0 && vb[n] <= 0) || vd[n] <= 0)
			continue;
		/* a pool CGI no slower than the floor: a ratio near 0, still known */
		r[n] = b < 0 ? va[n] / vd[n] : va[n] > vb[n] ? (va[n] - vb[n]) / vd[n] : 0.001;
		n++;
	}
	*runs = n;
	*fa = median_of(va, n);
	*fb = median_of(vb, n);
	*fd = median_of(vd, n);
	return median_of(r, n);
}

#define CELL(pl, be, m, s, w) find_cell(cells, ncells, pl, be, m, s, w)

/* G1-G3a, G7: requests through the pool against direct keep-alive and
 * the nginx proxy (medians over the matrix run and the goal rounds),
 * seats as many as connections; G1 from the pool_side cells, G1c from
 * the separate pool_do and direct_ka cells (information). */
static void goals_requests(int pl, int s_big)
{
	char what[200], extra[200];
	int ra, rb;
	double fa, fb, fd;
	double side = side_ratio(pl, M_POOL_SIDE, PSIDE_POOL, -1, PSIDE_DIRECT, &fa, &fb, &fd, &ra);
	snprintf(what, sizeof what, "p50 pp_do / direct GET, 1 worker, side by side (pool_side)");
	snprintf(extra, sizeof extra, "  (%.1f / %.1f us, medians of %d cells)", fa, fd, ra);
	goal_line("G1", pl, what, side, "<=", 1.1, 1, extra);

	fa = goal_fig(pl, BE_NGINX, M_POOL_DO, s_big, 1, FIG_P50, &ra);
	fb = goal_fig(pl, BE_NGINX, M_DIRECT_KA, 0, 1, FIG_P50, &rb);
	snprintf(what, sizeof what, "p50 pool_do(s%d) / direct_ka, 1 worker, separate cells (info)", s_big);
	snprintf(extra, sizeof extra, "  (%.1f / %.1f us, medians of %d/%d runs)", fa, fb, ra, rb);
	goal_line("G1c", pl, what, ratio_of(fa, fb), "<=", 1.1, 1, extra);

	const struct cell *a = CELL(pl, BE_NGINX, M_POOL_DO, s_big, 16);
	long conns = a ? a->conns_open : -1;
	fa = goal_fig(pl, BE_NGINX, M_POOL_DO, s_big, 16, FIG_RPS, &ra);
	fb = goal_fig(pl, BE_NGINX, M_DIRECT_KA, 0, 16, FIG_RPS, &rb);
	snprintf(what, sizeof what, "req/s pool_do(s%d) / direct_ka, 16 workers", s_big);
	snprintf(extra, sizeof extra, "  (%.0f / %.0f req/s, medians of %d/%d runs; pool conns open %ld%s)", fa, fb,
		 ra, rb, conns, conns >= 0 && conns <= 16 ? " <= 16" : ": > 16 or unknown");
	goal_line("G2", pl, what, ratio_of(fa, fb), ">=", 0.9, conns >= 0 && conns <= 16, extra);

	fa = goal_fig(pl, BE_NGINX, M_POOL_DO, s_big, 16, FIG_RPS, &ra);
	fb = goal_fig(pl, BE_NGINX, M_PROXY, 0, 16, FIG_RPS, &rb);
	snprintf(what, sizeof what, "req/s pool_do(s%d) / nginx proxy, 16 workers", s_big);
	snprintf(extra, sizeof extra, "  (%.0f / %.0f req/s, medians of %d/%d runs)", fa, fb, ra, rb);
	goal_line("G3a", pl, what, ratio_of(fa, fb), ">=", 1.5, 1, extra);

	/* G7: workers outnumbering seats degrade gently: at least the
	 * proxy's throughput, and the workers' CPU per request within 2x of
	 * the 16-on-16 figure. */
	fa = goal_fig(pl, BE_NGINX, M_POOL_DO, s_big, 64, FIG_RPS, &ra);
	fb = goal_fig(pl, BE_NGINX, M_PROXY, 0, 64, FIG_RPS, &rb);
	double w64 = goal_fig(pl, BE_NGINX, M_POOL_DO, s_big, 64, FIG_WCPU, NULL);
	double w16 = goal_fig(pl, BE_NGINX, M_POOL_DO, s_big, 16, FIG_WCPU, NULL);
	int cpu_ok = w64 > 0 && w16 > 0 && w64 <= 2 * w16;
	snprintf(what, sizeof what, "req/s pool_do / nginx proxy, 64 workers on %d seats + %d conns", s_big, s_big);
	snprintf(extra, sizeof extra, "  (%.0f / %.0f req/s; workers' CPU/req %.1f us vs %.1f at 16: %s 2x)", fa, fb,
		 w64, w16, cpu_ok ? "within" : "NOT within");
	goal_line("G7", pl, what, ratio_of(fa, fb), ">=", 1.0, cpu_ok, extra);
}

/* G3c: CPU per request (workers + middle + backend), pool against the
 * nginx proxy, at w workers. */
static void goal_cpu(const char *id, int pl, int s_big, int w)
{
	char what[200], extra[200];
	int ra, rb;
	double fa = goal_fig(pl, BE_NGINX, M_POOL_DO, s_big, w, FIG_CPU, &ra);
	double fb = goal_fig(pl, BE_NGINX, M_PROXY, 0, w, FIG_CPU, &rb);
	snprintf(what, sizeof what, "CPU us/req pool_do(s%d) / nginx proxy, %d workers", s_big, w);
	snprintf(extra, sizeof extra, "  (%.1f / %.1f us, medians of %d/%d runs)", fa, fb, ra, rb);
	goal_line(id, pl, what, ratio_of(fa, fb), "<=", 0.67, 1, extra);
}

/* G4: what a CGI program pays for the pool beyond the bare fork+exec,
 * against one keep-alive request by a long-lived process at the same
 * pace: from the cgi_side cells (the floor, the pool CGI and the paced
 * GET in turn, side by side); cgi_pool (the shared library) for
 * information.  G4c: the same from separate cells (cgi_static, cgi_noop,
 * direct_paced), as runs 1-9 reported it, for information: it compares
 * cells run up to minutes apart, so it moves with the machine. */
static void goals_cgi(int pl, int s_big)
{
	char what[200], extra[200];
	static const int cm[2] = { SIDE_STATIC, SIDE_POOL };
	static const char *const cid[2] = { "G4", "G4d" };
	for (int j = 0; j < 2; j++) {
		double fa, fn, fd;
		int runs;
		double r = side_ratio(pl, M_CGI_SIDE, cm[j], SIDE_NOOP, SIDE_DIRECT, &fa, &fn, &fd, &runs);
		snprintf(what, sizeof what, "p50 (%s - cgi_noop) / direct GET, side by side (cgi_side)",
			 side_part_names[cm[j]]);
		snprintf(extra, sizeof extra, "  ((%.0f - %.0f) / %.1f us, medians of %d cells)%s", fa, fn, fd, runs,
			 j ? " (info: dynamic)" : "");
		goal_line(cid[j], pl, what, r, "<=", 2.0, 1, extra);
	}
	int ra, rb, rc;
	double fn = goal_fig(pl, -1, M_CGI_NOOP, 0, 1, FIG_P50, &rb);
	double fd = goal_fig(pl, BE_NGINX, M_DIRECT_PACED, 0, 1, FIG_P50, &rc);
	double fa = goal_fig(pl, BE_NGINX, M_CGI_STATIC, s_big, 1, FIG_P50, &ra);
	double extra_us = fa > 0 && fn > 0 ? fa - fn : 0;
	snprintf(what, sizeof what, "p50 (cgi_static - cgi_noop) / direct_paced, separate cells (info)");
	snprintf(extra, sizeof extra, "  ((%.0f - %.0f) / %.1f us, medians of %d/%d/%d runs)", fa, fn, fd, ra, rb, rc);
	goal_line("G4c", pl, what, extra_us > 0 ? ratio_of(extra_us, fd) : fa > 0 && fn > 0 ? 0.001 : 0, "<=", 2.0, 1,
		  extra);
	static const int g4be[3] = { BE_NGINX, BE_TLS, BE_TLSV };
	static const char *const g4id[3] = { "G4p", "G4t", "G4v" };
	for (int j = 0; j < 3; j++) {
		const struct cell *a = CELL(pl, g4be[j], M_CGI_CURL, 0, 1);
		const struct cell *b = CELL(pl, g4be[j], M_CGI_POOL, s_big, 1);
		snprintf(what, sizeof what, "p50 cgi_curl / cgi_pool, 1 worker, %s (info: speed-up)",
			 backend_names[g4be[j]]);
		goal_line(g4id[j], pl, what, ratio_of(a ? a->p50 : 0, b ? b->p50 : 0), ">=", 1.0, 1, NULL);
	}
}

/* G5s (seats = connections, workers queue for a seat): lease wait
 * max / median; G6: uncontended lease + release. */
static void goals_lease(int pl, int s_small, int wmax)
{
	char what[200], extra[200];
	const struct cell *a = CELL(pl, BE_NGINX, M_POOL_LEASE, s_small, wmax);
	snprintf(what, sizeof what, "lease wait max / median, %d workers on %d seats (info)", wmax, s_small);
	/* A median under 1 us means most leases found a seat at once (a
	 * release hands its seat to a sleeper only after 20 ms, shm/slot.h):
	 * a ratio to it says nothing, so the line shows the figures only. */
	double p50 = a ? a->lw_p50 : 0;
	int has_ratio = p50 >= 1.0;
	snprintf(extra, sizeof extra, "  (median %.2f us, p99.9 %.0f us, max %.0f us; worst worker mean/median %.2f)%s",
		 p50, a ? a->lw_p999 : 0, a ? a->lw_max : 0, a ? a->lw_worker_ratio : 0,
		 a && !has_ratio ? " (median under 1 us: no ratio)" : "");
	goal_line("G5s", pl, what, has_ratio ? ratio_of(a->lw_max, p50) : 0, "<=", 2.0, 1, extra);

	snprintf(what, sizeof what, "lease+release uncontended, ns (value / 100 ns)");
	snprintf(extra, sizeof extra, "  (%.1f ns)", lease_ns[pl]);
	goal_line("G6", pl, what, lease_ns[pl] > 0 ? lease_ns[pl] / 100.0 : 0, "<=", 1.0, 1, extra);
}

/* The goals of the pass with seats apart from connections: G3b (64
 * workers on 16 connections, seats to spare), G3c at 64 workers, G5
 * (256 workers holding seats on s_small connections: max / median of
 * the daemon's wait for a connection, its FIFO queue; lease waits are 0
 * with seats to spare), G8 (web requests, 256 workers, 16 connections, against 256
 * direct keep-alive connections). */
static void goals_seats(int pl, int s_small, int s_big)
{
	char what[200], extra[320];
	int ra, rb;
	double fa = goal_fig(pl, BE_NGINX, M_POOL_DO, s_big, 64, FIG_RPS, &ra);
	double fb = goal_fig(pl, BE_NGINX, M_PROXY, 0, 64, FIG_RPS, &rb);
	snprintf(what, sizeof what, "req/s pool_do / nginx proxy, 64 workers, %d seats on %d conns", seats_apart,
		 s_big);
	snprintf(extra, sizeof extra, "  (%.0f / %.0f req/s, medians of %d/%d runs)", fa, fb, ra, rb);
	goal_line("G3b", pl, what, ratio_of(fa, fb), ">=", 1.5, 1, extra);
	goal_cpu("G3c64", pl, s_big, 64);

	double v[16];
	int n = 0;
	for (int i = 0; i < ncells && n < 16; i++) {
		const struct cell *c = &cells[i];
		if (c->ran && c->placement == pl && c->mode == M_POOL_LEASE && c->slots == s_small &&
		    c->workers == 256 && c->backend == BE_NGINX && c->p50 > 0)
			v[n++] = c->max / c->p50;
	}
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && v[k] < v[k - 1]; k--) {
			double t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	const struct cell *a = CELL(pl, BE_NGINX, M_POOL_LEASE, s_small, 256);
	/* The wait a worker sees (lease + request, timed in the window) is the
	 * figure: the daemon's connection-wait histogram also holds the ramp
	 * before the window (more waits than timed requests, a max the
	 * workers never saw), so it is shown as information only. */
	snprintf(what, sizeof what, "wait max / median, 256 workers holding seats, %d conns", s_small);
	snprintf(extra, sizeof extra,
		 "  (median of %d runs; first run: p50 %.0f us, p99.9 %.0f, max %.0f; daemon's connection wait since"
		 " start, %llu waits: p50 %.0f, p99 %.0f, max %.0f)",
		 n, a ? a->p50 : 0, a ? a->p999 : 0, a ? a->max : 0, a ? a->qw_n : 0ull, a ? a->qw_p50 : 0,
		 a ? a->qw_p99 : 0, a ? a->qw_max : 0);
	goal_line("G5", pl, what, n ? v[n / 2] : 0, "<=", 2.0, 1, extra);

	const struct cell *w = CELL(pl, BE_NGINX, M_POOL_WEB, s_big, 256);
	long conns = w ? w->conns_open : -1;
	fa = goal_fig(pl, BE_NGINX, M_POOL_WEB, s_big, 256, FIG_RPS, &ra);
	fb = goal_fig(pl, BE_NGINX, M_DIRECT_WEB, 0, 256, FIG_RPS, &rb);
	snprintf(what, sizeof what, "web req/s pool_web(%d conns) / direct_web(256 conns), 256 workers", s_big);
	snprintf(extra, sizeof extra, "  (%.0f / %.0f, medians of %d/%d runs; pool conns open %ld%s)", fa, fb, ra, rb,
		 conns, conns >= 0 && conns <= s_big ? " ok" : ": too many or unknown");
	goal_line("G8", pl, what, ratio_of(fa, fb), ">=", 1.0, conns >= 0 && conns <= s_big, extra);
}

static void evaluate_goals(FILE *out)
{
	goal_files[0] = stdout;
	goal_files[1] = out;
	goal_values = open_memstream(&goal_values_buf, &goal_values_len);
	for (int i = 0; i < 2; i++)
		if (goal_files[i])
			fprintf(goal_files[i],
				"\nGoals (backend: nginx `return 200`, so the pool is measured, not the backend; "
				"ratios within one placement)\n"
				"%-6s %-5s %-62s %7s  %s\n",
				"goal", "place", "figure", "ratio", "target result");
	for (int k = 0; k < cfg.nplacements; k++) {
		int pl = cfg.placements[k];
		int s_big = cfg.slots[cfg.nslots - 1];
		if (seats_apart) {
			goals_seats(pl, cfg.slots[0], s_big);
			continue;
		}
		goals_requests(pl, s_big);
		goal_cpu("G3c", pl, s_big, 16);
		goals_cgi(pl, s_big);
		goals_lease(pl, cfg.slots[0], cfg.loads[cfg.nloads - 1]);
	}
	if (goal_values) {
		fclose(goal_values);
		fputs("\n", stdout);
		fwrite(goal_values_buf, 1, goal_values_len, stdout);
		free(goal_values_buf);
		goal_values = NULL;
	}
}

/* ---- main ------------------------------------------------------------- */

static int copy_file(const char *from, const char *dir, const char *name)
{
	char to[700];
	snprintf(to, sizeof to, "%s/%s", dir, name);
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	int ok = in >= 0 && out >= 0;
	char buf[65536];
	ssize_t n;
	while (ok && (n = read(in, buf, sizeof buf)) > 0)
		ok = write(out, buf, (size_t)n) == n;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "bench: cannot copy %s to %s\n", from, to);
	return ok ? 0 : -1;
}

/* Snapshot the daemon, the backend, the CGI programs and the shared
 * library into the temp dir. */
static int snapshot_programs(void)
{
	static const char *const progs[][2] = {
		{ "phantompoold", "phantompoold" },     { "phantomdb-ref", "phantomdb-ref" },
		{ "bench/cgi/cgi_noop", "cgi_noop" },   { "bench/cgi/cgi_curl", "cgi_curl" },
		{ "bench/cgi/cgi_pool", "cgi_pool" },   { "bench/cgi/cgi_static", "cgi_static" },
	};
	snprintf(bindir, sizeof bindir, "%s/bin", bench_tmpdir);
	snprintf(libdir, sizeof libdir, "%s/lib", bench_tmpdir);
	if (mkdir(bindir, 0755) != 0 || mkdir(libdir, 0755) != 0)
		return -1;
	char from[700];
	for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
		snprintf(from, sizeof from, "%s/%s", cfg.build, progs[i][0]);
		if (copy_file(from, bindir, progs[i][1]) != 0)
			return -1;
	}
	snprintf(from, sizeof from, "%s/libphantompool.so.1", cfg.build);
	return copy_file(from, libdir, "libphantompool.so.1");
}

/* Remove temp dirs left by a harness that was SIGKILLed (its servers died
 * with it through PR_SET_PDEATHSIG; only the directory stays). */
static void remove_stale_tmpdirs(void)
{
	DIR *d = opendir("/tmp");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "ppbench.", 8))
			continue;
		char path[300];
		snprintf(path, sizeof path, "/tmp/%.200s/harness.pid", e->d_name);
		FILE *f = fopen(path, "r");
		long pid = 0;
		if (f) {
			if (fscanf(f, "%ld", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		char cmd[400];
		snprintf(cmd, sizeof cmd, "rm -rf '/tmp/%.200s'", e->d_name);
		if (pid > 0 && system(cmd) != 0)
			fprintf(stderr, "bench: could not remove /tmp/%s\n", e->d_name);
	}
	closedir(d);
}

/* First line of a command's output (stderr too), or "?". */
static void command_line1(const char *cmd, char *buf, size_t len)
{
	FILE *p = popen(cmd, "r");
	snprintf(buf, len, "?");
	if (!p)
		return;
	if (fgets(buf, (int)len, p))
		buf[strcspn(buf, "\n")] = 0;
	pclose(p);
}

static char machine[1024];

/* What the run ran on, for the report and docs/BENCHMARKS.md. */
static void describe_machine(void)
{
	char cpu[160] = "?", kernel[160], debian[64], ngx[128], gp[128], load[64] = "?", date[64];
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
			cpu[strcspn(cpu, "\n")] = 0;
			break;
		}
	if (f)
		fclose(f);
	command_line1("uname -sr", kernel, sizeof kernel);
	command_line1("cat /etc/debian_version 2>/dev/null", debian, sizeof debian);
	if (nginx) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "'%s' -v 2>&1", nginx);
		command_line1(cmd, ngx, sizeof ngx);
	} else {
		snprintf(ngx, sizeof ngx, "nginx: not installed");
	}
	command_line1("gnuplot --version 2>&1", gp, sizeof gp);
	f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fgets(load, sizeof load, f))
			load[strcspn(load, "\n")] = 0;
		fclose(f);
	}
	command_line1("date -u '+%Y-%m-%d %H:%M UTC'", date, sizeof date);
	snprintf(machine, sizeof machine,
		 "run %s on %ld CPUs (%s), %s, Debian %s; %s; %s; %s\nload average at start: %s", date,
		 sysconf(_SC_NPROCESSORS_ONLN), cpu, kernel, debian, ngx, curl_mode_version(), gp, load);
}

static void read_daemon_help(void)
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "'%s/phantompoold' --help 2>&1", bindir);
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	size_t n = fread(daemon_help, 1, sizeof daemon_help - 1, p);
	daemon_help[n] = 0;
	pclose(p);
}

/* The temp dir, its pid file, the program copies, the certificate, what
 * the daemon offers, the machine line.  0 or -1. */
static int prepare(void)
{
	snprintf(bench_tmpdir, sizeof bench_tmpdir, "/tmp/ppbench.XXXXXX");
	if (!mkdtemp(bench_tmpdir)) {
		perror("bench: mkdtemp");
		return -1;
	}
	chmod(bench_tmpdir, 0755); /* nginx workers run as nobody */
	remove_stale_tmpdirs();
	char pidpath[300];
	snprintf(pidpath, sizeof pidpath, "%s/harness.pid", bench_tmpdir);
	FILE *pf = fopen(pidpath, "w");
	if (pf) {
		fprintf(pf, "%ld\n", (long)getpid());
		fclose(pf);
	}
	mkdir(cfg.out, 0755);
	snprintf(cert, sizeof cert, "%s/cert.pem", bench_tmpdir);
	if (snapshot_programs() != 0)
		return -1;
	nginx = nginx_binary();
	if (!nginx)
		note("nginx not installed (run `make bench-deps` as root): nginx, TLS and proxy rows skipped");
	else if (make_cert(bench_tmpdir) != 0) {
		note("openssl could not make a certificate: TLS rows will fail");
	}
	read_daemon_help();
	describe_machine();
	fprintf(stderr, "bench: %s\n", machine);
	if (curl_mode_global_init() != 0 || cell_shared_init(1024) != 0) {
		fprintf(stderr, "bench: cannot initialise\n");
		return -1;
	}
	return 0;
}

/* Table, goals and name-value lines on stdout; results.txt, .csv, .png. */
static void write_reports(double elapsed)
{
	char path[700];
	snprintf(path, sizeof path, "%s/results.txt", cfg.out);
	FILE *txt = fopen(path, "w");
	printf("\n%s\n", machine);
	if (txt)
		fprintf(txt, "%s\n", machine);
	report_table(stdout, cells, ncells);
	if (txt)
		report_table(txt, cells, ncells);
	evaluate_goals(txt);
	for (int i = 0; i < cfg.nplacements; i++)
		if (lease_ns[cfg.placements[i]] > 0)
			printf("lease_release_uncontended_%s %.1f ns\n", placement_names[cfg.placements[i]],
			       lease_ns[cfg.placements[i]]);
	report_values(stdout, cells, ncells);
	printf("bench_elapsed %.0f s\n", elapsed);
	for (int i = 0; i < nnotes; i++) {
		printf("note: %s\n", notes[i]);
		if (txt)
			fprintf(txt, "note: %s\n", notes[i]);
	}
	if (txt)
		fclose(txt);
	snprintf(path, sizeof path, "%s/results.csv", cfg.out);
	if (report_csv(path, cells, ncells) == 0)
		printf("wrote %s\n", path);
	if (report_plot(cfg.out, cells, ncells) == 0)
		printf("wrote %s/bench.png\n", cfg.out);
}

int main(void)
{
	configure();
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_install_cleanup();
	if (prepare() != 0)
		return 1;
	uint64_t t_start = pp_now_ns();
	for (int i = 0; i < cfg.nplacements; i++) {
		int pl = cfg.placements[i];
		if (pl == PL_SPLIT && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
			note("one CPU only: placement split skipped");
			continue;
		}
		run_placement(pl);
	}
	write_reports((double)(pp_now_ns() - t_start) / 1e9);
	int failed = 0;
	for (int i = 0; i < ncells; i++)
		failed += !cells[i].ran;
	bench_cleanup();
	return failed ? 1 : 0;
}
