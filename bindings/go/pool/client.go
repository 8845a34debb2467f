package pool

/*
#include <phantompool.h>
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Client holds one seat of the pool (a lease) from Acquire until Release,
// for a sequence of requests on the same warm connection.  Its PhantomDB
// methods are those of Pool.
//
// The C library binds a lease to the OS thread that took it, and
// goroutines move between threads.  A Client keeps that rule in one of
// two ways, chosen when it is acquired:
//
//   - Acquire binds the Client to the calling goroutine: the goroutine is
//     locked to its OS thread (runtime.LockOSThread) from Acquire until
//     Release, and every call runs straight on that thread, at the cost
//     of a one-shot.  Use it, and Release it, from that goroutine only
//     (`defer p.Release(client)`); a call or Release from another
//     goroutine fails with PP_ENOTOWNER and changes nothing.
//   - AcquireShared gives the Client a goroutine of its own, locked to an
//     OS thread for the life of the lease, that runs the Client's calls
//     sent to it over a channel.  Any goroutine may use it or Release it;
//     concurrent calls are served one at a time, in order of arrival.
//     Each call costs two hand-offs between OS threads (README.md, "What
//     it costs").  A shared Client garbage collected without Release has
//     its lease released by a finalizer, once neither the Client nor a
//     Tx begun on it nor a method value of it is reachable.
//
// If the process dies, or a bound goroutine exits without Release (Go
// then ends its locked thread), the daemon reclaims the seat within
// 100 ms.  Except when that thread is the process's main thread, which
// any goroutine may be running on: Go parks it for good instead of ending
// it, and the seat stays leased until the process exits.  Always Release.
type Client struct {
	api
	core *clientCore
	ref  *sharedRef // a shared Client's finalizer target (nil if bound)
}

// sharedRef is what a shared Client's PhantomDB methods go through, and
// what carries its finalizer: the Client, its Tx values and its method
// values all refer to it, so the seat is released only when none of them
// can be used any more.  The lease goroutine and the Pool refer to the
// core only.
type sharedRef struct{ core *clientCore }

func (r *sharedRef) do(ctx context.Context, req *Request) (*Response, error) {
	return r.core.do(ctx, req)
}

// States of a shared clientCore's acquisition (clientCore.state).
const (
	stWaiting   int32 = iota // the lease goroutine is waiting for a seat
	stGranted                // it holds the lease and serves requests
	stFailed                 // pp_lease failed: no lease
	stAbandoned              // AcquireShared gave up (context) or Close came first
)

// readyAbandoned is sent on ready when the wait was given up on (by Close,
// or by AcquireShared on its context): a lease taken meanwhile was
// released at once.
const readyAbandoned = 1

// waitSlice is the longest single pp_lease wait (a C call that nothing can
// interrupt) when the context can be cancelled: the wait looks at the
// context this often.  A wait that gives up a slice leaves the library's
// FIFO queue and the next slice joins at its back, so only waits longer
// than a slice can lose their place to later callers.  With a context
// that cannot be cancelled, the whole wait is one pp_lease call.
const waitSlice = 20 * time.Millisecond

type clientCore struct {
	p      *Pool
	shared bool
	lease  *C.struct_pp_lease // used on the lease's own thread only
	slot   int

	// AcquireShared's lease goroutine and its hand-shake.
	state atomic.Int32
	ready chan int       // pp_lease's outcome, or readyAbandoned (cap 1)
	msgs  chan *leaseMsg // requests and the release, to the lease goroutine
	// pp_error_detail() of a failed pp_lease, read on the lease
	// goroutine's thread; written before the send on ready.
	detail string

	mu       sync.RWMutex // calls hold it shared; release exclusively
	released bool
}

// leaseMsg is one job for a shared Client's lease goroutine: a request,
// or the release.
type leaseMsg struct {
	release bool
	rb      *reqBuf
	tmo     int
	resp    *Response
	code    int
	detail  string // the library's pp_error_detail() when code != 0
	done    chan struct{}
}

const notOwnerDetail = "a Client from Acquire belongs to the goroutine that acquired it: " +
	"call and Release it there, or use AcquireShared"

// Acquire leases a seat and returns a Client bound to the calling
// goroutine, which stays locked to its OS thread until Release (see
// Client).  A free seat is taken at once, with no system call.
// Otherwise Acquire waits, first come first served, until a seat is
// free, the context is done, or Config.AcquireTimeout passes (the
// earlier of the context's deadline and the timeout is the limit).  A
// cancelled context is noticed within 20 ms (waitSlice); no lease is
// leaked.  Errors: ctx.Err(); *Error with PP_ETIMEDOUT (also matching
// context.DeadlineExceeded when the context's deadline was the limit),
// PP_EDAEMON (the daemon is gone: a later call re-attaches when a new one
// serves the pool), PP_ESHUTDOWN (draining); ErrClosed.
func (p *Pool) Acquire(ctx context.Context) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &clientCore{p: p}
	if !p.register(c) {
		return nil, ErrClosed
	}
	deadline, fromCtx := p.deadline(ctx)
	slice := time.Duration(0)
	if ctx.Done() != nil {
		slice = waitSlice
	}
	runtime.LockOSThread()
	code, stopped := c.leaseLoop(deadline, slice, func() bool { return ctx.Err() != nil || p.isClosed() })
	if code == 0 {
		return &Client{api: api{r: c}, core: c}, nil
	}
	detail := cErrorDetail() // still on the thread of the failed pp_lease
	runtime.UnlockOSThread()
	p.unregister(c)
	if stopped && ctx.Err() != nil {
		return nil, waitCtxErr(ctx, "Acquire")
	}
	if stopped || p.isClosed() { // Close came during the wait
		return nil, ErrClosed
	}
	e := acquireErr(code, fromCtx)
	e.Detail = detail
	return nil, e
}

// waitCtxErr is the error of a wait (for a seat, or for a shared
// Client's answer) that the context ended:
// ctx.Err() for a cancellation; for the deadline, the PP_ETIMEDOUT *Error
// that a timed-out pp_lease gives (it matches context.DeadlineExceeded
// too), whichever of the two noticed first.
func waitCtxErr(ctx context.Context, op string) error {
	if ctx.Err() == context.DeadlineExceeded {
		return &Error{Code: int(C.PP_ETIMEDOUT), Op: op, cause: context.DeadlineExceeded}
	}
	return ctx.Err()
}

func acquireErr(code int, fromCtx bool) *Error {
	e := &Error{Code: code, Op: "Acquire"}
	if code == int(C.PP_ETIMEDOUT) && fromCtx {
		e.cause = context.DeadlineExceeded
	}
	return e
}

// AcquireShared leases a seat for a Client that any goroutine may use and
// Release (see Client).  It waits as Acquire does, except that a
// cancelled context makes it return ctx.Err() at once (and the context's
// deadline, PP_ETIMEDOUT at once): the wait goes on
// in the Client's own goroutine for at most 20 ms, and a seat granted
// meanwhile is released there, never leaked.  Errors as for Acquire.
func (p *Pool) AcquireShared(ctx context.Context) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &clientCore{p: p, shared: true, ready: make(chan int, 1), msgs: make(chan *leaseMsg)}
	if !p.register(c) {
		return nil, ErrClosed
	}
	deadline, fromCtx := p.deadline(ctx)
	slice := time.Duration(0)
	if ctx.Done() != nil {
		slice = waitSlice
	}
	go c.serve(deadline, slice)
	var code int
	select {
	case code = <-c.ready:
	case <-ctx.Done():
		if c.state.CompareAndSwap(stWaiting, stAbandoned) {
			// serve unregisters c when its wait is over.
			return nil, waitCtxErr(ctx, "AcquireShared")
		}
		code = <-c.ready // granted or failed just before: take that
	}
	switch code {
	case 0:
		ref := &sharedRef{core: c}
		// The release waits for the request in flight, if any: not on
		// the one goroutine that runs every finalizer of the program.
		runtime.SetFinalizer(ref, func(r *sharedRef) { go r.core.release() })
		return &Client{api: api{r: ref}, core: c, ref: ref}, nil
	case readyAbandoned:
		return nil, ErrClosed // Close gave up on the wait meanwhile
	}
	e := acquireErr(code, fromCtx)
	e.Op = "AcquireShared"
	e.Detail = c.detail
	return nil, e
}

// Release gives client's seat back to the pool.  For a Client from
// Acquire it must be called from the goroutine that acquired it (else
// PP_ENOTOWNER, and nothing changes); it unlocks that goroutine from its
// thread.  A shared Client is released on its own goroutine, after the
// calls in flight on it.  Errors: *Error with PP_ERELEASED (second
// Release), PP_ENOTOWNER, PP_ELOST (the daemon had already reclaimed the
// seat, e.g. after a daemon restart: the Client is released all the
// same).  A nil client is a no-op.
func (p *Pool) Release(client *Client) error {
	if client == nil {
		return nil
	}
	return client.Release()
}

// Release is Pool.Release(c).
func (c *Client) Release() error {
	if c.ref != nil {
		runtime.SetFinalizer(c.ref, nil)
	}
	return c.core.release()
}

// Slot is the index of the seat the client holds (for logs).
func (c *Client) Slot() int { return c.core.slot }

// Shared tells whether the Client came from AcquireShared.
func (c *Client) Shared() bool { return c.core.shared }

// leaseLoop waits for a seat on the calling OS thread until deadline: in
// one pp_lease call when slice is 0, else in calls of at most slice with
// a look at stop() between them.  Returns 0 (c.lease set), or the PP_E*
// code with stopped telling whether stop() ended the wait.
func (c *clientCore) leaseLoop(deadline time.Time, slice time.Duration, stop func() bool) (code int, stopped bool) {
	for {
		left := time.Until(deadline)
		ms := ceilMS(left) // 0 when no time is left: one last try, no wait
		if slice > 0 && ms > ceilMS(slice) {
			ms = ceilMS(slice)
		}
		var l *C.struct_pp_lease
		r := int(C.pp_lease(c.p.handle, C.int(ms), &l))
		if r == 0 {
			c.lease = l
			c.slot = int(C.pp_lease_slot(l))
			return 0, false
		}
		if r != int(C.PP_ETIMEDOUT) || left <= 0 || !time.Now().Before(deadline) {
			return r, false
		}
		if stop() {
			return r, true
		}
	}
}

// serve is a shared Client's lease goroutine: it locks itself to an OS
// thread, takes the lease there, runs the Client's requests there, and
// releases there.  When no Client comes of the wait (it failed, or was
// abandoned), serve unregisters c itself, once it no longer uses the
// pool's handle: a closed Pool detaches when its last Client goes, and
// AcquireShared or Close may have given up on c while pp_lease still runs.
func (c *clientCore) serve(deadline time.Time, slice time.Duration) {
	defer c.p.threads.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	code, _ := c.leaseLoop(deadline, slice, func() bool { return c.state.Load() != stWaiting })
	if code != 0 {
		if !c.state.CompareAndSwap(stWaiting, stFailed) {
			// Given up on (Close, or a cancelled context whose
			// AcquireShared is gone): the wait's end is no failure.
			code = readyAbandoned
		}
		c.detail = cErrorDetail() // still on the thread of the failed pp_lease
		c.p.unregister(c)
		c.ready <- code
		return
	}
	if !c.state.CompareAndSwap(stWaiting, stGranted) {
		C.pp_release(c.lease) // abandoned: nobody will use it
		c.lease = nil
		c.p.unregister(c)
		c.ready <- readyAbandoned
		return
	}
	c.ready <- 0
	for m := range c.msgs {
		if m.release {
			m.code = int(C.pp_release(c.lease))
			c.lease = nil
			close(m.done)
			return
		}
		m.resp, m.code, m.detail = cRequest(c.lease, m.rb, m.tmo)
		close(m.done)
	}
}

// release ends the lease (or, for Close, a shared acquisition still
// under way).
func (c *clientCore) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return &Error{Code: int(C.PP_ERELEASED), Op: "Release"}
	}
	var code int
	if c.shared {
		c.released = true
		if c.state.CompareAndSwap(stWaiting, stAbandoned) || c.state.Load() != stGranted {
			return nil // no lease was ever handed out; serve unregisters c
		}
		m := &leaseMsg{release: true, done: make(chan struct{})}
		c.msgs <- m
		<-m.done
		code = m.code
	} else {
		code = int(C.pp_release(c.lease))
		if code == int(C.PP_ENOTOWNER) {
			return &Error{Code: code, Op: "Release", Detail: notOwnerDetail}
		}
		c.released = true
		c.lease = nil
		runtime.UnlockOSThread()
	}
	c.p.unregister(c)
	if code != 0 {
		return ppErr(code, "Release")
	}
	return nil
}

// do makes the lease a requester for the Client's PhantomDB methods.
func (c *clientCore) do(ctx context.Context, req *Request) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rb, err := flatten(req)
	if err != nil {
		return nil, err
	}
	tmo := c.p.requestTimeoutMS(ctx, req.Timeout)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.released {
		if c.p.isClosed() {
			return nil, ErrClosed
		}
		return nil, &Error{Code: int(C.PP_ERELEASED), Op: opOf(req)}
	}
	if c.shared {
		return c.send(ctx, req, &rb, tmo)
	}
	if c.p.isClosed() {
		return nil, ErrClosed
	}
	resp, code, detail := cRequest(c.lease, &rb, tmo)
	if code == int(C.PP_ENOTOWNER) {
		return nil, &Error{Code: code, Op: opOf(req), Detail: notOwnerDetail}
	} else if code != 0 {
		return nil, reqErr(ctx, code, opOf(req), detail)
	}
	return resp, nil
}

// send runs one request on a shared Client's lease goroutine (c.mu held
// shared).  If the context is done before the answer, send returns at
// once: context.Canceled, or for the deadline the PP_ETIMEDOUT *Error
// that also matches context.DeadlineExceeded (waitCtxErr).  The request
// still completes on the lease (a request handed to the daemon cannot be
// called back) and the next call waits for it.  So the lease goroutine
// sends a copy of the body when the context can end the call early: the
// caller may reuse its slice as soon as the call returns, and the rest of
// the request must still be what it sent.
func (c *clientCore) send(ctx context.Context, req *Request, rb *reqBuf, tmo int) (*Response, error) {
	if ctx.Done() != nil && len(rb.body) > 0 {
		rb.body = append([]byte(nil), rb.body...)
	}
	m := &leaseMsg{rb: rb, tmo: tmo, done: make(chan struct{})}
	select {
	case c.msgs <- m:
	case <-ctx.Done():
		return nil, waitCtxErr(ctx, opOf(req))
	}
	select {
	case <-m.done:
	case <-ctx.Done():
		return nil, waitCtxErr(ctx, opOf(req))
	}
	if m.code != 0 {
		return nil, reqErr(ctx, m.code, opOf(req), m.detail)
	}
	return m.resp, nil
}
