/* test_bell.c - the doorbell a worker rings to wake a serving loop
 * (shm/bell.c) and the ring publish that decides between bell, wake word
 * and futex (shm/ring.c): a ring is heard, a publish rings only when the
 * consumer's waiter word asks for that bell and only once, an idle loop's
 * wake word is bumped and woken without a datagram, a bell nobody listens to
 * neither blocks nor raises SIGPIPE, a replaced daemon socket is found
 * again, a full queue never blocks, forked children ring through the
 * parent's socket, and the socket file gets the segment's mode. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bell.h"
#include "clock.h"
#include "futex.h"
#include "layout.h"
#include "ring.h"
#include "testutil.h"

static struct pp_bell bell;

static int suite_setup(void)
{
	char name[80];
	snprintf(name, sizeof name, "/phantompool-%s", pp_test_pool_name("bell"));
	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE from a ring kills the test */
	return pp_bell_init(&bell, name) == 0 ? 0 : -1;
}

static int suite_teardown(void)
{
	for (uint32_t k = 0; k < 4; k++)
		pp_bell_unlink(&bell, k);
	pp_bell_close(&bell);
	return 0;
}

/* Whether fd has something to read within ms. */
static bool heard(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void test_ring_is_heard_and_drained(void)
{
	int fd = pp_bell_bind(&bell, 0, 0600, (gid_t)-1);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FALSE(heard(fd, 0));
	pp_bell_ring(&bell, 0);
	CU_ASSERT_TRUE(heard(fd, 1000));
	pp_bell_drain(fd);
	CU_ASSERT_FALSE(heard(fd, 0));
	struct stat st;
	char path[128];
	snprintf(path, sizeof path, "%s0", bell.prefix);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	close(fd);
	pp_bell_unlink(&bell, 0);
	CU_ASSERT_EQUAL(stat(path, &st), -1);
}

static void test_publish_rings_only_when_asked(void)
{
	int fd = pp_bell_bind(&bell, 1, 0600, (gid_t)-1);
	CU_ASSERT_FATAL(fd >= 0);
	static struct pp_ring_ctl ctl __attribute__((aligned(64)));
	static uint8_t data[256];
	struct pp_ring r;
	CU_ASSERT_FATAL(pp_ring_init_view(&r, &ctl, data, sizeof data) == 0);
	r.bell = &bell;
	/* Nobody waits: no bell. */
	CU_ASSERT_EQUAL(pp_ring_write(&r, "a", 1), 1);
	CU_ASSERT_FALSE(heard(fd, 0));
	/* A futex sleeper (1): no bell either. */
	atomic_store(&ctl.head_waiter, 1);
	CU_ASSERT_EQUAL(pp_ring_write(&r, "b", 1), 1);
	CU_ASSERT_FALSE(heard(fd, 0));
	CU_ASSERT_EQUAL(atomic_load(&ctl.head_waiter), 1);
	/* Loop 1 sleeps in poll: one bell, and the word is cleared so the
	 * next publishes before it wakes do not ring again. */
	atomic_store(&ctl.head_waiter, PP_BELL_WAITER + 1);
	CU_ASSERT_EQUAL(pp_ring_write(&r, "c", 1), 1);
	CU_ASSERT_TRUE(heard(fd, 1000));
	CU_ASSERT_EQUAL(atomic_load(&ctl.head_waiter), 0);
	pp_bell_drain(fd);
	CU_ASSERT_EQUAL(pp_ring_write(&r, "d", 1), 1);
	CU_ASSERT_FALSE(heard(fd, 0));
	/* A view without a bell (tests, the daemon's own views) never rings. */
	r.bell = NULL;
	atomic_store(&ctl.head_waiter, PP_BELL_WAITER + 1);
	CU_ASSERT_EQUAL(pp_ring_write(&r, "e", 1), 1);
	CU_ASSERT_FALSE(heard(fd, 0));
	close(fd);
	pp_bell_unlink(&bell, 1);
}

/* A loop with nothing in flight sleeps on its wake word: the publish
 * bumps the word and wakes the sleeper, and sends no datagram. */
static struct pp_shm_header *wake_hdr;

static void *sleep_on_word(void *arg)
{
	_Atomic uint32_t *w = &wake_hdr->loop_wake[2].word;
	uint32_t seen = *(uint32_t *)arg;
	uint64_t t0 = pp_now_ns();
	while (atomic_load(w) == seen && pp_now_ns() - t0 < 5 * PP_NS_PER_S)
		pp_futex_wait(w, seen, t0 + 5 * PP_NS_PER_S);
	return NULL;
}

static void test_publish_wakes_the_word(void)
{
	int fd = pp_bell_bind(&bell, 2, 0600, (gid_t)-1);
	CU_ASSERT_FATAL(fd >= 0);
	wake_hdr = aligned_alloc(PP_CACHELINE, sizeof *wake_hdr); /* the header is 64-aligned */
	CU_ASSERT_FATAL(wake_hdr != NULL);
	memset(wake_hdr, 0, sizeof *wake_hdr);
	bell.hdr = wake_hdr;
	static struct pp_ring_ctl ctl __attribute__((aligned(64)));
	static uint8_t data[256];
	struct pp_ring r;
	CU_ASSERT_FATAL(pp_ring_init_view(&r, &ctl, data, sizeof data) == 0);
	r.bell = &bell;
	uint32_t seen = atomic_load(&wake_hdr->loop_wake[2].word);
	pthread_t t;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, sleep_on_word, &seen) == 0);
	usleep(20 * 1000); /* let it sleep */
	atomic_store(&ctl.head_waiter, PP_BELL_WORD + 2);
	uint64_t t0 = pp_now_ns();
	CU_ASSERT_EQUAL(pp_ring_write(&r, "w", 1), 1);
	pthread_join(t, NULL);
	double ms = (double)(pp_now_ns() - t0) / 1e6;
	printf("\n    sleeper on the wake word back after %.2f ms", ms);
	CU_ASSERT(ms < 1000);
	CU_ASSERT_EQUAL(atomic_load(&wake_hdr->loop_wake[2].word), seen + 1);
	CU_ASSERT_EQUAL(atomic_load(&ctl.head_waiter), 0);
	CU_ASSERT_FALSE(heard(fd, 0)); /* no datagram */
	/* Words of other loops are untouched. */
	CU_ASSERT_EQUAL(atomic_load(&wake_hdr->loop_wake[1].word), 0);
	bell.hdr = NULL;
	free(wake_hdr);
	close(fd);
	pp_bell_unlink(&bell, 2);
}

static void test_nobody_listening(void)
{
	/* No socket file at all, then a file with nobody reading: the ring
	 * returns at once, without SIGPIPE. */
	pp_bell_unlink(&bell, 2);
	uint64_t t0 = pp_now_ns();
	for (int i = 0; i < 100; i++)
		pp_bell_ring(&bell, 2);
	int fd = pp_bell_bind(&bell, 2, 0600, (gid_t)-1);
	CU_ASSERT_FATAL(fd >= 0);
	pp_bell_ring(&bell, 2);
	CU_ASSERT_TRUE(heard(fd, 1000));
	close(fd); /* the daemon dies; its file stays */
	for (int i = 0; i < 100; i++)
		pp_bell_ring(&bell, 2);
	double ms = (double)(pp_now_ns() - t0) / 1e6;
	printf("\n    201 rings with no listener or a dead one: %.2f ms", ms);
	CU_ASSERT(ms < 1000);
	pp_bell_unlink(&bell, 2);
}

static void test_replaced_socket_found_again(void)
{
	int fd = pp_bell_bind(&bell, 3, 0600, (gid_t)-1);
	CU_ASSERT_FATAL(fd >= 0);
	pp_bell_ring(&bell, 3); /* connects */
	CU_ASSERT_TRUE(heard(fd, 1000));
	/* A new daemon replaces the socket: the old connection is dead, the
	 * next ring connects to the new one. */
	close(fd);
	int fd2 = pp_bell_bind(&bell, 3, 0600, (gid_t)-1);
	CU_ASSERT_FATAL(fd2 >= 0);
	pp_bell_ring(&bell, 3);
	CU_ASSERT_TRUE(heard(fd2, 1000));
	close(fd2);
	pp_bell_unlink(&bell, 3);
}

static void test_full_queue_never_blocks(void)
{
	int fd = pp_bell_bind(&bell, 0, 0600, (gid_t)-1);
	CU_ASSERT_FATAL(fd >= 0);
	uint64_t t0 = pp_now_ns();
	for (int i = 0; i < 20000; i++)
		pp_bell_ring(&bell, 0); /* far more than the socket queues */
	double ms = (double)(pp_now_ns() - t0) / 1e6;
	printf("\n    20000 rings into an undrained bell: %.1f ms", ms);
	CU_ASSERT(ms < 5000);
	CU_ASSERT_TRUE(heard(fd, 0));
	pp_bell_drain(fd);
	CU_ASSERT_FALSE(heard(fd, 0));
	close(fd);
	pp_bell_unlink(&bell, 0);
}

static void test_forked_children_ring(void)
{
	int fd = pp_bell_bind(&bell, 1, 0660, (gid_t)-1);
	CU_ASSERT_FATAL(fd >= 0);
	pp_bell_ring(&bell, 1); /* the parent's socket, inherited below */
	CU_ASSERT_TRUE(heard(fd, 1000));
	pp_bell_drain(fd);
	enum { KIDS = 8 };
	pid_t kids[KIDS];
	for (int i = 0; i < KIDS; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			pp_bell_ring(&bell, 1);
			_exit(0);
		}
	}
	int ok = 0;
	for (int i = 0; i < KIDS; i++)
		ok += pp_test_wait_child(kids[i]) == 0;
	CU_ASSERT_EQUAL(ok, KIDS);
	char buf[64];
	int got = 0;
	while (heard(fd, 200) && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		got++;
	CU_ASSERT_EQUAL(got, KIDS);
	close(fd);
	pp_bell_unlink(&bell, 1);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "a ring is heard and drained; socket file mode", test_ring_is_heard_and_drained },
		{ "publish rings only for a bell waiter, once", test_publish_rings_only_when_asked },
		{ "publish wakes an idle loop's wake word, no datagram", test_publish_wakes_the_word },
		{ "no listener: no block, no SIGPIPE", test_nobody_listening },
		{ "a replaced daemon socket is found again", test_replaced_socket_found_again },
		{ "a full queue never blocks", test_full_queue_never_blocks },
		{ "forked children ring through the parent's socket", test_forked_children_ring },
	};
	return pp_test_main("bell", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
