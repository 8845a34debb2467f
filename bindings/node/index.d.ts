// TypeScript declarations for phantompool (bindings/node).  lib/index.js
// is the implementation; README.md documents the behaviour.

/** The C library's PP_E* codes (negative numbers), by name. */
export declare const errors: Readonly<Record<PhantomPoolErrorCode, number>>;

/** libphantompool's PP_VERSION_NUMBER (major*10000 + minor*100 + patch). */
export declare const libraryVersion: number;

export type PhantomPoolErrorCode =
  | 'PP_EINVAL' | 'PP_ENOPOOL' | 'PP_EACCES' | 'PP_EVERSION' | 'PP_ECORRUPT' | 'PP_EDAEMON'
  | 'PP_ETIMEDOUT' | 'PP_ERELEASED' | 'PP_ENOTOWNER' | 'PP_ENOMEM' | 'PP_ESHUTDOWN' | 'PP_ESYS'
  | 'PP_ELOST' | 'PP_EBACKEND' | 'PP_EBADPATH' | 'PP_EBADHEADER' | 'PP_ETOOBIG' | 'PP_EPROTO'
  | 'PP_EBADMETHOD' | 'PP_ESTATE' | 'PP_ENAME' | 'PP_ENOLIB';

/** A call into libphantompool failed (the daemon, the seat, the request). */
export declare class PhantomPoolError extends Error {
  constructor(errno: number, op: string, sysErrno?: number, detail?: string);
  readonly name: 'PhantomPoolError';
  /** 'PP_ETIMEDOUT', ... */
  readonly code: PhantomPoolErrorCode;
  /** The library's negative code, e.g. -7. */
  readonly errno: number;
  /** What was being done: 'attach', 'acquire', 'request', 'release', 'getStatus', ... */
  readonly op: string;
  /** errno of the system call, for PP_ESYS. */
  readonly sysErrno?: number;
  /** The C library's pp_error_detail(): for a failed attach or PP_EDAEMON,
   *  what it found (segment path, mode, owner, the caller's ids) and the fix. */
  readonly detail?: string;
}

/** PhantomDB answered a typed method with an HTTP error status. */
export declare class PhantomDBError extends Error {
  readonly name: 'PhantomDBError';
  readonly status: number;
  /** The error body's "code" ('NOT_FOUND', ...), else 'HTTP_<status>' ('BAD_JSON' for a 2xx that is not JSON). */
  readonly code: string;
  readonly details: unknown;
  /** The raw response body. */
  readonly body: string;
}

export interface PoolOptions {
  /** Pool name; default $PHANTOMPOOL, else "default". (`name` is accepted too.) */
  pool?: string;
  name?: string;
  /** Milliseconds acquire() and the one-shots wait for a seat (default 30000; negative: forever). */
  acquireTimeout?: number;
  /** How long a seat thread polls for its next job before sleeping, in µs (default 0; env PHANTOMPOOL_NODE_SPIN_US). */
  spinMicros?: number;
  /** The seed pools' options: phantompoold's configuration decides these here; a warning is emitted. */
  baseUrl?: string;
  minConnections?: number;
  maxConnections?: number;
  idleTimeout?: number;
}

export interface AcquireOptions {
  /** Milliseconds to wait for a seat (default: the pool's acquireTimeout; negative: forever). */
  timeout?: number;
}

/** The pool as the shared segment shows it. Counters are since the daemon started. */
export interface PoolStatus {
  available: number;
  used: number;
  min: number;
  max: number;
  waiting: number;
  daemonPid: number;
  generation: bigint;
  leases: number;
  leaseTimeouts: number;
  reclaims: number;
  leaseWaits: number;
  leaseWaitP50Ns: number;
  leaseWaitP99Ns: number;
  leaseWaitMaxNs: number;
  requests: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  connects: number;
  reconnects: number;
  healthChecks: number;
  healthFailures: number;
  backendFailovers: number;
  backendIndex: number;
  backendUp: number;
  uptimeNs: number;
  /** Backend connections apart from seats (`max` counts seats). */
  connsMax: number;
  connsOpen: number;
  connsBusy: number;
  /** Exchanges waiting for an idle connection now. */
  queued: number;
  queueWaits: number;
  queueWaitP50Ns: number;
  queueWaitP99Ns: number;
  queueWaitMaxNs: number;
}

export interface Column {
  name: string;
  type?: string;
  nullable?: boolean;
  primaryKey?: boolean;
  defaultValue?: unknown;
}

export interface RowsQuery {
  where?: string;
  orderBy?: string;
  limit?: number;
  offset?: number;
}

export interface RequestOptions {
  /** string or bytes as is; any other value is sent as JSON (Content-Type added). */
  body?: string | Uint8Array | unknown;
  /** The daemon allows Content-Type, Accept and X-Request-Id (others: PP_EBADHEADER). */
  headers?: Record<string, string> | Map<string, string>;
  /** Milliseconds for the exchange; 0: the daemon's request timeout. */
  timeout?: number;
  /** Response body as a string (default) or a Buffer. */
  encoding?: 'utf8' | 'buffer';
}

export declare class Response<B extends string | Buffer = string | Buffer> {
  readonly status: number;
  readonly ok: boolean;
  readonly body: B;
  readonly contentType: string;
  readonly requestId: string;
  json<T = any>(): T;
}

export interface Database { name: string; createdAt: string; tables: unknown[]; size: number }
export interface Table { name: string; columns: Column[]; rowCount: number; createdAt: string; indexes: unknown[] }
export interface QueryResult { columns: string[]; rows: unknown[][]; rowCount: number; affectedRows: number }

/** The PhantomDB routes: on a Client they run on its seat; on the Pool each is a one-shot. */
export interface Routes {
  health(): Promise<{ status: string }>;
  listDatabases(): Promise<{ databases: Database[] }>;
  createDatabase(name: string, options?: Record<string, unknown>): Promise<Database>;
  getDatabase(name: string): Promise<Database>;
  dropDatabase(name: string): Promise<null>;
  listTables(db: string): Promise<{ tables: Table[] }>;
  createTable(db: string, table: string, columns: Column[]): Promise<Table>;
  getTable(db: string, table: string): Promise<Table>;
  dropTable(db: string, table: string): Promise<null>;
  insertRows(db: string, table: string, rows: Record<string, unknown>[]): Promise<{ inserted: number }>;
  getRows(db: string, table: string, query?: RowsQuery): Promise<{ rows: Record<string, unknown>[]; count: number }>;
  query(db: string, sql: string, parameters?: unknown[]): Promise<QueryResult>;
  insert(db: string, table: string, row: Record<string, unknown>): Promise<any>;
  select(db: string, table: string, condition?: string): Promise<{ records: Record<string, unknown>[] }>;
  update(db: string, table: string, data: Record<string, unknown>, condition: string): Promise<{ updated: number }>;
  delete(db: string, table: string, condition: string): Promise<{ deleted: number }>;
  /** Resolves to the transaction id. */
  beginTransaction(): Promise<string>;
  commitTransaction(id: string): Promise<any>;
  rollbackTransaction(id: string): Promise<any>;
  request(method: string, path: string, options?: RequestOptions & { encoding?: 'utf8' }): Promise<Response<string>>;
  request(method: string, path: string, options: RequestOptions & { encoding: 'buffer' }): Promise<Response<Buffer>>;
}

/** A leased seat: its requests run one after the other on the seat's own native thread. */
export declare class Client implements Routes {
  readonly released: boolean;
  /** Same as pool.release(client). */
  release(): Promise<void>;
  health: Routes['health'];
  listDatabases: Routes['listDatabases'];
  createDatabase: Routes['createDatabase'];
  getDatabase: Routes['getDatabase'];
  dropDatabase: Routes['dropDatabase'];
  listTables: Routes['listTables'];
  createTable: Routes['createTable'];
  getTable: Routes['getTable'];
  dropTable: Routes['dropTable'];
  insertRows: Routes['insertRows'];
  getRows: Routes['getRows'];
  query: Routes['query'];
  insert: Routes['insert'];
  select: Routes['select'];
  update: Routes['update'];
  delete: Routes['delete'];
  beginTransaction: Routes['beginTransaction'];
  commitTransaction: Routes['commitTransaction'];
  rollbackTransaction: Routes['rollbackTransaction'];
  request: Routes['request'];
}

export declare class Pool implements Routes {
  constructor(options?: PoolOptions);
  readonly closed: boolean;
  /** Lease a seat; never blocks the event loop. Rejects with PhantomPoolError (PP_ETIMEDOUT, PP_EDAEMON, PP_ESHUTDOWN, ...). */
  acquire(options?: AcquireOptions): Promise<Client>;
  /** Give the seat back (after the requests queued on it). Throws PP_ERELEASED on a second release. */
  release(client: Client): Promise<void>;
  /** Throws PhantomPoolError (PP_EDAEMON when the daemon is gone, PP_ESHUTDOWN after close()). */
  getStatus(): PoolStatus;
  /** Release held clients, stop the seat threads, detach. Idempotent. */
  close(): Promise<void>;
  /**
   * request() without a Promise: pp_do on the calling thread. BLOCKS the
   * event loop for the exchange and, when every seat is taken, up to the
   * pool's acquireTimeout. Throws PhantomPoolError.
   */
  requestSync(method: string, path: string, options?: RequestOptions & { encoding?: 'utf8' }): Response<string>;
  requestSync(method: string, path: string, options: RequestOptions & { encoding: 'buffer' }): Response<Buffer>;
  health: Routes['health'];
  listDatabases: Routes['listDatabases'];
  createDatabase: Routes['createDatabase'];
  getDatabase: Routes['getDatabase'];
  dropDatabase: Routes['dropDatabase'];
  listTables: Routes['listTables'];
  createTable: Routes['createTable'];
  getTable: Routes['getTable'];
  dropTable: Routes['dropTable'];
  insertRows: Routes['insertRows'];
  getRows: Routes['getRows'];
  query: Routes['query'];
  insert: Routes['insert'];
  select: Routes['select'];
  update: Routes['update'];
  delete: Routes['delete'];
  beginTransaction: Routes['beginTransaction'];
  commitTransaction: Routes['commitTransaction'];
  rollbackTransaction: Routes['rollbackTransaction'];
  request: Routes['request'];
}

/** Attach to the host's pool (options.pool, else $PHANTOMPOOL, else "default"). Throws PhantomPoolError (PP_ENOPOOL, ...). */
export declare function createPool(options?: PoolOptions): Pool;
