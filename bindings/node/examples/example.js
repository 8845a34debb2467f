'use strict';
// The seed pool's usage (shared/seed/CONNECTION_POOLING_SUMMARY.md) on the
// host-wide pool: only the require line changes.  Installed as a package
// it reads require('phantompool'); here it loads this folder.
//
//   tests/with-pool -- node bindings/node/examples/example.js
const { createPool, PhantomDBError } = require('..');

async function main() {
  const pool = createPool(); // $PHANTOMPOOL, else the pool named "default"
  const client = await pool.acquire();
  try {
    // Use client
    await client.listDatabases();

    const db = `example_${process.pid}`;
    await client.createDatabase(db);
    await client.createTable(db, 'users', [
      { name: 'id', type: 'INTEGER', primaryKey: true },
      { name: 'name', type: 'TEXT' },
    ]);
    await client.insertRows(db, 'users', [{ id: 1, name: 'ada' }, { id: 2, name: 'grace' }]);
    const tx = await client.beginTransaction();
    await client.update(db, 'users', { name: 'Ada' }, 'id = 1');
    await client.commitTransaction(tx);
    const { rows } = await client.query(db, 'SELECT name FROM users ORDER BY id');
    console.log('users:', rows.map((r) => r[0]).join(', '));
    try {
      await client.getTable(db, 'missing');
    } catch (e) {
      if (!(e instanceof PhantomDBError)) throw e;
      console.log('missing table:', e.status, e.code);
    }
    await client.dropDatabase(db);
  } finally {
    pool.release(client);
  }
  // One-shots: each call leases a seat, runs, and gives it back.
  console.log('health:', (await pool.health()).status);
  const { available, used, min, max } = pool.getStatus();
  console.log(`pool: ${available} available, ${used} used, min ${min}, max ${max}`);
  await pool.close();
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
