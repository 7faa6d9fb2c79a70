/* test_lualib_google.c - runs tests/unit/lua/test_google.lua (the OAuth2
 * token cache and the CHRONICLE, PUBSUB and SCC modules' pure parts) in the
 * state test_lualib.c sets up. */
#define SR_LUA_TEST_SCRIPT "/tests/unit/lua/test_google.lua"
#include "test_lualib.c"
