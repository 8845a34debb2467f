/* cgi_floor.c - the least a CGI program can do to get an answer through
 * a process that owns the backend connection: open and map one shared
 * page ($PP_FLOOR_SHM), bump the request word, wake the owner, sleep
 * until the answer word moves, write the answer out.  Links libc only,
 * like cgi_noop.  Run by bench_cgi_floor beside cgi_noop and cgi_static. */
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "floor.h"

int main(void)
{
	const char *name = getenv("PP_FLOOR_SHM");
	int fd = name ? shm_open(name, O_RDWR, 0) : -1;
	if (fd < 0)
		return 2;
	struct floor_page *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return 2;
	uint32_t r = atomic_load(&m->req) + 1, v;
	atomic_store(&m->req, r);
	syscall(SYS_futex, &m->req, FUTEX_WAKE, 1, NULL, NULL, 0);
	/* The owner stores resp, then wakes: a changed word ends the wait. */
	while ((v = atomic_load(&m->resp)) != r)
		syscall(SYS_futex, &m->resp, FUTEX_WAIT, v, NULL, NULL, 0);
	if (m->status != 200 || m->len > FLOOR_BODY_MAX)
		return 1;
	static const char head[] = "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n";
	char out[sizeof head + FLOOR_BODY_MAX];
	memcpy(out, head, sizeof head - 1);
	memcpy(out + sizeof head - 1, m->body, m->len);
	size_t n = sizeof head - 1 + m->len;
	return write(STDOUT_FILENO, out, n) == (ssize_t)n ? 0 : 1;
}
