package pool

import (
	"errors"
	"fmt"
)

// Error is a failure reported by libphantompool: Code is the library's
// negative PP_E* code (include/phantompool.h), Name its symbol, and the
// message carries pp_strerror's text.  Compare with errors.Is against the
// Err* values below, which match any *Error of the same code:
//
//	if errors.Is(err, pool.ErrDaemon) { ... }   // PP_EDAEMON
type Error struct {
	Code   int    // PP_E* code, negative
	Op     string // what the binding was doing: "Acquire", "GET /databases", ...
	Detail string // the library's pp_error_detail() (New, PP_EDAEMON), more context from the binding, or ""
	cause  error  // context error when the context's deadline was the limit
}

// Name is the code's symbol, e.g. "PP_EDAEMON".
func (e *Error) Name() string { return codeName(e.Code) }

// Text is pp_strerror's description of the code.
func (e *Error) Text() string { return cStrerror(e.Code) }

func (e *Error) Error() string {
	s := "phantompool: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += fmt.Sprintf("%s (%d): %s", e.Name(), e.Code, e.Text())
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Is matches a sentinel (an *Error with no Op) of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Code == e.Code
}

// Unwrap gives the context's error (context.DeadlineExceeded) when an
// acquire timed out at the context's deadline, so both
// errors.Is(err, pool.ErrTimedOut) and
// errors.Is(err, context.DeadlineExceeded) hold.
func (e *Error) Unwrap() error { return e.cause }

// The library's error codes as sentinels for errors.Is.
var (
	ErrInvalid   = &Error{Code: -1}  // PP_EINVAL
	ErrNoPool    = &Error{Code: -2}  // PP_ENOPOOL
	ErrAccess    = &Error{Code: -3}  // PP_EACCES
	ErrVersion   = &Error{Code: -4}  // PP_EVERSION
	ErrCorrupt   = &Error{Code: -5}  // PP_ECORRUPT
	ErrDaemon    = &Error{Code: -6}  // PP_EDAEMON
	ErrTimedOut  = &Error{Code: -7}  // PP_ETIMEDOUT
	ErrReleased  = &Error{Code: -8}  // PP_ERELEASED
	ErrNotOwner  = &Error{Code: -9}  // PP_ENOTOWNER
	ErrNoMem     = &Error{Code: -10} // PP_ENOMEM
	ErrShutdown  = &Error{Code: -11} // PP_ESHUTDOWN
	ErrSys       = &Error{Code: -12} // PP_ESYS
	ErrLost      = &Error{Code: -13} // PP_ELOST
	ErrBackend   = &Error{Code: -14} // PP_EBACKEND
	ErrBadPath   = &Error{Code: -15} // PP_EBADPATH
	ErrBadHeader = &Error{Code: -16} // PP_EBADHEADER
	ErrTooBig    = &Error{Code: -17} // PP_ETOOBIG
	ErrProto     = &Error{Code: -18} // PP_EPROTO
	ErrBadMethod = &Error{Code: -19} // PP_EBADMETHOD
	ErrState     = &Error{Code: -20} // PP_ESTATE
	ErrName      = &Error{Code: -21} // PP_ENAME
	ErrNoLib     = &Error{Code: -22} // PP_ENOLIB
)

var codeNames = [...]string{"PP_OK", "PP_EINVAL", "PP_ENOPOOL", "PP_EACCES", "PP_EVERSION",
	"PP_ECORRUPT", "PP_EDAEMON", "PP_ETIMEDOUT", "PP_ERELEASED", "PP_ENOTOWNER", "PP_ENOMEM",
	"PP_ESHUTDOWN", "PP_ESYS", "PP_ELOST", "PP_EBACKEND", "PP_EBADPATH", "PP_EBADHEADER",
	"PP_ETOOBIG", "PP_EPROTO", "PP_EBADMETHOD", "PP_ESTATE", "PP_ENAME", "PP_ENOLIB"}

func codeName(code int) string {
	if code <= 0 && -code < len(codeNames) {
		return codeNames[-code]
	}
	return fmt.Sprintf("PP_E?%d", code) // a code newer than this package
}

func ppErr(code int, op string) error {
	return &Error{Code: code, Op: op}
}

// ErrClosed is returned by every call on a Pool after Close, and by calls
// on its Clients.
var ErrClosed = errors.New("phantompool: pool is closed")

// APIError is a PhantomDB answer with a status outside 2xx, as returned by
// the typed methods (Request returns every status as a *Response).  Code,
// Message and Details come from PhantomDB's error body
// {"code", "message", "details"} when it has one.
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
	Body    []byte // the raw body
	Op      string // "POST /databases", ...
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = string(e.Body)
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
	}
	return fmt.Sprintf("phantomdb: %s: HTTP %d %s: %s", e.Op, e.Status, e.Code, msg)
}
