"""Fork: a pool made before fork() works in the children; a lease never
crosses a fork."""
import os
import time

import pytest

import phantompool


def fork_run(fn):
    """Run fn() in a forked child; return its exit status (0: fn returned
    True).  The child never returns into pytest."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if fn() else 3
        except BaseException as e:  # noqa: B902 - reported by exit status
            os.write(2, f"child: {type(e).__name__}: {e}\n".encode())
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_pool_made_before_fork_works_in_children(pool):
    pool.get_status()

    def child():
        ok = True
        for i in range(20):
            with pool.acquire(timeout=20) as c:
                ok &= c.request("POST", "/_debug/echo", json={"pid": os.getpid(), "i": i}).json()["i"] == i
            ok &= pool.request("GET", "/health").status == 200
        return ok
    pids = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            try:
                os._exit(0 if child() else 3)
            except BaseException:  # noqa: B902
                os._exit(2)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    assert codes == [0] * 6
    assert pool.get_status()["used"] == 0
    assert pool.request("GET", "/health").status == 200


def test_a_lease_never_crosses_a_fork(pool):
    c = pool.acquire()
    slot = c.slot

    def child():
        for call in (c.health, c.release, lambda: pool.release(c)):
            try:
                call()
                return False
            except phantompool.NotOwnerError as e:
                if e.code != phantompool.errors.PP_ENOTOWNER or "fork" not in str(e):
                    return False
        # The child's own leases work, and the parent's seat stays the parent's.
        with pool.acquire(timeout=5) as mine:
            if mine.slot == slot:
                return False
        del_ok = c.released is False
        return del_ok and pool.get_status()["used"] >= 1
    assert fork_run(child) == 0
    assert c.health()["status"] == "healthy"  # still the parent's
    c.release()


def test_child_dying_with_a_lease_gives_its_seat_back(pool):
    before = pool.get_status()

    def child():
        c = pool.acquire()  # noqa: F841 - held while the process dies
        os.kill(os.getpid(), 9)
    assert fork_run(child) == -9
    deadline = time.monotonic() + 5
    while pool.get_status()["used"] != before["used"] and time.monotonic() < deadline:
        time.sleep(0.02)
    st = pool.get_status()
    assert st["used"] == before["used"] and st["reclaims"] > before["reclaims"]


def test_close_in_a_child_leaves_the_parent_attached(pool):
    c = pool.acquire()

    def child():
        pool.close()  # the parent's client does not keep the child's copy alive
        return pool._handle is None
    assert fork_run(child) == 0
    assert c.health()["status"] == "healthy"
    c.release()
    assert pool.request("GET", "/health").status == 200


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_multiprocessing(pool, method):
    import multiprocessing as mp
    ctx = mp.get_context(method)
    with ctx.Pool(3) as procs:
        results = procs.map(_mp_task, range(6))
    assert [r[0] for r in results] == list(range(6))
    assert all(r[1] == {"status": "healthy"} for r in results)


def _mp_task(i):
    # forkserver: a fresh interpreter; fork: the test's module-level state.
    global _mp_pool
    if "_mp_pool" not in globals():
        _mp_pool = phantompool.create_pool()
    with _mp_pool.acquire(timeout=10) as c:
        return i, c.health()
