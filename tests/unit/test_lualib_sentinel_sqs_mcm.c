/* test_lualib_sentinel_sqs_mcm.c - runs tests/unit/lua/test_sentinel_sqs_mcm.lua
 * (SigV4 against botocore's and AWS's vectors; the SENTINEL, SQS and MCM
 * modules' pure parts on events from the C parser) in the state
 * test_lualib.c sets up. */
#define SR_LUA_TEST_SCRIPT "/tests/unit/lua/test_sentinel_sqs_mcm.lua"
#include "test_lualib.c"
