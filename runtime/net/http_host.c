/* http_host.c - a request's Host against the names its listener answers to. */
#include "http_host.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define MAX_HOST 255

typedef struct address {
    int family; /* AF_INET, AF_INET6, or 0: not a literal */
    unsigned char bytes[16];
} address;

static address parse_address(const char *s) {
    address a = {0};
    if (inet_pton(AF_INET, s, a.bytes) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, s, a.bytes) == 1)
        a.family = AF_INET6;
    return a;
}

static int same_address(const address *a, const address *b) {
    return a->family && a->family == b->family &&
           memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

static int is_loopback(const address *a) {
    static const unsigned char v6_loopback[16] = {[15] = 1};
    if (a->family == AF_INET)
        return a->bytes[0] == 127;
    return a->family == AF_INET6 && memcmp(a->bytes, v6_loopback, 16) == 0;
}

static int is_wildcard(const address *a) {
    static const unsigned char zero[16] = {0};
    return a->family && memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

/* The name of a Host value ("name", "name:port", "[v6]:port") into `out`,
 * without brackets or a trailing dot. -1 when malformed. */
static int host_name(const char *v, char *out, size_t outlen) {
    const char *end, *port;
    if (*v == '[') {
        v++;
        if (!(end = strchr(v, ']')))
            return -1;
        port = end + 1;
    } else {
        end = v + strcspn(v, ":");
        if (strchr(end + (*end == ':'), ':')) /* an IPv6 address needs brackets */
            return -1;
        port = end;
    }
    if (*port == ':') {
        size_t digits = strspn(port + 1, "0123456789");
        if (digits == 0 || digits > 5 || port[1 + digits] != '\0')
            return -1;
    } else if (*port != '\0') {
        return -1;
    }
    size_t n = (size_t)(end - v);
    if (n > 0 && v[n - 1] == '.')
        n--;
    if (n == 0 || n >= outlen)
        return -1;
    for (size_t i = 0; i < n; i++) /* reg-name, IPv4 or IPv6 characters only */
        if (!(v[i] == '-' || v[i] == '.' || v[i] == '_' || v[i] == ':' ||
              (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') ||
              (v[i] >= 'A' && v[i] <= 'Z')))
            return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

static int named(const char *name, const char *allowed) {
    size_t n = strlen(allowed);
    if (n > 0 && allowed[n - 1] == '.')
        n--;
    return strlen(name) == n && strncasecmp(name, allowed, n) == 0;
}

static int allowed_name(const char *name, const sr_http_host_policy *p) {
    for (size_t i = 0; i < p->nallowed; i++)
        if (strcmp(p->allowed[i], "*") == 0 || named(name, p->allowed[i]))
            return 1;
    address listen = parse_address(p->listen_host), asked = parse_address(name);
    int listen_local = is_loopback(&listen) || strcasecmp(p->listen_host, "localhost") == 0;
    if (named(name, p->listen_host) || same_address(&asked, &listen))
        return 1;
    if (is_wildcard(&listen))
        return asked.family || strcasecmp(name, "localhost") == 0;
    return listen_local && (is_loopback(&asked) || strcasecmp(name, "localhost") == 0);
}

int sr_http_host_check(const sr_http_request *req, const sr_http_host_policy *p,
                       sr_http_refusal *why) {
    const char *host = NULL;
    char name[MAX_HOST + 1];
    *why = SR_HTTP_REFUSED_BAD_HOST;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, "Host") != 0)
            continue;
        if (host)
            return -1;
        host = req->headers[i].value;
    }
    if (!host)
        return req->http_minor >= 1 ? -1 : 0;
    if (host_name(host, name, sizeof name) != 0)
        return -1;
    *why = SR_HTTP_REFUSED_MISDIRECTED;
    return allowed_name(name, p) ? 0 : -1;
}
