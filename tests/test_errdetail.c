/* test_errdetail.c - pp_error_detail(): the detail behind the last error.
 *
 * Real segments, no daemon: the test makes each case with the daemon's own
 * pp_seg_create (or by hand, for garbage) and attaches through the real
 * client library, then checks what pp_error_detail() says.
 *
 *  - No such pool: the detail names the pool, the segment's path and where
 *    the name came from (the caller, $PHANTOMPOOL, the default with
 *    $PHANTOMPOOL unset), and tells servers that drop PHANTOMPOOL to pass
 *    the name.  A bad name is quoted.
 *  - Permission: a segment of mode 0600 owned by root, attached by a child
 *    that setuid()s to nobody: the path, "mode 0600", the owner and group,
 *    the child's uid, and the fix ("mode = 0660", "group = ").
 *  - Garbage (ECORRUPT: the bytes found), another layout version
 *    (EVERSION: the version found), a daemon gone (EDAEMON at attach: its
 *    pid), and a lease and a pp_do on a pool whose daemon stopped.
 *  - One detail per thread; the next failing call replaces it or clears it
 *    (a timeout, an invalid argument), and pp_attach clears it on entry.
 */
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "layout.h"
#include "phantompool.h"
#include "segment.h"
#include "testutil.h"

#define RING 4096u

/* True if the thread's detail contains needle (prints it when not). */
static int detail_has(const char *needle)
{
	const char *d = pp_error_detail();
	if (d && strstr(d, needle))
		return 1;
	fprintf(stderr, "\n  detail lacks \"%s\": %s\n", needle, d ? d : "(NULL)");
	return 0;
}

/* A one-slot segment made as the daemon makes it (mode 0600, root's). */
static int make_segment(const char *pool, struct pp_seg *seg)
{
	struct pp_seg_config cfg = { .pool = pool, .nslots = 1, .ring_size = RING, .lease_timeout_ms = 1000,
				     .request_timeout_ms = 2000, .mode = 0600, .gid = (gid_t)-1, .backend = "test" };
	pp_seg_unlink(pool);
	if (pp_seg_create(&cfg, seg) != 0)
		return -1;
	atomic_store(&seg->hdr->daemon_state, PP_DAEMON_READY);
	atomic_store(&seg->hdr->heartbeat_ns, pp_now_ns());
	return 0;
}

static void drop_segment(const char *pool, struct pp_seg *seg)
{
	pp_seg_unlink(pool);
	pp_seg_unmap(seg);
}

static void test_no_pool(void)
{
	const char *name = pp_test_pool_name("missing");
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/phantompool-%s", name);
	pp_pool *p = NULL;
	CU_ASSERT_EQUAL(pp_attach(name, &p), PP_ENOPOOL);
	CU_ASSERT(detail_has(name));
	CU_ASSERT(detail_has(path));
	CU_ASSERT(detail_has("given by the caller"));
	CU_ASSERT(detail_has("Is phantompoold running"));
	CU_ASSERT(detail_has("pass the pool name explicitly"));

	setenv("PHANTOMPOOL", "from-env-xyz", 1);
	CU_ASSERT_EQUAL(pp_attach(NULL, &p), PP_ENOPOOL);
	CU_ASSERT(detail_has("\"from-env-xyz\" (from $PHANTOMPOOL)"));
	unsetenv("PHANTOMPOOL");
	CU_ASSERT_EQUAL(pp_attach("", &p), PP_ENOPOOL);
	CU_ASSERT(detail_has("\"default\""));
	CU_ASSERT(detail_has("$PHANTOMPOOL is unset"));

	CU_ASSERT_EQUAL(pp_attach("bad/name", &p), PP_ENAME);
	CU_ASSERT(detail_has("\"bad/name\" (given by the caller) is not 1..40 characters"));
	CU_ASSERT_PTR_NULL(p);
}

enum { KID_OK = 0, KID_SETID_FAILED = 20, KID_WRONG_CODE = 30 };

/* In a child running as nobody (no supplementary groups): attach pool and
 * write its detail to fd. */
static int attach_as_nobody(const char *pool, uid_t uid, gid_t gid, int fd)
{
	if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 || setuid(0) == 0)
		return KID_SETID_FAILED;
	pp_pool *p = NULL;
	if (pp_attach(pool, &p) != PP_EACCES)
		return KID_WRONG_CODE;
	const char *d = pp_error_detail();
	if (d && write(fd, d, strlen(d)) < 0)
		return KID_WRONG_CODE;
	return KID_OK;
}

static void test_eacces(void)
{
	struct passwd *pw = getpwnam("nobody");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pw);
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	const char *name = pp_test_pool_name("acc");
	struct pp_seg seg;
	CU_ASSERT_EQUAL_FATAL(make_segment(name, &seg), 0);
	int fds[2];
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid_t kid = fork();
	if (kid == 0) {
		close(fds[0]);
		_exit(attach_as_nobody(name, uid, gid, fds[1]));
	}
	close(fds[1]);
	char d[2048] = "";
	size_t len = 0;
	ssize_t n;
	while (len < sizeof d - 1 && (n = read(fds[0], d + len, sizeof d - 1 - len)) > 0)
		len += (size_t)n;
	d[len] = '\0';
	close(fds[0]);
	CU_ASSERT_EQUAL(pp_test_wait_child(kid), KID_OK);
	char want[256], grp[64];
	struct group *gr = getgrgid(gid);
	snprintf(grp, sizeof grp, "%s", gr ? gr->gr_name : "?");
	const char *needles[] = { name, "/dev/shm/phantompool-", "mode 0600", "owner root (uid 0)",
				  "group root (gid 0)", want, "mode = 0660", NULL };
	snprintf(want, sizeof want, "runs as uid %u (nobody), gid %u (%s)", (unsigned)uid, (unsigned)gid, grp);
	for (int i = 0; needles[i]; i++) {
		CU_ASSERT_PTR_NOT_NULL(strstr(d, needles[i]));
		if (!strstr(d, needles[i]))
			fprintf(stderr, "\n  EACCES detail lacks \"%s\": %s\n", needles[i], d);
	}
	snprintf(want, sizeof want, "Fix: set group = %s, mode = 0660 in phantompoold's config", grp);
	CU_ASSERT_PTR_NOT_NULL(strstr(d, want));
	CU_ASSERT_PTR_NULL(strstr(d, "to group root")); /* never: add a worker to root's group */
	drop_segment(name, &seg);
}

static void test_corrupt(void)
{
	const char *name = pp_test_pool_name("junk");
	char shm[96];
	snprintf(shm, sizeof shm, "/phantompool-%s", name);
	shm_unlink(shm);
	int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	char junk[16384];
	memset(junk, 'J', sizeof junk);
	CU_ASSERT_EQUAL(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
	close(fd);
	pp_pool *p = NULL;
	CU_ASSERT_EQUAL(pp_attach(name, &p), PP_ECORRUPT);
	CU_ASSERT(detail_has(name));
	CU_ASSERT(detail_has("is 16384 bytes, and starts with 0x4a4a4a4a4a4a4a4a, not the magic"));
	CU_ASSERT(detail_has("Restart phantompoold"));
	shm_unlink(shm);
}

static void test_version(void)
{
	const char *name = pp_test_pool_name("ver");
	struct pp_seg seg;
	CU_ASSERT_EQUAL_FATAL(make_segment(name, &seg), 0);
	seg.hdr->layout_version = 99;
	pp_pool *p = NULL;
	CU_ASSERT_EQUAL(pp_attach(name, &p), PP_EVERSION);
	char want[96];
	snprintf(want, sizeof want, "layout version 99; this library");
	CU_ASSERT(detail_has(want));
	snprintf(want, sizeof want, "reads layout version %u", PP_LAYOUT_VERSION);
	CU_ASSERT(detail_has(want));
	drop_segment(name, &seg);
}

static void test_daemon_gone_at_attach(void)
{
	const char *name = pp_test_pool_name("dead");
	struct pp_seg seg;
	CU_ASSERT_EQUAL_FATAL(make_segment(name, &seg), 0);
	pid_t gone = fork(); /* a pid that no longer exists */
	if (gone == 0)
		_exit(0);
	pp_test_wait_child(gone);
	seg.hdr->daemon_pid = gone;
	atomic_store(&seg.hdr->heartbeat_ns, pp_now_ns() - 5 * PP_NS_PER_S);
	pp_pool *p = NULL;
	CU_ASSERT_EQUAL(pp_attach(name, &p), PP_EDAEMON);
	char want[96];
	snprintf(want, sizeof want, "left by phantompoold pid %d, which is gone", (int)gone);
	CU_ASSERT(detail_has(want));
	CU_ASSERT(detail_has("start phantompoold"));
	drop_segment(name, &seg);
}

/* A lease, a pp_do and pp_status on a pool whose daemon stopped. */
static void test_calls_on_stopped_daemon(void)
{
	const char *name = pp_test_pool_name("stop");
	struct pp_seg seg;
	CU_ASSERT_EQUAL_FATAL(make_segment(name, &seg), 0);
	pp_pool *p = NULL;
	CU_ASSERT_EQUAL_FATAL(pp_attach(name, &p), 0);
	CU_ASSERT_PTR_NULL(pp_error_detail()); /* pp_attach cleared it */
	atomic_store(&seg.hdr->daemon_state, PP_DAEMON_STOPPED);
	char want[96];
	snprintf(want, sizeof want, "pool \"%s\": its phantompoold (pid %d, still there", name, (int)getpid());
	struct pp_lease *l = NULL;
	CU_ASSERT_EQUAL(pp_lease(p, 0, &l), PP_EDAEMON);
	CU_ASSERT(detail_has(want));
	pp_detach(p); /* the text outlives the handle: it was copied */
	CU_ASSERT(detail_has(want));
	CU_ASSERT_EQUAL_FATAL(pp_attach(name, &p), PP_EDAEMON); /* stopped: refused at attach too */
	CU_ASSERT(detail_has("state stopped"));
	/* pp_do and pp_status, on a handle attached before the stop */
	atomic_store(&seg.hdr->daemon_state, PP_DAEMON_READY);
	atomic_store(&seg.hdr->heartbeat_ns, pp_now_ns());
	CU_ASSERT_EQUAL_FATAL(pp_attach(name, &p), 0);
	atomic_store(&seg.hdr->daemon_state, PP_DAEMON_STOPPED);
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp;
	CU_ASSERT_EQUAL(pp_do(p, &req, &resp), PP_EDAEMON);
	CU_ASSERT(detail_has(want));
	pp_pool_status st;
	CU_ASSERT_EQUAL(pp_lease(NULL, 0, &l), PP_EINVAL); /* another code clears it */
	CU_ASSERT_PTR_NULL(pp_error_detail());
	CU_ASSERT_EQUAL(pp_status(p, &st), PP_EDAEMON);
	CU_ASSERT(detail_has(want));
	pp_detach(p);
	drop_segment(name, &seg);
}

/* The next failing call replaces or clears the detail; success keeps it. */
static void test_replaced_and_cleared(void)
{
	const char *name = pp_test_pool_name("live");
	struct pp_seg seg;
	CU_ASSERT_EQUAL_FATAL(make_segment(name, &seg), 0);
	pp_pool *p = NULL, *q = NULL;
	CU_ASSERT_EQUAL_FATAL(pp_attach(name, &p), 0);
	struct pp_lease *l = NULL, *l2 = NULL;
	CU_ASSERT_EQUAL_FATAL(pp_lease(p, 0, &l), 0);

	CU_ASSERT_EQUAL(pp_attach("first-missing", &q), PP_ENOPOOL);
	CU_ASSERT(detail_has("first-missing"));
	CU_ASSERT_EQUAL(pp_lease_slot(l), 0); /* not a call that touches it */
	CU_ASSERT(detail_has("first-missing"));
	CU_ASSERT_EQUAL(pp_attach("second-missing", &q), PP_ENOPOOL);
	CU_ASSERT(detail_has("second-missing"));
	CU_ASSERT_PTR_NULL(strstr(pp_error_detail(), "first-missing"));
	/* The one slot is taken: a lease that does not wait times out, and
	 * leaves no detail. */
	atomic_store(&seg.hdr->heartbeat_ns, pp_now_ns());
	CU_ASSERT_EQUAL(pp_lease(p, 0, &l2), PP_ETIMEDOUT);
	CU_ASSERT_PTR_NULL(pp_error_detail());
	CU_ASSERT_EQUAL(pp_attach("third-missing", &q), PP_ENOPOOL);
	CU_ASSERT_EQUAL(pp_attach(name, NULL), PP_EINVAL); /* clears on entry */
	CU_ASSERT_PTR_NULL(pp_error_detail());
	pp_release(l);
	pp_detach(p);
	drop_segment(name, &seg);
}

static void *other_thread(void *arg)
{
	const char **seen = arg;
	seen[0] = pp_error_detail(); /* the main thread's detail is not ours */
	pp_pool *p = NULL;
	if (pp_attach("thread-missing", &p) == PP_ENOPOOL && pp_error_detail())
		seen[1] = strstr(pp_error_detail(), "thread-missing") ? "ok" : "wrong";
	return NULL;
}

static void test_per_thread(void)
{
	pp_pool *p = NULL;
	CU_ASSERT_EQUAL(pp_attach("main-missing", &p), PP_ENOPOOL);
	const char *seen[2] = { "unset", NULL };
	pthread_t t;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, other_thread, seen), 0);
	pthread_join(t, NULL);
	CU_ASSERT_PTR_NULL(seen[0]);
	CU_ASSERT_STRING_EQUAL(seen[1] ? seen[1] : "none", "ok");
	CU_ASSERT(detail_has("main-missing"));
	CU_ASSERT_PTR_NULL(strstr(pp_error_detail(), "thread-missing"));
}

int main(void)
{
	unsetenv("PHANTOMPOOL");
	static const struct pp_test tests[] = {
		{ "no such pool, bad name", test_no_pool },
		{ "permission denied, as nobody", test_eacces },
		{ "garbage segment", test_corrupt },
		{ "another layout version", test_version },
		{ "daemon gone at attach", test_daemon_gone_at_attach },
		{ "lease, do, status on a stopped daemon", test_calls_on_stopped_daemon },
		{ "replaced and cleared by the next call", test_replaced_and_cleared },
		{ "one detail per thread", test_per_thread },
	};
	return pp_test_main("errdetail", tests, PP_ARRAY_LEN(tests), NULL, NULL);
}
