/* cmd_test.h - `siemrelay test`: events through the configured pipeline,
 * offline, with what became of each and why.
 *
 *   siemrelay test -c FILE [-c FILE ...] [--json] [EVENTS ...]
 *   siemrelay test [-c FILE ...] --suite FILE [--suite FILE ...]
 *
 * EVENTS are files holding one JSON object, an array of objects or NDJSON
 * (as the HTTP input takes them); "-" or none reads stdin. Each event runs
 * through what a worker runs (parse, global scripts, routing,
 * per-integration scripts, encode/envelope: test_run.h), nothing is queued
 * or sent, and the command prints per event: accepted, dropped (by which
 * script) or failed (stage and message, with the script's file:line); per
 * integration its exact wire record, or why it got none; and for HTTP
 * types the request `request()` builds for a batch of that one record,
 * with secrets masked. `--json` prints one JSON object per event instead.
 * `--suite` runs script test files (test_suite.h) instead.
 *
 * Exit status: 0 nothing failed; 1 an event was rejected or failed (or a
 * suite case failed); 2 usage, configuration or input error. */
#ifndef SR_CMD_TEST_H
#define SR_CMD_TEST_H

/* argv[0] is "test". Returns the exit status. */
int sr_cmd_test(int argc, char **argv);

#endif
