--TEST--
phantompool.stub.php and the extension's classes agree (methods, parameters, types, defaults)
--EXTENSIONS--
phantompool
--FILE--
<?php
/* The stub, loaded under another namespace, must declare exactly what the
 * extension registers (client_arginfo.h and pool_arginfo.h are written by
 * hand: this test keeps them honest). */
$stub = file_get_contents(__DIR__ . '/../phantompool.stub.php');
$stub = str_replace('namespace PhantomPool {', 'namespace PhantomPoolStub {', $stub);
eval('?>' . $stub);

function signature(ReflectionMethod $m): string
{
    $ps = [];
    foreach ($m->getParameters() as $p) {
        $s = ($p->hasType() ? $p->getType() . ' ' : '') . '$' . $p->getName();
        if ($p->isDefaultValueAvailable())
            $s .= ' = ' . var_export($p->getDefaultValue(), true);
        $ps[] = $s;
    }
    $ret = $m->hasReturnType() ? ': ' . $m->getReturnType() : '';
    $mods = implode(' ', Reflection::getModifierNames($m->getModifiers()));
    return str_replace('PhantomPoolStub\\', 'PhantomPool\\', "$mods {$m->getName()}(" . implode(', ', $ps) . ")$ret");
}

$diffs = 0;
foreach (['Pool', 'Client', 'Exception', 'TimeoutException', 'HttpException'] as $class) {
    $ext = new ReflectionClass("PhantomPool\\$class");
    $doc = new ReflectionClass("PhantomPoolStub\\$class");
    $own = fn(ReflectionClass $c) => array_filter($c->getMethods(), fn($m) => !$m->getDeclaringClass()->isInternal()
        || str_starts_with($m->getDeclaringClass()->getName(), 'PhantomPool'));
    $a = array_map('signature', $own($ext));
    $b = array_map('signature', $own($doc));
    sort($a);
    sort($b);
    foreach (array_diff($a, $b) as $s) { echo "$class: extension only: $s\n"; $diffs++; }
    foreach (array_diff($b, $a) as $s) { echo "$class: stub only: $s\n"; $diffs++; }
    if ($ext->isFinal() !== $doc->isFinal()) { echo "$class: final differs\n"; $diffs++; }
    $pe = get_parent_class("PhantomPool\\$class");
    $pd = str_replace('PhantomPoolStub\\', 'PhantomPool\\', (string)get_parent_class("PhantomPoolStub\\$class"));
    if ((string)$pe !== $pd) { echo "$class: parent $pe vs $pd\n"; $diffs++; }
    printf("%s: %d methods\n", $class, count($a));
}
echo "differences: $diffs\n";
var_dump(PhantomPool\VERSION === phpversion('phantompool'), is_int(PhantomPool\LIBRARY_VERSION));
?>
--EXPECT--
Pool: 7 methods
Client: 23 methods
Exception: 1 methods
TimeoutException: 1 methods
HttpException: 4 methods
differences: 0
bool(true)
bool(true)
