"""The thread rule: a client belongs to the thread that acquired it."""
import gc
import threading
import time

import pytest

import phantompool
from phantompool import errors


def run_in_thread(fn):
    out = {}

    def body():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: B902 - handed back to the test
            out["error"] = e
    t = threading.Thread(target=body)
    t.start()
    t.join(30)
    assert not t.is_alive()
    return out


def test_another_thread_cannot_use_or_release_a_client(pool):
    c = pool.acquire()
    used = pool.get_status()["used"]
    for call in (c.health, lambda: c.request("GET", "/health"), c.release,
                 lambda: pool.release(c), lambda: c.stream("GET", "/health")):
        out = run_in_thread(call)
        e = out.get("error")
        assert isinstance(e, phantompool.NotOwnerError), out
        assert e.code == errors.PP_ENOTOWNER and "thread" in str(e)
    assert pool.get_status()["used"] == used  # nothing changed
    assert c.health()["status"] == "healthy"  # still the owner's
    c.release()


def test_threads_share_one_pool(pool):
    errs, done = [], []

    def worker(i):
        try:
            for j in range(30):
                with pool.acquire(timeout=20) as c:
                    r = c.request("POST", "/_debug/echo", json={"t": i, "j": j})
                    assert r.json() == {"t": i, "j": j}
                assert pool.request("GET", "/health").status == 200
            done.append(i)
        except BaseException as e:  # noqa: B902
            errs.append(e)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]  # 16 threads, 8 seats
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errs, errs[:3]
    assert sorted(done) == list(range(16))
    assert pool.get_status()["used"] == 0


def test_client_collected_on_another_thread_is_released_by_its_owner(pool):
    c = pool.acquire()
    base = pool.get_status()["used"]
    box = [c]
    del c
    # The last reference dies on another thread: it may not release it there.
    run_in_thread(lambda: box.clear() or gc.collect())
    assert pool.get_status()["used"] == base  # queued for this thread
    with pool.acquire():  # our next acquire releases it first
        assert pool.get_status()["used"] == base
    assert pool.get_status()["used"] == base - 1


def test_a_thread_that_dies_holding_a_client_loses_its_seat(pool):
    before = pool.get_status()
    held = []
    out = run_in_thread(lambda: held.append(pool.acquire()))
    assert "error" not in out
    deadline = time.monotonic() + 5
    while pool.get_status()["used"] != before["used"] and time.monotonic() < deadline:
        time.sleep(0.02)
    st = pool.get_status()
    assert st["used"] == before["used"] and st["reclaims"] > before["reclaims"]
    with pytest.raises(phantompool.NotOwnerError):
        held[0].health()
    held.clear()  # collected here: the seat is already back; nothing to release
    gc.collect()
    assert pool._users == 0


def test_a_dead_threads_client_is_not_owned_by_a_new_thread_with_its_ident(pool):
    # glibc reuses a dead thread's stack, so a new thread often gets the
    # same ident (pthread_t).  The dead thread's client names a lease the
    # daemon reclaimed, whose C struct is reused for the next lease of that
    # seat: the new thread must be refused, not given (or made to release)
    # its own lease through the stale client.
    before = pool.get_status()
    dead = {}

    def die_holding():
        c = pool.acquire()
        dead.update(client=c, slot=c.slot, ident=threading.get_ident())
    t = threading.Thread(target=die_holding)
    t.start()
    t.join(30)
    deadline = time.monotonic() + 5
    while pool.get_status()["used"] != before["used"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pool.get_status()["used"] == before["used"]  # reclaimed
    stale = dead.pop("client")

    def same_ident_thread():
        if threading.get_ident() != dead["ident"]:
            return None
        mine = [pool.acquire(timeout=5) for _ in range(before["max"] - before["used"])]
        try:
            assert dead["slot"] in [c.slot for c in mine]  # the dead thread's seat, leased again
            with pytest.raises(phantompool.NotOwnerError):
                stale.health()
            with pytest.raises(phantompool.NotOwnerError):
                stale.release()
            return pool.get_status()["used"] - before["used"] == len(mine)
        finally:
            for c in mine:
                c.release()
    for _ in range(50):  # the ident comes back within a few threads, if ever
        out = run_in_thread(same_ident_thread)
        if "error" in out:
            raise out["error"]
        if out["value"] is not None:
            assert out["value"] is True
            break
    else:
        pytest.skip("no thread got the dead thread's ident back")
    del stale
    gc.collect()
    assert pool.get_status()["used"] == before["used"] and pool._users == 0


def test_orphans_of_a_thread_that_ends_do_not_keep_the_pool_attached():
    # A client dropped on another thread is queued for its owner thread;
    # if that thread ends without another acquire(), the seat goes back
    # with it, and close() must still detach.
    p = phantompool.create_pool()
    base = p.get_status()["used"]
    box, leased, finish = [], threading.Event(), threading.Event()

    def owner():
        box.append(p.acquire())
        leased.set()
        finish.wait(10)
    t = threading.Thread(target=owner)
    t.start()
    assert leased.wait(10)
    box.clear()
    gc.collect()  # collected here: queued for the owner thread
    assert p._users == 1
    finish.set()
    t.join(10)
    deadline = time.monotonic() + 5
    while (p._users or p.get_status()["used"] != base) and time.monotonic() < deadline:
        time.sleep(0.02)
        gc.collect()
    assert p.get_status()["used"] == base  # the daemon took the seat back
    p.close()
    assert p._users == 0 and p._handle is None
