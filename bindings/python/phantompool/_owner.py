"""Who owns what: the current process id and per-thread state.

The C library's rule is that a lease belongs to the OS thread (and the
process) that took it.  The binding enforces it in Python before calling C
(see ``Client._check``), with these cheap facts:

* :func:`pid` -- this process's id, cached and refreshed in a forked child
  by ``os.register_at_fork`` (the C library does the same with
  ``pthread_atfork``, and refuses a foreign lease with PP_ENOTOWNER if a
  fork ever slips past this hook, e.g. one made from C code).
* :func:`thread_state` -- a per-thread object holding the leases that were
  garbage-collected on another thread ("orphans"): such a lease can only
  be released by its owner thread, so it is queued here and released at
  that thread's next ``acquire()``/``request()``.  The object lives in a
  ``threading.local``, so it dies with its thread: a lease queued for a
  thread that has exited is never touched (the daemon reclaimed its seat
  when the thread died, through the robust mutex the lease holds); only
  the pool's count of clients held is settled then (``ThreadState.__del__``).
"""
from __future__ import annotations

import os
import threading
import weakref
from typing import Any, List, Tuple

_pid = os.getpid()
_tls = threading.local()
# Pools to fix up in a forked child (their locks and lease counts).
_pools: "weakref.WeakSet[Any]" = weakref.WeakSet()


class ThreadState:
    """One thread's state: ``orphans`` is a list of (pool, lease pointer)
    to release on this thread; ``scratch`` a (pp_req, pp_resp) pair that
    one-shot requests (``Pool.request``) reuse."""

    __slots__ = ("orphans", "scratch", "__weakref__")

    def __init__(self) -> None:
        self.orphans: List[Tuple[Any, int]] = []
        self.scratch: Any = None

    def __del__(self) -> None:
        # Its thread ended with leases still queued: their seats went back
        # with the thread (the daemon reclaims them through the robust
        # mutex each lease holds); what is left is the pools' counts of
        # clients held, which Pool.close() waits on to detach.
        orphans, self.orphans = self.orphans, []
        for pool, _lease in orphans:
            try:
                pool._leave()
            except Exception:  # interpreter shutdown
                pass


def pid() -> int:
    """This process's id (cached; refreshed after os.fork())."""
    return _pid


def thread_state() -> ThreadState:
    """The calling thread's :class:`ThreadState` (created on first use)."""
    try:
        return _tls.state
    except AttributeError:
        st = _tls.state = ThreadState()
        return st


def register_pool(pool: Any) -> None:
    """Have ``pool._after_fork_in_child()`` called in every forked child."""
    _pools.add(pool)


def _after_fork_in_child() -> None:
    global _pid
    _pid = os.getpid()
    st = getattr(_tls, "state", None)
    if st is not None:
        st.orphans.clear()  # the parent's leases: never released here
    for pool in list(_pools):
        pool._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
