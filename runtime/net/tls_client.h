/* tls_client.h - the client side of TLS as an engine that never touches a
 * socket.
 *
 * Stream sinks (syslog over TLS) own their TCP connection on the libuv loop
 * and move ciphertext themselves; this engine turns it into handshake
 * progress and verdicts, and plaintext into ciphertext, through OpenSSL
 * memory BIOs. Nothing here blocks or does I/O.
 *
 * A context holds what every connection of a sink shares: the trust anchors
 * (a CA file, or the system store), the optional client certificate, and
 * whether verification is on. A session is one connection's state; it
 * verifies the server's certificate chain and that the certificate names the
 * host the sink connects to (a DNS name, or an IP address literal checked
 * against the certificate's IP entries), unless the context is insecure.
 *
 * Driving a session:
 *   sr_tls_client_new -> take() the ClientHello and send it ->
 *   feed() what the server sends, send what take() then returns, until
 *   sr_tls_client_ready() -> write() plaintext, send what take() returns.
 * feed() keeps working after the handshake: it processes the server's
 * post-handshake messages (TLS 1.3 session tickets), alerts and
 * close_notify. A syslog server sends no application data; any it sends is
 * discarded.
 *
 * TLS 1.3 moves the server's verdict on a client certificate after the
 * client's handshake is complete: a rejection arrives as an alert one round
 * trip later. sr_tls_client_heard() tells whether the server has sent
 * anything since the handshake (its session tickets), which proves it
 * accepted the connection.
 *
 * Errors carry OpenSSL's reason and, for certificate problems, the
 * verification error; never key material. */
#ifndef SR_TLS_CLIENT_H
#define SR_TLS_CLIENT_H

#include <stddef.h>

typedef struct sr_tls_client_conf {
    const char *ca_file;   /* PEM bundle; NULL: the system's default store */
    const char *cert_file; /* client certificate chain (PEM); needs key_file */
    const char *key_file;  /* its unencrypted private key (PEM) */
    int insecure;          /* skip chain and host-name verification */
} sr_tls_client_conf;

typedef struct sr_tls_client_ctx sr_tls_client_ctx;

/* Loads the files now, so a wrong path or a key that does not match its
 * certificate is a start-up error. TLS 1.2 minimum, no compression, no
 * renegotiation. NULL and `err` on failure. */
sr_tls_client_ctx *sr_tls_client_ctx_new(const sr_tls_client_conf *conf, char *err, size_t errlen);
void sr_tls_client_ctx_free(sr_tls_client_ctx *ctx);

typedef struct sr_tls_client sr_tls_client;

/* A session for a connection to `server_name` (used for SNI when it is a
 * DNS name, and for host-name verification). The ClientHello is ready in
 * take() on return. The context must outlive the session. */
sr_tls_client *sr_tls_client_new(sr_tls_client_ctx *ctx, const char *server_name, char *err,
                                 size_t errlen);
void sr_tls_client_free(sr_tls_client *c);

/* What feed() found. */
typedef enum {
    SR_TLS_OK = 0,          /* consumed; maybe more to take() */
    SR_TLS_CLOSED = 1,      /* the server sent close_notify: an orderly end */
    SR_TLS_FAILED = -1,     /* protocol error or alert; `why` says which */
    SR_TLS_CERT_FAILED = -2 /* the server's certificate did not verify */
} sr_tls_status;

/* Ciphertext from the server. */
sr_tls_status sr_tls_client_feed(sr_tls_client *c, const void *data, size_t len, char *why,
                                 size_t whylen);

/* 1 once the handshake is complete on this side. */
int sr_tls_client_ready(const sr_tls_client *c);
/* 1 when the negotiated protocol is TLS 1.3. */
int sr_tls_client_is_tls13(const sr_tls_client *c);
/* 1 once the server sent any record after the handshake completed. */
int sr_tls_client_heard(const sr_tls_client *c);

/* Encrypts `len` bytes of plaintext (only once ready). 0 or -1. */
int sr_tls_client_write(sr_tls_client *c, const void *data, size_t len);

/* Queues close_notify (only once ready). */
void sr_tls_client_close_notify(sr_tls_client *c);

/* Ciphertext waiting for the server, and taking (up to `len` of) it. */
size_t sr_tls_client_pending(const sr_tls_client *c);
size_t sr_tls_client_take(sr_tls_client *c, void *out, size_t len);

#endif
