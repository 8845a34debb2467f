//! The C API of `include/phantompool.h`, declared by hand: only what the
//! binding calls.  The typed C helpers (pp_health, pp_insert...) and
//! `pp_column` are not declared: the binding builds those requests itself
//! (src/client.rs) so that they run on a held lease as well as one-shot.
//!
//! Two checks keep these declarations honest:
//! - at run time, `Pool::open` compares each struct's size with the loaded
//!   library's `pp_abi_size()` and refuses a mismatch (`Error::Abi`);
//! - at test time, `tests::layout_matches_header` compares every size and
//!   field offset with the header, as compiled by build.rs (abi/layout.c).
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_long, c_void};

pub const PP_ABI_REQ: c_int = 1;
pub const PP_ABI_RESP: c_int = 2;
pub const PP_ABI_HEADER: c_int = 3;
pub const PP_ABI_STATUS: c_int = 4;

/// Opaque `pp_pool`.
#[repr(C)]
pub struct pp_pool {
    _private: [u8; 0],
}

/// Opaque `struct pp_lease`.
#[repr(C)]
pub struct pp_lease {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct pp_header {
    pub name: *const c_char,
    pub value: *const c_char,
}

#[repr(C)]
pub struct pp_req {
    pub method: *const c_char,
    pub path: *const c_char,
    pub headers: *const pp_header,
    pub nheaders: usize,
    pub body: *const c_void,
    pub body_len: usize,
    pub timeout_ms: c_int,
}

#[repr(C)]
pub struct pp_resp {
    pub status: c_int,
    pub content_type: [c_char; 128],
    pub request_id: [c_char; 128],
    pub body: *mut c_char,
    pub body_len: usize,
}

/// The fields of `pp_pool_status` this binding knows.  The library's struct
/// may grow new fields at its end (the header's rule for that struct), so
/// `pp_status` is always called with a buffer of the library's own size
/// (`pp_abi_size(PP_ABI_STATUS)`) and only this prefix is read from it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct pp_pool_status {
    pub available: u32,
    pub used: u32,
    pub min: u32,
    pub max: u32,
    pub waiting: u32,
    pub daemon_pid: i32,
    pub generation: u64,
    pub leases: u64,
    pub lease_timeouts: u64,
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
    pub backend_up: u32,
    pub uptime_ns: u64,
    pub conns_max: u32,
    pub conns_open: u32,
    pub conns_busy: u32,
    pub queued: u32,
    pub queue_waits: u64,
    pub queue_wait_p50_ns: u64,
    pub queue_wait_p99_ns: u64,
    pub queue_wait_max_ns: u64,
}

extern "C" {
    pub fn pp_attach(pool: *const c_char, out: *mut *mut pp_pool) -> c_int;
    pub fn pp_detach(p: *mut pp_pool);
    pub fn pp_lease(p: *mut pp_pool, timeout_ms: c_int, out: *mut *mut pp_lease) -> c_int;
    pub fn pp_release(l: *mut pp_lease) -> c_int;
    pub fn pp_lease_slot(l: *const pp_lease) -> c_int;
    pub fn pp_status(p: *mut pp_pool, out: *mut pp_pool_status) -> c_int;
    pub fn pp_strerror(err: c_int) -> *const c_char;
    pub fn pp_error_detail() -> *const c_char;
    pub fn pp_version() -> c_int;
    pub fn pp_abi_size(which: c_int) -> usize;
    pub fn pp_request(l: *mut pp_lease, req: *const pp_req, resp: *mut pp_resp) -> c_int;
    pub fn pp_do(p: *mut pp_pool, req: *const pp_req, resp: *mut pp_resp) -> c_int;
    pub fn pp_resp_free(resp: *mut pp_resp);
    pub fn pp_stream_begin(l: *mut pp_lease, req: *const pp_req, body_len: i64) -> c_int;
    pub fn pp_stream_write(l: *mut pp_lease, buf: *const c_void, n: usize) -> c_int;
    pub fn pp_stream_read_head(l: *mut pp_lease, resp: *mut pp_resp) -> c_int;
    pub fn pp_stream_read(l: *mut pp_lease, buf: *mut c_void, n: usize) -> c_long;
}

/// The structs with a fixed size, as (name, pp_abi_size id, Rust size).
/// pp_pool_status is checked apart: the library's may be larger.
pub const FIXED_STRUCTS: &[(&str, c_int, usize)] = &[
    ("pp_req", PP_ABI_REQ, std::mem::size_of::<pp_req>()),
    ("pp_resp", PP_ABI_RESP, std::mem::size_of::<pp_resp>()),
    ("pp_header", PP_ABI_HEADER, std::mem::size_of::<pp_header>()),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{size_of, MaybeUninit};

    include!(concat!(env!("OUT_DIR"), "/c_layout.rs"));

    /// Offset of a field, without a reference to uninitialised memory.
    macro_rules! offset_of {
        ($t:ty, $f:ident) => {{
            let u = MaybeUninit::<$t>::uninit();
            let base = u.as_ptr();
            // SAFETY: addr_of! computes the address without reading.
            let field = unsafe { std::ptr::addr_of!((*base).$f) };
            field as usize - base as usize
        }};
    }

    fn rust_offset(t: &str, f: &str) -> usize {
        macro_rules! table {
            ($($ty:ident { $($field:ident),* })*) => {
                match (t, f) {
                    $($((stringify!($ty), stringify!($field)) => offset_of!($ty, $field),)*)*
                    _ => panic!("the binding does not declare {}.{}", t, f),
                }
            };
        }
        table! {
            pp_header { name, value }
            pp_req { method, path, headers, nheaders, body, body_len, timeout_ms }
            pp_resp { status, content_type, request_id, body, body_len }
            pp_pool_status { available, used, min, max, waiting, daemon_pid, generation,
                leases, lease_timeouts, reclaims, lease_waits, lease_wait_p50_ns,
                lease_wait_p99_ns, lease_wait_max_ns, requests, errors, bytes_in, bytes_out,
                connects, reconnects, health_checks, health_failures, backend_failovers,
                backend_index, backend_up, uptime_ns, conns_max, conns_open, conns_busy, queued,
                queue_waits, queue_wait_p50_ns, queue_wait_p99_ns, queue_wait_max_ns }
        }
    }

    fn rust_size(t: &str) -> usize {
        match t {
            "pp_header" => size_of::<pp_header>(),
            "pp_req" => size_of::<pp_req>(),
            "pp_resp" => size_of::<pp_resp>(),
            "pp_pool_status" => size_of::<pp_pool_status>(),
            _ => panic!("the binding does not declare {}", t),
        }
    }

    #[test]
    fn layout_matches_header() {
        if let Some(why) = C_PROBE_ERROR {
            panic!("build.rs could not compile abi/layout.c against phantompool.h: {}", why);
        }
        assert_eq!(C_SIZES.len(), 4);
        for &(t, size) in C_SIZES {
            assert_eq!(rust_size(t), size, "size of {}: Rust vs C header", t);
        }
        assert!(C_OFFSETS.len() > 30);
        for &(t, f, off) in C_OFFSETS {
            assert_eq!(rust_offset(t, f), off, "offset of {}.{}: Rust vs C header", t, f);
        }
        for &(t, id) in C_ABI_IDS {
            let ours = match t {
                "pp_req" => PP_ABI_REQ,
                "pp_resp" => PP_ABI_RESP,
                "pp_header" => PP_ABI_HEADER,
                "pp_pool_status" => PP_ABI_STATUS,
                _ => panic!("unknown {}", t),
            };
            assert_eq!(ours, id, "enum pp_abi_struct value for {}", t);
        }
    }

    #[test]
    fn error_codes_match_header() {
        assert!(C_PROBE_ERROR.is_none(), "{:?}", C_PROBE_ERROR);
        assert_eq!(C_ERRORS.len(), 22);
        for &(name, code) in C_ERRORS {
            let ours = crate::ErrorCode::from_raw(code);
            assert_eq!(ours.name(), name, "code {}", code);
            assert_eq!(ours.raw(), code);
        }
    }

    /// The library the tests linked has the sizes of the header the probe
    /// was compiled with (a stale libphantompool.so would fail here).
    #[test]
    fn loaded_library_sizes_match() {
        for &(name, id, size) in FIXED_STRUCTS {
            assert_eq!(unsafe { pp_abi_size(id) }, size, "pp_abi_size for {}", name);
        }
        assert!(unsafe { pp_abi_size(PP_ABI_STATUS) } >= size_of::<pp_pool_status>());
        assert_eq!(unsafe { pp_abi_size(0) }, 0);
    }
}
