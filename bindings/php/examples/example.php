<?php
/* example.php - the phantompool PHP extension, as a web request would use it.
 *
 *   make run-php-example      (starts a pool, runs this, stops the pool)
 *   php -d extension=phantompool.so example.php   against a running pool
 *
 * Under PHP-FPM or mod_php the same code runs per web request: the first
 * request of each child attaches to the pool, later ones reuse it, and
 * every lease is released when the request ends, whatever ends it. */

use PhantomPool\{Pool, Exception, HttpException, TimeoutException};

$pool = new Pool();            /* php.ini phantompool.default_pool, $PHANTOMPOOL, or "default" */

try {
    $client = $pool->acquire(2000);          /* wait up to 2 s for a seat */
} catch (TimeoutException $e) {
    http_response_code(503);
    exit("the pool is busy: {$e->getMessage()}\n");
}

try {
    $client->createDatabase('example');
    $client->createTable('example', 'users', [
        ['name' => 'id', 'type' => 'INTEGER', 'primaryKey' => true],
        ['name' => 'name', 'type' => 'TEXT', 'nullable' => false],
        ['name' => 'email', 'type' => 'TEXT'],
    ]);
} catch (HttpException $e) {
    if ($e->getStatus() !== 409)             /* 409: it exists already */
        throw $e;
}

$client->insert('example', 'users', ['id' => 1, 'name' => 'Ada', 'email' => 'ada@example.org']);
$client->insertRows('example', 'users', [
    ['id' => 2, 'name' => 'Grace', 'email' => 'grace@example.org'],
    ['id' => 3, 'name' => 'Linus', 'email' => null],
]);

/* A transaction: its id travels in the URL, so any seat may carry it. */
$tx = $client->beginTransaction();
$client->update('example', 'users', ['email' => 'linus@example.org'], 'id = 3');
$client->commitTransaction($tx);

foreach ($client->select('example', 'users')['records'] as $row)
    printf("%d  %-6s %s\n", $row['id'], $row['name'], $row['email']);

$r = $client->query('example', 'SELECT COUNT(*) AS n FROM users WHERE email LIKE ?', ['%@example.org']);
echo "users with an example.org address: {$r['rows'][0][0]}\n";

$status = $pool->getStatus();
echo "pool {$pool->getName()}: {$status['used']} of {$status['max']} seats in use, ",
     "{$status['requests']} requests served\n";

$client->dropDatabase('example');
$client->release();                          /* or let it go out of scope */

try {
    $pool->acquire()->getDatabase('example');
} catch (HttpException $e) {
    echo "after the drop: {$e->getStatus()} {$e->getErrorName()}\n";
} catch (Exception $e) {
    echo "pool error {$e->getErrorName()} ({$e->getCode()}): {$e->getMessage()}\n";
}
