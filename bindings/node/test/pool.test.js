'use strict';
// The pool API: acquire / release / getStatus / close, timeouts, the event
// loop kept free while the binding waits, errors.  The daemon under
// tests/with-pool has 8 seats.
const test = require('node:test');
const assert = require('node:assert/strict');
const { eventually, loopTicker, sleep } = require('./helpers');
const phantompool = require('..');
const { createPool, PhantomPoolError, errors } = phantompool;

const SEATS = 8;

test('getStatus: the seed pools\' four fields and the daemon\'s figures', async () => {
  const pool = createPool();
  try {
    const s = pool.getStatus();
    for (const k of ['available', 'used', 'min', 'max', 'waiting', 'leases', 'requests', 'connects', 'uptimeNs', 'daemonPid'])
      assert.equal(typeof s[k], 'number', k);
    assert.equal(typeof s.generation, 'bigint');
    assert.equal(s.max, SEATS);
    assert.equal(s.min, 2);
    assert.equal(s.connsMax, SEATS); // --seats defaults to --max
    assert.ok(s.connsOpen >= 1 && s.connsOpen <= s.connsMax);
    assert.equal(s.queued, 0);
    assert.equal(s.available + s.used, SEATS);
    assert.ok(s.daemonPid > 0);
    process.kill(s.daemonPid, 0); // the daemon's process exists
  } finally {
    await pool.close();
  }
});

test('acquire takes a seat, release gives it back', async () => {
  const pool = createPool();
  try {
    const before = pool.getStatus();
    const c = await pool.acquire();
    const held = pool.getStatus();
    assert.equal(held.used, before.used + 1);
    assert.equal(held.leases, before.leases + 1);
    assert.equal(c.released, false);
    await pool.release(c);
    assert.equal(c.released, true);
    assert.equal(pool.getStatus().used, before.used);
  } finally {
    await pool.close();
  }
});

test('a released client refuses work: PP_ERELEASED, double release throws', async () => {
  const pool = createPool();
  try {
    const c = await pool.acquire();
    await c.release();
    await assert.rejects(c.health(), (e) => e instanceof PhantomPoolError && e.code === 'PP_ERELEASED' && e.errno === -8);
    assert.throws(() => pool.release(c), (e) => e.code === 'PP_ERELEASED');
    const other = createPool();
    const c2 = await other.acquire();
    assert.throws(() => pool.release(c2), (e) => e.code === 'PP_EINVAL');
    await other.close();
    assert.equal(c2.released, true); // close() released it
  } finally {
    await pool.close();
  }
});

test('a lease is used on its own thread: many requests on one client from the JS thread work', async () => {
  // The C library refuses (PP_ENOTOWNER) a lease used from another OS
  // thread; each client's requests run on its seat thread, whatever
  // JavaScript does in between.
  const pool = createPool();
  try {
    const c = await pool.acquire();
    const answers = await Promise.all(Array.from({ length: 50 }, () => c.health()));
    assert.equal(answers.length, 50);
    for (let i = 0; i < 20; i++) {
      await sleep(0);
      assert.deepEqual(await c.health(), { status: 'healthy' });
    }
    await pool.release(c);
  } finally {
    await pool.close();
  }
});

test('a slow answer does not block the event loop', async () => {
  const pool = createPool();
  try {
    const c = await pool.acquire();
    const tick = loopTicker(10);
    const t0 = Date.now();
    await c.request('GET', '/health?delay_ms=400');
    const waited = Date.now() - t0;
    tick.stop();
    assert.ok(waited >= 380, `answered after ${waited} ms`);
    assert.ok(tick.ticks >= 15, `the loop turned ${tick.ticks} times in ${waited} ms`);
    await pool.release(c);
  } finally {
    await pool.close();
  }
});

test('with every seat held, acquire waits off the loop, then times out with PP_ETIMEDOUT', async () => {
  const pool = createPool();
  try {
    const held = await Promise.all(Array.from({ length: SEATS }, () => pool.acquire({ timeout: 5000 })));
    assert.equal(pool.getStatus().available, 0);
    const tick = loopTicker(10);
    const t0 = Date.now();
    await assert.rejects(pool.acquire({ timeout: 300 }), (e) => {
      assert.ok(e instanceof PhantomPoolError);
      assert.equal(e.code, 'PP_ETIMEDOUT');
      assert.equal(e.errno, errors.PP_ETIMEDOUT);
      return true;
    });
    const waited = Date.now() - t0;
    tick.stop();
    assert.ok(waited >= 280 && waited < 3000, `timed out after ${waited} ms`);
    assert.ok(tick.ticks >= 10, `the loop turned ${tick.ticks} times while acquire waited`);
    // A one-shot waits as well, and the pool's own acquire timeout applies.
    const quick = createPool({ acquireTimeout: 200 });
    const t1 = Date.now();
    await assert.rejects(quick.health(), (e) => e.code === 'PP_ETIMEDOUT' && /acquiring a seat/.test(e.message));
    assert.ok(Date.now() - t1 < 3000, `the one-shot gave up after ${Date.now() - t1} ms`);
    await quick.close();
    await Promise.all(held.map((c) => pool.release(c)));
  } finally {
    await pool.close();
  }
});

test('a waiting acquire sleeps in the daemon\'s queue and gets the seat another holder releases', async () => {
  const pool = createPool();
  const other = createPool(); // another handle: as another process would
  try {
    const held = await Promise.all(Array.from({ length: SEATS - 1 }, () => pool.acquire()));
    const theirs = await other.acquire();
    let got = null;
    const waiting = pool.acquire({ timeout: 5000 }).then((c) => { got = c; return c; });
    await sleep(100);
    assert.equal(got, null);
    assert.equal(pool.getStatus().waiting, 1, 'the waiter sleeps in pp_lease, seen by the daemon');
    await other.release(theirs);
    const c = await waiting;
    assert.deepEqual(await c.health(), { status: 'healthy' });
    held.push(c);
    await Promise.all(held.map((x) => pool.release(x)));
    assert.equal(pool.getStatus().used, 0);
  } finally {
    await other.close();
    await pool.close();
  }
});

test('more acquires than seats in one process wait their turn and all get served', async () => {
  const pool = createPool();
  try {
    let holding = 0;
    let most = 0;
    const work = Array.from({ length: 3 * SEATS }, async () => {
      const c = await pool.acquire({ timeout: 10000 });
      most = Math.max(most, ++holding);
      try {
        await c.request('GET', '/health?delay_ms=20');
      } finally {
        holding--;
        await pool.release(c);
      }
    });
    await Promise.all(work);
    assert.equal(most, SEATS);
    assert.equal(pool.getStatus().used, 0);
  } finally {
    await pool.close();
  }
});

test('200 concurrent one-shots on 8 seats all succeed', async () => {
  const pool = createPool();
  try {
    const answers = await Promise.all(Array.from({ length: 200 }, () => pool.health()));
    assert.equal(answers.filter((a) => a.status === 'healthy').length, 200);
  } finally {
    await pool.close();
  }
});

test('close() releases held clients, refuses new work, and is idempotent', async () => {
  const pool = createPool();
  const a = await pool.acquire();
  const b = await pool.acquire();
  const slow = a.request('GET', '/health?delay_ms=150'); // queued before close: it completes
  const before = pool.getStatus().used;
  const closing = pool.close();
  assert.equal(pool.close(), closing);
  await closing;
  assert.equal((await slow).status, 200);
  assert.equal(a.released, true);
  assert.equal(b.released, true);
  assert.equal(pool.closed, true);
  await assert.rejects(pool.acquire(), (e) => e.code === 'PP_ESHUTDOWN');
  await assert.rejects(pool.health(), (e) => e.code === 'PP_ESHUTDOWN');
  assert.throws(() => pool.getStatus(), (e) => e.code === 'PP_ESHUTDOWN');
  await assert.rejects(a.health(), (e) => e.code === 'PP_ERELEASED');
  const check = createPool();
  assert.equal(check.getStatus().used, before - 2);
  await check.close();
});

test('close() while an acquire waits for a seat thread rejects it with PP_ESHUTDOWN', async () => {
  const pool = createPool();
  const held = await Promise.all(Array.from({ length: SEATS }, () => pool.acquire()));
  const waiter = assert.rejects(pool.acquire({ timeout: 5000 }), (e) => e.code === 'PP_ESHUTDOWN');
  await pool.close();
  await waiter;
  assert.ok(held.every((c) => c.released));
});

test('close() while an acquire sleeps in the daemon\'s queue rejects it at once with PP_ESHUTDOWN', async () => {
  // Every seat is held by another handle (as another process would): the
  // acquire sleeps in pp_lease on a seat thread, which close() cannot cut.
  // The caller must still get PP_ESHUTDOWN now, not when a seat frees.
  const other = createPool();
  const held = await Promise.all(Array.from({ length: SEATS }, () => other.acquire()));
  const pool = createPool({ acquireTimeout: -1 });
  let closing = null;
  try {
    const waiting = pool.acquire().then(() => 'acquired', (e) => e.code);
    await eventually(async () => assert.ok(other.getStatus().waiting >= 1), 2000);
    closing = pool.close();
    let timer;
    const late = new Promise((resolve) => { timer = setTimeout(resolve, 3000, 'still waiting after 3 s'); });
    const outcome = await Promise.race([waiting, late]);
    clearTimeout(timer);
    assert.equal(outcome, 'PP_ESHUTDOWN');
  } finally {
    await Promise.all(held.map((c) => other.release(c)));
    await (closing || pool.close()); // its seat thread gets a seat now, and releases it
    assert.equal(other.getStatus().used, 0);
    await other.close();
  }
});

test('attach errors: PP_ENOPOOL for an unknown pool, PP_ENAME for a bad name', () => {
  assert.throws(() => createPool({ pool: 'no-such-pool-' + process.pid }), (e) => {
    assert.ok(e instanceof PhantomPoolError);
    assert.equal(e.code, 'PP_ENOPOOL');
    assert.equal(e.op, 'attach');
    assert.match(e.message, /PP_ENOPOOL \(-2\): no such pool/);
    // The library's pp_error_detail(): the segment path and the hint.
    assert.ok(e.message.includes(`no segment /dev/shm/phantompool-no-such-pool-${process.pid}`), e.message);
    assert.match(e.detail, /pass the pool name explicitly/);
    return true;
  });
  assert.throws(() => createPool({ pool: 'bad/name' }), (e) => e.code === 'PP_ENAME');
  assert.throws(() => createPool({ pool: `${process.env.PHANTOMPOOL}\0ignored` }), (e) => e.code === 'PP_ENAME');
  assert.throws(() => createPool({ pool: 42 }), TypeError);
});

test('the seed pools\' connection options are the daemon\'s: a warning, not an error', async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  const pool = createPool({ baseUrl: 'http://localhost:8080', maxConnections: 3 });
  await sleep(10);
  process.off('warning', onWarning);
  assert.ok(warnings.some((w) => w.code === 'PHANTOMPOOL_DAEMON_OPTION' && /baseUrl/.test(w.message)));
  assert.equal(pool.getStatus().max, SEATS);
  await pool.close();
});

test('every PP_E* code of the C library has its name here', () => {
  const native = require('../build/Release/phantompool.node');
  const unknown = native.strerror(-9999);
  let n = 1;
  for (; native.strerror(-n) !== unknown; n++) {
    const name = Object.keys(errors).find((k) => errors[k] === -n);
    assert.ok(name, `code ${-n} (${native.strerror(-n)}) has no name in lib/errors.js`);
    const e = new PhantomPoolError(-n, 'test');
    assert.equal(e.code, name);
    assert.ok(e.message.includes(native.strerror(-n)));
  }
  assert.equal(n - 1, Object.keys(errors).length, 'lib/errors.js names a code the library does not have');
});
