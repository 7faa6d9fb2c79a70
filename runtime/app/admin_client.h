/* admin_client.h - the command line's side of the admin API (`siemrelay
 * status`, `siemrelay replay`): where a running gateway's admin API
 * listens, and one request to it.
 *
 * Requests go with no proxy (the admin API is local, and a proxy from the
 * environment must not see the token), carry the token in
 * $SIEMRELAY_ADMIN_TOKEN when set, and are cut when connecting or any stall
 * of the answer takes over 5 s.
 *
 * HTTPS, when the configuration gives admin.tls or --admin says https://:
 *   - the server is verified, never skipped. With the address from the
 *     configuration files, the certificate they name (admin.tls.cert) is
 *     pinned: the server must present that certificate's public key, and
 *     the host name is not checked (the CLI reaches a wildcard bind on
 *     loopback, which the certificate need not name). With --admin
 *     https://HOST:PORT, or when $SIEMRELAY_ADMIN_CACERT names a CA bundle,
 *     the usual chain and host-name verification applies, against that
 *     bundle or the system's store;
 *   - a client certificate, for an admin API with require_client_cert, is
 *     $SIEMRELAY_ADMIN_CERT with its key in $SIEMRELAY_ADMIN_KEY (PEM). */
#ifndef SR_ADMIN_CLIENT_H
#define SR_ADMIN_CLIENT_H

#include <stddef.h>

#include "buf.h"

typedef struct sr_admin_address {
    char host[256];
    char port[8];
    int tls;        /* https */
    char pin[4200]; /* admin.tls.cert of the configuration: its key is pinned; "" none */
} sr_admin_address;

/* "host:port" or "[v6]:port", parsed as the configuration does, optionally
 * after "http://" or "https://": 0 or -1. */
int sr_admin_address_parse(const char *s, sr_admin_address *a);
/* Plain HTTP to host:port; a wildcard bind address (0.0.0.0, ::, "") is
 * reached on loopback. */
void sr_admin_address_set(sr_admin_address *a, const char *host, int port);
/* "host:port", "[v6]:port", after "https://" for TLS. */
void sr_admin_address_format(const sr_admin_address *a, char *out, size_t n);

/* The address: `admin` (an --admin option) when given, else admin.listen
 * from the configuration files, else 127.0.0.1:9090. Returns 0; 1 when the
 * files disable the admin API; -1 when they do not load; -2 when `admin` is
 * malformed (err says which). */
int sr_admin_address_resolve(const char *admin, const char *const *files, size_t n,
                             sr_admin_address *a, char *err, size_t errlen);

/* One request; `tool` names the command in the User-Agent. Returns the
 * HTTP status with the answer in `body`, or -1 with the reason in `err`. */
int sr_admin_call(const sr_admin_address *a, const char *method, const char *path, const char *tool,
                  sr_buf *body, char *err, size_t errlen);

#endif
