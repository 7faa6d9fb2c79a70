/* tls_engine.c - TLS contexts and engines over OpenSSL memory BIOs, for
 * both sides. */
#include "tls_engine.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define PLAIN_CHUNK (16 * 1024) /* one TLS record */

struct sr_tls_ctx {
    SSL_CTX *ssl;
    int insecure; /* client: verify nothing */
};

struct sr_tls_engine {
    SSL *ssl;
    BIO *in;  /* ciphertext from the peer; owned by ssl */
    BIO *out; /* ciphertext for the peer; owned by ssl */
    int heard;
};

/* ---- Errors ------------------------------------------------------------- */

/* OpenSSL's most specific reason for the last failure; clears its queue. */
static void tls_reason(char *buf, size_t len) {
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last)
        ERR_error_string_n(last, buf, len);
    else
        snprintf(buf, len, "unknown error");
}

static int file_error(char *err, size_t errlen, const char *what, const char *file) {
    char reason[256];
    tls_reason(reason, sizeof reason);
    snprintf(err, errlen, "tls: %s %s: %s", what, file, reason);
    return -1;
}

/* An encrypted key then fails to load instead of OpenSSL prompting on the
 * terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *ud) {
    (void)buf, (void)size, (void)rwflag, (void)ud;
    return 0;
}

/* ---- Contexts ----------------------------------------------------------- */

/* What both sides share. */
static sr_tls_ctx *ctx_new(const SSL_METHOD *method, long options, char *err, size_t errlen) {
    ERR_clear_error();
    sr_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx || !(ctx->ssl = SSL_CTX_new(method))) {
        free(ctx);
        snprintf(err, errlen, "tls: out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | options);
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx->ssl, no_passphrase);
    return ctx;
}

static int use_cert(SSL_CTX *ssl, const char *cert_file, const char *key_file, const char *whose,
                    char *err, size_t errlen) {
    char what[64];
    snprintf(what, sizeof what, "cannot load %scertificate", whose);
    if (SSL_CTX_use_certificate_chain_file(ssl, cert_file) != 1)
        return file_error(err, errlen, what, cert_file);
    snprintf(what, sizeof what, "cannot load %s", *whose ? "client key" : "private key");
    if (SSL_CTX_use_PrivateKey_file(ssl, key_file, SSL_FILETYPE_PEM) != 1)
        return file_error(err, errlen, what, key_file);
    snprintf(what, sizeof what, "%s does not match certificate",
             *whose ? "client key" : "private key");
    if (SSL_CTX_check_private_key(ssl) != 1)
        return file_error(err, errlen, what, cert_file);
    return 0;
}

static int load_client_ca(SSL_CTX *ssl, const sr_tls_listen_conf *conf, char *err, size_t errlen) {
    if (SSL_CTX_load_verify_locations(ssl, conf->client_ca_file, NULL) != 1)
        return file_error(err, errlen, "cannot load client CA", conf->client_ca_file);
    /* Tells clients which CAs we accept, so they pick the right certificate. */
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(conf->client_ca_file);
    if (names)
        SSL_CTX_set_client_CA_list(ssl, names);
    int mode = SSL_VERIFY_PEER;
    if (conf->require_client_cert)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ssl, mode, NULL);
    return 0;
}

/* Only suites with ephemeral key exchange by default: a stolen key must
 * not decrypt recorded sessions. */
static int set_ciphers(SSL_CTX *ssl, const char *ciphers, char *err, size_t errlen) {
    if (!ciphers || !*ciphers)
        ciphers = SR_TLS_SERVER_CIPHERS;
    if (SSL_CTX_set_cipher_list(ssl, ciphers) == 1)
        return 0;
    char reason[256];
    tls_reason(reason, sizeof reason);
    snprintf(err, errlen, "tls: ciphers '%.200s': no usable cipher suite (%s)", ciphers, reason);
    return -1;
}

int sr_tls_ciphers_check(const char *ciphers, char *err, size_t errlen) {
    ERR_clear_error();
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (!ssl) {
        snprintf(err, errlen, "tls: out of memory");
        return -1;
    }
    int rc = set_ciphers(ssl, ciphers, err, errlen);
    SSL_CTX_free(ssl);
    return rc;
}

sr_tls_ctx *sr_tls_ctx_new_server(const sr_tls_listen_conf *conf, char *err, size_t errlen) {
    if (!conf->cert_file || !conf->key_file) {
        snprintf(err, errlen, "tls: cert_file and key_file are both required");
        return NULL;
    }
    if (conf->require_client_cert && !conf->client_ca_file) {
        snprintf(err, errlen, "tls: require_client_cert needs client_ca_file");
        return NULL;
    }
    sr_tls_ctx *ctx = ctx_new(TLS_server_method(), SSL_OP_CIPHER_SERVER_PREFERENCE, err, errlen);
    if (!ctx)
        return NULL;
    if (conf->min_version == SR_TLS_MIN_1_3)
        SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_3_VERSION);
    if (set_ciphers(ctx->ssl, conf->ciphers, err, errlen) != 0) {
        sr_tls_ctx_free(ctx);
        return NULL;
    }
    /* Session resumption with client verification needs a context id. */
    static const unsigned char sid_ctx[] = "siemrelay";
    SSL_CTX_set_session_id_context(ctx->ssl, sid_ctx, sizeof sid_ctx - 1);
    if (use_cert(ctx->ssl, conf->cert_file, conf->key_file, "", err, errlen) != 0 ||
        (conf->client_ca_file && load_client_ca(ctx->ssl, conf, err, errlen) != 0)) {
        sr_tls_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

sr_tls_ctx *sr_tls_ctx_new_client(const sr_tls_client_conf *conf, char *err, size_t errlen) {
    sr_tls_ctx *ctx = ctx_new(TLS_client_method(), 0, err, errlen);
    if (!ctx)
        return NULL;
    ctx->insecure = conf->insecure;
    SSL_CTX_set_verify(ctx->ssl, conf->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    int has_cert = conf->cert_file && *conf->cert_file;
    int has_key = conf->key_file && *conf->key_file;
    if (conf->ca_file && *conf->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx->ssl, conf->ca_file, NULL) != 1) {
            file_error(err, errlen, "cannot load CA file", conf->ca_file);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx->ssl) != 1) {
        file_error(err, errlen, "cannot load", "the system CA store");
        goto fail;
    }
    if (has_cert != has_key) {
        snprintf(err, errlen, "tls: a client certificate needs both cert_file and key_file");
        goto fail;
    }
    if (has_cert &&
        use_cert(ctx->ssl, conf->cert_file, conf->key_file, "client ", err, errlen) != 0)
        goto fail;
    return ctx;
fail:
    sr_tls_ctx_free(ctx);
    return NULL;
}

void sr_tls_ctx_adopt(sr_tls_ctx *ctx, sr_tls_ctx *fresh) {
    /* Engines hold their own reference to the SSL_CTX they were made from,
     * so the old one lives on as long as its connections do. */
    SSL_CTX *old = ctx->ssl;
    ctx->ssl = fresh->ssl;
    fresh->ssl = old;
    sr_tls_ctx_free(fresh);
}

void sr_tls_ctx_free(sr_tls_ctx *ctx) {
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

/* ---- Engines ------------------------------------------------------------ */

static sr_tls_engine *engine_new(sr_tls_ctx *ctx, char *err, size_t errlen) {
    sr_tls_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "tls: out of memory");
        return NULL;
    }
    ERR_clear_error();
    e->ssl = SSL_new(ctx->ssl); /* holds a reference to the context */
    e->in = BIO_new(BIO_s_mem());
    e->out = BIO_new(BIO_s_mem());
    if (!e->ssl || !e->in || !e->out) {
        BIO_free(e->in);
        BIO_free(e->out);
        SSL_free(e->ssl);
        free(e);
        snprintf(err, errlen, "tls: out of memory");
        return NULL;
    }
    /* An empty input BIO means "wait for more", not end of file. */
    BIO_set_mem_eof_return(e->in, -1);
    SSL_set_bio(e->ssl, e->in, e->out);
    return e;
}

sr_tls_engine *sr_tls_engine_new_server(sr_tls_ctx *ctx, char *err, size_t errlen) {
    sr_tls_engine *e = engine_new(ctx, err, errlen);
    if (e)
        SSL_set_accept_state(e->ssl);
    return e;
}

static int is_ip_literal(const char *name) {
    unsigned char addr[16];
    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* Whom the certificate must name: an IP literal is matched against the
 * certificate's IP entries, anything else against its DNS names. */
static int expect_name(SSL *ssl, const char *name) {
    if (is_ip_literal(name))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 ? 0 : -1;
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

sr_tls_engine *sr_tls_engine_new_client(sr_tls_ctx *ctx, const char *server_name, char *err,
                                        size_t errlen) {
    const char *name = server_name ? server_name : "";
    sr_tls_engine *e = engine_new(ctx, err, errlen);
    if (!e)
        return NULL;
    SSL_set_connect_state(e->ssl);
    if (*name && !is_ip_literal(name) && SSL_set_tlsext_host_name(e->ssl, name) != 1) {
        snprintf(err, errlen, "tls: cannot use '%s' as server name", name);
        goto fail;
    }
    if (!ctx->insecure && expect_name(e->ssl, name) != 0) {
        snprintf(err, errlen, "tls: cannot verify against host name '%s'", name);
        goto fail;
    }
    /* Produces the ClientHello; WANT_READ is the expected answer. */
    int rc = SSL_do_handshake(e->ssl);
    if (rc <= 0 && SSL_get_error(e->ssl, rc) != SSL_ERROR_WANT_READ) {
        char reason[256];
        tls_reason(reason, sizeof reason);
        snprintf(err, errlen, "tls: cannot start handshake: %s", reason);
        goto fail;
    }
    ERR_clear_error();
    return e;
fail:
    sr_tls_engine_free(e);
    return NULL;
}

void sr_tls_engine_free(sr_tls_engine *e) {
    if (!e)
        return;
    SSL_free(e->ssl); /* frees the BIOs it owns */
    free(e);
}

/* The verdict on a failed read, in words: a client blames the server's
 * certificate when it did not verify; a server names the client
 * certificate's problem next to the protocol's reason. */
static sr_tls_status failure(sr_tls_engine *e, int ssl_error, char *why, size_t whylen) {
    char reason[256];
    if (ssl_error == SSL_ERROR_SSL)
        tls_reason(reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "SSL error %d", ssl_error);
    const char *stage = SSL_is_init_finished(e->ssl) ? "TLS error" : "TLS handshake failed";
    long verify = SSL_get_verify_result(e->ssl);
    if (verify != X509_V_OK && !SSL_is_server(e->ssl)) {
        snprintf(why, whylen, "%s: server certificate: %s", stage,
                 X509_verify_cert_error_string(verify));
        return SR_TLS_CERT_FAILED;
    }
    if (verify != X509_V_OK)
        snprintf(why, whylen, "%s: %s (client certificate: %s)", stage, reason,
                 X509_verify_cert_error_string(verify));
    else
        snprintf(why, whylen, "%s: %s", stage, reason);
    return SR_TLS_FAILED;
}

sr_tls_status sr_tls_engine_feed(sr_tls_engine *e, const void *data, size_t len,
                                 sr_tls_plain_cb on_plain, void *ud, char *why, size_t whylen) {
    if (len > INT_MAX || BIO_write(e->in, data, (int)len) != (int)len) {
        snprintf(why, whylen, "out of memory");
        return SR_TLS_FAILED;
    }
    if (SSL_is_init_finished(e->ssl) && len > 0)
        e->heard = 1;
    for (;;) {
        char plain[PLAIN_CHUNK];
        ERR_clear_error();
        /* SSL_read drives the handshake too. */
        int n = SSL_read(e->ssl, plain, sizeof plain);
        if (n > 0) {
            if (on_plain && on_plain(ud, plain, (size_t)n) != 0)
                return SR_TLS_OK;
            continue;
        }
        int err = SSL_get_error(e->ssl, n);
        if (err == SSL_ERROR_WANT_READ)
            return SR_TLS_OK;
        if (err == SSL_ERROR_ZERO_RETURN) {
            snprintf(why, whylen, "%s closed the TLS session",
                     SSL_is_server(e->ssl) ? "peer" : "server");
            return SR_TLS_CLOSED;
        }
        return failure(e, err, why, whylen);
    }
}

int sr_tls_engine_ready(const sr_tls_engine *e) { return SSL_is_init_finished(e->ssl); }

int sr_tls_engine_is_tls13(const sr_tls_engine *e) { return SSL_version(e->ssl) == TLS1_3_VERSION; }

int sr_tls_engine_heard(const sr_tls_engine *e) { return e->heard; }

int sr_tls_engine_write(sr_tls_engine *e, const void *data, size_t len) {
    if (!SSL_is_init_finished(e->ssl) || len > INT_MAX)
        return -1;
    if (len == 0)
        return 0;
    ERR_clear_error();
    /* The output BIO grows, so without partial writes SSL_write takes it all. */
    if (SSL_write(e->ssl, data, (int)len) != (int)len) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

void sr_tls_engine_close_notify(sr_tls_engine *e) {
    if (!SSL_is_init_finished(e->ssl))
        return;
    ERR_clear_error();
    SSL_shutdown(e->ssl);
    ERR_clear_error();
}

size_t sr_tls_engine_pending(const sr_tls_engine *e) { return BIO_ctrl_pending(e->out); }

size_t sr_tls_engine_take(sr_tls_engine *e, void *out, size_t len) {
    if (len > INT_MAX)
        len = INT_MAX;
    int n = BIO_read(e->out, out, (int)len);
    return n > 0 ? (size_t)n : 0;
}
