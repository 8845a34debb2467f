/* reload.c - see reload.h.
 *
 * Publication: a new struct pd_live is filled completely, then published
 * with a release store of d->live (pairs with the acquire load in
 * pd_live()).  The old one is retired with a snapshot of every serving
 * loop's step counter; it is freed when each counter has moved on (each
 * loop reads pd_live() afresh in every step), so no thread can still
 * hold it. */
#include "reload.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "log.h"
#include "loop.h"

#define MAX_RETIRED 16

struct retired {
	struct pd_live *live;
	uint64_t *epochs;  /* [nslots] at retirement */
};

static struct retired retired[MAX_RETIRED];
static unsigned nretired;

/* How long the token file may take to reach its end: a pipe whose writer
 * holds it open and never writes (or never closes it) fails the start or
 * the reload after this instead of stopping the main thread, and with it
 * the heartbeat, which goes stale after PP_DAEMON_STALE_MS. */
#define TOKEN_READ_MS 500

/* Read fd (non-blocking) to its end into buf, at most cap bytes; *more is
 * set when bytes are left past cap.  Waits in poll() for a pipe's writer,
 * at most until TOKEN_READ_MS after the call.  Returns the bytes read, or
 * -1 with errno set (ETIMEDOUT when the end did not come in time). */
static ssize_t read_token_fd(int fd, char *buf, size_t cap, bool *more)
{
	uint64_t deadline = pp_now_ns() + (uint64_t)TOKEN_READ_MS * PP_NS_PER_MS;
	size_t n = 0;
	char extra;
	*more = false;
	for (;;) {
		ssize_t r = n < cap ? read(fd, buf + n, cap - n) : read(fd, &extra, 1);
		if (r == 0)
			return (ssize_t)n;
		if (r > 0 && n == cap) {
			*more = true;
			return (ssize_t)n;
		}
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		uint64_t now = pp_now_ns();
		if (errno != EAGAIN || now >= deadline) {
			if (errno == EAGAIN)
				errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ms = (int)((deadline - now + PP_NS_PER_MS - 1) / PP_NS_PER_MS);
		if (poll(&p, 1, ms) < 0 && errno != EINTR)
			return -1;
	}
}

/* Read the bearer token from opt->token_file into the Authorization
 * header.  Returns 0, or -1 after logging. */
static int load_token(const struct pd_options *opt, char *hdr, size_t len)
{
	hdr[0] = 0;
	if (!*opt->token_file)
		return 0;
	/* Opened and read without blocking: a FIFO nobody has open reads as
	 * empty; one whose writer holds it open fails after TOKEN_READ_MS
	 * (read_token_fd); a pipe being written (--token-file <(command)) is
	 * read to its end if that comes in time. */
	int fd = open(opt->token_file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		pd_err("cannot read token file %s: %s", opt->token_file, strerror(errno));
		return -1;
	}
	char tok[3072];
	bool more;
	ssize_t got = read_token_fd(fd, tok, sizeof tok - 1, &more);
	int read_errno = errno;
	close(fd);
	if (got < 0) {
		if (read_errno == ETIMEDOUT)
			pd_err("cannot read token file %s: no end of file within %d ms (a pipe whose writer never closes it?)",
			       opt->token_file, TOKEN_READ_MS);
		else
			pd_err("cannot read token file %s: %s", opt->token_file, strerror(read_errno));
		explicit_bzero(tok, sizeof tok);
		return -1;
	}
	size_t n = (size_t)got;
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ' || tok[n - 1] == '\t'))
		n--;
	tok[n] = 0;
	bool clean = n > 0 && !more;
	for (size_t i = 0; i < n; i++)
		clean &= tok[i] > 0x20 && tok[i] < 0x7f;
	if (!clean) {
		pd_err("token file %s: expected one token of printable characters (at most %zu bytes)",
		       opt->token_file, sizeof tok - 1);
		explicit_bzero(tok, sizeof tok);
		return -1;
	}
	snprintf(hdr, len, "Authorization: Bearer %s", tok);
	explicit_bzero(tok, sizeof tok);
	return 0;
}

int pd_token_check(const struct pd_options *o)
{
	char hdr[sizeof((struct pd_live *)0)->auth_header];
	int r = load_token(o, hdr, sizeof hdr);
	explicit_bzero(hdr, sizeof hdr);
	return r;
}

static void live_free(struct pd_live *l)
{
	if (l) {
		explicit_bzero(l->auth_header, sizeof l->auth_header);
		free(l);
	}
}

int pd_live_init(struct pd_daemon *d)
{
	struct pd_live *l = calloc(1, sizeof *l);
	if (!l)
		return -1;
	l->opt = d->opt;
	l->gen = 1;
	if (load_token(&l->opt, l->auth_header, sizeof l->auth_header) < 0) {
		live_free(l);
		return -1;
	}
	atomic_store_explicit(&d->live, l, memory_order_release);
	return 0;
}

static void report_change(const char *name, bool live, void *ctx)
{
	(void)ctx;
	if (live)
		pd_info("reload: %s changed", name);
	else
		pd_warn("reload: %s cannot change while the daemon runs; keeping the old value (restart to change it)", name);
}

static void report_option_error(const char *msg, void *ctx)
{
	(void)ctx;
	pd_err("reload: %s", msg);
}

/* Put back the options a running daemon cannot change. */
static void keep_fixed(struct pd_options *n, const struct pd_options *o)
{
	memcpy(n->pool, o->pool, sizeof n->pool);
	n->max_conns = o->max_conns;
	n->seats = o->seats;
	n->loops = o->loops;
	n->ring_size = o->ring_size;
	n->mode = o->mode;
	memcpy(n->group, o->group, sizeof n->group);
	memcpy(n->pidfile, o->pidfile, sizeof n->pidfile);
	memcpy(n->log_target, o->log_target, sizeof n->log_target);
	n->foreground = o->foreground;
	if (n->min_conns > n->max_conns) {
		pd_warn("reload: min %u is more than the max in force (%u, which only a restart changes); using min %u",
			n->min_conns, n->max_conns, n->max_conns);
		n->min_conns = n->max_conns;
	}
}

/* The threads that read the settings: the serving loops (fixed once the
 * daemon runs). */
static uint32_t nreaders(const struct pd_daemon *d)
{
	return d->loops ? d->nloops : 0;
}

static uint64_t reader_epoch(struct pd_daemon *d, uint32_t i)
{
	return atomic_load(&d->loops[i].epoch);
}

/* Retire old settings until every loop has stepped past them. */
static void retire(struct pd_daemon *d, struct pd_live *old)
{
	if (nretired == MAX_RETIRED) {
		pd_warn("reload: too many reloads in flight; waiting for the serving loops");
		while (nretired == MAX_RETIRED)
			pd_reload_collect(d);
	}
	uint64_t *ep = calloc(nreaders(d), sizeof *ep);
	for (uint32_t i = 0; ep && i < nreaders(d); i++)
		ep[i] = reader_epoch(d, i);
	retired[nretired++] = (struct retired){ old, ep };
}

int pd_reload(struct pd_daemon *d)
{
	const struct pd_live *cur = pd_live(d);
	struct pd_live *n = calloc(1, sizeof *n);
	if (!n)
		return -1;
	pd_options_set_reporter(report_option_error, NULL);
	int r = pd_options_load(&n->opt, d->argc, d->argv);
	if (r != 0 || load_token(&n->opt, n->auth_header, sizeof n->auth_header) < 0) {
		pd_err("reload failed: keeping the settings in force");
		live_free(n);
		return -1;
	}
	pd_options_diff(&cur->opt, &n->opt, report_change, NULL);
	keep_fixed(&n->opt, &cur->opt);
	if (strcmp(n->auth_header, cur->auth_header) != 0)
		pd_info("reload: bearer token replaced");
	if (memcmp(n->opt.backends, cur->opt.backends, sizeof n->opt.backends) != 0 ||
	    n->opt.nbackends != cur->opt.nbackends)
		pd_backends_replace(&d->backends, &n->opt);
	pd_log_set_level(n->opt.log_level);
	pd_conn_settings_reloaded(); /* CA files read again by new connections */
	atomic_store_explicit(&d->seg.hdr->spin_ns, n->opt.spin_us * 1000u, memory_order_relaxed);
	/* The limits a worker copies when it attaches (segment.c): later
	 * attaches take the new ones.  Attached workers keep their copies, so
	 * that a scribbled header cannot change them (failure-model.md). */
	__atomic_store_n(&d->seg.hdr->lease_timeout_ms, n->opt.lease_timeout_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&d->seg.hdr->request_timeout_ms, n->opt.request_timeout_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&d->seg.hdr->max_body, (uint64_t)n->opt.max_body, __ATOMIC_RELAXED);
	__atomic_store_n(&d->seg.hdr->min_conns, n->opt.min_conns, __ATOMIC_RELAXED); /* pp_status, shmdump */
	n->gen = cur->gen + 1;
	struct pd_live *old = atomic_exchange_explicit(&d->live, n, memory_order_acq_rel);
	retire(d, old);
	for (uint32_t k = 0; d->loops && k < d->nloops; k++)
		pd_loop_wake(d, k); /* step past the old settings */
	pd_info("reloaded%s%s", *n->opt.config_file ? " " : "", n->opt.config_file);
	return 0;
}

void pd_reload_collect(struct pd_daemon *d)
{
	for (unsigned k = 0; k < nretired;) {
		bool quiet = retired[k].epochs != NULL; /* no snapshot: never provably quiet */
		for (uint32_t i = 0; quiet && retired[k].epochs && i < nreaders(d); i++)
			quiet = reader_epoch(d, i) != retired[k].epochs[i];
		if (!quiet) {
			k++;
			continue;
		}
		live_free(retired[k].live);
		free(retired[k].epochs);
		retired[k] = retired[--nretired];
	}
}

void pd_live_free(struct pd_daemon *d)
{
	for (unsigned k = 0; k < nretired; k++) {
		live_free(retired[k].live);
		free(retired[k].epochs);
	}
	nretired = 0;
	live_free(atomic_exchange(&d->live, NULL));
}
