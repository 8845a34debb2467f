//! Rust binding of libphantompool: PhantomDB connections from the host's
//! shared pool (`phantompoold`), in the shape of the PhantomDB Rust client's
//! pool: `create_pool()`, `acquire()` returning a guard that releases on
//! drop, the PhantomDB methods, `status()`.
//!
//! ```no_run
//! use phantompool::{create_pool, Client};
//! use std::time::Duration;
//!
//! # fn main() -> phantompool::Result<()> {
//! let pool = create_pool()?;                  // $PHANTOMPOOL, else "default"
//! println!("{}", pool.health()?);             // one call, one seat
//!
//! let conn = pool.acquire(Duration::from_secs(30))?;  // hold a seat
//! conn.create_database("shop")?;
//! let rows = conn.query("shop", "SELECT 1", &[])?;
//! println!("{}", rows["rowCount"]);
//! # Ok(())
//! # }                                           // seat released here (Drop)
//! ```
//!
//! Threads: [`Pool`] is `Send + Sync` and cheap to clone.  A
//! [`PooledConnection`] is `!Send`: the C library binds a lease to the OS
//! thread that took it, so the guard cannot leave that thread:
//!
//! ```compile_fail,E0277
//! fn assert_send<T: Send>() {}
//! assert_send::<phantompool::PooledConnection>();
//! ```
//!
//! Nor can another thread borrow it (it is `!Sync`), e.g. a scoped thread:
//!
//! ```compile_fail,E0277
//! fn lend(conn: &phantompool::PooledConnection) {
//!     std::thread::scope(|s| {
//!         s.spawn(|| conn.slot());
//!     });
//! }
//! ```
//!
//! and the streams that borrow it stay on its thread too:
//!
//! ```compile_fail,E0277
//! fn assert_send<T: Send>() {}
//! assert_send::<phantompool::RequestStream<'static>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn assert_send<T: Send>() {}
//! assert_send::<phantompool::ResponseStream<'static>>();
//! ```
//!
//! Calls block the calling thread (the library is synchronous; an async
//! program runs them on a blocking thread, e.g. `spawn_blocking`, and
//! takes and drops a guard inside one such call).
//!
//! Errors carry the C library's `PP_E*` code and its `pp_strerror` text
//! ([`Error::Pool`]), or PhantomDB's HTTP error ([`Error::Http`]).
//! JSON is this crate's small [`Value`] type (no serde offline).

mod client;
mod error;
pub mod ffi;
pub mod json;
mod pool;
mod request;

pub use client::{escape, Client, Column, RowQuery};
pub use error::{Error, ErrorCode, Result};
pub use json::Value;
pub use pool::{create_pool, Pool, PoolStatus, PooledConnection, RequestStream, ResponseStream};
pub use request::{Request, Response};

/// `PP_VERSION_NUMBER` of the libphantompool actually loaded
/// (major * 10000 + minor * 100 + patch).
pub fn library_version() -> i32 {
    // SAFETY: no preconditions.
    unsafe { ffi::pp_version() }
}

/// Everything a typical program uses.
pub mod prelude {
    pub use crate::{create_pool, Client, Column, Error, ErrorCode, Pool, PooledConnection, Request, RowQuery, Value};
}

/// The README's example compiles (a doc test; `no_run`: it needs a pool).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
