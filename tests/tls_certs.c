/* tls_certs.c - throw-away TLS certificates made with openssl (tls_certs.h). */
#include "tls_certs.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CERT_DAYS "2"

/* Run "openssl req -x509 ..." for one self-signed pair; its output goes to
 * log_path.  0, or -1 (reported on stderr). */
static int make_pair(const struct pp_tls_pair *p, const char *subject, const char *san,
		     const char *log_path)
{
	char ext[128];
	const char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
			       "-keyout", p->key, "-out", p->cert, "-subj", subject,
			       "-days", CERT_DAYS, "-addext", ext, NULL };
	pid_t pid;
	int st;

	snprintf(ext, sizeof ext, "subjectAltName=%s", san);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	st = pp_test_wait_child(pid);
	if (st == 127)
		fprintf(stderr, "tls_certs: the openssl command is missing "
			"(Debian package openssl)\n");
	else if (st != 0)
		fprintf(stderr, "tls_certs: openssl req for %s exited with %d (see %s)\n",
			subject, st, log_path);
	return st == 0 ? 0 : -1;
}

/* Fill pair p with dir/<name>.crt and dir/<name>.key. */
static void pair_paths(struct pp_tls_pair *p, const char *dir, const char *name)
{
	snprintf(p->cert, sizeof p->cert, "%s/%s.crt", dir, name);
	snprintf(p->key, sizeof p->key, "%s/%s.key", dir, name);
}

int pp_tls_certs_make(struct pp_tls_certs *c)
{
	char log_path[96];

	memset(c, 0, sizeof *c);
	snprintf(c->dir, sizeof c->dir, "/tmp/pp-tls.XXXXXX");
	if (!mkdtemp(c->dir)) {
		perror("tls_certs: mkdtemp");
		c->dir[0] = '\0';
		return -1;
	}
	pair_paths(&c->server, c->dir, "server");
	pair_paths(&c->wrong_name, c->dir, "wrong-name");
	pair_paths(&c->client, c->dir, "client");
	snprintf(log_path, sizeof log_path, "%s/openssl.log", c->dir);
	if (make_pair(&c->server, "/CN=127.0.0.1", "IP:127.0.0.1", log_path) < 0 ||
	    make_pair(&c->wrong_name, "/CN=wrong.invalid", "DNS:wrong.invalid", log_path) < 0 ||
	    make_pair(&c->client, "/CN=phantompool-test-client", "DNS:phantompool-test-client",
		      log_path) < 0) {
		FILE *f = fopen(log_path, "r");
		char line[256];
		while (f && fgets(line, sizeof line, f))
			fprintf(stderr, "  openssl: %s", line);
		if (f)
			fclose(f);
		pp_tls_certs_remove(c);
		return -1;
	}
	return 0;
}

void pp_tls_certs_remove(struct pp_tls_certs *c)
{
	const struct pp_tls_pair *pairs[] = { &c->server, &c->wrong_name, &c->client };
	char log_path[96];

	if (!c->dir[0])
		return;
	for (size_t i = 0; i < PP_ARRAY_LEN(pairs); i++) {
		if (pairs[i]->cert[0])
			unlink(pairs[i]->cert);
		if (pairs[i]->key[0])
			unlink(pairs[i]->key);
	}
	snprintf(log_path, sizeof log_path, "%s/openssl.log", c->dir);
	unlink(log_path);
	rmdir(c->dir);
	c->dir[0] = '\0';
}
