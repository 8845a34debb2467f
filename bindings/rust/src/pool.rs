//! Pool (an attached `pp_pool`), its status, and the lease guard.
use std::ffi::CString;
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::raw::c_int;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{check, check_attach, lib_error, Error, ErrorCode, Result};
use crate::ffi;
use crate::request::{duration_ms, Request, Response};

/// The attachment, shared by the Pool's clones and by every guard (a
/// lease points into the attachment's memory, so it must outlive them).
struct Attached {
    raw: *mut ffi::pp_pool,
    /// pp_abi_size(PP_ABI_STATUS) of the loaded library (>= ours).
    status_size: usize,
}

// SAFETY: the header states that a pp_pool handle is thread-safe: any
// number of threads may use it at once; pp_detach runs once, at the last drop.
unsafe impl Send for Attached {}
unsafe impl Sync for Attached {}

impl Drop for Attached {
    fn drop(&mut self) {
        // SAFETY: raw came from pp_attach and no guard is left (each holds an Arc).
        unsafe { ffi::pp_detach(self.raw) }
    }
}

/// A handle on a phantompool pool (the host's `phantompoold`).  Cheap to
/// clone (clones share one attachment) and `Send + Sync`: share it between
/// threads freely.  Detaches when the last clone and the last guard are gone.
///
/// When the daemon dies, calls fail with `PP_EDAEMON`; when a daemon
/// serves the pool again, the next call re-attaches by itself.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Attached>,
}

/// Refuse a library whose structs differ from the binding's declarations.
fn check_abi() -> Result<usize> {
    for &(what, id, ours) in ffi::FIXED_STRUCTS {
        // SAFETY: pp_abi_size has no preconditions.
        let lib = unsafe { ffi::pp_abi_size(id) };
        if lib != ours {
            return Err(Error::Abi {
                what,
                binding: ours,
                library: lib,
            });
        }
    }
    // pp_pool_status may have grown at its end: we read only our prefix
    // (see Pool::status), so a larger library struct is fine.
    let lib = unsafe { ffi::pp_abi_size(ffi::PP_ABI_STATUS) };
    let ours = size_of::<ffi::pp_pool_status>();
    if lib < ours {
        return Err(Error::Abi {
            what: "pp_pool_status",
            binding: ours,
            library: lib,
        });
    }
    Ok(lib)
}

/// Attach to the pool named by `$PHANTOMPOOL`, else "default" (the seed
/// clients' `create_pool()`; the daemon holds the pool's settings).
pub fn create_pool() -> Result<Pool> {
    Pool::attach(None)
}

impl Pool {
    /// Attach to the pool `name` (`""` means `$PHANTOMPOOL`, else "default").
    /// Fails with PP_ENAME, PP_ENOPOOL (no daemon created it), PP_EACCES,
    /// PP_EVERSION, PP_ECORRUPT, PP_EDAEMON (left by a dead daemon, or still
    /// starting), PP_ENOMEM, PP_ESYS (a system call on the segment failed;
    /// the detail names it), or `Error::Abi`.
    pub fn open(name: &str) -> Result<Pool> {
        Pool::attach(Some(name))
    }

    fn attach(name: Option<&str>) -> Result<Pool> {
        let status_size = check_abi()?;
        let cname = match name {
            Some(n) => {
                Some(CString::new(n).map_err(|_| Error::with(ErrorCode::Name, "pool name contains a NUL byte"))?)
            }
            None => None,
        };
        let mut raw = ptr::null_mut();
        // SAFETY: cname outlives the call; raw is written on success.
        check_attach(unsafe { ffi::pp_attach(cname.as_ref().map_or(ptr::null(), |c| c.as_ptr()), &mut raw) })?;
        Ok(Pool {
            inner: Arc::new(Attached { raw, status_size }),
        })
    }

    /// Lease a seat, waiting up to `timeout` (`Duration::ZERO`: don't
    /// wait; rounded up to whole milliseconds, at most ~24 days).  Fails
    /// with PP_ETIMEDOUT, PP_EDAEMON, PP_ESHUTDOWN.  The guard releases the
    /// seat when dropped; it must stay on this thread (it is `!Send`).
    pub fn acquire(&self, timeout: Duration) -> Result<PooledConnection> {
        self.lease_ms(duration_ms(timeout))
    }

    /// Lease a seat, waiting as long as it takes (or until the daemon dies).
    pub fn acquire_forever(&self) -> Result<PooledConnection> {
        self.lease_ms(-1)
    }

    fn lease_ms(&self, ms: c_int) -> Result<PooledConnection> {
        let mut l = ptr::null_mut();
        // SAFETY: the handle is live (we hold the Arc).
        check(unsafe { ffi::pp_lease(self.inner.raw, ms, &mut l) })?;
        Ok(PooledConnection {
            lease: l,
            pool: self.inner.clone(),
            _not_send: PhantomData,
        })
    }

    /// The pool's figures now (the seed's `get_status()` plus counters).
    pub fn status(&self) -> Result<PoolStatus> {
        // A buffer of the library's size, 8-byte aligned, so a newer
        // library may write fields we do not know; we read our prefix.
        let words = (self.inner.status_size + 7) / 8;
        let mut buf = vec![0u64; words];
        let out = buf.as_mut_ptr() as *mut ffi::pp_pool_status;
        // SAFETY: buf holds status_size bytes, aligned for the struct.
        check(unsafe { ffi::pp_status(self.inner.raw, out) })?;
        // SAFETY: the prefix is initialised (zeroed, then written by the library).
        let s = unsafe { ptr::read(out) };
        Ok(PoolStatus::from(s))
    }

    /// One request on a seat leased for it (C `pp_do`: lease within the
    /// pool's acquire timeout, send, read the whole response, release).
    /// Any HTTP status is a success here; see [`Response::into_json`].
    pub fn request(&self, req: &Request) -> Result<Response> {
        let mut resp = Response::empty();
        // SAFETY: the pp_req and resp are valid for the call.
        let rc = req.with_c(|c| unsafe { ffi::pp_do(self.inner.raw, c, resp.raw_mut()) })?;
        check(rc)?;
        Ok(resp)
    }

    /// The raw `pp_pool *` (for calling the C library directly).
    pub fn as_raw(&self) -> *mut ffi::pp_pool {
        self.inner.raw
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("raw", &self.inner.raw).finish()
    }
}

/// The pool's status, as `pp_pool_status` (see phantompool.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Seats free to lease now.
    pub available: u32,
    /// Seats leased (or being reclaimed).
    pub used: u32,
    /// Connections the daemon keeps warm.
    pub min: u32,
    /// Seats (`--seats`): the most leases held at once.
    pub max: u32,
    /// Workers waiting for a lease now.
    pub waiting: u32,
    pub daemon_pid: i32,
    /// Changes at every daemon start.
    pub generation: u64,
    pub leases: u64,
    pub lease_timeouts: u64,
    /// Seats reclaimed from dead holders.
    pub reclaims: u64,
    pub lease_waits: u64,
    pub lease_wait_p50_ns: u64,
    pub lease_wait_p99_ns: u64,
    pub lease_wait_max_ns: u64,
    pub requests: u64,
    pub errors: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub connects: u64,
    pub reconnects: u64,
    pub health_checks: u64,
    pub health_failures: u64,
    pub backend_failovers: u64,
    pub backend_index: u32,
    pub backend_up: bool,
    pub uptime: Duration,
    /// Backend connections the daemon opens at most (`--max`).
    pub conns_max: u32,
    /// Backend connections open now.
    pub conns_open: u32,
    /// ... serving an exchange or a health check now.
    pub conns_busy: u32,
    /// Exchanges waiting for an idle connection now.
    pub queued: u32,
    /// Exchanges that waited for a connection, and the wait's estimates.
    pub queue_waits: u64,
    pub queue_wait_p50_ns: u64,
    pub queue_wait_p99_ns: u64,
    pub queue_wait_max_ns: u64,
}

impl From<ffi::pp_pool_status> for PoolStatus {
    fn from(s: ffi::pp_pool_status) -> PoolStatus {
        PoolStatus {
            available: s.available,
            used: s.used,
            min: s.min,
            max: s.max,
            waiting: s.waiting,
            daemon_pid: s.daemon_pid,
            generation: s.generation,
            leases: s.leases,
            lease_timeouts: s.lease_timeouts,
            reclaims: s.reclaims,
            lease_waits: s.lease_waits,
            lease_wait_p50_ns: s.lease_wait_p50_ns,
            lease_wait_p99_ns: s.lease_wait_p99_ns,
            lease_wait_max_ns: s.lease_wait_max_ns,
            requests: s.requests,
            errors: s.errors,
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            connects: s.connects,
            reconnects: s.reconnects,
            health_checks: s.health_checks,
            health_failures: s.health_failures,
            backend_failovers: s.backend_failovers,
            backend_index: s.backend_index,
            backend_up: s.backend_up != 0,
            uptime: Duration::from_nanos(s.uptime_ns),
            conns_max: s.conns_max,
            conns_open: s.conns_open,
            conns_busy: s.conns_busy,
            queued: s.queued,
            queue_waits: s.queue_waits,
            queue_wait_p50_ns: s.queue_wait_p50_ns,
            queue_wait_p99_ns: s.queue_wait_p99_ns,
            queue_wait_max_ns: s.queue_wait_max_ns,
        }
    }
}

/// A leased seat: requests on it reuse one warm connection.  Released when
/// dropped (or by [`release`](Self::release), which reports the outcome).
///
/// It is `!Send` and `!Sync`: the C library binds a lease to the OS
/// thread that took it (a robust mutex held by that thread is how the
/// daemon notices the holder's death), and refuses it on any other thread
/// with PP_ENOTOWNER.  The compiler enforces that here.
pub struct PooledConnection {
    lease: *mut ffi::pp_lease,
    pool: Arc<Attached>,
    /// Raw pointers already make the type !Send and !Sync; this says why.
    _not_send: PhantomData<*mut ()>,
}

impl PooledConnection {
    /// Send one request on this seat and read the whole response.  Any
    /// HTTP status is a success here.  After an error the lease stays
    /// usable for the next request, unless the error left the rings in
    /// doubt (`pp_request` in phantompool.h: a malformed response, the
    /// daemon gone, no answer at all): then every call but the release
    /// fails with the state error; drop the connection and lease again.
    pub fn request(&self, req: &Request) -> Result<Response> {
        let mut resp = Response::empty();
        // SAFETY: the lease is live (not released) and on its own thread.
        let rc = req.with_c(|c| unsafe { ffi::pp_request(self.lease, c, resp.raw_mut()) })?;
        check(rc)?;
        Ok(resp)
    }

    /// The slot index this lease holds (for logs).
    pub fn slot(&self) -> i32 {
        // SAFETY: the lease is live.
        unsafe { ffi::pp_lease_slot(self.lease) }
    }

    /// Release now and report the outcome: PP_ELOST if a daemon had
    /// already taken the seat back (it found it scribbled on, or a new
    /// daemon took over the segment).  A seat whose daemon died is
    /// released with `Ok(())`: nobody reclaimed it.
    pub fn release(mut self) -> Result<()> {
        let l = std::mem::replace(&mut self.lease, ptr::null_mut());
        // SAFETY: l is live and ours; drop() sees null and does nothing.
        check(unsafe { ffi::pp_release(l) })
    }

    /// The pool this lease was taken from.
    pub fn pool(&self) -> Pool {
        Pool {
            inner: self.pool.clone(),
        }
    }

    /// Start a streamed request: the head now, then the body through the
    /// returned writer (`io::Write`), of exactly `body_len` bytes, or of
    /// any length with `None`.  The request's own body is ignored.
    pub fn stream(&mut self, req: &Request, body_len: Option<u64>) -> Result<RequestStream<'_>> {
        let len = match body_len {
            Some(n) if n > i64::MAX as u64 => return Err(Error::with(ErrorCode::TooBig, "body length over i64")),
            Some(n) => n as i64,
            None => -1,
        };
        // SAFETY: the lease is live and on its own thread.
        let rc = req.with_c(|c| unsafe { ffi::pp_stream_begin(self.lease, c, len) })?;
        check(rc)?;
        Ok(RequestStream { conn: self })
    }

    /// The raw `struct pp_lease *` (valid until this guard is released).
    pub fn as_raw(&self) -> *mut ffi::pp_lease {
        self.lease
    }
}

impl Drop for PooledConnection {
    /// Releases the seat.  Never panics: an error (PP_ELOST, say) has
    /// nothing left to release; use `release()` to see it.
    fn drop(&mut self) {
        if !self.lease.is_null() {
            // SAFETY: the lease is live; !Send keeps us on its thread.
            let _ = unsafe { ffi::pp_release(self.lease) };
        }
    }
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection").field("slot", &self.slot()).finish()
    }
}

/// The body of a streamed request (`io::Write`); [`finish`](Self::finish)
/// ends it and waits for the response head.  Dropping it unfinished leaves
/// the exchange half done: releasing the lease then makes the daemon reset
/// the connection, and a new request on the lease fails with PP_ESTATE.
pub struct RequestStream<'a> {
    conn: &'a mut PooledConnection,
}

impl<'a> RequestStream<'a> {
    /// End the request body and wait for the response head.  Returns the
    /// head (status, content type, request id; empty body) and a reader
    /// for the body.
    pub fn finish(self) -> Result<(Response, ResponseStream<'a>)> {
        let mut head = Response::empty();
        // SAFETY: the lease is live and on its own thread.
        check(unsafe { ffi::pp_stream_read_head(self.conn.lease, head.raw_mut()) })?;
        Ok((head, ResponseStream { conn: self.conn }))
    }
}

impl std::io::Write for RequestStream<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: buf is valid for buf.len() bytes.
        check(unsafe { ffi::pp_stream_write(self.conn.lease, buf.as_ptr().cast(), buf.len()) })?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The body of a streamed response (`io::Read`; 0 at its end).  Dropping
/// it before its end leaves the exchange half done, as an unfinished
/// [`RequestStream`] does: a new request on the lease fails with
/// PP_ESTATE, and releasing it makes the daemon reset the connection.
pub struct ResponseStream<'a> {
    conn: &'a mut PooledConnection,
}

impl std::io::Read for ResponseStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: buf is valid for writing buf.len() bytes.
        let n = unsafe { ffi::pp_stream_read(self.conn.lease, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(lib_error(n as i32).into());
        }
        Ok(n as usize)
    }
}
