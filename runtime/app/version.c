/* version.c - the versions `siemrelay --version` reports. */
#include "version.h"

#include <curl/curl.h>
#include <lauxlib.h>
#include <librdkafka/rdkafka.h>
#include <lua.h>
#include <lualib.h>
#include <openssl/crypto.h>
#include <string.h>
#include <uv.h>

/* LuaJIT has no C call for its version: a state knows it as jit.version
 * ("LuaJIT 2.1.0-beta3"). Copies it without the "LuaJIT " prefix. */
static int luajit_version(char *out, size_t outlen) {
    int rc = -1;
    lua_State *L = luaL_newstate();
    if (!L)
        return -1;
    luaL_openlibs(L);
    lua_getglobal(L, "jit");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "version");
        const char *v = lua_tostring(L, -1);
        if (v) {
            if (strncmp(v, "LuaJIT ", 7) == 0)
                v += 7;
            snprintf(out, outlen, "%s", v);
            rc = 0;
        }
    }
    lua_close(L);
    return rc;
}

int sr_version_print(FILE *out) {
    int rc = 0;
    char lj[64];
    if (luajit_version(lj, sizeof lj) != 0) {
        snprintf(lj, sizeof lj, "unknown");
        rc = -1;
    }
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    fprintf(out, "siemrelay %s\n", SR_VERSION);
    fprintf(out, "luajit %s\n", lj);
    fprintf(out, "libuv %s\n", uv_version_string());
    fprintf(out, "libcurl %s\n", cv && cv->version ? cv->version : "unknown");
    fprintf(out, "librdkafka %s\n", rd_kafka_version_str());
    fprintf(out, "openssl %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
    return rc;
}
