/* policy.c - see policy.h. */
#include "policy.h"

#include <string.h>
#include <strings.h>

#include "phantompool.h"

static const char *const allowed_headers[] = { "Content-Type", "Accept", "X-Request-Id" };

int pp_header_allowed(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof allowed_headers / sizeof allowed_headers[0]; i++) {
		const char *a = allowed_headers[i];
		size_t al = 0;
		while (a[al])
			al++;
		if (al == len && strncasecmp(a, name, len) == 0)
			return 1;
	}
	return 0;
}

int pp_path_segments_safe(const char *path, size_t len)
{
	size_t i = 0;
	while (i < len && path[i] != '?') {
		size_t j = i + 1; /* path[i] == '/' */
		while (j < len && path[j] != '/' && path[j] != '?')
			j++;
		size_t seg = j - i - 1;
		if ((seg == 1 && path[i + 1] == '.') || (seg == 2 && path[i + 1] == '.' && path[i + 2] == '.'))
			return 0;
		i = j;
	}
	return 1;
}

/* CONNECT (any case): a 2xx answer would make the backend connection a
 * tunnel, and the next exchange on it would go through that tunnel. */
static int method_is_connect(const char *m, size_t len)
{
	return len == 7 && strncasecmp(m, "CONNECT", 7) == 0;
}

static unsigned name_is(const struct pp_hdr *hd, const char *name)
{
	size_t n = strlen(name);
	return hd->name.len == n && strncasecmp(hd->name.ptr, name, n) == 0;
}

int pp_req_head_check(const struct pp_frame_req_head *h, uint64_t max_body)
{
	if (!pp_frame_method_ok(h->method.ptr, h->method.len) || method_is_connect(h->method.ptr, h->method.len))
		return PP_EBADMETHOD;
	if (!pp_frame_path_ok(h->path.ptr, h->path.len) || !pp_path_segments_safe(h->path.ptr, h->path.len))
		return PP_EBADPATH;
	if (h->nheaders > PP_FRAME_HEADERS_MAX)
		return PP_EBADHEADER;
	unsigned ctype = 0, reqid = 0;
	for (uint32_t i = 0; i < h->nheaders; i++) {
		const struct pp_hdr *hd = &h->headers[i];
		if (!pp_header_allowed(hd->name.ptr, hd->name.len) ||
		    !pp_frame_header_ok(hd->name.ptr, hd->name.len, hd->value.ptr, hd->value.len))
			return PP_EBADHEADER;
		ctype += name_is(hd, "Content-Type");
		reqid += name_is(hd, "X-Request-Id");
	}
	if (ctype > 1 || reqid > 1)
		return PP_EBADHEADER; /* single-valued: which one the backend reads is its choice */
	if (h->body_len < -1)
		return PP_EINVAL;
	if (max_body && h->body_len > (int64_t)max_body)
		return PP_ETOOBIG;
	return 0;
}
