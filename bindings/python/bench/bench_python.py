"""Benchmarks of the Python binding (make bench-python runs this under
tests/with-pool).  Prints a table and one ``name value unit`` line per figure.

1. Overhead per request over the C library, in the same run: the C loop
   (ppdo_loop, pp_do / pp_request) and the Python calls that wrap the same
   C calls send the same request (GET /health, no headers), interleaved for
   ROUNDS rounds; medians of wall time and of the client process's CPU time
   per request.  Both sides are pinned to the same CPU (PP_BENCH_CPU,
   default 0; "none": unpinned); the daemon is not.
2. Throughput at 16 worker processes (forked after the pool was created),
   each sending GET /health in a loop for DURATION seconds: through the
   pool (Pool.request) vs Python http.client with one keep-alive connection
   per process, straight to the backend; with the backend's connection
   counts (GET /_debug/connections?probe=1: open connections mid-run, and
   accepted during the run).

    bench_python.py [--label NAME] [--no-overhead] [--no-direct]
"""
import argparse
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import phantompool  # noqa: E402

PATH = "/health"
N = int(os.environ.get("PP_BENCH_N", "10000"))
ROUNDS = int(os.environ.get("PP_BENCH_ROUNDS", "5"))
DURATION = float(os.environ.get("PP_BENCH_SECONDS", "3"))
WORKERS = 16
LOOP = os.environ.get("PP_BENCH_PPDO_LOOP") or os.path.join(os.environ["PP_BUILD"], "bindings", "python",
                                                             "ppdo_loop")
lines = []


def emit(name, value, unit):
    lines.append(f"{name} {value:.1f} {unit}" if isinstance(value, float) else f"{name} {value} {unit}")


def cpu_ns():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (ru.ru_utime + ru.ru_stime) * 1e9


def py_loop(fn, n):
    for _ in range(n // 10 + 1):
        fn()
    w0, c0 = time.perf_counter_ns(), cpu_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - w0) / n, (cpu_ns() - c0) / n


def c_loop(mode, n, cpu):
    cmd = ([] if cpu is None else ["taskset", "-c", str(cpu)]) + [LOOP, mode, str(n), PATH]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def overhead(pool, cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    held = pool.acquire()

    def pool_request():
        if pool.request("GET", PATH).status != 200:
            raise RuntimeError("bad status")

    def client_request():
        if held.request("GET", PATH).status != 200:
            raise RuntimeError("bad status")

    def acquire_request_release():
        with pool.acquire() as c:
            if c.request("GET", PATH).status != 200:
                raise RuntimeError("bad status")

    def client_health():
        held.health()

    variants = {  # name: (python call, the C loop it wraps)
        "pool_request": (pool_request, "do"),
        "acquire_request_release": (acquire_request_release, "do"),
        "client_request": (client_request, "lease"),
        "client_health_json": (client_health, "lease"),
    }
    res = {k: [] for k in list(variants) + ["c_do", "c_lease"]}
    for _ in range(ROUNDS):
        for mode in ("do", "lease"):
            if mode == "lease":
                held.release()  # the C loop needs a seat of its own: plenty free
            res["c_" + mode].append(c_loop(mode, N, cpu))
            if mode == "lease":
                held = pool.acquire()
        for name, (fn, _) in variants.items():
            res[name].append(py_loop(fn, N))
    held.release()
    os.sched_setaffinity(0, range(os.cpu_count() or 1))

    def med(name, i):
        return statistics.median(r[i] for r in res[name]) / 1000.0

    print(f"\noverhead per request over the C library ({PATH}, N={N}, {ROUNDS} rounds, medians; "
          f"client pinned to CPU {cpu if cpu is not None else 'none'}):")
    print(f"  {'call':32} {'wall us':>9} {'cpu us':>9} {'C call':>10} {'+wall us':>9} {'+cpu us':>9}")
    for c in ("c_do", "c_lease"):
        print(f"  {c:32} {med(c, 0):9.1f} {med(c, 1):9.1f}")
        emit(f"py_bench_{c}_wall", med(c, 0), "us")
        emit(f"py_bench_{c}_cpu", med(c, 1), "us")
    for name, (_, mode) in variants.items():
        c = "c_" + mode
        dw, dc = med(name, 0) - med(c, 0), med(name, 1) - med(c, 1)
        print(f"  {name:32} {med(name, 0):9.1f} {med(name, 1):9.1f} {c:>10} {dw:9.1f} {dc:9.1f}")
        emit(f"py_{name}_wall", med(name, 0), "us")
        emit(f"py_{name}_overhead_wall", dw, "us")
        emit(f"py_{name}_overhead_cpu", dc, "us")


def backend_conns(url):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("GET", u.path.rstrip("/") + "/_debug/connections?probe=1")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def run_workers(work):
    """Fork WORKERS processes running work(deadline) -> count, all started
    at once when every one is ready; returns (requests/s, backend
    connections open mid-run, open before the run, accepted during it)."""
    url = os.environ["PHANTOMDB_URL"]
    before = backend_conns(url)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pids = []
    for _ in range(WORKERS):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.write(ready_w, b"r")
                os.read(go_r, 1)
                t0 = time.monotonic()
                n = work(t0 + DURATION)
                os.write(w, f"{n} {time.monotonic() - t0}".encode())
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        pids.append((pid, r))
    for _ in range(WORKERS):
        os.read(ready_r, 1)
    os.write(go_w, b"g" * WORKERS)
    time.sleep(DURATION / 2)
    mid = backend_conns(url)
    rps = 0.0
    for pid, r in pids:
        data = os.read(r, 64).split()
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if status != 0 or len(data) != 2:
            raise RuntimeError(f"worker {pid} failed ({status})")
        rps += int(data[0]) / float(data[1])
    for fd in (ready_r, ready_w, go_r, go_w):
        os.close(fd)
    after = backend_conns(url)
    return rps, mid["open"], before["open"], after["accepted"] - before["accepted"]


def throughput(pool, label, direct):
    def via_pool(deadline):
        n = 0
        while time.monotonic() < deadline:
            if pool.request("GET", PATH).status != 200:
                raise RuntimeError("bad status")
            n += 1
        return n

    def via_http_client(deadline):
        u = urllib.parse.urlsplit(os.environ["PHANTOMDB_URL"])
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        path = u.path.rstrip("/") + PATH
        n = 0
        while time.monotonic() < deadline:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("bad status")
            n += 1
        conn.close()
        return n

    seats = pool.get_status()["max"]
    print(f"\nthroughput, {WORKERS} worker processes, {DURATION:g} s each (GET {PATH}):")
    # Connections: for the pool, all the backend has open mid-run (only the
    # daemon connects); for http.client, those open mid-run less those open
    # before it (the daemon's, idle meanwhile).
    rps, open_, before, acc = run_workers(via_pool)
    print(f"  {'pool (%d seats)' % seats:24} {rps:10.0f} req/s   backend connections: {open_} open "
          f"mid-run, {acc} accepted during the run")
    emit(f"py16_pool_{label}_rps", rps, "req/s")
    emit(f"py16_pool_{label}_backend_connections", open_, "connections")
    if direct:
        drps, dopen, dbefore, dacc = run_workers(via_http_client)
        print(f"  {'http.client keep-alive':24} {drps:10.0f} req/s   backend connections: {dopen - dbefore} "
              f"open mid-run (+{dbefore} idle of the daemon), {dacc} accepted during the run")
        emit("py16_http_client_keepalive_rps", drps, "req/s")
        emit("py16_http_client_keepalive_backend_connections", dopen - dbefore, "connections")
        emit(f"py16_pool_{label}_vs_keepalive", rps / drps, "x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="default")
    ap.add_argument("--no-overhead", action="store_true")
    ap.add_argument("--no-direct", action="store_true")
    args = ap.parse_args()
    cpu_env = os.environ.get("PP_BENCH_CPU", "0")
    cpu = None if cpu_env == "none" else int(cpu_env)
    pool = phantompool.create_pool()
    if not args.no_overhead:
        overhead(pool, cpu)
    throughput(pool, args.label, not args.no_direct)
    pool.close()
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
