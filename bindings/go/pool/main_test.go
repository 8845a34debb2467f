package pool

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// The tests run against a real phantompoold and the reference backend:
// tests/with-pool starts them and exports PHANTOMPOOL (make check-go).
var testPool *Pool

func TestMain(m *testing.M) {
	if os.Getenv("PHANTOMPOOL") == "" || os.Getenv("PHANTOMDB_URL") == "" {
		fmt.Fprintln(os.Stderr, "these tests need a running pool: run them under tests/with-pool (make check-go)")
		os.Exit(2)
	}
	var err error
	if testPool, err = New(Config{}); err != nil {
		fmt.Fprintln(os.Stderr, "New:", err)
		os.Exit(1)
	}
	code := m.Run()
	testPool.Close()
	os.Exit(code)
}

func bg() context.Context { return context.Background() }

// namedAPI is one of the three ways to make a call: on the Pool (a
// one-shot), on a bound Client, on a shared Client.
type namedAPI struct {
	name string
	a    api
}

// threeAPIs leases a bound and a shared Client from testPool and returns
// the three ways to call, released when the test ends.
func threeAPIs(t *testing.T) []namedAPI {
	t.Helper()
	c, err := testPool.Acquire(bg())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Release() })
	sc, err := testPool.AcquireShared(bg())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Release() })
	return []namedAPI{{"pool", testPool.api}, {"client", c.api}, {"shared client", sc.api}}
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// seats is the pool's seat count.
func seats(t *testing.T) int {
	t.Helper()
	s, err := testPool.Status()
	if err != nil {
		t.Fatal(err)
	}
	return int(s.Max)
}

// allFree waits until no seat is leased: the check that nothing leaked.
func allFree(t *testing.T) {
	t.Helper()
	waitFor(t, 2*time.Second, "seats still leased (a leaked lease?)", func() bool {
		s, err := testPool.Status()
		return err == nil && s.Used == 0 && s.Available == s.Max
	})
}

// holdAll acquires every seat; the returned func releases them.
func holdAll(t *testing.T) func() {
	t.Helper()
	n := seats(t)
	held := make([]*Client, 0, n)
	for i := 0; i < n; i++ {
		c, err := testPool.Acquire(bg())
		if err != nil {
			t.Fatalf("Acquire %d of %d: %v", i+1, n, err)
		}
		held = append(held, c)
	}
	return func() {
		for _, c := range held {
			if err := c.Release(); err != nil {
				t.Errorf("Release: %v", err)
			}
		}
	}
}

// uniq is a name no other test run uses.
func uniq(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
}
