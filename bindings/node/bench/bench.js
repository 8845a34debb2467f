'use strict';
// make bench-node: the Node binding against C and against Node's own
// keep-alive HTTP client.  Runs under tests/with-pool (PHANTOMPOOL,
// PHANTOMDB_URL, PP_BUILD set); prints `name value unit` lines.
//
// 1. Per request, one caller, one request after the other (GET /health):
//    C pp_do (bench/c_loop) against the binding's one-shot
//    pool.request() (pp_do on a seat thread), and C pp_request on a held
//    lease against client.request() on an acquired client, and
//    pool.requestSync() (pp_do on the JavaScript thread: no hand-off, the
//    floor of the binding's own cost); rounds interleaved, medians.  The
//    overhead lines are binding minus C.
// 2. Throughput at 16 processes, each a sequential loop of GET /health:
//    the binding's one-shots against http.Agent keep-alive straight to
//    PhantomDB, with the backend's open connections sampled mid-run
//    (GET $PHANTOMDB_URL/_debug/connections?probe=1); for the direct run,
//    less the daemon's own (idle) connections counted just before it.
//
// BENCH_QUICK=1 shortens both.
const { execFileSync, fork } = require('child_process');
const http = require('http');
const path = require('path');

const QUICK = !!process.env.BENCH_QUICK;
const ROUNDS = QUICK ? 3 : 7;
const N = QUICK ? 1000 : 4000;
const PROCS = 16;
const SECONDS = QUICK ? 2 : 4;
const C_LOOP = process.env.PP_NODE_C_LOOP || path.join(process.env.PP_BUILD || 'build', 'bindings-node', 'c_loop');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function line(name, value, unit) {
  console.log(`${name} ${typeof value === 'number' ? Number(value.toFixed(2)) : value} ${unit}`);
}

// n requests one after the other: [wall µs, CPU µs] per request (CPU:
// user + system of this process, seat threads included).
async function timeLoop(fn, n) {
  const r0 = process.resourceUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = await fn();
    if (r.status !== 200) throw new Error(`GET /health answered ${r.status}`);
  }
  const wall = Number(process.hrtime.bigint() - t0) / n / 1000;
  const r1 = process.resourceUsage();
  const cpu = (r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / n;
  return [wall, cpu];
}

// timeLoop for pool.requestSync(): the same figures, no Promise.
function timeLoopSync(fn, n) {
  const r0 = process.resourceUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = fn();
    if (r.status !== 200) throw new Error(`GET /health answered ${r.status}`);
  }
  const wall = Number(process.hrtime.bigint() - t0) / n / 1000;
  const r1 = process.resourceUsage();
  const cpu = (r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / n;
  return [wall, cpu];
}

function cLoop(mode) {
  const out = execFileSync(C_LOOP, [mode, String(N)], { encoding: 'utf8' });
  const f = out.trim().split(/\s+/);
  return [Number(f[1]), Number(f[2])];
}

async function perRequest(phantompool) {
  // The default (no spin) and seat threads that poll 50 µs before sleeping.
  const pools = { dflt: phantompool.createPool(), spin: phantompool.createPool({ spinMicros: 50 }) };
  const res = { c_do: [], c_lease: [], node_do: [], node_lease: [], node_do_spin: [], node_lease_spin: [], node_do_sync: [] };
  const clients = { dflt: await pools.dflt.acquire(), spin: await pools.spin.acquire() };
  const get = (target) => () => target.request('GET', '/health');
  for (const k of Object.keys(pools)) { // warm up: JIT, seat threads
    await timeLoop(get(pools[k]), 300);
    await timeLoop(get(clients[k]), 300);
  }
  const getSync = () => pools.dflt.requestSync('GET', '/health');
  timeLoopSync(getSync, 300);
  for (let r = 0; r < ROUNDS; r++) {
    res.c_do.push(cLoop('do'));
    res.c_lease.push(cLoop('lease'));
    res.node_do.push(await timeLoop(get(pools.dflt), N));
    res.node_lease.push(await timeLoop(get(clients.dflt), N));
    res.node_do_spin.push(await timeLoop(get(pools.spin), N));
    res.node_lease_spin.push(await timeLoop(get(clients.spin), N));
    res.node_do_sync.push(timeLoopSync(getSync, N));
  }
  for (const k of Object.keys(pools)) {
    await pools[k].release(clients[k]);
    await pools[k].close();
  }
  // Medians of the wall and of the CPU figures, each over the rounds.
  const m = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, median(v.map((x) => x[0]))]));
  const cpu = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, median(v.map((x) => x[1]))]));
  line('node_c_pp_do', m.c_do, 'us');
  line('node_oneshot_request', m.node_do, 'us');
  line('node_oneshot_overhead', m.node_do - m.c_do, 'us');
  line('node_c_pp_request_on_lease', m.c_lease, 'us');
  line('node_client_request', m.node_lease, 'us');
  line('node_client_overhead', m.node_lease - m.c_lease, 'us');
  line('node_oneshot_overhead_spin', m.node_do_spin - m.c_do, 'us');
  line('node_client_overhead_spin', m.node_lease_spin - m.c_lease, 'us');
  line('node_sync_oneshot_overhead', m.node_do_sync - m.c_do, 'us');
  line('node_c_pp_do_cpu', cpu.c_do, 'us');
  line('node_oneshot_request_cpu', cpu.node_do, 'us');
  line('node_oneshot_overhead_cpu', cpu.node_do - cpu.c_do, 'us');
  line('node_client_overhead_cpu', cpu.node_lease - cpu.c_lease, 'us');
  line('node_sync_oneshot_overhead_cpu', cpu.node_do_sync - cpu.c_do, 'us');
}

function getJSON(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        try { resolve(JSON.parse(body)); } catch (e) { reject(e); }
      });
    }).on('error', reject);
  });
}

// PROCS workers in `mode` for SECONDS: total req/s and the backend's open
// connections halfway through.
async function throughput(mode) {
  // The daemon keeps connections of its own to the same backend: count
  // them before the workers start (each opens its connection when it
  // warms up), so the direct clients' figure is theirs alone.
  const before = await getJSON(`${process.env.PHANTOMDB_URL}/_debug/connections?probe=1`);
  const workers = [];
  for (let i = 0; i < PROCS; i++) workers.push(fork(path.join(__dirname, 'worker.js'), [mode], { stdio: 'inherit' }));
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    w.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(m))));
    w.once('exit', (code) => reject(new Error(`worker exited ${code} before it was ready`)));
  })));
  const counts = workers.map((w) => new Promise((resolve, reject) => {
    w.removeAllListeners('exit');
    w.once('message', (m) => (typeof m === 'object' ? resolve(m) : reject(new Error(String(m)))));
    w.once('exit', (code) => code && reject(new Error(`worker exited ${code}`)));
  }));
  const t0 = Date.now();
  for (const w of workers) w.send({ go: true, seconds: SECONDS });
  await new Promise((resolve) => setTimeout(resolve, (SECONDS * 1000) / 2));
  const conns = await getJSON(`${process.env.PHANTOMDB_URL}/_debug/connections?probe=1`);
  const results = await Promise.all(counts);
  const elapsed = Math.max(...results.map((r) => r.seconds)) || (Date.now() - t0) / 1000;
  const total = results.reduce((a, r) => a + r.count, 0);
  const errors = results.reduce((a, r) => a + r.errors, 0);
  if (errors) throw new Error(`${mode}: ${errors} requests failed`);
  return { rps: total / elapsed, open: conns.open, daemonOpen: before.open };
}

async function main() {
  const phantompool = require('..');
  if (!process.env.PHANTOMPOOL || !process.env.PHANTOMDB_URL) throw new Error('run under tests/with-pool');
  await perRequest(phantompool);
  const direct = await throughput('direct');
  const pool = await throughput('pool');
  line('node_16proc_pool_rps', Math.round(pool.rps), 'req/s');
  line('node_16proc_direct_keepalive_rps', Math.round(direct.rps), 'req/s');
  line('node_16proc_pool_vs_direct', pool.rps / direct.rps, 'x');
  line('node_16proc_pool_backend_connections', pool.open, 'connections');
  line('node_16proc_direct_backend_connections', direct.open - direct.daemonOpen, 'connections');
}

main().catch((e) => {
  console.error('bench-node:', e);
  process.exit(1);
});
