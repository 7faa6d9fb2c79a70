/* redact.h - keeping secrets out of texts that are stored or shown.
 *
 * A platform that refuses a request often echoes what it was sent: the
 * token as is, the Basic credential base64-encoded, a key percent-encoded
 * in a URL, a password JSON-escaped in an error document. sr_redact() masks
 * a secret in each of those forms, so error texts, dead letters and the
 * admin API never carry one. sr_redact_query() masks the values of
 * credential-like parameters in a URL query before it is logged or audited.
 *
 * Pure functions, any thread. */
#ifndef SR_REDACT_H
#define SR_REDACT_H

#include <stddef.h>

#include "buf.h"

/* Overwrites with '*' every occurrence in text[0..len) of `secret` as is,
 * base64-encoded (standard and URL-safe alphabets, with or without
 * padding), percent-encoded once or twice (upper- and lower-case hex) and
 * JSON-escaped.
 * Secrets shorter than 4 bytes are left alone: masking every "ab" would hide
 * more than it protects. Returns how many occurrences were masked. */
size_t sr_redact(char *text, size_t len, const char *secret, size_t slen);

/* Overwrites with '*' every JSON Web Token in text[0..len), or what an
 * excerpt kept of one: a signed assertion or access token ("eyJ<header>
 * .<payload>.<signature>", base64url), which a token endpoint may echo in
 * its error. Such a token is
 * derived from a secret (a service account's key signs it) and works as a
 * credential by itself, yet is never one of the configured values
 * sr_redact() knows. Returns how many were masked. */
size_t sr_redact_jwt(char *text, size_t len);

/* Appends `query` (the part after '?', may be NULL) with the value of every
 * parameter whose name suggests a credential (token, key, secret, pass,
 * auth, sig, session, code, credential, jwt; any case) replaced by "******".
 * Returns 0, or -1 when out of memory. */
int sr_redact_query(const char *query, sr_buf *out);

#endif
