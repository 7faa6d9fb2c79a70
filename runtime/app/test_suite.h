/* test_suite.h - script test files: `siemrelay test --suite FILE`.
 *
 * A suite is a YAML file (the format is documented in docs/scripting.md):
 *
 *   config: ../../config/test-examples.yaml   # or a list; relative to the suite
 *   scripts: [tag.lua]                        # global scripts under test (optional)
 *   cases:
 *   - name: production events get a tag
 *     event: ../../tests/data/policy_event.json    # a file, JSON text, or a YAML map
 *     set: {severity: 7}                           # top-level fields replaced first
 *     expect:
 *       status: accepted                 # accepted | dropped | failed | rejected
 *       dropped: false
 *       reason: drop_info.lua            # a substring of the drop/failure reason
 *       integrations: [soc, archive]     # exactly those get a record
 *       fields: {'labels["site"]': prod} # values after the global scripts
 *       absent: [content.fields.proc.cmdline]
 *       records:
 *         soc: {contains: "...", matches: "regex", fields: {...}, absent: [...],
 *               result: unrouted, reason: severity}
 *
 * Each case's event runs through test_run.h (the gateway's own pipeline,
 * offline); every expectation that does not hold is printed as a diff
 * (what was expected, what came). -c files given on the command line take
 * the place of the suite's `config`. */
#ifndef SR_TEST_SUITE_H
#define SR_TEST_SUITE_H

#include <stddef.h>

/* Runs the suites; prints one line per case and a diff per failed
 * expectation. Returns 0 all passed, 1 a case failed, 2 a suite could not
 * be loaded or its configuration is invalid. */
int sr_test_suites(const char *const *suites, size_t nsuites, const char *const *configs,
                   size_t nconfigs);

#endif
