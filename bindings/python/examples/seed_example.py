"""The seed PhantomDB pool example, run on phantompool.

The only change from the code written for the seed's Python pool is the
import line (was: from phantomdb.pool import create_pool).  Run it where a
phantompoold serves the pool named by $PHANTOMPOOL (or "default"):

    python3 seed_example.py
"""
from phantompool.pool import create_pool

pool = create_pool(base_url='http://localhost:8080')
client = pool.acquire()
try:
    # Use client
    client.list_databases()
finally:
    pool.release(client)

# The rest of the seed pool's shape: a context manager, the PhantomDB
# methods returning parsed JSON, the pool's status, close().
with pool.acquire() as client:
    print("health:", client.health_check())
    if "example" not in [d["name"] for d in client.list_databases()]:
        client.create_database("example")
        client.create_table("example", "users", [
            {"name": "id", "type": "INTEGER", "primaryKey": True},
            {"name": "name", "type": "TEXT"},
            {"name": "age", "type": "INTEGER"},
        ])
    client.insert("example", "users", {"name": "Ada", "age": 36})
    client.update("example", "users", {"age": 37}, "name = 'Ada'")
    print("users:", client.select("example", "users", "age > 30"))
    print("query:", client.execute_query("example", "SELECT count(*) AS n FROM users"))
    tx = client.begin_transaction()
    client.commit_transaction(tx)
    client.delete("example", "users", "name = 'Ada'")
print("status:", pool.get_status())
pool.close()
