--TEST--
The ABI check at load: a library whose structs or version differ from the header stops PHP's startup; a longer pp_pool_status is accepted
--EXTENSIONS--
phantompool
--FILE--
<?php
require __DIR__ . '/pp_test.inc';

/* A stand-in libphantompool.so.1 (found first through LD_LIBRARY_PATH)
 * that loads a copy of the real library for every other call and makes
 * pp_abi_size() and pp_version() report what $PP_FAKE says: the library
 * as a newer or mismatched build would be.  (LD_PRELOAD would not do:
 * PHP loads extensions with RTLD_DEEPBIND.) */
$dir = sys_get_temp_dir() . '/pp-php-abi-' . getmypid();
@mkdir($dir);
copy(getenv('PP_BUILD') . '/libphantompool.so.1', "$dir/libphantompool-real.so");
file_put_contents("$dir/shim.map", "PHANTOMPOOL_1 { global: pp_abi_size; pp_version; local: *; };\n");
file_put_contents("$dir/shim.c", <<<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
/* The real library, loaded into the global scope, where the extension's
 * other pp_* calls find it (they bind lazily, at first call). */
static void *real_lib;
__attribute__((constructor)) static void load_real(void)
{
	real_lib = dlopen(getenv("PP_REAL_LIB"), RTLD_NOW | RTLD_GLOBAL);
}
static void *real(const char *name)
{
	void *f = real_lib ? dlsym(real_lib, name) : NULL;
	if (!f)
		abort();
	return f;
}
static const char *fake(void) { const char *f = getenv("PP_FAKE"); return f ? f : ""; }
size_t pp_abi_size(int which)
{
	size_t n = ((size_t (*)(int))real("pp_abi_size"))(which);
	if (which == 1 && !strcmp(fake(), "req_bigger")) return n + 8;
	if (which == 2 && !strcmp(fake(), "resp_smaller")) return n - 8;
	if (which == 4 && !strcmp(fake(), "status_bigger")) return n + 64;
	if (which == 4 && !strcmp(fake(), "status_smaller")) return n - 8;
	return n;
}
int pp_version(void)
{
	int v = ((int (*)(void))real("pp_version"))();
	if (!strcmp(fake(), "major_up")) return v + 10000;
	if (!strcmp(fake(), "older")) return v - 1;
	return v;
}
C);
exec("cc -shared -fPIC -Wl,-soname,libphantompool.so.1 -Wl,--version-script=$dir/shim.map " .
     "-o $dir/libphantompool.so.1 $dir/shim.c -ldl 2>&1",
     $out, $rc);
check('shim built', $rc === 0, $out);

$ext = rtrim(ini_get('extension_dir'), '/') . '/phantompool.so';
$code = '$s = (new PhantomPool\Pool())->getStatus();
         echo "loaded, getStatus: used=", $s["used"], " max=", $s["max"], "\n";';
foreach (['none', 'req_bigger', 'resp_smaller', 'status_smaller', 'status_bigger', 'major_up', 'older'] as $fake) {
    $cmd = 'PP_FAKE=' . $fake . ' LD_LIBRARY_PATH=' . escapeshellarg($dir) .
           ' PP_REAL_LIB=' . escapeshellarg("$dir/libphantompool-real.so") . ' ' .
           escapeshellarg(PHP_BINARY) . ' -n -d display_startup_errors=1 -d extension=' .
           escapeshellarg($ext) . ' -r ' . escapeshellarg($code) . ' 2>&1';
    $lines = [];
    exec($cmd, $lines);
    $text = implode(' | ', array_filter(array_map('trim', $lines)));
    echo str_pad($fake, 15), ': ', preg_replace('/ in Unknown on line \d+/', '', $text), "\n";
}
array_map('unlink', glob("$dir/*"));
rmdir($dir);
?>
--EXPECTF--
shim built: ok
none           : loaded, getStatus: used=0 max=8
req_bigger     : Warning: PHP Startup: phantompool: libphantompool's pp_req is %d bytes, this extension was built for %d; rebuild the extension against the installed phantompool.h; refusing to load | Fatal error: Unable to start phantompool module
resp_smaller   : Warning: PHP Startup: phantompool: libphantompool's pp_resp is %d bytes, this extension was built for %d; rebuild the extension against the installed phantompool.h; refusing to load | Fatal error: Unable to start phantompool module
status_smaller : Warning: PHP Startup: phantompool: libphantompool's pp_pool_status is %d bytes, this extension was built for %d; rebuild the extension against the installed phantompool.h; refusing to load | Fatal error: Unable to start phantompool module
status_bigger  : loaded, getStatus: used=0 max=8
major_up       : Warning: PHP Startup: phantompool: libphantompool version %d loaded, this extension needs 0.1 or later of the same major version; refusing to load | Fatal error: Unable to start phantompool module
older          : Warning: PHP Startup: phantompool: libphantompool version %d loaded, this extension needs 0.1 or later of the same major version; refusing to load | Fatal error: Unable to start phantompool module
