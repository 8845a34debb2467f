/* test_shmdump.c - phantompool-shmdump against live, stale, torn and
 * garbage segments: a documented exit code every time, never a crash. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "daemon_proc.h"
#include "layout.h"
#include "phantompool.h"
#include "testutil.h"

/* Run shmdump -p pool with output to /dev/null (or to `out` if given);
 * returns the exit code, or 128+signal. */
static int run_dump(const char *pool, const char *out)
{
	pid_t kid = fork();
	if (kid == 0) {
		int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(pp_test_build_path("phantompool-shmdump"), "phantompool-shmdump", "-p", pool, (char *)NULL);
		_exit(127);
	}
	return pp_test_wait_child(kid);
}

static void test_live_pool(void)
{
	struct pp_daemon_proc d;
	const char *args[] = { "--max", "3", NULL };
	CU_ASSERT_FATAL(pp_daemon_start(&d, pp_test_pool_name("live"), args) == 0);
	pp_pool *p;
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_attach(d.pool, &p) == 0);
	CU_ASSERT_FATAL(pp_lease(p, 0, &l) == 0);
	const char *out = "/tmp/pp-shmdump-test.out";
	CU_ASSERT_EQUAL(run_dump(d.pool, out), 0);
	char buf[4096] = { 0 };
	FILE *f = fopen(out, "r");
	CU_ASSERT_FATAL(f != NULL);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	unlink(out);
	CU_ASSERT(n > 0);
	char row[64];
	snprintf(row, sizeof row, "leased");
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, row));
	char pid[32];
	snprintf(pid, sizeof pid, " %d ", (int)getpid());
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, pid)); /* our pid owns the lease */
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "2 free, 1 used"));
	CU_ASSERT_EQUAL(pp_release(l), 0);
	pp_detach(p);
	CU_ASSERT_EQUAL(pp_daemon_stop(&d), 0);
	CU_ASSERT_EQUAL(run_dump(d.pool, NULL), 2); /* gone */
}

static void *map_fake(const char *pool, size_t size)
{
	char name[96];
	snprintf(name, sizeof name, "/phantompool-%s", pool);
	int fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
		return NULL;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

static void unlink_fake(const char *pool)
{
	char name[96];
	snprintf(name, sizeof name, "/phantompool-%s", pool);
	shm_unlink(name);
}

static void fill_valid(void *m, uint32_t nslots, size_t size, int32_t pid)
{
	struct pp_shm_header *h = m;
	memset(m, 0, size);
	h->magic = PP_SHM_MAGIC;
	h->layout_version = PP_LAYOUT_VERSION;
	h->header_size = sizeof *h;
	h->segment_size = size;
	h->nslots = nslots;
	h->ring_size = PP_RING_MIN;
	h->slot_size = sizeof(struct pp_slot);
	h->slots_off = PP_SLOTS_OFF;
	h->rings_off = pp_layout_rings_off(nslots);
	h->daemon_pid = pid;
	h->daemon_state = PP_DAEMON_READY;
	h->heartbeat_ns = pp_now_ns();
}

static void test_stale_and_corrupt(void)
{
	const char *pool = "shmdump-fake-test";
	size_t size = pp_layout_size(4, PP_RING_MIN);
	void *m = map_fake(pool, size);
	CU_ASSERT_FATAL(m != NULL);
	fill_valid(m, 4, size, getpid());
	CU_ASSERT_EQUAL(run_dump(pool, NULL), 0); /* looks alive: we are its "daemon" */
	/* Garbage in every slot field: still shown, states as "?". */
	struct pp_slot *slots = (struct pp_slot *)((char *)m + PP_SLOTS_OFF);
	memset(slots, 0xA5, 4 * sizeof *slots);
	CU_ASSERT_EQUAL(run_dump(pool, NULL), 0);
	fill_valid(m, 4, size, 999999999); /* no such pid */
	CU_ASSERT_EQUAL(run_dump(pool, NULL), 3);
	((struct pp_shm_header *)m)->layout_version = 77;
	CU_ASSERT_EQUAL(run_dump(pool, NULL), 4);
	memset(m, 0x5A, size);
	CU_ASSERT_EQUAL(run_dump(pool, NULL), 4);
	munmap(m, size);
	/* Torn: shorter than a header; empty (daemon still initialising). */
	m = map_fake(pool, 100);
	CU_ASSERT_EQUAL(run_dump(pool, NULL), 4);
	munmap(m, 100);
	m = map_fake(pool, 0);
	CU_ASSERT_EQUAL(run_dump(pool, NULL), 3);
	unlink_fake(pool);
}

static void test_random_mutations_never_crash(void)
{
	const char *pool = "shmdump-fuzz-test";
	size_t size = pp_layout_size(2, PP_RING_MIN);
	void *m = map_fake(pool, size);
	CU_ASSERT_FATAL(m != NULL);
	srand(42);
	int crashes = 0;
	for (int i = 0; i < 200; i++) {
		fill_valid(m, 2, size, getpid());
		int flips = 1 + rand() % 16;
		for (int k = 0; k < flips; k++) {
			size_t off = (size_t)rand() % (PP_SLOTS_OFF + 2 * sizeof(struct pp_slot));
			((unsigned char *)m)[off] = (unsigned char)rand();
		}
		int r = run_dump(pool, NULL);
		crashes += !(r == 0 || r == 3 || r == 4);
	}
	CU_ASSERT_EQUAL(crashes, 0);
	munmap(m, size);
	unlink_fake(pool);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "a live pool: header and slot rows", test_live_pool },
		{ "stale, other version, garbage, torn", test_stale_and_corrupt },
		{ "200 random mutations never crash", test_random_mutations_never_crash },
	};
	return pp_test_main("shmdump", tests, PP_ARRAY_LEN(tests), NULL, NULL);
}
