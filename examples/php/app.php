<?php
/* app.php - the deployment examples' application (examples/common/ppapp.h)
 * in PHP, through the phantompool extension (bindings/php, docs/php.md).
 *
 *   GET /app?n=N[&hold_ms=MS]
 *   -> 200 {"n":N,"pid":PID,"uid":UID,"gid":GID,"slot":K,"db":<PhantomDB's answer>}
 *
 * The request leases a seat, POSTs /databases/demo/query
 * {"query":"SELECT ? AS n","parameters":[N]} on it (creating the database
 * "demo" the first time it is missing), waits hold_ms (0..10000: the tests
 * SIGKILL a worker while it holds its seat) and gives the seat back.
 * Errors answer 503 {"error":"<pp_strerror>","code":PP_E*} (the pool) or
 * 502 (PhantomDB answered with an error status; its body is passed on).
 *
 * Where the pool is attached: PHP has no hook in the PHP-FPM master (or
 * the Apache parent) for the application, and the extension never attaches
 * at startup.  `new PhantomPool\Pool()` attaches on the first request of
 * each child that makes one, and the extension keeps that handle for the
 * child's life: every later request (and every later `new Pool()`) only
 * leases a seat.  A seat still held when the request ends, however it ends,
 * is given back by the extension.
 *
 * The pool's name: php.ini phantompool.default_pool (php_admin_value in the
 * FPM pool): PHP-FPM's clear_env hides $PHANTOMPOOL from the children.  The
 * children run as www-data, so phantompoold must make the segment reachable
 * for them: mode = 0660, group = www-data.
 */
const HOLD_MS_MAX = 10000;
const LEASE_TIMEOUT_MS = 10000;
const JSON_CT = ['Content-Type' => 'application/json'];

/* The integer value of $key in the query, or $def when it is absent or not
 * a number in [$lo, $hi] (as the C examples). */
function query_int(string $key, int $lo, int $hi, int $def): int
{
    $v = filter_var($_GET[$key] ?? null, FILTER_VALIDATE_INT);
    return is_int($v) && $v >= $lo && $v <= $hi ? $v : $def;
}

/* The process's real uid and gid, from the kernel (no posix extension needed). */
function ids(): array
{
    preg_match('/^Uid:\s+(\d+)/m', $s = (string)file_get_contents('/proc/self/status'), $u);
    preg_match('/^Gid:\s+(\d+)/m', $s, $g);
    return [(int)($u[1] ?? -1), (int)($g[1] ?? -1)];
}

$n = query_int('n', -1000000000, 1000000000, 0);
$hold_ms = query_int('hold_ms', 0, HOLD_MS_MAX, 0);
header('Content-Type: application/json');
try {
    try {
        $pool = new PhantomPool\Pool();          /* attaches on this child's first request */
    } catch (PhantomPool\Exception $e) {
        /* the name the extension used: local_only, since under mod_php a
         * plain getenv() also returns SetEnv's, which the extension
         * never sees (it reads the process's environment) */
        $name = ini_get('phantompool.default_pool') ?: (getenv('PHANTOMPOOL', true) ?: 'default');
        $fix = $e->getCode() === PhantomPool\Exception::EACCES
            ? "; run phantompoold with mode = 0660 and group = the workers' group"
            : ($e->getCode() === PhantomPool\Exception::ENOPOOL
               ? '; is phantompoold running for this pool, and is phantompool.default_pool set?' : '');
        error_log("phantompool: cannot attach to pool '$name' (/dev/shm/phantompool-$name): {$e->getMessage()}$fix");
        throw $e;
    }
    $client = $pool->acquire(LEASE_TIMEOUT_MS);
    $slot = $client->slot();
    $body = json_encode(['query' => 'SELECT ? AS n', 'parameters' => [$n]]);
    $r = $client->request('POST', '/databases/demo/query', JSON_CT, $body);
    if ($r['status'] === 404) {
        $client->request('POST', '/databases', JSON_CT, '{"name":"demo"}');   /* 201, or 409: created meanwhile */
        $r = $client->request('POST', '/databases/demo/query', JSON_CT, $body);
    }
    if ($hold_ms > 0)
        usleep($hold_ms * 1000);
    $client->release();
    if ($r['status'] >= 200 && $r['status'] < 300 && str_starts_with($r['body'], '{')) {
        [$uid, $gid] = ids();
        printf("{\"n\":%d,\"pid\":%d,\"uid\":%d,\"gid\":%d,\"slot\":%d,\"db\":%s}\n",
               $n, getmypid(), $uid, $gid, $slot, $r['body']);
    } else {                                     /* PhantomDB answered with an error */
        http_response_code(502);
        echo $r['body'], "\n";
    }
} catch (PhantomPool\Exception $e) {
    http_response_code(503);
    echo json_encode(['error' => $e->getMessage(), 'code' => $e->getCode()]), "\n";
}
