//! Request (what `pp_req` carries) and Response (an owned `pp_resp`).
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::ptr;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::ffi;
use crate::json::Value;

/// One HTTP request to PhantomDB, relative to the daemon's base URL.
///
/// The method, path and headers are converted to C strings when the
/// request is built, so sending the same `Request` again costs no
/// conversion.  A NUL byte, which C strings cannot carry, makes the send
/// fail with the code the C library gives such input (PP_EBADMETHOD,
/// PP_EBADPATH, PP_EBADHEADER); everything else is checked by the library.
#[derive(Clone, Debug)]
pub struct Request {
    method: CString,
    path: CString,
    headers: Vec<(CString, CString)>,
    body: Vec<u8>,
    timeout_ms: c_int,
    invalid: Option<Error>,
}

fn c_string(s: &str, code: ErrorCode, what: &str, invalid: &mut Option<Error>) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        if invalid.is_none() {
            *invalid = Some(Error::with(code, format!("{} contains a NUL byte", what)));
        }
        CString::default()
    })
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: &str, path: &str) -> Request {
        let mut invalid = None;
        let method = c_string(method, ErrorCode::BadMethod, "method", &mut invalid);
        let path = c_string(path, ErrorCode::BadPath, "path", &mut invalid);
        Request {
            method,
            path,
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: 0,
            invalid,
        }
    }

    pub fn get(path: &str) -> Request {
        Request::new("GET", path)
    }
    pub fn post(path: &str) -> Request {
        Request::new("POST", path)
    }
    pub fn put(path: &str) -> Request {
        Request::new("PUT", path)
    }
    pub fn delete(path: &str) -> Request {
        Request::new("DELETE", path)
    }

    /// Add a header.  The daemon accepts only Content-Type, Accept and
    /// X-Request-Id from workers (others: PP_EBADHEADER at send).  The two
    /// single-valued ones replace an earlier header of their name (any
    /// case), so the request carries one; each Accept adds one.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        let n = c_string(name, ErrorCode::BadHeader, "header name", &mut self.invalid);
        let v = c_string(value, ErrorCode::BadHeader, "header value", &mut self.invalid);
        if is_single_valued(name) {
            self.headers
                .retain(|(h, _)| !h.as_bytes().eq_ignore_ascii_case(name.as_bytes()));
        }
        self.headers.push((n, v));
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(h, _)| h.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Set a JSON body and, unless one is set already, its Content-Type
    /// (`application/json`; a later `header("Content-Type", ..)` replaces
    /// it).  A NaN or infinity, which JSON cannot carry, makes the send
    /// fail with PP_EINVAL (nothing is sent): `Display` would write `null`
    /// in its place.
    pub fn json(mut self, v: &Value) -> Request {
        if self.invalid.is_none() && v.has_non_finite() {
            self.invalid = Some(Error::with(
                ErrorCode::Inval,
                "the body cannot be encoded as JSON: NaN or infinity",
            ));
        }
        let req = if self.has_header("Content-Type") {
            self
        } else {
            self.header("Content-Type", "application/json")
        };
        req.body(v.to_string())
    }

    /// The daemon's time limit for this request (default: the daemon's
    /// request timeout).  Rounded up to whole milliseconds.
    pub fn timeout(mut self, t: Duration) -> Request {
        self.timeout_ms = duration_ms(t).max(1);
        self
    }

    pub fn method(&self) -> &str {
        self.method.to_str().unwrap_or("")
    }
    pub fn path(&self) -> &str {
        self.path.to_str().unwrap_or("")
    }
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Run `f` with the `pp_req` of this request (valid during the call).
    pub(crate) fn with_c<R>(&self, f: impl FnOnce(&ffi::pp_req) -> R) -> Result<R> {
        if let Some(e) = &self.invalid {
            return Err(e.clone());
        }
        let hdrs: Vec<ffi::pp_header> = self
            .headers
            .iter()
            .map(|(n, v)| ffi::pp_header {
                name: n.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let req = ffi::pp_req {
            method: self.method.as_ptr(),
            path: self.path.as_ptr(),
            headers: if hdrs.is_empty() { ptr::null() } else { hdrs.as_ptr() },
            nheaders: hdrs.len(),
            body: if self.body.is_empty() {
                ptr::null()
            } else {
                self.body.as_ptr().cast()
            },
            body_len: self.body.len(),
            timeout_ms: self.timeout_ms,
        };
        Ok(f(&req))
    }
}

/// Content-Type and X-Request-Id: one per request (RFC 9110 sec. 5.3).
fn is_single_valued(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-type") || name.eq_ignore_ascii_case("x-request-id")
}

/// Milliseconds for a C timeout: rounded up, at most i32::MAX.
pub(crate) fn duration_ms(t: Duration) -> c_int {
    let ms = (t.as_nanos() + 999_999) / 1_000_000;
    if ms > c_int::MAX as u128 {
        c_int::MAX
    } else {
        ms as c_int
    }
}

/// A response: status, the two headers the pool passes on, and the body.
/// It owns the C library's `pp_resp` (the body is not copied) and frees it
/// on drop.
pub struct Response {
    raw: ffi::pp_resp,
}

// SAFETY: a Response owns its malloc'd body outright; nothing else points
// to it, and free() may run on any thread.
unsafe impl Send for Response {}
unsafe impl Sync for Response {}

fn fixed_bytes(buf: &[c_char; 128]) -> &[u8] {
    // SAFETY: the library NUL-terminates both fixed fields (zeroed at start).
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes()
}

/// The text of a fixed field: the library keeps a header's first 127
/// bytes, which may end inside a UTF-8 character: that cut character is
/// left out.  A value that is not UTF-8 before its end gives "".
fn fixed_str(buf: &[c_char; 128]) -> &str {
    let b = fixed_bytes(buf);
    match std::str::from_utf8(b) {
        Ok(s) => s,
        // The bytes before valid_up_to() are valid UTF-8.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => "",
    }
}

impl Response {
    /// A zeroed pp_resp, for the C library to fill.
    pub(crate) fn empty() -> Response {
        Response {
            // SAFETY: pp_resp is plain data; all-zero is its empty state.
            raw: unsafe { std::mem::zeroed() },
        }
    }

    pub(crate) fn raw_mut(&mut self) -> *mut ffi::pp_resp {
        &mut self.raw
    }

    /// The HTTP status, e.g. 200.
    pub fn status(&self) -> u16 {
        self.raw.status as u16
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.raw.status)
    }

    /// The response's Content-Type ("" when the backend sent none).  The
    /// library keeps its first 127 bytes; a character cut there is left
    /// out, and a value that is not UTF-8 is "" (see `content_type_bytes`).
    pub fn content_type(&self) -> &str {
        fixed_str(&self.raw.content_type)
    }

    /// The response's Content-Type as the library kept it (127 bytes at most).
    pub fn content_type_bytes(&self) -> &[u8] {
        fixed_bytes(&self.raw.content_type)
    }

    /// The response's X-Request-Id ("" when none); cut as `content_type`.
    pub fn request_id(&self) -> &str {
        fixed_str(&self.raw.request_id)
    }

    /// The response's X-Request-Id as the library kept it (127 bytes at most).
    pub fn request_id_bytes(&self) -> &[u8] {
        fixed_bytes(&self.raw.request_id)
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        if self.raw.body.is_null() {
            &[]
        } else {
            // SAFETY: body points to body_len bytes owned by this response.
            unsafe { std::slice::from_raw_parts(self.raw.body as *const u8, self.raw.body_len) }
        }
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(self.body()).map_err(|e| Error::BadResponse {
            status: self.status(),
            why: format!("body is not UTF-8: {}", e),
        })
    }

    /// The body parsed as JSON (an empty body is `Null`).
    pub fn json(&self) -> Result<Value> {
        let text = self.text()?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Value::parse(text).map_err(|e| Error::BadResponse {
            status: self.status(),
            why: e.to_string(),
        })
    }

    /// The PhantomDB methods' rule: a 2xx body as JSON, any other status
    /// as `Error::Http` with PhantomDB's `code` and `message`.
    pub fn into_json(self) -> Result<Value> {
        if self.is_success() {
            return self.json();
        }
        let body = String::from_utf8_lossy(self.body()).into_owned();
        let parsed = Value::parse(&body).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Err(Error::Http {
            status: self.status(),
            code: field("code"),
            message: field("message"),
            body,
        })
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        // SAFETY: raw was filled by the library (or is zeroed); pp_resp_free
        // frees the body and zeroes the struct.
        unsafe { ffi::pp_resp_free(&mut self.raw) }
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status())
            .field("content_type", &self.content_type())
            .field("request_id", &self.request_id())
            .field("body", &String::from_utf8_lossy(self.body()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_bytes_give_the_c_librarys_codes() {
        let e = Request::get("/a\0b").with_c(|_| ()).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::BadPath));
        let e = Request::new("G\0T", "/").with_c(|_| ()).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::BadMethod));
        let e = Request::get("/").header("Accept", "a\0").with_c(|_| ()).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::BadHeader));
    }

    #[test]
    fn c_request_points_at_the_fields() {
        let r = Request::post("/x")
            .header("Accept", "application/json")
            .body("abc")
            .timeout(Duration::from_micros(1500));
        r.with_c(|c| {
            assert_eq!(unsafe { CStr::from_ptr(c.method) }.to_str().unwrap(), "POST");
            assert_eq!(unsafe { CStr::from_ptr(c.path) }.to_str().unwrap(), "/x");
            assert_eq!(c.nheaders, 1);
            assert_eq!(c.body_len, 3);
            assert_eq!(c.timeout_ms, 2);
        })
        .unwrap();
        assert_eq!(duration_ms(Duration::from_secs(u64::MAX)), c_int::MAX);
    }
}
