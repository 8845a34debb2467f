/* fcgi_curl.c - examples/fastcgi/pp_fcgi.c's twin without the pool: each
 * FastCGI worker keeps one libcurl handle, hence one keep-alive connection
 * to PhantomDB, for its whole life (the usual way; bench-deploy compares). */
#include <fcgi_stdio.h>

#include "curlapp.h"

int main(void)
{
	static char body[32768];
	const char *base = curlapp_base();

	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	if (!c)
		return 1;
	while (FCGI_Accept() >= 0) {
		int status = curlapp_handle(c, base, getenv("QUERY_STRING"), body, sizeof body);
		printf("Status: %d\r\nContent-Type: application/json\r\n\r\n%s", status, body);
	}
	curl_easy_cleanup(c);
	return 0;
}
