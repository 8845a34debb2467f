/* main.c - phantomdb-ref: a small PhantomDB-compatible HTTP server for the
 * phantompool tests and demo (SQLite in memory, libmicrohttpd, jansson).
 *
 *   phantomdb-ref [--port N] [--bind 127.0.0.1] [--port-file FILE]
 *                 [--token TOKEN] [--idle-timeout SEC] [--quiet]
 *                 [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
 *                 [--debug-port N]
 *
 * Once listening it prints "listening ADDR:PORT" on stdout ("listening
 * https://ADDR:PORT" with --tls-cert), then, with --debug-port, a second
 * line "debug listening ADDR:PORT" (the plain-HTTP debug port), flushed;
 * with --port-file it writes "PORT\n" (the main port) to FILE (atomically,
 * via rename).
 *
 * --tls-cert/--tls-key (PEM files) serve HTTPS on the main port;
 * --tls-client-ca (PEM) also requires a client certificate that verifies
 * against it (403 otherwise).  --debug-port N (0: ephemeral) adds a plain
 * HTTP port serving the same routes whose connections are not counted:
 * GET /_debug/connections there reports the main (TLS) port's connections
 * without a TLS handshake.
 * SIGTERM/SIGINT stop it with exit status 0; bad usage exits 2, a failure
 * to listen 1.
 */
#include "server.h"
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct server_opts opts = { .bind = "127.0.0.1", .debug_port = -1 };
static const char *port_file, *tls_cert_file, *tls_key_file, *tls_client_ca_file;

/* Parse a decimal unsigned in [0, max] into *out; -1 if malformed. */
static int parse_uint(const char *v, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (!*v || *end || errno || x > max || *v == '-')
		return -1;
	*out = (unsigned)x;
	return 0;
}

static int set_port(const char *v) { return parse_uint(v, 65535, &opts.port); }
static int set_idle(const char *v) { return parse_uint(v, 86400, &opts.idle_timeout); }
static int set_token(const char *v) { opts.token = v; return 0; }
static int set_port_file(const char *v) { port_file = v; return 0; }
static int set_quiet(const char *v) { (void)v; opts.quiet = 1; return 0; }
static int set_tls_cert(const char *v) { tls_cert_file = v; return 0; }
static int set_tls_key(const char *v) { tls_key_file = v; return 0; }
static int set_tls_client_ca(const char *v) { tls_client_ca_file = v; return 0; }

static int set_debug_port(const char *v)
{
	unsigned p;

	if (parse_uint(v, 65535, &p) < 0)
		return -1;
	opts.debug_port = (int)p;
	return 0;
}

/* --bind accepts IPv4 loopback addresses (127.0.0.0/8) only. */
static int set_bind(const char *v)
{
	struct in_addr a;

	if (inet_pton(AF_INET, v, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
		return -1;
	opts.bind = v;
	return 0;
}

static const struct cli_option {
	const char *name;
	int has_arg;
	int (*set)(const char *v);
	const char *help;
} cli_options[] = {
	{ "--port", 1, set_port, "N        TCP port, 0 (default): ephemeral" },
	{ "--bind", 1, set_bind, "ADDR     loopback address (default 127.0.0.1)" },
	{ "--port-file", 1, set_port_file, "FILE write the bound port to FILE" },
	{ "--token", 1, set_token, "TOKEN   require Authorization: Bearer TOKEN" },
	{ "--idle-timeout", 1, set_idle, "SEC close idle connections (0: never)" },
	{ "--quiet", 0, set_quiet, "        no request log on stderr" },
	{ "--tls-cert", 1, set_tls_cert, "FILE   serve HTTPS with this certificate (PEM)" },
	{ "--tls-key", 1, set_tls_key, "FILE    its private key (PEM)" },
	{ "--tls-client-ca", 1, set_tls_client_ca, "FILE require client certificates from this CA (PEM)" },
	{ "--debug-port", 1, set_debug_port, "N    also serve plain HTTP here (0: ephemeral), uncounted" },
};

/* Print the usage to f. */
static void usage(FILE *f)
{
	fprintf(f, "usage: phantomdb-ref [options]\n");
	for (size_t i = 0; i < sizeof cli_options / sizeof cli_options[0]; i++)
		fprintf(f, "  %s %s\n", cli_options[i].name, cli_options[i].help);
}

/* Apply argv to opts; 0, 1 for --help, -1 on bad usage (reported). */
static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const struct cli_option *o = NULL;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
		for (size_t k = 0; k < sizeof cli_options / sizeof cli_options[0]; k++)
			if (!strcmp(argv[i], cli_options[k].name))
				o = &cli_options[k];
		if (!o || (o->has_arg && i + 1 >= argc)) {
			fprintf(stderr, "phantomdb-ref: bad option %s\n", argv[i]);
			return -1;
		}
		const char *v = o->has_arg ? argv[++i] : NULL;
		if (o->set(v) < 0) {
			fprintf(stderr, "phantomdb-ref: bad value for %s: %s\n", o->name, v);
			return -1;
		}
	}
	return 0;
}

/* Read the whole file path into a NUL-terminated buffer (kept for the
 * life of the process); NULL (reported) on error. */
static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "phantomdb-ref: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	do {
		if (len + 4096 + 1 > cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (ferror(f) || len == 0) {
		fprintf(stderr, "phantomdb-ref: cannot read %s (or it is empty)\n", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* Check the TLS options and load their files into opts; 0, or -1 for bad
 * usage (2), -2 for an unreadable file (1).  Reported on stderr. */
static int load_tls(void)
{
	if (!tls_cert_file && !tls_key_file && !tls_client_ca_file)
		return 0;
	if (!tls_cert_file || !tls_key_file) {
		fprintf(stderr, "phantomdb-ref: --tls-cert and --tls-key go together\n");
		return -1;
	}
	if (!(opts.tls_cert_pem = read_pem(tls_cert_file)) ||
	    !(opts.tls_key_pem = read_pem(tls_key_file)))
		return -2;
	if (tls_client_ca_file && !(opts.tls_client_ca_pem = read_pem(tls_client_ca_file)))
		return -2;
	return 0;
}

/* Write "port\n" to port_file via a temporary file and rename; 0 or -1. */
static int write_port_file(unsigned port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", port_file, (long)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, port_file) != 0) {
		remove(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t stop_signals;
	unsigned port, debug_port = 0;
	int rc = parse_args(argc, argv), sig;

	if (rc) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	if ((rc = load_tls()) < 0)
		return rc == -1 ? 2 : 1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);	/* threads inherit */
	if (server_start(&opts, &port, &debug_port) < 0)
		return 1;
	if (port_file && write_port_file(port) < 0)
		fprintf(stderr, "phantomdb-ref: cannot write %s\n", port_file);
	printf("listening %s%s:%u\n", opts.tls_cert_pem ? "https://" : "", opts.bind, port);
	if (opts.debug_port >= 0)
		printf("debug listening %s:%u\n", opts.bind, debug_port);
	fflush(stdout);
	while (sigwait(&stop_signals, &sig) != 0)
		;
	server_stop();
	store_close_all();
	return 0;
}
