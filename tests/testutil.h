/* testutil.h - the small harness every tests/test_*.c program uses.
 *
 * Each test program is one CUnit suite: it lists its tests in a table and
 * calls pp_test_main(), which runs them with CUnit's basic interface and
 * returns the process exit code (0 only when every assertion passed).
 */
#ifndef PP_TESTUTIL_H
#define PP_TESTUTIL_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pp_test {
	const char *name;
	CU_TestFunc fn;
};

/* Run the tests of one suite; returns 0 if all passed, 1 otherwise.
 * setup/teardown (may be NULL) run once around the whole suite. */
int pp_test_main(const char *suite, const struct pp_test *tests, size_t n,
		 int (*setup)(void), int (*teardown)(void));

/* A pool name unique to this test process and tag ("t<pid>-<tag>"). */
const char *pp_test_pool_name(const char *tag);

/* Path of a built artifact: "$PP_BUILD/<name>" (PP_BUILD defaults to
 * "build").  Returns a static buffer. */
const char *pp_test_build_path(const char *name);

/* Wait for child pid; returns its exit status (0..255), 128+signal if it
 * was killed, or -1 if waitpid failed. */
int pp_test_wait_child(pid_t pid);

/* xorshift64: a small seedable generator for tests (*s must not be 0). */
uint64_t pp_test_xorshift(uint64_t *s);

/* Entries of /proc/<pid>/<what> ("task": threads, "fd": open files),
 * "." and ".." not counted; -1 if the directory cannot be read. */
int pp_test_proc_entries(pid_t pid, const char *what);

/* Print the last `lines` lines of the file at path (a daemon's log after
 * it failed), each indented; prints why if the file cannot be read. */
void pp_test_print_tail(const char *path, int lines);

/* qsort() comparator for uint64_t values (latencies in ns). */
int pp_test_cmp_u64(const void *a, const void *b);

/* A libcurl write callback that drops what it is given. */
size_t pp_test_discard(char *ptr, size_t size, size_t n, void *cls);

#define PP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
