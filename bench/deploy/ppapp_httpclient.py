"""ppapp_httpclient.py - examples/gunicorn/ppapp.py's twin without the pool,
the usual way for a gunicorn app: each worker keeps one http.client
keep-alive connection to PhantomDB at $PHANTOMDB_URL for its whole life
(opened on its first request, after the fork).  Same route and answer
({"n":N,...,"slot":-1,"db":...}); the database "demo" must exist
(tests/deploy/bench creates it).  Used by make bench-deploy only."""
import http.client
import json
import os
from urllib.parse import parse_qs, urlsplit

_base = urlsplit(os.environ.get("PHANTOMDB_URL") or "http://127.0.0.1:8080")
_conn = None                   # this worker's connection
_conn_pid = None


def _post(path, body):
    global _conn, _conn_pid
    for attempt in (1, 2):     # a kept connection the server closed: once more
        if _conn is None or _conn_pid != os.getpid():
            _conn = http.client.HTTPConnection(_base.hostname, _base.port or 80, timeout=30)
            _conn_pid = os.getpid()
        try:
            _conn.request("POST", path, body, {"Content-Type": "application/json"})
            r = _conn.getresponse()
            return r.status, r.read()
        except (http.client.HTTPException, OSError):
            _conn.close()
            _conn = None
            if attempt == 2:
                raise


def app(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        n = int(qs.get("n", ["0"])[0])
    except ValueError:
        n = 0
    try:
        code, body = _post("/databases/demo/query",
                           json.dumps({"query": "SELECT ? AS n", "parameters": [n]}).encode())
    except (http.client.HTTPException, OSError) as e:
        code, body = 0, json.dumps({"error": str(e)}).encode()
    if code // 100 == 2:
        status = "200 OK"
        data = (f'{{"n":{n},"pid":{os.getpid()},"uid":{os.getuid()},"gid":{os.getgid()},'
                f'"slot":-1,"db":').encode() + body + b"}\n"
    else:
        status, data = "502 Bad Gateway", body + b"\n"
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
