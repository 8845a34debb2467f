/* frame.c - see frame.h.
 *
 * Encoding packs msgpack into the caller's buffer through a msgpack_packer
 * whose write callback copies while the bytes fit and keeps counting past
 * the end, so a frame that does not fit fails whole (-EMSGSIZE) without
 * allocating.  Producers batch encoded frames and publish them to the ring
 * in one step (xfer.h: pp_xfer_add / pp_xfer_flush).
 *
 * Decoding is two passes over a private copy of the payload:
 *   1. frame_scan(): a bounded walk over the msgpack bytes that accepts only
 *      the types frames use (int, str, bin, array), at most SCAN_MAX_DEPTH
 *      nested arrays and SCAN_MAX_OBJECTS objects, each declared count no
 *      larger than the bytes left, and exactly one object filling the
 *      payload.  After it, msgpack_unpack cannot be asked for more than
 *      the objects the scan counted (at most SCAN_MAX_OBJECTS), so a zone
 *      of zone_chunk(count) bytes holds them: one small allocation per
 *      frame (a few hundred bytes for a response head), which a fresh
 *      process finds in the heap page it has, where a zone sized for
 *      SCAN_MAX_OBJECTS (3.3 KB) took a page fault of its own.
 *   2. msgpack_unpack() into that zone, then per-type field extraction with
 *      every msgpack type checked, then the same check_*() the encoder runs.
 */
#include "frame.h"

#include <errno.h>
#include <msgpack.h>
#include <string.h>

#include "errors.h"

/* REQ_HEAD: array, type, method, path, headers array, 32 pairs of 3
 * objects, body_len, timeout = 104 objects: 128 leaves slack. */
#define SCAN_MAX_OBJECTS 128u
/* frame array > headers array > pair array: three levels of arrays. */
#define SCAN_MAX_DEPTH 3u
/* Bytes msgpack_unpack may need for n objects: an array of msgpack_object
 * per array (strings and bins point into the payload), with room for the
 * zone's alignment.  Were it short, the zone would allocate more itself. */
static size_t zone_chunk(uint32_t n)
{
	return n * sizeof(msgpack_object) + 256u;
}

/* ---- sizes and names --------------------------------------------------- */

uint32_t pp_frame_max(uint32_t cap)
{
	return cap < PP_FRAME_MAX_ABS ? cap : PP_FRAME_MAX_ABS;
}

uint32_t pp_frame_chunk(uint32_t cap)
{
	return cap / 4 < PP_FRAME_CHUNK_MAX ? cap / 4 : PP_FRAME_CHUNK_MAX;
}

static inline uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- validation -------------------------------------------------------- */

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *s, size_t len)
{
	if (!s || len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

int pp_frame_method_ok(const char *method, size_t len)
{
	return len <= PP_FRAME_METHOD_MAX && is_token(method, len);
}

/* Also rejects a leading "//": resolved against the base URL it would name
 * another host (a network-path reference). */
int pp_frame_path_ok(const char *path, size_t len)
{
	if (!path || len == 0 || len > PP_FRAME_PATH_MAX || path[0] != '/')
		return 0;
	if (len > 1 && path[1] == '/')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c <= 0x20 || c == 0x7f) /* NUL, CR, LF, other controls, space, DEL */
			return 0;
	}
	return 1;
}

int pp_frame_header_ok(const char *name, size_t name_len, const char *value, size_t value_len)
{
	if (name_len > PP_FRAME_HNAME_MAX || value_len > PP_FRAME_HVALUE_MAX)
		return 0;
	if (!is_token(name, name_len) || (value_len && !value))
		return 0;
	for (size_t i = 0; i < value_len; i++) {
		unsigned char c = (unsigned char)value[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* ---- per-type checks, shared by encoder and decoder ----------------------
 * -EMSGSIZE for a length over its limit, -EINVAL for bad content. */

static int check_str(struct pp_str s, uint32_t max)
{
	if (s.len > max)
		return -EMSGSIZE;
	return s.len && !s.ptr ? -EINVAL : 0;
}

static int check_headers(const struct pp_hdr *h, uint32_t n)
{
	if (n > PP_FRAME_HEADERS_MAX)
		return -EMSGSIZE;
	for (uint32_t i = 0; i < n; i++) {
		if (h[i].name.len > PP_FRAME_HNAME_MAX || h[i].value.len > PP_FRAME_HVALUE_MAX)
			return -EMSGSIZE;
		if (!pp_frame_header_ok(h[i].name.ptr, h[i].name.len, h[i].value.ptr,
					h[i].value.len))
			return -EINVAL;
	}
	return 0;
}

static int check_req_head(const struct pp_frame *f, uint32_t chunk_max)
{
	(void)chunk_max;
	const struct pp_frame_req_head *q = &f->req;
	int rc;
	if ((rc = check_str(q->method, PP_FRAME_METHOD_MAX)) ||
	    (rc = check_str(q->path, PP_FRAME_PATH_MAX)))
		return rc;
	if (!pp_frame_method_ok(q->method.ptr, q->method.len) ||
	    !pp_frame_path_ok(q->path.ptr, q->path.len) || q->body_len < -1)
		return -EINVAL;
	return check_headers(q->headers, q->nheaders);
}

static int check_resp_head(const struct pp_frame *f, uint32_t chunk_max)
{
	(void)chunk_max;
	const struct pp_frame_resp_head *s = &f->resp;
	if (s->status < PP_FRAME_STATUS_MIN || s->status > PP_FRAME_STATUS_MAX ||
	    s->content_len < -1)
		return -EINVAL;
	return check_headers(s->headers, s->nheaders);
}

static int check_body(const struct pp_frame *f, uint32_t chunk_max)
{
	if (f->body.len > chunk_max)
		return -EMSGSIZE;
	return f->body.len && !f->body.data ? -EINVAL : 0;
}

static int check_end(const struct pp_frame *f, uint32_t chunk_max)
{
	(void)f;
	(void)chunk_max;
	return 0;
}

static int check_error(const struct pp_frame *f, uint32_t chunk_max)
{
	(void)chunk_max;
	if (!pp_error_known(f->error.code))
		return -EINVAL; /* a worker must be able to name every code it gets */
	return check_str(f->error.message, PP_FRAME_MESSAGE_MAX);
}

/* ---- per-type packing (fields after the type) ------------------------------
 * The sink's callback never fails, so the packer's returns are not checked. */

static void pack_str(msgpack_packer *pk, struct pp_str s)
{
	msgpack_pack_str(pk, s.len);
	msgpack_pack_str_body(pk, s.ptr, s.len);
}

static void pack_headers(msgpack_packer *pk, const struct pp_hdr *h, uint32_t n)
{
	msgpack_pack_array(pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_array(pk, 2);
		pack_str(pk, h[i].name);
		pack_str(pk, h[i].value);
	}
}

static void pack_req_head(msgpack_packer *pk, const struct pp_frame *f)
{
	pack_str(pk, f->req.method);
	pack_str(pk, f->req.path);
	pack_headers(pk, f->req.headers, f->req.nheaders);
	msgpack_pack_int64(pk, f->req.body_len);
	msgpack_pack_uint32(pk, f->req.timeout_ms);
}

static void pack_resp_head(msgpack_packer *pk, const struct pp_frame *f)
{
	msgpack_pack_int32(pk, f->resp.status);
	pack_headers(pk, f->resp.headers, f->resp.nheaders);
	msgpack_pack_int64(pk, f->resp.content_len);
}

static void pack_body(msgpack_packer *pk, const struct pp_frame *f)
{
	msgpack_pack_bin(pk, f->body.len);
	msgpack_pack_bin_body(pk, f->body.data, f->body.len);
}

static void pack_end(msgpack_packer *pk, const struct pp_frame *f)
{
	(void)pk;
	(void)f;
}

static void pack_error(msgpack_packer *pk, const struct pp_frame *f)
{
	msgpack_pack_int32(pk, f->error.code);
	pack_str(pk, f->error.message);
}

/* ---- per-type field extraction (msgpack types only; limits come after) -- */

static int get_str(const msgpack_object *o, struct pp_str *out)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return -EPROTO;
	out->ptr = o->via.str.ptr;
	out->len = o->via.str.size;
	return 0;
}

static int get_i64(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return 0;
	}
	return -EPROTO;
}

static int get_i32(const msgpack_object *o, int32_t *out)
{
	int64_t v;
	if (get_i64(o, &v) || v < INT32_MIN || v > INT32_MAX)
		return -EPROTO;
	*out = (int32_t)v;
	return 0;
}

static int get_headers(const msgpack_object *o, struct pp_hdr *h, uint32_t *n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PP_FRAME_HEADERS_MAX)
		return -EPROTO;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *pair = &o->via.array.ptr[i];
		if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2 ||
		    get_str(&pair->via.array.ptr[0], &h[i].name) ||
		    get_str(&pair->via.array.ptr[1], &h[i].value))
			return -EPROTO;
	}
	*n = o->via.array.size;
	return 0;
}

static int decode_req_head(const msgpack_object *v, struct pp_frame *f)
{
	int64_t timeout;
	if (get_str(&v[0], &f->req.method) || get_str(&v[1], &f->req.path) ||
	    get_headers(&v[2], f->req.headers, &f->req.nheaders) ||
	    get_i64(&v[3], &f->req.body_len) || get_i64(&v[4], &timeout) || timeout < 0 ||
	    timeout > UINT32_MAX)
		return -EPROTO;
	f->req.timeout_ms = (uint32_t)timeout;
	return 0;
}

static int decode_resp_head(const msgpack_object *v, struct pp_frame *f)
{
	if (get_i32(&v[0], &f->resp.status) ||
	    get_headers(&v[1], f->resp.headers, &f->resp.nheaders) ||
	    get_i64(&v[2], &f->resp.content_len))
		return -EPROTO;
	return 0;
}

static int decode_body(const msgpack_object *v, struct pp_frame *f)
{
	if (v[0].type != MSGPACK_OBJECT_BIN)
		return -EPROTO;
	f->body.data = (const uint8_t *)v[0].via.bin.ptr;
	f->body.len = v[0].via.bin.size;
	return 0;
}

static int decode_end(const msgpack_object *v, struct pp_frame *f)
{
	(void)v;
	(void)f;
	return 0;
}

static int decode_error(const msgpack_object *v, struct pp_frame *f)
{
	if (get_i32(&v[0], &f->error.code) || get_str(&v[1], &f->error.message))
		return -EPROTO;
	return 0;
}

/* ---- the frame type table ------------------------------------------------ */

struct frame_desc {
	const char *name;
	uint32_t nfields; /* after the type */
	int (*check)(const struct pp_frame *f, uint32_t chunk_max);
	void (*pack)(msgpack_packer *pk, const struct pp_frame *f);
	int (*decode)(const msgpack_object *fields, struct pp_frame *f);
};

static const struct frame_desc frame_types[] = {
	[PP_FRAME_REQ_HEAD] = { "REQ_HEAD", 5, check_req_head, pack_req_head, decode_req_head },
	[PP_FRAME_BODY] = { "BODY", 1, check_body, pack_body, decode_body },
	[PP_FRAME_END] = { "END", 0, check_end, pack_end, decode_end },
	[PP_FRAME_RESP_HEAD] = { "RESP_HEAD", 3, check_resp_head, pack_resp_head,
				 decode_resp_head },
	[PP_FRAME_ERROR] = { "ERROR", 2, check_error, pack_error, decode_error },
};

static const struct frame_desc *frame_desc_of(uint64_t type)
{
	if (type >= sizeof frame_types / sizeof frame_types[0] || !frame_types[type].name)
		return NULL;
	return &frame_types[type];
}

const char *pp_frame_type_name(int type)
{
	const struct frame_desc *d = type < 0 ? NULL : frame_desc_of((uint64_t)type);
	return d ? d->name : NULL;
}

/* ---- encoding -------------------------------------------------------------- */

/* Where packed bytes go: a flat buffer.  Counts every byte, but stores
 * only while they fit in room. */
struct sink {
	uint8_t *buf;
	size_t used, room; /* payload bytes (the prefix is not counted) */
};

static int sink_write(void *data, const char *p, size_t n)
{
	struct sink *s = data;
	if (n && s->used <= s->room && n <= s->room - s->used)
		memcpy(s->buf + PP_FRAME_LEN_BYTES + s->used, p, n); /* p may be NULL when n is 0 */
	s->used += n;
	return 0;
}

/* Validate f and pack its payload into s.  Returns 0, -EINVAL, -EMSGSIZE. */
static int frame_pack(const struct pp_frame *f, uint32_t chunk_max, struct sink *s)
{
	const struct frame_desc *d = f ? frame_desc_of((uint64_t)f->type) : NULL;
	if (!d)
		return -EINVAL;
	int rc = d->check(f, chunk_max);
	if (rc)
		return rc;
	msgpack_packer pk;
	msgpack_packer_init(&pk, s, sink_write);
	msgpack_pack_array(&pk, 1 + d->nfields);
	msgpack_pack_uint32(&pk, (uint32_t)f->type);
	d->pack(&pk, f);
	return 0;
}

ssize_t pp_frame_encode(const struct pp_frame *f, uint8_t *buf, size_t len)
{
	size_t lim = len < PP_FRAME_MAX_ABS ? len : PP_FRAME_MAX_ABS;
	if (!buf || lim < PP_FRAME_LEN_BYTES)
		return -EMSGSIZE;
	struct sink s = { .buf = buf, .room = lim - PP_FRAME_LEN_BYTES };
	int rc = frame_pack(f, PP_FRAME_CHUNK_MAX, &s);
	if (rc)
		return rc;
	if (s.used > s.room)
		return -EMSGSIZE;
	le32_put(buf, (uint32_t)s.used);
	return (ssize_t)(PP_FRAME_LEN_BYTES + s.used);
}

/* ---- decoding: the bounded pre-scan -------------------------------------- */

struct scan {
	const uint8_t *p;
	size_t len, off;
	uint32_t objects;
};

/* Read an n-byte (1, 2, 4 or 8) big-endian number; -1 past the end. */
static int scan_be(struct scan *s, unsigned n, uint64_t *v)
{
	if (n > s->len - s->off)
		return -1;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v = *v << 8 | s->p[s->off++];
	return 0;
}

/* What a msgpack type byte announces. */
struct scan_kind {
	unsigned len_bytes; /* size of a length/count field after the byte */
	unsigned skip;      /* fixed payload bytes (ints) */
	int array;          /* the count is an array count */
};

/* Classify type byte b; 0 if frames may contain it, -1 otherwise (nil,
 * bool, float, map, ext, 0xc1). *fix_len gets a fixstr/fixarray length. */
static int scan_classify(uint8_t b, struct scan_kind *k, uint32_t *fix_len)
{
	*k = (struct scan_kind){ 0 };
	*fix_len = 0;
	if (b <= 0x7f || b >= 0xe0)
		return 0; /* fixint */
	if (b >= 0xa0 && b <= 0xbf) {
		*fix_len = b & 0x1f; /* fixstr */
		return 0;
	}
	if (b >= 0x90 && b <= 0x9f) {
		*fix_len = b & 0x0f; /* fixarray */
		k->array = 1;
		return 0;
	}
	switch (b) {
	case 0xcc: case 0xd0: k->skip = 1; return 0; /* (u)int8 */
	case 0xcd: case 0xd1: k->skip = 2; return 0; /* (u)int16 */
	case 0xce: case 0xd2: k->skip = 4; return 0; /* (u)int32 */
	case 0xcf: case 0xd3: k->skip = 8; return 0; /* (u)int64 */
	case 0xd9: case 0xc4: k->len_bytes = 1; return 0; /* str8, bin8 */
	case 0xda: case 0xc5: k->len_bytes = 2; return 0; /* str16, bin16 */
	case 0xdb: case 0xc6: k->len_bytes = 4; return 0; /* str32, bin32 */
	case 0xdc: k->len_bytes = 2; k->array = 1; return 0; /* array16 */
	case 0xdd: k->len_bytes = 4; k->array = 1; return 0; /* array32 */
	default: return -1;
	}
}

/* Walk one object (and, for arrays, its elements) at depth; -1 on any
 * violation.  Recursion depth is bounded by SCAN_MAX_DEPTH. */
static int scan_object(struct scan *s, unsigned depth)
{
	struct scan_kind k;
	uint32_t fix;
	uint64_t n;

	if (++s->objects > SCAN_MAX_OBJECTS || s->off >= s->len)
		return -1;
	if (scan_classify(s->p[s->off++], &k, &fix))
		return -1;
	n = fix;
	if (k.len_bytes && scan_be(s, k.len_bytes, &n))
		return -1;
	if (!k.array) {
		uint64_t skip = k.skip ? k.skip : n;
		if (skip > s->len - s->off)
			return -1;
		s->off += (size_t)skip;
		return 0;
	}
	/* Every element takes at least one byte. */
	if (depth >= SCAN_MAX_DEPTH || n > s->len - s->off)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		if (scan_object(s, depth + 1))
			return -1;
	return 0;
}

/* 0 if p[0, len) is exactly one acceptable msgpack object, with *objects
 * set to how many objects it holds (itself included). */
static int frame_scan(const uint8_t *p, size_t len, uint32_t *objects)
{
	struct scan s = { .p = p, .len = len };
	if (scan_object(&s, 0) || s.off != len)
		return -1;
	*objects = s.objects;
	return 0;
}

/* ---- decoding: payload to frame ------------------------------------------ */

/* Decode the n-byte payload p (already copied out of any shared memory). */
static int decode_payload(const uint8_t *p, uint32_t n, uint32_t chunk_max, struct pp_frame *out)
{
	uint32_t objects;
	if (frame_scan(p, n, &objects))
		return -EPROTO;

	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, zone_chunk(objects)))
		return -ENOMEM;
	msgpack_object top;
	size_t off = 0;
	int rc = -EPROTO;
	if (msgpack_unpack((const char *)p, n, &off, &zone, &top) != MSGPACK_UNPACK_SUCCESS ||
	    off != n || top.type != MSGPACK_OBJECT_ARRAY || top.via.array.size < 1 ||
	    top.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		goto out;
	const struct frame_desc *d = frame_desc_of(top.via.array.ptr[0].via.u64);
	if (!d) {
		rc = -EBADMSG;
		goto out;
	}
	if (top.via.array.size != 1 + d->nfields)
		goto out;
	memset(out, 0, sizeof *out);
	out->type = (enum pp_frame_type)top.via.array.ptr[0].via.u64;
	out->wire_len = PP_FRAME_LEN_BYTES + n;
	if (d->decode(top.via.array.ptr + 1, out) == 0 && d->check(out, chunk_max) == 0)
		rc = 1;
out:
	msgpack_zone_destroy(&zone);
	return rc;
}

int pp_frame_decode(const uint8_t *buf, size_t len, struct pp_frame *out)
{
	if (!buf || len < PP_FRAME_LEN_BYTES)
		return 0;
	uint32_t n = le32_get(buf);
	if (n == 0 || n > PP_FRAME_MAX_ABS - PP_FRAME_LEN_BYTES)
		return -EPROTO;
	if (len - PP_FRAME_LEN_BYTES < n)
		return 0;
	return decode_payload(buf + PP_FRAME_LEN_BYTES, n, PP_FRAME_CHUNK_MAX, out);
}

/* Peek the length prefix: payload length in *n, or 0 (not there yet) /
 * -EPROTO (bad prefix or indices).  Returns 1 when *n is valid. */
static int peek_prefix(struct pp_ring *r, uint32_t *n)
{
	uint8_t pfx[PP_FRAME_LEN_BYTES];
	ssize_t k = pp_ring_peek(r, pfx, sizeof pfx);
	if (k < 0)
		return -EPROTO;
	if (k < (ssize_t)sizeof pfx)
		return 0;
	*n = le32_get(pfx);
	if (*n == 0 || *n > pp_frame_max(r->cap) - PP_FRAME_LEN_BYTES)
		return -EPROTO;
	return 1;
}

int pp_frame_take(struct pp_ring *r, uint8_t *scratch, size_t scratch_len, struct pp_frame *out)
{
	uint32_t n;
	if (!scratch || !out)
		return -EINVAL;
	int rc = peek_prefix(r, &n);
	if (rc <= 0)
		return rc;
	/* Copy the whole frame out, then decode only the private copy, using
	 * the n checked above (the peer may rewrite the ring meanwhile). */
	uint32_t whole = PP_FRAME_LEN_BYTES + n;
	if (scratch_len < whole)
		return -ENOBUFS; /* the caller's scratch is too small for this one: left in place */
	ssize_t k = pp_ring_peek(r, scratch, whole);
	if (k < 0)
		return -EPROTO;
	if ((size_t)k < whole)
		return 0;
	rc = decode_payload(scratch + PP_FRAME_LEN_BYTES, n, pp_frame_chunk(r->cap), out);
	if (rc == 1 || rc == -EBADMSG)
		pp_ring_consume(r, whole);
	return rc;
}

bool pp_frame_ready(struct pp_ring *r)
{
	uint32_t n;
	int rc = peek_prefix(r, &n);
	if (rc <= 0)
		return rc < 0; /* garbage: "ready", so the caller's take reports it */
	ssize_t have = pp_ring_readable(r);
	return have < 0 || (uint64_t)have >= PP_FRAME_LEN_BYTES + (uint64_t)n;
}

int pp_frame_wait(struct pp_ring *r, uint64_t deadline_ns, unsigned spin)
{
	uint32_t n, need = PP_FRAME_LEN_BYTES;
	int rc = peek_prefix(r, &n);
	if (rc < 0)
		return rc;
	if (rc == 1)
		need += n;
	return pp_ring_wait_readable(r, need, deadline_ns, spin);
}

int pp_frame_wait_space(struct pp_ring *r, uint32_t min_bytes, uint64_t deadline_ns,
			unsigned spin)
{
	return pp_ring_wait_writable(r, min_bytes ? min_bytes : pp_frame_max(r->cap),
				     deadline_ns, spin);
}
