"""Loading the library: the soname/override, the ABI check, the error table."""
import ctypes
import os
import re
import subprocess
import sys

import pytest

import phantompool
from phantompool import _lib, errors

TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def test_struct_sizes_match_the_library():
    L = _lib.lib()
    assert L.pp_abi_size(_lib.PP_ABI_REQ) == ctypes.sizeof(_lib.PPReq)
    assert L.pp_abi_size(_lib.PP_ABI_RESP) == ctypes.sizeof(_lib.PPResp) == 280
    assert L.pp_abi_size(_lib.PP_ABI_HEADER) == ctypes.sizeof(_lib.PPHeader)
    assert L.status_size >= ctypes.sizeof(_lib.PPPoolStatus)
    assert _lib.PPResp.body.offset == 264


def test_a_mismatched_struct_refuses_to_load(monkeypatch):
    class BadResp(ctypes.Structure):  # a pp_resp missing body_len
        _fields_ = [f for f in _lib.PPResp._fields_ if f[0] != "body_len"]

    L = _lib.lib()
    monkeypatch.setattr(_lib, "PPResp", BadResp)
    with pytest.raises(phantompool.LibraryError, match="ABI mismatch.*pp_resp is 280 bytes.*declares 272"):
        _lib.Lib(L.handle, L.path)


def test_a_status_struct_smaller_than_ours_refuses_to_load(monkeypatch):
    class BigStatus(ctypes.Structure):  # as if we read more than the library has
        _fields_ = _lib.PPPoolStatus._fields_ + [("future", ctypes.c_uint64 * 64)]

    L = _lib.lib()
    monkeypatch.setattr(_lib, "PPPoolStatus", BigStatus)
    with pytest.raises(phantompool.LibraryError, match="pp_pool_status"):
        _lib.Lib(L.handle, L.path)


def _run(code, **env):
    e = dict(os.environ)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                          cwd="/", timeout=60)


def test_missing_library_is_a_clear_error():
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import phantompool\n"
            "try:\n    phantompool.create_pool()\n"
            "except phantompool.LibraryError as e:\n    print('LibraryError', e)\n" %
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = _run(code, PHANTOMPOOL_LIBRARY="/nonexistent/libphantompool.so.1")
    assert "LibraryError cannot load /nonexistent/libphantompool.so.1" in r.stdout, r.stderr
    assert "PHANTOMPOOL_LIBRARY" in r.stdout


def test_found_by_soname_without_the_override():
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import phantompool, phantompool._lib as l\n"
            "p = phantompool.create_pool(); print(l.lib().path, p.get_status()['max'])\n" %
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env.pop("PHANTOMPOOL_LIBRARY")
    env["LD_LIBRARY_PATH"] = os.environ["PP_BUILD"]
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/",
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "libphantompool.so.1"


def test_error_table_matches_the_header():
    with open(os.path.join(TREE, "include", "phantompool.h")) as f:
        header = f.read()
    enum = dict((int(v), n) for n, v in re.findall(r"\b(PP_E[A-Z]+) = (-\d+),", header))
    assert enum == errors.CODES
    for code, name in enum.items():
        assert getattr(errors, name) == code


def test_every_code_has_the_library_text():
    L = _lib.lib()
    for code, name in errors.CODES.items():
        e = errors.error_for(code, "pp_test")
        assert e.code == code and e.name == name
        assert e.text == L.pp_strerror(code).decode()
        assert str(e).startswith(f"pp_test: {name} ({code}): {e.text}")
        assert isinstance(e, phantompool.PhantomDBError)


def test_exception_classes():
    assert isinstance(errors.error_for(-7, "pp_lease"), phantompool.AcquireTimeout)
    assert isinstance(errors.error_for(-7, "pp_lease"), TimeoutError)
    assert isinstance(errors.error_for(-7, "pp_request"), phantompool.RequestTimeout)
    assert isinstance(errors.error_for(-7, "pp_request"), TimeoutError)
    assert isinstance(errors.error_for(-15, "pp_request"), ValueError)
    assert isinstance(errors.error_for(-6, "pp_lease"), phantompool.DaemonError)
    assert isinstance(errors.error_for(-9, "pp_release"), phantompool.NotOwnerError)
    e = errors.error_for(-7, "pp_lease", "waited 5 ms")
    assert str(e).endswith("; waited 5 ms")


def test_exceptions_pickle():
    import pickle
    e = pickle.loads(pickle.dumps(errors.error_for(-7, "pp_lease", "x")))
    assert type(e) is phantompool.AcquireTimeout and e.code == -7 and str(e).endswith("; x")
    h = pickle.loads(pickle.dumps(phantompool.HTTPError(404, "GET", "/x", b'{"code":"NOT_FOUND"}')))
    assert h.status == 404 and h.code == "NOT_FOUND"
