/* fuzz_frame.c - libFuzzer target for pp_frame_decode().
 *
 * Build and run (from the top of the tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ishm -D_GNU_SOURCE \
 *     fuzz/fuzz_frame.c shm/frame.c shm/ring.c shm/futex.c \
 *     $(pkg-config --cflags --libs msgpack) -o build/fuzz_frame
 *   build/fuzz_frame -max_total_time=60 fuzz/corpus/frame
 *
 * Decodes every frame in the input, one after another.  Besides "no crash,
 * no out-of-bounds access" (ASan) it checks the decoder's contract: the
 * answer is one of 1 / 0 / -EPROTO / -EBADMSG, a frame never claims more
 * bytes than it was given, and whatever decodes re-encodes, to bytes that
 * decode to the same encoding again (the decoder accepts nothing the
 * encoder would refuse).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t enc1[PP_FRAME_MAX_ABS], enc2[PP_FRAME_MAX_ABS];

static void check_reencode(const struct pp_frame *f)
{
	ssize_t n1 = pp_frame_encode(f, enc1, sizeof enc1);
	if (n1 <= 0)
		abort(); /* decoded but the encoder refuses it */
	struct pp_frame g;
	if (pp_frame_decode(enc1, (size_t)n1, &g) != 1 || g.type != f->type ||
	    g.wire_len != (uint32_t)n1)
		abort();
	ssize_t n2 = pp_frame_encode(&g, enc2, sizeof enc2);
	if (n2 != n1 || memcmp(enc1, enc2, (size_t)n1) != 0)
		abort(); /* the encoding is not stable */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	while (off < size) {
		struct pp_frame f;
		int rc = pp_frame_decode(data + off, size - off, &f);
		if (rc != 1 && rc != 0 && rc != -EPROTO && rc != -EBADMSG)
			abort();
		if (rc != 1)
			break;
		if (f.wire_len < 5 || f.wire_len > size - off)
			abort();
		check_reencode(&f);
		off += f.wire_len;
	}
	return 0;
}
