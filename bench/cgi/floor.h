/* floor.h - the one page bench_cgi_floor's connection owner and
 * cgi_floor share: the least any pool with a separate connection owner
 * needs for one request from a fresh process (docs/BENCHMARKS.md). */
#ifndef PP_BENCH_FLOOR_H
#define PP_BENCH_FLOOR_H

#include <stdatomic.h>
#include <stdint.h>

#define FLOOR_BODY_MAX 3072u

struct floor_page {
	_Atomic uint32_t req;  /* bumped by a CGI program: one request, futex-woken */
	_Atomic uint32_t resp; /* set to req by the owner when the body is there */
	uint32_t status;       /* 0: the owner failed the request */
	uint32_t len;
	char body[FLOOR_BODY_MAX];
};

#endif
