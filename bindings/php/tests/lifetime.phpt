--TEST--
Leases: released by release(), Pool::release(), going out of scope; one attach per process; fork
--EXTENSIONS--
phantompool
pcntl
--FILE--
<?php
require __DIR__ . '/pp_test.inc';
use PhantomPool\Pool;

$pool = new Pool();
$used = fn() => $pool->getStatus()['used'];
check('nothing held', $used() === 0, $used());
$st = $pool->getStatus();
check('connections apart from seats', $st['conns_max'] >= 2 && $st['conns_open'] >= 1 && $st['conns_open'] <= $st['conns_max'] && $st['queued'] === 0);

$a = $pool->acquire();
$b = $pool->acquire();
check('two held', $used() === 2 && $a->slot() !== $b->slot());
$a->release();
check('release()', $used() === 1);
$pool->release($b);
check('Pool::release()', $used() === 0);

function use_in_function(Pool $p): int
{
    $c = $p->acquire();
    $c->health();
    return $p->getStatus()['used'];
}
check('held inside the function', use_in_function($pool) === 1);
check('released when the function returned', $used() === 0);

$c = $pool->acquire();
$c = null;
check('released when overwritten', $used() === 0);
$pool->acquire()->health();          /* a temporary */
check('released as a temporary', $used() === 0);

/* A cycle keeps the Client alive until the collector frees it. */
$o = new stdClass;
$o->self = $o;
$o->client = $pool->acquire();
unset($o);
check('a cycle holds it', $used() === 1);
gc_collect_cycles();
check('freed by gc_collect_cycles', $used() === 0);

/* Every Pool of the name in this process shares one attachment. */
for ($i = 0; $i < 50; $i++)
    (new Pool(getenv('PHANTOMPOOL')))->acquire()->health();
$s = Pool::processStats();
check('one attach for 51 Pool objects', $s['attaches'] === 1 && $s['pools'] === [getenv('PHANTOMPOOL')], $s);
check('pid', $s['pid'] === getmypid());

/* A forked child uses the parent's attachment (no attach of its own); a
 * lease held by the parent at the fork stays the parent's. */
$held = $pool->acquire();
$before = $pool->getStatus()['leases'];
$pid = pcntl_fork();
if ($pid === 0) {
    $r = [];
    $c = $pool->acquire(1000);
    $r['health'] = $c->health()['status'];
    $c->release();
    try {
        $held->health();
        $r['inherited'] = 'usable';
    } catch (PhantomPool\Exception $e) {
        $r['inherited'] = $e->getErrorName();
    }
    $s = Pool::processStats();
    $r['attaches'] = $s['attaches'];
    echo 'child: ', json_encode($r), "\n";
    exit(0);
}
pcntl_waitpid($pid, $status);
check('child exited 0', pcntl_wexitstatus($status) === 0, $status);
check('parent still holds its lease', $held->health()['status'] === 'healthy' && $used() === 1, $used());
check('the child leased one seat', $pool->getStatus()['leases'] === $before + 1);
$held->release();
check('nothing held at the end', $used() === 0);
?>
--EXPECT--
nothing held: ok
connections apart from seats: ok
two held: ok
release(): ok
Pool::release(): ok
held inside the function: ok
released when the function returned: ok
released when overwritten: ok
released as a temporary: ok
a cycle holds it: ok
freed by gc_collect_cycles: ok
one attach for 51 Pool objects: ok
pid: ok
child: {"health":"healthy","inherited":"PP_ENOTOWNER","attaches":0}
child exited 0: ok
parent still holds its lease: ok
the child leased one seat: ok
nothing held at the end: ok
