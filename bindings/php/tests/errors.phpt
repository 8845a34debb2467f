--TEST--
Exceptions carry the PP_E* code and text; a lease timeout is a TimeoutException
--EXTENSIONS--
phantompool
--FILE--
<?php
require __DIR__ . '/pp_test.inc';
use PhantomPool\{Pool, Client, Exception, TimeoutException, HttpException};

check('class constants', Exception::EINVAL === -1 && Exception::EDAEMON === -6 &&
      Exception::ETIMEDOUT === -7 && Exception::ENOLIB === -22);
check('hierarchy', is_subclass_of(TimeoutException::class, Exception::class) &&
      is_subclass_of(HttpException::class, Exception::class) &&
      is_subclass_of(Exception::class, RuntimeException::class));

/* Pools that cannot be attached. */
$e = expect_throw('bad name', fn() => new Pool('no/slash'));
echo $e->getMessage(), "\n";
expect_throw('name with NUL', fn() => new Pool("a\0b"));
$e = expect_throw('no such pool', fn() => new Pool('php-no-such-pool-' . getmypid()));
echo $e->getMessage(), "\n";
$s = Pool::processStats();
check('failed attaches counted', $s['attaches'] === 0 && $s['attach_failures'] === 2, $s);

$pool = new Pool();
$c = $pool->acquire();

/* Requests the library refuses before sending anything. */
expect_throw('path without /', fn() => $c->request('GET', 'health'));
expect_throw('path with space', fn() => $c->request('GET', '/a b'));
expect_throw('path with NUL', fn() => $c->request('GET', "/health\0x"));
expect_throw('bad method', fn() => $c->request('GE T', '/health'));
expect_throw('method with NUL', fn() => $c->request("GET\0", '/health'));
expect_throw('header name with NUL', fn() => $c->request('GET', '/health', ["Accept\0" => '*/*']));
expect_throw('header value with NUL', fn() => $c->request('GET', '/health', ['Accept' => "*/*\0x"]));
expect_throw('Pool::request path with NUL', fn() => $pool->request('GET', "/health\0x"));
expect_throw('forbidden header', fn() => $c->request('GET', '/health', ['Authorization' => 'Bearer x']));
expect_throw('header list', fn() => $c->request('GET', '/health', ['Accept: */*']));
expect_throw('negative timeout', fn() => $c->request('GET', '/health', null, null, -1));
check('lease still usable', $c->health()['status'] === 'healthy');

/* Arguments the typed methods refuse (PP_EINVAL, nothing sent). */
expect_throw('empty db', fn() => $c->getDatabase(''));
expect_throw('empty table', fn() => $c->createTable('d', '', [['name' => 'id']]));
expect_throw('column without name', fn() => $c->createTable('d', 't', [['type' => 'TEXT']]));
expect_throw('no columns', fn() => $c->createTable('d', 't', []));
expect_throw('row as list', fn() => $c->insert('d', 't', [1, 2]));
expect_throw('rows not a list', fn() => $c->insertRows('d', 't', ['a' => ['id' => 1]]));
expect_throw('update without condition', fn() => $c->update('d', 't', ['a' => 1], ''));
expect_throw('delete without condition', fn() => $c->delete('d', 't', ''));
expect_throw('params not a list', fn() => $c->query('d', 'SELECT 1', ['a' => 1]));
expect_throw('negative limit', fn() => $c->getRows('d', 't', null, null, -1));
$e = expect_throw('invalid UTF-8', fn() => $c->insert('d', 't', ['name' => "\xff"]));
echo $e->getMessage(), "\n";
$e = expect_throw('NAN', fn() => $c->insert('d', 't', ['x' => NAN]));
echo $e->getMessage(), "\n";
$loop = ['a' => 1];
$loop['self'] = &$loop;
$e = expect_throw('recursive row', fn() => $c->insert('d', 't', $loop));
echo $e->getMessage(), "\n";
expect_throw('wrong PHP type', fn() => $c->insert('d', 't', 'not an array'));

/* PhantomDB's own errors. */
$e = expect_throw('404', fn() => $c->getDatabase('php_errors_none'));
var_dump($e->getStatus(), $e->getError()['code']);
echo $e->getMessage(), "\n";
$c->createDatabase('php_errors');
$e = expect_throw('409', fn() => $c->createDatabase('php_errors'));
$c->dropDatabase('php_errors');

/* User code the JSON encoder runs (JsonSerializable) during a call: its
 * exception goes on as it is; a release there is PP_ERELEASED. */
class ThrowsInJson implements JsonSerializable {
    function jsonSerialize(): mixed { throw new LogicException('from jsonSerialize'); }
}
class ReleasesInJson implements JsonSerializable {
    function __construct(private PhantomPool\Client $c) {}
    function jsonSerialize(): mixed { $this->c->release(); return 1; }
}
$e = expect_throw('jsonSerialize throws', fn() => $c->insert('d', 't', ['a' => new ThrowsInJson()]));
check('its own exception, unwrapped', $e->getMessage() === 'from jsonSerialize' && $e->getPrevious() === null);
$c2 = $pool->acquire();
$e = expect_throw('jsonSerialize releases', fn() => $c2->insert('d', 't', ['a' => new ReleasesInJson($c2)]));
echo $e->getMessage(), "\n";
unset($c2);

/* A released lease. */
$c->release();
expect_throw('use after release', fn() => $c->health());
$e = expect_throw('double release', fn() => $c->release());
echo $e->getMessage(), "\n";
expect_throw('Pool::release twice', fn() => $pool->release($c));

/* Client objects come from acquire() only. */
expect_throw('new Client', fn() => new Client());
$c = $pool->acquire();
expect_throw('clone', fn() => clone $c);
expect_throw('serialize', fn() => serialize($c));
unset($c);

/* Every seat taken: acquire waits its timeout, then TimeoutException. */
$held = [];
$n = $pool->getStatus()['available'];
for ($i = 0; $i < $n; $i++)
    $held[] = $pool->acquire(1000);
check('all seats taken', $pool->getStatus()['available'] === 0);
$t = hrtime(true);
$e = expect_throw('acquire timeout', fn() => $pool->acquire(150));
$ms = (hrtime(true) - $t) / 1e6;
check('waited the timeout', $ms >= 140 && $ms < 2000, $ms);
echo $e->getMessage(), "\n";
expect_throw('acquire(0) does not wait', fn() => $pool->acquire(0));
ini_set('phantompool.acquire_timeout_ms', '50');
$t = hrtime(true);
expect_throw('php.ini acquire timeout', fn() => $pool->acquire());
$ms = (hrtime(true) - $t) / 1e6;
check('waited the php.ini timeout', $ms >= 45 && $ms < 1500, $ms);
array_pop($held);                    /* frees one seat */
check('acquire after a release', $pool->acquire(0) instanceof Client);
?>
--EXPECTF--
class constants: ok
hierarchy: ok
bad name: PhantomPool\Exception -21 PP_ENAME
PhantomPool\Pool::__construct: PP_ENAME (-21): %s: pool "no/slash"; pool name "no/slash" (given by the caller) is not 1..40 characters of [A-Za-z0-9._-]
name with NUL: PhantomPool\Exception -21 PP_ENAME
no such pool: PhantomPool\Exception -2 PP_ENOPOOL
PhantomPool\Pool::__construct: PP_ENOPOOL (-2): %s: pool "php-no-such-pool-%d"; pool "php-no-such-pool-%d" (given by the caller): no segment /dev/shm/phantompool-php-no-such-pool-%d. Is phantompoold running for this pool? %s: pass the pool name explicitly
failed attaches counted: ok
path without /: PhantomPool\Exception -15 PP_EBADPATH
path with space: PhantomPool\Exception -15 PP_EBADPATH
path with NUL: PhantomPool\Exception -15 PP_EBADPATH
bad method: PhantomPool\Exception -19 PP_EBADMETHOD
method with NUL: PhantomPool\Exception -19 PP_EBADMETHOD
header name with NUL: PhantomPool\Exception -16 PP_EBADHEADER
header value with NUL: PhantomPool\Exception -16 PP_EBADHEADER
Pool::request path with NUL: PhantomPool\Exception -15 PP_EBADPATH
forbidden header: PhantomPool\Exception -16 PP_EBADHEADER
header list: PhantomPool\Exception -16 PP_EBADHEADER
negative timeout: PhantomPool\Exception -1 PP_EINVAL
lease still usable: ok
empty db: PhantomPool\Exception -1 PP_EINVAL
empty table: PhantomPool\Exception -1 PP_EINVAL
column without name: PhantomPool\Exception -1 PP_EINVAL
no columns: PhantomPool\Exception -1 PP_EINVAL
row as list: PhantomPool\Exception -1 PP_EINVAL
rows not a list: PhantomPool\Exception -1 PP_EINVAL
update without condition: PhantomPool\Exception -1 PP_EINVAL
delete without condition: PhantomPool\Exception -1 PP_EINVAL
params not a list: PhantomPool\Exception -1 PP_EINVAL
negative limit: PhantomPool\Exception -1 PP_EINVAL
invalid UTF-8: PhantomPool\Exception -1 PP_EINVAL
PhantomPool\Client::insert: PP_EINVAL (-1): %s: the body cannot be encoded as JSON: a string is not UTF-8
NAN: PhantomPool\Exception -1 PP_EINVAL
PhantomPool\Client::insert: PP_EINVAL (-1): %s: the body cannot be encoded as JSON: INF or NAN
recursive row: PhantomPool\Exception -1 PP_EINVAL
PhantomPool\Client::insert: PP_EINVAL (-1): %s: the body cannot be encoded as JSON: it contains itself
wrong PHP type: TypeError 0
404: PhantomPool\HttpException 404 NOT_FOUND
int(404)
string(9) "NOT_FOUND"
PhantomPool\Client::getDatabase: PhantomDB answered 404 NOT_FOUND: database 'php_errors_none' not found
409: PhantomPool\HttpException 409 %s
jsonSerialize throws: LogicException 0
its own exception, unwrapped: ok
jsonSerialize releases: PhantomPool\Exception -8 PP_ERELEASED
PhantomPool\Client::insert: PP_ERELEASED (-8): %s: this Client's lease was released
use after release: PhantomPool\Exception -8 PP_ERELEASED
double release: PhantomPool\Exception -8 PP_ERELEASED
PhantomPool\Client::release: PP_ERELEASED (-8): %s
Pool::release twice: PhantomPool\Exception -8 PP_ERELEASED
new Client: Error 0
clone: Error 0
serialize: Exception 0
all seats taken: ok
acquire timeout: PhantomPool\TimeoutException -7 PP_ETIMEDOUT
waited the timeout: ok
PhantomPool\Pool::acquire: PP_ETIMEDOUT (-7): %s
acquire(0) does not wait: PhantomPool\TimeoutException -7 PP_ETIMEDOUT
php.ini acquire timeout: PhantomPool\TimeoutException -7 PP_ETIMEDOUT
waited the php.ini timeout: ok
acquire after a release: ok
