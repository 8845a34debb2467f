/* test_errcodes.c - error codes that cross the segment (issue 15, defect 3).
 *
 * Every PP_E* code a daemon answers with in an ERROR frame reaches the
 * worker's pp_request as itself, and the lease stays usable (PP_EPROTO
 * excepted: it says the ring is unusable, so the lease must be released).
 * Any other number (0, positive, beyond the last code) arrives as
 * PP_EPROTO: a worker never gets a code pp_strerror cannot name.
 *
 * A real daemon never answers with most of these codes, so the test plays
 * the daemon's side of a one-slot pool itself: it creates the segment with
 * the daemon's own pp_seg_create, keeps the heartbeat fresh, and a thread
 * serves the slot's rings with the production frame code (pp_frame_take
 * for the request, pp_xfer_add / pp_xfer_flush for the answer, as
 * daemon/exchange.c does).  The worker side is the real client library,
 * attached by pool name.  Numbers the encoder refuses are written as
 * hand-made msgpack, as a buggy or newer peer would.
 */
#include <errno.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "frame.h"
#include "phantompool.h"
#include "segment.h"
#include "slot.h"
#include "testutil.h"
#include "xfer.h"

#define RING 4096u

/* What the peer answers the next request with. */
enum reply_kind { REPLY_OK, REPLY_ERROR, REPLY_RAW };

static struct peer {
	struct pp_seg seg;
	pthread_t thread;
	_Atomic int stop;
	_Atomic int kind; /* enum reply_kind */
	_Atomic int code; /* for REPLY_ERROR / REPLY_RAW */
	_Atomic unsigned served;
	_Atomic unsigned failures; /* replies the peer could not put (asserted by the tests, not the thread) */
} peer;

static pp_pool *pool;

/* An ERROR frame with any number as its code, packed by hand. */
static void put_raw_error(struct pp_ring *resp, int64_t code)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, PP_FRAME_ERROR);
	msgpack_pack_int64(&pk, code);
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "raw", 3);
	uint8_t buf[64];
	uint32_t n = (uint32_t)sb.size;
	buf[0] = (uint8_t)n;
	buf[1] = (uint8_t)(n >> 8);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 24);
	memcpy(buf + 4, sb.data, sb.size);
	pp_ring_write(resp, buf, 4 + sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* Answer one request on the response ring, the daemon's way. */
static void reply(struct pp_ring *resp)
{
	static uint8_t buf[RING];
	struct pp_batch b = { .mem = { .buf = buf, .cap = pp_frame_max(RING) } };
	struct pp_xfer xf = { .ring = resp, .deadline_ns = pp_now_ns() + PP_NS_PER_S, .slice_ns = 100 * PP_NS_PER_MS };
	int kind = atomic_load(&peer.kind), code = atomic_load(&peer.code);
	if (kind == REPLY_RAW) {
		put_raw_error(resp, code);
		return;
	}
	int r;
	if (kind == REPLY_ERROR) {
		struct pp_frame f = { .type = PP_FRAME_ERROR, .error = { code, PP_STR_LIT("from the peer") } };
		r = pp_xfer_add(&xf, &b, &f);
	} else {
		struct pp_frame h = { .type = PP_FRAME_RESP_HEAD, .resp = { .status = 200, .content_len = 0 } };
		struct pp_frame end = { .type = PP_FRAME_END };
		r = pp_xfer_add(&xf, &b, &h);
		if (!r)
			r = pp_xfer_add(&xf, &b, &end);
	}
	if (!r)
		r = pp_xfer_flush(&xf, &b);
	if (r) {
		fprintf(stderr, "peer: reply failed: %s\n", pp_strerror(r));
		atomic_fetch_add(&peer.failures, 1);
	}
}

/* Serve slot 0: take a request to its END, answer it; reset the slot when
 * the worker gives it back broken (RECLAIM), as the daemon's reaper does. */
static void *peer_main(void *arg)
{
	(void)arg;
	static uint8_t scratch[RING];
	struct pp_slot *s = pp_seg_slot(&peer.seg, 0);
	uint64_t beat = 0;
	while (!atomic_load(&peer.stop)) {
		uint64_t now = pp_now_ns();
		if (now - beat > 20 * PP_NS_PER_MS)
			atomic_store(&peer.seg.hdr->heartbeat_ns, beat = now);
		uint32_t st = atomic_load(&s->state);
		if (st == PP_SLOT_RECLAIM) {
			pp_ring_reset(&s->req);
			pp_ring_reset(&s->resp);
			atomic_store(&s->state, PP_SLOT_FREE);
			continue;
		}
		struct pp_ring req, resp;
		pp_ring_init_view(&req, &s->req, pp_seg_req_data(&peer.seg, 0), RING);
		pp_ring_init_view(&resp, &s->resp, pp_seg_resp_data(&peer.seg, 0), RING);
		if (st != PP_SLOT_BUSY || !pp_frame_ready(&req)) {
			usleep(1000);
			continue;
		}
		struct pp_frame f;
		int r;
		do {
			while ((r = pp_frame_take(&req, scratch, sizeof scratch, &f)) == 0 && !atomic_load(&peer.stop))
				pp_frame_wait(&req, pp_now_ns() + 20 * PP_NS_PER_MS, 0);
		} while (r == 1 && f.type != PP_FRAME_END);
		if (r == 1) {
			reply(&resp);
			atomic_fetch_add(&peer.served, 1);
		}
	}
	return NULL;
}

static int suite_setup(void)
{
	struct pp_seg_config cfg = { .pool = pp_test_pool_name("errc"), .nslots = 1, .ring_size = RING,
				     .lease_timeout_ms = 1000, .request_timeout_ms = 2000, .mode = 0600,
				     .gid = (gid_t)-1, .backend = "test peer" };
	if (pp_seg_create(&cfg, &peer.seg) != 0)
		return -1;
	atomic_store(&peer.seg.hdr->daemon_state, PP_DAEMON_READY);
	if (pthread_create(&peer.thread, NULL, peer_main, NULL) != 0)
		return -1;
	return pp_attach(cfg.pool, &pool);
}

static int suite_teardown(void)
{
	pp_detach(pool);
	atomic_store(&peer.stop, 1);
	pthread_join(peer.thread, NULL);
	pp_seg_unlink(pp_test_pool_name("errc"));
	pp_seg_unmap(&peer.seg);
	return 0;
}

/* One request answered as the peer is told; returns pp_request's code. */
static int ask(struct pp_lease *l, enum reply_kind kind, int code)
{
	atomic_store(&peer.kind, kind);
	atomic_store(&peer.code, code);
	pp_req req = { .method = "GET", .path = "/x" };
	pp_resp resp;
	int r = pp_request(l, &req, &resp);
	pp_resp_free(&resp);
	return r;
}

static void expect_impl(int got, int want, const char *what, int code, unsigned line)
{
	char msg[200];
	snprintf(msg, sizeof msg, "%s %d: got %d (%s), want %d (%s)", what, code, got, pp_strerror(got), want,
		 pp_strerror(want));
	CU_assertImplementation(got == want, line, msg, __FILE__, "", CU_FALSE);
}
#define EXPECT(got, want, what, code) expect_impl((got), (want), (what), (code), __LINE__)

/* pp_error_known agrees with pp_strerror, over and around the enum. */
static void test_known_matches_strerror(void)
{
	int n = 0;
	for (int c = 10; c >= -1000; c--) {
		bool named = strcmp(pp_strerror(c), "unknown error") != 0;
		CU_ASSERT_EQUAL(pp_error_known(c), c < 0 && named);
		n += pp_error_known(c);
	}
	CU_ASSERT_EQUAL(n, -PP_ENOLIB); /* PP_EINVAL .. PP_ENOLIB, no gaps */
	CU_ASSERT(!pp_error_known(0));
	CU_ASSERT(!pp_error_known(INT32_MIN));
	CU_ASSERT(!pp_error_known(INT32_MAX));
}

/* Every code from PP_EINVAL to the last one arrives as itself. */
static void test_every_code_arrives_as_itself(void)
{
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	EXPECT(ask(l, REPLY_OK, 0), 0, "a plain answer", 0);
	for (int c = PP_EINVAL; c >= PP_ENOLIB; c--) {
		if (c == PP_EPROTO)
			continue;
		EXPECT(ask(l, REPLY_ERROR, c), c, "ERROR frame with code", c);
		EXPECT(ask(l, REPLY_OK, 0), 0, "the next request after code", c);
	}
	CU_ASSERT_EQUAL(pp_release(l), 0);
	/* PP_EPROTO: the daemon gave up on the rings; the lease must go back. */
	CU_ASSERT_FATAL(pp_lease(pool, 1000, &l) == 0);
	EXPECT(ask(l, REPLY_ERROR, PP_EPROTO), PP_EPROTO, "ERROR frame with code", PP_EPROTO);
	EXPECT(ask(l, REPLY_OK, 0), PP_ESTATE, "the next request after code", PP_EPROTO);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	CU_ASSERT_EQUAL(atomic_load(&peer.failures), 0);
}

/* Numbers that are not codes of this build: PP_EPROTO, never passed on. */
static void test_unknown_numbers_arrive_as_eproto(void)
{
	const int64_t bad[] = { 0, 1, 7, PP_ENOLIB - 1, -1000, INT32_MIN, INT32_MAX };
	for (size_t i = 0; i < PP_ARRAY_LEN(bad); i++) {
		struct pp_lease *l;
		CU_ASSERT_FATAL(pp_lease(pool, 2000, &l) == 0);
		EXPECT(ask(l, REPLY_RAW, (int)bad[i]), PP_EPROTO, "hand-made ERROR frame with code", (int)bad[i]);
		CU_ASSERT_EQUAL(pp_release(l), 0);
		/* The encoder refuses to write such a frame at all. */
		uint8_t buf[64];
		struct pp_frame f = { .type = PP_FRAME_ERROR, .error = { (int32_t)bad[i], PP_STR_LIT("x") } };
		CU_ASSERT_EQUAL(pp_frame_encode(&f, buf, sizeof buf), -EINVAL);
	}
	/* After all that the slot serves again (reset by the peer). */
	struct pp_lease *l;
	CU_ASSERT_FATAL(pp_lease(pool, 2000, &l) == 0);
	EXPECT(ask(l, REPLY_OK, 0), 0, "a plain answer after the resets", 0);
	CU_ASSERT_EQUAL(pp_release(l), 0);
	CU_ASSERT_EQUAL(atomic_load(&peer.failures), 0);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "pp_error_known matches pp_strerror", test_known_matches_strerror },
		{ "every PP_E* code in an ERROR frame reaches the worker as itself", test_every_code_arrives_as_itself },
		{ "other numbers arrive as PP_EPROTO", test_unknown_numbers_arrive_as_eproto },
	};
	return pp_test_main("errcodes", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
