/* lua_crypto.h - the C primitives behind require "siemrelay.crypto"
 * (HMAC, digests, base64) that integration modules use to sign requests.
 * The Lua host registers the opener in package.preload. */
#ifndef SR_LUA_CRYPTO_H
#define SR_LUA_CRYPTO_H

#include <lua.h>

int luaopen_siemrelay_crypto(lua_State *L);

#endif
