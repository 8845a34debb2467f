/* test_hostile.c - a hostile process writes over a live pool's segment.
 *
 * A child of the test (the "hostile worker": it exits when done, so any
 * ownership it forged names a process that is gone) maps
 * /dev/shm/phantompool-<pool> read-write, as any process allowed to attach
 * can, and writes random values over it for 2 s while 8 forked workers run
 * requests:
 *
 *  1. the slots' rings: indices, waiter flags, frame bytes;
 *  2. the slot records' own words: state, owner pid, token, the owner
 *     lock's futex word, lease start, the daemon's counters;
 *  3. random bytes over slot records, glibc's private mutex fields (kind,
 *     owner, robust-list links) included; the last slot is spared;
 *  4. the header: identity, liveness, semaphore, counters.
 *
 * What must hold.  The daemon never dies: its pid stays alive throughout,
 * and it exits with status 0 on SIGTERM at the end.  Workers may get errors
 * or even wrong answers while the writes go on (the writer can rewrite
 * anyone's frames), and one whose mutex is overwritten may crash inside
 * glibc: all that is printed, not asserted.  For 1 to 3, once the writes
 * stop the pool must heal by itself within RECOVER_MS: every slot FREE or
 * quarantined (DISABLED), at least one FREE, every FREE slot leasable and
 * serving a request that returns its own X-Request-Id and body, for the
 * old handle and for a client that attaches afterwards.  (That check runs
 * in a child: pthread_mutex_trylock on a scribbled mutex may abort().)  For
 * 4 the identity fields are gone, so new clients may fail validation; only
 * the daemon's survival (alive, heartbeat refreshed, clean exit) is
 * asserted, and what clients see is printed.
 *
 *  5. Garbage frames written by hand into a leased slot's request ring (a
 *     REQ_HEAD whose path holds NUL, or CR LF; broken length prefixes;
 *     msgpack junk; an unknown frame type; a BODY without a head;
 *     inconsistent ring indices): the worker's next pp_request gets an
 *     error within 5 s, the daemon stays up, and once the lease is released
 *     the slot serves the next lease correctly within 1 s.
 *
 *     A whole, valid request written into a free slot (by a worker after
 *     its pp_release): never served; the slot's next holder gets its own
 *     answer.  Part of a frame left in a free slot: the slot is reset, its
 *     next holder is served.
 *
 *  6. The doorbells: another process keeps clearing every request ring's
 *     waiter word and bumping the serving loops' wake words, so workers'
 *     rings are lost and loops wake for nothing.  Every request is still
 *     answered, within about one 50 ms rescan of the loop.
 *
 * An argument runs only the tests whose name contains it.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_proc.h"
#include "clock.h"
#include "daemon_proc.h"
#include "frame_put.h"
#include "futex.h"
#include "layout.h"
#include "phantompool.h"
#include "ring.h"
#include "segment.h"
#include "testutil.h"

#define NWORKERS 8
#define SCRIBBLE_MS 2000
#define RECOVER_MS 5000
#define RING_SIZE 16384

static struct pp_backend backend;
static uint64_t seed;

/* A daemon of our own plus a read-write mapping of its segment. */
struct hpool {
	struct pp_daemon_proc d;
	pp_pool *pool;
	struct pp_seg seg;      /* read-write mapping; the fields below point into it */
	struct pp_shm_header *h;
	struct pp_slot *slots;
	uint8_t *rings;
	uint32_t nslots, ring_size;
	char log[128];          /* the daemon's stderr */
	unsigned failures0;     /* CUnit failures before this pool's test */
};

/* What the workers saw, in a MAP_SHARED page. */
struct tally {
	_Atomic int stop;
	_Atomic long ok, failed;
	/* Answers that arrived but are not this request's: carrying another
	 * request's id (an old answer replayed, or cross-talk), or this id
	 * with a wrong status, length or byte (damaged in the ring). */
	_Atomic long crossed, damaged;
	_Atomic long by_code[32];
};
static struct tally *tally;
static int crossed_shown; /* answers meant for another request, printed so far */

static int suite_setup(void)
{
	seed = pp_now_ns() | 1;
	tally = mmap(NULL, sizeof *tally, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tally == MAP_FAILED)
		return -1;
	return pp_backend_start(&backend, NULL);
}

static int suite_teardown(void)
{
	munmap(tally, sizeof *tally);
	pp_backend_stop(&backend);
	return backend.exit_status == 0 ? 0 : -1;
}

static uint64_t rnd(void)
{
	seed ^= seed >> 12;
	seed ^= seed << 25;
	seed ^= seed >> 27;
	return seed * 0x2545f4914f6cdd1dull;
}

static double ms_since(uint64_t t0)
{
	return (double)(pp_now_ns() - t0) / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int hpool_start(struct hpool *hp, const char *tag, int nslots, const char *req_timeout)
{
	char n[16], rs[16];
	snprintf(n, sizeof n, "%d", nslots);
	snprintf(rs, sizeof rs, "%d", RING_SIZE);
	const char *args[] = { "-b", backend.url, "--max", n, "--min", n, "--ring-size", rs,
			       "--request-timeout", req_timeout, "--lease-timeout", "2000", NULL };
	memset(hp, 0, sizeof *hp);
	hp->failures0 = CU_get_number_of_failures();
	crossed_shown = 0;
	snprintf(hp->log, sizeof hp->log, "/tmp/pp-test-%s.log", pp_test_pool_name(tag));
	/* The daemon's warnings go to a file: a scribbled segment makes many. */
	int logfd = open(hp->log, O_WRONLY | O_CREAT | O_TRUNC, 0600), saved = dup(2);
	fflush(stderr);
	if (logfd >= 0)
		dup2(logfd, 2);
	int r = pp_daemon_start(&hp->d, pp_test_pool_name(tag), args);
	if (r == 0)
		pp_daemon_track(hp->d.pid);
	dup2(saved, 2);
	close(saved);
	if (logfd >= 0)
		close(logfd);
	if (r != 0 || pp_attach(hp->d.pool, &hp->pool) != 0)
		return -1;
	if (pp_seg_attach(hp->d.pool, true, &hp->seg) != 0)
		return -1;
	hp->h = hp->seg.hdr;
	hp->nslots = (uint32_t)nslots;
	hp->ring_size = RING_SIZE;
	hp->slots = hp->seg.slots;
	hp->rings = hp->seg.rings;
	return pp_layout_size(hp->nslots, RING_SIZE) == hp->seg.size ? 0 : -1;
}

static uint8_t *req_data(struct hpool *hp, uint32_t i)
{
	return hp->rings + (size_t)(2 * i) * hp->ring_size;
}

static uint8_t *resp_data(struct hpool *hp, uint32_t i)
{
	return hp->rings + (size_t)(2 * i + 1) * hp->ring_size;
}

/* True while the daemon process runs (not exited, not a zombie). */
static int daemon_alive(struct hpool *hp)
{
	return hp->d.pid > 0 && waitpid(hp->d.pid, NULL, WNOHANG) == 0;
}

/* Stop the daemon: it must exit by itself with status 0.  A second
 * SIGTERM skips its drain (leases stuck in a scribbled slot would make it
 * wait for its whole drain timeout). */
static void hpool_stop(struct hpool *hp)
{
	pp_seg_unmap(&hp->seg);
	pp_detach(hp->pool);
	pp_daemon_untrack(hp->d.pid);
	int st = -1;
	if (hp->d.pid > 0) {
		kill(hp->d.pid, SIGTERM);
		sleep_ms(200);
		if (waitpid(hp->d.pid, &st, WNOHANG) == hp->d.pid) {
			hp->d.pid = 0;
			st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		} else {
			st = pp_daemon_stop(&hp->d);
		}
	}
	if (st != 0)
		printf("\n    daemon exit status %d on SIGTERM (-1: still running after 5 s)", st);
	CU_ASSERT_EQUAL(st, 0);
	FILE *f = fopen(hp->log, "r");
	long lines = 0, garbage = 0;
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		lines++;
		garbage += strstr(line, "garbage") != NULL;
	}
	if (f)
		fclose(f);
	printf("\n    the daemon logged %ld lines (%ld about garbage)", lines, garbage);
	if (CU_get_number_of_failures() != hp->failures0 || getenv("PP_KEEP_LOGS"))
		printf(" to %s", hp->log);
	else
		unlink(hp->log);
}

/* ---- workers ------------------------------------------------------------ */

static void count_failure(int r)
{
	atomic_fetch_add(&tally->failed, 1);
	atomic_fetch_add(&tally->by_code[r < 0 && r > -32 ? -r : 31], 1);
}

/* Requests until told to stop; every response's id and body checked. */
static void worker_main(pp_pool *p, int k)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (unsigned i = 0; !atomic_load(&tally->stop); i++) {
		char id[48], path[64];
		size_t want = 100 + (i * 37 + (unsigned)k * 1000) % 20000;
		snprintf(id, sizeof id, "w%d-%u-%ld", k, i, (long)getpid());
		snprintf(path, sizeof path, "/_debug/bytes?bytes=%zu", want);
		pp_header h = { "X-Request-Id", id };
		pp_req req = { .method = "GET", .path = path, .headers = &h, .nheaders = 1, .timeout_ms = 1500 };
		pp_resp resp;
		struct pp_lease *l;
		int r = pp_lease(p, 1000, &l);
		if (r) {
			count_failure(r);
			continue;
		}
		r = pp_request(l, &req, &resp);
		if (r) {
			count_failure(r);
		} else {
			int mine = strcmp(resp.request_id, id) == 0;
			int ok = mine && resp.status == 200 && resp.body_len == want;
			for (size_t j = 0; ok && j < want; j++)
				ok = (uint8_t)resp.body[j] == (uint8_t)(j * 31 + 7);
			atomic_fetch_add(ok ? &tally->ok : mine ? &tally->damaged : &tally->crossed, 1);
		}
		pp_resp_free(&resp);
		pp_release(l); /* may say PP_ELOST: the scribbler changed the token */
	}
	_exit(0);
}

static void start_workers(struct hpool *hp, pid_t *pids)
{
	memset(tally, 0, sizeof *tally);
	for (int k = 0; k < NWORKERS; k++)
		if ((pids[k] = fork()) == 0)
			worker_main(hp->pool, k);
}

/* Stop the workers (bounded: 6 s, then SIGKILL; a worker's calls are
 * bounded by 1 s to lease + 1.5 s request timeout + 2 s grace).  Prints what they saw;
 * returns the number that crashed. */
static int stop_workers(pid_t *pids)
{
	atomic_store(&tally->stop, 1);
	uint64_t t0 = pp_now_ns();
	int crashed = 0, hung = 0;
	for (int k = 0; k < NWORKERS; k++) {
		int st = 0;
		while (pids[k] > 0 && waitpid(pids[k], &st, WNOHANG) == 0) {
			if (ms_since(t0) > 6000) {
				kill(pids[k], SIGKILL);
				waitpid(pids[k], &st, 0);
				hung++;
				break;
			}
			usleep(2000);
		}
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
			crashed++;
	}
	printf("\n    workers: ok %ld, another's id %ld, damaged %ld, failed %ld, crashed %d, hung %d", tally->ok,
	       tally->crossed, tally->damaged, tally->failed, crashed, hung);
	for (int c = 1; c < 32; c++)
		if (tally->by_code[c])
			printf("; %s %ld", pp_strerror(-c), tally->by_code[c]);
	return crashed;
}

/* ---- recovery ----------------------------------------------------------- */

static void print_slots(struct hpool *hp)
{
	for (uint32_t i = 0; i < hp->nslots; i++) {
		struct pp_slot *s = &hp->slots[i];
		printf("\n      slot %u: state %u, owner_lock {lock 0x%x, owner %d, kind 0x%x}, owner_pid %d, req %u/%u, resp %u/%u",
		       i, atomic_load(&s->state), (unsigned)s->owner_lock.__data.__lock, s->owner_lock.__data.__owner,
		       (unsigned)s->owner_lock.__data.__kind, atomic_load(&s->owner_pid), atomic_load(&s->req.head),
		       atomic_load(&s->req.tail), atomic_load(&s->resp.head), atomic_load(&s->resp.tail));
	}
}

/* One request with a fresh id on l; 1 if the answer is exactly right.  An
 * answer carrying another request's id is always reported (the first few). */
static int check_lease(struct pp_lease *l, const char *tag, int verbose)
{
	static unsigned seq;
	char id[64], path[64];
	size_t want = 500 + (++seq % 97);
	snprintf(id, sizeof id, "%s-%u", tag, seq);
	snprintf(path, sizeof path, "/_debug/bytes?bytes=%zu", want);
	pp_header h = { "X-Request-Id", id };
	pp_req req = { .method = "GET", .path = path, .headers = &h, .nheaders = 1, .timeout_ms = 1000 };
	pp_resp resp;
	int r = pp_request(l, &req, &resp);
	int ok = r == 0 && resp.status == 200 && strcmp(resp.request_id, id) == 0 && resp.body_len == want;
	for (size_t j = 0; ok && j < want; j++)
		ok = (uint8_t)resp.body[j] == (uint8_t)(j * 31 + 7);
	int crossed = r == 0 && resp.request_id[0] && strcmp(resp.request_id, id) != 0;
	if ((!ok && verbose) || (crossed && crossed_shown++ < 4))
		printf("\n      slot %d: %s -> %d (%s) status %d id '%s'%s", pp_lease_slot(l), id, r, pp_strerror(r),
		       resp.status, resp.request_id, crossed ? " <- SOMEONE ELSE'S RESPONSE" : "");
	pp_resp_free(&resp);
	return ok;
}

/* One attempt: every slot FREE or DISABLED, at least one FREE, every FREE
 * slot leasable and serving a right answer.  Returns 1 on success. */
static int healed_round(struct hpool *hp, pp_pool *p, int verbose)
{
	uint32_t nfree = 0, other = 0;
	for (uint32_t i = 0; i < hp->nslots; i++) {
		uint32_t st = atomic_load(&hp->slots[i].state);
		nfree += st == PP_SLOT_FREE;
		other += st != PP_SLOT_FREE && st != PP_SLOT_DISABLED;
	}
	if (verbose)
		printf("\n      %u free, %u neither free nor disabled", nfree, other);
	struct pp_lease *ls[64];
	uint32_t n = 0;
	while (n < nfree && n < 64 && pp_lease(p, 100, &ls[n]) == 0)
		n++;
	int good = 0;
	for (uint32_t i = 0; i < n; i++)
		good += check_lease(ls[i], "heal", verbose);
	for (uint32_t i = 0; i < n; i++)
		pp_release(ls[i]);
	if (verbose && n < nfree)
		printf("\n      only %u of the %u free slots could be leased", n, nfree);
	return other == 0 && nfree >= 1 && n == nfree && good == (int)n;
}

/* Wait (bounded) until the pool has healed.  Returns 1 if it did. */
static int wait_healed(struct hpool *hp, pp_pool *p)
{
	uint64_t t0 = pp_now_ns();
	int rounds = 0, ok = 0;
	while (!ok && ms_since(t0) < RECOVER_MS) {
		rounds++;
		if (!(ok = healed_round(hp, p, 0)))
			sleep_ms(50);
	}
	if (ok) {
		printf("\n    pool healed %.0f ms after the scribbling (%d rounds)", ms_since(t0), rounds);
		uint32_t disabled = 0;
		for (uint32_t i = 0; i < hp->nslots; i++)
			disabled += atomic_load(&hp->slots[i].state) == PP_SLOT_DISABLED;
		printf("; %u of %u slots quarantined", disabled, hp->nslots);
	} else {
		printf("\n    pool NOT healed %d ms after the scribbling; last round:", RECOVER_MS);
		healed_round(hp, p, 1);
		print_slots(hp);
	}
	return ok;
}

/* The heal check, then a request from a client that attaches now, both in
 * a child process: leasing calls pthread_mutex_trylock on the slots'
 * robust mutexes, and glibc may abort() on one whose fields were
 * scribbled.  Exit 0: healed; 1: not healed; a signal: crashed. */
static void assert_heals(struct hpool *hp)
{
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		int ok = wait_healed(hp, hp->pool);
		pp_pool *fresh;
		int r = pp_attach(hp->d.pool, &fresh);
		if (r == 0) {
			struct pp_lease *l;
			r = pp_lease(fresh, 1000, &l);
			if (r == 0) {
				if (!check_lease(l, "fresh", 1)) {
					printf("\n    a client attaching after the scribbling: its request failed or got a wrong answer");
					r = 1;
				}
				pp_release(l);
			}
			pp_detach(fresh);
		}
		if (r < 0)
			printf("\n    a client attaching after the scribbling: %s", pp_strerror(r));
		fflush(stdout);
		_exit(ok && r == 0 ? 0 : 1);
	}
	int st = pp_test_wait_child(kid);
	if (st > 128) {
		printf("\n    the checking client died of signal %d (inside glibc, on a scribbled mutex?)", st - 128);
		print_slots(hp);
	}
	CU_ASSERT_EQUAL(st, 0);
}

/* ---- scribblers --------------------------------------------------------- */

static void random_bytes(uint8_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (uint8_t)rnd();
}

/* A value for an index or flag word: often plausible, sometimes wild. */
static uint32_t nasty_u32(uint32_t cur)
{
	switch (rnd() % 5) {
	case 0: return (uint32_t)rnd();
	case 1: return cur + (uint32_t)(rnd() % 64);
	case 2: return cur - (uint32_t)(rnd() % 64);
	case 3: return cur + RING_SIZE + 1;
	default: return (uint32_t)(rnd() % 3);
	}
}

static void scribble_ring_ctl(struct pp_ring_ctl *c)
{
	_Atomic uint32_t *w[] = { &c->head, &c->tail, &c->head_waiter, &c->tail_waiter };
	_Atomic uint32_t *t = w[rnd() % 4];
	atomic_store(t, nasty_u32(atomic_load(t)));
}

static void scribble_ring_data(uint8_t *data, const struct pp_ring_ctl *c)
{
	/* Half the time right where the consumer reads next. */
	uint32_t at = rnd() % 2 ? atomic_load(&c->tail) : (uint32_t)rnd();
	size_t n = 1 + rnd() % 64;
	for (size_t i = 0; i < n; i++)
		data[(at + i) & (RING_SIZE - 1)] = (uint8_t)rnd();
}

static void scribble_rings_once(struct hpool *hp)
{
	uint32_t i = (uint32_t)(rnd() % hp->nslots);
	struct pp_slot *s = &hp->slots[i];
	switch (rnd() % 4) {
	case 0: scribble_ring_ctl(&s->req); break;
	case 1: scribble_ring_ctl(&s->resp); break;
	case 2: scribble_ring_data(req_data(hp, i), &s->req); break;
	default: scribble_ring_data(resp_data(hp, i), &s->resp); break;
	}
}

/* The slot record's own words, one at a time: state, owner stamp, token,
 * the owner lock's futex word, lease start, the daemon's counters. */
static void scribble_slot_words_once(struct hpool *hp)
{
	uint32_t i = (uint32_t)(rnd() % hp->nslots);
	struct pp_slot *s = &hp->slots[i];
	_Atomic uint32_t *lock = (_Atomic uint32_t *)(void *)&s->owner_lock;
	switch (rnd() % 6) {
	case 0: atomic_store(&s->state, rnd() % 4 ? (uint32_t)(rnd() % 8) : (uint32_t)rnd()); break;
	case 1: atomic_store(&s->owner_pid, (int32_t)(rnd() % 3 ? rnd() : 1)); break;
	case 2: atomic_store(&s->token, rnd()); break;
	case 3: { /* the futex word: junk, free, dead owner, or "held by me" */
		uint32_t v[] = { (uint32_t)rnd(), 0, FUTEX_OWNER_DIED, ((uint32_t)rnd() & FUTEX_TID_MASK) | FUTEX_OWNER_DIED,
				 (uint32_t)gettid() };
		atomic_store(lock, v[rnd() % 5]);
		break;
	}
	case 4: atomic_store(&s->lease_start_ns, rnd()); break;
	default: random_bytes((uint8_t *)&s->stats_seq + rnd() % 64, 1 + rnd() % 16); break;
	}
}

/* Random bytes anywhere in a slot record, the glibc mutex's private
 * fields (kind, owner, robust-list links) included; now and then the whole
 * record.  The last slot is spared: quarantining every slot the daemon
 * cannot make sense of is an acceptable way to heal, and the spared one
 * must then serve. */
static void scribble_slot_bytes_once(struct hpool *hp)
{
	uint32_t i = (uint32_t)(rnd() % (hp->nslots - 1));
	uint8_t *s = (uint8_t *)&hp->slots[i];
	if (rnd() % 32 == 0) {
		random_bytes(s, sizeof(struct pp_slot));
		return;
	}
	size_t off = rnd() % sizeof(struct pp_slot), n = 1 + rnd() % 16;
	random_bytes(s + off, off + n > sizeof(struct pp_slot) ? sizeof(struct pp_slot) - off : n);
}

static void scribble_header_once(struct hpool *hp)
{
	uint8_t *h = (uint8_t *)hp->h;
	size_t off = rnd() % sizeof(struct pp_shm_header), n = 1 + rnd() % 32;
	if (off + n > sizeof(struct pp_shm_header))
		n = sizeof(struct pp_shm_header) - off;
	random_bytes(h + off, n);
}

/* A hostile process (a child, so that whatever ownership it forges names a
 * process that is gone afterwards) runs `once` for ms milliseconds with
 * short random pauses.  Meanwhile the parent checks the daemon stays
 * alive.  Returns 1 if it did. */
static int scribble_for(struct hpool *hp, void (*once)(struct hpool *), int ms)
{
	uint64_t seed0 = seed;
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		uint64_t t0 = pp_now_ns();
		while (ms_since(t0) < ms) {
			once(hp);
			usleep((useconds_t)(rnd() % 300));
		}
		_exit(0);
	}
	int dead = 0;
	while (!dead && waitpid(kid, NULL, WNOHANG) == 0) {
		dead = !daemon_alive(hp);
		sleep_ms(5);
	}
	if (dead) {
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
	}
	seed = rnd() ^ seed0;
	printf("\n    %d ms of hostile writes, seed %" PRIu64 "%s", ms, seed0, dead ? "; THE DAEMON DIED" : "");
	return !dead;
}

static void run_scribble_case(const char *tag, void (*once)(struct hpool *))
{
	struct hpool hp;
	CU_ASSERT_FATAL(hpool_start(&hp, tag, 4, "1500") == 0);
	pid_t pids[NWORKERS];
	start_workers(&hp, pids);
	sleep_ms(200); /* traffic is flowing */
	CU_ASSERT(scribble_for(&hp, once, SCRIBBLE_MS));
	stop_workers(pids);
	CU_ASSERT(daemon_alive(&hp));
	assert_heals(&hp);
	CU_ASSERT(daemon_alive(&hp));
	hpool_stop(&hp);
}

static void test_scribbled_rings(void)
{
	run_scribble_case("hostile-rings", scribble_rings_once);
}

static void test_scribbled_slot_words(void)
{
	run_scribble_case("hostile-words", scribble_slot_words_once);
}

static void test_scribbled_slot_bytes(void)
{
	run_scribble_case("hostile-bytes", scribble_slot_bytes_once);
}

static void test_scribbled_header(void)
{
	struct hpool hp;
	CU_ASSERT_FATAL(hpool_start(&hp, "hostile-hdr", 4, "1500") == 0);
	pid_t pids[NWORKERS];
	start_workers(&hp, pids);
	sleep_ms(200);
	CU_ASSERT(scribble_for(&hp, scribble_header_once, SCRIBBLE_MS));
	stop_workers(pids);
	CU_ASSERT(daemon_alive(&hp));
	/* The daemon still ticks: its heartbeat moves. */
	atomic_store(&hp.h->heartbeat_ns, 0);
	sleep_ms(300);
	uint64_t hb = atomic_load(&hp.h->heartbeat_ns);
	printf("\n    heartbeat %s", hb ? "refreshed" : "NOT refreshed in 300 ms");
	CU_ASSERT(hb != 0);
	/* What clients see now (not asserted: the identity is gone). */
	pp_pool *fresh;
	int ra = pp_attach(hp.d.pool, &fresh);
	printf("\n    a new client's pp_attach: %s", pp_strerror(ra));
	if (ra == 0)
		pp_detach(fresh);
	pp_resp resp;
	pp_req req = { .method = "GET", .path = "/health", .timeout_ms = 1000 };
	struct pp_lease *l;
	int rl = pp_lease(hp.pool, 500, &l);
	int rr = rl == 0 ? pp_request(l, &req, &resp) : rl;
	if (rl == 0) {
		pp_resp_free(&resp);
		pp_release(l);
	}
	printf("\n    an old client's lease + request: %s", pp_strerror(rr));
	CU_ASSERT(daemon_alive(&hp));
	hpool_stop(&hp);
}

/* ---- garbage frames ----------------------------------------------------- */

/* msgpack by hand: str of n bytes (fixstr or str8). */
static size_t mp_str(uint8_t *o, const char *s, size_t n)
{
	size_t k = 0;
	if (n < 32) {
		o[k++] = (uint8_t)(0xa0 | n);
	} else {
		o[k++] = 0xd9;
		o[k++] = (uint8_t)n;
	}
	memcpy(o + k, s, n);
	return k + n;
}

/* A length-prefixed frame around payload p[0, n). */
static size_t frame(uint8_t *o, const uint8_t *p, size_t n)
{
	o[0] = (uint8_t)n;
	o[1] = (uint8_t)(n >> 8);
	o[2] = (uint8_t)(n >> 16);
	o[3] = (uint8_t)(n >> 24);
	memcpy(o + 4, p, n);
	return 4 + n;
}

/* [1, "GET", path, [], 0, 0]: a REQ_HEAD with any path bytes. */
static size_t req_head_with_path(uint8_t *o, const char *path, size_t plen)
{
	uint8_t p[128];
	size_t k = 0;
	p[k++] = 0x96;
	p[k++] = 0x01;
	k += mp_str(p + k, "GET", 3);
	k += mp_str(p + k, path, plen);
	p[k++] = 0x90;
	p[k++] = 0x00;
	p[k++] = 0x00;
	return frame(o, p, k);
}

enum garbage {
	G_PATH_NUL, G_PATH_CRLF, G_LEN_HUGE, G_LEN_ZERO, G_LEN_SHORT, G_MSGPACK_JUNK, G_UNKNOWN_TYPE,
	G_BODY_FIRST, G_HEAD_AHEAD, G_TAIL_AHEAD, G_N
};
static const char *const garbage_names[G_N] = {
	"REQ_HEAD path with NUL", "REQ_HEAD path with CR LF", "length prefix 0xfffffff0", "length prefix 0",
	"length prefix longer than the frame", "msgpack junk", "unknown frame type 9", "BODY before any REQ_HEAD",
	"request ring head moved past tail + capacity", "request ring tail moved past head",
};

/* Write case g into slot i's request ring, as its (hostile) producer. */
static void write_garbage(struct hpool *hp, uint32_t i, enum garbage g)
{
	struct pp_slot *s = &hp->slots[i];
	uint8_t buf[256];
	size_t n = 0;
	switch (g) {
	case G_PATH_NUL: n = req_head_with_path(buf, "/health\0/x", 10); break;
	case G_PATH_CRLF: n = req_head_with_path(buf, "/health\r\nX-Evil: 1", 18); break;
	case G_LEN_HUGE: memcpy(buf, "\xf0\xff\xff\xff\x93\x01\x02\x03", 8); n = 8; break;
	case G_LEN_ZERO: memcpy(buf, "\x00\x00\x00\x00\x91\x03", 6); n = 6; break;
	case G_LEN_SHORT: memcpy(buf, "\xe8\x03\x00\x00\x91\x03", 6); n = 6; break; /* announces 1000 */
	case G_MSGPACK_JUNK: {
		uint8_t junk[40];
		random_bytes(junk, sizeof junk);
		junk[0] = 0xc1; /* never used in msgpack */
		n = frame(buf, junk, sizeof junk);
		break;
	}
	case G_UNKNOWN_TYPE: n = frame(buf, (const uint8_t *)"\x91\x09", 2); break;
	case G_BODY_FIRST: n = frame(buf, (const uint8_t *)"\x92\x02\xc4\x03" "abc", 7); break;
	case G_HEAD_AHEAD:
		atomic_store(&s->req.head, atomic_load(&s->req.tail) + RING_SIZE + 100);
		return;
	case G_TAIL_AHEAD:
		atomic_store(&s->req.tail, atomic_load(&s->req.head) + 100);
		return;
	default: return;
	}
	struct pp_ring view;
	CU_ASSERT_EQUAL(pp_ring_init_view(&view, &s->req, req_data(hp, i), RING_SIZE), 0);
	CU_ASSERT_EQUAL(pp_ring_write(&view, buf, n), (ssize_t)n);
}

static void test_garbage_frames(void)
{
	struct hpool hp;
	CU_ASSERT_FATAL(hpool_start(&hp, "hostile-frames", 1, "1000") == 0);
	double worst_err = 0, worst_heal = 0;
	for (int g = 0; g < G_N; g++) {
		struct pp_lease *l;
		CU_ASSERT_FATAL(pp_lease(hp.pool, 2000, &l) == 0);
		write_garbage(&hp, 0, (enum garbage)g);
		pp_header h = { "X-Request-Id", "after-garbage" };
		pp_req req = { .method = "GET", .path = "/health", .headers = &h, .nheaders = 1, .timeout_ms = 1000 };
		pp_resp resp;
		uint64_t t0 = pp_now_ns();
		int r = pp_request(l, &req, &resp);
		double took = ms_since(t0);
		worst_err = took > worst_err ? took : worst_err;
		pp_resp_free(&resp);
		int rel = pp_release(l);
		/* The slot must serve the next lease right (bounded). */
		uint64_t t1 = pp_now_ns();
		int healed = 0;
		while (!healed && ms_since(t1) < 1000) {
			struct pp_lease *l2;
			if (pp_lease(hp.pool, 200, &l2) == 0) {
				healed = check_lease(l2, "next", 0);
				pp_release(l2);
			}
			if (!healed)
				sleep_ms(20);
		}
		double heal = ms_since(t1);
		worst_heal = heal > worst_heal ? heal : worst_heal;
		int alive = daemon_alive(&hp);
		printf("\n    %-45s -> %s in %.0f ms; release %s; next lease %s (%.0f ms)%s", garbage_names[g],
		       pp_strerror(r), took, pp_strerror(rel), healed ? "served right" : "NOT served right", heal,
		       alive ? "" : "; DAEMON DIED");
		if (!healed)
			print_slots(&hp);
		CU_ASSERT(r < 0);
		CU_ASSERT(took < 5000);
		CU_ASSERT(healed);
		CU_ASSERT_FATAL(alive);
	}
	printf("\n    worst: error after %.0f ms, slot healed after %.0f ms", worst_err, worst_heal);
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(hp.pool, &st), 0);
	CU_ASSERT_EQUAL(st.available, st.max);
	hpool_stop(&hp);
}

/* A worker that goes on writing after pp_release (a stale handle, a bug):
 * a whole, valid request (REQ_HEAD with its own X-Request-Id, END) lands
 * in the request ring of a slot nobody holds.  The daemon served it as if
 * the slot were BUSY, so its answer went to whoever leased the slot next:
 * a worker that leased it while that stale request waited for the backend
 * saw its rings empty (the daemon had taken the frames), sent its own
 * request, and read the stale request's answer as its own.  Now a request
 * in a slot that is not BUSY is never served: the slot is reset, and the
 * next holder gets its own answer. */
static void test_write_after_release(void)
{
	struct hpool hp;
	CU_ASSERT_FATAL(hpool_start(&hp, "hostile-stale", 1, "5000") == 0);
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(hp.pool, 2000, &l) == 0);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	CU_ASSERT_EQUAL(atomic_load(&hp.slots[0].state), PP_SLOT_FREE);
	/* The stale writer: a slow request into the free slot's ring. */
	struct pp_ring view;
	CU_ASSERT_FATAL(pp_ring_init_view(&view, &hp.slots[0].req, req_data(&hp, 0), RING_SIZE) == 0);
	struct pp_frame head = { .type = PP_FRAME_REQ_HEAD };
	head.req.method = PP_STR_LIT("GET");
	head.req.path = PP_STR_LIT("/health?delay_ms=1500");
	head.req.headers[0] = (struct pp_hdr){ PP_STR_LIT("X-Request-Id"), PP_STR_LIT("stale-writer") };
	head.req.nheaders = 1;
	struct pp_frame end = { .type = PP_FRAME_END };
	CU_ASSERT_FATAL(pp_test_put_frame(&view, &head, 0) == 0);
	CU_ASSERT_FATAL(pp_test_put_frame(&view, &end, 0) == 0);
	/* Wake the slot's loop (it may sleep on its wake word) and wait until
	 * it has dealt with the frames: taken them (and the stale request
	 * waits for its answer), or reset the slot. */
	atomic_fetch_add(&hp.h->loop_wake[0].word, 1);
	pp_futex_wake(&hp.h->loop_wake[0].word, 1);
	uint64_t t0 = pp_now_ns();
	while ((atomic_load(&hp.slots[0].req.head) != atomic_load(&hp.slots[0].req.tail) ||
		atomic_load(&hp.slots[0].state) != PP_SLOT_FREE) && ms_since(t0) < 3000)
		sleep_ms(5);
	/* The next holder of the (only) slot asks for its own answer. */
	int r = pp_lease(hp.pool, 2000, &l);
	CU_ASSERT_FATAL(r == 0);
	pp_header h = { "X-Request-Id", "next-holder" };
	pp_req req = { .method = "GET", .path = "/health", .headers = &h, .nheaders = 1, .timeout_ms = 3000 };
	pp_resp resp;
	r = pp_request(l, &req, &resp);
	printf("\n    the next holder's request: %s, status %d, id '%s'%s", pp_strerror(r), r == 0 ? resp.status : 0,
	       r == 0 ? resp.request_id : "", r == 0 && strcmp(resp.request_id, "next-holder") ? " <- THE STALE WRITER'S ANSWER" : "");
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT(r == 0 && resp.status == 200 && strcmp(resp.request_id, "next-holder") == 0);
	if (r == 0)
		pp_resp_free(&resp);
	pp_release(l);
	/* And the slot serves the one after it right too. */
	CU_ASSERT_FATAL(pp_lease(hp.pool, 2000, &l) == 0);
	CU_ASSERT(check_lease(l, "after", 1));
	pp_release(l);
	CU_ASSERT(daemon_alive(&hp));
	hpool_stop(&hp);
}

/* Part of a frame (a length prefix that announces more than follows) left
 * in the request ring of a free slot, by a writer that does not hold it:
 * no whole frame ever comes, and the slot's next holder found its ring not
 * empty and got PP_EPROTO for a request of its own.  The serving loop
 * resets a free slot with any bytes in its request ring. */
static void test_part_frame_in_free_slot(void)
{
	struct hpool hp;
	CU_ASSERT_FATAL(hpool_start(&hp, "hostile-part", 1, "5000") == 0);
	struct pp_ring view;
	CU_ASSERT_FATAL(pp_ring_init_view(&view, &hp.slots[0].req, req_data(&hp, 0), RING_SIZE) == 0);
	CU_ASSERT_FATAL(pp_ring_write(&view, "\x40\x00\x00\x00\x96\x01", 6) == 6); /* announces 64 bytes */
	atomic_fetch_add(&hp.h->loop_wake[0].word, 1);
	pp_futex_wake(&hp.h->loop_wake[0].word, 1);
	/* The loop looks at an idle seat at least every PD_QUIET_MS (250 ms). */
	uint64_t t0 = pp_now_ns();
	while ((atomic_load(&hp.slots[0].req.head) != atomic_load(&hp.slots[0].req.tail) ||
		atomic_load(&hp.slots[0].state) != PP_SLOT_FREE) && ms_since(t0) < 1500)
		sleep_ms(5);
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(hp.pool, 2000, &l) == 0);
	int ok = check_lease(l, "after-part", 1);
	printf("\n    the next holder's request after %.0f ms: %s", ms_since(t0), ok ? "its own answer" : "NOT its own answer");
	CU_ASSERT(ok);
	pp_release(l);
	CU_ASSERT(daemon_alive(&hp));
	hpool_stop(&hp);
}

/* Another process keeps clearing every request ring's waiter word and
 * bumping the loops' wake words, so a worker's ring is often lost and the
 * loops wake for nothing: every request is still answered, a lost ring
 * costing at most about one 50 ms rescan. */
static void test_lost_doorbells(void)
{
	struct hpool hp;
	CU_ASSERT_FATAL(hpool_start(&hp, "bells", 4, "5000") == 0);
	pid_t scribbler = fork();
	if (scribbler == 0) {
		uint64_t n = 0;
		for (;;) {
			for (uint32_t i = 0; i < hp.nslots; i++)
				atomic_store(&hp.slots[i].req.head_waiter, 0);
			if (++n % 64 == 0)
				atomic_fetch_add(&hp.h->loop_wake[n / 64 % PP_LOOPS_MAX].word, 1);
		}
	}
	CU_ASSERT_FATAL(scribbler > 0);
	int ok = 0, slow = 0;
	double worst = 0;
	for (int i = 0; i < 60; i++) {
		pp_req req = { .method = "GET", .path = "/health" };
		pp_resp resp;
		uint64_t t0 = pp_now_ns();
		ok += pp_do(hp.pool, &req, &resp) == 0 && resp.status == 200;
		pp_resp_free(&resp);
		double ms = ms_since(t0);
		slow += ms > 20;
		worst = ms > worst ? ms : worst;
		sleep_ms(1); /* let the loop go to sleep between requests */
	}
	kill(scribbler, SIGKILL);
	waitpid(scribbler, NULL, 0);
	printf("\n    60 requests with waiter words cleared: %d answered, %d over 20 ms, worst %.1f ms", ok, slow, worst);
	CU_ASSERT_EQUAL(ok, 60);
	CU_ASSERT(worst < 500);
	CU_ASSERT(daemon_alive(&hp));
	hpool_stop(&hp);
}

/* A process that may attach opens the object read-write, so it can also
 * shrink it (ftruncate).  The daemon's next touch of a page past the new
 * end raised SIGBUS and killed it; now it puts the size back, logs it, and
 * the zeroed pages heal like any scribble. */
static bool log_has(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[512];
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f))
		found = strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

static void test_segment_shrunk(void)
{
	struct hpool hp;
	CU_ASSERT_FATAL(hpool_start(&hp, "hostile-shrink", 4, "1500") == 0);
	int fd = shm_open(hp.seg.shm_name, O_RDWR, 0);
	CU_ASSERT_FATAL(fd >= 0);
	struct stat st0, st1;
	CU_ASSERT_FATAL(fstat(fd, &st0) == 0);
	CU_ASSERT(ftruncate(fd, 4096) == 0);
	sleep_ms(100); /* ten reaper ticks */
	CU_ASSERT(fstat(fd, &st1) == 0);
	printf("\n    shrunk from %lld to 4096 bytes: %lld bytes 100 ms later, daemon %s", (long long)st0.st_size,
	       (long long)st1.st_size, daemon_alive(&hp) ? "alive" : "DEAD");
	CU_ASSERT(daemon_alive(&hp));
	CU_ASSERT_EQUAL(st1.st_size, st0.st_size); /* the daemon put it back */
	close(fd);
	assert_heals(&hp);
	CU_ASSERT(daemon_alive(&hp));
	CU_ASSERT(log_has(hp.log, "was shrunk"));
	hpool_stop(&hp);
}

int main(int argc, char **argv)
{
	static const struct pp_test tests[] = {
		{ "garbage frames in a leased slot's request ring", test_garbage_frames },
		{ "a request written into a released slot is never served to its next holder", test_write_after_release },
		{ "part of a frame left in a free slot: its next holder is served", test_part_frame_in_free_slot },
		{ "rings scribbled under load: daemon survives, pool heals", test_scribbled_rings },
		{ "slot words (state, owner, token, lock word) scribbled under load: pool heals", test_scribbled_slot_words },
		{ "random bytes over slot records (glibc mutex too) under load: pool heals", test_scribbled_slot_bytes },
		{ "header scribbled under load: daemon survives", test_scribbled_header },
		{ "doorbells lost under a scribbler: every request answered", test_lost_doorbells },
		{ "segment shrunk by a worker (ftruncate): daemon survives, pool heals", test_segment_shrunk },
	};
	/* An argument picks the tests whose name contains it. */
	struct pp_test picked[PP_ARRAY_LEN(tests)];
	size_t n = 0;
	for (size_t i = 0; i < PP_ARRAY_LEN(tests); i++)
		if (argc < 2 || strstr(tests[i].name, argv[1]))
			picked[n++] = tests[i];
	return pp_test_main("hostile", picked, n, suite_setup, suite_teardown);
}
