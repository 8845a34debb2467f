package pool

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	s, err := testPool.Status()
	if err != nil {
		t.Fatal(err)
	}
	if s.Max == 0 || s.DaemonPID <= 0 || s.Generation == 0 || s.Uptime <= 0 {
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

// A Client is usable from many goroutines at once and releasable from
// another goroutine than the one that acquired it.
func TestClientFromManyGoroutines(t *testing.T) {
	c, err := testPool.Acquire(bg())
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
				if g%2 == 0 {
					if _, err := testPool.Health(ctx); err != nil {
						errs <- err
						return
					}
					continue
				}
				c, err := testPool.Acquire(ctx)
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
	ctx, cancel := context.WithTimeout(bg(), 150*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := testPool.Acquire(ctx)
	took := time.Since(t0)
	if !errors.Is(err, ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want PP_ETIMEDOUT + DeadlineExceeded, got %v", err)
	}
	if took < 140*time.Millisecond || took > 2*time.Second {
		t.Errorf("Acquire gave up after %v, deadline was 150ms", took)
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
	t0 := time.Now()
	_, err = p.Acquire(bg())
	if !errors.Is(err, ErrTimedOut) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want PP_ETIMEDOUT (not DeadlineExceeded), got %v", err)
	}
	if took := time.Since(t0); took < 110*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, AcquireTimeout was 120ms", took)
	}
	if _, err := p.Health(bg()); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("one-shot, no seat, Background: want PP_ETIMEDOUT, got %v", err)
	}
}

// Cancellation while waiting returns ctx.Err() at once, and the seat the
// abandoned wait would have got is not leaked.
func TestAcquireCancel(t *testing.T) {
	release := holdAll(t)
	ctx, cancel := context.WithCancel(bg())
	got := make(chan error, 1)
	var dt time.Duration
	go func() {
		_, err := testPool.Acquire(ctx)
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	cancel()
	err := <-got
	dt = time.Since(t0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if dt > 50*time.Millisecond {
		t.Errorf("Acquire returned %v after the cancel", dt)
	}
	// A one-shot waiting for a seat is cancelled the same way.
	ctx2, cancel2 := context.WithCancel(bg())
	go func() { time.Sleep(30 * time.Millisecond); cancel2() }()
	if _, err := testPool.Health(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("one-shot: want context.Canceled, got %v", err)
	}
	release()
	allFree(t)
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
			for i := 0; i < 20; i++ {
				ctx, cancel := context.WithTimeout(bg(), time.Duration(i%5)*time.Millisecond+100*time.Microsecond)
				c, err := testPool.Acquire(ctx)
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
				} else if !errors.Is(err, context.DeadlineExceeded) {
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

// A Client dropped without Release has its lease released by the
// finalizer.
func TestFinalizerReleases(t *testing.T) {
	func() {
		c, err := testPool.Acquire(bg())
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

// Close releases the Clients still held; later calls get ErrClosed.
func TestClose(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Acquire(bg())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	allFree(t)
	if _, err := c.Health(bg()); !errors.Is(err, ErrClosed) {
		t.Errorf("Client call after Close: want ErrClosed, got %v", err)
	}
	if _, err := p.Health(bg()); !errors.Is(err, ErrClosed) {
		t.Errorf("Pool call after Close: want ErrClosed, got %v", err)
	}
	if _, err := p.Acquire(bg()); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close: want ErrClosed, got %v", err)
	}
	if _, err := p.Status(); !errors.Is(err, ErrClosed) {
		t.Errorf("Status after Close: want ErrClosed, got %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
