"""The pool handle: status, acquire timeouts, release rules, close."""
import gc
import time
import warnings

import pytest

import phantompool
from phantompool import errors


def test_status(pool):
    st = pool.get_status()
    assert list(st)[:4] == ["available", "used", "min", "max"]  # the seed's keys first
    assert st["max"] == 8 and st["min"] == 2  # tests/with-pool: --min 2 --max 8
    assert st["available"] + st["used"] == st["max"]
    assert st["daemon_pid"] > 0 and st["generation"] != 0 and st["uptime_ns"] > 0
    # connections apart from seats (--seats defaults to --max)
    assert st["conns_max"] == 8 and 0 < st["conns_open"] <= 8 and st["queued"] == 0
    with pool.acquire():
        s2 = pool.get_status()
        assert s2["used"] == st["used"] + 1 and s2["leases"] > st["leases"]


def test_create_pool_takes_the_seed_arguments():
    p = phantompool.create_pool(base_url="http://localhost:8080", min_connections=1,
                                max_connections=3, acquire_timeout=2, idle_timeout=60)
    try:
        assert p.acquire_timeout == 2
        assert p.get_status()["max"] == 8  # the daemon's settings decide
        with p.acquire() as c:
            assert c.list_databases() is not None
    finally:
        p.close()


def test_unknown_pool_and_bad_name():
    with pytest.raises(phantompool.PoolNotFound) as ei:
        phantompool.create_pool(pool="no-such-pool-xyz")
    assert ei.value.code == errors.PP_ENOPOOL and "no-such-pool-xyz" in str(ei.value)
    with pytest.raises(phantompool.InvalidArgument) as ei:
        phantompool.Pool("bad/name")
    assert ei.value.name == "PP_ENAME"
    assert '"bad/name" (given by the caller) is not 1..40 characters' in str(ei.value)


def test_attach_error_carries_the_library_detail():
    # pp_error_detail(): the segment path, and the hint for servers that
    # drop PHANTOMPOOL from the environment.
    with pytest.raises(phantompool.PoolNotFound) as ei:
        phantompool.Pool("no-such-pool-detail")
    msg = str(ei.value)
    assert "no segment /dev/shm/phantompool-no-such-pool-detail" in msg, msg
    assert "pass the pool name explicitly" in ei.value.detail


def test_acquire_timeout_is_a_timeout_error(pool):
    held = [pool.acquire() for _ in range(8)]
    try:
        assert pool.get_status()["available"] == 0
        t0 = time.monotonic()
        with pytest.raises(TimeoutError) as ei:
            pool.acquire(timeout=0.3)
        waited = time.monotonic() - t0
        e = ei.value
        assert isinstance(e, phantompool.AcquireTimeout) and e.code == errors.PP_ETIMEDOUT
        assert e.op == "pp_lease" and "PP_ETIMEDOUT" in str(e)
        assert 0.25 <= waited < 3, waited
        t0 = time.monotonic()
        with pytest.raises(phantompool.AcquireTimeout):
            pool.acquire(timeout=0)  # does not wait
        assert time.monotonic() - t0 < 0.2
        # The pool's own acquire_timeout applies by default.
        short = phantompool.create_pool(acquire_timeout=0.2)
        with pytest.raises(phantompool.AcquireTimeout):
            short.acquire()
        short.close()
    finally:
        for c in held:
            pool.release(c)
    assert pool.get_status()["available"] == 8


def test_release_rules(pool):
    c = pool.acquire()
    pool.release(c)
    assert c.released
    with pytest.raises(phantompool.AlreadyReleased) as ei:
        pool.release(c)
    assert ei.value.code == errors.PP_ERELEASED
    with pytest.raises(phantompool.AlreadyReleased):
        c.health()
    with pool.acquire() as c2:
        c2.release()  # released inside the block: the exit does nothing more
    assert pool.get_status()["used"] == 0


def test_unreleased_client_is_released_when_collected(pool):
    c = pool.acquire()
    assert pool.get_status()["used"] == 1
    with pytest.warns(ResourceWarning, match="never released"):
        del c
    assert pool.get_status()["used"] == 0


def test_unreleased_client_is_released_even_when_warnings_are_errors(pool):
    # -W error (or pytest's filterwarnings = error) makes the warning raise
    # inside __del__: the seat must still come back.
    c = pool.acquire()
    assert pool.get_status()["used"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del c
        gc.collect()
    assert pool.get_status()["used"] == 0
    assert pool._users == 0


def test_close_waits_for_held_clients():
    p = phantompool.create_pool()
    c = p.acquire()
    p.close()
    assert p.closed
    with pytest.raises(phantompool.PoolClosed) as ei:
        p.acquire()
    assert ei.value.code == errors.PP_EINVAL and "closed" in str(ei.value)
    with pytest.raises(phantompool.PoolClosed):
        p.get_status()
    assert c.health()["status"] == "healthy"  # still attached for it
    c.release()
    assert p._handle is None  # detached with the last client
    p.close()  # again: nothing


def test_pool_context_manager():
    with phantompool.create_pool() as p:
        assert p.request("GET", "/health").status == 200
    assert p.closed
