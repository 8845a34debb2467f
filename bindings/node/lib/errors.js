'use strict';
// Error classes of the binding.
//
// PhantomPoolError: a call into libphantompool failed.  `code` is the
// PP_E* name ('PP_ETIMEDOUT'), `errno` the library's negative number (-7),
// `op` what was being done ('acquire', 'request', ...), and the message
// carries all three plus pp_strerror()'s text.
//
// PhantomDBError: PhantomDB answered with an HTTP error status (4xx/5xx);
// `status`, and `code` / `details` from the JSON error body
// {"code", "message", "details"} when it had one.

const os = require('os');

// The C library's enum pp_error (include/phantompool.h), by number.  The
// test suite checks this table against pp_strerror() so a code added to
// the C library without a name here fails `make check-node`.
const PP_ERRORS = Object.freeze({
  PP_EINVAL: -1,
  PP_ENOPOOL: -2,
  PP_EACCES: -3,
  PP_EVERSION: -4,
  PP_ECORRUPT: -5,
  PP_EDAEMON: -6,
  PP_ETIMEDOUT: -7,
  PP_ERELEASED: -8,
  PP_ENOTOWNER: -9,
  PP_ENOMEM: -10,
  PP_ESHUTDOWN: -11,
  PP_ESYS: -12,
  PP_ELOST: -13,
  PP_EBACKEND: -14,
  PP_EBADPATH: -15,
  PP_EBADHEADER: -16,
  PP_ETOOBIG: -17,
  PP_EPROTO: -18,
  PP_EBADMETHOD: -19,
  PP_ESTATE: -20,
  PP_ENAME: -21,
  PP_ENOLIB: -22,
});

const NAME_OF = new Map(Object.entries(PP_ERRORS).map(([k, v]) => [v, k]));
const ERRNO_NAME = new Map(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));

let strerror = (code) => `error ${code}`; // replaced by the addon's pp_strerror

class PhantomPoolError extends Error {
  // (errno, op, sysErrno, detail): called by the native addon as well;
  // detail is the C library's pp_error_detail() (what it found, the fix).
  constructor(errno, op, sysErrno = 0, detail = '') {
    const code = NAME_OF.get(errno) || `PP_E${-errno}`;
    let text = `${op}: ${code} (${errno}): ${strerror(errno)}`;
    if (sysErrno) text += ` (errno ${sysErrno}, ${ERRNO_NAME.get(sysErrno) || 'unknown'})`;
    if (detail) text += `: ${detail}`;
    super(text);
    this.name = 'PhantomPoolError';
    this.code = code;
    this.errno = errno;
    this.op = op;
    if (sysErrno) this.sysErrno = sysErrno;
    if (detail) this.detail = detail;
  }
}

class PhantomDBError extends Error {
  constructor(status, body, method, path) {
    let parsed = null;
    try {
      parsed = body ? JSON.parse(body) : null;
    } catch (_) {
      parsed = null;
    }
    const msg = parsed && typeof parsed.message === 'string' ? parsed.message : String(body || '').slice(0, 200);
    super(`${method} ${path}: HTTP ${status}${msg ? ': ' + msg : ''}`);
    this.name = 'PhantomDBError';
    this.status = status;
    this.code = parsed && typeof parsed.code === 'string' ? parsed.code : `HTTP_${status}`;
    this.details = parsed && parsed.details !== undefined ? parsed.details : null;
    this.body = body;
  }
}

function setStrerror(fn) {
  strerror = fn;
}

module.exports = { PhantomPoolError, PhantomDBError, PP_ERRORS, setStrerror };
