//! A dead daemon is a clear error (PP_EDAEMON), and the next call after a
//! daemon starts again works, on the same Pool.  Its own test binary:
//! it kills the pool's daemon, which the other tests share.
mod common;

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{send_signal, with_pool_env, SIGKILL, SIGTERM};
use phantompool::{create_pool, Client, ErrorCode};

/// Start the daemon again with tests/with-pool's own command line.
fn restart_daemon() -> Child {
    let cmd = with_pool_env("PP_WITH_POOL_DAEMON_CMD");
    Command::new("sh")
        .arg("-c")
        .arg(format!("exec {}", cmd))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh")
}

/// Wait until phantompool-shmdump sees the pool served (as with-pool does).
fn wait_until_served(pool: &str) {
    let dump = format!("{}/phantompool-shmdump", with_pool_env("PP_BUILD"));
    let t0 = Instant::now();
    loop {
        let ok = Command::new(&dump)
            .args(["-p", pool])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the restarted daemon did not come up"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until pid has died (gone, or a zombie not reaped yet).
fn wait_until_dead(pid: i32) {
    let t0 = Instant::now();
    loop {
        match std::fs::read_to_string(format!("/proc/{}/stat", pid)) {
            Err(_) => return,
            // "pid (comm) S ...": the state follows the last ')'.
            Ok(stat) if stat.rsplit(')').next().map(|r| r.trim_start().starts_with('Z')) == Some(true) => return,
            Ok(_) => {}
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "the daemon {} did not die", pid);
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn dead_daemon_is_pp_edaemon_and_the_next_call_after_a_restart_works() {
    let name = with_pool_env("PHANTOMPOOL");
    let pool = create_pool().unwrap();
    // The serving daemon's own pid, from the segment.  (tests/with-pool's
    // PP_WITH_POOL_DAEMON_PID is the pid of the subshell that runs it.)
    let pid = pool.status().unwrap().daemon_pid;
    assert!(pid > 0);
    assert_eq!(pool.health().unwrap()["status"].as_str(), Some("healthy"));
    let gen1 = pool.status().unwrap().generation;
    let held = pool.acquire(Duration::from_secs(5)).unwrap();

    assert!(send_signal(pid, SIGKILL), "cannot kill the daemon {}", pid);
    wait_until_dead(pid);

    // A held seat: its next request fails with PP_EDAEMON, promptly.
    let t0 = Instant::now();
    let e = held.health().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Daemon), "{}", e);
    assert!(t0.elapsed() < Duration::from_secs(3), "took {:?}", t0.elapsed());
    assert!(e.to_string().starts_with("PP_EDAEMON (-6): "), "{}", e);
    // `held` is kept across the restart: see below.

    // One-shot calls, a new lease and status(): PP_EDAEMON as well.
    let t0 = Instant::now();
    assert_eq!(pool.health().unwrap_err().code(), Some(ErrorCode::Daemon));
    assert_eq!(
        pool.acquire(Duration::from_secs(5)).unwrap_err().code(),
        Some(ErrorCode::Daemon)
    );
    assert_eq!(pool.status().unwrap_err().code(), Some(ErrorCode::Daemon));
    assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());

    let mut daemon = restart_daemon();
    wait_until_served(&name);

    // The very next call works, on the same Pool: the library re-attaches.
    let r = pool.health();
    assert_eq!(r.as_ref().map(|v| v["status"].as_str()), Ok(Some("healthy")), "{:?}", r);
    let st = pool.status().unwrap();
    assert_ne!(st.generation, gen1);
    assert_eq!(st.daemon_pid as u32, daemon.id());
    // The guard held across it is done for, and its release is no error:
    // its seat went with the dead daemon's segment (README: not PP_ELOST
    // nor PP_EDAEMON).
    assert_eq!(held.health().unwrap_err().code(), Some(ErrorCode::State));
    assert_eq!(held.release(), Ok(()));
    let conn = pool.acquire(Duration::from_secs(5)).unwrap();
    assert_eq!(conn.health().unwrap()["status"].as_str(), Some("healthy"));
    conn.release().unwrap();

    // Stop the daemon we started (tests/with-pool would too, by its pidfile).
    send_signal(daemon.id() as i32, SIGTERM);
    let t0 = Instant::now();
    while daemon.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = daemon.kill();
            let _ = daemon.wait();
            panic!("the restarted daemon did not stop on SIGTERM");
        }
        thread::sleep(Duration::from_millis(20));
    }
}
