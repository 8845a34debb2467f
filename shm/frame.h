/* frame.h - msgpack frames carried in a pp_ring.
 *
 * Wire format of one frame:
 *
 *   u32 little-endian payload length N (1 <= N <= pp_frame_max(cap) - 4)
 *   N bytes of msgpack: an array [type, field...]
 *
 *   type  name       fields
 *   1     REQ_HEAD   method str<=16, path str<=4096, headers, body_len int64
 *                    (-1 = chunked/unknown), timeout_ms uint32 (0 = default)
 *   2     BODY       bin <= pp_frame_chunk(cap)
 *   3     END        -
 *   4     RESP_HEAD  status int 100..999, headers, content_len int64 (-1)
 *   5     ERROR      code int (a PP_E* code this build knows: pp_error_known()
 *                    in errors.h), message str<=256
 *
 *   headers = array (<= 32) of [name str<=64, value str<=1024]
 *
 * A producer publishes a frame in one step (head moves only after the whole
 * frame is in the ring), so a consumer sees a whole frame or nothing.
 * Bodies stream as any number of BODY frames followed by END.
 *
 * Everything the decoder returns has been checked: msgpack types, field
 * counts, every length limit, and the content rules below (method token,
 * path, header characters).  Strings point into the caller's scratch and
 * are NOT NUL-terminated.
 */
#ifndef PP_FRAME_H
#define PP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ring.h"

/* Limits (bytes unless said otherwise). */
#define PP_FRAME_LEN_BYTES 4u         /* the length prefix */
#define PP_FRAME_MAX_ABS (65536u + 4096u) /* global bound on a whole frame */
#define PP_FRAME_CHUNK_MAX 16384u     /* global bound on a BODY chunk */
#define PP_FRAME_METHOD_MAX 16u
#define PP_FRAME_PATH_MAX 4096u
#define PP_FRAME_HEADERS_MAX 32u      /* header pairs */
#define PP_FRAME_HNAME_MAX 64u
#define PP_FRAME_HVALUE_MAX 1024u
#define PP_FRAME_MESSAGE_MAX 256u
#define PP_FRAME_STATUS_MIN 100
#define PP_FRAME_STATUS_MAX 999
/* Upper bound of a BODY frame's bytes beyond its data: prefix 4, fixarray 1,
 * type 1, bin32 header 5. */
#define PP_FRAME_BODY_OVERHEAD 11u

/* Frame types: append only (the wire carries the numbers). */
enum pp_frame_type {
	PP_FRAME_REQ_HEAD = 1,
	PP_FRAME_BODY = 2,
	PP_FRAME_END = 3,
	PP_FRAME_RESP_HEAD = 4,
	PP_FRAME_ERROR = 5,
};

/* A byte string: pointer + length, not NUL-terminated. */
struct pp_str {
	const char *ptr;
	uint32_t len;
};

/* A string literal as a pp_str. */
#define PP_STR_LIT(s) ((struct pp_str){ (s), (uint32_t)(sizeof(s) - 1) })

/* One header line. */
struct pp_hdr {
	struct pp_str name, value;
};

struct pp_frame_req_head {
	struct pp_str method;
	struct pp_str path; /* path + query, relative to the base URL */
	uint32_t nheaders;
	struct pp_hdr headers[PP_FRAME_HEADERS_MAX];
	int64_t body_len;    /* -1 = chunked / unknown */
	uint32_t timeout_ms; /* 0 = daemon default */
};

struct pp_frame_resp_head {
	int32_t status; /* 100..999 */
	uint32_t nheaders;
	struct pp_hdr headers[PP_FRAME_HEADERS_MAX];
	int64_t content_len; /* -1 = unknown */
};

struct pp_frame_body {
	const uint8_t *data;
	uint32_t len;
};

struct pp_frame_error {
	int32_t code; /* a PP_E* code (pp_error_known) */
	struct pp_str message;
};

/* A decoded frame (or the input of pp_frame_encode). */
struct pp_frame {
	enum pp_frame_type type;
	uint32_t wire_len; /* decoder: bytes the frame took, prefix included */
	union {
		struct pp_frame_req_head req;   /* PP_FRAME_REQ_HEAD */
		struct pp_frame_resp_head resp; /* PP_FRAME_RESP_HEAD */
		struct pp_frame_body body;      /* PP_FRAME_BODY */
		struct pp_frame_error error;    /* PP_FRAME_ERROR */
	};
};

/* Largest whole frame (prefix included) a ring of capacity cap carries:
 * min(cap, PP_FRAME_MAX_ABS).  A producer whose batch does not fit waits for this
 * much free space (pp_frame_wait_space) and retries. */
uint32_t pp_frame_max(uint32_t cap);

/* BODY chunk size for a ring of capacity cap: min(PP_FRAME_CHUNK_MAX, cap/4). */
uint32_t pp_frame_chunk(uint32_t cap);

/* "REQ_HEAD", ... or NULL for an unknown type. */
const char *pp_frame_type_name(int type);

/* ---- validation shared by client and daemon ---------------------------- */

/* 1 if method is a non-empty RFC 9110 token of at most PP_FRAME_METHOD_MAX
 * bytes, else 0. */
int pp_frame_method_ok(const char *method, size_t len);

/* 1 if path starts with '/' but not "//" (a network-path reference would
 * name another host when resolved against the base URL), is at most
 * PP_FRAME_PATH_MAX bytes and holds no space, CR, LF, NUL, other control
 * character or DEL, else 0.  Bytes >= 0x80 and '%' escapes pass. */
int pp_frame_path_ok(const char *path, size_t len);

/* 1 if name is a non-empty token (<= PP_FRAME_HNAME_MAX) and value
 * (<= PP_FRAME_HVALUE_MAX) holds no control character but HTAB, else 0. */
int pp_frame_header_ok(const char *name, size_t name_len, const char *value, size_t value_len);

/* ---- encoding ------------------------------------------------------------
 * One encoder: frames are encoded into private memory and published to the
 * ring in one step by the producer (xfer.h: pp_xfer_add, pp_xfer_flush). */

/* Encode f (prefix included) into buf.  Returns the number of bytes
 * written, or
 *   -EMSGSIZE  a field is over its limit, or the frame needs more than
 *              min(len, PP_FRAME_MAX_ABS) bytes;
 *   -EINVAL    a field is invalid (bad method/path/header characters, status
 *              out of range, an error code pp_error_known() does not know,
 *              body_len < -1, unknown type).
 * No allocation.  BODY is limited to PP_FRAME_CHUNK_MAX here (a ring's
 * consumer takes at most pp_frame_chunk(cap): pp_xfer_add checks that). */
ssize_t pp_frame_encode(const struct pp_frame *f, uint8_t *buf, size_t len);

/* ---- decoding ------------------------------------------------------------
 * Decoder returns:
 *   1          a frame is in *out;
 *   0          incomplete: fewer bytes than the length prefix announces (or
 *              than the prefix itself); wait (pp_frame_wait) and retry;
 *   -EPROTO    a broken frame: length 0 or over the limit, bad msgpack,
 *              trailing bytes, wrong field count or types, a limit exceeded,
 *              bad content (method/path/header characters, status range,
 *              an unknown error code...).  The stream cannot be resynchronised;
 *   -EBADMSG   a well-formed frame of an unknown type (a newer peer?);
 *   -ENOMEM    the small msgpack zone (a few KiB) could not be allocated.
 * The decoder never reads outside its input, allocates at most a small
 * bounded msgpack zone, and is total: any bytes give one of the above. */

/* Decode the frame at the start of buf[0, len).  Trailing bytes after the
 * frame are left alone (out->wire_len says where the next one starts).
 * Fields of *out point into buf. */
int pp_frame_decode(const uint8_t *buf, size_t len, struct pp_frame *out);

/* Consumer: copy the next whole frame out of the ring into scratch and
 * decode it there; the frame is consumed when 1 or -EBADMSG is returned,
 * left in place otherwise.  A scratch of pp_frame_max(cap) bytes takes any
 * frame; a smaller one gets -ENOBUFS for a frame longer than scratch_len
 * (the caller may grow it and call again).  Fields of *out point into
 * scratch and stay valid until it is reused.  BODY chunks are limited to
 * pp_frame_chunk(cap).  Also -EPROTO for corrupt ring indices, -EINVAL for
 * a NULL scratch or out. */
int pp_frame_take(struct pp_ring *r, uint8_t *scratch, size_t scratch_len, struct pp_frame *out);

/* Consumer: wait until the next frame is wholly readable (0), on any wakeup
 * (0), -ETIMEDOUT, or -EPROTO (corrupt indices or length prefix).  Waits for
 * the number of bytes the length prefix announces, so a partial frame does
 * not make the caller spin.  spin as for pp_ring_wait_readable(). */
int pp_frame_wait(struct pp_ring *r, uint64_t deadline_ns, unsigned spin);

/* Is a whole frame readable (or garbage where its prefix should be, which
 * pp_frame_take then reports)?  Never waits; cheap enough to spin on. */
bool pp_frame_ready(struct pp_ring *r);

/* Producer: wait until min_bytes are free (0 means pp_frame_max(cap), what
 * any frame needs; a BODY of n bytes needs at most
 * n + PP_FRAME_BODY_OVERHEAD).  Returns 0 (also on any wakeup), -ETIMEDOUT,
 * -EPROTO, or -EINVAL if min_bytes > cap. */
int pp_frame_wait_space(struct pp_ring *r, uint32_t min_bytes, uint64_t deadline_ns,
			unsigned spin);

#endif
