/* test_install.c - `make install` into a temporary DESTDIR (PREFIX=/usr),
 * then use it as a user would: every file in its place, the soname links,
 * exactly the header's API exported, a program built with `pkg-config phantompool` (shared
 * and static) and run against the installed library, the man pages clean
 * (groff -ww) and the EXAMPLE of phantompool(3) compiling and running,
 * `make installcheck`; then `make uninstall` leaves no file behind (but
 * keeps an edited config).
 *
 * Runs from the top of the tree (make check does); calls make itself. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phantompool.h"
#include "testutil.h"

static char dest[64];     /* the DESTDIR */
static char work[64];     /* scratch: logs, programs */
static char log_path[128];
static char real_name[64]; /* libphantompool.so.X.Y.Z */
static const char *san = ""; /* the sanitizers the library was built with, for its consumers */

/* ---- helpers ------------------------------------------------------------ */

/* Run a shell command (printf-style), output to the log; on failure print
 * the command and the log.  Returns the exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[8192], full[8192 + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "( %s ) >%s 2>&1", cmd, log_path);
	int st = system(full);
	int rc = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (rc != 0) {
		fprintf(stderr, "\n  $ %s\n  -> exit %d; output:\n", cmd, rc);
		char line[512];
		FILE *f = fopen(log_path, "r");
		while (f && fgets(line, sizeof line, f))
			fprintf(stderr, "    %s", line);
		if (f)
			fclose(f);
	}
	return rc;
}

/* The log of the last sh() (static buffer). */
static const char *last_output(void)
{
	static char buf[65536];
	FILE *f = fopen(log_path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
	return buf;
}

/* make TARGET with DESTDIR and PREFIX=/usr (and B=$PP_BUILD). */
static int make(const char *target)
{
	const char *b = getenv("PP_BUILD");
	return sh("make --no-print-directory %s DESTDIR=%s PREFIX=/usr%s%s", target, dest, b && *b ? " B=" : "",
		  b && *b ? b : "");
}

/* dest + path. */
static const char *in_dest(const char *path)
{
	static char buf[4][PATH_MAX];
	static int k;
	k = (k + 1) % 4;
	if ((size_t)snprintf(buf[k], sizeof buf[k], "%s%s", dest, path) >= sizeof buf[k])
		abort(); /* paths here are short */
	return buf[k];
}

static bool is_file(const char *path, mode_t want_mode)
{
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "  not installed: %s\n", path);
		return false;
	}
	if (want_mode && (st.st_mode & 0777) != want_mode) {
		fprintf(stderr, "  %s: mode %o, not %o\n", path, st.st_mode & 0777, want_mode);
		return false;
	}
	return true;
}

static bool is_link_to(const char *path, const char *target)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	if (n < 0)
		return false;
	buf[n] = 0;
	return strcmp(buf, target) == 0;
}

static bool file_has(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	char buf[16384];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	return strstr(buf, text) != NULL;
}

/* Files and symlinks left under dest (printed); returns how many. */
static int leftovers;
static int count_left(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F || type == FTW_SL || type == FTW_SLN) {
		fprintf(stderr, "  left behind: %s\n", path);
		leftovers++;
	}
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* pkg-config looks only into the DESTDIR's pkgconfig directory for
 * phantompool (the system's for its Requires.private), and prefixes the
 * paths it prints with the DESTDIR. */
static void pkg_config_env(void)
{
	char pc[PATH_MAX];
	snprintf(pc, sizeof pc, "%s/usr/lib/pkgconfig", dest);
	setenv("PKG_CONFIG_PATH", pc, 1);
	setenv("PKG_CONFIG_SYSROOT_DIR", dest, 1);
	setenv("PKG_CONFIG_ALLOW_SYSTEM_CFLAGS", "1", 1);
	setenv("PKG_CONFIG_ALLOW_SYSTEM_LIBS", "1", 1);
}

static int suite_setup(void)
{
	/* A make of our own, not a job of the make running the tests. */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
	snprintf(dest, sizeof dest, "/tmp/pp-test-install.XXXXXX");
	snprintf(work, sizeof work, "/tmp/pp-test-install-work.XXXXXX");
	if (!mkdtemp(dest) || !mkdtemp(work))
		return -1;
	snprintf(log_path, sizeof log_path, "%s/log", work);
	snprintf(real_name, sizeof real_name, "libphantompool.so.%d.%d.%d", PP_VERSION_MAJOR, PP_VERSION_MINOR,
		 PP_VERSION_PATCH);
	pkg_config_env();
	/* make check-sanitize: a library built with ASan/UBSan needs
	 * consumers built with them too. */
	if (sh("readelf -d %s | grep -q -e libasan -e libubsan", pp_test_build_path("libphantompool.so.1")) == 0)
		san = "-fsanitize=address,undefined";
	return 0;
}

static int suite_teardown(void)
{
	nftw(dest, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(work, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_install_puts_every_file(void)
{
	CU_ASSERT_EQUAL_FATAL(make("install"), 0);
	CU_ASSERT(is_file(in_dest("/usr/sbin/phantompoold"), 0755));
	CU_ASSERT(is_file(in_dest("/usr/bin/phantompool-shmdump"), 0755));
	char path[PATH_MAX];
	snprintf(path, sizeof path, "/usr/lib/%s", real_name);
	CU_ASSERT(is_file(in_dest(path), 0755));
	CU_ASSERT(is_link_to(in_dest("/usr/lib/libphantompool.so.1"), real_name));
	CU_ASSERT(is_link_to(in_dest("/usr/lib/libphantompool.so"), "libphantompool.so.1"));
	CU_ASSERT(is_file(in_dest("/usr/lib/libphantompool.a"), 0644));
	CU_ASSERT(is_file(in_dest("/usr/include/phantompool.h"), 0644));
	CU_ASSERT(is_file(in_dest("/usr/lib/pkgconfig/phantompool.pc"), 0644));
	CU_ASSERT(is_file(in_dest("/usr/share/man/man8/phantompoold.8"), 0644));
	CU_ASSERT(is_file(in_dest("/usr/share/man/man1/phantompool-shmdump.1"), 0644));
	CU_ASSERT(is_file(in_dest("/usr/share/man/man3/phantompool.3"), 0644));
	CU_ASSERT(is_file(in_dest("/usr/share/man/man3/pp_attach.3"), 0644));
	CU_ASSERT(file_has(in_dest("/usr/share/man/man3/pp_tx_rollback.3"), ".so man3/phantompool.3"));
	CU_ASSERT(is_file(in_dest("/usr/share/doc/phantompool/phantompoold.conf"), 0644));
	CU_ASSERT(is_file(in_dest("/etc/phantompool/phantompoold.conf"), 0644)); /* SYSCONFDIR /etc for /usr */
	CU_ASSERT(is_file(in_dest("/usr/lib/systemd/system/phantompoold.service"), 0644));
	CU_ASSERT(file_has(in_dest("/usr/lib/systemd/system/phantompoold.service"),
			   "ExecStart=/usr/sbin/phantompoold -f -c /etc/phantompool/phantompoold.conf"));
	CU_ASSERT(file_has(in_dest("/usr/lib/pkgconfig/phantompool.pc"), "libdir=${prefix}/lib"));
	/* The soname the real file carries is the link's name. */
	snprintf(path, sizeof path, "/usr/lib/%s", real_name);
	CU_ASSERT_EQUAL(sh("readelf -d %s | grep -F '[libphantompool.so.1]'", in_dest(path)), 0);
	/* Installing again over it works (and keeps the config). */
	CU_ASSERT_EQUAL(make("install"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_output(), "keeping"));
}

/* The functions include/phantompool.h marks PP_EXPORT, as one string
 * " pp_a pp_b ... " (each name followed by a space).  Returns how many. */
static int header_exports(char *out, size_t cap)
{
	FILE *f = fopen("include/phantompool.h", "r");
	static char text[131072];
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = 0;
	int count = 0;
	size_t len = (size_t)snprintf(out, cap, " ");
	/* The declared name: the first pp_ word followed by '(' on the line
	 * (the return type may be a pp_ word too); the macro's own #define
	 * lines have none. */
	for (char *p = strstr(text, "PP_EXPORT"); p; p = strstr(p + 1, "PP_EXPORT")) {
		char *nl = strchr(p, '\n'), *q = strstr(p, "pp_");
		while (q && (!nl || q < nl)) {
			size_t k = strspn(q, "abcdefghijklmnopqrstuvwxyz0123456789_");
			if (q[k] == '(') {
				len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%.*s ", (int)k, q);
				count++;
				break;
			}
			q = strstr(q + k, "pp_");
		}
	}
	return count;
}

/* The library exports exactly the header's PP_EXPORT functions: none of
 * the internal pp_ring_*, pp_frame_*, pp_seg_* ... (they would be callable
 * and interposable by programs, and cost a PLT resolution each). */
static void test_exports_exactly_the_api(void)
{
	char path[PATH_MAX];
	static char api[16384];
	int napi = header_exports(api, sizeof api);
	CU_ASSERT(napi >= 30);
	snprintf(path, sizeof path, "%s/usr/lib/%s", dest, real_name);
	CU_ASSERT_EQUAL_FATAL(sh("nm -D --defined-only %s", path), 0);
	static char out[65536];
	snprintf(out, sizeof out, "%s", last_output());
	int exported = 0, extra = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char addr[64], type[8], name[256], key[260];
		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
			continue;
		if (strcmp(type, "A") == 0 && strncmp(name, "PHANTOMPOOL_", 12) == 0)
			continue; /* the version node of phantompool.map */
		char *at = strchr(name, '@');
		if (at)
			*at = 0;
		snprintf(key, sizeof key, " %s ", name);
		if (strstr(api, key)) {
			exported++;
		} else {
			fprintf(stderr, "  exported, not in the API: %s\n", name);
			extra++;
		}
	}
	CU_ASSERT_EQUAL(extra, 0);
	CU_ASSERT_EQUAL(exported, napi); /* and every API function is there */
}

/* Write text to work/name; the path goes to path.  Returns 0 or -1. */
static int write_source(char *path, size_t cap, const char *name, const char *text)
{
	snprintf(path, cap, "%s/%s", work, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int bad = fputs(text, f) < 0;
	return (fclose(f) != 0 || bad) ? -1 : 0;
}

static const char consumer[] =
	"#include <phantompool.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"\tpp_pool *p;\n"
	"\tint r = pp_attach(argv[1], &p);\n"
	"\tconst char *d = pp_error_detail();\n"
	"\tprintf(\"%d %d %s: %s\\n\", pp_version(), r, pp_strerror(r), d ? d : \"(no detail)\");\n"
	"\tint abi = pp_abi_size(PP_ABI_REQ) == sizeof(pp_req) && pp_abi_size(PP_ABI_RESP) == sizeof(pp_resp) &&\n"
	"\t\tpp_abi_size(PP_ABI_HEADER) == sizeof(pp_header) && pp_abi_size(PP_ABI_STATUS) == sizeof(pp_pool_status) &&\n"
	"\t\tpp_abi_size(PP_ABI_COLUMN) == sizeof(pp_column) && pp_abi_size(0) == 0 && pp_abi_size(99) == 0;\n"
	"\treturn argc == 2 && abi && pp_version() == PP_VERSION_NUMBER && r == PP_ENOPOOL &&\n"
	"\t\td && argc == 2 && strstr(d, argv[1]) ? 0 : 1;\n"
	"}\n";

static void test_pkg_config_consumer(void)
{
	char pool[64];
	snprintf(pool, sizeof pool, "%s", pp_test_pool_name("nopool"));
	CU_ASSERT_EQUAL_FATAL(sh("pkg-config --modversion phantompool"), 0);
	char want[32];
	snprintf(want, sizeof want, "%d.%d.%d\n", PP_VERSION_MAJOR, PP_VERSION_MINOR, PP_VERSION_PATCH);
	CU_ASSERT_STRING_EQUAL(last_output(), want); /* Makefile VERSION = header version */
	char src[PATH_MAX];
	CU_ASSERT_EQUAL_FATAL(write_source(src, sizeof src, "consumer.c", consumer), 0);
	/* Shared: the installed header and library, found by pkg-config. */
	CU_ASSERT_EQUAL(sh("cc %s -Wall -Werror -o %s/shared %s $(pkg-config --cflags --libs phantompool)", san, work,
			   src), 0);
	CU_ASSERT_EQUAL(sh("LD_LIBRARY_PATH=%s/usr/lib %s/shared %s", dest, work, pool), 0);
	CU_ASSERT_EQUAL(sh("LD_LIBRARY_PATH=%s/usr/lib LD_TRACE_LOADED_OBJECTS=1 %s/shared | grep -F '%s/usr/lib/libphantompool.so.1'",
			   dest, work, dest), 0);
	/* Static: libphantompool.a plus the Libs.private / Requires.private. */
	CU_ASSERT_EQUAL(sh("cc %s -Wall -Werror -o %s/static %s $(pkg-config --cflags phantompool) -L%s/usr/lib "
			   "-Wl,-Bstatic -lphantompool -Wl,-Bdynamic "
			   "$(pkg-config --static --libs phantompool | sed 's/-lphantompool//')",
			   san, work, src, dest), 0);
	CU_ASSERT_EQUAL(sh("%s/static %s", work, pool), 0);
	CU_ASSERT_EQUAL(sh("! LD_TRACE_LOADED_OBJECTS=1 %s/static | grep libphantompool", work), 0);
	/* The README's line for CGI programs: the archive and msgpack-c's, so
	 * neither library is loaded at run time. */
	CU_ASSERT_EQUAL(sh("cc %s -Wall -Werror -o %s/cgi %s $(pkg-config --cflags phantompool) %s/usr/lib/libphantompool.a "
			   "-l:libmsgpackc.a -pthread",
			   san, work, src, dest), 0);
	CU_ASSERT_EQUAL(sh("%s/cgi %s", work, pool), 0);
	CU_ASSERT_EQUAL(sh("! LD_TRACE_LOADED_OBJECTS=1 %s/cgi | grep -E 'libphantompool|libmsgpack'", work), 0);
	/* make installcheck does the same from make. */
	char target[128];
	snprintf(target, sizeof target, "installcheck%s%s%s", *san ? " SAN='" : "", san, *san ? "'" : "");
	CU_ASSERT_EQUAL(make(target), 0);
}

/* A program using the typed helpers: argv[1] "ok" (jansson loads: a NULL
 * pool is the first error) or "nolib" (it cannot: PP_ENOLIB before
 * anything is sent); a helper without JSON works either way. */
static const char json_consumer[] =
	"#include <phantompool.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"\tpp_resp resp;\n"
	"\tchar id[64];\n"
	"\tint want = argc == 2 && strcmp(argv[1], \"ok\") == 0 ? PP_EINVAL : PP_ENOLIB;\n"
	"\tint a = pp_insert(NULL, \"db\", \"t\", \"{\\\"a\\\": 1}\", &resp);\n"
	"\tint b = pp_query(NULL, \"db\", \"SELECT 1\", NULL, &resp);\n"
	"\tint c = pp_tx_begin(NULL, id, sizeof id, &resp);\n"
	"\tint d = pp_health(NULL, &resp);\n"
	"\tprintf(\"%d %d %d %d (want %d): %s\\n\", a, b, c, d, want, pp_strerror(a));\n"
	"\treturn a == want && b == want && c == want && d == PP_EINVAL ? 0 : 1;\n"
	"}\n";

/* libphantompool.so loads libjansson only when a helper needs JSON: a
 * program that never does starts without it, and one whose libjansson
 * cannot be loaded gets PP_ENOLIB from exactly those helpers. */
static void test_jansson_loaded_on_use(void)
{
	char src[PATH_MAX];
	CU_ASSERT_EQUAL_FATAL(write_source(src, sizeof src, "json_consumer.c", json_consumer), 0);
	CU_ASSERT_EQUAL_FATAL(sh("cc %s -Wall -Werror -o %s/json_consumer %s $(pkg-config --cflags --libs phantompool)",
				 san, work, src), 0);
	CU_ASSERT_EQUAL(sh("! LD_LIBRARY_PATH=%s/usr/lib LD_TRACE_LOADED_OBJECTS=1 %s/json_consumer | grep jansson",
			   dest, work), 0);
	CU_ASSERT_EQUAL(sh("LD_LIBRARY_PATH=%s/usr/lib %s/json_consumer ok", dest, work), 0);
	/* A libjansson.so.4 that is not a library, found first. */
	CU_ASSERT_EQUAL_FATAL(sh("mkdir -p %s/badlib && echo 'not a library' > %s/badlib/libjansson.so.4", work, work), 0);
	CU_ASSERT_EQUAL(sh("LD_LIBRARY_PATH=%s/usr/lib:%s/badlib %s/json_consumer nolib", dest, work, work), 0);
	CU_ASSERT_STRING_EQUAL(last_output(), "-22 -22 -22 -1 (want -22): a library the call needs is missing (libjansson.so.4)\n");
}

/* The man pages render without a warning (when groff is here). */
static void test_man_pages_clean(void)
{
	static const char *const pages[] = { "/usr/share/man/man8/phantompoold.8",
					     "/usr/share/man/man1/phantompool-shmdump.1",
					     "/usr/share/man/man3/phantompool.3" };
	if (sh("command -v groff") != 0) {
		fprintf(stderr, "  (groff not installed: man pages not rendered) ");
		return;
	}
	for (size_t i = 0; i < PP_ARRAY_LEN(pages); i++) {
		CU_ASSERT_EQUAL(sh("LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z %s 2>&1 | tee /dev/stderr | wc -c | grep -qx 0",
				   in_dest(pages[i])), 0);
	}
}

/* Undo the man(7) escapes used in the EXAMPLE of phantompool(3). */
static int unescape_roff(const char *in, FILE *out)
{
	for (const char *p = in; *p; p++) {
		if (*p != '\\') {
			putc(*p, out);
			continue;
		}
		p++;
		if (*p == 'e')
			putc('\\', out);
		else if (*p == '-')
			putc('-', out);
		else if (*p == '&')
			;
		else if (strncmp(p, "(aq", 3) == 0)
			putc('\'', out), p += 2;
		else if (strncmp(p, "(dq", 3) == 0)
			putc('"', out), p += 2;
		else
			return -1;
	}
	putc('\n', out);
	return 0;
}

/* The EXAMPLE of phantompool(3), as a file; returns 0. */
static int extract_example(const char *man, const char *out_path)
{
	FILE *in = fopen(man, "r"), *out = fopen(out_path, "w");
	char line[1024];
	int state = 0, lines = 0; /* 0 before, 1 inside, 2 after */
	while (in && out && state < 2 && fgets(line, sizeof line, in)) {
		line[strcspn(line, "\n")] = 0;
		if (strcmp(line, ".\\\" example-begin") == 0) {
			state = 1;
		} else if (strcmp(line, ".\\\" example-end") == 0) {
			state = 2;
		} else if (state == 1 && line[0] != '.') {
			if (unescape_roff(line, out) < 0)
				state = 3;
			lines++;
		}
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	return state == 2 && lines > 10 ? 0 : -1;
}

static void test_man_example_compiles(void)
{
	char src[PATH_MAX], pool[64];
	snprintf(src, sizeof src, "%s/example.c", work);
	snprintf(pool, sizeof pool, "%s", pp_test_pool_name("example"));
	CU_ASSERT_EQUAL_FATAL(extract_example(in_dest("/usr/share/man/man3/phantompool.3"), src), 0);
	CU_ASSERT_EQUAL_FATAL(sh("cc %s -std=c99 -Wall -Wextra -Werror -pedantic -o %s/example %s "
				 "$(pkg-config --cflags --libs phantompool)",
				 san, work, src), 0);
	/* No daemon serves this pool: the example says so and exits 2. */
	CU_ASSERT_EQUAL(sh("LD_LIBRARY_PATH=%s/usr/lib %s/example %s; test $? -eq 2", dest, work, pool), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_output(), "no such pool"));
}

static void test_uninstall_leaves_nothing(void)
{
	/* An edited config survives uninstall; everything else goes. */
	FILE *f = fopen(in_dest("/etc/phantompool/phantompoold.conf"), "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("max = 3\n", f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(make("uninstall"), 0);
	CU_ASSERT(is_file(in_dest("/etc/phantompool/phantompoold.conf"), 0));
	CU_ASSERT_PTR_NOT_NULL(strstr(last_output(), "(edited)"));
	unlink(in_dest("/etc/phantompool/phantompoold.conf"));
	leftovers = 0;
	nftw(dest, count_left, 16, FTW_PHYS);
	CU_ASSERT_EQUAL(leftovers, 0);
	/* An unedited config is removed with the rest. */
	CU_ASSERT_EQUAL_FATAL(make("install"), 0);
	CU_ASSERT_EQUAL_FATAL(make("uninstall"), 0);
	leftovers = 0;
	nftw(dest, count_left, 16, FTW_PHYS);
	CU_ASSERT_EQUAL(leftovers, 0);
}

int main(void)
{
	static const struct pp_test tests[] = {
		{ "make install puts every file in place", test_install_puts_every_file },
		{ "the library exports exactly the API", test_exports_exactly_the_api },
		{ "a pkg-config consumer builds and runs (shared, static)", test_pkg_config_consumer },
		{ "libjansson is loaded only when a helper needs JSON", test_jansson_loaded_on_use },
		{ "the installed man pages render without warnings", test_man_pages_clean },
		{ "the EXAMPLE of phantompool(3) compiles and runs", test_man_example_compiles },
		{ "make uninstall leaves no file behind", test_uninstall_leaves_nothing },
	};
	return pp_test_main("install", tests, PP_ARRAY_LEN(tests), suite_setup, suite_teardown);
}
