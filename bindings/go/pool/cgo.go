package pool

// The C side of the binding: libphantompool (include/phantompool.h) and a
// few static shims.  The shims exist for one reason: cgo forbids passing C
// a Go struct that holds Go pointers, and pp_req is all pointers.  So Go
// hands the shims flat byte slices (allowed: they hold no pointers) and the
// shims build pp_req and pp_header on the C stack.  A request is one cgo
// call (the one-shot: lease, request, release) plus one C.free of the
// response body after Go has copied it; the results come back in a
// ppgo_out that Go recycles (outPool), since anything passed to C escapes
// to the heap.
//
// Where the library is found: `#cgo LDFLAGS: -lphantompool` and the
// compiler's default paths, i.e. an installed library (make install).  An
// in-tree build sets CGO_CFLAGS=-I<tree>/include and
// CGO_LDFLAGS="-L<tree>/build -Wl,-rpath,<tree>/build" (mk/go.mk does).

/*
#cgo LDFLAGS: -lphantompool
#include <phantompool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PPGO_MAX_HEADERS 8

// Build *req and h[] from strs = method NUL path NUL (name NUL value NUL)
// * nhdr.  Returns 0, or PP_EINVAL for too many headers.
static int ppgo_fill(pp_req *req, pp_header *h, const char *strs, int nhdr,
		     const void *body, size_t blen, int timeout_ms)
{
	if (nhdr < 0 || nhdr > PPGO_MAX_HEADERS)
		return PP_EINVAL;
	memset(req, 0, sizeof *req);
	req->method = strs;
	strs += strlen(strs) + 1;
	req->path = strs;
	strs += strlen(strs) + 1;
	for (int i = 0; i < nhdr; i++) {
		h[i].name = strs;
		strs += strlen(strs) + 1;
		h[i].value = strs;
		strs += strlen(strs) + 1;
	}
	req->headers = nhdr ? h : NULL;
	req->nheaders = (size_t)nhdr;
	req->body = blen ? body : NULL;
	req->body_len = blen;
	req->timeout_ms = timeout_ms;
	return 0;
}

// The library's pp_error_detail() is per OS thread, and a goroutine may
// move between threads from one cgo call to the next: the shims read it in
// the same cgo call as the failing library call and copy it to buf.
#define PPGO_DETAIL_MAX 1024
static void ppgo_copy_detail(char *buf, size_t len)
{
	const char *d = pp_error_detail();
	snprintf(buf, len, "%s", d ? d : "");
}

// What a request shim hands back: the response, whether a lease was
// granted (one-shot), and on failure the library's pp_error_detail() as a
// malloc'd copy (NULL when none; the caller frees it).  No Go pointers:
// Go may pass one it allocated (and reuses, see outPool).
typedef struct ppgo_out {
	pp_resp resp;
	int leased;
	char *detail;
} ppgo_out;

static void ppgo_take_detail(ppgo_out *o)
{
	const char *d = pp_error_detail();
	o->detail = d && *d ? strdup(d) : NULL;
}

// pp_attach, with the detail of a failure in detail[len].
static int ppgo_attach(const char *name, pp_pool **out, char *detail, size_t len)
{
	int r = pp_attach(name, out);
	if (r)
		ppgo_copy_detail(detail, len);
	return r;
}

// pp_request on a lease (must run on the lease's thread).
static int ppgo_request(struct pp_lease *l, const char *strs, int nhdr, const void *body,
			size_t blen, int timeout_ms, ppgo_out *o)
{
	pp_req req;
	pp_header h[PPGO_MAX_HEADERS];
	memset(o, 0, sizeof *o);
	int r = ppgo_fill(&req, h, strs, nhdr, body, blen, timeout_ms);
	if (!r && (r = pp_request(l, &req, &o->resp)) != 0)
		ppgo_take_detail(o);
	return r;
}

// pp_do with a lease wait of our choosing: lease (waiting up to lease_ms;
// 0: only a free seat), request, release, all on the calling thread, in
// one cgo call.  o->leased tells whether the lease was granted, so that
// the caller can tell "no seat in time" from a request that timed out.
static int ppgo_oneshot(pp_pool *p, int lease_ms, const char *strs, int nhdr,
			const void *body, size_t blen, int timeout_ms, ppgo_out *o)
{
	pp_req req;
	pp_header h[PPGO_MAX_HEADERS];
	struct pp_lease *l;
	memset(o, 0, sizeof *o);
	int r = ppgo_fill(&req, h, strs, nhdr, body, blen, timeout_ms);
	if (r)
		return r;
	if ((r = pp_lease(p, lease_ms, &l)) != 0) {
		ppgo_take_detail(o);
		return r;
	}
	o->leased = 1;
	r = pp_request(l, &req, &o->resp);
	if (r)
		ppgo_take_detail(o);
	int rr = pp_release(l);
	return r ? r : rr;
}

// pp_status through a buffer of the size the loaded library writes (it may
// be a newer library whose pp_pool_status has grown at its end); only our
// header's prefix is copied out.
static int ppgo_status(pp_pool *p, pp_pool_status *out, char *detail, size_t dlen)
{
	size_t lib = pp_abi_size(PP_ABI_STATUS);
	size_t n = lib > sizeof *out ? lib : sizeof *out;
	void *buf = calloc(1, n);
	if (!buf)
		return PP_ENOMEM;
	int r = pp_status(p, buf);
	if (r == 0)
		memcpy(out, buf, sizeof *out);
	else
		ppgo_copy_detail(detail, dlen);
	free(buf);
	return r;
}

// For the benchmark and the overhead test: n pp_do calls in C, the floor
// the Go binding is compared with.  Returns 0 or the first error.
static int ppgo_c_do_loop(pp_pool *p, const char *path, long n)
{
	pp_req req = { .method = "GET", .path = path };
	for (long i = 0; i < n; i++) {
		pp_resp resp;
		int r = pp_do(p, &req, &resp);
		pp_resp_free(&resp);
		if (r)
			return r;
	}
	return 0;
}
*/
import "C"

import (
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// maxHeaders is PPGO_MAX_HEADERS: more than the daemon allows anyway.
const maxHeaders = 8

// abiCheck compares the struct sizes this package was compiled with (from
// phantompool.h) with the sizes of the library actually loaded.  pp_req,
// pp_resp and pp_header must match exactly.  pp_pool_status may be larger
// in a newer library (it grows at its end): ppgo_status reads through a
// buffer of the library's size and copies out our prefix, so larger is
// safe; smaller is refused.
func abiCheck() error {
	type want struct {
		which C.int
		name  string
		size  uintptr
		exact bool
	}
	for _, w := range []want{
		{C.PP_ABI_REQ, "pp_req", unsafe.Sizeof(C.pp_req{}), true},
		{C.PP_ABI_RESP, "pp_resp", unsafe.Sizeof(C.pp_resp{}), true},
		{C.PP_ABI_HEADER, "pp_header", unsafe.Sizeof(C.pp_header{}), true},
		{C.PP_ABI_STATUS, "pp_pool_status", unsafe.Sizeof(C.pp_pool_status{}), false},
	} {
		lib := uintptr(C.pp_abi_size(w.which))
		if lib == w.size || (!w.exact && lib > w.size) {
			continue
		}
		return &Error{Code: int(C.PP_EVERSION), Op: "New", Detail: fmt.Sprintf(
			"libphantompool (version %d) has sizeof(%s) = %d, this package was built for %d (phantompool.h %d)",
			int(C.pp_version()), w.name, lib, w.size, int(C.PP_VERSION_NUMBER))}
	}
	return nil
}

// reqBuf is a request flattened for the shims: method NUL path NUL
// (name NUL value NUL)*.
type reqBuf struct {
	strs []byte
	nhdr int
	body []byte
}

func flatten(r *Request) (reqBuf, error) {
	if len(r.Headers) > maxHeaders {
		return reqBuf{}, &Error{Code: int(C.PP_EBADHEADER), Op: "request",
			Detail: fmt.Sprintf("%d headers, at most %d", len(r.Headers), maxHeaders)}
	}
	n := len(r.Method) + len(r.Path) + 2
	for _, h := range r.Headers {
		n += len(h.Name) + len(h.Value) + 2
	}
	b := make([]byte, 0, n)
	put := func(s string) error {
		for i := 0; i < len(s); i++ {
			if s[i] == 0 { // C would silently cut the string here
				return &Error{Code: int(C.PP_EINVAL), Op: "request", Detail: "NUL byte in method, path or header"}
			}
		}
		b = append(b, s...)
		b = append(b, 0)
		return nil
	}
	if err := put(r.Method); err != nil {
		return reqBuf{}, err
	}
	if err := put(r.Path); err != nil {
		return reqBuf{}, err
	}
	for _, h := range r.Headers {
		if err := put(h.Name); err != nil {
			return reqBuf{}, err
		}
		if err := put(h.Value); err != nil {
			return reqBuf{}, err
		}
	}
	return reqBuf{strs: b, nhdr: len(r.Headers), body: r.Body}, nil
}

// bodyPtr is the body for C (NULL when empty).
func (rb *reqBuf) bodyPtr() unsafe.Pointer {
	if len(rb.body) == 0 {
		return nil
	}
	return unsafe.Pointer(&rb.body[0])
}

// outPool recycles the shims' out structs: cgo makes every pointer
// passed to C escape to the heap, so a fresh one per call would be an
// allocation (~300 bytes, zeroed) per request.  They hold no Go pointers.
var outPool = sync.Pool{New: func() any { return new(C.ppgo_out) }}

// takeResp copies a pp_resp into Go memory and frees the C body.
func takeResp(cr *C.pp_resp) *Response {
	r := &Response{
		Status:      int(cr.status),
		ContentType: C.GoString(&cr.content_type[0]),
		RequestID:   C.GoString(&cr.request_id[0]),
	}
	if cr.body != nil && cr.body_len > 0 {
		r.Body = goBytes(unsafe.Pointer(cr.body), uint64(cr.body_len))
	}
	if cr.body != nil {
		C.free(unsafe.Pointer(cr.body))
		cr.body = nil
	}
	return r
}

// goBytes copies n bytes of C memory at p into a new Go slice.  C.GoBytes
// takes a C.int: a body of 2 GiB or more would make it panic, and one of
// 4 GiB or more would come back cut to its length modulo 4 GiB, so
// larger bodies are copied by memcpy (not by Go's copy, which -race
// would follow byte range by byte range).
func goBytes(p unsafe.Pointer, n uint64) []byte {
	if n <= math.MaxInt32 {
		return C.GoBytes(p, C.int(n))
	}
	b := make([]byte, n)
	C.memcpy(unsafe.Pointer(&b[0]), p, C.size_t(n))
	return b
}

// finish turns a shim's result into (response, code, detail) and puts o
// back into outPool.
func finish(r C.int, o *C.ppgo_out) (*Response, int, string) {
	var resp *Response
	detail := ""
	if r == 0 {
		resp = takeResp(&o.resp)
	} else {
		if o.resp.body != nil { // not after a failure, but never leak it
			C.free(unsafe.Pointer(o.resp.body))
		}
		if o.detail != nil {
			detail = C.GoString(o.detail)
			C.free(unsafe.Pointer(o.detail))
		}
	}
	o.resp.body, o.detail = nil, nil
	outPool.Put(o)
	return resp, int(r), detail
}

// cRequest runs pp_request on lease l.  It must run on l's OS thread.
// detail is the library's pp_error_detail() of a failure ("" if none).
func cRequest(l *C.struct_pp_lease, rb *reqBuf, timeoutMS int) (*Response, int, string) {
	o := outPool.Get().(*C.ppgo_out)
	r := C.ppgo_request(l, (*C.char)(unsafe.Pointer(&rb.strs[0])), C.int(rb.nhdr),
		rb.bodyPtr(), C.size_t(len(rb.body)), C.int(timeoutMS), o)
	return finish(r, o)
}

// cOneshot runs lease (waiting up to leaseMS), request and release on the
// calling thread in one cgo call.
// detail is the library's pp_error_detail() of a failure ("" if none).
func cOneshot(p *C.pp_pool, leaseMS int, rb *reqBuf, timeoutMS int) (resp *Response, code int, leased bool, detail string) {
	o := outPool.Get().(*C.ppgo_out)
	r := C.ppgo_oneshot(p, C.int(leaseMS), (*C.char)(unsafe.Pointer(&rb.strs[0])), C.int(rb.nhdr),
		rb.bodyPtr(), C.size_t(len(rb.body)), C.int(timeoutMS), o)
	leased = o.leased != 0 || r == 0
	resp, code, detail = finish(r, o)
	return resp, code, leased, detail
}

// cErrorDetail is pp_error_detail() of the calling OS thread: call it only
// from a goroutine locked to the thread of the failed call.
func cErrorDetail() string {
	if d := C.pp_error_detail(); d != nil {
		return C.GoString(d)
	}
	return ""
}

// cAttach is pp_attach; detail is the library's pp_error_detail() of a
// failure: the segment's path, mode and owner, the fix.
func cAttach(name *C.char, h **C.pp_pool) (code int, detail string) {
	var d [C.PPGO_DETAIL_MAX]C.char
	if r := C.ppgo_attach(name, h, &d[0], C.size_t(len(d))); r != 0 {
		return int(r), C.GoString(&d[0])
	}
	return 0, ""
}

func cStrerror(code int) string {
	return C.GoString(C.pp_strerror(C.int(code)))
}

// cStatus is pp_status through ppgo_status (see there).
func cStatus(h *C.pp_pool, s *C.pp_pool_status) (code int, detail string) {
	var d [C.PPGO_DETAIL_MAX]C.char
	if r := C.ppgo_status(h, s, &d[0], C.size_t(len(d))); r != 0 {
		return int(r), C.GoString(&d[0])
	}
	return 0, ""
}

// cDoLoop runs n pp_do calls of GET path from C on the calling thread: the
// floor the binding's overhead is measured against (TestOverhead).
func cDoLoop(h *C.pp_pool, path string, n int) int {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return int(C.ppgo_c_do_loop(h, cp, C.long(n)))
}
