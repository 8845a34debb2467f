# mk/node.mk - the Node.js binding, bindings/node (issue 18).
#
#   make node         the addon: bindings/node/build/Release/phantompool.node
#   make check-node   its tests (node --test) against a real daemon and the
#                     reference backend (tests/with-pool); run by make check
#   make bench-node   per-request overhead over C pp_do, 16-process
#                     throughput against http.Agent keep-alive; make bench
#
# The addon is built by node-gyp against Node's own headers: nodesource's
# nodejs package (this project's machines: Node.js 20) ships them in
# /usr/include/node and npm's bundled node-gyp, so nothing is downloaded
# (--nodedir=/usr).  Debian's libnode-dev and node-gyp cannot be installed
# beside nodesource's nodejs (they depend on Debian's nodejs 18); on a
# machine with Debian's own nodejs, node-toolchain installs them instead.
# node-gyp needs python3 and make (build-essential).  check-node runs
# `npm ci` in bindings/node for its one npm package, typescript (types check).

DEB_PACKAGES  += nodejs python3
CHECK_MORE    += check-node
BENCH_MORE    += bench-node

NODE          ?= node
NODE_DIR      ?= /usr
NODE_GYP      ?= $(firstword $(wildcard /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
                   /usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
                   /usr/share/nodejs/node-gyp/bin/node-gyp.js))
NODE_ADDON    := bindings/node/build/Release/phantompool.node
NODE_C_LOOP   := $(B)/bindings-node/c_loop
NODE_SRC      := $(wildcard bindings/node/src/*.c bindings/node/src/*.h) bindings/node/binding.gyp

.PHONY: deps-node node node-toolchain check-node bench-node clean-node
node: $(NODE_ADDON)

# make deps, after nodejs is installed: on a machine with Debian's own
# nodejs, Debian's headers and node-gyp (they cannot be installed beside
# nodesource's nodejs, which ships both).
DEPS_MORE += deps-node
deps-node:
	@if dpkg -s nodejs 2>/dev/null | grep -q '^Version: .*dfsg'; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnode-dev node-gyp >/dev/null; \
	fi

# Node, its headers and node-gyp.  Fails with what is missing.
node-toolchain:
	@command -v $(NODE) >/dev/null || { echo "node: Node.js is not installed (make deps)"; exit 1; }
	@[ -f $(NODE_DIR)/include/node/node_api.h ] || { echo "node: no $(NODE_DIR)/include/node/node_api.h (nodesource's nodejs ships it; Debian's needs libnode-dev)"; exit 1; }
	@[ -n "$(NODE_GYP)$(wildcard /usr/share/nodejs/node-gyp/bin/node-gyp.js)" ] || { echo "node: node-gyp not found (npm's bundled one, or Debian's node-gyp)"; exit 1; }

$(NODE_ADDON): $(NODE_SRC) include/phantompool.h $(CLIENT_SO) | node-toolchain
	cd bindings/node && $(NODE) $(or $(NODE_GYP),/usr/share/nodejs/node-gyp/bin/node-gyp.js) rebuild \
	  --nodedir=$(NODE_DIR) --loglevel=warn -- -Dpp_libdir=$(abspath $(B)) -Dpp_include=$(abspath include)

# bench.js's C side: pp_do / pp_request loops, linked as a user's program.
$(NODE_C_LOOP): bindings/node/bench/c_loop.c include/phantompool.h $(CLIENT_SO)
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Iinclude -o $@ $< -L$(B) -lphantompool -Wl,-rpath,$(abspath $(B))

# TypeScript (the only npm package: a dev dependency, pinned in
# package-lock.json) type-checks index.d.ts against test/types/usage.ts.
NODE_TSC      := bindings/node/node_modules/.bin/tsc
$(NODE_TSC): bindings/node/package.json bindings/node/package-lock.json
	cd bindings/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The suite, one file after the other (test/restart.test.js kills and
# restarts the daemon under the others' feet otherwise), then the types.
check-node: all $(NODE_ADDON) $(NODE_TSC)
	@PP_BUILD=$(B) tests/with-pool -- $(NODE) --test --test-concurrency=1 --test-reporter=spec \
	  bindings/node/test/*.test.js
	$(NODE_TSC) -p bindings/node/test/types && echo "check-node: index.d.ts type-checks (test/types/usage.ts)"

bench-node: all $(NODE_ADDON) $(NODE_C_LOOP)
	@PP_BUILD=$(B) PP_NODE_C_LOOP=$(abspath $(NODE_C_LOOP)) tests/with-pool --max 8 -- \
	  $(NODE) bindings/node/bench/bench.js

clean: clean-node
clean-node:
	rm -rf bindings/node/build bindings/node/node_modules
