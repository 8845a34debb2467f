/* url.h - request URLs from the configured base URL and a worker's path,
 * built with libcurl's URL API (never by pasting strings). */
#ifndef PD_URL_H
#define PD_URL_H

#include <curl/curl.h>
#include <stddef.h>

/* Parse and check the base URL (http or https, may carry a path prefix
 * such as /api/v1).  Returns a CURLU handle or NULL after logging why. */
CURLU *pd_url_base(const char *base_url);

/* A new CURLU for base + path (path: "/x/y?query", already validated by
 * pp_frame_path_ok and pp_path_segments_safe).  The base's path
 * prefix is kept: base http://h/api/v1 + /databases gives
 * http://h/api/v1/databases.  Returns NULL on failure. */
CURLU *pd_url_join(const CURLU *base, const char *path, size_t len);

#endif
