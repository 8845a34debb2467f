/* report.c - the table, `name value unit` lines, the CSV and the charts. */
#include "../harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const backend_names[BE_COUNT] = { "nginx", "ref", "tls", "tlsv" };
const char *const placement_names[PL_COUNT] = { "free", "one", "split" };
const char *const placement_desc[PL_COUNT] = {
	"scheduler free: no affinity set",
	"everything on CPU 0 (taskset -c 0)",
	"workers on CPU 0; daemon, backend and nginx on CPU 1",
};

const struct cell *find_cell(const struct cell *cells, int n, int pl, int be, int mode, int slots, int workers)
{
	for (int i = 0; i < n; i++) {
		const struct cell *c = &cells[i];
		if (c->ran && !c->round && c->placement == pl && c->mode == mode && c->workers == workers &&
		    (c->backend == be || c->backend == -1) && (!mode_defs[mode].needs_pool || c->slots == slots))
			return c;
	}
	return NULL;
}

static const char *be_name(const struct cell *c)
{
	return c->backend < 0 ? "none" : backend_names[c->backend];
}

void cell_label(const struct cell *c, char *buf, size_t len)
{
	char slots[16] = "", round[16] = "";
	if (c->slots)
		snprintf(slots, sizeof slots, "_s%d", c->slots);
	if (c->round)
		snprintf(round, sizeof round, "_r%d", c->round);
	snprintf(buf, len, "%s_%s_%s%s_w%d%s", placement_names[c->placement], be_name(c), mode_defs[c->mode].name,
		 slots, c->workers, round);
}

/* v with one decimal under 1000, none above; "-" when not measured. */
static void num(char *buf, size_t len, double v)
{
	if (v <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f", v < 1000 ? 1 : 0, v);
}

static void row(FILE *f, const struct cell *c)
{
	char slots[8] = "-", rps[24], p50[24], p99[24], p999[24], cpu[24], split[40], opened[16], open[16];
	if (c->slots)
		snprintf(slots, sizeof slots, "%d", c->slots);
	if (!c->ran) {
		fprintf(f, "%-5s %-5s %-10s %5s %4d  not run: %s\n", placement_names[c->placement], be_name(c),
			mode_defs[c->mode].name, slots, c->workers, c->note);
		return;
	}
	snprintf(rps, sizeof rps, "%.0f", c->rps);
	num(p50, sizeof p50, c->p50);
	num(p99, sizeof p99, c->p99);
	num(p999, sizeof p999, c->p999);
	num(cpu, sizeof cpu, c->cpu_us_req);
	snprintf(split, sizeof split, "%.1f+%.1f+%.1f", c->cpu_workers_us_req, c->cpu_mid_us_req,
		 c->cpu_servers_us_req - c->cpu_mid_us_req);
	snprintf(opened, sizeof opened, c->conns_opened >= 0 ? "%ld" : "?", c->conns_opened);
	snprintf(open, sizeof open, c->conns_open >= 0 ? "%ld" : "?", c->conns_open);
	fprintf(f, "%-5s %-5s %-10s %5s %4d %9s %8s %8s %8s %8s %19s %7s %5s %6llu %4.0f%s",
		placement_names[c->placement], be_name(c), mode_defs[c->mode].name, slots, c->workers, rps, p50, p99,
		p999, cpu, split, opened, open, (unsigned long long)c->errors, c->bg_pct, c->tries > 1 ? "*" : "");
	if (c->mode == M_POOL_LEASE)
		fprintf(f, "  lease wait p50 %.2f us, p99.9 %.0f, max %.0f", c->lw_p50, c->lw_p999, c->lw_max);
	if (c->qw_n)
		fprintf(f, "; connection wait (%llu) p50 %.0f us, p99 %.0f, max %.0f", c->qw_n, c->qw_p50, c->qw_p99,
			c->qw_max);
	for (int p = 0; p < mode_defs[c->mode].nparts; p++)
		fprintf(f, "%s%s p50 %.1f us (%llu)", p ? ", " : "  parts: ", mode_defs[c->mode].part_names[p],
			c->part_p50[p], (unsigned long long)c->part_n[p]);
	if (c->note[0])
		fprintf(f, "  [%s]", c->note);
	fputc('\n', f);
}

static void header(FILE *f)
{
	fprintf(f, "%-5s %-5s %-10s %5s %4s %9s %8s %8s %8s %8s %19s %7s %5s %6s %4s\n", "place", "bknd",
		"mode", "slots", "wrk", "req/s", "p50 us", "p99 us", "p99.9us", "CPU us/r", "(wrk+mid+backend)", "conns+",
		"open", "errors", "bg%");
}

void report_cell_line(const struct cell *c)
{
	static int first = 1;
	if (first)
		header(stderr);
	first = 0;
	if (c->round)
		fprintf(stderr, "r%d ", c->round);
	row(stderr, c);
}

void report_table(FILE *f, const struct cell *cells, int n)
{
	fprintf(f, "\nphantompool benchmark: GET /health, every mode on the same workload\n"
		   "CPU us/r: CPU per request of the workers (and their CGI children), the middle (the daemon or\n"
		   "the nginx proxy; 0 for direct modes) and the backend; conns+: backend\n"
		   "connections accepted during the cell; open: backend connections open mid-window; bg%%: CPU\n"
		   "busy outside the measured processes (other users of the machine), %% of all CPUs; *: the\n"
		   "quietest of several runs of that cell (rerun while bg%% was high)\n\n");
	for (int m = 0; m < M_COUNT; m++)
		fprintf(f, "  %-10s %s\n", mode_defs[m].name, mode_defs[m].what);
	for (int p = 0; p < PL_COUNT; p++)
		fprintf(f, "  %-10s %s\n", placement_names[p], placement_desc[p]);
	fprintf(f, "  backends: nginx = nginx `return 200` over HTTP; ref = phantomdb-ref; tls = the nginx over\n"
		   "  TLS without verification; tlsv = TLS verified against the bench's self-signed CA\n\n");
	int last_pl = -1, rounds = 0;
	for (int i = 0; i < n; i++) {
		rounds += cells[i].round > 0;
		if (cells[i].round)
			continue;
		if (cells[i].placement != last_pl) {
			fputc('\n', f);
			header(f);
			last_pl = cells[i].placement;
		}
		row(f, &cells[i]);
	}
	if (!rounds)
		return;
	fprintf(f, "\nGoal rounds: the cells the goals compare, run again interleaved (nginx backend);\n"
		   "each goal uses the median of the matrix run above and these.  In a round only one middle\n"
		   "server runs at a time (none for the direct cells, then the proxy, then the daemon), so `open`\n"
		   "counts only the row's own mode's backend connections.\n\n");
	header(f);
	for (int i = 0; i < n; i++)
		if (cells[i].round) {
			fprintf(f, "r%d ", cells[i].round);
			row(f, &cells[i]);
		}
}

void report_values(FILE *f, const struct cell *cells, int n)
{
	for (int i = 0; i < n; i++) {
		const struct cell *c = &cells[i];
		if (!c->ran)
			continue;
		char l[160];
		cell_label(c, l, sizeof l);
		fprintf(f, "cell_%s_rps %.0f req/s\n", l, c->rps);
		fprintf(f, "cell_%s_p50 %.1f us\n", l, c->p50);
		fprintf(f, "cell_%s_p99 %.1f us\n", l, c->p99);
		fprintf(f, "cell_%s_p999 %.1f us\n", l, c->p999);
		fprintf(f, "cell_%s_max %.1f us\n", l, c->max);
		fprintf(f, "cell_%s_cpu_per_req %.2f us\n", l, c->cpu_us_req);
		fprintf(f, "cell_%s_cpu_workers_per_req %.2f us\n", l, c->cpu_workers_us_req);
		fprintf(f, "cell_%s_cpu_servers_per_req %.2f us\n", l, c->cpu_servers_us_req);
		fprintf(f, "cell_%s_cpu_middle_per_req %.2f us\n", l, c->cpu_mid_us_req);
		if (c->conns_opened >= 0)
			fprintf(f, "cell_%s_conns_opened %ld count\n", l, c->conns_opened);
		if (c->conns_open >= 0)
			fprintf(f, "cell_%s_conns_open %ld count\n", l, c->conns_open);
		fprintf(f, "cell_%s_requests %llu count\n", l, (unsigned long long)c->requests);
		fprintf(f, "cell_%s_errors %llu count\n", l, (unsigned long long)c->errors);
		fprintf(f, "cell_%s_background_cpu %.1f %%\n", l, c->bg_pct);
		if (c->mode == M_POOL_LEASE) {
			fprintf(f, "cell_%s_lease_wait_p50 %.3f us\n", l, c->lw_p50);
			fprintf(f, "cell_%s_lease_wait_p999 %.1f us\n", l, c->lw_p999);
			fprintf(f, "cell_%s_lease_wait_max %.1f us\n", l, c->lw_max);
			fprintf(f, "cell_%s_lease_wait_worker_ratio %.2f ratio\n", l, c->lw_worker_ratio);
		}
		for (int p = 0; p < mode_defs[c->mode].nparts; p++) {
			fprintf(f, "cell_%s_part_%s_p50 %.1f us\n", l, mode_defs[c->mode].part_names[p], c->part_p50[p]);
			fprintf(f, "cell_%s_part_%s_requests %llu count\n", l, mode_defs[c->mode].part_names[p],
				(unsigned long long)c->part_n[p]);
		}
		if (c->qw_n) {
			fprintf(f, "cell_%s_conn_wait_p50 %.1f us\n", l, c->qw_p50);
			fprintf(f, "cell_%s_conn_wait_p99 %.1f us\n", l, c->qw_p99);
			fprintf(f, "cell_%s_conn_wait_max %.1f us\n", l, c->qw_max);
		}
	}
}

int report_csv(const char *path, const struct cell *cells, int n)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "placement,backend,mode,slots,workers,round,ran,secs,requests,errors,rps,p50_us,p99_us,p999_us,max_us,"
		   "cpu_us_per_req,cpu_workers_us_per_req,cpu_servers_us_per_req,cpu_middle_us_per_req,conns_opened,conns_open,"
		   "lease_wait_p50_us,lease_wait_p999_us,lease_wait_max_us,lease_wait_worker_ratio,background_cpu_pct,tries,note,"
		   "part_p50_us\n");
	for (int i = 0; i < n; i++) {
		const struct cell *c = &cells[i];
		char note[200];
		snprintf(note, sizeof note, "%s", c->note);
		for (char *p = note; *p; p++)
			if (*p == '"' || *p == ',' || *p == '\n')
				*p = ' ';
		fprintf(f, "%s,%s,%s,%d,%d,%d,%d,%.3f,%llu,%llu,%.1f,%.2f,%.2f,%.2f,%.2f,%.3f,%.3f,%.3f,%.3f,%ld,%ld,%.2f,%.2f,"
			   "%.2f,%.3f,%.1f,%d,%s,",
			placement_names[c->placement], be_name(c), mode_defs[c->mode].name, c->slots, c->workers,
			c->round, c->ran, c->secs, (unsigned long long)c->requests, (unsigned long long)c->errors, c->rps, c->p50,
			c->p99, c->p999, c->max, c->cpu_us_req, c->cpu_workers_us_req, c->cpu_servers_us_req,
			c->cpu_mid_us_req, c->conns_opened, c->conns_open, c->lw_p50, c->lw_p999, c->lw_max, c->lw_worker_ratio, c->bg_pct, c->tries, note);
		/* the last column: name=p50 of each part, ';'-separated */
		for (int p = 0; p < mode_defs[c->mode].nparts; p++)
			fprintf(f, "%s%s=%.2f", p ? ";" : "", mode_defs[c->mode].part_names[p], c->part_p50[p]);
		fputc('\n', f);
	}
	return fclose(f);
}

/* ---- charts ------------------------------------------------------------ */

struct series {
	int mode, slots;
	const char *title;
};

static const struct series series[] = {
	{ M_DIRECT_KA, 0, "direct keep-alive" }, { M_DIRECT_NEW, 0, "direct reconnect" },
	{ M_PROXY, 0, "nginx proxy" },           { M_POOL_DO, 8, "pool pp\\_do, 8 slots" },
	{ M_POOL_DO, 16, "pool pp\\_do, 16 slots" },
};
#define NSERIES (sizeof series / sizeof series[0])

/* dir/plot-<pl>-<k>.dat: workers rps p50 p99 cpu for the nginx backend. */
static int write_series(const char *dir, const struct cell *cells, int n, int pl, size_t k)
{
	char path[700];
	snprintf(path, sizeof path, "%s/plot-%s-%zu.dat", dir, placement_names[pl], k);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rows = 0;
	for (int i = 0; i < n; i++) {
		const struct cell *c = &cells[i];
		if (!c->ran || c->round || c->placement != pl || c->backend != BE_NGINX || c->mode != series[k].mode ||
		    (series[k].slots && c->slots != series[k].slots))
			continue;
		fprintf(f, "%d %.1f %.2f %.2f %.2f\n", c->workers, c->rps, c->p50, c->p99, c->cpu_us_req);
		rows++;
	}
	fclose(f);
	return rows;
}

/* A panel that says nothing was measured (gnuplot refuses to plot nothing). */
static void empty_panel(FILE *gp)
{
	fprintf(gp, "unset logscale y\nset yrange [0:1]\nset label 1 'not measured' at graph 0.5,0.5 center\n"
		    "plot -1 notitle\nunset label 1\nset yrange [*:*]\n");
}

/* dir/plot-cgi-<pl>.dat: per backend, p50 ms of cgi_noop, cgi_curl, cgi_pool at 1 worker. */
static void write_cgi(const char *dir, const struct cell *cells, int n, int pl, FILE *gp)
{
	char path[700];
	snprintf(path, sizeof path, "%s/plot-cgi-%s.dat", dir, placement_names[pl]);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	static const int bes[] = { BE_NGINX, BE_TLS, BE_TLSV };
	const struct cell *noop = NULL;
	for (int i = 0; i < n; i++)
		if (cells[i].ran && !cells[i].round && cells[i].placement == pl && cells[i].mode == M_CGI_NOOP &&
		    cells[i].workers == 1 && !noop)
			noop = &cells[i];
	int have = 0;
	for (size_t b = 0; b < sizeof bes / sizeof bes[0]; b++) {
		double v[3] = { noop ? noop->p50 / 1000 : 0, 0, 0 };
		for (int i = 0; i < n; i++) {
			const struct cell *c = &cells[i];
			if (!c->ran || c->round || c->placement != pl || c->backend != bes[b] || c->workers != 1)
				continue;
			if (c->mode == M_CGI_CURL)
				v[1] = c->p50 / 1000;
			if (c->mode == M_CGI_POOL)
				v[2] = c->p50 / 1000;
		}
		fprintf(f, "%s", backend_names[bes[b]]);
		for (int k = 0; k < 3; k++) {
			if (v[k] > 0)
				fprintf(f, " %.3f", v[k]);
			else
				fprintf(f, " ?");
			have += v[k] > 0;
		}
		fputc('\n', f);
	}
	fclose(f);
	if (!have) {
		fprintf(gp, "set title 'CGI (%s)'\n", placement_names[pl]);
		empty_panel(gp);
		return;
	}
	fprintf(gp,
		"set title 'CGI, 1 worker, p50 (%s)'\nset ylabel 'ms'\nunset logscale\nset logscale y\n"
		"set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
		"set xtics format ''\nset yrange [0.1:*]\nset xlabel 'backend'\n"
		"plot '%s' using 2:xtic(1) title 'fork+exec floor', '' using 3 title 'libcurl GET', "
		"'' using 4 title 'pp\\_attach + pp\\_do'\n"
		"unset style\nset style data linespoints\nset xtics format '%%g'\nset yrange [*:*]\n",
		placement_names[pl], path);
}

int report_plot(const char *dir, const struct cell *cells, int n)
{
	int pls[PL_COUNT], npl = 0;
	for (int p = 0; p < PL_COUNT; p++)
		for (int i = 0; i < n; i++)
			if (cells[i].ran && cells[i].placement == p) {
				pls[npl++] = p;
				break;
			}
	if (!npl)
		return -1;
	char gpath[700];
	snprintf(gpath, sizeof gpath, "%s/bench.gp", dir);
	FILE *gp = fopen(gpath, "w");
	if (!gp)
		return -1;
	fprintf(gp, "set terminal pngcairo size %d,1800 font ',10'\nset output '%s/bench.png'\n", 560 * npl, dir);
	fprintf(gp, "set multiplot layout 4,%d title 'phantompool bench: GET /health, nginx backend (rows 1-3)'\n",
		npl);
	fprintf(gp, "set datafile missing '?'\nset key top left font ',8'\nset grid\nset logscale x 2\nset xlabel 'worker processes'\n"
		    "set style data linespoints\n");
	static const struct {
		int col;
		const char *what, *unit, *log;
	} rows[] = { { 2, "throughput", "req/s", "" },
		     { 4, "p99 latency", "us", "set logscale y\n" },
		     { 5, "CPU per request (all processes)", "us", "set logscale y\n" } };
	for (size_t r = 0; r < 3; r++) {
		for (int p = 0; p < npl; p++) {
			fprintf(gp, "unset logscale y\n%sset title '%s (%s)'\nset ylabel '%s'\n", rows[r].log,
				rows[r].what, placement_names[pls[p]], rows[r].unit);
			int first = 1;
			for (size_t k = 0; k < NSERIES; k++) {
				if (write_series(dir, cells, n, pls[p], k) <= 0)
					continue;
				fprintf(gp, "%s'%s/plot-%s-%zu.dat' using 1:%d title '%s'", first ? "plot " : ", ", dir,
					placement_names[pls[p]], k, rows[r].col, series[k].title);
				first = 0;
			}
			if (first)
				empty_panel(gp);
			else
				fputc('\n', gp);
		}
	}
	for (int p = 0; p < npl; p++)
		write_cgi(dir, cells, n, pls[p], gp);
	fprintf(gp, "unset multiplot\n");
	fclose(gp);
	char cmd[800];
	snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>'%s/gnuplot.log'", gpath, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench: gnuplot failed or is not installed (see %s/gnuplot.log; make bench-deps)\n", dir);
		return -1;
	}
	return 0;
}
