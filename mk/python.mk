# mk/python.mk - the Python binding (bindings/python, docs/python.md).
#
#   make check-python   the pytest suite, against a real daemon and the
#                       reference backend (tests/with-pool); in `make check`
#   make bench-python   overhead over the C library's pp_do, and throughput
#                       of 16 worker processes vs http.client keep-alive;
#                       in `make bench`
#
# Debian's python3 and pytest run it (/usr/bin/python3, not whatever python3
# is first on PATH).  When they are missing, the build names them (make
# deps installs them).

PY_DEB_PACKAGES := python3 python3-pytest python3-pip python3-setuptools python3-wheel \
                   python3-venv gunicorn
DEB_PACKAGES    += $(PY_DEB_PACKAGES)
CHECK_MORE      += check-python
BENCH_MORE      += bench-python

PYTHON          := /usr/bin/python3
PY_DIR          := bindings/python
# Bytecode stays out of the source tree; the build tree's library is used.
PY_ENV          = PYTHONDONTWRITEBYTECODE=1 PP_BUILD=$(B) \
                  PHANTOMPOOL_LIBRARY=$(abspath $(B))/$(SO_NAME)
PPDO_LOOP       := $(B)/bindings/python/ppdo_loop

.PHONY: check-python bench-python
check-python: all $(B)/.python-deps-ok
	@$(PY_ENV) timeout -k 10 170 tests/with-pool -- \
	  $(PYTHON) -m pytest -p no:cacheprovider -q $(PY_DIR)/tests

# The benchmark's C side: the same request through pp_do / pp_request,
# linked with the shared library like a user's program.
$(PPDO_LOOP): $(PY_DIR)/bench/ppdo_loop.c $(B)/libphantompool.so include/phantompool.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -Iinclude -o $@ $< -L$(B) -lphantompool \
	  -Wl,-rpath,$(abspath $(B))

# Once with 8 seats (16 workers on half the connections http.client opens,
# against http.client itself), then the pool alone with 16 seats.
bench-python: all $(PPDO_LOOP) $(B)/.python-deps-ok
	@$(PY_ENV) PP_BENCH_PPDO_LOOP=$(PPDO_LOOP) tests/with-pool --max 8 -- \
	  $(PYTHON) $(PY_DIR)/bench/bench_python.py --label seats8
	@$(PY_ENV) PP_BENCH_PPDO_LOOP=$(PPDO_LOOP) tests/with-pool --max 16 -- \
	  $(PYTHON) $(PY_DIR)/bench/bench_python.py --label seats16 --no-overhead --no-direct

$(B)/.python-deps-ok:
	@mkdir -p $(B)
	@if $(PYTHON) -c 'import pytest, setuptools, wheel, venv' 2>/dev/null && \
	    command -v gunicorn >/dev/null; then touch $@; \
	 else echo "python: missing some of $(PY_DEB_PACKAGES): make deps (as root), or:"; \
	   echo "  apt-get install -y $(PY_DEB_PACKAGES)"; exit 1; fi
