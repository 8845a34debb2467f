// ppgobench measures the Go binding against its two references, side by
// side in one run, and prints `name value unit` lines (make bench-go runs
// it under tests/with-pool):
//
//	ppgobench overhead [-n N] [-rounds R] [-only CELLS]
//	    per request: C pp_do (the floor), the binding's one-shot
//	    Pool.Request, the typed Pool.Health (JSON decoded); a bound
//	    Client's Request and a shared Client's (the lease goroutine's two
//	    thread hand-offs; also with a cancellable context) against C
//	    pp_request on a lease; Acquire+Release
//	    and AcquireShared+Release against C pp_lease+pp_release; and a
//	    request refused before any I/O (bad path) from Go and from C: the
//	    binding's own cost per call with no daemon in the way.  Rounds
//	    are interleaved; medians of wall time and of this process's CPU
//	    time per request.
//	    -only a,b runs those cells only (to profile one path); each cell
//	    also reports this process's context switches per request (_csw).
//	ppgobench throughput [-procs 16] [-secs 2] [-label L]
//	    16 processes each looping GET /health for -secs, through the pool
//	    (one-shots) and through net/http with keep-alive straight to
//	    $PHANTOMDB_URL; requests/s and the backend's open connections
//	    (GET /_debug/connections?probe=1, sampled every 50 ms, peak).
//	    -label names the pool's configuration in the lines (go_L_pool_...).
package main

/*
#cgo LDFLAGS: -lphantompool
#include <phantompool.h>
#include <stdlib.h>

static int c_do_loop(pp_pool *p, long n)
{
	pp_req req = { .method = "GET", .path = "/health" };
	for (long i = 0; i < n; i++) {
		pp_resp resp;
		int r = pp_do(p, &req, &resp);
		pp_resp_free(&resp);
		if (r)
			return r;
	}
	return 0;
}

static int c_lease_loop(pp_pool *p, long n)
{
	pp_req req = { .method = "GET", .path = "/health" };
	struct pp_lease *l;
	int r = pp_lease(p, 30000, &l);
	if (r)
		return r;
	for (long i = 0; i < n && !r; i++) {
		pp_resp resp;
		r = pp_request(l, &req, &resp);
		pp_resp_free(&resp);
	}
	int rr = pp_release(l);
	return r ? r : rr;
}

// A request refused before anything is written to the ring (a path
// without '/'): what one call costs with no I/O.
static int c_refused_loop(pp_pool *p, long n)
{
	pp_req req = { .method = "GET", .path = "health" };
	struct pp_lease *l;
	int r = pp_lease(p, 30000, &l);
	if (r)
		return r;
	for (long i = 0; i < n; i++) {
		pp_resp resp;
		if ((r = pp_request(l, &req, &resp)) != PP_EBADPATH)
			break;
		r = 0;
	}
	int rr = pp_release(l);
	return r ? r : rr;
}

static int c_acquire_loop(pp_pool *p, long n)
{
	for (long i = 0; i < n; i++) {
		struct pp_lease *l;
		int r = pp_lease(p, 30000, &l);
		if (r)
			return r;
		if ((r = pp_release(l)) != 0)
			return r;
	}
	return 0;
}

static pp_pool *c_attach(int *err)
{
	pp_pool *p = NULL;
	*err = pp_attach(NULL, &p);
	return p;
}
*/
import "C"

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"phantompool/pool"
)

func die(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "ppgobench: "+f+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: ppgobench overhead|throughput|worker [flags]")
	}
	switch os.Args[1] {
	case "overhead":
		overhead(os.Args[2:])
	case "throughput":
		throughput(os.Args[2:])
	case "worker":
		worker(os.Args[2:])
	default:
		die("unknown mode %q", os.Args[1])
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func overhead(args []string) {
	fs := flag.NewFlagSet("overhead", flag.ExitOnError)
	n := fs.Int("n", 2000, "requests per cell and round")
	rounds := fs.Int("rounds", 5, "interleaved rounds")
	only := fs.String("only", "", "comma-separated cells to run (for profiling one path); default all")
	fs.Parse(args)

	p, err := pool.New(pool.Config{})
	if err != nil {
		die("%v", err)
	}
	defer p.Close()
	var cerr C.int
	cp := C.c_attach(&cerr)
	if cp == nil {
		die("pp_attach: %d", int(cerr))
	}
	defer C.pp_detach(cp)
	ctx := context.Background()
	req := pool.Request{Method: "GET", Path: "/health"}
	// Each cell runs n operations on this goroutine, locked to one OS
	// thread (the C loops need it; the Go cells are timed the same way).
	runtime.LockOSThread()
	client, err := p.Acquire(ctx) // bound to this goroutine
	if err != nil {
		die("Acquire: %v", err)
	}
	defer client.Release()
	shared, err := p.AcquireShared(ctx)
	if err != nil {
		die("AcquireShared: %v", err)
	}
	defer shared.Release()
	type cell struct {
		name string
		run  func() error
	}
	cells := []cell{
		{"c_pp_do", func() error { return cCode(C.c_do_loop(cp, C.long(*n))) }},
		{"go_oneshot_request", func() error {
			for i := 0; i < *n; i++ {
				if _, err := p.Request(ctx, req); err != nil {
					return err
				}
			}
			return nil
		}},
		{"go_oneshot_health_json", func() error {
			for i := 0; i < *n; i++ {
				if _, err := p.Health(ctx); err != nil {
					return err
				}
			}
			return nil
		}},
		{"c_pp_request_on_lease", func() error { return cCode(C.c_lease_loop(cp, C.long(*n))) }},
		{"go_client_request", func() error {
			for i := 0; i < *n; i++ {
				if _, err := client.Request(ctx, req); err != nil {
					return err
				}
			}
			return nil
		}},
		{"go_shared_client_request", func() error {
			for i := 0; i < *n; i++ {
				if _, err := shared.Request(ctx, req); err != nil {
					return err
				}
			}
			return nil
		}},
		{"go_shared_client_request_ctx", func() error {
			// a context that can be cancelled (a server's request context)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			for i := 0; i < *n; i++ {
				if _, err := shared.Request(cctx, req); err != nil {
					return err
				}
			}
			return nil
		}},
		{"c_refused_on_lease", func() error { return cCode(C.c_refused_loop(cp, C.long(*n))) }},
		{"go_client_refused", func() error {
			bad := pool.Request{Method: "GET", Path: "health"}
			for i := 0; i < *n; i++ {
				if _, err := client.Request(ctx, bad); !errors.Is(err, pool.ErrBadPath) {
					return fmt.Errorf("want PP_EBADPATH, got %v", err)
				}
			}
			return nil
		}},
		{"c_lease_release", func() error { return cCode(C.c_acquire_loop(cp, C.long(*n))) }},
		{"go_acquire_release", func() error {
			for i := 0; i < *n; i++ {
				c, err := p.Acquire(ctx)
				if err != nil {
					return err
				}
				if err := c.Release(); err != nil {
					return err
				}
			}
			return nil
		}},
		{"go_acquire_shared_release", func() error {
			for i := 0; i < *n/4; i++ {
				c, err := p.AcquireShared(ctx)
				if err != nil {
					return err
				}
				if err := c.Release(); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	if *only != "" {
		keep := cells[:0]
		for _, c := range cells {
			if strings.Contains(","+*only+",", ","+c.name+",") {
				keep = append(keep, c)
			}
		}
		cells = keep
	}
	per := map[string][]float64{}
	cpu := map[string][]float64{}
	csw := map[string][]float64{}
	for _, c := range cells { // warm-up
		if err := c.run(); err != nil {
			die("%s: %v", c.name, err)
		}
	}
	for r := 0; r < *rounds; r++ {
		for _, c := range cells {
			t0, c0, s0 := time.Now(), cpuNow(), switchesNow()
			if err := c.run(); err != nil {
				die("%s: %v", c.name, err)
			}
			c1, s1 := cpuNow(), switchesNow()
			ops := *n
			if c.name == "go_acquire_shared_release" {
				ops = *n / 4
			}
			per[c.name] = append(per[c.name], float64(time.Since(t0).Nanoseconds())/float64(ops)/1000)
			cpu[c.name] = append(cpu[c.name], float64((c1-c0).Nanoseconds())/float64(ops)/1000)
			csw[c.name] = append(csw[c.name], float64(s1-s0)/float64(ops))
		}
	}
	m := func(k string) float64 { return median(per[k]) }
	mc := func(k string) float64 { return median(cpu[k]) }
	for _, c := range cells {
		fmt.Printf("go_%s %.2f us\n", strings.TrimPrefix(c.name, "go_"), m(c.name))
		fmt.Printf("go_%s_cpu %.2f us\n", strings.TrimPrefix(c.name, "go_"), mc(c.name))
		fmt.Printf("go_%s_csw %.2f switches\n", strings.TrimPrefix(c.name, "go_"), median(csw[c.name]))
	}
	if *only != "" {
		return // the differences below need every cell
	}
	// This process's CPU per request (user + system, all its threads):
	// steadier than wall time on a loaded machine.
	fmt.Printf("go_oneshot_cpu_overhead_over_pp_do %.2f us\n", mc("go_oneshot_request")-mc("c_pp_do"))
	fmt.Printf("go_client_cpu_overhead_over_pp_request %.2f us\n", mc("go_client_request")-mc("c_pp_request_on_lease"))
	fmt.Printf("go_shared_client_cpu_overhead_over_pp_request %.2f us\n", mc("go_shared_client_request")-mc("c_pp_request_on_lease"))
	fmt.Printf("go_shared_client_ctx_cpu_overhead_over_pp_request %.2f us\n", mc("go_shared_client_request_ctx")-mc("c_pp_request_on_lease"))
	fmt.Printf("go_oneshot_overhead_over_pp_do %.2f us\n", m("go_oneshot_request")-m("c_pp_do"))
	fmt.Printf("go_oneshot_json_overhead_over_pp_do %.2f us\n", m("go_oneshot_health_json")-m("c_pp_do"))
	fmt.Printf("go_client_overhead_over_pp_request %.2f us\n", m("go_client_request")-m("c_pp_request_on_lease"))
	fmt.Printf("go_shared_client_overhead_over_pp_request %.2f us\n", m("go_shared_client_request")-m("c_pp_request_on_lease"))
	fmt.Printf("go_client_call_overhead_no_io %.2f us\n", m("go_client_refused")-m("c_refused_on_lease"))
	fmt.Printf("go_acquire_release_overhead %.2f us\n", m("go_acquire_release")-m("c_lease_release"))
	fmt.Printf("go_acquire_shared_release_overhead %.2f us\n", m("go_acquire_shared_release")-m("c_lease_release"))
}

// cpuNow is this process's CPU time so far (user + system).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// switchesNow is this process's context switches so far (voluntary +
// involuntary, all threads): per request, how often a thread slept or was
// put off its CPU.
func switchesNow() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Nvcsw + ru.Nivcsw
}

func cCode(r C.int) error {
	if r != 0 {
		return fmt.Errorf("%s (%d)", C.GoString(C.pp_strerror(r)), int(r))
	}
	return nil
}

// backendOpen is the backend's open connections, leaving out the probe's.
func backendOpen(url string) (int, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url + "/_debug/connections?probe=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Open int `json:"open"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, err
	}
	return v.Open, nil
}

// run starts procs workers of one mode, lets them loop for secs, and
// returns requests/s and the backend's peak open connections.
func run(mode string, procs int, secs float64, url string) (rps float64, peak int) {
	self, _ := os.Executable()
	type w struct {
		cmd *exec.Cmd
		in  io.WriteCloser
		out *bufio.Reader
	}
	ws := make([]w, procs)
	for i := range ws {
		cmd := exec.Command(self, "worker", mode, strconv.FormatFloat(secs, 'f', 3, 64))
		cmd.Stderr = os.Stderr
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			die("start worker: %v", err)
		}
		ws[i] = w{cmd, in, bufio.NewReader(out)}
	}
	for _, x := range ws { // each made one request: ready
		if l, err := x.out.ReadString('\n'); err != nil || strings.TrimSpace(l) != "ready" {
			die("%s worker: %q %v", mode, l, err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if n, err := backendOpen(url); err == nil && n > peak {
				peak = n
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for _, x := range ws {
		x.in.Close() // go
	}
	var total int64
	for _, x := range ws {
		l, err := x.out.ReadString('\n')
		if err != nil {
			die("%s worker: %v", mode, err)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
		if err != nil {
			die("%s worker said %q", mode, l)
		}
		total += n
		x.cmd.Wait()
	}
	stop.Store(true)
	wg.Wait()
	return float64(total) / secs, peak
}

func throughput(args []string) {
	fs := flag.NewFlagSet("throughput", flag.ExitOnError)
	procs := fs.Int("procs", 16, "worker processes")
	secs := fs.Float64("secs", 2, "seconds each mode runs")
	label := fs.String("label", "", "name part for this pool's configuration (go_<label>_pool_...)")
	fs.Parse(args)
	url := os.Getenv("PHANTOMDB_URL")
	if url == "" {
		die("PHANTOMDB_URL not set: run under tests/with-pool")
	}
	p, err := pool.New(pool.Config{})
	if err != nil {
		die("%v", err)
	}
	st, err := p.Status()
	if err != nil {
		die("%v", err)
	}
	p.Close()
	idle, err := backendOpen(url)
	if err != nil {
		die("backend: %v", err)
	}
	poolRPS, poolPeak := run("pool", *procs, *secs, url)
	base, _ := backendOpen(url) // the daemon's connections, idle now
	httpRPS, httpPeak := run("http", *procs, *secs, url)
	httpConns := httpPeak - base
	g := "go_"
	if *label != "" {
		g += *label + "_"
	}
	fmt.Printf("%spool_seats %d seats\n", g, st.Max)
	fmt.Printf("%sbackend_conns_before %d conns\n", g, idle)
	fmt.Printf("%spool_%dproc_rps %.0f req/s\n", g, *procs, poolRPS)
	fmt.Printf("%spool_%dproc_backend_conns %d conns\n", g, *procs, poolPeak)
	fmt.Printf("%snethttp_%dproc_rps %.0f req/s\n", g, *procs, httpRPS)
	fmt.Printf("%snethttp_%dproc_backend_conns %d conns\n", g, *procs, httpConns)
	fmt.Printf("%spool_vs_nethttp_%dproc %.3f ratio\n", g, *procs, poolRPS/httpRPS)
}

// worker: one process of a throughput run.  Makes one request (so that
// connections are open), says "ready", waits for stdin to close, loops
// for secs, prints its count.
func worker(args []string) {
	if len(args) != 2 {
		die("worker pool|http SECS")
	}
	secs, _ := strconv.ParseFloat(args[1], 64)
	ctx := context.Background()
	var one func() error
	switch args[0] {
	case "pool":
		p, err := pool.New(pool.Config{})
		if err != nil {
			die("%v", err)
		}
		req := pool.Request{Method: "GET", Path: "/health"}
		one = func() error {
			r, err := p.Request(ctx, req)
			if err == nil && r.Status != 200 {
				err = fmt.Errorf("status %d", r.Status)
			}
			return err
		}
	case "http":
		url := os.Getenv("PHANTOMDB_URL") + "/health"
		c := &http.Client{} // DefaultTransport semantics: keep-alive
		one = func() error {
			resp, err := c.Get(url)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return err
		}
	default:
		die("worker mode %q", args[0])
	}
	if err := one(); err != nil {
		die("%s: %v", args[0], err)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	var n int64
	for time.Now().Before(end) {
		if err := one(); err != nil {
			die("%s: %v", args[0], err)
		}
		n++
	}
	fmt.Println(n)
}
