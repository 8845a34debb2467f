/* fuzz_config.c - libFuzzer target for the config file parser: the INI
 * reader (daemon/config.c over libinih) and the option table that turns
 * its keys into settings (daemon/options.c).
 *
 * Build and run (from the top of the tree):
 *   make build/libppshm.a      # pp_pool_resolve(), not instrumented
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Idaemon -Ishm -Iinclude fuzz/fuzz_config.c daemon/options.c daemon/config.c \
 *     daemon/url.c daemon/log.c \
 *     build/libppshm.a $(pkg-config --cflags --libs inih libbsd msgpack libcurl) -lrt \
 *     -o build/fuzz/fuzz_config
 *   mkdir -p build/fuzz/work_config
 *   build/fuzz/fuzz_config -max_total_time=60 build/fuzz/work_config fuzz/corpus/config
 *
 * Besides "no crash, no out-of-bounds access, no leak" (ASan) it checks
 * the loader's contract: the answer is 0 or -1; an accepted file yields
 * settings that pass every documented check (1..8 backends, backend_url =
 * backends[0], min <= max, ring size a power of two in range, strings
 * terminated inside their fields, a pidfile); and the settings printed
 * with pd_options_print() load again to the very same settings (when no
 * printed line is too long for a config file).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(const char *msg, void *ctx)
{
	(void)msg;
	(void)ctx;
}

static void differs(const char *name, bool live, void *ctx)
{
	(void)name;
	(void)live;
	(void)ctx;
	abort(); /* a printed setting did not load back to the same value */
}

static void check_terminated(const char *s, size_t size)
{
	if (!memchr(s, 0, size))
		abort();
}

static void check_settings(const struct pd_options *o)
{
	if (o->nbackends < 1 || o->nbackends > PD_MAX_BACKENDS)
		abort();
	for (uint32_t i = 0; i < o->nbackends; i++)
		check_terminated(o->backends[i], sizeof o->backends[i]);
	if (strcmp(o->backend_url, o->backends[0]) != 0)
		abort();
	if (o->min_conns > o->max_conns || o->max_conns < 1 || o->max_conns > PP_MAX_SLOTS)
		abort();
	if (o->ring_size < PP_RING_MIN || o->ring_size > PP_RING_MAX || (o->ring_size & (o->ring_size - 1)))
		abort();
	if (o->log_level < 0 || o->log_level > 3 || o->mode > 0777)
		abort();
	check_terminated(o->pool, sizeof o->pool);
	check_terminated(o->group, sizeof o->group);
	check_terminated(o->token_file, sizeof o->token_file);
	check_terminated(o->log_target, sizeof o->log_target);
	check_terminated(o->pidfile, sizeof o->pidfile);
	if (!*o->pool || !*o->pidfile)
		abort();
}

/* Print, load the print again, compare. */
static void check_round_trip(const struct pd_options *o)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	pd_options_print(o, f);
	fclose(f);
	bool fits = true;
	for (const char *p = text; fits && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fits = n < 199;
		p += n + (nl != NULL);
	}
	static struct pd_options again;
	if (fits) {
		if (pd_options_load_text(&again, text, len, "printed") != 0)
			abort();
		pd_options_diff(o, &again, differs, NULL);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pd_options o;
	pd_options_set_reporter(quiet, NULL);
	int rc = pd_options_load_text(&o, (const char *)data, size, "fuzz.conf");
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0) {
		check_settings(&o);
		check_round_trip(&o);
	}
	return 0;
}
