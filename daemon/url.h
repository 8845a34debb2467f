/* url.h - request URLs from the configured base URL and a worker's path,
 * built with libcurl's URL API (never by pasting strings). */
#ifndef PD_URL_H
#define PD_URL_H

#include <curl/curl.h>
#include <stddef.h>

/* Does libcurl parse base_url as an http or https URL (which may carry a
 * path prefix such as /api/v1)?  Returns NULL, and the handle in *out
 * (freed if out is NULL), or why not (static text; nothing is logged).
 * The one test of a backend URL: the settings' check (options.c) and the
 * daemon's start and reload (pd_url_base) both make it. */
const char *pd_url_parse(const char *base_url, CURLU **out);

/* pd_url_parse, logging why on failure.  Returns a CURLU handle or NULL. */
CURLU *pd_url_base(const char *base_url);

/* A new CURLU for base + path (path: "/x/y?query", already validated by
 * pp_frame_path_ok and pp_path_segments_safe).  The base's path
 * prefix is kept: base http://h/api/v1 + /databases gives
 * http://h/api/v1/databases.  Returns NULL on failure. */
CURLU *pd_url_join(const CURLU *base, const char *path, size_t len);

#endif
