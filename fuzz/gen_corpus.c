/* gen_corpus.c - writes the seed corpora fuzz/corpus/{frame,ring}/ from
 * valid frames made by the real encoder.
 *
 *   cc -Ishm -D_GNU_SOURCE fuzz/gen_corpus.c shm/frame.c shm/ring.c \
 *     shm/futex.c $(pkg-config --cflags --libs msgpack) -o build/gen_corpus
 *   build/gen_corpus fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static void write_file(const char *dir, const char *kind, const char *name, const uint8_t *p,
		       size_t n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s/%s", dir, kind, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static struct pp_str S(const char *s)
{
	return (struct pp_str){ s, (uint32_t)strlen(s) };
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "fuzz/corpus";
	static uint8_t body[200];
	static uint8_t all[1 << 16];
	size_t all_len = 0;
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (uint8_t)i;

	struct pp_frame fr[6];
	memset(fr, 0, sizeof fr);
	fr[0].type = PP_FRAME_REQ_HEAD;
	fr[0].req.method = S("POST");
	fr[0].req.path = S("/db/main/tables/users/rows?limit=10");
	fr[0].req.nheaders = 2;
	fr[0].req.headers[0] = (struct pp_hdr){ S("Content-Type"), S("application/json") };
	fr[0].req.headers[1] = (struct pp_hdr){ S("Accept"), S("*/*") };
	fr[0].req.body_len = 200;
	fr[0].req.timeout_ms = 5000;
	fr[1].type = PP_FRAME_BODY;
	fr[1].body = (struct pp_frame_body){ body, sizeof body };
	fr[2].type = PP_FRAME_END;
	fr[3].type = PP_FRAME_RESP_HEAD;
	fr[3].resp.status = 200;
	fr[3].resp.nheaders = 1;
	fr[3].resp.headers[0] = (struct pp_hdr){ S("Content-Length"), S("2") };
	fr[3].resp.content_len = 2;
	fr[4].type = PP_FRAME_ERROR;
	fr[4].error = (struct pp_frame_error){ -4, S("backend unavailable") };
	fr[5].type = PP_FRAME_REQ_HEAD;
	fr[5].req.method = S("GET");
	fr[5].req.path = S("/health");
	fr[5].req.body_len = -1;

	static const char *names[] = { "req_head", "body", "end", "resp_head", "error", "get" };
	for (int i = 0; i < 6; i++) {
		uint8_t buf[4096];
		ssize_t n = pp_frame_encode(&fr[i], buf, sizeof buf);
		if (n < 0) {
			fprintf(stderr, "encode %s: %zd\n", names[i], n);
			return 1;
		}
		write_file(dir, "frame", names[i], buf, (size_t)n);
		memcpy(all + all_len, buf, (size_t)n);
		all_len += (size_t)n;
	}
	write_file(dir, "frame", "stream", all, all_len);

	/* ring inputs: cap 1 KiB (b=4), tail, head = tail + frames, no moves,
	 * then the frames; one with tail near 2^32 so they wrap. */
	static const uint32_t tails[] = { 0, 1000, 0xfffffe00u };
	for (int t = 0; t < 3; t++) {
		uint8_t in[18 + 1024] = { 0 };
		uint32_t tail = tails[t], head = tail + (uint32_t)all_len;
		in[0] = 4;
		memcpy(in + 1, &tail, 4);
		memcpy(in + 5, &head, 4);
		/* data is laid out from ring offset 0; put the frames at tail & mask */
		for (size_t i = 0; i < all_len; i++)
			in[18 + ((tail + i) & 1023)] = all[i];
		char name[32];
		snprintf(name, sizeof name, "stream_tail%d", t);
		write_file(dir, "ring", name, in, sizeof in);
	}
	return 0;
}
