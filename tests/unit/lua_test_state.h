/* lua_test_state.h - a bare LuaJIT state set up as the host sets one up, for
 * tests that run the project's Lua outside a host: lua/lib on package.path,
 * no C modules from disk, cjson, cjson.safe and siemrelay.crypto preloaded. */
#ifndef SR_LUA_TEST_STATE_H
#define SR_LUA_TEST_STATE_H

#include <lauxlib.h>
#include <lualib.h>

#include "lua_crypto.h"

int luaopen_cjson(lua_State *L);
int luaopen_cjson_safe(lua_State *L);

static inline lua_State *sr_test_lua_state(void) {
    lua_State *L = luaL_newstate();
    if (!L)
        return NULL;
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, SR_SOURCE_DIR "/lua/lib/?.lua");
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_cjson_safe);
    lua_setfield(L, -2, "cjson.safe");
    lua_pushcfunction(L, luaopen_siemrelay_crypto);
    lua_setfield(L, -2, "siemrelay.crypto");
    lua_pop(L, 2);
    return L;
}

#endif
