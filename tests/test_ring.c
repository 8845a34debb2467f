/* test_ring.c - the SPSC byte ring: local behaviour, corrupt indices,
 * timed waits, and multi-process streams over a real MAP_SHARED mapping. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "frame.h"
#include "frame_put.h"
#include "phantompool.h"
#include "ring.h"
#include "testutil.h"

#define PAGE 4096u

/* ---- helpers ------------------------------------------------------------ */

/* A shared mapping: the ctl block, then cap data bytes.  MAP_SHARED so a
 * fork shares it, exactly as with the segment. */
struct shared_ring {
	struct pp_ring_ctl *ctl;
	uint8_t *data;
	size_t map_len;
	void *map;
};

static struct shared_ring shared_ring_new(uint32_t cap)
{
	struct shared_ring s;
	s.map_len = PAGE + cap;
	s.map = mmap(NULL, s.map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(s.map != MAP_FAILED);
	s.ctl = s.map;
	s.data = (uint8_t *)s.map + PAGE;
	return s;
}

static void shared_ring_free(struct shared_ring *s)
{
	munmap(s->map, s->map_len);
}

/* ---- local behaviour ------------------------------------------------------ */

static void test_init_view(void)
{
	struct pp_ring_ctl ctl = { 0 };
	static uint8_t data[1u << 12];
	struct pp_ring r;
	CU_ASSERT_EQUAL(pp_ring_init_view(&r, &ctl, data, 0), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_init_view(&r, &ctl, data, 32), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_init_view(&r, &ctl, data, 100), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_init_view(&r, &ctl, data, 1u << 31), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_init_view(&r, &ctl, NULL, 4096), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_init_view(&r, &ctl, data, 4096), 0);
	CU_ASSERT_EQUAL(r.mask, 4095u);
	CU_ASSERT_EQUAL(pp_ring_readable(&r), 0);
	CU_ASSERT_EQUAL(pp_ring_writable(&r), 4096);
	ctl.head = 5000; /* more than cap ahead of tail */
	CU_ASSERT_EQUAL(pp_ring_init_view(&r, &ctl, data, 4096), -EPROTO);
}

static void test_basic_wrap(void)
{
	struct pp_ring_ctl ctl = { 0 };
	uint8_t data[64], in[64], out[64];
	struct pp_ring r;

	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, &ctl, data, 64), 0);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 40; i++)
			in[i] = (uint8_t)(round * 40 + i);
		CU_ASSERT_EQUAL(pp_ring_write(&r, in, 40), 40); /* wraps from round 1 on */
		CU_ASSERT_EQUAL(pp_ring_readable(&r), 40);
		CU_ASSERT_EQUAL(pp_ring_writable(&r), 24);
		memset(out, 0, sizeof out);
		CU_ASSERT_EQUAL(pp_ring_read(&r, out, 64), 40);
		CU_ASSERT(memcmp(in, out, 40) == 0);
		CU_ASSERT_EQUAL(ctl.head, (uint32_t)(round + 1) * 40);
		CU_ASSERT_EQUAL(ctl.tail, ctl.head);
	}
}

/* pp_ring_prefault_read maps the page the consumer's next read starts in
 * (index taken modulo the capacity) and changes nothing.  A fresh shared
 * anonymous mapping has no page yet; mincore shows which ones a load made. */
static void test_prefault_read(void)
{
	enum { PAGES = 4 };
	const uint32_t cap = PAGES * PAGE;
	const uint32_t starts[] = { 2 * PAGE + 10, 5 * PAGE + 4095, UINT32_MAX - 100 };
	for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
		struct shared_ring s = shared_ring_new(cap);
		struct pp_ring r;
		s.ctl->head = s.ctl->tail = starts[k];
		CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, s.ctl, s.data, cap), 0);
		unsigned char vec[PAGES];
		CU_ASSERT_EQUAL_FATAL(mincore(s.data, cap, vec), 0);
		for (uint32_t i = 0; i < PAGES; i++)
			CU_ASSERT_EQUAL(vec[i] & 1, 0);
		pp_ring_prefault_read(&r);
		CU_ASSERT_EQUAL_FATAL(mincore(s.data, cap, vec), 0);
		uint32_t want = (starts[k] & (cap - 1)) / PAGE;
		for (uint32_t i = 0; i < PAGES; i++)
			CU_ASSERT_EQUAL(vec[i] & 1, i == want);
		CU_ASSERT_EQUAL(s.ctl->head, starts[k]);
		CU_ASSERT_EQUAL(s.ctl->tail, starts[k]);
		CU_ASSERT_EQUAL(pp_ring_readable(&r), 0);
		/* The ring still works from there: a frame's bytes written and
		 * read across the prefaulted page. */
		uint8_t in[300], out[300];
		for (size_t i = 0; i < sizeof in; i++)
			in[i] = (uint8_t)(i * 13u + k);
		CU_ASSERT_EQUAL(pp_ring_write(&r, in, sizeof in), (ssize_t)sizeof in);
		CU_ASSERT_EQUAL(pp_ring_read(&r, out, sizeof out), (ssize_t)sizeof out);
		CU_ASSERT(memcmp(in, out, sizeof in) == 0);
		shared_ring_free(&s);
	}
}

/* A byte stream with random write and read sizes checks content exactly. */
static void test_stream_content(void)
{
	struct pp_ring_ctl ctl = { 0 };
	uint8_t data[128], buf[300];
	struct pp_ring r;
	uint64_t seed_n = 99;
	uint32_t next_out = 0, next_in = 0;

	/* start the free-running indices just below the 2^32 wrap */
	ctl.head = ctl.tail = UINT32_MAX - 1000;
	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, &ctl, data, 128), 0);
	for (int iter = 0; iter < 50000; iter++) {
		size_t n = pp_test_xorshift(&seed_n) % 200;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)(next_in + i * 7u);
		ssize_t w = pp_ring_write(&r, buf, n);
		CU_ASSERT_FATAL(w >= 0 && (size_t)w <= n);
		/* the stream is byte j = j*7 mod 256 over the bytes actually written */
		for (ssize_t i = 0; i < w; i++)
			CU_ASSERT_EQUAL_FATAL(buf[i], (uint8_t)(next_in + (uint32_t)i * 7u));
		next_in += (uint32_t)w * 7u;
		size_t m = pp_test_xorshift(&seed_n) % 200;
		ssize_t k = pp_ring_read(&r, buf, m);
		CU_ASSERT_FATAL(k >= 0 && (size_t)k <= m);
		for (ssize_t i = 0; i < k; i++) {
			CU_ASSERT_EQUAL_FATAL(buf[i], (uint8_t)next_out);
			next_out += 7u;
		}
	}
	CU_ASSERT(ctl.head < UINT32_MAX - 1000); /* it did wrap past 2^32 */
}

static void test_full_empty(void)
{
	struct pp_ring_ctl ctl = { 0 };
	uint8_t data[256], buf[300];
	struct pp_ring r;
	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, &ctl, data, 256), 0);
	memset(buf, 0xab, sizeof buf);
	CU_ASSERT_EQUAL(pp_ring_read(&r, buf, 10), 0);
	CU_ASSERT_EQUAL(pp_ring_write(&r, buf, 300), 256);
	CU_ASSERT_EQUAL(pp_ring_writable(&r), 0);
	CU_ASSERT_EQUAL(pp_ring_write(&r, buf, 1), 0);
	CU_ASSERT_EQUAL(pp_ring_readable(&r), 256);
	CU_ASSERT_EQUAL(pp_ring_peek(&r, buf, 300), 256);
	CU_ASSERT_EQUAL(pp_ring_consume(&r, 257), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_consume(&r, 56), 0);
	CU_ASSERT_EQUAL(pp_ring_read(&r, buf, 300), 200);
	CU_ASSERT_EQUAL(pp_ring_readable(&r), 0);
	CU_ASSERT_EQUAL(pp_ring_writable(&r), 256);
	/* stage + publish */
	CU_ASSERT_EQUAL(pp_ring_stage(&r, 10, "xy", 2), 0);
	CU_ASSERT_EQUAL(pp_ring_stage(&r, 0, "0123456789", 10), 0);
	CU_ASSERT_EQUAL(pp_ring_readable(&r), 0); /* not yet published */
	CU_ASSERT_EQUAL(pp_ring_stage(&r, 250, buf, 7), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_publish(&r, 257), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_publish(&r, 12), 0);
	CU_ASSERT_EQUAL(pp_ring_read(&r, buf, 20), 12);
	CU_ASSERT(memcmp(buf, "0123456789xy", 12) == 0);
	pp_ring_reset(&ctl);
	CU_ASSERT_EQUAL(pp_ring_init_view(&r, &ctl, data, 256), 0);
	CU_ASSERT_EQUAL(r.cached_head, 0u);
}

/* Data between PROT_NONE guard pages: any access outside data[0, cap)
 * faults.  Hostile indices must give -EPROTO or stay in bounds. */
static void test_corrupt_indices(void)
{
	const uint32_t cap = PAGE;
	uint8_t *map = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	CU_ASSERT_FATAL(map != MAP_FAILED);
	CU_ASSERT_FATAL(mprotect(map, PAGE, PROT_NONE) == 0);
	CU_ASSERT_FATAL(mprotect(map + 2 * PAGE, PAGE, PROT_NONE) == 0);
	uint8_t *data = map + PAGE;
	struct pp_ring_ctl ctl = { 0 };
	struct pp_ring r;
	static uint8_t buf[3 * PAGE];

	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, &ctl, data, cap), 0);
	CU_ASSERT_EQUAL(pp_ring_write(&r, "hello", 5), 5);
	/* consumer side: head more than cap ahead, or behind tail */
	ctl.head = r.cached_tail + cap + 1;
	CU_ASSERT_EQUAL(pp_ring_readable(&r), -EPROTO);
	CU_ASSERT_EQUAL(pp_ring_read(&r, buf, sizeof buf), -EPROTO);
	CU_ASSERT_EQUAL(pp_ring_peek(&r, buf, sizeof buf), -EPROTO);
	CU_ASSERT_EQUAL(pp_ring_wait_readable(&r, 4000, UINT64_MAX, 0), -EPROTO);
	ctl.head = r.cached_tail - 1;
	CU_ASSERT_EQUAL(pp_ring_readable(&r), -EPROTO);
	ctl.head = r.cached_tail + cap; /* exactly full: legal */
	CU_ASSERT_EQUAL(pp_ring_readable(&r), (ssize_t)cap);

	/* producer side: tail ahead of head, or more than cap behind */
	struct pp_ring_ctl ctl2 = { 0 };
	struct pp_ring w;
	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&w, &ctl2, data, cap), 0);
	CU_ASSERT_EQUAL(pp_ring_write(&w, "abc", 3), 3);
	ctl2.tail = 4;
	CU_ASSERT_EQUAL(pp_ring_writable(&w), -EPROTO);
	CU_ASSERT_EQUAL(pp_ring_write(&w, buf, sizeof buf), -EPROTO);
	CU_ASSERT_EQUAL(pp_ring_wait_writable(&w, cap, UINT64_MAX, 0), -EPROTO);
	ctl2.tail = 3u - cap - 1u;
	CU_ASSERT_EQUAL(pp_ring_writable(&w), -EPROTO);
	struct pp_frame end = { .type = PP_FRAME_END };
	CU_ASSERT_EQUAL(pp_test_put_frame(&w, &end, 0), PP_EPROTO);

	/* random hostile indices, every operation in bounds or -EPROTO */
	uint64_t seed = 12345;
	for (int i = 0; i < 200000; i++) {
		uint32_t h = (uint32_t)pp_test_xorshift(&seed), t = (uint32_t)pp_test_xorshift(&seed);
		if (i & 1)
			t = h - (uint32_t)(pp_test_xorshift(&seed) % (2 * cap));
		ctl.head = h;
		ctl.tail = t;
		CU_ASSERT_FATAL(pp_ring_init_view(&r, &ctl, data, cap) == 0 ||
				(uint32_t)(h - t) > cap);
		r.cached_tail = t;
		r.cached_head = t; /* as a consumer with tail t */
		ssize_t k = pp_ring_read(&r, buf, pp_test_xorshift(&seed) % sizeof buf);
		CU_ASSERT_FATAL(k == -EPROTO || (k >= 0 && k <= (ssize_t)cap));
		CU_ASSERT_FATAL(k != -EPROTO || (uint32_t)(h - t) > cap);
		r.cached_head = h; /* as a producer with head h */
		r.cached_tail = h;
		k = pp_ring_write(&r, buf, pp_test_xorshift(&seed) % sizeof buf);
		CU_ASSERT_FATAL(k == -EPROTO || (k >= 0 && k <= (ssize_t)cap));
		uint8_t scratch[PAGE];
		struct pp_frame f;
		r.cached_head = r.cached_tail = ctl.tail;
		int rc = pp_frame_take(&r, scratch, sizeof scratch, &f);
		CU_ASSERT_FATAL(rc == 1 || rc == 0 || rc == -EPROTO || rc == -EBADMSG);
	}
	munmap(map, 3 * PAGE);
}

static void test_timed_waits(void)
{
	struct pp_ring_ctl ctl = { 0 };
	uint8_t data[256];
	struct pp_ring r;
	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, &ctl, data, 256), 0);

	CU_ASSERT_EQUAL(pp_ring_wait_readable(&r, 257, UINT64_MAX, 0), -EINVAL);
	CU_ASSERT_EQUAL(pp_ring_wait_writable(&r, 256, UINT64_MAX, 0), 0);
	CU_ASSERT_EQUAL(pp_ring_wait_readable(&r, 0, UINT64_MAX, 0), 0);
	/* deadline already passed */
	CU_ASSERT_EQUAL(pp_ring_wait_readable(&r, 1, pp_now_ns() - 1, 0), -ETIMEDOUT);

	uint64_t t0 = pp_now_ns();
	CU_ASSERT_EQUAL(pp_ring_wait_readable(&r, 1, t0 + 50 * PP_NS_PER_MS, 100), -ETIMEDOUT);
	uint64_t dt = pp_now_ns() - t0;
	CU_ASSERT(dt >= 50 * PP_NS_PER_MS);
	CU_ASSERT(dt < 250 * PP_NS_PER_MS);
	CU_ASSERT_EQUAL(ctl.head_waiter, 0u);

	CU_ASSERT_EQUAL(pp_ring_write(&r, data, 200), 200);
	CU_ASSERT_EQUAL(pp_ring_wait_readable(&r, 200, t0, 0), 0); /* already there */
	t0 = pp_now_ns();
	CU_ASSERT_EQUAL(pp_ring_wait_writable(&r, 100, t0 + 30 * PP_NS_PER_MS, 0), -ETIMEDOUT);
	dt = pp_now_ns() - t0;
	CU_ASSERT(dt >= 30 * PP_NS_PER_MS);
	CU_ASSERT(dt < 230 * PP_NS_PER_MS);
	CU_ASSERT_EQUAL(ctl.tail_waiter, 0u);
	CU_ASSERT_EQUAL(pp_ring_wait_writable(&r, 56, t0, 0), 0);
}

/* ---- multi-process -------------------------------------------------------- */

#define STREAM_BYTES (64u << 20)
#define STREAM_CAP (64u << 10)
#define STREAM_SPIN 2000u
#define WAIT_FOREVER_NS (20 * PP_NS_PER_S)

/* An order-sensitive 64-bit checksum fed in pieces of any size (8 bytes
 * at a time, so it does not hide the ring's own speed). */
struct cksum {
	uint64_t h, total;
	uint8_t carry[8];
	unsigned ncarry;
};

static inline uint64_t cksum_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static void cksum_add(struct cksum *c, const uint8_t *p, size_t n)
{
	c->total += n;
	while (c->ncarry && n) {
		c->carry[c->ncarry++] = *p++;
		n--;
		if (c->ncarry == 8) {
			uint64_t w;
			memcpy(&w, c->carry, 8);
			c->h = cksum_mix(c->h, w);
			c->ncarry = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c->h = cksum_mix(c->h, w);
	}
	memcpy(c->carry + c->ncarry, p, n);
	c->ncarry += (unsigned)n;
}

static uint64_t cksum_final(struct cksum *c)
{
	uint64_t w = 0;
	memcpy(&w, c->carry, c->ncarry);
	return cksum_mix(cksum_mix(c->h, w), c->total);
}

static uint64_t sum_bytes(const uint8_t *p, size_t n)
{
	struct cksum c = { 0 };
	cksum_add(&c, p, n);
	return cksum_final(&c);
}

static uint8_t *stream_source(void)
{
	static uint8_t *src;
	if (!src) {
		src = malloc(STREAM_BYTES);
		CU_ASSERT_FATAL(src != NULL);
		uint64_t s = 0x9e3779b97f4a7c15ull;
		for (size_t i = 0; i < STREAM_BYTES; i += 8) {
			uint64_t v = pp_test_xorshift(&s);
			memcpy(src + i, &v, 8);
		}
	}
	return src;
}

/* Producer: push the whole source through the ring in write_sz pieces. */
static int produce_bytes(struct pp_ring *r, const uint8_t *src, size_t write_sz)
{
	size_t off = 0;
	while (off < STREAM_BYTES) {
		size_t n = STREAM_BYTES - off < write_sz ? STREAM_BYTES - off : write_sz;
		ssize_t k = pp_ring_write(r, src + off, n);
		if (k < 0)
			return 1;
		if (k == 0 &&
		    pp_ring_wait_writable(r, 1, pp_now_ns() + WAIT_FOREVER_NS, STREAM_SPIN) == -ETIMEDOUT)
			return 2;
		off += (size_t)k;
	}
	return 0;
}

/* Consumer: read everything, return the checksum (0 on failure). */
static uint64_t consume_bytes(struct pp_ring *r, size_t read_sz)
{
	static uint8_t buf[STREAM_CAP];
	struct cksum c = { 0 };
	size_t got = 0;
	while (got < STREAM_BYTES) {
		ssize_t k = pp_ring_read(r, buf, read_sz);
		if (k < 0)
			return 0;
		if (k == 0 &&
		    pp_ring_wait_readable(r, 1, pp_now_ns() + WAIT_FOREVER_NS, STREAM_SPIN) == -ETIMEDOUT)
			return 0;
		cksum_add(&c, buf, (size_t)k);
		got += (size_t)k;
	}
	return cksum_final(&c);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* 64 MiB through a 64 KiB ring between two processes, 5 runs: checks the
 * hash every time and prints the median rate. */
static void test_fork_stream(void)
{
	const uint8_t *src = stream_source();
	uint64_t want = sum_bytes(src, STREAM_BYTES);
	double mbps[5];

	for (int run = 0; run < 5; run++) {
		struct shared_ring s = shared_ring_new(STREAM_CAP);
		struct pp_ring r;
		CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, s.ctl, s.data, STREAM_CAP), 0);
		uint64_t t0 = pp_now_ns();
		pid_t pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0)
			_exit(produce_bytes(&r, src, 16384));
		uint64_t got = consume_bytes(&r, 16384);
		uint64_t dt = pp_now_ns() - t0;
		CU_ASSERT_EQUAL(pp_test_wait_child(pid), 0);
		CU_ASSERT_EQUAL(got, want);
		mbps[run] = (double)STREAM_BYTES / (1 << 20) / ((double)dt / 1e9);
		shared_ring_free(&s);
	}
	qsort(mbps, 5, sizeof mbps[0], cmp_double);
	printf("\nring_stream_64MiB_64KiB_ring %.0f MB/s (median of 5; min %.0f max %.0f)\n",
	       mbps[2], mbps[0], mbps[4]);
}

/* Producer of BODY frames + END, as the client streams a body: each
 * frame encoded and published, waiting for room (frame_put.h). */
static int produce_frames(struct pp_ring *r, const uint8_t *src)
{
	uint32_t chunk = pp_frame_chunk(r->cap);
	size_t off = 0;
	while (off < STREAM_BYTES) {
		size_t n = STREAM_BYTES - off < chunk ? STREAM_BYTES - off : chunk;
		struct pp_frame f = { .type = PP_FRAME_BODY, .body = { src + off, (uint32_t)n } };
		if (pp_test_put_frame(r, &f, pp_now_ns() + WAIT_FOREVER_NS) != 0)
			return 3;
		off += n;
	}
	struct pp_frame end = { .type = PP_FRAME_END };
	return pp_test_put_frame(r, &end, pp_now_ns() + WAIT_FOREVER_NS) ? 5 : 0;
}

/* Consumer of BODY frames until END: the checksum, 0 on failure. */
static uint64_t consume_frames(struct pp_ring *r)
{
	static uint8_t scratch[PP_FRAME_MAX_ABS];
	struct cksum c = { 0 };
	size_t got = 0;
	for (;;) {
		struct pp_frame f;
		int rc = pp_frame_take(r, scratch, sizeof scratch, &f);
		if (rc == 0) {
			if (pp_frame_wait(r, pp_now_ns() + WAIT_FOREVER_NS, STREAM_SPIN) == -ETIMEDOUT)
				return 0;
			continue;
		}
		if (rc < 0)
			return 0;
		if (f.type == PP_FRAME_END)
			break;
		if (f.type != PP_FRAME_BODY)
			return 0;
		cksum_add(&c, f.body.data, f.body.len);
		got += f.body.len;
	}
	return got == STREAM_BYTES ? cksum_final(&c) : 0;
}

/* 64 MiB of BODY frames + END, child to parent, then parent to child. */
static void test_fork_frames_both_ways(void)
{
	const uint8_t *src = stream_source();
	uint64_t want = sum_bytes(src, STREAM_BYTES);
	struct shared_ring req = shared_ring_new(STREAM_CAP), resp = shared_ring_new(STREAM_CAP);
	struct pp_ring rq, rs;
	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&rq, req.ctl, req.data, STREAM_CAP), 0);
	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&rs, resp.ctl, resp.data, STREAM_CAP), 0);

	uint64_t t0 = pp_now_ns();
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* the worker: send a request body, then receive a response body */
		int rc = produce_frames(&rq, src);
		if (rc)
			_exit(rc);
		_exit(consume_frames(&rs) == want ? 0 : 10);
	}
	uint64_t got = consume_frames(&rq);
	uint64_t t1 = pp_now_ns();
	CU_ASSERT_EQUAL(got, want);
	CU_ASSERT_EQUAL(produce_frames(&rs, src), 0);
	CU_ASSERT_EQUAL(pp_test_wait_child(pid), 0);
	uint64_t t2 = pp_now_ns();
	printf("\nframe_stream_64MiB_64KiB_ring %.0f MB/s (worker->daemon), %.0f MB/s (daemon->worker)\n",
	       (double)STREAM_BYTES / (1 << 20) / ((double)(t1 - t0) / 1e9),
	       (double)STREAM_BYTES / (1 << 20) / ((double)(t2 - t1) / 1e9));
	shared_ring_free(&req);
	shared_ring_free(&resp);
}

/* Wait (in a child) until *flag is set, then let a third process wake. */
static void wait_flag(_Atomic uint32_t *flag)
{
	uint64_t end = pp_now_ns() + 5 * PP_NS_PER_S;
	while (!atomic_load(flag) && pp_now_ns() < end)
		usleep(1000);
}

/* A sleeper in each direction is woken by an unrelated process calling
 * pp_ring_wake_all: it returns 0 long before its deadline, nothing ready. */
static void test_third_party_wake(void)
{
	struct shared_ring s = shared_ring_new(PAGE);
	struct pp_ring r;
	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, s.ctl, s.data, PAGE), 0);

	for (int dir = 0; dir < 2; dir++) {
		pid_t sleeper = fork();
		CU_ASSERT_FATAL(sleeper >= 0);
		if (sleeper == 0) {
			uint64_t t0 = pp_now_ns();
			int rc = dir == 0 ? pp_ring_wait_readable(&r, 1, t0 + 10 * PP_NS_PER_S, 0) :
					    pp_ring_wait_writable(&r, 1, t0 + 10 * PP_NS_PER_S, 0);
			uint64_t dt = pp_now_ns() - t0;
			_exit(rc == 0 && dt < 3 * PP_NS_PER_S ? 0 : 1);
		}
		pid_t waker = fork();
		CU_ASSERT_FATAL(waker >= 0);
		if (waker == 0) {
			wait_flag(dir == 0 ? &s.ctl->head_waiter : &s.ctl->tail_waiter);
			usleep(20000); /* let it get into futex_wait */
			pp_ring_wake_all(s.ctl);
			_exit(0);
		}
		CU_ASSERT_EQUAL(pp_test_wait_child(waker), 0);
		CU_ASSERT_EQUAL(pp_test_wait_child(sleeper), 0);
		CU_ASSERT_EQUAL(pp_ring_readable(&r), dir == 0 ? 0 : (ssize_t)PAGE);
		if (dir == 0) {
			/* fill it for the writable case; the next child forks a
			 * view that sees the ring full */
			static uint8_t fill[PAGE];
			CU_ASSERT_EQUAL(pp_ring_write(&r, fill, PAGE), (ssize_t)PAGE);
		}
	}
	shared_ring_free(&s);
}

/* A sleeping consumer is woken by the producer's publish (the flag path). */
static void test_fork_wakeup_latency(void)
{
	struct shared_ring s = shared_ring_new(PAGE);
	struct pp_ring r;
	CU_ASSERT_EQUAL_FATAL(pp_ring_init_view(&r, s.ctl, s.data, PAGE), 0);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < 1000; i++) {
			uint8_t b;
			while (pp_ring_read(&r, &b, 1) == 0)
				if (pp_ring_wait_readable(&r, 1, pp_now_ns() + 2 * PP_NS_PER_S, 0) ==
				    -ETIMEDOUT)
					_exit(1);
			if (b != (uint8_t)i)
				_exit(2);
		}
		_exit(0);
	}
	for (int i = 0; i < 1000; i++) {
		uint8_t b = (uint8_t)i;
		if (i % 100 == 0)
			usleep(2000); /* make the child really sleep sometimes */
		CU_ASSERT_EQUAL(pp_ring_write(&r, &b, 1), 1);
	}
	CU_ASSERT_EQUAL(pp_test_wait_child(pid), 0);
	shared_ring_free(&s);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "init_view", test_init_view },
		{ "basic_wrap", test_basic_wrap },
		{ "prefault_read", test_prefault_read },
		{ "stream_content_index_wrap", test_stream_content },
		{ "full_empty_stage_publish", test_full_empty },
		{ "corrupt_indices", test_corrupt_indices },
		{ "timed_waits", test_timed_waits },
		{ "fork_wakeup", test_fork_wakeup_latency },
		{ "fork_third_party_wake", test_third_party_wake },
		{ "fork_stream_64MiB", test_fork_stream },
		{ "fork_frames_both_ways", test_fork_frames_both_ways },
	};
	return pp_test_main("ring", tests, PP_ARRAY_LEN(tests), NULL, NULL);
}
