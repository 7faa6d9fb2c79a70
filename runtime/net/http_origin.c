/* http_origin.c - a browser's cross-origin request, told by its headers. */
#include "http_origin.h"

#include <string.h>
#include <strings.h>

/* Whether the media type (before any parameters) is one a page may send
 * without a preflight; no Content-Type counts too (a fetch of a Blob). */
static int simple_type(const char *ctype) {
    static const char *const simple[] = {"text/plain", "application/x-www-form-urlencoded",
                                         "multipart/form-data"};
    if (!ctype)
        return 1;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    size_t n = strcspn(ctype, "; \t");
    if (n == 0)
        return 1;
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strlen(simple[i]) == n && strncasecmp(ctype, simple[i], n) == 0)
            return 1;
    return 0;
}

/* Origin is "scheme://host[:port]"; the request's own is its scheme and
 * its Host header as sent. */
static int same_origin(const sr_http_request *req, const char *origin) {
    const char *host = sr_http_request_header(req, "Host");
    const char *scheme = req->tls ? "https://" : "http://";
    size_t sn = strlen(scheme);
    if (!host || !*host || strncasecmp(origin, scheme, sn) != 0)
        return 0;
    return strcasecmp(origin + sn, host) == 0;
}

const char *sr_http_cross_origin(const sr_http_request *req) {
    const char *site = sr_http_request_header(req, "Sec-Fetch-Site");
    if (site && (strcasecmp(site, "cross-site") == 0 || strcasecmp(site, "same-site") == 0))
        return "Sec-Fetch-Site says the request comes from another site";
    const char *origin = sr_http_request_header(req, "Origin");
    if (!origin)
        return NULL;
    if (!same_origin(req, origin))
        return "Origin names another origin";
    if (simple_type(sr_http_request_header(req, "Content-Type")))
        return "a browser form or text/plain post (Origin with a simple Content-Type)";
    return NULL;
}
