//! The binding against a real pool: phantompoold in front of the reference
//! backend, both started by tests/with-pool (make check-rust).
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{serial, unique};
use phantompool::{create_pool, Client, Column, Error, ErrorCode, Pool, Request, RowQuery, Value};

const LONG: Duration = Duration::from_secs(30);

fn pool() -> Pool {
    create_pool().expect("create_pool (is the pool up?)")
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

fn names(rows: &Value, key: &str) -> String {
    rows[key]
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("?").to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The daemon's count of exchanges, once it stops moving (it counts an
/// exchange just after answering it).
fn settled_requests(p: &Pool) -> u64 {
    let mut last = p.status().unwrap().requests;
    loop {
        thread::sleep(Duration::from_millis(30));
        let now = p.status().unwrap().requests;
        if now == last {
            return now;
        }
        last = now;
    }
}

fn http_status(r: phantompool::Result<Value>) -> u16 {
    match r {
        Err(Error::Http { status, .. }) => status,
        other => panic!("expected an HTTP error, got {:?}", other),
    }
}

#[test]
fn pool_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Pool>();
    assert_send_sync::<phantompool::Response>();
}

#[test]
fn health_one_shot_and_on_a_held_seat() {
    let _s = serial();
    let p = pool();
    assert_eq!(p.health().unwrap(), obj(&[("status", "healthy".into())]));
    let conn = p.acquire(LONG).unwrap();
    assert!(conn.slot() >= 0);
    for _ in 0..3 {
        assert_eq!(conn.health().unwrap()["status"].as_str(), Some("healthy"));
    }
    conn.release().unwrap();
}

#[test]
fn databases_tables_rows_and_queries() {
    let _s = serial();
    let p = pool();
    let db = unique("rs_db");
    let conn = p.acquire(LONG).unwrap();

    let d = conn.create_database(&db).unwrap();
    assert_eq!(d["name"].as_str(), Some(db.as_str()));
    let e = conn.create_database(&db).unwrap_err();
    match &e {
        Error::Http {
            status: 409,
            code: Some(c),
            ..
        } => assert_eq!(c, "CONFLICT"),
        other => panic!("second create_database: {:?}", other),
    }
    assert!(
        e.to_string().starts_with("PhantomDB answered HTTP 409: CONFLICT"),
        "{}",
        e
    );
    let list = p.list_databases().unwrap();
    assert!(list["databases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"].as_str() == Some(&db)));
    assert_eq!(p.get_database(&db).unwrap()["name"].as_str(), Some(db.as_str()));

    let cols = [
        Column::new("id", "INTEGER").primary_key(),
        Column::new("name", "TEXT").not_null(),
        Column::new("age", "INTEGER").default(0),
        Column::new("note", "TEXT").default("n/a"),
    ];
    let t = conn.create_table(&db, "people", &cols).unwrap();
    assert_eq!(t["columns"][0]["primaryKey"], Value::Bool(true));
    assert_eq!(t["columns"][3]["defaultValue"].as_str(), Some("n/a"));
    assert_eq!(http_status(conn.create_table(&db, "people", &cols)), 409);
    assert_eq!(names(&conn.list_tables(&db).unwrap(), "tables"), "people");
    assert_eq!(conn.get_table(&db, "people").unwrap()["rowCount"].as_i64(), Some(0));

    let people: Vec<Value> = [("ann", 30), ("bob", 25), ("cid", 35), ("dan", 40), ("eve", 45)]
        .iter()
        .enumerate()
        .map(|(i, (n, a))| {
            obj(&[
                ("id", (i as i64 + 1).into()),
                ("name", (*n).into()),
                ("age", (*a).into()),
            ])
        })
        .collect();
    assert_eq!(
        conn.insert_rows(&db, "people", &people).unwrap()["inserted"].as_i64(),
        Some(5)
    );
    let all = conn.get_rows(&db, "people", &RowQuery::default()).unwrap();
    assert_eq!(all["count"].as_i64(), Some(5));
    let q = RowQuery {
        where_: Some("age >= 35".into()),
        order_by: Some("age DESC".into()),
        limit: 2,
        offset: 1,
    };
    assert_eq!(names(&conn.get_rows(&db, "people", &q).unwrap(), "rows"), "dan,cid");
    assert_eq!(
        http_status(conn.get_rows(
            &db,
            "people",
            &RowQuery {
                where_: Some("nope = 1".into()),
                ..Default::default()
            }
        )),
        400
    );

    let r = p
        .query(
            &db,
            "SELECT name, age FROM people WHERE age > ? AND name <> ? ORDER BY age",
            &[30.into(), "eve".into()],
        )
        .unwrap();
    assert_eq!(
        r["rows"],
        Value::from(vec![
            Value::from(vec![Value::from("cid"), 35.into()]),
            Value::from(vec![Value::from("dan"), 40.into()])
        ])
    );
    assert_eq!(r["rowCount"].as_i64(), Some(2));
    let tricky = "quote\" back\\slash \u{e9} \n";
    let r = p.query(&db, "SELECT ? AS s", &[tricky.into()]).unwrap();
    assert_eq!(r["rows"][0][0].as_str(), Some(tricky));
    assert_eq!(http_status(p.query(&db, "SELEKT nothing", &[])), 400);

    // The existing clients' calls: insert / select / update / delete.
    conn.create_table(
        &db,
        "items",
        &[
            Column::new("id", "INTEGER").primary_key(),
            Column::new("name", "TEXT"),
            Column::new("qty", "INTEGER"),
        ],
    )
    .unwrap();
    assert_eq!(
        conn.insert(&db, "items", &obj(&[("name", "apple".into()), ("qty", 3.into())]))
            .unwrap()["id"]
            .as_i64(),
        Some(1)
    );
    conn.insert(&db, "items", &obj(&[("name", "fig & date".into()), ("qty", 7.into())]))
        .unwrap();
    assert_eq!(
        names(&conn.select(&db, "items", "").unwrap(), "records"),
        "apple,fig & date"
    );
    assert_eq!(
        conn.select(&db, "items", "name = 'fig & date'").unwrap()["records"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        conn.update(&db, "items", &obj(&[("qty", 9.into())]), "name = 'apple'")
            .unwrap()["updated"]
            .as_i64(),
        Some(1)
    );
    assert_eq!(
        conn.delete(&db, "items", "qty > 8").unwrap()["deleted"].as_i64(),
        Some(1)
    );
    assert_eq!(names(&conn.select(&db, "items", "").unwrap(), "records"), "fig & date");

    // Arguments the C library would refuse are PP_EINVAL, and nothing is sent.
    let before = settled_requests(&p);
    assert_eq!(
        conn.insert(&db, "items", &Value::from(3)).unwrap_err().code(),
        Some(ErrorCode::Inval)
    );
    assert_eq!(
        conn.insert_rows(&db, "items", &[Value::Null]).unwrap_err().code(),
        Some(ErrorCode::Inval)
    );
    assert_eq!(
        conn.delete(&db, "items", "").unwrap_err().code(),
        Some(ErrorCode::Inval)
    );
    assert_eq!(conn.get_table("", "items").unwrap_err().code(), Some(ErrorCode::Inval));
    assert_eq!(settled_requests(&p), before);

    assert_eq!(conn.drop_table(&db, "items").unwrap(), Value::Null); // 204
    assert_eq!(http_status(conn.get_table(&db, "items")), 404);
    assert_eq!(conn.drop_database(&db).unwrap(), Value::Null);
    match p.get_database(&db).unwrap_err() {
        Error::Http {
            status: 404,
            code,
            message,
            ..
        } => {
            assert_eq!(code.as_deref(), Some("NOT_FOUND"));
            assert!(message.is_some());
        }
        other => panic!("{:?}", other),
    }
}

/// JSON cannot carry NaN or infinity: a body holding one is refused with
/// PP_EINVAL before anything is sent (as Python and PHP refuse it), not
/// sent with `null` in its place (a row stored with a NULL, an update
/// that overwrote a value with NULL).
#[test]
fn nan_and_infinity_in_a_body_are_refused() {
    let _s = serial();
    let p = pool();
    let db = unique("rs_nan");
    let conn = p.acquire(LONG).unwrap();
    conn.create_database(&db).unwrap();
    conn.create_table(
        &db,
        "m",
        &[Column::new("id", "INTEGER").primary_key(), Column::new("qty", "REAL")],
    )
    .unwrap();
    conn.insert(&db, "m", &obj(&[("id", 1.into()), ("qty", 2.5.into())]))
        .unwrap();
    let before = settled_requests(&p);
    let refused = |r: phantompool::Result<Value>, what: &str| match r {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::Inval), "{}: {}", what, e),
        Ok(v) => panic!("{}: sent, answered {}", what, v),
    };
    refused(
        conn.insert(&db, "m", &obj(&[("id", 2.into()), ("qty", f64::NAN.into())])),
        "insert NaN",
    );
    refused(
        conn.update(&db, "m", &obj(&[("qty", f64::INFINITY.into())]), "id = 1"),
        "update INF",
    );
    refused(
        conn.insert_rows(&db, "m", &[obj(&[("id", 3.into()), ("qty", f64::NEG_INFINITY.into())])]),
        "insert_rows -INF",
    );
    refused(conn.query(&db, "SELECT ?", &[f64::NAN.into()]), "query NaN");
    let e = conn
        .request(&Request::post("/_debug/echo").json(&Value::from(vec![f64::NAN])))
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Inval), "{}", e);
    assert!(e.to_string().contains("NaN or infinity"), "{}", e);
    assert_eq!(settled_requests(&p), before, "nothing sent");
    let rows = conn.select(&db, "m", "").unwrap();
    assert_eq!(rows["records"].as_array().unwrap().len(), 1, "{}", rows);
    assert_eq!(rows["records"][0]["qty"].as_f64(), Some(2.5), "{}", rows);
    conn.drop_database(&db).unwrap();
}

#[test]
fn names_are_escaped_into_the_path() {
    let _s = serial();
    let p = pool();
    // A database whose name needs escaping round-trips by name, and "."
    // does not collapse the path.
    let db = unique("rs db?x&y=é%");
    p.create_database(&db).unwrap();
    assert_eq!(p.get_database(&db).unwrap()["name"].as_str(), Some(db.as_str()));
    p.drop_database(&db).unwrap();
    assert_eq!(http_status(p.get_database(".")), 404);
}

#[test]
fn transactions() {
    let _s = serial();
    let p = pool();
    let a = p.tx_begin().unwrap();
    let b = p.tx_begin().unwrap();
    assert!(!a.is_empty() && a != b);
    assert_eq!(p.tx_commit(&a).unwrap()["status"].as_str(), Some("committed"));
    assert_eq!(p.tx_rollback(&b).unwrap()["status"].as_str(), Some("rolled_back"));
    assert_eq!(http_status(p.tx_commit(&a)), 404);
}

#[test]
fn raw_requests_and_bad_input_codes() {
    let _s = serial();
    let p = pool();
    let conn = p.acquire(LONG).unwrap();
    let r = conn
        .request(
            &Request::post("/_debug/echo")
                .header("Content-Type", "text/plain")
                .header("X-Request-Id", "rs-1")
                .body("hello"),
        )
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), b"hello");
    assert_eq!(r.content_type(), "text/plain");
    // A 404 is a response, not an error, at this level.
    assert_eq!(conn.request(&Request::get("/no/such/route")).unwrap().status(), 404);

    let code = |req: Request| conn.request(&req).unwrap_err().code().unwrap();
    assert_eq!(code(Request::get("no-slash")), ErrorCode::BadPath);
    assert_eq!(code(Request::get("/a b")), ErrorCode::BadPath);
    assert_eq!(code(Request::get("/a\0b")), ErrorCode::BadPath);
    assert_eq!(code(Request::new("G T", "/health")), ErrorCode::BadMethod);
    assert_eq!(
        code(Request::get("/health").header("Authorization", "Bearer x")),
        ErrorCode::BadHeader
    );
    // After those errors the lease still works.
    assert_eq!(conn.health().unwrap()["status"].as_str(), Some("healthy"));

    let e = Pool::open("no such pool").unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Name));
    assert!(e.to_string().contains("\"no such pool\" (given by the caller) is not 1..40"), "{}", e);
    let name = unique("rs-nopool");
    let e = Pool::open(&name).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NoPool));
    assert!(e.to_string().starts_with("PP_ENOPOOL (-2): "), "{}", e);
    // The library's pp_error_detail(): the segment path and the hint.
    let want = format!("no segment /dev/shm/phantompool-{}", name);
    assert!(e.to_string().contains(&want), "{}", e);
    assert!(e.to_string().contains("pass the pool name explicitly"), "{}", e);
}

#[test]
fn status_counts_leases_and_acquire_times_out() {
    let _s = serial();
    let p = pool();
    let st = p.status().unwrap();
    assert_eq!(st.used, 0);
    assert!(st.max >= 2 && st.available == st.max, "{:?}", st);
    assert!(st.daemon_pid > 0 && st.backend_up);
    assert!(st.conns_max >= 2 && st.conns_open >= 1 && st.conns_open <= st.conns_max, "{:?}", st);

    let mut held = Vec::new();
    for i in 0..st.max {
        held.push(p.acquire(LONG).unwrap());
        let now = p.status().unwrap();
        assert_eq!(now.used, i + 1);
        assert_eq!(now.available, st.max - i - 1);
    }
    let t0 = Instant::now();
    let e = p.acquire(Duration::from_millis(100)).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TimedOut), "{}", e);
    assert!(t0.elapsed() >= Duration::from_millis(95), "{:?}", t0.elapsed());
    assert_eq!(p.acquire(Duration::ZERO).unwrap_err().code(), Some(ErrorCode::TimedOut));
    let after = p.status().unwrap();
    assert!(after.lease_timeouts >= st.lease_timeouts + 2);

    drop(held);
    let end = p.status().unwrap();
    assert_eq!((end.used, end.available), (0, st.max));
    assert!(end.leases >= st.leases + st.max as u64);
}

#[test]
fn many_threads_share_one_pool() {
    let _s = serial();
    let p = pool();
    let before = settled_requests(&p);
    let threads: Vec<_> = (0..12)
        .map(|i| {
            let p = p.clone();
            thread::spawn(move || {
                for k in 0..40 {
                    if k % 2 == 0 {
                        assert_eq!(p.health().unwrap()["status"].as_str(), Some("healthy"));
                    } else {
                        let c = p.acquire(LONG).unwrap();
                        let body = format!("t{}k{}", i, k);
                        let r = c.request(&Request::post("/_debug/echo").body(body.clone())).unwrap();
                        assert_eq!(r.body(), body.as_bytes());
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // The daemon counts an exchange just after it answers: allow it a moment.
    assert_eq!(settled_requests(&p) - before, 12 * 40);
    assert_eq!(p.status().unwrap().used, 0);
}

/// The guard cannot leave its thread (compile-time, see the crate's
/// compile_fail doc test); here is why: the C library itself refuses a
/// lease used or released from another thread.
#[test]
fn a_lease_belongs_to_its_thread() {
    let _s = serial();
    let p = pool();
    let conn = p.acquire(LONG).unwrap();
    struct Raw(*mut phantompool::ffi::pp_lease);
    unsafe impl Send for Raw {}
    let raw = Raw(conn.as_raw());
    let rc = thread::spawn(move || {
        let raw = raw;
        unsafe { phantompool::ffi::pp_release(raw.0) }
    })
    .join()
    .unwrap();
    assert_eq!(ErrorCode::from_raw(rc), ErrorCode::NotOwner);
    assert_eq!(conn.health().unwrap()["status"].as_str(), Some("healthy"));
    conn.release().unwrap();
    assert_eq!(p.status().unwrap().used, 0);
}

#[test]
fn a_panicking_thread_releases_its_seat() {
    let _s = serial();
    let p = pool();
    let p2 = p.clone();
    let r = thread::spawn(move || {
        let _conn = p2.acquire(LONG).unwrap();
        assert_eq!(p2.status().unwrap().used, 1);
        panic!("on purpose, holding a seat");
    })
    .join();
    assert!(r.is_err());
    assert_eq!(p.status().unwrap().used, 0);
}

/// Run by `a_killed_process_loses_its_seat` in a child process.
#[test]
#[ignore = "helper: run by a_killed_process_loses_its_seat"]
fn child_holds_a_seat_until_killed() {
    let p = pool();
    let c = p.acquire(LONG).unwrap();
    println!("LEASED {}", c.slot());
    std::io::stdout().flush().unwrap();
    thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_killed_process_loses_its_seat() {
    let _s = serial();
    let p = pool();
    let before = p.status().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_holds_a_seat_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // The harness prints "test child_... ... " before the child's own line.
    while !line.contains("LEASED") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the child exited before leasing");
    }
    assert_eq!(p.status().unwrap().used, 1);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let t0 = Instant::now();
    loop {
        let st = p.status().unwrap();
        if st.used == 0 {
            assert!(st.reclaims > before.reclaims);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(3), "seat not reclaimed: {:?}", st);
        thread::sleep(Duration::from_millis(10));
    }
    // The seat serves the next worker.
    assert_eq!(p.health().unwrap()["status"].as_str(), Some("healthy"));
}

#[test]
fn streams_bodies_larger_than_the_rings() {
    let _s = serial();
    let p = pool();
    let mut conn = p.acquire(LONG).unwrap();
    let body: Vec<u8> = (0..900_000u32).map(|i| (i * 31 + 7) as u8).collect();
    let req = Request::post("/_debug/echo").header("Content-Type", "application/octet-stream");
    let mut w = conn.stream(&req, Some(body.len() as u64)).unwrap();
    for chunk in body.chunks(70_000) {
        w.write_all(chunk).unwrap();
    }
    let (head, mut r) = w.finish().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.content_type(), "application/octet-stream");
    let mut back = Vec::new();
    r.read_to_end(&mut back).unwrap();
    assert!(back == body, "echoed {} bytes, sent {}", back.len(), body.len());

    // Unknown length, then a download read in small pieces.
    let mut w = conn.stream(&Request::post("/_debug/echo"), None).unwrap();
    w.write_all(b"abc").unwrap();
    w.write_all(b"def").unwrap();
    let (_, mut r) = w.finish().unwrap();
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "abcdef");

    let (head, mut r) = conn
        .stream(&Request::get("/_debug/bytes?bytes=300000"), Some(0))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(head.status(), 200);
    let mut n = 0usize;
    let mut buf = [0u8; 1000];
    loop {
        let k = r.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        for (i, b) in buf[..k].iter().enumerate() {
            assert_eq!(*b, ((n + i) as u32).wrapping_mul(31).wrapping_add(7) as u8);
        }
        n += k;
    }
    assert_eq!(n, 300_000);
    // And the lease goes on with ordinary requests.
    assert_eq!(conn.health().unwrap()["status"].as_str(), Some("healthy"));
}

#[test]
fn a_stream_left_half_done_gives_estate_and_is_reset_on_release() {
    let _s = serial();
    let p = pool();
    let mut conn = p.acquire(LONG).unwrap();
    {
        let mut w = conn.stream(&Request::post("/_debug/echo"), Some(10)).unwrap();
        w.write_all(b"abc").unwrap();
    } // dropped unfinished
    let e = conn.health().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::State), "{}", e);
    drop(conn); // the daemon resets the connection
    let t0 = Instant::now();
    while p.status().unwrap().used != 0 {
        assert!(t0.elapsed() < Duration::from_secs(3));
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(p.health().unwrap()["status"].as_str(), Some("healthy"));

    // A response body left half read: the same.
    let mut conn = p.acquire(LONG).unwrap();
    {
        let mut w = conn.stream(&Request::post("/_debug/echo"), None).unwrap();
        w.write_all(&[b'x'; 200_000]).unwrap();
        let (head, mut r) = w.finish().unwrap();
        assert_eq!(head.status(), 200);
        let mut buf = [0u8; 10];
        assert_eq!(r.read(&mut buf).unwrap(), 10);
    } // dropped before its end
    let e = conn.health().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::State), "{}", e);
    drop(conn);
    let t0 = Instant::now();
    while p.status().unwrap().used != 0 {
        assert!(t0.elapsed() < Duration::from_secs(3));
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(p.health().unwrap()["status"].as_str(), Some("healthy"));
}

extern "C" {
    fn fork() -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn _exit(code: i32) -> !;
}

/// A pre-fork server attaches in the parent: a child forked while the
/// parent holds a seat can use the Pool, but the inherited guard is not
/// its own: its requests fail with PP_ENOTOWNER and dropping it leaves the
/// parent's seat alone (phantompool.h: a lease never crosses a fork).
#[test]
fn a_forked_child_cannot_use_or_release_the_parents_seat() {
    let _s = serial();
    let p = pool();
    let conn = p.acquire(LONG).unwrap();
    // SAFETY: the child calls only the binding and _exit; glibc's fork
    // leaves malloc usable in the child of a threaded process.
    let pid = unsafe { fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = (|| {
            match conn.health() {
                Err(e) if e.code() == Some(ErrorCode::NotOwner) => {}
                _ => return 2,
            }
            drop(conn); // pp_release: PP_ENOTOWNER, nothing changes
            if p.status().map(|s| s.used) != Ok(1) {
                return 3;
            }
            match p.health() {
                Ok(v) if v["status"].as_str() == Some("healthy") => 0,
                _ => 4,
            }
        })();
        unsafe { _exit(code) }
    }
    let mut status = 0;
    assert_eq!(unsafe { waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(status, 0, "child's wait status (exit code << 8)");
    assert_eq!(p.status().unwrap().used, 1);
    assert_eq!(conn.health().unwrap()["status"].as_str(), Some("healthy"));
    conn.release().unwrap();
    assert_eq!(p.status().unwrap().used, 0);
}

/// Bodies: empty (sent with no body pointer), binary with NUL and
/// non-UTF-8 bytes both ways, and one larger than the rings through the
/// plain (non-streamed) request.
#[test]
fn empty_binary_and_large_bodies() {
    let _s = serial();
    let p = pool();
    let conn = p.acquire(LONG).unwrap();
    let echo = |b: Vec<u8>| {
        conn.request(
            &Request::post("/_debug/echo")
                .header("Content-Type", "application/octet-stream")
                .body(b),
        )
        .unwrap()
    };
    let r = echo(Vec::new());
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), b"");
    assert_eq!(r.text().unwrap(), "");
    let bin: Vec<u8> = vec![0, 0xff, 0xfe, b'a', 0, 0x80];
    let r = echo(bin.clone());
    assert_eq!(r.body(), &bin[..]);
    assert_eq!(r.text().unwrap_err().http_status(), Some(200));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 13 + 1) as u8).collect();
    let r = echo(big.clone());
    assert_eq!(r.body().len(), big.len());
    assert!(r.body() == &big[..]);
    assert_eq!(conn.health().unwrap()["status"].as_str(), Some("healthy"));
}

/// The C library keeps the first 127 bytes of a response's Content-Type
/// and X-Request-Id (pp_resp's fixed fields).  A cut through a UTF-8
/// character must not make the whole value vanish ("" means "none").
#[test]
fn a_header_cut_inside_a_character_keeps_its_text() {
    let _s = serial();
    let p = pool();
    let conn = p.acquire(LONG).unwrap();
    let id = "\u{e9}".repeat(64); // 128 bytes: the 127 kept end in half an 'é'
    let r = conn
        .request(&Request::get("/health").header("X-Request-Id", &id))
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.request_id(), "\u{e9}".repeat(63), "request_id of a 128-byte id");
    assert_eq!(r.request_id_bytes(), &id.as_bytes()[..127]);
    let ct = format!("text/plain; x={}", "\u{e9}".repeat(60));
    let r = conn
        .request(&Request::post("/_debug/echo").header("Content-Type", &ct).body("x"))
        .unwrap();
    assert_eq!(r.content_type_bytes(), &ct.as_bytes()[..127]);
    assert_eq!(r.content_type(), std::str::from_utf8(&ct.as_bytes()[..126]).unwrap());
    assert_eq!(r.request_id_bytes().len(), r.request_id().len());
}

/// Content-Type and X-Request-Id are single-valued: a request carries one
/// of each, the caller's own winning over the one `json()` adds, whatever
/// the order (two Content-Type headers reached PhantomDB, which read the
/// first).  Accept is a list: each `header("Accept", ..)` adds one.
#[test]
fn single_valued_headers_are_sent_once() {
    let _s = serial();
    let p = pool();
    let conn = p.acquire(LONG).unwrap();
    let got = |req: Request| {
        let r = conn.request(&req).unwrap();
        assert_eq!(r.status(), 200);
        r.json().unwrap()
    };
    let patch = "application/merge-patch+json";
    let v = Value::from(1);
    let h = got(Request::get("/_debug/headers").header("Content-Type", patch).json(&v));
    assert_eq!(h["content-type"].as_str(), Some(patch), "{}", h);
    let h = got(Request::get("/_debug/headers").json(&v).header("content-type", patch));
    assert_eq!(h["content-type"].as_str(), Some(patch), "{}", h);
    let h = got(Request::get("/_debug/headers").json(&v));
    assert_eq!(h["content-type"].as_str(), Some("application/json"), "{}", h);
    let h = got(Request::get("/_debug/headers")
        .header("X-Request-Id", "a")
        .header("X-Request-Id", "b"));
    assert_eq!(h["x-request-id"].as_str(), Some("b"), "{}", h);
    let h = got(Request::get("/_debug/headers")
        .header("Accept", "text/plain")
        .header("Accept", "application/json"));
    assert_eq!(h["accept"].as_str(), Some("text/plain, application/json"), "{}", h);
}
