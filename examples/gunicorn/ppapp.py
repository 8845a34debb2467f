"""ppapp.py - the deployment examples' application (examples/common/ppapp.h)
as a WSGI app for gunicorn, through the Python binding (bindings/python).

    GET /app?n=N[&hold_ms=MS]
    -> 200 {"n":N,"pid":PID,"uid":UID,"gid":GID,"slot":K,"db":<PhantomDB's answer>}

The worker leases a seat, POSTs /databases/demo/query
{"query":"SELECT ? AS n","parameters":[N]} on it (creating the database
"demo" the first time it is missing), waits hold_ms (0..10000: the tests
SIGKILL a worker while it holds its seat) and gives the seat back.
Errors answer 503 {"error":"<pp_strerror>","code":PP_E*} (the pool) or 502
(PhantomDB answered with an error status; its body is passed on).

Where the pool is attached: at import.  With gunicorn --preload the master
imports this module before it forks, so the master attaches once and every
worker (and every worker it forks later to replace a dead one) inherits
that handle: a pool handle is fork-safe.  Without --preload each worker
imports the module after its fork, so each worker attaches once, at its
start.  Either way a web request only leases a seat.  If the pool is not
there yet (the server started before phantompoold), the app tries again on
the next request instead of failing the import.

The pool's name: $PHANTOMPOOL, which the gunicorn config sets with raw_env
(docs/deploy/gunicorn.conf.py.in): do not rely on the environment of
whatever started gunicorn.  The workers run as www-data (user/group in the
config), so phantompoold must make the segment reachable for them:
mode = 0660, group = www-data.

A sync worker serves one request at a time on one thread, so a seat never
crosses threads (the library's rule); the binding checks it anyway.
"""
import json
import os
import sys
import time
from urllib.parse import parse_qs

import phantompool

HOLD_MS_MAX = 10000
LEASE_TIMEOUT = 10.0          # seconds, as the C examples
JSON = {"Content-Type": "application/json"}

_pool = None                   # the process's handle (inherited with --preload)
_attach_error = None           # the last attach failure: what a request answers


def attach():
    """Attach once; on failure print one line naming the pool, the error and
    the fix (as the C examples do) and keep the error for the answer."""
    global _pool, _attach_error
    try:
        _pool = phantompool.Pool(acquire_timeout=LEASE_TIMEOUT)
        _attach_error = None
    except phantompool.PoolError as e:
        _attach_error = e
        name = os.environ.get("PHANTOMPOOL") or "default"
        fix = ("; run phantompoold with mode = 0660 and group = the workers' group" if e.name == "PP_EACCES"
               else "; is phantompoold running for this pool, and did the server pass the name?"
               if e.name == "PP_ENOPOOL" else "")
        print(f"phantompool: cannot attach to pool '{name}' (/dev/shm/phantompool-{name}): "
              f"{e.text} ({e.code}){fix}", file=sys.stderr, flush=True)


attach()                       # in the master with --preload, else in each worker


def _query_int(qs, key, lo, hi, default):
    """The integer value of key in the query string, or default when it is
    absent or not a number in [lo, hi] (as the C examples)."""
    try:
        v = int(qs.get(key, [""])[0])
    except ValueError:
        return default
    return v if lo <= v <= hi else default


def _run_query(client, n):
    """POST the query on the seat; creates the database once if missing."""
    body = json.dumps({"query": "SELECT ? AS n", "parameters": [n]}).encode()
    r = client.request("POST", "/databases/demo/query", JSON, body)
    if r.status == 404:
        client.request("POST", "/databases", JSON, b'{"name":"demo"}')   # 201, or 409: created meanwhile
        r = client.request("POST", "/databases/demo/query", JSON, body)
    return r


def app(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    n = _query_int(qs, "n", -1000000000, 1000000000, 0)
    hold_ms = _query_int(qs, "hold_ms", 0, HOLD_MS_MAX, 0)
    if _pool is None:
        attach()
    try:
        if _pool is None:
            raise _attach_error
        with _pool.acquire() as client:           # the seat is given back at the end of the block
            slot = client.slot
            r = _run_query(client, n)
            if hold_ms:
                time.sleep(hold_ms / 1000)
        if r.ok and r.body.startswith(b"{"):
            status = "200 OK"
            data = (f'{{"n":{n},"pid":{os.getpid()},"uid":{os.getuid()},"gid":{os.getgid()},'
                    f'"slot":{slot},"db":').encode() + r.body + b"}\n"
        else:                                     # PhantomDB answered with an error
            status, data = "502 Bad Gateway", r.body + b"\n"
    except phantompool.PoolError as e:
        status = "503 Service Unavailable"
        data = json.dumps({"error": e.text, "code": e.code}, separators=(",", ":")).encode() + b"\n"
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
