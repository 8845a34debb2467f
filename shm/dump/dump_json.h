/* dump_json.h - phantompool-shmdump --json: the snapshot as one JSON
 * document, schema_version 1 (every field is listed in docs/shmdump.md).
 * Built with jansson, so the strings that come from the segment (pool
 * name, backend URL) are escaped by a JSON library, never by hand. */
#ifndef PP_DUMP_JSON_H
#define PP_DUMP_JSON_H

#include <jansson.h>
#include <stdio.h>

#include "dump_snapshot.h"

#define DUMP_JSON_SCHEMA_VERSION 1

/* The document for snapshot s.  Returns a new reference (the caller
 * json_decref()s it), or NULL when out of memory. */
json_t *dump_json_build(const struct dump_snapshot *s);

/* Write the document for s to f on one line (compact), then a newline.
 * Returns 0, or -1 when out of memory or the write failed. */
int dump_json_write(FILE *f, const struct dump_snapshot *s);

#endif
