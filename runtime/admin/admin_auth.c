/* admin_auth.c - bearer tokens checked against configured SHA-256 hashes. */
#include "admin_auth.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define WWW_AUTH_MISSING "Bearer realm=\"siemrelay\""
#define WWW_AUTH_INVALID "Bearer realm=\"siemrelay\", error=\"invalid_token\""

const char *sr_admin_role_name(sr_admin_role role) {
    switch (role) {
    case SR_ROLE_ADMIN: return "admin";
    case SR_ROLE_VIEWER: return "viewer";
    case SR_ROLE_NONE: break;
    }
    return "none";
}

void sr_admin_hash_token(const char *token, size_t len, char out[65]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    OPENSSL_cleanse(md, sizeof md);
}

/* The token of "Bearer <token>" (scheme case-insensitive, spaces around the
 * token ignored), or NULL. */
static const char *bearer_token(const char *authorization, size_t *len) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    while (n && t[n - 1] == ' ')
        n--;
    *len = n;
    return n ? t : NULL;
}

/* Index of the token whose hash matches, or -1. Every configured hash is
 * compared, whatever matched before. */
static long find_token(const sr_admin_token_conf *tokens, size_t ntokens, const char *token,
                       size_t len) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    long found = -1;
    SHA256((const unsigned char *)token, len, md);
    for (size_t i = 0; i < ntokens; i++) {
        int same = CRYPTO_memcmp(md, tokens[i].sha256, sizeof md) == 0;
        /* Branch-free selection keeps the loop's timing independent of i. */
        long mask = -(long)same;
        found = (found & ~mask) | ((long)i & mask);
    }
    OPENSSL_cleanse(md, sizeof md);
    return found;
}

sr_admin_decision sr_admin_authorize(const sr_admin_token_conf *tokens, size_t ntokens,
                                     const char *authorization, sr_admin_role need) {
    sr_admin_decision d = {.status = 0, .who = {.name = "unknown", .role = SR_ROLE_NONE}};
    if (ntokens == 0) {
        d.who.name = "anonymous";
        d.who.role = SR_ROLE_VIEWER;
        if (need == SR_ROLE_ADMIN) {
            d.status = 403;
            d.message = "no admin tokens are configured, so the admin API is read-only: add "
                        "admin.tokens [{name, role: admin, sha256}] to the configuration and "
                        "restart or reload (see docs/admin.md)";
        }
        return d;
    }
    size_t len = 0;
    const char *token = bearer_token(authorization, &len);
    if (!token) {
        d.status = 401;
        d.message = "authentication required: send Authorization: Bearer <token>";
        d.www_authenticate = WWW_AUTH_MISSING;
        return d;
    }
    long i = find_token(tokens, ntokens, token, len);
    if (i < 0) {
        d.status = 401;
        d.message = "invalid token";
        d.www_authenticate = WWW_AUTH_INVALID;
        return d;
    }
    d.who.name = tokens[i].name;
    d.who.role = tokens[i].role;
    if (tokens[i].role < need) {
        d.status = 403;
        d.message = "this needs the admin role; the token presented has the viewer role";
    }
    return d;
}
