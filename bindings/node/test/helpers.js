'use strict';
// Shared by the test files: they run under tests/with-pool, which starts
// the reference backend and a phantompoold (8 seats) and exports
// PHANTOMPOOL, PHANTOMDB_URL, PP_WITH_POOL_DAEMON_PID/_CMD.
const http = require('http');

if (!process.env.PHANTOMPOOL) {
  throw new Error('run the Node tests under tests/with-pool (make check-node)');
}

let serial = 0;
// A database name no other test file uses (they share one backend).
function uniqueName(prefix) {
  return `${prefix}_${process.pid}_${++serial}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Counts event-loop turns: an interval that must keep firing while the
// binding waits (a lease, a slow answer).
function loopTicker(everyMs = 10) {
  let ticks = 0;
  const t = setInterval(() => { ticks++; }, everyMs);
  return { get ticks() { return ticks; }, stop() { clearInterval(t); } };
}

// GET straight to the backend (no pool): its JSON.
function backendJSON(path) {
  return new Promise((resolve, reject) => {
    http.get(new URL(path, process.env.PHANTOMDB_URL), { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

// Retry fn until it resolves, for up to ms; its last error otherwise.
async function eventually(fn, ms, stepMs = 50) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await sleep(stepMs);
    }
  }
}

module.exports = { uniqueName, sleep, loopTicker, backendJSON, eventually };
