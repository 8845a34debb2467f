'use strict';
// The daemon killed under the binding: calls fail with PP_EDAEMON within
// about a second instead of hanging, and once a daemon runs again the
// same pool handle works without being recreated.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('child_process');
const { eventually } = require('./helpers');
const { createPool, PhantomPoolError } = require('..');

function startDaemon() {
  // The same command line tests/with-pool used (same pool, same pidfile:
  // with-pool stops whichever daemon holds the pidfile at the end).
  const d = spawn('sh', ['-c', `exec ${process.env.PP_WITH_POOL_DAEMON_CMD} 2>/dev/null`], { detached: true, stdio: 'ignore' });
  d.unref();
  return d;
}

test('daemon killed: PP_EDAEMON fast; after a restart the next call works', { timeout: 60000 }, async () => {
  const pool = createPool();
  const held = await pool.acquire();
  assert.deepEqual(await held.health(), { status: 'healthy' });
  const { daemonPid, generation } = pool.getStatus();

  process.kill(daemonPid, 'SIGKILL');
  const t0 = Date.now();
  await assert.rejects(pool.health(), (e) => {
    assert.ok(e instanceof PhantomPoolError, String(e));
    assert.equal(e.code, 'PP_EDAEMON');
    assert.match(e.message, /PP_EDAEMON \(-6\)/);
    return true;
  });
  const failedAfter = Date.now() - t0;
  assert.ok(failedAfter < 3000, `the one-shot failed after ${failedAfter} ms`);
  await assert.rejects(held.health(), (e) => e.code === 'PP_EDAEMON');
  assert.throws(() => pool.getStatus(), (e) => e.code === 'PP_EDAEMON');
  await assert.rejects(pool.acquire({ timeout: 2000 }), (e) => e.code === 'PP_EDAEMON');
  await pool.release(held); // the seat is gone with the daemon: release still settles

  startDaemon();
  const answer = await eventually(() => pool.health(), 15000, 100);
  assert.deepEqual(answer, { status: 'healthy' });
  const after = pool.getStatus();
  assert.notEqual(after.generation, generation);
  assert.notEqual(after.daemonPid, daemonPid);
  const c = await pool.acquire({ timeout: 5000 });
  assert.deepEqual(await c.health(), { status: 'healthy' });
  await pool.release(c);
  assert.equal(pool.getStatus().used, 0);
  await pool.close();
});
