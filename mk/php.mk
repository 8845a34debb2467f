# mk/php.mk - the PHP extension (bindings/php; docs/php.md).
#
#   make php-ext          builds it out of the source tree: the sources are
#                         copied to $(B)/php-ext, where phpize, configure and
#                         make run (bindings/php/ stays clean)
#   make check-php        its .phpt tests, run by the extension's own
#                         `make test` (run-tests.php) under tests/with-pool:
#                         a real daemon and the reference backend; one test
#                         runs php-fpm.  `make check` runs it (CHECK_MORE).
#   make bench-php        overhead over the C library's pp_do per request,
#                         throughput at 16 workers against PHP's curl
#                         extension (BENCH_MORE)
#   make run-php-example  bindings/php/examples/example.php against a pool

PHP_VER      := 8.2
PHP_DEB      := php$(PHP_VER)-dev php$(PHP_VER)-cli php$(PHP_VER)-fpm php$(PHP_VER)-curl libfcgi-bin
DEB_PACKAGES += $(PHP_DEB)
CHECK_MORE   += check-php
BENCH_MORE   += bench-php

PHP_EXT_DIR  := $(B)/php-ext
PHP_EXT      := $(PHP_EXT_DIR)/modules/phantompool.so
PHP_EXT_SRC  := bindings/php/config.m4 bindings/php/phantompool.stub.php \
                $(wildcard bindings/php/*.c bindings/php/*.h)
# configure runs with plain CFLAGS (its probes must not fail on a warning);
# the extension's own files get the warnings, -Werror in CI, via EXTRA_CFLAGS.
# Not -Wshadow nor -Wmissing-prototypes: the Zend macros (PHP_GINIT_FUNCTION,
# ZEND_GET_MODULE) trip them in every extension.
PHP_EXT_WARN := -Wall -Wextra -Wpointer-arith -Wformat=2 -Wvla \
                -Wno-unused-parameter -Wno-missing-field-initializers $(if $(or $(CI),$(WERROR)),-Werror)
# php, phpize and php-fpm of the Debian version the extension is built for.
PHP_CLI      := php$(PHP_VER)
PHP_LOAD     := -d extension=$(abspath $(PHP_EXT))
# The sub-make of phpize's Makefile must not inherit our command line.
PHP_SUBMAKE  := env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES make --no-print-directory

.PHONY: php-ext check-php bench-php run-php-example
php-ext: $(PHP_EXT)

$(PHP_EXT): $(PHP_EXT_SRC) $(CLIENT_SO) include/phantompool.h | $(B)/.php-deps-ok
	@rm -rf $(PHP_EXT_DIR) && mkdir -p $(PHP_EXT_DIR)
	@cp $(PHP_EXT_SRC) $(PHP_EXT_DIR)/
	@echo "phpize + configure + make in $(PHP_EXT_DIR)"
	@cd $(PHP_EXT_DIR) && { phpize$(PHP_VER) && \
	  ./configure --with-php-config=php-config$(PHP_VER) --with-phantompool=$(CURDIR) \
	    --with-phantompool-libdir=$(abspath $(B)) CFLAGS="-O2 -g" && \
	  $(PHP_SUBMAKE) -j2 EXTRA_CFLAGS="$(PHP_EXT_WARN)"; } > build.log 2>&1 || { cat build.log; exit 1; }
	@grep -E 'warning:' $(PHP_EXT_DIR)/build.log | grep -v 'AC_PROG_LIBTOOL\|autoupdate\|libtool.m4' || true
	@test -f $@

# The .phpt tests: copied next to the build (run-tests.php writes its
# .out/.diff files beside them), run under a fresh pool.  A skipped test
# fails the target: every test here must run.  PHP_TEST_ARGS=-m runs them
# under valgrind (Debian valgrind, not installed by this file).
check-php: all $(PHP_EXT)
	@rm -rf $(PHP_EXT_DIR)/tests && cp -r bindings/php/tests $(PHP_EXT_DIR)/tests
	@cp bindings/php/phantompool.stub.php $(PHP_EXT_DIR)/
	@rc=0; PP_BUILD=$(B) tests/with-pool -- $(PHP_SUBMAKE) -C $(PHP_EXT_DIR) test NO_INTERACTION=1 \
	  TESTS="-q --no-color --show-diff $(PHP_TEST_ARGS) tests" > $(PHP_EXT_DIR)/test.log 2>&1 || rc=$$?; \
	sed -n '/^Running selected tests/,$$p' $(PHP_EXT_DIR)/test.log | grep -v '^$$'; \
	if [ $$rc != 0 ]; then echo "check-php: FAILED (log: $(PHP_EXT_DIR)/test.log)"; exit 1; fi; \
	if ! grep -Eq 'Tests skipped *: *0 ' $(PHP_EXT_DIR)/test.log; then \
	  echo "check-php: FAILED: a test was skipped (log: $(PHP_EXT_DIR)/test.log)"; exit 1; fi; \
	echo "check-php: all PHP tests passed"

run-php-example: all $(PHP_EXT)
	@PP_BUILD=$(B) tests/with-pool -- $(PHP_CLI) $(PHP_LOAD) bindings/php/examples/example.php

# The benchmark: a C loop of pp_do (the baseline) and the PHP scripts.
PHP_BENCH_C  := $(B)/php-bench/pp_do_loop
$(PHP_BENCH_C): bindings/php/bench/pp_do_loop.c $(CLIENT_SO)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -Iinclude -o $@ $< -L$(B) -lphantompool -Wl,-rpath,$(abspath $(B))

PHP_BENCH_ENV = PP_BUILD=$(B) PP_PHP="$(PHP_CLI) $(PHP_LOAD)" PP_DO_LOOP=$(abspath $(PHP_BENCH_C))
bench-php: all $(PHP_EXT) $(PHP_BENCH_C) | $(B)/.bench-deps-ok $(B)/.php-bench-deps-ok
	@$(PHP_BENCH_ENV) tests/with-pool --spin-us 0 -- $(PHP_CLI) $(PHP_LOAD) bindings/php/bench/bench.php overhead
	@$(PHP_BENCH_ENV) tests/with-pool --max 16 -- $(PHP_CLI) $(PHP_LOAD) bindings/php/bench/bench.php throughput

# php-dev, php-fpm, cgi-fcgi: when missing, the build names them (make deps
# installs them).
PHP_HAVE_DEPS = command -v phpize$(PHP_VER) >/dev/null && command -v cgi-fcgi >/dev/null && \
  test -x /usr/sbin/php-fpm$(PHP_VER) && $(PHP_CLI) -r 'exit(function_exists("curl_init") ? 0 : 1);' 2>/dev/null
$(B)/.php-deps-ok:
	@mkdir -p $(B)
	@if $(PHP_HAVE_DEPS); then touch $@; else \
	  echo "php: missing some of $(PHP_DEB): make deps (as root), or:"; \
	  echo "  apt-get install -y $(PHP_DEB)"; exit 1; fi

# valgrind counts the instructions of the overhead benchmark (skipped,
# and said so, without it; make deps installs it).
DEB_PACKAGES += valgrind
$(B)/.php-bench-deps-ok:
	@mkdir -p $(B)
	@command -v valgrind >/dev/null || echo "bench-php: no valgrind (make deps): the instruction count is skipped"
	@touch $@

