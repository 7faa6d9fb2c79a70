/* test_lua_crypto.c - require "siemrelay.crypto" against published vectors
 * (RFC 4231, FIPS 180-2, RFC 4648), an RS256 signature checked with the
 * public key, and the time formats. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "check.h"
#include "gzip.h"
#include "lua_crypto.h"

static lua_State *new_state(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_siemrelay_crypto);
    lua_setfield(L, -2, "siemrelay.crypto");
    lua_pop(L, 2);
    return L;
}

/* Runs `return <expr>` with `c` bound to the module and `K` to the string
 * `k` (may be NULL); copies a string result into out (NUL-terminated, length
 * in *len), or the error message with *len = -1. */
static char out[8192];

static const char *eval_k(lua_State *L, const char *expr, const char *k, long *len) {
    char code[2048];
    snprintf(code, sizeof code, "local c, K = require 'siemrelay.crypto', ...; return %s", expr);
    int top = lua_gettop(L);
    if (luaL_loadstring(L, code) != 0) {
        snprintf(out, sizeof out, "load: %s", lua_tostring(L, -1));
        *len = -1;
        lua_settop(L, top);
        return out;
    }
    if (k)
        lua_pushstring(L, k);
    else
        lua_pushnil(L);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        snprintf(out, sizeof out, "%s", lua_tostring(L, -1));
        *len = -1;
    } else if (lua_isnil(L, -1)) {
        snprintf(out, sizeof out, "(nil)");
        *len = -2;
    } else {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (n >= sizeof out)
            n = sizeof out - 1;
        memcpy(out, s ? s : "", n);
        out[n] = '\0';
        *len = (long)n;
    }
    lua_settop(L, top);
    return out;
}

static const char *eval(lua_State *L, const char *expr) {
    long len;
    return eval_k(L, expr, NULL, &len);
}

/* The error message of `expr`, or "" if it did not raise. */
static const char *error_of(lua_State *L, const char *expr, const char *k) {
    long len;
    const char *r = eval_k(L, expr, k, &len);
    return len == -1 ? r : "";
}

static void test_digests(lua_State *L) {
    CHECK_STR(eval(L, "c.hex(c.hmac_sha256('Jefe', 'what do ya want for nothing?'))"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK_STR(eval(L, "c.hex(c.sha256('abc'))"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_STR(eval(L, "c.hex(c.sha256(''))"),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR(eval(L, "#c.hmac_sha256('', '')"), "32");
    CHECK_STR(eval(L, "c.hex('\\0\\1\\127\\128\\255')"), "00017f80ff");
    CHECK_STR(eval(L, "c.hex('')"), "");
    CHECK(strstr(error_of(L, "c.sha256()", NULL), "bad argument #1") != NULL);
}

static void test_base64(lua_State *L) {
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    char expr[256];
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        snprintf(expr, sizeof expr, "c.base64('%s')", vec[i][0]);
        CHECK_STR(eval(L, expr), vec[i][1]);
        snprintf(expr, sizeof expr, "c.base64_decode('%s')", vec[i][1]);
        CHECK_STR(eval(L, expr), vec[i][0]);
    }
    CHECK_STR(eval(L, "c.base64('\\251\\255\\191')"), "+/+/");
    CHECK_STR(eval(L, "c.base64url('\\251\\255\\191')"), "-_-_");
    CHECK_STR(eval(L, "c.base64url('\\251\\255')"), "-_8");
    CHECK_STR(eval(L, "c.base64url('f')"), "Zg");
    CHECK_STR(eval(L, "c.base64url_decode('-_8') == '\\251\\255' and 'y' or 'n'"), "y");
    CHECK_STR(eval(L, "c.base64url_decode('-_8=') == '\\251\\255' and 'y' or 'n'"), "y");
    CHECK_STR(eval(L, "c.base64_decode('Zg') == 'f' and 'y' or 'n'"), "y");
    /* Every byte value round-trips. */
    CHECK_STR(eval(L, "(function() local t = {} for i = 0, 255 do t[#t+1] = string.char(i) end "
                      "local s = table.concat(t) return c.base64_decode(c.base64(s)) == s and "
                      "c.base64url_decode(c.base64url(s)) == s and 'y' or 'n' end)()"),
              "y");
    /* Bad input: nil and a message, not an error. */
    CHECK_STR(eval(L, "select(2, c.base64_decode('Zm9v!A'))"),
              "base64_decode: invalid character at offset 4");
    CHECK_STR(eval(L, "select(2, c.base64_decode('Zm9vY'))"), "base64_decode: truncated input");
    CHECK_STR(eval(L, "select(2, c.base64_decode('Zg='))"), "base64_decode: bad padding");
    CHECK_STR(eval(L, "select(2, c.base64_decode('Zg==='))"), "base64_decode: bad padding");
    CHECK_STR(eval(L, "select(2, c.base64_decode('Z=g='))"),
              "base64_decode: invalid character at offset 1");
    CHECK_STR(eval(L, "select(2, c.base64url_decode('+/'))"),
              "base64url_decode: invalid character at offset 0");
    CHECK_STR(eval(L, "select(2, c.base64_decode('-_8'))"),
              "base64_decode: invalid character at offset 0");
}

static char *pem_of(EVP_PKEY *key, int private) {
    BIO *b = BIO_new(BIO_s_mem());
    if (private)
        PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PUBKEY(b, key);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

static void test_rs256(lua_State *L) {
    EVP_PKEY *key = EVP_RSA_gen(2048);
    CHECK(key != NULL);
    if (!key)
        return;
    char *pem = pem_of(key, 1);
    const char *msg = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzaWVtcmVsYXkifQ";
    char expr[256];
    snprintf(expr, sizeof expr, "c.rs256_sign(K, '%s')", msg);
    long len;
    const char *sig = eval_k(L, expr, pem, &len);
    CHECK_INT(len, 256);
    if (len == 256) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
                 EVP_DigestVerify(md, (const unsigned char *)sig, 256, (const unsigned char *)msg,
                                  strlen(msg)) == 1;
        CHECK(ok);
        EVP_MD_CTX_free(md);
        /* PKCS#1 v1.5 is deterministic: the same input signs the same. */
        char first[256];
        memcpy(first, sig, 256);
        sig = eval_k(L, expr, pem, &len);
        CHECK(len == 256 && memcmp(first, sig, 256) == 0);
    }
    CHECK_STR(error_of(L, "c.rs256_sign(K, 'x')", "not a key"),
              "rs256_sign: cannot read the private key (expected an unencrypted PEM RSA "
              "private key)");
    char *pub = pem_of(key, 0);
    CHECK(strstr(error_of(L, "c.rs256_sign(K, 'x')", pub), "cannot read the private key") != NULL);
    free(pub);

    EVP_PKEY *ec = EVP_EC_gen("P-256");
    CHECK(ec != NULL);
    if (ec) {
        char *ecpem = pem_of(ec, 1);
        CHECK_STR(error_of(L, "c.rs256_sign(K, 'x')", ecpem),
                  "rs256_sign: the key is not an RSA key");
        free(ecpem);
        EVP_PKEY_free(ec);
    }
    free(pem);
    EVP_PKEY_free(key);
}

static void test_random(lua_State *L) {
    CHECK_STR(eval(L, "#c.random_bytes(32)"), "32");
    CHECK_STR(eval(L, "c.random_bytes(0)"), "");
    CHECK_STR(eval(L, "c.random_bytes(16) ~= c.random_bytes(16) and 'y' or 'n'"), "y");
    CHECK(strstr(error_of(L, "c.random_bytes(-1)", NULL), "random_bytes: n must be") != NULL);
    CHECK(strstr(error_of(L, "c.random_bytes(1.5)", NULL), "random_bytes: n must be") != NULL);
}

static void test_time(lua_State *L) {
    CHECK_STR(eval(L, "c.rfc3339('1606322948648718268', 9)"), "2020-11-25T16:49:08.648718268Z");
    CHECK_STR(eval(L, "c.rfc3339('1606322948648718268')"), "2020-11-25T16:49:08.648718268Z");
    CHECK_STR(eval(L, "c.rfc3339('1606322948648718268', 3)"), "2020-11-25T16:49:08.648Z");
    CHECK_STR(eval(L, "c.rfc3339('1606322948648718268', 0)"), "2020-11-25T16:49:08Z");
    CHECK_STR(eval(L, "c.rfc3339('1606322948000000001', 9)"), "2020-11-25T16:49:08.000000001Z");
    CHECK_STR(eval(L, "c.rfc3339(require('ffi').new('int64_t', 1606322948648718268LL), 6)"),
              "2020-11-25T16:49:08.648718Z");
    CHECK_STR(eval(L, "c.rfc3339(1606322948648718268ULL, 9)"), "2020-11-25T16:49:08.648718268Z");
    CHECK_STR(eval(L, "c.rfc3339(1500000000, 9)"), "1970-01-01T00:00:01.500000000Z");
    CHECK_STR(eval(L, "c.rfc3339(0, 0)"), "1970-01-01T00:00:00Z");
    CHECK_STR(eval(L, "c.rfc3339('-1', 9)"), "1969-12-31T23:59:59.999999999Z");
    CHECK(strstr(error_of(L, "c.rfc3339('16063x', 9)", NULL), "rfc3339: argument 1") != NULL);
    CHECK(strstr(error_of(L, "c.rfc3339('99999999999999999999', 9)", NULL),
                 "rfc3339: argument 1") != NULL);
    CHECK(strstr(error_of(L, "c.rfc3339(1.5, 9)", NULL), "must be an integer") != NULL);
    CHECK(strstr(error_of(L, "c.rfc3339('0', 10)", NULL), "digits must be") != NULL);
    CHECK(strstr(error_of(L, "c.rfc3339({}, 3)", NULL), "rfc3339: argument 1") != NULL);
    CHECK_STR(eval(L, "c.rfc3339('9223372036854775807', 9)"), "2262-04-11T23:47:16.854775807Z");

    CHECK_STR(eval(L, "c.rfc1123(1606322948)"), "Wed, 25 Nov 2020 16:49:08 GMT");
    CHECK_STR(eval(L, "c.rfc1123(1606322948.9)"), "Wed, 25 Nov 2020 16:49:08 GMT");
    CHECK_STR(eval(L, "c.rfc1123('0')"), "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(strstr(error_of(L, "c.rfc1123(1e17)", NULL), "rfc1123: time out of range") != NULL);

    /* now_ns: a decimal string near the present, which rfc3339 accepts. */
    CHECK_STR(eval(L, "c.now_ns():match('^%d+$') and #c.now_ns() == 19 and 'y' or 'n'"), "y");
    CHECK_STR(eval(L, "c.rfc3339(c.now_ns(), 0):match('^20%d%d%-') and 'y' or 'n'"), "y");
    CHECK_STR(eval(L, "math.abs(tonumber(c.now_ns()) / 1e9 - os.time()) < 5 and 'y' or 'n'"), "y");
}

/* gzip output inflates (with the gateway's own inflater) to the input, for
 * empty, small and incompressible data. */
static void test_gzip(lua_State *L) {
    static const char *const inputs[] = {
        "''",
        "'{\"event\":1}'",
        "string.rep('{\"time\":1606322948.648718268,\"event\":{}}', 2000)",
        "(function() local t = {} for i = 1, 70000 do t[i] = string.char((i * 7919) % 251) end "
        "return table.concat(t) end)()",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char code[512];
        snprintf(code, sizeof code,
                 "local c = require 'siemrelay.crypto'; local s = %s; "
                 "return s, c.gzip(s), c.gzip(s, 9)",
                 inputs[i]);
        CHECK_INT(luaL_dostring(L, code), 0);
        size_t n, zn, z9n;
        const char *s = lua_tolstring(L, -3, &n);
        const char *z = lua_tolstring(L, -2, &zn);
        const char *z9 = lua_tolstring(L, -1, &z9n);
        CHECK(s && z && z9 && zn >= 18 && (unsigned char)z[0] == 0x1f &&
              (unsigned char)z[1] == 0x8b);
        for (int k = 0; k < 2 && s && z && z9; k++) {
            char *back = NULL, err[128] = "";
            size_t blen = 0;
            CHECK_INT(
                sr_gzip_inflate(k ? z9 : z, k ? z9n : zn, n + 1, &back, &blen, err, sizeof err),
                SR_GZIP_OK);
            CHECK(back && blen == n && memcmp(back, s, n) == 0);
            free(back);
        }
        lua_pop(L, 3);
    }
    CHECK(strstr(error_of(L, "c.gzip('x', 0)", NULL), "level must be") != NULL);
    CHECK(strstr(error_of(L, "c.gzip()", NULL), "bad argument #1") != NULL);
}

int main(void) {
    lua_State *L = new_state();
    test_gzip(L);
    test_digests(L);
    test_base64(L);
    test_rs256(L);
    test_random(L);
    test_time(L);
    lua_close(L);
    return CHECK_DONE();
}
