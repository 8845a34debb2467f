/* curl.c - the modes where the worker owns a libcurl handle:
 *   direct_ka   one keep-alive connection per worker to the backend
 *   direct_new  a new connection per request (CURLOPT_FORBID_REUSE on one
 *               handle, so a TLS session may be resumed: the kindest case)
 *   proxy       keep-alive over a unix socket to the local nginx proxy,
 *               which keeps its own upstream keep-alive pool
 *   direct_web  a "web request" on the keep-alive handle: WEB_QUERIES
 *               requests with WEB_WORK_US of work between them */
#include "../harness.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int curl_mode_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

const char *curl_mode_version(void)
{
	return curl_version();
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static int curl_setup(struct wctx *w, int forbid_reuse)
{
	const struct target *t = w->t;
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(w->errbuf, sizeof w->errbuf, "curl_easy_init failed");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->errbuf);
	if (t->unix_path[0])
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, t->unix_path);
	if (t->tls) {
		if (t->verify) {
			/* Trust exactly the bench's self-signed certificate. */
			curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		} else {
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		}
	}
	if (forbid_reuse)
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	w->curl = c;
	return 0;
}

int curl_ka_init(struct wctx *w)
{
	return curl_setup(w, 0);
}

int curl_ka_open(struct wctx *w)
{
	uint64_t unused = 0;
	return curl_ka_init(w) != 0 ? -1 : curl_request(w, &unused);
}

int curl_new_init(struct wctx *w)
{
	return curl_setup(w, 1);
}

int curl_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	(void)lease_wait_ns;
	CURL *c = w->curl;
	w->errbuf[0] = 0;
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		if (!w->errbuf[0])
			snprintf(w->errbuf, sizeof w->errbuf, "%s", curl_easy_strerror(rc));
		return -1;
	}
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		snprintf(w->errbuf, sizeof w->errbuf, "HTTP status %ld", code);
		return -1;
	}
	return 0;
}

int curl_web_request(struct wctx *w, uint64_t *lease_wait_ns)
{
	for (int q = 0; q < WEB_QUERIES; q++) {
		if (q)
			usleep(WEB_WORK_US);
		if (curl_request(w, lease_wait_ns) != 0)
			return -1;
	}
	return 0;
}

void curl_fini(struct wctx *w)
{
	if (w->curl)
		curl_easy_cleanup(w->curl);
	w->curl = NULL;
}
