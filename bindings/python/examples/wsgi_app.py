"""A WSGI app on the pool, for gunicorn with --preload.

    PHANTOMPOOL=default gunicorn --preload -w 4 -k gthread --threads 8 \\
        -b 127.0.0.1:8000 wsgi_app:app

The pool is attached once, in the gunicorn master, when --preload imports
this module; every forked worker, and every thread of it, uses that same
handle.  Each web request takes a seat for itself (``with
pool.acquire()``), on its own thread, and gives it back at the end.

Routes: GET /        -> {"pid", "pool_attached_in", "health"}
        GET /notes   -> the notes (database "wsgi_demo", table "notes")
        POST /notes  -> add a note: the request body is its text
"""
import json
import os

import phantompool

pool = phantompool.create_pool(acquire_timeout=5)
ATTACHED_IN = os.getpid()
DB, TABLE = "wsgi_demo", "notes"


def _ensure_schema():
    with pool.acquire() as client:
        try:
            client.create_database(DB)
            client.create_table(DB, TABLE, [{"name": "id", "type": "INTEGER", "primaryKey": True},
                                            {"name": "text", "type": "TEXT"},
                                            {"name": "pid", "type": "INTEGER"}])
        except phantompool.HTTPError as e:
            if e.status != 409:  # already there
                raise


_ensure_schema()


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    try:
        with pool.acquire() as client:
            if path == "/":
                body = {"pid": os.getpid(), "pool_attached_in": ATTACHED_IN, "health": client.health()}
            elif path == "/notes" and method == "POST":
                n = int(environ.get("CONTENT_LENGTH") or 0)
                text = environ["wsgi.input"].read(n).decode("utf-8", "replace")
                body = client.insert(DB, TABLE, {"text": text, "pid": os.getpid()})
            elif path == "/notes":
                body = client.select(DB, TABLE)
            else:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"not found\n"]
        status = "200 OK"
    except phantompool.AcquireTimeout as e:
        status, body = "503 Service Unavailable", {"error": str(e)}
    except phantompool.PhantomDBError as e:
        status, body = "502 Bad Gateway", {"error": str(e)}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
