// Package pool is the Go binding of phantompool: PhantomDB connections
// shared by every process of a host through phantompoold and
// libphantompool, with the shape of PhantomDB's own Go pool:
//
//	p, err := pool.New(pool.Config{})     // attach to $PHANTOMPOOL or "default"
//	client, err := p.Acquire(ctx)         // lease a seat
//	defer p.Release(client)
//	dbs, err := client.ListDatabases(ctx)
//
// A *Pool is safe for any number of goroutines.  Its PhantomDB methods
// (p.Query, p.Insert, ...) are one-shot: each leases a seat, sends one
// request and releases, in one call into C on the calling goroutine's
// thread; that is the cheapest way to talk to the pool.  A *Client
// (Acquire) holds one seat for a sequence of requests; see Client for how
// it keeps the C library's rule that a lease is used on the OS thread that
// took it.
package pool

/*
#include <phantompool.h>
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Config selects the pool and the binding's waits.  The zero Config
// attaches to $PHANTOMPOOL (or "default") with the seed pools' 30 s
// acquire timeout.
type Config struct {
	// Pool is the phantompoold pool name; "" means $PHANTOMPOOL, else
	// "default".
	Pool string
	// AcquireTimeout bounds a wait for a seat when the context has no
	// earlier deadline.  0 means 30 s (the seed pools' default).
	AcquireTimeout time.Duration
	// RequestTimeout bounds each request when the context has no earlier
	// deadline.  0 leaves it to the daemon's request timeout.
	RequestTimeout time.Duration

	// The seed Go pool's fields, kept so that seed code compiles when only
	// the import changes.  They are NOT used: the daemon owns the backend
	// URL and the connection limits (phantompoold -b, --min, --max,
	// --idle-timeout); Status reports the daemon's figures.
	BaseURL        string
	MinConnections int
	MaxConnections int
	IdleTimeout    time.Duration
}

const defaultAcquireTimeout = 30 * time.Second

// Pool is an attachment to a phantompoold pool.  Safe for concurrent use.
type Pool struct {
	api
	cfg    Config
	handle *C.pp_pool

	// mu guards handle against Close: calls into C hold it shared.
	mu      sync.RWMutex
	closed  bool
	closing atomic.Bool              // closed, readable without mu
	clients map[*clientCore]struct{} // live Clients, released by Close
	cmu     sync.Mutex
	threads sync.WaitGroup // lease goroutines, waited for by Close
}

// New attaches to the pool named by cfg.Pool.  It fails with an *Error:
// PP_ENOPOOL (no daemon serves that pool), PP_EDAEMON (its daemon is dead
// or still starting), PP_EACCES, PP_ENAME, PP_EVERSION (the loaded
// libphantompool does not match the header this package was built with).
func New(cfg Config) (*Pool, error) {
	if cfg.AcquireTimeout <= 0 {
		cfg.AcquireTimeout = defaultAcquireTimeout
	}
	if err := abiCheck(); err != nil {
		return nil, err
	}
	var name *C.char
	if cfg.Pool != "" {
		if strings.IndexByte(cfg.Pool, 0) >= 0 { // C.CString would cut the name there
			return nil, &Error{Code: int(C.PP_ENAME), Op: "New", Detail: "pool name contains a NUL byte"}
		}
		name = C.CString(cfg.Pool)
		defer C.free(unsafe.Pointer(name))
	}
	var h *C.pp_pool
	if r, detail := cAttach(name, &h); r != 0 {
		return nil, &Error{Code: r, Op: "New", Detail: detail}
	}
	p := &Pool{cfg: cfg, handle: h, clients: map[*clientCore]struct{}{}}
	p.api = api{r: oneshot{p}}
	return p, nil
}

// Close ends the Pool.  It releases the shared Clients still held
// (after the requests in flight on them) and waits for AcquireShared
// calls still waiting, which return ErrClosed.  Clients from Acquire can only be released by
// their own goroutines: their calls fail with ErrClosed from now on, and
// the pool detaches (pp_detach) when the last of them is released.  Later
// calls on the Pool return ErrClosed.  Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.closing.Store(true)
	p.mu.Unlock()
	p.cmu.Lock()
	live := make([]*clientCore, 0, len(p.clients))
	for c := range p.clients {
		if c.shared {
			live = append(live, c)
		}
	}
	p.cmu.Unlock()
	for _, c := range live {
		_ = c.release()
	}
	p.threads.Wait()
	p.detachIfIdle()
	return nil
}

// register adds a Client being acquired; false once the Pool is closed.
func (p *Pool) register(c *clientCore) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false
	}
	if c.shared {
		p.threads.Add(1) // under p.mu, so that Close's Wait sees it
	}
	p.cmu.Lock()
	p.clients[c] = struct{}{}
	p.cmu.Unlock()
	return true
}

// unregister drops a Client that is released (or never got its lease),
// and detaches a closed Pool when no Client is left.
func (p *Pool) unregister(c *clientCore) {
	p.cmu.Lock()
	delete(p.clients, c)
	p.cmu.Unlock()
	if p.isClosed() {
		p.detachIfIdle()
	}
}

// detachIfIdle detaches a closed Pool once no Client holds a lease.
func (p *Pool) detachIfIdle() {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	if len(p.clients) == 0 && p.handle != nil && p.isClosed() {
		C.pp_detach(p.handle)
		p.handle = nil
	}
}

func (p *Pool) isClosed() bool { return p.closing.Load() }

// Status is the pool's state as the segment shows it (pp_pool_status).
// The first fields are the seed pools' get_status().
type Status struct {
	Available, Used, Min, Max, Waiting uint32
	DaemonPID                          int
	Generation                         uint64 // changes at every daemon start
	Leases, LeaseTimeouts, Reclaims    uint64
	LeaseWaits                         uint64
	LeaseWaitP50, LeaseWaitP99         time.Duration
	LeaseWaitMax                       time.Duration
	Requests, Errors                   uint64
	BytesIn, BytesOut                  uint64
	Connects, Reconnects               uint64
	HealthChecks, HealthFailures       uint64
	BackendFailovers                   uint64
	BackendIndex                       uint32
	BackendUp                          bool
	Uptime                             time.Duration
	// Backend connections apart from seats (Max counts seats): the most
	// the daemon opens (--max), open now, busy now; exchanges waiting for
	// an idle connection now, and how many waited and for how long.
	ConnsMax, ConnsOpen, ConnsBusy uint32
	Queued                         uint32
	QueueWaits                     uint64
	QueueWaitP50, QueueWaitP99     time.Duration
	QueueWaitMax                   time.Duration
}

// Status reads the pool's figures from the segment, without locks.
// Errors: ErrClosed, PP_EDAEMON (the daemon is gone).
func (p *Pool) Status() (Status, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return Status{}, ErrClosed
	}
	var s C.pp_pool_status
	if r, detail := cStatus(p.handle, &s); r != 0 {
		return Status{}, &Error{Code: r, Op: "Status", Detail: detail}
	}
	return Status{
		Available: uint32(s.available), Used: uint32(s.used), Min: uint32(s.min),
		Max: uint32(s.max), Waiting: uint32(s.waiting), DaemonPID: int(s.daemon_pid),
		Generation: uint64(s.generation), Leases: uint64(s.leases),
		LeaseTimeouts: uint64(s.lease_timeouts), Reclaims: uint64(s.reclaims),
		LeaseWaits:   uint64(s.lease_waits),
		LeaseWaitP50: time.Duration(s.lease_wait_p50_ns), LeaseWaitP99: time.Duration(s.lease_wait_p99_ns),
		LeaseWaitMax: time.Duration(s.lease_wait_max_ns),
		Requests:     uint64(s.requests), Errors: uint64(s.errors),
		BytesIn: uint64(s.bytes_in), BytesOut: uint64(s.bytes_out),
		Connects: uint64(s.connects), Reconnects: uint64(s.reconnects),
		HealthChecks: uint64(s.health_checks), HealthFailures: uint64(s.health_failures),
		BackendFailovers: uint64(s.backend_failovers), BackendIndex: uint32(s.backend_index),
		BackendUp: s.backend_up != 0, Uptime: time.Duration(s.uptime_ns),
		ConnsMax: uint32(s.conns_max), ConnsOpen: uint32(s.conns_open),
		ConnsBusy: uint32(s.conns_busy), Queued: uint32(s.queued),
		QueueWaits:   uint64(s.queue_waits),
		QueueWaitP50: time.Duration(s.queue_wait_p50_ns), QueueWaitP99: time.Duration(s.queue_wait_p99_ns),
		QueueWaitMax: time.Duration(s.queue_wait_max_ns),
	}, nil
}

// deadline is when a wait for a seat must end: the context's deadline or
// now + AcquireTimeout, whichever is first.  fromCtx tells which.
func (p *Pool) deadline(ctx context.Context) (t time.Time, fromCtx bool) {
	t = time.Now().Add(p.cfg.AcquireTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		return d, true
	}
	return t, false
}

// requestTimeoutMS is the pp_req timeout_ms for a request: the earliest of
// the context's deadline, req.Timeout and Config.RequestTimeout, rounded
// up to whole ms; 0 (the daemon's own timeout) when none is set.
func (p *Pool) requestTimeoutMS(ctx context.Context, reqTimeout time.Duration) int {
	var d time.Duration
	pick := func(x time.Duration) {
		if x > 0 && (d == 0 || x < d) {
			d = x
		}
	}
	pick(reqTimeout)
	pick(p.cfg.RequestTimeout)
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			left = time.Millisecond
		}
		pick(left)
	}
	return ceilMS(d)
}

// ceilMS converts to whole milliseconds, rounding up (1 ms at least for a
// positive duration, so that "a little time left" never reads as 0), and
// capped at int32.
func ceilMS(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<31-1 {
		ms = 1<<31 - 1
	}
	return int(ms)
}

// reqErr is the *Error of a request that failed with code.  A
// PP_ETIMEDOUT once the context's deadline has passed (it was the
// request's limit) also matches context.DeadlineExceeded, as a wait for a
// seat cut by it does.  The deadline itself is compared, not ctx.Err():
// the context's timer may not have fired yet.
func reqErr(ctx context.Context, code int, op, detail string) *Error {
	e := &Error{Code: code, Op: op, Detail: detail}
	if dl, ok := ctx.Deadline(); ok && code == int(C.PP_ETIMEDOUT) && !time.Now().Before(dl) {
		e.cause = context.DeadlineExceeded
	}
	return e
}

// opOf names a request in its errors ("GET /health"); built on failures
// only, as it allocates.
func opOf(req *Request) string { return req.Method + " " + req.Path }

// oneshot sends each request with its own lease on the calling thread
// (the *Pool's PhantomDB methods).
type oneshot struct{ p *Pool }

func (o oneshot) do(ctx context.Context, req *Request) (*Response, error) {
	p := o.p
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rb, err := flatten(req)
	if err != nil {
		return nil, err
	}
	deadline, fromCtx := p.deadline(ctx)
	// One C call leases, sends and releases.  With a context that cannot
	// be cancelled it may wait for a seat as long as the acquire timeout
	// allows (the library's first-come-first-served queue); otherwise it
	// waits at most waitSlice, and the loop looks at the context between
	// slices, as Acquire does.
	for {
		leaseMS := ceilMS(time.Until(deadline))
		if ctx.Done() != nil && leaseMS > ceilMS(waitSlice) {
			leaseMS = ceilMS(waitSlice)
		}
		tmo := p.requestTimeoutMS(ctx, req.Timeout)
		p.mu.RLock()
		if p.closed {
			p.mu.RUnlock()
			return nil, ErrClosed
		}
		resp, code, leased, detail := cOneshot(p.handle, leaseMS, &rb, tmo)
		p.mu.RUnlock()
		if code == 0 {
			return resp, nil
		}
		op := opOf(req)
		if leased || code != int(C.PP_ETIMEDOUT) || !time.Now().Before(deadline) {
			e := reqErr(ctx, code, op, detail)
			if !leased && code == int(C.PP_ETIMEDOUT) {
				e.Detail = "no seat free in time"
				e.cause = nil
				if fromCtx {
					e.cause = context.DeadlineExceeded
				}
			}
			return nil, e
		}
		if ctx.Err() != nil {
			return nil, waitCtxErr(ctx, op)
		}
	}
}
