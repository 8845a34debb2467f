package pool

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	s, err := testPool.Status()
	if err != nil {
		t.Fatal(err)
	}
	if s.Max == 0 || s.DaemonPID <= 0 || s.Generation == 0 || s.Uptime <= 0 ||
		s.ConnsMax == 0 || s.ConnsOpen == 0 || s.ConnsOpen > s.ConnsMax {
		t.Fatalf("Status = %+v", s)
	}
	c, err := testPool.Acquire(bg())
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := testPool.Status()
	if s2.Used != s.Used+1 || s2.Leases <= s.Leases {
		t.Errorf("with one Client: used %d -> %d, leases %d -> %d", s.Used, s2.Used, s.Leases, s2.Leases)
	}
	c.Release()
	allFree(t)
}

// A shared Client is usable from many goroutines at once and releasable
// from another goroutine than the one that acquired it.
func TestSharedClientFromManyGoroutines(t *testing.T) {
	c, err := testPool.AcquireShared(bg())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := c.Health(bg()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	done := make(chan error)
	go func() { done <- testPool.Release(c) }()
	if err := <-done; err != nil {
		t.Fatalf("Release from another goroutine: %v", err)
	}
	if err := c.Release(); !errors.Is(err, ErrReleased) {
		t.Errorf("second Release: want PP_ERELEASED, got %v", err)
	}
	if _, err := c.Health(bg()); !errors.Is(err, ErrReleased) {
		t.Errorf("call after Release: want PP_ERELEASED, got %v", err)
	}
	allFree(t)
}

// A Client from Acquire refuses calls and Release from other goroutines
// with PP_ENOTOWNER, changing nothing; its own goroutine goes on using it.
func TestBoundClientOtherGoroutine(t *testing.T) {
	c, err := testPool.Acquire(bg())
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() {
		runtime.LockOSThread() // surely another thread than c's
		defer runtime.UnlockOSThread()
		_, err := c.Health(bg())
		errs <- err
		errs <- c.Release()
	}()
	for _, what := range []string{"call", "Release"} {
		err := <-errs
		var pe *Error
		if !errors.Is(err, ErrNotOwner) || !errors.As(err, &pe) || pe.Detail == "" {
			t.Errorf("%s from another goroutine: want PP_ENOTOWNER with advice, got %v", what, err)
		}
	}
	if _, err := c.Health(bg()); err != nil {
		t.Errorf("owner's call after the refusals: %v", err)
	}
	if err := c.Release(); err != nil {
		t.Errorf("owner's Release: %v", err)
	}
	allFree(t)
}

// Many goroutines, more than seats, through one-shots and Clients.
func TestManyGoroutines(t *testing.T) {
	n := 4 * seats(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(bg(), 20*time.Second)
			defer cancel()
			for i := 0; i < 25; i++ {
				if g%3 == 0 {
					if _, err := testPool.Health(ctx); err != nil {
						errs <- err
						return
					}
					continue
				}
				acquire := testPool.Acquire
				if g%3 == 2 {
					acquire = testPool.AcquireShared
				}
				c, err := acquire(ctx)
				if err != nil {
					errs <- err
					return
				}
				_, err = c.Health(ctx)
				if rerr := c.Release(); err == nil {
					err = rerr
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	allFree(t)
}

// With every seat taken, Acquire waits until the context's deadline and
// fails with PP_ETIMEDOUT that also matches context.DeadlineExceeded.
func TestAcquireDeadline(t *testing.T) {
	release := holdAll(t)
	defer release()
	for _, acq := range acquires() {
		ctx, cancel := context.WithTimeout(bg(), 150*time.Millisecond)
		t0 := time.Now()
		_, err := acq.f(ctx)
		took := time.Since(t0)
		cancel()
		if !errors.Is(err, ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: want PP_ETIMEDOUT + DeadlineExceeded, got %v", acq.name, err)
		}
		if took < 140*time.Millisecond || took > 2*time.Second {
			t.Errorf("%s gave up after %v, deadline was 150ms", acq.name, took)
		}
	}
	// The one-shot path waits the same way.
	ctx2, cancel2 := context.WithTimeout(bg(), 100*time.Millisecond)
	defer cancel2()
	if _, err := testPool.Health(ctx2); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("one-shot with no seat: want PP_ETIMEDOUT, got %v", err)
	}
}

// Config.AcquireTimeout bounds a wait when the context has no deadline;
// then the error is PP_ETIMEDOUT only.
func TestAcquireTimeoutConfig(t *testing.T) {
	p, err := New(Config{AcquireTimeout: 120 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	release := holdAll(t)
	defer release()
	for _, acq := range []struct {
		name string
		f    func(context.Context) (*Client, error)
	}{{"Acquire", p.Acquire}, {"AcquireShared", p.AcquireShared}} {
		t0 := time.Now()
		_, err = acq.f(bg())
		if !errors.Is(err, ErrTimedOut) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: want PP_ETIMEDOUT (not DeadlineExceeded), got %v", acq.name, err)
		}
		if took := time.Since(t0); took < 110*time.Millisecond || took > 2*time.Second {
			t.Errorf("%s gave up after %v, AcquireTimeout was 120ms", acq.name, took)
		}
	}
	if _, err := p.Health(bg()); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("one-shot, no seat, Background: want PP_ETIMEDOUT, got %v", err)
	}
}

// Cancellation while waiting returns ctx.Err(): at once from
// AcquireShared, within a wait slice from Acquire and the one-shots; the
// seat an abandoned wait would have got is not leaked.
func TestAcquireCancel(t *testing.T) {
	release := holdAll(t)
	// Limits with room for a loaded 2-CPU machine: a wait slice (20 ms)
	// for the sliced waits, none for AcquireShared.
	limits := map[string]time.Duration{"Acquire": waitSlice + 250*time.Millisecond,
		"AcquireShared": 100 * time.Millisecond, "one-shot": waitSlice + 250*time.Millisecond}
	for _, acq := range append(acquires(), acquireFunc{"one-shot", func(ctx context.Context) (*Client, error) {
		_, err := testPool.Health(ctx)
		return nil, err
	}}) {
		ctx, cancel := context.WithCancel(bg())
		got := make(chan error, 1)
		go func() {
			_, err := acq.f(ctx)
			got <- err
		}()
		time.Sleep(50 * time.Millisecond)
		t0 := time.Now()
		cancel()
		err := <-got
		dt := time.Since(t0)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: want context.Canceled, got %v", acq.name, err)
		}
		if dt > limits[acq.name] {
			t.Errorf("%s returned %v after the cancel (limit %v)", acq.name, dt, limits[acq.name])
		}
	}
	release()
	allFree(t)
}

type acquireFunc struct {
	name string
	f    func(context.Context) (*Client, error)
}

func acquires() []acquireFunc {
	return []acquireFunc{{"Acquire", testPool.Acquire}, {"AcquireShared", testPool.AcquireShared}}
}

// Cancellations racing with grants: seats churn while Acquires with tiny
// deadlines come and go.  Afterwards every seat is free.
func TestAcquireCancelRace(t *testing.T) {
	n := seats(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < n; g++ { // holders that churn
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := testPool.Acquire(bg()); err == nil {
					time.Sleep(time.Millisecond)
					c.Release()
				}
			}
		}()
	}
	var ok, gaveUp int
	var mu sync.Mutex
	var wg2 sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg2.Add(1)
		go func(g int) {
			defer wg2.Done()
			acquire := testPool.Acquire
			if g%2 == 1 {
				acquire = testPool.AcquireShared
			}
			for i := 0; i < 20; i++ {
				ctx, cancel := context.WithTimeout(bg(), time.Duration(i%5)*time.Millisecond+100*time.Microsecond)
				c, err := acquire(ctx)
				cancel()
				mu.Lock()
				if err == nil {
					ok++
				} else {
					gaveUp++
				}
				mu.Unlock()
				if err == nil {
					c.Release()
				} else if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					t.Errorf("unexpected error: %v", err)
				}
			}
		}(g)
	}
	wg2.Wait()
	close(stop)
	wg.Wait()
	t.Logf("%d acquired, %d gave up", ok, gaveUp)
	allFree(t)
}

// A shared Client dropped without Release has its lease released by the
// finalizer.
func TestFinalizerReleases(t *testing.T) {
	func() {
		c, err := testPool.AcquireShared(bg())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Health(bg()); err != nil {
			t.Fatal(err)
		}
	}()
	waitFor(t, 3*time.Second, "the dropped Client's seat was not released", func() bool {
		runtime.GC()
		s, err := testPool.Status()
		return err == nil && s.Used == 0
	})
}

// Close releases the shared Clients still held; a bound Client's calls
// get ErrClosed and its own Release still works, and detaches the pool;
// later calls get ErrClosed.
func TestClose(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := p.AcquireShared(bg())
	if err != nil {
		t.Fatal(err)
	}
	bc, err := p.Acquire(bg())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Health(bg()); !errors.Is(err, ErrClosed) {
		t.Errorf("shared Client call after Close: want ErrClosed, got %v", err)
	}
	if _, err := bc.Health(bg()); !errors.Is(err, ErrClosed) {
		t.Errorf("bound Client call after Close: want ErrClosed, got %v", err)
	}
	if p.handle == nil {
		t.Errorf("detached while a bound Client still holds a lease")
	}
	if err := bc.Release(); err != nil {
		t.Errorf("bound Client Release after Close: %v", err)
	}
	if p.handle != nil {
		t.Errorf("not detached after the last Client was released")
	}
	allFree(t)
	if _, err := p.Health(bg()); !errors.Is(err, ErrClosed) {
		t.Errorf("Pool call after Close: want ErrClosed, got %v", err)
	}
	for _, f := range []func(context.Context) (*Client, error){p.Acquire, p.AcquireShared} {
		if _, err := f(bg()); !errors.Is(err, ErrClosed) {
			t.Errorf("Acquire after Close: want ErrClosed, got %v", err)
		}
	}
	if _, err := p.Status(); !errors.Is(err, ErrClosed) {
		t.Errorf("Status after Close: want ErrClosed, got %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// cancelInFlight starts req on c, cancels its context 50 ms later, and
// returns how long after the cancel the call returned, and its error.
func cancelInFlight(c *Client, req Request) (time.Duration, error) {
	ctx, cancel := context.WithCancel(bg())
	got := make(chan error, 1)
	go func() {
		_, err := c.Request(ctx, req)
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	cancel()
	err := <-got
	return time.Since(t0), err
}

// A shared Client's call whose context is cancelled while the request is
// in flight returns context.Canceled at once; the request completes on
// the lease, the next call waits for it and works, and Release (also
// right after an abandoned call) releases the seat.
func TestSharedClientCancelInFlight(t *testing.T) {
	slow := Request{Method: "GET", Path: "/health?delay_ms=300"}
	for _, next := range []string{"call", "Release"} {
		c, err := testPool.AcquireShared(bg())
		if err != nil {
			t.Fatal(err)
		}
		dt, err := cancelInFlight(c, slow)
		if !errors.Is(err, context.Canceled) || dt > 100*time.Millisecond {
			t.Fatalf("cancelled in flight: want context.Canceled at once, got %v after %v", err, dt)
		}
		if next == "call" {
			t0 := time.Now()
			if _, err := c.Health(bg()); err != nil {
				t.Errorf("call after an abandoned one: %v", err)
			}
			if dt := time.Since(t0); dt < 150*time.Millisecond {
				t.Errorf("the next call took %v: it did not wait for the abandoned request", dt)
			}
		}
		if err := c.Release(); err != nil {
			t.Errorf("Release after an abandoned call: %v", err)
		}
	}
	allFree(t)
}

// A shared Client's call abandoned by its context while the lease is
// still sending its body: the caller has the call back, and with it its
// Body slice, which Go code reuses (a buffer reset and refilled).  What
// goes out after that must still be what the caller sent, not the
// buffer's new contents.  The daemon is stopped (SIGSTOP) so that the
// body stays half sent, deterministically: the 64 KiB ring fills; it is
// continued well within its 1 s heartbeat limit.
func TestSharedClientCancelledBodyNotReused(t *testing.T) {
	ctx := bg()
	db := uniq("gobody")
	if _, err := testPool.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	defer testPool.DropDatabase(ctx, db)
	if _, err := testPool.CreateTable(ctx, db, "t", []Column{{Name: "id", Type: "INTEGER", PrimaryKey: true},
		{Name: "v", Type: "TEXT"}}); err != nil {
		t.Fatal(err)
	}
	c, err := testPool.AcquireShared(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	st, err := testPool.Status()
	if err != nil {
		t.Fatal(err)
	}
	const n = 1 << 20
	body := []byte(`{"rows":[{"id":1,"v":"` + strings.Repeat("a", n) + `"}]}`)
	req := Request{Method: "POST", Path: "/databases/" + db + "/tables/t/rows",
		Headers: []Header{{"Content-Type", "application/json"}}, Body: body}

	if err := syscall.Kill(st.DaemonPID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cont := func() { syscall.Kill(st.DaemonPID, syscall.SIGCONT) }
	defer cont()
	cctx, cancel := context.WithCancel(ctx)
	got := make(chan error, 1)
	go func() {
		_, err := c.Request(cctx, req)
		got <- err
	}()
	time.Sleep(100 * time.Millisecond) // handed over; the ring is full
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		cont()
		t.Fatalf("cancelled call: want context.Canceled, got %v", err)
	}
	// The caller has its buffer back and reuses it.
	for i := range body {
		if body[i] == 'a' {
			body[i] = 'b'
		}
	}
	cont()
	if _, err := c.Health(ctx); err != nil { // after the abandoned request
		t.Fatal(err)
	}
	rows, err := c.GetRows(ctx, db, "t", RowsOptions{})
	if err != nil || rows.Count != 1 {
		t.Fatalf("GetRows = %+v, %v", rows, err)
	}
	v, _ := rows.Rows[0]["v"].(string)
	if want := strings.Repeat("a", n); v != want {
		t.Fatalf("the abandoned request sent %d 'a' and %d 'b' (the buffer's new contents), want %d 'a'",
			strings.Count(v, "a"), strings.Count(v, "b"), n)
	}
}

// closeWhileWaiting opens a Pool with cfg, starts an Acquire (or an
// AcquireShared) with ctx, closes the Pool 50 ms into its wait for a seat
// and returns the acquire's error.
func closeWhileWaiting(t *testing.T, cfg Config, shared bool, ctx context.Context) error {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acquire := p.Acquire
	if shared {
		acquire = p.AcquireShared
	}
	got := make(chan error, 1)
	go func() {
		c, err := acquire(ctx)
		if err == nil {
			c.Release()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	p.Close()
	return <-got
}

// Close while Acquire and AcquireShared wait for a seat (a cancellable
// context, a deadline far away): the wait ends with ErrClosed, as every
// call on a closed Pool does, not a timeout; and the pool is detached
// only once the wait no longer uses it (the process survives; nothing
// leaks).
func TestCloseWhileWaiting(t *testing.T) {
	release := holdAll(t)
	for _, shared := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(bg(), 10*time.Second)
		if err := closeWhileWaiting(t, Config{}, shared, ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("shared %v: Close while waiting: want ErrClosed, got %v", shared, err)
		}
		time.Sleep(100 * time.Millisecond) // what the lease goroutine may still do
		cancel()
	}
	// With a context that cannot be cancelled the wait is one pp_lease
	// call that Close cannot cut short; when it ends, its error is
	// ErrClosed all the same.
	for _, shared := range []bool{false, true} {
		cfg := Config{AcquireTimeout: 300 * time.Millisecond}
		if err := closeWhileWaiting(t, cfg, shared, bg()); !errors.Is(err, ErrClosed) {
			t.Errorf("shared %v, Background: Close while waiting: want ErrClosed, got %v", shared, err)
		}
	}
	release()
	allFree(t)
}

// A shared Client is dropped only when nothing can use it any more: a
// Tx begun on it (or a method value of it) still sends on its seat, so
// the finalizer must not release the seat while one is reachable.  Once
// they are dropped too, the finalizer does release it.
func TestFinalizerWaitsForTx(t *testing.T) {
	var tx *Tx
	var health func(context.Context) (map[string]any, error)
	func() {
		c, err := testPool.AcquireShared(bg())
		if err != nil {
			t.Fatal(err)
		}
		if tx, err = c.BeginTransaction(bg()); err != nil {
			t.Fatal(err)
		}
		health = c.Health
	}()
	for i := 0; i < 5; i++ { // the Client itself is unreachable: collect it
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := health(bg()); err != nil {
		t.Errorf("method value of a dropped Client: %v", err)
	}
	if err := tx.Commit(bg()); err != nil {
		t.Fatalf("Commit on a dropped Client's Tx: %v", err)
	}
	tx, health = nil, nil
	waitFor(t, 3*time.Second, "the dropped Client's seat was not released", func() bool {
		runtime.GC()
		s, err := testPool.Status()
		return err == nil && s.Used == 0
	})
}

// A request cut by the context's deadline fails the same way on a Pool,
// a bound Client and a shared Client: an *Error PP_ETIMEDOUT that also
// matches context.DeadlineExceeded, as a wait for a seat does; the seat
// stays usable.
func TestRequestDeadline(t *testing.T) {
	slow := Request{Method: "GET", Path: "/health?delay_ms=500"}
	for _, k := range threeAPIs(t) {
		ctx, cancel := context.WithTimeout(bg(), 100*time.Millisecond)
		_, err := k.a.Request(ctx, slow)
		cancel()
		if !errors.Is(err, ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: request past the context's deadline: want PP_ETIMEDOUT + DeadlineExceeded, got %v", k.name, err)
		}
		if _, err := k.a.Health(bg()); err != nil {
			t.Errorf("%s: next call: %v", k.name, err)
		}
	}
}

// The finalizer of a dropped shared Client does not hold up the
// program's other finalizers (Go runs them all on one goroutine) while
// the Client's last request, abandoned by its context, is still under
// way: the release waits for that request in a goroutine of its own.
func TestFinalizerDoesNotBlockOthers(t *testing.T) {
	func() {
		c, err := testPool.AcquireShared(bg())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cancelInFlight(c, Request{Method: "GET", Path: "/health?delay_ms=3000"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: %v", err)
		}
	}()
	runtime.GC() // the Client's finalizer starts its release
	time.Sleep(50 * time.Millisecond)
	ran := make(chan struct{})
	func() {
		o := new([16]byte)
		runtime.SetFinalizer(o, func(*[16]byte) { close(ran) })
	}()
	t0 := time.Now()
	runtime.GC()
	select {
	case <-ran:
	case <-time.After(2 * time.Second):
		t.Errorf("another object's finalizer waited %v behind the dropped Client's", time.Since(t0))
		<-ran
	}
	waitFor(t, 5*time.Second, "the dropped Client's seat was not released", func() bool {
		runtime.GC()
		s, err := testPool.Status()
		return err == nil && s.Used == 0
	})
}
