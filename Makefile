# phantompool - plain GNU make.  `make` builds everything, `make check` runs
# the CUnit suites, `make run` runs the demo, `make bench` the benchmarks.
# Out-of-tree objects go to build/.

VERSION      := 0.1.0
SOVERSION    := 1
PREFIX       ?= /usr/local
B            := build

CC           ?= cc
CFLAGS       ?= -O2 -g
WARN         := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
                -Wcast-align -Wpointer-arith -Wundef -Wformat=2 -Wvla \
                -Wno-unused-parameter
# CI (and WERROR=1) turns every warning into an error.
ifneq ($(or $(CI),$(WERROR)),)
WARN         += -Werror
endif
SAN          ?=
ALL_CFLAGS   := -std=gnu11 $(CFLAGS) $(WARN) $(SAN) -fPIC -pthread -D_GNU_SOURCE -MMD -MP
LDFLAGS      += $(SAN) -pthread

PKG          := pkg-config
# Dependencies, each found with pkg-config (Debian package in brackets):
#   msgpack      [libmsgpack-dev]   frames in the rings (shm/, both sides)
#   libcurl      [libcurl4-openssl-dev] the daemon's HTTP client
#   libbsd       [libbsd-dev]       pidfile, strlcpy, arc4random
#   jansson      [libjansson-dev]   JSON bodies in the client's typed helpers
#   cunit        [libcunit1-dev]    the test runner
#   libmicrohttpd, sqlite3 [libmicrohttpd-dev libsqlite3-dev] reference backend
#   inih         [libinih-dev]      the config file
DEB_PACKAGES := build-essential pkg-config curl openssl libmsgpack-dev libcurl4-openssl-dev \
                libbsd-dev libjansson-dev libcunit1-dev libmicrohttpd-dev \
                libsqlite3-dev libinih-dev procps
pc_cflags     = $(shell $(PKG) --cflags $(1) 2>/dev/null)
pc_libs       = $(shell $(PKG) --libs $(1))

SHM_PKGS     := msgpack
DAEMON_PKGS  := $(SHM_PKGS) libbsd libcurl inih
CLIENT_PKGS  := $(SHM_PKGS) jansson
# libphantompool.so carries msgpack-c inside (Debian's libmsgpackc.a is
# position-independent; its symbols stay hidden by the version script) and
# loads libjansson only when a typed helper first needs JSON
# (libclient/jsonlib.h), so a CGI program loads one shared object besides
# libc, not five.  jansson's headers are still needed to build it.
MSGPACK_A    := $(filter /%,$(shell $(CC) -print-file-name=libmsgpackc.a 2>/dev/null))
CLIENT_SO_LIBS = $(if $(MSGPACK_A),$(MSGPACK_A),$(call pc_libs,$(SHM_PKGS)))
TEST_PKGS    := $(CLIENT_PKGS) cunit libcurl
BACKEND_PKGS := libmicrohttpd sqlite3 jansson

# Include paths and package cflags, per folder (FOLDER_CFLAGS_<dir>): each
# folder gets what its own sources use, so an include that crosses into
# another part of the tree, or a package header a folder does not depend
# on, fails to build.  A folder without an entry gets none.  mk/*.mk
# fragments add their own folders.
FOLDER_CFLAGS_shm          := -Iinclude -Ishm $(call pc_cflags,$(SHM_PKGS))
FOLDER_CFLAGS_shm/dump     := -Iinclude -Ishm $(call pc_cflags,jansson)
FOLDER_CFLAGS_daemon       := -Iinclude -Ishm $(call pc_cflags,libbsd libcurl inih)
FOLDER_CFLAGS_libclient    := -Iinclude -Ishm $(call pc_cflags,jansson)
FOLDER_CFLAGS_tests        := -Iinclude -Ishm -Itests $(call pc_cflags,$(TEST_PKGS))
FOLDER_CFLAGS_tests/backend := $(call pc_cflags,$(BACKEND_PKGS))
FOLDER_CFLAGS_bench        := -Iinclude -Ishm -Itests $(call pc_cflags,cunit libcurl)
FOLDER_CFLAGS_examples     := -Iinclude $(call pc_cflags,jansson)
folder_cflags = $(FOLDER_CFLAGS_$(patsubst %/,%,$(dir $(1))))

DUMP_SRC     := $(wildcard shm/dump/*.c)
SHM_SRC      := $(wildcard shm/*.c)
DAEMON_SRC   := $(wildcard daemon/*.c)
CLIENT_SRC   := $(wildcard libclient/*.c)
BACKEND_SRC  := $(wildcard tests/backend/*.c)
TEST_SRC     := $(wildcard tests/test_*.c)
TESTLIB_SRC  := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
BENCH_SRC    := $(wildcard bench/*.c)
EXAMPLE_SRC  := $(wildcard examples/*.c)

obj           = $(patsubst %.c,$(B)/%.o,$(1))

SHM_LIB      := $(B)/libppshm.a
DAEMON       := $(B)/phantompoold
SHMDUMP      := $(B)/phantompool-shmdump
SO_NAME      := libphantompool.so.$(SOVERSION)
CLIENT_SO    := $(B)/$(SO_NAME)
CLIENT_A     := $(B)/libphantompool.a
BACKEND      := $(B)/phantomdb-ref
TESTS        := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
BENCHES      := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))
EXAMPLES     := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRC))

.PHONY: all check check-sanitize check-tsan fuzz soak run bench deps print-deps clean install uninstall
all: $(SHM_LIB) $(DAEMON) $(CLIENT_SO) $(B)/libphantompool.so $(CLIENT_A) $(SHMDUMP) $(BACKEND) $(EXAMPLES)

# Every object waits for the dependency check (which never installs:
# make deps does).
$(B)/%.o: %.c | $(B)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call folder_cflags,$<) -c -o $@ $<

$(SHM_LIB): $(call obj,$(SHM_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(DAEMON): $(call obj,$(DAEMON_SRC)) $(SHM_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(DAEMON_PKGS)) -lrt

$(SHMDUMP): $(call obj,$(DUMP_SRC)) $(SHM_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(SHM_PKGS) jansson) -lrt -lm

# The client library: only the public API is exported (the version
# script lists it); the shm/ objects are linked in, so the .so needs no
# other phantompool file.  -Bsymbolic-functions: the library's own calls to
# its public functions (pp_do -> pp_lease ...) bind directly too, so a CGI
# program resolves no PLT entry of ours at startup.
$(CLIENT_SO): $(call obj,$(CLIENT_SRC)) $(SHM_LIB) libclient/phantompool.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SO_NAME) -Wl,-Bsymbolic-functions \
	  -Wl,--version-script=libclient/phantompool.map -Wl,--no-undefined \
	  -o $@ $(call obj,$(CLIENT_SRC)) -Wl,--whole-archive $(SHM_LIB) -Wl,--no-whole-archive \
	  $(CLIENT_SO_LIBS) -lrt

$(B)/libphantompool.so: $(CLIENT_SO)
	ln -sf $(SO_NAME) $@

$(CLIENT_A): $(call obj,$(CLIENT_SRC)) $(call obj,$(SHM_SRC))
	rm -f $@ && ar rcs $@ $^

$(BACKEND): $(call obj,$(BACKEND_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(BACKEND_PKGS)) -lm

# Every tests/test_*.c is its own CUnit program, linked statically against
# the client library and the shm library (so it can reach internals too).
$(B)/tests/%: $(B)/tests/%.o $(call obj,$(TESTLIB_SRC)) $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $< $(call obj,$(TESTLIB_SRC)) $(CLIENT_A) \
	  $(call pc_libs,$(TEST_PKGS)) -lrt -lm

$(B)/bench/%: $(B)/bench/%.o $(call obj,$(TESTLIB_SRC)) $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $< $(call obj,$(TESTLIB_SRC)) $(CLIENT_A) \
	  $(call pc_libs,$(TEST_PKGS) libcurl) -lrt -lm

# Examples link the shared library, as a user's program would.
$(B)/examples/%: $(B)/examples/%.o $(B)/libphantompool.so
	$(CC) $(LDFLAGS) -o $@ $< -L$(B) -lphantompool -Wl,-rpath,'$$ORIGIN/..' $(call pc_libs,jansson)

# mk/*.mk fragments add their own suites (the language bindings) to
# CHECK_MORE and their benchmarks to BENCH_MORE: make targets run after the
# C suites.  The sanitizer lanes run the C suites only (CHECK_MORE=).
CHECK_MORE   ?=
BENCH_MORE   ?=
check: all $(TESTS)
	@PP_BUILD=$(B) tests/run-all $(TESTS)
	@for t in $(CHECK_MORE); do echo "=== make $$t"; $(MAKE) --no-print-directory $$t || exit 1; done

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer,
# built out of tree in build-san/ (B and SAN passed down).
SAN_FLAGS    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
check-sanitize:
	@PP_CHAOS_KILLS=400 $(MAKE) --no-print-directory B=build-san SAN="$(SAN_FLAGS)" CFLAGS="-O1 -g" \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 CHECK_MORE= check

# The daemon's threads and the client's shared-memory code again under
# ThreadSanitizer, built in build-tsan/.  test_chaos and test_lease are left
# out: their kill counts and lease timeouts are sized for full speed, and
# TSan runs 5-15 times slower.  A race report makes the reporting process
# exit 66, which fails its test.
TSAN_TESTS   := access backend bell config death hostile ops recovery request ring shmdump spin tls
check-tsan:
	@$(MAKE) --no-print-directory B=build-tsan SAN="-fsanitize=thread -Wno-tsan" CFLAGS="-O1 -g" \
	  TSAN_OPTIONS=exitcode=66 CHECK_MORE= TESTS="$(patsubst %,build-tsan/tests/test_%,$(TSAN_TESTS))" check

# libFuzzer targets (clang), each run for FUZZ_SECONDS on its seed corpus.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE -Iinclude -Ishm -Idaemon
# The shared-memory sources a fuzz target of frames and rings builds with.
FUZZ_SHM_SRC := shm/frame.c shm/ring.c shm/futex.c shm/bell.c shm/errors.c shm/clock.c
$(B)/fuzz/fuzz_frame $(B)/fuzz/fuzz_ring: $(B)/fuzz/%: fuzz/%.c $(FUZZ_SHM_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ $(call pc_cflags,msgpack) $(call pc_libs,msgpack)
$(B)/fuzz/fuzz_config: fuzz/fuzz_config.c daemon/options.c daemon/config.c daemon/url.c daemon/log.c $(SHM_LIB)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ $(call pc_cflags,inih libbsd msgpack libcurl) $(call pc_libs,inih libbsd msgpack libcurl) -lrt
fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	  n=$$(basename $$t); c=fuzz/corpus/$${n#fuzz_}; mkdir -p $(B)/fuzz/work-$$n; \
	  echo "=== $$n ($(FUZZ_SECONDS) s)"; \
	  if $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/fuzz/work-$$n $$c >$(B)/fuzz/$$n.log 2>&1; \
	  then tail -3 $(B)/fuzz/$$n.log; else tail -40 $(B)/fuzz/$$n.log; echo "fuzz: $$n failed (log: $(B)/fuzz/$$n.log)"; exit 1; fi; \
	done

bench: all $(BENCHES)
	@PP_BUILD=$(B) bench/run-all $(BENCHES)
	@for t in $(BENCH_MORE); do echo "=== make $$t"; $(MAKE) --no-print-directory $$t || exit 1; done

# The long run: 1,000,000 requests, 1,000 reconnects, no growth.
soak: all $(B)/bench/soak
	@PP_BUILD=$(B) $(B)/bench/soak

run: all
	@PP_BUILD=$(B) examples/run-demo

# A build never installs anything: it names what is missing and the line
# that installs it (make deps runs that line; so does .ci/run).
ALL_PKGS     := $(sort $(DAEMON_PKGS) $(TEST_PKGS) $(BACKEND_PKGS))
$(B)/.deps-ok:
	@mkdir -p $(B)
	@missing=""; \
	for p in $(ALL_PKGS); do $(PKG) --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	command -v $(PKG) >/dev/null 2>&1 || missing=" pkg-config$$missing"; \
	if [ -n "$$missing" ]; then \
	  echo "missing build dependencies (pkg-config modules):$$missing"; \
	  echo "install them with: make deps   (as root), or:"; \
	  echo "  apt-get install -y $(DEB_PACKAGES)"; \
	  exit 1; \
	fi
	@touch $@

print-deps:
	@echo $(sort $(DEB_PACKAGES))

# Installs every Debian package the build, tests and benchmarks use (as
# root), then runs the fragments' own steps (DEPS_MORE).  The only target
# that installs anything; .ci/run runs it.
deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(sort $(DEB_PACKAGES)) >/dev/null; \
	else \
	  echo "run as root, or: sudo apt-get install -y $(DEB_PACKAGES)"; exit 1; \
	fi
	@$(if $(DEPS_MORE),$(MAKE) --no-print-directory $(DEPS_MORE))

clean:
	rm -rf $(B) build-san build-tsan

# Fragments for one concern each (install, benchmarks...): mk/*.mk.
include $(wildcard mk/*.mk)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
