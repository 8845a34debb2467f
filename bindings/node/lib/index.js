'use strict';
// phantompool for Node.js: the PhantomDB client pool API (createPool,
// acquire, release, getStatus, close) over the host's shared pool, served
// by phantompoold.  See README.md; the native part is src/ (Node-API, C).
//
// No call blocks the event loop (except pool.requestSync(), which says so):
// a lease, a request and a release each run on a native seat thread
// (src/seat.h) and answer through a Promise.

const path = require('path');
const { PhantomPoolError, PhantomDBError, PP_ERRORS, setStrerror } = require('./errors');
const { mixRoutes, Response, requestArgs } = require('./routes');

const native = require(process.env.PHANTOMPOOL_NODE_ADDON ||
  path.join(__dirname, '..', 'build', 'Release', 'phantompool.node'));
native.init(PhantomPoolError);
setStrerror(native.strerror);

const DEFAULT_ACQUIRE_TIMEOUT_MS = 30000; // the seed pools' default
// How long a seat thread polls for its client's next request before it
// sleeps (docs: README.md, "Seat threads"); PHANTOMPOOL_NODE_SPIN_US or the
// spinMicros option override it.
const DEFAULT_SPIN_US = 0;

// Options of the seed pools that the daemon's configuration decides here.
const DAEMON_OPTIONS = ['baseUrl', 'minConnections', 'maxConnections', 'idleTimeout'];
const warned = new Set();

function timeoutOf(v, what) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${what}: timeout must be a number of milliseconds`);
  if (v < 0 || v === Infinity) return -1; // wait forever
  return Math.min(Math.floor(v), 0x7fffffff);
}

function camel(s) {
  return s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

class Client {
  constructor(pool, seat, ticket) {
    this._pool = pool;
    this._seat = seat;
    this._ticket = ticket;
    this._released = false;
  }

  get released() {
    return this._released;
  }

  _send(method, p, headers, body, timeoutMs, asBuffer) {
    if (this._released) return Promise.reject(new PhantomPoolError(PP_ERRORS.PP_ERELEASED, 'request'));
    try {
      return native.request(this._seat, this._ticket, method, p, headers, body, timeoutMs, asBuffer);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Same as pool.release(this). */
  release() {
    return this._pool.release(this);
  }
}
mixRoutes(Client);

class Pool {
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('createPool: options must be an object');
    for (const k of DAEMON_OPTIONS) {
      if (options[k] !== undefined && !warned.has(k)) {
        warned.add(k);
        process.emitWarning(`phantompool: option ${k} is set by phantompoold's configuration, not by the client; ignored`,
          { code: 'PHANTOMPOOL_DAEMON_OPTION' });
      }
    }
    const name = options.pool ?? options.name ?? null;
    if (name !== null && typeof name !== 'string') throw new TypeError('createPool: pool must be a string');
    this._acquireTimeout = timeoutOf(options.acquireTimeout, 'createPool') ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
    const envSpin = process.env.PHANTOMPOOL_NODE_SPIN_US;
    const spin = options.spinMicros ?? (envSpin !== undefined && envSpin !== '' ? Number(envSpin) : DEFAULT_SPIN_US);
    if (!Number.isInteger(spin) || spin < 0) throw new TypeError('createPool: spinMicros must be an integer >= 0');
    this._handle = native.attach(name, spin);
    this._waiters = []; // callers waiting for a free seat thread, first come first served
    this._leasing = new Set(); // reject functions of acquires waiting on a seat thread
    this._clients = new Set();
    this._inflight = 0; // leases, releases and one-shots not yet settled
    this._onIdle = null;
    this._closed = false;
    this._closing = null;
  }

  get closed() {
    return this._closed;
  }

  // Run start(timeoutMs) -> Promise | null (null: every seat thread is
  // busy) now, or once a seat thread is free, within timeoutMs overall.
  _withSeat(start, timeoutMs, op) {
    if (this._waiters.length === 0) {
      const p = start(timeoutMs);
      if (p !== null) return this._track(p);
    }
    return new Promise((resolve, reject) => {
      const w = { start, resolve, reject, timer: null, deadline: timeoutMs < 0 ? Infinity : Date.now() + timeoutMs };
      if (timeoutMs >= 0) {
        w.timer = setTimeout(() => {
          const i = this._waiters.indexOf(w);
          if (i >= 0) this._waiters.splice(i, 1);
          reject(new PhantomPoolError(PP_ERRORS.PP_ETIMEDOUT, `${op} (every seat thread of this process was busy)`));
        }, timeoutMs);
      }
      this._waiters.push(w);
    });
  }

  _track(p) {
    this._inflight++;
    const done = () => {
      if (--this._inflight === 0 && this._onIdle) this._onIdle();
      this._pump();
    };
    p.then(done, done);
    return p;
  }

  // A seat thread may be free again: start the waiters that fit.
  _pump() {
    while (this._waiters.length && !this._closed) {
      const w = this._waiters[0];
      const left = w.deadline === Infinity ? -1 : Math.max(0, w.deadline - Date.now());
      let p;
      try {
        p = w.start(left);
      } catch (e) {
        p = Promise.reject(e);
      }
      if (p === null) return;
      this._waiters.shift();
      if (w.timer) clearTimeout(w.timer);
      this._track(p).then(w.resolve, w.reject);
    }
  }

  _send(method, p, headers, body, timeoutMs, asBuffer) {
    if (this._closed) return Promise.reject(new PhantomPoolError(PP_ERRORS.PP_ESHUTDOWN, 'request'));
    try {
      return this._withSeat((left) => native.doRequest(this._handle, left, method, p, headers, body, timeoutMs, asBuffer),
        this._acquireTimeout, 'request');
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * request() without a Promise, for callers that accept blocking: pp_do
   * on the calling thread (lease, request, release), no seat thread.  It
   * blocks the event loop for the whole exchange and, when every seat is
   * taken, up to the pool's acquireTimeout: seats this process holds
   * (clients, requests in flight) cannot be given back meanwhile.  Returns
   * a Response whatever the HTTP status; throws PhantomPoolError.
   */
  requestSync(method, p, options) {
    if (this._closed) throw new PhantomPoolError(PP_ERRORS.PP_ESHUTDOWN, 'request');
    const [status, answer, contentType, requestId] =
      native.doRequestSync(this._handle, this._acquireTimeout, ...requestArgs(method, p, options, 'requestSync'));
    return new Response(status, answer, contentType, requestId);
  }

  /**
   * Lease a seat (waiting up to options.timeout ms, default the pool's
   * acquireTimeout; a negative timeout waits forever).  Resolves to a
   * Client bound to that seat until pool.release(client).
   */
  async acquire(options = {}) {
    if (this._closed) throw new PhantomPoolError(PP_ERRORS.PP_ESHUTDOWN, 'acquire');
    const timeout = timeoutOf(options && options.timeout, 'acquire') ?? this._acquireTimeout;
    const [seat, ticket] = await this._unlessClosed(
      this._withSeat((left) => native.lease(this._handle, left), timeout, 'acquire'));
    const client = new Client(this, seat, ticket);
    if (this._closed) {
      client._released = true;
      await this._track(native.release(seat, ticket));
      throw new PhantomPoolError(PP_ERRORS.PP_ESHUTDOWN, 'acquire');
    }
    this._clients.add(client);
    return client;
  }

  // The lease `leased` brings, or PP_ESHUTDOWN as soon as close() is
  // called: a seat thread asleep in pp_lease cannot be woken, so close()
  // rejects the caller now and the lease, if one comes, is released then
  // (close() waits for that).
  _unlessClosed(leased) {
    return new Promise((resolve, reject) => {
      const cancel = () => reject(new PhantomPoolError(PP_ERRORS.PP_ESHUTDOWN, 'acquire'));
      this._leasing.add(cancel);
      leased.then(([seat, ticket]) => {
        this._leasing.delete(cancel);
        if (!this._closed) return resolve([seat, ticket]);
        try {
          this._track(native.release(seat, ticket)).catch(() => {});
        } catch (_) {
          // close() has stopped the seat threads: each releases its lease as it leaves.
        }
        return cancel();
      }, (e) => {
        this._leasing.delete(cancel);
        reject(e);
      });
    });
  }

  /**
   * Give a client's seat back.  Returns a Promise that settles once the
   * seat thread has released the lease (requests still queued on the
   * client run first); awaiting it is optional.  Throws PhantomPoolError
   * PP_ERELEASED for a client already released, PP_EINVAL for one of
   * another pool.
   */
  release(client) {
    if (!(client instanceof Client) || client._pool !== this)
      throw new PhantomPoolError(PP_ERRORS.PP_EINVAL, 'release (not a client of this pool)');
    if (client._released) throw new PhantomPoolError(PP_ERRORS.PP_ERELEASED, 'release');
    client._released = true;
    this._clients.delete(client);
    return this._track(native.release(client._seat, client._ticket)).then((rc) => {
      // PP_ELOST / PP_EDAEMON: the daemon already took the seat back (it
      // reclaimed it, or died): the seat is free either way.
      if (rc !== 0 && rc !== PP_ERRORS.PP_ELOST && rc !== PP_ERRORS.PP_EDAEMON)
        throw new PhantomPoolError(rc, 'release');
    });
  }

  /**
   * The pool's figures as the segment shows them: available, used, min,
   * max (the seed pools' four), then waiting, daemonPid, generation
   * (BigInt), and the daemon's counters.  Throws PhantomPoolError
   * (PP_EDAEMON when the daemon is gone).
   */
  getStatus() {
    if (this._closed) throw new PhantomPoolError(PP_ERRORS.PP_ESHUTDOWN, 'getStatus');
    const raw = native.status(this._handle);
    const out = {};
    for (const k of Object.keys(raw)) out[camel(k)] = raw[k];
    return out;
  }

  /**
   * Refuse new work, release every client still held (after the requests
   * queued on it), wait for one-shots in flight, stop the seat threads and
   * detach.  Idempotent; resolves when done.
   */
  close() {
    if (this._closing) return this._closing;
    this._closed = true;
    for (const w of this._waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new PhantomPoolError(PP_ERRORS.PP_ESHUTDOWN, 'acquire'));
    }
    for (const cancel of this._leasing) cancel();
    this._closing = (async () => {
      await Promise.allSettled([...this._clients].map((c) => this.release(c)));
      if (this._inflight > 0) await new Promise((resolve) => { this._onIdle = resolve; });
      let done;
      while ((done = native.close(this._handle)) === null) await new Promise((resolve) => setImmediate(resolve));
      await done;
    })();
    return this._closing;
  }
}
mixRoutes(Pool);

/** createPool(options): attach to the host's pool (options.pool, else $PHANTOMPOOL, else "default"). */
function createPool(options) {
  return new Pool(options);
}

module.exports = {
  createPool,
  Pool,
  Client,
  Response,
  PhantomPoolError,
  PhantomDBError,
  errors: PP_ERRORS,
  libraryVersion: native.version(),
};
