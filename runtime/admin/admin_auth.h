/* admin_auth.h - who is asking the admin API, and may they.
 *
 * Tokens are configured as `admin.tokens: [{name, role, sha256}]`: only the
 * SHA-256 of each token is known to the gateway (admin_auth.h). A request
 * presents `Authorization: Bearer <token>`; the token is hashed and compared
 * with every configured hash in constant time (CRYPTO_memcmp, no early exit),
 * so neither the comparison nor the number of tokens leaks which bytes
 * matched.
 *
 * Decisions (sr_admin_authorize):
 *   tokens configured:    no or malformed Authorization  -> 401
 *                          unknown token                  -> 401
 *                          role below what the route needs -> 403
 *   no tokens configured: reads (viewer routes) are open, as before tokens
 *                          existed; admin routes -> 403 with a message saying
 *                          how to configure a token.
 * A 401 carries `WWW-Authenticate: Bearer realm="siemrelay"` (with
 * error="invalid_token" when a token was presented). */
#ifndef SR_ADMIN_AUTH_H
#define SR_ADMIN_AUTH_H

#include <stddef.h>

/* One `admin.tokens` entry: who presents a bearer token, with what role.
 * Only the token's SHA-256 is configured (and kept). */
typedef enum { SR_ROLE_NONE, SR_ROLE_VIEWER, SR_ROLE_ADMIN } sr_admin_role;

typedef struct sr_admin_token_conf {
    char *name;               /* who, for logs and the audit trail */
    sr_admin_role role;       /* viewer: reads; admin: reads and writes */
    unsigned char sha256[32]; /* of the token */
} sr_admin_token_conf;

typedef struct sr_admin_identity {
    const char *name;   /* the token's name; "anonymous" without tokens */
    sr_admin_role role; /* SR_ROLE_NONE when not authenticated */
} sr_admin_identity;

typedef struct sr_admin_decision {
    int status;                   /* 0: allowed; else 401 or 403 */
    const char *message;          /* for the {"error":...} body */
    const char *www_authenticate; /* with 401 */
    sr_admin_identity who;        /* who asked (name "unknown" when unauthenticated) */
} sr_admin_decision;

/* Decides whether the holder of `authorization` (the header's value, may be
 * NULL) may use a route that needs `need` (viewer or admin). `tokens` are
 * borrowed; the identity's name points into them or at a static string. */
sr_admin_decision sr_admin_authorize(const sr_admin_token_conf *tokens, size_t ntokens,
                                     const char *authorization, sr_admin_role need);

/* "admin", "viewer" or "none". */
const char *sr_admin_role_name(sr_admin_role role);

/* SHA-256 of `token` as 64 lower-case hex digits plus NUL into out[65]. */
void sr_admin_hash_token(const char *token, size_t len, char out[65]);

#endif
