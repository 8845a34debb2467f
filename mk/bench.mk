# mk/bench.mk - the benchmark harness (bench/, docs/BENCHMARKS.md).
#
# `make bench` builds, besides every bench/*.c program (the Makefile's
# rule), the harness's own objects and the CGI programs it execs, says if
# nginx, gnuplot or openssl is missing (`make deps` installs them, as
# root), and bench/run-all runs them all.  `BENCH_QUICK=1 make bench` is
# the short run.

BENCH_LIB_SRC := $(wildcard bench/lib/*.c bench/modes/*.c)
# Include paths and cflags of the harness's folders (Makefile: FOLDER_CFLAGS_).
FOLDER_CFLAGS_bench/lib   := -Iinclude -Ishm -Itests $(call pc_cflags,libcurl)
FOLDER_CFLAGS_bench/modes := -Iinclude -Ishm -Itests $(call pc_cflags,libcurl)
FOLDER_CFLAGS_bench/cgi   := -Iinclude $(call pc_cflags,libcurl)
BENCH_CGI     := $(B)/bench/cgi/cgi_noop $(B)/bench/cgi/cgi_curl $(B)/bench/cgi/cgi_pool \
                 $(B)/bench/cgi/cgi_static $(B)/bench/cgi/cgi_floor
# Debian packages the harness runs (not builds) with.
BENCH_DEB     := nginx gnuplot-nox openssl
DEB_PACKAGES  += $(BENCH_DEB)

.PHONY: bench-build
bench: bench-build
bench-build: $(B)/bench/harness $(BENCH_CGI) $(B)/.bench-deps-ok

# The harness: bench/harness.c plus bench/lib/ and bench/modes/, linked
# like the other bench programs (static client library, test launchers).
$(B)/bench/harness: $(B)/bench/harness.o $(call obj,$(BENCH_LIB_SRC)) $(call obj,$(TESTLIB_SRC)) $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(TEST_PKGS) libcurl) -lrt -lm

# CGI programs: each links only what it says, as a user's program would.
#   cgi_noop: libc only (the fork+exec floor)
#   cgi_curl: libcurl only
#   cgi_pool: only -lphantompool, dynamically, found through an rpath
#   cgi_static: the same program with libphantompool.a (and msgpack-c's
#     archive) linked in: at run time it loads libc only
$(B)/bench/cgi/cgi_noop: $(B)/bench/cgi/cgi_noop.o
	$(CC) $(SAN) -Wl,--as-needed -o $@ $<

#   cgi_floor: libc only, the least hand-off to a connection owner
#     (bench/bench_cgi_floor.c runs it)
$(B)/bench/cgi/cgi_floor: $(B)/bench/cgi/cgi_floor.o
	$(CC) $(SAN) -Wl,--as-needed -o $@ $<

$(B)/bench/cgi/cgi_curl: $(B)/bench/cgi/cgi_curl.o
	$(CC) $(SAN) -Wl,--as-needed -o $@ $< $(call pc_libs,libcurl)

$(B)/bench/cgi/cgi_pool: $(B)/bench/cgi/cgi_pool.o $(B)/libphantompool.so
	$(CC) $(SAN) -Wl,--as-needed -o $@ $< -L$(B) -lphantompool -Wl,-rpath,$(abspath $(B))

$(B)/bench/cgi/cgi_static: $(B)/bench/cgi/cgi_pool.o $(CLIENT_A)
	$(CC) $(SAN) -Wl,--as-needed -o $@ $< $(CLIENT_A) $(or $(MSGPACK_A),-lmsgpackc) -pthread -lrt

# nginx, gnuplot, openssl: a build never installs them (make deps
# does, as root); when they are missing, this names them and the apt-get
# line, and the harness skips what it cannot run (and says so).
$(B)/.bench-deps-ok:
	@mkdir -p $(B)
	@if command -v gnuplot >/dev/null && command -v openssl >/dev/null && \
	   { command -v nginx >/dev/null || test -x /usr/sbin/nginx; }; then touch $@; \
	 else echo "bench: missing some of $(BENCH_DEB); install them with: make deps   (as root), or:"; \
	   echo "  apt-get install -y --no-install-recommends $(BENCH_DEB)"; fi

