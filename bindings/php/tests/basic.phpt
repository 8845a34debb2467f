--TEST--
Client: every PhantomDB route round-trips through a real pool
--EXTENSIONS--
phantompool
--FILE--
<?php
require __DIR__ . '/pp_test.inc';
use PhantomPool\Pool;

$pool = new Pool();                       /* $PHANTOMPOOL */
check('name from $PHANTOMPOOL', $pool->getName() === getenv('PHANTOMPOOL'));
$c = $pool->acquire();
check('slot index', $c->slot() >= 0);
var_dump($c->health());

$db = 'php_basic';
$r = $c->createDatabase($db);
check('createDatabase', $r['name'] === $db);
$r = $c->listDatabases();
check('listDatabases', in_array($db, array_column($r['databases'], 'name'), true));
check('getDatabase', $c->getDatabase($db)['name'] === $db);

$r = $c->createTable($db, 'items', [
    ['name' => 'id', 'type' => 'INTEGER', 'primaryKey' => true],
    ['name' => 'name', 'type' => 'TEXT'],
    ['name' => 'qty', 'type' => 'INTEGER', 'defaultValue' => 0],
]);
check('createTable', array_column($r['columns'], 'name') === ['id', 'name', 'qty']);
check('listTables', array_column($c->listTables($db)['tables'], 'name') === ['items']);
check('getTable', $c->getTable($db, 'items')['name'] === 'items');

/* Names and values that need escaping, and non-ASCII text. */
var_dump($c->insert($db, 'items', ['id' => 1, 'name' => 'a b/c?d&e=f', 'qty' => 5]));
var_dump($c->insertRows($db, 'items', [['id' => 2, 'name' => 'café'], ['id' => 3, 'name' => 'x']]));
var_dump($c->select($db, 'items', "name = 'a b/c?d&e=f'")['records']);
check('select all', count($c->select($db, 'items')['records']) === 3);
$r = $c->getRows($db, 'items', 'id >= 2', 'id DESC', 1, 0);
check('getRows where/orderBy/limit', $r['rows'] === [['id' => 3, 'name' => 'x', 'qty' => 0]], $r);
$r = $c->getRows($db, 'items', null, 'id', 0, 1);
check('getRows offset', array_column($r['rows'], 'id') === [2, 3], $r);
var_dump($c->update($db, 'items', ['qty' => 7], 'id = 2'));
var_dump($c->query($db, 'SELECT name, qty FROM items WHERE id = ?', [2]));
var_dump($c->delete($db, 'items', 'id = 3'));
check('count after delete', count($c->select($db, 'items')['records']) === 2);
/* INF and NAN have no JSON form: refused, not stored as 0. */
foreach (['NAN' => NAN, 'INF' => INF] as $label => $x) {
    expect_throw("insert $label", fn() => $c->insert($db, 'items', ['id' => 9, 'name' => $label, 'qty' => $x]));
    expect_throw("update to $label", fn() => $c->update($db, 'items', ['qty' => $x], 'id = 2'));
}
check('no NAN/INF row written', $c->select($db, 'items', 'id = 9')['records'] === [] &&
      $c->select($db, 'items', 'id = 2')['records'][0]['qty'] === 7);

$tx = $c->beginTransaction();
check('beginTransaction id', is_string($tx) && $tx !== '');
check('commitTransaction', $c->commitTransaction($tx)['status'] === 'committed');
$tx = $c->beginTransaction();
check('rollbackTransaction', $c->rollbackTransaction($tx)['status'] === 'rolled_back');

/* The raw request: status, headers and body untouched. */
$r = $c->request('GET', '/health', ['X-Request-Id' => 'php-raw-1']);
var_dump($r['status'], $r['contentType'], $r['requestId'], json_decode($r['body'], true));
$r = $c->request('POST', '/databases/' . $db . '/query', ['Content-Type' => 'application/json'],
                 json_encode(['query' => 'SELECT COUNT(*) AS n FROM items', 'parameters' => []]));
var_dump($r['status'], json_decode($r['body'], true)['rows']);
$r = $c->request('GET', '/databases/nope');
var_dump($r['status']);
/* Values held by reference (left by a foreach by reference, say) are
 * the strings they refer to. */
$hdrs = ['X-Request-Id' => 'php-ref-0'];
foreach ($hdrs as &$v)
    $v = 'php-ref-1';
unset($v);
$col = ['name' => 'id', 'type' => 'INTEGER'];
$cols = [$col];
foreach ($cols as &$cc)
    foreach ($cc as &$field)
        $field = (string)$field;
unset($cc, $field);
try {
    check('header by reference', $c->request('GET', '/health', $hdrs)['requestId'] === 'php-ref-1');
    check('column name by reference', $c->createTable($db, 'byref', $cols)['name'] === 'byref');
    $c->dropTable($db, 'byref');
} catch (PhantomPool\Exception $e) {
    check('by reference', false, $e->getMessage());
}

/* One-shot on the pool (pp_do). */
$r = $pool->request('GET', '/health');
var_dump($r['status']);

check('dropTable', $c->dropTable($db, 'items') === []);
check('dropDatabase', $c->dropDatabase($db) === []);

/* Names that are exactly "." or "..": sent as %2E / %2E%2E (the C
 * helpers' rule), so they name a database or table like any other. */
foreach (['.', '..'] as $dot) {
    try {
        $c->createDatabase($dot);
        $c->createTable($dot, $dot, [['name' => 'id', 'type' => 'INTEGER']]);
        $c->insert($dot, $dot, ['id' => 1]);
        $ok = $c->getDatabase($dot)['name'] === $dot && $c->getTable($dot, $dot)['name'] === $dot &&
              $c->select($dot, $dot)['records'] === [['id' => 1]] &&
              $c->dropTable($dot, $dot) === [] && $c->dropDatabase($dot) === [];
        check("name \"$dot\"", $ok);
    } catch (PhantomPool\Exception $e) {
        check("name \"$dot\"", false, $e->getMessage());
    }
}
$c->release();
check('released', $c->isReleased() && $c->slot() === -1);
?>
--EXPECT--
name from $PHANTOMPOOL: ok
slot index: ok
array(1) {
  ["status"]=>
  string(7) "healthy"
}
createDatabase: ok
listDatabases: ok
getDatabase: ok
createTable: ok
listTables: ok
getTable: ok
array(2) {
  ["inserted"]=>
  int(1)
  ["id"]=>
  int(1)
}
array(1) {
  ["inserted"]=>
  int(2)
}
array(1) {
  [0]=>
  array(3) {
    ["id"]=>
    int(1)
    ["name"]=>
    string(11) "a b/c?d&e=f"
    ["qty"]=>
    int(5)
  }
}
select all: ok
getRows where/orderBy/limit: ok
getRows offset: ok
array(1) {
  ["updated"]=>
  int(1)
}
array(4) {
  ["columns"]=>
  array(2) {
    [0]=>
    string(4) "name"
    [1]=>
    string(3) "qty"
  }
  ["rows"]=>
  array(1) {
    [0]=>
    array(2) {
      [0]=>
      string(5) "café"
      [1]=>
      int(7)
    }
  }
  ["rowCount"]=>
  int(1)
  ["affectedRows"]=>
  int(0)
}
array(1) {
  ["deleted"]=>
  int(1)
}
count after delete: ok
insert NAN: PhantomPool\Exception -1 PP_EINVAL
update to NAN: PhantomPool\Exception -1 PP_EINVAL
insert INF: PhantomPool\Exception -1 PP_EINVAL
update to INF: PhantomPool\Exception -1 PP_EINVAL
no NAN/INF row written: ok
beginTransaction id: ok
commitTransaction: ok
rollbackTransaction: ok
int(200)
string(16) "application/json"
string(9) "php-raw-1"
array(1) {
  ["status"]=>
  string(7) "healthy"
}
int(200)
array(1) {
  [0]=>
  array(1) {
    [0]=>
    int(2)
  }
}
int(404)
header by reference: ok
column name by reference: ok
int(200)
dropTable: ok
dropDatabase: ok
name ".": ok
name "..": ok
released: ok
