# mk/deploy.mk - issue 19, real deployments: the examples for each server
# stack (examples/fastcgi, examples/cgi, examples/apache; examples/gunicorn
# and examples/php use the Python and PHP bindings), their end-to-end
# tests (tests/deploy/, `make check-deploy`) and benchmarks
# (`make bench-deploy`, in BENCH_MORE).  Guides: docs/deploy/.
#
# `make` builds the three examples into $(B)/examples/:
#   fastcgi/pp_fcgi           libfcgi worker, -lphantompool (shared, rpath)
#   cgi/pp_cgi                CGI program, libphantompool.a linked in
#   apache/mod_phantompool.so Apache module (headers and flags from apxs)
# The top Makefile's examples/*.c rule does not see these subfolders.
# examples/gunicorn/ppapp.py and examples/php/app.php (PHP-FPM and
# mod_php) are not built: the
# tests run them with bindings/python and the PHP extension ($(PHP_EXT),
# make php-ext; mk/php.mk), whose Debian packages (gunicorn, php8.2-fpm,
# php8.2-curl for the benchmark) mk/python.mk and mk/php.mk list.

# Building the examples: libfcgi-dev, apache2-dev (apxs).  Running the
# tests and benchmarks: the servers and the HTTP clients.
# libapache2-mod-php8.2: Apache prefork + mod_php (its install enables the
# module and prefork in the system's Apache; the tests use their own config).
DEPLOY_DEB   := libfcgi-dev apache2-dev nginx spawn-fcgi lighttpd apache2 apache2-utils \
                libapache2-mod-php8.2
DEB_PACKAGES += $(DEPLOY_DEB)

APXS         ?= apxs
DEPLOY_FCGI  := $(B)/examples/fastcgi/pp_fcgi
DEPLOY_CGI   := $(B)/examples/cgi/pp_cgi
DEPLOY_MOD   := $(B)/examples/apache/mod_phantompool.so
# The benchmarks' "usual way" twins: the same application over libcurl.
DEPLOY_BENCH := $(B)/bench/deploy/fcgi_curl $(B)/bench/deploy/cgi_curl
DEPLOY_APP_O := $(B)/examples/common/ppapp.o
# What the gunicorn and PHP-FPM stacks need: the PHP extension (mk/php.mk's
# $(PHP_EXT), spelled out: php.mk is read after this file, and a rule's
# prerequisites expand when it is read) and the Python packages' check.
DEPLOY_BINDINGS := $(B)/php-ext/modules/phantompool.so $(B)/.python-deps-ok

.PHONY: deploy-examples check-deploy bench-deploy
all: deploy-examples
deploy-examples: $(DEPLOY_FCGI) $(DEPLOY_CGI) $(DEPLOY_MOD)

# Missing headers or apxs: say which packages (make deps installs them;
# a build never does).
$(B)/.deploy-deps-ok: | $(B)/.deps-ok
	@if [ ! -e /usr/include/fcgi_stdio.h ] || ! command -v $(APXS) >/dev/null; then \
	  echo "deploy examples need libfcgi-dev and apache2-dev: make deps (as root), or:"; \
	  echo "  apt-get install -y $(DEPLOY_DEB)"; exit 1; \
	fi
	@touch $@

# Include paths of the example folders and their "usual way" twins.
FOLDER_CFLAGS_examples/common  := -Iinclude $(call pc_cflags,jansson)
FOLDER_CFLAGS_examples/fastcgi := -Iinclude
FOLDER_CFLAGS_examples/cgi     := -Iinclude
FOLDER_CFLAGS_bench/deploy     := $(call pc_cflags,libcurl jansson)

$(B)/examples/fastcgi/pp_fcgi.o $(B)/examples/cgi/pp_cgi.o $(DEPLOY_APP_O): | $(B)/.deploy-deps-ok

# FastCGI worker: links the shared library, found through an rpath.
$(DEPLOY_FCGI): $(B)/examples/fastcgi/pp_fcgi.o $(DEPLOY_APP_O) $(B)/libphantompool.so
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) -lfcgi -L$(B) -lphantompool -Wl,-rpath,$(abspath $(B))

# CGI program: the static library (and msgpack-c's archive) linked in, so a
# run loads libc only (README, "Using the library").
$(DEPLOY_CGI): $(B)/examples/cgi/pp_cgi.o $(DEPLOY_APP_O) $(CLIENT_A)
	$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(or $(MSGPACK_A),-lmsgpackc) -lrt

# Apache module: compiled with apxs's flags and include paths, linked
# against the shared library (rpath) like any module using a C library.
$(DEPLOY_MOD): examples/apache/mod_phantompool.c $(DEPLOY_APP_O) $(B)/libphantompool.so | $(B)/.deploy-deps-ok
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC $(CFLAGS) $(WARN) -Wno-missing-prototypes -Wno-strict-prototypes \
	  $$($(APXS) -q CFLAGS) $$($(APXS) -q EXTRA_CPPFLAGS) -I$$($(APXS) -q INCLUDEDIR) -I$$($(APXS) -q APR_INCLUDEDIR) \
	  -Iinclude -o $@ $< $(DEPLOY_APP_O) -L$(B) -lphantompool -Wl,-rpath,$(abspath $(B))

$(B)/bench/deploy/fcgi_curl: $(B)/bench/deploy/fcgi_curl.o
	$(CC) $(LDFLAGS) -o $@ $^ -lfcgi $(call pc_libs,libcurl)

$(B)/bench/deploy/cgi_curl: $(B)/bench/deploy/cgi_curl.o
	$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(call pc_libs,libcurl)

# End-to-end: the real servers on loopback, a real pool (tests/with-pool).
# Run by .ci/run (not by `make check`: it starts web servers as root).
check-deploy: all $(DEPLOY_BENCH) $(DEPLOY_BINDINGS)
	@PP_BUILD=$(B) tests/deploy/run-all

BENCH_MORE += bench-deploy
bench-deploy: all $(DEPLOY_BENCH) $(DEPLOY_BINDINGS)
	@PP_BUILD=$(B) tests/deploy/bench
