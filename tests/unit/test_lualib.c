/* test_lualib.c - runs tests/unit/lua/test_lualib.lua: the shared Lua
 * helpers (lua/lib) and the integration modules' pure parts, in a state set
 * up as the host sets one up (lib/ on package.path; cjson, cjson.safe and
 * siemrelay.crypto preloaded), with assignments to undeclared globals made
 * errors so a module leaking one fails the test. */
#include <stdio.h>

#include "check.h"
#include "lua_test_state.h"

/* Another driver may run another script with this state set-up: it defines
 * SR_LUA_TEST_SCRIPT (relative to the source directory) and includes this
 * file. */
#ifndef SR_LUA_TEST_SCRIPT
#define SR_LUA_TEST_SCRIPT "/tests/unit/lua/test_lualib.lua"
#endif

static const char strict[] = "setmetatable(_G, { __newindex = function(_, k) "
                             "error('assignment to undeclared global ' .. tostring(k), 2) end })";

int main(void) {
    lua_State *L = sr_test_lua_state();
    CHECK_INT(luaL_dostring(L, strict), 0);

    int rc = luaL_loadfile(L, SR_SOURCE_DIR SR_LUA_TEST_SCRIPT);
    CHECK_INT(rc, 0);
    if (rc == 0) {
        lua_pushstring(L, SR_SOURCE_DIR);
        rc = lua_pcall(L, 1, 1, 0);
        CHECK_INT(rc, 0);
    }
    if (rc != 0)
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
    else
        CHECK_INT(lua_tointeger(L, -1), 0);
    lua_close(L);
    return CHECK_DONE();
}
