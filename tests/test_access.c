/* test_access.c - who may use a pool, and whose lease is whose.
 *
 *  - The segment's mode is honoured: with the default mode 0600 (daemon
 *    run as root here) a process running as `nobody` gets PP_EACCES from
 *    pp_attach; with --mode 0660 --group G, `nobody` attaches and runs
 *    requests when G is its primary group or one of its supplementary
 *    groups, and gets PP_EACCES when it is in neither.
 *  - A lease is its holder's: a forked child calling pp_release (or
 *    pp_request) on the parent's lease gets PP_ENOTOWNER and the slot stays
 *    the parent's (state, owner pid and token unchanged in the segment).
 *  - A lease whose slot token was changed under it (written into the
 *    segment, as a reclaim would) gets PP_ELOST from pp_release, and the
 *    slot goes through the daemon's reset back to FREE within 100 ms,
 *    serving the next lease correctly.
 *  - The bearer token never reaches the daemon's log: a daemon run with
 *    --token-file and --log-level debug, its stderr captured to a file,
 *    serves requests (authorised ones, failing ones once the backend is
 *    stopped), gets a SIGHUP and a SIGTERM; the file must not contain the
 *    token (nor either half of it), and neither may the segment.
 */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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

static struct pp_backend backend;
static uid_t nobody_uid;
static gid_t nobody_gid;
static char token[64];
static char token_path[128];

static int suite_setup(void)
{
	struct passwd *pw = getpwnam("nobody");
	if (!pw)
		return -1;
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
	uint64_t r = pp_now_ns() ^ ((uint64_t)getpid() << 32);
	snprintf(token, sizeof token, "tok-%016llx-%08lx-SECRET", (unsigned long long)(r * 0x9e3779b97f4a7c15ull),
		 (long)getpid());
	snprintf(token_path, sizeof token_path, "/tmp/pp-test-access-%ld.token", (long)getpid());
	FILE *f = fopen(token_path, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", token);
	fclose(f);
	const char *bargs[] = { "--token", token, NULL };
	return pp_backend_start(&backend, bargs);
}

static int suite_teardown(void)
{
	pp_backend_stop(&backend);
	unlink(token_path);
	return 0;
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

/* Start a daemon on the suite's backend with its token and extra args. */
static int start_daemon(struct pp_daemon_proc *d, const char *tag, const char *const *extra)
{
	const char *args[32] = { "-b", backend.url, "--max", "2", "--min", "1", "--token-file", token_path };
	int n = 8;
	for (int i = 0; extra && extra[i] && n < 31; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	int r = pp_daemon_start(d, pp_test_pool_name(tag), args);
	if (r == 0)
		pp_daemon_track(d->pid);
	return r;
}

/* Stop a daemon started by start_daemon(); its exit status. */
static int stop_daemon(struct pp_daemon_proc *d)
{
	pp_daemon_untrack(d->pid);
	return pp_daemon_stop(d);
}

static int segment_stat(const char *pool, struct stat *st)
{
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/phantompool-%s", pool);
	return stat(path, st);
}

/* ---- mode and group ------------------------------------------------------ */

/* Exit codes of the unprivileged child. */
enum { KID_ATTACHED_AND_SERVED = 0, KID_EACCES = 10, KID_SETID_FAILED = 20, KID_OTHER = 30 };

/* Child: become nobody (with the given supplementary groups), attach, and
 * if that works lease, request and release. */
static void nobody_main(const char *pool, const gid_t *groups, size_t ngroups, gid_t gid)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setgroups(ngroups, groups) != 0 || setgid(gid) != 0 || setuid(nobody_uid) != 0 ||
	    getuid() != nobody_uid || geteuid() != nobody_uid || setuid(0) == 0)
		_exit(KID_SETID_FAILED);
	pp_pool *p;
	int r = pp_attach(pool, &p);
	if (r == PP_EACCES)
		_exit(KID_EACCES);
	if (r != 0) {
		printf("\n    as nobody: pp_attach -> %s", pp_strerror(r));
		fflush(stdout);
		_exit(KID_OTHER);
	}
	struct pp_lease *l;
	pp_header h = { "X-Request-Id", "from-nobody" };
	pp_req req = { .method = "GET", .path = "/databases", .headers = &h, .nheaders = 1 };
	pp_resp resp;
	int ok = pp_lease(p, 2000, &l) == 0;
	ok = ok && pp_request(l, &req, &resp) == 0 && resp.status == 200 &&
	     strcmp(resp.request_id, "from-nobody") == 0;
	if (ok)
		pp_resp_free(&resp);
	ok = ok && pp_release(l) == 0;
	pp_detach(p);
	_exit(ok ? KID_ATTACHED_AND_SERVED : KID_OTHER);
}

static int run_as_nobody(const char *pool, const gid_t *groups, size_t ngroups, gid_t gid)
{
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0)
		nobody_main(pool, groups, ngroups, gid);
	return pp_test_wait_child(kid);
}

static void test_default_mode_0600_refuses_nobody(void)
{
	struct pp_daemon_proc d;
	CU_ASSERT_FATAL(start_daemon(&d, "acc-0600", NULL) == 0);
	struct stat st;
	CU_ASSERT_EQUAL_FATAL(segment_stat(d.pool, &st), 0);
	printf("\n    segment mode %04o, owner %d:%d", (unsigned)(st.st_mode & 07777), (int)st.st_uid, (int)st.st_gid);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(st.st_uid, 0);
	CU_ASSERT_EQUAL(run_as_nobody(d.pool, NULL, 0, nobody_gid), KID_EACCES);
	/* Still refused when nobody is in the segment's group: mode 0600. */
	gid_t g = st.st_gid;
	CU_ASSERT_EQUAL(run_as_nobody(d.pool, &g, 1, nobody_gid), KID_EACCES);
	CU_ASSERT_EQUAL(stop_daemon(&d), 0);
}

static void test_mode_0660_with_group(void)
{
	struct group *users = getgrnam("users");
	CU_ASSERT_FATAL(users != NULL);
	gid_t users_gid = users->gr_gid;
	struct grp_case {
		const char *group;
		gid_t primary;
		gid_t supp;      /* (gid_t)-1: none */
		int expect;
		const char *what;
	} cases[] = {
		{ "nogroup", nobody_gid, (gid_t)-1, KID_ATTACHED_AND_SERVED, "group = nobody's primary group" },
		{ "users", nobody_gid, users_gid, KID_ATTACHED_AND_SERVED, "group = one of nobody's supplementary groups" },
		{ "users", nobody_gid, (gid_t)-1, KID_EACCES, "nobody in neither" },
	};
	for (size_t i = 0; i < PP_ARRAY_LEN(cases); i++) {
		struct pp_daemon_proc d;
		const char *extra[] = { "--mode", "0660", "--group", cases[i].group, NULL };
		CU_ASSERT_FATAL(start_daemon(&d, "acc-0660", extra) == 0);
		struct stat st;
		CU_ASSERT_EQUAL_FATAL(segment_stat(d.pool, &st), 0);
		struct group *g = getgrnam(cases[i].group);
		CU_ASSERT_EQUAL(st.st_mode & 07777, 0660);
		CU_ASSERT(g && st.st_gid == g->gr_gid);
		gid_t supp = cases[i].supp;
		int got = run_as_nobody(d.pool, supp == (gid_t)-1 ? NULL : &supp, supp == (gid_t)-1 ? 0 : 1,
					cases[i].primary);
		printf("\n    mode %04o group %s (%d), %s: child exit %d (want %d)", (unsigned)(st.st_mode & 07777),
		       cases[i].group, (int)st.st_gid, cases[i].what, got, cases[i].expect);
		CU_ASSERT_EQUAL(got, cases[i].expect);
		CU_ASSERT_EQUAL(stop_daemon(&d), 0);
	}
}

/* ---- lease ownership ------------------------------------------------------ */

static uint32_t available(pp_pool *p)
{
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_status(p, &st), 0);
	return st.available;
}

static int health_with_id(struct pp_lease *l, const char *id)
{
	pp_header h = { "X-Request-Id", id };
	pp_req req = { .method = "GET", .path = "/health", .headers = &h, .nheaders = 1 };
	pp_resp resp;
	int r = pp_request(l, &req, &resp);
	int ok = r == 0 && resp.status == 200 && strcmp(resp.request_id, id) == 0;
	pp_resp_free(&resp);
	return ok;
}

static void test_child_cannot_release_parents_lease(void)
{
	struct pp_daemon_proc d;
	CU_ASSERT_FATAL(start_daemon(&d, "acc-owner", NULL) == 0);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	struct pp_seg v;
	CU_ASSERT_FATAL(pp_seg_attach(d.pool, false, &v) == 0);
	struct pp_lease *mine;
	CU_ASSERT_FATAL(pp_lease(p, 1000, &mine) == 0);
	int i = pp_lease_slot(mine);
	struct pp_slot *s = &v.slots[i];
	uint64_t token0 = atomic_load(&s->token);
	int32_t owner0 = atomic_load(&s->owner_pid);
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		pp_resp resp;
		pp_req req = { .method = "GET", .path = "/health" };
		int rr = pp_release(mine), rq = pp_request(mine, &req, &resp);
		int rs = pp_stream_begin(mine, &req, 0);
		printf("\n    child: pp_release %s, pp_request %s, pp_stream_begin %s", pp_strerror(rr), pp_strerror(rq),
		       pp_strerror(rs));
		fflush(stdout);
		_exit(rr == PP_ENOTOWNER && rq == PP_ENOTOWNER && rs == PP_ENOTOWNER ? 0 : 1);
	}
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), 0);
	CU_ASSERT_EQUAL(atomic_load(&s->state), PP_SLOT_LEASED);
	CU_ASSERT_EQUAL(atomic_load(&s->token), token0);
	CU_ASSERT_EQUAL(atomic_load(&s->owner_pid), owner0);
	CU_ASSERT_EQUAL(owner0, getpid());
	CU_ASSERT_EQUAL(available(p), 1);
	CU_ASSERT(health_with_id(mine, "still-mine")); /* the lease works on */
	CU_ASSERT_EQUAL(pp_release(mine), 0);
	CU_ASSERT_EQUAL(available(p), 2);
	pp_seg_unmap(&v);
	pp_detach(p);
	CU_ASSERT_EQUAL(stop_daemon(&d), 0);
}

static void test_changed_token_gives_elost_and_reclaim(void)
{
	struct pp_daemon_proc d;
	CU_ASSERT_FATAL(start_daemon(&d, "acc-token", NULL) == 0);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	struct pp_seg v;
	CU_ASSERT_FATAL(pp_seg_attach(d.pool, true, &v) == 0);
	double worst = 0;
	for (int round = 0; round < 3; round++) {
		struct pp_lease *l;
		CU_ASSERT_FATAL(pp_lease(p, 1000, &l) == 0);
		int i = pp_lease_slot(l);
		struct pp_slot *s = &v.slots[i];
		CU_ASSERT(health_with_id(l, "before")); /* a used, warm connection */
		uint64_t reclaims0 = atomic_load(&s->reclaims);
		atomic_store(&s->token, atomic_load(&s->token) ^ 0x5a5a5a5a00000000ull);
		uint64_t t0 = pp_now_ns();
		CU_ASSERT_EQUAL(pp_release(l), PP_ELOST);
		uint32_t st_after = atomic_load(&s->state);
		CU_ASSERT(st_after != PP_SLOT_LEASED && st_after != PP_SLOT_BUSY);
		while ((atomic_load(&s->reclaims) == reclaims0 || available(p) != 2) && ms_since(t0) < 1000)
			usleep(200);
		double took = ms_since(t0);
		worst = took > worst ? took : worst;
		CU_ASSERT(atomic_load(&s->reclaims) == reclaims0 + 1); /* it went through a reset */
		CU_ASSERT_EQUAL(atomic_load(&s->state), PP_SLOT_FREE);
		CU_ASSERT_EQUAL(available(p), 2);
		/* The slot serves its next holder correctly. */
		struct pp_lease *ls[2];
		CU_ASSERT_FATAL(pp_lease(p, 1000, &ls[0]) == 0 && pp_lease(p, 1000, &ls[1]) == 0);
		for (int k = 0; k < 2; k++) {
			char id[64];
			snprintf(id, sizeof id, "after-elost-%d-%d", round, k);
			CU_ASSERT(health_with_id(ls[k], id));
			CU_ASSERT_EQUAL(pp_release(ls[k]), 0);
		}
	}
	printf("\n    PP_ELOST release: slot reset and free again within %.1f ms (worst of 3)", worst);
	CU_ASSERT(worst <= 100);
	pp_seg_unmap(&v);
	pp_detach(p);
	CU_ASSERT_EQUAL(stop_daemon(&d), 0);
}

/* ---- the token and the log ------------------------------------------------ */

/* 1 if needle occurs in the n bytes at hay. */
static int contains(const char *hay, size_t n, const char *needle, size_t k)
{
	return k && memmem(hay, n, needle, k) != NULL;
}

static int token_in(const char *hay, size_t n)
{
	size_t k = strlen(token);
	return contains(hay, n, token, k) || contains(hay, n, token, k / 2) || contains(hay, n, token + k / 2, k - k / 2);
}

static void test_token_never_in_logs(void)
{
	/* A backend of our own: this test stops it. */
	struct pp_backend be;
	const char *bargs[] = { "--token", token, NULL };
	CU_ASSERT_FATAL(pp_backend_start(&be, bargs) == 0);
	char log[128];
	snprintf(log, sizeof log, "/tmp/pp-test-access-%ld.log", (long)getpid());
	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600), saved = dup(2);
	CU_ASSERT_FATAL(logfd >= 0 && saved >= 0);
	const char *args[] = { "-b", be.url, "--max", "2", "--min", "2", "--token-file", token_path, "--log-level", "debug",
			       "--request-timeout", "2000", NULL };
	struct pp_daemon_proc d;
	fflush(stderr);
	dup2(logfd, 2);
	int started = pp_daemon_start(&d, pp_test_pool_name("acc-log"), args);
	if (started == 0)
		pp_daemon_track(d.pid);
	dup2(saved, 2);
	close(saved);
	close(logfd);
	CU_ASSERT_FATAL(started == 0);
	pp_pool *p;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	/* /_debug/headers last: it echoes the token back in its body, through
	 * the response ring (on purpose), so the segment is checked before. */
	const char *paths[] = { "/databases", "/health", "/health?status=401", "/nope/404",
				"/_debug/bytes?bytes=1000&drop=1", "/_debug/headers" };
	int authorised = 0;
	struct pp_seg v;
	CU_ASSERT_FATAL(pp_seg_attach(d.pool, false, &v) == 0);
	for (size_t i = 0; i < PP_ARRAY_LEN(paths); i++) {
		if (i == PP_ARRAY_LEN(paths) - 1)
			CU_ASSERT(!token_in(v.base, v.size)); /* nor in the segment */
		pp_req req = { .method = "GET", .path = paths[i] };
		pp_resp resp;
		int r = pp_do(p, &req, &resp);
		if (i == 0)
			authorised = r == 0 && resp.status == 200; /* the daemon did send the token */
		pp_resp_free(&resp);
	}
	CU_ASSERT(authorised);
	pp_req bad = { .method = "GET", .path = "/a\r\nAuthorization: x" };
	pp_resp resp;
	CU_ASSERT_EQUAL(pp_do(p, &bad, &resp), PP_EBADPATH);
	/* The backend goes away: failing requests, reconnect attempts. */
	pp_backend_stop(&be);
	int failures = 0;
	for (int i = 0; i < 4; i++) {
		pp_req req = { .method = "GET", .path = "/databases", .timeout_ms = 1000 };
		int r = pp_do(p, &req, &resp);
		failures += r < 0;
		pp_resp_free(&resp);
		sleep_ms(50);
	}
	printf("\n    %d of 4 requests failed with the backend stopped", failures);
	CU_ASSERT_EQUAL(failures, 4);
	kill(d.pid, SIGHUP); /* a reload re-reads the token file */
	sleep_ms(300);
	pp_seg_unmap(&v);
	pp_detach(p);
	CU_ASSERT_EQUAL(stop_daemon(&d), 0);

	FILE *f = fopen(log, "r");
	CU_ASSERT_FATAL(f != NULL);
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof text, f);
	fclose(f);
	long lines = 0, debug = 0;
	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	for (const char *q = text; (q = memmem(q, n - (size_t)(q - text), "[debug]", 7)) != NULL; q += 7)
		debug++;
	int leaked = token_in(text, n);
	printf("\n    daemon log %s: %zu bytes, %ld lines, %ld at debug level; token %s", log, n, lines, debug,
	       leaked ? "FOUND" : "absent");
	CU_ASSERT(lines >= 3);
	CU_ASSERT(debug >= 1); /* the test really ran at debug level */
	CU_ASSERT(!leaked);
	if (!leaked && !getenv("PP_KEEP_LOGS"))
		unlink(log);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "default mode 0600: nobody gets PP_EACCES", test_default_mode_0600_refuses_nobody },
		{ "mode 0660 + group: members attach, others PP_EACCES", test_mode_0660_with_group },
		{ "a child cannot release (or use) its parent's lease", test_child_cannot_release_parents_lease },
		{ "a changed slot token: PP_ELOST, slot reset and reused", test_changed_token_gives_elost_and_reclaim },
		{ "the bearer token never reaches the daemon's log", test_token_never_in_logs },
	};
	return pp_test_main("access", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
