'use strict';
// One of bench.js's 16 processes: after 'go', a sequential loop of
// GET /health for the given seconds, then reports {count, errors, seconds}.
//   pool    the binding's one-shots (pool.request: pp_do on a seat thread)
//   direct  http.Agent keep-alive (one socket) straight to $PHANTOMDB_URL
const http = require('http');

const mode = process.argv[2];

function directClient() {
  const url = new URL('/health', process.env.PHANTOMDB_URL);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return () => new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

function poolClient() {
  const pool = require('..').createPool();
  return () => pool.request('GET', '/health');
}

async function run(get, seconds) {
  let count = 0;
  let errors = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < end) {
    try {
      const r = await get();
      JSON.parse(r.body);
      if (r.status === 200) count++;
      else errors++;
    } catch (e) {
      errors++;
    }
  }
  return { count, errors, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const get = mode === 'pool' ? poolClient() : directClient();
get().then(() => {
  process.send('ready');
  process.once('message', async (m) => {
    process.send(await run(get, m.seconds));
    process.exit(0);
  });
}, (e) => {
  process.send(`${mode}: ${e.message}`);
  process.exit(1);
});
