/* lua_crypto.c - require "siemrelay.crypto": the few primitives integration
 * modules need to authenticate and timestamp requests, on OpenSSL.
 *
 *   hmac_sha256(key, data)    -> 32 raw bytes
 *   sha256(data)              -> 32 raw bytes
 *   hex(raw)                  -> lower-case hex
 *   base64(s), base64url(s)   -> text (base64url has no padding)
 *   base64_decode(s), base64url_decode(s)
 *                             -> bytes, or nil and a message on bad input
 *                                (padding is optional; no whitespace)
 *   rs256_sign(pem, data)     -> raw RSASSA-PKCS1-v1_5 SHA-256 signature
 *   random_bytes(n)           -> n bytes from the OpenSSL CSPRNG (n <= 65536)
 *   rfc3339(ns [, digits])    -> "2020-11-25T16:49:08.648718268Z"
 *   rfc1123(seconds)          -> "Wed, 25 Nov 2020 16:49:08 GMT"
 *   now_ns()                  -> current time, ns since the epoch, as a decimal string
 *   gzip(data [, level])      -> one gzip member (RFC 1952) of data; level 1..9,
 *                                default 6 (zlib's own default)
 *
 * Nanosecond times do not fit a double, so rfc3339 takes them as a decimal
 * string (what now_ns returns and what a JSON integer's text is), an int64_t
 * or uint64_t cdata, or a Lua number (exact only up to 2^53, about 104 days
 * after the epoch in ns: fine for tests, not for real timestamps). `digits`
 * (0..9, default 9) is how many fraction digits to keep; the fraction is
 * truncated, as Go's RFC3339Nano layout does, never rounded.
 *
 * Errors (wrong argument types, a bad key, out-of-range times) are Lua
 * errors whose message names the function; a key's bytes never appear in
 * one. Every function frees what it allocated before it raises. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <zlib.h>

#include "lua_crypto.h"

#define NS_PER_SEC 1000000000LL
#define MAX_RANDOM 65536

/* ---- Digests ------------------------------------------------------------ */

static int l_hmac_sha256(lua_State *L) {
    size_t klen, dlen;
    const char *key = luaL_checklstring(L, 1, &klen);
    const char *data = luaL_checklstring(L, 2, &dlen);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    if (klen > INT_MAX ||
        !HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)data, dlen, mac, &mlen)) {
        ERR_clear_error();
        return luaL_error(L, "hmac_sha256: HMAC failed");
    }
    lua_pushlstring(L, (const char *)mac, mlen);
    return 1;
}

static int l_sha256(lua_State *L) {
    size_t dlen;
    const char *data = luaL_checklstring(L, 1, &dlen);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    if (!EVP_Digest(data, dlen, md, &mlen, EVP_sha256(), NULL)) {
        ERR_clear_error();
        return luaL_error(L, "sha256: digest failed");
    }
    lua_pushlstring(L, (const char *)md, mlen);
    return 1;
}

/* ---- Encodings ---------------------------------------------------------- */

/* Scratch owned by the Lua GC: an allocation error unwinds without leaking. */
static char *scratch(lua_State *L, size_t n) { return lua_newuserdata(L, n ? n : 1); }

/* Pushes [p, p+n) in place of the scratch userdata on top of the stack. */
static int push_result(lua_State *L, const char *p, size_t n) {
    lua_pushlstring(L, p, n);
    lua_remove(L, -2);
    return 1;
}

static int l_hex(lua_State *L) {
    static const char digits[] = "0123456789abcdef";
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    if (n > ((size_t)-1) / 2)
        return luaL_error(L, "hex: input too large");
    char *out = scratch(L, 2 * n);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[s[i] >> 4];
        out[2 * i + 1] = digits[s[i] & 15];
    }
    return push_result(L, out, 2 * n);
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_encode(lua_State *L, const char *alpha, int pad) {
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    if (n > ((size_t)-1) / 4 * 3 - 3)
        return luaL_error(L, "base64: input too large");
    char *out = scratch(L, (n + 2) / 3 * 4);
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        if (pad)
            out[o++] = '=';
    }
    return push_result(L, out, o);
}

static int b64_value(const char *alpha, unsigned char c) {
    const char *p = c ? strchr(alpha, c) : NULL;
    return p ? (int)(p - alpha) : -1;
}

/* Strict: only the alphabet, '=' padding only at the end and only as much as
 * the length calls for. Returns nil and a message rather than raising, so
 * callers can report the value they got. */
static int b64_decode(lua_State *L, const char *alpha, const char *fname) {
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    size_t len = n;
    while (len > 0 && s[len - 1] == '=' && n - len < 2)
        len--;
    if (len < n && n % 4 != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: bad padding", fname);
        return 2;
    }
    if (len % 4 == 1) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: truncated input", fname);
        return 2;
    }
    char *out = scratch(L, len / 4 * 3 + 2);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(alpha, s[i]);
        if (v < 0) {
            lua_pushnil(L);
            lua_pushfstring(L, "%s: invalid character at offset %d", fname, (int)i);
            return 2;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return push_result(L, out, o);
}

static int l_base64(lua_State *L) { return b64_encode(L, b64_std, 1); }
static int l_base64url(lua_State *L) { return b64_encode(L, b64_url, 0); }
static int l_base64_decode(lua_State *L) { return b64_decode(L, b64_std, "base64_decode"); }
static int l_base64url_decode(lua_State *L) { return b64_decode(L, b64_url, "base64url_decode"); }

/* ---- RS256 -------------------------------------------------------------- */

/* Never prompt on the terminal for an encrypted key's passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static int l_rs256_sign(lua_State *L) {
    size_t klen, dlen;
    const char *pem = luaL_checklstring(L, 1, &klen);
    const char *data = luaL_checklstring(L, 2, &dlen);
    char err[256] = "";
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    size_t slen = 0;

    if (klen > INT_MAX) {
        snprintf(err, sizeof err, "rs256_sign: key too large");
        goto fail;
    }
    bio = BIO_new_mem_buf(pem, (int)klen);
    if (!bio) {
        snprintf(err, sizeof err, "rs256_sign: out of memory");
        goto fail;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!key) {
        snprintf(err, sizeof err,
                 "rs256_sign: cannot read the private key (expected an unencrypted PEM "
                 "RSA private key)");
        goto fail;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        snprintf(err, sizeof err, "rs256_sign: the key is not an RSA key");
        goto fail;
    }
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &slen, (const unsigned char *)data, dlen) != 1) {
        snprintf(err, sizeof err, "rs256_sign: signing failed");
        goto fail;
    }
    /* The size is known now; the signature buffer is GC-owned, so pushing
     * it cannot leak if Lua runs out of memory. */
    unsigned char *sig = (unsigned char *)scratch(L, slen);
    if (EVP_DigestSign(md, sig, &slen, (const unsigned char *)data, dlen) != 1) {
        lua_pop(L, 1);
        snprintf(err, sizeof err, "rs256_sign: signing failed");
        goto fail;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    BIO_free(bio);
    return push_result(L, (const char *)sig, slen);

fail:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    BIO_free(bio);
    ERR_clear_error(); /* the queue is per thread and shared with libcurl */
    return luaL_error(L, "%s", err);
}

static int l_random_bytes(lua_State *L) {
    lua_Number n = luaL_checknumber(L, 1);
    if (!(n >= 0 && n <= MAX_RANDOM) || n != (lua_Number)(int)n)
        return luaL_error(L, "random_bytes: n must be an integer from 0 to %d", MAX_RANDOM);
    char *out = scratch(L, (size_t)n);
    if (n > 0 && RAND_bytes((unsigned char *)out, (int)n) != 1) {
        ERR_clear_error();
        return luaL_error(L, "random_bytes: the random generator failed");
    }
    return push_result(L, out, (size_t)n);
}

/* ---- Compression -------------------------------------------------------- */

#define GZIP_WINDOW (16 + MAX_WBITS) /* a gzip header and trailer, not raw zlib */

/* Request bodies are compressed in one call. compressBound (zlib's bound
 * for its own 6-byte wrapper) plus room for gzip's 18-byte header and
 * trailer is the most the output can take, so one deflate(Z_FINISH) always
 * completes. The output buffer is GC-owned scratch allocated before the
 * z_stream exists, and the stream is ended before any Lua error, so nothing
 * leaks whichever way this returns. */
static int l_gzip(lua_State *L) {
    size_t n;
    const char *data = luaL_checklstring(L, 1, &n);
    lua_Number lv = luaL_optnumber(L, 2, 6);
    if (!(lv >= 1 && lv <= 9) || lv != (lua_Number)(int)lv)
        return luaL_error(L, "gzip: level must be an integer from 1 to 9");
    if (n > UINT_MAX / 2)
        return luaL_error(L, "gzip: input too large");
    uLong cap = compressBound((uLong)n) + 32;
    char *out = scratch(L, cap);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, (int)lv, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return luaL_error(L, "gzip: out of memory");
    zs.next_in = (Bytef *)(uintptr_t)data; /* zlib's API is not const-correct */
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t len = (size_t)zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END)
        return luaL_error(L, "gzip: deflate failed");
    return push_result(L, out, len);
}

/* ---- Time --------------------------------------------------------------- */

/* Parses a decimal integer, optionally signed, optionally followed by the
 * LL / ULL suffix tostring() gives 64-bit cdata. */
static int parse_int64(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    size_t start = i;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (i == start)
        return -1;
    if (!(i == n || (n - i == 2 && strncmp(s + i, "LL", 2) == 0) ||
          (n - i == 3 && strncmp(s + i, "ULL", 3) == 0)))
        return -1;
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Reads argument `arg` as a 64-bit integer: number, decimal string, or
 * 64-bit cdata (through tostring, the one portable way to read a cdata
 * from the C API). */
static int64_t check_int64(lua_State *L, int arg, const char *fname) {
    int64_t v;
    int t = lua_type(L, arg);
    if (t == LUA_TNUMBER) {
        lua_Number d = lua_tonumber(L, arg);
        if (!(d >= -9.2e18 && d <= 9.2e18) || d != (lua_Number)(int64_t)d)
            luaL_error(L, "%s: argument %d must be an integer", fname, arg);
        return (int64_t)d;
    }
    if (t == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, arg, &n);
        if (parse_int64(s, n, &v) != 0)
            luaL_error(L, "%s: argument %d is not a 64-bit decimal integer", fname, arg);
        return v;
    }
    if (t != LUA_TNONE && t != LUA_TNIL && t != LUA_TBOOLEAN && t != LUA_TTABLE &&
        t != LUA_TFUNCTION) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, arg);
        lua_call(L, 1, 1);
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        int rc = s ? parse_int64(s, n, &v) : -1;
        lua_pop(L, 1);
        if (rc == 0)
            return v;
    }
    luaL_error(L, "%s: argument %d must be an integer (number, decimal string or int64 cdata)",
               fname, arg);
    return 0;
}

static int utc(lua_State *L, int64_t sec, struct tm *tm, const char *fname) {
    time_t t = (time_t)sec;
    if ((int64_t)t != sec || !gmtime_r(&t, tm) || tm->tm_year < -1900 || tm->tm_year > 8099)
        return luaL_error(L, "%s: time out of range (years 0000-9999)", fname);
    return 0;
}

static int l_rfc3339(lua_State *L) {
    int64_t ns = check_int64(L, 1, "rfc3339");
    lua_Number dn = luaL_optnumber(L, 2, 9);
    if (!(dn >= 0 && dn <= 9) || dn != (lua_Number)(int)dn)
        return luaL_error(L, "rfc3339: digits must be an integer from 0 to 9");
    int digits = (int)dn;
    int64_t sec = ns / NS_PER_SEC, frac = ns % NS_PER_SEC;
    if (frac < 0) { /* floor, so times before the epoch count forward */
        frac += NS_PER_SEC;
        sec--;
    }
    struct tm tm;
    utc(L, sec, &tm, "rfc3339");
    char out[64];
    int n = snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (digits > 0) {
        char f[16];
        snprintf(f, sizeof f, "%09lld", (long long)frac);
        n += snprintf(out + n, sizeof out - (size_t)n, ".%.*s", digits, f);
    }
    out[n++] = 'Z';
    lua_pushlstring(L, out, (size_t)n);
    return 1;
}

static int l_rfc1123(lua_State *L) {
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t sec;
    if (lua_type(L, 1) == LUA_TNUMBER) { /* fractions of a second are dropped */
        lua_Number d = floor(lua_tonumber(L, 1));
        if (!(d >= -9.2e18 && d <= 9.2e18))
            return luaL_error(L, "rfc1123: time out of range (years 0000-9999)");
        sec = (int64_t)d;
    } else {
        sec = check_int64(L, 1, "rfc1123");
    }
    struct tm tm;
    utc(L, sec, &tm, "rfc1123");
    char out[64];
    int n = snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    lua_pushlstring(L, out, (size_t)n);
    return 1;
}

static int l_now_ns(lua_State *L) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return luaL_error(L, "now_ns: clock_gettime failed: %s", strerror(errno));
    char out[32];
    int n = snprintf(out, sizeof out, "%lld",
                     (long long)ts.tv_sec * NS_PER_SEC + (long long)ts.tv_nsec);
    lua_pushlstring(L, out, (size_t)n);
    return 1;
}

int luaopen_siemrelay_crypto(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"hmac_sha256", l_hmac_sha256},
        {"sha256", l_sha256},
        {"hex", l_hex},
        {"base64", l_base64},
        {"base64_decode", l_base64_decode},
        {"base64url", l_base64url},
        {"base64url_decode", l_base64url_decode},
        {"rs256_sign", l_rs256_sign},
        {"random_bytes", l_random_bytes},
        {"rfc3339", l_rfc3339},
        {"rfc1123", l_rfc1123},
        {"now_ns", l_now_ns},
        {"gzip", l_gzip},
        {NULL, NULL},
    };
    lua_createtable(L, 0, (int)(sizeof fns / sizeof fns[0]) - 1);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    return 1;
}
