/* test_redact.c - secrets masked in every encoding a platform echoes them
 * in, and credential-like query parameters masked. */
#include <string.h>

#include "buf.h"
#include "check.h"
#include "redact.h"

static void redacted(const char *text, const char *secret, const char *want, size_t count) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    CHECK_INT(sr_redact(buf, strlen(buf), secret, strlen(secret)), count);
    CHECK_STR(buf, want);
}

static void test_encodings(void) {
    /* as is */
    redacted("bad token s3cr3t!/+x here", "s3cr3t!/+x", "bad token ********** here", 1);
    /* Basic credential, base64 of user:pass, padded ("dXNlcjpwQHNzOndvcmQ=") */
    redacted("{\"auth\":\"Basic dXNlcjpwQHNzOndvcmQ=\"}", "user:p@ss:word",
             "{\"auth\":\"Basic ********************\"}", 1);
    /* unpadded and URL-safe: ">>>?" is Pj4-Pw in base64url, Pj4+Pw== in base64 */
    redacted("a Pj4-Pw b Pj4+Pw== c Pj4+Pw d", ">>>?", "a ****** b ******** c ****** d", 3);
    /* percent-encoded, both hex cases */
    redacted("url ?key=p%40ss%2Fw0rd and p%40ss%2fw0rd", "p@ss/w0rd",
             "url ?key=************* and *************", 2);
    /* JSON-escaped, '/' included */
    redacted("{\"error\":\"token a\\\"b\\/c\\\\d rejected\"}", "a\"b/c\\d",
             "{\"error\":\"token ********** rejected\"}", 1);
    /* short secrets are left alone */
    /* A form body quoted again: encoded twice. */
    redacted("body=apikey%3Dp%2540ss%252Fw0rd", "p@ss/w0rd", "body=apikey%3D*****************", 1);
    redacted("abc abc", "abc", "abc abc", 0);
}

static void query(const char *in, const char *want) {
    sr_buf b = SR_BUF_INIT;
    CHECK_INT(sr_redact_query(in, &b), 0);
    CHECK_STR(b.data ? b.data : "", want);
    sr_buf_free(&b);
}

static void test_query(void) {
    query("limit=5&access_token=abc.def&X-Api-Key=k&queued=deliver&sig=1&flag",
          "limit=5&access_token=******&X-Api-Key=******&queued=deliver&sig=******&flag");
    query("PASSWORD=x&user=bob&authorization=Bearer%20x", "PASSWORD=******&user=bob&"
                                                          "authorization=******");
    query("", "");
    query(NULL, "");
}

static void jwt(const char *in, const char *want, size_t count) {
    char *t = strdup(in);
    CHECK_INT(sr_redact_jwt(t, strlen(t)), count);
    CHECK_STR(t, want);
    free(t);
}

/* A token endpoint echoing the signed assertion it was sent. */
static void test_jwt(void) {
    jwt("assertion=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJhIn0.c2ln&x=1",
        "assertion=*****************************************&x=1", 1);
    jwt("{\"t\":\"eyJhbGciOiJub25lIn0.eyJhIjoxfQ.\"}",
        "{\"t\":\"*******************************\"}", 1);
    /* Cut short by an excerpt: what is left of it still goes. */
    jwt("x eyJhbGciOiJSUzI1NiIsImtpZCI6", "x ****************************", 1);
    /* Not a token: a short run, inside a longer word. */
    jwt("eyJhbGciOi.eyJh.x and xeyJhbGciOiJub25lIn0.eyJhIjoxfQ.s",
        "eyJhbGciOi.eyJh.x and xeyJhbGciOiJub25lIn0.eyJhIjoxfQ.s", 0);
}

int main(void) {
    test_encodings();
    test_query();
    test_jwt();
    return CHECK_DONE();
}
