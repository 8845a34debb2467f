/* harness.h - the benchmark harness behind `make bench` (issue 7).
 *
 * One program starts every server it needs on loopback (nginx backend,
 * reference backend, nginx pooling proxy, phantompoold), runs every mode
 * of talking to PhantomDB on the same workload under three CPU placements,
 * and reports one table, `name value unit` lines, goals, a CSV and a PNG.
 *
 *   harness.c        plan of the run, main()
 *   lib/hist.c       log-linear latency histograms
 *   lib/servers.c    spawning, pinning, stopping servers; probes; cleanup
 *   lib/nginx.c      nginx configs from bench/nginx/NAME.conf.in, certificates
 *   lib/cell.c       one cell: fork N workers, window, CPU, connections
 *   lib/report.c     table, name-value lines, goals, CSV, gnuplot chart
 *   modes/curl.c     direct keep-alive, direct reconnect, nginx proxy
 *   modes/pool.c     pp_do, pp_lease+pp_request+pp_release, held lease
 *   modes/cgi.c      fork+exec of bench/cgi/ programs per request
 */
#ifndef PP_BENCH_HARNESS_H
#define PP_BENCH_HARNESS_H

#include <sched.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "phantompool.h"

/* ---- histograms (lib/hist.c) ---------------------------------------- */

/* Values in ns, 256 exact buckets then 128 buckets per power of two
 * (under 0.8 % wide), up to ~2^40 ns. */
#define HIST_BUCKETS 4352

static inline unsigned hist_bucket(uint64_t v)
{
	if (v < 256)
		return (unsigned)v;
	unsigned e = (unsigned)(63 - __builtin_clzll(v)) - 7;
	unsigned idx = e * 128 + (unsigned)(v >> e);
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* Middle of bucket idx, in ns. */
double hist_value(unsigned idx);
/* Value at quantile q (0..1) of a histogram holding n samples; 0 if n 0. */
double hist_quantile(const uint32_t *h, uint64_t n, double q);

/* ---- what a worker talks to (set by the harness before fork) ---------- */

enum backend_id { BE_NGINX, BE_REF, BE_TLS, BE_TLSV, BE_COUNT };
enum placement_id { PL_FREE, PL_ONE, PL_SPLIT, PL_COUNT };

/* cgi_side's parts (below): the three CGI programs, then the direct GET. */
enum side_part { SIDE_NOOP, SIDE_STATIC, SIDE_POOL, SIDE_DIRECT, SIDE_PARTS };

struct target {
	char url[256];        /* direct clients: full URL of /health */
	char unix_path[320];  /* proxy: the nginx unix socket ("" otherwise) */
	int tls;              /* url is https */
	int verify;           /* verify the peer against ca_file */
	char ca_file[320];
	pp_pool *pool;        /* pool modes: attached in the parent */
	char pool_name[48];
	char cgi_prog[1024];   /* CGI modes: program to exec per request */
	char side_prog[SIDE_DIRECT][1024]; /* cgi_side: cgi_noop, cgi_static, cgi_pool */
	char *cgi_env[16];    /* its environment, NULL-terminated */
	char cgi_env_buf[16][600];
};

/* ---- modes (modes/NAME.c) ----------------------------------------------- */

struct wctx {
	const struct target *t;
	void *curl;             /* CURL * (modes/curl.c) */
	struct pp_lease *held;  /* pool_held */
	char errbuf[256];       /* why the last request failed */
	int part;               /* modes with parts: which one the last request was */
	unsigned step;          /* modes with parts: requests made so far */
};

enum mode_id {
	M_DIRECT_KA, M_DIRECT_NEW, M_CGI_NOOP, M_CGI_CURL, M_CGI_POOL,
	M_PROXY, M_POOL_DO, M_POOL_LEASE, M_POOL_HELD, M_CGI_STATIC, M_DIRECT_WEB, M_POOL_WEB, M_DIRECT_PACED,
	M_CGI_SIDE, M_POOL_SIDE, M_COUNT
};

/* The "web request" modes (issue 16's G8): one unit is WEB_QUERIES
 * requests with WEB_WORK_US of the worker's own work (a sleep) between
 * them, on one keep-alive handle (direct_web) or one lease (pool_web). */
#define WEB_QUERIES 3
#define WEB_WORK_US 2000

/* direct_paced (issue 16's G4): one keep-alive request every PACED_US
 * from a long-lived process, the pace of the CGI cells (one fork+exec
 * takes about 2 ms here), so that the backend is as cold as it is for a
 * CGI program; only the request is timed, not the pause. */
#define PACED_US 2000

/* cgi_side (issue 16's G4, side by side): each request is one part, in
 * turn: fork+exec of cgi_noop, of cgi_static, of cgi_pool, and one
 * keep-alive GET by the worker itself; every 4 requests run the 4 parts
 * in the next of their 24 orders, so each part comes first and last
 * alike and follows each other part about as often.  Each part has its
 * own latency histogram, so the floor, the pool CGI and the paced request
 * are measured in the same seconds, at the same pace (the daemon and the
 * backend see one request every ~2-3 ms), and drift of the machine hits
 * all alike. */
#define PARTS_MAX 4

/* pool_side (issue 16's G1, side by side): blocks of POOL_SIDE_BLOCK
 * requests, pp_do and a GET on the worker's own keep-alive handle in
 * turn, each part with its own histogram: both run hot (a block is a few
 * ms) and drift of the machine over seconds hits both alike. */
#define POOL_SIDE_BLOCK 64
enum pool_side_part { PSIDE_POOL, PSIDE_DIRECT, PSIDE_PARTS };
struct mode_def {
	const char *name;
	const char *what;       /* one line for the docs and the table legend */
	int needs_pool;         /* a phantompoold in front of the backend */
	int needs_proxy;        /* the nginx proxy in front of the backend */
	int per_backend;        /* 0: the same on every backend (CGI floor) */
	/* Per worker, after fork.  0 or -1 with w->errbuf set. */
	int (*init)(struct wctx *w);
	/* One request; 0 on a 200 response.  *lease_wait_ns gets the time
	 * pp_lease waited (pool_lease), else stays 0. */
	int (*request)(struct wctx *w, uint64_t *lease_wait_ns);
	void (*fini)(struct wctx *w);
	unsigned pace_us;       /* a pause after each request, outside the timing */
	int nparts;             /* > 0: request sets w->part; a histogram per part */
	const char *const *part_names;
};

extern const struct mode_def mode_defs[M_COUNT];

int curl_mode_global_init(void);
const char *curl_mode_version(void);  /* "libcurl/7.88.1 OpenSSL/3.0..." */
int curl_ka_init(struct wctx *w);
int curl_new_init(struct wctx *w);
/* curl_ka_init and one request, so the connection is open before the clock. */
int curl_ka_open(struct wctx *w);
int curl_request(struct wctx *w, uint64_t *lease_wait_ns);
int curl_web_request(struct wctx *w, uint64_t *lease_wait_ns);
void curl_fini(struct wctx *w);

int pool_init(struct wctx *w);
int pool_do_request(struct wctx *w, uint64_t *lease_wait_ns);
int pool_lease_request(struct wctx *w, uint64_t *lease_wait_ns);
int pool_held_init(struct wctx *w);
int pool_held_request(struct wctx *w, uint64_t *lease_wait_ns);
int pool_web_request(struct wctx *w, uint64_t *lease_wait_ns);
void pool_fini(struct wctx *w);
int pool_side_init(struct wctx *w);
int pool_side_request(struct wctx *w, uint64_t *lease_wait_ns);
void pool_side_fini(struct wctx *w);
extern const char *const pool_side_part_names[PSIDE_PARTS];

int cgi_init(struct wctx *w);
int cgi_request(struct wctx *w, uint64_t *lease_wait_ns);
void cgi_fini(struct wctx *w);
int cgi_side_init(struct wctx *w);
int cgi_side_request(struct wctx *w, uint64_t *lease_wait_ns);
void cgi_side_fini(struct wctx *w);
extern const char *const side_part_names[SIDE_PARTS];

/* ---- servers (lib/servers.c, lib/nginx.c) ----------------------------- */

struct server {
	pid_t pid;              /* process group leader; 0 when stopped */
	char name[32];
	char log[512];          /* its stderr */
};

/* Fork+exec argv in a new process group, pinned to cpus, stdin from
 * /dev/null, stdout to stdout_fd (or the log), stderr to the log; the
 * child gets SIGTERM if the harness dies.  Registered for cleanup.
 * Returns 0 or -1. */
int srv_spawn(struct server *s, const char *name, char *const argv[], const cpu_set_t *cpus,
	      const char *log, int stdout_fd);
/* SIGTERM to the group, up to 3 s, then SIGKILL; reaps.  No-op if stopped. */
void srv_stop(struct server *s);
/* Is the process still running (reaps it if not)? */
int srv_alive(struct server *s);
/* CPU time (user+system, ns) of every process in the server's group. */
uint64_t srv_cpu_ns(const struct server *s);
/* Print the last lines of its log to stderr. */
void srv_dump_log(const struct server *s);

/* Stop every registered server and worker; remove shm segments of pools
 * we started; remove the temp dir.  Safe to call twice and from a signal
 * handler path (exit). */
extern char bench_tmpdir[256]; /* the run's temp dir, removed by cleanup */
void bench_cleanup(void);
void bench_install_cleanup(void);
/* Workers of the running cell, killed by bench_cleanup. */
void bench_track_worker(pid_t pid);
void bench_untrack_workers(void);
void bench_track_pool(const char *pool);

/* A free TCP port on 127.0.0.1 (bound then closed), or -1. */
int free_port(void);
/* Wait up to ms for a connect() to succeed: TCP port (path NULL) or unix path. */
int wait_listening(int port, const char *unix_path, int ms);
/* One HTTP/1.0 GET over a fresh socket; body into buf.  Returns the status or -1. */
int http_get_raw(int port, const char *unix_path, const char *path, char *buf, size_t len);

/* nginx (lib/nginx.c) */
const char *nginx_binary(void);   /* NULL when nginx is not installed */
int make_cert(const char *dir);   /* dir/cert.pem + dir/key.pem, self-signed, CN localhost */
/* Write dir/name from template bench/nginx/tmpl with @KEY@ replaced
 * (keys/vals: NULL-terminated parallel arrays).  0 or -1. */
int render_template(const char *tmpl, const char *out, const char *const *keys,
		    const char *const *vals);
/* Read nginx stub_status at 127.0.0.1:port/_status: connections accepted
 * (less every probe we made to that port) and active now (less this
 * probe).  0 or -1. */
int nginx_conns(int port, long *accepts, long *active);

/* ---- cells (lib/cell.c) ----------------------------------------------- */

struct cell {
	/* what */
	int placement, backend, mode, slots, workers;
	int round;               /* 0: the matrix; n: the goals' n-th rerun */
	/* results */
	int ran;                 /* 0: skipped or failed to start */
	char note[160];
	uint64_t requests;       /* completed inside the window */
	uint64_t requests_all;   /* completed since go: the CPU divisor */
	uint64_t errors;
	double secs;             /* window length */
	double rps;
	double p50, p99, p999, max; /* us */
	double cpu_us_req;       /* workers + servers, per request */
	double cpu_workers_us_req;
	double cpu_servers_us_req;
	double cpu_mid_us_req;   /* the daemon's or the proxy's part of cpu_servers_us_req */
	long conns_opened;       /* backend connections accepted during the cell, -1 unknown */
	long conns_open;         /* backend connections open mid-window, -1 unknown */
	double lw_p50, lw_p999, lw_max; /* pp_lease wait, us (pool_lease) */
	/* The daemon's wait for a connection (pp_status queue_wait_*, us;
	 * pool_lease cells with seats apart, on a daemon started for the cell):
	 * log2 buckets, interpolated, so the p50 is approximate. */
	double qw_p50, qw_p99, qw_max;
	unsigned long long qw_n;
	double lw_worker_ratio;  /* max/median over workers of mean lease wait */
	double bg_pct;           /* CPU busy outside the processes we measure, % of all CPUs */
	int tries;               /* runs of this cell (reruns when bg_pct was high) */
	/* modes with parts (cgi_side): each part's window samples and p50, us */
	uint64_t part_n[PARTS_MAX];
	double part_p50[PARTS_MAX];
};

/* How a cell measures the servers it uses. */
struct cell_env {
	const struct target *t;
	struct server *cpu_servers[4];  /* summed into cpu_servers, NULL-terminated */
	struct server *cpu_mid;         /* the one between workers and backend (daemon, proxy), or NULL */
	/* backend connection counter: returns 0 with accepted/open, or -1 */
	int (*conns)(void *arg, long *accepted, long *open);
	void *conns_arg;
	double secs;             /* window */
	double warm_secs;        /* unrecorded requests before the window */
	const char *pin_desc;
};

int cell_shared_init(int max_workers);
/* Run one cell; fills c.  Returns 0, or -1 when it could not run (note set). */
int cell_run(struct cell *c, const struct cell_env *env);

/* ---- report (lib/report.c) -------------------------------------------- */

extern const char *const backend_names[BE_COUNT];
extern const char *const placement_names[PL_COUNT];
extern const char *const placement_desc[PL_COUNT];

void report_cell_line(const struct cell *c);   /* progress, stderr */
void report_table(FILE *f, const struct cell *cells, int n);
void report_values(FILE *f, const struct cell *cells, int n);
int report_csv(const char *path, const struct cell *cells, int n);
int report_plot(const char *dir, const struct cell *cells, int n);
const struct cell *find_cell(const struct cell *cells, int n, int pl, int be, int mode,
			     int slots, int workers);
void cell_label(const struct cell *c, char *buf, size_t len);

#endif
