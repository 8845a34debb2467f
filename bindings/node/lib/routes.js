'use strict';
// The PhantomDB routes (shared/PHANTOMDB-API.md) as methods, shared by a
// leased Client (requests on its own seat) and the Pool (one-shots: each
// call is pp_do, lease + request + release on a seat thread).  A class
// that mixes them in provides
//   _send(method, path, headers, body, timeoutMs, asBuffer)
//     -> Promise<[status, body, contentType, requestId]>
// Paths are built as the C library's typed helpers build them
// (libclient/helpers.c): names percent-escaped (RFC 3986 unreserved
// characters kept; "." and ".." escaped whole), JSON bodies serialised by
// JSON.stringify, Accept: application/json on every call.

const { PhantomDBError } = require('./errors');

const ACCEPT_JSON = ['Accept', 'application/json'];
const SEND_JSON = ['Accept', 'application/json', 'Content-Type', 'application/json'];

// Percent-escape like urlpath_escape(): everything but A-Z a-z 0-9 - . _ ~.
function escape(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

// One path segment from a caller's name (urlpath_seg()).
function seg(name, what) {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${what}: a non-empty string is required`);
  if (name === '.' || name === '..') return '/' + '%2E'.repeat(name.length);
  return '/' + escape(name);
}

// "?k=v&..." of the entries whose value is neither undefined nor null.
function query(pairs) {
  let out = '';
  for (const [k, v] of pairs) {
    if (v === undefined || v === null) continue;
    out += (out ? '&' : '?') + k + '=' + escape(String(v));
  }
  return out;
}

function nonEmptyString(v, what) {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${what}: a non-empty string is required`);
  return v;
}

function plainObject(v, what) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${what}: an object is required`);
  return v;
}

// A parsed JSON answer, or a PhantomDBError for a non-2xx status.
function parseAnswer(method, path, status, body) {
  if (status < 200 || status > 299) throw new PhantomDBError(status, body, method, path);
  if (body === '') return null;
  try {
    return JSON.parse(body);
  } catch (e) {
    const err = new PhantomDBError(status, body, method, path);
    err.message = `${method} ${path}: HTTP ${status} with a body that is not JSON (${e.message})`;
    err.code = 'BAD_JSON';
    throw err;
  }
}

// Send and parse: the shape of every typed route method.
async function call(self, method, path, body) {
  const text = body === undefined ? null : JSON.stringify(body);
  const [status, answer] = await self._send(method, path, text === null ? ACCEPT_JSON : SEND_JSON, text, 0, false);
  return parseAnswer(method, path, status, answer);
}

// A raw response (request()): the answer whatever its status.
class Response {
  constructor(status, body, contentType, requestId) {
    this.status = status;
    this.body = body;
    this.contentType = contentType;
    this.requestId = requestId;
  }

  get ok() {
    return this.status >= 200 && this.status <= 299;
  }

  json() {
    return JSON.parse(Buffer.isBuffer(this.body) ? this.body.toString('utf8') : this.body);
  }
}

// Flat [name, value, ...] from an object or a Map of headers.
function headerList(headers, hasBody, bodyIsJson) {
  const out = [];
  if (headers) {
    const entries = headers instanceof Map ? headers.entries() : Object.entries(headers);
    for (const [k, v] of entries) out.push(String(k), String(v));
  }
  const has = (name) => out.some((v, i) => i % 2 === 0 && v.toLowerCase() === name);
  if (bodyIsJson && hasBody && !has('content-type')) out.push('Content-Type', 'application/json');
  return out.length ? out : null;
}

const methods = {
  /** GET /health */
  health() {
    return call(this, 'GET', '/health');
  },
  /** GET /databases */
  listDatabases() {
    return call(this, 'GET', '/databases');
  },
  /** POST /databases {name, options} */
  createDatabase(name, options = {}) {
    return call(this, 'POST', '/databases', { name: nonEmptyString(name, 'createDatabase'), options });
  },
  getDatabase(name) {
    return call(this, 'GET', '/databases' + seg(name, 'getDatabase'));
  },
  dropDatabase(name) {
    return call(this, 'DELETE', '/databases' + seg(name, 'dropDatabase'));
  },
  listTables(db) {
    return call(this, 'GET', '/databases' + seg(db, 'listTables') + '/tables');
  },
  /** POST /databases/{db}/tables {name, columns: [{name, type, nullable, primaryKey, defaultValue}]} */
  createTable(db, table, columns) {
    if (!Array.isArray(columns)) throw new TypeError('createTable: columns must be an array');
    return call(this, 'POST', '/databases' + seg(db, 'createTable') + '/tables', {
      name: nonEmptyString(table, 'createTable'),
      columns,
    });
  },
  getTable(db, table) {
    return call(this, 'GET', '/databases' + seg(db, 'getTable') + '/tables' + seg(table, 'getTable'));
  },
  dropTable(db, table) {
    return call(this, 'DELETE', '/databases' + seg(db, 'dropTable') + '/tables' + seg(table, 'dropTable'));
  },
  /** POST .../rows {rows: [...]} -> {inserted} */
  insertRows(db, table, rows) {
    if (!Array.isArray(rows) || !rows.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r)))
      throw new TypeError('insertRows: rows must be an array of objects');
    return call(this, 'POST', '/databases' + seg(db, 'insertRows') + '/tables' + seg(table, 'insertRows') + '/rows', { rows });
  },
  /** GET .../rows?where=&orderBy=&limit=&offset= -> {rows, count} */
  getRows(db, table, { where, orderBy, limit, offset } = {}) {
    const path = '/databases' + seg(db, 'getRows') + '/tables' + seg(table, 'getRows') + '/rows' +
      query([['where', where || null], ['orderBy', orderBy || null], ['limit', limit || null], ['offset', offset || null]]);
    return call(this, 'GET', path);
  },
  /** POST /databases/{db}/query {query, parameters} -> {columns, rows, rowCount, affectedRows} */
  query(db, sql, parameters = []) {
    if (!Array.isArray(parameters)) throw new TypeError('query: parameters must be an array');
    return call(this, 'POST', '/databases' + seg(db, 'query') + '/query', { query: nonEmptyString(sql, 'query'), parameters });
  },
  /** POST /databases/{db}/tables/{t} row: insert one row (the existing clients' call) */
  insert(db, table, row) {
    return call(this, 'POST', '/databases' + seg(db, 'insert') + '/tables' + seg(table, 'insert'), plainObject(row, 'insert'));
  },
  /** GET /databases/{db}/tables/{t}?condition= -> {records} ('' selects every row) */
  select(db, table, condition = '') {
    return call(this, 'GET', '/databases' + seg(db, 'select') + '/tables' + seg(table, 'select') + query([['condition', condition]]));
  },
  /** PUT /databases/{db}/tables/{t} {data, condition} -> {updated} */
  update(db, table, data, condition) {
    return call(this, 'PUT', '/databases' + seg(db, 'update') + '/tables' + seg(table, 'update'), {
      data: plainObject(data, 'update'),
      condition: nonEmptyString(condition, 'update: condition'),
    });
  },
  /** DELETE /databases/{db}/tables/{t}?condition= -> {deleted} */
  delete(db, table, condition) {
    return call(this, 'DELETE', '/databases' + seg(db, 'delete') + '/tables' + seg(table, 'delete') +
      query([['condition', nonEmptyString(condition, 'delete: condition')]]));
  },
  /** POST /transactions -> the transaction id (a string) */
  async beginTransaction() {
    const answer = await call(this, 'POST', '/transactions');
    if (!answer || typeof answer.transaction_id !== 'string') {
      const err = new PhantomDBError(200, JSON.stringify(answer), 'POST', '/transactions');
      err.message = 'POST /transactions: the answer has no transaction_id string';
      err.code = 'BAD_JSON';
      throw err;
    }
    return answer.transaction_id;
  },
  commitTransaction(id) {
    return call(this, 'POST', '/transactions' + seg(id, 'commitTransaction') + '/commit');
  },
  rollbackTransaction(id) {
    return call(this, 'POST', '/transactions' + seg(id, 'rollbackTransaction') + '/rollback');
  },
  /**
   * Any method and path (relative to the daemon's base URL).  Resolves to a
   * Response whatever the HTTP status; rejects only with PhantomPoolError.
   * options: body (string, Buffer/Uint8Array, or any other value: sent as
   * JSON), headers (object or Map; the daemon allows Content-Type, Accept,
   * X-Request-Id), timeout (ms; 0: the daemon's), encoding ('utf8' or
   * 'buffer' for the response body).
   */
  async request(method, path, options) {
    const [status, answer, contentType, requestId] = await this._send(...requestArgs(method, path, options, 'request'));
    return new Response(status, answer, contentType, requestId);
  },
};

const REQUEST_OPTIONS = new Set(['body', 'headers', 'timeout', 'encoding']);

// request()'s options as _send's arguments:
// [method, path, headers|null, body|null, timeoutMs, asBuffer].  An
// unknown option is a TypeError: dropped, a misnamed body ({ json }, as
// in Python) or timeout would change the request without a word.
function requestArgs(method, path, options = {}, what) {
  for (const k of Object.keys(options ?? {}))
    if (!REQUEST_OPTIONS.has(k))
      throw new TypeError(`${what}: unknown option '${k}' (known: ${[...REQUEST_OPTIONS].join(', ')}; any non-string body is sent as JSON)`);
  const { body, headers, timeout = 0, encoding = 'utf8' } = options ?? {};
  let payload = null;
  let json = false;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || ArrayBuffer.isView(body)) payload = body;
    else {
      payload = JSON.stringify(body);
      json = true;
    }
  }
  if (encoding !== 'utf8' && encoding !== 'buffer') throw new TypeError(`${what}: encoding must be 'utf8' or 'buffer'`);
  return [String(method), String(path), headerList(headers, payload !== null, json), payload, requestTimeout(timeout, what), encoding === 'buffer'];
}

// A request timeout in ms for pp_req.timeout_ms (a C int): 0 is the
// daemon's timeout; larger values are capped at INT_MAX, not wrapped by
// `| 0` (2**31 would turn negative, 2**32 + 1 into 1 ms).
function requestTimeout(v, what) {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0)
    throw new TypeError(`${what}: timeout must be a number of milliseconds >= 0`);
  return v === 0 ? 0 : Math.min(Math.ceil(v), 0x7fffffff);
}

// Copy the route methods onto a class's prototype.
function mixRoutes(cls) {
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(cls.prototype, name, { value: fn, writable: true, configurable: true });
  }
}

module.exports = { mixRoutes, Response, requestArgs, escape, seg };
