/* tls_stream.h - one accepted TCP connection carrying a byte stream, in the
 * clear or inside server-side TLS, behind one interface.
 *
 * The network inputs and the admin API read and write plaintext through an
 * sr_tls_stream and never branch on whether TLS is on. With a NULL context
 * the stream passes bytes through; with a server context (tls_engine.h) a
 * server engine runs over the connection: libuv moves the ciphertext, the
 * engine never touches the socket, so the loop thread never blocks. Client
 * connections (TLS sinks) use the same engine with a client context.
 *
 * Lifecycle of a stream:
 *   sr_tls_stream_accept() -> sr_tls_stream_read_start() -> on_data()* ->
 *   on_end() -> sr_tls_stream_close() -> close callback -> memory released.
 * sr_tls_stream_close() may be called at any time, also from inside a
 * callback. After it no callback runs but the write callbacks of queued
 * writes (status UV_ECANCELED) and then the close callback.
 *
 * Reading: every read lands in one SR_TLS_STREAM_READ_BYTES buffer the
 * stream owns, allocated at its first read and reused until the stream is
 * freed, so a busy connection allocates nothing per read (and an idle one
 * that has read holds those bytes). on_data's bytes point into it (or into
 * a decryption buffer with TLS): owners copy what they keep.
 *
 * Back-pressure: sr_tls_stream_read_stop() stops pulling from the socket.
 * Plaintext already decrypted from the current read is still delivered before
 * the read callback returns, so owners must buffer what arrives after they
 * asked to stop (at most one read, SR_TLS_STREAM_READ_BYTES of ciphertext).
 *
 * The process must ignore SIGPIPE: writing to a peer that went away then
 * fails with UV_EPIPE instead of killing the gateway.
 *
 * Errors: functions returning int give 0 or a negative libuv error code;
 * constructors return NULL and write a message into `err`. Messages carry
 * OpenSSL's reason (never key material). */
#ifndef SR_TLS_STREAM_H
#define SR_TLS_STREAM_H

#include <stddef.h>

#include <uv.h>

#include "tls_engine.h"

/* The most one socket read takes in (ciphertext with TLS). */
#define SR_TLS_STREAM_READ_BYTES (64 * 1024)

/* Contexts (sr_tls_ctx_new_server, from a listener's sr_tls_listen_conf)
 * are loaded once per listener and shared by its connections. */

/* ---- Streams. */

typedef struct sr_tls_stream sr_tls_stream;

typedef struct sr_tls_stream_cbs {
    /* Plaintext arrived. `data` is only valid during the call. */
    void (*on_data)(void *ud, const char *data, size_t len);
    /* The stream ended, once: status 0 on an orderly end (EOF or TLS
     * close_notify), else a negative libuv code (UV_EPROTO for TLS
     * failures) with a human-readable reason. No on_data follows; the owner
     * decides when to close (it may still write, e.g. after a half-close). */
    void (*on_end)(void *ud, int status, const char *why);
} sr_tls_stream_cbs;

/* Completion of one write: 0 once the bytes are handed to the kernel, or a
 * negative libuv code (UV_ECANCELED when the stream was closed first). */
typedef void (*sr_tls_write_cb)(void *ud, int status);
typedef void (*sr_tls_close_cb)(void *ud);

/* Accepts a pending connection from `server` (call from its connection
 * callback). `ctx` NULL means plain TCP; `cbs` is copied. On failure returns
 * NULL; the half-built stream releases itself on the next loop iteration. */
sr_tls_stream *sr_tls_stream_accept(uv_stream_t *server, sr_tls_ctx *ctx,
                                    const sr_tls_stream_cbs *cbs, void *ud, char *err,
                                    size_t errlen);

/* The same for a connection already accepted (listener.h): takes `fd` over,
 * closing it on failure. */
sr_tls_stream *sr_tls_stream_open(uv_loop_t *loop, int fd, sr_tls_ctx *ctx,
                                  const sr_tls_stream_cbs *cbs, void *ud, char *err, size_t errlen);

/* "192.0.2.1:5555" / "[2001:db8::1]:5555", and the address alone. */
const char *sr_tls_stream_peer(const sr_tls_stream *s);
const char *sr_tls_stream_peer_ip(const sr_tls_stream *s);
int sr_tls_stream_is_tls(const sr_tls_stream *s);

/* Idempotent; no-ops once the stream ended or is closing. */
int sr_tls_stream_read_start(sr_tls_stream *s);
void sr_tls_stream_read_stop(sr_tls_stream *s);

/* Copies `len` (> 0) plaintext bytes, encrypts them when TLS is on and
 * queues them on the socket. `cb` (may be NULL) runs once, later. On a
 * negative return `cb` will not run. */
int sr_tls_stream_write(sr_tls_stream *s, const void *data, size_t len, sr_tls_write_cb cb,
                        void *ud);

/* Ends the sending side after the queued writes: TLS close_notify, then a
 * TCP FIN. Reading goes on, so the owner can drain what the peer still
 * sends before closing (a lingering close: closing a socket with unread
 * input makes the kernel send a reset that can destroy the last answer). */
void sr_tls_stream_shutdown(sr_tls_stream *s);

/* Closes the socket; `cb` (may be NULL) runs once it is closed, after which
 * the stream is freed. Idempotent: later calls are ignored. */
void sr_tls_stream_close(sr_tls_stream *s, sr_tls_close_cb cb, void *ud);

#endif
