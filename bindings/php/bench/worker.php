<?php
/* worker.php - one process of bench.php (run it through bench.php).
 *
 *   worker.php pool-do N PATH   N x Pool::request (pp_do underneath)
 *   worker.php lease N PATH     one acquire, N x Client::request
 *   worker.php typed N          N x (new Pool)->acquire()->health(): a
 *                               seat, a typed call with its JSON decoded,
 *                               the release when the Client goes away
 *     each prints "wall_ns X" and "cpu_ns Y" per request (after 500
 *     warm-up requests), like pp_do_loop.c
 *   worker.php web-pool SECONDS URL   "web requests" for SECONDS, from the
 *   worker.php web-curl SECONDS URL   "go" bench.php writes to stdin once
 *                                     every worker printed "ready"; prints "n N"
 *
 * A "web request" does what one PHP page of a pre-fork server would: get
 * the pool (or a curl handle), read one row as decoded JSON, let go.  The
 * curl variant opens a new connection each time, as PHP's curl extension
 * does for a handle made in the request; the pool variant leases a seat
 * on the daemon's warm connections. */

function cpu_ns(): float
{
    $r = getrusage();
    return ($r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']) * 1e9 +
           ($r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec']) * 1e3;
}

function per_request(callable $one, int $n): void
{
    for ($i = 0; $i < 500; $i++)
        $one();
    $t0 = hrtime(true);
    $c0 = cpu_ns();
    for ($i = 0; $i < $n; $i++)
        $one();
    $t1 = hrtime(true);
    $c1 = cpu_ns();
    printf("wall_ns %.0f\ncpu_ns %.0f\n", ($t1 - $t0) / $n, ($c1 - $c0) / $n);
}

/* Start when bench.php says "go" on stdin (after every worker said
 * "ready"), run for $seconds of this process's own clock. */
function web_loop(callable $one, float $seconds): void
{
    $one();                               /* warm: the first request */
    echo "ready\n";
    fflush(STDOUT);
    if (trim((string)fgets(STDIN)) !== 'go')
        exit(1);
    $end = microtime(true) + $seconds;
    $n = 0;
    while (microtime(true) < $end) {
        $one();
        $n++;
    }
    echo "n $n\n";
}

$mode = $argv[1] ?? '';
switch ($mode) {
case 'pool-do':
    $pool = new PhantomPool\Pool();
    $path = $argv[3];
    per_request(function () use ($pool, $path) {
        if ($pool->request('GET', $path)['status'] !== 200)
            throw new RuntimeException('not 200');
    }, (int)$argv[2]);
    break;
case 'lease':
    $c = (new PhantomPool\Pool())->acquire();
    $path = $argv[3];
    per_request(function () use ($c, $path) {
        if ($c->request('GET', $path)['status'] !== 200)
            throw new RuntimeException('not 200');
    }, (int)$argv[2]);
    break;
case 'typed':
    per_request(function () {
        if ((new PhantomPool\Pool())->acquire()->health()['status'] !== 'healthy')
            throw new RuntimeException('not healthy');
    }, (int)$argv[2]);
    break;
case 'web-pool':
    web_loop(function () {
        $c = (new PhantomPool\Pool())->acquire();
        if (count($c->select('bench', 'items', 'id = 1')['records']) !== 1)
            throw new RuntimeException('no row');
    }, (float)$argv[2]);
    break;
case 'web-curl':
    $url = $argv[3] . '/databases/bench/tables/items?condition=' . rawurlencode('id = 1');
    web_loop(function () use ($url) {
        $h = curl_init($url);
        curl_setopt_array($h, [CURLOPT_RETURNTRANSFER => true, CURLOPT_HTTPHEADER => ['Accept: application/json']]);
        $body = curl_exec($h);
        if (curl_getinfo($h, CURLINFO_RESPONSE_CODE) !== 200 ||
            count(json_decode($body, true)['records']) !== 1)
            throw new RuntimeException('curl: ' . curl_error($h));
        curl_close($h);
    }, (float)$argv[2]);
    break;
default:
    fwrite(STDERR, "usage: see the top of worker.php\n");
    exit(2);
}
