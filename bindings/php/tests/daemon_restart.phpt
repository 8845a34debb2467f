--TEST--
A dead daemon is a clear PP_EDAEMON; after a restart the same Pool works again, without a new attach
--EXTENSIONS--
phantompool
--FILE--
<?php
require __DIR__ . '/pp_test.inc';
use PhantomPool\Pool;

$pid = (int)getenv('PP_WITH_POOL_DAEMON_PID');
$restart = getenv('PP_WITH_POOL_DAEMON_CMD');
check('with-pool gave the daemon', $pid > 0 && $restart !== false);

$pool = new Pool();
$c = $pool->acquire();
check('works before', $c->health()['status'] === 'healthy');

/* The daemon dies (SIGKILL: no clean exit, the segment is left behind). */
$daemon = $pool->getStatus()['daemon_pid'];
exec('kill -KILL ' . (int)$daemon, $out, $rc);
check('killed', $rc === 0);

$t = hrtime(true);
$e = null;
while ((hrtime(true) - $t) < 5e9) {
    try {
        $c->health();
    } catch (PhantomPool\Exception $e) {
        break;
    }
    usleep(20000);
}
$ms = (hrtime(true) - $t) / 1e6;
check('request fails with PP_EDAEMON', $e && $e->getCode() === PhantomPool\Exception::EDAEMON, $e ? $e->getMessage() : null);
check('within about a second', $ms < 3000, $ms);
echo $e->getMessage(), "\n";
$e = expect_throw('acquire with no daemon', fn() => $pool->acquire(200));
$c = null;                              /* release a lease of a dead daemon: nothing thrown */

/* A new daemon for the same pool name. */
exec('(' . $restart . ') >/dev/null 2>&1 &', $out, $rc);
$ok = false;
$t = hrtime(true);
while (!$ok && (hrtime(true) - $t) < 10e9) {
    try {
        $ok = $pool->acquire(500)->health()['status'] === 'healthy';
    } catch (PhantomPool\Exception $e) {
        usleep(50000);
    }
}
check('the same Pool works after the restart', $ok);
$st = $pool->getStatus();
check('a new daemon serves it', $st['daemon_pid'] !== $daemon && $st['daemon_pid'] > 0, $st);
$s = Pool::processStats();
check('still one attach (the library re-attached)', $s['attaches'] === 1, $s);
?>
--EXPECTF--
with-pool gave the daemon: ok
works before: ok
killed: ok
request fails with PP_EDAEMON: ok
within about a second: ok
PhantomPool\Client::health: PP_EDAEMON (-6): %s
acquire with no daemon: PhantomPool\Exception -6 PP_EDAEMON
the same Pool works after the restart: ok
a new daemon serves it: ok
still one attach (the library re-attached): ok
