/* test_chaos.c - a supervisor keeps 32 forked workers busy with requests
 * on an 8-slot pool and SIGKILLs random ones at random moments, at least
 * 2,000 times (bounded: it stops at 2,000 kills or after 45 s), respawning
 * each victim at once.
 *
 * Every request carries a unique X-Request-Id and every response is
 * checked: its id, its status and its body (a /_debug/bytes pattern, the
 * FNV-1a hash of an upload, or the /health JSON).  Workers count what they
 * saw in a MAP_SHARED page.  At the end:
 *  - no surviving worker got a wrong id, a wrong body or an error;
 *  - every slot is free again: available == max, used == 0, waiting == 0;
 *  - the backend accepted no more connections than the bound below.
 *
 * A victim is stopped (SIGSTOP, waited for) before it is killed, so the
 * supervisor can read, race-free, where the kill lands: the phase and slot
 * the worker published in the shared page.  The worker publishes a phase
 * BEFORE it starts the step it names, so a kill is never counted as
 * landing in an earlier phase than it really did.
 *
 * The connection bound.  The pool opens at most one connection per slot
 * on its own (max).  A kill forces a new connection only when it cuts an
 * exchange short: request bytes or response bytes of the dead worker may
 * still be on the wire, so the daemon must drop that connection, and the
 * slot's next request reconnects.  An idle lease, a worker asleep in
 * pp_lease, or a worker releasing after a finished exchange leaves a clean
 * connection that must be kept.  So
 *     accepted <= max + kills that landed while the victim was in an
 *                exchange (phase EXCHANGE, or inside pp_do)
 * is what an honest pool meets; a pool that dropped connections needlessly
 * (or leaked them) breaks it.
 *
 * Reclaim latency: for a victim killed while it held a lease whose slot it
 * had published (phases HELD and EXCHANGE), the supervisor times the kill
 * to the daemon's reset of that slot (the slot's `reclaims` counter moves).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
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
#include "layout.h"
#include "phantompool.h"
#include "segment.h"
#include "testutil.h"

#define NSLOTS 8
#define NWORKERS 32
/* 2,000 kills; PP_CHAOS_KILLS overrides (make check-sanitize uses fewer:
 * under ASan every process runs about five times slower). */
#define KILLS_DEFAULT 2000
static int kills_wanted(void)
{
	const char *e = getenv("PP_CHAOS_KILLS");
	int n = e ? atoi(e) : 0;
	return n > 0 ? n : KILLS_DEFAULT;
}
#define KILLS_WANTED kills_wanted()
#define TIME_LIMIT_MS 45000
#define MAX_GAP_US 8000 /* random pause between two kills: 0..8 ms */
#define UPLOAD_MAX (200 * 1024)
#define DOWNLOAD_MAX (300 * 1024)

enum phase {
	PH_NONE = 0,    /* no lease (maybe inside pp_lease) */
	PH_HELD,        /* lease returned, no exchange */
	PH_EXCHANGE,    /* between the start of a request and its end */
	PH_DO,          /* inside pp_do (lease, exchange, release) */
	PH_RELEASING,   /* exchange over, inside pp_release */
	PH_N
};
static const char *const phase_names[PH_N] = { "no lease/leasing", "idle lease", "mid-exchange",
						"inside pp_do", "releasing" };

struct worker_rec {
	_Atomic int phase;
	_Atomic int slot;
};

#define FAILS_RECORDED 4 /* failures reported with their call (count_failure) */

/* The MAP_SHARED page the workers report through. */
struct shared {
	_Atomic int stop;
	_Atomic long ok, wrong_id, bad_body, bad_status, failed;
	_Atomic long failed_by_code[32];
	/* The first failures, each with the call that returned it, so that a
	 * rare one (CI at 97235ba: one PP_EPROTO in 54,476 requests) can be
	 * traced to its path. */
	_Atomic int nrecorded;
	char first_fail[FAILS_RECORDED][160];
	struct worker_rec w[NWORKERS];
};

static struct pp_backend backend;
static struct pp_daemon_proc daemon_;
static pp_pool *pool;
static struct shared *sh;
static struct pp_seg seg;          /* read-only view: the slots' counters */
static const struct pp_slot *seg_slots;

static int suite_setup(void)
{
	if (pp_backend_start(&backend, NULL) != 0)
		return -1;
	const char *args[] = { "-b", backend.url, "--max", "8", "--min", "8", "--request-timeout", "10000",
			       "--lease-timeout", "10000", NULL };
	if (pp_daemon_start(&daemon_, pp_test_pool_name("chaos"), args) != 0)
		return -1;
	pp_daemon_track(daemon_.pid);
	if (pp_attach(daemon_.pool, &pool) != 0)
		return -1;
	if (pp_seg_attach(daemon_.pool, false, &seg) != 0)
		return -1;
	seg_slots = seg.slots;
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return sh == MAP_FAILED ? -1 : 0;
}

static int suite_teardown(void)
{
	munmap(sh, sizeof *sh);
	pp_seg_unmap(&seg);
	pp_detach(pool);
	pp_daemon_untrack(daemon_.pid);
	int r = pp_daemon_stop(&daemon_);
	pp_backend_stop(&backend);
	return r == 0 ? 0 : -1;
}

static double ms_since(uint64_t t0)
{
	return (double)(pp_now_ns() - t0) / 1e6;
}

/* xorshift64*: small, seedable, good enough for picking moments. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* ---- workers ------------------------------------------------------------ */

struct worker {
	int idx;
	unsigned gen;      /* unique per spawned worker: ids never repeat */
	uint64_t seed;
	unsigned seq;
	char id[64];
};

static void set_phase(struct worker *w, int ph)
{
	atomic_store(&sh->w[w->idx].phase, ph);
}

static void count_failure(int r, const char *call)
{
	atomic_fetch_add(&sh->failed, 1);
	atomic_fetch_add(&sh->failed_by_code[-r < 32 && r < 0 ? -r : 31], 1);
	int k = atomic_fetch_add(&sh->nrecorded, 1);
	if (k < FAILS_RECORDED) {
		const char *d = pp_error_detail();
		snprintf(sh->first_fail[k], sizeof sh->first_fail[k], "%s: %s%s%.80s", call, pp_strerror(r),
			 d ? ": " : "", d ? d : "");
	}
}

/* Checks common to every response: our id, status 200. */
static int check_head(const struct worker *w, const pp_resp *resp)
{
	if (strcmp(resp->request_id, w->id) != 0) {
		atomic_fetch_add(&sh->wrong_id, 1);
		return 0;
	}
	if (resp->status != 200) {
		atomic_fetch_add(&sh->bad_status, 1);
		return 0;
	}
	return 1;
}

static int do_health(struct worker *w, struct pp_lease *l)
{
	char path[64];
	snprintf(path, sizeof path, "/health%s", rnd(&w->seed) % 4 == 0 ? "?delay_ms=3" : "");
	pp_header h = { "X-Request-Id", w->id };
	pp_req req = { .method = "GET", .path = path, .headers = &h, .nheaders = 1 };
	pp_resp resp;
	int r = l ? pp_request(l, &req, &resp) : pp_do(pool, &req, &resp);
	if (r) {
		count_failure(r, l ? "health: pp_request" : "health: pp_do");
		return 0;
	}
	int ok = check_head(w, &resp);
	if (ok && (!resp.body || !strstr(resp.body, "healthy"))) {
		atomic_fetch_add(&sh->bad_body, 1);
		ok = 0;
	}
	pp_resp_free(&resp);
	return ok;
}

/* Streamed download of a size unique-ish to this request: every byte checked. */
static int do_download(struct worker *w, struct pp_lease *l)
{
	static uint8_t buf[32768];
	size_t want = 1 + rnd(&w->seed) % DOWNLOAD_MAX, got = 0;
	char path[64];
	snprintf(path, sizeof path, "/_debug/bytes?bytes=%zu", want);
	pp_header h = { "X-Request-Id", w->id };
	pp_req req = { .method = "GET", .path = path, .headers = &h, .nheaders = 1 };
	pp_resp resp;
	int r = pp_stream_begin(l, &req, 0);
	if (!r)
		r = pp_stream_read_head(l, &resp);
	if (r) {
		count_failure(r, "download: pp_stream_begin or pp_stream_read_head");
		return 0;
	}
	if (!check_head(w, &resp)) {
		while (pp_stream_read(l, buf, sizeof buf) > 0)
			;
		return 0;
	}
	long n;
	int bad = 0;
	while ((n = pp_stream_read(l, buf, sizeof buf)) > 0) {
		for (long i = 0; i < n; i++)
			bad |= buf[i] != (uint8_t)((got + (size_t)i) * 31 + 7);
		got += (size_t)n;
	}
	if (n < 0) {
		count_failure((int)n, "download: pp_stream_read");
		return 0;
	}
	if (bad || got != want) {
		atomic_fetch_add(&sh->bad_body, 1);
		return 0;
	}
	return 1;
}

/* Streamed upload of random bytes: the backend's hash must be ours. */
static int do_upload(struct worker *w, struct pp_lease *l)
{
	static uint8_t buf[UPLOAD_MAX];
	size_t len = 1 + rnd(&w->seed) % UPLOAD_MAX;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rnd(&w->seed);
		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
	uint64_t hash = fnv1a(0xcbf29ce484222325ull, buf, len);
	pp_header h[] = { { "X-Request-Id", w->id }, { "Content-Type", "application/octet-stream" } };
	pp_req req = { .method = "POST", .path = "/_debug/sum", .headers = h, .nheaders = 2 };
	pp_resp resp;
	int r = pp_stream_begin(l, &req, (int64_t)len);
	for (size_t off = 0; !r && off < len; off += 50000)
		r = pp_stream_write(l, buf + off, len - off < 50000 ? len - off : 50000);
	if (!r)
		r = pp_stream_read_head(l, &resp);
	char body[256];
	long n = 0, k = 0;
	while (!r && (k = pp_stream_read(l, body + n, sizeof body - 1 - (size_t)n)) > 0)
		n += k;
	if (!r && k < 0)
		r = (int)k;
	if (r) {
		count_failure(r, "upload");
		return 0;
	}
	body[n] = 0;
	if (!check_head(w, &resp))
		return 0;
	char want_hash[24], want_len[32];
	snprintf(want_hash, sizeof want_hash, "%016" PRIx64, hash);
	snprintf(want_len, sizeof want_len, "\"bytes\":%zu", len);
	if (!strstr(body, want_hash) || !strstr(body, want_len)) {
		atomic_fetch_add(&sh->bad_body, 1);
		return 0;
	}
	return 1;
}

/* One request of a random kind, with the phase published around it. */
static void worker_step(struct worker *w)
{
	snprintf(w->id, sizeof w->id, "g%u-r%u", w->gen, w->seq++);
	unsigned kind = (unsigned)(rnd(&w->seed) % 10);
	int ok;
	if (kind == 0) {
		set_phase(w, PH_DO);
		ok = do_health(w, NULL);
		set_phase(w, PH_NONE);
	} else {
		struct pp_lease *l;
		int r = pp_lease(pool, 10000, &l);
		if (r) {
			count_failure(r, "pp_lease");
			return;
		}
		atomic_store(&sh->w[w->idx].slot, pp_lease_slot(l));
		set_phase(w, PH_HELD);
		if (rnd(&w->seed) % 8 == 0)
			usleep(500); /* now and then hold the lease idle a while */
		set_phase(w, PH_EXCHANGE);
		ok = kind <= 5 ? do_health(w, l) : kind <= 7 ? do_download(w, l) : do_upload(w, l);
		set_phase(w, PH_HELD);
		set_phase(w, PH_RELEASING);
		if ((r = pp_release(l)) != 0)
			count_failure(r, "pp_release");
		set_phase(w, PH_NONE);
	}
	if (ok)
		atomic_fetch_add(&sh->ok, 1);
}

static void worker_main(int idx, unsigned gen)
{
	struct worker w = { .idx = idx, .gen = gen, .seed = 0x9e3779b97f4a7c15ull * (gen + 1) };
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	set_phase(&w, PH_NONE);
	while (!atomic_load(&sh->stop))
		worker_step(&w);
	_exit(0);
}

static pid_t spawn(int idx, unsigned gen)
{
	atomic_store(&sh->w[idx].phase, PH_NONE);
	atomic_store(&sh->w[idx].slot, -1);
	pid_t pid = fork();
	if (pid == 0)
		worker_main(idx, gen);
	return pid;
}

/* ---- the supervisor ----------------------------------------------------- */

struct pending_reclaim {
	int active;
	int phase;
	uint64_t reclaims_before;
	uint64_t t_kill;
};

struct chaos_stats {
	long kills, kills_by_phase[PH_N], resets_possible, crashes;
	long measured;
	/* The reclaim happened between the last poll that did not see it (lo)
	 * and the one that did (hi): a late supervisor inflates hi only. */
	double reclaim_max_lo_ms, reclaim_max_hi_ms, reclaim_sum_hi_ms;
	long reclaim_over_100ms; /* by the lower bound */
	uint64_t last_poll_ns;
	struct pending_reclaim pending[NSLOTS];
};

static uint64_t slot_reclaims(int slot)
{
	return atomic_load(&seg_slots[slot].reclaims);
}

static void poll_pending(struct chaos_stats *cs)
{
	uint64_t now = pp_now_ns();
	for (int i = 0; i < NSLOTS; i++) {
		struct pending_reclaim *p = &cs->pending[i];
		if (!p->active || slot_reclaims(i) == p->reclaims_before)
			continue;
		double hi = (double)(now - p->t_kill) / 1e6;
		double lo = cs->last_poll_ns > p->t_kill ? (double)(cs->last_poll_ns - p->t_kill) / 1e6 : 0;
		p->active = 0;
		cs->measured++;
		cs->reclaim_sum_hi_ms += hi;
		if (lo > 100) {
			if (cs->reclaim_over_100ms < 5)
				printf("\n    slow reclaim: slot %d, victim %s, between %.1f and %.1f ms after the kill", i,
				       phase_names[p->phase], lo, hi);
			cs->reclaim_over_100ms++;
		}
		cs->reclaim_max_lo_ms = lo > cs->reclaim_max_lo_ms ? lo : cs->reclaim_max_lo_ms;
		cs->reclaim_max_hi_ms = hi > cs->reclaim_max_hi_ms ? hi : cs->reclaim_max_hi_ms;
	}
	cs->last_poll_ns = now;
}

/* Stop the victim, read where it is, kill it, note what the kill means. */
static void kill_one(struct chaos_stats *cs, pid_t pid, int idx)
{
	int st;
	kill(pid, SIGSTOP);
	if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) {
		cs->crashes++; /* it died by itself: reaped already */
		printf("\n    worker %d died by itself (status 0x%x)", idx, st);
		return;
	}
	int ph = atomic_load(&sh->w[idx].phase), slot = atomic_load(&sh->w[idx].slot);
	uint64_t before = slot >= 0 && slot < NSLOTS ? slot_reclaims(slot) : 0;
	uint64_t t_kill = pp_now_ns();
	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		cs->crashes++;
	cs->kills++;
	cs->kills_by_phase[ph >= 0 && ph < PH_N ? ph : PH_NONE]++;
	if (ph == PH_EXCHANGE || ph == PH_DO)
		cs->resets_possible++;
	if ((ph == PH_HELD || ph == PH_EXCHANGE) && slot >= 0 && slot < NSLOTS && !cs->pending[slot].active)
		cs->pending[slot] = (struct pending_reclaim){ 1, ph, before, t_kill };
}

/* Sleep up to us microseconds, polling pending reclaims meanwhile. */
static void gap(struct chaos_stats *cs, long us)
{
	uint64_t until = pp_now_ns() + (uint64_t)us * 1000;
	do {
		poll_pending(cs);
		usleep(300);
	} while (pp_now_ns() < until);
}

/* Ask every worker to stop after its current request; reap (bounded). */
static int stop_workers(pid_t *pids)
{
	atomic_store(&sh->stop, 1);
	int bad = 0;
	uint64_t t0 = pp_now_ns();
	for (int i = 0; i < NWORKERS; i++) {
		int st;
		while (waitpid(pids[i], &st, WNOHANG) == 0) {
			if (ms_since(t0) > 15000) {
				kill(pids[i], SIGKILL);
				waitpid(pids[i], &st, 0);
				st = -1;
				break;
			}
			usleep(1000);
		}
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("\n    worker %d ended with status 0x%x", i, st);
			bad++;
		}
	}
	return bad;
}

/* After the run: how the pool and the backend look. */
struct chaos_end {
	pp_pool_status st;
	long unfinished;  /* reclaims never seen */
	long accepted, open;
	uint64_t connects; /* as the daemon counted them */
};

static void look_at_the_end(struct chaos_stats *cs, struct chaos_end *e)
{
	/* Let the last kills' reclaims land, then look at the pool. */
	uint64_t te = pp_now_ns();
	do {
		poll_pending(cs);
		usleep(500);
		CU_ASSERT_EQUAL(pp_status(pool, &e->st), 0);
	} while ((e->st.available != NSLOTS || e->st.waiting != 0) && ms_since(te) < 2000);
	poll_pending(cs);
	e->unfinished = 0;
	e->connects = 0;
	for (int i = 0; i < NSLOTS; i++) {
		e->unfinished += cs->pending[i].active;
		e->connects += atomic_load(&seg_slots[i].connects);
	}
	e->accepted = e->open = -1;
	CU_ASSERT_EQUAL(pp_backend_connections(&backend, &e->accepted, &e->open), 0);
}

static void print_report(const struct chaos_stats *cs, const struct chaos_end *e, double secs)
{
	printf("\n    %ld kills in %.1f s; requests ok %ld, wrong id %ld, bad body %ld, bad status %ld, failed %ld",
	       cs->kills, secs, sh->ok, sh->wrong_id, sh->bad_body, sh->bad_status, sh->failed);
	for (int c = 1; c < 32; c++)
		if (sh->failed_by_code[c])
			printf("\n      failed with %s: %ld", pp_strerror(-c), sh->failed_by_code[c]);
	for (int k = 0; k < FAILS_RECORDED && k < sh->nrecorded; k++)
		printf("\n      failure %d: %s", k + 1, sh->first_fail[k]);
	printf("\n    kills by phase:");
	for (int p = 0; p < PH_N; p++)
		printf(" %s %ld;", phase_names[p], cs->kills_by_phase[p]);
	printf("\n    reclaim after kill (%ld measured): max %.1f ms (%.1f ms as seen by this busy supervisor), "
	       "mean <= %.2f ms, over 100 ms: %ld, never: %ld",
	       cs->measured, cs->reclaim_max_lo_ms, cs->reclaim_max_hi_ms,
	       cs->measured ? cs->reclaim_sum_hi_ms / (double)cs->measured : 0.0, cs->reclaim_over_100ms,
	       e->unfinished);
	printf("\n    backend accepted %ld connections (open %ld; the daemon counted %" PRIu64 "); "
	       "bound: max %d + mid-exchange kills %ld = %ld",
	       e->accepted, e->open, e->connects, NSLOTS, cs->resets_possible, NSLOTS + cs->resets_possible);
	printf("\n    end: available %u/%u, used %u, waiting %u, reclaims %" PRIu64, e->st.available, e->st.max,
	       e->st.used, e->st.waiting, e->st.reclaims);
}

/* Every slot still serves a correct answer. */
static void assert_every_slot_serves(void)
{
	struct pp_lease *ls[NSLOTS];
	int n = 0;
	while (n < NSLOTS && pp_lease(pool, 1000, &ls[n]) == 0)
		n++;
	CU_ASSERT_EQUAL(n, NSLOTS);
	for (int i = 0; i < n; i++) {
		char id[64];
		snprintf(id, sizeof id, "final-%d", i);
		pp_header h = { "X-Request-Id", id };
		pp_req req = { .method = "GET", .path = "/health", .headers = &h, .nheaders = 1 };
		pp_resp resp;
		CU_ASSERT_EQUAL(pp_request(ls[i], &req, &resp), 0);
		CU_ASSERT_EQUAL(resp.status, 200);
		CU_ASSERT_STRING_EQUAL(resp.request_id, id);
		pp_resp_free(&resp);
		CU_ASSERT_EQUAL(pp_release(ls[i]), 0);
	}
}

static void test_chaos_kills(void)
{
	struct chaos_stats cs;
	memset(&cs, 0, sizeof cs);
	memset(sh, 0, sizeof *sh);
	uint64_t seed = pp_now_ns() | 1;
	printf("\n    seed %" PRIu64, seed);
	pid_t pids[NWORKERS];
	unsigned gen = 0;
	for (int i = 0; i < NWORKERS; i++)
		CU_ASSERT_FATAL((pids[i] = spawn(i, gen++)) > 0);
	uint64_t t0 = pp_now_ns();
	while (cs.kills < KILLS_WANTED && ms_since(t0) < TIME_LIMIT_MS) {
		gap(&cs, (long)(rnd(&seed) % MAX_GAP_US));
		int v = (int)(rnd(&seed) % NWORKERS);
		kill_one(&cs, pids[v], v);
		pids[v] = spawn(v, gen++);
		CU_ASSERT_FATAL(pids[v] > 0);
	}
	double secs = ms_since(t0) / 1000;
	int bad_exits = stop_workers(pids);
	struct chaos_end e;
	look_at_the_end(&cs, &e);
	print_report(&cs, &e, secs);

	CU_ASSERT(cs.kills >= KILLS_WANTED);
	CU_ASSERT_EQUAL(cs.crashes, 0);
	CU_ASSERT_EQUAL(bad_exits, 0);
	CU_ASSERT(sh->ok > cs.kills); /* the workers did real work between kills */
	CU_ASSERT_EQUAL(sh->wrong_id, 0);
	CU_ASSERT_EQUAL(sh->bad_body, 0);
	CU_ASSERT_EQUAL(sh->bad_status, 0);
	CU_ASSERT_EQUAL(sh->failed, 0);
	CU_ASSERT_EQUAL(e.unfinished, 0);
	CU_ASSERT_EQUAL(e.st.available, NSLOTS);
	CU_ASSERT_EQUAL(e.st.used, 0);
	CU_ASSERT_EQUAL(e.st.waiting, 0);
	CU_ASSERT(e.accepted >= 1 && e.accepted <= NSLOTS + cs.resets_possible);
	CU_ASSERT(e.open >= 0 && e.open <= NSLOTS);
	assert_every_slot_serves();
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "32 workers, 2000 random SIGKILLs: no wrong answers, no leaks", test_chaos_kills },
	};
	return pp_test_main("chaos", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
