/* pp_cgi.c - a CGI program that reaches PhantomDB through phantompool:
 * the application of examples/common/ppapp.h, one request per run.
 *
 * A CGI program starts for every web request, so it attaches, serves one
 * request and detaches: the attach is a shm_open + mmap of the segment
 * (no connection is opened: the daemon's stay warm).  It is linked with
 * the static library (mk/deploy.mk, as the README advises): at run time
 * it then loads libc only, which is most of what a CGI run costs here.
 *
 * The pool's name comes from $PHANTOMPOOL, which the web server must set
 * for its CGI programs explicitly (servers pass CGI programs a fresh
 * environment, not their own): lighttpd `setenv.add-environment`, Apache
 * `SetEnv PHANTOMPOOL ...` (docs/deploy/).  The program runs as the
 * server's user (www-data): the daemon runs with mode = 0660 and
 * group = www-data. */
#include <stdio.h>
#include <stdlib.h>

#include "../common/ppapp.h"

int main(void)
{
	static char body[65536];
	pp_pool *pool = NULL;

	if (ppapp_attach(NULL, &pool) != 0)	/* the reason goes to the server's error log */
		pool = NULL;
	int status = ppapp_handle(pool, getenv("QUERY_STRING"), body, sizeof body);
	printf("Status: %d\r\nContent-Type: application/json\r\n\r\n%s", status, body);
	pp_detach(pool);
	return 0;
}
