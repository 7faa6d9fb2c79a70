/* test_lualib_sandbox.c - runs tests/unit/lua/test_sandbox.lua (what a
 * sandboxed script can reach: its helper modules are its own instances, so
 * nothing it changes reaches the gateway's modules or another script) in
 * the state test_lualib.c sets up. */
#define SR_LUA_TEST_SCRIPT "/tests/unit/lua/test_sandbox.lua"
#include "test_lualib.c"
