/* config.c - see config.h.
 *
 * libinih does the INI parsing; this file feeds it one physical line at a
 * time through ini_parse_stream() so that it knows the line number of
 * every key (the Debian build of libinih does not pass line numbers to
 * the handler), and so that it can refuse what libinih would accept
 * silently or garble: lines longer than its fixed buffer (libinih would
 * split them into two "lines"), indented continuation lines (a stray
 * indent would glue the next key onto the previous value), NUL bytes, and
 * lines that are no INI at all.  Such lines reach libinih as empty lines.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cfg_stream {
	const struct pd_config_reader *r;
	FILE *f;           /* the file, or NULL for text */
	const char *text;
	size_t len, pos;
	int line;          /* physical line last handed to libinih */
	bool too_big;      /* the file went on past PD_CONFIG_MAX_BYTES */
	int errors;
};

static int next_byte(struct cfg_stream *s)
{
	if (!s->f)
		return s->pos < s->len ? (unsigned char)s->text[s->pos++] : EOF;
	int c = getc_unlocked(s->f);
	if (c != EOF && ++s->pos > PD_CONFIG_MAX_BYTES) {
		s->too_big = true; /* grew past the bound while read */
		return EOF;
	}
	return c;
}

static void cfg_error(struct cfg_stream *s, int line, const char *reason)
{
	s->errors++;
	s->r->on_error(s->r->ctx, line, reason);
}

/* Refuse a line libinih would misread; returns false after reporting. */
static bool line_is_ini(struct cfg_stream *s, const char *buf)
{
	char why[160];
	if (!*buf || *buf == ';' || *buf == '#')
		return true;
	if (*buf == '[') {
		const char *end = strchr(buf, ']');
		if (!end) {
			cfg_error(s, s->line, "section header without its closing ']'");
			return false;
		}
		size_t n = (size_t)(end - buf - 1);
		if (n != strlen(s->r->section) || strncmp(buf + 1, s->r->section, n) != 0) {
			snprintf(why, sizeof why, "unknown section [%.*s] (the only section is [%s])",
				 n > 64 ? 64 : (int)n, buf + 1, s->r->section);
			cfg_error(s, s->line, why);
			return true; /* libinih enters it: cfg_handler skips its keys */
		}
		return true;
	}
	size_t sep = strcspn(buf, "=:");
	if (buf[sep] != '=') {
		cfg_error(s, s->line, "expected 'key = value', a [section] header or a comment");
		return false;
	}
	if (sep == 0) {
		cfg_error(s, s->line, "no key before '='");
		return false;
	}
	return true;
}

/* libinih's reader: the next physical line without its leading blanks and
 * its line end, or NULL at the end.  num is libinih's buffer size. */
static char *cfg_reader(char *buf, int num, void *stream)
{
	struct cfg_stream *s = stream;
	size_t cap = num > 1 ? (size_t)num - 1 : 0, n = 0;
	bool too_long = false, nul = false, leading = true;
	int c = next_byte(s);
	if (c == EOF)
		return NULL;
	s->line++;
	for (; c != EOF && c != '\n'; c = next_byte(s)) {
		if (leading && (c == ' ' || c == '\t'))
			continue;
		leading = false;
		nul |= c == 0;
		if (n < cap)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = 0;
	if (s->line == 1 && n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		memmove(buf, buf + 3, n - 2); /* UTF-8 byte order mark */
	char why[96];
	if (too_long) {
		snprintf(why, sizeof why, "line longer than %zu characters", cap);
		cfg_error(s, s->line, why);
		buf[0] = 0;
	} else if (nul) {
		cfg_error(s, s->line, "NUL byte in the line");
		buf[0] = 0;
	} else if (!line_is_ini(s, buf)) {
		buf[0] = 0;
	}
	return buf;
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_stream *s = user;
	if (*section && strcmp(section, s->r->section) != 0)
		return 1; /* under an unknown section: reported at its header */
	if (s->r->on_key(s->r->ctx, name, value, s->line) < 0)
		s->errors++;
	return 1; /* go on: every error is reported, not just the first */
}

static int cfg_run(struct cfg_stream *s)
{
	int rc = ini_parse_stream(cfg_reader, s, cfg_handler, s);
	if (rc > 0)
		cfg_error(s, rc, "syntax error"); /* a line line_is_ini() let through */
	else if (rc < 0)
		cfg_error(s, 0, "out of memory");
	return s->errors ? -1 : 0;
}

/* Open path for reading if it is a regular file of at most
 * PD_CONFIG_MAX_BYTES; else report why (line 0) and return NULL.  Opened
 * without waiting: a FIFO (or a device such as /dev/zero) would stop the
 * main thread, and with it the heartbeat, at a reload until a writer came
 * (or forever), and workers would take the daemon for dead. */
static FILE *open_regular(const char *path, const struct pd_config_reader *r)
{
	char why[256];
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
		r->on_error(r->ctx, 0, why);
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(why, sizeof why, "not a regular file (%s)",
			 S_ISDIR(st.st_mode) ? "a directory" : "a FIFO, device or socket");
		r->on_error(r->ctx, 0, why);
	} else if (st.st_size > PD_CONFIG_MAX_BYTES) {
		snprintf(why, sizeof why, "larger than %d bytes", PD_CONFIG_MAX_BYTES);
		r->on_error(r->ctx, 0, why);
	} else {
		FILE *f = fdopen(fd, "r");
		if (f)
			return f;
		snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
		r->on_error(r->ctx, 0, why);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

int pd_config_read_file(const char *path, const struct pd_config_reader *r)
{
	struct cfg_stream s = { .r = r };
	char why[256];
	s.f = open_regular(path, r);
	if (!s.f)
		return -1;
	int rc = cfg_run(&s);
	if (s.too_big) {
		snprintf(why, sizeof why, "larger than %d bytes", PD_CONFIG_MAX_BYTES);
		r->on_error(r->ctx, 0, why);
		rc = -1;
	}
	if (ferror(s.f)) {
		snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
		r->on_error(r->ctx, 0, why);
		rc = -1;
	}
	fclose(s.f);
	return rc;
}

int pd_config_read_text(const char *text, size_t len, const struct pd_config_reader *r)
{
	struct cfg_stream s = { .r = r, .text = text, .len = len };
	return cfg_run(&s);
}
