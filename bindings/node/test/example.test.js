'use strict';
// examples/example.js runs and prints what it should.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('child_process');
const path = require('path');

test('examples/example.js runs against the pool', async () => {
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(__dirname, '..', 'examples', 'example.js')], { timeout: 30000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  assert.match(out, /^users: Ada, grace$/m);
  assert.match(out, /^missing table: 404 \S+$/m);
  assert.match(out, /^health: healthy$/m);
  assert.match(out, /^pool: \d+ available, \d+ used, min 2, max 8$/m);
});
