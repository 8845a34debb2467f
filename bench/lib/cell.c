/* cell.c - one cell of the matrix: fork N worker processes that run one
 * mode against one target, open a measuring window, and aggregate.
 *
 * Timeline of a cell:
 *   fork N workers; each sets up (curl handle, ...), makes one request
 *   (connections opened), reports ready, and sleeps on the `go` futex;
 *   go: every worker loops requests until t1; the first warm_secs are
 *   unrecorded, requests completing in [t0, t1] are the window: their
 *   latency (CLOCK_MONOTONIC around the request, in the worker) goes to the
 *   worker's histogram in shared memory;
 *   CPU: each worker's getrusage(SELF)+getrusage(CHILDREN) (CGI children
 *   are reaped per request) from go to its end, plus the servers' utime +
 *   stime from /proc/<pid>/stat at go and after the last worker exited,
 *   divided by every request completed since go (the daemon's or the
 *   proxy's share also on its own);
 *   backend connections: accepted from before the fork to after the reap
 *   (so a worker's own connect counts), and open in the middle of the window.
 */
#include "../harness.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

struct wslot {
	_Atomic int status;       /* 0 starting, 1 ready, 2 done, -1 failed */
	uint64_t n_window;        /* requests completed inside [t0, t1] */
	uint64_t n_total;         /* requests completed since go */
	uint64_t errors;
	uint64_t cpu_ns;          /* own + reaped children's CPU since go */
	uint64_t lat_max;
	uint64_t lw_max, lw_sum, lw_n;
	char err[200];
	uint32_t lat[HIST_BUCKETS];
	uint32_t lw[HIST_BUCKETS];
} __attribute__((aligned(64)));

struct shared {
	_Atomic uint32_t go;      /* futex: 0 wait, 1 run, 2 abort */
	_Atomic int ready;
	_Atomic int failed;
	uint64_t t0, t1;
	/* modes with parts: the window's latencies of each part, all workers */
	_Atomic uint32_t part_lat[PARTS_MAX][HIST_BUCKETS];
	struct wslot w[];
};

static struct shared *sh;
static int sh_max;

int cell_shared_init(int max_workers)
{
	size_t len = sizeof *sh + (size_t)max_workers * sizeof sh->w[0];
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	sh = m;
	sh_max = max_workers;
	return 0;
}

static void futex_wait_go(void)
{
	struct timespec ts = { 0, 100 * 1000000L };
	while (atomic_load(&sh->go) == 0)
		syscall(SYS_futex, &sh->go, FUTEX_WAIT, 0, &ts, NULL, 0);
}

static void futex_wake_all(void)
{
	syscall(SYS_futex, &sh->go, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

/* CPU of this process and of its reaped children. */
static uint64_t cpu_self_children_ns(void)
{
	struct rusage s, c;
	getrusage(RUSAGE_SELF, &s);
	getrusage(RUSAGE_CHILDREN, &c);
	return tv_ns(s.ru_utime) + tv_ns(s.ru_stime) + tv_ns(c.ru_utime) + tv_ns(c.ru_stime);
}

static void worker_fail(struct wslot *ws, const char *why)
{
	snprintf(ws->err, sizeof ws->err, "%s", why);
	atomic_store(&ws->status, -1);
	atomic_fetch_add(&sh->failed, 1);
	_exit(1);
}

static void worker_loop(struct wslot *ws, const struct mode_def *m, struct wctx *w)
{
	const uint64_t t0 = sh->t0, t1 = sh->t1;
	const int lease_timed = m->request == pool_lease_request;
	for (;;) {
		uint64_t a = pp_now_ns();
		if (a >= t1)
			break;
		uint64_t lw = 0;
		int rc = m->request(w, &lw);
		uint64_t b = pp_now_ns();
		if (rc != 0) {
			if (!ws->errors++)
				snprintf(ws->err, sizeof ws->err, "%.199s", w->errbuf);
			usleep(1000); /* no hot error loop */
			continue;
		}
		ws->n_total++;
		if (m->pace_us)
			usleep(m->pace_us);
		if (b < t0 || b > t1)
			continue;
		uint64_t d = b - a;
		ws->n_window++;
		ws->lat[hist_bucket(d)]++;
		if (m->nparts && w->part >= 0 && w->part < PARTS_MAX)
			atomic_fetch_add_explicit(&sh->part_lat[w->part][hist_bucket(d)], 1, memory_order_relaxed);
		if (d > ws->lat_max)
			ws->lat_max = d;
		if (lease_timed) {
			ws->lw[hist_bucket(lw)]++;
			ws->lw_sum += lw;
			ws->lw_n++;
			if (lw > ws->lw_max)
				ws->lw_max = lw;
		}
	}
}

static void worker_main(int idx, const struct mode_def *m, const struct target *t, pid_t parent)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	struct wslot *ws = &sh->w[idx];
	struct wctx w = { .t = t };
	uint64_t lw = 0;
	if (m->init(&w) != 0)
		worker_fail(ws, w.errbuf);
	if (m->request(&w, &lw) != 0) /* connect now, before the clock runs */
		worker_fail(ws, w.errbuf);
	atomic_store(&ws->status, 1);
	atomic_fetch_add(&sh->ready, 1);
	futex_wait_go();
	if (atomic_load(&sh->go) == 1) {
		uint64_t c0 = cpu_self_children_ns();
		worker_loop(ws, m, &w);
		ws->cpu_ns = cpu_self_children_ns() - c0;
	}
	m->fini(&w);
	atomic_store(&ws->status, 2);
	_exit(0);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Reap every worker, SIGKILLing those still there at deadline.  Returns
 * how many had to be killed. */
static int reap_workers(pid_t *pids, int n, uint64_t deadline)
{
	int left = n, killed = 0;
	while (left > 0) {
		for (int i = 0; i < n; i++) {
			if (pids[i] <= 0)
				continue;
			pid_t r = waitpid(pids[i], NULL, WNOHANG);
			if (r == pids[i] || (r < 0 && errno == ECHILD)) {
				pids[i] = 0;
				left--;
			}
		}
		if (left == 0)
			break;
		if (pp_now_ns() > deadline) {
			for (int i = 0; i < n; i++)
				if (pids[i] > 0) {
					kill(pids[i], SIGKILL);
					waitpid(pids[i], NULL, 0);
					pids[i] = 0;
					killed++;
				}
			break;
		}
		usleep(2000);
	}
	bench_untrack_workers();
	return killed;
}

/* Busy (non-idle) CPU time of the whole machine, ns, from /proc/stat. */
static uint64_t machine_busy_ns(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	unsigned long long v[8] = { 0 };
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		       &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return 0;
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* less idle, iowait */
	return (uint64_t)busy * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

static uint64_t servers_cpu(const struct cell_env *env)
{
	uint64_t sum = 0;
	for (int i = 0; i < 4 && env->cpu_servers[i]; i++)
		sum += srv_cpu_ns(env->cpu_servers[i]);
	return sum;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void aggregate(struct cell *c, int n, uint64_t worker_cpu_extra)
{
	static uint32_t lat[HIST_BUCKETS], lw[HIST_BUCKETS];
	static double means[4096];
	memset(lat, 0, sizeof lat);
	memset(lw, 0, sizeof lw);
	uint64_t nw = 0, nt = 0, errs = 0, cpu = worker_cpu_extra, lmax = 0, lwmax = 0, lwn = 0;
	int nmeans = 0;
	for (int i = 0; i < n; i++) {
		struct wslot *ws = &sh->w[i];
		nw += ws->n_window;
		nt += ws->n_total;
		errs += ws->errors;
		cpu += ws->cpu_ns;
		if (ws->lat_max > lmax)
			lmax = ws->lat_max;
		if (ws->lw_max > lwmax)
			lwmax = ws->lw_max;
		lwn += ws->lw_n;
		if (ws->lw_n && nmeans < 4096)
			means[nmeans++] = (double)ws->lw_sum / (double)ws->lw_n;
		for (int k = 0; k < HIST_BUCKETS; k++) {
			lat[k] += ws->lat[k];
			lw[k] += ws->lw[k];
		}
		if (ws->errors && !c->note[0])
			snprintf(c->note, sizeof c->note, "%s", ws->err);
	}
	c->requests = nw;
	c->errors = errs;
	c->rps = (double)nw / c->secs;
	c->p50 = hist_quantile(lat, nw, 0.50) / 1000.0;
	c->p99 = hist_quantile(lat, nw, 0.99) / 1000.0;
	c->p999 = hist_quantile(lat, nw, 0.999) / 1000.0;
	c->max = (double)lmax / 1000.0;
	c->cpu_workers_us_req = nt ? (double)cpu / 1000.0 / (double)nt : 0;
	c->cpu_servers_us_req = 0; /* set by the caller, which knows the servers */
	c->lw_p50 = hist_quantile(lw, lwn, 0.50) / 1000.0;
	c->lw_p999 = hist_quantile(lw, lwn, 0.999) / 1000.0;
	c->lw_max = (double)lwmax / 1000.0;
	c->lw_worker_ratio = 0;
	if (nmeans > 1) {
		qsort(means, (size_t)nmeans, sizeof means[0], cmp_double);
		double med = means[nmeans / 2];
		c->lw_worker_ratio = med > 0 ? means[nmeans - 1] / med : 0;
	}
	c->requests_all = nt;
	for (int p = 0; p < PARTS_MAX; p++) {
		static uint32_t part[HIST_BUCKETS];
		uint64_t np = 0;
		for (int k = 0; k < HIST_BUCKETS; k++)
			np += part[k] = atomic_load_explicit(&sh->part_lat[p][k], memory_order_relaxed);
		c->part_n[p] = np;
		c->part_p50[p] = hist_quantile(part, np, 0.50) / 1000.0;
	}
}

/* Fork the cell's workers and wait until every one is set up and
 * connected.  Returns 0, or -1 with c->note set (workers reaped). */
static int start_workers(struct cell *c, const struct cell_env *env, pid_t *pids)
{
	const struct mode_def *m = &mode_defs[c->mode];
	int n = c->workers;
	pid_t parent = getpid();
	fflush(NULL);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			worker_main(i, m, env->t, parent);
		if (pids[i] < 0) {
			snprintf(c->note, sizeof c->note, "fork: %s", strerror(errno));
			atomic_store(&sh->go, 2);
			futex_wake_all();
			reap_workers(pids, i, pp_now_ns() + 5 * PP_NS_PER_S);
			return -1;
		}
		bench_track_worker(pids[i]);
	}
	uint64_t setup_deadline = pp_now_ns() + 60 * PP_NS_PER_S;
	while (atomic_load(&sh->ready) + atomic_load(&sh->failed) < n && pp_now_ns() < setup_deadline)
		usleep(2000);
	if (atomic_load(&sh->ready) == n)
		return 0;
	atomic_store(&sh->go, 2);
	futex_wake_all();
	for (int i = 0; i < n && !c->note[0]; i++)
		if (atomic_load(&sh->w[i].status) == -1)
			snprintf(c->note, sizeof c->note, "worker setup failed: %s", sh->w[i].err);
	if (!c->note[0])
		snprintf(c->note, sizeof c->note, "workers not ready after 60 s");
	reap_workers(pids, n, pp_now_ns() + 5 * PP_NS_PER_S);
	return -1;
}

int cell_run(struct cell *c, const struct cell_env *env)
{
	int n = c->workers;
	static pid_t pids[4096];
	if (n > sh_max || n > 4096) {
		snprintf(c->note, sizeof c->note, "too many workers");
		return -1;
	}
	memset(sh, 0, sizeof *sh + (size_t)n * sizeof sh->w[0]);
	c->secs = env->secs;
	c->conns_opened = c->conns_open = -1;
	long acc0 = -1, acc1 = -1, open_mid = -1;
	if (env->conns)
		env->conns(env->conns_arg, &acc0, NULL);
	if (start_workers(c, env, pids) != 0)
		return -1;
	uint64_t scpu0 = servers_cpu(env);
	uint64_t mid0 = env->cpu_mid ? srv_cpu_ns(env->cpu_mid) : 0;
	uint64_t busy0 = machine_busy_ns();
	uint64_t go = pp_now_ns();
	sh->t0 = go + (uint64_t)(env->warm_secs * 1e9);
	sh->t1 = sh->t0 + (uint64_t)(env->secs * 1e9);
	atomic_store(&sh->go, 1);
	futex_wake_all();
	sleep_until(sh->t0 + (uint64_t)(env->secs * 0.5e9));
	if (env->conns)
		env->conns(env->conns_arg, NULL, &open_mid);
	sleep_until(sh->t1);
	int killed = reap_workers(pids, n, sh->t1 + 60 * PP_NS_PER_S);
	uint64_t scpu1 = servers_cpu(env);
	uint64_t mid1 = env->cpu_mid ? srv_cpu_ns(env->cpu_mid) : 0;
	uint64_t busy1 = machine_busy_ns();
	uint64_t wall = pp_now_ns() - go;
	if (env->conns)
		env->conns(env->conns_arg, &acc1, NULL);
	aggregate(c, n, 0);
	uint64_t nt = c->requests_all;
	c->cpu_servers_us_req = nt ? (double)(scpu1 - scpu0) / 1000.0 / (double)nt : 0;
	c->cpu_mid_us_req = nt ? (double)(mid1 - mid0) / 1000.0 / (double)nt : 0;
	c->cpu_us_req = c->cpu_workers_us_req + c->cpu_servers_us_req;
	/* What else ran meanwhile (other users of the machine, kernel
	 * threads): machine busy time less the CPU we account for. */
	double ours = c->cpu_us_req * (double)nt * 1000.0;
	double other = (double)(busy1 - busy0) - ours;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	c->bg_pct = wall ? 100.0 * (other > 0 ? other : 0) / ((double)wall * (double)ncpu) : 0;
	if (acc0 >= 0 && acc1 >= 0)
		c->conns_opened = acc1 - acc0;
	c->conns_open = open_mid;
	if (killed)
		snprintf(c->note, sizeof c->note, "%d workers killed after the 60 s grace", killed);
	c->ran = 1;
	return 0;
}
