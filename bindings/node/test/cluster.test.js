'use strict';
// The binding in every process of Node's cluster module: each worker
// attaches, leases and runs requests on its own.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('child_process');
const path = require('path');
const { uniqueName } = require('./helpers');

test('cluster: 4 workers each lease, insert and one-shot through the shared pool', async () => {
  const db = uniqueName('cluster');
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(__dirname, 'fixtures', 'cluster-app.js'), db], { timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  const r = JSON.parse(out.trim().split('\n').pop());
  assert.deepEqual(r.codes, [0, 0, 0, 0]);
  assert.equal(r.reports.length, 4);
  const pids = r.reports.map((x) => x.pid).sort((a, b) => a - b);
  assert.equal(new Set(pids).size, 4, 'four distinct worker processes');
  assert.ok(r.reports.every((x) => x.health === 'healthy'));
  assert.deepEqual(r.rows, pids.map((pid) => [pid, 20]), 'every worker wrote its 20 rows');
  assert.equal(r.used, 0, 'no seat left leased once the workers closed their pools');
});
