"""The daemon dies: clear errors, then the next call after a restart works.
(Named to run last: it replaces the daemon tests/with-pool started.)"""
import os
import signal
import subprocess
import time

import phantompool
from phantompool import errors


def wait_gone(pid, limit=5.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def wait_ready(pool_name, limit=10.0):
    """Until the new daemon's segment answers (the way tests/with-pool waits)."""
    dump = os.path.join(os.environ["PP_BUILD"], "phantompool-shmdump")
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if subprocess.run([dump, "-p", pool_name], capture_output=True).returncode == 0:
            return True
        time.sleep(0.05)
    return False


def test_daemon_death_and_restart(pool, tmp_path):
    st = pool.get_status()
    old_pid, old_gen = st["daemon_pid"], st["generation"]
    held = pool.acquire()
    assert held.health()["status"] == "healthy"

    assert int(os.environ["PP_WITH_POOL_DAEMON_PID"]) == old_pid, "tests/with-pool's daemon pid"
    os.kill(old_pid, signal.SIGKILL)
    assert wait_gone(old_pid)

    def acquire_and_ask():
        # A free seat can still be leased for an instant (a CAS, no system
        # call); the request on it finds the daemon gone.
        with pool.acquire(timeout=10) as c:
            c.health()

    # Every kind of call now fails with PP_EDAEMON, promptly, never hangs.
    t0 = time.monotonic()
    for call in (acquire_and_ask, lambda: pool.request("GET", "/health"), pool.get_status):
        try:
            call()
            raise AssertionError("a call succeeded with the daemon dead")
        except phantompool.DaemonError as e:
            assert e.code == errors.PP_EDAEMON and "PP_EDAEMON" in str(e)
    assert time.monotonic() - t0 < 5
    try:
        held.health()
        raise AssertionError("a request on a lease of the dead daemon succeeded")
    except phantompool.PoolError as e:
        assert e.code in (errors.PP_EDAEMON, errors.PP_ELOST), e
    held.release()  # its seat went with the daemon: releasing is quiet
    assert held.released

    log = open(tmp_path / "daemon.log", "wb")
    subprocess.Popen(os.environ["PP_WITH_POOL_DAEMON_CMD"], shell=True, stdout=log, stderr=log,
                     start_new_session=True)  # stopped by tests/with-pool (pidfile)
    assert wait_ready(pool.name), (tmp_path / "daemon.log").read_text()

    # The same Pool object, no re-creation: the first call works.
    with pool.acquire(timeout=10) as c:
        assert c.health() == {"status": "healthy"}
    assert pool.request("GET", "/health").status == 200
    st = pool.get_status()
    assert st["generation"] != old_gen and st["daemon_pid"] not in (0, old_pid)
    assert st["used"] == 0
