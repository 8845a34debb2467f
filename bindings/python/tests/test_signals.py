"""Signals during a blocking call: Python's handlers must run promptly."""
import os
import signal
import threading
import time

import pytest


def test_ctrl_c_interrupts_an_acquire_waiting_for_a_seat(pool):
    # Every seat held: the next acquire waits.  Ctrl-C (SIGINT) must raise
    # KeyboardInterrupt at once, not when the 20 s wait runs out, and leave
    # no lease and no waiter behind.
    held = []
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    try:
        for _ in range(pool.get_status()["max"]):
            held.append(pool.acquire(timeout=5))
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            pool.acquire(timeout=20)
        waited = time.monotonic() - t0
        assert waited < 10, f"KeyboardInterrupt came after {waited:.1f} s (the wait's end)"
        st = pool.get_status()
        assert st["used"] == len(held) and st["waiting"] == 0
        assert pool._users == len(held)
        held.pop().release()
        with pool.acquire(timeout=5) as c:  # the freed seat is leasable
            assert c.health()["status"] == "healthy"
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
        for c in held:
            c.release()
    assert pool.get_status()["used"] == 0 and pool._users == 0
