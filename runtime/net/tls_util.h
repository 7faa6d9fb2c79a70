/* tls_util.h - OpenSSL error reporting shared by the TLS server streams
 * (tls_stream.c) and the TLS client (tls_client.c). */
#ifndef SR_TLS_UTIL_H
#define SR_TLS_UTIL_H

#include <stddef.h>

/* Writes OpenSSL's most specific reason for the last failure into buf and
 * clears its error queue ("unknown error" when the queue is empty). */
void sr_tls_reason(char *buf, size_t len);

/* "tls: <what> <file>: <reason>" into err; returns -1 for `return` chains. */
int sr_tls_file_error(char *err, size_t errlen, const char *what, const char *file);

/* A password callback that refuses: an encrypted key then fails to load
 * instead of OpenSSL prompting on the terminal. */
int sr_tls_no_passphrase(char *buf, int size, int rwflag, void *ud);

#endif
