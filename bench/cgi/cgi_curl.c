/* cgi_curl.c - a CGI program that talks to PhantomDB directly: one libcurl
 * GET of $PP_BENCH_URL, a new connection every run.  Links libcurl only.
 *   PP_BENCH_URL      full URL of /health
 *   PP_BENCH_VERIFY   1: verify the peer against $PP_BENCH_CA; 0: no checks
 *   PP_BENCH_CA       CA file (the bench's self-signed certificate) */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"

struct buf {
	char data[4096];
	size_t len;
};

static size_t collect(char *p, size_t s, size_t n, void *u)
{
	struct buf *b = u;
	size_t k = s * n;
	size_t room = sizeof b->data - 1 - b->len;
	memcpy(b->data + b->len, p, k < room ? k : room);
	b->len += k < room ? k : room;
	return k;
}

int main(void)
{
	const char *url = getenv("PP_BENCH_URL");
	const char *verify = getenv("PP_BENCH_VERIFY");
	const char *ca = getenv("PP_BENCH_CA");
	if (!url)
		return 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 3;
	CURL *c = curl_easy_init();
	if (!c)
		return 3;
	static struct buf b;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	if (verify && !strcmp(verify, "1")) {
		if (ca && *ca)
			curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	} else if (!strncmp(url, "https:", 6)) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK)
		cgi_answer(502, "text/plain", curl_easy_strerror(rc), strlen(curl_easy_strerror(rc)));
	else
		cgi_answer(code, "application/json", b.data, b.len);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return code == 200 ? 0 : 1;
}
