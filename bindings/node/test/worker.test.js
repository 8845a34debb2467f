'use strict';
// worker_threads: a worker's pool settles jobs on the worker's own loop;
// a worker that ends with jobs in flight (process.exit inside it, or its
// loop running dry with a client held) does not take the process down, and
// its seat threads release their leases.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('worker_threads');
const { eventually } = require('./helpers');
const phantompool = require('..');

const WORKER = `
const { parentPort, workerData } = require('worker_threads');
const pool = require(workerData.binding).createPool();
(async () => {
  const c = await pool.acquire();
  const r = await c.request('GET', '/health');
  parentPort.postMessage(r.status);
  for (let i = 0; i < 4; i++) pool.request('GET', '/health').catch(() => {});
  c.request('GET', '/health').catch(() => {});
  if (workerData.abrupt) process.exit(0);
})();
`;

test('workers ending with jobs in flight leave no seat leased', async () => {
  for (const abrupt of [true, false, true, false]) {
    const w = new Worker(WORKER, { eval: true, workerData: { binding: require.resolve('..'), abrupt } });
    const statuses = [];
    w.on('message', (m) => statuses.push(m));
    const code = await new Promise((resolve, reject) => { w.on('exit', resolve); w.on('error', reject); });
    assert.equal(code, 0);
    assert.deepEqual(statuses, [200]);
  }
  const pool = phantompool.createPool();
  try {
    await eventually(async () => assert.equal(pool.getStatus().used, 0), 2000);
    assert.equal((await pool.request('GET', '/health')).status, 200);
  } finally {
    await pool.close();
  }
});
