# mk/rust.mk - the Rust binding (bindings/rust): its tests and benchmark.
#
#   make check-rust   cargo test --offline under tests/with-pool (a real
#                     phantompoold and the reference backend), then the
#                     seed-style example against the same kind of pool
#   make bench-rust   bindings/rust/examples/bench_rust.rs: the binding's
#                     per-request overhead over C pp_do, and 16 processes
#                     through the pool vs std TcpStream keep-alive
#
# Debian's cargo (rustc 1.63) is what CI installs; CARGO=... picks another
# (with RUSTC and RUSTDOC to match, if it is not on PATH).  Build output goes
# to $(B)/rust; the crate links the build tree's libphantompool.so
# (PHANTOMPOOL_LIB_DIR, with an rpath) and compiles its layout probe against
# include/phantompool.h (PHANTOMPOOL_INCLUDE_DIR).

DEB_PACKAGES += cargo
CHECK_MORE   += check-rust
BENCH_MORE   += bench-rust

RUST_DIR     := bindings/rust
CARGO        ?= cargo
RUST_ENV      = CARGO_TARGET_DIR=$(abspath $(B))/rust PHANTOMPOOL_LIB_DIR=$(abspath $(B)) \
                PHANTOMPOOL_INCLUDE_DIR=$(abspath include)

.PHONY: check-rust bench-rust rust-build
rust-build: all
	@command -v $(CARGO) >/dev/null || { echo "check-rust: no $(CARGO): apt-get install -y cargo"; exit 1; }
	cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) build --offline --tests --examples

check-rust: rust-build
	PP_BUILD=$(B) tests/with-pool -- sh -c 'cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) test --offline'
	PP_BUILD=$(B) tests/with-pool -- $(B)/rust/debug/examples/basic

# The pool is started with 8 slots (half the 16 processes' direct
# connections); bench_rust reads PHANTOMDB_URL for the direct client.
bench-rust: all
	cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) build --offline --release --example bench_rust
	PP_BUILD=$(B) tests/with-pool --max 8 -- $(B)/rust/release/examples/bench_rust
