"""ctypes declarations of libphantompool.so.1 (include/phantompool.h).

The library is loaded once, on first use, from ``$PHANTOMPOOL_LIBRARY`` (a
path) if set, else by its soname ``libphantompool.so.1`` through the dynamic
linker's search path (what ``make install`` and ``ldconfig`` set up).

The structs below are declared by hand, so at load time their sizes are
compared with what the loaded library reports through ``pp_abi_size()``;
any mismatch refuses to load (:class:`~phantompool.errors.LibraryError`)
instead of corrupting memory.  ``pp_pool_status`` is the exception that
may legitimately grow: the library may append fields at its end.  It is
read into a buffer of the *library's* reported size and only our declared
prefix is decoded, so a larger struct is safe; a smaller one is refused.

Every function gets ``argtypes`` and ``restype``: without them ctypes
passes pointers as C ``int`` and loses their upper half.
"""
from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (POINTER, Structure, c_char, c_char_p, c_int, c_int32, c_int64, c_long,
                    c_size_t, c_uint32, c_uint64, c_void_p)
from typing import Optional

from .errors import LibraryError

LIBRARY_ENV = "PHANTOMPOOL_LIBRARY"
SONAME = "libphantompool.so.1"
#: The library major version this binding was written for (pp_version() / 10000).
VERSION_MAJOR = 0

# enum pp_abi_struct
PP_ABI_REQ = 1
PP_ABI_RESP = 2
PP_ABI_HEADER = 3
PP_ABI_STATUS = 4


class PPHeader(Structure):
    """``pp_header``: one request header (name, value)."""
    _fields_ = [("name", c_char_p), ("value", c_char_p)]


class PPReq(Structure):
    """``pp_req``: one request.  ``body`` is declared ``c_char_p`` so a
    ``bytes`` object can be assigned directly (the struct keeps it alive);
    its length is ``body_len``, embedded NULs included."""
    _fields_ = [
        ("method", c_char_p),
        ("path", c_char_p),
        ("headers", POINTER(PPHeader)),
        ("nheaders", c_size_t),
        ("body", c_char_p),
        ("body_len", c_size_t),
        ("timeout_ms", c_int),
    ]


class PPResp(Structure):
    """``pp_resp``: a response; ``body`` is malloc'd by the library and
    freed with ``pp_resp_free`` (declared ``c_void_p`` so ctypes does not
    copy it as a NUL-terminated string)."""
    _fields_ = [
        ("status", c_int),
        ("content_type", c_char * 128),
        ("request_id", c_char * 128),
        ("body", c_void_p),
        ("body_len", c_size_t),
    ]


class PPPoolStatus(Structure):
    """The prefix of ``pp_pool_status`` this binding knows (see module doc)."""
    _fields_ = [
        ("available", c_uint32),
        ("used", c_uint32),
        ("min", c_uint32),
        ("max", c_uint32),
        ("waiting", c_uint32),
        ("daemon_pid", c_int32),
        ("generation", c_uint64),
        ("leases", c_uint64),
        ("lease_timeouts", c_uint64),
        ("reclaims", c_uint64),
        ("lease_waits", c_uint64),
        ("lease_wait_p50_ns", c_uint64),
        ("lease_wait_p99_ns", c_uint64),
        ("lease_wait_max_ns", c_uint64),
        ("requests", c_uint64),
        ("errors", c_uint64),
        ("bytes_in", c_uint64),
        ("bytes_out", c_uint64),
        ("connects", c_uint64),
        ("reconnects", c_uint64),
        ("health_checks", c_uint64),
        ("health_failures", c_uint64),
        ("backend_failovers", c_uint64),
        ("backend_index", c_uint32),
        ("backend_up", c_uint32),
        ("uptime_ns", c_uint64),
        ("conns_max", c_uint32),
        ("conns_open", c_uint32),
        ("conns_busy", c_uint32),
        ("queued", c_uint32),
        ("queue_waits", c_uint64),
        ("queue_wait_p50_ns", c_uint64),
        ("queue_wait_p99_ns", c_uint64),
        ("queue_wait_max_ns", c_uint64),
    ]


# name: (restype, argtypes)
_PROTOTYPES = {
    "pp_abi_size": (c_size_t, [c_int]),
    "pp_version": (c_int, []),
    "pp_strerror": (c_char_p, [c_int]),
    "pp_error_detail": (c_char_p, []),
    "pp_attach": (c_int, [c_char_p, POINTER(c_void_p)]),
    "pp_detach": (None, [c_void_p]),
    "pp_lease": (c_int, [c_void_p, c_int, POINTER(c_void_p)]),
    "pp_release": (c_int, [c_void_p]),
    "pp_lease_slot": (c_int, [c_void_p]),
    "pp_status": (c_int, [c_void_p, c_void_p]),
    "pp_request": (c_int, [c_void_p, POINTER(PPReq), POINTER(PPResp)]),
    "pp_do": (c_int, [c_void_p, POINTER(PPReq), POINTER(PPResp)]),
    "pp_resp_free": (None, [POINTER(PPResp)]),
    "pp_stream_begin": (c_int, [c_void_p, POINTER(PPReq), c_int64]),
    "pp_stream_write": (c_int, [c_void_p, c_void_p, c_size_t]),
    "pp_stream_read_head": (c_int, [c_void_p, POINTER(PPResp)]),
    "pp_stream_read": (c_long, [c_void_p, c_void_p, c_size_t]),
}


class Lib:
    """The loaded library: its functions as attributes, plus ``path`` and
    ``status_size`` (the library's ``sizeof(pp_pool_status)``)."""

    def __init__(self, handle: ctypes.CDLL, path: str) -> None:
        self.handle = handle
        self.path = path
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(handle, name)
            except AttributeError:
                raise LibraryError(f"{path}: symbol {name} missing (library too old?)") from None
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)
        self.version = int(self.pp_version())
        if self.version // 10000 != VERSION_MAJOR:
            raise LibraryError(f"{path}: library version {self.version} is not {VERSION_MAJOR}.x, "
                               "which this binding was written for")
        self._check_abi()

    def _check_abi(self) -> None:
        exact = {PP_ABI_REQ: ("pp_req", PPReq), PP_ABI_RESP: ("pp_resp", PPResp),
                 PP_ABI_HEADER: ("pp_header", PPHeader)}
        for which, (cname, struct) in exact.items():
            theirs = int(self.pp_abi_size(which))
            if theirs != ctypes.sizeof(struct):
                raise LibraryError(f"{self.path}: ABI mismatch: the library's {cname} is "
                                   f"{theirs} bytes, this binding declares {ctypes.sizeof(struct)}; "
                                   "refusing to run (rebuild or reinstall one of them)")
        theirs = int(self.pp_abi_size(PP_ABI_STATUS))
        if theirs < ctypes.sizeof(PPPoolStatus):
            raise LibraryError(f"{self.path}: ABI mismatch: the library's pp_pool_status is "
                               f"{theirs} bytes, smaller than the {ctypes.sizeof(PPPoolStatus)} "
                               "bytes this binding reads; refusing to run")
        self.status_size = theirs

    def strerror(self, code: int) -> str:
        """``pp_strerror(code)`` as a str."""
        return self.pp_strerror(code).decode("utf-8", "replace")

    def error_detail(self) -> str:
        """``pp_error_detail()`` of the calling thread as a str ("" if none)."""
        d = self.pp_error_detail()
        return d.decode("utf-8", "replace") if d else ""


_lib: Optional[Lib] = None
_lib_lock = threading.Lock()


def lib() -> Lib:
    """The loaded library (loaded and checked on first call).

    Raises :class:`LibraryError` when it cannot be found, lacks a symbol,
    has another major version or another struct layout.
    """
    global _lib
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is None:
            path = os.environ.get(LIBRARY_ENV) or SONAME
            try:
                handle = ctypes.CDLL(path)
            except OSError as e:
                hint = (f"${LIBRARY_ENV} is set to {path!r}" if os.environ.get(LIBRARY_ENV) else
                        f"install phantompool (make install; ldconfig) or set ${LIBRARY_ENV} "
                        "to the library's path")
                raise LibraryError(f"cannot load {path}: {e}; {hint}") from None
            _lib = Lib(handle, path)
    return _lib
