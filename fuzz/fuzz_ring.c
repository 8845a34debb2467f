/* fuzz_ring.c - libFuzzer target: pp_frame_take() over a ring whose
 * indices and bytes a hostile peer chose.
 *
 * Build and run (from the top of the tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishm -D_GNU_SOURCE \
 *     fuzz/fuzz_ring.c shm/frame.c shm/ring.c shm/futex.c \
 *     $(pkg-config --cflags --libs msgpack) -o build/fuzz_ring
 *   build/fuzz_ring -max_total_time=60 fuzz/corpus/ring
 *
 * Input layout:
 *   byte 0      cap = 1 << (6 + b % 11)   (64 B .. 64 KiB; trusted, as in
 *               the daemon, where it comes from the config)
 *   bytes 1-4   tail (LE)  - the consumer's index as found in the segment
 *   bytes 5-8   head (LE)  - the producer's index, untrusted
 *   byte 9      n: after every take, head += bump[i % 8] (bytes 10-17) as a
 *               peer that keeps publishing (or moving head anywhere) would
 *   bytes 18-   the ring's data (repeated to fill cap)
 * The data area and the scratch are heap blocks of exactly cap and
 * pp_frame_max(cap) bytes, so ASan sees any access outside them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 18)
		return 0;
	uint32_t cap = 1u << (6 + data[0] % 11);
	uint32_t tail = le32(data + 1), head = le32(data + 5);
	unsigned moves = data[9];
	const uint8_t *bump = data + 10;
	const uint8_t *bytes = data + 18;
	size_t nbytes = size - 18;

	struct pp_ring_ctl *ctl = aligned_alloc(PP_CACHELINE, sizeof *ctl);
	uint8_t *ring_data = malloc(cap);
	uint32_t smax = pp_frame_max(cap);
	uint8_t *scratch = malloc(smax);
	if (!ctl || !ring_data || !scratch)
		abort();
	memset(ctl, 0, sizeof *ctl);
	for (uint32_t i = 0; i < cap; i++)
		ring_data[i] = nbytes ? bytes[i % nbytes] : 0;
	ctl->tail = tail;
	ctl->head = head;

	struct pp_ring r;
	int rc = pp_ring_init_view(&r, ctl, ring_data, cap);
	if (rc != 0 && rc != -EPROTO)
		abort();
	/* Keep going even after -EPROTO: a consumer whose tail is "tail". */
	r.cached_tail = r.cached_head = tail;

	for (unsigned i = 0; i < 64; i++) {
		struct pp_frame f;
		uint32_t before = r.cached_tail;
		rc = pp_frame_take(&r, scratch, smax, &f);
		if (rc != 1 && rc != 0 && rc != -EPROTO && rc != -EBADMSG)
			abort();
		if (rc == 1 && (f.wire_len > smax || r.cached_tail - before != f.wire_len))
			abort();
		if (rc == 1 && f.type == PP_FRAME_BODY && f.body.len > pp_frame_chunk(cap))
			abort();
		if ((rc == 0 || rc == -EPROTO) && r.cached_tail != before)
			abort(); /* consumed nothing */
		ssize_t avail = pp_ring_readable(&r);
		if (avail != -EPROTO && (avail < 0 || avail > (ssize_t)cap))
			abort();
		if (i < moves) /* the peer moves head */
			atomic_fetch_add(&ctl->head, (uint32_t)bump[i % 8] * 13u);
		else if (rc != 1 && rc != -EBADMSG)
			break;
	}
	free(scratch);
	free(ring_data);
	free(ctl);
	return 0;
}
