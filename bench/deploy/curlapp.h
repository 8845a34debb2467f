/* curlapp.h - the benchmarks' "usual way" twin of examples/common/ppapp.h:
 * the same application (GET ?n=N -> POST /databases/demo/query
 * {"query":"SELECT ? AS n","parameters":[N]}, answer {"n":N,...,"db":...})
 * over libcurl straight to PhantomDB at $PHANTOMDB_URL, with no pool.
 * fcgi_curl.c keeps one handle (one keep-alive connection) per worker;
 * cgi_curl.c opens a new one every run.  The database "demo" must exist
 * (tests/deploy/bench creates it).  Header-only: each program includes it
 * once. */
#ifndef CURLAPP_H
#define CURLAPP_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct curlapp_buf {
	char data[16384];
	size_t len;
};

static size_t curlapp_collect(char *p, size_t s, size_t n, void *u)
{
	struct curlapp_buf *b = u;
	size_t k = s * n, room = sizeof b->data - 1 - b->len;

	memcpy(b->data + b->len, p, k < room ? k : room);
	b->len += k < room ? k : room;
	b->data[b->len] = 0;
	return k;
}

/* $PHANTOMDB_URL, read once at start: a FastCGI worker's getenv() sees
 * the request's parameters after FCGI_Accept(), not its own environment. */
static const char *curlapp_base(void)
{
	const char *base = getenv("PHANTOMDB_URL");

	return base && *base ? base : "http://127.0.0.1:8080";
}

/* One request on handle c (kept by the caller: reused = keep-alive) to
 * PhantomDB at base. */
static int curlapp_handle(CURL *c, const char *base, const char *query, char *out, size_t outsz)
{
	static struct curlapp_buf b;
	static char url[1024], body[128];
	const char *q = query ? strstr(query, "n=") : NULL;
	long n = q ? strtol(q + 2, NULL, 10) : 0, code = 0;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

	snprintf(url, sizeof url, "%s/databases/demo/query", base);
	snprintf(body, sizeof body, "{\"query\":\"SELECT ? AS n\",\"parameters\":[%ld]}", n);
	b.len = 0;
	b.data[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curlapp_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK || code / 100 != 2) {
		snprintf(out, outsz, "{\"error\":\"%s\",\"status\":%ld}\n",
			 rc != CURLE_OK ? curl_easy_strerror(rc) : "PhantomDB error", code);
		return 502;
	}
	snprintf(out, outsz, "{\"n\":%ld,\"pid\":%ld,\"uid\":%ld,\"gid\":%ld,\"slot\":-1,\"db\":%s}\n",
		 n, (long)getpid(), (long)getuid(), (long)getgid(), b.data);
	return 200;
}

#endif
