/* answer.h - how the bench CGI programs write their answer: one write of
 * the CGI header and the body, as cgi_noop writes its fixed answer, so
 * that the programs differ only in how they get the body (stdio would add
 * its buffer, its first-use code pages and an fstat and an ioctl of stdout
 * to every run).  The same libc function as cgi_noop's, too: a fresh
 * process's first call of another one (writev) costs it 10-17 us of
 * page faults on the benchmark host (docs/BENCHMARKS.md, "Runs 21 and
 * 22").  An answer larger than the stack buffer goes out with writev.
 * Returns 0, or -1 if the write fell short. */
#ifndef PP_BENCH_CGI_ANSWER_H
#define PP_BENCH_CGI_ANSWER_H

#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static inline int cgi_answer(long status, const char *ctype, const char *body, size_t len)
{
	enum { HEAD_MAX = 128 };
	char all[4096];
	memcpy(all, "Status: ", 8);
	size_t n = 8;
	char digits[24];
	int k = 0;
	unsigned long v = status > 0 ? (unsigned long)status : 0;
	do
		digits[k++] = (char)('0' + v % 10);
	while ((v /= 10) && k < (int)sizeof digits);
	while (k)
		all[n++] = digits[--k];
	size_t cl = strlen(ctype);
	if (cl > HEAD_MAX - n - 24)
		cl = HEAD_MAX - n - 24;
	memcpy(all + n, "\r\nContent-Type: ", 16);
	n += 16;
	memcpy(all + n, ctype, cl);
	n += cl;
	memcpy(all + n, "\r\n\r\n", 4);
	n += 4;
	if (n + len <= sizeof all) {
		memcpy(all + n, body, len);
		return write(1, all, n + len) == (ssize_t)(n + len) ? 0 : -1;
	}
	struct iovec io[2] = { { all, n }, { (void *)body, len } };
	ssize_t w = writev(1, io, len ? 2 : 1);
	return w == (ssize_t)(n + len) ? 0 : -1;
}

#endif
