/* tls_util.c - OpenSSL error reporting shared by server and client TLS. */
#include "tls_util.h"

#include <stdio.h>

#include <openssl/err.h>

void sr_tls_reason(char *buf, size_t len) {
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last)
        ERR_error_string_n(last, buf, len);
    else
        snprintf(buf, len, "unknown error");
}

int sr_tls_file_error(char *err, size_t errlen, const char *what, const char *file) {
    char reason[256];
    sr_tls_reason(reason, sizeof reason);
    snprintf(err, errlen, "tls: %s %s: %s", what, file, reason);
    return -1;
}

int sr_tls_no_passphrase(char *buf, int size, int rwflag, void *ud) {
    (void)buf, (void)size, (void)rwflag, (void)ud;
    return 0;
}
