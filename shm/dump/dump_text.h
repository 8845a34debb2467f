/* dump_text.h - phantompool-shmdump's human view: a pool summary, then a
 * a table with a row per seat and one with a row per connection, driven
 * by tables of lines and columns in dump_text.c.  Strings from the segment are shown with control
 * characters replaced, so a hostile segment cannot send escape sequences
 * to the terminal. */
#ifndef PP_DUMP_TEXT_H
#define PP_DUMP_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dump_snapshot.h"

/* Write the human view of s to f.  Returns 0, or -1 when a write failed. */
int dump_text_write(FILE *f, const struct dump_snapshot *s);

/* A duration for people: "850us", "12.3ms", "4.0s", "2.5h", "3.1d".
 * Writes "0" for 0. */
void dump_fmt_duration(char *buf, size_t len, uint64_t ns);

#endif
