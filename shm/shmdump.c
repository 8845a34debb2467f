/* shmdump.c - phantompool-shmdump: the pool as its segment shows it.
 *
 * Reads the segment read-only and never trusts it: the header is validated
 * before any offset is used, every state is range-checked before it names
 * anything, and a segment truncated under us (SIGBUS) is reported, not
 * crashed on.
 *
 * Exit codes: 0 shown, daemon alive; 1 usage; 2 no such pool or no access;
 * 3 segment shown but its daemon is dead or stopped (stale); 4 segment
 * corrupt, torn, or of another layout version.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "phantompool.h"
#include "segment.h"
#include "slot.h"

enum { EXIT_SHOWN = 0, EXIT_USAGE = 1, EXIT_NOPOOL = 2, EXIT_STALE = 3, EXIT_CORRUPT = 4 };

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

static const char *daemon_state_name(uint32_t st)
{
	static const char *const names[] = { "?", "starting", "ready", "draining", "stopped" };
	return st < sizeof names / sizeof names[0] ? names[st] : "?";
}

/* Format a duration in ns as a short human string. */
static void fmt_age(char *buf, size_t len, uint64_t ns)
{
	if (ns < PP_NS_PER_S)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / PP_NS_PER_MS));
	else if (ns < 3600 * PP_NS_PER_S)
		snprintf(buf, len, "%.1fs", (double)ns / PP_NS_PER_S);
	else
		snprintf(buf, len, "%.1fh", (double)ns / (3600.0 * PP_NS_PER_S));
}

static void print_header(const struct pp_seg *seg, bool alive)
{
	const struct pp_shm_header *h = seg->hdr;
	char pool[sizeof h->pool_name + 1], backend[sizeof h->backend + 1], age[32], up[32];
	/* Strings from the segment may lack their NUL: copy bounded. */
	snprintf(pool, sizeof pool, "%.*s", (int)sizeof h->pool_name, h->pool_name);
	snprintf(backend, sizeof backend, "%.*s", (int)sizeof h->backend, h->backend);
	uint64_t now = pp_now_ns(), hb = h->heartbeat_ns;
	fmt_age(age, sizeof age, now > hb ? now - hb : 0);
	uint64_t wall = pp_wall_ns();
	fmt_age(up, sizeof up, wall > h->start_wall_ns ? wall - h->start_wall_ns : 0);
	uint32_t nfree = pp_slots_free(seg);
	printf("pool        %s (%s)\n", pool, seg->shm_name);
	printf("daemon      pid %d, %s%s, heartbeat %s ago, up %s\n", (int)h->daemon_pid,
	       daemon_state_name(h->daemon_state), alive ? "" : " (DEAD: stale segment)", age, up);
	printf("generation  %016llx   layout v%u   %llu bytes\n", (unsigned long long)h->generation,
	       h->layout_version, (unsigned long long)h->segment_size);
	printf("backend     %s\n", backend);
	printf("slots       %u (min %u): %u free, %u used, %u waiting\n", seg->nslots, h->min_conns,
	       nfree, seg->nslots - nfree, h->waiters);
	printf("counters    lease waits %llu, lease timeouts %llu, reclaims %llu\n",
	       (unsigned long long)h->lease_waits, (unsigned long long)h->lease_timeouts,
	       (unsigned long long)h->reclaims);
}

static void print_slots(const struct pp_seg *seg)
{
	uint64_t now = pp_now_ns();
	printf("\n%5s  %-9s  %-10s  %8s  %9s  %10s  %10s  %8s\n", "slot", "state", "conn", "owner",
	       "lease age", "leases", "requests", "reclaims");
	for (uint32_t i = 0; i < seg->nslots; i++) {
		const struct pp_slot *s = &seg->slots[i];
		uint32_t st = s->state;
		char age[32] = "-";
		if (st == PP_SLOT_LEASED || st == PP_SLOT_BUSY) {
			uint64_t t = s->lease_start_ns;
			fmt_age(age, sizeof age, now > t ? now - t : 0);
		}
		char owner[16] = "-";
		if (s->owner_pid > 0)
			snprintf(owner, sizeof owner, "%d", (int)s->owner_pid);
		printf("%5u  %-9s  %-10s  %8s  %9s  %10llu  %10llu  %8llu\n", i, pp_slot_state_name(st),
		       pp_conn_state_name(s->conn_state), owner, age, (unsigned long long)s->leases,
		       (unsigned long long)s->requests, (unsigned long long)s->reclaims);
	}
}

static int dump(const char *pool)
{
	struct pp_seg seg;
	int r = pp_seg_attach(pool, false, &seg);
	if (r) {
		fprintf(stderr, "phantompool-shmdump: pool '%s': %s\n", pool ? pool : "default", pp_strerror(r));
		if (r == PP_ENOPOOL || r == PP_EACCES || r == PP_ENAME)
			return EXIT_NOPOOL;
		return r == PP_EDAEMON ? EXIT_STALE : EXIT_CORRUPT;
	}
	signal(SIGBUS, on_sigbus);
	if (sigsetjmp(bus_jmp, 1)) {
		fprintf(stderr, "phantompool-shmdump: segment was truncated while reading (torn)\n");
		return EXIT_CORRUPT;
	}
	bool alive = pp_seg_daemon_alive(&seg, 1000);
	print_header(&seg, alive);
	print_slots(&seg);
	pp_seg_unmap(&seg);
	return alive ? EXIT_SHOWN : EXIT_STALE;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: phantompool-shmdump [-p POOL]\n"
		   "exit: 0 shown, 1 usage, 2 no such pool/no access, 3 daemon dead (stale), 4 corrupt\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pool", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pool = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
		if (c == 'p') {
			pool = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return EXIT_SHOWN;
		} else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return dump(pool);
}
