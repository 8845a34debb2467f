# tests/deploy/lib.sh - start and stop one web server stack in front of the
# pool tests/with-pool started (sourced by tests/deploy/stack and
# tests/deploy/bench; bash).
#
#   stack_start STACK [pool|curl [CODE]]
#                                   STACK: nginx-fcgi, lighttpd-fcgi,
#                                   lighttpd-cgi, apache-mod, apache-cgi,
#                                   gunicorn, gunicorn-preload, php-fpm,
#                                   apache-mod-php
#   stack_stop
#
# Every server gets its own config file, rendered from the template in
# docs/deploy/ (the guides show these same files) into a temp dir $T, and
# listens on a free 127.0.0.1 port; nothing of the system's configuration
# is read.  "curl" swaps the example for its libcurl twin (bench/deploy/)
# for the benchmarks (for gunicorn: http.client keep-alive per worker; for
# PHP-FPM: PHP curl per request).  Sets URL (the application's URL,
# without query) and ERROR_LOGS (the files the guide names as the server's
# error log, where a worker that cannot attach says why) and waits until it answers CODE (200; 503 while no daemon
# serves the pool); for the stacks with an application server behind nginx
# (gunicorn, PHP-FPM) also APP_MASTER (its master's pid) and
# ATTACH_IN_MASTER (yes: the master attaches and its children inherit the
# handle; no: each child attaches itself).

SRC=${PP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DOCS=$SRC/docs/deploy
B=${PP_BUILD:?PP_BUILD unset (run under tests/with-pool)}
WORKERS=${DEPLOY_WORKERS:-8}
SERVER_PID= SPAWN_PIDS= APP_PID= T= ERROR_LOGS=
APP_MASTER= ATTACH_IN_MASTER=
PHP_FPM=${PP_PHP_FPM:-/usr/sbin/php-fpm8.2}
# The servers start without the $PHANTOMPOOL tests/with-pool exports, as
# from systemd: the pool's name reaches the workers only through the
# setting each guide shows (a worker that inherited it would pass the
# test without that setting).
NOPOOL="env -u PHANTOMPOOL"

fail() { echo "FAIL: $*" >&2; [ -n "$T" ] && for f in "$T"/*.log "$T"/run/*.log; do [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done >&2; exit 1; }

# A TCP port nothing listens on (from a random start, by probing), below
# the kernel's ephemeral range, where no outgoing connection can hold it.
free_port() {
	local lo=32768 p i
	read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range
	[ "$lo" -gt 12000 ] || lo=32768
	p=$((10000 + RANDOM % (lo - 11000)))
	for i in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
		p=$((p + 1))
	done
	fail "no free port"
}

# render TEMPLATE OUT: replace the @NAME@ placeholders.
render() {
	sed -e "s|@ROOT@|$T|g" -e "s|@PORT@|$PORT|g" -e "s|@FCGI_PORT@|$FCGI_PORT|g" \
	    -e "s|@POOL@|$PHANTOMPOOL|g" -e "s|@WORKERS@|$WORKERS|g" -e "s|@HALF@|$((WORKERS / 2))|g" -e "s|@FCGI_BIN@|$FCGI_BIN|g" \
	    -e "s|@MODULE@|$B/examples/apache/mod_phantompool.so|g" -e "s|@APP_PORT@|$FCGI_PORT|g" \
	    -e "s|@APP_DIR@|$T/app|g" -e "s|@PY_DIR@|$SRC/bindings/python|g" \
	    -e "s|@PHP_EXT@|$(cd "$B" && pwd)/php-ext/modules/phantompool.so|g" \
	    -e "s|@LIBRARY@|$(cd "$B" && pwd)/libphantompool.so.1|g" "$DOCS/$1" > "$2" || fail "cannot render $DOCS/$1"
	grep -q '@[A-Z_]*@' "$2" && fail "unrendered placeholder in $2"
	return 0
}

# wait_up URL [CODE]: until it answers CODE, 200 unless given (20 s:
# gunicorn boots its workers).
wait_up() {
	local i want=${2:-200}
	for i in $(seq 200); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = "$want" ] && return 0
		[ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null && fail "the server exited"
		[ -n "$APP_PID" ] && ! kill -0 "$APP_PID" 2>/dev/null && fail "the application server exited"
		sleep 0.1
	done
	fail "$1 did not answer $want within 20 s"
}

stack_start() {
	local stack=$1 way=${2:-pool} up=${3:-200}
	[ "$(id -u)" = 0 ] || fail "the deploy tests start servers that switch to www-data: run them as root"
	T=$(mktemp -d /tmp/pp-deploy.XXXXXX)
	chmod 755 "$T"		# www-data reads the CGI programs and configs here
	mkdir -p "$T/htdocs" "$T/cgi-bin" "$T/run" "$T/app"	# no nginx-tmp: the guides do not ask for one
	chown www-data:www-data "$T/run"	# lighttpd (as www-data) writes its log and socket there
	PORT=$(free_port) FCGI_PORT=$(free_port)
	FCGI_BIN=$B/examples/fastcgi/pp_fcgi
	local cgi=$B/examples/cgi/pp_cgi
	if [ "$way" = curl ]; then FCGI_BIN=$B/bench/deploy/fcgi_curl cgi=$B/bench/deploy/cgi_curl; fi
	cp "$cgi" "$T/cgi-bin/app"
	case $stack in
	nginx-fcgi)
		render spawn-fcgi.sh.in "$T/spawn-fcgi.sh"
		$NOPOOL sh "$T/spawn-fcgi.sh" >"$T/spawn-fcgi.log" 2>&1 || fail "spawn-fcgi failed"
		SPAWN_PIDS=$(cat "$T/spawn-fcgi.pid")
		render nginx-spawn-fcgi.conf.in "$T/nginx.conf"
		$NOPOOL setsid nginx -c "$T/nginx.conf" -p "$T" >"$T/nginx-out.log" 2>&1 &
		URL=http://127.0.0.1:$PORT/app ERROR_LOGS=$T/nginx-error.log ;;
	lighttpd-fcgi | lighttpd-cgi)
		render "$stack.conf.in" "$T/lighttpd.conf"
		[ "$way" = curl ] && echo "setenv.add-environment += ( \"PHANTOMDB_URL\" => \"$PHANTOMDB_URL\" )" >> "$T/lighttpd.conf"
		$NOPOOL setsid lighttpd -D -f "$T/lighttpd.conf" >"$T/lighttpd-out.log" 2>&1 &
		URL=http://127.0.0.1:$PORT/$([ "$stack" = lighttpd-cgi ] && echo cgi-bin/)app
		ERROR_LOGS="$T/run/lighttpd-error.log $T/run/lighttpd-breakage.log" ;;
	apache-mod | apache-cgi)
		render apache-prefork.conf.in "$T/apache2.conf"
		[ "$way" = curl ] && printf '<Directory %s/cgi-bin>\n    SetEnv PHANTOMDB_URL %s\n</Directory>\n' "$T" "$PHANTOMDB_URL" >> "$T/apache2.conf"
		$NOPOOL setsid apache2 -f "$T/apache2.conf" -DFOREGROUND >"$T/apache2-out.log" 2>&1 &
		URL=http://127.0.0.1:$PORT/$([ "$stack" = apache-cgi ] && echo cgi-bin/)app ERROR_LOGS=$T/apache2-error.log ;;
	gunicorn | gunicorn-preload)
		# the app under its own name in $T/app (the twin under the same name)
		if [ "$way" = curl ]; then cp "$SRC/bench/deploy/ppapp_httpclient.py" "$T/app/ppapp.py"
		else cp "$SRC/examples/gunicorn/ppapp.py" "$T/app/ppapp.py"; fi
		render gunicorn.conf.py.in "$T/gunicorn.conf.py"
		[ "$way" = curl ] && echo "raw_env.append(\"PHANTOMDB_URL=$PHANTOMDB_URL\")" >> "$T/gunicorn.conf.py"
		local preload=
		ATTACH_IN_MASTER=no
		[ "$stack" = gunicorn-preload ] && preload=--preload ATTACH_IN_MASTER=yes
		# no bytecode written into the source tree by the (root) master
		PYTHONDONTWRITEBYTECODE=1 $NOPOOL setsid gunicorn -c "$T/gunicorn.conf.py" $preload ppapp:app >"$T/gunicorn-out.log" 2>&1 &
		APP_PID=$! APP_MASTER=$!
		render nginx-gunicorn.conf.in "$T/nginx.conf"
		$NOPOOL setsid nginx -c "$T/nginx.conf" -p "$T" >"$T/nginx-out.log" 2>&1 &
		URL=http://127.0.0.1:$PORT/app ERROR_LOGS=$T/gunicorn-error.log ;;
	php-fpm)
		local ext=$B/php-ext/modules/phantompool.so
		[ -f "$ext" ] || fail "no PHP extension $ext (make php-ext)"
		if [ "$way" = curl ]; then cp "$SRC/bench/deploy/app_curl.php" "$T/htdocs/app.php"
		else cp "$SRC/examples/php/app.php" "$T/htdocs/app.php"; fi
		render php-fpm.conf.in "$T/php-fpm.conf"
		[ "$way" = curl ] && echo "env[PHANTOMDB_URL] = $PHANTOMDB_URL" >> "$T/php-fpm.conf"
		# -n: no system php.ini; the extensions a php.ini would load
		$NOPOOL setsid "$PHP_FPM" -n -d "extension=$ext" $([ "$way" = curl ] && echo -d extension=curl) \
			-y "$T/php-fpm.conf" -F >"$T/php-fpm-out.log" 2>&1 &
		APP_PID=$! APP_MASTER=$! ATTACH_IN_MASTER=no
		render nginx-php-fpm.conf.in "$T/nginx.conf"
		$NOPOOL setsid nginx -c "$T/nginx.conf" -p "$T" >"$T/nginx-out.log" 2>&1 &
		URL=http://127.0.0.1:$PORT/app ERROR_LOGS="$T/php-fpm-error.log $T/nginx-error.log" ;;
	apache-mod-php)
		[ -f "$B/php-ext/modules/phantompool.so" ] || fail "no PHP extension in $B/php-ext (make php-ext)"
		[ -f /usr/lib/apache2/modules/libphp8.2.so ] || fail "no mod_php: Debian libapache2-mod-php8.2 (make deps)"
		if [ "$way" = curl ]; then cp "$SRC/bench/deploy/app_curl.php" "$T/htdocs/app.php"
		else cp "$SRC/examples/php/app.php" "$T/htdocs/app.php"; fi
		render apache-mod-php.conf.in "$T/apache2.conf"
		render mod-php.ini.in "$T/php.ini"
		if [ "$way" = pool ]; then
			# A decoy: SetEnv reaches PHP's getenv() but not the extension
			# (apache-prefork.md, mod_php): the children must still use the
			# pool php_admin_value names, and name it when they cannot.
			echo "LoadModule env_module /usr/lib/apache2/modules/mod_env.so" >> "$T/apache2.conf"
			printf '<Directory %s/htdocs>\n    SetEnv PHANTOMPOOL not-%s\n</Directory>\n' "$T" "$PHANTOMPOOL" >> "$T/apache2.conf"
		fi
		if [ "$way" = curl ]; then
			echo "extension=curl" >> "$T/php.ini"
			echo "LoadModule env_module /usr/lib/apache2/modules/mod_env.so" >> "$T/apache2.conf"
			printf '<Directory %s/htdocs>\n    SetEnv PHANTOMDB_URL %s\n</Directory>\n' "$T" "$PHANTOMDB_URL" >> "$T/apache2.conf"
		fi
		# PHP_INI_SCAN_DIR empty: no system conf.d, only $T/php.ini
		PHP_INI_SCAN_DIR= $NOPOOL setsid apache2 -f "$T/apache2.conf" -DFOREGROUND >"$T/apache2-out.log" 2>&1 &
		APP_MASTER=$! ATTACH_IN_MASTER=no
		URL=http://127.0.0.1:$PORT/app ERROR_LOGS=$T/apache2-error.log ;;
	*) fail "unknown stack $stack" ;;
	esac
	SERVER_PID=$!
	wait_up "$URL?n=0" "$up"
}

# Stop the server and the application server (their process groups: the
# master and its children) and spawn-fcgi's workers, then remove $T.
stack_stop() {
	local p i
	for p in $SERVER_PID $APP_PID $SPAWN_PIDS; do kill -TERM "$p" 2>/dev/null; done
	for i in $(seq 50); do
		local alive=
		for p in $SERVER_PID $APP_PID $SPAWN_PIDS; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	for p in $SERVER_PID $APP_PID; do kill -KILL -- "-$p" 2>/dev/null; done
	for p in $SPAWN_PIDS; do kill -KILL "$p" 2>/dev/null; done
	[ -n "$SERVER_PID$APP_PID" ] && wait $SERVER_PID $APP_PID 2>/dev/null
	SERVER_PID= SPAWN_PIDS= APP_PID= APP_MASTER=
	[ -n "$T" ] && rm -rf "$T"
	T=
}

# The pool as phantompool-shmdump sees it: number of free slots.
slots_free() { "$B/phantompool-shmdump" --json | grep -o '"slots_by_state":{"free":[0-9]*' | grep -o '[0-9]*$'; }
# Pids that hold a lease now (one per line).
lease_owners() { "$B/phantompool-shmdump" --json | grep -o '"owner_pid":[1-9][0-9]*' | grep -o '[0-9]*$'; }
# The backend's connection counts (uncounted probe): "accepted open".
backend_conns() {
	curl -s "$PHANTOMDB_URL/_debug/connections?probe=1" |
		sed -n 's/.*"accepted":\([0-9]*\),"open":\([0-9]*\).*/\1 \2/p'
}
# maps_pool PID: does the process map the pool's segment (is it attached)?
maps_pool() { grep -q " /dev/shm/phantompool-$PHANTOMPOOL\( (deleted)\)\?$" "/proc/$1/maps" 2>/dev/null; }
