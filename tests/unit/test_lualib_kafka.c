/* test_lualib_kafka.c - runs tests/unit/lua/test_kafka.lua (what the KAFKA
 * module's setup makes of its keys) in the state test_lualib.c sets up. */
#define SR_LUA_TEST_SCRIPT "/tests/unit/lua/test_kafka.lua"
#include "test_lualib.c"
