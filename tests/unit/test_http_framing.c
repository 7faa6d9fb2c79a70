/* test_http_framing.c - the strict RFC 9112 framing lexer on its own: what
 * it accepts, where it says a request ends, and what it refuses, byte by
 * byte as well as in one piece. */
#include <string.h>

#include "check.h"
#include "http_framing.h"

#define OK (-1) /* expected "no refusal" */

/* Feeds `s` whole; returns the refusal kind or OK, and where it ended. */
static int feed_whole(const char *s, long *end, int *done) {
    sr_http_framing f;
    sr_http_framing_init(&f);
    long n = sr_http_framing_feed(&f, s, strlen(s), done);
    *end = n;
    return n < 0 ? (int)sr_http_framing_refusal(&f) : OK;
}

/* The same, one byte at a time: the lexer must not depend on read sizes. */
static int feed_bytes(const char *s, long *end, int *done) {
    sr_http_framing f;
    sr_http_framing_init(&f);
    size_t len = strlen(s);
    *done = 0;
    for (size_t i = 0; i < len; i++) {
        long n = sr_http_framing_feed(&f, s + i, 1, done);
        if (n < 0)
            return (int)sr_http_framing_refusal(&f);
        if (*done) {
            *end = (long)i + 1;
            return OK;
        }
    }
    *end = (long)len;
    return OK;
}

/* Expects `want` both ways; for accepted requests, that the request ends
 * after `end` bytes (-1: still incomplete at the end of s). */
static void expect(const char *s, int want, long end) {
    long e1 = 0, e2 = 0;
    int d1 = 0, d2 = 0;
    int r1 = feed_whole(s, &e1, &d1), r2 = feed_bytes(s, &e2, &d2);
    CHECK_INT(r1, want);
    CHECK_INT(r2, want);
    if (r1 != want || r2 != want)
        fprintf(stderr, "  request: %s\n", s);
    if (want == OK) {
        CHECK_INT(d1 ? e1 : -1, end);
        CHECK_INT(d2 ? e2 : -1, end);
    }
}

static void test_accepted(void) {
    const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    expect(get, OK, (long)strlen(get));
    const char *cl = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET";
    expect(cl, OK, (long)strlen(cl) - 3);
    const char *ch = "POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED \r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\nNEXT";
    expect(ch, OK, (long)strlen(ch) - 4);
    const char *ext = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3;a=b ; c ; d = \"q\\\"x\" ;e\r\nabc\r\n0;last\r\nX-T: 1\r\n\r\n";
    expect(ext, OK, (long)strlen(ext));
    const char *lead = "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
    expect(lead, OK, (long)strlen(lead));
    expect("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", OK, -1);
    const char *h10 = "POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\nx";
    expect(h10, OK, (long)strlen(h10));
    const char *tab = "GET / HTTP/1.1\r\nX: a\tb\x80\xff\r\n\r\n"; /* HTAB, obs-text */
    expect(tab, OK, (long)strlen(tab));
}

static void test_refused(void) {
    expect("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
           SR_HTTP_REFUSED_BAD_FIELD_NAME, 0);
    expect("POST / HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
           SR_HTTP_REFUSED_TE_UNSUPPORTED, 0);
    expect("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", SR_HTTP_REFUSED_TE_UNSUPPORTED, 0);
    expect("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
           SR_HTTP_REFUSED_TE_UNSUPPORTED, 0);
    expect("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n identity\r\n\r\n",
           SR_HTTP_REFUSED_OBS_FOLD, 0);
    expect("POST / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", SR_HTTP_REFUSED_OBS_FOLD, 0);
    expect("POST / HTTP/1.1\r\n Host: x\r\n\r\n", SR_HTTP_REFUSED_BAD_LINE, 0);
    expect("POST / HTTP/1.1\r\nX: a\x01z\r\n\r\n", SR_HTTP_REFUSED_BAD_FIELD_VALUE, 0);
    expect("POST / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", SR_HTTP_REFUSED_BAD_FIELD_VALUE, 0);
    expect("POST / HTTP/1.1\r\nX\x01Y: a\r\n\r\n", SR_HTTP_REFUSED_BAD_FIELD_NAME, 0);
    expect("POST / HTTP/1.1\r\n: a\r\n\r\n", SR_HTTP_REFUSED_BAD_FIELD_NAME, 0);
    expect("POST / HTTP/1.1\r\nX: a\rY: b\r\n\r\n", SR_HTTP_REFUSED_BAD_LINE, 0);
    expect("POST / HTTP/1.1\nX: a\n\n", SR_HTTP_REFUSED_BAD_LINE, 0);
    expect("POST / HTTP/1.1\r\nX: a\n\r\n", SR_HTTP_REFUSED_BAD_LINE, 0);
    expect("POST /\x01 HTTP/1.1\r\n\r\n", SR_HTTP_REFUSED_BAD_LINE, 0);
    expect("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
           SR_HTTP_REFUSED_CL_AND_TE, 0);
    expect("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
           SR_HTTP_REFUSED_CL_AND_TE, 0);
    expect("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
           SR_HTTP_REFUSED_BAD_CL, 0);
    expect("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", SR_HTTP_REFUSED_BAD_CL, 0);
    expect("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", SR_HTTP_REFUSED_BAD_CL, 0);
    expect("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", SR_HTTP_REFUSED_TE_HTTP10, 0);
    const char *te = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char *bad_chunks[] = {
        "1;a=b;;\x01zz\r\na\r\n0\r\n\r\n", /* empty extension, control byte */
        "1;\r\na\r\n0\r\n\r\n",            /* ';' without a name */
        "1 \r\na\r\n0\r\n\r\n",            /* whitespace not followed by ';' */
        "1;a=\r\na\r\n0\r\n\r\n",          /* '=' without a value */
        "1;a=\"x\r\na\r\n0\r\n\r\n",       /* unterminated quoted string */
        "1;a=b\"\r\na\r\n0\r\n\r\n",       /* quote inside a token */
        "1;a b\r\na\r\n0\r\n\r\n",         /* two names without ';' */
        ";a\r\na\r\n0\r\n\r\n",            /* no size */
        "1\r\naXY\r\n0\r\n\r\n",           /* data longer than the size */
        "1\na\r\n0\r\n\r\n",               /* bare LF */
        "11111111111111111\r\n",           /* 17 hex digits */
    };
    for (size_t i = 0; i < sizeof bad_chunks / sizeof bad_chunks[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "%s%s", te, bad_chunks[i]);
        expect(req, SR_HTTP_REFUSED_BAD_CHUNK, 0);
    }
    /* A chunk line beyond 4 KiB of extensions. */
    static char longext[8192];
    size_t n = (size_t)snprintf(longext, sizeof longext, "%s1", te);
    while (n < 4200 + strlen(te))
        n += (size_t)snprintf(longext + n, sizeof longext - n, ";a=b");
    snprintf(longext + n, sizeof longext - n, "\r\nx\r\n0\r\n\r\n");
    expect(longext, SR_HTTP_REFUSED_BAD_CHUNK, 0);
    /* Trailers follow the field rules. */
    char tr[256];
    snprintf(tr, sizeof tr, "%s0\r\nX-T: 1\r\n folded\r\n\r\n", te);
    expect(tr, SR_HTTP_REFUSED_OBS_FOLD, 0);
}

/* After one request ends, the next feed starts the next request. */
static void test_pipelined(void) {
    const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nX : y\r\n\r\n";
    sr_http_framing f;
    int done;
    sr_http_framing_init(&f);
    long n = sr_http_framing_feed(&f, two, strlen(two), &done);
    CHECK_INT(n, 19);
    CHECK_INT(done, 1);
    n = sr_http_framing_feed(&f, two + 19, strlen(two) - 19, &done);
    CHECK_INT(n, -1);
    CHECK_INT(sr_http_framing_refusal(&f), SR_HTTP_REFUSED_BAD_FIELD_NAME);
    CHECK_STR(sr_http_refusal_name(SR_HTTP_REFUSED_OBS_FOLD), "obs_fold");
    CHECK_INT(sr_http_refusal_status(SR_HTTP_REFUSED_TE_UNSUPPORTED), 501);
}

int main(void) {
    test_accepted();
    test_refused();
    test_pipelined();
    return CHECK_DONE();
}
