//! Errors: the C library's PP_E* codes, PhantomDB's HTTP errors, and the
//! few the binding adds (a body that is not the JSON expected, an ABI
//! mismatch at load).
use std::ffi::CStr;
use std::fmt;

use crate::ffi;

/// A `PP_E*` code of `phantompool.h` (`enum pp_error`).  The C enum only
/// grows: a code this binding does not know yet is `Unknown(raw)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// PP_EINVAL: invalid argument.
    Inval,
    /// PP_ENOPOOL: no such pool (no segment of that name).
    NoPool,
    /// PP_EACCES: permission denied on the pool's segment.
    Acces,
    /// PP_EVERSION: the segment has another layout version.
    Version,
    /// PP_ECORRUPT: the segment fails validation.
    Corrupt,
    /// PP_EDAEMON: the daemon is not running, died, or was replaced.
    Daemon,
    /// PP_ETIMEDOUT: the time allowed ran out.
    TimedOut,
    /// PP_ERELEASED: lease already released.
    Released,
    /// PP_ENOTOWNER: lease belongs to another process or thread.
    NotOwner,
    /// PP_ENOMEM: out of memory.
    NoMem,
    /// PP_ESHUTDOWN: the pool is draining.
    Shutdown,
    /// PP_ESYS: unexpected system error.
    Sys,
    /// PP_ELOST: the lease was reclaimed by the daemon.
    Lost,
    /// PP_EBACKEND: PhantomDB unreachable or the connection failed.
    Backend,
    /// PP_EBADPATH: path empty, not starting with '/', or with CR/LF/space/NUL.
    BadPath,
    /// PP_EBADHEADER: header not allowed, or malformed.
    BadHeader,
    /// PP_ETOOBIG: body or field over a configured limit.
    TooBig,
    /// PP_EPROTO: malformed response from PhantomDB, or a malformed frame in a ring.
    Proto,
    /// PP_EBADMETHOD: the method is not an HTTP token.
    BadMethod,
    /// PP_ESTATE: call out of order for this lease's exchange.
    State,
    /// PP_ENAME: pool name invalid.
    Name,
    /// PP_ENOLIB: a library the call needs is missing.
    NoLib,
    /// A code newer than this binding.
    Unknown(i32),
}

const CODES: &[(ErrorCode, i32, &str)] = &[
    (ErrorCode::Inval, -1, "PP_EINVAL"),
    (ErrorCode::NoPool, -2, "PP_ENOPOOL"),
    (ErrorCode::Acces, -3, "PP_EACCES"),
    (ErrorCode::Version, -4, "PP_EVERSION"),
    (ErrorCode::Corrupt, -5, "PP_ECORRUPT"),
    (ErrorCode::Daemon, -6, "PP_EDAEMON"),
    (ErrorCode::TimedOut, -7, "PP_ETIMEDOUT"),
    (ErrorCode::Released, -8, "PP_ERELEASED"),
    (ErrorCode::NotOwner, -9, "PP_ENOTOWNER"),
    (ErrorCode::NoMem, -10, "PP_ENOMEM"),
    (ErrorCode::Shutdown, -11, "PP_ESHUTDOWN"),
    (ErrorCode::Sys, -12, "PP_ESYS"),
    (ErrorCode::Lost, -13, "PP_ELOST"),
    (ErrorCode::Backend, -14, "PP_EBACKEND"),
    (ErrorCode::BadPath, -15, "PP_EBADPATH"),
    (ErrorCode::BadHeader, -16, "PP_EBADHEADER"),
    (ErrorCode::TooBig, -17, "PP_ETOOBIG"),
    (ErrorCode::Proto, -18, "PP_EPROTO"),
    (ErrorCode::BadMethod, -19, "PP_EBADMETHOD"),
    (ErrorCode::State, -20, "PP_ESTATE"),
    (ErrorCode::Name, -21, "PP_ENAME"),
    (ErrorCode::NoLib, -22, "PP_ENOLIB"),
];

impl ErrorCode {
    /// The code for a negative C return value.
    pub fn from_raw(raw: i32) -> ErrorCode {
        CODES
            .iter()
            .find(|c| c.1 == raw)
            .map(|c| c.0)
            .unwrap_or(ErrorCode::Unknown(raw))
    }

    /// The C value (negative).
    pub fn raw(self) -> i32 {
        match self {
            ErrorCode::Unknown(raw) => raw,
            code => CODES.iter().find(|c| c.0 == code).map(|c| c.1).unwrap_or(0),
        }
    }

    /// The C name, e.g. `"PP_EDAEMON"` (`"PP_E?"` for an unknown code).
    pub fn name(self) -> &'static str {
        CODES.iter().find(|c| c.0 == self).map(|c| c.2).unwrap_or("PP_E?")
    }

    /// The library's `pp_strerror()` text.
    pub fn text(self) -> String {
        // SAFETY: pp_strerror returns a static NUL-terminated string, never NULL.
        unsafe { CStr::from_ptr(ffi::pp_strerror(self.raw())) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Everything a binding call can fail with.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The C library returned a `PP_E*` code (or the binding refused an
    /// argument the C library would refuse with that code, e.g. a NUL in
    /// a path: PP_EBADPATH).  `detail` says more when the binding knows it,
    /// or is the library's `pp_error_detail()` (attach failures, PP_EDAEMON).
    Pool { code: ErrorCode, detail: Option<String> },
    /// PhantomDB answered a PhantomDB method with a status outside 2xx.
    /// `code` and `message` come from its JSON error body
    /// (`{"code", "message"}`) when it has one; `body` is the raw body.
    Http {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        body: String,
    },
    /// A 2xx answer whose body is not the JSON the method expects.
    BadResponse { status: u16, why: String },
    /// The loaded libphantompool declares a struct with another size than
    /// this binding: refused at `Pool::open`.
    Abi {
        what: &'static str,
        binding: usize,
        library: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The PP_E* code, for `Error::Pool`.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Pool { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status, for `Error::Http` and `Error::BadResponse`.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } | Error::BadResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn from_code(raw: i32) -> Error {
        Error::Pool {
            code: ErrorCode::from_raw(raw),
            detail: None,
        }
    }

    pub(crate) fn with(code: ErrorCode, detail: impl Into<String>) -> Error {
        Error::Pool {
            code,
            detail: Some(detail.into()),
        }
    }
}

/// The C library's `pp_error_detail()` of the calling thread (what the
/// failing call found, and the fix), if it left one.
fn lib_detail() -> Option<String> {
    // SAFETY: NULL or a NUL-terminated string owned by the library, valid
    // until this thread's next library call; copied at once.
    let d = unsafe { ffi::pp_error_detail() };
    if d.is_null() {
        None
    } else {
        Some(unsafe { CStr::from_ptr(d) }.to_string_lossy().into_owned())
    }
}

/// The error for a library call's negative return, read right after the
/// call on the same thread: PP_EDAEMON carries the library's detail (the
/// pool and the daemon pid that is gone), as `check_attach` does for every
/// attach failure.
pub(crate) fn lib_error(rc: i32) -> Error {
    if rc == ErrorCode::Daemon.raw() {
        with_lib_detail(rc)
    } else {
        Error::from_code(rc)
    }
}

fn with_lib_detail(rc: i32) -> Error {
    let mut e = Error::from_code(rc);
    if let Error::Pool { detail, .. } = &mut e {
        *detail = lib_detail();
    }
    e
}

/// 0 -> Ok, a negative C return -> Err (see `lib_error`).
pub(crate) fn check(rc: i32) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(lib_error(rc))
    }
}

/// `check` for `pp_attach`: every failure carries the library's detail
/// (the pool name and where it came from, the segment's path, mode and
/// owner, this process's ids, the fix).
pub(crate) fn check_attach(rc: i32) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(with_lib_detail(rc))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Pool { code, detail } => {
                write!(f, "{} ({}): {}", code.name(), code.raw(), code.text())?;
                if let Some(d) = detail {
                    write!(f, ": {}", d)?;
                }
                Ok(())
            }
            Error::Http {
                status,
                code,
                message,
                body,
            } => {
                write!(f, "PhantomDB answered HTTP {}", status)?;
                match (code, message) {
                    (Some(c), Some(m)) => write!(f, ": {}: {}", c, m),
                    (None, Some(m)) => write!(f, ": {}", m),
                    (Some(c), None) => write!(f, ": {}", c),
                    (None, None) if !body.is_empty() => {
                        let cut: String = body.chars().take(200).collect();
                        write!(f, ": {}", cut)
                    }
                    (None, None) => Ok(()),
                }
            }
            Error::BadResponse { status, why } => {
                write!(f, "unexpected PhantomDB answer (HTTP {}): {}", status, why)
            }
            Error::Abi { what, binding, library } => write!(
                f,
                "libphantompool ABI mismatch: {} is {} bytes in the loaded library, {} in this binding",
                what, library, binding
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = match e.code() {
            Some(ErrorCode::TimedOut) => std::io::ErrorKind::TimedOut,
            Some(ErrorCode::Inval) => std::io::ErrorKind::InvalidInput,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_name() {
        for &(code, raw, name) in CODES {
            assert_eq!(ErrorCode::from_raw(raw), code);
            assert_eq!(code.raw(), raw);
            assert_eq!(code.name(), name);
        }
        assert_eq!(ErrorCode::from_raw(-999), ErrorCode::Unknown(-999));
        assert_eq!(ErrorCode::Unknown(-999).raw(), -999);
    }

    #[test]
    fn display_carries_code_and_strerror_text() {
        let e = Error::from_code(-6);
        let s = e.to_string();
        let text = ErrorCode::Daemon.text();
        assert!(!text.is_empty() && text != ErrorCode::Unknown(-999).text(), "{}", text);
        assert_eq!(s, format!("PP_EDAEMON (-6): {}", text));
        let e = Error::with(ErrorCode::BadPath, "path contains NUL");
        assert!(e.to_string().ends_with(": path contains NUL"));
    }
}
