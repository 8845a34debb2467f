//go:build !race

package pool

import (
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// A response body of 2 GiB or more comes back whole.  C.GoBytes, which
// takes a C.int length, panicked ("gobytes: length out of range") for
// 2 GiB to 4 GiB and cut larger bodies to their length modulo 4 GiB.
// The C side is a sparse mapping: only the pages written cost memory;
// the Go copy takes 2 GiB for a moment, and tens of seconds on a busy
// 2-CPU machine: so only with PPGO_BIG_TESTS=1, and not under -race,
// whose shadow of 2 GiB would be as large again, several times over.
func TestBodyOver2GiB(t *testing.T) {
	if os.Getenv("PPGO_BIG_TESTS") == "" {
		t.Skip("2 GiB of memory: set PPGO_BIG_TESTS=1 to run it")
	}
	const n = 1<<31 + 16
	m, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		t.Skipf("mmap of %d bytes: %v", n, err)
	}
	defer syscall.Munmap(m)
	m[0], m[n/2], m[n-1] = 'a', 'b', 'z'
	b := goBytes(unsafe.Pointer(&m[0]), n)
	if len(b) != n || b[0] != 'a' || b[n/2] != 'b' || b[n-1] != 'z' || b[n-2] != 0 {
		t.Fatalf("goBytes of %d bytes: got %d bytes", n, len(b))
	}
}
