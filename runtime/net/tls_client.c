/* tls_client.c - TLS client sessions over OpenSSL memory BIOs. */
#include "tls_client.h"
#include "tls_util.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define DRAIN_CHUNK 4096

struct sr_tls_client_ctx {
    SSL_CTX *ssl;
    int insecure;
};

struct sr_tls_client {
    SSL *ssl;
    BIO *in;  /* from the server; owned by ssl */
    BIO *out; /* to the server; owned by ssl */
    int heard;
};

static int load_files(SSL_CTX *ssl, const sr_tls_client_conf *conf, char *err, size_t errlen) {
    if (conf->ca_file && *conf->ca_file) {
        if (SSL_CTX_load_verify_locations(ssl, conf->ca_file, NULL) != 1)
            return sr_tls_file_error(err, errlen, "cannot load CA file", conf->ca_file);
    } else if (SSL_CTX_set_default_verify_paths(ssl) != 1) {
        return sr_tls_file_error(err, errlen, "cannot load", "the system CA store");
    }
    int has_cert = conf->cert_file && *conf->cert_file;
    int has_key = conf->key_file && *conf->key_file;
    if (has_cert != has_key) {
        snprintf(err, errlen, "tls: a client certificate needs both cert_file and key_file");
        return -1;
    }
    if (!has_cert)
        return 0;
    if (SSL_CTX_use_certificate_chain_file(ssl, conf->cert_file) != 1)
        return sr_tls_file_error(err, errlen, "cannot load client certificate", conf->cert_file);
    if (SSL_CTX_use_PrivateKey_file(ssl, conf->key_file, SSL_FILETYPE_PEM) != 1)
        return sr_tls_file_error(err, errlen, "cannot load client key", conf->key_file);
    if (SSL_CTX_check_private_key(ssl) != 1)
        return sr_tls_file_error(err, errlen, "client key does not match certificate",
                                 conf->cert_file);
    return 0;
}

sr_tls_client_ctx *sr_tls_client_ctx_new(const sr_tls_client_conf *conf, char *err, size_t errlen) {
    sr_tls_client_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "tls: out of memory");
        return NULL;
    }
    ERR_clear_error();
    ctx->ssl = SSL_CTX_new(TLS_client_method());
    if (!ctx->ssl) {
        snprintf(err, errlen, "tls: out of memory");
        goto fail;
    }
    ctx->insecure = conf->insecure;
    SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx->ssl, sr_tls_no_passphrase);
    SSL_CTX_set_verify(ctx->ssl, conf->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (load_files(ctx->ssl, conf, err, errlen) != 0)
        goto fail;
    return ctx;
fail:
    sr_tls_client_ctx_free(ctx);
    return NULL;
}

void sr_tls_client_ctx_free(sr_tls_client_ctx *ctx) {
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
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
    if (SSL_set1_host(ssl, name) != 1)
        return -1;
    return 0;
}

sr_tls_client *sr_tls_client_new(sr_tls_client_ctx *ctx, const char *server_name, char *err,
                                 size_t errlen) {
    sr_tls_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "tls: out of memory");
        return NULL;
    }
    ERR_clear_error();
    c->ssl = SSL_new(ctx->ssl);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->in || !c->out) {
        BIO_free(c->in);
        BIO_free(c->out);
        c->in = c->out = NULL;
        snprintf(err, errlen, "tls: out of memory");
        goto fail;
    }
    /* An empty input BIO means "wait for more", not end of file. */
    BIO_set_mem_eof_return(c->in, -1);
    SSL_set_bio(c->ssl, c->in, c->out);
    SSL_set_connect_state(c->ssl);
    if (server_name && *server_name && !is_ip_literal(server_name) &&
        SSL_set_tlsext_host_name(c->ssl, server_name) != 1) {
        snprintf(err, errlen, "tls: cannot use '%s' as server name", server_name);
        goto fail;
    }
    if (!ctx->insecure && expect_name(c->ssl, server_name ? server_name : "") != 0) {
        snprintf(err, errlen, "tls: cannot verify against host name '%s'",
                 server_name ? server_name : "");
        goto fail;
    }
    /* Produces the ClientHello; WANT_READ is the expected answer. */
    int rc = SSL_do_handshake(c->ssl);
    if (rc <= 0 && SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ) {
        char reason[256];
        sr_tls_reason(reason, sizeof reason);
        snprintf(err, errlen, "tls: cannot start handshake: %s", reason);
        goto fail;
    }
    ERR_clear_error();
    return c;
fail:
    sr_tls_client_free(c);
    return NULL;
}

void sr_tls_client_free(sr_tls_client *c) {
    if (!c)
        return;
    SSL_free(c->ssl); /* frees the BIOs it owns */
    free(c);
}

static sr_tls_status failure(sr_tls_client *c, int ssl_error, char *why, size_t whylen) {
    char reason[256];
    if (ssl_error == SSL_ERROR_SSL)
        sr_tls_reason(reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "SSL error %d", ssl_error);
    const char *stage = SSL_is_init_finished(c->ssl) ? "TLS error" : "TLS handshake failed";
    long verify = SSL_get_verify_result(c->ssl);
    if (verify != X509_V_OK) {
        snprintf(why, whylen, "%s: server certificate: %s", stage,
                 X509_verify_cert_error_string(verify));
        return SR_TLS_CERT_FAILED;
    }
    snprintf(why, whylen, "%s: %s", stage, reason);
    return SR_TLS_FAILED;
}

sr_tls_status sr_tls_client_feed(sr_tls_client *c, const void *data, size_t len, char *why,
                                 size_t whylen) {
    if (len > INT_MAX || BIO_write(c->in, data, (int)len) != (int)len) {
        snprintf(why, whylen, "tls: out of memory");
        return SR_TLS_FAILED;
    }
    int was_ready = SSL_is_init_finished(c->ssl);
    if (was_ready && len > 0)
        c->heard = 1;
    ERR_clear_error();
    for (;;) {
        char sink[DRAIN_CHUNK];
        /* SSL_read drives the handshake too; application data from a syslog
         * server has no meaning and is dropped. */
        int n = SSL_read(c->ssl, sink, sizeof sink);
        if (n > 0)
            continue;
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            return SR_TLS_OK;
        if (e == SSL_ERROR_ZERO_RETURN) {
            snprintf(why, whylen, "server closed the TLS session");
            return SR_TLS_CLOSED;
        }
        return failure(c, e, why, whylen);
    }
}

int sr_tls_client_ready(const sr_tls_client *c) { return SSL_is_init_finished(c->ssl); }

int sr_tls_client_is_tls13(const sr_tls_client *c) { return SSL_version(c->ssl) == TLS1_3_VERSION; }

int sr_tls_client_heard(const sr_tls_client *c) { return c->heard; }

int sr_tls_client_write(sr_tls_client *c, const void *data, size_t len) {
    if (!SSL_is_init_finished(c->ssl) || len > INT_MAX)
        return -1;
    if (len == 0)
        return 0;
    ERR_clear_error();
    /* The output BIO grows, so a write is never partial. */
    if (SSL_write(c->ssl, data, (int)len) != (int)len) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

void sr_tls_client_close_notify(sr_tls_client *c) {
    if (!SSL_is_init_finished(c->ssl))
        return;
    ERR_clear_error();
    SSL_shutdown(c->ssl);
    ERR_clear_error();
}

size_t sr_tls_client_pending(const sr_tls_client *c) { return BIO_ctrl_pending(c->out); }

size_t sr_tls_client_take(sr_tls_client *c, void *out, size_t len) {
    if (len > INT_MAX)
        len = INT_MAX;
    int n = BIO_read(c->out, out, (int)len);
    return n > 0 ? (size_t)n : 0;
}
