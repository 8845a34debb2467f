"""A real gunicorn with --preload: the pool attached in the master works in
every worker, on every gthread thread."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
GUNICORN = shutil.which("gunicorn")
WORKERS = 3


@pytest.fixture
def gunicorn(tmp_path):
    if not GUNICORN:
        pytest.fail("gunicorn is not installed (Debian package gunicorn, in DEB_PACKAGES)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(EXAMPLES), EXAMPLES])
    log = open(tmp_path / "gunicorn.log", "w+")
    proc = subprocess.Popen([sys.executable, GUNICORN, "--preload", "-w", str(WORKERS), "-k", "gthread",
                             "--threads", "4", "-b", "127.0.0.1:0", "--graceful-timeout", "5",
                             "wsgi_app:app"], env=env, cwd=EXAMPLES, stdout=log, stderr=log)
    port, booted, deadline = None, 0, time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        text = (tmp_path / "gunicorn.log").read_text()
        m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        port = int(m.group(1)) if m else None
        booted = text.count("Booting worker")
        if port and booted >= WORKERS:
            break
        time.sleep(0.05)
    try:
        assert port and booted >= WORKERS, (tmp_path / "gunicorn.log").read_text()
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def get(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_gunicorn_preload_workers_share_the_master_pool(gunicorn):
    proc, port = gunicorn
    results, errors = [], []

    def hammer():
        try:
            for _ in range(15):
                results.append(get(port, "GET", "/"))
                st, doc = get(port, "POST", "/notes", body=f"from {threading.get_ident()}".encode())
                assert st == 200 and doc["inserted"] == 1, doc
        except BaseException as e:  # noqa: B902
            errors.append(e)
    threads = [threading.Thread(target=hammer) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert len(results) == 12 * 15
    pids = set()
    for status, doc in results:
        assert status == 200 and doc["health"] == {"status": "healthy"}, doc
        assert doc["pool_attached_in"] == proc.pid  # attached once, in the master
        assert doc["pid"] != proc.pid  # served by a forked worker
        pids.add(doc["pid"])
    assert len(pids) >= 2, pids  # several workers served, all through the master's handle
    st, notes = get(port, "GET", "/notes")
    assert st == 200 and len(notes) >= 12 * 15
