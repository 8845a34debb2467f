//! make bench-rust: what the Rust binding costs, and what the pool gives a
//! Rust program, against a real pool (tests/with-pool --max 8) in front of
//! the reference backend.  Prints one `name value unit` line per figure.
//!
//! 1. Per-request overhead over C: `GET /health`, the variants taking
//!    turns request by request; the median latency of each, and the
//!    overhead as the difference of the medians to the C call:
//!    - C `pp_do` called directly (the FFI call, nothing else),
//!    - `Pool::request` (a prebuilt `Request`),
//!    - `Pool::health` (builds the request, parses the JSON answer) vs
//!      the C helper `pp_health` (sends the same request, parses nothing),
//!    - on a held seat: C `pp_request` vs `PooledConnection::request`.
//! 2. Throughput at 16 processes for BENCH_RUST_SECONDS (default 3) per
//!    round, 3 rounds interleaved: each process loops `Pool::request`; the
//!    same with C `pp_do` called directly (the pool without the binding);
//!    and each process holding its own std `TcpStream` keep-alive connection
//!    to the backend with a minimal HTTP/1.1 request; with the backend's
//!    open connections (GET $PHANTOMDB_URL/_debug/connections?probe=1)
//!    sampled mid-run.
//!
//! Workers are this program again: `bench_rust --worker pool|c_pp_do|tcp START_MS END_MS`.
use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::ptr;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use phantompool::{create_pool, ffi, Client, Pool, Request};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Wall time of one call, in µs.
fn time_us(f: impl FnOnce()) -> f64 {
    let t0 = Instant::now();
    f();
    t0.elapsed().as_nanos() as f64 / 1000.0
}

fn c_pp_do(pool: &Pool, req: &ffi::pp_req) {
    let mut resp: ffi::pp_resp = unsafe { std::mem::zeroed() };
    let rc = unsafe { ffi::pp_do(pool.as_raw(), req, &mut resp) };
    assert!(rc == 0 && resp.status == 200, "pp_do: {} status {}", rc, resp.status);
    unsafe { ffi::pp_resp_free(&mut resp) };
}

extern "C" {
    // The C library's typed helper (not declared by the crate: it builds
    // its own requests); the fair baseline for Client::health.
    fn pp_health(p: *mut ffi::pp_pool, resp: *mut ffi::pp_resp) -> i32;
}

fn c_pp_health(pool: &Pool) {
    let mut resp: ffi::pp_resp = unsafe { std::mem::zeroed() };
    let rc = unsafe { pp_health(pool.as_raw(), &mut resp) };
    assert!(
        rc == 0 && resp.status == 200,
        "pp_health: {} status {}",
        rc,
        resp.status
    );
    unsafe { ffi::pp_resp_free(&mut resp) };
}

fn c_pp_request(lease: *mut ffi::pp_lease, req: &ffi::pp_req) {
    let mut resp: ffi::pp_resp = unsafe { std::mem::zeroed() };
    let rc = unsafe { ffi::pp_request(lease, req, &mut resp) };
    assert!(
        rc == 0 && resp.status == 200,
        "pp_request: {} status {}",
        rc,
        resp.status
    );
    unsafe { ffi::pp_resp_free(&mut resp) };
}

fn overhead() {
    let pool = create_pool().expect("create_pool");
    let method = CString::new("GET").unwrap();
    let path = CString::new("/health").unwrap();
    let creq = ffi::pp_req {
        method: method.as_ptr(),
        path: path.as_ptr(),
        headers: ptr::null(),
        nheaders: 0,
        body: ptr::null(),
        body_len: 0,
        timeout_ms: 0,
    };
    let rreq = Request::get("/health");
    let n = if std::env::var_os("BENCH_QUICK").is_some() {
        1000
    } else {
        4000
    };
    let names = [
        "c_pp_do",
        "rust_request",
        "rust_health_json",
        "c_pp_request_leased",
        "rust_request_leased",
        "c_pp_health",
    ];
    let mut lat: Vec<Vec<f64>> = vec![Vec::with_capacity(n); names.len()];
    // Warm up: connections open, pages touched.
    for _ in 0..300 {
        c_pp_do(&pool, &creq);
    }
    // One-shot: the three variants take turns request by request, so that
    // they see the same conditions (load, CPU placement) as each other.
    for _ in 0..n {
        lat[0].push(time_us(|| c_pp_do(&pool, &creq)));
        lat[1].push(time_us(|| assert_eq!(pool.request(&rreq).unwrap().status(), 200)));
        lat[2].push(time_us(|| {
            pool.health().unwrap();
        }));
        lat[5].push(time_us(|| c_pp_health(&pool)));
    }
    // On one held seat: C pp_request and PooledConnection::request in turn.
    let conn = pool.acquire(Duration::from_secs(30)).unwrap();
    let l = conn.as_raw();
    for _ in 0..n {
        lat[3].push(time_us(|| c_pp_request(l, &creq)));
        lat[4].push(time_us(|| assert_eq!(conn.request(&rreq).unwrap().status(), 200)));
    }
    drop(conn);
    let m: Vec<f64> = lat.into_iter().map(median).collect();
    for (i, name) in names.iter().enumerate() {
        println!("{}_median_latency {:.2} us", name, m[i]);
    }
    println!("rust_overhead_request {:.2} us", m[1] - m[0]);
    println!("rust_overhead_health_json {:.2} us", m[2] - m[5]);
    println!("rust_overhead_leased_request {:.2} us", m[4] - m[3]);
}

// ---- 16 processes -------------------------------------------------------

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn sleep_until_ms(t: u64) {
    let now = now_ms();
    if t > now {
        thread::sleep(Duration::from_millis(t - now));
    }
}

/// "http://host:port[/prefix]" -> ("host:port", "/prefix").
fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("PHANTOMDB_URL must be http://");
    match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].trim_end_matches('/').to_string()),
        None => (rest.to_string(), String::new()),
    }
}

/// A minimal HTTP/1.1 keep-alive client over std TcpStream.
struct KeepAlive {
    r: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl KeepAlive {
    fn connect(host: &str, path: &str) -> KeepAlive {
        let s = TcpStream::connect(host).expect("connect to the backend");
        s.set_nodelay(true).unwrap();
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
            path, host
        )
        .into_bytes();
        KeepAlive {
            r: BufReader::new(s),
            request,
        }
    }

    /// One request; returns the status.  Panics on a protocol surprise.
    fn get(&mut self) -> u16 {
        self.r.get_mut().write_all(&self.request).expect("write");
        let mut line = String::new();
        self.r.read_line(&mut line).expect("read status");
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let mut len = None;
        loop {
            line.clear();
            self.r.read_line(&mut line).expect("read header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<usize>().ok();
                }
            }
        }
        let mut body = vec![0u8; len.expect("Content-Length")];
        self.r.read_exact(&mut body).expect("body");
        status
    }
}

fn worker(mode: &str, start: u64, end: u64) {
    let mut count = 0u64;
    match mode {
        "pool" => {
            let pool = create_pool().expect("create_pool");
            let req = Request::get("/health");
            assert_eq!(pool.request(&req).unwrap().status(), 200);
            sleep_until_ms(start);
            while now_ms() < end {
                assert_eq!(pool.request(&req).unwrap().status(), 200);
                count += 1;
            }
        }
        "c_pp_do" => {
            let pool = create_pool().expect("create_pool");
            let (m, p) = (CString::new("GET").unwrap(), CString::new("/health").unwrap());
            let creq = ffi::pp_req {
                method: m.as_ptr(),
                path: p.as_ptr(),
                headers: ptr::null(),
                nheaders: 0,
                body: ptr::null(),
                body_len: 0,
                timeout_ms: 0,
            };
            c_pp_do(&pool, &creq);
            sleep_until_ms(start);
            while now_ms() < end {
                c_pp_do(&pool, &creq);
                count += 1;
            }
        }
        "tcp" => {
            let (host, prefix) = split_url(&std::env::var("PHANTOMDB_URL").expect("PHANTOMDB_URL"));
            let mut c = KeepAlive::connect(&host, &format!("{}/health", prefix));
            assert_eq!(c.get(), 200);
            sleep_until_ms(start);
            while now_ms() < end {
                assert_eq!(c.get(), 200);
                count += 1;
            }
        }
        _ => panic!("unknown worker mode {}", mode),
    }
    println!("{}", count);
}

/// The backend's open connections, not counting this probe's.
fn backend_open(host: &str, prefix: &str) -> i64 {
    let mut c = KeepAlive::connect(host, &format!("{}/_debug/connections?probe=1", prefix));
    c.r.get_mut().write_all(&c.request.clone()).unwrap();
    let mut head = String::new();
    loop {
        let mut line = String::new();
        c.r.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim().parse().unwrap())
        })
        .expect("Content-Length");
    let mut body = vec![0u8; len];
    c.r.read_exact(&mut body).unwrap();
    let v = phantompool::Value::parse(std::str::from_utf8(&body).unwrap()).unwrap();
    v["open"].as_i64().expect("open")
}

/// One round of `procs` workers in `mode`: (requests per second, backend
/// connections open mid-run).
fn round(mode: &str, procs: usize, secs: u64, host: &str, prefix: &str) -> (f64, i64) {
    let start = now_ms() + 700; // time for every worker to start and warm up
    let end = start + secs * 1000;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..procs)
        .map(|_| {
            Command::new(&exe)
                .args(["--worker", mode, &start.to_string(), &end.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    sleep_until_ms(start + secs * 500);
    let open = backend_open(host, prefix);
    let mut total = 0u64;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a {} worker failed", mode);
        total += String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().unwrap();
    }
    (total as f64 / secs as f64, open)
}

fn throughput() {
    let procs = 16;
    let secs: u64 = std::env::var("BENCH_RUST_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let (host, prefix) = split_url(&std::env::var("PHANTOMDB_URL").expect("PHANTOMDB_URL (run under tests/with-pool)"));
    let pool = create_pool().expect("create_pool");
    let slots = pool.status().unwrap().max;
    let (mut pool_rps, mut tcp_rps, mut pool_open, mut tcp_open) = (vec![], vec![], vec![], vec![]);
    let mut c_rps = vec![];
    // Warm-up: the daemon opens its connections (up to its slots) on demand.
    round("c_pp_do", procs, 1, &host, &prefix);
    for k in 0..3 {
        // The binding and plain C take turns going first.
        if k % 2 == 1 {
            c_rps.push(round("c_pp_do", procs, secs, &host, &prefix).0);
        }
        let (r, o) = round("pool", procs, secs, &host, &prefix);
        pool_rps.push(r);
        pool_open.push(o as f64);
        if k % 2 == 0 {
            c_rps.push(round("c_pp_do", procs, secs, &host, &prefix).0);
        }
        // The daemon's own connections stay open while the direct clients
        // run: count them just before, and report the direct clients' own.
        let idle = backend_open(&host, &prefix);
        let (r, o) = round("tcp", procs, secs, &host, &prefix);
        tcp_rps.push(r);
        tcp_open.push((o - idle) as f64);
    }
    let (p, t) = (median(pool_rps), median(tcp_rps));
    println!("rust_pool_slots {} slots", slots);
    println!("rust_pool_16proc_throughput {:.0} req/s", p);
    println!("rust_tcp_keepalive_16proc_throughput {:.0} req/s", t);
    println!("rust_pool_vs_tcp_ratio {:.2} x", p / t);
    let c = median(c_rps);
    println!("c_pp_do_16proc_throughput {:.0} req/s", c);
    println!("rust_pool_vs_c_pp_do_ratio {:.2} x", p / c);
    println!("rust_pool_16proc_backend_connections {:.0} conns", median(pool_open));
    println!(
        "rust_tcp_keepalive_16proc_backend_connections {:.0} conns",
        median(tcp_open)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "--worker" {
        worker(&args[2], args[3].parse().unwrap(), args[4].parse().unwrap());
        return;
    }
    overhead();
    throughput();
}
