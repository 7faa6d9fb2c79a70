/* test_tls_engine.c - runtime/net/tls_engine: a client engine and a server
 * engine of the same code talking to each other in memory (no socket), with
 * real certificates (test_certs.h): handshakes, plaintext both ways,
 * close_notify, host-name and IP checks, client certificates required and
 * refused, a plaintext callback stopping a feed, context errors, cipher
 * lists, and a server context adopting a fresh one (certificate rotation). */
#include <string.h>

#include "buf.h"
#include "check.h"
#include "test_certs.h"
#include "tls_engine.h"

static test_certs certs;

typedef struct side {
    sr_tls_engine *e;
    sr_buf plain; /* what the peer's plaintext added up to */
    int stop;     /* on_plain asks feed() to stop */
    int calls;    /* on_plain calls */
    sr_tls_status st;
    char why[400];
} side;

static int on_plain(void *ud, const char *data, size_t len) {
    side *s = ud;
    s->calls++;
    sr_buf_append(&s->plain, data, len);
    return s->stop;
}

/* Moves what `from` has for its peer into `to`; 1 if anything moved. */
static int move(side *from, side *to) {
    char buf[65536];
    size_t n = sr_tls_engine_take(from->e, buf, sizeof buf);
    if (n == 0)
        return 0;
    sr_tls_status st = sr_tls_engine_feed(to->e, buf, n, on_plain, to, to->why, sizeof to->why);
    if (st != SR_TLS_OK && to->st == SR_TLS_OK)
        to->st = st; /* the first verdict */
    return 1;
}

/* Shuttles bytes both ways until neither side has anything to say. */
static void pump(side *c, side *s) {
    while (move(c, s) | move(s, c))
        ;
}

static sr_tls_ctx *server_ctx(int require_client_cert) {
    char err[512] = "";
    sr_tls_listen_conf conf = {.cert_file = certs.path[SRV_CRT],
                               .key_file = certs.path[SRV_KEY],
                               .client_ca_file = require_client_cert ? certs.path[CA_CRT] : NULL,
                               .require_client_cert = require_client_cert};
    sr_tls_ctx *ctx = sr_tls_ctx_new_server(&conf, err, sizeof err);
    if (!ctx)
        fprintf(stderr, "server ctx: %s\n", err);
    CHECK(ctx != NULL);
    return ctx;
}

static sr_tls_ctx *client_ctx(int with_cert) {
    char err[512] = "";
    sr_tls_client_conf conf = {.ca_file = certs.path[CA_CRT],
                               .cert_file = with_cert ? certs.path[CLI_CRT] : NULL,
                               .key_file = with_cert ? certs.path[CLI_KEY] : NULL};
    sr_tls_ctx *ctx = sr_tls_ctx_new_client(&conf, err, sizeof err);
    if (!ctx)
        fprintf(stderr, "client ctx: %s\n", err);
    CHECK(ctx != NULL);
    return ctx;
}

/* A pair of engines, the handshake pumped through. */
static void connect_pair(sr_tls_ctx *cctx, sr_tls_ctx *sctx, const char *name, side *c, side *s) {
    char err[256] = "";
    memset(c, 0, sizeof *c);
    memset(s, 0, sizeof *s);
    c->e = sr_tls_engine_new_client(cctx, name, err, sizeof err);
    s->e = sr_tls_engine_new_server(sctx, err, sizeof err);
    CHECK(c->e != NULL && s->e != NULL);
    CHECK(sr_tls_engine_pending(c->e) > 0); /* the ClientHello, at once */
    pump(c, s);
}

static void pair_free(side *c, side *s) {
    sr_tls_engine_free(c->e);
    sr_tls_engine_free(s->e);
    sr_buf_free(&c->plain);
    sr_buf_free(&s->plain);
}

static void test_both_ways(void) {
    sr_tls_ctx *cctx = client_ctx(0), *sctx = server_ctx(0);
    side c, s;
    connect_pair(cctx, sctx, "localhost", &c, &s);
    /* The contexts may go: each engine holds its own reference. */
    sr_tls_ctx_free(cctx);
    sr_tls_ctx_free(sctx);
    CHECK_INT(c.st, SR_TLS_OK);
    CHECK_INT(s.st, SR_TLS_OK);
    CHECK(sr_tls_engine_ready(c.e) && sr_tls_engine_ready(s.e));
    CHECK(sr_tls_engine_is_tls13(c.e));
    CHECK(sr_tls_engine_heard(c.e)); /* the server's session tickets */

    CHECK_INT(sr_tls_engine_write(c.e, "<13>hello", 9), 0);
    CHECK_INT(sr_tls_engine_write(s.e, "answer", 6), 0);
    pump(&c, &s);
    CHECK_MEM(s.plain.data, s.plain.len, "<13>hello");
    CHECK_MEM(c.plain.data, c.plain.len, "answer");

    sr_tls_engine_close_notify(c.e);
    pump(&c, &s);
    CHECK_INT(s.st, SR_TLS_CLOSED);
    CHECK_STR(s.why, "peer closed the TLS session");
    pair_free(&c, &s);
}

static void test_names(void) {
    sr_tls_ctx *cctx = client_ctx(0), *sctx = server_ctx(0);
    side c, s;
    connect_pair(cctx, sctx, "127.0.0.1", &c, &s); /* the certificate's IP entry */
    CHECK_INT(c.st, SR_TLS_OK);
    CHECK(sr_tls_engine_ready(c.e));
    pair_free(&c, &s);

    connect_pair(cctx, sctx, "siem.example", &c, &s);
    CHECK_INT(c.st, SR_TLS_CERT_FAILED);
    CHECK(strstr(c.why, "TLS handshake failed: server certificate: ") == c.why);
    CHECK(!sr_tls_engine_ready(c.e));
    pair_free(&c, &s);

    connect_pair(cctx, sctx, "192.0.2.1", &c, &s);
    CHECK_INT(c.st, SR_TLS_CERT_FAILED);
    pair_free(&c, &s);

    /* Insecure: no chain, no name. */
    char err[256];
    sr_tls_client_conf conf = {.insecure = 1};
    sr_tls_ctx *loose = sr_tls_ctx_new_client(&conf, err, sizeof err);
    CHECK(loose != NULL);
    connect_pair(loose, sctx, "siem.example", &c, &s);
    CHECK_INT(c.st, SR_TLS_OK);
    CHECK(sr_tls_engine_ready(c.e));
    pair_free(&c, &s);
    sr_tls_ctx_free(loose);
    sr_tls_ctx_free(cctx);
    sr_tls_ctx_free(sctx);
}

static void test_client_certificates(void) {
    sr_tls_ctx *with = client_ctx(1), *without = client_ctx(0), *sctx = server_ctx(1);
    side c, s;
    connect_pair(with, sctx, "localhost", &c, &s);
    CHECK_INT(c.st, SR_TLS_OK);
    CHECK_INT(s.st, SR_TLS_OK);
    CHECK(sr_tls_engine_ready(s.e));
    pair_free(&c, &s);

    /* TLS 1.3: the client is done before the server judges; the server's
     * verdict reaches it as an alert. */
    connect_pair(without, sctx, "localhost", &c, &s);
    CHECK_INT(s.st, SR_TLS_FAILED);
    CHECK(strstr(s.why, "TLS handshake failed: ") == s.why);
    CHECK_INT(c.st, SR_TLS_FAILED);
    pair_free(&c, &s);
    sr_tls_ctx_free(with);
    sr_tls_ctx_free(without);
    sr_tls_ctx_free(sctx);
}

static void test_plain_callback_stops(void) {
    sr_tls_ctx *cctx = client_ctx(0), *sctx = server_ctx(0);
    side c, s;
    connect_pair(cctx, sctx, "localhost", &c, &s);
    /* Two records in one feed: stopping after the first drops the second. */
    CHECK_INT(sr_tls_engine_write(c.e, "one", 3), 0);
    CHECK_INT(sr_tls_engine_write(c.e, "two", 3), 0);
    s.stop = 1;
    move(&c, &s);
    CHECK_INT(s.calls, 1);
    CHECK_MEM(s.plain.data, s.plain.len, "one");
    CHECK_INT(s.st, SR_TLS_OK);
    pair_free(&c, &s);
    sr_tls_ctx_free(cctx);
    sr_tls_ctx_free(sctx);
}

static void test_context_errors(void) {
    char err[512];
    sr_tls_listen_conf none = {0};
    CHECK(sr_tls_ctx_new_server(&none, err, sizeof err) == NULL);
    CHECK_STR(err, "tls: cert_file and key_file are both required");
    sr_tls_listen_conf mismatch = {.cert_file = certs.path[SRV_CRT],
                                   .key_file = certs.path[CLI_KEY]};
    CHECK(sr_tls_ctx_new_server(&mismatch, err, sizeof err) == NULL);
    CHECK(strstr(err, "tls: cannot load private key ") == err && strstr(err, "mismatch"));
    sr_tls_listen_conf no_ca = {.cert_file = certs.path[SRV_CRT],
                                .key_file = certs.path[SRV_KEY],
                                .require_client_cert = 1};
    CHECK(sr_tls_ctx_new_server(&no_ca, err, sizeof err) == NULL);
    CHECK_STR(err, "tls: require_client_cert needs client_ca_file");

    sr_tls_client_conf missing = {.ca_file = "/nonexistent/ca.pem"};
    CHECK(sr_tls_ctx_new_client(&missing, err, sizeof err) == NULL);
    CHECK(strstr(err, "tls: cannot load CA file /nonexistent/ca.pem: ") == err);
    sr_tls_client_conf half = {.ca_file = certs.path[CA_CRT], .cert_file = certs.path[CLI_CRT]};
    CHECK(sr_tls_ctx_new_client(&half, err, sizeof err) == NULL);
    CHECK_STR(err, "tls: a client certificate needs both cert_file and key_file");
    sr_tls_client_conf wrong = {.ca_file = certs.path[CA_CRT],
                                .cert_file = certs.path[CLI_CRT],
                                .key_file = certs.path[SRV_KEY]};
    CHECK(sr_tls_ctx_new_client(&wrong, err, sizeof err) == NULL);
    CHECK(strstr(err, "tls: cannot load client key ") == err && strstr(err, "mismatch"));
}

static void test_ciphers(void) {
    char err[512] = "";
    CHECK_INT(sr_tls_ciphers_check(NULL, err, sizeof err), 0); /* the default list */
    CHECK_INT(sr_tls_ciphers_check(SR_TLS_SERVER_CIPHERS, err, sizeof err), 0);
    CHECK_INT(sr_tls_ciphers_check("ECDHE+AESGCM", err, sizeof err), 0);
    CHECK_INT(sr_tls_ciphers_check("NO-SUCH-CIPHER", err, sizeof err), -1);
    CHECK(strstr(err, "tls: ciphers 'NO-SUCH-CIPHER': no usable cipher suite") == err);
    sr_tls_listen_conf bad = {.cert_file = certs.path[SRV_CRT],
                              .key_file = certs.path[SRV_KEY],
                              .ciphers = "NO-SUCH-CIPHER"};
    CHECK(sr_tls_ctx_new_server(&bad, err, sizeof err) == NULL);
    CHECK(strstr(err, "no usable cipher suite") != NULL);
}

/* A reload's fresh context serves the connections made after it; one made
 * before keeps its session. The fresh context here requires client
 * certificates, which tells the two apart. */
static void test_adopt(void) {
    sr_tls_ctx *cctx = client_ctx(0), *sctx = server_ctx(0);
    side c, s, c2, s2;
    connect_pair(cctx, sctx, "localhost", &c, &s);
    CHECK_INT(s.st, SR_TLS_OK);
    sr_tls_ctx_adopt(sctx, server_ctx(1));
    connect_pair(cctx, sctx, "localhost", &c2, &s2);
    CHECK_INT(s2.st, SR_TLS_FAILED); /* no client certificate: the new rule */
    pair_free(&c2, &s2);
    CHECK_INT(sr_tls_engine_write(c.e, "still", 5), 0);
    pump(&c, &s);
    CHECK_MEM(s.plain.data, s.plain.len, "still");
    CHECK_INT(s.st, SR_TLS_OK);
    pair_free(&c, &s);
    sr_tls_ctx *with = client_ctx(1);
    connect_pair(with, sctx, "localhost", &c2, &s2);
    CHECK_INT(s2.st, SR_TLS_OK);
    pair_free(&c2, &s2);
    sr_tls_ctx_free(with);
    sr_tls_ctx_free(cctx);
    sr_tls_ctx_free(sctx);
}

int main(void) {
    if (test_certs_make(&certs) != 0) {
        fprintf(stderr, "cannot make certificates with the openssl CLI\n");
        return 1;
    }
    test_both_ways();
    test_names();
    test_client_certificates();
    test_plain_callback_stops();
    test_context_errors();
    test_ciphers();
    test_adopt();
    test_certs_remove(&certs);
    return CHECK_DONE();
}
