# mk/go.mk - the Go binding (bindings/go): make check-go, make bench-go.
#
# Debian's golang-go (1.19) and the standard library only: no module is
# downloaded (GOPROXY=off, GOFLAGS=-mod=mod is not needed: go.mod has no
# requirements).  GOPATH and GOCACHE live in $(B)/go/, so nothing is
# written to $HOME.  cgo finds the in-tree header and library through
# CGO_CFLAGS / CGO_LDFLAGS (an rpath to $(B)), so the tests and the
# example run against this tree's libphantompool.so.1.

DEB_PACKAGES += golang-go
CHECK_MORE   += check-go
BENCH_MORE   += bench-go

GO_DIR       := bindings/go
GO_B         := $(abspath $(B))/go
GO_ENV        = GOPATH=$(GO_B)/path GOCACHE=$(GO_B)/cache GOPROXY=off GOFLAGS= GO111MODULE=on \
                CGO_ENABLED=1 CGO_CFLAGS="-I$(abspath include)" \
                CGO_LDFLAGS="-L$(abspath $(B)) -Wl,-rpath,$(abspath $(B))"
GO_SRC       := $(wildcard $(GO_DIR)/go.mod $(GO_DIR)/*/*.go)

.PHONY: check-go bench-go
$(GO_B)/.go-ok:
	@mkdir -p $(GO_B)
	@command -v go >/dev/null || { echo "check-go: no go toolchain: make deps (as root), or: apt-get install -y golang-go"; exit 1; }
	@touch $@

$(GO_B)/example $(GO_B)/ppgobench: $(GO_SRC) $(B)/libphantompool.so include/phantompool.h | $(GO_B)/.go-ok
	cd $(GO_DIR) && $(GO_ENV) go build -o $@ ./$(if $(filter %/example,$@),example,bench)

# go vet, then the package's tests twice (plain and -race), each under its
# own tests/with-pool (reference backend + phantompoold; the restart test
# kills and restarts the daemon), then the seed-style example.
check-go: all $(GO_B)/example
	cd $(GO_DIR) && $(GO_ENV) go vet ./...
	PP_BUILD=$(B) tests/with-pool -- sh -c 'cd $(GO_DIR) && $(GO_ENV) go test -count=1 ./pool/'
	PP_BUILD=$(B) tests/with-pool -- sh -c 'cd $(GO_DIR) && $(GO_ENV) go test -race -count=1 ./pool/'
	PP_BUILD=$(B) tests/with-pool -- $(GO_B)/example

# Overhead over C pp_do, then 16 processes against net/http keep-alive (16
# connections), twice: a pool of 8 seats on 8 backend connections (16
# workers wait for 8 seats), and 16 seats on the same 8 connections (each
# worker holds a seat; the daemon queues exchanges for a connection).
bench-go: all $(GO_B)/ppgobench
	PP_BUILD=$(B) tests/with-pool -- $(GO_B)/ppgobench overhead
	PP_BUILD=$(B) tests/with-pool --min 8 --max 8 -- $(GO_B)/ppgobench throughput -procs 16
	PP_BUILD=$(B) tests/with-pool --min 8 --max 8 --seats 16 -- $(GO_B)/ppgobench throughput -procs 16 -label seats16
