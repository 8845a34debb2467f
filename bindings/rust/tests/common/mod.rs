//! Shared by the integration tests: they run against a real pool started
//! by tests/with-pool (make check-rust), which exports PHANTOMPOOL,
//! PHANTOMDB_URL, PP_BUILD and the daemon's pid and restart command.
#![allow(dead_code)]
use std::sync::{Mutex, MutexGuard};

/// Fetch an environment variable tests/with-pool sets, or stop the test
/// saying how to run it.
pub fn with_pool_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "${} is not set: run these tests under tests/with-pool, e.g. `make check-rust` \
             from the top of the tree",
            name
        )
    })
}

static SERIAL: Mutex<()> = Mutex::new(());

/// The tests of one binary share one pool and look at its counters: each
/// holds this lock so that they run one at a time (a failed test's
/// poisoned lock is taken over: its failure is reported on its own).
pub fn serial() -> MutexGuard<'static, ()> {
    with_pool_env("PHANTOMPOOL");
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A database name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}_{}",
        prefix,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

/// kill(2); true if the signal was sent.
pub fn send_signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill has no memory preconditions.
    unsafe { kill(pid, sig) == 0 }
}
