"""Fixtures for the phantompool binding's tests.

They run against real processes: `tests/with-pool` (make check-python does
this) starts the reference backend and a phantompoold, and exports
PHANTOMPOOL, PHANTOMDB_URL, PP_BUILD, PP_WITH_POOL_DAEMON_PID and
PP_WITH_POOL_DAEMON_CMD.  The library is the build tree's
$PP_BUILD/libphantompool.so.1 unless PHANTOMPOOL_LIBRARY says otherwise.
"""
import os
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)
sys.path.insert(0, PKG_ROOT)

if not os.environ.get("PHANTOMPOOL") or not os.environ.get("PP_BUILD"):
    pytest.exit("run these tests under tests/with-pool (make check-python): "
                "PHANTOMPOOL and PP_BUILD are not set", returncode=2)
os.environ.setdefault("PHANTOMPOOL_LIBRARY", os.path.join(os.environ["PP_BUILD"], "libphantompool.so.1"))

import phantompool  # noqa: E402


@pytest.fixture
def pool():
    p = phantompool.create_pool(acquire_timeout=10)
    yield p
    p.close()


@pytest.fixture
def client(pool):
    with pool.acquire() as c:
        yield c


@pytest.fixture
def db(client):
    """A fresh database name, created; dropped afterwards if still there."""
    name = "t_" + uuid.uuid4().hex[:10]
    client.create_database(name)
    yield name
    try:
        client.drop_database(name)
    except phantompool.PhantomDBError:
        pass


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return f"{h:016x}"


def debug_bytes(n: int, start: int = 0) -> bytes:
    """What the reference backend's GET /_debug/bytes?bytes=n sends."""
    return bytes(((i * 31 + 7) & 0xff) for i in range(start, start + n))
