"""The PhantomDB methods and raw requests, against the reference backend."""
import os

import pytest

import phantompool
from phantompool import HTTPError, InvalidArgument

COLUMNS = [{"name": "id", "type": "INTEGER", "primary_key": True},
           {"name": "name", "type": "TEXT", "nullable": True},
           {"name": "qty", "type": "INTEGER", "defaultValue": 0}]


def test_health(client):
    assert client.health() == {"status": "healthy"}
    assert client.health_check() == {"status": "healthy"}


def test_databases(client, db):
    names = [d["name"] for d in client.list_databases()]
    assert db in names
    assert client.get_database(db)["name"] == db
    with pytest.raises(HTTPError) as ei:
        client.create_database(db)
    assert ei.value.status == 409 and ei.value.code
    assert client.drop_database(db) == {}
    with pytest.raises(HTTPError) as ei:
        client.get_database(db)
    e = ei.value
    assert e.status == 404 and e.code == "NOT_FOUND" and db in e.message
    assert e.method == "GET" and e.path == f"/databases/{db}"
    assert isinstance(e, phantompool.PhantomDBError)


def test_tables_and_rows(client, db):
    t = client.create_table(db, "items", COLUMNS)
    assert t["name"] == "items"
    cols = {c["name"]: c for c in t["columns"]}
    assert cols["id"]["primaryKey"] is True and cols["name"]["primaryKey"] is False
    assert [x["name"] for x in client.list_tables(db)] == ["items"]
    assert client.get_table(db, "items")["name"] == "items"

    assert client.insert(db, "items", {"id": 1, "name": "pen", "qty": 3}) == {"inserted": 1, "id": 1}
    assert client.insert_rows(db, "items", [{"id": 2, "name": "ink"}, {"id": 3, "name": "pad", "qty": 9}]) \
        == {"inserted": 2}
    assert client.select(db, "items", "id >= 2") == [{"id": 2, "name": "ink", "qty": 0},
                                                     {"id": 3, "name": "pad", "qty": 9}]
    assert len(client.select(db, "items")) == 3
    rows = client.get_rows(db, "items", where="qty > 0", order_by="id DESC", limit=1, offset=1)
    assert rows["rows"] == [{"id": 1, "name": "pen", "qty": 3}]
    q = client.query(db, "SELECT name FROM items WHERE id = ? OR name = ?", [2, "pad"])
    assert q["columns"] == ["name"] and sorted(r[0] for r in q["rows"]) == ["ink", "pad"]
    assert client.execute_query(db, "SELECT count(*) FROM items")["rows"] == [[3]]
    assert client.update(db, "items", {"qty": 5}, "id = 2") == {"updated": 1}
    assert client.delete(db, "items", "qty = 5") == {"deleted": 1}
    assert [r["id"] for r in client.select(db, "items")] == [1, 3]
    assert client.drop_table(db, "items") == {}
    assert client.list_tables(db) == []


def test_update_and_delete_need_a_condition(client, db):
    client.create_table(db, "t", COLUMNS)
    client.insert(db, "t", {"id": 1})
    for call in (lambda: client.update(db, "t", {"qty": 1}, None), lambda: client.delete(db, "t", "")):
        with pytest.raises(InvalidArgument) as ei:
            call()
        assert ei.value.code == phantompool.errors.PP_EINVAL
    assert client.select(db, "t") == [{"id": 1, "name": None, "qty": 0}]
    assert client.delete(db, "t", "1=1") == {"deleted": 1}


def test_names_are_escaped(client):
    # The same odd names test_helpers.c uses: escaped into one path segment each.
    for name in ("my db?x&y", "t#1 %2F +", ".", "..", "ünï"):
        client.create_database(name)
        assert client.get_database(name)["name"] == name
        client.create_table(name, name, [{"name": "v", "type": "TEXT"}])
        client.insert(name, name, {"v": "a+b & c"})
        assert client.select(name, name, "v = 'a+b & c'") == [{"v": "a+b & c"}]
        assert client.get_rows(name, name, where="v LIKE 'a+b%'")["count"] == 1
        assert client.delete(name, name, "v = 'a+b & c'") == {"deleted": 1}
        client.drop_database(name)


def test_bad_arguments_send_nothing(pool, client):
    before = pool.get_status()["requests"]
    with pytest.raises(InvalidArgument):
        client.create_database("")
    with pytest.raises(InvalidArgument):
        client.get_table("db", None)
    with pytest.raises(InvalidArgument):
        client.insert_rows("db", "t", [1, 2])
    with pytest.raises(InvalidArgument):
        client.get_rows("db", "t", limit=-1)
    with pytest.raises(InvalidArgument):
        client.insert("db", "t", {"x": float("nan")})  # not JSON
    with pytest.raises(InvalidArgument):
        client.query("db", "")
    assert pool.get_status()["requests"] == before
    assert client.health()["status"] == "healthy"  # the client is still fine


def test_transactions(client):
    tx = client.begin_transaction()
    assert tx.startswith("tx-")
    client.commit_transaction(tx)
    with pytest.raises(HTTPError) as ei:  # already committed: unknown now
        client.commit_transaction(tx)
    assert ei.value.status == 404

    with client.transaction() as tx2:
        pass
    with pytest.raises(HTTPError):
        client.rollback_transaction(tx2)  # committed by the with block

    with pytest.raises(KeyError):
        with client.transaction() as tx3:
            raise KeyError("boom")
    with pytest.raises(HTTPError):
        client.commit_transaction(tx3)  # rolled back by the with block


def test_raw_request(client):
    r = client.request("POST", "/_debug/echo", {"Content-Type": "text/plain", "X-Request-Id": "abc-1"},
                       "héllo")
    assert r.status == 200 and r.ok and r.body == "héllo".encode() and r.content_type == "text/plain"
    r = client.request("POST", "/_debug/echo", json={"a": [1, 2]})
    assert r.json() == {"a": [1, 2]} and r.content_type == "application/json"
    # json= adds no second Content-Type to one given in any case (two are PP_EBADHEADER)
    r = client.request("POST", "/_debug/echo", {"content-type": "application/merge-patch+json"}, json={"b": 1})
    assert r.json() == {"b": 1} and r.content_type == "application/merge-patch+json"
    with pytest.raises(InvalidArgument) as e:
        client.request("POST", "/_debug/echo", [("Content-Type", "a/b"), ("content-type", "c/d")], "x")
    assert e.value.code == -16  # PP_EBADHEADER
    r = client.request("GET", "/_debug/headers", [("Accept", "text/x-test"), ("X-Request-Id", "rid-7")])
    h = {k.lower(): v for k, v in r.json().items()}
    assert h["accept"] == "text/x-test" and h["x-request-id"] == "rid-7"
    assert "authorization" not in h  # no token configured; never forged by the worker
    r = client.request("GET", "/databases/nope")
    assert r.status == 404 and not r.ok and r.json()["code"] == "NOT_FOUND"
    r = client.request("POST", "/_debug/sum", body=bytes(range(256)) * 4)
    assert r.json()["bytes"] == 1024


@pytest.mark.parametrize("args,code", [
    (("GET", "no-slash"), "PP_EBADPATH"),
    (("GET", "/a b"), "PP_EBADPATH"),
    (("GET", "/x/../y"), "PP_EBADPATH"),
    (("G T", "/health"), "PP_EBADMETHOD"),
    (("GET", "/health", {"Authorization": "Bearer forged"}), "PP_EBADHEADER"),
    (("GET", "/health", {"Accept": "a\r\nX: y"}), "PP_EBADHEADER"),
    # A NUL would end the C string: a shorter request than the one given.
    (("GET", "/health\0/../databases"), "PP_EBADPATH"),
    (("GE\0T", "/health"), "PP_EBADMETHOD"),
    (("GET", "/health", {"Accept": "a\0b"}), "PP_EBADHEADER"),
])
def test_raw_request_refusals(client, args, code):
    with pytest.raises(InvalidArgument) as ei:
        client.request(*args)
    assert ei.value.name == code and code in str(ei.value)
    assert client.health()["status"] == "healthy"  # the lease stays usable


def test_one_shot_request_on_the_pool(pool):
    r = pool.request("GET", "/health")
    assert r.status == 200 and r.json() == {"status": "healthy"}
    assert pool.request("POST", "/_debug/echo", json=[1]).json() == [1]
    with pytest.raises(InvalidArgument):
        pool.request("GET", "bad")
    with pytest.raises(InvalidArgument) as ei:
        pool.request("GET", "/health\0/x")
    assert ei.value.name == "PP_EBADPATH"
    assert pool.get_status()["used"] == 0


def test_pool_name_with_a_nul_is_refused():
    with pytest.raises(InvalidArgument) as ei:
        phantompool.create_pool(pool=os.environ["PHANTOMPOOL"] + "\0ignored")
    assert ei.value.name == "PP_ENAME"


def test_request_timeout_is_a_timeout_error(client):
    import time
    t0 = time.monotonic()
    with pytest.raises(TimeoutError) as ei:
        client.request("GET", "/_debug/bytes?bytes=2000000000", timeout=0.2)
    e = ei.value
    assert isinstance(e, phantompool.RequestTimeout) and e.code == phantompool.errors.PP_ETIMEDOUT
    assert time.monotonic() - t0 < 3
    assert client.health()["status"] == "healthy"  # the daemon ended the exchange: still usable
