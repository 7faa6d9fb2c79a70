/* http_host.h - checking a request's Host header against the names a
 * listener answers to: the defence against DNS rebinding.
 *
 * A page on attacker.example can have its name resolve to 127.0.0.1 after
 * loading; the browser then sends the page's requests to the local
 * listener as same-origin ones, with `Host: attacker.example:9090`. A
 * listener that answers only to its own names refuses them.
 *
 * A Host is accepted when its name (the port is not compared: a proxy or
 * a port forward may change it) is
 *   - one of `allowed` (ASCII case-insensitive; a trailing dot ignored),
 *     or `allowed` holds "*" (the check is off);
 *   - the address the listener binds (an IPv6 literal in brackets,
 *     compared as an address);
 *   - for a loopback listener (127.0.0.0/8, ::1, localhost): "localhost"
 *     or any loopback address;
 *   - for a wildcard listener (0.0.0.0, ::): any address literal and
 *     "localhost" (an address in the URL has no DNS to rebind).
 * A request without Host is accepted in HTTP/1.0 only (RFC 9112 requires
 * it in HTTP/1.1); two Host fields, an empty or malformed one are refused.
 * Pure functions; no state. */
#ifndef SR_HTTP_HOST_H
#define SR_HTTP_HOST_H

#include <stddef.h>

#include "http_refusal.h"
#include "http_server.h"

typedef struct sr_http_host_policy {
    const char *listen_host; /* as bound: "127.0.0.1", "::", "0.0.0.0", a name */
    char *const *allowed;    /* further names (admin.allowed_hosts); borrowed */
    size_t nallowed;
} sr_http_host_policy;

/* 0 when `req` may be served; else -1 with *why SR_HTTP_REFUSED_BAD_HOST
 * (answer 400) or SR_HTTP_REFUSED_MISDIRECTED (answer 421). */
int sr_http_host_check(const sr_http_request *req, const sr_http_host_policy *p,
                       sr_http_refusal *why);

#endif
