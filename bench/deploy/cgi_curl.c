/* cgi_curl.c - examples/cgi/pp_cgi.c's twin without the pool: a new
 * libcurl connection to PhantomDB on every run (the usual way for CGI;
 * bench-deploy compares). */
#include "curlapp.h"

int main(void)
{
	static char body[32768];
	const char *base = curlapp_base();

	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	if (!c)
		return 1;
	int status = curlapp_handle(c, base, getenv("QUERY_STRING"), body, sizeof body);
	printf("Status: %d\r\nContent-Type: application/json\r\n\r\n%s", status, body);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return 0;
}
