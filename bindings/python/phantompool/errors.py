"""The exceptions of the phantompool binding.

Everything this package raises on purpose derives from
:class:`PhantomDBError`, the name the seed PhantomDB Python client uses for
all its failures, so code written for that client keeps catching them:

* :class:`PoolError` -- the pool refused or failed: it carries the C
  library's ``PP_E*`` code (``code``, negative), its name (``name``, e.g.
  ``"PP_EBACKEND"``), ``pp_strerror``'s text (``text``) and the call that
  failed (``op``).  Subclasses by code, below; a lease or request timeout
  is also a :class:`TimeoutError`, a bad argument also a :class:`ValueError`.
* :class:`HTTPError` -- PhantomDB answered with a non-2xx status: the
  status and PhantomDB's ``{"code", "message", "details"}`` error body.

:class:`LibraryError` (an :class:`ImportError`) means the C library could
not be loaded or does not match this binding.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional, Type

# enum pp_error of include/phantompool.h (append-only there, so here too).
CODES: Dict[int, str] = {
    -1: "PP_EINVAL",
    -2: "PP_ENOPOOL",
    -3: "PP_EACCES",
    -4: "PP_EVERSION",
    -5: "PP_ECORRUPT",
    -6: "PP_EDAEMON",
    -7: "PP_ETIMEDOUT",
    -8: "PP_ERELEASED",
    -9: "PP_ENOTOWNER",
    -10: "PP_ENOMEM",
    -11: "PP_ESHUTDOWN",
    -12: "PP_ESYS",
    -13: "PP_ELOST",
    -14: "PP_EBACKEND",
    -15: "PP_EBADPATH",
    -16: "PP_EBADHEADER",
    -17: "PP_ETOOBIG",
    -18: "PP_EPROTO",
    -19: "PP_EBADMETHOD",
    -20: "PP_ESTATE",
    -21: "PP_ENAME",
    -22: "PP_ENOLIB",
}
# The codes as module constants (PP_EINVAL = -1, ...).
PP_EINVAL = -1
PP_ENOPOOL = -2
PP_EACCES = -3
PP_EVERSION = -4
PP_ECORRUPT = -5
PP_EDAEMON = -6
PP_ETIMEDOUT = -7
PP_ERELEASED = -8
PP_ENOTOWNER = -9
PP_ENOMEM = -10
PP_ESHUTDOWN = -11
PP_ESYS = -12
PP_ELOST = -13
PP_EBACKEND = -14
PP_EBADPATH = -15
PP_EBADHEADER = -16
PP_ETOOBIG = -17
PP_EPROTO = -18
PP_EBADMETHOD = -19
PP_ESTATE = -20
PP_ENAME = -21
PP_ENOLIB = -22


class PhantomDBError(Exception):
    """Base of every error this package raises (the seed client's name)."""


class LibraryError(PhantomDBError, ImportError):
    """libphantompool.so.1 is missing, too old, or its structs do not match
    this binding's declarations (checked with ``pp_abi_size`` at load)."""


class PoolError(PhantomDBError):
    """A ``PP_E*`` error from the C library (or the binding's own check of
    the same rule).

    Attributes: ``code`` (negative int), ``name`` (``"PP_E..."``), ``text``
    (``pp_strerror(code)``), ``op`` (the call that failed, e.g.
    ``"pp_lease"``), ``detail`` (extra context, may be empty).
    """

    def __init__(self, code: int, op: str = "", detail: str = "", text: Optional[str] = None) -> None:
        self.code = code
        self.name = CODES.get(code, f"PP_E?{code}")
        self.text = text if text is not None else _strerror(code)
        self.op = op
        self.detail = detail
        msg = f"{self.name} ({code}): {self.text}"
        if op:
            msg = f"{op}: {msg}"
        if detail:
            msg = f"{msg}; {detail}"
        super().__init__(msg)

    def __reduce__(self):  # picklable (multiprocessing) despite the signature
        return (type(self), (self.code, self.op, self.detail, self.text))


class InvalidArgument(PoolError, ValueError):
    """PP_EINVAL, PP_EBADPATH, PP_EBADHEADER, PP_EBADMETHOD, PP_ENAME: the
    call was refused before anything was sent; nothing changed."""


class PoolNotFound(PoolError):
    """PP_ENOPOOL: no daemon has created a pool of that name."""


class DaemonError(PoolError):
    """PP_EDAEMON: phantompoold is not running, died, or was replaced.
    When a daemon serves the pool again, the next call works: the library
    re-attaches by itself."""


class PoolTimeout(PoolError, TimeoutError):
    """PP_ETIMEDOUT: the time allowed ran out."""


class AcquireTimeout(PoolTimeout):
    """No seat became free within the acquire timeout (pp_lease)."""


class RequestTimeout(PoolTimeout):
    """The request's time ran out (the daemon's request timeout or the
    ``timeout`` argument)."""


class NotOwnerError(PoolError):
    """PP_ENOTOWNER: the client (lease) belongs to another thread or
    process.  A lease is used and released on the thread that acquired it,
    and never crosses a fork."""


class AlreadyReleased(PoolError):
    """PP_ERELEASED: the client was already released."""


class LeaseLost(PoolError):
    """PP_ELOST: the daemon reclaimed the seat (it restarted, or reset it)."""


class PoolShuttingDown(PoolError):
    """PP_ESHUTDOWN: the daemon is draining; no new leases."""


class BackendError(PoolError):
    """PP_EBACKEND: PhantomDB unreachable or the connection failed."""


class TooBig(PoolError):
    """PP_ETOOBIG: a body or field over a configured limit."""


class PoolClosed(PoolError):
    """The :class:`~phantompool.Pool` was closed (code PP_EINVAL)."""


_BY_CODE: Dict[int, Type[PoolError]] = {
    -1: InvalidArgument, -15: InvalidArgument, -16: InvalidArgument, -19: InvalidArgument,
    -21: InvalidArgument,
    -2: PoolNotFound,
    -6: DaemonError,
    -7: PoolTimeout,
    -8: AlreadyReleased,
    -9: NotOwnerError,
    -11: PoolShuttingDown,
    -13: LeaseLost,
    -14: BackendError,
    -17: TooBig,
}


def error_for(code: int, op: str, detail: str = "") -> PoolError:
    """The exception for a ``PP_E*`` code returned by C function ``op``.

    Call it right after the failing call, on the same thread: the C
    library's ``pp_error_detail()`` (what it found and the fix) is added to
    ``detail`` for ``pp_attach`` failures and for ``PP_EDAEMON``, the cases
    where the library leaves one (include/phantompool.h).
    """
    if op == "pp_attach" or code == PP_EDAEMON:
        found = _error_detail()
        if found:
            detail = f"{detail}; {found}" if detail else found
    if code == PP_ETIMEDOUT:
        cls: Type[PoolError] = AcquireTimeout if op == "pp_lease" else RequestTimeout
    else:
        cls = _BY_CODE.get(code, PoolError)
    return cls(code, op, detail)


def _strerror(code: int) -> str:
    from . import _lib
    try:
        return _lib.lib().strerror(code)
    except LibraryError:
        return CODES.get(code, "unknown error")


def _error_detail() -> str:
    from . import _lib
    try:
        return _lib.lib().error_detail()
    except LibraryError:
        return ""


class HTTPError(PhantomDBError):
    """PhantomDB answered with a non-2xx status.

    Attributes: ``status`` (HTTP status), ``method`` and ``path`` of the
    request, ``code``, ``message`` and ``details`` from PhantomDB's JSON
    error body when it sent one (else None), ``body`` (the raw bytes).
    """

    def __init__(self, status: int, method: str, path: str, body: bytes) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.code: Optional[str] = None
        self.message: Optional[str] = None
        self.details: Any = None
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            self.code = doc.get("code")
            self.message = doc.get("message")
            self.details = doc.get("details")
        what = self.message or body[:200].decode("utf-8", "replace")
        code = f" {self.code}" if self.code else ""
        super().__init__(f"{method} {path}: HTTP {status}{code}: {what}")

    def __reduce__(self):
        return (type(self), (self.status, self.method, self.path, self.body))
