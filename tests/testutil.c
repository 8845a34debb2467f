/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int pp_test_main(const char *suite, const struct pp_test *tests, size_t n,
		 int (*setup)(void), int (*teardown)(void))
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, setup, teardown);
	if (!s)
		return 2;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return 2;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned suites_failed = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return (failed || suites_failed) ? 1 : 0;
}

const char *pp_test_pool_name(const char *tag)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "t%ld-%s", (long)getpid(), tag);
	return buf;
}

const char *pp_test_build_path(const char *name)
{
	static char buf[512];
	const char *b = getenv("PP_BUILD");
	snprintf(buf, sizeof buf, "%s/%s", b && *b ? b : "build", name);
	return buf;
}

int pp_test_wait_child(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

uint64_t pp_test_xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

int pp_test_proc_entries(pid_t pid, const char *what)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

void pp_test_print_tail(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("\n    (cannot read %s)", path);
		return;
	}
	/* Two passes: count the lines, then print from the first wanted one.
	 * A line longer than buf comes in pieces: only a line's first piece
	 * starts a new indented output line. */
	char buf[1024];
	long total = 0;
	while (fgets(buf, sizeof buf, f))
		total += strchr(buf, '\n') != NULL;
	rewind(f);
	long skip = total > lines ? total - lines : 0, n = 0;
	bool line_start = true;
	printf("\n    --- the last %ld lines of %s", total - skip, path);
	while (fgets(buf, sizeof buf, f)) {
		char *nl = strchr(buf, '\n');
		if (nl)
			*nl = 0;
		if (n >= skip)
			printf("%s%s", line_start ? "\n    | " : "", buf);
		line_start = nl != NULL;
		n += line_start;
	}
	fclose(f);
}

int pp_test_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

size_t pp_test_discard(char *ptr, size_t size, size_t n, void *cls)
{
	(void)ptr;
	(void)cls;
	return size * n;
}
