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
// goroutines move between threads.  So each Client has its own goroutine,
// locked to an OS thread (runtime.LockOSThread) for the life of the
// lease: it takes the lease, runs every request of the Client, and
// releases it.  A Client is therefore safe to use from any goroutine, and
// to Release from any goroutine; concurrent calls on one Client are served
// one at a time, in order of arrival.  The price is two hand-offs between
// OS threads per request (docs: README.md, "What it costs").  A Client
// that is garbage collected without Release has its lease released by a
// finalizer; if the process dies, the daemon reclaims the seat.
type Client struct {
	api
	core *clientCore
}

// States of a clientCore's acquisition (clientCore.state).
const (
	stWaiting   int32 = iota // the lease goroutine is waiting for a seat
	stGranted                // it holds the lease and serves requests
	stFailed                 // pp_lease failed: no lease
	stAbandoned              // Acquire gave up (context) or Close came first
)

// readyAbandoned is sent on ready when the lease was taken but nobody
// wanted it any more (the lease goroutine released it at once).
const readyAbandoned = 1

// acquireSlice is the longest single pp_lease wait when the context can be
// cancelled: the lease goroutine looks at the abandon mark this often.
// (Acquire itself returns at once on cancellation; a waiter that gives up
// leaves the library's FIFO queue and a new wait joins at its back, so
// the slice is long enough that only waits longer than it lose their
// place.)
const acquireSlice = 250 * time.Millisecond

type clientCore struct {
	p     *Pool
	lease *C.struct_pp_lease // set and used by the lease goroutine only
	slot  int
	state atomic.Int32
	ready chan int       // pp_lease's outcome, or readyAbandoned (cap 1)
	msgs  chan *leaseMsg // requests and the release, to the lease goroutine

	mu       sync.RWMutex // calls hold it shared; release exclusively
	released bool
}

// leaseMsg is one job for the lease goroutine: a request, or the release.
type leaseMsg struct {
	release bool
	rb      *reqBuf
	tmo     int
	resp    *Response
	code    int
	done    chan struct{}
}

// Acquire leases a seat and returns a Client bound to it.  It waits until
// a seat is free, the context is done, or Config.AcquireTimeout passes
// (the earlier of the context's deadline and the timeout is handed to
// pp_lease).  When the context is cancelled while waiting, Acquire
// returns ctx.Err() at once; a seat granted after that is released by the
// binding, never leaked.  Errors: ctx.Err(); *Error with PP_ETIMEDOUT
// (which also matches context.DeadlineExceeded when the context's
// deadline was the limit), PP_EDAEMON (the daemon is gone: the next call
// re-attaches if a new one serves the pool), PP_ESHUTDOWN (draining);
// ErrClosed.
func (p *Pool) Acquire(ctx context.Context) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &clientCore{p: p, ready: make(chan int, 1), msgs: make(chan *leaseMsg)}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return nil, ErrClosed
	}
	p.threads.Add(1) // under p.mu, so that Close's Wait sees it
	p.cmu.Lock()
	p.clients[c] = struct{}{}
	p.cmu.Unlock()
	p.mu.RUnlock()

	deadline, fromCtx := p.deadline(ctx)
	go c.serve(deadline, ctx.Done() != nil)
	var code int
	select {
	case code = <-c.ready:
	case <-ctx.Done():
		if c.state.CompareAndSwap(stWaiting, stAbandoned) {
			p.forget(c)
			return nil, ctx.Err()
		}
		code = <-c.ready // granted or failed just before: take that
	}
	switch {
	case code == 0:
		cl := &Client{api: api{r: c}, core: c} // api refers to the core, not cl: the finalizer needs cl unreachable
		runtime.SetFinalizer(cl, func(cl *Client) { _ = cl.core.release() })
		return cl, nil
	case code == readyAbandoned:
		return nil, ErrClosed // Close released it meanwhile
	}
	p.forget(c)
	e := &Error{Code: code, Op: "Acquire"}
	if code == int(C.PP_ETIMEDOUT) && fromCtx {
		e.cause = context.DeadlineExceeded
	}
	return nil, e
}

// Release gives client's seat back to the pool (pp_release on the lease's
// own thread), after the requests in flight on it finish.  Errors: an
// *Error with PP_ERELEASED for a second Release, PP_ELOST when the daemon
// had already reclaimed the seat (after a daemon restart, say).  A nil
// client is a no-op.
func (p *Pool) Release(client *Client) error {
	if client == nil {
		return nil
	}
	return client.Release()
}

// Release is Pool.Release(c).
func (c *Client) Release() error {
	runtime.SetFinalizer(c, nil)
	return c.core.release()
}

// Slot is the index of the seat the client holds (for logs).
func (c *Client) Slot() int { return c.core.slot }

func (p *Pool) forget(c *clientCore) {
	p.cmu.Lock()
	delete(p.clients, c)
	p.cmu.Unlock()
}

// serve is the lease goroutine: it locks itself to an OS thread, takes
// the lease there, runs the Client's requests there, and releases there.
func (c *clientCore) serve(deadline time.Time, cancellable bool) {
	defer c.p.threads.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if code := c.leaseLoop(deadline, cancellable); code != 0 {
		c.state.CompareAndSwap(stWaiting, stFailed)
		c.ready <- code
		return
	}
	if !c.state.CompareAndSwap(stWaiting, stGranted) {
		C.pp_release(c.lease) // abandoned: nobody will use it
		c.lease = nil
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
		m.resp, m.code = cRequest(c.lease, m.rb, m.tmo)
		close(m.done)
	}
}

// leaseLoop waits for a seat until deadline: one pp_lease call when the
// context cannot be cancelled, else slices of at most acquireSlice with a
// look at the abandon mark between them.  Returns 0 (c.lease set) or the
// PP_E* code.
func (c *clientCore) leaseLoop(deadline time.Time, cancellable bool) int {
	for {
		left := time.Until(deadline)
		ms := ceilMS(left) // 0 when no time is left: one last try, no wait
		if cancellable && ms > int(acquireSlice/time.Millisecond) {
			ms = int(acquireSlice / time.Millisecond)
		}
		var l *C.struct_pp_lease
		r := int(C.pp_lease(c.p.handle, C.int(ms), &l))
		if r == 0 {
			c.lease = l
			c.slot = int(C.pp_lease_slot(l))
			return 0
		}
		if r != int(C.PP_ETIMEDOUT) || left <= 0 || !time.Now().Before(deadline) ||
			c.state.Load() != stWaiting {
			return r
		}
	}
}

// release ends the lease (or the acquisition still under way, for Close).
func (c *clientCore) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return &Error{Code: int(C.PP_ERELEASED), Op: "Release"}
	}
	c.released = true
	c.p.forget(c)
	if c.state.CompareAndSwap(stWaiting, stAbandoned) || c.state.Load() != stGranted {
		return nil // no lease was ever handed out
	}
	m := &leaseMsg{release: true, done: make(chan struct{})}
	c.msgs <- m
	<-m.done
	if m.code != 0 {
		return ppErr(m.code, "Release")
	}
	return nil
}

// send runs one request on the lease goroutine.  If the context is done
// before the answer, send returns ctx.Err() at once; the request still
// completes on the lease (a request already handed to the daemon cannot
// be called back) and the next call on the Client waits for it.
func (c *clientCore) send(ctx context.Context, req *Request, rb *reqBuf) (*Response, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	op := req.Method + " " + req.Path
	if c.released {
		if c.p.isClosed() {
			return nil, ErrClosed
		}
		return nil, &Error{Code: int(C.PP_ERELEASED), Op: op}
	}
	m := &leaseMsg{rb: rb, tmo: c.p.requestTimeoutMS(ctx, req.Timeout), done: make(chan struct{})}
	select {
	case c.msgs <- m:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-m.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if m.code != 0 {
		return nil, ppErr(m.code, op)
	}
	return m.resp, nil
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
	return c.send(ctx, req, &rb)
}
