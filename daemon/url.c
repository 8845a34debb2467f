/* url.c - see url.h. */
#include "url.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

const char *pd_url_parse(const char *base_url, CURLU **out)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	if (!u)
		return "out of memory";
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, base_url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	const char *why = rc != CURLUE_OK ? curl_url_strerror(rc) : NULL;
	if (!why && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		why = "not http or https";
	curl_free(scheme);
	if (why || !out)
		curl_url_cleanup(u);
	else
		*out = u;
	return why;
}

CURLU *pd_url_base(const char *base_url)
{
	CURLU *u = NULL;
	const char *why = pd_url_parse(base_url, &u);
	if (why)
		pd_err("backend URL '%s' is not a valid http(s) URL: %s", base_url, why);
	return u;
}

/* Base path without its trailing '/' joined with the request path. */
static char *join_path(const CURLU *base, const char *path, size_t plen)
{
	char *bp = NULL;
	if (curl_url_get((CURLU *)base, CURLUPART_PATH, &bp, 0) != CURLUE_OK)
		return NULL;
	size_t bl = strlen(bp);
	while (bl > 0 && bp[bl - 1] == '/')
		bl--;
	char *out = malloc(bl + plen + 1);
	if (out) {
		memcpy(out, bp, bl);
		memcpy(out + bl, path, plen);
		out[bl + plen] = 0;
	}
	curl_free(bp);
	return out;
}

CURLU *pd_url_join(const CURLU *base, const char *path, size_t len)
{
	const char *q = memchr(path, '?', len);
	size_t plen = q ? (size_t)(q - path) : len;
	CURLU *u = curl_url_dup((CURLU *)base);
	char *full = u ? join_path(base, path, plen) : NULL;
	char *query = q ? strndup(q + 1, len - plen - 1) : NULL;
	/* PATH_AS_IS: the path is sent exactly as the worker escaped it. */
	CURLUcode rc = full ? curl_url_set(u, CURLUPART_PATH, full, CURLU_PATH_AS_IS) : CURLUE_OUT_OF_MEMORY;
	if (rc == CURLUE_OK)
		rc = curl_url_set(u, CURLUPART_QUERY, query && *query ? query : NULL, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	free(full);
	free(query);
	if (rc != CURLUE_OK) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}
