<?php
/* app_curl.php - examples/php/app.php's twin without the pool, the usual
 * way for PHP: PHP's curl extension, a new handle (so a new connection to
 * PhantomDB at $PHANTOMDB_URL) per web request.  Same route and answer
 * ({"n":N,...,"slot":-1,"db":...}); the database "demo" must exist
 * (tests/deploy/bench creates it).  Used by make bench-deploy only. */
$n = filter_var($_GET['n'] ?? null, FILTER_VALIDATE_INT);
$n = is_int($n) ? $n : 0;
$base = getenv('PHANTOMDB_URL') ?: 'http://127.0.0.1:8080';
$c = curl_init("$base/databases/demo/query");
curl_setopt_array($c, [CURLOPT_POST => true, CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT_MS => 30000,
                       CURLOPT_HTTPHEADER => ['Content-Type: application/json'],
                       CURLOPT_POSTFIELDS => json_encode(['query' => 'SELECT ? AS n', 'parameters' => [$n]])]);
$body = curl_exec($c);
$code = curl_getinfo($c, CURLINFO_RESPONSE_CODE);
$err = curl_error($c);
curl_close($c);
header('Content-Type: application/json');
if ($body !== false && intdiv($code, 100) === 2) {
    preg_match('/^Uid:\s+(\d+)/m', $s = (string)file_get_contents('/proc/self/status'), $u);
    preg_match('/^Gid:\s+(\d+)/m', $s, $g);
    printf("{\"n\":%d,\"pid\":%d,\"uid\":%d,\"gid\":%d,\"slot\":-1,\"db\":%s}\n", $n, getmypid(), $u[1], $g[1], $body);
} else {
    http_response_code(502);
    echo json_encode(['error' => $err ?: 'PhantomDB error', 'status' => $code]), "\n";
}
