/* lua_check.c - what --check finds in site scripts beyond loading them:
 * assignments to globals (lua/lib/script_check.lua reads the bytecode; no
 * script code runs). */
#include <string.h>

#include <lauxlib.h>

#include "lua_host_impl.h"

/* 1 when slot i's path appeared in an earlier slot (listed once). */
static int seen_before(const sr_lua_host *h, size_t i) {
    for (size_t k = 0; k < i; k++)
        if (strcmp(h->scripts[k].path, h->scripts[i].path) == 0)
            return 1;
    return 0;
}

/* Appends one line per global the script at `path` assigns. */
static int check_one(lua_State *L, const char *path, sr_buf *out) {
    int found = 0;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "script_check");
    if (lua_pcall(L, 1, 1, 0) != 0)
        return -1;
    lua_getfield(L, -1, "globals");
    lua_pushstring(L, path);
    if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) {
        lua_pop(L, 2);
        return -1;
    }
    size_t n = lua_objlen(L, -1);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "line");
        sr_buf_printf(out, "%s:%d: site script assigns the global '%s' (a missing 'local'?)\n",
                      path, (int)lua_tointeger(L, -1), lua_tostring(L, -2));
        lua_pop(L, 3);
        found++;
    }
    lua_pop(L, 2);
    return found;
}

int sr_lua_host_script_globals(sr_lua_host *h, sr_buf *out) {
    if (!h->L)
        return -1;
    int total = 0;
    for (size_t i = 0; i < h->nscripts; i++) {
        if (seen_before(h, i))
            continue;
        int n = check_one(h->L, h->scripts[i].path, out);
        if (n < 0)
            return -1;
        total += n;
    }
    lua_settop(h->L, 0);
    return total;
}
