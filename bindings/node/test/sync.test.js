'use strict';
// pool.requestSync(): pp_do on the JavaScript thread, for callers that
// accept blocking.  Same Response and errors as request(), and the seat is
// released when it returns.
const test = require('node:test');
const assert = require('node:assert/strict');
const phantompool = require('..');

test('requestSync answers a Response, releases its seat, carries PP_E* errors', async () => {
  const pool = phantompool.createPool();
  try {
    const r = pool.requestSync('GET', '/health');
    assert.equal(r.status, 200);
    assert.equal(r.ok, true);
    assert.equal(typeof r.json(), 'object');
    const b = pool.requestSync('GET', '/health', { encoding: 'buffer' });
    assert.ok(Buffer.isBuffer(b.body));
    const missing = pool.requestSync('GET', '/databases/no_such_db_for_sync');
    assert.equal(missing.status, 404, 'an HTTP error is a Response, not a throw');
    assert.equal(pool.getStatus().used, 0, 'the seat is back once requestSync returns');
    assert.throws(() => pool.requestSync('GET', '/health', { headers: { 'X-Not-Allowed': '1' } }),
      (e) => e instanceof phantompool.PhantomPoolError && e.code === 'PP_EBADHEADER' && e.op === 'request');
    assert.throws(() => pool.requestSync('GET', '/health', { encoding: 'latin1' }), TypeError);
    // The async API works beside it.
    assert.equal((await pool.request('GET', '/health')).status, 200);
  } finally {
    await pool.close();
  }
  assert.throws(() => pool.requestSync('GET', '/health'), (e) => e.code === 'PP_ESHUTDOWN');
});

test('requestSync with every seat held by this process times out with PP_ETIMEDOUT', async () => {
  const pool = phantompool.createPool({ acquireTimeout: 100 });
  const n = pool.getStatus().available;
  const clients = [];
  try {
    for (let i = 0; i < n; i++) clients.push(await pool.acquire());
    assert.throws(() => pool.requestSync('GET', '/health'),
      (e) => e.code === 'PP_ETIMEDOUT' && /acquiring a seat/.test(e.op));
  } finally {
    await pool.close();
  }
});
