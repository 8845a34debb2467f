--TEST--
php-fpm: each child attaches once and keeps its handle across web requests; no lease survives a request (fatal error, exit, exception, memory limit)
--EXTENSIONS--
phantompool
--FILE--
<?php
require __DIR__ . '/pp_test.inc';

/* php-fpm and cgi-fcgi (Debian php8.2-fpm, libfcgi-bin). */
$fpm = getenv('PP_PHP_FPM') ?: '/usr/sbin/php-fpm' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION;
$cgi = trim((string)shell_exec('command -v cgi-fcgi'));
check('php-fpm and cgi-fcgi are installed', is_executable($fpm) && $cgi !== '', [$fpm, $cgi]);
$ext = rtrim(ini_get('extension_dir'), '/') . '/phantompool.so';
check('the extension to load', is_file($ext), $ext);

$dir = sys_get_temp_dir() . '/pp-php-fpm-' . getmypid();
@mkdir($dir);
$children = 4;
$pool = getenv('PHANTOMPOOL');

/* The web scripts. */
file_put_contents("$dir/info.php", <<<'PHP'
<?php
$p = new PhantomPool\Pool();            /* named by php.ini: clear_env leaves no $PHANTOMPOOL */
$c = $p->acquire();
$h = $c->health()['status'];
usleep(30000);                          /* overlap requests, so that several children serve */
$s = PhantomPool\Pool::processStats();
echo json_encode(['pid' => getmypid(), 'attaches' => $s['attaches'], 'pool' => $p->getName(),
                  'health' => $h, 'env' => getenv('PHANTOMPOOL')]);
PHP);
file_put_contents("$dir/leak.php", <<<'PHP'
<?php
/* Takes two leases it never releases (one in a global, one in a static),
 * then ends the request the way ?how= says. */
function keep() { static $s; $s = (new PhantomPool\Pool())->acquire(); }
$GLOBALS['kept'] = (new PhantomPool\Pool())->acquire();
keep();
echo "held\n";
switch ($_GET['how'] ?? '') {
case 'fatal':     trigger_error('fatal on purpose', E_USER_ERROR);
case 'exit':      exit(3);
case 'exception': throw new RuntimeException('uncaught on purpose');
case 'memory':    ini_set('memory_limit', '16M'); $a = []; while (true) $a[] = str_repeat('x', 1 << 20);
case 'undefined': no_such_function();
}
echo "normal end\n";
PHP);
file_put_contents("$dir/status.php", <<<'PHP'
<?php
$st = (new PhantomPool\Pool())->getStatus();
echo json_encode(['used' => $st['used'], 'pid' => getmypid(),
                  'shutdown_releases' => PhantomPool\Pool::processStats()['shutdown_releases']]);
PHP);

/* As root (CI), the children run as root too (-R), so that they may open
 * the pool's segment (mode 0600, the daemon's user). */
$root = trim((string)shell_exec('id -u')) === '0';
$user = $root ? "user = root\ngroup = root\n" : '';
file_put_contents("$dir/fpm.conf", <<<CONF
[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
daemonize = no

[www]
listen = $dir/fpm.sock
listen.mode = 0666
$user
pm = static
pm.max_children = $children
clear_env = yes
catch_workers_output = yes
php_admin_value[phantompool.default_pool] = $pool
php_admin_value[phantompool.acquire_timeout_ms] = 2000
php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on
CONF);


$args = [$fpm, '-n', '-d', "extension=$ext", '-y', "$dir/fpm.conf", '-F', '-O'];
if ($root)
    $args[] = '-R';
/* Whatever ends this script, php-fpm is stopped and the folder removed. */
register_shutdown_function(function () use (&$master, $dir) {
    if (is_resource($master)) {
        proc_terminate($master, 15);
        proc_close($master);
    }
    foreach (glob("$dir/*") ?: [] as $f)
        unlink($f);
    @rmdir($dir);
});
$master = proc_open($args, [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/fpm.out", 'w'],
                            2 => ['file', "$dir/fpm.out", 'a']], $pipes);
for ($i = 0; $i < 100 && !file_exists("$dir/fpm.sock"); $i++)
    usleep(50000);
check('php-fpm listens', file_exists("$dir/fpm.sock"), @file_get_contents("$dir/fpm.out"));

/* Run FastCGI requests concurrently (one cgi-fcgi each); their heads and bodies. */
function fcgi_requests(string $dir, array $reqs): array
{
    global $cgi;
    $procs = [];
    foreach ($reqs as $i => [$script, $query]) {
        $env = ['SCRIPT_FILENAME' => "$dir/$script", 'SCRIPT_NAME' => "/$script", 'REQUEST_METHOD' => 'GET',
                'QUERY_STRING' => $query, 'SERVER_PROTOCOL' => 'HTTP/1.1', 'GATEWAY_INTERFACE' => 'CGI/1.1'];
        $h = proc_open([$cgi, '-bind', '-connect', "$dir/fpm.sock"],
                       [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['file', '/dev/null', 'w']],
                       $pipes, null, $env);
        $procs[$i] = [$h, $pipes[1]];
    }
    $out = [];
    foreach ($procs as $i => [$h, $stdout]) {
        $raw = stream_get_contents($stdout);
        fclose($stdout);
        proc_close($h);
        $parts = preg_split("/\r?\n\r?\n/", $raw, 2);
        $out[$i] = ['head' => $parts[0], 'body' => $parts[1] ?? ''];
    }
    return $out;
}

/* 1. Several children, each attaching once: 3 rounds of 8 concurrent requests. */
$seen = [];
$bad = [];
for ($round = 0; $round < 3; $round++) {
    foreach (fcgi_requests($dir, array_fill(0, 8, ['info.php', ''])) as $r) {
        $j = json_decode($r['body'], true);
        if (!is_array($j) || $j['attaches'] !== 1 || $j['pool'] !== $pool || $j['health'] !== 'healthy' ||
            $j['env'] !== false)
            $bad[] = $r;
        else
            $seen[$j['pid']] = ($seen[$j['pid']] ?? 0) + 1;
    }
}
check('every request: attaches == 1, pool from php.ini, no $PHANTOMPOOL in the environment', !$bad, $bad);
check('several children served', count($seen) >= 2, $seen);
check('children served several requests each on one attachment', max($seen) >= 2, $seen);
echo 'requests served: ', array_sum($seen), "\n";

/* 2. Requests that end badly while holding two leases each.  Leaked
 * leases would use up the 8 seats within a few of these 15 requests. */
$st = json_decode(fcgi_requests($dir, [['status.php', '']])[0]['body'], true);
check('nothing held before', $st['used'] === 0, $st);
foreach (['normal', 'fatal', 'exit', 'exception', 'memory', 'undefined'] as $how) {
    $rs = fcgi_requests($dir, array_fill(0, 3, ['leak.php', "how=$how"]));
    $held = count(array_filter($rs, fn($r) => str_starts_with($r['body'], 'held')));
    $st = json_decode(fcgi_requests($dir, [['status.php', '']])[0]['body'], true);
    printf("%-9s: %d of 3 took their leases, seats used after: %d\n", $how, $held, $st['used']);
}
$total = 0;
foreach (fcgi_requests($dir, array_fill(0, 8, ['status.php', ''])) as $r)
    $total = max($total, json_decode($r['body'], true)['shutdown_releases']);
check('RSHUTDOWN did the releasing', $total > 0, $total);

proc_terminate($master, 15);
proc_close($master);
$log = @file_get_contents("$dir/fpm.log") . @file_get_contents("$dir/fpm.out");
check('no child crashed', !preg_match('/SIGSEGV|SIGABRT|core dumped|exited on signal/', $log), $log);
?>
--EXPECT--
php-fpm and cgi-fcgi are installed: ok
the extension to load: ok
php-fpm listens: ok
every request: attaches == 1, pool from php.ini, no $PHANTOMPOOL in the environment: ok
several children served: ok
children served several requests each on one attachment: ok
requests served: 24
nothing held before: ok
normal   : 3 of 3 took their leases, seats used after: 0
fatal    : 3 of 3 took their leases, seats used after: 0
exit     : 3 of 3 took their leases, seats used after: 0
exception: 3 of 3 took their leases, seats used after: 0
memory   : 3 of 3 took their leases, seats used after: 0
undefined: 3 of 3 took their leases, seats used after: 0
RSHUTDOWN did the releasing: ok
no child crashed: ok
