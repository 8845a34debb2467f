"""The pool handle: ``create_pool()`` / :class:`Pool`.

A :class:`Pool` attaches to the shared segment of a pool that
``phantompoold`` serves on this host.  The handle is thread-safe and
fork-safe: create it once (in a gunicorn master with ``--preload``, at
import time) and use it from every thread of every worker.  Clients
(leases) are not: each belongs to the thread that acquired it.
"""
from __future__ import annotations

import ctypes
import math
import os
import threading
import time
from typing import Any, Dict, Optional, Union

from . import _owner
from ._lib import PPPoolStatus, PPReq, PPResp, lib
from .client import (_NOBODY, BodyArg, Client, HeadersArg, Response, c_text, encode_body,
                     encode_headers, take_response, timeout_ms)
from .errors import (PP_EBADMETHOD, PP_EBADPATH, PP_EINVAL, PP_ENAME, PP_ETIMEDOUT, InvalidArgument, PoolClosed,
                     error_for)

_INT_MAX = 2**31 - 1
# The longest one pp_lease call waits on the main thread (see Pool._lease):
# a signal handler runs within it, and only a wait longer than it gives up
# its place in the queue of waiters.
_SIGNAL_SLICE_MS = 1000


class _Unset:
    """The type of :data:`DEFAULT`."""

    def __repr__(self) -> str:
        return "DEFAULT"


#: "Use the pool's acquire_timeout" (the default of Pool.acquire's timeout).
DEFAULT = _Unset()


class Pool:
    """A handle on one phantompool pool (``pp_attach``).

    ``name``: the pool's name (``phantompoold -p``); None means
    ``$PHANTOMPOOL``, else ``"default"``.  ``acquire_timeout``: seconds
    :meth:`acquire` waits for a free seat by default (None: forever).
    Raises PoolNotFound (PP_ENOPOOL: no daemon created that pool),
    DaemonError (PP_EDAEMON: its daemon is gone or still starting),
    InvalidArgument (PP_ENAME), PoolError (PP_EACCES, ...).
    """

    def __init__(self, name: Optional[str] = None, *, acquire_timeout: Optional[float] = 30.0) -> None:
        L = lib()
        self._lib = L
        self.name: str = name or os.environ.get("PHANTOMPOOL") or "default"
        self.acquire_timeout = acquire_timeout
        self._default_ms = self._timeout_ms(acquire_timeout)
        handle = ctypes.c_void_p()
        cname = c_text(name, "utf-8", PP_ENAME, "the pool name") if name else None
        rc = L.pp_attach(cname, ctypes.byref(handle))
        if rc:
            raise error_for(rc, "pp_attach", f"pool {self.name!r}")
        self._handle: Optional[int] = handle.value
        self._lock = threading.Lock()
        self._users = 0       # clients held + one-shot calls running, this process
        self._closed = False
        self._pid = _owner.pid()
        _owner.register_pool(self)

    # ---- lifetime --------------------------------------------------------

    def _enter(self, op: str) -> int:
        with self._lock:
            if self._closed or self._handle is None:
                raise PoolClosed(PP_EINVAL, op, f"pool {self.name!r} is closed")
            self._users += 1
            return self._handle

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._closed and self._users == 0:
                self._detach_locked()

    def _detach_locked(self) -> None:
        if self._handle is not None:
            self._lib.pp_detach(self._handle)
            self._handle = None

    def _after_fork_in_child(self) -> None:
        # The parent's clients are not ours: they neither block close()
        # nor may be released here.  Locks may have been held at the fork.
        self._lock = threading.Lock()
        self._users = 0
        self._pid = _owner.pid()

    def close(self) -> None:
        """Detach from the pool.  Later calls raise PoolClosed.  Clients
        still held keep working until released; the handle is freed when
        the last one is.  Calling close() again does nothing."""
        with self._lock:
            self._closed = True
            if self._users == 0:
                self._detach_locked()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._handle is not None and self._users == 0 and self._pid == _owner.pid():
                self._lib.pp_detach(self._handle)
                self._handle = None
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<phantompool.Pool {self.name!r}{' closed' if self._closed else ''}>"

    # ---- leases ----------------------------------------------------------

    @staticmethod
    def _timeout_ms(timeout: Optional[float]) -> int:
        if timeout is None:
            return -1
        if math.isnan(timeout):
            raise InvalidArgument(PP_EINVAL, "pp_lease", "timeout is NaN")
        if timeout < 0 or math.isinf(timeout):
            return -1
        return min(_INT_MAX, math.ceil(timeout * 1000))

    def _drain_orphans(self, state: "_owner.ThreadState") -> None:
        """Release the leases of this thread that were garbage-collected on
        another thread (see _owner)."""
        while state.orphans:
            pool, lease = state.orphans.pop()
            try:
                pool._lib.pp_release(lease)
            finally:
                pool._leave()

    def acquire(self, timeout: Union[float, None, _Unset] = DEFAULT) -> Client:
        """Lease a seat and return a :class:`Client` for it.

        ``timeout``: seconds to wait for a free seat (left out: the pool's
        ``acquire_timeout``; 0: do not wait; None or negative: wait
        forever).  Raises AcquireTimeout (a TimeoutError,
        PP_ETIMEDOUT), DaemonError (PP_EDAEMON), PoolShuttingDown
        (PP_ESHUTDOWN), PoolClosed.

        Use the client on this thread only, and release it:
        ``with pool.acquire() as client: ...`` or ``pool.release(client)``.
        """
        state = _owner.thread_state()
        if state.orphans:
            self._drain_orphans(state)
        ms = self._default_ms if timeout is DEFAULT else self._timeout_ms(timeout)  # type: ignore[arg-type]
        handle = self._enter("pp_lease")
        out = ctypes.c_void_p()
        try:
            rc = self._lease(handle, ms, out)
        except BaseException:  # a signal handler raised between two slices
            if out.value:
                self._lib.pp_release(out.value)
            self._leave()
            raise
        if rc:
            self._leave()
            waited = "forever" if ms < 0 else f"{ms} ms"
            raise error_for(rc, "pp_lease", f"pool {self.name!r}, waited up to {waited}")
        return Client(self, out.value, state)

    def _lease(self, handle: int, ms: int, out: ctypes.c_void_p) -> int:
        """``pp_lease`` waiting up to ``ms`` (-1: forever) into ``out``.

        The C library resumes its futex wait when a signal interrupts it,
        so one long call would hold back Python's signal handlers (Ctrl-C's
        KeyboardInterrupt, gunicorn's SIGTERM/SIGQUIT) until a seat came or
        the timeout ran out.  Only the main thread runs them: there, the
        wait is cut into calls of at most _SIGNAL_SLICE_MS, between which
        a handler may raise.  A slice that ends leaves the queue of waiters
        and the next one joins it again (a slot handed over meanwhile is
        taken, not lost); other threads make one call.
        """
        if ms == 0 or threading.current_thread() is not threading.main_thread():
            return int(self._lib.pp_lease(handle, ms, ctypes.byref(out)))
        deadline = None if ms < 0 else time.monotonic() + ms / 1000
        while True:
            left = _SIGNAL_SLICE_MS
            if deadline is not None:
                left = min(left, max(0, math.ceil((deadline - time.monotonic()) * 1000)))
            out.value = None
            rc = int(self._lib.pp_lease(handle, left, ctypes.byref(out)))
            if rc != PP_ETIMEDOUT or (deadline is not None and time.monotonic() >= deadline):
                return rc

    def release(self, client: Client) -> None:
        """Give a client's seat back: ``client.release()``."""
        client.release()

    def request(self, method: str, path: str, headers: HeadersArg = None, body: BodyArg = None,
                *, json: Any = _NOBODY, timeout: Optional[float] = None) -> Response:
        """One request on a seat leased just for it (``pp_do``: lease,
        request, release, waiting for a seat up to the *daemon's* acquire
        timeout).  Arguments as :meth:`Client.request`."""
        state = _owner.thread_state()
        if state.orphans:
            self._drain_orphans(state)
        data = encode_body(body, json)
        if json is not _NOBODY:
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        hdrs, n = encode_headers(headers)
        cmethod = c_text(method, "ascii", PP_EBADMETHOD, "the method")
        cpath = c_text(path, "utf-8", PP_EBADPATH, "the path")
        # The thread's scratch structs, taken for the call: a nested call
        # (from a signal handler) finds none and makes its own.
        scratch, state.scratch = state.scratch or (PPReq(), PPResp()), None
        req, resp = scratch
        req.method = cmethod
        req.path = cpath
        req.headers = hdrs
        req.nheaders = n
        req.body = data
        req.body_len = len(data) if data else 0
        req.timeout_ms = timeout_ms(timeout)
        handle = self._enter("pp_do")
        try:
            rc = self._lib.pp_do(handle, req, resp)
        finally:
            self._leave()
            req.body = None
        try:
            if rc:
                self._lib.pp_resp_free(resp)
                raise error_for(rc, "pp_do", f"{method} {path}")
            return take_response(resp)
        finally:
            state.scratch = scratch

    # ---- status ----------------------------------------------------------

    def get_status(self) -> Dict[str, int]:
        """The pool's figures (``pp_status``): the seed pools' ``available``,
        ``used``, ``min``, ``max``, then ``waiting``, ``daemon_pid``,
        ``generation``, ``leases``, ``lease_timeouts``, ``reclaims``, the
        lease-wait figures, request/byte/connection counters,
        ``backend_index``, ``backend_up``, ``uptime_ns``, then the backend
        connections apart from the seats: ``conns_max``, ``conns_open``,
        ``conns_busy``, ``queued`` (exchanges waiting for a connection) and
        ``queue_waits`` with their ``queue_wait_p50_ns`` / ``p99`` / ``max``.

        ``max`` is the number of seats; ``min`` the connections the daemon
        keeps warm; ``conns_max`` the most connections it opens.  Raises DaemonError (PP_EDAEMON) when the daemon is gone.
        """
        handle = self._enter("pp_status")
        try:
            buf = ctypes.create_string_buffer(self._lib.status_size)
            rc = self._lib.pp_status(handle, buf)
        finally:
            self._leave()
        if rc:
            raise error_for(rc, "pp_status", f"pool {self.name!r}")
        st = PPPoolStatus.from_buffer(buf)
        return {name: int(getattr(st, name)) for name, _ in PPPoolStatus._fields_}


def create_pool(base_url: Optional[str] = None, min_connections: Optional[int] = None,
                max_connections: Optional[int] = None, acquire_timeout: Optional[float] = 30,
                idle_timeout: Optional[float] = None, *, pool: Optional[str] = None) -> Pool:
    """Attach to a pool, with the seed PhantomDB pools' signature.

    ``pool``: the pool's name (None: ``$PHANTOMPOOL``, else "default").
    ``acquire_timeout``: seconds :meth:`Pool.acquire` waits by default.

    ``base_url``, ``min_connections``, ``max_connections`` and
    ``idle_timeout`` are accepted so that seed code runs unchanged, and
    ignored: on a host with phantompool, the daemon owns the connections,
    and those settings live in its configuration (``phantompoold -b URL
    --min N --max N``, phantompoold.conf).  ``get_status()`` reports the
    daemon's actual ``min`` and ``max``.
    """
    return Pool(pool, acquire_timeout=acquire_timeout)


#: The seed pool's class name.
PhantomDBConnectionPool = Pool
