/* test_lualib_event_paths.c - runs tests/unit/lua/test_event_paths.lua (the
 * event API's nested edits, labels and lossless tables on the samples and
 * on W1 events, compared as raw bytes) in the state test_lualib.c sets up. */
#define SR_LUA_TEST_SCRIPT "/tests/unit/lua/test_event_paths.lua"
#include "test_lualib.c"
