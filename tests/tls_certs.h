/* tls_certs.h - throw-away TLS certificates for tests, made at test time
 * with the openssl command (Debian package "openssl"); nothing is
 * committed.
 *
 * Every certificate is self-signed (no CA), valid for 2 days, RSA 2048,
 * and can serve as its own CA file:
 *   server        CN=127.0.0.1, subjectAltName IP:127.0.0.1: what
 *                 https://127.0.0.1:PORT verifies against
 *   wrong_name    CN=wrong.invalid, subjectAltName DNS:wrong.invalid: a
 *                 trusted certificate with the wrong name for 127.0.0.1
 *   client        CN=phantompool-test-client: a client certificate
 */
#ifndef PP_TLS_CERTS_H
#define PP_TLS_CERTS_H

struct pp_tls_pair {
	char cert[96];		/* PEM certificate */
	char key[96];		/* PEM private key (unencrypted PKCS#8) */
};

struct pp_tls_certs {
	char dir[48];		/* the temporary directory holding them */
	struct pp_tls_pair server, wrong_name, client;
};

/* Make a temporary directory under /tmp and the three pairs in it.
 * Returns 0, or -1 (message on stderr; nothing left behind) when openssl
 * is missing or fails. */
int pp_tls_certs_make(struct pp_tls_certs *c);

/* Remove the files and the directory.  No-op if c->dir is empty. */
void pp_tls_certs_remove(struct pp_tls_certs *c);

#endif
