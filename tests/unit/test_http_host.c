/* test_http_host.c - runtime/net/http_host (the admin API's Host check, the
 * DNS rebinding defence) and runtime/net/http_origin (the HTTP input's
 * refusal of browsers' cross-origin posts), on requests built in memory. */
#include <string.h>

#include "check.h"
#include "http_host.h"
#include "http_origin.h"

/* A request with the given header fields (name, value pairs, NULL-ended). */
static sr_http_request request(sr_http_header *h, const char *const *fields, int minor, int tls) {
    size_t n = 0;
    for (; fields[2 * n]; n++)
        h[n] = (sr_http_header){fields[2 * n], fields[2 * n + 1]};
    sr_http_request r = {.method = "POST",
                         .path = "/v1/events",
                         .query = "",
                         .headers = h,
                         .nheaders = n,
                         .http_minor = minor,
                         .tls = tls};
    return r;
}

/* -1: accepted; else the refusal. */
static int host_verdict(const char *listen, char *const *allowed, size_t nallowed,
                        const char *const *fields, int minor) {
    sr_http_header h[8];
    sr_http_request r = request(h, fields, minor, 0);
    sr_http_host_policy p = {.listen_host = listen, .allowed = allowed, .nallowed = nallowed};
    sr_http_refusal why;
    return sr_http_host_check(&r, &p, &why) == 0 ? -1 : (int)why;
}

#define HOST(listen, value)                                                                        \
    host_verdict(listen, NULL, 0, (const char *const[]){"Host", value, NULL}, 1)

static void test_loopback_listener(void) {
    CHECK_INT(HOST("127.0.0.1", "127.0.0.1:9090"), -1);
    CHECK_INT(HOST("127.0.0.1", "127.0.0.1"), -1);
    CHECK_INT(HOST("127.0.0.1", "localhost:9090"), -1);
    CHECK_INT(HOST("127.0.0.1", "LocalHost."), -1);
    CHECK_INT(HOST("127.0.0.1", "127.0.0.2:9090"), -1); /* loopback all the same */
    CHECK_INT(HOST("127.0.0.1", "[::1]:9090"), -1);
    CHECK_INT(HOST("::1", "[0:0:0:0:0:0:0:1]:9090"), -1); /* compared as addresses */
    /* A rebound name, and addresses that are not the listener's. */
    CHECK_INT(HOST("127.0.0.1", "attacker.example:9090"), SR_HTTP_REFUSED_MISDIRECTED);
    CHECK_INT(HOST("127.0.0.1", "localhost.attacker.example"), SR_HTTP_REFUSED_MISDIRECTED);
    CHECK_INT(HOST("127.0.0.1", "192.0.2.1:9090"), SR_HTTP_REFUSED_MISDIRECTED);
}

static void test_other_listeners(void) {
    CHECK_INT(HOST("192.0.2.10", "192.0.2.10:9090"), -1);
    CHECK_INT(HOST("192.0.2.10", "localhost:9090"), SR_HTTP_REFUSED_MISDIRECTED);
    CHECK_INT(HOST("192.0.2.10", "127.0.0.1:9090"), SR_HTTP_REFUSED_MISDIRECTED);
    CHECK_INT(HOST("gw.example", "GW.example:9090"), -1); /* listening on a name */
    /* Wildcard: any address literal (nothing to rebind), localhost, no names. */
    CHECK_INT(HOST("0.0.0.0", "10.1.2.3:9090"), -1);
    CHECK_INT(HOST("::", "[2001:db8::5]:9090"), -1);
    CHECK_INT(HOST("0.0.0.0", "localhost"), -1);
    CHECK_INT(HOST("0.0.0.0", "gw.example:9090"), SR_HTTP_REFUSED_MISDIRECTED);
}

static void test_allowed_names(void) {
    char *names[] = {"gw.example.", "admin.corp"};
    char *any[] = {"*"};
    const char *const gw[] = {"Host", "gw.example:9090", NULL};
    const char *const corp[] = {"Host", "ADMIN.corp", NULL};
    const char *const evil[] = {"Host", "evil.example", NULL};
    CHECK_INT(host_verdict("0.0.0.0", names, 2, gw, 1), -1);
    CHECK_INT(host_verdict("127.0.0.1", names, 2, corp, 1), -1);
    CHECK_INT(host_verdict("127.0.0.1", names, 2, evil, 1), SR_HTTP_REFUSED_MISDIRECTED);
    CHECK_INT(host_verdict("127.0.0.1", any, 1, evil, 1), -1);
}

static void test_malformed(void) {
    const char *const none[] = {NULL};
    const char *const two[] = {"Host", "127.0.0.1", "host", "127.0.0.1", NULL};
    CHECK_INT(host_verdict("127.0.0.1", NULL, 0, none, 1), SR_HTTP_REFUSED_BAD_HOST);
    CHECK_INT(host_verdict("127.0.0.1", NULL, 0, none, 0), -1); /* HTTP/1.0 may omit it */
    CHECK_INT(host_verdict("127.0.0.1", NULL, 0, two, 1), SR_HTTP_REFUSED_BAD_HOST);
    const char *bad[] = {"",           ":9090",         "a:b:c",      "::1",
                         "[::1",       "[::1]x",        "localhost:", "localhost:123456",
                         "local host", "localhost:90a", "a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(HOST("127.0.0.1", bad[i]), SR_HTTP_REFUSED_BAD_HOST);
}

static const char *origin(const char *const *fields, int tls) {
    sr_http_header h[8];
    sr_http_request r = request(h, fields, 1, tls);
    return sr_http_cross_origin(&r);
}

static void test_cross_origin(void) {
    /* Agents send neither Origin nor Sec-Fetch-*: whatever their type. */
    CHECK(!origin((const char *const[]){"Host", "127.0.0.1:8080", NULL}, 0));
    CHECK(!origin((const char *const[]){"Content-Type", "text/plain", NULL}, 0));
    CHECK(!origin((const char *const[]){"Content-Type", "application/json", NULL}, 0));
    /* Another origin, whatever the type; "null" too. */
    CHECK(origin((const char *const[]){"Host", "127.0.0.1:8080", "Origin", "http://evil.example",
                                       "Content-Type", "application/json", NULL},
                 0));
    CHECK(origin((const char *const[]){"Host", "127.0.0.1:8080", "Origin", "null", NULL}, 0));
    /* The same host on another port, or another scheme, is another origin. */
    CHECK(origin((const char *const[]){"Host", "127.0.0.1:8080", "Origin", "http://127.0.0.1:3000",
                                       "Content-Type", "application/json", NULL},
                 0));
    CHECK(origin((const char *const[]){"Host", "127.0.0.1:8080", "Origin", "http://127.0.0.1:8080",
                                       "Content-Type", "application/json", NULL},
                 1));
    /* The request's own origin with a JSON body passes; with a simple type it does not. */
    CHECK(
        !origin((const char *const[]){"Host", "127.0.0.1:8080", "Origin", "https://127.0.0.1:8080",
                                      "Content-Type", "application/json; charset=utf-8", NULL},
                1));
    CHECK(origin((const char *const[]){"Host", "127.0.0.1:8080", "Origin", "http://127.0.0.1:8080",
                                       "Content-Type", "text/plain;charset=UTF-8", NULL},
                 0));
    CHECK(origin((const char *const[]){"Host", "127.0.0.1:8080", "Origin", "http://127.0.0.1:8080",
                                       "Content-Type", "Application/X-WWW-Form-Urlencoded", NULL},
                 0));
    CHECK(origin((const char *const[]){"Host", "127.0.0.1:8080", "Origin", "http://127.0.0.1:8080",
                                       "Content-Type", "multipart/form-data; boundary=x", NULL},
                 0));
    CHECK(origin(
        (const char *const[]){"Host", "127.0.0.1:8080", "Origin", "http://127.0.0.1:8080", NULL},
        0));
    /* Sec-Fetch-Site: another site (or port: the same site) is refused. */
    CHECK(origin((const char *const[]){"Sec-Fetch-Site", "cross-site", NULL}, 0));
    CHECK(origin((const char *const[]){"Sec-Fetch-Site", "same-site", NULL}, 0));
    CHECK(!origin(
        (const char *const[]){"Sec-Fetch-Site", "none", "Content-Type", "application/json", NULL},
        0));
}

int main(void) {
    test_loopback_listener();
    test_other_listeners();
    test_allowed_names();
    test_malformed();
    test_cross_origin();
    return CHECK_DONE();
}
