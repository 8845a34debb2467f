"""A client: one leased seat of the pool, with the PhantomDB methods.

A :class:`Client` is what ``Pool.acquire()`` returns.  It holds a lease on
one seat of the pool until it is released (``pool.release(client)``,
``client.release()``, or the end of a ``with`` block).  Every call on it
must run on the OS thread that acquired it, in the process that acquired
it: from anywhere else it raises :class:`~phantompool.errors.NotOwnerError`
(PP_ENOTOWNER) and changes nothing.
"""
from __future__ import annotations

import ctypes
import json as _json
import math
import threading
import warnings
from contextlib import contextmanager
from typing import (TYPE_CHECKING, Any, BinaryIO, Dict, Iterable, Iterator, List, Mapping,
                    Optional, Sequence, Tuple, Union)
from urllib.parse import quote

from . import _owner
from ._lib import PPHeader, PPReq, PPResp, lib
from .errors import (PP_EBADHEADER, PP_EBADMETHOD, PP_EBADPATH, PP_EINVAL, PP_ELOST, PP_ERELEASED, PP_ESTATE,
                     PP_ENOTOWNER, AlreadyReleased, HTTPError, InvalidArgument, NotOwnerError, PoolError,
                     error_for)

if TYPE_CHECKING:
    from .pool import Pool

_get_ident = threading.get_ident
# The per-thread state (_owner): a thread's own object, gone with it.
_tls = _owner._tls
_string_at = ctypes.string_at

BodyArg = Union[None, bytes, bytearray, memoryview, str]
StreamBody = Union[BodyArg, Iterable[bytes], BinaryIO]
HeadersArg = Union[None, Mapping[str, str], Sequence[Tuple[str, str]]]
JSON = Any

_INT_MAX = 2**31 - 1
_NOBODY = object()


def _header_array(pairs: Sequence[Tuple[bytes, bytes]]) -> Any:
    arr = (PPHeader * len(pairs))()
    for i, (k, v) in enumerate(pairs):
        arr[i].name = k
        arr[i].value = v
    return arr


# The typed methods' headers, built once (the helpers' json_headers).
_ACCEPT = _header_array([(b"Accept", b"application/json")])
_ACCEPT_CT = _header_array([(b"Accept", b"application/json"),
                            (b"Content-Type", b"application/json")])


def c_text(s: str, encoding: str, code: int, what: str) -> bytes:
    """``s`` encoded for a ``char *`` field: a NUL byte would make C cut
    the string there (a different request than the caller gave), so it is
    refused with the library's code for that field."""
    b = s.encode(encoding, "replace") if encoding == "ascii" else s.encode(encoding)
    if b"\0" in b:
        raise InvalidArgument(code, "request", f"{what} contains a NUL byte")
    return b


def encode_headers(headers: HeadersArg) -> Tuple[Any, int]:
    """A ``pp_header`` array (and its length) from a mapping or a sequence
    of (name, value) pairs.  Only Content-Type, Accept and X-Request-Id are
    allowed by the pool (others: PP_EBADHEADER from the library)."""
    if not headers:
        return None, 0
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs = [(c_text(str(k), "utf-8", PP_EBADHEADER, "a header name"),
              c_text(str(v), "utf-8", PP_EBADHEADER, "a header value")) for k, v in items]
    return _header_array(pairs), len(pairs)


def encode_body(body: BodyArg, json: Any = _NOBODY) -> Optional[bytes]:
    """The request body as bytes: ``json`` serialised if given, else
    ``body`` (str is encoded as UTF-8)."""
    if json is not _NOBODY:
        if body is not None:
            raise InvalidArgument(PP_EINVAL, "request", "give body or json, not both")
        return _dumps(json)
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise InvalidArgument(PP_EINVAL, "request", f"body must be bytes or str, not {type(body).__name__}")


def _dumps(value: Any) -> bytes:
    try:
        return _json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise InvalidArgument(PP_EINVAL, "json", f"cannot encode the body as JSON: {e}") from None


def timeout_ms(timeout: Optional[float]) -> int:
    """A request timeout in seconds as the library's milliseconds
    (None or 0: the daemon's request timeout)."""
    if not timeout:
        return 0
    if timeout < 0 or math.isnan(timeout):
        raise InvalidArgument(PP_EINVAL, "request", f"timeout {timeout!r} must be positive")
    return _INT_MAX if math.isinf(timeout) else min(_INT_MAX, max(1, math.ceil(timeout * 1000)))


def segment(name: str, what: str = "name") -> str:
    """One path segment: ``name`` percent-escaped like the C helpers do
    (every byte but ``A-Z a-z 0-9 - . _ ~``; ``.`` and ``..`` as ``%2E``
    and ``%2E%2E``).  Empty or non-str names are PP_EINVAL."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument(PP_EINVAL, "path", f"{what} must be a non-empty str, not {name!r}")
    if name == ".":
        return "%2E"
    if name == "..":
        return "%2E%2E"
    return quote(name, safe="")


def query_string(args: Sequence[Tuple[str, Optional[str]]]) -> str:
    """``?k=v&...`` of the pairs whose value is not None (escaped)."""
    parts = [f"{k}={quote(v, safe='')}" for k, v in args if v is not None]
    return "?" + "&".join(parts) if parts else ""


class Response:
    """A whole response: ``status``, ``content_type``, ``request_id``
    (X-Request-Id, "" if none) and ``body`` (bytes)."""

    __slots__ = ("status", "content_type", "request_id", "body")

    def __init__(self, status: int, content_type: str, request_id: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.request_id = request_id
        self.body = body

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> JSON:
        """The body parsed as JSON (ValueError if it is not JSON)."""
        return _json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.content_type!r} {len(self.body)} bytes>"


def _resp_head(resp: PPResp) -> Tuple[int, str, str]:
    return (resp.status, resp.content_type.decode("latin-1"), resp.request_id.decode("latin-1"))


def take_response(resp: PPResp) -> Response:
    """Copy a filled ``pp_resp`` into a :class:`Response` and free it."""
    try:
        body = _string_at(resp.body, resp.body_len) if resp.body_len else b""
        return Response(*_resp_head(resp), body)
    finally:
        lib().pp_resp_free(resp)


def check_json(method: str, path: str, r: Response) -> JSON:
    """A typed method's result: the parsed JSON of a 2xx response ({} for
    an empty body, as the seed client returns), else :class:`HTTPError`."""
    if not 200 <= r.status < 300:
        raise HTTPError(r.status, method, path, r.body)
    if not r.body:
        return {}
    try:
        return _json.loads(r.body)
    except ValueError as e:
        raise HTTPError(r.status, method, path, r.body) from e


class Client:
    """One leased seat.  Get it from :meth:`Pool.acquire`.

    The PhantomDB methods return parsed JSON and raise
    :class:`~phantompool.errors.HTTPError` for a non-2xx answer;
    :meth:`request` and :meth:`stream` give raw responses whatever the
    status.  Pool failures raise :class:`~phantompool.errors.PoolError`
    subclasses carrying the PP_E* code.  An error the daemon reports
    (PP_ETIMEDOUT, PP_EBACKEND...) leaves the client usable; an exchange
    broken on the client's side (PP_EDAEMON, PP_EPROTO...) makes its next
    request fail with PP_ESTATE: release it and acquire another.
    """

    def __init__(self, pool: "Pool", lease: int, state: "_owner.ThreadState") -> None:
        self._pool = pool
        self._lease: Optional[int] = lease
        self._pid = _owner.pid()
        self._thread = _get_ident()
        self._thread_obj = threading.current_thread()
        self._state = state
        self._lib = lib()
        self._req = PPReq()
        self._resp = PPResp()
        self._stream: Optional[StreamResponse] = None

    # ---- ownership -------------------------------------------------------

    def _owned_here(self) -> bool:
        """True on the thread that acquired the client.  The ident alone
        does not say so: a thread that starts after the owner ended may be
        given its ident (glibc reuses the stack, so the same pthread_t), and
        the C library, which compares pthread_t too, would take the stale
        lease pointer for that thread's own lease of the same seat.  The
        owner's per-thread state object dies with it."""
        return self._thread == _get_ident() and getattr(_tls, "state", None) is self._state

    def _check(self, op: str) -> int:
        """The lease pointer, if the caller may use it; else raise."""
        lease = self._lease
        if (lease is not None and self._thread == _get_ident() and self._pid == _owner.pid()
                and getattr(_tls, "state", None) is self._state):  # _owned_here(), inlined
            return lease
        if self._pid != _owner.pid():
            raise NotOwnerError(PP_ENOTOWNER, op, f"this client was acquired in process {self._pid}, "
                                f"not in this one ({_owner.pid()}): a lease never crosses a fork; "
                                "acquire a new client here")
        if lease is None:
            raise AlreadyReleased(PP_ERELEASED, op, "this client was released; acquire a new one")
        if self._thread == _get_ident():
            raise NotOwnerError(PP_ENOTOWNER, op, f"this client was acquired on an earlier thread with "
                                f"this thread's id ({self._thread}), which ended holding it: the daemon "
                                "took its seat back; acquire a new client")
        raise NotOwnerError(PP_ENOTOWNER, op, f"this client was acquired on thread {self._thread}, "
                            f"not on this one ({_get_ident()}): use and release it on its own thread")

    @property
    def released(self) -> bool:
        """True once the client has been released."""
        return self._lease is None

    @property
    def slot(self) -> int:
        """The index of the seat this client holds (for logs)."""
        return int(self._lib.pp_lease_slot(self._check("pp_lease_slot")))

    def release(self) -> None:
        """Give the seat back to the pool (the same as ``pool.release(self)``).

        Raises AlreadyReleased (PP_ERELEASED) when called twice and
        NotOwnerError (PP_ENOTOWNER, nothing changes) from another thread
        or process.  A seat the daemon had already reclaimed (PP_ELOST:
        it restarted, or reset the seat) counts as released: no error.
        """
        lease = self._check("pp_release")
        self._stream = None
        rc = self._lib.pp_release(lease)
        if rc == PP_ENOTOWNER:
            raise error_for(rc, "pp_release")
        self._lease = None
        self._pool._leave()
        if rc and rc != PP_ELOST:
            raise error_for(rc, "pp_release")

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._lease is not None:
            self.release()

    def __del__(self) -> None:
        lease = self._lease
        if lease is None or self._pid != _owner.pid():
            return  # released, or the parent's lease in a forked child
        try:
            if self._owned_here():
                # Release before warning: a filter that turns the warning
                # into an error (-W error) must not keep the seat leased.
                slot = self.slot
                self.release()
                warnings.warn(f"phantompool client on seat {slot} was never released; "
                              "released it now", ResourceWarning, source=self)
            elif not self._thread_obj.is_alive():
                # Its thread ended holding it: the daemon has reclaimed the
                # seat (the lease's robust mutex told it); nothing to free.
                self._lease = None
                self._pool._leave()
            else:
                # Only its owner thread can release it: queue it there
                # (see _owner).  list.append is atomic.
                self._lease = None
                self._state.orphans.append((self._pool, lease))
        except Exception:  # interpreter shutdown: the daemon reclaims it
            pass

    def __repr__(self) -> str:
        state = "released" if self._lease is None else "leased"
        return f"<phantompool.Client {state} pool={self._pool.name!r}>"

    # ---- raw requests ----------------------------------------------------

    def _exchange(self, method: bytes, path: bytes, headers: Any, nheaders: int,
                  body: Optional[bytes], tmo: int) -> Response:
        lease = self._check("pp_request")
        if self._stream is not None:
            raise PoolError(PP_ESTATE, "pp_request", "a streamed response is still open on this "
                            "client: read it to the end or close it first")
        req = self._req
        req.method = method
        req.path = path
        req.headers = headers
        req.nheaders = nheaders
        req.body = body
        req.body_len = len(body) if body else 0
        req.timeout_ms = tmo
        resp = self._resp
        rc = self._lib.pp_request(lease, req, resp)
        req.body = None
        if rc:
            self._lib.pp_resp_free(resp)
            raise error_for(rc, "pp_request", f"{method.decode()} {path.decode('utf-8', 'replace')}")
        return take_response(resp)

    def request(self, method: str, path: str, headers: HeadersArg = None, body: BodyArg = None,
                *, json: Any = _NOBODY, timeout: Optional[float] = None) -> Response:
        """Send one request on this seat and return the whole response,
        whatever its status.

        ``path`` is relative to the daemon's base URL ("/databases?x=1"),
        sent as given (escape names yourself, or use the typed methods).
        ``headers``: Content-Type, Accept, X-Request-Id only.  ``body``:
        bytes or str; or ``json=`` a value to send as JSON (Content-Type
        application/json is then added).  ``timeout`` in seconds (default:
        the daemon's request timeout).
        """
        data = encode_body(body, json)
        if json is not _NOBODY:
            headers = dict(headers or {})
            if not any(str(k).lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"  # one only: a second is PP_EBADHEADER
        hdrs, n = encode_headers(headers)
        return self._exchange(c_text(method, "ascii", PP_EBADMETHOD, "the method"),
                              c_text(path, "utf-8", PP_EBADPATH, "the path"), hdrs, n, data, timeout_ms(timeout))

    def stream(self, method: str, path: str, headers: HeadersArg = None, body: StreamBody = None,
               *, body_len: Optional[int] = None, timeout: Optional[float] = None,
               chunk_size: int = 65536) -> "StreamResponse":
        """Send a request whose body streams from ``body`` and return the
        response head at once; read the body from the returned
        :class:`StreamResponse` (bodies of any size go through the pool's
        fixed-size rings).

        ``body``: bytes/str, an iterable of bytes chunks, or a file object
        (read ``chunk_size`` bytes at a time, at least 1, else ValueError;
        a text file is sent as UTF-8).  ``body_len``: the
        exact length when known (required by the pool for nothing; without
        it the length is "unknown" and the daemon sends it chunked).  A
        body that does not match a given ``body_len`` fails with PP_ETOOBIG
        (too long) or PP_ESTATE (too short).
        """
        lease = self._check("pp_stream_begin")
        if self._stream is not None:
            raise PoolError(PP_ESTATE, "pp_stream_begin", "a streamed response is still open on "
                            "this client: read it to the end or close it first")
        chunks: Iterable[Any]
        if body is None or isinstance(body, (bytes, bytearray, memoryview, str)):
            data = encode_body(body) or b""
            chunks = (data,) if data else ()
            if body_len is None:
                body_len = len(data)
        elif hasattr(body, "read"):
            if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
                raise ValueError(f"chunk_size must be an int of at least 1, not {chunk_size!r}")
            chunks = _file_chunks(body, chunk_size)
        else:
            chunks = body
        declared = -1 if body_len is None else int(body_len)
        hdrs, n = encode_headers(headers)
        req = self._req
        req.method = c_text(method, "ascii", PP_EBADMETHOD, "the method")
        req.path = c_text(path, "utf-8", PP_EBADPATH, "the path")
        req.headers = hdrs
        req.nheaders = n
        req.body = None
        req.body_len = 0
        req.timeout_ms = timeout_ms(timeout)
        L = self._lib
        rc = L.pp_stream_begin(lease, req, declared)
        if rc:
            raise error_for(rc, "pp_stream_begin", f"{method} {path}")
        for chunk in chunks:
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            elif not isinstance(chunk, bytes):
                chunk = bytes(chunk)
            if chunk and (rc := L.pp_stream_write(lease, chunk, len(chunk))) != 0:
                raise error_for(rc, "pp_stream_write", f"{method} {path}")
        resp = PPResp()
        rc = L.pp_stream_read_head(lease, resp)
        if rc:
            raise error_for(rc, "pp_stream_read_head", f"{method} {path}")
        self._stream = StreamResponse(self, *_resp_head(resp))
        return self._stream

    # ---- the PhantomDB methods (libclient/helpers.c) -----------------------

    def _call(self, method: str, path: str, payload: Any = _NOBODY,
              timeout: Optional[float] = None) -> JSON:
        if payload is _NOBODY:
            r = self._exchange(method.encode(), path.encode(), _ACCEPT, 1, None, timeout_ms(timeout))
        else:
            r = self._exchange(method.encode(), path.encode(), _ACCEPT_CT, 2, _dumps(payload),
                               timeout_ms(timeout))
        return check_json(method, path, r)

    def health(self) -> Dict[str, Any]:
        """GET /health -> ``{"status": "healthy"}``."""
        return self._call("GET", "/health")

    health_check = health  # the seed client's name

    def list_databases(self) -> List[Any]:
        """GET /databases -> the list of Database objects (the response's
        ``databases``, unwrapped as the seed client does)."""
        return self._call("GET", "/databases").get("databases", [])

    def create_database(self, name: str) -> Dict[str, Any]:
        """POST /databases ``{"name": name, "options": {}}`` -> the Database."""
        segment(name, "database name")
        return self._call("POST", "/databases", {"name": name, "options": {}})

    def get_database(self, database: str) -> Dict[str, Any]:
        """GET /databases/{database} -> the Database."""
        return self._call("GET", f"/databases/{segment(database, 'database')}")

    def drop_database(self, database: str) -> Dict[str, Any]:
        """DELETE /databases/{database} -> {} (204)."""
        return self._call("DELETE", f"/databases/{segment(database, 'database')}")

    def list_tables(self, database: str) -> List[Any]:
        """GET /databases/{database}/tables -> the list of Table objects."""
        return self._call("GET", f"/databases/{segment(database, 'database')}/tables").get("tables", [])

    def create_table(self, database: str, name: str, columns: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        """POST /databases/{database}/tables ``{"name", "columns"}`` -> the Table.

        Each column is a dict: ``name`` (required), ``type``, ``nullable``,
        ``primaryKey``, ``defaultValue`` (sent as given; ``primary_key``
        and ``default_value`` are accepted as spellings of the last two).
        """
        segment(name, "table name")
        cols = []
        for c in columns:
            if not isinstance(c, Mapping) or not c.get("name"):
                raise InvalidArgument(PP_EINVAL, "create_table", f"a column needs a name: {c!r}")
            col = dict(c)
            for snake, camel in (("primary_key", "primaryKey"), ("default_value", "defaultValue")):
                if snake in col:
                    col.setdefault(camel, col.pop(snake))
            cols.append(col)
        return self._call("POST", f"/databases/{segment(database, 'database')}/tables",
                          {"name": name, "columns": cols})

    def get_table(self, database: str, table: str) -> Dict[str, Any]:
        """GET /databases/{database}/tables/{table} -> the Table."""
        return self._call("GET", self._table_path(database, table))

    def drop_table(self, database: str, table: str) -> Dict[str, Any]:
        """DELETE /databases/{database}/tables/{table} -> {} (204)."""
        return self._call("DELETE", self._table_path(database, table))

    def insert_rows(self, database: str, table: str, rows: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        """POST .../tables/{table}/rows ``{"rows": rows}`` -> ``{"inserted": n}``."""
        if not all(isinstance(r, Mapping) for r in rows):
            raise InvalidArgument(PP_EINVAL, "insert_rows", "rows must be a list of dicts")
        return self._call("POST", self._table_path(database, table) + "/rows", {"rows": list(rows)})

    def get_rows(self, database: str, table: str, where: Optional[str] = None,
                 order_by: Optional[str] = None, limit: Optional[int] = None,
                 offset: Optional[int] = None) -> Dict[str, Any]:
        """GET .../tables/{table}/rows?where=&orderBy=&limit=&offset= ->
        ``{"rows": [...], "count": n}`` (None or "" leave an argument out)."""
        for n, v in (("limit", limit), ("offset", offset)):
            if v is not None and (not isinstance(v, int) or v < 0):
                raise InvalidArgument(PP_EINVAL, "get_rows", f"{n} must be an int >= 0, not {v!r}")
        qs = query_string([("where", where or None), ("orderBy", order_by or None),
                           ("limit", str(limit) if limit else None),
                           ("offset", str(offset) if offset else None)])
        return self._call("GET", self._table_path(database, table) + "/rows" + qs)

    def query(self, database: str, sql: str, parameters: Optional[Sequence[Any]] = None) -> Dict[str, Any]:
        """POST /databases/{database}/query ``{"query": sql, "parameters": [...]}``
        -> ``{"columns", "rows", "rowCount", "affectedRows"}``."""
        if not isinstance(sql, str) or not sql:
            raise InvalidArgument(PP_EINVAL, "query", "sql must be a non-empty str")
        return self._call("POST", f"/databases/{segment(database, 'database')}/query",
                          {"query": sql, "parameters": list(parameters or [])})

    def execute_query(self, database: str, query: str) -> Dict[str, Any]:
        """The seed client's name for :meth:`query` without parameters."""
        return self.query(database, query)

    def insert(self, database: str, table: str, data: Mapping[str, Any]) -> Dict[str, Any]:
        """POST /databases/{database}/tables/{table} with one row object ->
        ``{"inserted": 1, "id": rowid}``."""
        if not isinstance(data, Mapping):
            raise InvalidArgument(PP_EINVAL, "insert", "the row must be a dict")
        return self._call("POST", self._table_path(database, table), dict(data))

    def select(self, database: str, table: str, condition: Optional[str] = None) -> List[Dict[str, Any]]:
        """GET /databases/{database}/tables/{table}?condition= -> the list
        of records (None or "" selects every record)."""
        path = self._table_path(database, table) + "?condition=" + quote(condition or "", safe="")
        return self._call("GET", path).get("records", [])

    def update(self, database: str, table: str, data: Mapping[str, Any],
               condition: Optional[str] = None) -> Dict[str, Any]:
        """PUT /databases/{database}/tables/{table} ``{"data", "condition"}``
        -> ``{"updated": n}``.  ``condition`` is required, as in the C
        helper (pass "1=1" to mean every row): PP_EINVAL without it."""
        if not isinstance(data, Mapping):
            raise InvalidArgument(PP_EINVAL, "update", "data must be a dict")
        if not condition:
            raise InvalidArgument(PP_EINVAL, "update", "a condition is required (\"1=1\" for every row)")
        return self._call("PUT", self._table_path(database, table),
                          {"data": dict(data), "condition": condition})

    def delete(self, database: str, table: str, condition: Optional[str] = None) -> Dict[str, Any]:
        """DELETE /databases/{database}/tables/{table}?condition= ->
        ``{"deleted": n}``.  ``condition`` is required, as in the C helper
        (pass "1=1" to mean every row): PP_EINVAL without it."""
        if not condition:
            raise InvalidArgument(PP_EINVAL, "delete", "a condition is required (\"1=1\" for every row)")
        return self._call("DELETE", self._table_path(database, table) + "?condition=" +
                          quote(condition, safe=""))

    def begin_transaction(self) -> str:
        """POST /transactions -> the transaction id (str)."""
        doc = self._call("POST", "/transactions")
        tx = doc.get("transaction_id") if isinstance(doc, dict) else None
        if not isinstance(tx, str) or not tx:
            raise PoolError(-18, "begin_transaction", f"no transaction_id in the answer: {doc!r}")
        return tx

    def commit_transaction(self, transaction_id: str) -> Dict[str, Any]:
        """POST /transactions/{id}/commit."""
        return self._call("POST", f"/transactions/{segment(transaction_id, 'transaction id')}/commit")

    def rollback_transaction(self, transaction_id: str) -> Dict[str, Any]:
        """POST /transactions/{id}/rollback."""
        return self._call("POST", f"/transactions/{segment(transaction_id, 'transaction id')}/rollback")

    @contextmanager
    def transaction(self) -> Iterator[str]:
        """``with client.transaction() as tx_id:`` begins a transaction,
        commits it when the block ends normally, rolls it back when the
        block raises (and re-raises)."""
        tx = self.begin_transaction()
        try:
            yield tx
        except BaseException:
            self.rollback_transaction(tx)
            raise
        self.commit_transaction(tx)

    @staticmethod
    def _table_path(database: str, table: str) -> str:
        return f"/databases/{segment(database, 'database')}/tables/{segment(table, 'table')}"


def _file_chunks(reader: Any, chunk_size: int) -> Iterator[Any]:
    """reader.read(chunk_size) until it returns an empty chunk: b"" from a
    binary file, "" from a text file (whose chunks are sent as UTF-8)."""
    while (part := reader.read(chunk_size)):
        yield part


class StreamResponse:
    """A response whose body is read piece by piece from the seat's ring.

    ``status``, ``content_type``, ``request_id`` are known at once.  Read
    the body with :meth:`read`, :meth:`readinto` or by iterating (chunks of
    bytes).  :meth:`close` (also at the end of a ``with`` block) reads and
    drops what is left, so the client can send its next request; to abandon
    a huge body instead, release the client (the daemon then resets the
    connection).  Only the client's owner thread may read.
    """

    def __init__(self, client: Client, status: int, content_type: str, request_id: str) -> None:
        self._client = client
        self.status = status
        self.content_type = content_type
        self.request_id = request_id
        self._buf = ctypes.create_string_buffer(65536)
        self._eof = False

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def _read_some(self, n: int) -> bytes:
        """Up to n bytes (b"" at the end of the body)."""
        if self._eof:
            return b""
        c = self._client
        lease = c._check("pp_stream_read")
        if c._stream is not self:
            raise PoolError(PP_ESTATE, "pp_stream_read", "this stream is closed")
        got = int(c._lib.pp_stream_read(lease, self._buf, min(n, len(self._buf))))
        if got < 0:
            self._finish()
            raise error_for(got, "pp_stream_read")
        if got == 0:
            self._finish()
            return b""
        return self._buf.raw[:got] if got < 512 else _string_at(self._buf, got)

    def _finish(self) -> None:
        self._eof = True
        if self._client._stream is self:
            self._client._stream = None

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of the body (all the rest if n < 0); b"" at the end."""
        if n == 0:
            return b""
        if n > 0:
            return self._read_some(n)
        parts = []
        while (part := self._read_some(len(self._buf))):
            parts.append(part)
        return b"".join(parts)

    def readinto(self, buf: Union[bytearray, memoryview]) -> int:
        """Read into a writable buffer; returns the count (0 at the end)."""
        if self._eof or len(buf) == 0:
            return 0
        c = self._client
        lease = c._check("pp_stream_read")
        if c._stream is not self:
            raise PoolError(PP_ESTATE, "pp_stream_read", "this stream is closed")
        target = (ctypes.c_char * len(buf)).from_buffer(buf)
        got = int(c._lib.pp_stream_read(lease, target, len(buf)))
        if got <= 0:
            self._finish()
            if got < 0:
                raise error_for(got, "pp_stream_read")
        return got

    def __iter__(self) -> Iterator[bytes]:
        while (part := self._read_some(len(self._buf))):
            yield part

    def iter_content(self, chunk_size: Optional[int] = 65536) -> Iterator[bytes]:
        """The body in chunks of at most ``chunk_size`` bytes; ``None``:
        in the pieces it arrives in (as requests does with stream=True).
        A ``chunk_size`` below 1 is a ValueError and a non-int a TypeError,
        raised here, before anything is read (requests would yield nothing
        for 0 and leave the body unread)."""
        if chunk_size is None:
            return iter(self)
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool):
            raise TypeError(f"chunk_size must be an int or None, not {type(chunk_size).__name__}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1 or None, not {chunk_size}")
        return self._chunks(chunk_size)

    def _chunks(self, chunk_size: int) -> Iterator[bytes]:
        while (part := self._read_some(chunk_size)):
            yield part

    def close(self) -> None:
        """Read and drop the rest of the body (see the class doc)."""
        while not self._eof:
            self._read_some(len(self._buf))

    def __enter__(self) -> "StreamResponse":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._eof or self._client._lease is None:
            return
        if exc[0] is None:
            self.close()
        else:
            self._finish()  # leave the exchange half read: release the client

    def __repr__(self) -> str:
        return f"<StreamResponse {self.status} {self.content_type!r}{' eof' if self._eof else ''}>"
