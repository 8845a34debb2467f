/* urlpath.c - request paths with percent-escaped names (urlpath.h). */
#include "urlpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URLPATH_MIN_CAP 128

/* 1 if c is an RFC 3986 unreserved character (ALPHA DIGIT - . _ ~). */
static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Make room for extra more bytes plus the NUL.  Returns 0, or -1 (and sets
 * u->oom; the buffer is left as it was) when out of memory or already so. */
static int reserve(struct urlpath *u, size_t extra)
{
	if (u->oom)
		return -1;
	if (u->len + extra + 1 <= u->cap)
		return 0;
	size_t cap = u->cap ? u->cap : URLPATH_MIN_CAP;
	while (cap < u->len + extra + 1)
		cap *= 2;
	char *b = realloc(u->buf, cap);
	if (!b) {
		u->oom = 1;
		return -1;
	}
	u->buf = b;
	u->cap = cap;
	return 0;
}

/* Append n raw bytes of s. */
static void append_raw(struct urlpath *u, const char *s, size_t n)
{
	if (reserve(u, n) < 0)
		return;
	memcpy(u->buf + u->len, s, n);
	u->len += n;
	u->buf[u->len] = '\0';
}

/* Append the escaped form of s (rule of urlpath_escape). */
static void append_escaped(struct urlpath *u, const char *s)
{
	size_t n = strlen(s);

	if (reserve(u, 3 * n) < 0)
		return;
	u->len += urlpath_escape(u->buf + u->len, s, n);
}

size_t urlpath_escape(char *out, const char *in, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (is_unreserved(c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

void urlpath_init(struct urlpath *u)
{
	memset(u, 0, sizeof *u);
}

void urlpath_free(struct urlpath *u)
{
	free(u->buf);
	urlpath_init(u);
}

void urlpath_lit(struct urlpath *u, const char *s)
{
	append_raw(u, s, strlen(s));
}

void urlpath_litn(struct urlpath *u, const char *s, size_t n)
{
	append_raw(u, s, n);
}

void urlpath_seg(struct urlpath *u, const char *name)
{
	append_raw(u, "/", 1);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		for (const char *c = name; *c; c++)
			append_raw(u, "%2E", 3);
	else
		append_escaped(u, name);
}

void urlpath_query(struct urlpath *u, const char *key, const char *value)
{
	if (!value)
		return;
	append_raw(u, u->nquery++ ? "&" : "?", 1);
	urlpath_lit(u, key);
	append_raw(u, "=", 1);
	append_escaped(u, value);
}

void urlpath_query_long(struct urlpath *u, const char *key, long value)
{
	char num[24];

	snprintf(num, sizeof num, "%ld", value);
	urlpath_query(u, key, num);
}

const char *urlpath_str(const struct urlpath *u)
{
	return u->oom ? NULL : u->buf;
}
