"""Streaming bodies of any size through the fixed-size rings."""
import io
import time

import pytest

import phantompool
from conftest import debug_bytes, fnv1a64


def test_download_in_pieces(client):
    n = 3 * 1024 * 1024 + 17  # several times the ring
    with client.stream("GET", f"/_debug/bytes?bytes={n}") as s:
        assert s.status == 200 and s.ok and s.content_type == "application/octet-stream"
        head = s.read(1000)
        buf = bytearray(5000)
        got = s.readinto(buf)
        rest = s.read()
        assert s.read() == b"" and s.read(10) == b""
    data = head + bytes(buf[:got]) + rest
    assert len(data) == n
    assert data[:200000] == debug_bytes(200000)
    assert data[-1000:] == debug_bytes(1000, n - 1000)
    assert client.health()["status"] == "healthy"  # the lease is idle again


def test_iterating_chunks(client):
    with client.stream("GET", "/_debug/bytes?bytes=300000") as s:
        sizes = [len(c) for c in s.iter_content(4096)]
    assert sum(sizes) == 300000 and max(sizes) <= 4096


@pytest.mark.parametrize("kind", ["bytes", "iterable", "file", "iterable-unknown-length"])
def test_upload(client, kind):
    data = bytes((i * 7 + 3) & 0xff for i in range(700001))
    if kind == "bytes":
        body, n = data, None
    elif kind == "iterable":
        body, n = (data[i:i + 100000] for i in range(0, len(data), 100000)), len(data)
    elif kind == "file":
        body, n = io.BytesIO(data), len(data)
    else:
        body, n = iter([data[:1], data[1:500000], b"", data[500000:]]), None
    with client.stream("POST", "/_debug/sum", {"Content-Type": "application/octet-stream"},
                       body=body, body_len=n) as s:
        doc = s.read()
    import json
    assert json.loads(doc) == {"bytes": len(data), "fnv1a64": fnv1a64(data)}


def test_body_longer_than_declared(pool):
    with pool.acquire() as c:
        with pytest.raises(phantompool.TooBig) as ei:
            c.stream("POST", "/_debug/sum", body=iter([b"x" * 10]), body_len=5)
        assert ei.value.name == "PP_ETOOBIG"


def test_body_shorter_than_declared(pool):
    with pool.acquire() as c:
        with pytest.raises(phantompool.PoolError) as ei:
            c.stream("POST", "/_debug/sum", body=iter([b"x" * 3]), body_len=5)
        assert ei.value.name == "PP_ESTATE"


def test_close_drains_so_the_client_goes_on(client):
    s = client.stream("GET", "/_debug/bytes?bytes=500000")
    assert len(s.read(10)) == 10
    with pytest.raises(phantompool.PoolError) as ei:
        client.health()  # one exchange at a time
    assert ei.value.name == "PP_ESTATE" and "still open" in str(ei.value)
    s.close()
    assert client.health()["status"] == "healthy"
    assert s.read(1) == b""  # drained: at its end


def test_abandoned_stream_needs_a_new_client(pool):
    c = pool.acquire()
    with pytest.raises(RuntimeError):
        with c.stream("GET", "/_debug/bytes?bytes=2000000") as s:
            s.read(100)
            raise RuntimeError("stop reading")
    with pytest.raises(phantompool.PoolError) as ei:
        c.health()  # the exchange was left half read
    assert ei.value.name == "PP_ESTATE"
    c.release()  # the daemon resets the connection
    with pool.acquire() as c2:
        assert c2.health()["status"] == "healthy"
    deadline = time.monotonic() + 5  # the daemon resets the seat, then frees it
    while pool.get_status()["used"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pool.get_status()["used"] == 0


def test_another_thread_cannot_read_a_stream(client):
    import threading
    s = client.stream("GET", "/_debug/bytes?bytes=1000")
    errs = []
    t = threading.Thread(target=lambda: errs.append(pytest.raises(phantompool.NotOwnerError, s.read)))
    t.start()
    t.join()
    assert errs and errs[0].value.code == -9
    assert len(s.read()) == 1000


def test_iter_content_sizes(client):
    """requests' chunk_size: None reads the body as it arrives; an int
    below 1 is refused (requests/urllib3 would silently yield nothing for
    0) and the stream stays readable; a non-int is a TypeError."""
    n = 700001  # more than the ring
    with client.stream("GET", f"/_debug/bytes?bytes={n}") as s:
        for bad in (0, -1, -100000):
            with pytest.raises(ValueError, match="chunk_size"):
                next(s.iter_content(bad))
        with pytest.raises(TypeError, match="chunk_size"):
            next(s.iter_content(4096.0))
        data = b"".join(s.iter_content(None))
    assert data == debug_bytes(n)
    assert client.health()["status"] == "healthy"


def test_upload_file_chunk_size_and_text(client):
    """A file body: chunk_size 0 is refused (it read b"" at once and sent
    an empty body as a success); a text file ends at its "" (the b""
    sentinel never matched and the upload looped forever)."""
    with pytest.raises(ValueError, match="chunk_size"):
        client.stream("POST", "/_debug/sum", body=io.BytesIO(b"x" * 1000), chunk_size=0)
    text = "h\u00e9llo " * 5000
    with client.stream("POST", "/_debug/sum", {"Content-Type": "text/plain"},
                       body=io.StringIO(text), chunk_size=4096, timeout=5) as s:
        doc = s.read()
    import json
    data = text.encode("utf-8")
    assert json.loads(doc) == {"bytes": len(data), "fnv1a64": fnv1a64(data)}
