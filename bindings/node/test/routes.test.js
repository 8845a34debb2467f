'use strict';
// The PhantomDB routes through the pool: on an acquired client and as the
// pool's one-shots, against the reference backend.
const test = require('node:test');
const assert = require('node:assert/strict');
const { uniqueName } = require('./helpers');
const { createPool, PhantomDBError, PhantomPoolError, Response } = require('..');

const pool = createPool();
test.after(() => pool.close());

test('health and listDatabases answer parsed JSON', async () => {
  assert.deepEqual(await pool.health(), { status: 'healthy' });
  const c = await pool.acquire();
  try {
    assert.deepEqual(await c.health(), { status: 'healthy' });
    const list = await c.listDatabases();
    assert.ok(Array.isArray(list.databases));
  } finally {
    await pool.release(c);
  }
});

test('databases, tables, rows, query, records on one client', async () => {
  const db = uniqueName('shop');
  const c = await pool.acquire({ timeout: 5000 });
  try {
    const made = await c.createDatabase(db);
    assert.equal(made.name, db);
    assert.equal((await c.getDatabase(db)).name, db);
    assert.ok((await c.listDatabases()).databases.some((d) => d.name === db));

    const t = await c.createTable(db, 'items', [
      { name: 'id', type: 'INTEGER', primaryKey: true },
      { name: 'name', type: 'TEXT', nullable: false },
      { name: 'qty', type: 'INTEGER', defaultValue: 0 },
    ]);
    assert.equal(t.name, 'items');
    assert.deepEqual(t.columns.map((col) => col.name), ['id', 'name', 'qty']);
    assert.equal((await c.getTable(db, 'items')).name, 'items');
    assert.deepEqual((await c.listTables(db)).tables.map((x) => x.name), ['items']);

    assert.equal((await c.insertRows(db, 'items', [{ id: 1, name: 'a', qty: 5 }, { id: 2, name: 'b', qty: 7 }])).inserted, 2);
    assert.equal((await c.insert(db, 'items', { id: 3, name: "it's / 100%", qty: 1 })).inserted, 1);

    const rows = await c.getRows(db, 'items', { where: 'qty > 1', orderBy: 'id DESC', limit: 10 });
    assert.deepEqual(rows.rows.map((r) => r.id), [2, 1]);
    const page = await c.getRows(db, 'items', { orderBy: 'id', limit: 1, offset: 1 });
    assert.deepEqual(page.rows.map((r) => r.id), [2]);

    const q = await c.query(db, 'SELECT name FROM items WHERE id = ?', [3]);
    assert.deepEqual(q.rows, [["it's / 100%"]]);
    assert.equal(q.rowCount, 1);

    const sel = await c.select(db, 'items', "name = 'it''s / 100%'");
    assert.deepEqual(sel.records.map((r) => r.id), [3]);
    assert.equal((await c.select(db, 'items')).records.length, 3);
    assert.equal((await c.update(db, 'items', { qty: 9 }, 'id = 1')).updated, 1);
    assert.deepEqual((await c.query(db, 'SELECT qty FROM items WHERE id = 1')).rows, [[9]]);
    assert.equal((await c.delete(db, 'items', 'id = 2')).deleted, 1);
    assert.equal((await c.select(db, 'items')).records.length, 2);

    assert.equal(await c.dropTable(db, 'items'), null); // 204, no body
    assert.equal(await c.dropDatabase(db), null);
  } finally {
    await pool.release(c);
  }
});

test('the same routes as one-shots on the pool', async () => {
  const db = uniqueName('oneshot');
  await pool.createDatabase(db);
  await pool.createTable(db, 't', [{ name: 'k', type: 'TEXT', primaryKey: true }, { name: 'v', type: 'INTEGER' }]);
  await Promise.all([1, 2, 3, 4, 5].map((i) => pool.insert(db, 't', { k: `k${i}`, v: i })));
  const q = await pool.query(db, 'SELECT SUM(v) FROM t');
  assert.deepEqual(q.rows, [[15]]);
  await pool.dropDatabase(db);
});

test('names are escaped into the path like the C helpers do', async () => {
  for (const name of ['a b', 'p%q?x=1#y', '..', 'ü€']) {
    const made = await pool.createDatabase(name);
    assert.equal(made.name, name);
    assert.equal((await pool.getDatabase(name)).name, name);
    await pool.dropDatabase(name);
  }
});

test('transactions: begin gives an id, commit and rollback take it', async () => {
  const c = await pool.acquire();
  try {
    const id = await c.beginTransaction();
    assert.equal(typeof id, 'string');
    assert.ok(id.length > 0);
    assert.equal((await c.commitTransaction(id)).status, 'committed');
    const id2 = await pool.beginTransaction();
    assert.notEqual(id2, id);
    assert.equal((await pool.rollbackTransaction(id2)).status, 'rolled_back');
  } finally {
    await pool.release(c);
  }
});

test('HTTP errors reject with PhantomDBError carrying status and code', async () => {
  const db = uniqueName('dup');
  await pool.createDatabase(db);
  await assert.rejects(pool.createDatabase(db), (e) => {
    assert.ok(e instanceof PhantomDBError);
    assert.equal(e.status, 409);
    assert.equal(typeof e.code, 'string');
    assert.match(e.message, /^POST \/databases: HTTP 409/);
    return true;
  });
  await assert.rejects(pool.getDatabase(uniqueName('missing')), (e) => e instanceof PhantomDBError && e.status === 404);
  await pool.dropDatabase(db);
});

test('request(): any route, the Response whatever its status, Buffers both ways', async () => {
  const r = await pool.request('GET', '/health', { headers: { 'X-Request-Id': 'node-req-1' } });
  assert.ok(r instanceof Response);
  assert.equal(r.status, 200);
  assert.equal(r.ok, true);
  assert.equal(r.requestId, 'node-req-1');
  assert.match(r.contentType, /json/);
  assert.deepEqual(r.json(), { status: 'healthy' });

  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0]);
  const echo = await pool.request('POST', '/_debug/echo', { body: bytes, encoding: 'buffer' });
  assert.equal(echo.status, 200);
  assert.ok(Buffer.isBuffer(echo.body));
  assert.deepEqual(echo.body, bytes);

  // A 1 MiB body streams through the seat's fixed-size rings.
  const big = Buffer.alloc(1 << 20, 'x');
  const c = await pool.acquire();
  try {
    const back = await c.request('POST', '/_debug/echo', { body: big, encoding: 'buffer' });
    assert.equal(back.body.length, big.length);
    assert.ok(back.body.equals(big));
  } finally {
    await pool.release(c);
  }

  const missing = await pool.request('GET', '/databases/' + uniqueName('nope'));
  assert.equal(missing.status, 404);
  assert.equal(missing.ok, false);
  assert.equal(missing.json().code.length > 0, true);
});

test('the library refuses bad requests with its PP_E* code, and the client stays usable', async () => {
  const c = await pool.acquire();
  try {
    const cases = [
      [() => c.request('GET', 'no-slash'), 'PP_EBADPATH', -15],
      [() => c.request('GET', '/a b'), 'PP_EBADPATH', -15],
      [() => c.request('GET', '/health', { headers: { Authorization: 'Bearer forged' } }), 'PP_EBADHEADER', -16],
      [() => c.request('GE T', '/health'), 'PP_EBADMETHOD', -19],
      // A NUL would end the C string: a shorter request than the one given.
      [() => c.request('GET', '/health\0/../databases'), 'PP_EBADPATH', -15],
      [() => c.request('GE\0T', '/health'), 'PP_EBADMETHOD', -19],
      [() => c.request('GET', '/health', { headers: { Accept: 'a\0b' } }), 'PP_EBADHEADER', -16],
    ];
    for (const [fn, code, errno] of cases) {
      await assert.rejects(async () => fn(), (e) => {
        assert.ok(e instanceof PhantomPoolError, String(e));
        assert.equal(e.code, code);
        assert.equal(e.errno, errno);
        assert.equal(e.op, 'request');
        assert.ok(e.message.includes(code) && e.message.includes(String(errno)), e.message);
        return true;
      });
    }
    assert.deepEqual(await c.health(), { status: 'healthy' });
  } finally {
    await pool.release(c);
  }
});

test('a request timeout is PP_ETIMEDOUT', async () => {
  await assert.rejects(pool.request('GET', '/health?delay_ms=3000', { timeout: 200 }),
    (e) => e instanceof PhantomPoolError && e.code === 'PP_ETIMEDOUT');
});

test('timeouts past 32 bits are capped, not wrapped; a negative one is a TypeError', async () => {
  // 2**32 + 1 used to become 1 ms, and 2**31 a negative PP_EINVAL.
  for (const timeout of [2 ** 31, 2 ** 32 + 1, 1e12]) {
    const r = await pool.request('GET', '/health?delay_ms=200', { timeout });
    assert.equal(r.status, 200, `timeout ${timeout}`);
  }
  await assert.rejects(pool.request('GET', '/health', { timeout: -1 }), TypeError);
  await assert.rejects(pool.request('GET', '/health', { timeout: NaN }), TypeError);
});

test('request(): an unknown option is a TypeError, not silently dropped', async () => {
  // { json } (Python's name) used to be ignored: the POST went out bodiless.
  await assert.rejects(pool.request('POST', '/databases', { json: { name: 'x' } }), {
    name: 'TypeError',
    message: /unknown option 'json'/,
  });
  assert.throws(() => pool.requestSync('GET', '/health', { timeoutMs: 5 }), /unknown option 'timeoutMs'/);
  assert.equal((await pool.request('GET', '/health', { timeout: 0, headers: {}, body: undefined })).status, 200);
});

test('argument errors are TypeErrors, thrown before anything is sent', async () => {
  const c = await pool.acquire();
  try {
    assert.throws(() => c.getDatabase(''), TypeError);
    assert.throws(() => c.createTable('db', 't', 'not columns'), TypeError);
    assert.throws(() => c.insertRows('db', 't', [1, 2]), TypeError);
    assert.throws(() => c.update('db', 't', { a: 1 }, ''), TypeError);
    assert.throws(() => c.delete('db', 't'), TypeError);
    assert.throws(() => c.insert('db', 't', [1]), TypeError);
    assert.throws(() => c.query('db', 'SELECT 1', 'x'), TypeError);
  } finally {
    await pool.release(c);
  }
});
