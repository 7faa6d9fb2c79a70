/* tls_engine.h - the one TLS engine: OpenSSL over memory BIOs, for both
 * sides of a connection, never touching a socket.
 *
 * Whoever owns the connection moves the bytes: ciphertext read from the
 * socket is fed in (feed), plaintext comes out through a callback, plaintext
 * to send goes in (write), and the ciphertext waiting for the peer is taken
 * out (pending, take) and written to the socket. feed() also drives the
 * handshake and processes post-handshake messages (TLS 1.3 session
 * tickets), alerts and close_notify; its answers wait in take(). Nothing
 * here blocks or does I/O, so the loop thread never waits on OpenSSL.
 *
 * Users: runtime/net/tls_stream.c (accepted connections of the inputs and
 * the admin API: server engines) and sinks/stream_tcp.c (syslog over TLS:
 * client engines).
 *
 * A context holds what every connection of a listener or a sink shares:
 *   server: the certificate chain and key, and optionally the CA client
 *           certificates are verified against (and whether one is required);
 *   client: the trust anchors (a CA file, or the system store), an optional
 *           client certificate, and whether verification is on. A client
 *           engine verifies the server's chain and that its certificate
 *           names the host connected to (a DNS name, or an IP address literal
 *           checked against the certificate's IP entries), unless insecure.
 * A server offers TLS 1.2 or 1.3 (min_version raises the floor to 1.3) and,
 * for TLS 1.2, only the cipher suites of `ciphers` (default
 * SR_TLS_SERVER_CIPHERS: ECDHE key exchange with AEAD ciphers, so every
 * session is forward-secret and static-RSA suites such as AES128-SHA are
 * refused); TLS 1.3's suites are all forward-secret.
 * Both: TLS 1.2 minimum, no compression, no renegotiation; files are loaded
 * when the context is made, so a wrong path or a key that does not match its
 * certificate is a start-up error; an encrypted key fails to load instead of
 * prompting. An engine keeps its own reference to its context, so a context
 * may be freed while engines made from it live on.
 *
 * TLS 1.3 moves a server's verdict on a client certificate after the
 * client's handshake is complete: a rejection arrives as an alert one round
 * trip later. sr_tls_engine_heard() tells a client whether the server has
 * sent anything since the handshake (its session tickets), which proves it
 * accepted the connection.
 *
 * Errors carry OpenSSL's reason and, for certificate problems, the
 * verification error; never key material. */
#ifndef SR_TLS_ENGINE_H
#define SR_TLS_ENGINE_H

#include <stddef.h>

/* ---- Contexts. */

typedef struct sr_tls_ctx sr_tls_ctx;

/* The TLS 1.2 suites a server offers unless told otherwise (OpenSSL's
 * cipher-list syntax): ECDHE only, AEAD only, strongest first. */
#define SR_TLS_SERVER_CIPHERS                                                                      \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* A server's oldest protocol version (sr_tls_listen_conf.min_version). */
enum { SR_TLS_MIN_1_2 = 0, SR_TLS_MIN_1_3 = 1 };

/* A listener's `tls:` section (inputs, admin). */
typedef struct sr_tls_listen_conf {
    char *cert_file; /* NULL: plain TCP */
    char *key_file;
    char *client_ca_file;    /* verify client certificates against this CA */
    int require_client_cert; /* 1: handshake fails without a valid client cert */
    int min_version;         /* SR_TLS_MIN_1_2 (default) or SR_TLS_MIN_1_3 */
    char *ciphers;           /* TLS 1.2 suites; NULL: SR_TLS_SERVER_CIPHERS */
} sr_tls_listen_conf;

/* A TLS sink's settings. */
typedef struct sr_tls_client_conf {
    const char *ca_file;   /* PEM bundle; NULL: the system's default store */
    const char *cert_file; /* client certificate chain (PEM); needs key_file */
    const char *key_file;  /* its unencrypted private key (PEM) */
    int insecure;          /* skip chain and host-name verification */
} sr_tls_client_conf;

/* A server context from `conf`: certificate chain and key (PEM). With
 * client_ca_file, client certificates are requested and verified against
 * it; with require_client_cert the handshake also fails when the client
 * sends none. require_client_cert without client_ca_file is a configuration
 * error. NULL and `err` on failure. */
sr_tls_ctx *sr_tls_ctx_new_server(const sr_tls_listen_conf *conf, char *err, size_t errlen);
/* Gives `ctx` the settings of `fresh` (a context just made from the files
 * again) for every connection accepted from now on, and frees `fresh`.
 * Connections already open keep what they negotiated. This is how a
 * reload rotates a listener's certificate without closing it: build the
 * new context first (a bad file then leaves the old one serving), then
 * adopt it. Both must be server contexts. */
void sr_tls_ctx_adopt(sr_tls_ctx *ctx, sr_tls_ctx *fresh);
/* 0 when OpenSSL takes `ciphers` as a server's TLS 1.2 cipher list, else
 * -1 and `err` (so --check finds a typo before a start does). */
int sr_tls_ciphers_check(const char *ciphers, char *err, size_t errlen);
/* A client context from `conf`. NULL and `err` on failure. */
sr_tls_ctx *sr_tls_ctx_new_client(const sr_tls_client_conf *conf, char *err, size_t errlen);
void sr_tls_ctx_free(sr_tls_ctx *ctx);

/* ---- Engines: one per connection. */

typedef struct sr_tls_engine sr_tls_engine;

/* A server engine, waiting for the ClientHello. */
sr_tls_engine *sr_tls_engine_new_server(sr_tls_ctx *ctx, char *err, size_t errlen);
/* A client engine for a connection to `server_name` (used for SNI when it
 * is a DNS name, and for host-name verification). The ClientHello is ready
 * in take() on return. */
sr_tls_engine *sr_tls_engine_new_client(sr_tls_ctx *ctx, const char *server_name, char *err,
                                        size_t errlen);
void sr_tls_engine_free(sr_tls_engine *e);

/* What feed() found. */
typedef enum {
    SR_TLS_OK = 0,          /* consumed; maybe more to take() */
    SR_TLS_CLOSED = 1,      /* the peer sent close_notify: an orderly end */
    SR_TLS_FAILED = -1,     /* protocol error or alert; `why` says which */
    SR_TLS_CERT_FAILED = -2 /* a client: the server's certificate did not verify */
} sr_tls_status;

/* Plaintext from the peer, valid only during the call. Returning non-zero
 * stops feed() at once (the owner ended or closed the connection); what
 * was not decrypted yet is dropped. */
typedef int (*sr_tls_plain_cb)(void *ud, const char *data, size_t len);

/* Ciphertext from the peer: decrypts what it can, handing each piece of
 * plaintext to `on_plain` (NULL: plaintext is discarded, as a syslog client
 * does with whatever a server sends). Returns SR_TLS_OK also when on_plain
 * stopped it. Take() what it produced even when it failed: alerts must
 * reach the peer. */
sr_tls_status sr_tls_engine_feed(sr_tls_engine *e, const void *data, size_t len,
                                 sr_tls_plain_cb on_plain, void *ud, char *why, size_t whylen);

/* 1 once the handshake is complete on this side. */
int sr_tls_engine_ready(const sr_tls_engine *e);
/* 1 when the negotiated protocol is TLS 1.3. */
int sr_tls_engine_is_tls13(const sr_tls_engine *e);
/* 1 once the peer sent any record after the handshake completed. */
int sr_tls_engine_heard(const sr_tls_engine *e);

/* Encrypts `len` bytes of plaintext, all of them (only once ready). 0 or -1. */
int sr_tls_engine_write(sr_tls_engine *e, const void *data, size_t len);

/* Queues close_notify (only once ready). */
void sr_tls_engine_close_notify(sr_tls_engine *e);

/* Ciphertext waiting for the peer, and taking (up to `len` of) it. */
size_t sr_tls_engine_pending(const sr_tls_engine *e);
size_t sr_tls_engine_take(sr_tls_engine *e, void *out, size_t len);

#endif
