package pool

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The daemon is killed (SIGKILL) while a Client holds a seat: calls fail
// with PP_EDAEMON within about a second, never hang; once a daemon serves
// the pool again (tests/with-pool's restart command), the next call works
// on the same *Pool, with no re-New.
func TestDaemonRestart(t *testing.T) {
	pid, _ := strconv.Atoi(os.Getenv("PP_WITH_POOL_DAEMON_PID"))
	cmdline := os.Getenv("PP_WITH_POOL_DAEMON_CMD")
	if pid <= 0 || cmdline == "" {
		t.Fatal("PP_WITH_POOL_DAEMON_PID / PP_WITH_POOL_DAEMON_CMD not set: run under tests/with-pool")
	}
	before, err := testPool.Status()
	if err != nil {
		t.Fatal(err)
	}
	// The segment names the daemon that serves it: kill that one.
	if before.DaemonPID != pid {
		t.Logf("PP_WITH_POOL_DAEMON_PID is %d, the segment's daemon is %d: killing the latter", pid, before.DaemonPID)
		pid = before.DaemonPID
	}
	held, err := testPool.Acquire(bg())
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill daemon %d: %v", pid, err)
	}

	ctx, cancel := context.WithTimeout(bg(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	waitFor(t, 5*time.Second, "calls still succeed after the daemon was killed", func() bool {
		_, err = testPool.Health(ctx)
		return err != nil
	})
	if !errors.Is(err, ErrDaemon) {
		t.Fatalf("one-shot with the daemon dead: want PP_EDAEMON, got %v", err)
	}
	t.Logf("one-shot error %v after %v", err, time.Since(t0).Round(time.Millisecond))
	if _, err := held.Health(ctx); !errors.Is(err, ErrDaemon) && !errors.Is(err, ErrLost) {
		t.Errorf("held Client with the daemon dead: want PP_EDAEMON or PP_ELOST, got %v", err)
	}
	// Both kinds of Client say which daemon is gone (pp_error_detail).
	for _, acq := range acquires() {
		_, err := acq.f(ctx)
		var pe *Error
		if !errors.Is(err, ErrDaemon) || !errors.As(err, &pe) || pe.Detail == "" {
			t.Errorf("%s with the daemon dead: want PP_EDAEMON with the library's detail, got %v", acq.name, err)
		}
	}
	if took := time.Since(t0); took > 4*time.Second {
		t.Errorf("the dead daemon took %v to be reported", took)
	}

	cmd := exec.Command("sh", "-c", "exec "+cmdline)
	logf, err := os.Create(filepath.Join(t.TempDir(), "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf // never our stdout: go test would wait for the daemon
	if err := cmd.Start(); err != nil {
		t.Fatalf("restart %q: %v", cmdline, err)
	}
	// tests/with-pool stops it at the end (through its pidfile).
	waitFor(t, 10*time.Second, "no call worked after the daemon restarted", func() bool {
		_, err = testPool.Health(ctx)
		if err != nil && !errors.Is(err, ErrDaemon) && !errors.Is(err, ErrNoPool) {
			t.Fatalf("while the daemon restarts: want PP_EDAEMON or PP_ENOPOOL, got %v", err)
		}
		return err == nil
	})
	after, err := testPool.Status()
	if err != nil || after.Generation == before.Generation || after.DaemonPID != cmd.Process.Pid {
		t.Errorf("Status after restart: generation %d -> %d, pid %d (new daemon %d), err %v",
			before.Generation, after.Generation, after.DaemonPID, cmd.Process.Pid, err)
	}
	// The old Client's lease died with the old daemon: releasing it says
	// so (or succeeds), and leaves the new pool alone.
	if err := held.Release(); err != nil && !errors.Is(err, ErrLost) && !errors.Is(err, ErrDaemon) {
		t.Errorf("Release of a lease from the dead daemon: %v", err)
	}
	c, err := testPool.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire after restart: %v", err)
	}
	if _, err := c.Health(ctx); err != nil {
		t.Errorf("Client after restart: %v", err)
	}
	c.Release()
	allFree(t)
}
