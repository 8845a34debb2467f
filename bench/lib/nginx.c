/* nginx.c - nginx configs rendered from bench/nginx/NAME.conf.in into the
 * run's temp dir, the self-signed certificate, stub_status probes. */
#include "../harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *nginx_binary(void)
{
	static const char *const where[] = { "/usr/sbin/nginx", "/usr/local/sbin/nginx",
					     "/usr/bin/nginx", "/usr/local/nginx/sbin/nginx" };
	const char *env = getenv("BENCH_NGINX");
	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

int make_cert(const char *dir)
{
	/* RSA 2048 unless BENCH_TLS_KEY says otherwise (e.g. "ec"): the usual
	 * `openssl req -newkey rsa:2048` self-signed certificate. */
	const char *kind = getenv("BENCH_TLS_KEY");
	const char *newkey = kind && !strcmp(kind, "ec") ? "ec -pkeyopt ec_paramgen_curve:prime256v1"
							  : "rsa:2048";
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey %s -nodes -keyout '%s/key.pem' -out '%s/cert.pem' "
		 "-days 2 -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' "
		 ">'%s/openssl.log' 2>&1",
		 newkey, dir, dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

int render_template(const char *tmpl, const char *out, const char *const *keys,
		    const char *const *vals)
{
	FILE *in = fopen(tmpl, "r");
	if (!in) {
		fprintf(stderr, "bench: cannot read %s\n", tmpl);
		return -1;
	}
	FILE *o = fopen(out, "w");
	if (!o) {
		fclose(in);
		return -1;
	}
	char line[4096];
	int bad = 0;
	while (fgets(line, sizeof line, in)) {
		const char *p = line;
		while (*p) {
			const char *at = strchr(p, '@');
			const char *end = at ? strchr(at + 1, '@') : NULL;
			if (!at || !end) {
				fputs(p, o);
				break;
			}
			fwrite(p, 1, (size_t)(at - p), o);
			size_t klen = (size_t)(end - at - 1);
			int found = 0;
			for (int i = 0; keys[i]; i++)
				if (strlen(keys[i]) == klen && !strncmp(keys[i], at + 1, klen)) {
					fputs(vals[i], o);
					found = 1;
				}
			if (!found) {
				fprintf(stderr, "bench: %s: unknown placeholder @%.*s@\n", tmpl, (int)klen, at + 1);
				bad = 1;
			}
			p = end + 1;
		}
	}
	fclose(in);
	return fclose(o) == 0 && !bad ? 0 : -1;
}

int nginx_conns(int port, long *accepts, long *active)
{
	/* Every probe is an accepted connection too: count ours per port. */
	static int probe_port;
	static long probes;
	if (port != probe_port) {
		probe_port = port;
		probes = 0;
	}
	probes++;
	char buf[1024];
	if (http_get_raw(port, NULL, "/_status", buf, sizeof buf) != 200)
		return -1;
	/* "Active connections: 1 \nserver accepts handled requests\n 5 5 9 \n" */
	long act, acc, handled, reqs;
	const char *p = strstr(buf, "Active connections:");
	const char *q = strstr(buf, "requests");
	if (!p || !q || sscanf(p, "Active connections: %ld", &act) != 1 ||
	    sscanf(q + 8, "%ld %ld %ld", &acc, &handled, &reqs) != 3)
		return -1;
	if (accepts)
		*accepts = acc - probes; /* leave out our probes, this one too */
	if (active)
		*active = act - 1;
	return 0;
}
