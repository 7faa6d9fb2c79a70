/* http_origin.h - telling a browser's cross-origin request from an agent's.
 *
 * A web page the operator happens to visit can make the browser POST to
 * any address it can reach, loopback included: a "simple" request
 * (Content-Type text/plain, application/x-www-form-urlencoded or
 * multipart/form-data, or none) needs no CORS preflight, so the body
 * arrives even though the page never sees the answer. An input that takes
 * unauthenticated events (the HTTP input without a token) would forward
 * whatever the page chose.
 *
 * Browsers say where a request comes from (Origin, Sec-Fetch-Site); agents
 * and forwarders send neither, so refusing on these headers costs them
 * nothing. A request is refused when:
 *   - Sec-Fetch-Site is cross-site or same-site (another port of the same
 *     host is the same site: a page on localhost:3000 is one);
 *   - Origin names another origin than the request's own (scheme and Host),
 *     or is "null" (sandboxed frames, file: pages);
 *   - Origin is present at all and the body is of a simple type.
 * Pure function of the request; no state. */
#ifndef SR_HTTP_ORIGIN_H
#define SR_HTTP_ORIGIN_H

#include "http_server.h"

/* NULL when the request may be served; else why it looks like a browser's
 * cross-origin request (a constant string, for the log). */
const char *sr_http_cross_origin(const sr_http_request *req);

#endif
