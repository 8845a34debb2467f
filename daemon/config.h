/* config.h - the config file reader: INI text through libinih, with the
 * line number of every key and every syntax error.
 *
 * The reader knows the INI syntax, not the options: it hands each
 * "key = value" to a callback with its line number, and reports what is
 * not INI (a line without '=', a bad section header, a section other than
 * the one accepted, a line too long for libinih, a NUL byte) through an
 * error callback.  daemon/options.c turns keys into settings.
 *
 * Syntax (see phantompoold(8)): "key = value" lines, optionally under one
 * "[section]" header (keys before any header count as in it); leading
 * blanks are ignored (an indented line is never a continuation); comment
 * lines start with ';' or '#'; " ;" starts a comment after a value; lines
 * longer than libinih's buffer (199 characters) are refused.
 */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include <stddef.h>

struct pd_config_reader {
	const char *section;  /* the one section accepted, e.g. "pool" */
	/* One key: returns 0, or -1 when it reported an error itself. */
	int (*on_key)(void *ctx, const char *key, const char *value, int line);
	/* One syntax error at line (0: the file as a whole). */
	void (*on_error)(void *ctx, int line, const char *reason);
	void *ctx;
};

#define PD_CONFIG_MAX_BYTES (1 << 20) /* a config file's size at most */

/* Read the INI file at path.  Returns 0 when every line was read and
 * every key accepted, -1 when at least one error was reported (the
 * reading goes on after an error, so every error is reported once).
 * A file that cannot be opened or read, is no regular file (a directory,
 * FIFO, device or socket: never waited for) or is larger than
 * PD_CONFIG_MAX_BYTES is reported as line 0. */
int pd_config_read_file(const char *path, const struct pd_config_reader *r);

/* Same over len bytes of text (which need not be NUL-terminated and may
 * hold NUL bytes): for tests and the fuzzer. */
int pd_config_read_text(const char *text, size_t len, const struct pd_config_reader *r);

#endif
