<?php
/* bench.php - make bench-php: the PHP extension's cost per request, and
 * web requests per second at 16 workers against PHP's curl extension.
 *
 *   bench.php overhead     (mk/php.mk runs it under tests/with-pool --spin-us 0)
 *   bench.php throughput   (under tests/with-pool --max 16)
 *
 * tests/with-pool exports PHANTOMPOOL and PHANTOMDB_URL; PP_PHP is the php
 * command line that loads the extension, PP_DO_LOOP the C baseline
 * (pp_do_loop.c).  BENCH_QUICK=1: short runs.
 *
 * overhead: the same GET /health, N times in one process, through
 *    - C pp_do (pp_do_loop do) vs Pool::request (pp_do underneath)
 *    - C pp_request on one lease vs Client::request on one lease
 *    - C pp_do vs (new Pool)->acquire()->health() (a typed call, JSON decoded)
 *  interleaved, R rounds.  The binding adds work in the worker process
 *  only (no system call, no wait), so its overhead is the difference in
 *  the worker's CPU time per request (getrusage).  The daemon runs with
 *  --spin-us 0 here: a worker that spins while it waits for the daemon
 *  burns CPU in proportion to the daemon's latency, which would swamp a
 *  few microseconds.  Wall-clock times are printed too.
 * throughput: 16 worker processes doing "web requests" (worker.php
 *  web-pool / web-curl: read one row, decoded) for D seconds, started
 *  together; pool and curl phases alternate, R2 rounds; the mean of each. */

$quick = getenv('BENCH_QUICK') ? true : false;
$php = getenv('PP_PHP') ?: 'php';
$loop = getenv('PP_DO_LOOP');
$url = getenv('PHANTOMDB_URL');
$worker = __DIR__ . '/worker.php';

function run(string $cmd): array
{
    $out = [];
    exec($cmd . ' 2>&1', $lines, $rc);
    if ($rc !== 0)
        throw new RuntimeException("failed ($rc): $cmd\n" . implode("\n", $lines));
    foreach ($lines as $l)
        if (preg_match('/^(\w+) ([\d.]+)$/', $l, $m))
            $out[$m[1]] = (float)$m[2];
    return $out;
}

function median(array $v): float
{
    sort($v);
    $k = count($v);
    return $k % 2 ? $v[intdiv($k, 2)] : ($v[$k / 2 - 1] + $v[$k / 2]) / 2;
}

function report(array $lines): void
{
    echo "\n";
    foreach ($lines as [$name, $v, $unit])
        printf("%s %.2f %s\n", $name, $v, $unit);
}

function overhead(bool $quick): void
{
    global $php, $loop, $worker;
    $n = $quick ? 3000 : 10000;
    $rounds = $quick ? 3 : 7;
    /* Each case: the command line for $n requests. */
    $cases = [
        'c_do'      => fn($n) => escapeshellarg($loop) . " do $n /health",
        'php_do'    => fn($n) => "$php " . escapeshellarg($worker) . " pool-do $n /health",
        'c_lease'   => fn($n) => escapeshellarg($loop) . " lease $n /health",
        'php_lease' => fn($n) => "$php " . escapeshellarg($worker) . " lease $n /health",
        'php_typed' => fn($n) => "$php " . escapeshellarg($worker) . " typed $n",
    ];
    $res = [];
    for ($r = 0; $r < $rounds; $r++)
        foreach ($cases as $k => $cmd) {
            $o = run($cmd($n));
            $res[$k]['wall'][] = $o['wall_ns'] / 1000;
            $res[$k]['cpu'][] = $o['cpu_ns'] / 1000;
        }
    $m = [];
    foreach ($res as $k => $v)
        $m[$k] = ['wall' => median($v['wall']), 'cpu' => median($v['cpu'])];

    printf("\nper request, GET /health, %d requests x %d rounds, medians (µs; CPU: the worker process's):\n",
           $n, $rounds);
    printf("  %-44s %8s %8s\n", '', 'wall', 'CPU');
    $rows = [
        'C pp_do' => 'c_do', 'PHP Pool::request (pp_do)' => 'php_do',
        'C pp_request on one lease' => 'c_lease', 'PHP Client::request on one lease' => 'php_lease',
        'PHP acquire + health() + release (typed)' => 'php_typed',
    ];
    foreach ($rows as $label => $k)
        printf("  %-44s %8.1f %8.1f\n", $label, $m[$k]['wall'], $m[$k]['cpu']);
    $lines = [
        ['c_pp_do_wall', $m['c_do']['wall'], 'us'],
        ['c_pp_do_cpu', $m['c_do']['cpu'], 'us'],
        ['php_pool_request_wall', $m['php_do']['wall'], 'us'],
        ['php_pool_request_cpu', $m['php_do']['cpu'], 'us'],
        ['php_overhead_pool_request_cpu', $m['php_do']['cpu'] - $m['c_do']['cpu'], 'us'],
        ['php_overhead_pool_request_wall', $m['php_do']['wall'] - $m['c_do']['wall'], 'us'],
        ['php_overhead_lease_request_cpu', $m['php_lease']['cpu'] - $m['c_lease']['cpu'], 'us'],
        ['php_overhead_lease_request_wall', $m['php_lease']['wall'] - $m['c_lease']['wall'], 'us'],
        ['php_overhead_typed_health_cpu', $m['php_typed']['cpu'] - $m['c_do']['cpu'], 'us'],
        ['php_overhead_typed_health_wall', $m['php_typed']['wall'] - $m['c_do']['wall'], 'us'],
    ];
    report(array_merge($lines, instructions($cases)));
}

/* The same overheads in instructions executed by the worker per request,
 * counted by valgrind (cachegrind, no cache simulation): unlike time, a
 * count the machine's load does not change.  Per request = the difference
 * between runs of 3000 and 1000 requests, / 2000 (start-up cancels out).
 * Skipped, and said so, when valgrind is not installed. */
function instructions(array $cases): array
{
    if (trim((string)shell_exec('command -v valgrind')) === '') {
        echo "\n(valgrind not installed: no instruction counts)\n";
        return [];
    }
    $count = function (string $cmd): float {
        exec('valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null ' . $cmd .
             ' 2>&1 >/dev/null', $lines, $rc);
        foreach ($lines as $l)
            if (preg_match('/I\s+refs:\s+([\d,]+)/', $l, $mm))
                return (float)str_replace(',', '', $mm[1]);
        throw new RuntimeException("valgrind failed ($rc): $cmd\n" . implode("\n", $lines));
    };
    $per = [];
    foreach ($cases as $k => $cmd) {
        $a = $count($cmd(1000));
        $b = $count($cmd(3000));
        $per[$k] = ($b - $a) / 2000;
    }
    printf("\ninstructions per request (valgrind): C pp_do %.0f, Pool::request %.0f, " .
           "C pp_request %.0f, Client::request %.0f, typed %.0f\n",
           $per['c_do'], $per['php_do'], $per['c_lease'], $per['php_lease'], $per['php_typed']);
    return [
        ['php_overhead_pool_request_instructions', $per['php_do'] - $per['c_do'], 'instructions'],
        ['php_overhead_lease_request_instructions', $per['php_lease'] - $per['c_lease'], 'instructions'],
        ['php_overhead_typed_health_instructions', $per['php_typed'] - $per['c_do'], 'instructions'],
    ];
}

/* 16 workers of one mode, started together; web requests per second. */
function phase(string $mode, int $workers, float $secs, ?string $target = null): float
{
    global $php, $worker, $url;
    $target ??= $url;
    $procs = $pipes = [];
    for ($i = 0; $i < $workers; $i++) {
        $cmd = "exec $php " . escapeshellarg($worker) . " $mode $secs " . escapeshellarg($target);
        $procs[] = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $p);
        $pipes[] = $p;
    }
    foreach ($pipes as $p)
        if (trim((string)fgets($p[1])) !== 'ready')
            throw new RuntimeException("$mode worker did not start: " . stream_get_contents($p[2]));
    foreach ($pipes as $p)
        fwrite($p[0], "go\n");
    $total = 0;
    foreach ($procs as $i => $h) {
        fclose($pipes[$i][0]);
        $out = stream_get_contents($pipes[$i][1]);
        $err = stream_get_contents($pipes[$i][2]);
        if (proc_close($h) !== 0 || !preg_match('/^n (\d+)$/m', $out, $mm))
            throw new RuntimeException("$mode worker failed: $out $err");
        $total += (int)$mm[1];
    }
    return $total / $secs;
}

/* nginx on 127.0.0.1 in front of the backend, keeping keep-alive
 * connections to it: curl's new connection per web request then costs
 * what a fast-accepting server charges, not the reference backend's
 * thread per connection.  Returns [url, stop function] or null. */
function start_nginx(string $upstream): ?array
{
    $bin = '/usr/sbin/nginx';
    if (!is_executable($bin))
        return null;
    $dir = sys_get_temp_dir() . '/pp-php-bench-nginx-' . getmypid();
    @mkdir($dir);
    $s = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int)substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
    fclose($s);
    $up = preg_replace('~^https?://~', '', $upstream);
    file_put_contents("$dir/nginx.conf", <<<CONF
daemon off;
master_process on;
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    upstream phantomdb { server $up; keepalive 16; keepalive_requests 100000000; }
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { proxy_pass http://phantomdb; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF);
    $h = proc_open([$bin, '-e', "$dir/error.log", '-p', $dir, '-c', "$dir/nginx.conf"],
                   [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/out.log", 'w'], 2 => ['file', "$dir/out.log", 'a']], $p);
    $url = "http://127.0.0.1:$port";
    for ($i = 0; $i < 100; $i++) {
        if (@file_get_contents("$url/health") !== false)
            break;
        usleep(50000);
    }
    $stop = function () use ($h, $dir) {
        proc_terminate($h, 15);
        proc_close($h);
        exec('rm -rf ' . escapeshellarg($dir));
    };
    if ($i === 100) {
        $stop();
        fwrite(STDERR, "bench.php: nginx did not start; the curl-via-nginx row is left out\n");
        return null;
    }
    return [$url, $stop];
}

function throughput(bool $quick): void
{
    $secs = $quick ? 1.5 : 3.0;
    $rounds = $quick ? 1 : 3;
    $workers = 16;

    /* The row the web requests read. */
    $c = (new PhantomPool\Pool())->acquire();
    $c->createDatabase('bench');
    $c->createTable('bench', 'items', [['name' => 'id', 'type' => 'INTEGER', 'primaryKey' => true],
                                       ['name' => 'name', 'type' => 'TEXT']]);
    $c->insert('bench', 'items', ['id' => 1, 'name' => 'widget']);
    $c = null;

    global $url;
    $nginx = start_nginx($url);
    $thr = ['web-pool' => [], 'web-curl' => []] + ($nginx ? ['web-curl-nginx' => []] : []);
    $pool = new PhantomPool\Pool();
    $st0 = $pool->getStatus();
    for ($r = 0; $r < $rounds; $r++)
        foreach (array_keys($thr) as $mode) {
            if ($mode === 'web-pool')
                $thr[$mode][] = phase('web-pool', $workers, $secs);
            else
                $thr[$mode][] = phase('web-curl', $workers, $secs, $mode === 'web-curl' ? $url : $nginx[0]);
        }
    $st1 = $pool->getStatus();
    if ($nginx)
        $nginx[1]();
    $pr = array_sum($thr['web-pool']) / $rounds;
    $cr = array_sum($thr['web-curl']) / $rounds;
    $nr = $nginx ? array_sum($thr['web-curl-nginx']) / $rounds : 0;
    printf("\nweb requests (read one row, decoded), %d workers, %.1f s x %d rounds, means:\n",
           $workers, $secs, $rounds);
    printf("  pool: %8.0f req/s  (%s)  the daemon opened %d backend connections for %d requests\n", $pr,
           implode(' ', array_map(fn($x) => round($x), $thr['web-pool'])),
           $st1['connects'] - $st0['connects'], $st1['requests'] - $st0['requests']);
    printf("  curl: %8.0f req/s  (%s)  one new connection per web request to the backend\n", $cr,
           implode(' ', array_map(fn($x) => round($x), $thr['web-curl'])));
    if ($nginx)
        printf("  curl via nginx: %8.0f req/s  (%s)  a new connection per web request to a local nginx\n" .
               "                  that keeps keep-alive connections to the backend\n", $nr,
               implode(' ', array_map(fn($x) => round($x), $thr['web-curl-nginx'])));
    report([
        ['php_web_pool_16w', $pr, 'req/s'],
        ['php_web_curl_16w', $cr, 'req/s'],
        ['php_web_pool_vs_curl_16w', $cr > 0 ? $pr / $cr : 0, 'x'],
        ['php_web_pool_backend_connects', $st1['connects'] - $st0['connects'], 'connections'],
    ]);
    if ($nginx)
        report([
            ['php_web_curl_via_nginx_16w', $nr, 'req/s'],
            ['php_web_pool_vs_curl_via_nginx_16w', $nr > 0 ? $pr / $nr : 0, 'x'],
        ]);
}

match ($argv[1] ?? '') {
    'overhead' => overhead($quick),
    'throughput' => throughput($quick),
    default => exit("usage: bench.php overhead|throughput\n"),
};
