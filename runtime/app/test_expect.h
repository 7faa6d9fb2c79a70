/* test_expect.h - checking one script test case's expectations against
 * what happened to its event (test_run.h), as readable diffs.
 *
 * Values are compared exactly: a plain YAML number, true, false or null
 * must equal the JSON token byte for byte (so a 64-bit integer is compared
 * digit by digit, never through a double); any other scalar, or a quoted
 * one, must equal the JSON string; a YAML map or list must equal the JSON
 * value once both are written compactly (keys in the same order). */
#ifndef SR_TEST_EXPECT_H
#define SR_TEST_EXPECT_H

#include "buf.h"
#include "node.h"
#include "test_run.h"

/* Checks `expect` (the case's `expect:` map) against `te`. Appends one
 * "  WHAT: expected X, got Y" line (or a few) per failed expectation to
 * `diff`. Returns the number of failed expectations, or -1 when `expect`
 * itself is malformed (the reason, FILE:LINE: ..., in `diff`). */
int sr_test_expect(const sr_node *expect, sr_test_run *r, const sr_test_event *te, sr_buf *diff);

/* Appends a YAML node as JSON text: maps as objects, lists as arrays,
 * plain scalars that read as JSON numbers, true, false or null as such,
 * everything else as strings. */
void sr_node_to_json(const sr_node *n, sr_buf *out);

/* Finds the first key of `map` that is not among `keys` (NULL-terminated,
 * compared case-insensitively) and writes "<what> 'KEY' (did you mean
 * 'K'?)" into msg. Returns its 1-based index, or 0 when all are known. */
int sr_test_unknown_key(const sr_node *map, const char *const *keys, const char *what, char *msg,
                        size_t len);

#endif
