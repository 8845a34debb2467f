/* policy.c - see policy.h. */
#include "policy.h"

#include <strings.h>

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
