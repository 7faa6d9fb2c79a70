/* test_lualib_event_view.c - runs tests/unit/lua/test_event_view.lua (the
 * method-only view of the event a sandboxed script gets: every method as
 * on the cdata, nothing of the struct reachable) in the state test_lualib.c
 * sets up. */
#define SR_LUA_TEST_SCRIPT "/tests/unit/lua/test_event_view.lua"
#include "test_lualib.c"
