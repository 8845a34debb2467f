// make check-node type-checks this against index.d.ts (tsc --strict): the
// README's usage compiles, and each @ts-expect-error line must be refused.
import { createPool, Client, PhantomPoolError, PhantomDBError, PoolStatus, Response, errors } from 'phantompool';

async function main(): Promise<void> {
  const pool = createPool({ acquireTimeout: 5000 });
  const client: Client = await pool.acquire({ timeout: 1000 });
  try {
    const dbs = await client.listDatabases();
    const names: string[] = dbs.databases.map((d) => d.name);
    await client.createTable('shop', 'items', [{ name: 'id', type: 'INTEGER', primaryKey: true }]);
    const q = await client.query('shop', 'SELECT * FROM items WHERE id = ?', [1]);
    const n: number = q.rowCount;
    const id: string = await client.beginTransaction();
    await client.commitTransaction(id);
    const r: Response<string> = await client.request('GET', '/health');
    const b: Response<Buffer> = await client.request('GET', '/health', { encoding: 'buffer' });
    const h: { status: string } = r.json();
    void [names, n, b, h];
  } catch (e) {
    if (e instanceof PhantomPoolError && e.code === 'PP_ETIMEDOUT' && e.errno === errors.PP_ETIMEDOUT) return;
    if (e instanceof PhantomDBError && e.status === 404) return;
    throw e;
  } finally {
    await pool.release(client);
  }
  const rs: Response<string> = pool.requestSync('GET', '/health');
  const bs: Response<Buffer> = pool.requestSync('GET', '/health', { encoding: 'buffer' });
  void [rs, bs];
  const s: PoolStatus = pool.getStatus();
  const gen: bigint = s.generation;
  const avail: number = s.available + s.used + s.min + s.max;
  void [gen, avail];
  await pool.health();
  await pool.close();

  // @ts-expect-error: acquire takes an options object, not a number
  await pool.acquire(1000);
  // @ts-expect-error: createTable wants columns
  await pool.createTable('db', 't');
  // @ts-expect-error: no such error code
  const bad: PhantomPoolError['code'] = 'PP_EWHATEVER';
  // @ts-expect-error: getStatus is synchronous
  const st: PoolStatus = await pool.getStatus().then();
  void [bad, st];
}

void main;
